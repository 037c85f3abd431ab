//! Frames matched to messages: each data frame event names the message it
//! belongs to (`message`, numbered per direction from 1) and its place in it
//! (`part`); each message event says how many frames carried it (`frames`)
//! under the same number (`seq`), and its `t` is when its last frame
//! finished crossing the wire. Checked where reads and writes interleave: a
//! burst in one write to a server that echoes into a small receive buffer,
//! a ping ahead of the data, a browser, and frames a second apart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    accept_key, frame, parse_client_frames, text_frame, wscope, Listener, NodeServer, Output,
};

/// Checks the pairing contract on every message event of `out`, in both
/// directions: the `seq` of the messages of one direction count 1, 2, 3...;
/// exactly `frames` frame events of that direction name the message in
/// `message`, with parts whole, or start, middle..., end; none of those
/// frames crossed later than the message's `t`. Control frames name no
/// message and no part. Incoming messages' times never go back.
fn assert_paired(out: &Output) {
    let events = out.events();
    let frames: Vec<&Value> = events.iter().filter(|e| e["event"] == "frame").collect();
    for f in &frames {
        let opcode = f["opcode"].as_u64().expect("opcode");
        if opcode >= 8 {
            assert_eq!(
                (f.get("message"), f.get("part")),
                (Some(&Value::Null), Some(&Value::Null)),
                "a control frame belongs to no message: {f}\n{out}"
            );
        }
    }
    for dir in ["in", "out"] {
        let messages: Vec<&Value> = events
            .iter()
            .filter(|e| e["event"] == "message" && e["dir"] == dir)
            .collect();
        for (i, m) in messages.iter().enumerate() {
            let seq = i as u64 + 1;
            assert_eq!(
                m.get("seq"),
                Some(&json!(seq)),
                "{dir} message number {seq} carries its number as seq: {m}\n{out}"
            );
            let own: Vec<&&Value> = frames
                .iter()
                .filter(|f| f["dir"] == dir && f.get("message") == Some(&json!(seq)))
                .collect();
            let count = m["frames"].as_u64().expect("frames");
            assert_eq!(
                own.len() as u64,
                count,
                "{dir} message {seq} says it took {count} frames; frame events naming it: {own:#?}\n{out}"
            );
            let parts: Vec<&str> = own
                .iter()
                .map(|f| f["part"].as_str().unwrap_or("(none)"))
                .collect();
            let expected: Vec<&str> = match own.len() {
                1 => vec!["whole"],
                n => std::iter::once("start")
                    .chain(std::iter::repeat_n("middle", n.saturating_sub(2)))
                    .chain(std::iter::once("end"))
                    .collect(),
            };
            assert_eq!(parts, expected, "{dir} message {seq}: parts\n{out}");
            let t = m["t"].as_f64().unwrap();
            for f in &own {
                assert!(
                    f["t"].as_f64().unwrap() <= t,
                    "{dir} message {seq} at t={t} is timed before its frame {f}\n{out}"
                );
            }
        }
        if dir == "in" {
            let times: Vec<f64> = messages.iter().map(|m| m["t"].as_f64().unwrap()).collect();
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "incoming messages' times go back: {times:?}\n{out}"
            );
        }
    }
    // Every data frame was counted in some message of its direction, or
    // belongs to one still arriving (only the last can be).
    for dir in ["in", "out"] {
        let messages = events
            .iter()
            .filter(|e| e["event"] == "message" && e["dir"] == dir)
            .count() as u64;
        for f in frames.iter().filter(|f| f["dir"] == dir) {
            if f["opcode"].as_u64().unwrap() < 8 {
                let n = f.get("message").and_then(Value::as_u64).unwrap_or(0);
                assert!(
                    (1..=messages + 1).contains(&n),
                    "a {dir} data frame names message {n} of {messages}: {f}\n{out}"
                );
            }
        }
    }
}

/// The incoming message events.
fn incoming(out: &Output) -> Vec<Value> {
    out.events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .collect()
}

