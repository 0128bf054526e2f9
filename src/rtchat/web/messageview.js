// The message list of the open room, rendered from data by key: a message is
// `m:<id>`, an outbox entry `p:<clientId>`, a notice `n:<key>`. Each render
// puts exactly the given items in the given order, reusing nodes, so the page
// cannot show a duplicate or keep a stale "sending…" whatever order the
// updates came in.

import { RETRYABLE } from './outbox.js';
import { richText } from './richtext.js';
import { formatTime, isoOrNow } from './time.js';
import { guestBadge, node } from './ui.js';

const NEAR_BOTTOM_PX = 48;
// Further up than this, the "jump to latest" button shows even with nothing new.
const JUMP_SHOWN_PX = 400;
const GROUP_MS = 5 * 60 * 1000;
const FOUND_MS = 2000; // how long a search result stays marked in the timeline
const timeOf = (iso) => new Date(iso).getTime() || Date.now();

function timeNode(iso) {
  const t = node('time', 'msg__time', formatTime(iso));
  t.dateTime = isoOrNow(iso);
  return t;
}

function textNode(text) {
  const body = node('div', 'msg__text');
  body.append(...richText(text));
  return body;
}

/** True when `m` names the reader among its @mentions. */
export function mentionsMe(m, myId) {
  return Array.isArray(m.mentions) && m.mentions.some((u) => u?.accountId === myId);
}

/** The reactions a message shows, as toggle buttons (pressed: the reader gave it). */
function reactionsNode(m, username) {
  const box = node('div', 'msg__reactions');
  for (const r of m.reactions ?? []) {
    const mine = (r.usernames ?? []).includes(username);
    const btn = node('button', 'reaction', `${r.emoji} ${r.count}`);
    btn.type = 'button';
    btn.dataset.react = r.emoji;
    btn.setAttribute('aria-pressed', String(mine));
    const names = (r.usernames ?? []).join(', ');
    const more = r.count > (r.usernames ?? []).length ? ' and others' : '';
    btn.title = `${names}${more}`;
    btn.setAttribute('aria-label', `${r.emoji} ${r.count}: ${names}${more}`);
    box.append(btn);
  }
  return box;
}

function toolButton(action, label, text) {
  const btn = node('button', 'msg__tool', text);
  btn.type = 'button';
  btn.dataset.action = action;
  btn.setAttribute('aria-label', label);
  btn.title = label;
  return btn;
}

/** Reply, react, edit and delete, for what the reader may do to `m`. */
function toolsNode(m, own, canDelete) {
  const tools = node('div', 'msg__tools');
  tools.setAttribute('role', 'toolbar');
  tools.setAttribute('aria-label', `Actions on ${m.username}'s message`);
  tools.append(toolButton('react', 'React', '☺'), toolButton('reply', 'Reply', '↩'));
  if (own) tools.append(toolButton('edit', 'Edit', '✎'));
  if (own || canDelete) tools.append(toolButton('delete', 'Delete', '🗑'));
  return tools;
}

function quoteNode(q) {
  const quote = node('blockquote', 'msg__quote');
  quote.append(node('span', 'msg__quote-author', q.username ?? ''));
  quote.append(document.createTextNode(' '));
  quote.append(node('span', 'msg__quote-text', q.deleted ? 'a deleted message' : String(q.message ?? '')));
  return quote;
}

/** Everything a message's node is drawn from: when it changes, the node is redrawn. */
function messageVersion(m, canDelete) {
  const reactions = (m.reactions ?? []).map((r) => `${r.emoji}${r.count}${r.usernames?.join()}`);
  const quote = m.replyTo ? `${m.replyTo.deleted}${m.replyTo.message}` : '';
  return `${m.editedAt}|${m.deleted}|${reactions.join()}|${quote}|${canDelete}`;
}

