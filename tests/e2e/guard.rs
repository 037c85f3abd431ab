//! The header guard: a frame whose header already breaks a rule (a control
//! frame too long or fragmented, reserved bits or opcode, the wrong masking,
//! an impossible length, a size over --max-message-size) is refused at its
//! header. wscope shows the frame, sends its Close with the matching code
//! without waiting for the payload, reports a protocol error and exits 3;
//! a peer that goes on sending payload does not make it hold that payload.
//!
//! The peers here send the bad header (and at most a few payload bytes)
//! and then nothing more, so a Close that comes at all was sent before any
//! more payload: the frame was refused at its header.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{
    accept_key, frame, parse_client_frames, position, run_measured, wscope, Listener, Output,
};

/// How long the peers wait for the Close before giving up on it.
const WINDOW: Duration = Duration::from_secs(10);

/// The ceiling on wscope's peak memory while a peer streams a payload it
/// has refused.
const MAX_RSS_KIB: u64 = 32 * 1024;

/// What a peer saw of wscope after sending the bad header.
struct Seen {
    /// The payload of the first Close wscope sent within [`WINDOW`].
    close: Option<Vec<u8>>,
    /// Payload bytes written after the header by the time the Close came
    /// (or the window ended): always 0 for a silent peer.
    streamed: u64,
}

impl Seen {
    /// The code of wscope's Close: `None` if it sent none in time, 0 if it
    /// sent one without a code.
    fn code(&self) -> Option<u16> {
        self.close
            .as_ref()
            .map(|p| p.get(..2).map_or(0, |c| u16::from_be_bytes([c[0], c[1]])))
    }
}

/// What a server does after its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Send nothing more; answer wscope's Close with the same payload.
    Silence,
    /// Keep sending payload bytes, 64 KiB at a time, until a write fails or
    /// 200 MB went out; never answer the Close.
    Stream,
}

/// Reads from `stream` until a Close frame comes (returning its payload) or
/// the window ends. `reader` holds bytes already buffered.
fn wait_for_close(reader: &mut impl Read, stream: &TcpStream) -> Option<Vec<u8>> {
    let deadline = Instant::now() + WINDOW;
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let frames = parse_client_frames(&received);
        if let Some((_, payload)) = frames.into_iter().find(|(op, _)| *op == 8) {
            return Some(payload);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A one-connection server on 127.0.0.1:0 that completes the opening
/// handshake, writes `bytes`, then does what `then` says while it waits for
/// wscope's Close; the handle gives what it saw.
fn guard_server(bytes: Vec<u8>, then: Then) -> (u16, JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let key = crate::common::read_upgrade_key(&mut reader);
        let mut wire = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        )
        .into_bytes();
        wire.extend_from_slice(&bytes);
        stream.write_all(&wire).unwrap();

        let streamed = Arc::new(AtomicU64::new(0));
        let writer = (then == Then::Stream).then(|| {
            let mut out = stream.try_clone().unwrap();
            let streamed = streamed.clone();
            thread::spawn(move || {
                let chunk = vec![0x5a; 64 * 1024];
                while streamed.load(Ordering::Relaxed) < 200_000_000 {
                    if out.write_all(&chunk).is_err() {
                        return;
                    }
                    streamed.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            })
        });
        let close = wait_for_close(&mut reader, &stream);
        let seen = Seen {
            close,
            streamed: streamed.load(Ordering::Relaxed),
        };
        if then == Then::Silence {
            if let Some(payload) = &seen.close {
                let _ = stream.write_all(&frame(true, 0, 8, false, payload));
            }
        }
        if seen.close.is_some() {
            // wscope ends the connection now.
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let _ = reader.read_to_end(&mut Vec::new());
        }
        // Ends the connection (and a writer blocked on it) if wscope has not.
        let _ = stream.shutdown(Shutdown::Both);
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        seen
    });
    (port, handle)
}