/// (seq, frames) of each incoming message, as printed.
fn seq_and_frames(messages: &[Value]) -> Vec<(Value, Value)> {
    messages
        .iter()
        .map(|m| {
            (
                m.get("seq").cloned().unwrap_or(Value::Null),
                m["frames"].clone(),
            )
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TCP connection to 127.0.0.1:`port` whose receive buffer was set to
/// 4096 bytes before connecting (so that the window it offers stays small
/// and the peer's writes are taken a little at a time).
fn connect_with_small_receive_buffer(port: u16) -> TcpStream {
    // SAFETY: plain socket calls on a descriptor this function owns; it is
    // handed to a TcpStream at once, which closes it on every path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let size: libc::c_int = 4096;
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
        stream
    }
}

/// Plays a client against `wscope --listen ... --echo -n 4`: a hand-made
/// opening handshake, then in one write a masked 200,000-byte binary frame
/// and the one-frame texts "one", "two", "three"; reads the echoes and the
/// Close, answers it, and returns wscope's output. Also checks that the
/// echoes came back as sent.
fn burst_through_a_small_window(view: &[&str]) -> (Output, Vec<u8>) {
    let mut args = vec!["--echo", "-n", "4"];
    args.extend_from_slice(view);
    let server = Listener::start(&args);
    let stream = connect_with_small_receive_buffer(server.port);
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let mut writer = stream.try_clone().unwrap();
    write!(
        writer,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(
            reader.read_line(&mut head).unwrap() > 0,
            "wscope closed during the handshake: {head:?}"
        );
    }
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains(&accept_key(key)), "{head}");

    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut burst = frame(true, 0, 2, true, &big);
    for text in ["one", "two", "three"] {
        burst.extend(frame(true, 0, 1, true, text.as_bytes()));
    }
    // Written from another thread: wscope's echoes fill our small window
    // while the burst is still going in.
    let sending = thread::spawn(move || {
        writer.write_all(&burst).unwrap();
        writer
    });
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let close = loop {
        let frames = parse_client_frames(&received);
        if let Some((_, payload)) = frames.iter().find(|(op, _)| *op == 8) {
            break payload.clone();
        }
        match reader.read(&mut chunk) {
            Ok(0) => panic!(
                "wscope closed without a Close; got {} bytes",
                received.len()
            ),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("reading the echoes: {e}; got {} bytes", received.len()),
        }
    };
    let mut writer = sending.join().unwrap();
    writer.write_all(&frame(true, 0, 8, true, &close)).unwrap();
    let _ = reader.read_to_end(&mut Vec::new());
    let out = server.finish();
    let echoed: Vec<(u8, Vec<u8>)> = parse_client_frames(&received)
        .into_iter()
        .filter(|(op, _)| *op < 8)
        .collect();
    let sent = vec![
        (2, big.clone()),
        (1, b"one".to_vec()),
        (1, b"two".to_vec()),
        (1, b"three".to_vec()),
    ];
    assert!(
        echoed == sent,
        "the echoes differ from what was sent\n{out}"
    );
    (out, big)
}

#[test]
fn a_burst_echoed_into_a_small_window_pairs_each_frame_with_its_message() {
    let (out, big) = burst_through_a_small_window(&["--json"]);
    out.assert_code(0);
    let messages = incoming(&out);
    let data: Vec<(u64, String)> = messages
        .iter()
        .map(|m| {
            (
                m["len"].as_u64().unwrap(),
                m["data"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = vec![
        (200_000, hex(&big)),
        (3, "one".into()),
        (3, "two".into()),
        (5, "three".into()),
    ];
    assert!(data == expected, "incoming messages\n{out}");
    assert_eq!(
        seq_and_frames(&messages),
        [
            (json!(1), json!(1)),
            (json!(2), json!(1)),
            (json!(3), json!(1)),
            (json!(4), json!(1))
        ],
        "(seq, frames) of the incoming messages\n{out}"
    );
    assert_paired(&out);
}

#[test]
fn a_burst_echoed_into_a_small_window_shows_no_message_as_several_frames() {
    let (out, _) = burst_through_a_small_window(&["--frames", "--color", "never"]);
    out.assert_code(0);
    // The human view adds a message line only for a message of several
    // frames; every message here was one frame.
    let several = regex::Regex::new(r"from \d+ frames").unwrap();
    let wrong: Vec<&str> = out.stdout.lines().filter(|l| several.is_match(l)).collect();
    assert!(wrong.is_empty(), "{wrong:#?}\n{out}");
    // The data frames themselves were shown: four in, four echoed.
    let data_frames = out
        .stdout
        .lines()
        .filter(|l| l.contains(" op=0x1 ") || l.contains(" op=0x2 "))
        .count();
    assert!(data_frames >= 8, "{out}");
}

#[test]
fn a_ping_before_the_data_belongs_to_no_message() {
    let server = NodeServer::with_args(&["--ping-first"]);
    for run in 1..=5 {
        let out = wscope(&["--json", "-n", "2", &server.url()]);
        out.assert_code(0);
        let messages = incoming(&out);
        let data: Vec<&str> = messages
            .iter()
            .map(|m| m["data"].as_str().unwrap())
            .collect();
        assert_eq!(data, ["one", "two"], "run {run}\n{out}");
        assert_eq!(
            seq_and_frames(&messages),
            [(json!(1), json!(1)), (json!(2), json!(1))],
            "run {run}: (seq, frames) of the incoming messages\n{out}"
        );
        let ping = out
            .events_named("frame")
            .into_iter()
            .find(|f| f["dir"] == "in" && f["kind"] == "ping")
            .unwrap_or_else(|| panic!("run {run}: no ping frame\n{out}"));
        assert_eq!(
            (ping.get("message"), ping.get("part")),
            (Some(&Value::Null), Some(&Value::Null)),
            "run {run}: the ping {ping}\n{out}"
        );
        assert_paired(&out);
    }
}

// ---------------------------------------------------------------------------
// A browser as the client
// ---------------------------------------------------------------------------

/// Headless Chromium with a fresh profile, started in its own process
/// group; the group is killed on drop.
pub struct Browser {
    child: Child,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: signalling the process group this test created.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where Chromium is, if it is installed.
pub fn chromium() -> Option<String> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_string)
}

/// Opens `html` (written to a file) in headless Chromium.
pub fn open_in_chromium(binary: &str, html: &str) -> Browser {
    open_in_chromium_with(binary, html, &[])
}

/// Like [`open_in_chromium`], with more command-line switches.
pub fn open_in_chromium_with(binary: &str, html: &str, extra: &[String]) -> Browser {
    use std::os::unix::process::CommandExt;
    let page_dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let page = page_dir.path().join("page.html");
    std::fs::write(&page, html).unwrap();
    let child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    Browser {
        child,
        _dirs: vec![page_dir, profile],
    }
}

#[test]
fn chromium_sending_a_mebibyte_and_a_long_string_pairs_frames_with_messages() {
    let Some(binary) = chromium() else {
        if std::env::var("WSCOPE_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!(
                "!!!!!!!! SKIPPED chromium_sending_a_mebibyte_and_a_long_string_pairs_frames_with_messages: \
                 no Chromium and WSCOPE_SKIP_BROWSER=1 !!!!!!!!"
            );
            return;
        }
        panic!(
            "Chromium is not installed (/usr/bin/chromium); scripts/test.sh installs it \
             (apt-get install chromium). Set WSCOPE_SKIP_BROWSER=1 to skip this test."
        );
    };
    let server = Listener::start(&["--echo", "--json", "-n", "2"]);
    let html = format!(
        r#"<!doctype html><meta charset="utf-8"><script>
const ws = new WebSocket("ws://127.0.0.1:{port}/");
ws.binaryType = "arraybuffer";
ws.onopen = () => {{
  const bytes = new Uint8Array(1048576);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
  ws.send(bytes.buffer);
  ws.send("0123456789".repeat(7000));
}};
</script>"#,
        port = server.port
    );
    let browser = open_in_chromium(&binary, &html);
    let out = server.finish();
    drop(browser);
    out.assert_code(0);
    let messages = incoming(&out);
    let got: Vec<(Value, Value)> = messages
        .iter()
        .map(|m| (m["kind"].clone(), m["len"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!("binary"), json!(1_048_576)),
            (json!("text"), json!(70_000))
        ],
        "{out}"
    );
    let bytes: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    assert!(messages[0]["data"] == hex(&bytes), "binary data\n{out}");
    assert!(
        messages[1]["data"] == "0123456789".repeat(7000),
        "text data\n{out}"
    );
    let seqs: Vec<Option<&Value>> = messages.iter().map(|m| m.get("seq")).collect();
    assert_eq!(seqs, [Some(&json!(1)), Some(&json!(2))], "seq\n{out}");
    assert_paired(&out);
}

// ---------------------------------------------------------------------------
// A message's time
// ---------------------------------------------------------------------------

/// A server that answers the upgrade, then writes each part after its
/// pause, then answers the client's Close.
fn paced_server(parts: Vec<(Duration, Vec<u8>)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let key = crate::common::read_upgrade_key(&mut reader);
        let mut stream = stream;
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        stream.write_all(head.as_bytes()).unwrap();
        for (pause, part) in parts {
            thread::sleep(pause);
            if stream.write_all(&part).is_err() {
                return;
            }
        }
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
            let frames = parse_client_frames(&received);
            if let Some((_, payload)) = frames.iter().find(|(op, _)| *op == 8) {
                let _ = stream.write_all(&frame(true, 0, 8, false, payload));
                let _ = reader.read_to_end(&mut Vec::new());
                return;
            }
        }
    });
    port
}

