// What a reader does to a message: react (the picker or a reaction's own button),
// reply and edit (the composer takes the message as its context) and delete. The
// result comes back as the room's change push, in order with everything else, so
// nothing here changes the timeline: an answer is only checked for a refusal.

import { newClientId } from './outbox.js';
import { el, node } from './ui.js';

// A small fixed set to pick from; the server takes any single emoji.
const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢', '👀', '🙏'];
const QUOTE_SHOWN = 80;

const clip = (text) => {
  const chars = [...String(text)];
  return chars.length > QUOTE_SHOWN ? `${chars.slice(0, QUOTE_SHOWN).join('')}…` : chars.join('');
};

/**
 * deps: {request, currentRoom(), me() -> {accountId, username}, composer, onError(error|null),
 * focusComposer()}. Returns the composer's context for the next send (`context()`:
 * {kind: 'reply'|'edit', room, id} or null) and what changes it (see each below).
 */
export function wireMessageActions(deps) {
  let context = null;
  let pickerFor = null; // {room, id, opener} while the picker is open

  const picker = el.reactionPicker;
  picker.replaceChildren(
    ...QUICK_REACTIONS.map((emoji) => {
      const btn = node('button', 'picker__emoji', emoji);
      btn.type = 'button';
      btn.dataset.pick = emoji;
      btn.setAttribute('aria-label', `React with ${emoji}`);
      return btn;
    }),
  );

  const messageOf = (target) => {
    const li = target.closest('li.msg[data-id]');
    const room = deps.currentRoom();
    const msg = li && room?.timeline.get(li.dataset.id);
    return msg ? { li, room, msg } : null;
  };

  // A change is not kept for later like a message: it goes now, or says why it did not.
  async function change(event, payload) {
    const res = await deps.request(event, { ...payload, clientId: newClientId() });
    if (res.ok) deps.onError(null);
    else if (res.error) deps.onError(res.error);
    else if (res.offline) deps.onError({ code: 'offline', message: 'Not connected: nothing was changed. Try again.' });
    else deps.onError({ code: 'timeout', message: 'No answer from the server: it may not be changed. Try again.' });
    return res.ok;
  }

  const react = (room, msg, emoji, on) => change('react', { room: room.name, id: msg.id, emoji, on });

  function setContext(next) {
    context = next;
    el.composerContext.hidden = next == null;
    if (!next) return;
    const { msg } = next;
    const words = next.kind === 'edit' ? 'Editing your message' : `Replying to ${msg.username}:`;
    el.composerContextText.replaceChildren(
      node('strong', null, words),
      document.createTextNode(next.kind === 'edit' ? '' : ` ${clip(msg.message)}`),
    );
  }

  function startEdit(room, msg) {
    setContext({ kind: 'edit', room: room.name, id: msg.id, msg });
    deps.composer.setText(String(msg.message ?? ''));
    deps.focusComposer();
  }

  function clear() {
    const wasEdit = context?.kind === 'edit';
    setContext(null);
    if (wasEdit) deps.composer.setText('');
  }

  function openPicker(room, msg, opener) {
    pickerFor = { room, id: msg.id, opener };
    picker.hidden = false;
    const box = opener.getBoundingClientRect();
    const width = picker.offsetWidth;
    const left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
    const above = box.top - picker.offsetHeight - 6;
    picker.style.left = `${left}px`;
    picker.style.top = `${above > 8 ? above : box.bottom + 6}px`;
    picker.querySelector('button')?.focus();
  }

  function closePicker(refocus = false) {
    if (!pickerFor) return;
    const { opener } = pickerFor;
    pickerFor = null;
    picker.hidden = true;
    if (refocus && opener.isConnected) opener.focus();
  }

  el.messages.addEventListener('click', async (event) => {
    const found = messageOf(event.target);
    if (!found) return;
    const { li, room, msg } = found;
    const chip = event.target.closest('button[data-react]');
    const tool = event.target.closest('button[data-action]');
    if (chip) {
      const on = chip.getAttribute('aria-pressed') !== 'true';
      await react(room, msg, chip.dataset.react, on);
    } else if (tool?.dataset.action === 'react') {
      if (pickerFor?.id === msg.id) closePicker();
      else openPicker(room, msg, tool);
    } else if (tool?.dataset.action === 'reply') {
      setContext({ kind: 'reply', room: room.name, id: msg.id, msg });
      deps.focusComposer();
    } else if (tool?.dataset.action === 'edit') {
      startEdit(room, msg);
    } else if (tool?.dataset.action === 'delete') {
      if (!window.confirm('Delete this message for everyone?')) return;
      if ((await change('delete-message', { room: room.name, id: msg.id })) && context?.id === msg.id) {
        clear();
      }
    } else if (!event.target.closest('a, button')) {
      // A tap (no hover on a phone) shows a message's actions; another tap hides them.
      for (const other of el.messages.querySelectorAll('.msg--active')) {
        if (other !== li) other.classList.remove('msg--active');
      }
      li.classList.toggle('msg--active');
    }
  });

  picker.addEventListener('click', async (event) => {
    const btn = event.target.closest('button[data-pick]');
    if (!btn || !pickerFor) return;
    const { room, id } = pickerFor;
    closePicker(true);
    const msg = room.timeline.get(id);
    if (!msg) return;
    const given = (msg.reactions ?? []).find((r) => r.emoji === btn.dataset.pick);
    await react(room, msg, btn.dataset.pick, !given?.usernames?.includes(deps.me()?.username));
  });

  picker.addEventListener('keydown', (event) => {
    const buttons = [...picker.querySelectorAll('button')];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === 'Escape') {
      event.stopPropagation();
      closePicker(true);
    } else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      event.preventDefault();
      const step = event.key === 'ArrowRight' ? 1 : -1;
      buttons[(at + step + buttons.length) % buttons.length]?.focus();
    }
  });

  document.addEventListener('click', (event) => {
    if (!pickerFor || picker.contains(event.target)) return;
    if (event.target.closest('button[data-action="react"]')) return;
    closePicker();
  });

  el.composerContextCancel.addEventListener('click', () => {
    clear();
    deps.focusComposer();
  });

  return {
    context: () => context,
    clear,
    /** Send the composer's `text` as the edit in progress; done, it leaves edit mode. */
    async saveEdit(text) {
      const editing = context;
      const saved = await change('edit-message', { room: editing.room, id: editing.id, text });
      if (saved && context === editing) clear();
    },
    /** Escape in the composer: leave the reply or the edit. True if there was one. */
    cancel() {
      if (!context) return false;
      clear();
      return true;
    },
    /** ArrowUp in an empty composer edits the reader's newest message there. */
    editLast() {
      const room = deps.currentRoom();
      const me = deps.me()?.accountId;
      const last = room?.timeline.messages.findLast((m) => m.accountId === me && !m.deleted);
      if (!last) return false;
      startEdit(room, last);
      return true;
    },
    /** The room changed under the composer: a context from another room is void. */
    roomChanged(name) {
      if (context && context.room !== name) clear();
      closePicker();
    },
  };
}
