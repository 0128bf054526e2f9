// One process of the scale benchmark's load generator (benchmarks/scale.py runs several).
//
//   node scalegen.js '{"port": 3000, "localAddresses": ["127.0.2.1", ...], "inflight": 200}'
//
// A process may hold only so many open files (20,000 here), so scale.py spreads the
// connections of one run over several of these. Each spreads its sockets over loopback
// source addresses of its own (127.0.2.1 and up), at most PER_ADDRESS on each: a socket
// bound to an address (Node's localAddress) takes its port from that address's share of
// the ephemeral range, and the kernel's search for a free one slows down sharply as the
// share fills (a step from 10,000 to 19,000 connections over two addresses ran at a tenth
// of the rate of the steps before it). Each holds raw
// Socket.IO v5 clients over WebSocket (wsclient.js) that connect to the namespace and stay
// idle: they are in the room every connection hears (the seed's `io.emit`, rtchat's
// `general`), so a message sent there reaches every one of them.
//
// Commands come as JSON lines on stdin, answers as JSON lines on stdout:
//   {"cmd": "open", "n": N}            open N more clients      -> {"ev": "opened", ...}
//   {"cmd": "join", "name": S}         the first client joins as S (the seed's
//                                      `user-joined`), for sending  -> {"ev": "joined"}
//   {"cmd": "watch", "phase": P, "messages": M}  expect messages 0..M-1 of phase P at
//                                      every client              -> {"ev": "watching"}
//   {"cmd": "send", "phase": P, "messages": M}   the first client sends them, back to back
//                                      -> {"ev": "sent"}
//   {"cmd": "call", "event": E, "arg": A}  the first client emits E with an ack
//                                      -> {"ev": "called", "answer": ...}
//   {"cmd": "members", "n": N, "room": R, "prefix": S}  the first N clients join as S<i>
//                                      and join room R          -> {"ev": "members", ...}
//   {"cmd": "pace", "phase": P, "messages": M, "rate": F, "room": R}  the first client
//                                      sends M messages to R at F a second  -> {"ev": "paced"}
//   {"cmd": "progress"}                -> {"ev": "progress", delivered, complete, ...}
//   {"cmd": "latency"}                 -> {"ev": "latency", p50_ms, p99_ms, ...} ("bm" only)
//   {"cmd": "exit"}
// A message's text is "sc:<phase>:<index>:<sentUs>", sentUs on the monotonic clock that
// every process of the machine shares (process.hrtime), so latency is read across them.
//
// As the probe of loadgen.js's S3 (a few idle clients in a process of their own, so that
// the latency read is the server's and not the busy generator's), a watch with
// `"format": "bm"` reads loadgen's "bm:<phase>:<id>:<sender>:<seq>:<sentUs>" texts, whose
// sentUs count from `mono0Ms` on that same clock; it keeps every latency, and `latency`
// answers their percentiles. With `"transport": "ws"` the clients speak rtchat's /ws
// instead (rtchatws.js), for that probe only: open, watch and latency.
// Only 127.0.0.1 is connected to; every wait is bounded; progress goes to stderr.
'use strict';

const { say, serveCommands } = require('./commandloop');
const { RawWebSocket } = require('./wsclient');
const rtchatws = require('./rtchatws');

const cfg = JSON.parse(process.argv[2]);
const PATH = '/socket.io/?EIO=4&transport=websocket';
const WS = cfg.transport === 'ws';
const MARK = Buffer.from('"sc:');
const MARK_BM = Buffer.from('"bm:');
const USER_CONNECTED = Buffer.from('user-connected');
// CLOCK_MONOTONIC is one clock for every process of the machine.
const monoMs = () => Number(process.hrtime.bigint()) / 1e6;
const ADDRESSES = cfg.localAddresses;
const log = (...a) => process.stderr.write(`[scalegen ${ADDRESSES[0]}] ${a.join(' ')}\n`);

const clients = [];
const errors = [];
const counters = { disconnects: 0, userConnected: 0, strays: 0 };
const problem = (msg) => { if (errors.length < 20) errors.push(msg); };

// What the running phase has seen: per client the last index received, so exactly-once
// in order is one comparison per delivery.
let watch = null;

class Client {
  constructor(idx) {
    this.idx = idx;
    this.ws = null;
    this.connected = false;
    this.last = -1;
    this.acks = new Map(); // ack id -> callback(answer text)
    this.nextAck = 1;
  }

  call(event, arg, onAnswer) {
    const id = this.nextAck++;
    this.acks.set(id, onAnswer);
    this.ws.send(`42${id}${JSON.stringify([event, arg])}`);
  }

