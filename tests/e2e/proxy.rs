//! `wscope proxy`: real clients (wscope, Node's `ws`, Python `websockets`,
//! headless Chromium) carried to real servers, both legs shown frame by
//! frame, frames passed as they came, and each fault seen from the
//! client's side.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{
    json_events, python, wscope, wscope_with_paced_stdin, wscope_with_stdin, NodeServer, Pki,
    PythonServer, Script, ScriptedServer,
};

/// `wscope proxy --json --listen 127.0.0.1:0 ARGS`, running until `stop`.
struct Proxy {
    child: Child,
    port: u16,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proxy {
    fn start(args: &[&str]) -> Proxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wscope"))
            .args(["proxy", "--json", "--listen", "127.0.0.1:0"])
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
            .expect("the proxy says where it listens");
        let port = first
            .split("listening on 127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first}"));
        Proxy {
            child,
            port,
            stdin,
            lines,
            seen: vec![first],
        }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    fn proxy_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Reads events until one matches (15 s at most).
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(15);
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

    /// Waits for the connection's end notice, then SIGTERM; every event.
    fn stop(mut self) -> Vec<Value> {
        self.wait_for("the connection's end", |e| {
            e["event"] == "notice"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("ended") || m.contains("closed"))
        });
        // SAFETY: signalling a process this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "the proxy did not end");
            thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.seen.push(line);
        }
        assert_eq!(code, 0, "{}", self.seen.join("\n"));
        json_events(&self.seen.join("\n"))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// The data of the messages on `leg` going `dir`, in order.
