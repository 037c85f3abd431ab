use std::time::Duration;

use serde_json::Value;

use crate::common::{
    frame_with, incoming_messages, position, wscope, wscope_with_paced_stdin, wscope_with_stdin,
    EchoConfig, EchoServer, Received,
};

fn is_hex8(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 8 && s.chars().all(|c| c.is_ascii_hexdigit()))
}

fn text(s: &str) -> Received {
    Received::Text(s.to_string())
}

#[test]
fn json_echo_shows_handshake_frames_messages_and_close() {
    let server = EchoServer::start();
    let url = server.url("/some/path?q=1");
    let out = wscope(&["--json", "-x", "hello", "-x", "world", &url]);
    out.assert_code(0);
    let events = out.events();

    let connect = out.single("connect");
    assert_eq!(connect["tls"], false, "{connect}");
    assert_eq!(
        connect["addr"],
        format!("127.0.0.1:{}", server.port()),
        "{connect}"
    );
    assert!(
        connect["url"]
            .as_str()
            .is_some_and(|u| u.contains("/some/path?q=1")),
        "{connect}"
    );

    let request = out.single("request");
    let raw = request["raw"].as_str().expect("request raw");
    assert!(
        raw.starts_with("GET /some/path?q=1 HTTP/1.1\r\n"),
        "request raw: {raw:?}"
    );
    let host = format!("\r\nhost: 127.0.0.1:{}\r\n", server.port());
    assert!(raw.to_ascii_lowercase().contains(&host), "{raw:?}");
    assert_eq!(server.paths(), ["/some/path?q=1"]);

    let response = out.single("response");
    assert_eq!(response["status"], 101, "{response}");
    assert_eq!(response["accept_ok"], true, "{response}");
    assert!(
        response["raw"]
            .as_str()
            .is_some_and(|r| r.starts_with("HTTP/1.1 101")),
        "{response}"
    );

    let frames = |dir: &str, opcode: u64| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["event"] == "frame" && e["dir"] == dir && e["opcode"] == opcode)
            .cloned()
            .collect()
    };
    let out_text = frames("out", 1);
    let in_text = frames("in", 1);
    assert_eq!(out_text.len(), 2, "outgoing text frames: {out_text:#?}");
    assert_eq!(in_text.len(), 2, "incoming text frames: {in_text:#?}");
    for (f, word) in out_text.iter().zip(["hello", "world"]) {
        assert_eq!(f["payload"], word, "{f}");
        assert_eq!(f["kind"], "text", "{f}");
        assert_eq!(f["fin"], true, "{f}");
        assert_eq!(f["masked"], true, "{f}");
        assert!(is_hex8(&f["mask_key"]), "mask_key not 8 hex digits: {f}");
        assert_eq!(f["len"], 5, "{f}");
        assert_eq!(f["header_len"], 6, "masked 5-byte frame: {f}");
        for rsv in ["rsv1", "rsv2", "rsv3"] {
            assert_eq!(f[rsv], false, "{f}");
        }
    }
    for (f, word) in in_text.iter().zip(["hello", "world"]) {
        assert_eq!(f["payload"], word, "{f}");
        assert_eq!(f["masked"], false, "{f}");
        assert!(f["mask_key"].is_null(), "{f}");
        assert_eq!(f["header_len"], 2, "{f}");
        assert_eq!(f["payload_encoding"], "utf8", "{f}");
        assert_eq!(f["truncated"], false, "{f}");
    }
    // Each echo comes back after it was sent.
    let sent_hello = position(&events, "outgoing hello", |e| {
        e["event"] == "frame" && e["dir"] == "out" && e["payload"] == "hello"
    });
    let got_hello = position(&events, "incoming hello", |e| {
        e["event"] == "frame" && e["dir"] == "in" && e["payload"] == "hello"
    });
    assert!(sent_hello < got_hello, "{events:#?}");

    assert_eq!(incoming_messages(&out), ["hello", "world"]);
    for m in out.events_named("message") {
        if m["dir"] == "in" {
            assert_eq!(m["kind"], "text", "{m}");
            assert_eq!(m["encoding"], "utf8", "{m}");
            assert_eq!(m["len"], 5, "{m}");
        }
    }

    let close_out = frame_with(&events, "out", 8);
    assert_eq!(close_out["close_code"], 1000, "{close_out}");
    assert_eq!(close_out["kind"], "close", "{close_out}");

    let close = out.single("close");
    assert_eq!(close["code"], 1000, "{close}");
    assert_eq!(close["initiator"], "local", "{close}");
    assert!(
        events.last().unwrap()["event"] == "close",
        "close is not the last event: {events:#?}"
    );

    assert_eq!(
        server.received(),
        [text("hello"), text("world"), Received::Close(Some(1000))]
    );
}

#[test]
fn stdin_lines_are_sent_after_execute_messages_in_order() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(
        &["--json", "-x", "zero", &server.url("/")],
        b"one\ntwo\nthree\n",
    );
    out.assert_code(0);
    assert_eq!(incoming_messages(&out), ["zero", "one", "two", "three"]);
    assert_eq!(
        server.received_data(),
        [text("zero"), text("one"), text("two"), text("three")]
    );
}

/// A line that arrives late, right before stdin ends, is still sent and
/// the session ends by itself. (Once, the input thread's exit dropped the
/// wake-up for that line and the session waited forever.)
#[test]
fn a_late_last_line_is_sent_before_closing() {
    for _ in 0..8 {
        let server = EchoServer::start();
        let out = wscope_with_paced_stdin(
            &[&server.url("/")],
            vec![(Duration::from_millis(150), b"late\n".to_vec())],
        );
        out.assert_code(0);
        assert_eq!(out.stdout, "late\n", "{out}");
    }
}

