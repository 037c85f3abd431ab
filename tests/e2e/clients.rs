//! Several clients of one `wscope --listen` at once, and a listener that
//! keeps serving: real clients (Python `websockets`, Node's `ws`, headless
//! Chromium, raw sockets) on one server, each with its own connection
//! number, echoes, recorders and prompt target.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{json_events, python};

/// `wscope --listen 127.0.0.1:0 --json ARGS`, kept serving until `stop`.
struct Serving {
    child: Child,
    port: u16,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Serving {
    fn start(args: &[&str]) -> Serving {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wscope"))
            .args(["--json", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("wscope says where it listens");
        let port = first
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first}"));
        Serving {
            child,
            port,
            stdin,
            lines,
            seen: vec![first],
        }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// Reads events until one matches (10 s at most).
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what} in:\n{}", self.seen.join("\n")));
            self.seen.push(line.clone());
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                if pred(&event) {
                    return event;
                }
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// SIGTERM, then its exit code and every event it printed.
    fn stop(self) -> (i32, Vec<Value>) {
        // SAFETY: signalling a process this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.finish()
    }

    fn finish(mut self) -> (i32, Vec<Value>) {
        let end = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "wscope did not end");
            thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        let text = self.seen.join("\n");
        (code, json_events(&text))
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tests/peers/python_clients.py with these arguments; its output lines.
fn python_clients(url: &str, args: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_clients.py");
    let out = Command::new(python())
        .arg(script)
        .arg(url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run python_clients.py");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("DONE"), "python_clients.py {args:?}:\n{text}");
    text.lines().map(str::to_string).collect()
}

fn count(lines: &[String], word: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(word)).count()
}

/// The data of each connection's messages in one direction.
fn messages_by_conn(events: &[Value], dir: &str) -> BTreeMap<u64, Vec<String>> {
    let mut by_conn: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e["event"] == "message" && e["dir"] == dir)
    {
        let conn = e["conn"].as_u64().expect("a message names its connection");
        by_conn
            .entry(conn)
            .or_default()
            .push(e["data"].as_str().unwrap_or_default().to_string());
    }
    by_conn
}

/// Every connection's echoes are its own: what came in on a connection
/// went out on the same one, and nowhere else.
fn assert_own_echoes(events: &[Value]) {
    let incoming = messages_by_conn(events, "in");
    let outgoing = messages_by_conn(events, "out");
    assert_eq!(incoming, outgoing, "echoes per connection");
}

#[test]
fn node_python_and_chromium_at_once_each_get_their_own_echoes() {
    let Some(binary) = crate::pairing::chromium() else {
        if std::env::var("WSCOPE_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("!!!!!!!! SKIPPED node_python_and_chromium_at_once: no Chromium !!!!!!!!");
            return;
        }
        panic!("Chromium is not installed (/usr/bin/chromium); scripts/test.sh installs it");
    };
    let mut server = Serving::start(&["--echo"]);
    let port = server.port;
    // Each client sends one message, reads its echo and stays open a
    // while. The browser, slow to start, goes first and stays longest,
    // so that the three connections overlap.
    let html = format!(
        r#"<!doctype html><meta charset="utf-8"><script>
const ws = new WebSocket("ws://127.0.0.1:{port}/browser");
ws.onopen = () => ws.send("from chromium");
ws.onmessage = (m) => {{ if (m.data === "from chromium") setTimeout(() => ws.close(1000), 8000); }};
</script>"#
    );
    let browser = crate::pairing::open_in_chromium(&binary, &html);
    server.wait_for("the browser's connect", |e| e["event"] == "connect");
    let node = Command::new("node")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers"))
        .args([
            "-e",
            &format!(
                r#"const W = require("ws"); const ws = new W("ws://127.0.0.1:{port}/node");
ws.on("open", () => ws.send("from node"));
ws.on("message", (d) => {{ console.log(String(d)); setTimeout(() => ws.close(1000), 3000); }});
ws.on("close", () => process.exit(0));"#
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let py = Command::new(python())
        .args([
            "-c",
            &format!(
                r#"import time
from websockets.sync.client import connect
with connect("ws://127.0.0.1:{port}/python") as ws:
    ws.send("from python")
    print(ws.recv(), flush=True)
    time.sleep(3)
"#
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let node = node.wait_with_output().unwrap();
    let py = py.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&node.stdout).trim(), "from node");
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "from python");
    // The browser's connection ends on its own too.
    let closes = |s: &mut Serving| s.wait_for("a close", |e| e["event"] == "close");
    for _ in 0..3 {
        closes(&mut server);
    }
    drop(browser);
    let (code, events) = server.stop();
    assert_eq!(code, 0);
    assert_own_echoes(&events);
    let incoming = messages_by_conn(&events, "in");
    let sent: BTreeSet<&str> = incoming.values().flatten().map(String::as_str).collect();
    assert_eq!(
        sent,
        BTreeSet::from(["from chromium", "from node", "from python"])
    );
    assert_eq!(incoming.len(), 3, "three connections: {incoming:?}");
    // All three were open at once: every connect came before any close.
    let first_close = events.iter().position(|e| e["event"] == "close").unwrap();
    let connects = events[..first_close]
        .iter()
        .filter(|e| e["event"] == "connect")
        .count();
    assert_eq!(connects, 3, "all three connected before one closed");
    // Every connection event names its connection.
    for e in events.iter().filter(|e| {
        [
            "connect", "request", "response", "frame", "message", "close",
        ]
        .contains(&e["event"].as_str().unwrap_or_default())
    }) {
        assert!(
            e["conn"].as_u64().is_some_and(|c| (1..=3).contains(&c)),
            "{e}"
        );
    }
}

#[test]
fn fifty_clients_at_once_are_all_echoed() {
    let server = Serving::start(&["--echo", "--max-clients", "64"]);
    let lines = python_clients(&server.url(), &["parallel", "50", "--messages", "5"]);
    assert_eq!(count(&lines, "ECHOED"), 50, "{lines:?}");
    assert_eq!(count(&lines, "ERROR"), 0, "{lines:?}");
    let (code, events) = server.stop();
    assert_eq!(code, 0);
    assert_own_echoes(&events);
    let conns: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["event"] == "connect")
        .filter_map(|e| e["conn"].as_u64())
        .collect();
    assert_eq!(conns, (1..=50).collect(), "each client its own number");
    assert_eq!(
        messages_by_conn(&events, "in")
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        250
    );
}

#[test]
fn the_seventeenth_client_is_answered_503_with_the_default_limit() {
    let server = Serving::start(&["--echo"]);
    let lines = python_clients(&server.url(), &["limit", "16"]);
    assert_eq!(count(&lines, "OPEN"), 16, "{lines:?}");
    assert!(lines.contains(&"STATUS 503".to_string()), "{lines:?}");
    let (code, events) = server.stop();
    assert_eq!(code, 0);
    let turned_away = events.iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("with 503: wscope serves 16 clients at a time"))
    });
    assert!(turned_away, "{events:?}");
}

/// A raw client that completes the upgrade and then reads nothing more.
fn client_that_never_reads(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(
            b"GET /stalled HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    stream
}

#[test]
fn a_client_that_stops_reading_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 1_000_000]).unwrap();
    let mut server = Serving::start(&["--slash"]);
    server.type_line("/to all");
    let stalled = client_that_never_reads(server.port);
    server.wait_for("the stalled client", |e| e["event"] == "connect");
    let url = server.url();
    let readers = thread::spawn(move || python_clients(&url, &["receive", "2", "--count", "100"]));
    for _ in 0..2 {
        server.wait_for("a reader", |e| e["event"] == "connect");
    }
    for _ in 0..100 {
        server.type_line(&format!("/file {}", big.display()));
    }
    let lines = readers.join().unwrap();
    assert_eq!(count(&lines, "RECEIVED"), 2, "{lines:?}");
    let (code, events) = server.stop();
    drop(stalled);
    assert_eq!(code, 0);
    let skipped = events.iter().any(|e| {
        e["conn"] == 1
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("client 1 reads nothing"))
    });
    assert!(skipped, "the stalled client is named");
}