fn messages(events: &[Value], leg: &str, dir: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "message" && e["leg"] == leg && e["dir"] == dir)
        .map(|e| e["data"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn faults(events: &[Value], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["event"] == "fault" && e["kind"] == kind)
        .cloned()
        .collect()
}

/// wscope as the client: each line sent, then closed; its JSON events.
fn client(url: &str, input: &str) -> Vec<Value> {
    let out = wscope_with_stdin(&["--json", url], input.as_bytes());
    out.assert_no_panic();
    out.events()
}

fn incoming(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "message" && e["dir"] == "in")
        .map(|e| e["data"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_reverse_proxy_shows_both_legs_of_a_node_server_and_appends_the_path() {
    let server = NodeServer::with_args(&["--report-headers"]);
    let target = format!("ws://127.0.0.1:{}/base", server.port);
    let proxy = Proxy::start(&[&target]);
    let events = client(&proxy.url("/chat?room=1"), "hello\nworld\n");
    let got = incoming(&events);
    // The server reports the request it got first: the path was joined,
    // Host is the server's, the client's key went through unchanged.
    assert!(
        got[0].contains(&format!("127.0.0.1:{}", server.port)),
        "{got:?}"
    );
    assert_eq!(got[1..], ["hello", "world"]);
    let proxied = proxy.stop();
    let requests: Vec<&Value> = proxied.iter().filter(|e| e["event"] == "request").collect();
    assert_eq!(requests.len(), 2, "the request as received and as sent");
    assert_eq!(requests[0]["leg"], "client");
    assert!(requests[0]["raw"]
        .as_str()
        .unwrap()
        .starts_with("GET /chat?room=1 HTTP/1.1"));
    assert_eq!(requests[1]["leg"], "server");
    assert!(requests[1]["raw"]
        .as_str()
        .unwrap()
        .starts_with("GET /base/chat?room=1 HTTP/1.1"));
    let key = |raw: &str| {
        raw.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("sec-websocket-key"))
            .map(str::to_string)
    };
    assert_eq!(
        key(requests[0]["raw"].as_str().unwrap()),
        key(requests[1]["raw"].as_str().unwrap())
    );
    let responses: Vec<&Value> = proxied
        .iter()
        .filter(|e| e["event"] == "response")
        .collect();
    assert_eq!(responses.len(), 2);
    assert!(responses
        .iter()
        .all(|r| r["status"] == 101 && r["conn"] == 1));
    // Each message on each leg, both ways.
    assert_eq!(messages(&proxied, "client", "in"), ["hello", "world"]);
    assert_eq!(messages(&proxied, "server", "out"), ["hello", "world"]);
    assert_eq!(messages(&proxied, "server", "in")[1..], ["hello", "world"]);
    assert_eq!(messages(&proxied, "client", "out")[1..], ["hello", "world"]);
    // Every frame names its connection and leg; the client's frames are
    // masked on both legs (passed on as they came), the server's on none.
    let frames: Vec<&Value> = proxied.iter().filter(|e| e["event"] == "frame").collect();
    assert!(frames.iter().all(|f| f["conn"] == 1));
    for f in &frames {
        let from_client = (f["leg"] == "client") == (f["dir"] == "in");
        assert_eq!(f["masked"], from_client, "{f}");
    }
}

#[test]
fn a_three_frame_message_reaches_the_server_as_three_frames_with_the_same_masks() {
    let server = ScriptedServer::start(Script::recording());
    let proxy = Proxy::start(&[&server.url("/")]);
    let out = wscope_with_stdin(
        &["--json", "--slash", &proxy.url("/")],
        b"/frame op=text fin=0 text=one\n/frame op=cont fin=0 text=two\n/frame op=cont fin=1 text=three\n",
    );
    out.assert_no_panic();
    let sent: Vec<Value> = out
        .events()
        .into_iter()
        .filter(|e| e["event"] == "frame" && e["dir"] == "out" && e["opcode"] != 8)
        .collect();
    assert_eq!(sent.len(), 3);
    let log = server.log();
    // The raw bytes the server got: three frames, FIN and opcodes and
    // mask keys as the client wrote them.
    let mut raw = &log.after_head[..];
    let mut got = Vec::new();
    while raw.len() >= 6 {
        let (fin, opcode, len) = (raw[0] >> 7, raw[0] & 0xF, (raw[1] & 0x7F) as usize);
        let key: String = raw[2..6].iter().map(|b| format!("{b:02x}")).collect();
        got.push((fin, opcode, key));
        raw = &raw[(6 + len).min(raw.len())..];
    }
    let expected: Vec<(u8, u8, String)> = sent
        .iter()
        .map(|f| {
            (
                u8::from(f["fin"] == true),
                f["opcode"].as_u64().unwrap() as u8,
                f["mask_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got[..3], expected[..], "{got:?}");
    assert_eq!(got[3].1, 8, "then the Close");
    let proxied = proxy.stop();
    assert_eq!(messages(&proxied, "server", "out"), ["onetwothree"]);
}

#[test]
fn a_python_client_through_the_proxy_to_a_node_server_with_deflate() {
    let server = NodeServer::with_args(&["--deflate"]);
    let proxy = Proxy::start(&[&server.url()]);
    let out = Command::new(python())
        .arg(peers_dir().join("python_client.py"))
        .args([&proxy.url("/"), "squeeze squeeze squeeze", "again"])
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(lines.starts_with("OPEN permessage-deflate"), "{lines}");
    assert!(
        lines.contains("squeeze squeeze squeeze\nagain\n"),
        "{lines}"
    );
    let proxied = proxy.stop();
    // Compressed on the wire, inflated for the view on both legs.
    let compressed: Vec<&Value> = proxied
        .iter()
        .filter(|e| e["event"] == "frame" && e["rsv1"] == true)
        .collect();
    assert!(compressed.len() >= 4, "compressed frames on both legs");
    assert_eq!(
        messages(&proxied, "server", "out"),
        ["squeeze squeeze squeeze", "again"]
    );
    assert_eq!(
        messages(&proxied, "client", "out"),
        ["squeeze squeeze squeeze", "again"]
    );
}

#[test]
fn a_node_client_through_the_proxy_to_a_python_server() {
    let server = PythonServer::start(None);
    let proxy = Proxy::start(&[&format!("ws://127.0.0.1:{}/", server.port)]);
    let out = Command::new("node")
        .current_dir(peers_dir())
        .args(["node_client.js", &proxy.url("/"), "from node"])
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(lines.contains("from node\nCLOSE 1000"), "{lines}");
    let proxied = proxy.stop();
    assert_eq!(messages(&proxied, "client", "in"), ["from node"]);
    assert_eq!(messages(&proxied, "client", "out"), ["from node"]);
}

#[test]
fn as_an_http_proxy_a_ws_connection_through_connect_is_shown() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[]);
    let out = wscope_with_stdin(
        &["--json", "--proxy", &proxy.proxy_url(), &server.url()],
        b"through\n",
    );
    out.assert_no_panic();
    assert_eq!(incoming(&out.events()), ["through"]);
    let proxied = proxy.stop();
    assert_eq!(messages(&proxied, "server", "out"), ["through"]);
    assert_eq!(messages(&proxied, "client", "out"), ["through"]);
}

#[test]
fn node_through_https_proxy_agent_to_a_wss_server_is_seen_with_mitm() {
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let dir = tempfile::tempdir().unwrap();
    let mitm = dir.path().join("ca");
    let mut proxy = Proxy::start(&[
        "--mitm",
        mitm.to_str().unwrap(),
        "--ca",
        pki.ca.to_str().unwrap(),
    ]);
    let notice = proxy.wait_for("the CA notice", |e| {
        e["event"] == "notice"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("TLS interception"))
    });
    let text = notice["message"].as_str().unwrap();
    assert!(
        text.contains("NODE_EXTRA_CA_CERTS") && text.contains("spki-list="),
        "{text}"
    );
    assert!(!text.contains("PRIVATE KEY"));
    let out = Command::new("node")
        .current_dir(peers_dir())
        .env("NODE_EXTRA_CA_CERTS", mitm.join("ca.pem"))
        .args([
            "node_client.js",
            &format!("wss://localhost:{}/", server.port),
            "--proxy",
            &proxy.proxy_url(),
            "secret",
        ])
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        lines.contains("secret\nCLOSE 1000"),
        "{lines}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let proxied = proxy.stop();
    assert_eq!(messages(&proxied, "client", "in"), ["secret"]);
    assert_eq!(messages(&proxied, "server", "in"), ["secret"]);
    let connects: Vec<&Value> = proxied.iter().filter(|e| e["event"] == "connect").collect();
    assert!(connects.iter().all(|c| c["tls"] == true), "{connects:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(mitm.join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn without_mitm_a_tls_tunnel_is_carried_unread_and_says_how_to_see_inside() {
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let proxy = Proxy::start(&[]);
    let out = Command::new("node")
        .current_dir(peers_dir())
        .env("NODE_EXTRA_CA_CERTS", &pki.ca)
        .args([
            "node_client.js",
            &format!("wss://localhost:{}/", server.port),
            "--proxy",
            &proxy.proxy_url(),
            "hidden",
        ])
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(lines.contains("hidden\nCLOSE 1000"), "{lines}");
    let proxied = proxy.stop();
    assert!(proxied.iter().any(|e| e["event"] == "notice"
        && e["message"]
            .as_str()
            .is_some_and(|m| m.contains("carried unread") && m.contains("--mitm"))));
    assert!(
        messages(&proxied, "client", "in").is_empty(),
        "nothing read"
    );
}

#[test]
fn chromium_through_the_proxy_with_the_ca_trusted_by_its_spki() {
    let Some(binary) = crate::pairing::chromium() else {
        if std::env::var("WSCOPE_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("!!!!!!!! SKIPPED chromium through the proxy: no Chromium !!!!!!!!");
            return;
        }
        panic!("Chromium is not installed (/usr/bin/chromium); scripts/test.sh installs it");
    };
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let dir = tempfile::tempdir().unwrap();
    let mitm = dir.path().join("ca");
    let mut proxy = Proxy::start(&[
        "--mitm",
        mitm.to_str().unwrap(),
        "--ca",
        pki.ca.to_str().unwrap(),
    ]);
    let notice = proxy.wait_for("the CA notice", |e| {
        e["event"] == "notice"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("spki-list="))
    });
    let spki = notice["message"]
        .as_str()
        .unwrap()
        .split("spki-list=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let html = format!(
        r#"<!doctype html><meta charset="utf-8"><script>
const ws = new WebSocket("wss://localhost:{}/browser");
ws.onopen = () => ws.send("from chromium");
ws.onmessage = (m) => ws.close(1000);
</script>"#,
        server.port
    );
    let browser = crate::pairing::open_in_chromium_with(
        &binary,
        &html,
        &[
            format!("--proxy-server={}", proxy.proxy_url()),
            // Chromium sends loopback around a proxy unless told not to.
            "--proxy-bypass-list=<-loopback>".to_string(),
            format!("--ignore-certificate-errors-spki-list={spki}"),
        ],
    );
    let echoed = proxy.wait_for("the echo to the browser", |e| {
        e["event"] == "message" && e["leg"] == "client" && e["dir"] == "out"
    });
    assert_eq!(echoed["data"], "from chromium");
    drop(browser);
    let proxied = proxy.stop();
    assert_eq!(messages(&proxied, "server", "out"), ["from chromium"]);
}

#[test]
fn delay_down_holds_each_answer_for_its_milliseconds() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[&server.url(), "--fault", "delay:down,ms=300"]);
    let events = client(&proxy.url("/"), "a\nb\n");
    let at = |dir: &str, data: &str| {
        events
            .iter()
            .find(|e| e["event"] == "message" && e["dir"] == dir && e["data"] == data)
            .and_then(|e| e["t"].as_f64())
            .unwrap_or_else(|| panic!("no {dir} {data}"))
    };
    for m in ["a", "b"] {
        let waited = at("in", m) - at("out", m);
        assert!(waited >= 0.29, "{m} came back after {waited:.3} s");
    }
    let proxied = proxy.stop();
    let delays = faults(&proxied, "delay");
    assert!(!delays.is_empty());
    assert!(delays
        .iter()
        .all(|f| f["way"] == "down" && f["leg"] == "server"));
}

#[test]
fn drop_up_every_second_message_never_reaches_the_server() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[&server.url(), "--fault", "drop:up,every=2"]);
    let out = wscope_with_paced_stdin(
        &["--json", "-w", "1", &proxy.url("/")],
        (1..=4)
            .map(|i| (Duration::from_millis(50), format!("m{i}\n").into_bytes()))
            .collect(),
    );
    out.assert_no_panic();
    assert_eq!(incoming(&out.events()), ["m1", "m3"]);
    let proxied = proxy.stop();
    assert_eq!(faults(&proxied, "drop").len(), 2);
    assert_eq!(messages(&proxied, "server", "out"), ["m1", "m3"]);
}

