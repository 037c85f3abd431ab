//! Shared fixtures for the end-to-end tests: a runner for the real binary
//! with a hard timeout, and the peers it talks to (an in-process tungstenite
//! echo server, a raw-socket server that writes scripted bytes, the Python
//! `websockets` server, and a throwaway certificate authority).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use sha1::{Digest, Sha1};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

/// How long one run of the binary may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// What one run of `wscope` produced.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    /// Stdout exactly as written, for binary output.
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// Every stdout line parsed as a JSON event.
    pub fn events(&self) -> Vec<Value> {
        json_events(&self.stdout)
    }

    /// The events named `name`, in order.
    pub fn events_named(&self, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// The only event named `name`; fails unless there is exactly one.
    pub fn single(&self, name: &str) -> Value {
        let found = self.events_named(name);
        assert_eq!(found.len(), 1, "expected one {name:?} event\n{self}");
        found.into_iter().next().unwrap()
    }

    pub fn assert_code(&self, code: i32) {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
    }

    /// No panic message anywhere in the output.
    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "wscope panicked\n{self}"
        );
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit code: {}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `wscope` with `args` and an empty, closed stdin.
pub fn wscope(args: &[&str]) -> Output {
    wscope_with_stdin(args, b"")
}

/// Runs `wscope` with `args`, feeding `stdin` and then closing it. Fails the
/// test (after killing the process) if it runs longer than [`RUN_TIMEOUT`].
pub fn wscope_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    wscope_with_paced_stdin(args, vec![(Duration::ZERO, stdin.to_vec())])
}

/// Like [`wscope_with_stdin`], writing each chunk after its delay, as a
/// slow producer in a pipeline would.
pub fn wscope_with_paced_stdin(args: &[&str], chunks: Vec<(Duration, Vec<u8>)>) -> Output {
    run_wscope(args, &[], chunks)
}

/// Runs `wscope` with these environment variables set (and empty stdin).
pub fn wscope_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_wscope(args, env, Vec::new())
}

/// Proxy settings from the test runner's environment must not leak into
/// wscope; tests that want one set it.
const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn run_wscope(args: &[&str], env: &[(&str, &str)], chunks: Vec<(Duration, Vec<u8>)>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wscope"));
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let mut child = command
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wscope");

    let mut input = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        for (delay, chunk) in chunks {
            thread::sleep(delay);
            // wscope may exit before reading all of it; not our failure.
            if input.write_all(&chunk).and_then(|_| input.flush()).is_err() {
                return;
            }
        }
    });
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());

    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for wscope") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let stdout_bytes = stdout.join().unwrap();
    let output = Output {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
        stdout_bytes,
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    };
    match status {
        None => panic!("wscope {args:?} still running after {RUN_TIMEOUT:?}; killed\n{output}"),
        Some(s) if s.code().is_none() => panic!("wscope {args:?} died: {s}\n{output}"),
        Some(_) => output,
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// The data of the incoming message events, in order.
pub fn incoming_messages(out: &Output) -> Vec<String> {
    out.events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .map(|m| m["data"].as_str().expect("message data").to_string())
        .collect()
}

/// Parses JSON Lines output; panics if any line is not a JSON object with
/// `event` and `t`.
pub fn json_events(stdout: &str) -> Vec<Value> {
    let body = stdout.strip_suffix('\n').unwrap_or(stdout);
    if body.is_empty() {
        return Vec::new();
    }
    body.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!(
                    "stdout line {} is not JSON ({e}): {line:?}\n{stdout}",
                    i + 1
                )
            });
            assert!(
                value["event"].is_string() && value["t"].is_number(),
                "stdout line {} lacks \"event\" or a numeric \"t\": {line}",
                i + 1
            );
            value
        })
        .collect()
}

/// The single frame event with this direction and opcode.
pub fn frame_with(events: &[Value], dir: &str, opcode: u64) -> Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "frame" && e["dir"] == dir && e["opcode"] == opcode)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {dir} frame with opcode {opcode}, events: {events:#?}"
    );
    found[0].clone()
}

/// Index of the first event satisfying `pred`, failing with the events if none.
pub fn position(events: &[Value], what: &str, pred: impl Fn(&Value) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("no {what} among events: {events:#?}"))
}

pub fn ws_url(port: u16, path: &str) -> String {
    format!("ws://127.0.0.1:{port}{path}")
}

// ---------------------------------------------------------------------------
// In-process tungstenite echo server
// ---------------------------------------------------------------------------

