//! The server's side of the opening handshake (`--listen`): a client's
//! request checked as RFC 6455 §4.2 asks of a server, and answered; both
//! heads are kept byte for byte, as in client mode. A request that is not
//! a good upgrade (a health check, a browser, a client that gets it
//! wrong) is answered and reported as a refusal.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use tungstenite::handshake::derive_accept_key;

use super::extensions::{self, Extension};
use super::{Negotiated, Response};
use crate::http::head::{read_head, Stop, TimedRead};

/// How long a client may take to send its request head; one that sends
/// nothing must not hold the port from the next.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A client's opening handshake and our 101 answer.
pub struct Accepted {
    pub request: Vec<u8>,
    pub response: Response,
    pub negotiated: Negotiated,
    /// The subprotocols the client offered, in its order.
    pub offered: Vec<String>,
    /// The client offered permessage-deflate and it was not accepted.
    pub declined_deflate: bool,
    /// The request's path and query.
    pub resource: String,
    /// Bytes after the request head: the client's first frames.
    pub leftover: Vec<u8>,
}

/// A connection that did not become a session.
pub struct Refusal {
    /// Who it came from: an address, or a Unix socket described.
    pub peer: String,
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

/// Reads one client's request head (through `stream`, which may be the
/// wire tap) and answers it. A good upgrade is answered 101 only if
/// `admit` takes it; otherwise 503 with the body `admit` gives.
pub fn answer<S: TimedRead + Write>(
    stream: &mut S,
    peer: impl std::fmt::Display,
    offer: &[String],
    deflate: bool,
    admit: impl FnOnce() -> Result<(), String>,
) -> Result<Accepted, Refusal> {
    let peer = peer.to_string();
    let refusal = |request_line: Option<String>, status, why: String| Refusal {
        peer: peer.clone(),
        request_line,
        status,
        why,
    };
    let read = match read_head(stream, Instant::now() + HEAD_TIMEOUT) {
        Ok(read) => read,
        Err(unread) => {
            let why = match unread.stop {
                // A TLS record of type handshake: a ClientHello.
                Stop::NotHttp if unread.got.first() == Some(&0x16) => {
                    "it began a TLS handshake (wss:// or https://), but --listen serves plain ws://"
                        .to_string()
                }
                Stop::NotHttp => "what it sent is not HTTP".to_string(),
                Stop::Closed if unread.got.is_empty() => {
                    "it closed without sending a request".to_string()
                }
                Stop::Closed => "it closed before its request head was complete".to_string(),
                Stop::TooLarge => "its request head is over 64 KiB".to_string(),
                Stop::TimedOut => format!(
                    "it sent no complete request head within {}s",
                    HEAD_TIMEOUT.as_secs()
                ),
                Stop::Io(e) => format!("reading its request failed: {e}"),
            };
            return Err(refusal(request_line(&unread.got), None, why));
        }
    };
    let buf = read.head;
    let Checked {
        key,
        chosen: subprotocol,
        offered,
        extensions: offered_extensions,
    } = match check_request(&buf, offer) {
        Ok(checked) => checked,
        Err(why) => {
            // RFC 6455 §4.4: a version we do not speak is answered 426,
            // naming the one we do.
            let (status, answer) = if why.starts_with("Sec-WebSocket-Version") {
                let answer = plain_answer("426 Upgrade Required", &why).replacen(
                    "\r\nContent-Type",
                    "\r\nSec-WebSocket-Version: 13\r\nContent-Type",
                    1,
                );
                (426, answer)
            } else {
                (400, plain_answer("400 Bad Request", &why))
            };
            let _ = stream.write_all(answer.as_bytes());
            return Err(refusal(request_line(&buf), Some(status), why));
        }
    };
    if let Err(busy) = admit() {
        let _ = stream.write_all(plain_answer("503 Service Unavailable", &busy).as_bytes());
        return Err(refusal(request_line(&buf), Some(503), busy));
    }
    let mut headers = vec![
        ("Upgrade".to_string(), "websocket".to_string()),
        ("Connection".to_string(), "Upgrade".to_string()),
        (
            "Sec-WebSocket-Accept".to_string(),
            derive_accept_key(key.as_bytes()),
        ),
    ];
    if let Some(p) = &subprotocol {
        headers.push(("Sec-WebSocket-Protocol".to_string(), p.clone()));
    }
    let chosen = deflate
        .then(|| extensions::choose(&offered_extensions))
        .flatten();
    if let Some((_, answer)) = &chosen {
        headers.push(("Sec-WebSocket-Extensions".to_string(), answer.clone()));
    }
    let (deflate_params, deflate_answer) = chosen.unzip();
    let declined_deflate = deflate_params.is_none()
        && offered_extensions
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(extensions::PERMESSAGE_DEFLATE));
    let mut raw = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in &headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    if let Err(e) = stream
        .write_all(raw.as_bytes())
        .and_then(|_| stream.flush())
    {
        return Err(refusal(
            request_line(&buf),
            None,
            format!("answering its upgrade failed: {e}"),
        ));
    }
    let resource = String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    Ok(Accepted {
        request: buf,
        response: Response {
            raw: raw.into_bytes(),
            status: 101,
            reason: "Switching Protocols".into(),
            headers,
            body: Vec::new(),
            leftover: Vec::new(),
            interim: Vec::new(),
            version: 1,
        },
        negotiated: Negotiated {
            subprotocol,
            extensions: deflate_answer,
            deflate: deflate_params,
            ..Negotiated::default()
        },
        declined_deflate,
        offered,
        resource,
        leftover: read.leftover,
    })
}