#[test]
fn drop_match_removes_only_the_messages_that_match() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[&server.url(), "--fault", "drop:down,match=^secret"]);
    let out = wscope_with_paced_stdin(
        &["--json", "-w", "1", &proxy.url("/")],
        ["open", "secret plan", "open again"]
            .iter()
            .map(|m| (Duration::from_millis(50), format!("{m}\n").into_bytes()))
            .collect(),
    );
    assert_eq!(incoming(&out.events()), ["open", "open again"]);
    let proxied = proxy.stop();
    assert_eq!(faults(&proxied, "drop").len(), 1);
}

#[test]
fn close_down_sends_the_client_1012_after_a_second() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[&server.url(), "--fault", "close:down,code=1012,after=1s"]);
    let started = Instant::now();
    let out = wscope_with_paced_stdin(
        &["--json", &proxy.url("/")],
        vec![(Duration::from_secs(5), b"late\n".to_vec())],
    );
    let took = started.elapsed();
    let close = out.single("close");
    assert_eq!(close["code"], 1012, "{out}");
    assert_eq!(close["initiator"], "remote");
    out.assert_code(4);
    assert!(took >= Duration::from_millis(900), "{took:?}");
    let proxied = proxy.stop();
    assert_eq!(faults(&proxied, "close").len(), 1);
}