/// A message the echo server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Text(String),
    Binary(Vec<u8>),
    Close(Option<u16>),
}

/// How the echo server behaves beyond echoing.
#[derive(Default, Clone)]
pub struct EchoConfig {
    /// After echoing this many data messages, close with this code.
    pub close_after: Option<(usize, u16)>,
    /// Send this text message this long after the handshake.
    pub greet: Option<(Duration, String)>,
    /// Listen on [::1] instead of 127.0.0.1.
    pub ipv6: bool,
}

pub struct EchoServer {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl EchoServer {
    pub fn start() -> EchoServer {
        EchoServer::with(EchoConfig::default()).unwrap()
    }

    /// Starts listening; `Err` only when the address cannot be bound.
    pub fn with(config: EchoConfig) -> std::io::Result<EchoServer> {
        let listener = if config.ipv6 {
            TcpListener::bind("[::1]:0")?
        } else {
            TcpListener::bind("127.0.0.1:0")?
        };
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (r, p) = (received.clone(), paths.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, p, c) = (r.clone(), p.clone(), config.clone());
                thread::spawn(move || echo_connection(stream, &c, &r, &p));
            }
        });
        Ok(EchoServer {
            addr,
            received,
            paths,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        match self.addr {
            SocketAddr::V4(_) => ws_url(self.port(), path),
            SocketAddr::V6(_) => format!("ws://[::1]:{}{path}", self.port()),
        }
    }

    /// Everything received so far, over all connections.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The data messages received so far.
    pub fn received_data(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| !matches!(m, Received::Close(_)))
            .collect()
    }

    /// Request targets (path and query) of the handshakes seen so far.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

fn echo_connection(
    stream: TcpStream,
    config: &EchoConfig,
    received: &Mutex<Vec<Received>>,
    paths: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    // The error type is tungstenite's, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |req: &tungstenite::handshake::server::Request, resp| {
        paths.lock().unwrap().push(req.uri().to_string());
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(stream, callback) else {
        return;
    };
    if let Some((delay, text)) = &config.greet {
        thread::sleep(*delay);
        if ws.send(Message::text(text.as_str())).is_err() {
            return;
        }
    }
    let mut echoed = 0;
    loop {
        let message = match ws.read() {
            Ok(m) => m,
            Err(_) => return,
        };
        match message {
            Message::Text(t) => {
                received.lock().unwrap().push(Received::Text(t.to_string()));
                let _ = ws.send(Message::Text(t));
            }
            Message::Binary(b) => {
                received.lock().unwrap().push(Received::Binary(b.to_vec()));
                let _ = ws.send(Message::Binary(b));
            }
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code));
                received.lock().unwrap().push(Received::Close(code));
                continue;
            }
            _ => continue,
        }
        echoed += 1;
        if let Some((after, code)) = config.close_after {
            if echoed == after {
                let _ = ws.close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: "bye".into(),
                }));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Raw scripted server
// ---------------------------------------------------------------------------

