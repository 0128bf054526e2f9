// Typing signals in both directions, on timers so neither side floods the other.

export const SEND_EVERY_MS = 2000; // re-announce "still typing" at most this often
export const IDLE_AFTER_MS = 3000; // no keystroke for this long = stopped typing
export const EXPIRE_AFTER_MS = 5000; // a remote typist we stop hearing from has left off

/**
 * Outgoing: call keystroke() on every input event and stopped() on send.
 * emit(bool) is only called on a change or to refresh a long burst, so a fast
 * typist costs one packet per SEND_EVERY_MS, not one per key.
 */
export function createTypingSender(emit) {
  let typing = false;
  let lastSent = 0;
  let idleTimer = null;

  function stopped() {
    clearTimeout(idleTimer);
    idleTimer = null;
    if (typing) {
      typing = false;
      emit(false);
    }
  }

  function keystroke() {
    const now = Date.now();
    if (!typing || now - lastSent >= SEND_EVERY_MS) {
      typing = true;
      lastSent = now;
      emit(true);
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopped, IDLE_AFTER_MS);
  }

  return { keystroke, stopped };
}

/**
 * Incoming: set(username, isTyping) from `user-typing`; onChange(names) gets
 * the sorted list whenever it changes. Each name expires on its own so a
 * lost "false" (closed tab, dropped packet) cannot leave it stuck.
 */
export function createTypingTracker(onChange) {
  const timers = new Map();
  const notify = () => onChange([...timers.keys()].sort());

  function clear(username) {
    if (!timers.has(username)) return;
    clearTimeout(timers.get(username));
    timers.delete(username);
    notify();
  }

  function set(username, isTyping) {
    if (!isTyping) return clear(username);
    const known = timers.has(username);
    clearTimeout(timers.get(username));
    timers.set(username, setTimeout(() => clear(username), EXPIRE_AFTER_MS));
    if (!known) notify();
  }

  function reset() {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
    notify();
  }

  return { set, clear, reset };
}

/** "alice is typing…", "alice and bob are typing…", "alice, bob and carol are typing…". */
export function typingText(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) {
    return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
  }
  return 'Several people are typing…';
}
