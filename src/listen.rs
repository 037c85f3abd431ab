//! Server mode (`--listen`): wait for one client, check its opening
//! handshake as RFC 6455 §4.2 asks of a server, and answer it; both heads
//! are kept byte for byte, as in client mode. Requests that are not a good
//! upgrade (health checks, a browser, a client that gets it wrong) are
//! answered and reported, and the wait goes on.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use tungstenite::handshake::derive_accept_key;

use crate::error::{fail, Failure, Stage};

/// `[ADDR:]PORT`; a bare port listens on 127.0.0.1 only.
pub fn parse_listen_addr(input: &str) -> Result<SocketAddr, Failure> {
    let with_host = if input.parse::<u16>().is_ok() {
        format!("127.0.0.1:{input}")
    } else {
        input.to_string()
    };
    with_host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            fail(
                Stage::Usage,
                format!(
                    "--listen '{input}' is not [ADDR:]PORT (e.g. 9001, 0.0.0.0:9001, [::1]:9001)"
                ),
            )
        })
}

pub fn bind(addr: SocketAddr) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr)
        .map_err(|e| fail(Stage::Connect, format!("cannot listen on {addr}: {e}")))
}

/// How long a client may take to send its request head; one that sends
/// nothing must not hold the port from the next.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A client's opening handshake and our 101 answer.
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    pub subprotocol: Option<String>,
    /// The subprotocols the client offered, in its order.
    pub offered: Vec<String>,
    /// Bytes after the request head: the client's first frames.
    pub leftover: Vec<u8>,
}

/// A connection that did not become a session.
pub struct Refusal {
    pub peer: SocketAddr,
    /// The request line, when a request came.
    pub request_line: Option<String>,
    /// The HTTP status answered with, when one was.
    pub status: Option<u16>,
    pub why: String,
}

impl Refusal {
    /// One line for the notice.
    pub fn describe(&self) -> String {
        let what = match (&self.request_line, self.status) {
            (Some(line), Some(status)) => {
                format!("refused \"{line}\" from {} with {status}", self.peer)
            }
            (Some(line), None) => format!("dropped \"{line}\" from {}", self.peer),
            (None, _) => format!("dropped a connection from {}", self.peer),
        };
        format!("{what}: {}; still waiting for a WebSocket client", self.why)
    }
}

/// Waits on the listener and on SIGINT/SIGTERM together, so that Ctrl-C
/// while waiting ends like Ctrl-C in a session. Made before wscope says it
/// listens, so that no signal in between finds the default action.
pub struct ClientWait {
    poll: mio::Poll,
    signals: signal_hook_mio::v1_0::Signals,
}

const CLIENT: mio::Token = mio::Token(0);
const SIGNALS: mio::Token = mio::Token(1);

impl ClientWait {
    pub fn new(listener: &TcpListener) -> Result<ClientWait, Failure> {
        use mio::unix::SourceFd;
        use mio::Interest;
        use std::os::fd::AsRawFd;
        let io = |e: std::io::Error| fail(Stage::Io, format!("cannot wait for a client: {e}"));
        let poll = mio::Poll::new().map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        poll.registry()
            .register(
                &mut SourceFd(&listener.as_raw_fd()),
                CLIENT,
                Interest::READABLE,
            )
            .map_err(io)?;
        let mut signals =
            signal_hook_mio::v1_0::Signals::new([libc::SIGINT, libc::SIGTERM]).map_err(io)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(io)?;
        Ok(ClientWait { poll, signals })
    }

    /// True when a client is at the door, false when a signal came.
    fn wait(&mut self) -> Result<bool, Failure> {
        let mut events = mio::Events::with_capacity(4);
        loop {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(Stage::Io, format!("cannot wait for a client: {e}"))),
            }
            if self.signals.pending().next().is_some() {
                return Ok(false);
            }
            if events.iter().any(|e| e.token() == CLIENT) {
                return Ok(true);
            }
        }
    }
}

/// Waits for a client with a good upgrade request and answers it with
/// 101. Anything else is answered (400) or dropped, handed to `refused`,
/// and the wait goes on: the session starts with the first good upgrade.
/// `Ok(None)`: SIGINT or SIGTERM came first; the user stopped waiting.
pub fn accept(
    listener: &TcpListener,
    waiting: &mut ClientWait,
    offer: &[String],
    mut refused: impl FnMut(&Refusal),
) -> Result<Option<Accepted>, Failure> {
    loop {
        // Readiness is reported once per change (edge-triggered): take
        // whoever is queued before waiting again.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if !waiting.wait()? {
                    return Ok(None);
                }
                continue;
            }
            Err(e) => {
                return Err(fail(
                    Stage::Connect,
                    format!("accepting a client failed: {e}"),
                ))
            }
        };
        let _ = stream.set_nonblocking(false);
        match answer(stream, peer, offer) {
            Ok(accepted) => return Ok(Some(accepted)),
            Err(refusal) => refused(&refusal),
        }
    }
}

