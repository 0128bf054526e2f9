// The sidebar's small forms (create a room, message someone) and the room
// header's Leave button: each asks the server, then opens or leaves the room.

import { GENERAL } from './rooms.js';
import { el, errorText, refusalText, setFormOpen, setSendError } from './ui.js';

const OFFLINE = "Can't reach the server. Try again.";

function wireForm(button, form, submit) {
  button.addEventListener('click', () => setFormOpen(button, form, form.hidden));
  const close = () => {
    setFormOpen(button, form, false);
    button.focus();
  };
  form.querySelector('[data-cancel]').addEventListener('click', close);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submitBtn = form.querySelector('button[type="submit"]');
    if (submitBtn.disabled) return;
    submitBtn.disabled = true;
    try {
      await submit();
    } finally {
      submitBtn.disabled = false;
    }
  });
}

/** deps: {request, rooms, state, openRoom(name), onLeft(name)}. Returns {openDm(username)}. */
export function wireSidebarForms({ request, rooms, state, openRoom, onLeft }) {
  wireForm(el.newRoomBtn, el.createRoomForm, async () => {
    const name = el.roomNameInput.value.trim().toLowerCase();
    const topic = el.roomTopicInput.value.trim();
    if (!name) {
      el.roomError.textContent = 'Give the room a name.';
      el.roomNameInput.focus();
      return;
    }
    const res = await request('create-room', topic ? { name, topic } : { name });
    if (!res.ok) {
      el.roomError.textContent = refusalText(res.error, OFFLINE);
      el.roomNameInput.focus();
      return;
    }
    const room = rooms.upsert(res.data.room);
    setFormOpen(el.newRoomBtn, el.createRoomForm, false);
    await openRoom(room.name);
  });

  /** Open (or make) the DM with `username`; a refusal shows in the DM form. */
  async function openDm(username) {
    const res = await request('open-dm', { username });
    if (!res.ok) {
      const self = res.error?.code === 'forbidden' && username === state.user?.username;
      if (el.dmForm.hidden) setFormOpen(el.newDmBtn, el.dmForm, true);
      el.dmUsernameInput.value = username;
      el.dmError.textContent = self ? "That's you! Pick someone else." : errorText(res.error, OFFLINE);
      el.dmUsernameInput.focus();
      return;
    }
    const room = rooms.upsert(res.data.room);
    setFormOpen(el.newDmBtn, el.dmForm, false);
    await openRoom(room.name);
  }

  wireForm(el.newDmBtn, el.dmForm, async () => {
    const username = el.dmUsernameInput.value.trim();
    if (!username) {
      el.dmError.textContent = 'Whom do you want to write to?';
      return;
    }
    await openDm(username);
  });

  el.leaveBtn.addEventListener('click', async () => {
    const room = state.current && rooms.get(state.current);
    if (!room || room.name === GENERAL) return;
    const res = await request('leave-room', { room: room.name });
    if (!res.ok) {
      setSendError(errorText(res.error, OFFLINE));
      return;
    }
    rooms.remove(room.name);
    await openRoom(GENERAL);
    onLeft(room.name);
  });

  return { openDm };
}