/// Builds one server frame header plus payload. `rsv` holds RSV1..RSV3 as
/// bits 2..0 (so `0b100` is RSV1). Masked frames use the key 01 02 03 04.
pub fn frame(fin: bool, rsv: u8, opcode: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | ((rsv & 0b111) << 4) | (opcode & 0x0f)];
    let mask_bit = if masked { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xffff {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if masked {
        let key = [1u8, 2, 3, 4];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A final, unmasked text frame.
pub fn text_frame(text: &str) -> Vec<u8> {
    frame(true, 0, 1, false, text.as_bytes())
}

/// A close frame from the server with `code` and `reason`.
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    frame(true, 0, 8, false, &payload)
}

/// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// What the scripted server does once its bytes are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum After {
    /// Keep reading until the client closes the connection.
    ReadToEnd,
    /// Half-close (send FIN), then read until the client closes.
    ShutdownWrite,
    /// Wait until the client sends something, then drop the socket with
    /// that data unread, which makes the kernel send a TCP reset.
    ResetWhenClientSends,
    /// Read the client's frames; answer its Close with the same payload,
    /// then read until the client closes.
    ReplyToClose,
}

/// What the scripted server says and does.
pub struct Script {
    /// Raw response head (and body) to send instead of a correct 101.
    pub response: Option<Vec<u8>>,
    /// Bytes written right after the response.
    pub bytes: Vec<u8>,
    pub after: After,
}

impl Script {
    /// A correct 101 followed by `bytes`, then reading to the end.
    pub fn frames(bytes: Vec<u8>) -> Script {
        Script {
            response: None,
            bytes,
            after: After::ReadToEnd,
        }
    }

    /// A correct 101, then a server that only answers the client's Close:
    /// for recording exactly what the client sends.
    pub fn recording() -> Script {
        Script {
            response: None,
            bytes: Vec::new(),
            after: After::ReplyToClose,
        }
    }
}

/// What the scripted server saw.
#[derive(Debug)]
pub struct ServerLog {
    /// The request head as received.
    pub request: String,
    /// The response head (and body) as sent.
    pub response: String,
    /// Everything the client sent after the request head.
    pub after_head: Vec<u8>,
}

impl ServerLog {
    /// The complete client frames in `after_head`, as (opcode, unmasked payload).
    pub fn client_frames(&self) -> Vec<(u8, Vec<u8>)> {
        parse_client_frames(&self.after_head)
    }
}

/// The complete frames at the front of `buf`, as (opcode, unmasked
/// payload): a client's masked frames, or a server's unmasked ones.
pub fn parse_client_frames(buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        if rest.len() < 2 {
            break;
        }
        let opcode = rest[0] & 0x0f;
        let masked = rest[1] & 0x80 != 0;
        let (len, mut header) = match rest[1] & 0x7f {
            126 if rest.len() >= 4 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 if rest.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            126 | 127 => break,
            n => (n as usize, 2),
        };
        let key_at = header;
        if masked {
            header += 4;
        }
        if rest.len() < header + len {
            break;
        }
        let mut payload = rest[header..header + len].to_vec();
        if masked {
            let key = &rest[key_at..key_at + 4];
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push((opcode, payload));
        at += header + len;
    }
    frames
}

/// A one-connection server on 127.0.0.1:0 that replies with raw bytes.
pub struct ScriptedServer {
    pub port: u16,
    log: mpsc::Receiver<ServerLog>,
}

impl ScriptedServer {
    pub fn start(script: Script) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, log) = mpsc::channel();
        thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                let _ = tx.send(run_script(stream, script));
            }
        });
        ScriptedServer { port, log }
    }

    pub fn url(&self, path: &str) -> String {
        ws_url(self.port, path)
    }

    /// Waits for the connection to end and returns what the server saw.
    pub fn log(self) -> ServerLog {
        self.log
            .recv_timeout(RUN_TIMEOUT)
            .expect("the scripted server's connection did not end in time")
    }
}

fn run_script(mut stream: TcpStream, script: Script) -> ServerLog {
    stream
        .set_read_timeout(Some(Duration::from_secs(25)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte so that nothing after the head is consumed here.
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => {
                return ServerLog {
                    request: String::from_utf8_lossy(&head).into_owned(),
                    response: String::new(),
                    after_head: Vec::new(),
                }
            }
        }
    }
    let request = String::from_utf8_lossy(&head).into_owned();
    let response = script.response.unwrap_or_else(|| {
        let key = request
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default();
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        )
        .into_bytes()
    });
    let response_text = String::from_utf8_lossy(&response).into_owned();
    let mut wire = response;
    wire.extend_from_slice(&script.bytes);
    let _ = stream.write_all(&wire);
    let _ = stream.flush();

    let mut after_head = Vec::new();
    match script.after {
        After::ReadToEnd => {
            let _ = stream.read_to_end(&mut after_head);
        }
        After::ShutdownWrite => {
            let _ = stream.shutdown(Shutdown::Write);
            let _ = stream.read_to_end(&mut after_head);
        }
        After::ResetWhenClientSends => {
            let mut peek = [0u8; 1];
            let _ = stream.peek(&mut peek);
            drop(stream);
        }
        After::ReplyToClose => {
            let mut chunk = [0u8; 4096];
            let mut replied = false;
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => after_head.extend_from_slice(&chunk[..n]),
                }
                if replied {
                    continue;
                }
                let frames = parse_client_frames(&after_head);
                if let Some((_, payload)) = frames.iter().find(|(op, _)| *op == 8) {
                    let _ = stream.write_all(&frame(true, 0, 8, false, payload));
                    replied = true;
                }
            }
        }
    }
    ServerLog {
        request,
        response: response_text,
        after_head,
    }
}

// ---------------------------------------------------------------------------
// Python `websockets` server
// ---------------------------------------------------------------------------

