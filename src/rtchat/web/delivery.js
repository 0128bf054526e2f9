// Getting messages in and out without a gap or a duplicate: live messages into
// the room timelines, `sync` after a reconnect or a skipped seq, and the outbox
// sent in order, one at a time, each with its own clientId for life.

import { mentionsMe } from './messageview.js';
import { RETRY_PAUSE_MS, RETRYABLE } from './outbox.js';
import { GENERAL } from './rooms.js';

const SYNC_ROOMS_MAX = 200; // the server's limit per sync request
const GAP_TRIES = 3;
const NO_ACK_RETRY_MS = 2000;

export class Delivery {
  #gapTries = new Map();
  #flushing = false;
  #flushAgain = false;
  #flushTimer = null;
  #holdUntil = 0;

  /**
   * deps: {socket, request, rooms, outbox, state, invalidate, onRoomLost(name),
   * onUnknownRoom(name), onSendError(error | null), sendErrorCode(), isViewing(room)}.
   */
  constructor(deps) {
    this.d = deps;
  }

  /** Bookkeeping for any message we learn of: lastSeq, our outbox. */
  note(room, messages) {
    const { outbox, state } = this.d;
    for (const m of messages ?? []) {
      if (typeof m?.seq !== 'number') continue;
      room.seen(m.seq);
      if (m.accountId === state.user?.accountId && m.clientId) outbox.remove(m.clientId);
    }
  }

  /** A `receive-message` broadcast or a `send-message` ack. */
  accept(msg) {
    const { rooms, state, invalidate } = this.d;
    if (!msg || typeof msg.seq !== 'number' || !state.user) return;
    const name = msg.room ?? GENERAL;
    let room = rooms.get(name);
    if (!room) {
      // A room we have not heard of yet (its room-added is late): count the message
      // as unread now, learn the room's details from a fresh session.
      room = rooms.upsert({ name, kind: name.startsWith('dm:') ? 'dm' : 'room', lastSeq: 0 });
      this.d.onUnknownRoom(name);
    }
    this.note(room, [msg]);
    const got = room.timeline.addLive(msg);
    if (got === 'gap') this.fillGap(room);
    // Others' news, unseen: unread until the reader looks (ours, from any tab, never is).
    const mine = msg.accountId === state.user.accountId;
    if (got !== 'duplicate' && !mine && !this.d.isViewing(room)) {
      rooms.countUnread(room, mentionsMe(msg, state.user.accountId));
    }
    invalidate({ follow: msg.accountId === state.user.accountId && name === state.current });
  }

  /** A change push (kind 'edit', 'delete' or 'reaction'), or our own change's answer. */
  acceptChange(change) {
    const { rooms, invalidate } = this.d;
    const room = typeof change?.seq === 'number' && rooms.get(change.room);
    if (!room) return;
    if (room.timeline.addChange(change) === 'gap') this.fillGap(room);
    invalidate();
  }

  /**
   * Ask for everything after the last seq we hold, for every room (or `names`).
   * Rooms never opened have no timeline; their answer only moves lastSeq (unread).
   */
  async resync(conn, names = null) {
    const { rooms, socket } = this.d;
    const targets = (names ?? rooms.all().map((r) => r.name))
      .map((n) => rooms.get(n))
      .filter(Boolean);
    for (let i = 0; i < targets.length; i += SYNC_ROOMS_MAX) {
      if (socket.id !== conn) return;
      await this.#syncBatch(conn, targets.slice(i, i + SYNC_ROOMS_MAX));
    }
  }

