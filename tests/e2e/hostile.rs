//! The server side of the Autobahn testsuite's client-relevant cases, played
//! by raw sockets: what RFC 6455 requires of the client (the Close code it
//! sends, failing the connection) and that the frame view shows the
//! offending frame before the error.

use serde_json::Value;

use crate::common::{frame, wscope, After, Output, Script, ScriptedServer};

/// Runs wscope (-w, so that no Close of its own races the script) against
/// a server that writes `bytes` and then answers a Close.
fn against(bytes: Vec<u8>, extra: &[&str]) -> (Output, Vec<(u8, Vec<u8>)>) {
    let server = ScriptedServer::start(Script {
        response: None,
        bytes,
        after: After::ReplyToClose,
    });
    let url = server.url("/");
    let mut args = vec!["--json", "-w", "2"];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = wscope(&args);
    (out, server.log().client_frames())
}

/// The close code in the client's last frame, which must be a Close.
fn close_sent(frames: &[(u8, Vec<u8>)]) -> Option<u16> {
    let (op, payload) = frames.last().expect("the client sent something");
    assert_eq!(*op, 8, "the client's last frame is a Close: {frames:?}");
    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

fn incoming(out: &Output) -> Vec<Value> {
    out.events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .collect()
}

/// The connection failed: the offending frame was shown, then the error.
fn assert_failed_after_showing(out: &Output, offending: impl Fn(&Value) -> bool) {
    out.assert_code(3);
    let events = out.events();
    let shown = events
        .iter()
        .position(|e| e["event"] == "frame" && e["dir"] == "in" && offending(e))
        .unwrap_or_else(|| panic!("offending frame not shown: {out}"));
    let error = events.iter().position(|e| e["event"] == "error").unwrap();
    assert!(shown < error, "{out}");
}

#[test]
fn fragments_with_pings_between_them_are_reassembled_and_the_pings_answered() {
    let mut bytes = frame(false, 0, 1, false, b"fr");
    bytes.extend(frame(true, 0, 9, false, b"p1"));
    bytes.extend(frame(false, 0, 0, false, b"ag"));
    bytes.extend(frame(true, 0, 9, false, b"p2"));
    bytes.extend(frame(true, 0, 0, false, "ment κόσμε".as_bytes()));
    bytes.extend(frame(true, 0, 8, false, &1000u16.to_be_bytes()));
    let (out, sent) = against(bytes, &[]);
    out.assert_code(0);
    let messages = incoming(&out);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["data"], "fragment κόσμε");
    assert_eq!(messages[0]["frames"], 3);
    let pongs: Vec<&[u8]> = sent
        .iter()
        .filter(|(op, _)| *op == 0xA)
        .map(|(_, p)| p.as_slice())
        .collect();
    assert_eq!(pongs, [&b"p1"[..], &b"p2"[..]]);
}

#[test]
fn valid_utf8_split_inside_a_character_across_fragments_is_accepted() {
    let text = "κόσμε".as_bytes();
    let mut bytes = frame(false, 0, 1, false, &text[..3]);
    bytes.extend(frame(true, 0, 0, false, &text[3..]));
    bytes.extend(frame(true, 0, 8, false, &1000u16.to_be_bytes()));
    let (out, _) = against(bytes, &[]);
    out.assert_code(0);
    assert_eq!(incoming(&out)[0]["data"], "κόσμε");
}

#[test]
fn invalid_utf8_across_fragments_fails_with_1007() {
    let mut bytes = frame(false, 0, 1, false, b"ab\xf0");
    bytes.extend(frame(true, 0, 0, false, b"\x28\x8c\x28"));
    let (out, sent) = against(bytes, &[]);
    assert_failed_after_showing(&out, |f| f["opcode"] == 0);
    let message = out.single("error")["message"].as_str().unwrap().to_string();
    // "ab" then F0 28: the sequence breaks at byte 2 of message 1.
    assert_eq!(
        message,
        "incoming message 1 is not valid UTF-8 at byte 2, in frame 2 (RFC 6455 §8.1)"
    );
    assert_eq!(close_sent(&sent), Some(1007));
}

#[test]
fn invalid_utf8_in_the_last_fragment_names_the_message_and_byte() {
    let mut bytes = frame(true, 0, 1, false, b"fine");
    bytes.extend(frame(false, 0, 1, false, b"abc"));
    bytes.extend(frame(true, 0, 0, false, b"de\xff\xfeg"));
    let (out, sent) = against(bytes, &[]);
    out.assert_code(3);
    assert_eq!(incoming(&out)[0]["data"], "fine");
    let message = out.single("error")["message"].as_str().unwrap().to_string();
    assert_eq!(
        message,
        "incoming message 2 is not valid UTF-8 at byte 5, in frame 3 (RFC 6455 §8.1)"
    );
    assert_eq!(close_sent(&sent), Some(1007));
}

