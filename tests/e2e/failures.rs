use std::net::TcpListener;

use serde_json::Value;

use crate::common::{frame, position, wscope, After, Output, Script, ScriptedServer};

/// The error events, failing unless there is at least one.
fn errors(out: &Output) -> Vec<Value> {
    let errors = out.events_named("error");
    assert!(!errors.is_empty(), "no error event\n{out}");
    errors
}

fn error_lines(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("wscope: error: "))
        .collect()
}

const WRONG_ACCEPT: &str = "HTTP/1.1 101 Switching Protocols\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";

#[test]
fn wrong_accept_key_never_opens() {
    let server = ScriptedServer::start(Script {
        response: Some(WRONG_ACCEPT.as_bytes().to_vec()),
        bytes: Vec::new(),
        after: After::ShutdownWrite,
    });
    let out = wscope(&["--json", "-x", "never sent", &server.url("/")]);
    out.assert_code(1);
    out.assert_no_panic();
    let events = out.events();
    let response = out.single("response");
    assert_eq!(response["status"], 101, "{response}");
    assert_eq!(response["accept_ok"], false, "{response}");
    assert_eq!(response["raw"], WRONG_ACCEPT, "{response}");
    let error = position(&events, "handshake error", |e| {
        e["event"] == "error" && e["stage"] == "handshake"
    });
    let shown = position(&events, "response", |e| e["event"] == "response");
    assert!(shown < error, "{events:#?}");
    let message = events[error]["message"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(message.contains("accept"), "{message}");
    assert!(
        !events.iter().any(|e| e["event"] == "frame"),
        "frames on a connection that never opened: {events:#?}"
    );
    let log = server.log();
    assert!(
        log.after_head.is_empty(),
        "client sent frames after a bad accept key: {:?}",
        log.after_head
    );
}

const NOT_FOUND: &str = "HTTP/1.1 404 Not Found\r\n\
    Content-Type: text/plain\r\n\
    Content-Length: 14\r\n\
    Connection: close\r\n\r\n\
    no such socket";

fn not_found_server() -> ScriptedServer {
    ScriptedServer::start(Script {
        response: Some(NOT_FOUND.as_bytes().to_vec()),
        bytes: Vec::new(),
        after: After::ShutdownWrite,
    })
}

#[test]
fn http_404_never_opens_and_shows_status_and_body() {
    let server = not_found_server();
    let out = wscope(&["--json", &server.url("/missing")]);
    out.assert_code(1);
    out.assert_no_panic();
    let response = out.single("response");
    assert_eq!(response["status"], 404, "{response}");
    assert!(
        response["raw"]
            .as_str()
            .is_some_and(|r| r.starts_with("HTTP/1.1 404 Not Found\r\n")),
        "{response}"
    );
    let error = errors(&out)
        .into_iter()
        .find(|e| e["stage"] == "handshake")
        .unwrap_or_else(|| panic!("no handshake error\n{out}"));
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("404"), "{message}");
    assert!(
        message.contains("no such socket") || out.stderr.contains("no such socket"),
        "body not shown\n{out}"
    );
}

#[test]
fn http_404_in_payload_mode_reports_on_stderr() {
    let server = not_found_server();
    let out = wscope(&[&server.url("/missing")]);
    out.assert_code(1);
    out.assert_no_panic();
    assert_eq!(out.stdout, "", "{out}");
    let lines = error_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains("404"), "{out}");
    assert!(
        out.stderr.contains("no such socket"),
        "body not shown\n{out}"
    );
    // The head too, above the error: headers often say why.
    let head = out
        .stderr
        .find("< HTTP/1.1 404 Not Found")
        .expect("status line");
    let header = out
        .stderr
        .find("< Content-Type: text/plain")
        .expect("headers");
    assert!(
        head < header && header < out.stderr.find("wscope: error:").unwrap(),
        "{out}"
    );
}

fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn connection_refused_never_opens() {
    let port = refused_port();
    let out = wscope(&["--json", &format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    out.assert_no_panic();
    let errors = errors(&out);
    assert_eq!(errors[0]["stage"], "connect", "{out}");
    assert!(out.events_named("response").is_empty(), "{out}");
}

#[test]
fn connection_refused_in_payload_mode_is_one_stderr_line() {
    let port = refused_port();
    let out = wscope(&[&format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(error_lines(&out).len(), 1, "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
}

/// Header and the first 10 of 100 payload bytes.
fn half_a_frame() -> Vec<u8> {
    let mut bytes = frame(true, 0, 1, false, &[b'z'; 100]);
    bytes.truncate(12);
    bytes
}

fn assert_lost(out: &Output) {
    out.assert_code(3);
    out.assert_no_panic();
    let errors = errors(out);
    assert!(
        errors
            .iter()
            .any(|e| e["stage"] == "io" || e["stage"] == "protocol"),
        "no io/protocol error\n{out}"
    );
    assert!(
        !out.events_named("message").iter().any(|m| m["dir"] == "in"),
        "a message from a partial frame\n{out}"
    );
}

#[test]
fn eof_in_the_middle_of_a_frame_is_lost_connection() {
    let server = ScriptedServer::start(Script {
        response: None,
        bytes: half_a_frame(),
        after: After::ShutdownWrite,
    });
    let out = wscope(&["--json", "-w", "5", &server.url("/")]);
    assert_lost(&out);
    // The frame that was cut off is still shown, marked as such.
    let cut = out
        .events_named("frame")
        .into_iter()
        .find(|f| f["dir"] == "in")
        .expect("the partial frame is shown");
    assert_eq!(cut["cut_short"], true, "{cut}");
    assert_eq!(cut["len"], 100);
    let error = out.single("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("middle of a frame"),
        "{error}"
    );
}

#[test]
fn reset_in_the_middle_of_a_frame_is_lost_connection() {
    let server = ScriptedServer::start(Script {
        response: None,
        bytes: half_a_frame(),
        after: After::ResetWhenClientSends,
    });
    let out = wscope(&["--json", "-w", "5", "-x", "hello", &server.url("/")]);
    assert_lost(&out);
}

#[test]
fn eof_without_close_is_lost_connection() {
    let server = ScriptedServer::start(Script {
        response: None,
        bytes: Vec::new(),
        after: After::ShutdownWrite,
    });
    let out = wscope(&["--json", "-w", "5", &server.url("/")]);
    out.assert_code(3);
    out.assert_no_panic();
}

#[test]
fn no_close_reply_times_out() {
    // The server reads everything and never answers the Close.
    let server = ScriptedServer::start(Script::frames(Vec::new()));
    let out = wscope(&["--json", "--close-timeout", "1", &server.url("/")]);
    out.assert_code(3);
    out.assert_no_panic();
    let events = out.events();
    let sent = events
        .iter()
        .find(|e| e["event"] == "frame" && e["dir"] == "out" && e["opcode"] == 8)
        .unwrap_or_else(|| panic!("no outgoing close: {events:#?}"));
    assert_eq!(sent["close_code"], 1000, "{sent}");
    errors(&out);
    let log = server.log();
    assert!(
        log.client_frames().iter().any(|(op, _)| *op == 8),
        "server never got the Close: {log:?}"
    );
}

#[test]
fn a_server_that_never_answers_the_upgrade_names_the_timeout() {
    // Accepts the connection (the kernel does), never reads or answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = wscope(&["--connect-timeout", "1", &format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    let lines = error_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("timed out") && lines[0].contains("1 s (--connect-timeout)"),
        "{out}"
    );
    drop(listener);
}
