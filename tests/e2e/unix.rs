//! WebSockets over Unix domain sockets: wscope as client (`ws+unix://`)
//! of Node's `ws` and Python's `websockets` (`unix_serve`), wscope as
//! server (`--listen unix:`) for Node's `ws` and for itself over TLS, and
//! the socket paths it refuses.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{json_events, wscope, wscope_with_stdin, NodeServer, Output, PythonServer};

fn echoed(out: &Output) -> Vec<Value> {
    out.events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .map(|m| m["data"].clone())
        .collect()
}

fn socket_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ws.sock")
}

#[test]
fn client_of_node_ws_on_a_socket_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let _server = NodeServer::with_args(&["--unix", path.to_str().unwrap()]);
    let url = format!("ws+unix://{}:/chat?room=1", path.display());
    let out = wscope_with_stdin(&[&url, "--json"], b"one\ntwo\n");
    out.assert_code(0);
    assert_eq!(echoed(&out), ["one", "two"], "{out}");
    let connect = out.single("connect");
    assert_eq!(connect["addr"], format!("unix:{}", path.display()), "{out}");
    assert_eq!(connect["url"], url, "{out}");
    let request = out.single("request")["raw"].as_str().unwrap().to_string();
    assert!(
        request.starts_with("GET /chat?room=1 HTTP/1.1\r\nHost: localhost\r\n"),
        "{request}"
    );
}

#[test]
fn client_of_python_websockets_unix_serve() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let _server = PythonServer::with_args(None, &["--unix", path.to_str().unwrap()]);
    let url = format!("ws+unix://{}:/py", path.display());
    let out = wscope_with_stdin(&[&url, "--json"], b"over a socket file\n");
    out.assert_code(0);
    assert_eq!(echoed(&out), ["over a socket file"], "{out}");
    assert_eq!(
        out.single("connect")["addr"],
        format!("unix:{}", path.display())
    );
}

/// `wscope --listen unix:PATH ARGS --json`, started and waited on until it
/// says it listens.
struct UnixListening {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl UnixListening {
    fn start(path: &Path, args: &[&str]) -> UnixListening {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wscope"))
            .arg("--listen")
            .arg(format!("unix:{}", path.display()))
            .arg("--once")
            .args(args)
            .arg("--json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut listening = UnixListening {
            child,
            lines,
            seen: Vec::new(),
        };
        loop {
            let line = listening
                .lines
                .recv_timeout(Duration::from_secs(10))
                .expect("wscope says where it listens");
            let done = line.contains("listening on unix:");
            listening.seen.push(line);
            if done {
                return listening;
            }
        }
    }

    /// With --self-signed: the PEM copy wscope said it wrote.
    fn made_certificate(&self) -> PathBuf {
        self.seen
            .iter()
            .find_map(|line| line.split_once("PEM copy at "))
            .and_then(|(_, rest)| rest.split(' ').next())
            .map(PathBuf::from)
            .expect("wscope said where it wrote the certificate")
    }

    /// Its exit code and all its events, once it ends.
    fn finish(mut self) -> (i32, Vec<Value>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "wscope did not end in time");
            thread::sleep(Duration::from_millis(10));
        };
        let mut text: String = self.seen.iter().map(|l| format!("{l}\n")).collect();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            text.push_str(&line);
            text.push('\n');
        }
        (code, json_events(&text))
    }
}

impl Drop for UnixListening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn listen_on_a_socket_file_for_node_ws_and_remove_it_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let server = UnixListening::start(&path, &["--echo"]);
    assert!(path.exists());
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    let mut client = Command::new("node")
        .arg(peers.join("node_client.js"))
        .arg(format!("ws+unix://{}:/node?x=1", path.display()))
        .args(["hello", "unix"])
        .current_dir(&peers)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, events) = server.finish();
    let mut said = String::new();
    client
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    let _ = client.wait();
    assert_eq!(said, "OPEN -\nhello\nunix\nCLOSE 1000 done\n");
    assert_eq!(code, 0, "{events:?}");
    let connect = events.iter().find(|e| e["event"] == "connect").unwrap();
    assert_eq!(connect["addr"], format!("unix:{}", path.display()));
    assert_eq!(
        connect["url"],
        format!("ws+unix://{}:/node?x=1", path.display())
    );
    assert!(!path.exists(), "the socket file is left behind");
}