/// Reads one client's request head and answers it.
fn answer(mut stream: TcpStream, peer: SocketAddr, offer: &[String]) -> Result<Accepted, Refusal> {
    let refusal = |request_line: Option<String>, status, why: String| Refusal {
        peer,
        request_line,
        status,
        why,
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(HEAD_TIMEOUT));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        // A TLS record of type handshake: a ClientHello never ends a head.
        if buf.first() == Some(&0x16) {
            return Err(refusal(
                None,
                None,
                "it began a TLS handshake (wss:// or https://), but --listen serves plain ws://"
                    .into(),
            ));
        }
        if buf.len() > 64 * 1024 {
            return Err(refusal(
                request_line(&buf),
                None,
                "its request head is over 64 KiB".into(),
            ));
        }
        let why = match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => "it closed without sending a request".to_string(),
            Ok(0) => "it closed before its request head was complete".to_string(),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                format!(
                    "it sent no complete request head within {}s",
                    HEAD_TIMEOUT.as_secs()
                )
            }
            Err(e) => format!("reading its request failed: {e}"),
        };
        return Err(refusal(request_line(&buf), None, why));
    };
    let leftover = buf.split_off(head_len);
    let (key, subprotocol, offered) = match check_request(&buf, offer) {
        Ok(checked) => checked,
        Err(why) => {
            let body = format!("{why}\n");
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            close_politely(stream);
            return Err(refusal(request_line(&buf), Some(400), why));
        }
    };
    let mut head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if let Some(p) = &subprotocol {
        head.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    head.push_str("\r\n");
    if let Err(e) = stream.write_all(head.as_bytes()) {
        return Err(refusal(
            request_line(&buf),
            None,
            format!("answering its upgrade failed: {e}"),
        ));
    }
    let _ = stream.set_read_timeout(None);
    Ok(Accepted {
        stream,
        peer,
        request: buf,
        response: head.into_bytes(),
        subprotocol,
        offered,
        leftover,
    })
}

/// The first line of a request, as shown in a notice.
fn request_line(head: &[u8]) -> Option<String> {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next()?;
    let text: String = String::from_utf8_lossy(line).chars().take(200).collect();
    (!text.is_empty()).then_some(text)
}

/// Ends a connection after an error answer: reads what the client still
/// sends (briefly), since closing a socket with unread data resets it and
/// the answer would be lost.
fn close_politely(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut chunk = [0u8; 2048];
    let mut drained = 0;
    while drained < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// The key to answer with, the subprotocol chosen and those offered, or
/// why not.
fn check_request(
    head: &[u8],
    offer: &[String],
) -> Result<(String, Option<String>, Vec<String>), String> {
    let mut slots = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("the request is not valid HTTP".into()),
    }
    if req.method != Some("GET") {
        return Err(format!(
            "the method is {}, not GET (RFC 6455 §4.2.1)",
            req.method.unwrap_or("?")
        ));
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("Upgrade", "websocket") {
        return Err("no 'Upgrade: websocket' header (RFC 6455 §4.2.1)".into());
    }
    if !has_token("Connection", "upgrade") {
        return Err("no 'Connection: Upgrade' header (RFC 6455 §4.2.1)".into());
    }
    if header("Sec-WebSocket-Version").as_deref() != Some("13") {
        return Err("Sec-WebSocket-Version is not 13 (RFC 6455 §4.2.1)".into());
    }
    let key = header("Sec-WebSocket-Key").ok_or("no Sec-WebSocket-Key header (RFC 6455 §4.2.1)")?;
    let offered: Vec<String> = header("Sec-WebSocket-Protocol")
        .map(|v| v.split(',').map(|p| p.trim().to_string()).collect())
        .unwrap_or_default();
    let chosen = offer.iter().find(|p| offered.contains(p)).cloned();
    Ok((key, chosen, offered))
}

/// A second client while one is connected: told why, then closed. Its
/// request is read first (briefly), since closing a socket with unread
/// data resets it and the answer would be lost.
pub fn refuse_busy(mut stream: TcpStream) {
    let body = "wscope serves one client at a time; try again when the current session ends\n";
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = write!(
        stream,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, v2\r\n\r\n";

    #[test]
    fn a_good_request_is_answered_with_its_key_and_a_shared_subprotocol() {
        let (key, chosen, offered) = check_request(GOOD.as_bytes(), &["v2".into()]).unwrap();
        assert_eq!(offered, ["chat", "v2"]);
        assert_eq!(
            derive_accept_key(key.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(chosen.as_deref(), Some("v2"));
        let (_, none, _) = check_request(GOOD.as_bytes(), &["other".into()]).unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn bad_requests_say_what_is_missing() {
        for (from, to, needle) in [
            ("GET", "POST", "not GET"),
            ("Upgrade: websocket", "Upgrade: h2c", "Upgrade: websocket"),
            ("Version: 13", "Version: 8", "not 13"),
            ("Sec-WebSocket-Key", "X-Key", "Sec-WebSocket-Key"),
        ] {
            let bad = GOOD.replace(from, to);
            let why = check_request(bad.as_bytes(), &[]).unwrap_err();
            assert!(why.contains(needle), "{from}: {why}");
        }
    }

    #[test]
    fn a_refusal_says_what_came_and_why() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let refusal = Refusal {
            peer,
            request_line: request_line(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
            status: Some(400),
            why: "no 'Upgrade: websocket' header".into(),
        };
        assert_eq!(
            refusal.describe(),
            "refused \"GET /health HTTP/1.1\" from 127.0.0.1:5000 with 400: no 'Upgrade: websocket' header; still waiting for a WebSocket client"
        );
        assert_eq!(request_line(b""), None);
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen_addr("9001").unwrap().to_string(),
            "127.0.0.1:9001"
        );
        assert_eq!(parse_listen_addr("0.0.0.0:0").unwrap().port(), 0);
        assert_eq!(parse_listen_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(parse_listen_addr("nope").is_err());
    }
}
