// Echo WebSocket server (Node's `ws`) for wscope's end-to-end tests.
// Binds 127.0.0.1 on a free port, prints `PORT <n>`, echoes every message
// with its type, and exits when stdin closes.
//   --report-headers  first send the request headers as one JSON message
//   --pick-protocol   choose the first subprotocol the client offers
//   --ping-first      on connection, send ping 'p', then texts 'one' and 'two'
//   --deflate         accept permessage-deflate (threshold 0: every message)
//   --no-context      with --deflate: no context takeover either way
"use strict";
const { WebSocketServer } = require("ws");

const args = new Set(process.argv.slice(2));
const options = { host: "127.0.0.1", port: 0, maxPayload: 1 << 30 };
if (args.has("--deflate")) {
  options.perMessageDeflate = {
    threshold: 0,
    serverNoContextTakeover: args.has("--no-context"),
    clientNoContextTakeover: args.has("--no-context"),
  };
}
if (args.has("--pick-protocol")) {
  options.handleProtocols = (offered) => offered.values().next().value || false;
}
const server = new WebSocketServer(options);
server.on("connection", (socket, request) => {
  if (args.has("--report-headers")) {
    socket.send(JSON.stringify(request.rawHeaders));
  }
  if (args.has("--ping-first")) {
    socket.ping("p");
    socket.send("one");
    socket.send("two");
  }
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on("listening", () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
