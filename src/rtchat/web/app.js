// Entry point: owns the session and wires socket events to the stores and the view.
//
// After every (re)connect: `session` (who am I, which rooms) -> `sync` every room
// from the last seq we hold -> `join-room` the open room (latest page + members)
// -> resend the outbox with the same clientIds. Live messages that land while a
// room syncs wait in its timeline, so the view never shows a gap or a duplicate.

import { wireMessageActions } from './actions.js';
import { overLimit, wireComposer } from './composer.js';
import { ACK_TIMEOUT_MS, emitWithAck, watchConnection } from './connection.js';
import { Delivery } from './delivery.js';
import { MessageView, presenceText } from './messageview.js';
import { moderationText } from './moderation.js';
import { Outbox, RETRY_PAUSE_MS, RETRYABLE } from './outbox.js';
import { OnlineUsers } from './presence.js';
import { ReadMarks } from './readmarks.js';
import { wireSearch } from './search.js';
import { GENERAL, Rooms } from './rooms.js';
import { renderBrowse, renderRoomLists } from './sidebar.js';
import { wireSidebarForms } from './sidebarforms.js';
import * as storage from './storage.js';
import { createTypingSender, createTypingTracker, typingText } from './typing.js';
import * as ui from './ui.js';

const { el, errorText, refusalText } = ui;

// The function form: every reconnect presents the token we hold now.
const socket = window.io({ auth: (cb) => cb({ token: storage.token() }) });

const state = {
  user: null, // {accountId, username, guest} once the server knows us
  ready: false, // identified on the current connection
  synced: false, // rooms resynced on the current connection: the outbox may go
  current: null, // the open room's name
  siteModerator: false, // moderates every room (RTCHAT_MODERATORS)
  publicRooms: [], // the pages of list-rooms loaded so far
  browseNext: null, // where the next page starts, if there is one
  browseLoaded: false,
};
const rooms = new Rooms();
const online = new OnlineUsers();
const outbox = new Outbox();
const view = new MessageView(el.messages, el.jumpLatest);
const request = (event, ...args) => emitWithAck(socket, event, ...args);
const delivery = new Delivery({
  socket,
  request,
  rooms,
  outbox,
  state,
  invalidate: (opts) => invalidate(opts),
  onRoomLost: (name) => dropRoom(name),
  onUnknownRoom: () => refreshRooms(),
  onSendError: (error) => setSendError(error),
  sendErrorCode: () => el.sendError.dataset.code,
  isViewing: (room) => isViewing(room),
});
const readMarks = new ReadMarks({
  request,
  rooms,
  invalidate: () => invalidate(),
});
const myId = () => state.user?.accountId ?? null;
const currentRoom = () => (state.current ? rooms.get(state.current) : null);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- rendering -------------------------------------------------------------

let pendingRender = null;

/** Re-render once after the current task, however many events asked for it. */
function invalidate(opts = {}) {
  if (!pendingRender) {
    pendingRender = {};
    queueMicrotask(() => {
      const flags = pendingRender;
      pendingRender = null;
      render(flags);
    });
  }
  pendingRender.follow ||= Boolean(opts.follow);
  pendingRender.prepended ||= Boolean(opts.prepended);
}

function render({ follow = false, prepended = false } = {}) {
  if (!state.user) return;
  const room = currentRoom();
  ui.setRoomHeader(room);
  view.render(room, {
    myId: myId(),
    username: state.user.username,
    pending: room ? outbox.forRoom(room.name) : [],
    canModerate: mayModerate(room),
    follow,
    prepended,
  });
  if (room && isViewing(room)) readMarks.seen(room);
  renderRoomLists(rooms, state.current);
  let unread = 0;
  for (const r of rooms.all()) if (r !== room || !isViewing(r)) unread += rooms.unread(r);
  ui.setUnreadTotal(unread);
  showBanner();
  const here = room ? onlineIn(room) : [];
  // general is everyone: its count is the server's, even past the listed 100.
  const count = room?.name === GENERAL ? Math.max(here.length, online.count) : here.length;
  ui.setOnline(here, myId(), count);
  ui.setTyping(typingText(typingNames.get(state.current) ?? []));
  if (state.browseLoaded) {
    renderBrowse(state.publicRooms, (name) => rooms.has(name), state.browseNext != null);
  }
  // A short first page does not fill the box, so no scroll could ask for more.
  const list = el.messages;
  if (room?.timeline.hasMore && list.scrollHeight <= list.clientHeight + 80) loadOlder();
}

