// Who is online, as far as this client knows: the `session` snapshot, then
// user-connected / user-disconnected on top. The server sends those for a
// user's first and last connection, so several tabs of one person count once.
// Keyed by userId so a replayed event or the snapshot/broadcast overlap is harmless.

export class OnlineUsers {
  #users = new Map(); // userId -> username
  #extra = 0; // online but not listed: the snapshot lists at most 100 people

  /** Replace everything with a server snapshot: [{userId, username}] and the full count. */
  reset(users, count) {
    this.#users.clear();
    for (const u of users ?? []) if (u && u.userId != null) this.#users.set(u.userId, u.username);
    this.#extra = Math.max(0, (count ?? 0) - this.#users.size);
  }

  /** user-connected: someone came online. */
  add(userId, username) {
    if (userId != null) this.#users.set(userId, username);
  }

  /** Someone a list (list-online) says is online: already in the count. */
  note(userId, username) {
    if (userId == null || this.#users.has(userId)) return;
    this.#users.set(userId, username);
    if (this.#extra > 0) this.#extra -= 1;
  }

  /** user-disconnected: one fewer, whether or not we had them listed. */
  remove(userId) {
    if (!this.#users.delete(userId) && this.#extra > 0) this.#extra -= 1;
  }

  /** Everyone online, listed or not. */
  get count() {
    return this.#users.size + this.#extra;
  }

  has(userId) {
    return this.#users.has(userId);
  }

  /** userId -> username of everyone online. */
  get users() {
    return new Map(this.#users);
  }

  get size() {
    return this.#users.size;
  }

  /** The online subset of `members` (a Map userId -> username), sorted by name. */
  among(members) {
    const out = [];
    for (const [userId, username] of members ?? []) {
      if (this.#users.has(userId)) out.push({ userId, username });
    }
    return out.sort((a, b) => a.username.localeCompare(b.username));
  }
}