#[test]
fn a_message_is_timed_by_its_last_frame() {
    let second = Duration::from_secs(1);
    let port = paced_server(vec![
        (Duration::ZERO, frame(false, 0, 1, false, b"first ")),
        (second, frame(false, 0, 0, false, b"second ")),
        (second, frame(true, 0, 0, false, b"third")),
        (Duration::ZERO, text_frame("after")),
    ]);
    let out = wscope(&["--json", "-n", "2", &format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(0);
    let message = incoming(&out)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no message\n{out}"));
    assert_eq!(message["data"], "first second third", "{out}");
    assert_eq!(message["frames"], 3, "{out}");
    let frames: Vec<Value> = out
        .events_named("frame")
        .into_iter()
        .filter(|f| f["dir"] == "in" && f["opcode"].as_u64().is_some_and(|op| op < 8))
        .collect();
    let last = frames
        .iter()
        .find(|f| f["opcode"] == 0 && f["fin"] == true)
        .unwrap_or_else(|| panic!("no final continuation frame\n{out}"));
    let (t_message, t_first, t_last) = (
        message["t"].as_f64().unwrap(),
        frames[0]["t"].as_f64().unwrap(),
        last["t"].as_f64().unwrap(),
    );
    assert!(
        t_message >= t_last,
        "the message (t={t_message}) is timed before its final frame (t={t_last}; first frame t={t_first})\n{out}"
    );
    // The frames were a second apart on the wire, so the two times differ:
    // this is the server's pacing, not a measure of wscope.
    assert!(t_last > t_first, "{out}");
}
