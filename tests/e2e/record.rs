//! Recording and replaying: --log tapes, --replay against real servers and
//! as a mock server, HAR out and in, and --pcap read back with tshark.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{json_events, wscope, NodeServer, Output, Pki, PythonServer};

/// A file in a fresh temporary directory kept for the test's life.
fn temp_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn read_tape(path: &Path) -> Vec<Value> {
    json_events(&std::fs::read_to_string(path).expect("the tape was written"))
}

/// Fails unless a notice starts with `start`.
fn assert_noticed(out: &Output, start: &str) {
    assert!(
        notices(out).iter().any(|n| n.starts_with(start)),
        "no notice starting {start:?}\n{out}"
    );
}

fn notices(out: &Output) -> Vec<String> {
    out.events_named("notice")
        .iter()
        .map(|n| n["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Records a session against the Python echo server with --log.
fn record(url: &str, tape: &Path) -> Output {
    let out = wscope(&[
        "--log",
        tape.to_str().unwrap(),
        "-w",
        "0.5",
        "-x",
        "hello",
        "-x",
        "order 17 at 12:00:01",
        "-x",
        "bye",
        url,
    ]);
    out.assert_code(0);
    out
}

#[test]
fn a_tape_is_the_json_stream_with_wall_clock_time() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/rec", server.port);
    let dir = tempfile::tempdir().unwrap();
    let tape = temp_file(&dir, "session.tape");
    let out = record(&url, &tape);
    // The screen is the usual payload view; the tape holds the events.
    assert_eq!(out.stdout, "hello\norder 17 at 12:00:01\nbye\n");
    let events = read_tape(&tape);
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    for name in [
        "connect", "request", "response", "frame", "message", "close",
    ] {
        assert!(names.contains(&name), "no {name} on the tape: {names:?}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for event in &events {
        let wall = event["wall"]
            .as_f64()
            .unwrap_or_else(|| panic!("no wall: {event}"));
        assert!((now - wall).abs() < 60.0, "wall {wall} is not now: {event}");
        assert!(event["t"].is_number(), "{event}");
    }
    let incoming: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "message" && e["dir"] == "in")
        .filter_map(|e| e["data"].as_str())
        .collect();
    assert_eq!(incoming, ["hello", "order 17 at 12:00:01", "bye"]);
}

#[test]
fn a_tape_replays_against_the_same_server_with_exit_0() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/rec", server.port);
    let dir = tempfile::tempdir().unwrap();
    let tape = temp_file(&dir, "session.tape");
    record(&url, &tape);
    for timing in ["paced", "original", "none"] {
        let out = wscope(&[
            "--json",
            "--replay",
            tape.to_str().unwrap(),
            "--timing",
            timing,
            &url,
        ]);
        out.assert_code(0);
        let sent: Vec<String> = out
            .events_named("message")
            .iter()
            .filter(|m| m["dir"] == "out")
            .map(|m| m["data"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(sent, ["hello", "order 17 at 12:00:01", "bye"], "{out}");
        assert_noticed(&out, "replay matches the recording: 3 of 3");
    }
}

#[test]
fn a_server_that_answers_differently_is_reported_with_exit_5() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/rec", server.port);
    let dir = tempfile::tempdir().unwrap();
    let tape = temp_file(&dir, "session.tape");
    record(&url, &tape);
    let other = PythonServer::with_args(None, &["--shout"]);
    let other_url = format!("ws://127.0.0.1:{}/rec", other.port);
    let out = wscope(&["--json", "--replay", tape.to_str().unwrap(), &other_url]);
    out.assert_code(5);
    let notices = notices(&out);
    assert!(
        notices.iter().any(|n| n
            .contains("changed: message 1 differs at byte 0: expected \"hello\", got \"HELLO\"")),
        "{out}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with("replay differs from the recording: 3 differences")),
        "{out}"
    );
    // Masking the volatile part is not enough here: the text differs.
    // With every letter masked, what is left (digits, spaces) matches.
    let out = wscope(&[
        "--json",
        "--replay",
        tape.to_str().unwrap(),
        "--ignore",
        "[A-Za-z]+",
        &other_url,
    ]);
    out.assert_code(0);
}

#[test]
fn ignore_masks_volatile_parts_and_missing_messages_are_reported() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/rec", server.port);
    let dir = tempfile::tempdir().unwrap();
    let tape = temp_file(&dir, "edited.tape");
    record(&url, &tape);
    // Edit the recording: the server had said another order number, and
    // one more message at the end.
    let text = std::fs::read_to_string(&tape).unwrap();
    let mut edited = String::new();
    for line in text.lines() {
        let mut event: Value = serde_json::from_str(line).unwrap();
        if event["event"] == "message" && event["dir"] == "in" {
            if event["data"] == "order 17 at 12:00:01" {
                event["data"] = "order 99 at 13:14:15".into();
            }
            if event["data"] == "bye" {
                edited.push_str(&format!("{event}\n"));
                event["data"] = "and one more".into();
            }
        }
        edited.push_str(&format!("{event}\n"));
    }
    std::fs::write(&tape, edited).unwrap();
    let out = wscope(&[
        "--json",
        "--replay",
        tape.to_str().unwrap(),
        "--replay-timeout",
        "0.5",
        "--ignore",
        r"\d+",
        &url,
    ]);
    out.assert_code(5);
    let notices = notices(&out);
    assert!(
        notices.iter().any(
            |n| n.starts_with("replay: missing: message 4 (text) never came: \"and one more\"")
        ),
        "{out}"
    );
    assert!(
        !notices.iter().any(|n| n.contains("changed")),
        "the masked order number should not count: {out}"
    );
}

#[test]
fn a_bad_tape_is_a_usage_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let tape = temp_file(&dir, "bad.tape");
    std::fs::write(
        &tape,
        "{\"event\":\"connect\",\"t\":0}\n{\"event\":\"message\",\"dir\":\"out\",\"kind\":\"text\"}\n",
    )
    .unwrap();
    let out = wscope(&["--replay", tape.to_str().unwrap(), "ws://127.0.0.1:9/"]);
    out.assert_code(2);
    out.assert_no_panic();
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("bad.tape: line 2: a message event without \"data\""),
        "{out}"
    );
}

