// Connection state and acknowledged emits. Socket.IO reconnects on its own with
// backoff; this module only turns its events into one status for the header.

export const ACK_TIMEOUT_MS = 5000;

/**
 * Emit with an acknowledgement, resolving (never rejecting) to one of
 * {ok: true, data} | {ok: false, error: {code, message}} | {timeout: true}.
 * A timeout (no answer, or the connection dropped first) is its own case:
 * the request may or may not have reached the server.
 *
 * Nothing is emitted while disconnected: Socket.IO would buffer the packet and
 * send it on reconnect before we have resynced, which is exactly the ordering
 * the outbox exists to control.
 */
export function emitWithAck(socket, event, ...args) {
  if (!socket.connected) return Promise.resolve({ timeout: true, offline: true });
  return new Promise((resolve) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, ...args, (err, res) => {
      if (err) resolve({ timeout: true });
      else if (res && typeof res === 'object' && 'ok' in res) resolve(res);
      else resolve({ ok: true, data: res }); // tolerate a bare ack
    });
  });
}

/**
 * Report "connected" / "reconnecting" / "offline" to onStatus.
 * Manager events (socket.io) cover retries; socket events cover the session.
 */
export function watchConnection(socket, onStatus) {
  // While the browser itself is offline, "reconnecting" would be a promise we
  // cannot keep: say offline until the network is back.
  const report = (state) => onStatus(state !== 'connected' && !navigator.onLine ? 'offline' : state);
  socket.on('connect', () => report('connected'));
  socket.on('disconnect', () => {
    // socket.active stays true only when the manager will retry (a lost
    // transport); a server- or client-initiated disconnect is final.
    report(socket.active ? 'reconnecting' : 'offline');
  });
  socket.on('connect_error', () => {
    if (!socket.active) report('offline');
  });
  socket.io.on('reconnect_attempt', () => report('reconnecting'));
  socket.io.on('reconnect', () => report('connected'));
  socket.io.on('reconnect_failed', () => report('offline'));
  window.addEventListener('offline', () => report(socket.connected ? 'connected' : 'offline'));
  window.addEventListener('online', () => {
    if (socket.connected) return report('connected');
    report('reconnecting');
    // The backoff may be seconds away from its next try: try now instead.
    socket.disconnect();
    socket.connect();
  });
}
