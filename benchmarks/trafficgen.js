// One process of the real-chat-traffic generator (benchmarks/traffic.py runs several).
//
//   node trafficgen.js '{"port": 3000, "localAddresses": ["127.0.2.1"], "gen": 0,
//                        "recover": true, "inflight": 100}'
//
// It holds raw Socket.IO v5 clients over WebSocket (wsclient.js), one per user, spread over
// loopback source addresses of its own (at most 1,000 sockets on each, as in scalegen.js).
// Each user has a home room; every connection also hears `general`. Commands come as JSON
// lines on stdin, answers as JSON lines on stdout:
//   {"cmd": "open", "users": [{name, room, create}]}   connect, `user-joined`, then
//        `create-room` or `join-room` for each       -> {"ev": "opened", opened, failed, ...}
//   {"cmd": "start", "phase": P, ...rates}  steady traffic (see traffic.py's constants):
//        senders post to their room (a typing report before each message), some to general;
//        reconnects (churn) and visits (join another room, stay, leave)  -> {"ev": "started"}
//   {"cmd": "stop"}      no new traffic; answered once every ack and reconnect is in, or
//                        after a bounded wait      -> {"ev": "stopped", sent: {room: [lo, hi, n]}}
//   {"cmd": "progress"}  -> {"ev": "progress", ...counters}
//   {"cmd": "check", "ranges": {room: [lo, hi]}}  exactly-once per receiver per room (its home
//                        room and general) against the seqs sent  -> {"ev": "checked", ...}
// A message's text is "tf:<phase>:<sentUs>:<senderKey>", sentUs on the wall clock that every
// process shares (performance.timeOrigin + now), so latency is read at the receiver, across
// processes; a receiver's own messages (its echo) are left out of latency. With `recover`
// (rtchat), a reconnecting client presents its token and asks `sync` for what came after the
// last seq it saw in each room; without it (the Node rooms server) what it missed is lost.
// Only 127.0.0.1 is connected to; every wait is bounded; progress goes to stderr.
'use strict';

const { say, serveCommands } = require('./commandloop');
const { RawWebSocket } = require('./wsclient');

const cfg = JSON.parse(process.argv[2]);
const PATH = '/socket.io/?EIO=4&transport=websocket';
const ADDRESSES = cfg.localAddresses;
const TIMEOUT_MS = cfg.timeoutMs ?? 30000;
const SYNC_ROUNDS = 10;
const wallMs = () => performance.timeOrigin + performance.now();
const log = (...a) => process.stderr.write(`[trafficgen ${cfg.gen}] ${a.join(' ')}\n`);

const errors = [];
const problem = (msg) => { if (errors.length < 20) errors.push(msg); };
const counts = {
  roomDeliveries: 0, generalDeliveries: 0, visitDeliveries: 0, otherDeliveries: 0,
  typing: 0, presence: 0, members: 0, other: 0, duplicated: 0, disconnects: 0,
  sent: 0, sendErrors: 0, typingSent: 0, ackErrors: 0,
  reconnects: 0, reconnected: 0, reconnectFailed: 0, syncs: 0, syncedMessages: 0,
  visits: 0, visitErrors: 0,
};

// Latency histograms: bucket i holds latencies up to 0.01 ms * 1.01^i.
const LOG_STEP = Math.log(1.01);
const bucket = (ms) => Math.max(0, Math.ceil(Math.log(Math.max(ms, 0.01) / 0.01) / LOG_STEP));
const hist = { room: new Map(), general: new Map(), visit: new Map() };
const addLatency = (kind, ms) => {
  const h = hist[kind];
  const b = bucket(ms);
  h.set(b, (h.get(b) ?? 0) + 1);
};

let phase = -1;
let tag = 'tf:-1:';
let traffic = null; // the running traffic's timers and state