/// The Python interpreter that runs the test peers: `WSCOPE_TEST_PYTHON`
/// when set (`scripts/test.sh` sets it), else the project's `.venv` when
/// there is one, else `python3` from `PATH`.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("WSCOPE_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(python);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// `tests/peers/python_server.py`, killed on drop.
pub struct PythonServer {
    child: Child,
    pub port: u16,
}

impl PythonServer {
    /// Starts the server, with TLS when `tls` gives a certificate and key.
    pub fn start(tls: Option<&Pki>) -> PythonServer {
        PythonServer::with_args(tls, &[])
    }

    /// `args` are python_server.py's options (`--deflate`).
    pub fn with_args(tls: Option<&Pki>, args: &[&str]) -> PythonServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_server.py");
        let python = python();
        let mut command = Command::new(&python);
        command.arg(script).args(args);
        if let Some(pki) = tls {
            command
                .arg("--certfile")
                .arg(&pki.cert)
                .arg("--keyfile")
                .arg(&pki.key);
        }
        let what = format!("{} tests/peers/python_server.py", python.display());
        let (child, port) = spawn_peer(command, &what);
        PythonServer { child, port }
    }
}

/// Reads a client's request head, line by line, up to its blank line;
/// returns its Sec-WebSocket-Key.
pub fn read_upgrade_key(reader: &mut impl BufRead) -> String {
    let mut key = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 2 {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("sec-websocket-key") {
                key = value.trim().to_string();
            }
        }
        line.clear();
    }
    key
}

/// A Python peer script from tests/peers that prints `PORT <n>`, killed
/// on drop (the aiohttp server, say).
pub struct PythonPeer {
    child: Child,
    pub port: u16,
}

impl PythonPeer {
    pub fn start(script: &str) -> PythonPeer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers")
            .join(script);
        let mut command = Command::new(python());
        command.arg(path);
        let (child, port) = spawn_peer(command, script);
        PythonPeer { child, port }
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a peer that prints `PORT <n>` once listening; returns it and the
/// port. Its stdin is a pipe it watches, so it ends with the test.
fn spawn_peer(mut command: Command, what: &str) -> (Child, u16) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok());
    match port {
        Some(port) => (child, port),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not report its port; said {line:?}")
        }
    }
}

/// `tests/peers/node_server.js`: Node's `ws` echo server, killed on drop.
pub struct NodeServer {
    child: Child,
    pub port: u16,
}

impl NodeServer {
    pub fn start() -> NodeServer {
        NodeServer::with_args(&[])
    }

    /// `args` are node_server.js's options (`--report-headers`, ...).
    pub fn with_args(args: &[&str]) -> NodeServer {
        NodeServer::script("node_server.js", args)
    }

    /// Another server script from tests/peers (`socketio_server.js`).
    pub fn script(script: &str, args: &[&str]) -> NodeServer {
        let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
        let mut command = Command::new("node");
        command
            .arg(peers.join(script))
            .args(args)
            .current_dir(&peers);
        let (child, port) = spawn_peer(command, &format!("node tests/peers/{script}"));
        NodeServer { child, port }
    }

    pub fn url(&self) -> String {
        ws_url(self.port, "/")
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Test certificates
// ---------------------------------------------------------------------------

/// A fresh CA and a certificate it issued, as PEM files in a temporary
/// directory: a server's for `localhost` and 127.0.0.1 (`generate`), or a
/// client's (`client`).
pub struct Pki {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub fn generate() -> Pki {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        Pki::issue("wscope test CA", "localhost", names, true)
    }

    /// A client certificate (clientAuth), CN "test client", from the CA
    /// "wscope client CA".
    pub fn client() -> Pki {
        Pki::issue("wscope client CA", "test client", Vec::new(), false)
    }

    fn issue(ca_name: &str, name: &str, alt_names: Vec<String>, server: bool) -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };

        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params = CertificateParams::new(alt_names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let pki = Pki {
            ca: dir.path().join("ca.pem"),
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("cert.key"),
            _dir: dir,
        };
        std::fs::write(&pki.ca, ca_cert.pem()).unwrap();
        std::fs::write(&pki.cert, cert.pem()).unwrap();
        std::fs::write(&pki.key, key.serialize_pem()).unwrap();
        pki
    }
}

// ---------------------------------------------------------------------------
// wscope as a server
// ---------------------------------------------------------------------------

/// `wscope --listen 127.0.0.1:0` with more arguments and a closed stdin; its
/// output is collected as it comes. Killed on drop.
pub struct Listener {
    child: Child,
    pub port: u16,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    /// With --self-signed: where wscope said it wrote the certificate.
    pem: Arc<Mutex<Option<PathBuf>>>,
}

impl Listener {
    /// Starts it and waits for the notice that says where it listens (a
    /// JSON notice on stdout with --json, a line on stderr without).
    pub fn start(args: &[&str]) -> Listener {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wscope"))
            .args(["--listen", "127.0.0.1:0", "--once"])
            .args(args)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wscope --listen");
        let (tx, ports) = mpsc::channel();
        let pem = Arc::new(Mutex::new(None));
        let stdout = collect_lines(child.stdout.take().unwrap(), tx.clone(), pem.clone());
        let stderr = collect_lines(child.stderr.take().unwrap(), tx, pem.clone());
        let mut listener = Listener {
            child,
            port: 0,
            stdout: Some(stdout),
            stderr: Some(stderr),
            pem,
        };
        match ports.recv_timeout(Duration::from_secs(10)) {
            Ok(port) => listener.port = port,
            Err(_) => {
                let _ = listener.child.kill();
                let out = listener.finish();
                panic!("wscope --listen {args:?} did not say where it listens\n{out}");
            }
        }
        listener
    }

