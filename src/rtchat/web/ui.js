// Small DOM writes: screens, header, status, errors. User data only ever
// reaches the page through textContent / attributes, never innerHTML, so a
// message or a room topic cannot inject markup.

const $ = (id) => document.getElementById(id);

export const el = {
  joinScreen: $('join-screen'),
  joinForm: $('join-form'),
  usernameInput: $('username-input'),
  joinBtn: $('join-btn'),
  joinError: $('join-error'),
  chatScreen: $('chat-screen'),
  sidebar: $('sidebar'),
  sidebarToggle: $('sidebar-toggle'),
  backdrop: $('sidebar-backdrop'),
  unreadTotal: $('unread-total'),
  userInfo: $('user-info'),
  newRoomBtn: $('new-room-btn'),
  createRoomForm: $('create-room-form'),
  roomNameInput: $('room-name-input'),
  roomTopicInput: $('room-topic-input'),
  roomError: $('room-error'),
  roomList: $('room-list'),
  newDmBtn: $('new-dm-btn'),
  dmForm: $('dm-form'),
  dmUsernameInput: $('dm-username-input'),
  dmError: $('dm-error'),
  dmList: $('dm-list'),
  browse: $('browse'),
  browseList: $('browse-list'),
  browseEmpty: $('browse-empty'),
  roomTitle: $('room-title'),
  roomTopic: $('room-topic'),
  leaveBtn: $('leave-btn'),
  onlineToggle: $('online-toggle'),
  onlineCount: $('online-count'),
  onlinePanel: $('online-panel'),
  onlineHeading: $('online-heading'),
  onlineList: $('online-list'),
  status: $('connection-status'),
  messages: $('messages'),
  typing: $('typing-indicator'),
  messageForm: $('message-form'),
  messageInput: $('message-input'),
  sendBtn: $('send-btn'),
  sendError: $('send-error'),
  charCount: $('char-count'),
  jumpLatest: $('jump-latest'),
  banner: $('connection-banner'),
  sidebarClose: $('sidebar-close'),
  onlineNames: $('online-names'),
  mentionList: $('mention-list'),
  reactionPicker: $('reaction-picker'),
  composerContext: $('composer-context'),
  composerContextText: $('composer-context-text'),
  composerContextCancel: $('composer-context-cancel'),
  searchForm: $('search-form'),
  searchInput: $('search-input'),
  searchPanel: $('search-panel'),
  searchHeading: $('search-heading'),
  searchStatus: $('search-status'),
  searchResults: $('search-results'),
  searchMore: $('search-more'),
  searchClose: $('search-close'),
};

/** The server's longest message, as the page was given it (index.html). */
export const MAX_MESSAGE_LENGTH = Number(el.messageInput.dataset.maxLength);
// The counter shows once a message is this close to the limit.
const COUNTER_FROM = 0.9;

/** Length as the server counts it: code points, not UTF-16 units. */
export const textLength = (text) => [...text].length;

// Maps, not objects: a code or state the server or the library sends is looked up, and
// an object would answer `constructor` from its prototype.
const ERROR_TEXT = new Map([
  ['username_taken', 'Someone online is using that name right now. Pick another one.'],
  ['invalid_room_name', 'Room names are 1–32 characters: a–z, 0–9, - and _.'],
  ['room_exists', 'That room already exists: find it under “Browse rooms”.'],
  ['user_not_found', 'Nobody by that name has been here.'],
  ['rate_limited', "You're sending messages too fast. Slowing down…"],
  ['unavailable', 'The server cannot store messages just now. Retrying…'],
]);

/** What to tell the person about an error ack: our words for known codes, else the server's. */
export function errorText(error, fallback) {
  // A name nobody online uses is reserved for its owner for a while: say how long.
  if (error?.code === 'username_taken' && Number.isInteger(error.retryAfter)) {
    const s = error.retryAfter;
    return `That name is reserved for its owner for ${s} more second${s === 1 ? '' : 's'}. Pick another one, or try again then.`;
  }
  return ERROR_TEXT.get(error?.code) ?? error?.message ?? fallback;
}

/** The same for a refused join or room: a limit there is not about sending messages, and
 * the server's words say which one it was (joins from the address, new rooms). */
export const refusalText = (error, fallback) =>
  error?.code === 'rate_limited' ? (error.message ?? fallback) : errorText(error, fallback);

const STATUS_TEXT = new Map([
  ['connecting', 'connecting…'],
  ['connected', 'connected'],
  ['reconnecting', 'reconnecting…'],
  ['offline', 'offline'],
]);

export function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text != null) n.textContent = text;
  return n;
}

/** The mark beside the name of someone chatting under a name an account holds. */
export function guestBadge() {
  const badge = node('span', 'guest-badge', 'guest');
  badge.title = 'A guest: chatting under this name without its account';
  return badge;
}

export function showChat(username) {
  const wasHidden = el.chatScreen.hidden;
  el.joinScreen.hidden = true;
  el.chatScreen.hidden = false;
  el.userInfo.textContent = `you are ${username}`;
  if (wasHidden) el.messageInput.focus();
}