class Client {
  constructor(idx, user) {
    this.idx = idx;
    this.key = cfg.gen * 100000 + idx;
    this.name = user.name;
    this.home = user.room;
    this.create = user.create;
    this.sender = user.sender === true;
    this.token = null;
    this.ws = null;
    this.connected = false;
    this.state = 'idle'; // idle | away (churned) | visiting
    this.visitRoom = null;
    this.nextAck = 1;
    this.acks = new Map();
    this.lastSeq = new Map(); // room -> the highest seq seen, for `sync`
    this.live = new Map(); // room -> Set of seqs received live
    this.recovered = new Map(); // room -> Set of seqs answered by `sync`
    this.churned = false;
    this.joined = false; // in at set-up
    this.syncFrom = null; // lastSeq when its connection dropped: what `sync` asks from
    this.pendingTimer = null; // a churned client's reconnect or a visitor's leave, not yet due
  }

  emit(event, payload, cb) {
    if (!this.connected) { if (cb) cb(null); return; }
    if (cb === undefined) { this.ws.send(`42${JSON.stringify([event, payload])}`); return; }
    const id = this.nextAck++;
    const timer = setTimeout(() => { this.acks.delete(id); cb(null); }, TIMEOUT_MS);
    this.acks.set(id, (answer) => { clearTimeout(timer); cb(answer); });
    this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
  }

  // Connect, `user-joined`, then create or join the home room; done(ok, why).
  connect(done) {
    let settled = false;
    const settle = (ok, why) => {
      if (settled) return;
      settled = true;
      done(ok, why);
    };
    this.acks = new Map();
    const onConnected = () => {
      this.connected = true;
      this.emit('user-joined', this.name, (a) => {
        if (!a?.ok) { settle(false, `user-joined: ${JSON.stringify(a?.error ?? 'no answer')}`); return; }
        if (a.data.token) this.token = a.data.token;
        const [ev, payload] = this.create
          ? ['create-room', { name: this.home }] : ['join-room', { room: this.home }];
        this.emit(ev, payload, (b) => {
          if (!b?.ok) { settle(false, `${ev}: ${JSON.stringify(b?.error ?? 'no answer')}`); return; }
          this.create = false; // a reconnect joins the room it created
          settle(true);
        });
      });
    };
    const onMessage = (d) => {
      const c0 = d[0];
      if (c0 === 0x34) { // '4' Engine.IO message -> Socket.IO packet
        const c1 = d[1];
        if (c1 === 0x32) this.onEvent(d);
        else if (c1 === 0x33) this.onAck(d);
        else if (c1 === 0x30) onConnected(); // CONNECT answered
        else if (c1 === 0x34) settle(false, `CONNECT_ERROR ${d}`);
      } else if (c0 === 0x32 && d.length === 1) this.ws.send('3'); // ping -> pong
      else if (c0 === 0x30) { // Engine.IO OPEN -> CONNECT to "/", with the token if any
        this.ws.send(cfg.recover && this.token ? `40${JSON.stringify({ token: this.token })}` : '40');
      }
    };
    const onClose = (why) => {
      const was = this.connected;
      this.connected = false;
      for (const cb of this.acks.values()) cb(null);
      this.acks.clear();
      if (!settled) { settle(false, why); return; }
      if (was && this.state !== 'away') { counts.disconnects += 1; problem(`client ${this.name}: ${why}`); }
    };
    this.ws = new RawWebSocket(cfg.port, PATH, { onOpen() {}, onMessage, onClose }, TIMEOUT_MS,
      ADDRESSES[this.idx % ADDRESSES.length]);
  }

  // Our own close: wsclient reports no close it was asked for, so its acks end here.
  drop() {
    this.connected = false;
    this.ws.close();
    for (const cb of this.acks.values()) cb(null);
    this.acks.clear();
  }

  onAck(d) {
    let p = 2;
    let id = 0;
    let ch;
    while ((ch = d[p]) >= 0x30 && ch <= 0x39) { id = id * 10 + ch - 48; p += 1; }
    const cb = this.acks.get(id);
    if (cb === undefined) return;
    this.acks.delete(id);
    cb(JSON.parse(d.toString('utf8', p))[0]);
  }

