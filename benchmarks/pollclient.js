// An Engine.IO v4 long-polling client on raw keep-alive HTTP/1.1 connections, for the load
// generator. Same shape as wsclient.js's RawWebSocket (send, close, onOpen / onMessage /
// onClose), so loadgen.js drives either one.
//
// As the browser's client does: one long-polling GET in flight on one connection, one POST
// in flight on another (what is sent meanwhile waits and goes in the next POST, packets
// joined by \x1e), and the cookies the answers set are sent back (HAProxy's sticky
// cookie). Each answer's X-Served-By header (set by the harness's HAProxy) is kept, so
// the generator can say how many sessions were served by more than one node.
'use strict';

const net = require('net');

const EMPTY = Buffer.alloc(0);
const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const SEP = 0x1e; // Engine.IO v4's record separator between packets of one payload
const MAX_HEAD = 16384;

// One keep-alive HTTP/1.1 connection carrying one request at a time.
class HttpConn {
  constructor(port) {
    this.port = port;
    this.sock = null;
    this.rest = EMPTY;
    this.head = null; // the parsed head of the answer being read
    this.pending = null; // callback(status, head, body | reason)
  }

  request(text, body, cb) {
    if (this.sock === null) this.connect();
    this.pending = cb;
    this.head = null;
    this.sock.write(body ? Buffer.concat([Buffer.from(text), body]) : text);
  }

  connect() {
    const sock = net.connect({ host: '127.0.0.1', port: this.port, noDelay: true });
    // A socket given up on may still report its end: only the current one counts.
    sock.on('data', (d) => { if (this.sock === sock) this.onData(d); });
    sock.on('error', (e) => { if (this.sock === sock) this.drop(e.message); });
    sock.on('close', () => { if (this.sock === sock) this.drop('connection closed'); });
    this.sock = sock;
    this.rest = EMPTY;
  }

  // The connection is gone: an idle one is opened again by the next request; a request
  // waiting for its answer has failed.
  drop(why) {
    if (this.sock !== null) this.sock.destroy();
    this.sock = null;
    const cb = this.pending;
    this.pending = null;
    if (cb !== null) cb(0, null, why);
  }

  destroy() {
    this.pending = null;
    if (this.sock !== null) this.sock.destroy();
    this.sock = null;
  }

  onData(chunk) {
    this.rest = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    while (this.pending !== null) {
      if (this.head === null && !this.readHead()) return;
      const body = this.readBody();
      if (body === null) return;
      const cb = this.pending;
      const head = this.head;
      this.pending = null;
      this.head = null;
      if (head.close) this.destroy();
      cb(head.status, head, body);
    }
    if (this.rest.length) this.drop('bytes after the answer');
  }

  readHead() {
    const end = this.rest.indexOf(HEAD_END);
    if (end < 0) {
      if (this.rest.length > MAX_HEAD) this.drop('answer head too long');
      return false;
    }
    const lines = this.rest.toString('latin1', 0, end).split('\r\n');
    const head = { status: Number(lines[0].slice(9, 12)), length: 0, chunked: false,
      close: false, cookies: [], servedBy: null };
    for (let i = 1; i < lines.length; i++) {
      const k = lines[i].indexOf(':');
      const name = lines[i].slice(0, k).toLowerCase();
      const value = lines[i].slice(k + 1).trim();
      if (name === 'content-length') head.length = Number(value);
      else if (name === 'transfer-encoding') head.chunked = value.toLowerCase() === 'chunked';
      else if (name === 'connection') head.close = value.toLowerCase() === 'close';
      else if (name === 'set-cookie') head.cookies.push(value.split(';', 1)[0]);
      else if (name === 'x-served-by') head.servedBy = value;
    }
    this.head = head;
    this.rest = this.rest.subarray(end + 4);
    return true;
  }