  onAck(d) {
    let p = 2;
    let id = 0;
    let ch;
    while ((ch = d[p]) >= 0x30 && ch <= 0x39) { id = id * 10 + ch - 48; p++; }
    const f = this.acks.get(id);
    if (f === undefined) return;
    this.acks.delete(id);
    f(d.toString('utf8', p));
  }

  open(done) {
    let settled = false;
    const settle = (ok, why) => {
      if (settled) return;
      settled = true;
      if (!ok) problem(`client ${this.idx}: ${why}`);
      done(ok);
    };
    const onMessage = (d) => {
      const c0 = d[0];
      if (c0 === 0x34) { // '4' Engine.IO message -> Socket.IO packet
        const c1 = d[1];
        if (c1 === 0x32) this.onEvent(d);
        else if (c1 === 0x33) this.onAck(d); // '3' ACK
        else if (c1 === 0x30) { this.connected = true; settle(true); } // CONNECT answered
        else if (c1 === 0x34) settle(false, `CONNECT_ERROR ${d}`);
      } else if (c0 === 0x32 && d.length === 1) this.ws.send('3'); // ping -> pong
      else if (c0 === 0x30) this.ws.send('40'); // Engine.IO OPEN -> CONNECT to "/"
    };
    const onClose = (why) => {
      if (!settled) { settle(false, why); return; }
      if (this.connected) { counters.disconnects += 1; problem(`client ${this.idx}: ${why}`); }
      this.connected = false;
    };
    const timeoutMs = cfg.timeoutMs ?? 60000;
    const address = ADDRESSES[this.idx % ADDRESSES.length];
    if (WS) {
      const onReady = () => { this.connected = true; settle(true); };
      const onRefused = (text) => problem(`client ${this.idx}: refused ${text}`);
      this.ws = new rtchatws.RtchatWs(cfg.port, { onReady, onPush: (d) => this.onEvent(d),
        onRefused, onClose }, timeoutMs, address);
      return;
    }
    this.ws = new RawWebSocket(cfg.port, PATH, { onOpen() {}, onMessage, onClose }, timeoutMs,
      address);
  }

  onEvent(d) {
    if (watch !== null && watch.bm) { this.onLoadgen(d); return; }
    const i = d.indexOf(MARK, 8);
    if (i < 0) {
      const at = WS ? rtchatws.NAME_AT : 4;
      if (d.indexOf(USER_CONNECTED, at) === at) counters.userConnected += 1;
      return;
    }
    let p = i + 4;
    let ch;
    let ph = 0; while ((ch = d[p++]) !== 0x3a) ph = ph * 10 + ch - 48;
    let g = 0; while ((ch = d[p++]) !== 0x3a) g = g * 10 + ch - 48;
    let t = 0; while ((ch = d[p++]) >= 0x30 && ch <= 0x39) t = t * 10 + ch - 48;
    if (watch === null || watch.phase !== ph) { counters.strays += 1; return; }
    watch.seen(this, g, t / 1000);
  }

  onLoadgen(d) {
    const i = d.indexOf(MARK_BM, 8);
    if (i < 0) return;
    let p = i + 4;
    let ch;
    let ph = 0; while ((ch = d[p++]) !== 0x3a) ph = ph * 10 + ch - 48;
    for (let skip = 0; skip < 3; skip++) while (d[p++] !== 0x3a); // id, sender, seq
    let t = 0; while ((ch = d[p++]) >= 0x30 && ch <= 0x39) t = t * 10 + ch - 48;
    if (watch.phase !== ph) { counters.strays += 1; return; }
    watch.timed(watch.mono0Ms + t / 1000);
  }
}

class Watch {
  constructor(phase, messages, bm = false, mono0Ms = 0, keepLatency = bm) {
    this.phase = phase;
    this.messages = messages;
    this.bm = bm;
    this.mono0Ms = mono0Ms;
    this.lat = keepLatency ? new Float64Array(messages * clients.length) : null;
    this.nLat = 0;
    this.delivered = 0;
    this.dups = 0;
    this.gaps = 0;
    this.complete = 0;
    this.firstMs = 0;
    this.lastMs = 0;
    this.maxLatencyMs = 0;
    for (const c of clients) c.last = -1;
  }

  seen(c, g, sentMs) {
    const now = monoMs();
    if (this.delivered === 0) this.firstMs = now;
    this.lastMs = now;
    this.delivered += 1;
    if (g <= c.last) { this.dups += 1; return; }
    if (g !== c.last + 1) this.gaps += 1;
    c.last = g;
    if (g === this.messages - 1) this.complete += 1;
    const lat = now - sentMs;
    if (lat > this.maxLatencyMs) this.maxLatencyMs = lat;
    if (this.lat !== null && this.nLat < this.lat.length) this.lat[this.nLat++] = lat;
  }