/// wscope as the client of a silent guard server that sends `bytes`.
fn client_run(bytes: Vec<u8>, extra: &[&str]) -> (Output, Seen) {
    let (port, server) = guard_server(bytes, Then::Silence);
    let url = format!("ws://127.0.0.1:{port}/");
    // -w: our own end of input must not close first.
    let mut args = vec!["--json", "-w", "30"];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = wscope(&args);
    (out, server.join().unwrap())
}

/// The refusal as the contract has it: a Close with `code`, exit 3, and a
/// protocol error after the frame event of the bad frame (`bad`).
fn assert_refused(out: &Output, seen: &Seen, code: u16, bad: impl Fn(&Value) -> bool) {
    assert_eq!(
        seen.code(),
        Some(code),
        "wscope's Close (None: none within {WINDOW:?}; it waited for the payload)\n{out}"
    );
    out.assert_code(3);
    out.assert_no_panic();
    let events = out.events();
    let error = position(&events, "error event", |e| e["event"] == "error");
    assert_eq!(events[error]["stage"], "protocol", "{out}");
    let shown = position(&events, "frame event of the bad frame", |e| {
        e["event"] == "frame" && e["dir"] == "in" && bad(e)
    });
    assert!(
        shown < error,
        "the bad frame is shown before the error\n{out}"
    );
}

/// A frame header with a 64-bit length (no mask), then `some` payload bytes.
fn header64(first: u8, len: u64, some: &[u8]) -> Vec<u8> {
    let mut bytes = vec![first, 127];
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(some);
    bytes
}

#[test]
fn a_ping_announcing_a_gigabyte_is_refused_at_its_header_with_1002() {
    let (out, seen) = client_run(header64(0x89, 1_000_000_000, b""), &[]);
    assert_refused(&out, &seen, 1002, |f| {
        f["opcode"] == 9 && f["len"] == 1_000_000_000u64
    });
}

#[test]
fn rsv1_without_an_extension_is_refused_at_its_header_with_1002() {
    let (out, seen) = client_run(header64(0xC1, 100_000_000, b"abc"), &[]);
    assert_refused(&out, &seen, 1002, |f| {
        f["opcode"] == 1 && f["rsv1"] == true && f["len"] == 100_000_000u64
    });
}

#[test]
fn a_frame_over_max_message_size_is_refused_at_its_header_with_1009() {
    let (out, seen) = client_run(
        header64(0x82, 1_000_000_000, b"abc"),
        &["--max-message-size", "1000000"],
    );
    assert_refused(&out, &seen, 1009, |f| {
        f["opcode"] == 2 && f["len"] == 1_000_000_000u64
    });
}

#[test]
fn a_64_bit_length_with_its_top_bit_set_is_a_protocol_error_not_a_size() {
    // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
    let (out, seen) = client_run(header64(0x82, (1 << 63) | 0x10, b"abc"), &[]);
    assert_refused(&out, &seen, 1002, |f| f["opcode"] == 2);
}

#[test]
fn a_continuation_that_would_pass_max_message_size_is_refused_at_its_header() {
    let mut bytes = frame(false, 0, 1, false, &vec![b'a'; 600_000]);
    bytes.extend(header64(0x80, 600_000, b"abc"));
    let (out, seen) = client_run(bytes, &["--max-message-size", "1000000"]);
    assert_refused(&out, &seen, 1009, |f| {
        f["opcode"] == 0 && f["len"] == 600_000
    });
    let events = out.events();
    let first = position(&events, "the first frame", |e| {
        e["event"] == "frame" && e["dir"] == "in" && e["opcode"] == 1 && e["fin"] == false
    });
    let second = position(&events, "the continuation", |e| {
        e["event"] == "frame" && e["dir"] == "in" && e["opcode"] == 0
    });
    assert!(first < second, "{out}");
    assert!(
        out.events_named("message").is_empty(),
        "no message was complete\n{out}"
    );
}