#[test]
fn a_recording_that_would_split_the_request_or_break_the_protocol_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let har = |header: serde_json::Value| {
        serde_json::json!({"log": {"version": "1.2", "entries": [{
            "_resourceType": "websocket",
            "request": {"url": "ws://127.0.0.1:9/", "headers": [header]},
            "_webSocketMessages": [{"type": "send", "time": 1.0, "opcode": 1, "data": "x"}]
        }]}})
        .to_string()
    };
    let ping = format!(
        "{{\"event\":\"frame\",\"t\":0,\"dir\":\"out\",\"kind\":\"ping\",\"payload\":\"{}\",\"payload_encoding\":\"utf8\"}}\n",
        "p".repeat(300)
    );
    let cases = [
        (
            har(serde_json::json!({"name": "X-A", "value": "1\r\nX-Injected: yes"})),
            "the recorded header 'X-A': a header value cannot contain a line break",
        ),
        (
            har(serde_json::json!({"name": "Bad Name", "value": "1"})),
            "the recorded header name \"Bad Name\" is not a valid HTTP header name",
        ),
        (
            ping,
            "recorded step 1: a ping of 300 bytes; RFC 6455 §5.5 allows at most 125",
        ),
        (
            "{\"event\":\"frame\",\"t\":0,\"dir\":\"out\",\"kind\":\"close\",\"close_code\":1006}\n".into(),
            "recorded step 1: a Close with code 1006: 1005, 1006 and 1015 are for reporting only",
        ),
    ];
    for (i, (content, said)) in cases.iter().enumerate() {
        let path = temp_file(&dir, &format!("bad{i}"));
        std::fs::write(&path, content).unwrap();
        let out = wscope(&["--replay", path.to_str().unwrap(), "ws://127.0.0.1:9/"]);
        out.assert_code(2);
        out.assert_no_panic();
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(said), "case {i}: {out}");
        assert_eq!(out.stderr.lines().count(), 1, "case {i}: {out}");
    }
}

