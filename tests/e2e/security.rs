//! Hostile peers: what a peer says reaches the terminal escaped, in every
//! view and on stderr; credentials do not follow a redirect to another
//! origin; every wait and allocation has a bound; the handshake is read
//! as RFC 6455 and RFC 9110 say, whoever wrote the offer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::common::{
    accept_key, close_frame, frame, parse_client_frames, run_measured, wscope, Output,
};

/// A server for one connection: reads the request head, then hands the
/// socket and the request to `then`; returns its port and what it
/// returned.
fn serve_once<T: Send + 'static>(
    then: impl FnOnce(&mut TcpStream, &str) -> T + Send + 'static,
) -> (u16, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let request = read_request(&mut stream);
        then(&mut stream, &request)
    });
    (port, handle)
}

fn read_request(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn key_of(request: &str) -> String {
    request
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default()
}

/// A correct 101 head with `extra` header lines.
fn upgrade(request: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(&key_of(request))
    )
}

/// Reads what the client sends until it closes.
fn drain(stream: &mut TcpStream) {
    let _ = stream.read_to_end(&mut Vec::new());
}

const EVIL: &str = "\x1b]0;pwned\x07\x1b[2J\u{9b}31mfake OK";
/// What a header value can carry past an HTTP parser: obs-text, such as
/// the 8-bit CSI in UTF-8.
const EVIL_HEADER: &str = "\u{9b}2J\u{9b}32mpwned";

/// Nothing a peer sent reaches stdout or stderr raw. (In payload mode,
/// stdout is a pipe's data, never a terminal: payloads go there as they
/// are, so only stderr is checked.)
fn assert_nothing_raw(out: &Output, payload_mode: bool) {
    let mut streams = vec![("stderr", out.stderr.as_bytes())];
    if !payload_mode {
        streams.push(("stdout", out.stdout.as_bytes()));
    }
    for (name, bytes) in streams {
        assert!(!bytes.contains(&0x1b), "ESC reached {name}:\n{out}");
        assert!(!bytes.contains(&0x07), "BEL reached {name}:\n{out}");
        assert!(
            !bytes.windows(2).any(|w| w == [0xc2, 0x9b]),
            "the 8-bit CSI reached {name}:\n{out}"
        );
    }
}

#[test]
fn control_sequences_in_a_good_upgrade_are_escaped_in_every_view() {
    for view in [&["--frames"][..], &["--json"], &[]] {
        let (port, server) = serve_once(|stream, request| {
            let head = upgrade(request, &format!("X-Evil: {EVIL_HEADER}\r\n"));
            let _ = stream.write_all(head.as_bytes());
            let mut frames = frame(true, 0, 1, false, EVIL.as_bytes());
            frames.extend(close_frame(4000, EVIL));
            let _ = stream.write_all(&frames);
            drain(stream);
        });
        let mut args = view.to_vec();
        let url = format!("ws://127.0.0.1:{port}/");
        args.extend(["-w", "5", &url]);
        let out = wscope(&args);
        server.join().unwrap();
        assert_nothing_raw(&out, view.is_empty());
        assert!(
            out.stdout.contains("pwned") || out.stderr.contains("pwned"),
            "{out}"
        );
    }
}

