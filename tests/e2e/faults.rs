//! Faults and hostile peers: signals, a reader that goes away, a server
//! that trickles, floods or lies about lengths, resets at each stage, and
//! output nobody reads. Each must end with a clear message and the right
//! exit code, or keep memory bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    accept_key, close_frame, frame, text_frame, wscope, After, EchoServer, Received, Script,
    ScriptedServer,
};

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wscope"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads stdout lines until one contains `needle`.
fn wait_for_line(reader: &mut impl BufRead, needle: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "stdout ended before {needle:?}"
        );
        if line.contains(needle) {
            return;
        }
    }
}

fn wait(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wscope did not end in time");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn sigterm_and_sigint_close_with_1001() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let server = EchoServer::start();
        let mut child = spawn(&["--json", "-w", "30", &server.url("/")]);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        wait_for_line(&mut stdout, "\"event\":\"response\"");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        wait_for_line(&mut stdout, "\"event\":\"close\"");
        assert_eq!(wait(&mut child), 0, "signal {signal}");
        assert_eq!(
            server.received(),
            [Received::Close(Some(1001))],
            "signal {signal}"
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    // Many messages, more than one pipe buffer of output.
    let mut bytes = Vec::new();
    for i in 0..20_000 {
        bytes.extend(text_frame(&format!(
            "message number {i} with some padding to fill pipes"
        )));
    }
    let server = ScriptedServer::start(Script {
        response: None,
        bytes,
        after: After::ReplyToClose,
    });
    let mut child = spawn(&["-w", "30", &server.url("/")]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "message number 0 with some padding to fill pipes\n");
    drop(stdout);
    assert_eq!(wait(&mut child), 0);
    let stderr = stderr_of(&mut child);
    assert!(!stderr.contains("error"), "quiet: {stderr}");
    // It said goodbye: Close 1001.
    let sent = server.log().client_frames();
    assert_eq!(
        sent.last().map(|(op, p)| (*op, p.clone())),
        Some((8, vec![0x03, 0xe9]))
    );
}

/// Reads a client's request head and returns the 101 that answers it.
fn upgrade_answer(stream: &TcpStream) -> String {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut key = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 2 {
        if let Some(v) = line.strip_prefix("Sec-WebSocket-Key:") {
            key = v.trim().to_string();
        }
        line.clear();
    }
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    )
}

/// A server that answers the upgrade, then writes `bytes` one at a time.
fn trickling_server(bytes: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = stream.set_nodelay(true);
        let head = upgrade_answer(&stream);
        for b in head.bytes().chain(bytes) {
            if stream.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_micros(200));
        }
        let _ = stream.read_to_end(&mut Vec::new());
    });
    port
}

