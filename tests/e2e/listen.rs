//! Server mode: `wscope --listen` with Node's `ws` as the client, a second
//! client turned away, and clients that get the handshake or framing wrong.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{accept_key, json_events};

/// wscope --listen on a free port, with its JSON output read as it comes.
struct Listening {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Listening {
    fn start(extra: &[&str], stdin: &[u8]) -> Listening {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wscope"))
            .args(["--json", "--listen", "127.0.0.1:0", "--once"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_vec();
        thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let lines = read_lines(child.stdout.take().unwrap());
        let first = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("wscope says where it listens");
        let notice: Value = serde_json::from_str(&first).unwrap();
        let message = notice["message"].as_str().unwrap();
        let port = message
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {message:?}"));
        Listening { child, port, lines }
    }

    /// Waits for wscope to end; its exit code and every JSON event.
    fn finish(mut self) -> (i32, Vec<Value>) {
        let code = wait_with_timeout(&mut self.child, Duration::from_secs(20));
        let text: String = self.lines.try_iter().map(|l| l + "\n").collect();
        // Lines still in the pipe when the process ended.
        let rest: String =
            std::iter::from_fn(|| self.lines.recv_timeout(Duration::from_secs(2)).ok())
                .map(|l| l + "\n")
                .collect();
        (code, json_events(&(text + &rest)))
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> i32 {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("wscope --listen did not end in time");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// tests/peers/node_client.js; its output lines.
fn node_client(url: &str, args: &[&str]) -> Child {
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    Command::new("node")
        .arg(peers.join("node_client.js"))
        .arg(url)
        .args(args)
        .current_dir(&peers)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node tests/peers/node_client.js")
}

fn node_output(mut child: Child) -> Vec<String> {
    wait_with_timeout(&mut child, Duration::from_secs(20));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out.lines().map(str::to_string).collect()
}

fn messages(events: &[Value], dir: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "message" && e["dir"] == dir)
        .map(|e| e["data"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn echo_server_for_node_ws_shows_the_session_from_the_server_side() {
    let server = Listening::start(&["--echo", "-s", "chat"], b"");
    let url = format!("ws://127.0.0.1:{}/room?x=1", server.port);
    let client = node_output(node_client(&url, &["--protocol", "chat", "one", "two"]));
    assert_eq!(client, ["OPEN chat", "one", "two", "CLOSE 1000 done"]);
    let (code, events) = server.finish();
    assert_eq!(code, 0, "{events:?}");
    let request = events.iter().find(|e| e["event"] == "request").unwrap();
    assert!(request["raw"]
        .as_str()
        .unwrap()
        .starts_with("GET /room?x=1 HTTP/1.1\r\n"));
    let response = events.iter().find(|e| e["event"] == "response").unwrap();
    assert_eq!(
        (
            response["status"].as_u64(),
            response["subprotocol"].as_str()
        ),
        (Some(101), Some("chat"))
    );
    assert_eq!(messages(&events, "in"), ["one", "two"]);
    assert_eq!(messages(&events, "out"), ["one", "two"]);
    for frame in events.iter().filter(|e| e["event"] == "frame") {
        // Client frames are masked, ours are not.
        assert_eq!(frame["masked"], frame["dir"] == "in", "{frame}");
    }
    let close = events.iter().find(|e| e["event"] == "close").unwrap();
    assert_eq!(
        (close["code"].as_u64(), close["initiator"].as_str()),
        (Some(1000), Some("remote"))
    );
}

#[test]
fn stdin_goes_to_the_connected_client() {
    let server = Listening::start(&[], b"hello\nworld\n");
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let client = node_output(node_client(&url, &["--hold", "2"]));
    assert_eq!(&client[..3], ["OPEN -", "hello", "world"]);
    let (code, _) = server.finish();
    assert_eq!(code, 0);
}

#[test]
fn a_second_client_is_turned_away_with_503() {
    let server = Listening::start(&["--echo"], b"");
    let url = format!("ws://127.0.0.1:{}/", server.port);
    // Holds the connection open: waits for a message that never comes.
    let mut first = node_client(&url, &["--hold", "1"]);
    let mut opened = String::new();
    BufReader::new(first.stdout.as_mut().unwrap())
        .read_line(&mut opened)
        .unwrap();
    assert_eq!(opened, "OPEN -\n");
    let mut second = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    second
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    second.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("one client at a time"), "{answer}");
    let _ = first.kill();
    let _ = first.wait();
    drop(second);
    let (code, events) = server.finish();
    assert_eq!(code, 3, "the first client vanished without a Close");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "notice"
                && e["message"].as_str().unwrap().contains("turning away"))
    );
}

#[test]
fn a_request_that_is_not_an_upgrade_gets_400_and_the_wait_goes_on() {
    let server = Listening::start(&["--echo"], b"");
    // A TCP health check: connects and closes without a request.
    drop(TcpStream::connect(("127.0.0.1", server.port)).unwrap());
    // An HTTP health check, as curl sends it.
    let mut probe = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    // A test that fails must not hang.
    probe
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    probe
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    probe.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Upgrade: websocket"), "{answer}");

    // Still listening: a real WebSocket client is served.
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let client = node_output(node_client(&url, &["after"]));
    assert_eq!(client, ["OPEN -", "after", "CLOSE 1000 done"]);
    let (code, events) = server.finish();
    assert_eq!(code, 0, "{events:?}");
    assert!(events.iter().all(|e| e["event"] != "error"), "{events:?}");

    let notices: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "notice")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    let refused = notices
        .iter()
        .find(|n| n.contains("GET /health HTTP/1.1"))
        .unwrap_or_else(|| panic!("no notice of the refused request: {notices:?}"));
    assert!(
        refused.contains("400")
            && refused.contains("Upgrade: websocket")
            && refused.contains("still waiting"),
        "{refused}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("without sending a request")),
        "{notices:?}"
    );
    // The session is the WebSocket client's alone.
    let connects: Vec<&Value> = events.iter().filter(|e| e["event"] == "connect").collect();
    assert_eq!(connects.len(), 1, "{events:?}");
    let request = events.iter().find(|e| e["event"] == "request").unwrap();
    assert!(request["raw"]
        .as_str()
        .unwrap()
        .starts_with("GET / HTTP/1.1\r\n"));
    assert_eq!(messages(&events, "in"), ["after"]);
}

#[test]
fn an_unmasked_client_frame_is_a_violation_shown_first() {
    let server = Listening::start(&["--echo"], b"");
    let mut client = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    write!(
        client,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        reader.read_line(&mut head).unwrap();
    }
    assert!(
        head.contains(&format!("Sec-WebSocket-Accept: {}", accept_key(key))),
        "{head}"
    );
    client.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    // wscope answered Close 1002, unmasked, as a server does.
    assert_eq!(&rest[..4], &[0x88, 0x02, 0x03, 0xea]);
    let (code, events) = server.finish();
    assert_eq!(code, 3);
    let bad = events
        .iter()
        .position(|e| e["event"] == "frame" && e["dir"] == "in" && e["masked"] == false)
        .expect("the offending frame is shown");
    let error = events.iter().position(|e| e["event"] == "error").unwrap();
    assert!(bad < error);
    assert!(events[error]["message"]
        .as_str()
        .unwrap()
        .contains("client sent an unmasked frame"));
}

#[test]
fn a_signal_while_waiting_for_a_client_stops_cleanly() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let listening = Listening::start(&["--echo"], b"");
        // SAFETY: signalling a process this test started.
        unsafe { libc::kill(listening.child.id() as i32, signal) };
        let (code, events) = listening.finish();
        assert_eq!(code, 0, "signal {signal}");
        let said = events.iter().filter(|e| e["event"] == "notice").any(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("stopped listening (no client was connected)"))
        });
        assert!(said, "signal {signal}: {events:?}");
    }
}

