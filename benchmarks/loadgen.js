// rtchat load generator: many Socket.IO v5 clients over WebSocket (Engine.IO v4), spoken
// by hand on raw TCP sockets (wsclient.js) in one Node process, cheap enough per message
// to measure fast servers; or over HTTP long-polling (pollclient.js, `transport: polling`);
// or rtchat's plain WebSocket protocol at /ws (rtchatws.js, `transport: ws`), where each
// Socket.IO event is the request of that name (its reply is not waited for: as on Socket.IO,
// a sender's own delivery paces it) and each push is the event of that name.
//
//   node loadgen.js '<json config>'      (benchmarks/run.py builds the config)
//
// Modes:
//   idle     S1: open idle clients in stages (namespace connect only), RSS per stage.
//   session  S4 join storm, then S2 broadcast throughput, then S3 latency, on the same
//            joined clients.
//
// With several `ports` (one per node of a cluster) the senders (the first s3Senders
// clients) connect to the first node and the other clients go round the nodes, starting
// with the second. Server CPU is read per phase from /proc for every process group in
// `cpuGroups` (a session id, the PostgreSQL backends of one database, or every postgres
// process); the `counted` ones are summed into the server's CPU per delivery.
//
// Every message text is "bm:<phase>:<id>:<sender>:<seq>:<sentUs>", so each receiver checks
// exactly-once per sender with a counter and reads the latency without JSON.parse.
// Only 127.0.0.1; every loop and wait is bounded; progress on stderr, one "RESULT {json}"
// line on stdout.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { spawn } = require('child_process');
const { RawWebSocket } = require('./wsclient');
const { PollingSocket } = require('./pollclient');
const rtchatws = require('./rtchatws');
const procstat = require('./procstat');

const cfg = JSON.parse(process.argv[2]);
const PORTS = cfg.ports || [cfg.port];
const POLLING = cfg.transport === 'polling';
const WS = cfg.transport === 'ws';
const NAME_AT = WS ? rtchatws.NAME_AT : 4; // where an event's name starts: 42["<name>"
const PATH = `/socket.io/?EIO=4&transport=${POLLING ? 'polling' : 'websocket'}`;
const Transport = POLLING ? PollingSocket : RawWebSocket;
const SENDERS_ON_A = cfg.s3Senders || 1;
// Each WebSocket client connects from a loopback source address of its own (127.0.3.1 and
// up, 254 to each third octet), as the users of a real chat come from many addresses: a
// server that shares its work out fairly by address (rtchat admits only so many joins
// and reads from one address at once) is then measured on its real throughput, not on
// its limit for one address. Long-polling clients, and the warm-up clients (idx < 0), come
// from 127.0.0.1.
const sourceAddress = (idx) => (idx < 0 ? undefined
  : `127.0.${3 + Math.floor(idx / 254)}.${1 + (idx % 254)}`);
const T0 = performance.now();

