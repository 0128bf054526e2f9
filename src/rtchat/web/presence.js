// Who is online, as far as this client knows: the `session` snapshot, then
// user-connected / user-disconnected on top. The server sends those for a
// user's first and last connection, so several tabs of one person count once.
// Keyed by accountId so a replayed event or the snapshot/broadcast overlap is harmless.

export class OnlineUsers {
  #users = new Map(); // accountId -> username
  #guests = new Set(); // the accountIds of guests among them
  #extra = 0; // online but not listed: the snapshot lists at most 100 people

  /** Replace everything with a server snapshot: [{accountId, username, guest}] and the count. */
  reset(users, count) {
    this.#users.clear();
    this.#guests.clear();
    for (const u of users ?? []) if (u && u.accountId != null) this.#put(u.accountId, u.username, u.guest);
    this.#extra = Math.max(0, (count ?? 0) - this.#users.size);
  }

  /** user-connected: someone came online. */
  add(accountId, username, guest = false) {
    if (accountId != null) this.#put(accountId, username, guest);
  }

  /** Someone a list (list-online) says is online: already in the count. */
  note(accountId, username, guest = false) {
    if (accountId == null || this.#users.has(accountId)) return;
    this.#put(accountId, username, guest);
    if (this.#extra > 0) this.#extra -= 1;
  }

  /** user-disconnected: one fewer, whether or not we had them listed. */
  remove(accountId) {
    this.#guests.delete(accountId);
    if (!this.#users.delete(accountId) && this.#extra > 0) this.#extra -= 1;
  }

  /** Everyone online, listed or not. */
  get count() {
    return this.#users.size + this.#extra;
  }

  has(accountId) {
    return this.#users.has(accountId);
  }

  /** accountId -> username of everyone online. */
  get users() {
    return new Map(this.#users);
  }

  get size() {
    return this.#users.size;
  }

  /** The online subset of `members` (a Map accountId -> username), sorted by name. */
  among(members) {
    const out = [];
    for (const [accountId, username] of members ?? []) {
      if (this.#users.has(accountId)) out.push({ accountId, username, guest: this.#guests.has(accountId) });
    }
    return out.sort((a, b) => a.username.localeCompare(b.username));
  }

  #put(accountId, username, guest) {
    this.#users.set(accountId, username);
    if (guest) this.#guests.add(accountId);
    else this.#guests.delete(accountId);
  }
}