#[test]
fn corrupt_flips_a_bit_the_echo_shows() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[
        &server.url(),
        "--fault",
        "corrupt:down,every=1",
        "--seed",
        "5",
    ]);
    let out = wscope_with_paced_stdin(
        &["--json", "-w", "1", "--slash", &proxy.url("/")],
        vec![(Duration::from_millis(50), b"/hex 00000000\n".to_vec())],
    );
    let got: Vec<Value> = out.events_named("message");
    let echo = got.iter().find(|e| e["dir"] == "in").expect("an echo");
    let bytes = echo["data"].as_str().unwrap();
    assert_ne!(bytes, "00000000", "{echo}");
    let proxied = proxy.stop();
    assert_eq!(faults(&proxied, "corrupt").len(), 1);
}

#[test]
fn stall_down_pong_keeps_the_servers_pongs_from_the_client() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[&server.url(), "--fault", "stall:down,of=pong"]);
    let out = wscope_with_paced_stdin(
        &["--json", "-w", "1", "--slash", &proxy.url("/")],
        vec![
            (Duration::from_millis(50), b"/ping one\n".to_vec()),
            (Duration::from_millis(50), b"after\n".to_vec()),
        ],
    );
    let events = out.events();
    assert!(!events
        .iter()
        .any(|e| e["event"] == "frame" && e["dir"] == "in" && e["kind"] == "pong"));
    assert_eq!(incoming(&events), ["after"], "data still passes");
    let proxied = proxy.stop();
    assert_eq!(faults(&proxied, "stall").len(), 1);
    assert!(proxied
        .iter()
        .any(|e| e["event"] == "frame" && e["leg"] == "server" && e["kind"] == "pong"));
}

