// One room as the server numbers it. Every entry of a room's log takes its next
// `seq`: a message, and every change to one (an edit, a delete, a reaction given or
// taken back). `hi` is the log position we reflect: every entry up to it has been
// applied, so messages are shown in their current state. Anything that would skip a
// position (a live entry after a missed one, or one that lands while a sync is in
// flight) waits in `buffer` until `hi` reaches it. No DOM here: app.js feeds it
// acks, broadcasts, change pushes and sync/history answers in any order.

const BUFFER_LIMIT = 1000;
const QUOTE_LENGTH = 100; // the server's quote of a replied-to message (domain.models)
// The server names at most this many who gave one reaction (domain.models).
const REACTION_NAMES = 20;

/** `msg` as it stands after `change` (a message-edited / -deleted / reaction-changed push). */
function applyChange(msg, change) {
  switch (change.kind) {
    case 'edit':
      return { ...msg, message: change.message, editedAt: change.editedAt };
    case 'delete':
      return { ...msg, deleted: true, message: '', reactions: [] };
    case 'reaction':
      return { ...msg, reactions: reacted(msg.reactions ?? [], change) };
    default:
      return msg;
  }
}

function reacted(reactions, { emoji, on, count, username }) {
  const rest = reactions.filter((r) => r.emoji !== emoji);
  if (!(count > 0)) return rest;
  const old = reactions.find((r) => r.emoji === emoji);
  let names = (old?.usernames ?? []).filter((n) => n !== username);
  if (on && names.length < REACTION_NAMES) names = [...names, username];
  const updated = { emoji, count, usernames: names };
  // A reaction keeps its place: they show in the order first given.
  if (!old) return [...rest, updated];
  return reactions.map((r) => (r.emoji === emoji ? updated : r));
}

export class Timeline {
  #byId = new Map(); // id -> message, as it stands at `hi`
  #sorted = null; // cached messages in seq order
  #buffer = new Map(); // seq -> {msg} or {change} waiting for `hi` to reach it
  #olderChanges = []; // changes to messages we do not hold, while an older page loads

  constructor() {
    this.reset();
  }

  /** Forget everything: the next open loads the latest page again. */
  reset() {
    this.#byId.clear();
    this.#buffer.clear();
    this.#olderChanges = [];
    this.#sorted = [];
    this.lo = null; // smallest message seq held
    this.hi = null; // the log position reflected
    this.hasMore = false; // older messages exist before lo
    this.loaded = false;
    this.syncing = 0; // sync requests in flight for this room
    this.loadingOlder = false;
  }

  get messages() {
    this.#sorted ??= [...this.#byId.values()].sort((a, b) => a.seq - b.seq);
    return this.#sorted;
  }

  get(id) {
    return this.#byId.get(id);
  }

  /** True when buffered entries still wait for ones before them. */
  get hasGap() {
    return this.#buffer.size > 0;
  }

  /** Hold a message we did not have; false if we have it (our copy is kept current). */
  #put(msg) {
    if (this.#byId.has(msg.id)) return false;
    this.#set(msg);
    return true;
  }