#[test]
fn a_server_close_the_recording_cannot_vouch_for_keeps_exit_4() {
    use tungstenite::protocol::frame::{coding::CloseCode, CloseFrame};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        let message = ws.read().unwrap();
        ws.send(message).unwrap();
        ws.close(Some(CloseFrame {
            code: CloseCode::Error,
            reason: "".into(),
        }))
        .unwrap();
        while ws.read().is_ok() {}
    });
    // A HAR has the messages but never a Close.
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "one.har");
    let har = serde_json::json!({"log": {"version": "1.2", "entries": [{
        "_resourceType": "websocket",
        "request": {"url": format!("ws://127.0.0.1:{port}/"), "headers": []},
        "_webSocketMessages": [
            {"type": "send", "time": 1.0, "opcode": 1, "data": "x"},
            {"type": "receive", "time": 1.1, "opcode": 1, "data": "x"}
        ]
    }]}});
    std::fs::write(&path, har.to_string()).unwrap();
    let out = wscope(&[
        "--replay",
        path.to_str().unwrap(),
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    out.assert_code(4);
    assert!(out.stderr.contains("replay matches the recording"), "{out}");
}

/// What crossed, frame by frame: (direction, opcode), the text payloads
/// of each direction, and the close codes.
#[derive(Debug, Default, PartialEq)]
struct Frames {
    order: Vec<(String, u64)>,
    texts: Vec<(String, String)>,
    close_codes: Vec<(String, u64)>,
}

/// The frames as wscope's --json showed them.
fn shown_frames(out: &Output) -> Frames {
    let mut frames = Frames::default();
    for f in out.events_named("frame") {
        let dir = f["dir"].as_str().unwrap().to_string();
        let opcode = f["opcode"].as_u64().unwrap();
        frames.order.push((dir.clone(), opcode));
        if opcode == 1 {
            frames
                .texts
                .push((dir.clone(), f["payload"].as_str().unwrap().to_string()));
        }
        if let Some(code) = f["close_code"].as_u64() {
            frames.close_codes.push((dir, code));
        }
    }
    frames
}

/// The frames tshark's WebSocket dissector finds in a capture; `client`
/// is the client's port, which tells the directions apart.
fn tshark_frames(capture: &Path, client_port: u16) -> Frames {
    let output = std::process::Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-Y", "websocket", "-T", "fields", "-E", "separator=|"])
        .args([
            "-E",
            "aggregator=;",
            "-e",
            "tcp.srcport",
            "-e",
            "websocket.opcode",
        ])
        .args([
            "-e",
            "websocket.payload.text",
            "-e",
            "websocket.payload.close.status_code",
        ])
        .output()
        .expect("tshark runs (scripts/test.sh installs it)");
    assert!(output.status.success(), "tshark failed: {output:?}");
    let mut frames = Frames::default();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split('|').collect();
        let dir = if fields[0] == client_port.to_string() {
            "out"
        } else {
            "in"
        };
        let list = |i: usize| -> Vec<&str> {
            fields
                .get(i)
                .map(|f| f.split(';').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        for opcode in list(1) {
            frames.order.push((dir.into(), opcode.parse().unwrap()));
        }
        for text in list(2) {
            frames.texts.push((dir.into(), text.into()));
        }
        for code in list(3) {
            frames.close_codes.push((dir.into(), code.parse().unwrap()));
        }
    }
    frames
}

/// The capture's section comment.
fn capture_comment(capture: &Path) -> String {
    use pcap_file::pcapng::blocks::section_header::SectionHeaderOption;
    let file = std::fs::File::open(capture).unwrap();
    let reader = pcap_file::pcapng::PcapNgReader::new(file).expect("a pcapng file");
    reader
        .section()
        .options
        .iter()
        .find_map(|o| match o {
            SectionHeaderOption::Comment(c) => Some(c.to_string()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The client's port in a capture: whichever end is not the server.
fn client_port(capture: &Path, server_port: u16) -> u16 {
    let ports = std::process::Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-c", "1", "-T", "fields", "-e", "tcp.srcport"])
        .args(["-e", "tcp.dstport"])
        .output()
        .unwrap();
    let ports = String::from_utf8_lossy(&ports.stdout).to_string();
    ports
        .split_whitespace()
        .map(|p| p.parse::<u16>().unwrap())
        .find(|p| *p != server_port)
        .expect("two ports")
}

fn capture_matches_what_wscope_showed(tls: bool) {
    let pki = Pki::generate();
    let server = PythonServer::start(tls.then_some(&pki));
    let scheme = if tls { "wss" } else { "ws" };
    let url = format!("{scheme}://127.0.0.1:{}/cap", server.port);
    let dir = tempfile::tempdir().unwrap();
    let capture = temp_file(&dir, "session.pcapng");
    let long = "x".repeat(70_000);
    let out = wscope(&[
        "--json",
        "--pcap",
        capture.to_str().unwrap(),
        "--ca",
        pki.ca.to_str().unwrap(),
        "--preview",
        "100000",
        "-w",
        "0.5",
        "-x",
        "hello",
        "-x",
        "second message",
        "-x",
        &long,
        &url,
    ]);
    out.assert_code(0);
    let connect = out.single("connect");
    let addr = connect["addr"].as_str().unwrap().to_string();
    assert_eq!(addr, format!("127.0.0.1:{}", server.port));
    let shown = shown_frames(&out);
    assert_eq!(shown.order.len(), 8, "{out}");
    let captured = tshark_frames(&capture, client_port(&capture, server.port));
    assert_eq!(
        captured, shown,
        "the capture differs from what wscope showed"
    );
    let comment = capture_comment(&capture);
    assert_eq!(comment.contains("decrypted"), tls, "{comment}");
}

#[test]
fn a_ws_capture_read_by_tshark_shows_the_frames_wscope_showed() {
    capture_matches_what_wscope_showed(false);
}

#[test]
fn a_wss_capture_holds_the_decrypted_frames_and_says_so() {
    capture_matches_what_wscope_showed(true);
}

#[test]
fn tshark_inflates_a_compressed_session_from_the_capture() {
    let server = NodeServer::with_args(&["--deflate"]);
    let dir = tempfile::tempdir().unwrap();
    let capture = temp_file(&dir, "deflate.pcapng");
    let out = wscope(&[
        "--json",
        "--deflate",
        "--pcap",
        capture.to_str().unwrap(),
        "-x",
        "hello hello hello compressed",
        "-x",
        "second second second second",
        &server.url(),
    ]);
    out.assert_code(0);
    let frames = out.events_named("frame");
    let compressed = frames.iter().filter(|f| f["rsv1"] == true).count();
    assert_eq!(compressed, 4, "{out}");
    // wscope's messages are inflated; tshark inflates the same frames.
    let messages: Vec<(String, String)> = out
        .events_named("message")
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap().into(),
                m["data"].as_str().unwrap().into(),
            )
        })
        .collect();
    let captured = tshark_frames(&capture, client_port(&capture, server.port));
    assert_eq!(captured.texts, messages);
    assert_eq!(captured.order, shown_frames(&out).order);
}

#[test]
fn a_silent_server_costs_one_replay_timeout_not_one_per_step() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        // Reads everything, answers nothing but the Close.
        while ws.read().is_ok() {}
    });
    let dir = tempfile::tempdir().unwrap();
    let tape = temp_file(&dir, "asks.tape");
    let mut lines = String::new();
    for i in 0..10 {
        for (dir, data) in [("out", format!("ask {i}")), ("in", format!("answer {i}"))] {
            lines += &serde_json::json!({"event": "message", "t": i, "dir": dir, "kind": "text", "data": data})
                .to_string();
            lines.push('\n');
        }
    }
    std::fs::write(&tape, lines).unwrap();
    // Ten waits of 3 s each would outlast the harness's 20 s.
    let out = wscope(&[
        "--replay",
        tape.to_str().unwrap(),
        "--replay-timeout",
        "3",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    out.assert_code(5);
    assert_eq!(out.stdout, "", "nothing came back: {out}");
    assert!(
        out.stderr.contains("missing: message 10 (text) never came"),
        "{out}"
    );
}

#[test]
fn a_capture_made_by_a_listener_opens_before_its_first_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let capture = temp_file(&dir, "served.pcapng");
    let server =
        crate::common::Listener::start(&["--echo", "--json", "--pcap", capture.to_str().unwrap()]);
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let (mut ws, _) = tungstenite::connect(url.as_str()).unwrap();
    ws.send(tungstenite::Message::text("served")).unwrap();
    assert_eq!(ws.read().unwrap().to_text().unwrap(), "served");
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    server.finish().assert_code(0);
    let listed = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "tcp.flags.syn",
        ])
        .args(["-e", "websocket.payload.text"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    let rows: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).collect();
    // SYN first, then times that never go back.
    assert_eq!(rows[0][1], "1", "{listed}");
    let times: Vec<f64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{listed}");
    assert_eq!(
        rows.iter().filter(|r| r.get(2) == Some(&"served")).count(),
        2
    );
}

