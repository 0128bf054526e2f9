// The account's read markers on the server: when the reader sees a room to its newest,
// `mark-read` moves the marker there, at most once a second per room, so every tab and
// device of the account (told by `read-marker`) shows the same unread counts.

const MARK_EVERY_MS = 1000;

export class ReadMarks {
  #timers = new Map(); // room name -> timer of the next mark-read
  #lastSent = new Map(); // room name -> [seq, when]
  #unsent = new Map(); // room name -> room whose mark-read got no answer: sent on reconnect
  #seenTo = new Map(); // room name -> the position the reader last saw it at

  /** deps: {request, rooms, invalidate}. The page is always an account (it joins with
   * `guest: false`), so it always has markers. */
  constructor(deps) {
    this.d = deps;
  }

  /** The reader sees `room` up to its newest. */
  seen(room) {
    const { rooms } = this.d;
    const seq = room.timeline.hi;
    if (!room.timeline.loaded || seq == null) return;
    this.#seenTo.set(room.name, seq);
    if (rooms.unread(room) > 0 || rooms.mentions(room) > 0) {
      rooms.clearUnread(room);
      this.d.invalidate();
    }
    if (seq <= (room.readSeq ?? 0) || this.#timers.has(room.name)) return;
    const [sentSeq, sentAt] = this.#lastSent.get(room.name) ?? [0, 0];
    if (seq <= sentSeq) return;
    const wait = Math.max(0, sentAt + MARK_EVERY_MS - Date.now());
    this.#timers.set(
      room.name,
      setTimeout(() => this.#mark(room), wait),
    );
  }

  /** The reader leaves `room`: what they saw there is read now, not in a second. */
  leave(room) {
    if (!this.#timers.has(room.name)) return;
    clearTimeout(this.#timers.get(room.name));
    this.#mark(room);
  }

  /** Connected again: the markers that could not be sent go now. */
  resend() {
    const rooms = [...this.#unsent.values()];
    this.#unsent.clear();
    for (const room of rooms) if (this.d.rooms.get(room.name) === room) this.#mark(room);
  }

  async #mark(room) {
    const { request, rooms, invalidate } = this.d;
    this.#timers.delete(room.name);
    // What came during the wait is read only if the reader saw it (seen() again).
    const seq = this.#seenTo.get(room.name);
    if (seq == null) return;
    this.#lastSent.set(room.name, [seq, Date.now()]);
    const res = await request('mark-read', { room: room.name, seq });
    if (!res.ok) {
      this.#lastSent.delete(room.name);
      if (res.timeout) this.#unsent.set(room.name, room);
      return;
    }
    if (rooms.get(room.name) === room) rooms.setRead(room, res.data ?? {});
    invalidate();
  }

  /** Another account signed in: nothing pending is theirs. */
  reset() {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#lastSent.clear();
    this.#unsent.clear();
    this.#seenTo.clear();
  }
}