function messageNode(m, { own, mentioned, canDelete, username }) {
  const li = node('li', own ? 'msg msg--own' : 'msg');
  li.dataset.id = String(m.id);
  li.dataset.seq = String(m.seq);
  li.dataset.author = String(m.username ?? '');
  if (m.accountId != null) li.dataset.accountId = String(m.accountId);
  if (m.clientId) li.dataset.clientId = String(m.clientId);
  if (mentioned) li.classList.add('msg--mention');
  const meta = node('div', 'msg__meta');
  meta.append(node('span', 'msg__author', own ? `${m.username} (you)` : m.username));
  // Someone chatting under a name an account holds: never that account.
  if (m.guest) {
    li.dataset.guest = '';
    meta.append(guestBadge());
  }
  meta.append(timeNode(m.timestamp));
  if (m.editedAt && !m.deleted) {
    const edited = node('span', 'msg__edited', '(edited)');
    edited.title = `Edited ${new Date(isoOrNow(m.editedAt)).toLocaleString()}`;
    meta.append(edited);
  }
  li.append(meta);
  if (m.replyTo) li.append(quoteNode(m.replyTo));
  if (m.deleted) {
    li.classList.add('msg--deleted');
    li.append(node('div', 'msg__text msg__text--deleted', 'This message was deleted.'));
  } else {
    li.append(textNode(String(m.message ?? '')));
    if (m.reactions?.length) li.append(reactionsNode(m, username));
    li.append(toolsNode(m, own, canDelete));
  }
  li.title = `${m.username}, ${new Date(isoOrNow(m.timestamp)).toLocaleString()}`;
  return li;
}

const FAILURE_TEXT = new Map([
  ['rate_limited', 'sending too fast — retrying…'],
  ['unavailable', 'the server cannot store it yet — retrying…'],
]);

function pendingNode(entry, username) {
  const failed = entry.error && !RETRYABLE.has(entry.error.code);
  const li = node('li', `msg msg--own msg--pending${failed ? ' msg--failed' : ''}`);
  li.dataset.clientId = entry.clientId;
  li.dataset.author = username;
  li.dataset.state = failed ? 'failed' : 'sending';
  const meta = node('div', 'msg__meta');
  const status = failed
    ? `not sent: ${entry.error.message || entry.error.code}`
    : (FAILURE_TEXT.get(entry.error?.code) ?? 'sending…');
  meta.append(node('span', 'msg__author', `${username} (you)`), node('span', 'msg__status', status));
  li.append(meta, textNode(entry.text));
  if (failed) {
    const actions = node('div', 'msg__actions');
    const retry = node('button', 'link-btn', 'Retry');
    retry.type = 'button';
    retry.dataset.retry = entry.clientId;
    const discard = node('button', 'link-btn', 'Discard');
    discard.type = 'button';
    discard.dataset.discard = entry.clientId;
    actions.append(retry, discard);
    li.append(actions);
  }
  return li;
}

function noticeNode(n) {
  const li = node('li', `notice notice--${n.kind}`);
  li.append(node('span', 'notice__text', n.text), timeNode(n.timestamp));
  return li;
}

/** The words of a presence notice: `who` did `action` (joined, left, online, offline);
 * `where` is " #room" or ""; `many` when `who` is more than one person. */
export function presenceText(action, who, where = '', many = false) {
  if (action === 'joined') return `${who} joined${where}`;
  if (action === 'left') return `${who} left${where}`;
  if (action === 'online') return `${who} ${many ? 'are' : 'is'} online`;
  return `${who} went offline`;
}

function people(names) {
  if (names.length === 1) return names[0];
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  return `${names.length} people`;
}

/**
 * One line for a run of presence notices with no message between them
 * ("3 people joined #ops · bob went offline"): each person counts once, by what
 * they did last. The names are in the line's title.
 */
function foldNotices(run) {
  const last = new Map(); // who -> notice
  for (const n of run) {
    last.delete(n.who);
    last.set(n.who, n);
  }
  const byAction = new Map(); // action -> {names, where}
  for (const n of last.values()) {
    const entry = byAction.get(n.action) ?? { names: [], where: n.where ?? '' };
    entry.names.push(n.who);
    byAction.set(n.action, entry);
  }
  const parts = [...byAction].map(([action, { names, where }]) =>
    presenceText(action, people(names), where, names.length > 1),
  );
  const title = [...last.values()].map((n) => n.text).join('\n');
  return { text: parts.join(' · '), title, timestamp: run.at(-1).timestamp, kind: 'info' };
}

function foldedNode(folded) {
  const li = noticeNode(folded);
  li.classList.add('notice--folded');
  li.title = folded.title;
  return li;
}

/** The focused control of a message, as a selector that finds it again in a redrawn one. */
function focusSelector() {
  const { dataset } = document.activeElement;
  if (dataset?.action) return `button[data-action="${dataset.action}"]`;
  if (dataset?.react) return `button[data-react="${CSS.escape(dataset.react)}"]`;
  return 'button';
}