  onEvent(d) {
    // 42["name",...]: server events carry no ack id
    const end = d.indexOf(0x22, 4);
    const name = d.toString('latin1', 4, end);
    if (name === 'receive-message') this.onMessage(JSON.parse(d.toString('utf8', 2))[1], true);
    else if (name === 'user-typing') counts.typing += 1;
    else if (name === 'user-connected' || name === 'user-disconnected') counts.presence += 1;
    else if (name === 'member-joined' || name === 'member-left') counts.members += 1;
    else counts.other += 1;
  }

  onMessage(m, live) {
    const room = m.room;
    const seq = m.seq;
    if ((this.lastSeq.get(room) ?? 0) < seq) this.lastSeq.set(room, seq);
    const kind = room === this.home ? 'room' : room === 'general' ? 'general'
      : room === this.visitRoom ? 'visit' : null;
    if (!live) {
      if (kind === 'room' || kind === 'general') {
        let s = this.recovered.get(room);
        if (s === undefined) { s = new Set(); this.recovered.set(room, s); }
        s.add(seq);
      }
      return;
    }
    if (kind === null) { counts.otherDeliveries += 1; return; }
    counts[`${kind}Deliveries`] += 1;
    if (kind !== 'visit') {
      let s = this.live.get(room);
      if (s === undefined) { s = new Set(); this.live.set(room, s); }
      if (s.has(seq)) { counts.duplicated += 1; return; }
      s.add(seq);
    }
    const text = m.message;
    if (typeof text !== 'string' || !text.startsWith(tag)) return;
    const parts = text.split(':');
    if (Number(parts[3]) === this.key) return; // its own echo: not a delivery to measure
    addLatency(kind, wallMs() - Number(parts[2]) / 1000);
  }

  // `sync` from the last seq seen in the home room and general, while hasMore (bounded).
  // The seqs to ask from are those it had seen when the connection dropped: live deliveries
  // since the reconnect may be past a gap. Each answer moves them on.
  sync(rounds, done) {
    const from = this.syncFrom ?? this.lastSeq;
    const rooms = { general: from.get('general') ?? 0 };
    rooms[this.home] = from.get(this.home) ?? 0;
    counts.syncs += 1;
    this.emit('sync', { rooms }, (a) => {
      if (!a?.ok) { problem(`sync ${this.name}: ${JSON.stringify(a?.error ?? 'no answer')}`); done(); return; }
      let more = false;
      const next = new Map(from);
      for (const [room, r] of Object.entries(a.data.rooms)) {
        for (const m of r.messages) {
          counts.syncedMessages += 1;
          this.onMessage({ ...m, room }, false);
          if ((next.get(room) ?? 0) < m.seq) next.set(room, m.seq);
        }
        if (r.hasMore) more = true;
      }
      this.syncFrom = next;
      if (more && rounds > 1) this.sync(rounds - 1, done);
      else done();
    });
  }
}

const clients = [];

function openUsers(users, done) {
  const t0 = wallMs();
  let started = 0;
  let finished = 0;
  let failed = 0;
  const next = () => {
    if (started >= users.length) return;
    const c = new Client(clients.length, users[started]);
    clients.push(c);
    started += 1;
    c.connect((ok, why) => {
      finished += 1;
      if (!ok) { failed += 1; problem(`open ${c.name}: ${why}`); } else c.joined = true;
      if (finished === users.length) done({ opened: users.length - failed, failed, ms: wallMs() - t0 });
      else next();
    });
  };
  if (users.length === 0) { done({ opened: 0, failed: 0, ms: 0 }); return; }
  for (let k = 0; k < Math.min(cfg.inflight ?? 100, users.length); k++) next();
}

// ---------------------------------------------------------------- steady traffic