  async #syncBatch(conn, targets) {
    const { request, socket, state, invalidate } = this.d;
    const from = new Map(); // room name -> seq: names like `__proto__` are no keys for {}
    const syncing = [];
    for (const room of targets) {
      if (room.timeline.loaded) {
        from.set(room.name, room.timeline.beginSync());
        syncing.push(room);
      } else from.set(room.name, room.info.lastSeq ?? 0);
    }
    const res = await request('sync', { rooms: Object.fromEntries(from) });
    const rooms = res.ok && res.data?.rooms;
    const answers = new Map(rooms && typeof rooms === 'object' ? Object.entries(rooms) : []);
    const again = [];
    for (const room of targets) {
      const answer = answers.get(room.name);
      const messages = Array.isArray(answer?.messages) ? answer.messages : [];
      this.note(room, messages);
      if (!syncing.includes(room)) continue;
      room.timeline.endSync(messages, answer?.seq);
      if (!answer?.hasMore) continue;
      // Far behind: page on in the open room; elsewhere load the latest page on open.
      if (room.name === state.current) again.push(room.name);
      else room.timeline.reset();
    }
    invalidate();
    if (!res.ok) {
      if (res.timeout) return; // disconnected: the next connect resyncs
      // One room we lost meanwhile (left in another tab) fails the whole request:
      // drop a lone culprit, or ask room by room to find it.
      if (targets.length === 1) this.d.onRoomLost(targets[0].name);
      else for (const room of targets) await this.#syncBatch(conn, [room]);
      return;
    }
    if (again.length > 0 && socket.id === conn) await this.resync(conn, again);
    for (const room of syncing) if (room.timeline.hasGap) this.fillGap(room);
  }

  /** A live message skipped a seq: fetch what is missing before showing it. */
  async fillGap(room) {
    const { socket, invalidate } = this.d;
    if (room.timeline.syncing > 0 || !socket.connected) return; // that sync drains it
    const tries = (this.#gapTries.get(room.name) ?? 0) + 1;
    if (tries > GAP_TRIES) {
      // The server keeps answering without the missing seqs: show what we have.
      room.timeline.flushBuffer();
      this.#gapTries.delete(room.name);
      invalidate();
      return;
    }
    this.#gapTries.set(room.name, tries);
    await this.resync(socket.id, [room.name]);
    if (!room.timeline.hasGap) this.#gapTries.delete(room.name);
  }

  #flushSoon(ms) {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = setTimeout(() => this.flush(), ms);
  }

  /** Send the outbox in order, one at a time, with each entry's own clientId. */
  async flush() {
    if (this.#flushing) {
      this.#flushAgain = true;
      return;
    }
    const wait = this.#holdUntil - Date.now();
    if (wait > 0) {
      this.#flushSoon(wait); // refused for a while: give the server time
      return;
    }
    this.#flushing = true;
    try {
      do {
        this.#flushAgain = false;
        if (!(await this.#flushOnce())) return;
      } while (this.#flushAgain);
    } finally {
      this.#flushing = false;
    }
  }

  /** One pass over the outbox; false when it had to stop early. */
  async #flushOnce() {
    const { request, socket, rooms, outbox, state, invalidate } = this.d;
    for (const entry of outbox.pending()) {
      if (!state.synced || !socket.connected) return false; // the next connect flushes
      if (!outbox.get(entry.clientId)) continue; // delivered by broadcast meanwhile
      const payload = { room: entry.room, text: entry.text, clientId: entry.clientId };
      if (entry.replyTo) payload.replyTo = entry.replyTo;
      const res = await request('send-message', payload);
      if (res.ok) {
        outbox.remove(entry.clientId);
        const room = rooms.get(entry.room);
        if (room && res.data) {
          this.note(room, [res.data]);
          if (room.timeline.addLive(res.data) === 'gap') this.fillGap(room);
        }
        const held = outbox.pending().some((e) => RETRYABLE.has(e.error?.code));
        if (!held && RETRYABLE.has(this.d.sendErrorCode())) this.d.onSendError(null);
        invalidate();
        continue;
      }
      if (res.timeout) {
        // Maybe stored, maybe not: the same clientId makes a retry safe.
        if (socket.connected) this.#flushSoon(NO_ACK_RETRY_MS);
        return false;
      }
      const error = res.error ?? { code: 'internal', message: 'Not sent.' };
      if (!rooms.has(entry.room)) {
        // Written in a room we are no longer in: nowhere to show it or retry it.
        outbox.remove(entry.clientId);
        this.d.onSendError({ ...error, message: `Not sent to ${entry.room}: ${error.message}` });
        continue;
      }
      outbox.fail(entry.clientId, error);
      this.d.onSendError(error);
      invalidate();
      if (RETRYABLE.has(error.code)) {
        const pause = RETRY_PAUSE_MS[error.code];
        this.#holdUntil = Date.now() + pause;
        this.#flushSoon(pause);
        return false;
      }
    }
    return true;
  }
}