#[test]
fn a_client_offering_no_accepted_subprotocol_is_told_apart() {
    let server = Listening::start(&["--echo", "-s", "chat"], b"");
    let url = format!("ws://127.0.0.1:{}/", server.port);
    // Node's ws gives up when the server picks none of its offers.
    let _ = node_output(node_client(&url, &["--protocol", "other"]));
    let (_, events) = server.finish();
    let said = events.iter().filter(|e| e["event"] == "notice").any(|e| {
        e["message"] == "no subprotocol chosen: the client offered other; -s accepts chat"
    });
    assert!(said, "{events:?}");
}

#[test]
fn a_flood_of_silent_clients_does_not_hold_up_the_session() {
    let server = Listening::start(&["--echo"], b"");
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let (mut ws, _) = tungstenite::connect(url.as_str()).unwrap();
    // Twenty clients that connect and say nothing: each would hold its
    // answer back while its request is awaited.
    let silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap())
        .collect();
    ws.send(tungstenite::Message::text("still served")).unwrap();
    let echo = ws.read().unwrap();
    assert_eq!(echo.to_text().unwrap(), "still served");
    // What became of the twenty is told as the acceptor gets to them: on
    // a busy machine that can be after the echo, so wait for it (the
    // session ends with its one client, --once).
    let is_about_them =
        |m: &str| m.starts_with("turning away") || m.starts_with("dropped a client");
    let mut early: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while early.len() < 20 && Instant::now() < deadline {
        let Ok(line) = server.lines.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let event: Value = serde_json::from_str(&line).unwrap();
        if let Some(m) = event["message"].as_str().filter(|m| is_about_them(m)) {
            early.push(m.to_string());
        }
    }
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    drop(silent);
    let (code, events) = server.finish();
    assert_eq!(code, 0);
    let notices: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "notice")
        .map(|e| e["message"].as_str().unwrap())
        .chain(early.iter().map(String::as_str))
        .collect();
    let turned = notices
        .iter()
        .filter(|m| m.starts_with("turning away"))
        .count();
    let dropped = notices
        .iter()
        .filter(|m| m.starts_with("dropped a client"))
        .count();
    // A few are answered at a time, the rest dropped at once.
    assert_eq!(turned + dropped, 20, "{notices:?}");
    assert!((1..=19).contains(&dropped), "{notices:?}");
}