/** The reader has `room` in front of them: open, the tab shown, read down to the end. */
function isViewing(room) {
  if (room.name !== state.current || !el.searchPanel.hidden) return false;
  return document.visibilityState === 'visible' && view.atBottom();
}

/** Whether we may delete anyone's message in `room`: its owner or a moderator. */
function mayModerate(room) {
  return state.siteModerator || room?.info.role === 'owner' || room?.info.role === 'moderator';
}

/** Presence of a room: its members who are online. Everyone is in general. */
function onlineIn(room) {
  if (room.name === GENERAL) return online.among(online.users);
  return online.among(room.members ?? new Map());
}

// ---- session ---------------------------------------------------------------

/** Resolve true once the socket is connected, false after `ms`. */
function connected(ms) {
  if (socket.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok) => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      resolve(ok);
    };
    const onConnect = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    socket.on('connect', onConnect);
  });
}

let joins = 0; // user-joined answers so far: a session answer older than one is stale

async function startSession() {
  const conn = socket.id;
  const joinsBefore = joins;
  const res = await request('session');
  if (socket.id !== conn || !socket.connected) return; // a newer connect takes over
  // The person joined while we asked (a fast typist on a fresh page): that answer wins.
  if (joins !== joinsBefore) return;
  if (!res.ok) {
    if (res.timeout) {
      await sleep(1000);
      if (socket.id === conn && socket.connected) startSession();
      return;
    }
    ui.showJoin(storage.lastUsername(), errorText(res.error, 'The server refused the session.'));
    return;
  }
  if (!res.data?.user) {
    // No token, or one the server no longer knows: sign in again.
    const wasIn = state.user != null;
    state.ready = false;
    ui.showJoin(storage.lastUsername(), wasIn ? 'Your session ended. Join again to continue.' : '');
    return;
  }
  await enter(res.data, conn);
}

async function join(name) {
  if (!name) {
    ui.setJoinError('Please enter a name.');
    return;
  }
  ui.setJoinError('');
  ui.setJoinBusy(true);
  // A fresh page may still be connecting: wait a moment rather than refuse.
  if (!(await connected(ACK_TIMEOUT_MS))) {
    ui.setJoinBusy(false);
    ui.setJoinError("Can't reach the server. Try again in a moment.");
    return;
  }
  const conn = socket.id;
  // The account or a refusal: a guest under someone else's name is for the seed's client.
  const res = await request('user-joined', { username: name, guest: false });
  ui.setJoinBusy(false);
  if (!res.ok) {
    const fallback = res.timeout ? "Can't reach the server. Try again in a moment." : 'Could not join.';
    ui.setJoinError(refusalText(res.error, fallback));
    el.usernameInput.focus();
    return;
  }
  joins += 1;
  if (res.data?.token) storage.setToken(res.data.token);
  await enter(res.data, conn);
}

/** We know who we are on this connection: restore rooms, resync, resend. */
async function enter(data, conn) {
  const user = data.user;
  if (state.user?.accountId !== user.accountId) {
    rooms.load();
    readMarks.reset();
    search.reset();
    outbox.load(user.accountId);
    typingNames.clear();
    state.current = null;
  }
  state.user = user;
  state.siteModerator = Boolean(data.siteModerator);
  state.ready = true;
  storage.setLastUsername(user.username);
  rooms.replaceAll(data.rooms);
  if (!rooms.has(GENERAL)) rooms.upsert({ name: GENERAL, kind: 'room' });
  online.reset(data.online, data.onlineCount);
  ui.showChat(user.username);

  const wanted = state.current ?? storage.openRoom(user.accountId);
  showRoom(rooms.has(wanted) ? wanted : GENERAL);
  invalidate();

  await delivery.resync(conn);
  if (socket.id !== conn) return;
  await loadRoom(state.current);
  if (socket.id !== conn) return;
  state.synced = true;
  delivery.flush();
  readMarks.resend();
  refreshBrowse();
}

// ---- rooms and messages ------------------------------------------------------

