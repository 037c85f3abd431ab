//! The page `check --listen` serves at `/`: a browser has no harness, so
//! the page is one. It runs every case with the browser's own
//! `WebSocket`, echoing each message, and shows the verdicts as they come.

/// The page, for a run of `cases` cases.
pub fn html(cases: usize) -> String {
    PAGE.replace("{{CASES}}", &cases.to_string())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wscope check: this browser</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; }
.OK { color: #080; } .FAILED { color: #c00; font-weight: bold; } .NON-STRICT { color: #b60; }
</style></head>
<body>
<h1>wscope check: this browser as the client</h1>
<p id="state">running {{CASES}} cases…</p>
<table><thead><tr><th>#</th><th>case</th><th>behavior</th></tr></thead><tbody id="rows"></tbody></table>
<script>
"use strict";
const base = location.origin.replace(/^http/, "ws");
const agent = new URLSearchParams(location.search).get("agent") || "browser";
const q = encodeURIComponent(agent);
function once(path) {
  return new Promise((resolve) => {
    let got = null;
    const ws = new WebSocket(base + path);
    ws.onmessage = (e) => { got = e.data; };
    ws.onclose = () => resolve(got);
    ws.onerror = () => {};
  });
}
function runCase(n) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base}/runCase?case=${n}&agent=${q}`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => { try { ws.send(e.data); } catch (_) {} };
    ws.onclose = () => resolve();
    ws.onerror = () => {};
  });
}
(async () => {
  const count = parseInt(await once("/getCaseCount"), 10);
  const rows = document.getElementById("rows");
  let failed = 0;
  for (let n = 1; n <= count; n++) {
    await runCase(n);
    const info = JSON.parse(await once(`/getCaseInfo?case=${n}`) || "{}");
    const status = JSON.parse(await once(`/getCaseStatus?case=${n}&agent=${q}`) || "{}");
    const tr = document.createElement("tr");
    for (const text of [String(n), info.id || "?", status.behavior || "?"]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    tr.lastChild.className = status.behavior || "";
    if (status.behavior === "FAILED") failed++;
    rows.appendChild(tr);
    document.getElementById("state").textContent = `case ${n} of ${count}`;
  }
  await once(`/updateReports?agent=${q}`);
  document.getElementById("state").textContent = `done: ${count} cases, ${failed} FAILED`;
  document.title = "wscope check: done";
})();
</script></body></html>
"#;