  timed(sentMs) {
    const now = monoMs();
    this.delivered += 1;
    this.lastMs = now;
    if (this.nLat < this.lat.length) this.lat[this.nLat++] = now - sentMs;
  }

  latency() {
    const a = this.lat.subarray(0, this.nLat).sort();
    const at = (q) => (a.length ? a[Math.min(a.length - 1, Math.ceil(q * a.length) - 1)] : null);
    return { samples: a.length, p50_ms: at(0.5), p99_ms: at(0.99), p999_ms: at(0.999),
      max_ms: a.length ? a[a.length - 1] : null };
  }
}

function openClients(n, done) {
  const t0 = monoMs();
  let started = 0;
  let finished = 0;
  let failed = 0;
  const next = () => {
    if (started >= n) return;
    const c = new Client(clients.length);
    clients.push(c);
    started += 1;
    c.open((ok) => {
      finished += 1;
      if (!ok) failed += 1;
      if (finished === n) done({ opened: n - failed, failed, ms: monoMs() - t0 });
      else next();
    });
  };
  if (n === 0) { done({ opened: 0, failed: 0, ms: 0 }); return; }
  for (let k = 0; k < Math.min(cfg.inflight ?? 200, n); k++) next();
}

const commands = {
  open(c) {
    openClients(c.n, (r) => {
      const open = clients.filter((x) => x.connected).length;
      log(`opened ${r.opened}/${c.n} in ${r.ms.toFixed(0)} ms, ${open} open`);
      say({ ev: 'opened', ...r, open, errors: errors.slice(0, 5) });
    });
  },
  join(c) {
    clients[0].ws.send(`42${JSON.stringify(['user-joined', c.name])}`);
    say({ ev: 'joined' });
  },
  watch(c) {
    watch = new Watch(c.phase, c.messages, c.format === 'bm', c.mono0Ms,
      c.format === 'bm' || c.latency === true);
    say({ ev: 'watching' });
  },
  call(c) {
    clients[0].call(c.event, c.arg, (answer) => say({ ev: 'called', answer }));
  },
  members(c) {
    const n = Math.min(c.n, clients.length);
    let done = 0;
    let failed = 0;
    for (let k = 0; k < n; k++) {
      const cl = clients[k];
      cl.ws.send(`42${JSON.stringify(['user-joined', `${c.prefix}${k}`])}`);
      cl.call('join-room', { room: c.room }, (answer) => {
        if (!answer.startsWith('[{"ok":true')) {
          failed += 1;
          problem(`join-room: ${answer.slice(0, 200)}`);
        }
        if (++done === n) {
          say({ ev: 'members', joined: n - failed, failed, errors: errors.slice(0, 5) });
        }
      });
    }
    if (n === 0) say({ ev: 'members', joined: 0, failed: 0, errors: [] });
  },
  pace(c) {
    const ws = clients[0].ws;
    const start = monoMs();
    let g = 0;
    const timer = setInterval(() => {
      const due = Math.min(c.messages, Math.floor(((monoMs() - start) * c.rate) / 1000) + 1);
      for (; g < due; g++) {
        const text = `sc:${c.phase}:${g}:${Math.round(monoMs() * 1000)}`;
        const arg = { room: c.room, text, clientId: `p${c.phase}-${g}` };
        ws.send(`42${JSON.stringify(['send-message', arg])}`);
      }
      if (g >= c.messages) { clearInterval(timer); say({ ev: 'paced', atMs: monoMs() }); }
    }, 1);
  },
  latency() {
    say({ ev: 'latency', delivered: watch.delivered, ...watch.latency() });
  },
  send(c) {
    const ws = clients[0].ws;
    for (let g = 0; g < c.messages; g++) {
      ws.send(`42["send-message","sc:${c.phase}:${g}:${Math.round(monoMs() * 1000)}"]`);
    }
    say({ ev: 'sent', atMs: monoMs() });
  },
  progress() {
    const w = watch ?? new Watch(-1, 0);
    say({ ev: 'progress', open: clients.filter((x) => x.connected).length,
      delivered: w.delivered, complete: w.complete, dups: w.dups, gaps: w.gaps,
      firstMs: w.firstMs, lastMs: w.lastMs, maxLatencyMs: w.maxLatencyMs,
      userConnected: counters.userConnected, disconnects: counters.disconnects,
      strays: counters.strays, errors: errors.slice(0, 5) });
  },
  exit() {
    for (const c of clients) c.ws.close();
    process.exit(0);
  },
};

serveCommands(commands);