/** We are no longer in `name` (left elsewhere, or it is gone). */
function dropRoom(name) {
  if (name === GENERAL || !rooms.has(name)) return;
  rooms.remove(name);
  if (state.current === name) openRoom(GENERAL);
  invalidate();
}

/** Switch the view (from what we hold); loadRoom fetches the rest. */
function showRoom(name) {
  if (state.current === name) return;
  typingOut.stopped(); // tells the room we leave, not the next one
  const left = currentRoom();
  if (left) readMarks.leave(left);
  state.current = name;
  actions.roomChanged(name);
  if (state.user) storage.setOpenRoom(state.user.accountId, name);
  ui.setSendError('');
  ui.setSidebarOpen(false);
  invalidate({ follow: true });
}

async function openRoom(name, info = null) {
  if (!rooms.has(name)) rooms.upsert(info ?? { name, kind: 'room' });
  showRoom(name);
  const ok = await loadRoom(name);
  if (!ok || state.current !== name) return;
  // On a phone, focusing the composer would pop the keyboard over the messages.
  if (window.matchMedia('(min-width: 701px)').matches) el.messageInput.focus();
  else if (el.sidebar.contains(document.activeElement)) el.messages.focus();
}

/** join-room: joins if needed, and answers the latest page and the members. */
async function loadRoom(name) {
  const room = rooms.get(name);
  if (!room) return false;
  const conn = socket.id;
  const res = await request('join-room', { room: name });
  if (!res.ok) {
    if (res.timeout) return false;
    if (RETRYABLE.has(res.error?.code)) {
      // The room is still ours (the database is away, or we asked too fast): ask again
      // while it is open, rather than leave it at "Loading…" until the next connect.
      setTimeout(() => {
        if (socket.id === conn && state.current === name) loadRoom(name);
      }, RETRY_PAUSE_MS[res.error.code]);
      return false;
    }
    if (name === GENERAL) return false; // nowhere to fall back to; the next connect retries
    dropRoom(name);
    ui.setSendError(errorText(res.error, `Could not open ${room.title}.`));
    invalidate();
    return false;
  }
  const data = res.data ?? {};
  const fresh = rooms.upsert(data.room ?? room.info) ?? room;
  fresh.members = new Map((data.members ?? []).map((u) => [u.accountId, u.username]));
  const messages = Array.isArray(data.messages) ? data.messages : [];
  const loaded = fresh.timeline.loadTail(messages, data.hasMore, data.room?.lastSeq);
  delivery.note(fresh, messages);
  if (loaded === 'gap') delivery.fillGap(fresh);
  invalidate();
  refreshOnline(fresh);
  return true;
}

/** The session's online list stops at 100 people: ask who of this room is online. */
async function refreshOnline(room) {
  const res = await request('list-online', { room: room.name });
  if (!res.ok || !Array.isArray(res.data?.users)) return;
  for (const u of res.data.users) {
    online.note(u.accountId, u.username, u.guest);
    // join-room lists a big room's first members only; whoever is online here is one.
    if (room.members && !room.members.has(u.accountId)) room.members.set(u.accountId, u.username);
  }
  invalidate();
}

async function loadOlder() {
  const room = currentRoom();
  const tl = room?.timeline;
  if (!tl?.loaded || !tl.hasMore || tl.loadingOlder || tl.lo == null) return;
  tl.beginOlder();
  const before = tl.lo;
  const res = await request('history', { room: room.name, before, limit: 50 });
  // Failed (the next scroll asks again), or the timeline was replaced meanwhile and
  // this page no longer fits.
  if (!res.ok || tl.lo !== before) {
    tl.endOlder();
    return;
  }
  const messages = Array.isArray(res.data?.messages) ? res.data.messages : [];
  tl.prependHistory(messages, res.data?.hasMore);
  delivery.note(room, messages);
  if (room.name === state.current) invalidate({ prepended: true });
}

let refreshingRooms = false;

async function refreshRooms() {
  if (refreshingRooms) return;
  refreshingRooms = true;
  const res = await request('session');
  refreshingRooms = false;
  if (!res.ok || !res.data?.user) return;
  for (const info of res.data.rooms ?? []) rooms.upsert(info);
  invalidate();
}

/** The first page of public rooms; `moreRooms` appends the next. */
async function refreshBrowse() {
  const res = await request('list-rooms', {});
  if (!res.ok) return;
  state.publicRooms = Array.isArray(res.data?.rooms) ? res.data.rooms : [];
  state.browseNext = res.data?.next ?? null;
  state.browseLoaded = true;
  invalidate();
}