#[test]
fn control_sequences_in_a_refusal_are_escaped_on_stdout_and_stderr() {
    for view in [&["--frames"][..], &["--json"], &[]] {
        let (port, server) = serve_once(|stream, _| {
            let body = format!("denied {EVIL}\n");
            let head = format!(
                "HTTP/1.1 403 {EVIL_HEADER}\r\nX-Why: {EVIL_HEADER}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
        });
        let mut args = view.to_vec();
        let url = format!("ws://127.0.0.1:{port}/");
        args.push(&url);
        let out = wscope(&args);
        server.join().unwrap();
        out.assert_code(1);
        assert_nothing_raw(&out, false);
        assert!(out.stderr.contains("wscope: error:"), "{out}");
        assert!(
            out.stdout.contains("pwned") || out.stderr.contains("pwned"),
            "{out}"
        );
    }
}

#[test]
fn a_head_too_broken_to_parse_is_quoted_escaped() {
    let (port, server) = serve_once(|stream, _| {
        let head = format!("HTTP/1.1 101 {EVIL}\r\nX: {EVIL}\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
    });
    let out = wscope(&["--json", &format!("ws://127.0.0.1:{port}/")]);
    server.join().unwrap();
    out.assert_code(1);
    assert_nothing_raw(&out, false);
}

/// A server that redirects to `to`, and the request it got.
fn redirecting(to: String) -> (u16, JoinHandle<String>) {
    serve_once(move |stream, request| {
        let head = format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        request.to_string()
    })
}

/// The redirect target: accepts the upgrade, answers the Close, records
/// the request.
fn target() -> (u16, JoinHandle<String>) {
    serve_once(|stream, request| {
        let _ = stream.write_all(upgrade(request, "").as_bytes());
        reply_to_close(stream);
        request.to_string()
    })
}

/// Reads the client's frames until its Close, and answers it.
fn reply_to_close(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        seen.extend_from_slice(&chunk[..n]);
        if parse_client_frames(&seen).iter().any(|(op, _)| *op == 8) {
            let _ = stream.write_all(&close_frame(1000, ""));
            drain(stream);
            return;
        }
    }
}

#[test]
fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let (to, landed) = target();
    let (from, first) = redirecting(format!("ws://127.0.0.1:{to}/next"));
    let out = wscope(&[
        "-L",
        "--auth",
        "alice:s3cret",
        "-H",
        "Cookie: session=abc",
        "-H",
        "X-Trace: 7",
        "--json",
        &format!("ws://127.0.0.1:{from}/"),
    ]);
    out.assert_code(0);
    let first = first.join().unwrap();
    assert!(first.contains("Authorization: Basic") && first.contains("Cookie: session=abc"));
    let landed = landed.join().unwrap();
    assert!(!landed.contains("Authorization"), "{landed}");
    assert!(!landed.contains("Cookie"), "{landed}");
    assert!(
        landed.contains("X-Trace: 7"),
        "other headers still go: {landed}"
    );
    let notice = out
        .events_named("notice")
        .into_iter()
        .find(|n| n["message"].as_str().unwrap().contains("following 302"))
        .expect("the hop is announced");
    let said = notice["message"].as_str().unwrap();
    assert!(said.contains("not sending Authorization, Cookie"), "{said}");
}

