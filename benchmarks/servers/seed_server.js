// The Node baseline: the seed tutorial's server.js, unchanged in behaviour
// (express + socket.io 4.x, the four handlers, io.emit to everyone).
// The port comes from $PORT, as in the seed; $HOST (added) lets the runner bind to
// 127.0.0.1 only. The runner sends the seed's console.log lines to /dev/null.
// With $REDIS_URL (added) it is one node of a cluster: @socket.io/redis-adapter on the
// `redis` client, set up as the adapter's README shows, before the server listens; the
// handlers stay as they are.
const express = require('express');
const http = require('http');
const { Server } = require('socket.io');
const path = require('path');
const app = express();
const server = http.createServer(app);
const io = new Server(server);
app.use(express.static(path.join(__dirname, 'public')));
const users = new Map();
io.on('connection', (socket) => {
  console.log(`User connected: ${socket.id}`);
  socket.on('user-joined', (username) => {
    users.set(socket.id, username);
    io.emit('user-connected', {
      username: username,
      userId: socket.id,
      timestamp: new Date().toISOString()
    });
    console.log(`${username} joined the chat`);
  });
  socket.on('send-message', (message) => {
    const username = users.get(socket.id);
    io.emit('receive-message', {
      username: username,
      message: message,
      userId: socket.id,
      timestamp: new Date().toISOString()
    });
  });
  socket.on('typing', (isTyping) => {
    const username = users.get(socket.id);
    socket.broadcast.emit('user-typing', {
      username: username,
      isTyping: isTyping
    });
  });
  socket.on('disconnect', () => {
    const username = users.get(socket.id);
    if (username) {
      io.emit('user-disconnected', {
        username: username,
        userId: socket.id,
        timestamp: new Date().toISOString()
      });
      users.delete(socket.id);
    }
  });
});
const PORT = process.env.PORT || 3000;
async function useRedisAdapter(url) {
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pubClient = createClient({ url });
  const subClient = pubClient.duplicate();
  // node-redis: a client without an 'error' listener takes the process down with it.
  for (const c of [pubClient, subClient]) c.on('error', (e) => console.error(`redis: ${e}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}
(process.env.REDIS_URL ? useRedisAdapter(process.env.REDIS_URL) : Promise.resolve()).then(() => {
  server.listen(PORT, process.env.HOST, () => {
    console.log(`Server running on http://localhost:${PORT}`);
  });
}, (e) => {
  console.error(`cannot reach Redis at ${process.env.REDIS_URL}: ${e}`);
  process.exit(2);
});
