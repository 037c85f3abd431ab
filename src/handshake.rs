//! The opening handshake, written and read here rather than inside
//! tungstenite so that both heads are kept byte for byte as they crossed
//! the wire, and so that a bad answer (a 404 and its body, a wrong
//! Sec-WebSocket-Accept) is shown in full before it is reported.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use tungstenite::handshake::client::generate_key;
use tungstenite::handshake::derive_accept_key;

use crate::error::{fail, Failure, Stage};
use crate::target::Target;

/// How much of a non-101 body is read and shown.
pub const BODY_PREVIEW: usize = 1024;
/// A response head larger than this is not a WebSocket server talking.
const MAX_HEAD: usize = 64 * 1024;

pub struct Request {
    pub raw: Vec<u8>,
    /// The Sec-WebSocket-Key as sent (the user may have set it).
    pub key: String,
    /// Subprotocols offered, in order.
    pub subprotocols: Vec<String>,
}

/// What the user asked to add to or change in the request.
#[derive(Debug, Default, Clone)]
pub struct Shaping {
    /// `-H` headers in the order given; one named like a generated header
    /// replaces it in place.
    pub headers: Vec<(String, String)>,
    pub origin: Option<String>,
    pub subprotocols: Vec<String>,
    /// `--auth USER:PASS` or credentials in the URL.
    pub basic_auth: Option<String>,
    /// `None`: wscope's own; `Some("")`: no User-Agent header.
    pub user_agent: Option<String>,
}

impl Request {
    pub fn build(target: &Target, shaping: &Shaping) -> Request {
        use base64::Engine;
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), target.host_header.clone()),
            ("Upgrade".into(), "websocket".into()),
            ("Connection".into(), "Upgrade".into()),
            ("Sec-WebSocket-Key".into(), generate_key()),
            ("Sec-WebSocket-Version".into(), "13".into()),
        ];
        if let Some(origin) = &shaping.origin {
            headers.push(("Origin".into(), origin.clone()));
        }
        if !shaping.subprotocols.is_empty() {
            headers.push((
                "Sec-WebSocket-Protocol".into(),
                shaping.subprotocols.join(", "),
            ));
        }
        if let Some(credentials) = &shaping.basic_auth {
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            headers.push(("Authorization".into(), format!("Basic {encoded}")));
        }
        let agent = match &shaping.user_agent {
            None => Some(format!("wscope/{}", env!("CARGO_PKG_VERSION"))),
            Some(a) if a.is_empty() => None,
            Some(a) => Some(a.clone()),
        };
        if let Some(agent) = agent {
            headers.push(("User-Agent".into(), agent));
        }
        // A -H named like a generated header takes its place (once); any
        // other -H is added, so a repeated one goes out as often as given.
        let mut generated = vec![true; headers.len()];
        for (name, value) in &shaping.headers {
            let slot = (0..generated.len())
                .find(|&i| generated[i] && headers[i].0.eq_ignore_ascii_case(name));
            match slot {
                Some(i) => {
                    headers[i] = (name.clone(), value.clone());
                    generated[i] = false;
                }
                None => headers.push((name.clone(), value.clone())),
            }
        }
        let key = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Key"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut raw = format!("GET {} HTTP/1.1\r\n", target.resource);
        for (name, value) in &headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n");
        Request {
            raw: raw.into_bytes(),
            key,
            subprotocols: shaping.subprotocols.clone(),
        }
    }
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
fn is_token(s: &str) -> bool {
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
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The outcome of checking a response against its request.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub accept_expected: String,
    pub accept_ok: bool,
    pub subprotocol: Option<String>,
    pub extensions: Option<String>,
    /// Why the upgrade failed, if it did.
    pub problem: Option<String>,
}

pub fn send_request(stream: &mut impl Write, request: &Request) -> Result<(), Failure> {
    stream
        .write_all(&request.raw)
        .and_then(|_| stream.flush())
        .map_err(|e| io_failure("sending the upgrade request", e))
}