const pick = (list) => list[Math.floor(Math.random() * list.length)];

function idleNonSender() {
  for (let tries = 0; tries < 50; tries++) {
    const c = pick(traffic.others);
    if (c.state === 'idle' && c.connected) return c;
  }
  return null;
}

function post(c, room) {
  const sentUs = Math.round(wallMs() * 1000);
  const text = `tf:${phase}:${sentUs}:${c.key}`;
  counts.sent += 1;
  traffic.pending += 1;
  // The phase is in the clientId: `counts` starts again at every window, and a clientId the
  // server has seen is a retry, answered with the stored message (an old seq) and sent to no one.
  const clientId = `${c.key}-${phase}-${counts.sent}`;
  c.emit('send-message', { room, text, clientId }, (a) => {
    traffic.pending -= 1;
    if (!a?.ok) { counts.sendErrors += 1; problem(`send ${c.name}: ${JSON.stringify(a?.error ?? 'no answer')}`); return; }
    const s = traffic.sent[room] ?? (traffic.sent[room] = [a.data.seq, a.data.seq, 0]);
    s[0] = Math.min(s[0], a.data.seq);
    s[1] = Math.max(s[1], a.data.seq);
    s[2] += 1;
  });
}

function senderTick(c) {
  if (!traffic.running || !c.connected) return;
  counts.typingSent += 1;
  c.emit('typing', { room: c.home, isTyping: true }, (a) => { if (!a?.ok) counts.ackErrors += 1; });
  traffic.timers.add(setTimeout(() => { if (traffic.running) post(c, c.home); }, traffic.cfg.typingLeadMs));
}

function churn() {
  const c = idleNonSender();
  if (c === null) return;
  c.state = 'away';
  c.churned = true;
  counts.reconnects += 1;
  traffic.away += 1;
  c.syncFrom = new Map(c.lastSeq);
  c.drop();
  c.pendingTimer = setTimeout(() => reconnect(c), traffic.cfg.reconnectAfterMs);
}

function reconnect(c) {
  c.pendingTimer = null;
  const t0 = wallMs();
  c.connect((ok, why) => {
      if (!ok) {
        counts.reconnectFailed += 1;
        problem(`reconnect ${c.name}: ${why}`);
        traffic.away -= 1;
        return;
      }
      const finish = () => {
        counts.reconnected += 1;
        traffic.reconnectMs.push(wallMs() - t0);
        c.state = 'idle';
        traffic.away -= 1;
      };
    if (cfg.recover) c.sync(SYNC_ROUNDS, finish);
    else finish();
  });
}

function visit() {
  const c = idleNonSender();
  if (c === null) return;
  let room = pick(traffic.cfg.rooms);
  if (room === c.home) room = pick(traffic.cfg.rooms);
  if (room === c.home) return;
  c.state = 'visiting';
  c.visitRoom = room;
  counts.visits += 1;
  traffic.away += 1;
  c.emit('join-room', { room }, (a) => {
    if (!a?.ok) counts.visitErrors += 1;
    c.pendingTimer = setTimeout(() => leave(c), traffic.running ? traffic.cfg.visitMs : 0);
  });
}

function leave(c) {
  c.pendingTimer = null;
  c.emit('leave-room', { room: c.visitRoom }, (b) => {
    if (!b?.ok) counts.visitErrors += 1;
    c.state = 'idle';
    c.visitRoom = null;
    traffic.away -= 1;
  });
}

// Runs f every `everyMs` (none if 0), first after a random part of a period.
function every(everyMs, f) {
  if (!(everyMs > 0)) return;
  const first = setTimeout(() => {
    f();
    traffic.timers.add(setInterval(f, everyMs));
  }, Math.random() * everyMs);
  traffic.timers.add(first);
}