#[test]
fn a_har_written_by_wscope_has_the_har_1_2_shape_and_replays() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/har?room=7", server.port);
    let dir = tempfile::tempdir().unwrap();
    let har_path = temp_file(&dir, "session.har");
    let out = crate::common::wscope_with_stdin(
        &[
            "--har",
            har_path.to_str().unwrap(),
            "--hex",
            "-w",
            "0.5",
            &url,
        ],
        b"6869\n00ff10\n",
    );
    out.assert_code(0);
    let har: Value = serde_json::from_slice(&std::fs::read(&har_path).unwrap())
        .expect("the HAR is one JSON document");
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["creator"]["name"], "wscope");
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{har}");
    let entry = &entries[0];
    assert_eq!(entry["_resourceType"], "websocket");
    assert!(entry["startedDateTime"].as_str().unwrap().ends_with('Z'));
    assert!(entry["time"].is_number());
    let request = &entry["request"];
    assert_eq!(request["method"], "GET");
    assert_eq!(request["url"], url.as_str());
    assert_eq!(request["queryString"][0]["name"], "room");
    let names: Vec<&str> = request["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Sec-WebSocket-Key"), "{names:?}");
    let response = &entry["response"];
    assert_eq!(response["status"], 101);
    assert!(response["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["name"] == "Sec-WebSocket-Accept"));
    for key in ["dns", "connect", "send", "wait", "receive"] {
        assert!(entry["timings"][key].is_number(), "timings.{key}: {entry}");
    }
    for key in ["cache", "serverIPAddress"] {
        assert!(!entry[key].is_null(), "{key}: {entry}");
    }
    let messages = entry["_webSocketMessages"].as_array().unwrap();
    let summary: Vec<(String, u64, String)> = messages
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_string(),
                m["opcode"].as_u64().unwrap(),
                m["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("send", 2, "aGk="),
        ("send", 2, "AP8Q"),
        ("receive", 2, "aGk="),
        ("receive", 2, "AP8Q"),
    ];
    let mut sorted = summary.clone();
    sorted.sort_by_key(|(kind, _, _)| kind == "receive");
    assert_eq!(
        sorted,
        expected.map(|(t, o, d)| (t.to_string(), o, d.to_string())),
        "{har}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for m in messages {
        assert!((now - m["time"].as_f64().unwrap()).abs() < 60.0, "{m}");
    }
    // And it plays again.
    let out = wscope(&["--json", "--replay", har_path.to_str().unwrap(), &url]);
    out.assert_code(0);
    assert_noticed(&out, "replay matches the recording: 2 of 2");
}

fn chrome_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chrome-websocket.har")
}