#[test]
fn a_reserved_opcode_is_refused_at_its_header_with_1002() {
    // Announces 1000 bytes (16-bit length); sends 3.
    let (out, seen) = client_run(vec![0x83, 126, 0x03, 0xE8, 1, 2, 3], &[]);
    assert_refused(&out, &seen, 1002, |f| f["opcode"] == 3);
}

#[test]
fn a_fragmented_ping_is_refused_at_its_header_with_1002() {
    // FIN clear; announces 100 bytes, sends 3.
    let (out, seen) = client_run(vec![0x09, 100, b'a', b'b', b'c'], &[]);
    assert_refused(&out, &seen, 1002, |f| f["opcode"] == 9 && f["fin"] == false);
}

#[test]
fn a_masked_frame_from_the_server_is_refused_at_its_header_with_1002() {
    // Announces 1000 bytes with a mask key; sends 3.
    let (out, seen) = client_run(vec![0x81, 0x80 | 126, 0x03, 0xE8, 1, 2, 3, 4, 9, 9, 9], &[]);
    assert_refused(&out, &seen, 1002, |f| {
        f["opcode"] == 1 && f["masked"] == true
    });
}

#[test]
fn as_a_server_an_unmasked_client_frame_is_refused_at_its_header_with_1002() {
    // --echo: a server that needs no input, so none ends the session.
    let server = Listener::start(&["--json", "--echo"]);
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let mut writer = stream.try_clone().unwrap();
    write!(
        writer,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(reader.read_line(&mut head).unwrap() > 0, "{head:?}");
    }
    assert!(head.contains(&accept_key(key)), "{head}");
    // An unmasked text frame announcing 100,000 bytes; 3 of them.
    writer.write_all(&header64(0x81, 100_000, b"abc")).unwrap();
    let close = wait_for_close(&mut reader, &stream);
    if let Some(payload) = &close {
        let _ = writer.write_all(&frame(true, 0, 8, true, payload));
        let _ = reader.read_to_end(&mut Vec::new());
    }
    drop((reader, writer, stream));
    let out = server.finish();
    let seen = Seen { close, streamed: 0 };
    assert_refused(&out, &seen, 1002, |f| {
        f["opcode"] == 1 && f["masked"] == false
    });
}

/// wscope as the client of a guard server that streams payload after
/// `header`; its output, what the server saw, and its peak RSS in KiB.
fn measured_run(header: Vec<u8>, extra: &[&str]) -> (Output, Seen, u64) {
    let (port, server) = guard_server(header, Then::Stream);
    let mut command = Command::new(env!("CARGO_BIN_EXE_wscope"));
    command
        .args(["--json", "-w", "30"])
        .args(extra)
        .arg(format!("ws://127.0.0.1:{port}/"));
    let (out, peak) = run_measured(command);
    (out, server.join().unwrap(), peak)
}

/// A refusal while the payload keeps coming: the Close, exit 3, and memory
/// that did not follow the payload.
fn assert_refused_in_bounded_memory(out: &Output, seen: &Seen, peak_kib: u64, code: u16) {
    let facts = format!(
        "peak RSS {peak_kib} KiB; Close code {:?}; {} payload bytes streamed by then",
        seen.code(),
        seen.streamed
    );
    assert_eq!(seen.code(), Some(code), "{facts}\n{out}");
    out.assert_code(3);
    assert!(peak_kib < MAX_RSS_KIB, "{facts}\n{out}");
}

#[test]
fn a_gigabyte_ping_streamed_after_its_header_does_not_grow_memory() {
    let (out, seen, peak) = measured_run(header64(0x89, 1_000_000_000, b""), &[]);
    assert_refused_in_bounded_memory(&out, &seen, peak, 1002);
}

#[test]
fn an_oversized_frame_streamed_after_its_header_does_not_grow_memory() {
    let (out, seen, peak) = measured_run(
        header64(0x82, 1_000_000_000, b""),
        &["--max-message-size", "1000000"],
    );
    assert_refused_in_bounded_memory(&out, &seen, peak, 1009);
}