function start(c) {
  phase = c.phase;
  tag = `tf:${phase}:`;
  for (const k of Object.keys(counts)) if (k !== 'disconnects') counts[k] = 0;
  for (const h of Object.values(hist)) h.clear();
  for (const x of clients) { x.churned = false; x.live.clear(); x.recovered.clear(); }
  const live = clients.filter((x) => x.joined && x.connected);
  const senders = live.filter((x) => x.sender);
  traffic = {
    cfg: c, running: true, timers: new Set(), pending: 0, away: 0, sent: {}, reconnectMs: [],
    others: live.filter((x) => !x.sender),
  };
  for (const s of senders) every(c.sendIntervalMs, () => senderTick(s));
  let g = 0;
  every(c.generalIntervalMs, () => {
    if (!traffic.running || senders.length === 0) return;
    const s = senders[g++ % senders.length];
    if (s.connected) post(s, 'general');
  });
  every(c.churnIntervalMs, () => { if (traffic.running) churn(); });
  every(c.visitIntervalMs, () => { if (traffic.running) visit(); });
  say({ ev: 'started', senders: senders.length, others: traffic.others.length });
}

function stop(c) {
  traffic.running = false;
  for (const t of traffic.timers) { clearTimeout(t); clearInterval(t); }
  traffic.timers.clear();
  // Reconnects and visits under way finish; those still waiting for their time go now.
  for (const x of clients) {
    if (x.pendingTimer === null) continue;
    clearTimeout(x.pendingTimer);
    if (x.state === 'away') reconnect(x);
    else leave(x);
  }
  const deadline = wallMs() + (c.timeoutMs ?? 30000);
  const wait = () => {
    if ((traffic.pending === 0 && traffic.away <= 0) || wallMs() > deadline) {
      say({ ev: 'stopped', sent: traffic.sent, pending: traffic.pending, away: traffic.away,
        reconnectMs: traffic.reconnectMs });
      return;
    }
    setTimeout(wait, 20);
  };
  wait();
}

function check(c) {
  const out = {
    clients: 0, expected: 0, received: 0, lost: 0, lostClients: 0,
    churned: { clients: 0, expected: 0, live: 0, recovered: 0, lost: 0 },
  };
  for (const x of clients) {
    if (!x.joined) continue; // never got in at set-up: owed nothing
    out.clients += 1;
    let lost = 0;
    for (const room of [x.home, 'general']) {
      const r = c.ranges[room];
      if (r === undefined) continue;
      const live = x.live.get(room) ?? new Set();
      const rec = x.recovered.get(room) ?? new Set();
      for (let seq = r[0]; seq <= r[1]; seq++) {
        out.expected += 1;
        const l = live.has(seq);
        const got = l || rec.has(seq);
        if (got) out.received += 1;
        else lost += 1;
        if (x.churned) {
          out.churned.expected += 1;
          if (l) out.churned.live += 1;
          else if (got) out.churned.recovered += 1;
          else out.churned.lost += 1;
        }
      }
    }
    if (x.churned) out.churned.clients += 1;
    out.lost += lost;
    if (lost) out.lostClients += 1;
  }
  const h = {};
  for (const [k, m] of Object.entries(hist)) h[k] = Object.fromEntries(m);
  say({ ev: 'checked', ...out, latency: h, counts, errors: errors.slice(0, 10) });
}

const commands = {
  open(c) {
    openUsers(c.users, (r) => {
      const open = clients.filter((x) => x.connected).length;
      log(`opened ${r.opened}/${c.users.length} in ${r.ms.toFixed(0)} ms, ${open} open`);
      say({ ev: 'opened', ...r, open, errors: errors.slice(0, 5) });
    });
  },
  start,
  stop,
  check,
  progress() {
    say({ ev: 'progress', open: clients.filter((x) => x.connected).length, ...counts,
      pending: traffic?.pending ?? 0, errors: errors.slice(0, 5) });
  },
  exit() {
    for (const x of clients) x.ws?.close();
    process.exit(0);
  },
};

serveCommands(commands);