let loadingRooms = false;

async function moreRooms() {
  const after = state.browseNext;
  if (after == null || loadingRooms) return;
  loadingRooms = true;
  const res = await request('list-rooms', { after });
  loadingRooms = false;
  if (!res.ok || state.browseNext !== after) return; // failed, or refreshed meanwhile
  const known = new Set(state.publicRooms.map((r) => r.name));
  const fresh = (Array.isArray(res.data?.rooms) ? res.data.rooms : []).filter((r) => !known.has(r.name));
  state.publicRooms = [...state.publicRooms, ...fresh];
  state.browseNext = res.data?.next ?? null;
  invalidate();
}

/** A presence notice: `action` (joined, left, online, offline) by `user`, `where` " #room" or "". */
function roomNotice(room, action, timestamp, user, where = '') {
  if (!room) return;
  const who = user?.guest ? `${user.username} (guest)` : user?.username;
  const text = presenceText(action, who, where);
  // Keep it modest: a quick offline/online flap of one person reads as one line.
  const last = room.notices.at(-1);
  const recent = last && last.accountId === user?.accountId && Date.now() - last.at < 15_000;
  if (recent && last.afterSeq === (room.timeline.hi ?? 0)) room.notices.pop();
  rooms.addNotice(room, text, timestamp ?? new Date().toISOString());
  Object.assign(room.notices.at(-1), { accountId: user?.accountId, at: Date.now(), action, who, where });
  if (room.name === state.current) invalidate();
}

// ---- sending -----------------------------------------------------------------

function send() {
  const text = el.messageInput.value.trim();
  const room = currentRoom();
  if (!text || !room || !state.user) return;
  const tooLong = overLimit(text);
  if (tooLong) {
    ui.setSendError(tooLong);
    el.messageInput.focus();
    return;
  }
  const context = actions.context();
  if (context?.kind === 'edit') {
    actions.saveEdit(text);
    return;
  }
  ui.setSendError('');
  composer.clear();
  actions.clear();
  typingOut.stopped();
  outbox.add(room.name, text, context?.kind === 'reply' ? context.id : null);
  invalidate({ follow: true });
  delivery.flush();
}

function setSendError(error) {
  el.sendError.dataset.code = error?.code ?? '';
  ui.setSendError(error ? errorText(error, 'Message not sent.') : '');
}

// ---- typing ------------------------------------------------------------------

let typingRoom = null;
const typingOut = createTypingSender((isTyping) => {
  if (isTyping) typingRoom = state.current;
  if (!typingRoom || !state.ready || !socket.connected) return;
  // volatile: a stale "typing" is worse than none, so never buffer it offline.
  socket.volatile
    .timeout(ACK_TIMEOUT_MS)
    .emit('typing', { room: typingRoom, isTyping }, () => {});
});

const typingNames = new Map(); // room -> sorted names typing there
const typingIn = new Map(); // room -> tracker

function trackerFor(roomName) {
  let tracker = typingIn.get(roomName);
  if (!tracker) {
    tracker = createTypingTracker((names) => {
      typingNames.set(roomName, names);
      if (roomName === state.current) ui.setTyping(typingText(names));
    });
    typingIn.set(roomName, tracker);
  }
  return tracker;
}

// ---- socket events -----------------------------------------------------------

let connectionState = 'connecting';
watchConnection(socket, (status) => {
  connectionState = status;
  ui.setStatus(status);
  showBanner();
});

function showBanner() {
  ui.setBanner(state.user ? connectionState : 'connecting', outbox.pending().length);
}

socket.on('connect', () => {
  state.ready = false;
  state.synced = false;
  startSession();
});

socket.on('disconnect', () => {
  state.ready = false;
  state.synced = false;
  socket.sendBuffer = []; // nothing may go out before the next resync
  for (const tracker of typingIn.values()) tracker.reset(); // their "stopped" may be lost
});

socket.on('receive-message', (msg) => {
  if (msg?.username) trackerFor(msg.room ?? GENERAL).clear(msg.username);
  delivery.accept(msg);
});