/// An HTTP error answer whose body is `text` (a line): what every refusal
/// sends.
pub fn plain_answer(status: &str, text: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}\n",
        text.len() + 1
    )
}

/// The first line of a request, as shown in a notice.
pub fn request_line(head: &[u8]) -> Option<String> {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next()?;
    // Peer bytes, shown in a notice: escaped.
    let text: String = crate::escape::escape_bytes(line)
        .chars()
        .take(200)
        .collect();
    (!text.is_empty()).then_some(text)
}

/// Ends a connection after an error answer: reads what the client still
/// sends (briefly), since closing a socket with unread data resets it and
/// the answer would be lost.
pub fn close_politely(stream: &crate::socket::Socket) {
    let _ = stream.shutdown(Shutdown::Write);
    // A second at most, whatever the client does (one trickling a byte
    // at a time included).
    read_within(stream, Instant::now() + Duration::from_secs(1), false);
}

/// The key to answer with, the subprotocol chosen and those offered, or
/// why not.
/// What a good upgrade request asks for.
#[derive(Debug)]
struct Checked {
    key: String,
    /// The subprotocol chosen from `-s`, if the client offered one.
    chosen: Option<String>,
    offered: Vec<String>,
    /// The extensions the client offered.
    extensions: Vec<Extension>,
}

fn check_request(head: &[u8], offer: &[String]) -> Result<Checked, String> {
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    let mut slots = vec![httparse::EMPTY_HEADER; lines];
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
    let extensions: Vec<String> = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect();
    Ok(Checked {
        key,
        chosen,
        offered,
        extensions: extensions::parse(&extensions.join(",")),
    })
}

/// A second client while one is connected: told why, then closed, within
/// about a second whatever the client does. Its request head is read
/// first, one socket read at a time so that a client trickling it cannot
/// hold the answer back past the second; over TLS what it sent after is
/// drained from the socket, since closing a socket with unread data
/// resets it and the answer would be lost.
pub fn refuse_busy(stream: crate::net::connect::Transport, text: &str) {
    use crate::net::connect::Transport;
    let mut stream = stream;
    let _ = stream.set_nonblocking(false);
    let deadline = Instant::now() + Duration::from_secs(1);
    let head_done = |seen: &[u8]| seen.windows(4).any(|w| w == b"\r\n\r\n");
    match &mut stream {
        Transport::Plain(socket) => read_within(socket, deadline, true),
        Transport::Tls(tls) => drop(tls.read_within(deadline, head_done)),
    }
    let _ = stream.write_all(plain_answer("503 Service Unavailable", text).as_bytes());
    if let Transport::Tls(tls) = &mut stream {
        tls.close_notify();
    }
    let _ = stream.socket().shutdown(Shutdown::Write);
    if let Transport::Tls(tls) = &stream {
        read_within(&tls.sock, deadline, false);
    }
}

/// Reads from the socket itself until `deadline`, 200 ms per read at most:
/// up to the end of a request head when `head`, otherwise until the
/// client closes (what it sent is only drained).
fn read_within(socket: &crate::socket::Socket, deadline: Instant, head: bool) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 2048];
    while !(head && seen.windows(4).any(|w| w == b"\r\n\r\n")) && seen.len() < 64 * 1024 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = socket.set_read_timeout(Some(left.min(Duration::from_millis(200))));
        match (&*socket).read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) if head => seen.extend_from_slice(&chunk[..n]),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, v2\r\n\r\n";

    #[test]
    fn a_good_request_is_answered_with_its_key_and_a_shared_subprotocol() {
        let checked = check_request(GOOD.as_bytes(), &["v2".into()]).unwrap();
        assert_eq!(checked.offered, ["chat", "v2"]);
        assert_eq!(
            derive_accept_key(checked.key.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(checked.chosen.as_deref(), Some("v2"));
        let other = check_request(GOOD.as_bytes(), &["other".into()]).unwrap();
        assert_eq!(other.chosen, None);
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
        let peer = "127.0.0.1:5000".to_string();
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
}
