// Entry point: owns the session state and wires socket events to the UI.
// The wire contract is the seed tutorial's events; acks and `online-users`
// are rtchat extras, so every path also works against the seed's server.

import { emitWithAck, watchConnection } from './connection.js';
import { OnlineUsers } from './presence.js';
import { createTypingSender, createTypingTracker, typingText } from './typing.js';
import * as ui from './ui.js';

const { el } = ui;

// autoConnect as the seed: broadcasts reach the page even before joining.
const socket = window.io();

const session = {
  name: null, // set once a join succeeds; drives the automatic re-join
  userId: null,
  live: false, // joined on the current connection (false while re-joining)
  pendingJoin: null, // {name, confirm} while a user-joined is in flight
};
const online = new OnlineUsers();
const seenIds = new Set(); // a message can come by ack and by broadcast
const ownEchoes = new Set(); // texts we saw come back, for ack-less servers

const typingOut = createTypingSender((isTyping) => {
  // volatile: a stale "typing" is worse than none, so never buffer it offline.
  // Not before the re-join: the server would answer not_joined.
  if (session.live) socket.volatile.emit('typing', isTyping);
});
const typingIn = createTypingTracker((names) => ui.setTyping(typingText(names)));

const isOwn = (data) =>
  session.userId != null ? data.userId === session.userId : data.username === session.name;

// ---- joining -------------------------------------------------------------

/** Resolve to {ok, data} or {ok: false, error}, whatever the server supports. */
function attemptJoin(name) {
  // The seed's server never acks, but it does broadcast user-connected to us,
  // which confirms the join just as well.
  const broadcast = new Promise((confirm) => {
    session.pendingJoin = { name, confirm };
  });
  const ack = emitWithAck(socket, 'user-joined', name).then((res) => {
    if (!res.timeout) return res;
    if (socket.connected) return { ok: true, data: { username: name, userId: null } };
    return { ok: false, error: { message: "Can't reach the server. Try again in a moment." } };
  });
  return Promise.race([ack, broadcast]).finally(() => {
    session.pendingJoin = null;
  });
}

async function join(name) {
  if (!name) {
    ui.setJoinError('Please enter a name.');
    return;
  }
  ui.setJoinError('');
  ui.setJoinBusy(true);
  const res = await attemptJoin(name);
  ui.setJoinBusy(false);
  if (!res.ok) {
    ui.setJoinError(res.error?.message || 'Could not join.');
    el.usernameInput.focus();
    return;
  }
  session.name = res.data?.username ?? name;
  session.userId = res.data?.userId ?? session.userId;
  session.live = true;
  ui.showChat(session.name);
}

// The server may still hold our old connection after a network blip (until its
// ping timeout), and refuse the name as taken; that clears up on its own.
const REJOIN_RETRY_MS = [1000, 2000, 4000, 8000, 15000];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// After a reconnect the server has a new session that does not know us.
async function rejoin() {
  const connection = socket.id;
  let res = await attemptJoin(session.name);
  for (const delay of REJOIN_RETRY_MS) {
    if (res.ok || res.error?.code !== 'username_taken') break;
    await sleep(delay);
    if (socket.id !== connection) return; // reconnected again: that connect re-joins
    res = await attemptJoin(session.name);
  }
  if (socket.id !== connection) return;
  if (res.ok) {
    session.userId = res.data?.userId ?? session.userId;
    session.live = true;
    return;
  }
  // Staying in the chat without a session would only produce not_joined errors.
  const name = session.name;
  session.name = null;
  session.userId = null;
  ui.showJoin(name, `Could not rejoin: ${res.error?.message ?? 'unknown error'}`);
}

// ---- sending -------------------------------------------------------------

async function send() {
  const text = el.messageInput.value.trim();
  if (!text) return;
  if (!socket.connected || !session.live) {
    // Socket.IO would buffer it, but the buffer is flushed before we re-join,
    // so the server would refuse it: better to keep it in the box.
    ui.setSendError(
      socket.connected
        ? 'Rejoining the chat… press Send again in a moment.'
        : "You're offline; press Send again once you're back.",
    );
    return;
  }
  ui.setSendError('');
  el.messageInput.value = '';
  typingOut.stopped();
  const res = await emitWithAck(socket, 'send-message', text);
  if (res.ok) {
    if (res.data?.id != null) showMessage(res.data);
    return;
  }
  if (res.timeout && ownEchoes.has(text)) return; // seed server: delivered, just no ack
  ui.setSendError(
    res.timeout
      ? 'No answer from the server; your message may not have been sent.'
      : res.error?.message || 'Message not sent.',
  );
  if (!el.messageInput.value) el.messageInput.value = text; // let them retry
}

function showMessage(data) {
  if (data.id != null) {
    if (seenIds.has(data.id)) return;
    seenIds.add(data.id);
  }
  const own = isOwn(data);
  if (own) {
    ownEchoes.add(data.message);
    if (ownEchoes.size > 50) ownEchoes.delete(ownEchoes.values().next().value);
  }
  ui.renderMessage(data, own);
}

// ---- socket events -------------------------------------------------------

watchConnection(socket, ui.setStatus);

socket.on('connect', () => {
  if (!session.name) return;
  // With connection-state recovery the server kept our session: no re-join.
  if (socket.recovered) session.live = true;
  else rejoin();
});

socket.on('disconnect', () => {
  session.live = false;
  typingIn.reset(); // their "stopped typing" may be lost with the connection
});

socket.on('online-users', (data) => {
  online.reset(data?.users);
  ui.setOnlineCount(online.size);
});

socket.on('user-connected', (data) => {
  const pending = session.pendingJoin;
  const mine = pending && data.username === pending.name;
  if (mine) pending.confirm({ ok: true, data: { username: data.username, userId: data.userId } });
  online.add(data.userId, data.username);
  ui.setOnlineCount(online.size);
  const you = mine || (session.userId != null && data.userId === session.userId);
  ui.renderNotice(you ? 'you joined' : `${data.username} joined`, data.timestamp, 'join');
});

socket.on('user-disconnected', (data) => {
  online.remove(data.userId);
  ui.setOnlineCount(online.size);
  typingIn.clear(data.username);
  ui.renderNotice(`${data.username} left`, data.timestamp, 'leave');
});

socket.on('receive-message', (data) => {
  typingIn.clear(data.username); // they sent it, so they are no longer typing
  showMessage(data);
});

socket.on('user-typing', (data) => {
  // The seed server sends typing from people who never joined (no username).
  if (!data?.username || data.username === session.name) return;
  typingIn.set(data.username, Boolean(data.isTyping));
});

socket.on('error', (data) => {
  ui.renderNotice(`⚠ ${data?.message ?? data?.code ?? 'error'}`, null, 'error');
});

// ---- DOM events ----------------------------------------------------------

el.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!el.joinBtn.disabled) join(el.usernameInput.value.trim());
});

el.messageForm.addEventListener('submit', (event) => {
  event.preventDefault();
  send();
});

el.messageInput.addEventListener('input', () => {
  ui.setSendError('');
  if (!session.name) return;
  if (el.messageInput.value.trim()) typingOut.keystroke();
  else typingOut.stopped();
});

el.usernameInput.focus();
