// The sidebar lists: rooms and DMs we are in (with unread counts) and the
// public rooms from list-rooms. Rebuilt whole on change: a few dozen nodes.

import { el, node } from './ui.js';

/** counts: {unread, mentions} (zero for the open room). */
function roomItem(room, current, { unread, mentions }) {
  const li = node('li');
  const btn = node('button', 'room-link');
  btn.type = 'button';
  btn.dataset.room = room.name;
  if (room.name === current) btn.setAttribute('aria-current', 'page');
  const sigil = node('span', 'room-link__sigil', room.isDm ? '@' : '#');
  sigil.setAttribute('aria-hidden', 'true');
  btn.append(sigil, node('span', 'room-link__name', room.title));
  if (unread > 0) {
    const shown = unread > 99 ? '99+' : String(unread);
    const badge = node('span', mentions > 0 ? 'unread unread--mention' : 'unread');
    badge.textContent = mentions > 0 ? `@ ${shown}` : shown;
    const named = mentions > 0 ? `, ${mentions} mentioning you` : '';
    badge.setAttribute('aria-label', `${unread} unread${named}`);
    btn.append(badge);
    btn.classList.add('room-link--unread');
  }
  li.append(btn);
  return li;
}

/** rooms: the Rooms store; current: the open room's name. */
export function renderRoomLists(rooms, current) {
  const counts = (r) =>
    r.name === current ? { unread: 0, mentions: 0 } : { unread: rooms.unread(r), mentions: rooms.mentions(r) };
  el.roomList.replaceChildren(...rooms.sorted('room').map((r) => roomItem(r, current, counts(r))));
  const dms = rooms.sorted('dm');
  el.dmList.replaceChildren(...dms.map((r) => roomItem(r, current, counts(r))));
  if (dms.length === 0) el.dmList.append(node('li', 'muted room-list__empty', 'No conversations yet'));
}

/** The pages of list-rooms so far; rooms we are in say "Open" instead of "Join". */
export function renderBrowse(publicRooms, isMember, hasMore) {
  el.browseEmpty.hidden = publicRooms.length > 0;
  const more = [];
  if (hasMore) {
    const li = node('li', 'browse-more');
    const btn = node('button', 'btn btn--small btn--ghost', 'More rooms');
    btn.type = 'button';
    btn.dataset.more = '';
    li.append(btn);
    more.push(li);
  }
  el.browseList.replaceChildren(
    ...publicRooms.map((info) => {
      const li = node('li', 'browse-item');
      li.dataset.room = info.name;
      const text = node('div', 'browse-item__text');
      text.append(node('span', 'browse-item__name', `# ${info.name}`));
      if (info.topic) text.append(node('span', 'browse-item__topic', info.topic));
      const count = info.memberCount ?? 0;
      text.append(node('span', 'browse-item__count', `${count} member${count === 1 ? '' : 's'}`));
      const member = isMember(info.name);
      const btn = node('button', 'btn btn--small' + (member ? ' btn--ghost' : ''), member ? 'Open' : 'Join');
      btn.type = 'button';
      btn.dataset.join = info.name;
      btn.setAttribute('aria-label', `${member ? 'Open' : 'Join'} #${info.name}`);
      li.append(text, btn);
      return li;
    }),
    ...more,
  );
}