#[test]
fn credentials_follow_a_redirect_on_the_same_origin_or_when_trusted() {
    // Same origin: a new path on the same server (two connections).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut first, _) = listener.accept().unwrap();
        let _ = read_request(&mut first);
        let head = "HTTP/1.1 307 Temporary Redirect
Location: /moved
Content-Length: 0

";
        let _ = first.write_all(head.as_bytes());
        let (mut second, _) = listener.accept().unwrap();
        let request = read_request(&mut second);
        let _ = second.write_all(upgrade(&request, "").as_bytes());
        reply_to_close(&mut second);
        request
    });
    let out = wscope(&[
        "-L",
        "--auth",
        "alice:s3cret",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    out.assert_code(0);
    assert!(server.join().unwrap().contains("Authorization: Basic"));

    let (to, landed) = target();
    let (from, _) = redirecting(format!("ws://127.0.0.1:{to}/"));
    let out = wscope(&[
        "-L",
        "--location-trusted",
        "-H",
        "Cookie: a=b",
        &format!("ws://127.0.0.1:{from}/"),
    ]);
    out.assert_code(0);
    assert!(landed.join().unwrap().contains("Cookie: a=b"));
}

#[test]
fn size_limits_beyond_the_machine_are_usage_errors() {
    for option in ["--max-frame-size", "--max-message-size"] {
        let out = wscope(&[option, "9223372036854775807", "ws://127.0.0.1:9/"]);
        out.assert_code(2);
        assert!(
            out.stderr.contains(option) && out.stderr.contains("memory"),
            "{out}"
        );
    }
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_bounded_by_connect_timeout() {
    let (port, server) = serve_once(|stream, _| {
        for b in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" {
            if stream.write_all(&[*b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    let out = wscope(&["--connect-timeout", "1", &format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("within 1 s (--connect-timeout)"),
        "{out}"
    );
    assert!(out.stderr.contains("got "), "what arrived is said: {out}");
    drop(server);
}

#[test]
fn a_message_still_arriving_is_not_cut_off_by_wait() {
    // 1 MB in 20 pieces, 50 ms apart: longer than -w, never silent as long.
    let (port, server) = serve_once(|stream, request| {
        let _ = stream.write_all(upgrade(request, "").as_bytes());
        let message = frame(true, 0, 2, false, &vec![0x5a; 1_000_000]);
        for piece in message.chunks(message.len() / 20 + 1) {
            if stream.write_all(piece).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = stream.write_all(&close_frame(1000, ""));
        drain(stream);
    });
    let out = wscope(&["--json", "-w", "0.3", &format!("ws://127.0.0.1:{port}/")]);
    server.join().unwrap();
    let messages = out.events_named("message");
    assert_eq!(messages.len(), 1, "{out}");
    assert_eq!(messages[0]["len"], 1_000_000);
    out.assert_code(0);
}

#[test]
fn a_repeated_sec_websocket_accept_is_refused() {
    let (port, server) = serve_once(|stream, request| {
        let accept = accept_key(&key_of(request));
        let head = upgrade(request, &format!("Sec-WebSocket-Accept: {accept}\r\n"));
        let _ = stream.write_all(head.as_bytes());
        drain(stream);
    });
    let out = wscope(&[&format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    assert!(out.stderr.contains("Sec-WebSocket-Accept 2 times"), "{out}");
    drop(server);
}

#[test]
fn interim_responses_are_shown_and_skipped() {
    let (port, server) = serve_once(|stream, request| {
        let mut head = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n".to_string();
        head += &upgrade(request, "");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&frame(true, 0, 1, false, b"after the interim"));
        let _ = stream.write_all(&close_frame(1000, ""));
        drain(stream);
    });
    let out = wscope(&["--json", "-w", "5", &format!("ws://127.0.0.1:{port}/")]);
    server.join().unwrap();
    out.assert_code(0);
    let response = out.single("response");
    assert_eq!(response["status"], 101);
    assert_eq!(
        response["interim"].as_array().unwrap().len(),
        2,
        "{response}"
    );
    assert_eq!(out.events_named("message")[0]["data"], "after the interim");
}

#[test]
fn offers_written_with_h_count_when_the_answer_is_checked() {
    let (port, server) = serve_once(|stream, request| {
        let head = upgrade(request, "Sec-WebSocket-Protocol: chat\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&close_frame(1000, ""));
        drain(stream);
    });
    let out = wscope(&[
        "-H",
        "Sec-WebSocket-Protocol: chat, v2",
        "-w",
        "5",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    server.join().unwrap();
    out.assert_code(0);

    // An extension offered with -H and accepted is named as one wscope
    // does not implement, not as "not offered".
    let (port, server) = serve_once(|stream, request| {
        let head = upgrade(request, "Sec-WebSocket-Extensions: x-webkit-test\r\n");
        let _ = stream.write_all(head.as_bytes());
        drain(stream);
    });
    let out = wscope(&[
        "-H",
        "Sec-WebSocket-Extensions: x-webkit-test; level=2",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("does not implement"), "{out}");
    drop(server);
}

#[test]
fn heads_with_many_headers_bare_lf_or_http_1_0_are_read() {
    let many: String = (0..200)
        .map(|i| format!("X-Header-{i}: value\r\n"))
        .collect();
    for (case, make) in [
        (
            "200 headers",
            Box::new(move |r: &str| upgrade(r, &many)) as Box<dyn Fn(&str) -> String + Send>,
        ),
        (
            "bare LF",
            Box::new(|r: &str| upgrade(r, "").replace("\r\n", "\n")),
        ),
        (
            "HTTP/1.0",
            Box::new(|r: &str| upgrade(r, "").replace("HTTP/1.1", "HTTP/1.0")),
        ),
    ] {
        let (port, server) = serve_once(move |stream, request| {
            let _ = stream.write_all(make(request).as_bytes());
            let _ = stream.write_all(&close_frame(1000, ""));
            drain(stream);
        });
        let out = wscope(&["--json", "-w", "5", &format!("ws://127.0.0.1:{port}/")]);
        server.join().unwrap();
        assert_eq!(out.code, 0, "{case}: {out}");
        if case == "HTTP/1.0" {
            assert!(out.stdout.contains("HTTP/1.0; RFC 6455"), "{out}");
        }
    }
}

/// Peak memory while one large binary message is shown, in each view.
fn peak_for_a_big_message(view: &[&str]) -> (Output, u64) {
    const SIZE: usize = 100 * 1024 * 1024;
    let (port, server) = serve_once(|stream, request| {
        let _ = stream.write_all(upgrade(request, "").as_bytes());
        let _ = stream.write_all(&frame(true, 0, 2, false, &vec![0xab; SIZE]));
        let _ = stream.write_all(&close_frame(1000, ""));
        drain(stream);
    });
    let mut command = Command::new(env!("CARGO_BIN_EXE_wscope"));
    command
        .args(view)
        // Above the 64 MiB default, as a user with big messages sets it.
        .args([
            "--max-message-size",
            "200000000",
            "--max-frame-size",
            "200000000",
        ])
        .args(["-w", "10", &format!("ws://127.0.0.1:{port}/")])
        .stdout(std::process::Stdio::piped());
    let (out, peak_kib) = run_measured(command);
    server.join().unwrap();
    (out, peak_kib)
}

#[test]
fn a_big_message_costs_little_more_than_itself_in_any_output() {
    for view in [&["--json"][..], &[]] {
        let (out, peak_kib) = peak_for_a_big_message(view);
        out.assert_code(0);
        assert!(
            out.stdout_bytes.len() > 200 * 1024 * 1024,
            "hex was printed"
        );
        let limit_kib = 100 * 1024 * 13 / 10;
        assert!(
            peak_kib < limit_kib,
            "{view:?}: peak {peak_kib} KiB for a 100 MiB message (limit {limit_kib})"
        );
    }
}