#[test]
fn reset_up_after_one_message_loses_the_connection() {
    let server = NodeServer::start();
    let proxy = Proxy::start(&[&server.url(), "--fault", "reset:up,after=1"]);
    let out = wscope_with_paced_stdin(
        &["--json", &proxy.url("/")],
        vec![
            (Duration::from_millis(50), b"one\n".to_vec()),
            (Duration::from_secs(3), b"two\n".to_vec()),
        ],
    );
    out.assert_code(3);
    let proxied = proxy.stop();
    assert_eq!(faults(&proxied, "reset").len(), 1);
}

#[test]
fn throttle_and_hold_slow_the_answers_down() {
    let server = NodeServer::start();
    // 4000 bytes at 4000 bytes a second, after a 600 ms hold.
    let proxy = Proxy::start(&[
        &server.url(),
        "--fault",
        "throttle:down,rate=4000",
        "--fault",
        "hold:down,ms=600",
    ]);
    let big = "x".repeat(4000);
    let started = Instant::now();
    let events = client(&proxy.url("/"), &format!("{big}\n"));
    let took = started.elapsed();
    assert_eq!(incoming(&events), [big]);
    assert!(took >= Duration::from_millis(900), "{took:?}");
    drop(proxy);
}

#[test]
fn a_frame_typed_at_the_proxy_goes_to_the_client_as_if_from_the_server() {
    let server = NodeServer::start();
    let mut proxy = Proxy::start(&[&server.url()]);
    let url = proxy.url("/");
    let client = thread::spawn(move || {
        wscope_with_paced_stdin(
            &["--json", "-w", "2", &url],
            vec![(Duration::from_millis(100), b"hi\n".to_vec())],
        )
    });
    proxy.wait_for("the echo", |e| {
        e["event"] == "message" && e["leg"] == "client" && e["dir"] == "out"
    });
    proxy.type_line("/client injected");
    proxy.type_line("/server /ping probe");
    let out = client.join().unwrap();
    let got = incoming(&out.events());
    assert_eq!(got, ["hi", "injected"]);
    let proxied = proxy.stop();
    assert!(proxied.iter().any(|e| e["event"] == "frame"
        && e["leg"] == "server"
        && e["dir"] == "in"
        && e["kind"] == "pong"));
}

