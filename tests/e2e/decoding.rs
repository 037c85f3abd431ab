use serde_json::Value;

use crate::common::{
    close_frame, frame, frame_with, position, text_frame, wscope, After, Script, ScriptedServer,
};

/// Incoming frame events with this opcode, in order.
fn incoming(events: &[Value], opcode: u64) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["event"] == "frame" && e["dir"] == "in" && e["opcode"] == opcode)
        .cloned()
        .collect()
}

#[test]
fn payload_lengths_use_7_16_and_64_bit_encodings() {
    let lengths = [0usize, 125, 126, 65535, 65536];
    let mut bytes = Vec::new();
    for len in lengths {
        bytes.extend(text_frame(&"a".repeat(len)));
    }
    bytes.extend(close_frame(1000, "done"));
    let server = ScriptedServer::start(Script::frames(bytes));
    let out = wscope(&["--json", &server.url("/")]);
    out.assert_code(0);
    let events = out.events();

    let frames = incoming(&events, 1);
    assert_eq!(frames.len(), lengths.len(), "{frames:#?}");
    for ((f, len), header_len) in frames.iter().zip(lengths).zip([2, 2, 4, 4, 10]) {
        assert_eq!(f["len"], len, "len of {len}-byte frame");
        assert_eq!(
            f["header_len"], header_len,
            "header_len of {len}-byte frame"
        );
        assert_eq!(f["fin"], true);
        assert_eq!(f["masked"], false);
        assert_eq!(f["truncated"], len > 128, "truncated of {len}-byte frame");
        let payload = f["payload"].as_str().expect("payload");
        if len <= 128 {
            assert_eq!(payload, "a".repeat(len), "{len}-byte payload");
        } else {
            assert!(payload.len() <= 128, "preview too long: {}", payload.len());
            assert!(payload.chars().all(|c| c == 'a'), "{payload}");
        }
    }

    let messages: Vec<Value> = out
        .events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .collect();
    let message_lens: Vec<u64> = messages
        .iter()
        .map(|m| m["len"].as_u64().unwrap())
        .collect();
    assert_eq!(message_lens, [0, 125, 126, 65535, 65536]);

    let close_in = incoming(&events, 8);
    assert_eq!(close_in.len(), 1, "{close_in:#?}");
    assert_eq!(close_in[0]["close_code"], 1000);
    assert_eq!(close_in[0]["close_reason"], "done");
    assert_eq!(close_in[0]["len"], 6);
    assert_eq!(close_in[0]["kind"], "close");

    let log = server.log();
    let client_frames = log.client_frames();
    assert!(
        client_frames
            .iter()
            .any(|(op, p)| *op == 8 && p.starts_with(&1000u16.to_be_bytes())),
        "client sent no Close 1000: {client_frames:?}"
    );
}

#[test]
fn preview_caps_the_payload_shown() {
    let mut bytes = text_frame(&"b".repeat(126));
    bytes.extend(close_frame(1000, ""));
    let server = ScriptedServer::start(Script::frames(bytes));
    let out = wscope(&["--json", "--preview", "16", &server.url("/")]);
    out.assert_code(0);
    let frames = incoming(&out.events(), 1);
    assert_eq!(frames.len(), 1, "{frames:#?}");
    let f = &frames[0];
    assert_eq!(f["len"], 126, "{f}");
    assert_eq!(f["truncated"], true, "{f}");
    let payload = f["payload"].as_str().expect("payload");
    assert!(
        !payload.is_empty() && payload.len() <= 16,
        "preview of {} bytes: {f}",
        payload.len()
    );
    assert!(payload.chars().all(|c| c == 'b'), "{f}");
}

#[test]
fn the_frame_view_honours_preview_and_counts_what_it_hides() {
    let line = "0123456789".repeat(30);
    for (preview, shown, hidden) in [("128", 128, Some(172)), ("1000", 300, None)] {
        let mut bytes = text_frame(&line);
        bytes.extend(close_frame(1000, ""));
        let server = ScriptedServer::start(Script::frames(bytes));
        let out = wscope(&["--frames", "--preview", preview, &server.url("/")]);
        out.assert_code(0);
        let frame_line = out
            .stdout
            .lines()
            .find(|l| l.contains("←") && l.contains("op=0x1"))
            .unwrap_or_else(|| panic!("no incoming text frame: {out}"));
        let quoted = format!("\"{}\"", &line[..shown]);
        assert!(
            frame_line.contains(&quoted),
            "--preview {preview}: {frame_line}"
        );
        match hidden {
            Some(n) => assert!(
                frame_line.ends_with(&format!("…(+{n} bytes)")),
                "--preview {preview}: {frame_line}"
            ),
            None => assert!(!frame_line.contains('…'), "{frame_line}"),
        }
    }
}

