use serde_json::Value;

use crate::common::{frame, position, wscope, Output, Script, ScriptedServer};

/// Whether `s` cites a section of RFC 6455, as in "RFC 6455 §5.2".
fn cites_rfc_section(s: &str) -> bool {
    s.match_indices("RFC 6455 §").any(|(i, m)| {
        let rest = &s[i + m.len()..];
        let mut parts = rest.splitn(2, '.');
        let major = parts.next().unwrap_or("");
        let minor = parts.next().unwrap_or("");
        major.chars().all(|c| c.is_ascii_digit())
            && !major.is_empty()
            && minor.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Sends `bytes` after a correct handshake while wscope waits for input,
/// and checks the common shape of a protocol violation: exit 3, the
/// offending incoming frame shown (checked further by `check_frame`), then
/// an `error` event with stage "protocol" citing RFC 6455. Returns the
/// error message.
fn violation(bytes: Vec<u8>, check_frame: impl Fn(&Value)) -> String {
    let server = ScriptedServer::start(Script::frames(bytes));
    let out = wscope(&["--json", "-w", "5", &server.url("/")]);
    check_violation(&out, check_frame)
}

fn check_violation(out: &Output, check_frame: impl Fn(&Value)) -> String {
    out.assert_code(3);
    out.assert_no_panic();
    let events = out.events();
    let shown = position(&events, "incoming frame", |e| {
        e["event"] == "frame" && e["dir"] == "in"
    });
    check_frame(&events[shown]);
    let error = position(&events, "protocol error", |e| {
        e["event"] == "error" && e["stage"] == "protocol"
    });
    assert!(
        shown < error,
        "error reported before the frame was shown: {events:#?}"
    );
    let message = events[error]["message"].as_str().expect("error message");
    assert!(
        cites_rfc_section(message),
        "error does not cite \"RFC 6455 §N.N\": {message:?}"
    );
    assert!(
        out.events_named("message").is_empty(),
        "a violating frame was delivered as a message: {}",
        out.stdout
    );
    message.to_string()
}

#[test]
fn rfc_citation_check_works() {
    assert!(cites_rfc_section("RSV1 set (RFC 6455 §5.2)"));
    assert!(!cites_rfc_section("RSV1 set (RFC 6455)"));
    assert!(!cites_rfc_section("RFC 6455 §x"));
}

#[test]
fn rsv1_without_extension() {
    violation(frame(true, 0b100, 1, false, b"hi"), |f| {
        assert_eq!(f["rsv1"], true, "{f}");
        assert_eq!(f["rsv2"], false, "{f}");
        assert_eq!(f["rsv3"], false, "{f}");
        assert_eq!(f["opcode"], 1, "{f}");
    });
}

#[test]
fn violation_while_closing_is_still_reported() {
    // No -w: wscope sends its Close at once and the bad frame arrives while
    // it waits for the server's.
    let server = ScriptedServer::start(Script::frames(frame(true, 0b100, 1, false, b"hi")));
    let out = wscope(&["--json", &server.url("/")]);
    check_violation(&out, |f| assert_eq!(f["rsv1"], true, "{f}"));
}

#[test]
fn rsv1_without_extension_in_payload_mode_reports_on_stderr() {
    let server = ScriptedServer::start(Script::frames(frame(true, 0b100, 1, false, b"hi")));
    let out = wscope(&["-w", "5", &server.url("/")]);
    out.assert_code(3);
    out.assert_no_panic();
    assert_eq!(
        out.stdout, "",
        "violating frame printed as a message: {out}"
    );
    let error_lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("wscope: error: "))
        .collect();
    assert_eq!(error_lines.len(), 1, "{out}");
    assert!(error_lines[0].contains("RFC 6455"), "{out}");
}

#[test]
fn masked_frame_from_server() {
    violation(frame(true, 0, 1, true, b"hi"), |f| {
        assert_eq!(f["masked"], true, "{f}");
        assert_eq!(f["mask_key"], "01020304", "{f}");
        assert_eq!(f["header_len"], 6, "{f}");
    });
}

#[test]
fn reserved_data_opcode_3() {
    violation(frame(true, 0, 3, false, b"x"), |f| {
        assert_eq!(f["opcode"], 3, "{f}");
        assert_eq!(f["kind"], "reserved", "{f}");
    });
}

#[test]
fn reserved_control_opcode_0xb() {
    violation(frame(true, 0, 0xB, false, b""), |f| {
        assert_eq!(f["opcode"], 11, "{f}");
        assert_eq!(f["kind"], "reserved", "{f}");
    });
}

#[test]
fn ping_with_126_byte_payload() {
    violation(frame(true, 0, 9, false, &[b'p'; 126]), |f| {
        assert_eq!(f["opcode"], 9, "{f}");
        assert_eq!(f["kind"], "ping", "{f}");
        assert_eq!(f["len"], 126, "{f}");
        assert_eq!(f["header_len"], 4, "{f}");
    });
}

#[test]
fn fragmented_ping() {
    violation(frame(false, 0, 9, false, b"p"), |f| {
        assert_eq!(f["opcode"], 9, "{f}");
        assert_eq!(f["fin"], false, "{f}");
    });
}

#[test]
fn close_with_reserved_code_1005() {
    violation(frame(true, 0, 8, false, &1005u16.to_be_bytes()), |f| {
        assert_eq!(f["opcode"], 8, "{f}");
        assert_eq!(f["close_code"], 1005, "{f}");
    });
}

#[test]
fn close_with_out_of_range_code_999() {
    violation(frame(true, 0, 8, false, &999u16.to_be_bytes()), |f| {
        assert_eq!(f["opcode"], 8, "{f}");
        assert_eq!(f["close_code"], 999, "{f}");
    });
}

#[test]
fn close_with_one_byte_payload() {
    violation(frame(true, 0, 8, false, &[0x03]), |f| {
        assert_eq!(f["opcode"], 8, "{f}");
        assert_eq!(f["len"], 1, "{f}");
    });
}

#[test]
fn text_with_invalid_utf8() {
    violation(frame(true, 0, 1, false, &[0xC3, 0x28]), |f| {
        assert_eq!(f["opcode"], 1, "{f}");
        assert_eq!(f["len"], 2, "{f}");
        if f["payload_encoding"] == "hex" {
            let payload = f["payload"].as_str().unwrap().to_ascii_lowercase();
            assert!(payload.replace(' ', "").contains("c328"), "{f}");
        }
    });
}

#[test]
fn continuation_without_a_message_to_continue() {
    violation(frame(true, 0, 0, false, b"orphan"), |f| {
        assert_eq!(f["opcode"], 0, "{f}");
        assert_eq!(f["kind"], "continuation", "{f}");
    });
}

#[test]
fn the_refused_frame_comes_before_its_error_when_both_streams_share_a_pipe() {
    let server = ScriptedServer::start(Script::frames(frame(true, 0b100, 1, false, b"hi")));
    // `2>&1 | cat`: stdout is batched, stderr is not.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "\"$0\" --frames -w 5 \"$1\" 2>&1",
            env!("CARGO_BIN_EXE_wscope"),
            &server.url("/"),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    let frame_at = text.find("rsv=100").expect("the frame is shown");
    let error_at = text.find("wscope: error:").expect("the error is shown");
    assert!(frame_at < error_at, "{text}");
}
