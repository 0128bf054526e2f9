// rtchat's plain WebSocket protocol (`/ws`, subprotocol rtchat.v1; docs/protocol.md) for the
// load generators, on wsclient.js's RawWebSocket: the same work per frame as their Socket.IO
// clients, so that the two transports are measured alike.
//
// A connection says `hello` (no username: it signs in without a name, as a Socket.IO
// client's namespace CONNECT does) and is ready when that is answered; then every request
// is `{"id":N,"op":...,"data":...}` and gets one reply `{"id":N,"ok":...}`. Pushes are
// `{"event":"<name>","data":...}`: the event name starts at NAME_AT, where a Socket.IO
// EVENT packet (`42["<name>",...]`) has it at 4, so one parser reads both.
'use strict';

const { RawWebSocket } = require('./wsclient');

const PATH = '/ws';
const PROTOCOL = 'rtchat.v1';
const NAME_AT = 10; // {"event":"
const HELLO_ID = 0;

class RtchatWs {
  // handlers: { onReady(), onPush(buf), onRefused(text), onClose(reason) }; onRefused gets
  // every `ok: false` reply but the hello's, which fails the connection instead.
  constructor(port, handlers, timeoutMs, localAddress = undefined) {
    this.h = handlers;
    this.ready = false;
    this.nextId = HELLO_ID + 1;
    const onOpen = () => this.ws.send(`{"id":${HELLO_ID},"op":"hello","data":{}}`);
    const onMessage = (d) => (d[2] === 0x65 ? handlers.onPush(d) : this.onReply(d)); // {"e
    this.ws = new RawWebSocket(port, PATH, { onOpen, onMessage, onClose: handlers.onClose },
      timeoutMs, localAddress, PROTOCOL);
  }

  onReply(d) {
    // {"id":<digits>,"ok":<true|false>...: the request ids are ours, always integers.
    let p = 6;
    let id = 0;
    let ch;
    while ((ch = d[p]) >= 0x30 && ch <= 0x39) { id = id * 10 + ch - 48; p++; }
    const ok = d[p + 6] === 0x74; // ,"ok":t
    if (this.ready || id !== HELLO_ID) {
      if (!ok) this.h.onRefused(d.toString('utf8', 0, Math.min(d.length, 300)));
    } else if (ok) {
      this.ready = true;
      this.h.onReady();
    } else {
      this.ws.fail(`hello refused: ${d.toString('utf8', 0, Math.min(d.length, 300))}`);
    }
  }

  // `dataJson`: the request's payload, already JSON.
  request(op, dataJson) {
    this.ws.send(`{"id":${this.nextId++},"op":"${op}","data":${dataJson}}`);
  }

  emit(event, arg) { this.request(event, JSON.stringify(arg)); }

  // A message of the load generators' own texts (no character JSON would escape).
  sendMessage(text) { this.request('send-message', `"${text}"`); }

  close() { this.ws.close(); }
}

module.exports = { RtchatWs, NAME_AT };
