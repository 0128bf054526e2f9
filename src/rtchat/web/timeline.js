// One room's messages as the server numbers them. The server gives each message
// the room's next `seq`, so what we show is one unbroken run lo..hi. Anything
// that would leave a hole (a live message after a missed one, or one that lands
// while a sync is in flight) waits in `buffer` until the run reaches it. No DOM
// here: app.js feeds it acks, broadcasts and sync/history answers in any order.

const BUFFER_LIMIT = 1000;

export class Timeline {
  #bySeq = new Map(); // seq -> message
  #ids = new Set();
  #sorted = null; // cached messages in seq order
  #buffer = new Map(); // seq -> message waiting for the run to reach it

  constructor() {
    this.reset();
  }

  /** Forget everything: the next open loads the latest page again. */
  reset() {
    this.#bySeq.clear();
    this.#ids.clear();
    this.#buffer.clear();
    this.#sorted = [];
    this.lo = null; // smallest seq held
    this.hi = null; // largest seq held
    this.hasMore = false; // older messages exist before lo
    this.loaded = false;
    this.syncing = 0; // sync requests in flight for this room
    this.loadingOlder = false;
  }

  get messages() {
    this.#sorted ??= [...this.#bySeq.values()].sort((a, b) => a.seq - b.seq);
    return this.#sorted;
  }

  get size() {
    return this.#bySeq.size;
  }

  has(id) {
    return this.#ids.has(id);
  }

  /** True when buffered messages still wait for ones before them. */
  get hasGap() {
    return this.#buffer.size > 0;
  }

  #put(msg) {
    if (this.#ids.has(msg.id) || this.#bySeq.has(msg.seq)) return false;
    this.#bySeq.set(msg.seq, msg);
    this.#ids.add(msg.id);
    this.#sorted = null;
    if (this.lo == null || msg.seq < this.lo) this.lo = msg.seq;
    if (this.hi == null || msg.seq > this.hi) this.hi = msg.seq;
    return true;
  }

  #hold(msg) {
    this.#buffer.set(msg.seq, msg);
    if (this.#buffer.size > BUFFER_LIMIT) this.#buffer.delete(Math.min(...this.#buffer.keys()));
  }

  /** Move buffered messages that now continue the run; drop ones already held. */
  #drain() {
    let added = 0;
    for (const seq of [...this.#buffer.keys()].sort((a, b) => a - b)) {
      const msg = this.#buffer.get(seq);
      if (this.hi != null && seq <= this.hi) {
        this.#buffer.delete(seq);
        if (this.lo != null && seq >= this.lo && this.#put(msg)) added += 1;
      } else if (this.hi == null || seq === this.hi + 1) {
        this.#buffer.delete(seq);
        if (this.#put(msg)) added += 1;
      } else break;
    }
    return added;
  }

  /**
   * A live message (broadcast or our own ack). Returns 'added', 'duplicate',
   * 'held' (waiting: not loaded yet or a sync is running) or 'gap' (something
   * before it is missing: the caller should sync the room).
   */
  addLive(msg) {
    if (this.#ids.has(msg.id) || this.#buffer.has(msg.seq)) return 'duplicate';
    if (!this.loaded || this.syncing > 0) {
      this.#hold(msg);
      return 'held';
    }
    if (this.hi == null || msg.seq === this.hi + 1) {
      this.#put(msg);
      this.#drain();
      return 'added';
    }
    if (msg.seq <= this.hi) {
      // Inside the run: already shown (same seq), or older than what we hold.
      return msg.seq >= this.lo && this.#put(msg) ? 'added' : 'duplicate';
    }
    this.#hold(msg);
    return 'gap';
  }

  /** The latest page (join-room): oldest first, one unbroken run. */
  loadTail(messages, hasMore) {
    const first = messages[0]?.seq;
    const lo = this.lo;
    const joins = this.loaded && this.hi != null && first != null && first <= this.hi + 1;
    if (!joins && messages.length > 0) {
      // First load, or we fell so far behind that the page does not meet what we
      // hold: show the page alone rather than a hole.
      const buffer = [...this.#buffer.values()];
      const syncing = this.syncing;
      this.reset();
      this.syncing = syncing;
      for (const m of buffer) this.#hold(m);
    }
    for (const m of messages) this.#put(m);
    if (!joins || (first != null && first <= lo)) this.hasMore = Boolean(hasMore);
    // An empty room: the run starts right after seq 0, so a live 2 that overtakes
    // 1 is known to be early rather than taken as the start.
    if (this.hi == null && !hasMore) this.hi = 0;
    this.loaded = true;
    this.#drain();
  }

  /** Where a sync for this room starts from; pair with endSync. */
  beginSync() {
    this.syncing += 1;
    return this.hi ?? 0;
  }

  /**
   * The answer to sync {room: from}: every message after `from`, in order. It is
   * the server's word, so it extends the run even if seqs skip a number.
   */
  endSync(messages) {
    this.syncing = Math.max(0, this.syncing - 1);
    for (const m of messages ?? []) {
      if (this.hi == null || m.seq > this.hi) this.#put(m);
    }
    if (this.syncing === 0) this.#drain();
  }

  /** Give up waiting for a hole to fill: show the buffered messages as they are. */
  flushBuffer() {
    for (const seq of [...this.#buffer.keys()].sort((a, b) => a - b)) {
      this.#put(this.#buffer.get(seq));
    }
    this.#buffer.clear();
  }

  /** An older page (history before lo), oldest first. */
  prependHistory(messages, hasMore) {
    const lo = this.lo;
    // `history before lo` is the server's word for what comes right before lo;
    // the caller drops an answer that arrives after lo moved.
    for (const m of messages) if (lo == null || m.seq < lo) this.#put(m);
    this.hasMore = Boolean(hasMore);
  }
}