#[test]
fn fragmented_message_is_two_frames_and_one_message() {
    let mut bytes = frame(false, 0, 1, false, b"hel");
    bytes.extend(frame(true, 0, 0, false, b"lo"));
    bytes.extend(close_frame(1000, ""));
    let server = ScriptedServer::start(Script::frames(bytes));
    let out = wscope(&["--json", &server.url("/")]);
    out.assert_code(0);
    let events = out.events();

    let data_frames: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "frame" && e["dir"] == "in" && e["opcode"].as_u64() < Some(8))
        .collect();
    assert_eq!(data_frames.len(), 2, "{data_frames:#?}");
    let (first, second) = (data_frames[0], data_frames[1]);
    assert_eq!(first["opcode"], 1, "{first}");
    assert_eq!(first["kind"], "text", "{first}");
    assert_eq!(first["fin"], false, "{first}");
    assert_eq!(first["payload"], "hel", "{first}");
    assert_eq!(second["opcode"], 0, "{second}");
    assert_eq!(second["kind"], "continuation", "{second}");
    assert_eq!(second["fin"], true, "{second}");
    assert_eq!(second["payload"], "lo", "{second}");

    let messages: Vec<Value> = out
        .events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .collect();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["data"], "hello");
    assert_eq!(messages[0]["kind"], "text");
    assert_eq!(messages[0]["len"], 5);
    let continuation = position(&events, "continuation frame", |e| {
        e["event"] == "frame" && e["opcode"] == 0
    });
    let message = position(&events, "message", |e| {
        e["event"] == "message" && e["dir"] == "in"
    });
    assert!(continuation < message, "message before its last frame");
}

#[test]
fn binary_message_is_hex_in_payload_mode_and_json() {
    let mut bytes = frame(true, 0, 2, false, &[0xde, 0xad, 0xbe, 0xef]);
    bytes.extend(close_frame(1000, ""));
    let server = ScriptedServer::start(Script::frames(bytes.clone()));
    let out = wscope(&[&server.url("/")]);
    out.assert_code(0);
    assert_eq!(out.stdout.to_ascii_lowercase(), "deadbeef\n", "{out}");

    let server = ScriptedServer::start(Script::frames(bytes));
    let out = wscope(&["--json", &server.url("/")]);
    out.assert_code(0);
    let message = out.single("message");
    assert_eq!(message["kind"], "binary", "{message}");
    assert_eq!(message["encoding"], "hex", "{message}");
    assert_eq!(message["len"], 4, "{message}");
    assert_eq!(
        message["data"].as_str().map(str::to_ascii_lowercase),
        Some("deadbeef".to_string())
    );
    let f = &incoming(&out.events(), 2)[0];
    assert_eq!(f["kind"], "binary", "{f}");
    assert_eq!(f["payload_encoding"], "hex", "{f}");
}

#[test]
fn handshake_heads_are_shown_exactly_as_on_the_wire() {
    let server = ScriptedServer::start(Script::frames(close_frame(1000, "")));
    let out = wscope(&["--json", &server.url("/exact?x=y")]);
    out.assert_code(0);
    let request = out.single("request");
    let response = out.single("response");
    let log = server.log();
    assert_eq!(request["raw"], log.request.as_str());
    assert_eq!(response["raw"], log.response.as_str());
    assert_eq!(response["status"], 101);
    assert_eq!(response["accept_ok"], true);
    assert!(response["subprotocol"].is_null(), "{response}");
    assert!(response["extensions"].is_null(), "{response}");
}

#[test]
fn server_ping_is_answered_with_a_pong() {
    let script = Script {
        response: None,
        bytes: frame(true, 0, 9, false, b"p1"),
        after: After::ReplyToClose,
    };
    let server = ScriptedServer::start(script);
    let out = wscope(&["--json", "-w", "1", &server.url("/")]);
    out.assert_code(0);
    let events = out.events();
    let ping = &incoming(&events, 9)[0];
    assert_eq!(ping["kind"], "ping", "{ping}");
    assert_eq!(ping["payload"], "p1", "{ping}");
    let pong = frame_with(&events, "out", 10);
    assert_eq!(pong["payload"], "p1", "{pong}");
    assert_eq!(pong["kind"], "pong", "{pong}");
    assert_eq!(pong["masked"], true, "{pong}");

    let client_frames = server.log().client_frames();
    assert_eq!(
        client_frames.first(),
        Some(&(10, b"p1".to_vec())),
        "{client_frames:?}"
    );
}

#[test]
fn server_close_without_a_code_exits_0() {
    let server = ScriptedServer::start(Script::frames(frame(true, 0, 8, false, b"")));
    let out = wscope(&["--json", "-w", "5", &server.url("/")]);
    out.assert_code(0);
    let close_in = frame_with(&out.events(), "in", 8);
    assert_eq!(close_in["len"], 0, "{close_in}");
    assert!(close_in["close_code"].is_null(), "{close_in}");
    let close = out.single("close");
    assert!(close["code"].is_null(), "{close}");
    assert_eq!(close["initiator"], "remote", "{close}");
    let client_frames = server.log().client_frames();
    assert!(
        client_frames.iter().any(|(op, _)| *op == 8),
        "no Close reply: {client_frames:?}"
    );
}
