// Echo WebSocket server (Node's `ws`) for wscope's end-to-end tests.
// Binds 127.0.0.1 on a free port, prints `PORT <n>`, echoes every message
// with its type, and exits when stdin closes.
"use strict";
const { WebSocketServer } = require("ws");

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 1 << 30 });
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on("listening", () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
