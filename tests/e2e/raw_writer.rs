//! The raw wire writer behind `/frame`: any length encoding, a length that
//! lies, and a frame written in pieces with pauses, as a raw server reads
//! them off the socket.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::common::{accept_key, read_upgrade_key, wscope_with_stdin, Script, ScriptedServer};

#[test]
fn frames_with_chosen_length_encodings_and_a_lying_length() {
    let server = ScriptedServer::start(Script::recording());
    let out = wscope_with_stdin(
        &["--slash", "-w", "0.3", &server.url("/")],
        b"/frame len=64 mask=01020304 text=hi\n/frame len=16 mask=off hex=ff\n/frame announce=9 mask=off text=ab\n",
    );
    out.assert_no_panic();
    let log = server.log();
    let bytes = &log.after_head;
    let hi = [b'h' ^ 1, b'i' ^ 2];
    let mut expected = vec![0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 3, 4];
    expected.extend_from_slice(&hi);
    expected.extend_from_slice(&[0x81, 126, 0, 1, 0xff]);
    expected.extend_from_slice(&[0x81, 9, b'a', b'b']);
    assert!(
        bytes.starts_with(&expected),
        "on the wire: {bytes:02x?}\nexpected:   {expected:02x?}"
    );
}

#[test]
fn a_split_frame_reaches_the_server_in_pieces() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, reads) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let key = read_upgrade_key(&mut reader);
        write!(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // Every read as it came, until 12 bytes (the 6-byte header and
        // "abcdef") are in.
        let mut got = Vec::new();
        let mut total = 0;
        let mut buf = [0u8; 64];
        while total < 12 {
            match reader.get_mut().read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n;
                    got.push(buf[..n].to_vec());
                }
            }
        }
        let _ = tx.send(got);
        // Close: 1000.
        let _ = stream.write_all(&[0x88, 2, 0x03, 0xe8]);
        thread::sleep(Duration::from_millis(300));
    });
    let out = wscope_with_stdin(
        &["--slash", "-w", "0.5", &format!("ws://127.0.0.1:{port}/")],
        b"/frame split=3 pause=250 mask=00000000 text=abcdef\n",
    );
    out.assert_no_panic();
    let got = reads.recv_timeout(Duration::from_secs(15)).unwrap();
    let all: Vec<u8> = got.concat();
    assert_eq!(all, b"\x81\x86\0\0\0\0abcdef", "{got:02x?}");
    assert!(
        got.len() >= 3,
        "three writes, 250 ms apart, arrive as three reads: {got:02x?}"
    );
}
