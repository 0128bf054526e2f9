// Who is online, as far as this client knows: the `session` snapshot, then
// user-connected / user-disconnected on top. The server sends those for a
// user's first and last connection, so several tabs of one person count once.
// Keyed by userId so a replayed event or the snapshot/broadcast overlap is harmless.

export class OnlineUsers {
  #users = new Map(); // userId -> username

  /** Replace everything with a server snapshot: [{userId, username}]. */
  reset(users) {
    this.#users.clear();
    for (const u of users ?? []) if (u && u.userId != null) this.#users.set(u.userId, u.username);
  }

  add(userId, username) {
    if (userId != null) this.#users.set(userId, username);
  }

  remove(userId) {
    this.#users.delete(userId);
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