// Changes take the room's next seq: in order with messages, or a sync fills the gap.
for (const [event, kind] of [
  ['message-edited', 'edit'],
  ['message-deleted', 'delete'],
  ['reaction-changed', 'reaction'],
]) {
  socket.on(event, (data) => {
    if (data && typeof data === 'object') delivery.acceptChange({ ...data, kind });
  });
}

socket.on('user-typing', (data) => {
  if (!data?.username || data.accountId === myId()) return;
  trackerFor(data.room ?? GENERAL).set(data.username, Boolean(data.isTyping));
});

// `userId` is the seed's: the socket that did it. Who it is, is `accountId`.
socket.on('user-connected', (data) => {
  if (!data || data.accountId == null) return;
  online.add(data.accountId, data.username, data.guest);
  const room = currentRoom();
  const member = room && (room.name === GENERAL || room.members?.has(data.accountId));
  if (member && data.accountId !== myId()) roomNotice(room, 'online', data.timestamp, data);
  invalidate();
});

socket.on('user-disconnected', (data) => {
  if (!data || data.accountId == null) return;
  online.remove(data.accountId);
  for (const tracker of typingIn.values()) tracker.clear(data.username);
  const room = currentRoom();
  const member = room && (room.name === GENERAL || room.members?.has(data.accountId));
  if (member && data.accountId !== myId()) roomNotice(room, 'offline', data.timestamp, data);
  invalidate();
});

socket.on('member-joined', ({ room: name, user } = {}) => {
  if (!name || !user) return;
  if (user.accountId === myId() && !rooms.has(name)) {
    // We joined in another tab.
    rooms.upsert(state.publicRooms.find((r) => r.name === name) ?? { name, kind: 'room' });
  }
  const room = rooms.get(name);
  if (!room) return;
  if (room.members && !room.members.has(user.accountId)) {
    room.members.set(user.accountId, user.username);
    room.info.memberCount = (room.info.memberCount ?? 0) + 1;
  }
  if (user.accountId !== myId()) roomNotice(room, 'joined', null, user, ` #${room.title}`);
  invalidate();
});

socket.on('member-left', ({ room: name, user } = {}) => {
  const room = name && rooms.get(name);
  if (!room || !user) return;
  if (user.accountId === myId()) {
    dropRoom(name); // we left, maybe in another tab
    return;
  }
  if (room.members?.delete(user.accountId)) {
    room.info.memberCount = Math.max(0, (room.info.memberCount ?? 1) - 1);
  }
  roomNotice(room, 'left', null, user, ` #${room.title}`);
  invalidate();
});

socket.on('room-created', ({ room } = {}) => {
  if (!room?.name || room.kind === 'dm') return;
  state.publicRooms = [...state.publicRooms.filter((r) => r.name !== room.name), room];
  state.publicRooms.sort((a, b) => a.name.localeCompare(b.name));
  invalidate();
});

socket.on('room-added', ({ room } = {}) => {
  if (room?.name) rooms.upsert(room);
  invalidate();
});

// Our marker moved (this tab, another, another device): the counts are the server's.
socket.on('read-marker', (data) => {
  const room = data?.room && rooms.get(data.room);
  if (!room) return;
  rooms.setRead(room, data);
  invalidate();
});

socket.on('moderated', (data) => {
  if (!data || typeof data !== 'object' || !data.room) return;
  const you = data.user?.accountId === myId();
  const room = rooms.get(data.room);
  if (you && room && data.action === 'role') room.info.role = data.role ?? null;
  const text = moderationText(data, myId());
  // Removed from the room: its notices go with it; say so where we land.
  const removed = you && (data.action === 'kick' || data.action === 'ban');
  const where = removed ? rooms.get(GENERAL) : room;
  if (text && where) rooms.addNotice(where, text, null, you ? 'error' : 'info');
  invalidate();
});

socket.on('error', (data) => {
  const room = currentRoom();
  if (room) rooms.addNotice(room, `⚠ ${data?.message ?? data?.code ?? 'error'}`, null, 'error');
  invalidate();
});

// ---- DOM events --------------------------------------------------------------

el.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!el.joinBtn.disabled) join(el.usernameInput.value.trim());
});

el.messageForm.addEventListener('submit', (event) => {
  event.preventDefault();
  send();
});

