// What survives a reload, in localStorage. Per-user keys carry the accountId so a
// second account in the same browser never sends or reads the first one's data.
// Storage can be full or disabled (private mode): every access degrades to memory.

const memory = new Map();

function read(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return memory.get(key) ?? null;
  }
}

function write(key, value) {
  try {
    if (value == null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    if (value == null) memory.delete(key);
    else memory.set(key, value);
  }
}

function readJson(key, fallback) {
  try {
    const value = JSON.parse(read(key) ?? 'null');
    return value ?? fallback;
  } catch {
    return fallback;
  }
}

const TOKEN = 'rtchat.token'; // the name the protocol's examples use
const USERNAME = 'rtchat.username';

export const token = () => read(TOKEN);
export const setToken = (value) => write(TOKEN, value);
export const lastUsername = () => read(USERNAME) ?? '';
export const setLastUsername = (value) => write(USERNAME, value);

export const openRoom = (accountId) => read(`rtchat.${accountId}.room`);
export const setOpenRoom = (accountId, room) => write(`rtchat.${accountId}.room`, room);

/** {room: seq} of the last message seen in each room, as JSON.parse made it (own keys). */
/** Messages typed but not yet acknowledged: [{clientId, room, text, createdAt, ...}]. */
export const outbox = (accountId) => readJson(`rtchat.${accountId}.outbox`, []);
export const setOutbox = (accountId, entries) =>
  write(`rtchat.${accountId}.outbox`, JSON.stringify(entries));
