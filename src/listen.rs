//! Server mode (`--listen`): wait for one client, check its opening
//! handshake as RFC 6455 §4.2 asks of a server, and answer it; both heads
//! are kept byte for byte, as in client mode.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};

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

/// A client's opening handshake and our answer.
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    /// 101, or the error status we answered with.
    pub status: u16,
    pub subprotocol: Option<String>,
    /// Bytes after the request head: the client's first frames.
    pub leftover: Vec<u8>,
    /// Why the upgrade was refused, if it was.
    pub problem: Option<String>,
}

/// Waits for a client and answers its upgrade request. `offer` lists the
/// subprotocols we accept, in order of preference.
pub fn accept(listener: &TcpListener, offer: &[String]) -> Result<Accepted, Failure> {
    let (mut stream, peer) = listener
        .accept()
        .map_err(|e| fail(Stage::Connect, format!("accepting a client failed: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = stream.read(&mut chunk).map_err(|e| {
            fail(
                Stage::Handshake,
                format!("reading the client's request failed: {e}"),
            )
        })?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Err(fail(
                Stage::Handshake,
                format!("the client {peer} closed or sent no complete request head"),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let leftover = buf.split_off(head_len);
    let (answer, status, subprotocol, problem) = match check_request(&buf, offer) {
        Ok((key, subprotocol)) => {
            let mut head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
                derive_accept_key(key.as_bytes())
            );
            if let Some(p) = &subprotocol {
                head.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
            }
            head.push_str("\r\n");
            (head, 101, subprotocol, None)
        }
        Err(why) => {
            let body = format!("{why}\n");
            (
                format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                400,
                None,
                Some(why),
            )
        }
    };
    stream.write_all(answer.as_bytes()).map_err(|e| {
        fail(
            Stage::Handshake,
            format!("answering the client failed: {e}"),
        )
    })?;
    Ok(Accepted {
        stream,
        peer,
        request: buf,
        response: answer.into_bytes(),
        status,
        subprotocol,
        leftover,
        problem,
    })
}

/// The key to answer with and the subprotocol chosen, or why not.
fn check_request(head: &[u8], offer: &[String]) -> Result<(String, Option<String>), String> {
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
    Ok((key, chosen))
}

/// A second client while one is connected: told why, then closed. Its
/// request is read first (briefly), since closing a socket with unread
/// data resets it and the answer would be lost.
pub fn refuse_busy(mut stream: TcpStream) {
    let body = "wscope serves one client at a time; try again when the current session ends\n";
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(200)));
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
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, v2\r\n\r\n";

    #[test]
    fn a_good_request_is_answered_with_its_key_and_a_shared_subprotocol() {
        let (key, chosen) = check_request(GOOD.as_bytes(), &["v2".into()]).unwrap();
        assert_eq!(
            derive_accept_key(key.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(chosen.as_deref(), Some("v2"));
        let (_, none) = check_request(GOOD.as_bytes(), &["other".into()]).unwrap();
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
