// The rooms and direct messages we are a member of, with what we know of each:
// the server's RoomInfo (with the account's unread and mention counts), the
// message timeline, the members and the notices shown in it.

import { Timeline } from './timeline.js';

export const GENERAL = 'general';
const NOTICE_LIMIT = 50;
// The server counts unread messages up to this many (rtchat.ports.UNREAD_CAP).
const UNREAD_CAP = 1000;

export class Room {
  constructor(info) {
    this.info = { topic: '', memberCount: 0, lastSeq: 0, kind: 'room', ...info };
    this.timeline = new Timeline();
    this.members = null; // Map accountId -> username, once join-room told us
    this.notices = []; // [{key, afterSeq, text, timestamp, kind}]
    this.readSeq = null; // the account's read marker, once a mark-read or read-marker told us
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

  /** Start afresh for a user (first session, or another account signed in). */
  load() {
    this.#rooms.clear();
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

  /** Add or refresh from a RoomInfo. */
  upsert(info) {
    if (!info?.name) return null;
    let room = this.#rooms.get(info.name);
    if (room) room.update(info);
    else {
      room = new Room(info);
      this.#rooms.set(info.name, room);
    }
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

  /** Messages from others after the read marker (the server's count, and live ones since). */
  unread(room) {
    return room.info.unread ?? 0;
  }

  /** Those of them that @mention the reader. */
  mentions(room) {
    return room.info.mentions ?? 0;
  }

  /** A live message from someone else, come while the reader was not looking. */
  countUnread(room, mentioned) {
    room.info.unread = Math.min(UNREAD_CAP, this.unread(room) + 1);
    if (mentioned) room.info.mentions = Math.min(UNREAD_CAP, this.mentions(room) + 1);
  }

  /** The reader has seen the room to its newest: nothing is unread until more comes. */
  clearUnread(room) {
    room.info.unread = 0;
    room.info.mentions = 0;
  }

  /** The server's word on the account's marker ({seq, unread, mentions}): this tab's
   * mark-read, or another tab's (read-marker). A marker never moves back. */
  setRead(room, { seq, unread, mentions }) {
    if (!Number.isInteger(seq) || (room.readSeq != null && seq < room.readSeq)) return;
    room.readSeq = seq;
    if (Number.isInteger(unread)) room.info.unread = unread;
    if (Number.isInteger(mentions)) room.info.mentions = mentions;
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
