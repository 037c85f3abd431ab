// Echo WebSocket server (Node's `ws`) for wscope's end-to-end tests.
// Binds 127.0.0.1 on a free port, prints `PORT <n>`, echoes every message
// with its type, and exits when stdin closes.
//   --report-headers  first send the request headers as one JSON message
//   --pick-protocol   choose the first subprotocol the client offers
//   --ping-first      on connection, send ping 'p', then texts 'one' and 'two'
//   --deflate         accept permessage-deflate (threshold 0: every message)
//   --no-context      with --deflate: no context takeover either way
//   --fail-first      the first connection closes with 1011 at its first
//                     message, the second is reset (1006); later ones echo
//   --unix PATH       listen on a Unix socket at PATH instead (prints PORT 0)
"use strict";
const http = require("http");
const { WebSocketServer } = require("ws");

const argv = process.argv.slice(2);
const args = new Set(argv);
const unixPath = args.has("--unix") ? argv[argv.indexOf("--unix") + 1] : null;
const options = unixPath
  ? { server: http.createServer(), maxPayload: 1 << 30 }
  : { host: "127.0.0.1", port: 0, maxPayload: 1 << 30 };
if (args.has("--deflate")) {
  // Left unset, the no-context-takeover options accept what a client
  // offers; set to false, ws refuses an offer that asks for them.
  options.perMessageDeflate = { threshold: 0 };
  if (args.has("--no-context")) {
    options.perMessageDeflate.serverNoContextTakeover = true;
    options.perMessageDeflate.clientNoContextTakeover = true;
  }
}
if (args.has("--pick-protocol")) {
  options.handleProtocols = (offered) => offered.values().next().value || false;
}
const server = new WebSocketServer(options);
let connections = 0;
server.on("connection", (socket, request) => {
  connections += 1;
  // A client that breaks the protocol ends its own connection, not the server.
  socket.on("error", () => {});
  if (args.has("--fail-first") && connections <= 2) {
    const which = connections;
    socket.on("message", () => {
      if (which === 1) socket.close(1011, "restarting");
      else socket.terminate();
    });
    return;
  }
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
if (unixPath) {
  options.server.listen(unixPath, () => process.stdout.write("PORT 0\n"));
} else {
  server.on("listening", () => {
    process.stdout.write(`PORT ${server.address().port}\n`);
  });
}
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
