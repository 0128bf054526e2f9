// Who is online, as far as this client knows. The server sends no count: it
// sends one `online-users` snapshot after our join, and we apply
// user-connected / user-disconnected on top. Keyed by userId so replays and
// the snapshot/broadcast overlap are harmless.

export class OnlineUsers {
  #users = new Map();

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

  get size() {
    return this.#users.size;
  }
}
