// A Node socket.io-client user for the interop test: joins, waits for `ping-from-python`,
// answers, and prints every event it receives as one JSON line. Stops by itself.
import { io } from "socket.io-client";

const [url, transport] = process.argv.slice(2);
const socket = io(url, { transports: [transport], reconnection: false });
const print = (event, data) => console.log(JSON.stringify({ event, data }));
const deadline = setTimeout(() => { print("timeout", null); process.exit(1); }, 10000);

socket.onAny((event, data) => {
  print(event, data);
  if (event === "receive-message" && data.message === "ping from python") {
    socket.emit("send-message", "pong from node", (answer) => {
      print("ack", answer);
      clearTimeout(deadline);
      socket.close();
      // A polling transport may keep an HTTP keep-alive socket open; we are done.
      setTimeout(() => process.exit(0), 50);
    });
  }
});
socket.on("connect", () => {
  socket.emit("user-joined", "node", (answer) => print("joined", answer));
});
socket.on("connect_error", (error) => { print("connect_error", String(error)); process.exit(1); });