  #set(msg) {
    this.#byId.set(msg.id, msg);
    this.#sorted = null;
    if (this.lo == null || msg.seq < this.lo) this.lo = msg.seq;
  }

  #apply(entry) {
    if (entry.msg) {
      this.#put(entry.msg);
      return;
    }
    const { change } = entry;
    const msg = this.#byId.get(change.id);
    if (!msg) {
      // Older than what we hold: the page on its way may predate it.
      if (this.loadingOlder) this.#olderChanges.push(change);
      return;
    }
    this.#set(applyChange(msg, change));
    if (change.kind === 'edit' || change.kind === 'delete') this.#requote(change.id);
  }

  /** Replies quote what they answer as it stands now. */
  #requote(id) {
    const target = this.#byId.get(id);
    for (const m of this.#byId.values()) {
      if (m.replyTo?.id !== id) continue;
      const quote = { ...m.replyTo, deleted: Boolean(target.deleted) };
      quote.message = target.deleted ? '' : [...String(target.message)].slice(0, QUOTE_LENGTH).join('');
      this.#set({ ...m, replyTo: quote });
    }
  }

  #hold(seq, entry) {
    this.#buffer.set(seq, entry);
    if (this.#buffer.size > BUFFER_LIMIT) this.#buffer.delete(Math.min(...this.#buffer.keys()));
  }

  /** Apply buffered entries that now continue the log; drop ones already reflected. */
  #drain() {
    for (const seq of [...this.#buffer.keys()].sort((a, b) => a - b)) {
      const entry = this.#buffer.get(seq);
      if (this.hi != null && seq <= this.hi) {
        this.#buffer.delete(seq);
        // A message inside what we reflect but not held yet (our own ack that lost
        // the race with a sync); a change at or before `hi` is in our copies already.
        if (entry.msg && this.lo != null && seq >= this.lo) this.#put(entry.msg);
      } else if (this.hi == null || seq === this.hi + 1) {
        this.#buffer.delete(seq);
        this.#apply(entry);
        this.hi = seq;
      } else break;
    }
  }

  /**
   * A live entry: a message (broadcast or our own ack) or a change push. Returns
   * 'added', 'duplicate', 'held' (waiting: not loaded yet or a sync is running) or
   * 'gap' (something before it is missing: the caller should sync the room).
   */
  #live(seq, entry) {
    if (this.#buffer.has(seq) || (entry.msg && this.#byId.has(entry.msg.id))) return 'duplicate';
    if (!this.loaded || this.syncing > 0) {
      this.#hold(seq, entry);
      return 'held';
    }
    if (this.hi == null || seq === this.hi + 1) {
      this.#apply(entry);
      this.hi = seq;
      this.#drain();
      return 'added';
    }
    if (seq <= this.hi) {
      // Reflected already; only a message we do not hold yet is news.
      return entry.msg && seq >= this.lo && this.#put(entry.msg) ? 'added' : 'duplicate';
    }
    this.#hold(seq, entry);
    return 'gap';
  }

  addLive(msg) {
    return this.#live(msg.seq, { msg });
  }

  /** change: a change push with its kind ('edit', 'delete' or 'reaction'). */
  addChange(change) {
    return this.#live(change.seq, { change });
  }

  /**
   * The latest page (join-room): oldest first, messages as they stand. `lastSeq` is
   * the room's position from the same answer: past the page's last message, changes
   * came after it, and 'gap' tells the caller to sync them in.
   */
  loadTail(messages, hasMore, lastSeq = null) {
    const first = messages[0]?.seq;
    const joins = this.loaded && this.hi != null && first != null && first <= this.hi + 1;
    if (joins) {
      // What we hold is current to `hi`; page messages past it wait for their turn,
      // so no change between is skipped.
      for (const m of messages) {
        if (m.seq <= this.hi) this.#put(m);
        else if (!this.#byId.has(m.id)) this.#hold(m.seq, { msg: m });
      }
      if (first <= this.lo) this.hasMore = Boolean(hasMore);
    } else {
      // First load, or we fell so far behind that the page does not meet what we
      // hold: show the page alone rather than a hole.
      const buffer = [...this.#buffer];
      const syncing = this.syncing;
      this.reset();
      this.syncing = syncing;
      for (const [seq, entry] of buffer) this.#hold(seq, entry);
      for (const m of messages) this.#put(m);
      this.hasMore = Boolean(hasMore);
      // The page is current at least to its last message; an empty room starts at 0,
      // so a live 2 that overtakes 1 is known to be early rather than taken as the start.
      this.hi = messages.length > 0 ? messages.at(-1).seq : hasMore ? null : 0;
    }
    this.loaded = true;
    this.#drain();
    if (this.hasGap || (lastSeq != null && this.hi != null && lastSeq > this.hi)) return 'gap';
    return 'ok';
  }

  /** Where a sync for this room starts from; pair with endSync. */
  beginSync() {
    this.syncing += 1;
    return this.hi ?? 0;
  }

  /**
   * The answer to sync {room: from}: the messages posted after `from` and those
   * changed after it, as they stand, and `seq`, the position that brings us to.
   */
  endSync(messages, seq) {
    this.syncing = Math.max(0, this.syncing - 1);
    // An answer overtaken by a newer one (two syncs in flight) only adds what we lack:
    // our copies are newer than its.
    const stale = Number.isInteger(seq) && this.hi != null && seq < this.hi;
    let top = this.hi;
    for (const m of messages ?? []) {
      const held = this.#byId.has(m.id);
      // Older than what we hold: history fetches it as it stands when it is wanted.
      if (this.lo != null && m.seq < this.lo && !held) continue;
      if (!held || !stale) this.#set(m);
      if (top == null || m.seq > top) top = m.seq;
    }
    if (Number.isInteger(seq) && (top == null || seq > top)) top = seq;
    this.hi = top;
    if (this.syncing === 0) this.#drain();
  }

  /** Give up waiting for a hole to fill: apply the buffered entries as they are. */
  flushBuffer() {
    for (const seq of [...this.#buffer.keys()].sort((a, b) => a - b)) {
      const entry = this.#buffer.get(seq);
      this.#apply(entry);
      if (this.hi == null || seq > this.hi) this.hi = seq;
    }
    this.#buffer.clear();
  }

  /** Before asking for the page before `lo`: changes from now on may be newer than it. */
  beginOlder() {
    this.loadingOlder = true;
    this.#olderChanges = [];
  }

  /** An older page (history before lo), oldest first, as it stood when read. */
  prependHistory(messages, hasMore) {
    const lo = this.lo;
    // `history before lo` is the server's word for what comes right before lo;
    // the caller drops an answer that arrives after lo moved.
    const added = new Set();
    for (const m of messages) if ((lo == null || m.seq < lo) && this.#put(m)) added.add(m.id);
    // Changes that came while it was read: in order, each is as new as the page or newer.
    for (const change of this.#olderChanges) {
      const msg = this.#byId.get(change.id);
      if (msg && added.has(change.id)) this.#set(applyChange(msg, change));
    }
    this.endOlder();
    this.hasMore = Boolean(hasMore);
  }

  endOlder() {
    this.loadingOlder = false;
    this.#olderChanges = [];
  }
}
