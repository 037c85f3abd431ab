//! The opening handshake, written and read by wscope rather than inside
//! tungstenite, so that both heads are kept byte for byte as they crossed
//! the wire. The client's side and the server's side sit together here and
//! produce the same things: the heads, and what was negotiated.

pub mod busy;
pub mod client;
pub mod extensions;
pub mod server;

use crate::error::{fail, Failure, Stage};

#[derive(Debug)]
pub struct Response {
    /// The head exactly as received, up to and including the blank line.
    pub raw: Vec<u8>,
    pub status: u16,
    pub reason: String,
    /// Headers in wire order with their original case.
    pub headers: Vec<(String, String)>,
    /// Up to `BODY_PREVIEW` bytes of the body of a non-101 answer.
    pub body: Vec<u8>,
    /// Bytes after the head of a 101: the first frames, already read.
    pub leftover: Vec<u8>,
    /// Interim (1xx) responses that came before this one, raw, in order.
    pub interim: Vec<Vec<u8>>,
    /// The minor HTTP version (HTTP/1.0 is 0).
    pub version: u8,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handshake settled, from either side.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// The client's check of Sec-WebSocket-Accept; `None` on the server.
    pub accept: Option<Accept>,
    pub subprotocol: Option<String>,
    pub extensions: Option<String>,
    /// permessage-deflate, when both sides agreed on it.
    pub deflate: Option<extensions::Deflate>,
    /// Why the upgrade failed, if it did.
    pub problem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Accept {
    pub expected: String,
    pub ok: bool,
}

/// A response head parsed.
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub version: u8,
}

/// Parses a response head read by `http::head`; as many headers as the
/// (bounded) head holds.
pub fn parse_head(head: &[u8]) -> Result<Head, Failure> {
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    let mut slots = vec![httparse::EMPTY_HEADER; lines];
    let mut parsed = httparse::Response::new(&mut slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(fail(Stage::Handshake, "the response head is incomplete"))
        }
        Err(e) => {
            let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
            return Err(fail(
                Stage::Handshake,
                format!(
                    "the server's answer is not valid HTTP ({e}); it begins \"{}\"",
                    crate::escape::escape_bytes(first_line.trim_ascii_end())
                ),
            ));
        }
    }
    let status = parsed.code.unwrap_or_default();
    let reason = parsed.reason.unwrap_or_default().to_string();
    let version = parsed.version.unwrap_or(1);
    let headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(Head {
        status,
        reason,
        headers,
        version,
    })
}

/// `-H 'Name: value'`, checked so that the request stays valid HTTP.
pub fn parse_header(input: &str) -> Result<(String, String), String> {
    let Some((name, value)) = input.split_once(':') else {
        return Err(format!("-H '{input}' is not 'Name: value'"));
    };
    let name = name.trim();
    if !is_token(name) {
        return Err(format!("-H '{input}': '{name}' is not a valid header name"));
    }
    check_value(&format!("-H '{name}'"), value)?;
    Ok((name.to_string(), value.trim().to_string()))
}

/// A header value from the command line (`-H`, `--origin`,
/// `--user-agent`) must keep the request one valid HTTP head: no line
/// breaks or other control characters (a tab is allowed).
pub fn check_value(option: &str, value: &str) -> Result<(), String> {
    match value.chars().find(|&c| c.is_control() && c != '\t') {
        Some('\r' | '\n') => Err(format!(
            "{option}: a header value cannot contain a line break"
        )),
        Some(c) => Err(format!(
            "{option}: a header value cannot contain the control character {:?}",
            c
        )),
        None => Ok(()),
    }
}

/// An HTTP token (RFC 9110 §5.6.2): header names and subprotocols.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// A subprotocol name is an HTTP token (RFC 6455 §4.1).
pub fn check_subprotocol(name: &str) -> Result<(), String> {
    if !is_token(name) {
        return Err(format!(
            "-s '{}' is not a subprotocol name (letters, digits and !#$%&'*+-.^_`|~ only)",
            name.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_arguments_are_checked() {
        assert_eq!(parse_header("X-A: b c "), Ok(("X-A".into(), "b c".into())));
        assert!(parse_header("no colon")
            .unwrap_err()
            .contains("'Name: value'"));
        assert!(parse_header("Bad Name: x")
            .unwrap_err()
            .contains("not a valid header name"));
    }

    #[test]
    fn a_head_with_hundreds_of_headers_parses() {
        let mut head = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        for i in 0..200 {
            head.extend_from_slice(format!("X-Header-{i}: value\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let head = parse_head(&head).unwrap();
        assert_eq!((head.status, head.headers.len()), (101, 200));
    }
}