#[test]
fn bad_proxy_arguments_are_one_line_usage_errors() {
    for (args, says) in [
        (
            vec!["proxy", "--listen", "0", "--fault", "lag"],
            "unknown fault kind 'lag'",
        ),
        (
            vec!["proxy", "--listen", "0", "--fault", "delay:sideways,ms=1"],
            "not a direction",
        ),
        (vec!["proxy", "--listen", "0", "http://x/"], "use ws://"),
        (vec!["proxy"], "--listen"),
    ] {
        let out = wscope(&args);
        out.assert_code(2);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn a_pcap_has_two_flows_per_client_and_a_har_an_entry_per_leg() {
    let server = NodeServer::start();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("both.pcapng");
    let har = dir.path().join("both.har");
    let proxy = Proxy::start(&[
        &server.url(),
        "--pcap",
        pcap.to_str().unwrap(),
        "--har",
        har.to_str().unwrap(),
    ]);
    let events = client(&proxy.url("/"), "message 0\n");
    assert_eq!(incoming(&events), ["message 0"]);
    drop(proxy.stop());
    let out = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-Y", "websocket"])
        .args(["-T", "fields", "-e", "tcp.stream", "-e", "text"])
        .output()
        .expect("tshark runs (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let streams: std::collections::BTreeSet<&str> =
        text.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(streams.len(), 2, "client leg and server leg:\n{text}");
    for stream in &streams {
        let flow: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{stream}\t")))
            .collect();
        assert!(
            flow.iter().filter(|l| l.contains("message 0")).count() >= 2,
            "flow {stream} holds the message and its echo:\n{text}"
        );
    }
    let har: Value = serde_json::from_str(&std::fs::read_to_string(&har).unwrap()).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "one entry per leg");
    for entry in entries {
        let messages = entry["_webSocketMessages"].as_array().unwrap();
        assert_eq!(messages.len(), 2, "{entry}");
    }
}

#[test]
fn the_human_view_names_the_connection_and_the_leg_of_every_frame() {
    let server = NodeServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wscope"))
        .args([
            "proxy",
            "--color",
            "never",
            "--listen",
            "127.0.0.1:0",
            "--once",
            &server.url(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let port: u16 = first
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    let events = client(&format!("ws://127.0.0.1:{port}/"), "hi\n");
    assert_eq!(incoming(&events), ["hi"]);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "--once ends with the connection");
    let lines: Vec<&str> = rest.lines().filter(|l| l.contains("\"hi\"")).collect();
    assert_eq!(lines.len(), 4, "each leg, each way:\n{rest}");
    assert!(lines[0].contains("#1 client ← text"), "{rest}");
    assert!(lines[1].contains("#1 server → text"), "{rest}");
    assert!(lines[2].contains("#1 server ← text"), "{rest}");
    assert!(lines[3].contains("#1 client → text"), "{rest}");
    assert!(rest.contains("GET / HTTP/1.1"), "the handshakes are shown");
    assert!(rest.contains("connection ended"), "{rest}");
}

#[test]
fn a_violation_is_named_and_passed_on_unless_strict() {
    // The server sends a text frame with RSV2 set, unasked.
    let bad = crate::common::frame(true, 0b010, 1, false, b"odd");
    let server = ScriptedServer::start(Script::frames(bad.clone()));
    let proxy = Proxy::start(&[&server.url("/")]);
    let out = wscope_with_stdin(&["--json", "-w", "1", &proxy.url("/")], b"");
    // The client saw the frame itself (and failed the connection for it).
    assert!(out
        .events()
        .iter()
        .any(|e| e["event"] == "frame" && e["dir"] == "in" && e["rsv2"] == true));
    let proxied = proxy.stop();
    assert!(proxied.iter().any(|e| e["event"] == "notice"
        && e["message"]
            .as_str()
            .is_some_and(|m| m.contains("violation, passed on") && m.contains("reserved bit"))));

    let server = ScriptedServer::start(Script::frames(bad));
    let proxy = Proxy::start(&[&server.url("/"), "--strict"]);
    let out = wscope_with_stdin(&["--json", "-w", "1", &proxy.url("/")], b"");
    assert!(!out
        .events()
        .iter()
        .any(|e| e["event"] == "frame" && e["dir"] == "in" && e["rsv2"] == true));
    assert_eq!(out.single("close")["code"], 1002, "{out}");
    let proxied = proxy.stop();
    assert!(proxied.iter().any(|e| e["event"] == "notice"
        && e["message"]
            .as_str()
            .is_some_and(|m| m.contains("--strict"))));
}

#[test]
fn a_client_flooding_a_server_that_reads_nothing_holds_the_proxy_to_a_bound() {
    use std::net::{TcpListener, TcpStream};
    // A server that answers the upgrade, then never reads.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let key = crate::common::read_upgrade_key(&mut BufReader::new(s.try_clone().unwrap()));
            let accept = crate::common::accept_key(&key);
            let _ = write!(
                s,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            thread::sleep(Duration::from_secs(30));
        }
    });
    // An HTTP proxy, so that another client can go elsewhere through it.
    let proxy = Proxy::start(&["--quiet"]);
    let pid = proxy.child.id();
    let mut c = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    write!(
        c,
        "GET ws://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 129];
    std::io::Read::read(&mut c, &mut head).unwrap();
    // 200 MiB of one frame; the writes block once the proxy stops reading.
    c.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let header = [0x82u8, 0xFF, 0, 0, 0, 0, 0x0C, 0x80, 0, 0, 1, 2, 3, 4];
    c.write_all(&header).unwrap();
    let chunk = vec![0x55u8; 1 << 20];
    let mut sent = 0usize;
    for _ in 0..200 {
        match c.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 100 << 20,
        "the proxy kept reading: {sent} bytes taken"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        peak_kib < 64 * 1024,
        "peak {peak_kib} KiB after taking {sent} bytes"
    );
    // Another client is still carried meanwhile, by the same proxy.
    let other = NodeServer::start();
    let out = wscope_with_stdin(
        &["--json", "--proxy", &proxy.proxy_url(), &other.url()],
        b"still\n",
    );
    assert_eq!(incoming(&out.events()), ["still"]);
    drop(c);
    drop(proxy);
}