/// Reads the response head; for a non-101 answer also the start of its
/// body, waiting no longer than `body_wait` for it.
pub fn read_response(stream: &mut impl Read, body_wait: Duration) -> Result<Response, Failure> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(fail(
                Stage::Handshake,
                format!("the response head is over {MAX_HEAD} bytes without an end; not an HTTP server?"),
            ));
        }
        let n = stream
            .read(&mut chunk)
            .map_err(|e| io_failure("reading the upgrade response", e))?;
        if n == 0 {
            let got = if buf.is_empty() {
                "nothing".to_string()
            } else {
                format!("{} bytes: {:?}", buf.len(), String::from_utf8_lossy(&buf))
            };
            return Err(fail(
                Stage::Handshake,
                format!(
                    "the server closed the connection before a complete response head (got {got})"
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let leftover = buf.split_off(head_len);
    let (status, reason, headers) = parse_head(&buf)?;
    let mut response = Response {
        raw: buf,
        status,
        reason,
        headers,
        body: Vec::new(),
        leftover,
    };
    if status != 101 {
        response.body = std::mem::take(&mut response.leftover);
        let want = response
            .header("Content-Length")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(BODY_PREVIEW)
            .min(BODY_PREVIEW);
        read_body_start(stream, &mut response.body, want, body_wait);
        response.body.truncate(BODY_PREVIEW);
    }
    Ok(response)
}

/// Best effort: a body that never comes is not an error of its own.
fn read_body_start(stream: &mut impl Read, body: &mut Vec<u8>, want: usize, wait: Duration) {
    let deadline = Instant::now() + wait;
    let mut chunk = [0u8; 1024];
    while body.len() < want && Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Status code, reason phrase and headers of a response head.
type Head = (u16, String, Vec<(String, String)>);

fn parse_head(head: &[u8]) -> Result<Head, Failure> {
    let mut slots = [httparse::EMPTY_HEADER; 128];
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
                    "the server's answer is not valid HTTP ({e}); it begins {:?}",
                    String::from_utf8_lossy(first_line).trim_end()
                ),
            ));
        }
    }
    let status = parsed.code.unwrap_or_default();
    let reason = parsed.reason.unwrap_or_default().to_string();
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
    Ok((status, reason, headers))
}

