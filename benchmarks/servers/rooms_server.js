// The Node baseline of the real-chat-traffic benchmark (benchmarks/traffic.py): a chat server
// with rooms written the idiomatic way, as a socket.io tutorial would write it
// (socket.join(room), io.to(room).emit(...)), for the events rtchat's client uses in that
// scenario, with rtchat's payload shapes and acks ({ok: true, data} or
// {ok: false, error: {code, message}}).
//
// Everything is in memory: users by socket, rooms with a per-room sequence number and their
// last 50 messages (answered on join-room). No database, no accounts or tokens, no retry
// deduplication by clientId, no `sync`: a client that reconnects joins again and what it
// missed meanwhile is gone. (rtchat stores every message in SQLite before it broadcasts it.)
//
// The port comes from $PORT, the address from $HOST (the runner gives 127.0.0.1).
'use strict';

const http = require('http');
const { Server } = require('socket.io');

const server = http.createServer();
const io = new Server(server);

const HISTORY = 50;
const MEMBERS_LISTED = 200;
const ROOM_NAME = /^[a-z0-9_-]{1,32}$/;
const users = new Map(); // socket.id -> {username}
const rooms = new Map(); // name -> {name, topic, seq, history: [Message]}
rooms.set('general', { name: 'general', topic: '', seq: 0, history: [] });

const ok = (data) => ({ ok: true, data });
const fail = (code, message) => ({ ok: false, error: { code, message } });
const now = () => new Date().toISOString();
const answer = (ack, value) => { if (typeof ack === 'function') ack(value); };
const members = (name) => io.sockets.adapter.rooms.get(name)?.size ?? 0;
const roomInfo = (r) => ({
  name: r.name, kind: 'public', topic: r.topic, memberCount: members(r.name), lastSeq: r.seq,
});
const userOf = (socket) => users.get(socket.id);
const userPayload = (u) => ({ username: u.username, guest: false });

// The room a payload names: the user must be in it (general: everyone is).
function roomFor(socket, name) {
  if (typeof name !== 'string' || !ROOM_NAME.test(name)) return [null, 'invalid_room_name'];
  const room = rooms.get(name);
  if (room === undefined) return [null, 'room_not_found'];
  if (!socket.rooms.has(name)) return [null, 'forbidden'];
  return [room, null];
}

io.on('connection', (socket) => {
  socket.join('general'); // everyone hears general, as everyone hears the seed's io.emit

  socket.on('user-joined', (payload, ack) => {
    const name = typeof payload === 'string' ? payload : payload?.username;
    if (typeof name !== 'string' || name.trim().length < 1 || name.trim().length > 32) {
      answer(ack, fail('invalid_username', 'usernames are 1-32 characters'));
      return;
    }
    const user = { username: name.trim() };
    users.set(socket.id, user);
    io.to('general').emit('user-connected', {
      username: user.username, userId: socket.id, guest: false, timestamp: now(),
    });
    const mine = [...socket.rooms].map((n) => rooms.get(n)).filter(Boolean).map(roomInfo);
    answer(ack, ok({ user: userPayload(user), rooms: mine, onlineCount: users.size }));
  });

  socket.on('create-room', (payload, ack) => {
    const user = userOf(socket);
    if (user === undefined) { answer(ack, fail('not_joined', 'send user-joined first')); return; }
    const name = payload?.name;
    if (typeof name !== 'string' || !ROOM_NAME.test(name)) {
      answer(ack, fail('invalid_room_name', 'room names are 1-32 of a-z 0-9 - _'));
      return;
    }
    if (rooms.has(name)) { answer(ack, fail('room_exists', 'a room has this name')); return; }
    const room = { name, topic: typeof payload.topic === 'string' ? payload.topic : '', seq: 0,
      history: [] };
    rooms.set(name, room);
    socket.join(name);
    io.emit('room-created', { room: roomInfo(room) });
    answer(ack, ok({ room: roomInfo(room) }));
  });

  socket.on('join-room', (payload, ack) => {
    const user = userOf(socket);
    if (user === undefined) { answer(ack, fail('not_joined', 'send user-joined first')); return; }
    const name = payload?.room;
    if (typeof name !== 'string' || !ROOM_NAME.test(name)) {
      answer(ack, fail('invalid_room_name', 'room names are 1-32 of a-z 0-9 - _'));
      return;
    }
    const room = rooms.get(name);
    if (room === undefined) { answer(ack, fail('room_not_found', 'no room has this name')); return; }
    socket.join(name);
    socket.to(name).emit('member-joined', { room: name, user: userPayload(user) });
    const listed = [];
    for (const id of io.sockets.adapter.rooms.get(name) ?? []) {
      const u = users.get(id);
      if (u !== undefined) listed.push(userPayload(u));
      if (listed.length >= MEMBERS_LISTED) break;
    }
    answer(ack, ok({ room: roomInfo(room), messages: room.history, hasMore: room.seq > HISTORY,
      members: listed }));
  });

  socket.on('leave-room', (payload, ack) => {
    const user = userOf(socket);
    if (user === undefined) { answer(ack, fail('not_joined', 'send user-joined first')); return; }
    const [room, error] = roomFor(socket, payload?.room);
    if (room === null) { answer(ack, fail(error, `cannot leave ${payload?.room}`)); return; }
    if (room.name === 'general') { answer(ack, fail('forbidden', 'general cannot be left')); return; }
    socket.leave(room.name);
    io.to(room.name).emit('member-left', { room: room.name, user: userPayload(user) });
    answer(ack, ok({ room: room.name }));
  });

  socket.on('send-message', (payload, ack) => {
    const user = userOf(socket);
    if (user === undefined) { answer(ack, fail('not_joined', 'send user-joined first')); return; }
    const form = typeof payload === 'string' ? { room: 'general', text: payload } : payload ?? {};
    const [room, error] = roomFor(socket, form.room);
    if (room === null) { answer(ack, fail(error, `cannot post to ${form.room}`)); return; }
    const text = typeof form.text === 'string' ? form.text.trim() : '';
    if (text.length < 1 || text.length > 4000) {
      answer(ack, fail('invalid_message', 'messages are 1-4000 characters'));
      return;
    }
    room.seq += 1;
    const message = {
      id: `${room.name}:${room.seq}`, room: room.name, seq: room.seq,
      clientId: typeof form.clientId === 'string' ? form.clientId : null,
      username: user.username, message: text, userId: socket.id, guest: false, timestamp: now(),
    };
    room.history.push(message);
    if (room.history.length > HISTORY) room.history.shift();
    io.to(room.name).emit('receive-message', message);
    answer(ack, ok(message));
  });

  socket.on('typing', (payload, ack) => {
    const user = userOf(socket);
    if (user === undefined) { answer(ack, fail('not_joined', 'send user-joined first')); return; }
    const form = typeof payload === 'boolean' ? { room: 'general', isTyping: payload } : payload ?? {};
    const [room, error] = roomFor(socket, form.room);
    if (room === null) { answer(ack, fail(error, `cannot type in ${form.room}`)); return; }
    socket.to(room.name).emit('user-typing', {
      username: user.username, isTyping: form.isTyping === true, userId: socket.id, guest: false,
      room: room.name,
    });
    answer(ack, ok(null));
  });

  socket.on('disconnect', () => {
    const user = userOf(socket);
    if (user === undefined) return;
    users.delete(socket.id);
    io.to('general').emit('user-disconnected', {
      username: user.username, userId: socket.id, guest: false, timestamp: now(),
    });
  });
});

server.listen(process.env.PORT || 3000, process.env.HOST || '127.0.0.1');
