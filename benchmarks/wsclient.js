// A minimal WebSocket client (RFC 6455) on a raw TCP socket, for the load generator.
//
// It does only what the benchmark needs, with as little work per frame as possible:
// one GET upgrade, unfragmented text frames out (masked with a zero key, which every
// server unmasks like any other), text frames in (fragments joined), ping -> pong,
// close. Incoming frames are handed over as Buffer views, never copied into strings.
'use strict';

const net = require('net');

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='; // RFC 6455's sample key and its accept value
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const EMPTY = Buffer.alloc(0);
const HEADERS_END = Buffer.from('\r\n\r\n');
const SHARED = Buffer.alloc(256 * 1024);

class RawWebSocket {
  // handlers: { onOpen(), onMessage(buf), onClose(reason) }. `localAddress` (another
  // loopback address, 127.0.0.2 and up) gives the socket a source port range of its own;
  // `protocol` is offered as the Sec-WebSocket-Protocol.
  constructor(port, path, handlers, timeoutMs, localAddress = undefined, protocol = undefined) {
    this.h = handlers;
    this.open = false;
    this.closed = false;
    this.rest = EMPTY; // bytes of an incomplete frame
    this.fragments = null;
    // onread: the kernel's bytes land in one shared buffer and come to onRead() directly,
    // without a Buffer per read or the stream machinery; whatever must outlive the call
    // (an incomplete frame) is copied.
    const sock = net.connect({ host: '127.0.0.1', port, noDelay: true, localAddress,
      onread: { buffer: SHARED, callback: (nread, buf) => this.onRead(buf.subarray(0, nread)) } });
    this.sock = sock;
    sock.setNoDelay(true);
    const timer = setTimeout(() => this.fail('handshake timeout'), timeoutMs);
    sock.on('error', (e) => { clearTimeout(timer); this.fail(e.message); });
    sock.on('close', () => { clearTimeout(timer); this.fail('socket closed'); });
    const offer = protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`;
    sock.on('connect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
        `${offer}\r\n`);
    });
    this.timer = timer;
  }

  onRead(chunk) {
    if (this.open) { this.onData(chunk); return; }
    this.rest = Buffer.concat([this.rest, chunk]); // a copy: chunk is the shared buffer
    const end = this.rest.indexOf(HEADERS_END);
    if (end < 0) {
      if (this.rest.length > 16384) this.fail('handshake: headers too long');
      return;
    }
    const head = this.rest.toString('latin1', 0, end);
    const body = this.rest.subarray(end + 4);
    this.rest = EMPTY;
    clearTimeout(this.timer);
    if (!/^HTTP\/1\.1 101/.test(head) || !head.includes(ACCEPT)) {
      this.fail(`handshake refused: ${head.split('\r\n', 1)[0]}`);
      return;
    }
    this.open = true;
    this.h.onOpen();
    if (body.length) this.onData(body);
  }

  fail(reason) {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    this.sock.destroy();
    this.h.onClose(reason);
  }

  onData(chunk) {
    let buf = chunk;
    if (this.rest.length) { buf = Buffer.concat([this.rest, chunk]); this.rest = EMPTY; }
    const n = buf.length;
    let off = 0;
    while (off + 2 <= n) {
      const b0 = buf[off];
      let len = buf[off + 1];
      let hdr = 2;
      if (len & 0x80) { this.fail('masked frame from server'); return; }
      if (len === 126) {
        if (off + 4 > n) break;
        len = buf.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (off + 10 > n) break;
        len = buf.readUInt32BE(off + 6) + buf.readUInt32BE(off + 2) * 0x100000000;
        hdr = 10;
      }
      if (off + hdr + len > n) break;
      const payload = buf.subarray(off + hdr, off + hdr + len);
      off += hdr + len;
      const opcode = b0 & 0x0f;
      const fin = b0 & 0x80;
      if (opcode === 1 && fin) this.h.onMessage(payload);
      else if (opcode === 1 || opcode === 2) this.fragments = [Buffer.from(payload)];
      else if (opcode === 0 && this.fragments !== null) {
        this.fragments.push(Buffer.from(payload));
        if (fin) {
          const whole = Buffer.concat(this.fragments);
          this.fragments = null;
          this.h.onMessage(whole);
        }
      } else if (opcode === 9) this.frame(0x8a, payload); // ping -> pong
      else if (opcode === 8) { this.fail(`close frame ${len >= 2 ? payload.readUInt16BE(0) : ''}`); return; }
    }
    if (off < n) this.rest = Buffer.from(buf.subarray(off)); // copy: chunk is the shared buffer
  }

  frame(b0, payload) {
    const len = payload.length;
    let head;
    if (len < 126) {
      head = Buffer.allocUnsafe(6);
      head[1] = 0x80 | len;
      head.writeUInt32BE(0, 2);
    } else if (len < 65536) {
      head = Buffer.allocUnsafe(8);
      head[1] = 0x80 | 126;
      head.writeUInt16BE(len, 2);
      head.writeUInt32BE(0, 4);
    } else {
      head = Buffer.allocUnsafe(14);
      head[1] = 0x80 | 127;
      head.writeUInt32BE(0, 2);
      head.writeUInt32BE(len, 6);
      head.writeUInt32BE(0, 10);
    }
    head[0] = b0;
    this.sock.write(Buffer.concat([head, payload])); // zero mask key: payload goes as is
  }

  send(text) {
    if (!this.closed) this.frame(0x81, Buffer.from(text));
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.sock.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0]));
    this.sock.destroy();
  }
}

module.exports = { RawWebSocket };