/// Checks a response as RFC 6455 §4.1 asks of a client.
pub fn verify(request: &Request, response: &Response) -> Verdict {
    let accept_expected = derive_accept_key(request.key.as_bytes());
    let accept_got = response.header("Sec-WebSocket-Accept").map(str::trim);
    let accept_ok = accept_got == Some(accept_expected.as_str());
    let subprotocol = response
        .header("Sec-WebSocket-Protocol")
        .map(str::to_string);
    let extensions = response
        .header("Sec-WebSocket-Extensions")
        .map(str::to_string);
    let has_token = |name: &str, token: &str| {
        response
            .header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let problem = if response.status != 101 {
        Some(format!(
            "the server answered {} {} instead of 101 Switching Protocols",
            response.status, response.reason
        ))
    } else if !has_token("Upgrade", "websocket") {
        Some("the response has no 'Upgrade: websocket' header (RFC 6455 §4.1)".to_string())
    } else if !has_token("Connection", "upgrade") {
        Some("the response has no 'Connection: Upgrade' header (RFC 6455 §4.1)".to_string())
    } else if !accept_ok {
        Some(match accept_got {
            None => format!(
                "the response has no Sec-WebSocket-Accept header; expected {accept_expected} (RFC 6455 §4.1)"
            ),
            Some(got) => format!(
                "Sec-WebSocket-Accept is {got}, expected {accept_expected} (RFC 6455 §4.1)"
            ),
        })
    } else if let Some(p) = subprotocol
        .as_ref()
        .filter(|p| !request.subprotocols.contains(p))
    {
        Some(if request.subprotocols.is_empty() {
            format!("the server chose subprotocol '{p}' although none was offered (RFC 6455 §4.1)")
        } else {
            format!(
                "the server chose subprotocol '{p}', which was not offered (offered: {}) (RFC 6455 §4.1)",
                request.subprotocols.join(", ")
            )
        })
    } else {
        extensions.as_ref().map(|e| {
            format!("the server enabled extension '{e}' although none was offered (RFC 6455 §4.1)")
        })
    };
    Verdict {
        accept_expected,
        accept_ok,
        subprotocol,
        extensions,
        problem,
    }
}

fn io_failure(doing: &str, e: io::Error) -> Failure {
    let what = match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => e.to_string(),
    };
    fail(Stage::Handshake, format!("{doing} failed: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::parse("ws://example.test:8080/chat?x=1").unwrap()
    }

    fn answer(request: &Request, extra: &str) -> Response {
        let accept = derive_accept_key(request.key.as_bytes());
        let mut raw = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(b"\x81\x02hi");
        read_response(&mut raw.as_slice(), Duration::ZERO).unwrap()
    }

    #[test]
    fn request_has_required_headers_in_order() {
        let r = Request::build(&target(), &Shaping::default());
        let text = String::from_utf8(r.raw.clone()).unwrap();
        assert!(text.starts_with("GET /chat?x=1 HTTP/1.1\r\nHost: example.test:8080\r\n"));
        assert!(text.contains(&format!("Sec-WebSocket-Key: {}\r\n", r.key)));
        assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn good_response_keeps_raw_head_and_leftover_frames() {
        let request = Request::build(&target(), &Shaping::default());
        let response = answer(&request, "X-Case: MiXeD\r\n");
        assert!(response.raw.ends_with(b"X-Case: MiXeD\r\n\r\n"));
        assert_eq!(response.leftover, b"\x81\x02hi");
        assert_eq!(response.headers[3], ("X-Case".into(), "MiXeD".into()));
        let verdict = verify(&request, &response);
        assert!(verdict.accept_ok);
        assert_eq!(verdict.problem, None);
    }

    #[test]
    fn wrong_accept_is_reported_with_both_values() {
        let request = Request::build(&target(), &Shaping::default());
        let mut response = answer(&request, "");
        response.headers[2].1 = "bm90IHRoZSByaWdodCBrZXk=".into();
        let verdict = verify(&request, &response);
        assert!(!verdict.accept_ok);
        let problem = verdict.problem.unwrap();
        assert!(problem.contains("bm90IHRoZSByaWdodCBrZXk="), "{problem}");
        assert!(problem.contains(&verdict.accept_expected), "{problem}");
    }

    #[test]
    fn shaping_adds_headers_in_order_and_replaces_generated_ones() {
        let shaping = Shaping {
            headers: vec![
                ("X-First".into(), "1".into()),
                ("user-agent".into(), "probe/2".into()),
                ("X-Second".into(), "2".into()),
                ("X-First".into(), "again".into()),
            ],
            origin: Some("https://app.test".into()),
            subprotocols: vec!["chat".into(), "superchat".into()],
            basic_auth: Some("ann:s3cret".into()),
            user_agent: None,
        };
        let text = String::from_utf8(Request::build(&target(), &shaping).raw).unwrap();
        let names: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':').map(|(n, _)| n))
            .collect();
        assert_eq!(
            names,
            [
                "Host",
                "Upgrade",
                "Connection",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Version",
                "Origin",
                "Sec-WebSocket-Protocol",
                "Authorization",
                "user-agent",
                "X-First",
                "X-Second",
                "X-First"
            ]
        );
        assert!(text.contains("X-First: 1\r\n") && text.contains("X-First: again\r\n"));
        assert!(text.contains("Sec-WebSocket-Protocol: chat, superchat\r\n"));
        assert!(text.contains("Authorization: Basic YW5uOnMzY3JldA==\r\n"));
        assert!(text.contains("user-agent: probe/2\r\n"));
    }

    #[test]
    fn a_chosen_key_is_used_for_the_accept_check() {
        let shaping = Shaping {
            headers: vec![(
                "Sec-WebSocket-Key".into(),
                "dGhlIHNhbXBsZSBub25jZQ==".into(),
            )],
            ..Shaping::default()
        };
        let request = Request::build(&target(), &shaping);
        assert_eq!(request.key, "dGhlIHNhbXBsZSBub25jZQ==");
        // RFC 6455 §1.3's example.
        assert_eq!(
            derive_accept_key(request.key.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

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
    fn offered_subprotocol_is_accepted_and_others_are_not() {
        let shaping = Shaping {
            subprotocols: vec!["chat".into()],
            ..Shaping::default()
        };
        let request = Request::build(&target(), &shaping);
        let mut response = answer(&request, "Sec-WebSocket-Protocol: chat\r\n");
        let verdict = verify(&request, &response);
        assert_eq!(verdict.problem, None);
        assert_eq!(verdict.subprotocol.as_deref(), Some("chat"));
        response.headers[3].1 = "other".into();
        let problem = verify(&request, &response).problem.unwrap();
        assert!(
            problem.contains("'other', which was not offered (offered: chat)"),
            "{problem}"
        );
    }

    #[test]
    fn unoffered_subprotocol_is_a_problem() {
        let request = Request::build(&target(), &Shaping::default());
        let response = answer(&request, "Sec-WebSocket-Protocol: chat\r\n");
        assert!(verify(&request, &response)
            .problem
            .unwrap()
            .contains("'chat'"));
    }

    #[test]
    fn non_101_keeps_the_start_of_the_body() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\nno such socket";
        let response = read_response(&mut &raw[..], Duration::from_millis(10)).unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"no such socket");
        let problem = verify(&Request::build(&target(), &Shaping::default()), &response)
            .problem
            .unwrap();
        assert!(problem.contains("404 Not Found"), "{problem}");
    }

    #[test]
    fn garbage_and_early_close_are_handshake_failures() {
        let err = read_response(&mut &b"SSH-2.0-OpenSSH\r\n\r\n"[..], Duration::ZERO).unwrap_err();
        assert_eq!(err.stage, Stage::Handshake);
        assert!(err.message.contains("not valid HTTP"), "{}", err.message);
        let err = read_response(&mut &b"HTTP/1.1 101"[..], Duration::ZERO).unwrap_err();
        assert!(
            err.message.contains("closed the connection"),
            "{}",
            err.message
        );
    }
}