#[test]
fn clients_one_after_another_then_two_at_once_then_sigterm() {
    let mut server = Serving::start(&["--echo"]);
    let lines = python_clients(&server.url(), &["sequential", "3"]);
    assert_eq!(count(&lines, "ECHOED"), 3, "{lines:?}");
    // Said again once the last one left, once.
    server.wait_for("the waiting notice again", |e| {
        e["event"] == "notice"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening on"))
    });
    let lines = python_clients(&server.url(), &["parallel", "2"]);
    assert_eq!(count(&lines, "ECHOED"), 2, "{lines:?}");
    let (code, events) = server.stop();
    assert_eq!(code, 0, "SIGTERM ends a listener that keeps serving with 0");
    assert_own_echoes(&events);
    let closes: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["event"] == "close")
        .filter_map(|e| e["conn"].as_u64())
        .collect();
    assert_eq!(closes, (1..=5).collect(), "each client's end is reported");
    let waiting = events
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening on"))
        })
        .count();
    assert!(
        waiting <= 3,
        "the waiting notice is not said per client: {waiting}"
    );
}

#[test]
fn two_hundred_connections_one_after_another_are_all_served() {
    let server = Serving::start(&["--echo"]);
    let lines = python_clients(&server.url(), &["sequential", "200"]);
    assert_eq!(count(&lines, "ECHOED"), 200, "{lines:?}");
    let (code, events) = server.stop();
    assert_eq!(code, 0);
    assert_eq!(messages_by_conn(&events, "out").len(), 200);
    assert_own_echoes(&events);
}

