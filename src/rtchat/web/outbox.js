// Messages the user sent that the server has not acknowledged yet. Kept in
// localStorage so a reload or a lost connection loses nothing; each keeps its
// clientId for life, so resending after a reconnect can never post it twice
// (the server answers a repeated clientId with the message it already stored).

import * as storage from './storage.js';

/** crypto.randomUUID needs a secure context; a LAN address over http is not one. */
export function newClientId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class Outbox {
  #accountId = null;
  #entries = [];

  /** Switch to a user's outbox (after session / join). */
  load(accountId) {
    this.#accountId = accountId;
    this.#read();
  }

  // Every change re-reads storage first: another tab of the same user shares this
  // outbox, and writing back a stale copy would lose what it added. Sending an
  // entry twice from two tabs is harmless, thanks to the clientId.
  #read() {
    const entries = this.#accountId == null ? [] : storage.outbox(this.#accountId);
    this.#entries = Array.isArray(entries) ? entries.filter((e) => e && e.clientId && e.room) : [];
  }

  #save() {
    if (this.#accountId != null) storage.setOutbox(this.#accountId, this.#entries);
  }

  /** replyTo: the id of the message this one answers, or null. */
  add(room, text, replyTo = null) {
    this.#read();
    const entry = {
      clientId: newClientId(),
      room,
      text,
      replyTo,
      createdAt: new Date().toISOString(),
      error: null, // {code, message} once the server refused it
    };
    this.#entries.push(entry);
    this.#save();
    return entry;
  }

  get(clientId) {
    return this.#entries.find((e) => e.clientId === clientId);
  }

  /** Delivered (ack or broadcast) or discarded. Returns whether it was here. */
  remove(clientId) {
    this.#read();
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => e.clientId !== clientId);
    if (this.#entries.length === before) return false;
    this.#save();
    return true;
  }

  fail(clientId, error) {
    this.#read();
    const entry = this.get(clientId);
    if (!entry) return;
    entry.error = error;
    this.#save();
  }

  retry(clientId) {
    this.fail(clientId, null);
  }

  /** Entries still to send, oldest first: new ones, and those refused for a while only. */
  pending() {
    return this.#entries.filter((e) => !e.error || RETRYABLE.has(e.error.code));
  }

  forRoom(room) {
    return this.#entries.filter((e) => e.room === room);
  }

  /** Drop entries for rooms we are no longer in. */
  dropRoom(room) {
    this.#read();
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => e.room !== room);
    if (this.#entries.length !== before) this.#save();
  }
}

/** Refusals that pass by themselves: the entry is sent again after a pause. */
export const RETRYABLE = new Set(['rate_limited', 'unavailable']);
/** How long to wait before asking again after each: the server's bucket refills; a
 * database that went away comes back. */
export const RETRY_PAUSE_MS = { rate_limited: 1500, unavailable: 3000 };