/** The join screen, name filled in, with an optional reason. */
export function showJoin(name, error) {
  el.chatScreen.hidden = true;
  el.joinScreen.hidden = false;
  if (name != null && !el.usernameInput.value) el.usernameInput.value = name;
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

export function setStatus(state) {
  el.status.dataset.state = state;
  el.status.textContent = STATUS_TEXT.get(state) ?? state;
  document.body.dataset.connection = state;
}

export function setTyping(text) {
  el.typing.textContent = text;
}

export function setRoomHeader(room) {
  if (!room) {
    el.roomTitle.textContent = '';
    el.roomTopic.textContent = '';
    el.leaveBtn.hidden = true;
    return;
  }
  el.roomTitle.textContent = room.isDm ? `@ ${room.title}` : `# ${room.title}`;
  el.roomTitle.dataset.room = room.name;
  el.roomTopic.textContent = room.isDm
    ? `Direct message with ${room.title}`
    : room.info.topic || `${room.info.memberCount ?? 0} members`;
  el.leaveBtn.hidden = room.isDm || room.name === 'general';
  el.messageInput.placeholder = room.isDm ? `Message ${room.title}…` : `Message #${room.title}…`;
  el.messageInput.setAttribute('aria-label', `Message ${room.isDm ? room.title : `#${room.title}`}`);
}

/** users: [{accountId, username, guest}]. */
export function setOnline(users, myId, count = users.length) {
  el.onlineCount.textContent = String(count);
  el.onlineHeading.textContent = `Online — ${count}`;
  el.onlineList.replaceChildren(
    ...users.map((u) => {
      const li = node('li', 'online__user');
      li.dataset.accountId = String(u.accountId);
      li.dataset.username = u.username;
      const dot = node('span', 'dot dot--online');
      const name = node('span', 'online__name', u.username);
      // Someone else (not a guest: a DM reaches the account) is a button that opens a DM.
      let row = li;
      if (u.accountId !== myId && !u.guest) {
        row = node('button', 'online__dm');
        row.type = 'button';
        row.dataset.dm = u.username;
        row.title = `Message ${u.username}`;
        li.append(row);
      }
      row.append(dot, name);
      if (u.guest) {
        li.dataset.guest = '';
        li.append(guestBadge());
      }
      if (u.accountId === myId) li.append(node('span', 'muted', ' (you)'));
      return li;
    }),
  );
  // What the DM form's name field offers: the people online, not us.
  el.onlineNames.replaceChildren(
    ...users
      .filter((u) => u.accountId !== myId && !u.guest)
      .map((u) => {
        const option = document.createElement('option');
        option.value = u.username;
        return option;
      }),
  );
}

/**
 * The lost-connection banner: shown while not connected, with how many messages
 * wait in the outbox to go out when it is back.
 */
export function setBanner(status, waiting) {
  const lost = status === 'reconnecting' || status === 'offline';
  el.banner.hidden = !lost;
  if (!lost) return;
  const what = status === 'offline' ? "You're offline." : 'Connection lost. Reconnecting…';
  const queue =
    waiting > 0
      ? ` ${waiting} message${waiting === 1 ? '' : 's'} waiting to send.`
      : ' Messages you write now are sent when it is back.';
  el.banner.dataset.waiting = String(waiting);
  el.banner.textContent = what + queue;
}

/** The character counter under the composer, shown near the limit and past it. */
export function setCounter(length) {
  const left = MAX_MESSAGE_LENGTH - length;
  const shown = length >= MAX_MESSAGE_LENGTH * COUNTER_FROM;
  el.charCount.hidden = !shown;
  el.charCount.dataset.over = String(left < 0);
  el.charCount.textContent = left < 0 ? `${-left} over the limit` : `${left} left`;
  el.messageInput.setAttribute('aria-invalid', String(left < 0));
}

/** Below the breakpoint the sidebar is a drawer; above it these are no-ops visually. */
export function setSidebarOpen(open) {
  document.body.classList.toggle('sidebar-open', open);
  el.sidebarToggle.setAttribute('aria-expanded', String(open));
  el.backdrop.hidden = !open;
}

export function setOnlineOpen(open) {
  document.body.classList.toggle('online-open', open);
  el.onlineToggle.setAttribute('aria-expanded', String(open));
}

export function setUnreadTotal(n) {
  el.unreadTotal.hidden = n === 0;
  el.unreadTotal.textContent = n > 99 ? '99+' : String(n);
  document.title = n > 0 ? `(${n}) rtchat` : 'rtchat';
}

/** Toggle a small sidebar form; opening focuses its first field. */
export function setFormOpen(button, form, open) {
  form.hidden = !open;
  button.setAttribute('aria-expanded', String(open));
  if (open) form.querySelector('input')?.focus();
  else {
    form.reset();
    for (const err of form.querySelectorAll('.error')) err.textContent = '';
  }
}
