//! The client's side of the opening handshake: the request as the user
//! shaped it, the server's answer read byte for byte, and the answer
//! checked as RFC 6455 §4.1 asks of a client. A bad answer (a 404 and its
//! body, a wrong Sec-WebSocket-Accept) is shown in full before it is
//! reported.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use tungstenite::handshake::client::generate_key;
use tungstenite::handshake::derive_accept_key;

use super::extensions::{self, Extension, PERMESSAGE_DEFLATE};
use super::{parse_head, Accept, Negotiated, Response};
use crate::error::{fail, Failure, Stage};
use crate::http::head::{read_head_after, ReadHead, Stop, TimedRead};
use crate::net::target::Target;

/// How much of a non-101 body is read and shown.
pub const BODY_PREVIEW: usize = 1024;
/// How many interim (1xx) responses may come before the real one.
const MAX_INTERIM: usize = 16;

pub struct Request {
    pub raw: Vec<u8>,
    /// The Sec-WebSocket-Key as sent (the user may have set it).
    pub key: String,
    /// Subprotocols offered, in order, as the request carries them
    /// (whether -s or -H put them there).
    pub subprotocols: Vec<String>,
    /// Extensions offered, likewise.
    pub extensions: Vec<Extension>,
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

/// Headers that carry credentials: they never follow a redirect to
/// another origin unless the user says so.
const CREDENTIAL_HEADERS: [&str; 3] = ["Authorization", "Cookie", "Proxy-Authorization"];

/// Authorization, Cookie, Proxy-Authorization: never sent to another
/// origin unless asked.
pub fn is_credential(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

impl Shaping {
    /// The same request without credentials; the names of what was taken.
    pub fn without_credentials(&self) -> (Shaping, Vec<String>) {
        let mut dropped = Vec::new();
        let mut shaping = self.clone();
        if shaping.basic_auth.take().is_some() {
            dropped.push("Authorization".to_string());
        }
        shaping.headers.retain(|(name, _)| {
            let credential = is_credential(name);
            if credential && !dropped.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                dropped.push(name.clone());
            }
            !credential
        });
        (shaping, dropped)
    }
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
        // What was offered is read off the request as it goes out.
        let listed = |header: &str| -> Vec<String> {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(header))
                .flat_map(|(_, v)| v.split(','))
                .map(|item| item.split(';').next().unwrap_or("").trim().to_string())
                .filter(|item| !item.is_empty())
                .collect()
        };
        Request {
            raw: raw.into_bytes(),
            key,
            subprotocols: listed("Sec-WebSocket-Protocol"),
            extensions: extensions::parse(
                &headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }
}

pub fn send_request(stream: &mut impl Write, request: &Request) -> Result<(), Failure> {
    stream
        .write_all(&request.raw)
        .and_then(|_| stream.flush())
        .map_err(|e| io_failure("sending the upgrade request", e))
}

/// When the opening must be done: --connect-timeout, from the start.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }
}