#[test]
fn a_har_saved_by_chrome_replays_with_its_headers() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/socket?room=7", server.port);
    let fixture = chrome_fixture();
    let out = wscope(&[
        "--json",
        "--replay",
        fixture.to_str().unwrap(),
        "-H",
        "Cache-Control: max-age=0",
        &url,
    ]);
    out.assert_code(0);
    let raw = out.single("request")["raw"].as_str().unwrap().to_string();
    // The browser's own headers go out, except those wscope writes itself;
    // -H replaces one of the same name. The recording was made against
    // ws://localhost:8080: its cookie does not go to another origin.
    assert!(!raw.contains("Cookie:"), "{raw}");
    assert!(
        out.stderr
            .contains("--replay: the recording's Cookie not sent"),
        "{}",
        out.stderr
    );
    for line in [
        "Origin: http://localhost:8080\r\n",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
        "Cache-Control: max-age=0\r\n",
    ] {
        assert!(raw.contains(line), "{line:?} not in {raw}");
    }
    assert!(!raw.contains("dGhlIHNhbXBsZSBub25jZQ=="), "{raw}");
    assert_eq!(raw.matches("Cache-Control:").count(), 1, "{raw}");
    assert!(!raw.contains("Host: localhost:8080"), "{raw}");
    let sent: Vec<(String, String)> = out
        .events_named("message")
        .iter()
        .filter(|m| m["dir"] == "out")
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_string(),
                m["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            (
                "text".to_string(),
                "{\"type\":\"join\",\"room\":7}".to_string()
            ),
            ("binary".to_string(), "0001020304ff".to_string()),
            ("text".to_string(), "bye".to_string()),
        ],
        "{out}"
    );
    assert_noticed(&out, "replay matches the recording: 3 of 3");
}

