// Calibration only, not a server under test: the seed's join/message broadcast with the
// least work a Node server can do (WebSocket, Engine.IO and Socket.IO by hand, each
// broadcast encoded once and written once per connection). Run against it, the load
// generator shows its own ceiling: how many deliveries per second it can receive and
// check, and at what CPU. Only what the benchmark sends is handled.
'use strict';

const crypto = require('crypto');
const http = require('http');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const members = new Set();
let nextId = 0;

function frame(text) {
  const p = Buffer.from(text);
  let head;
  if (p.length < 126) {
    head = Buffer.from([0x81, p.length]);
  } else if (p.length < 65536) {
    head = Buffer.from([0x81, 126, p.length >> 8, p.length & 0xff]);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x81;
    head[1] = 127;
    head.writeUInt32BE(p.length, 6);
  }
  return Buffer.concat([head, p]);
}

function broadcast(event, data) {
  const f = frame(`42${JSON.stringify([event, data])}`);
  for (const c of members) c.sock.write(f);
}

function onPacket(c, text) {
  if (text === '40') {
    members.add(c);
    c.sock.write(frame(`40{"sid":"${c.id}"}`));
  } else if (text.startsWith('42')) {
    const [event, arg] = JSON.parse(text.slice(2));
    const timestamp = new Date().toISOString();
    if (event === 'user-joined') {
      c.name = arg;
      broadcast('user-connected', { username: arg, userId: c.id, timestamp });
    } else if (event === 'send-message') {
      broadcast('receive-message', { username: c.name, message: arg, userId: c.id, timestamp });
    }
  }
}

function onData(c, chunk) {
  const buf = c.rest.length ? Buffer.concat([c.rest, chunk]) : chunk;
  let off = 0;
  while (off + 6 <= buf.length) {
    let len = buf[off + 1] & 0x7f;
    let hdr = 2;
    if (len === 126) { len = buf.readUInt16BE(off + 2); hdr = 4; }
    else if (len === 127) { len = buf.readUInt32BE(off + 6); hdr = 10; }
    if (off + hdr + 4 + len > buf.length) break;
    const mask = buf.subarray(off + hdr, off + hdr + 4);
    const p = Buffer.from(buf.subarray(off + hdr + 4, off + hdr + 4 + len));
    for (let i = 0; i < p.length; i++) p[i] ^= mask[i & 3];
    const opcode = buf[off] & 0x0f;
    off += hdr + 4 + len;
    if (opcode === 1) onPacket(c, p.toString());
    else if (opcode === 8) { c.sock.destroy(); return; }
  }
  c.rest = Buffer.from(buf.subarray(off));
}

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
server.on('upgrade', (req, sock, head) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + GUID)
    .digest('base64');
  sock.setNoDelay(true);
  sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const c = { sock, id: `n${nextId++}`, name: null, rest: Buffer.alloc(0) };
  sock.write(frame(`0{"sid":"${c.id}","upgrades":[],"pingInterval":25000,` +
    '"pingTimeout":20000,"maxPayload":1000000}'));
  sock.on('data', (d) => onData(c, d));
  sock.on('close', () => members.delete(c));
  sock.on('error', () => members.delete(c));
  if (head.length) onData(c, head);
});
server.listen(Number(process.env.PORT), process.env.HOST);