#[test]
fn wss_over_a_socket_file_between_two_wscopes() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let server = UnixListening::start(&path, &["--echo", "--self-signed"]);
    let pem = server.made_certificate();
    let url = format!("wss+unix://{}:/secure", path.display());
    let out = wscope_with_stdin(
        &[&url, "--ca", pem.to_str().unwrap(), "--json"],
        b"sealed\n",
    );
    let (code, events) = server.finish();
    out.assert_code(0);
    assert_eq!(echoed(&out), ["sealed"], "{out}");
    assert_eq!(out.single("connect")["tls"], true);
    assert_eq!(code, 0);
    let connect = events.iter().find(|e| e["event"] == "connect").unwrap();
    assert_eq!(connect["tls"], true);
    assert_eq!(connect["sni"], "localhost");
    assert!(!path.exists());
}

#[test]
fn bad_socket_paths_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a socket").unwrap();
    let long = format!("/tmp/{}", "s".repeat(120));
    let cases: [(Vec<String>, i32, &str); 4] = [
        (
            vec!["--listen".into(), format!("unix:{}", file.display())],
            2,
            "exists and is not a socket",
        ),
        (
            vec!["--listen".into(), format!("unix:{long}")],
            2,
            "this platform allows at most",
        ),
        (
            vec![format!("ws+unix://{long}:/")],
            2,
            "this platform allows at most",
        ),
        (
            vec![format!(
                "ws+unix://{}:/",
                dir.path().join("absent.sock").display()
            )],
            1,
            "cannot connect to the Unix socket",
        ),
    ];
    for (args, code, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = wscope(&args);
        out.assert_code(code);
        out.assert_no_panic();
        assert_eq!(out.stderr.trim_end().lines().count(), 1, "{out}");
        assert!(out.stderr.contains(expected), "{expected:?}\n{out}");
    }
    // The file that was not a socket is still there.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a socket");
}

/// An upgrade request by hand over a socket file; returns the answer's
/// first line.
fn upgrade_over(stream: &mut std::os::unix::net::UnixStream) -> String {
    use std::io::Write;
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn a_second_client_of_a_socket_file_is_turned_away_with_503() {
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let server = UnixListening::start(&path, &["--echo"]);
    let mut first = UnixStream::connect(&path).unwrap();
    assert!(upgrade_over(&mut first).starts_with("HTTP/1.1 101"));
    let mut second = UnixStream::connect(&path).unwrap();
    let answer = upgrade_over(&mut second);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(first);
    let (_, events) = server.finish();
    assert!(events.iter().any(|e| e["event"] == "notice"
        && e["message"]
            .as_str()
            .unwrap()
            .contains("turning away a client (a client of unix:")));
}

#[test]
fn a_socket_file_whose_backlog_is_full_fails_within_connect_timeout() {
    // A listener that accepts nobody, its backlog of one filled already.
    const FULL: &str = "import socket, sys\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.bind(sys.argv[1])\n\
        s.listen(0)\n\
        waiting = []\n\
        while True:\n\
        \x20   c = socket.socket(socket.AF_UNIX)\n\
        \x20   c.setblocking(False)\n\
        \x20   if c.connect_ex(sys.argv[1]) != 0:\n\
        \x20       break\n\
        \x20   waiting.append(c)\n\
        print('READY', flush=True)\n\
        sys.stdin.read()\n";
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let mut listener = Command::new(crate::common::python())
        .args(["-c", FULL])
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(listener.stdout.as_mut().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "READY\n");
    // Unbounded, this would wait until the harness kills it (20 s).
    let url = format!("ws+unix://{}:/", path.display());
    let out = wscope(&["--connect-timeout", "1", &url]);
    drop(listener.stdin.take());
    let _ = listener.wait();
    out.assert_code(1);
    assert!(out.stderr.contains("backlog is full"), "{out}");
}