const composer = wireComposer({
  send,
  typed: () => {
    if (!RETRYABLE.has(el.sendError.dataset.code)) setSendError(null);
    if (!state.ready) return;
    if (el.messageInput.value.trim()) typingOut.keystroke();
    else typingOut.stopped();
  },
  // `@` offers the names of the people online, not ours.
  names: () => [
    ...new Set([...online.users].filter(([id]) => id !== myId()).map(([, name]) => name)),
  ],
  cancel: () => actions.cancel(),
  editLast: () => actions.editLast(),
});

const actions = wireMessageActions({
  request,
  currentRoom,
  me: () => state.user,
  composer,
  onError: (error) => setSendError(error),
  focusComposer: () => el.messageInput.focus(),
});

el.messages.addEventListener('scroll', () => {
  view.scrolled();
  if (view.nearTop()) loadOlder();
  const room = currentRoom();
  if (room && isViewing(room)) readMarks.seen(room);
});

// Back to the tab: what came meanwhile is read now.
document.addEventListener('visibilitychange', () => invalidate());

el.jumpLatest.addEventListener('click', () => {
  view.jumpToLatest();
  el.messageInput.focus();
});

el.onlineList.addEventListener('click', (event) => {
  const btn = event.target.closest('button[data-dm]');
  if (!btn) return;
  ui.setOnlineOpen(false);
  forms.openDm(btn.dataset.dm);
});

el.messages.addEventListener('click', (event) => {
  const retry = event.target.closest('[data-retry]');
  const discard = event.target.closest('[data-discard]');
  if (retry) {
    outbox.retry(retry.dataset.retry);
    setSendError(null);
    delivery.flush();
  } else if (discard) {
    outbox.remove(discard.dataset.discard);
    setSendError(null);
  } else return;
  invalidate();
});

for (const list of [el.roomList, el.dmList]) {
  list.addEventListener('click', (event) => {
    const btn = event.target.closest('button[data-room]');
    if (!btn) return;
    ui.setSidebarOpen(false); // the open room too: a tap on it means "show me"
    openRoom(btn.dataset.room);
  });
}

el.browseList.addEventListener('click', (event) => {
  if (event.target.closest('button[data-more]')) {
    moreRooms();
    return;
  }
  const btn = event.target.closest('button[data-join]');
  if (!btn) return;
  const name = btn.dataset.join;
  ui.setSidebarOpen(false);
  openRoom(name, state.publicRooms.find((r) => r.name === name));
});

el.browse.addEventListener('toggle', () => {
  if (el.browse.open) refreshBrowse();
});

const search = wireSearch({
  request,
  rooms,
  openRoom: (name) => openRoom(name),
  afterOpen: (name, id) => {
    if (state.current === name) view.reveal(id);
  },
});

const forms = wireSidebarForms({
  request,
  rooms,
  state,
  openRoom,
  onLeft: (name) => {
    outbox.dropRoom(name);
    refreshBrowse();
  },
});

el.sidebarToggle.addEventListener('click', () => {
  const open = !document.body.classList.contains('sidebar-open');
  ui.setSidebarOpen(open);
  if (open) (el.sidebar.querySelector('[aria-current="page"]') ?? el.newRoomBtn).focus();
});
el.backdrop.addEventListener('click', () => ui.setSidebarOpen(false));
el.sidebarClose.addEventListener('click', () => {
  ui.setSidebarOpen(false);
  el.sidebarToggle.focus();
});
el.onlineToggle.addEventListener('click', () => {
  ui.setOnlineOpen(!document.body.classList.contains('online-open'));
});
document.addEventListener('click', (event) => {
  // The online popover (narrow screens) closes on a click anywhere else.
  const inside = el.onlinePanel.contains(event.target) || el.onlineToggle.contains(event.target);
  if (!inside && document.body.classList.contains('online-open')) ui.setOnlineOpen(false);
});
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  if (search.close()) el.searchInput.focus();
  if (document.body.classList.contains('sidebar-open')) {
    ui.setSidebarOpen(false);
    el.sidebarToggle.focus();
  }
  if (document.body.classList.contains('online-open')) ui.setOnlineOpen(false);
});

// Without a token there is nobody to restore: ask for a name straight away.
// With one, show the chat shell while `session` answers (no join-screen flash).
if (storage.token()) ui.showChat(storage.lastUsername());
else ui.showJoin(storage.lastUsername());