#[test]
fn once_serves_one_client_and_exits_with_its_close_code() {
    let server = Serving::start(&["--echo", "--once"]);
    let port = server.port;
    let script = format!(
        r#"from websockets.sync.client import connect
with connect("ws://127.0.0.1:{port}/") as ws:
    ws.send("hi")
    print(ws.recv(), flush=True)
    ws.close(4000, "bye")
"#
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi");
    let (code, events) = server.finish();
    assert_eq!(code, 4, "the session's own exit code");
    let close = events.iter().find(|e| e["event"] == "close").unwrap();
    assert_eq!(close["code"], 4000);
    assert_eq!(close["conn"], 1);
}

#[test]
fn a_har_and_a_pcap_keep_each_client_apart() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("two.har");
    let pcap = dir.path().join("two.pcapng");
    let server = Serving::start(&[
        "--echo",
        "--har",
        har.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    let lines = python_clients(&server.url(), &["parallel", "2", "--messages", "2"]);
    assert_eq!(count(&lines, "ECHOED"), 2, "{lines:?}");
    let (code, _) = server.stop();
    assert_eq!(code, 0);

    let har: Value = serde_json::from_str(&std::fs::read_to_string(&har).unwrap()).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "one entry per client");
    for entry in entries {
        let url = entry["request"]["url"].as_str().unwrap();
        let client: usize = url.rsplit("/c").next().unwrap().parse().unwrap();
        let messages = entry["_webSocketMessages"].as_array().unwrap();
        assert_eq!(messages.len(), 4, "{url}: two in, two echoed");
        for m in messages {
            let data = m["data"].as_str().unwrap();
            assert!(
                data.starts_with(&format!("client {client} message")),
                "{url} holds only its own messages: {data}"
            );
        }
    }

    let out = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-Y", "websocket"])
        .args([
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "websocket.opcode",
            "-e",
            "text",
        ])
        .output()
        .expect("tshark runs (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let streams: BTreeSet<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(streams.len(), 2, "two TCP flows:\n{text}");
    for stream in &streams {
        let texts: String = text
            .lines()
            .filter(|l| l.starts_with(&format!("{stream}\t")))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            texts.matches("message 0").count() >= 2,
            "flow {stream}:\n{texts}"
        );
    }
}

#[test]
fn each_reconnect_attempt_is_a_connection_of_its_own() {
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Three connections: the first two are closed with 1012 (restarting),
    // the third normally.
    let server = thread::spawn(move || {
        for code in [1012u16, 1012, 1000] {
            let (stream, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept(stream).unwrap();
            let _ = ws.close(Some(tungstenite::protocol::CloseFrame {
                code: code.into(),
                reason: "".into(),
            }));
            while ws.read().is_ok() {}
        }
    });
    let out = crate::common::wscope(&[
        "--json",
        "--reconnect",
        "3",
        "--reconnect-delay",
        "0.05",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    server.join().unwrap();
    let conns: Vec<u64> = out
        .events_named("connect")
        .iter()
        .filter_map(|e| e["conn"].as_u64())
        .collect();
    assert_eq!(conns, [1, 2, 3], "{}", out);
    let closes: Vec<(u64, u64)> = out
        .events_named("close")
        .iter()
        .map(|e| (e["conn"].as_u64().unwrap(), e["code"].as_u64().unwrap()))
        .collect();
    assert_eq!(closes, [(1, 1012), (2, 1012), (3, 1000)]);
}

/// A tungstenite client of the listener, reading with a short timeout.
fn tungstenite_client(port: u16, path: &str) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let url = format!("ws://127.0.0.1:{port}{path}");
    let (ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    ws
}

/// The next text message, or None when none comes within the timeout.
fn next_text(ws: &mut tungstenite::WebSocket<TcpStream>) -> Option<String> {
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => return Some(t.to_string()),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[test]
fn at_the_prompt_to_picks_the_client_and_clients_lists_them() {
    use rexpect::session::spawn_with_options;
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wscope"));
    cmd.args(["--color", "never", "--listen", "127.0.0.1:0"])
        .env("XDG_STATE_HOME", state.path())
        .env("TERM", "xterm")
        .env("COLUMNS", "120");
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(15_000))
        .strip_ansi_escape_codes(true);
    let mut p = spawn_with_options(cmd, options).expect("wscope in a pty");
    let (_, found) = p.exp_regex(r"listening on 127\.0\.0\.1:\d+").unwrap();
    let port: u16 = found.rsplit(':').next().unwrap().parse().unwrap();

    // Typed before any client: refused, and said so.
    p.send_line("too early").unwrap();
    p.exp_string("not sent: no client is connected").unwrap();

    let mut one = tungstenite_client(port, "/one");
    p.exp_string("/one").unwrap();
    let mut two = tungstenite_client(port, "/two");
    p.exp_string("/two").unwrap();

    // The newest client is where lines go at first.
    p.send_line("for the newest").unwrap();
    assert_eq!(next_text(&mut two).as_deref(), Some("for the newest"));
    assert_eq!(next_text(&mut one), None, "client 1 got nothing");

    p.send_line("/to 1").unwrap();
    p.exp_string("typed lines go to client 1").unwrap();
    p.exp_string("wscope #1> ").unwrap();
    p.send_line("for the first").unwrap();
    assert_eq!(next_text(&mut one).as_deref(), Some("for the first"));
    assert_eq!(next_text(&mut two), None, "client 2 got nothing");

    p.send_line("/to 2").unwrap();
    p.exp_string("wscope #2> ").unwrap();
    p.send_line("for the second").unwrap();
    assert_eq!(next_text(&mut two).as_deref(), Some("for the second"));
    assert_eq!(next_text(&mut one), None, "client 1 got nothing");

    p.send_line("/to all").unwrap();
    p.exp_string("typed lines go to every client").unwrap();
    p.send_line("for everyone").unwrap();
    assert_eq!(next_text(&mut one).as_deref(), Some("for everyone"));
    assert_eq!(next_text(&mut two).as_deref(), Some("for everyone"));

    p.send_line("/clients").unwrap();
    p.exp_string("2 connected:").unwrap();
    p.exp_regex(r"#1 127\.0\.0\.1:\d+ /one for [0-9.]+ s; \d+ frames out")
        .unwrap();
    p.exp_regex(r"#2 127\.0\.0\.1:\d+ /two for [0-9.]+ s")
        .unwrap();

    p.send_line("/to 9").unwrap();
    p.exp_string("no client 9 is connected").unwrap();

    // Ctrl-C on an empty line closes every client (Close 1001).
    drop(one);
    p.send_control('c').unwrap();
    p.send_control('c').unwrap();
    let status = p.process().wait().expect("wscope exits");
    assert!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );
    drop(two);
}

#[test]
fn a_replayed_recording_is_played_to_each_client_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("mock.tape");
    std::fs::write(&tape, crate::record::MOCK_TAPE).unwrap();
    let server = Serving::start(&["--replay", tape.to_str().unwrap()]);
    let port = server.port;
    // Two clients at once, each playing the recording's client.
    let script = format!(
        r#"import asyncio
from websockets.asyncio.client import connect
async def one(i):
    async with connect("ws://127.0.0.1:{port}/feed", compression=None) as ws:
        await ws.send("one")
        got = [await ws.recv(), (await ws.recv()).hex()]
        await asyncio.sleep(0.3)
        await ws.send("two")
        got.append(await ws.recv())
        print(i, got, flush=True)
async def main():
    await asyncio.wait_for(asyncio.gather(one(1), one(2)), 20)
asyncio.run(main())
"#
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for i in [1, 2] {
        assert!(
            text.contains(&format!("{i} ['uno', '00ff', 'dos']")),
            "client {i}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (code, events) = server.stop();
    assert_eq!(code, 0);
    let outgoing = messages_by_conn(&events, "out");
    assert_eq!(outgoing.len(), 2, "{outgoing:?}");
    for messages in outgoing.values() {
        assert_eq!(messages.len(), 3, "{messages:?}");
    }
}
