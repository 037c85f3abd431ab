//! What the human view leaves out and how it shows payloads: JSON compact,
//! indented or raw; --only, --hide, --grep; --time; requests paired
//! with their answers by a JSON id; and lines in the order they happened.

use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use tungstenite::Message;

use crate::common::{
    accept_key, frame, parse_client_frames, read_upgrade_key, wscope, wscope_with_stdin, Script,
    ScriptedServer,
};

const JSON: &str = r#"{"id":1,"type":"greeting","tags":["a","b"]}"#;

/// A server that sends a JSON text, a ping, a plain text, a binary message
/// in two fragments and a Close.
fn talker() -> ScriptedServer {
    let mut bytes = frame(true, 0, 1, false, JSON.as_bytes());
    bytes.extend(frame(true, 0, 9, false, b"beat"));
    bytes.extend(frame(true, 0, 1, false, b"plain words"));
    bytes.extend(frame(false, 0, 2, false, &[0xca, 0xfe]));
    bytes.extend(frame(true, 0, 0, false, &[0x01]));
    bytes.extend(frame(true, 0, 8, false, &1000u16.to_be_bytes()));
    ScriptedServer::start(Script::frames(bytes))
}

fn view(args: &[&str]) -> String {
    let server = talker();
    let url = server.url("/");
    let mut all = vec!["--frames", "--color", "never", "--layout", "wide"];
    all.extend_from_slice(args);
    all.push(&url);
    let out = wscope(&all);
    out.assert_code(0);
    out.stdout
}

fn frame_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.contains("] → ") || l.contains("] ← "))
        .filter(|l| !l.contains(" message "))
        .collect()
}

#[test]
fn json_is_compact_by_default_indented_with_pretty_and_as_sent_with_no_pretty() {
    let shown = view(&[]);
    assert!(
        shown.contains(r#"hdr=2 {"id": 1, "type": "greeting", "tags": ["a", "b"]}"#),
        "{shown}"
    );
    assert!(
        shown.contains("\"plain words\""),
        "plain text stays quoted: {shown}"
    );

    let shown = view(&["--pretty"]);
    assert!(
        shown.contains("{\n  \"id\": 1,\n  \"type\": \"greeting\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ]\n}\n"),
        "{shown}"
    );

    let shown = view(&["--no-pretty"]);
    assert!(
        shown.contains(r#"hdr=2 "{\"id\":1,\"type\":\"greeting\",\"tags\":[\"a\",\"b\"]}""#),
        "{shown}"
    );
}

#[test]
fn only_hide_and_grep_leave_out_what_they_say() {
    let all = view(&[]);
    assert!(frame_lines(&all).iter().any(|l| l.contains("→ close")));
    assert!(frame_lines(&all).iter().any(|l| l.contains("← ping")));

    let incoming = view(&["--only", "in"]);
    let lines = frame_lines(&incoming);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.contains(" ← ")),
        "{incoming}"
    );

    let quiet = view(&["--hide", "ping,pong"]);
    let lines = frame_lines(&quiet);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains(" ping ") || l.contains(" pong ")),
        "{quiet}"
    );
    assert!(lines.iter().any(|l| l.contains("plain words")), "{quiet}");

    // Text is matched as it is, binary as hex; a match shows its frames.
    let greps = view(&["--grep", "plain|^cafe"]);
    let lines = frame_lines(&greps);
    assert_eq!(lines.len(), 3, "one text frame and two fragments: {greps}");
    assert!(lines[0].contains("plain words"), "{greps}");
    assert!(
        lines[1].contains("hex:cafe") && lines[2].contains("hex:01"),
        "{greps}"
    );
    assert!(
        greps.contains("message binary len=3 from 2 frames"),
        "{greps}"
    );
    assert!(
        greps.contains("* closed:"),
        "the end is still told: {greps}"
    );
}

#[test]
fn filters_leave_json_output_whole() {
    let server = talker();
    let out = wscope(&[
        "--json",
        "--only",
        "out",
        "--grep",
        "nothing",
        &server.url("/"),
    ]);
    out.assert_code(0);
    assert_eq!(out.events_named("message").len(), 3, "{out}");
}