#[test]
fn a_server_that_sends_one_byte_at_a_time_is_decoded_exactly() {
    let mut bytes = Vec::new();
    bytes.extend(frame(false, 0, 1, false, b"frag"));
    bytes.extend(frame(true, 0, 9, false, b"ping"));
    bytes.extend(frame(true, 0, 0, false, b"mented"));
    bytes.extend(frame(true, 0, 2, false, &[0u8; 300]));
    bytes.extend(frame(true, 0, 8, false, &[0x03, 0xe8]));
    let port = trickling_server(bytes);
    let out = wscope(&["--json", "-w", "10", &format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(0);
    let data: Vec<(String, u64)> = out
        .events_named("message")
        .iter()
        .filter(|m| m["dir"] == "in")
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_string(),
                m["len"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(data, [("text".into(), 10), ("binary".into(), 300)]);
    let kinds: Vec<String> = out
        .events_named("frame")
        .iter()
        .filter(|f| f["dir"] == "in")
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["text", "ping", "continuation", "binary", "close"]);
}

#[test]
fn a_flood_of_pings_is_answered_and_the_session_goes_on() {
    let mut bytes = Vec::new();
    for i in 0..5_000u32 {
        bytes.extend(frame(true, 0, 9, false, &i.to_be_bytes()));
    }
    bytes.extend(text_frame("after the flood"));
    let server = ScriptedServer::start(Script {
        response: None,
        bytes,
        after: After::ReplyToClose,
    });
    // -w: our own Close (input ends at once) must not race the pings.
    let out = wscope(&["--json", "-w", "5", "--until", "flood", &server.url("/")]);
    out.assert_code(0);
    let messages = crate::common::incoming_messages(&out);
    assert_eq!(messages, ["after the flood"]);
    let pongs = server
        .log()
        .client_frames()
        .iter()
        .filter(|(op, _)| *op == 0xA)
        .count();
    assert!(pongs >= 1, "pings are answered: {out}");
}

#[test]
fn a_header_announcing_2_to_the_63_bytes_is_refused_without_allocating_it() {
    let bytes = vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
    let server = ScriptedServer::start(Script::frames(bytes));
    let out = wscope(&["--json", "-w", "5", &server.url("/")]);
    out.assert_code(3);
    let frame = out
        .events_named("frame")
        .into_iter()
        .find(|f| f["dir"] == "in")
        .expect("the frame is shown");
    assert_eq!(frame["len"], 9_223_372_036_854_775_808u64);
    // RFC 6455 §5.2: the top bit must be 0, so this is a protocol error.
    assert!(out.single("error")["message"]
        .as_str()
        .unwrap()
        .contains("most significant bit set"));
    let sent = server.log().client_frames();
    assert_eq!(
        sent.last().map(|(op, p)| (*op, p.clone())),
        Some((8, vec![0x03, 0xea]))
    );
}

#[test]
fn a_reset_during_the_handshake_never_opens() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf);
        // Unread request bytes make the close a reset.
        drop(stream);
    });
    let out = wscope(&["--json", &format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    assert_eq!(out.single("error")["stage"], "handshake");
}

#[test]
fn a_reset_after_the_close_handshake_is_still_a_normal_close() {
    let mut bytes = text_frame("bye soon");
    bytes.extend(frame(true, 0, 8, false, &[0x03, 0xe8]));
    let server = ScriptedServer::start(Script {
        response: None,
        bytes,
        after: After::ResetWhenClientSends,
    });
    let out = wscope(&["-w", "5", &server.url("/")]);
    out.assert_code(0);
    assert_eq!(out.stdout, "bye soon\n");
}

/// Reads this process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn output_nobody_reads_stops_the_reading_instead_of_growing_memory() {
    // 64 MiB of messages; stdout is not read for a while.
    let payload = vec![b'x'; 32 * 1024];
    let text = String::from_utf8(payload).unwrap();
    let mut bytes = Vec::new();
    for _ in 0..2048 {
        bytes.extend(text_frame(&text));
    }
    let server = ScriptedServer::start(Script {
        response: None,
        bytes,
        after: After::ReplyToClose,
    });
    let mut child = spawn(&["--until", "^$", "-w", "30", &server.url("/")]);
    thread::sleep(Duration::from_millis(800));
    let stalled = rss_kib(child.id());
    assert!(
        stalled < 48 * 1024,
        "RSS while stdout is stalled: {stalled} KiB"
    );
    // Then read everything: nothing was lost.
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child, which has everything by now.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child), 0);
    let out = reader.join().unwrap();
    assert_eq!(out.lines().count(), 2048);
}