#[test]
fn a_har_with_several_sockets_needs_entry() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(chrome_fixture()).unwrap();
    let mut har: Value = serde_json::from_str(&text).unwrap();
    let mut second = har["log"]["entries"][1].clone();
    second["request"]["url"] = "ws://localhost:8080/other".into();
    har["log"]["entries"].as_array_mut().unwrap().push(second);
    let path = temp_file(&dir, "two.har");
    std::fs::write(&path, har.to_string()).unwrap();
    let out = wscope(&["--replay", path.to_str().unwrap(), "ws://127.0.0.1:9/"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("2 WebSocket entries") && out.stderr.contains("--entry"),
        "{out}"
    );
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let out = wscope(&[
        "--replay",
        path.to_str().unwrap(),
        "--entry",
        "/other",
        &url,
    ]);
    out.assert_code(0);
}

#[test]
fn a_reconnecting_run_records_each_connection_apart() {
    // Node's ws: 1011 at the first message, a reset at the second, then
    // an echo.
    let server = NodeServer::with_args(&["--fail-first"]);
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "three.har");
    let tape = temp_file(&dir, "three.tape");
    let out = wscope(&[
        "--log",
        tape.to_str().unwrap(),
        "--har",
        path.to_str().unwrap(),
        "--reconnect",
        "3",
        "--reconnect-delay",
        "0.1",
        "-x",
        "hello",
        &server.url(),
    ]);
    out.assert_code(0);
    let har: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{har}");
    let kinds = |entry: &Value| -> Vec<String> {
        entry["_webSocketMessages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{} {}",
                    m["type"].as_str().unwrap(),
                    m["data"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(kinds(&entries[0]), ["send hello"]);
    assert_eq!(kinds(&entries[1]), ["send hello"]);
    assert_eq!(kinds(&entries[2]), ["send hello", "receive hello"]);
    for entry in entries {
        assert_eq!(entry["response"]["status"], 101);
    }
    // They share one URL: --entry picks by number.
    let echo = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/", echo.port);
    let out = wscope(&["--replay", path.to_str().unwrap(), &url]);
    out.assert_code(2);
    assert!(out.stderr.contains("3 WebSocket entries"), "{out}");
    assert!(out.stderr.contains("--entry N"), "{out}");
    let out = wscope(&["--replay", path.to_str().unwrap(), "--entry", "3", &url]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("replay matches the recording: 1 of 1"),
        "{out}"
    );
    // Out of range, and in no URL (a port is at most 65535).
    let out = wscope(&["--replay", path.to_str().unwrap(), "--entry", "99999", &url]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("--entry 99999: there are 3 WebSocket entries, and none"),
        "{out}"
    );
    // The tape of the same run, likewise.
    let out = wscope(&["--replay", tape.to_str().unwrap(), &url]);
    out.assert_code(2);
    assert!(out.stderr.contains("holds 3 connections"), "{out}");
    let out = wscope(&["--replay", tape.to_str().unwrap(), "--entry", "3", &url]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("replay matches the recording: 1 of 1"),
        "{out}"
    );
}

/// A tape as a client would have recorded it: the server answered "one"
/// with two messages and "two" with one, then the client closed.
pub const MOCK_TAPE: &str = r#"{"event":"connect","t":0.001,"wall":1700000000.001,"url":"ws://example.test/feed","addr":"192.0.2.1:80","tls":false,"role":"client"}
{"event":"request","t":0.002,"wall":1700000000.002,"raw":"GET /feed HTTP/1.1\r\nHost: example.test\r\n\r\n"}
{"event":"message","t":0.010,"wall":1700000000.010,"dir":"out","kind":"text","len":3,"data":"one","encoding":"utf8"}
{"event":"message","t":0.020,"wall":1700000000.020,"dir":"in","kind":"text","len":3,"data":"uno","encoding":"utf8"}
{"event":"message","t":0.030,"wall":1700000000.030,"dir":"in","kind":"binary","len":2,"data":"00ff","encoding":"hex"}
{"event":"message","t":0.040,"wall":1700000000.040,"dir":"out","kind":"text","len":3,"data":"two","encoding":"utf8"}
{"event":"message","t":0.050,"wall":1700000000.050,"dir":"in","kind":"text","len":3,"data":"dos","encoding":"utf8"}
{"event":"frame","t":0.060,"wall":1700000000.060,"dir":"out","fin":true,"rsv1":false,"rsv2":false,"rsv3":false,"opcode":8,"kind":"close","masked":true,"mask_key":"01020304","len":2,"header_len":6,"payload":"03e8","payload_encoding":"hex","truncated":false,"close_code":1000,"close_reason":""}
{"event":"frame","t":0.070,"wall":1700000000.070,"dir":"in","fin":true,"rsv1":false,"rsv2":false,"rsv3":false,"opcode":8,"kind":"close","masked":false,"mask_key":null,"len":2,"header_len":2,"payload":"03e8","payload_encoding":"hex","truncated":false,"close_code":1000,"close_reason":""}
{"event":"close","t":0.070,"wall":1700000000.070,"code":1000,"reason":"","initiator":"local"}
"#;

#[test]
fn listen_replay_serves_a_tape_to_a_node_ws_client() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let tape = temp_file(&dir, "mock.tape");
    std::fs::write(&tape, MOCK_TAPE).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_wscope"))
        .args(["--json", "--listen", "127.0.0.1:0", "--once", "--replay"])
        .arg(&tape)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let notice: Value = serde_json::from_str(&first).unwrap();
    let port: u16 = notice["message"]
        .as_str()
        .unwrap()
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first}"));
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    let client = Command::new("node")
        .arg(peers.join("node_client.js"))
        .arg(format!("ws://127.0.0.1:{port}/feed"))
        .args(["--hold", "3", "one", "two"])
        .current_dir(&peers)
        .output()
        .expect("node tests/peers/node_client.js runs");
    let lines: Vec<String> = String::from_utf8_lossy(&client.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    // Node's ws prints a binary message's bytes as they are.
    assert_eq!(
        lines,
        ["OPEN -", "uno", "\u{0}\u{FFFD}", "dos", "CLOSE 1000 done"].map(String::from),
        "node client: {client:?}"
    );
    let status = server.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    let events = json_events(&rest);
    let order: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "message")
        .map(|e| {
            format!(
                "{} {}",
                e["dir"].as_str().unwrap(),
                e["data"].as_str().unwrap()
            )
        })
        .collect();
    // Each answer goes out after the client message that came before it
    // on the tape.
    let at = |m: &str| {
        order
            .iter()
            .position(|o| o == m)
            .unwrap_or_else(|| panic!("{m} in {order:?}"))
    };
    assert!(at("in one") < at("out uno"), "{order:?}");
    assert!(
        at("out 00ff") < at("out dos") && at("in two") < at("out dos"),
        "{order:?}"
    );
}

