// The words for a `moderated` push: what a room's owner or a moderator did, to whom,
// and until when. The one it was done to reads it in the second person.

import { formatTime } from './time.js';

const ROLE_NAMES = new Map([
  ['owner', 'an owner'],
  ['moderator', 'a moderator'],
]);

/** One line for `event` ({room, action, user, by, until, role}), seen by `myId`; '' if unknown. */
export function moderationText(event, myId) {
  const you = event.user?.accountId === myId;
  const who = you ? 'You' : event.user?.username;
  const by = event.by?.username;
  const where = `#${event.room}`;
  const until = event.until ? ` until ${formatTime(event.until)}` : '';
  switch (event.action) {
    case 'role': {
      const role = ROLE_NAMES.get(event.role);
      const made = role ? `${you ? 'are' : 'is'} now ${role}` : `${you ? 'are' : 'is'} no longer a moderator`;
      return `${who} ${made} of ${where} (${by})`;
    }
    case 'kick':
      return `${who} ${you ? 'were' : 'was'} removed from ${where} by ${by}`;
    case 'ban':
      return `${who} ${you ? 'were' : 'was'} banned from ${where}${until || ' for good'} by ${by}`;
    case 'unban':
      return `${who} may join ${where} again (${by})`;
    case 'mute':
      return `${who} ${you ? 'were' : 'was'} muted in ${where}${until} by ${by}`;
    case 'unmute':
      return `${who} may write in ${where} again (${by})`;
    default:
      return '';
  }
}
