// The rooms and direct messages we are a member of, with what we know of each:
// the server's RoomInfo, the message timeline, the members, the notices shown
// in it and how far the user has read (persisted per user).

import * as storage from './storage.js';
import { Timeline } from './timeline.js';

export const GENERAL = 'general';
const NOTICE_LIMIT = 50;

export class Room {
  constructor(info) {
    this.info = { topic: '', memberCount: 0, lastSeq: 0, kind: 'room', ...info };
    this.timeline = new Timeline();
    this.members = null; // Map accountId -> username, once join-room told us
    this.notices = []; // [{key, afterSeq, text, timestamp, kind}]
  }

  get name() {
    return this.info.name;
  }

  get isDm() {
    return this.info.kind === 'dm';
  }

  /** What the sidebar and the header call it: a DM is named after the other person. */
  get title() {
    return this.isDm ? (this.info.peer?.username ?? this.name) : this.name;
  }

  update(info) {
    // A RoomInfo answered before a message we already hold must not rewind lastSeq.
    const lastSeq = Math.max(this.info.lastSeq ?? 0, info.lastSeq ?? 0);
    this.info = { ...this.info, ...info, lastSeq };
  }

  seen(seq) {
    if (seq > (this.info.lastSeq ?? 0)) this.info.lastSeq = seq;
  }
}

let noticeSeq = 0;

// Every table keyed by a room name is a Map: rooms may be called `__proto__` or
// `constructor`, which a plain object answers from its prototype.
export class Rooms {
  #rooms = new Map();
  #accountId = null;
  #lastRead = new Map(); // room name -> seq read up to

  /** Start afresh for a user (first session, or another account signed in). */
  load(accountId) {
    this.#rooms.clear();
    this.#accountId = accountId;
    const saved = storage.lastRead(accountId);
    const entries = saved && typeof saved === 'object' ? Object.entries(saved) : [];
    this.#lastRead = new Map(entries.filter(([, seq]) => Number.isInteger(seq)));
  }

  get(name) {
    return this.#rooms.get(name);
  }

  has(name) {
    return this.#rooms.has(name);
  }

  all() {
    return [...this.#rooms.values()];
  }

  /** Add or refresh from a RoomInfo. A room seen for the first time starts read. */
  upsert(info) {
    if (!info?.name) return null;
    let room = this.#rooms.get(info.name);
    if (room) room.update(info);
    else {
      room = new Room(info);
      this.#rooms.set(info.name, room);
    }
    if (!this.#lastRead.has(room.name)) this.markRead(room, room.info.lastSeq ?? 0);
    return room;
  }

  /** The `session` list is the truth: drop rooms we were removed from meanwhile. */
  replaceAll(infos) {
    const names = new Set();
    for (const info of infos ?? []) if (this.upsert(info)) names.add(info.name);
    for (const name of [...this.#rooms.keys()]) if (!names.has(name)) this.#rooms.delete(name);
  }

  remove(name) {
    this.#rooms.delete(name);
  }

  markRead(room, seq = room.info.lastSeq ?? 0) {
    if ((this.#lastRead.get(room.name) ?? -1) >= seq) return;
    this.#lastRead.set(room.name, seq);
    if (this.#accountId != null) storage.setLastRead(this.#accountId, this.#lastRead);
  }

  lastRead(room) {
    return this.#lastRead.get(room.name) ?? 0;
  }

  unread(room) {
    return Math.max(0, (room.info.lastSeq ?? 0) - this.lastRead(room));
  }

  /** Sidebar order: general first, then rooms by name; DMs by the other person's name. */
  sorted(kind) {
    const rooms = this.all().filter((r) => (kind === 'dm' ? r.isDm : !r.isDm));
    return rooms.sort((a, b) => {
      if (a.name === GENERAL) return -1;
      if (b.name === GENERAL) return 1;
      return a.title.localeCompare(b.title);
    });
  }

  addNotice(room, text, timestamp, kind = 'info') {
    room.notices.push({
      key: `n${++noticeSeq}`,
      afterSeq: room.timeline.hi ?? 0,
      text,
      timestamp,
      kind,
    });
    if (room.notices.length > NOTICE_LIMIT) room.notices.shift();
  }
}
