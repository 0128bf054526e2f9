// A Node socket.io-client user for the HTTP API interop test: joins, prints "ready", then
// prints every `receive-message` as one JSON line and stops after the one saying "done".
import { io } from "socket.io-client";

const [url, transport] = process.argv.slice(2);
const socket = io(url, { transports: [transport], reconnection: false });
const deadline = setTimeout(() => { console.log("timeout"); process.exit(1); }, 10000);

socket.on("connect", () => {
  socket.emit("user-joined", "node", () => console.log("ready"));
});
socket.on("receive-message", (data) => {
  console.log(JSON.stringify(data));
  if (data.message === "done") {
    clearTimeout(deadline);
    socket.close();
    setTimeout(() => process.exit(0), 50);
  }
});
socket.on("connect_error", (error) => { console.log("connect_error", String(error)); process.exit(1); });