function unreadDivider() {
  const li = node('li', 'day-divider unread-divider');
  li.append(node('span', null, 'New messages'));
  return li;
}

export class MessageView {
  #list;
  #jump;
  #nodes = new Map(); // key -> li
  #room = null;
  #hi = null; // the newest seq shown so far
  #unreadSeq = null; // the first message that came while the reader was scrolled up
  #newCount = 0; // messages that came since, not yet scrolled to

  /** list: the <ol> of messages; jump: the "jump to latest" button. */
  constructor(list, jump) {
    this.#list = list;
    this.#jump = jump;
  }

  #distanceFromBottom() {
    const list = this.#list;
    return list.scrollHeight - list.scrollTop - list.clientHeight;
  }

  /** Scroll to the message `id` if it is shown, and mark it for a moment. */
  reveal(id) {
    const li = this.#nodes.get(`m:${id}`);
    if (!li) return false;
    li.scrollIntoView({ block: 'center' });
    li.classList.add('msg--found');
    setTimeout(() => li.classList.remove('msg--found'), FOUND_MS);
    return true;
  }

  /** True when the newest message is in view. */
  atBottom() {
    return this.#distanceFromBottom() < NEAR_BOTTOM_PX;
  }

  /** The reader scrolled: at the bottom, what was new has been seen. */
  scrolled() {
    if (this.#distanceFromBottom() < NEAR_BOTTOM_PX) this.#newCount = 0;
    this.#updateJump();
  }

  /** Scroll to the newest message. */
  jumpToLatest() {
    this.#list.scrollTop = this.#list.scrollHeight;
    this.#newCount = 0;
    this.#updateJump();
  }

  #updateJump() {
    const away = this.#distanceFromBottom() > JUMP_SHOWN_PX;
    this.#jump.hidden = !(away || this.#newCount > 0) || this.#room == null;
    const n = this.#newCount;
    this.#jump.textContent = n > 0 ? `${n} new message${n === 1 ? '' : 's'} ↓` : 'Jump to latest ↓';
  }

  /** Note messages that arrived while the reader was scrolled up (for the divider). */
  #noteArrivals(room, atBottom, follow) {
    const messages = room.timeline.messages;
    const hiBefore = this.#hi;
    this.#hi = room.timeline.hi;
    if (follow) {
      this.#unreadSeq = null;
      this.#newCount = 0;
      return;
    }
    if (hiBefore == null || atBottom) return;
    const fresh = messages.filter((m) => m.seq > hiBefore);
    if (fresh.length === 0) return;
    this.#unreadSeq ??= fresh[0].seq;
    this.#newCount += fresh.length;
  }

  /**
   * Show `room`: its timeline, notices and outbox entries.
   * opts.follow scrolls to the bottom (the user just sent something);
   * opts.prepended keeps the reader's place after older messages were added on top.
   */
  render(room, { myId, username, pending, canModerate = false, follow = false, prepended = false }) {
    const list = this.#list;
    if (room?.name !== this.#room) {
      this.#room = room?.name ?? null;
      this.#nodes.clear();
      list.replaceChildren();
      this.#hi = null;
      this.#unreadSeq = null;
      this.#newCount = 0;
      follow = true;
    }
    if (!room) {
      this.#updateJump();
      return;
    }
    // Busy until the first page is in, so a screen reader does not read it all out.
    list.setAttribute('aria-busy', String(!room.timeline.loaded));
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
    const oldHeight = list.scrollHeight;
    const oldTop = list.scrollTop;
    if (room.timeline.loaded) this.#noteArrivals(room, atBottom, follow);

    const items = this.#items(room, { myId, username, pending, canModerate });
    // Drop what goes away or changed (an outbox entry that failed) before placing
    // anything, so the insertion cursor below only ever points at live nodes.
    const wanted = new Map(items.map((i) => [i.key, i]));
    let refocus = null; // a redrawn message keeps the keyboard where it was
    for (const [key, li] of this.#nodes) {
      const item = wanted.get(key);
      if (!item || (item.version != null && li.dataset.version !== item.version)) {
        if (item && li.contains(document.activeElement)) refocus = [key, focusSelector()];
        li.remove();
        this.#nodes.delete(key);
      }
    }
    let cursor = list.firstChild;
    let prev = null;
    for (const item of items) {
      let li = this.#nodes.get(item.key);
      if (!li) {
        li = item.make();
        if (item.version != null) li.dataset.version = item.version;
        this.#nodes.set(item.key, li);
      }
      if (li === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(li, cursor);
      // A run of messages from one person within a few minutes shows its name once.
      if (item.author != null) {
        const cont = prev?.author === item.author && item.at - prev.at < GROUP_MS;
        if (cont) li.dataset.cont = '';
        else delete li.dataset.cont;
      }
      prev = item;
    }

    if (refocus) {
      const li = this.#nodes.get(refocus[0]);
      (li?.querySelector(refocus[1]) ?? li?.querySelector('button'))?.focus({ preventScroll: true });
    }
    if (prepended && !atBottom) list.scrollTop = oldTop + (list.scrollHeight - oldHeight);
    else if (follow || atBottom) list.scrollTop = list.scrollHeight;
    this.#updateJump();
  }

  #items(room, { myId, username, pending, canModerate }) {
    const tl = room.timeline;
    const items = [];
    if (tl.loaded) {
      items.push(
        tl.hasMore
          ? { key: 'top:more', make: () => node('li', 'history-marker', 'Loading older messages…') }
          : { key: 'top:start', make: () => node('li', 'history-marker', beginningText(room)) },
      );
    } else {
      items.push({ key: 'top:loading', make: () => node('li', 'history-marker', 'Loading…') });
    }
    // Notices sit after the last message that had arrived when they happened.
    const notices = room.notices.filter((n) => tl.lo == null || n.afterSeq >= tl.lo - 1);
    let ni = 0;
    const noticeItem = (n) => ({ key: `n:${n.key}`, make: () => noticeNode(n) });
    // The notices up to `before` (a seq), runs of presence notices folded into one line.
    const pushNotices = (before) => {
      const run = [];
      const flush = () => {
        if (run.length === 1) items.push(noticeItem(run[0]));
        else if (run.length > 1) {
          const folded = foldNotices(run);
          const version = `${run.length}:${folded.text}`;
          items.push({ key: `f:${run[0].key}`, version, make: () => foldedNode(folded) });
        }
        run.length = 0;
      };
      while (ni < notices.length && (before == null || notices[ni].afterSeq < before)) {
        const n = notices[ni++];
        if (n.action) run.push(n);
        else {
          flush();
          items.push(noticeItem(n));
        }
      }
      flush();
    };
    let day = null;
    for (const m of tl.messages) {
      const mDay = dayOf(m.timestamp);
      if (mDay !== day) {
        day = mDay;
        const label = dayLabel(mDay);
        items.push({ key: `d:${mDay}`, version: label, make: () => dayNode(label) });
      }
      pushNotices(m.seq);
      if (m.seq === this.#unreadSeq) items.push({ key: 'u:divider', make: unreadDivider });
      const own = m.accountId === myId;
      const look = { own, mentioned: mentionsMe(m, myId), canDelete: canModerate, username };
      items.push({
        key: `m:${m.id}`,
        version: messageVersion(m, canModerate),
        author: m.accountId,
        at: timeOf(m.timestamp),
        make: () => messageNode(m, look),
      });
    }
    pushNotices(null);
    for (const entry of pending) {
      const version = entry.error ? `e:${entry.error.code}` : 's';
      items.push({
        key: `p:${entry.clientId}`,
        version,
        author: myId,
        at: timeOf(entry.createdAt),
        make: () => pendingNode(entry, username),
      });
    }
    return items;
  }

  /** True when the reader is near the top and older history could be fetched. */
  nearTop() {
    return this.#list.scrollTop < 80;
  }
}

/** Local calendar day of an ISO timestamp, "YYYY-MM-DD". */
function dayOf(iso) {
  const d = new Date(isoOrNow(iso));
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function dayLabel(day) {
  const today = dayOf(new Date().toISOString());
  const yesterday = dayOf(new Date(Date.now() - 86_400_000).toISOString());
  if (day === today) return 'Today';
  if (day === yesterday) return 'Yesterday';
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, {
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    year: y === new Date().getFullYear() ? undefined : 'numeric',
  });
}

function dayNode(label) {
  const li = node('li', 'day-divider');
  li.append(node('span', null, label));
  return li;
}

function beginningText(room) {
  return room.isDm
    ? `This is the beginning of your conversation with ${room.title}.`
    : `This is the beginning of #${room.name}.`;
}