    /// With --self-signed: the PEM copy wscope said it wrote (it says so
    /// before it says where it listens).
    pub fn made_certificate(&self) -> PathBuf {
        self.pem
            .lock()
            .unwrap()
            .clone()
            .expect("wscope said where it wrote the certificate")
    }

    /// Waits for wscope to end (killing it after [`RUN_TIMEOUT`]) and
    /// returns what it printed.
    pub fn finish(mut self) -> Output {
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for wscope") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let stdout_bytes = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        let output = Output {
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
            stdout_bytes,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        match status {
            None => panic!("wscope --listen still running after {RUN_TIMEOUT:?}; killed\n{output}"),
            Some(s) if s.code().is_none() => panic!("wscope --listen died: {s}\n{output}"),
            Some(_) => output,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` to its end, passing on the port of a "listening on
/// 127.0.0.1:PORT" line as soon as one comes.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    port: mpsc::Sender<u16>,
    pem: Arc<Mutex<Option<PathBuf>>>,
) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut bytes = Vec::new();
        loop {
            let start = bytes.len();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => return bytes,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&bytes[start..]);
            if let Some((_, rest)) = line.split_once("PEM copy at ") {
                let path = rest.split(' ').next().unwrap_or_default();
                *pem.lock().unwrap() = Some(PathBuf::from(path));
            }
            let found = line
                .split_once("listening on 127.0.0.1:")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse().ok());
            if let Some(p) = found {
                let _ = port.send(p);
            }
        }
    })
}

// ---------------------------------------------------------------------------
// Peak memory
// ---------------------------------------------------------------------------

/// Runs `command` (normally the wscope binary) with a closed stdin and
/// returns what it printed and its peak resident memory in KiB: the
/// kernel's high-water mark (`VmHWM`), read every few milliseconds while
/// it runs. (`wait4`'s `ru_maxrss` cannot be used: a child spawned from a
/// large test process starts with that process's high-water mark.)
/// Kills it and fails the test after [`RUN_TIMEOUT`].
pub fn run_measured(mut command: Command) -> (Output, u64) {
    // Reaped by wait4 below, which is what gives the peak.
    #[allow(clippy::zombie_processes)]
    let mut child = command
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the measured command");
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut timed_out = false;
    let mut peak_kib = 0;
    let status = loop {
        peak_kib = peak_kib.max(high_water_kib(pid).unwrap_or(0));
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, not yet reaped; the pointers are
        // to live locals. WNOHANG: returns 0 while it still runs.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break status;
        }
        if Instant::now() > deadline && !timed_out {
            // Not reaped yet, so the pid is still this child's.
            let _ = child.kill();
            timed_out = true;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let stdout_bytes = stdout.join().unwrap();
    let output = Output {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
        stdout_bytes,
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    };
    if timed_out {
        panic!("{command:?} still running after {RUN_TIMEOUT:?}; killed\n{output}");
    }
    if !libc::WIFEXITED(status) {
        panic!("{command:?} died (wait status {status:#x})\n{output}");
    }
    (output, peak_kib)
}

/// A live process's peak resident memory so far, in KiB.
fn high_water_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
