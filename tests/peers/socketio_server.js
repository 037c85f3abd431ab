// A socket.io server (Engine.IO protocol 4) for wscope's end-to-end tests,
// with a short heartbeat so that a client that does not answer its pings
// is dropped quickly: --ping-interval MS, --ping-timeout MS. It answers
// an "echo" event with the same event. Prints "PORT <n>" once listening
// and exits when stdin closes.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const server = http.createServer();
const io = new Server(server, {
  pingInterval: option("--ping-interval", 25000),
  pingTimeout: option("--ping-timeout", 20000),
  transports: ["websocket"],
});
io.on("connection", (socket) => {
  socket.on("echo", (data) => socket.emit("echo", data));
});
server.listen(0, "127.0.0.1", () => {
  console.log(`PORT ${server.address().port}`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