const log = (...a) => process.stderr.write(`[loadgen] ${a.join(' ')}\n`);
const nowMs = () => performance.now();
const nowUs = () => Math.round((performance.now() - T0) * 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- /proc readings
const CPU_GROUPS = cfg.cpuGroups || [{ name: 'server', counted: true, sid: cfg.serverPid }];
const cpuSnapshot = () => procstat.cpuSnapshot(CPU_GROUPS);
const cpuBetween = (a, b) => procstat.cpuBetween(CPU_GROUPS, a, b, cfg.clkTck);

function serverRssKb() {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${cfg.serverPid}/status`, 'latin1'));
  return m ? Number(m[1]) : NaN;
}
function genCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
// Wall time, server CPU (the counted groups, and each group) and generator CPU over one
// measured interval.
function meter() {
  const start = { t: nowMs(), s: cpuSnapshot(), g: genCpuSeconds() };
  return (endT) => {
    const t = endT ?? nowMs();
    const wall = (t - start.t) / 1000;
    const cpu = cpuBetween(start.s, cpuSnapshot());
    const g = genCpuSeconds() - start.g;
    return { wall_s: wall, server_cpu_s: cpu.total, server_cpu_pct: (100 * cpu.total) / wall,
      gen_cpu_pct: (100 * g) / wall, cpu_s_by_group: cpu.by, cpu_vanished: cpu.vanished };
  };
}

// Per-delivery CPU of each group, for the report.
function perDelivery(r, deliveries) {
  const by = {};
  for (const [k, v] of Object.entries(r.cpu_s_by_group)) by[k] = (1e6 * v) / deliveries;
  return { server_cpu_us_per_delivery: (1e6 * r.server_cpu_s) / deliveries,
    cpu_us_per_delivery_by_group: by, cpu_processes_vanished: r.cpu_vanished };
}

// ---------------------------------------------------------------- clients
const B = (s) => Buffer.from(s);
const MARK_MSG = B('"bm:');
const MARK_USER = B('"bench');
const errors = []; // first few problems, for the report
const counters = { disconnects: 0, connect_failures: 0, server_errors: 0, other_events: 0 };
function problem(msg) {
  if (errors.length < 20) errors.push(msg);
}

let phase = null; // the running phase receives onMessage / onJoin
const clients = [];

// The node (index into PORTS) client `idx` talks to.
function nodeOf(idx) {
  if (PORTS.length === 1 || idx < SENDERS_ON_A) return 0;
  return (idx - SENDERS_ON_A + 1) % PORTS.length;
}

class Client {
  constructor(idx, node = nodeOf(idx)) {
    this.idx = idx;
    this.node = node;
    this.onAny = null; // warm-up clients see every event here instead
    this.ws = null;
    this.connected = false;
    this.ackOrder = -1;
    this.closedExpected = false;
  }

  open(onReady, onFail) {
    let settled = false;
    const onClose = (why) => {
      this.connected = false;
      if (!settled) {
        settled = true;
        counters.connect_failures += 1;
        problem(`client ${this.idx}: connect failed: ${why}`);
        onFail();
      } else if (!this.closedExpected) {
        counters.disconnects += 1;
        problem(`client ${this.idx}: disconnected: ${why}`);
      }
    };
    const ready = () => { // the namespace joined, or the hello answered
      if (settled) return;
      settled = true;
      this.connected = true;
      onReady(this);
    };
    if (WS) {
      const onRefused = (text) => {
        counters.server_errors += 1;
        problem(`client ${this.idx}: refused ${text}`);
      };
      const onPush = (d) => this.onEvent(d);
      this.ws = new rtchatws.RtchatWs(PORTS[this.node], { onReady: ready, onPush, onRefused,
        onClose }, 30000, sourceAddress(this.idx));
      return;
    }
    const onMessage = (d) => {
      const c0 = d[0];
      if (c0 === 0x34) { // '4' Engine.IO message -> Socket.IO packet
        const c1 = d[1];
        if (c1 === 0x32) this.onEvent(d); // '2' EVENT
        else if (c1 === 0x30) ready(); // '0' CONNECT: namespace joined
        else if (c1 === 0x34) { problem(`client ${this.idx}: CONNECT_ERROR ${d}`); }
        else if (c1 === 0x31) { problem(`client ${this.idx}: server DISCONNECT`); }
      } else if (c0 === 0x32 && d.length === 1) {
        this.ws.send('3'); // ping -> pong
      } else if (c0 === 0x30) {
        this.ws.send('40'); // Engine.IO OPEN -> Socket.IO CONNECT to "/"
      } else if (c0 === 0x31) {
        problem(`client ${this.idx}: Engine.IO close`);
      }
    };
    this.ws = new Transport(PORTS[this.node], PATH, { onOpen: () => {}, onMessage, onClose },
      30000, POLLING ? undefined : sourceAddress(this.idx));
  }

  onEvent(d) {
    if (this.onAny !== null) { this.onAny(d); return; }
    // d = 42["event-name",{...}] (or {"event":"event-name",...}); d[N] its first letter.
    const N = NAME_AT;
    const e = d[N];
    if (e === 0x72 && d[N + 1] === 0x65 && d[N + 7] === 0x2d) { // "receive-message"
      const i = d.indexOf(MARK_MSG, 20);
      if (i < 0) { counters.other_events += 1; return; }
      let p = i + 4;
      let ch;
      let ph = 0; while ((ch = d[p++]) !== 0x3a) ph = ph * 10 + ch - 48;
      let g = 0; while ((ch = d[p++]) !== 0x3a) g = g * 10 + ch - 48;
      let s = 0; while ((ch = d[p++]) !== 0x3a) s = s * 10 + ch - 48;
      let q = 0; while ((ch = d[p++]) !== 0x3a) q = q * 10 + ch - 48;
      let t = 0; while ((ch = d[p++]) >= 0x30 && ch <= 0x39) t = t * 10 + ch - 48;
      if (phase !== null && phase.id === ph) phase.onMessage(this, g, s, q, t);
      else { counters.stray = (counters.stray || 0) + 1; problem(`stray message phase ${ph}`); }
    } else if (e === 0x75 && d[N + 5] === 0x63) { // "user-connected"
      const i = d.indexOf(MARK_USER, 20);
      let p = i + 6;
      let ch;
      let u = 0; while ((ch = d[p++]) >= 0x30 && ch <= 0x39) u = u * 10 + ch - 48;
      if (i >= 0 && phase !== null && phase.onJoin) phase.onJoin(this, u);
      else { counters.stray = (counters.stray || 0) + 1; problem(`stray user-connected ${d}`); }
    } else if (e === 0x75 && d[N + 5] === 0x74) { // "user-typing": not used
      counters.other_events += 1;
    } else if (e === 0x65 && d[N + 1] === 0x72) { // "error"
      counters.server_errors += 1;
      problem(`client ${this.idx}: server error event ${String(d).slice(0, 300)}`);
    } else {
      counters.other_events += 1;
      if (e === 0x75 && d[N + 5] === 0x64) problem(`unexpected ${String(d).slice(0, 200)}`);
    }
  }

  emit(event, arg) {
    if (WS) this.ws.emit(event, arg);
    else this.ws.send(`42${JSON.stringify([event, arg])}`);
  }

  sendMessage(text) {
    if (WS) this.ws.sendMessage(text);
    else this.ws.send(`42["send-message","${text}"]`);
  }
}

// Open `n` more clients, at most cfg.inflight handshakes at a time. Resolves when every one
// is connected to the namespace or has failed.
function openClients(n, onEachReady) {
  return new Promise((resolve) => {
    let started = 0;
    let done = 0;
    const startNext = () => {
      if (started >= n) return;
      const c = new Client(clients.length);
      clients.push(c);
      started += 1;
      c.open((cl) => { if (onEachReady) onEachReady(cl); finish(); }, finish);
    };
    const finish = () => {
      done += 1;
      if (done === n) resolve();
      else startNext();
    };
    if (n === 0) { resolve(); return; }
    for (let k = 0; k < Math.min(cfg.inflight, n); k++) startNext();
  });
}

// Resolve when cond() is true, checked every `every` ms; false after `timeoutMs`.
async function waitFor(cond, timeoutMs, every = 5) {
  const end = nowMs() + timeoutMs;
  while (nowMs() < end) {
    if (cond()) return true;
    await sleep(every);
  }
  return cond();
}

// Like waitFor, but also gives up once progress() has not changed for cfg.stallMs: a server
// that stopped delivering does not hold the run for the whole drain timeout.
async function waitProgress(cond, progress, timeoutMs, every = 2) {
  const end = nowMs() + timeoutMs;
  let last = progress();
  let lastChange = nowMs();
  while (nowMs() < end) {
    if (cond()) return true;
    await sleep(every);
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = nowMs();
    } else if (nowMs() - lastChange > cfg.stallMs) {
      problem(`stalled: nothing delivered for ${cfg.stallMs} ms`);
      break;
    }
  }
  return cond();
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
}

// ---------------------------------------------------------------- message phases
let phaseCounter = 0;

// Tracks exactly-once delivery of messages broadcast to every client. Per receiver and
// sender the next expected seq is a counter (in-order fast path); out-of-order arrivals
// wait in a small Set, duplicates are counted, and whatever is missing at the end is lost.
// `senders` are client indexes; a message names its sender by position in that list.
class BroadcastPhase {
  constructor(name, senders, maxMessages, wantLatency) {
    const nSenders = senders.length;
    this.id = ++phaseCounter;
    this.name = name;
    this.n = clients.length;
    this.senders = senders;
    this.nSenders = nSenders;
    this.sent = 0;
    this.sentAt = new Float64Array(maxMessages);
    this.recvCount = new Int32Array(maxMessages);
    this.seqSent = new Int32Array(nSenders);
    this.complete = 0; // messages delivered to every client
    this.oldest = 0; // lowest message id not yet complete
    this.delivered = 0;
    this.dups = 0;
    this.reordered = 0;
    this.lastDeliveryMs = 0;
    this.lat = wantLatency ? new Float64Array(maxMessages * this.n) : null;
    this.nLat = 0;
    this.onOwnReceipt = null;
    for (const c of clients) {
      c.next = new Int32Array(nSenders);
      c.ahead = null;
    }
  }

  send(senderIdx) {
    const g = this.sent++;
    const q = this.seqSent[senderIdx]++;
    const t = nowUs();
    this.sentAt[g] = t;
    clients[this.senders[senderIdx]].sendMessage(`bm:${this.id}:${g}:${senderIdx}:${q}:${t}`);
  }

  onMessage(c, g, s, q, t) {
    const nowU = nowUs();
    if (s >= this.nSenders || g >= this.sent) { problem(`bad message ids ${g}/${s}`); return; }
    const exp = c.next[s];
    if (q === exp) {
      c.next[s] = exp + 1;
      if (c.ahead !== null && c.ahead[s] !== undefined) this.pullAhead(c, s);
    } else if (q < exp) { this.dups += 1; return; }
    else {
      if (c.ahead === null) c.ahead = [];
      if (c.ahead[s] === undefined) c.ahead[s] = new Set();
      if (c.ahead[s].has(q)) { this.dups += 1; return; }
      c.ahead[s].add(q);
      this.reordered += 1;
    }
    this.delivered += 1;
    this.lastDeliveryMs = nowU / 1000;
    if (this.lat !== null) this.lat[this.nLat++] = (nowU - t) / 1000;
    if (++this.recvCount[g] === this.n) {
      this.complete += 1;
      while (this.oldest < this.sent && this.recvCount[this.oldest] === this.n) this.oldest++;
    }
    if (this.onOwnReceipt !== null && c.idx === this.senders[s]) this.onOwnReceipt();
  }

  pullAhead(c, s) {
    const set = c.ahead[s];
    while (set.delete(c.next[s])) c.next[s] += 1;
  }

  // Server lag: age of the oldest message not yet delivered everywhere (0 if none).
  lagMs() {
    return this.oldest < this.sent ? nowMs() - T0 - this.sentAt[this.oldest] / 1000 : 0;
  }

  // Exactly-once verdict for this phase.
  verify() {
    let lost = 0;
    for (const c of clients) {
      for (let s = 0; s < this.nSenders; s++) {
        const got = c.next[s] + (c.ahead && c.ahead[s] ? c.ahead[s].size : 0);
        lost += this.seqSent[s] - got;
      }
    }
    return { sent: this.sent, expected: this.sent * this.n, delivered: this.delivered,
      lost, duplicated: this.dups, reordered: this.reordered,
      ok: lost === 0 && this.dups === 0 };
  }

  latency() {
    if (this.lat === null || this.nLat === 0) return null;
    const a = this.lat.subarray(0, this.nLat).sort();
    return { p50_ms: percentile(a, 50), p99_ms: percentile(a, 99), p999_ms: percentile(a, 99.9),
      max_ms: a[a.length - 1], samples: a.length };
  }
}

// ---------------------------------------------------------------- S1: idle connections
async function runIdle() {
  const out = { stages: [] };
  // Warm-up: one connection opened and closed, so the baseline includes a loaded code path.
  await openClients(1);
  clients[0].closedExpected = true;
  clients[0].ws.close();
  clients.length = 0;
  await sleep(cfg.settleMs);
  out.rss_base_kb = serverRssKb();
  for (const target of cfg.stages) {
    const m = meter();
    const before = counters.connect_failures;
    await openClients(target - clients.length);
    const r = m();
    await sleep(cfg.settleMs);
    const rss = serverRssKb();
    const open = clients.filter((c) => c.connected).length;
    out.stages.push({ connections: target, open, failed: counters.connect_failures - before,
      seconds: r.wall_s, accepted_per_s: (target - (out.stages.at(-1)?.connections ?? 0)) / r.wall_s,
      rss_kb: rss, rss_per_conn_kb: (rss - out.rss_base_kb) / target,
      server_cpu_pct: r.server_cpu_pct, gen_cpu_pct: r.gen_cpu_pct });
    log(`S1 ${target}: ${out.stages.at(-1).accepted_per_s.toFixed(0)} conn/s, rss ${rss} kB`);
    if (open < target) break;
  }
  out.ok = counters.connect_failures === 0 && counters.disconnects === 0 && !counters.stray;
  return out;
}

// ---------------------------------------------------------------- S4: join storm
async function runJoinStorm(n) {
  const joinOrder = new Int32Array(n).fill(-1);
  let order = 0;
  let ownEchoes = 0;
  let deliveries = 0;
  let dups = 0;
  const seen = new Uint8Array(n * n); // seen[receiver * n + joiner]
  let requiredSeen = 0;
  const onJoin = (c, u) => {
    if (u >= n) { problem(`unknown username bench${u}`); return; }
    const k = c.idx * n + u;
    if (seen[k]) { dups += 1; return; }
    seen[k] = 1;
    deliveries += 1;
    // Before its own ack (a /ws hello's reply can come after pushes) every join is optional.
    if (c.ackOrder >= 0 && joinOrder[u] > c.ackOrder) requiredSeen += 1;
    if (u === c.idx) ownEchoes += 1;
  };
  phase = { id: -1, onJoin, onMessage: () => problem('S4: message before the sentinel') };
  const m = meter();
  await openClients(n, (c) => {
    c.ackOrder = order++;
    joinOrder[c.idx] = order++;
    c.emit('user-joined', `bench${c.idx}`);
  });
  // A client must have every join sent after its namespace ack: the k-th client acked has
  // ackOrder 2k, so the joins after it are those of clients k..n-1.
  const connected = clients.filter((c) => c.ackOrder >= 0).length;
  let required = 0;
  for (const c of clients) if (c.ackOrder >= 0) required += connected - c.ackOrder / 2;
  const joined = await waitProgress(() => requiredSeen === required, () => deliveries,
    cfg.drainTimeoutMs);
  // Then one message from the first client of every node: each node passes on what it
  // handles in order, so a client holding every node's sentinel holds every join meant
  // for it, and a late duplicate would have arrived before them.
  const firsts = PORTS.map((_p, node) => clients.findIndex((c) => c.node === node))
    .filter((i) => i >= 0);
  const sentinel = new BroadcastPhase('S4-sentinel', firsts, firsts.length, false);
  sentinel.onJoin = onJoin; // copies of the last joins may still be on their way
  phase = sentinel;
  if (joined) for (let k = 0; k < firsts.length; k++) sentinel.send(k);
  const drained = joined && await waitProgress(() => sentinel.complete === firsts.length,
    () => sentinel.delivered, cfg.drainTimeoutMs);
  const r = m();
  // Required: every join sent after this client's namespace ack. Earlier joins are optional.
  let missing = 0;
  for (const c of clients) {
    for (let j = 0; j < n; j++) {
      if (joinOrder[j] > c.ackOrder && !seen[c.idx * n + j]) missing += 1;
    }
  }
  const v = sentinel.verify();
  const ok = drained && missing === 0 && dups === 0 && v.ok && counters.connect_failures === 0;
  if (!drained) {
    problem(`S4 did not drain: own echoes ${ownEchoes}/${n}, required joins ` +
      `${requiredSeen}/${required}`);
  }
  log(`S4: ${r.wall_s.toFixed(2)} s, ${deliveries} deliveries, missing ${missing}, dups ${dups}`);
  return { clients: n, drain_s: r.wall_s, deliveries, deliveries_per_s: deliveries / r.wall_s,
    missing, duplicated: dups, server_cpu_pct: r.server_cpu_pct, gen_cpu_pct: r.gen_cpu_pct,
    ...perDelivery(r, deliveries), ok };
}

// ---------------------------------------------------------------- S2: broadcast throughput
async function runThroughput(windowSize) {
  const maxMsgs = cfg.s2MaxMessages;
  const ph = new BroadcastPhase(`S2-w${windowSize}`, [0], maxMsgs, false);
  phase = ph;
  let inflight = 0;
  let stopAt = 0;
  const pump = () => {
    while (inflight < windowSize && ph.sent < maxMsgs && nowMs() < stopAt) {
      inflight += 1;
      ph.send(0);
    }
  };
  ph.onOwnReceipt = () => { inflight -= 1; pump(); };
  const m = meter();
  stopAt = nowMs() + cfg.s2Seconds * 1000;
  pump();
  await waitFor(() => nowMs() >= stopAt || ph.sent >= maxMsgs, cfg.s2Seconds * 1000 + 1000, 20);
  stopAt = 0;
  const drained = await waitProgress(() => ph.complete === ph.sent, () => ph.delivered,
    cfg.drainTimeoutMs);
  const r = m(drained ? ph.lastDeliveryMs + T0 : undefined);
  const v = ph.verify();
  if (!drained) problem(`S2 window ${windowSize}: not drained (${ph.complete}/${ph.sent})`);
  log(`S2 w${windowSize}: ${(ph.delivered / r.wall_s).toFixed(0)} deliveries/s, ` +
    `server ${r.server_cpu_pct.toFixed(0)}%, gen ${r.gen_cpu_pct.toFixed(0)}%`);
  return { window: windowSize, messages: ph.sent, ...v, ok: v.ok && drained,
    seconds: r.wall_s, deliveries_per_s: ph.delivered / r.wall_s,
    server_cpu_pct: r.server_cpu_pct, gen_cpu_pct: r.gen_cpu_pct,
    ...perDelivery(r, ph.delivered) };
}

// ---------------------------------------------------------------- S3: latency at fixed rate
// The probe: a few idle clients in a process of their own (scalegen.js), on the last node,
// that keep every latency they see. This process reads 1,000 sockets per message, so its
// own latency figures are mostly its own; the probe's are the server's.
class Probe {
  constructor(n) {
    const conf = { port: PORTS[PORTS.length - 1], localAddresses: ['127.0.0.1'], inflight: n,
      transport: WS ? 'ws' : 'websocket' };
    this.proc = spawn(process.execPath, [path.join(__dirname, 'scalegen.js'), JSON.stringify(conf)],
      { stdio: ['pipe', 'pipe', 'ignore'] });
    this.lines = readline.createInterface({ input: this.proc.stdout });
    this.waiting = [];
    this.lines.on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w(JSON.parse(line));
    });
  }

  ask(cmd, timeoutMs = 30000) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ev: 'timeout' }), timeoutMs);
      this.waiting.push((a) => { clearTimeout(timer); resolve(a); });
      this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
  }

  stop() { this.proc.stdin.end(); }
}
let probe = null;

async function runLatency(rate) {
  const nSenders = Math.min(cfg.s3Senders, clients.length);
  const total = Math.round(rate * cfg.s3Seconds);
  const ph = new BroadcastPhase(`S3-${rate}`, [...Array(nSenders).keys()], total, true);
  phase = ph;
  if (probe !== null) {
    await probe.ask({ cmd: 'watch', phase: ph.id, messages: total, format: 'bm',
      mono0Ms: Number(process.hrtime.bigint()) / 1e6 - (performance.now() - T0) });
  }
  const interval = 1000 / rate;
  let stoppedEarly = false;
  let maxLag = 0;
  const m = meter();
  const start = nowMs();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const t = nowMs();
      while (ph.sent < total && start + ph.sent * interval <= t) ph.send(ph.sent % nSenders);
      const lag = ph.lagMs();
      if (lag > maxLag) maxLag = lag;
      if (lag > cfg.s3MaxLagMs) stoppedEarly = true; // the server fell too far behind
      if (ph.sent >= total || stoppedEarly || t - start > cfg.s3Seconds * 1000 + 5000) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const lastSend = nowMs();
  const drained = await waitProgress(() => ph.complete === ph.sent, () => ph.delivered,
    cfg.drainTimeoutMs);
  const r = m();
  const v = ph.verify();
  const drainMs = drained ? Math.max(0, ph.lastDeliveryMs + T0 - lastSend) : null;
  const keptUp = drained && !stoppedEarly && drainMs <= cfg.s3KeptUpDrainMs;
  if (!drained) problem(`S3 rate ${rate}: not drained (${ph.complete}/${ph.sent})`);
  const lat = ph.latency();
  let probed = null;
  let probeOk = true;
  if (probe !== null) {
    const want = ph.sent * cfg.s3Probes;
    for (let k = 0; k < 200; k++) { // bounded: up to 2 s for the probe to see the drained tail
      probed = await probe.ask({ cmd: 'latency' });
      if (probed.ev !== 'latency' || probed.delivered >= want) break;
      await sleep(10);
    }
    probeOk = probed.delivered === want;
    if (!probeOk) problem(`S3 probe: ${probed.delivered}/${want} delivered`);
  }
  log(`S3 ${rate}/s: p50 ${lat && lat.p50_ms.toFixed(1)} ms p99 ${lat && lat.p99_ms.toFixed(1)} ms,` +
    ` probe p99 ${probed && probed.p99_ms !== null ? probed.p99_ms.toFixed(1) : '-'} ms,` +
    ` kept up ${keptUp}, gen ${r.gen_cpu_pct.toFixed(0)}%`);
  return { rate_msgs_per_s: rate, target_deliveries_per_s: rate * clients.length,
    probe: probed,
    messages: ph.sent, planned: total, ...v, ok: v.ok && drained && probeOk, kept_up: keptUp,
    stopped_early: stoppedEarly, max_lag_ms: maxLag, drain_after_last_send_ms: drainMs,
    ...lat, deliveries_per_s: ph.delivered / r.wall_s,
    server_cpu_pct: r.server_cpu_pct, gen_cpu_pct: r.gen_cpu_pct,
    ...perDelivery(r, ph.delivered + (probed ? probed.delivered : 0)) };
}

// S4, then S2 and S3 on the same joined clients; stops at the first failed phase (the
// state after a loss is not worth measuring).
// ---------------------------------------------------------------- cluster warm-up
// Before S4 on several nodes: one joined client per node (through the balancer, if any),
// and probe messages from the first until every one of them has one, so every node is
// linked to the others before anything is counted (python-socketio subscribes to Redis
// only at its first connection). The warm-up clients then leave; none is in `clients`.
async function warmUp(n) {
  const started = nowMs();
  const peers = [];
  const joined = new Set();
  const probed = new Set();
  await new Promise((resolve) => {
    let settled = 0;
    const done = () => { if (++settled === n) resolve(); };
    for (let k = 0; k < n; k++) {
      const c = new Client(-1 - k, k % PORTS.length);
      c.onAny = (d) => {
        const text = d.toString('latin1');
        if (text.includes(`"warmup${k}"`) && text.includes('user-connected')) joined.add(k);
        else if (text.includes('"warmup-probe')) probed.add(k);
      };
      peers.push(c);
      c.open(() => { c.emit('user-joined', `warmup${k}`); done(); }, done);
    }
  });
  const up = peers.every((c) => c.connected) &&
    await waitFor(() => joined.size === n, cfg.warmupTimeoutMs, 20);
  let probes = 0;
  const linked = up && await waitFor(() => {
    if (probed.size < n && (probes === 0 || nowMs() - started > probes * 200)) {
      peers[0].emit('send-message', `warmup-probe ${probes++}`);
    }
    return probed.size === n;
  }, cfg.warmupTimeoutMs, 20);
  for (const c of peers) {
    c.closedExpected = true;
    if (c.ws !== null) c.ws.close();
  }
  await sleep(cfg.pauseMs); // their user-disconnected pass before S4 connects anyone
  if (!linked) problem(`warm-up: joined ${joined.size}/${n}, probe reached ${probed.size}/${n}`);
  return { clients: n, ms: nowMs() - started, probes, ok: linked };
}

// Where the clients went: per node (direct), or per server that answered (balancer).
function placement() {
  const perNode = PORTS.map(() => 0);
  for (const c of clients) perNode[c.node] += 1;
  const out = { ports: PORTS, clients_per_port: perNode };
  if (POLLING) {
    const first = {};
    let spread = 0;
    for (const c of clients) {
      const seen = c.ws.servedBy;
      if (seen.size > 1) spread += 1;
      const s = seen.size ? [...seen][0] : 'none';
      first[s] = (first[s] || 0) + 1;
    }
    out.sessions_served_by_several_servers = spread;
    out.sessions_by_first_server = first;
  }
  return out;
}

async function runSession() {
  const out = { s2: [], s3: [] };
  if (cfg.warmup > 0) {
    out.warmup = await warmUp(cfg.warmup);
    if (!out.warmup.ok) return { ...out, stopped_after: 'warm-up' };
  }
  out.s4 = await runJoinStorm(cfg.clients);
  out.placement = placement();
  if (!out.s4.ok) return { ...out, stopped_after: 'S4' };
  const phases = [
    ...cfg.s2Windows.map((w) => ['s2', () => runThroughput(w)]),
    ...cfg.s3Rates.map((r) => ['s3', () => runLatency(r)]),
  ];
  try {
    for (const [key, run] of phases) {
      await sleep(cfg.pauseMs);
      if (key === 's3' && probe === null && cfg.s3Probes > 0 && !POLLING) {
        probe = new Probe(cfg.s3Probes);
        const opened = await probe.ask({ cmd: 'open', n: cfg.s3Probes });
        if (opened.open !== cfg.s3Probes) {
          problem(`S3 probe: ${opened.open}/${cfg.s3Probes} connected`);
          return { ...out, stopped_after: 'S3 probe' };
        }
        await sleep(cfg.pauseMs);
      }
      const res = await run();
      out[key].push(res);
      if (!res.ok) return { ...out, stopped_after: `${key} ${res.window ?? res.rate_msgs_per_s}` };
    }
  } finally {
    if (probe !== null) probe.stop();
  }
  out.placement = placement();
  return out;
}

// ---------------------------------------------------------------- main
async function main() {
  const deadline = setTimeout(() => {
    process.stdout.write(`RESULT ${JSON.stringify({ ok: false, errors: ['generator deadline'],
      counters })}\n`);
    process.exit(3);
  }, cfg.deadlineS * 1000);
  const result = cfg.mode === 'idle' ? await runIdle() : await runSession();
  clearTimeout(deadline);
  result.counters = counters;
  result.errors = errors;
  result.rss_end_kb = serverRssKb();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((e) => {
  process.stdout.write(`RESULT ${JSON.stringify({ ok: false, errors: [String(e.stack)] })}\n`,
    () => process.exit(4));
});