#[test]
fn payload_mode_prints_only_the_echoed_lines() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(&[&server.url("/")], b"alpha\nbeta\ngamma\n");
    out.assert_code(0);
    assert_eq!(out.stdout, "alpha\nbeta\ngamma\n", "{out}");
    assert_eq!(
        server.received_data(),
        [text("alpha"), text("beta"), text("gamma")]
    );
}

#[test]
fn wait_keeps_the_connection_open_for_a_server_that_speaks_late() {
    let server = EchoServer::with(EchoConfig {
        greet: Some((Duration::from_millis(300), "late hello".to_string())),
        ..EchoConfig::default()
    })
    .unwrap();
    let out = wscope(&["--json", "-w", "1", &server.url("/")]);
    out.assert_code(0);
    assert_eq!(incoming_messages(&out), ["late hello"]);
    let close = out.single("close");
    assert_eq!(close["code"], 1000, "{close}");
    assert_eq!(close["initiator"], "local", "{close}");
    assert_eq!(server.received(), [Received::Close(Some(1000))]);
}

#[test]
fn wait_in_payload_mode_prints_the_late_message() {
    let server = EchoServer::with(EchoConfig {
        greet: Some((Duration::from_millis(300), "late hello".to_string())),
        ..EchoConfig::default()
    })
    .unwrap();
    let out = wscope(&["-w", "1", &server.url("/")]);
    out.assert_code(0);
    assert_eq!(out.stdout, "late hello\n", "{out}");
}

fn closing_server(code: u16) -> EchoServer {
    EchoServer::with(EchoConfig {
        close_after: Some((1, code)),
        ..EchoConfig::default()
    })
    .unwrap()
}

#[test]
fn server_close_with_4000_exits_4() {
    let server = closing_server(4000);
    let out = wscope(&["--json", "-w", "5", "-x", "hello", &server.url("/")]);
    out.assert_code(4);
    assert_eq!(incoming_messages(&out), ["hello"]);
    let close = out.single("close");
    assert_eq!(close["code"], 4000, "{close}");
    assert_eq!(close["reason"], "bye", "{close}");
    assert_eq!(close["initiator"], "remote", "{close}");
    let events = out.events();
    let close_in = frame_with(&events, "in", 8);
    assert_eq!(close_in["close_code"], 4000, "{close_in}");
    assert_eq!(close_in["close_reason"], "bye", "{close_in}");
}

#[test]
fn server_close_with_1001_exits_0() {
    let server = closing_server(1001);
    let out = wscope(&["--json", "-w", "5", "-x", "hello", &server.url("/")]);
    out.assert_code(0);
    let close = out.single("close");
    assert_eq!(close["code"], 1001, "{close}");
    assert_eq!(close["initiator"], "remote", "{close}");
}

#[test]
fn server_close_with_4000_in_payload_mode_exits_4() {
    let server = closing_server(4000);
    let out = wscope(&["-w", "5", "-x", "hello", &server.url("/")]);
    out.assert_code(4);
    assert_eq!(out.stdout, "hello\n", "{out}");
}

#[test]
fn ipv6_literal_url() {
    let server = match EchoServer::with(EchoConfig {
        ipv6: true,
        ..EchoConfig::default()
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipping: cannot bind [::1]: {e}");
            return;
        }
    };
    let url = server.url("/v6");
    assert!(url.starts_with("ws://[::1]:"));
    let out = wscope(&["--json", "-x", "over six", &url]);
    out.assert_code(0);
    assert_eq!(incoming_messages(&out), ["over six"]);
    let connect = out.single("connect");
    assert_eq!(
        connect["addr"],
        format!("[::1]:{}", server.port()),
        "{connect}"
    );
    let raw = out.single("request")["raw"].as_str().unwrap().to_string();
    assert!(raw.starts_with("GET /v6 HTTP/1.1\r\n"), "{raw:?}");
    let host = format!("\r\nhost: [::1]:{}\r\n", server.port());
    assert!(raw.to_ascii_lowercase().contains(&host), "{raw:?}");
}

#[test]
fn frames_view_shows_handshake_and_frames_when_piped() {
    let server = EchoServer::start();
    let out = wscope(&[
        "--frames",
        "--color",
        "never",
        "-x",
        "hello frames",
        &server.url("/chat"),
    ]);
    out.assert_code(0);
    let s = &out.stdout;
    assert!(s.contains("GET /chat HTTP/1.1"), "{out}");
    assert!(s.contains("HTTP/1.1 101"), "{out}");
    assert!(s.contains("hello frames"), "{out}");
    assert!(s.contains("→") && s.contains("←"), "{out}");
    let text_lines: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("text") && l.contains("hello frames"))
        .collect();
    assert!(
        text_lines.iter().any(|l| l.contains('→')) && text_lines.iter().any(|l| l.contains('←')),
        "expected one text frame line each way: {out}"
    );
    assert!(s.lines().any(|l| l.contains("close")), "{out}");
    assert!(!s.contains('\x1b'), "colour with --color never: {out}");
}

#[test]
fn color_always_colours_the_frames_view() {
    let server = EchoServer::start();
    let out = wscope(&[
        "--frames",
        "--color",
        "always",
        "-x",
        "hi",
        &server.url("/"),
    ]);
    out.assert_code(0);
    assert!(out.stdout.contains("\x1b["), "no ANSI colour: {out}");
}