#[test]
fn a_tls_peer_that_closes_without_close_notify_is_a_lost_connection() {
    let pki = crate::common::Pki::generate();
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&pki.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    use rustls::pki_types::pem::PemObject;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), tcp);
        if let Ok(mut ws) = tungstenite::accept(tls) {
            let _ = ws.send(tungstenite::Message::text("then gone"));
            // Drop the TCP socket under TLS: no close_notify, no Close.
            let tcp: &TcpStream = &ws.get_ref().sock;
            let _ = tcp.shutdown(std::net::Shutdown::Both);
        }
    });
    let url = format!("wss://localhost:{port}/");
    let out = wscope(&["-w", "5", "--ca", pki.ca.to_str().unwrap(), &url]);
    out.assert_code(3);
    assert_eq!(out.stdout, "then gone\n");
    assert!(
        out.stderr.contains("without TLS close_notify"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_server_that_stops_reading_is_reported_and_memory_stays_bounded() {
    // Answers the upgrade, then never reads again.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let head = upgrade_answer(&stream);
        let _ = stream.write_all(head.as_bytes());
        thread::sleep(Duration::from_secs(30));
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let mut child = spawn(&["--binary", "--chunk-size", "65536", &url]);
    let mut stdin = child.stdin.take().unwrap();
    // 256 MiB offered; the writer simply blocks once wscope stops taking it.
    thread::spawn(move || {
        let chunk = vec![b'q'; 1 << 20];
        for _ in 0..256 {
            if stdin.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let notice = rx
        .iter()
        .find(|l| l.contains("stalled"))
        .expect("the stall is reported");
    assert!(notice.contains("server has not read"), "{notice}");
    let rss = rss_kib(child.id());
    assert!(rss < 48 * 1024, "RSS while stalled: {rss} KiB");
    // SAFETY: signalling our own child; the second signal quits at once.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    thread::sleep(Duration::from_millis(200));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child), 0);
}

/// A server that answers the upgrade, then sends text frames as fast as it
/// can and never answers a Close; what the client sends is passed on.
fn flooding_server() -> (u16, std::sync::mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let head = upgrade_answer(&stream);
        stream.write_all(head.as_bytes()).unwrap();
        let mut reader = stream.try_clone().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let frame = text_frame("flood flood flood flood flood flood flood");
        let burst: Vec<u8> = frame
            .iter()
            .copied()
            .cycle()
            .take(frame.len() * 64)
            .collect();
        while stream.write_all(&burst).is_ok() {}
    });
    (port, rx)
}

#[test]
fn signals_get_their_turn_while_a_server_floods() {
    let (port, from_client) = flooding_server();
    let url = format!("ws://127.0.0.1:{port}/");
    let mut child = spawn(&["-w", "60", "--close-timeout", "60", &url]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut stdout, "flood");
    // Keep reading, as a terminal would, while the flood goes on.
    let reader = thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stdout.read_to_end(&mut sink);
    });
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    // The first signal sends Close 1001 although the flood never stops.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = Vec::new();
    while !sent.windows(2).any(|w| w == [0x88, 0x82]) {
        let left = deadline.saturating_duration_since(Instant::now());
        match from_client.recv_timeout(left) {
            Ok(bytes) => sent.extend(bytes),
            Err(_) => panic!("no Close while the server floods: {sent:02x?}"),
        }
    }
    // The second quits at once.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child), 0);
    reader.join().unwrap();
}

/// A server that answers the upgrade, then writes each part after a pause.
fn pausing_server(parts: Vec<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let head = upgrade_answer(&stream);
        stream.write_all(head.as_bytes()).unwrap();
        for part in parts {
            thread::sleep(Duration::from_millis(200));
            if stream.write_all(&part).is_err() {
                return;
            }
        }
        let _ = stream.read_to_end(&mut Vec::new());
    });
    port
}

/// (event, dir, kind or data) of each frame and message event, in order.
fn frames_and_messages(stdout: &str) -> Vec<(String, String, String)> {
    crate::common::json_events(stdout)
        .iter()
        .filter(|e| e["event"] == "frame" || e["event"] == "message")
        .map(|e| {
            let what = if e["event"] == "frame" {
                &e["kind"]
            } else {
                &e["data"]
            };
            (
                e["event"].as_str().unwrap().to_string(),
                e["dir"].as_str().unwrap().to_string(),
                what.as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_view_follows_the_wire_order() {
    // A message whose frame is shown before it is complete, then the rest
    // of it in the same read as the next message; then a fragmented
    // message with a ping inside, all in one write.
    let big = "b".repeat(5000);
    let whole = text_frame(&big);
    let mut rest = whole[100..].to_vec();
    rest.extend(text_frame("small"));
    rest.extend(frame(false, 0, 1, false, b"hel"));
    rest.extend(frame(true, 0, 9, false, b"p"));
    rest.extend(frame(true, 0, 0, false, b"lo"));
    rest.extend(close_frame(1000, ""));
    let port = pausing_server(vec![whole[..100].to_vec(), rest]);
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&["--json", "-n", "3", &url]);
    out.assert_code(0);
    let seen = frames_and_messages(&out.stdout);
    let t = |e: &str, d: &str, w: &str| (e.to_string(), d.to_string(), w.to_string());
    let expected = [
        t("frame", "in", "text"),
        t("message", "in", &big),
        t("frame", "in", "text"),
        t("message", "in", "small"),
        t("frame", "in", "text"),
        t("frame", "in", "ping"),
        t("frame", "in", "continuation"),
        // The Close came in the same read, before our pong went out.
        t("frame", "in", "close"),
        t("frame", "out", "pong"),
        t("message", "in", "hello"),
    ];
    assert_eq!(&seen[..expected.len()], expected, "{seen:#?}");
    // And the times never go back.
    let times: Vec<f64> = crate::common::json_events(&out.stdout)
        .iter()
        .filter(|e| e["event"] == "frame")
        .map(|e| e["t"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}