#[test]
fn time_formats() {
    let shown = view(&["--time", "abs"]);
    let stamp = regex::Regex::new(r"^\[\d\d:\d\d:\d\d\.\d{6}\] ← ").unwrap();
    assert!(shown.lines().any(|l| stamp.is_match(l)), "{shown}");
    let shown = view(&["--time", "delta"]);
    let stamp = regex::Regex::new(r"^\[\+ *\d+\.\d{6}\] ← ").unwrap();
    assert!(shown.lines().any(|l| stamp.is_match(l)), "{shown}");
}

#[test]
fn answers_that_come_out_of_order_are_paired_by_their_json_id() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        let mut requests = Vec::new();
        while requests.len() < 3 {
            if let Ok(Message::Text(t)) = ws.read() {
                requests.push(t.to_string());
            }
        }
        // Answer the last first, after a while, then the others.
        for (i, delay) in [(2, 60), (0, 0), (1, 30)] {
            thread::sleep(Duration::from_millis(delay));
            let id: serde_json::Value = serde_json::from_str(&requests[i]).unwrap();
            let answer = serde_json::json!({"id": id["id"], "result": i});
            ws.send(Message::text(answer.to_string())).unwrap();
        }
        while ws.read().is_ok() {}
    });
    let out = wscope(&[
        "--json",
        "--rtt-json-id",
        "id",
        "-x",
        r#"{"id":"a","method":"one"}"#,
        "-x",
        r#"{"id":"b","method":"two"}"#,
        "-x",
        r#"{"id":3,"method":"three"}"#,
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    out.assert_code(0);
    let answers = out.events_named("answer");
    let ids: Vec<&serde_json::Value> = answers.iter().map(|a| &a["id"]).collect();
    assert_eq!(
        ids,
        [
            &serde_json::json!(3),
            &serde_json::json!("a"),
            &serde_json::json!("b")
        ]
    );
    let delays: Vec<f64> = answers
        .iter()
        .map(|a| a["delay_ms"].as_f64().unwrap())
        .collect();
    // Each delay is measured from its own request: the first answered
    // waited at least the server's 60 ms, and the later ones longer.
    assert!(
        delays[0] >= 60.0 && delays[1] >= delays[0] && delays[2] >= 90.0,
        "{delays:?}"
    );
}

#[test]
fn a_notice_comes_after_the_frames_that_crossed_before_it() {
    // A server that answers our ping with its pong and a text in one
    // write, so that both arrive in one read; then answers our Close.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let key = read_upgrade_key(&mut reader);
        let mut stream = stream;
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        stream.write_all(head.as_bytes()).unwrap();
        let (mut seen, mut chunk, mut answered) = (Vec::new(), [0u8; 4096], false);
        loop {
            let n = reader.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&chunk[..n]);
            for (opcode, payload) in parse_client_frames(&seen) {
                if opcode == 9 && !answered {
                    let mut both = frame(true, 0, 10, false, &payload);
                    both.extend(frame(true, 0, 1, false, b"right behind the pong"));
                    stream.write_all(&both).unwrap();
                    answered = true;
                }
                if opcode == 8 {
                    let _ = stream.write_all(&frame(true, 0, 8, false, &payload));
                    return;
                }
            }
        }
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope_with_stdin(
        &[
            "--frames", "--color", "never", "--layout", "wide", "--slash", "-n", "1", &url,
        ],
        b"/ping hi\n",
    );
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with('[')).collect();
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?}: {out}"))
    };
    let (pong, notice, text) = (at("] ← pong"), at("pong matches"), at("right behind"));
    assert!(pong < text && text < notice, "{out}");
    let stamps: Vec<f64> = lines
        .iter()
        .filter_map(|l| l[1..l.find(']')?].trim().parse().ok())
        .collect();
    assert!(stamps.len() >= lines.len() - 1, "{out}");
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "stamps out of order: {out}"
    );
}