#[test]
fn a_close_reason_that_is_not_utf8_fails_the_connection() {
    let (out, sent) = against(frame(true, 0, 8, false, b"\x03\xe8\xff\xfe"), &[]);
    assert_failed_after_showing(&out, |f| f["kind"] == "close");
    assert!(out.single("error")["message"]
        .as_str()
        .unwrap()
        .contains("reason"));
    assert_eq!(close_sent(&sent), Some(1007));
}

#[test]
fn reserved_bits_opcodes_and_oversized_control_frames_fail_with_1002() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (frame(true, 0b010, 1, false, b"rsv2"), "rsv2"),
        (frame(true, 0b001, 1, false, b"rsv3"), "rsv3"),
        (frame(true, 0, 4, false, b""), "opcode 4"),
        (frame(true, 0, 0xF, false, b""), "opcode 15"),
        (frame(true, 0, 0xA, false, &[b'x'; 126]), "126-byte pong"),
        (
            frame(false, 0, 8, false, &1000u16.to_be_bytes()),
            "fragmented close",
        ),
    ];
    for (bytes, what) in cases {
        let (out, sent) = against(bytes, &[]);
        out.assert_code(3);
        assert_eq!(close_sent(&sent), Some(1002), "{what}");
    }
}

#[test]
fn close_codes_the_client_must_refuse_and_ones_it_must_accept() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        let (out, sent) = against(frame(true, 0, 8, false, &code.to_be_bytes()), &[]);
        out.assert_code(3);
        assert_eq!(close_sent(&sent), Some(1002), "code {code}");
    }
    for (code, exit) in [
        (1000u16, 0),
        (1001, 0),
        (1003, 4),
        (1011, 4),
        (3000, 4),
        (4999, 4),
    ] {
        let (out, sent) = against(frame(true, 0, 8, false, &code.to_be_bytes()), &[]);
        out.assert_code(exit);
        assert_eq!(close_sent(&sent), Some(code), "echoes the code it accepted");
    }
}

#[test]
fn empty_frames_of_every_kind_and_a_non_minimal_length_are_accepted() {
    let mut bytes = frame(true, 0, 1, false, b"");
    bytes.extend(frame(true, 0, 2, false, b""));
    bytes.extend(frame(true, 0, 9, false, b""));
    bytes.extend(frame(true, 0, 0xA, false, b""));
    // "hello" with its length in the 64-bit form.
    bytes.extend([0x81, 127, 0, 0, 0, 0, 0, 0, 0, 5]);
    bytes.extend(b"hello");
    bytes.extend(frame(true, 0, 8, false, &[]));
    let (out, _) = against(bytes, &[]);
    out.assert_code(0);
    let lens: Vec<u64> = incoming(&out)
        .iter()
        .map(|m| m["len"].as_u64().unwrap())
        .collect();
    assert_eq!(lens, [0, 0, 5]);
    let odd = out
        .events_named("frame")
        .into_iter()
        .find(|f| f["dir"] == "in" && f["len_bits"] == 64)
        .expect("the 64-bit length is shown as such");
    assert_eq!(odd["len"], 5);
    assert_eq!(out.single("close")["code"], Value::Null);
}

#[test]
fn a_16_mib_message_arrives_whole() {
    let payload = vec![b'z'; 16 << 20];
    let mut bytes = frame(true, 0, 1, false, &payload);
    bytes.extend(frame(true, 0, 8, false, &1000u16.to_be_bytes()));
    let server = ScriptedServer::start(Script {
        response: None,
        bytes,
        after: After::ReplyToClose,
    });
    let out = wscope(&["-w", "5", &server.url("/")]);
    out.assert_code(0);
    assert_eq!(out.stdout.len(), (16 << 20) + 1);
    assert!(out.stdout.bytes().take(16 << 20).all(|b| b == b'z'));
}

#[test]
fn invalid_utf8_is_named_even_when_later_messages_came_in_the_same_read() {
    let mut bytes = frame(true, 0, 1, false, b"x\xc3\x28y");
    bytes.extend(frame(true, 0, 1, false, b"later"));
    let (out, sent) = against(bytes, &[]);
    out.assert_code(3);
    let message = out.single("error")["message"].as_str().unwrap().to_string();
    assert_eq!(
        message,
        "incoming message 1 is not valid UTF-8 at byte 1, in frame 1 (RFC 6455 §8.1)"
    );
    assert_eq!(close_sent(&sent), Some(1007));
}