  // The whole body once it is here (Content-Length or chunked), else null.
  readBody() {
    if (!this.head.chunked) {
      if (this.rest.length < this.head.length) return null;
      const body = this.rest.subarray(0, this.head.length);
      this.rest = this.rest.subarray(this.head.length);
      return body;
    }
    const parts = [];
    let off = 0;
    for (;;) {
      const eol = this.rest.indexOf(CRLF, off);
      if (eol < 0) return null;
      const size = parseInt(this.rest.toString('latin1', off, eol), 16);
      if (this.rest.length < eol + 2 + size + 2) return null;
      if (size === 0) {
        this.rest = this.rest.subarray(eol + 4); // no trailers from any server under test
        return Buffer.concat(parts);
      }
      parts.push(this.rest.subarray(eol + 2, eol + 2 + size));
      off = eol + 2 + size + 2;
    }
  }
}

class PollingSocket {
  // handlers: { onOpen(), onMessage(buf), onClose(reason) }; path: '/socket.io/?EIO=4&...'
  constructor(port, path, handlers, timeoutMs) {
    this.h = handlers;
    this.port = port;
    this.path = path;
    this.sid = null;
    this.cookies = new Map();
    this.servedBy = new Set();
    this.closed = false;
    this.closing = false;
    this.outbox = [];
    this.posting = false;
    this.getConn = new HttpConn(port);
    this.postConn = new HttpConn(port);
    this.timer = setTimeout(() => this.fail('handshake timeout'), timeoutMs);
    this.poll();
  }

  head(method, extra) {
    const url = this.sid === null ? this.path : `${this.path}&sid=${this.sid}`;
    let cookie = '';
    if (this.cookies.size) {
      cookie = `Cookie: ${[...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')}\r\n`;
    }
    return `${method} ${url} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\n${cookie}${extra}\r\n`;
  }

  keep(head) {
    for (const c of head.cookies) {
      const eq = c.indexOf('=');
      this.cookies.set(c.slice(0, eq), c.slice(eq + 1));
    }
    if (head.servedBy !== null) this.servedBy.add(head.servedBy);
  }

  poll() {
    this.getConn.request(this.head('GET', ''), null, (status, head, body) => {
      if (this.closed) return;
      if (status !== 200) {
        this.fail(status ? `GET answered ${status} ${String(body).slice(0, 120)}` : body);
        return;
      }
      this.keep(head);
      if (this.sid === null) {
        const m = /"sid":"([^"]+)"/.exec(body.toString('latin1'));
        if (m === null) { this.fail(`no sid in the handshake: ${String(body).slice(0, 120)}`); return; }
        this.sid = m[1];
        clearTimeout(this.timer);
        this.h.onOpen();
      }
      let start = 0;
      for (;;) {
        const end = body.indexOf(SEP, start);
        const packet = body.subarray(start, end < 0 ? body.length : end);
        if (packet.length === 1 && packet[0] === 0x31) { this.fail('Engine.IO close'); return; }
        if (packet.length) this.h.onMessage(packet);
        if (this.closed) return;
        if (end < 0) break;
        start = end + 1;
      }
      this.poll();
    });
  }

  send(text) {
    if (this.closed) return;
    this.outbox.push(text);
    if (!this.posting) this.flush();
  }

  flush() {
    if (this.sid === null || this.outbox.length === 0) return;
    const body = Buffer.from(this.outbox.join('\x1e'));
    this.outbox = [];
    this.posting = true;
    const extra = `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${body.length}\r\n`;
    this.postConn.request(this.head('POST', extra), body, (status, head, res) => {
      this.posting = false;
      if (this.closed) return;
      if (status !== 200) {
        if (this.closing) this.finish();
        else this.fail(status ? `POST answered ${status} ${String(res).slice(0, 120)}` : res);
        return;
      }
      this.keep(head);
      if (this.outbox.length) this.flush();
      else if (this.closing) this.finish();
    });
  }

  // Leave as the browser's client does: an Engine.IO close packet, then hang up.
  close() {
    if (this.closed || this.closing) return;
    this.closing = true;
    if (this.sid === null) { this.finish(); return; }
    this.outbox.push('1');
    if (!this.posting) this.flush();
    setTimeout(() => this.finish(), 2000).unref();
  }

  finish() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.getConn.destroy();
    this.postConn.destroy();
    this.h.onClose('closed by the client');
  }

  fail(why) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.getConn.destroy();
    this.postConn.destroy();
    this.h.onClose(why);
  }
}

module.exports = { PollingSocket };