#[test]
fn a_usage_error_leaves_an_earlier_recording_whole() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("kept.tape");
    std::fs::write(
        &tape,
        "{\"event\":\"notice\",\"t\":0,\"message\":\"old\"}\n",
    )
    .unwrap();
    let tape_arg = tape.to_str().unwrap();
    // A bad --reply is found by the plan, before any file is made.
    let out = wscope(&[
        "--log",
        tape_arg,
        "--reply",
        "no arrow",
        "ws://127.0.0.1:9/",
    ]);
    out.assert_code(2);
    // Writing the recording being replayed is refused.
    let out = wscope(&["--log", tape_arg, "--replay", tape_arg, "ws://127.0.0.1:9/"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("is the recording --replay reads"),
        "{}",
        out.stderr
    );
    let kept = std::fs::read_to_string(&tape).unwrap();
    assert!(kept.contains("\"old\""), "{kept}");
}

#[test]
fn a_recording_that_cannot_be_written_is_said_once_and_the_session_goes_on() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/", server.port);
    // A pipe whose reader has left (EPIPE, as with `--log >(head -c 1)`),
    // and /dev/full, which refuses every write
    // (ENOSPC).
    let dir = tempfile::tempdir().unwrap();
    let fifo = temp_file(&dir, "short.tape");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || drop(std::fs::File::open(fifo).unwrap()))
    };
    let args = ["--log", fifo.to_str().unwrap(), "--har", "/dev/full", &url];
    let lines: Vec<String> = (0..30).map(|i| format!("message {i}")).collect();
    let input = lines.join("\n") + "\n";
    let out = crate::common::wscope_with_stdin(&args, input.as_bytes());
    reader.join().unwrap();
    out.assert_code(0);
    assert_eq!(out.stdout, lines.join("\n") + "\n", "{out}");
    for option in [&format!("--log {}", fifo.display()), "--har /dev/full"] {
        let said = out
            .stderr
            .matches(&format!("{option}: writing failed"))
            .count();
        assert_eq!(said, 1, "{option}: {}", out.stderr);
    }
}

#[test]
fn two_recordings_in_one_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "both");
    // The file does not exist yet, and the second spelling differs.
    let other = dir.path().join(".").join("both");
    let (a, b) = (path.to_str().unwrap(), other.to_str().unwrap());
    let out = wscope(&["--log", a, "--pcap", b, "ws://127.0.0.1:9/"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("--log and --pcap name the same file"),
        "{out}"
    );
    assert!(!path.exists(), "a refused recording was created");
}