/// Reads the response head by the deadline; for a non-101 answer also the
/// start of its body, waiting no longer than `body_wait` for it.
pub fn read_response(
    stream: &mut impl TimedRead,
    deadline: Deadline,
    body_wait: Duration,
) -> Result<Response, Failure> {
    let mut interim = Vec::new();
    let mut read = read_answer(stream, deadline, Vec::new())?;
    let mut head = parse_head(&read.head)?;
    // RFC 9110 §15.2: interim responses are shown and skipped.
    while (100..200).contains(&head.status) && head.status != 101 {
        if interim.len() == MAX_INTERIM {
            return Err(fail(
                Stage::Handshake,
                format!("the server sent more than {MAX_INTERIM} interim (1xx) responses"),
            ));
        }
        interim.push(read.head);
        read = read_answer(stream, deadline, read.leftover)?;
        head = parse_head(&read.head)?;
    }
    let mut response = Response {
        raw: read.head,
        status: head.status,
        reason: head.reason,
        headers: head.headers,
        body: Vec::new(),
        leftover: read.leftover,
        interim,
        version: head.version,
    };
    if response.status != 101 {
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

/// One response head, or why none came, in words.
fn read_answer(
    stream: &mut impl TimedRead,
    deadline: Deadline,
    already: Vec<u8>,
) -> Result<ReadHead, Failure> {
    read_head_after(already, stream, deadline.at).map_err(|unread| {
        let got = unread.got_text();
        let why = match unread.stop {
            Stop::Closed => format!(
                "the server closed the connection before a complete response head (got {got})"
            ),
            Stop::TimedOut => format!(
                "timed out: no complete response head within {} s (--connect-timeout); got {got}",
                deadline.limit.as_secs_f64()
            ),
            Stop::TooLarge => format!(
                "the response head is over {} bytes without an end; not an HTTP server? (got {got})",
                crate::http::head::MAX_HEAD
            ),
            Stop::NotHttp if matches!(unread.got.first(), Some(0x15 | 0x16)) => format!(
                "the server answered with TLS, not HTTP: use wss:// for this port (got {got})"
            ),
            Stop::NotHttp => format!("the server's answer is not HTTP (got {got})"),
            Stop::Io(e) => return io_failure("reading the upgrade response", e),
        };
        fail(Stage::Handshake, why)
    })
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

/// Checks a response as RFC 6455 §4.1 asks of a client.
pub fn verify(request: &Request, response: &Response) -> Negotiated {
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
    let accepts = response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Accept"))
        .count();
    let mut deflate = None;
    let problem = if response.status != 101 {
        Some(format!(
            "the server answered {} {} instead of 101 Switching Protocols",
            response.status, response.reason
        ))
    } else if !has_token("Upgrade", "websocket") {
        Some("the response has no 'Upgrade: websocket' header (RFC 6455 §4.1)".to_string())
    } else if !has_token("Connection", "upgrade") {
        Some("the response has no 'Connection: Upgrade' header (RFC 6455 §4.1)".to_string())
    } else if accepts > 1 {
        Some(format!(
            "the response has Sec-WebSocket-Accept {accepts} times; it must appear once (RFC 6455 §11.3.3)"
        ))
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
    } else if let Some(e) = &extensions {
        match check_extensions(request, e) {
            Ok(accepted) => {
                deflate = accepted;
                None
            }
            Err(problem) => Some(problem),
        }
    } else {
        None
    };
    Negotiated {
        accept: Some(Accept {
            expected: accept_expected,
            ok: accept_ok,
        }),
        subprotocol,
        extensions,
        deflate,
        problem,
    }
}

/// The extensions a server enabled, each checked against the offer:
/// permessage-deflate's parameters per RFC 7692 §7.1; anything else was
/// either not offered or is not implemented here.
fn check_extensions(
    request: &Request,
    answer: &str,
) -> Result<Option<extensions::Deflate>, String> {
    let mut deflate = None;
    for ext in extensions::parse(answer) {
        let offer = request
            .extensions
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(&ext.name));
        let name = &ext.name;
        match offer {
            None if request.extensions.is_empty() => {
                return Err(format!(
                    "the server enabled extension '{name}' although none was offered (RFC 6455 §9.1)"
                ))
            }
            None => {
                let offered: Vec<&str> = request.extensions.iter().map(|o| o.name.as_str()).collect();
                return Err(format!(
                    "the server enabled extension '{name}', which was not offered (offered: {}) (RFC 6455 §9.1)",
                    offered.join(", ")
                ));
            }
            Some(_) if !name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) => {
                return Err(format!(
                    "the server accepted extension '{name}', which was offered but which wscope does not implement"
                ))
            }
            Some(_) if deflate.is_some() => {
                return Err("the server enabled permessage-deflate twice (RFC 7692 §5)".into())
            }
            Some(_) => {
                // Each offer of several is a candidate; the first that the
                // answer fits is the one accepted.
                let mut why = String::new();
                let fits = request
                    .extensions
                    .iter()
                    .filter(|o| o.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
                    .find_map(|o| match extensions::accept_answer(&ext, o) {
                        Ok(params) => Some(params),
                        Err(e) => {
                            why = e;
                            None
                        }
                    });
                deflate = Some(fits.ok_or(why)?);
            }
        }
    }
    Ok(deflate)
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

    fn far() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

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
        read_response(&mut raw.as_slice(), far(), Duration::ZERO).unwrap()
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
        assert!(verdict.accept.as_ref().unwrap().ok);
        assert_eq!(verdict.problem, None);
    }

    #[test]
    fn wrong_accept_is_reported_with_both_values() {
        let request = Request::build(&target(), &Shaping::default());
        let mut response = answer(&request, "");
        response.headers[2].1 = "bm90IHRoZSByaWdodCBrZXk=".into();
        let verdict = verify(&request, &response);
        let accept = verdict.accept.clone().unwrap();
        assert!(!accept.ok);
        let problem = verdict.problem.unwrap();
        assert!(problem.contains("bm90IHRoZSByaWdodCBrZXk="), "{problem}");
        assert!(problem.contains(&accept.expected), "{problem}");
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
        let response = read_response(&mut &raw[..], far(), Duration::from_millis(10)).unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"no such socket");
        let problem = verify(&Request::build(&target(), &Shaping::default()), &response)
            .problem
            .unwrap();
        assert!(problem.contains("404 Not Found"), "{problem}");
    }

    #[test]
    fn garbage_and_early_close_are_handshake_failures() {
        let err =
            read_response(&mut &b"SSH-2.0-OpenSSH\r\n\r\n"[..], far(), Duration::ZERO).unwrap_err();
        assert_eq!(err.stage, Stage::Handshake);
        assert!(err.message.contains("not valid HTTP"), "{}", err.message);
        let err = read_response(&mut &b"HTTP/1.1 101"[..], far(), Duration::ZERO).unwrap_err();
        assert!(
            err.message.contains("closed the connection"),
            "{}",
            err.message
        );
    }
}
