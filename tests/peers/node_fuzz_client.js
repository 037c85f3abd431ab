// A client harness in the form client libraries point at the Autobahn
// suite's fuzzingserver (Node's `ws` here):
//   node node_fuzz_client.js ws://HOST:PORT [AGENT] [--deflate]
// asks /getCaseCount, runs /runCase?case=N&agent=AGENT for each case,
// echoing every message, then calls /updateReports?agent=AGENT.
"use strict";
const WebSocket = require("ws");

const base = process.argv[2];
const agent = process.argv[3] || "ws";
// --deflate: offer permessage-deflate as ws does by default.
const deflate = process.argv.includes("--deflate") ? { threshold: 0 } : false;
let count = 0;

function next(n) {
  if (n > count) {
    const ws = new WebSocket(`${base}/updateReports?agent=${agent}`);
    ws.on("close", () => process.exit(0));
    ws.on("error", () => process.exit(1));
    return;
  }
  const ws = new WebSocket(`${base}/runCase?case=${n}&agent=${agent}`, {
    perMessageDeflate: deflate,
    maxPayload: 1 << 30,
  });
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("close", () => next(n + 1));
  ws.on("error", () => {});
}

const counter = new WebSocket(`${base}/getCaseCount`);
counter.on("message", (data) => { count = parseInt(String(data), 10); });
counter.on("close", () => next(1));
counter.on("error", () => process.exit(1));
