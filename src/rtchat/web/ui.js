// All DOM writes live here. User data only ever reaches the page through
// textContent / attributes, never innerHTML, so a message cannot inject markup.

import { formatTime, isoOrNow } from './time.js';

const $ = (id) => document.getElementById(id);

export const el = {
  joinScreen: $('join-screen'),
  joinForm: $('join-form'),
  usernameInput: $('username-input'),
  joinBtn: $('join-btn'),
  joinError: $('join-error'),
  chatScreen: $('chat-screen'),
  userInfo: $('user-info'),
  onlineCount: $('online-count'),
  status: $('connection-status'),
  messages: $('messages'),
  typing: $('typing-indicator'),
  messageForm: $('message-form'),
  messageInput: $('message-input'),
  sendBtn: $('send-btn'),
  sendError: $('send-error'),
};

const STATUS_TEXT = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  offline: 'offline',
};

function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text != null) n.textContent = text;
  return n;
}

function timeNode(iso) {
  const t = node('time', 'msg__time', formatTime(iso));
  t.dateTime = isoOrNow(iso);
  return t;
}

// Follow new items only when the reader is already at the bottom; someone
// scrolled up to read history should not be yanked away, unless they just
// sent a message and expect to see it.
function append(item, follow = false) {
  const list = el.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  list.append(item);
  if (atBottom || follow) list.scrollTop = list.scrollHeight;
}

/** A chat message; `own` sets it apart on the right. */
export function renderMessage({ id, username, message, userId, timestamp }, own) {
  const li = node('li', own ? 'msg msg--own' : 'msg');
  li.dataset.author = String(username ?? '');
  if (id != null) li.dataset.id = String(id);
  if (userId != null) li.dataset.userId = String(userId);
  const meta = node('div', 'msg__meta');
  meta.append(node('span', 'msg__author', own ? `${username} (you)` : username), timeNode(timestamp));
  li.append(meta, node('p', 'msg__text', String(message ?? '')));
  append(li, own);
}

/** A system line: "alice joined", "alice left", errors from the server. */
export function renderNotice(text, timestamp, kind = 'info') {
  const li = node('li', `notice notice--${kind}`);
  li.append(node('span', 'notice__text', text), timeNode(timestamp));
  append(li);
}

export function showChat(username) {
  el.joinScreen.hidden = true;
  el.chatScreen.hidden = false;
  el.userInfo.textContent = `you are ${username}`;
  el.messages.scrollTop = el.messages.scrollHeight;
  el.messageInput.focus();
}

/** Back to the join screen (a failed re-join), name filled in, reason shown. */
export function showJoin(name, error) {
  el.chatScreen.hidden = true;
  el.joinScreen.hidden = false;
  el.usernameInput.value = name ?? '';
  setJoinError(error ?? '');
  el.usernameInput.focus();
}

export function setJoinError(text) {
  el.joinError.textContent = text;
  el.usernameInput.setAttribute('aria-invalid', text ? 'true' : 'false');
}

export function setJoinBusy(busy) {
  el.joinBtn.disabled = busy;
  el.joinBtn.textContent = busy ? 'Joining…' : 'Join';
}

export function setSendError(text) {
  el.sendError.textContent = text;
}

export function setOnlineCount(n) {
  el.onlineCount.textContent = String(n);
}

export function setStatus(state) {
  el.status.dataset.state = state;
  el.status.textContent = STATUS_TEXT[state] ?? state;
  document.body.dataset.connection = state;
}

export function setTyping(text) {
  el.typing.textContent = text;
}
