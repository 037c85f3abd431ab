//! Invalid UTF-8 fails the connection at the first bad byte, in both roles
//! (RFC 6455 §8.1): a raw peer sends a text frame in pieces, as the
//! Autobahn testsuite's 6.4.x cases do, and waits for wscope's Close before
//! it sends the rest of the frame.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{accept_key, read_upgrade_key, wscope, Listener};

/// 6.4.1: "κόσμε", then a code point past U+10FFFF, then "edited".
fn pieces() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        "κόσμε".as_bytes().to_vec(),
        vec![0xf4, 0x90, 0x80, 0x80],
        b"edited".to_vec(),
    )
}

/// A text frame's header for `len` payload bytes, masked with `key`.
fn header(len: usize, key: Option<[u8; 4]>) -> Vec<u8> {
    let mask = if key.is_some() { 0x80 } else { 0 };
    let mut h = vec![0x81, mask | len as u8];
    if let Some(key) = key {
        h.extend_from_slice(&key);
    }
    h
}

fn masked(bytes: &[u8], key: [u8; 4], from: usize) -> Vec<u8> {
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[(from + i) % 4])
        .collect()
}

/// Reads frames until a Close comes (10 s at most); its code.
fn close_code(stream: &mut TcpStream) -> Option<u16> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while Instant::now() < end {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        // Frames from either side, masked or not.
        let mut at = 0;
        while buf.len() >= at + 2 {
            let masked = buf[at + 1] & 0x80 != 0;
            let len = (buf[at + 1] & 0x7f) as usize;
            let head = 2 + if masked { 4 } else { 0 };
            if buf.len() < at + head + len {
                break;
            }
            let mut payload = buf[at + head..at + head + len].to_vec();
            if masked {
                let key = [buf[at + 2], buf[at + 3], buf[at + 4], buf[at + 5]];
                payload = masked_payload(&payload, key);
            }
            if buf[at] & 0x0f == 8 {
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
            at += head + len;
        }
    }
    None
}

fn masked_payload(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    masked(payload, key, 0)
}

#[test]
fn as_a_client_the_close_comes_before_the_rest_of_the_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, got) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let key = read_upgrade_key(&mut BufReader::new(stream.try_clone().unwrap()));
        write!(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        )
        .unwrap();
        let (good, bad, rest) = pieces();
        let len = good.len() + bad.len() + rest.len();
        stream.write_all(&header(len, None)).unwrap();
        stream.write_all(&good).unwrap();
        thread::sleep(Duration::from_millis(200));
        stream.write_all(&bad).unwrap();
        // The rest of the frame is held back until the Close came.
        let code = close_code(&mut stream);
        let _ = tx.send(code);
        let _ = stream.write_all(&rest);
    });
    let out = wscope(&["--json", "-w", "30", &format!("ws://127.0.0.1:{port}/")]);
    let code = got.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        code,
        Some(1007),
        "wscope closed with 1007 before the frame was complete"
    );
    out.assert_code(3);
    let error = out.single("error");
    assert_eq!(
        error["message"],
        "incoming message 1 is not valid UTF-8 at byte 10, in frame 1 (RFC 6455 §8.1)"
    );
}

#[test]
fn as_a_server_the_close_comes_before_the_rest_of_the_frame() {
    let server = Listener::start(&["--echo", "--json"]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 2 {
        line.clear();
    }
    let key = [0x11, 0x22, 0x33, 0x44];
    let (good, bad, rest) = pieces();
    let len = good.len() + bad.len() + rest.len();
    stream.write_all(&header(len, Some(key))).unwrap();
    stream.write_all(&masked(&good, key, 0)).unwrap();
    thread::sleep(Duration::from_millis(200));
    stream.write_all(&masked(&bad, key, good.len())).unwrap();
    let code = close_code(&mut stream);
    assert_eq!(
        code,
        Some(1007),
        "wscope closed with 1007 before the frame was complete"
    );
    let _ = stream.write_all(&masked(&rest, key, good.len() + bad.len()));
    drop(stream);
    let out = server.finish();
    out.assert_code(3);
    assert!(
        out.events_named("error").iter().any(|e| e["message"]
            == "incoming message 1 is not valid UTF-8 at byte 10, in frame 1 (RFC 6455 §8.1)"),
        "{out}"
    );
}

/// Raw deflate of `bytes` as permessage-deflate sends it (the final empty
/// block's 00 00 ff ff taken off, RFC 7692 §7.2.1).
fn deflated(bytes: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    c.compress_vec(bytes, &mut out, FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

#[test]
fn a_compressed_text_is_checked_as_it_inflates() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, got) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let key = read_upgrade_key(&mut BufReader::new(stream.try_clone().unwrap()));
        write!(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            accept_key(&key)
        )
        .unwrap();
        let mut text = b"fine so far ".to_vec();
        text.extend_from_slice(&[0xed, 0xa0, 0x80]); // a lone surrogate
        text.extend_from_slice(b" and more");
        let payload = deflated(&text);
        let mut frame = vec![0xc1, payload.len() as u8]; // FIN, RSV1, text
        frame.extend_from_slice(&payload);
        stream.write_all(&frame).unwrap();
        let _ = tx.send(close_code(&mut stream));
    });
    let out = wscope(&[
        "--json",
        "--deflate",
        "-w",
        "5",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    assert_eq!(
        got.recv_timeout(Duration::from_secs(20)).unwrap(),
        Some(1007)
    );
    out.assert_code(3);
    assert_eq!(
        out.single("error")["message"],
        "incoming message 1 is not valid UTF-8 at byte 12 of its inflated text (RFC 6455 §8.1)"
    );
}
