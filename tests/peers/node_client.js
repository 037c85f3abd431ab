// A WebSocket client (Node's `ws`) for wscope's --listen tests:
//   node node_client.js URL [--protocol P] [--hold N] [--deflate] [--proxy URL] [MESSAGE...]
// Connects (offering subprotocol P, if given), sends each MESSAGE as text,
// prints every message it receives on its own line, and closes with 1000
// once it has received as many messages as it sent (or N with --hold).
"use strict";
const WebSocket = require("ws");

const [url, ...rest] = process.argv.slice(2);
const messages = [];
let protocols = [];
let expect = null;
let deflate = false;
let proxy = null;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--protocol") protocols.push(rest[++i]);
  else if (rest[i] === "--hold") expect = Number(rest[++i]);
  else if (rest[i] === "--deflate") deflate = true;
  else if (rest[i] === "--proxy") proxy = rest[++i];
  else messages.push(rest[i]);
}
if (expect === null) expect = messages.length;

const options = { perMessageDeflate: deflate ? { threshold: 0 } : false };
if (proxy) {
  // An HTTP proxy, as apps set it up (CONNECT for wss://).
  const { HttpsProxyAgent } = require("https-proxy-agent");
  options.agent = new HttpsProxyAgent(proxy);
}
const socket = new WebSocket(url, protocols, options);
let received = 0;
socket.on("open", () => {
  const extensions = deflate ? ` ${socket.extensions || "-"}` : "";
  process.stdout.write(`OPEN ${socket.protocol || "-"}${extensions}\n`);
  for (const m of messages) socket.send(m);
  if (expect === 0) socket.close(1000, "done");
});
socket.on("message", (data) => {
  process.stdout.write(`${data}\n`);
  received += 1;
  if (received === expect) socket.close(1000, "done");
});
socket.on("close", (code, reason) => {
  process.stdout.write(`CLOSE ${code} ${reason}\n`);
  process.exit(0);
});
socket.on("error", (e) => {
  process.stdout.write(`ERROR ${e.message}\n`);
  process.exit(1);
});
