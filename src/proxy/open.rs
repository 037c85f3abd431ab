//! One client's way in, on a thread of its own: its request (a reverse
//! proxy's origin-form request, an HTTP proxy's absolute-form one, or a
//! CONNECT tunnel, plain or intercepted TLS), the upstream connection, the
//! request as sent upstream, and the answer relayed back. What comes of it
//! is handed to the relay loop with every head as it crossed.

use std::io::Write;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Failure;
use crate::handshake::client::{read_response, Deadline};
use crate::handshake::extensions::{self, PERMESSAGE_DEFLATE};
use crate::handshake::server::{close_politely, plain_answer, request_line};
use crate::handshake::{Negotiated, Response};
use crate::http::head::{read_head, read_head_after, Stop};
use crate::net::connect::{self, ConnectFacts, Route, Transport};
use crate::net::target::Target;
use crate::socket::Socket;
use crate::tls::mitm::Mitm;
use crate::tls::{self, TlsStream};

/// How long a client may take to send its request (and a tunnel's TLS
/// handshake).
pub const CLIENT_HEAD_WAIT: Duration = Duration::from_secs(10);

/// What every client's opening needs; shared by their threads.
pub struct Upstream {
    /// The reverse proxy's server; `None` for an HTTP proxy.
    pub url: Option<Target>,
    pub tls: Option<tls::Client>,
    pub mitm: Option<Arc<Mitm>>,
    pub timeout: Duration,
    /// Take permessage-deflate out of the client's offer (a fault changes
    /// messages, which would break its shared window).
    pub strip_deflate: bool,
    /// How the proxy is reached, for the client leg's URL.
    pub local: String,
}

/// A client carried through to its server (or answered by it with
/// something other than 101, relayed already).
pub struct Opened {
    pub client: Transport,
    pub client_facts: ConnectFacts,
    /// The URL the client asked for, as the proxy saw it.
    pub client_url: String,
    pub server: Transport,
    pub server_facts: ConnectFacts,
    pub server_url: String,
    pub request_in: Vec<u8>,
    pub request_out: Vec<u8>,
    pub response: Response,
    pub negotiated: Negotiated,
    /// Bytes that came after each head: the first frames.
    pub from_client: Vec<u8>,
    pub from_server: Vec<u8>,
    pub notices: Vec<String>,
    /// A TLS tunnel carried unread (no --mitm).
    pub blind: bool,
}

pub enum Opening {
    Opened(Box<Opened>),
    /// Turned away before any server answered, in words.
    Refused(String),
}

/// A request as the client sent it.
struct Asked {
    head: Vec<u8>,
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    leftover: Vec<u8>,
}

fn parse_request(head: Vec<u8>, leftover: Vec<u8>) -> Result<Asked, String> {
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    let mut slots = vec![httparse::EMPTY_HEADER; lines];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => {
            return Err(format!(
                "its request is not valid HTTP: \"{}\"",
                request_line(&head).unwrap_or_default()
            ))
        }
    }
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or_default().to_string();
    let headers = req
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    Ok(Asked {
        head,
        method,
        target,
        headers,
        leftover,
    })
}

impl Asked {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    fn is_upgrade(&self) -> bool {
        self.header("Upgrade").is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
        })
    }
}

/// Answers the client with an error and says why, in one notice.
fn refuse(mut sock: Socket, status: &str, text: &str, who: &str) -> Opening {
    let _ = sock.write_all(plain_answer(status, text).as_bytes());
    close_politely(&sock);
    Opening::Refused(format!("client {who}: {text} (answered {status})"))
}

/// Reads the client's request and carries it through.
pub fn open(up: &Upstream, sock: Socket, who: &str) -> Opening {
    let facts = ConnectFacts {
        addr: sock
            .peer_addr()
            .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0))),
        local: match &sock {
            Socket::Tcp(t) => t.local_addr().ok(),
            Socket::Unix(_) => None,
        },
        via: None,
        unix: None,
        timings: None,
        tls: None,
    };
    let mut sock = sock;
    let deadline = Instant::now() + CLIENT_HEAD_WAIT;
    let asked = match read_head(&mut sock, deadline) {
        Ok(read) => match parse_request(read.head, read.leftover) {
            Ok(asked) => asked,
            Err(why) => return refuse(sock, "400 Bad Request", &why, who),
        },
        Err(unread) => {
            let why = match unread.stop {
                Stop::Closed => "closed before a whole request".to_string(),
                Stop::TimedOut => format!(
                    "sent no whole request within {} s (got {})",
                    CLIENT_HEAD_WAIT.as_secs(),
                    unread.got_text()
                ),
                Stop::NotHttp if unread.got.first() == Some(&0x16) => {
                    "spoke TLS: this proxy listens for plain HTTP (give wss:// URLs to the client and ws:// ones here, or use CONNECT)".to_string()
                }
                _ => format!("sent no HTTP request (got {})", unread.got_text()),
            };
            let _ = sock.shutdown(Shutdown::Both);
            return Opening::Refused(format!("client {who}: {why}"));
        }
    };
    if asked.method.eq_ignore_ascii_case("CONNECT") {
        if up.url.is_some() {
            return refuse(
                sock,
                "405 Method Not Allowed",
                "this is a reverse proxy: connect to it directly, not with CONNECT",
                who,
            );
        }
        return tunnel(up, sock, facts, asked, who);
    }
    let (target, client_url) = match (&up.url, asked.target.starts_with('/')) {
        (Some(url), true) => match joined(url, &asked.target) {
            // The path as the client sent it is shown: escaped.
            Ok(t) => (
                t,
                format!("ws://{}{}", up.local, crate::escape::escape(&asked.target)),
            ),
            Err(why) => return refuse(sock, "400 Bad Request", &why, who),
        },
        (None, false) => match absolute(&asked.target) {
            Ok(t) => {
                let shown = t.url.to_string();
                (t, shown)
            }
            Err(why) => return refuse(sock, "400 Bad Request", &why, who),
        },
        (Some(_), false) => {
            return refuse(
                sock,
                "400 Bad Request",
                "this is a reverse proxy: ask for a path (GET /...), not a URL",
                who,
            )
        }
        (None, true) => {
            return refuse(
                sock,
                "400 Bad Request",
                "this is an HTTP proxy: set it as the client's proxy (HTTP_PROXY, --proxy-server), or give wscope proxy a URL to be a reverse proxy",
                who,
            )
        }
    };
    carry(
        up,
        Transport::Plain(sock),
        facts,
        client_url,
        asked,
        target,
        who,
        false,
    )
}

/// A reverse proxy's URL with the client's path and query appended.
fn joined(url: &Target, asked: &str) -> Result<Target, String> {
    let (path, query) = match asked.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (asked, None),
    };
    let mut u = url.url.clone();
    let base = u.path().trim_end_matches('/').to_string();
    u.set_path(&format!("{base}{path}"));
    let queries: Vec<&str> = [url.url.query(), query]
        .into_iter()
        .flatten()
        .filter(|q| !q.is_empty())
        .collect();
    u.set_query((!queries.is_empty()).then(|| queries.join("&")).as_deref());
    Target::parse(u.as_str()).map_err(|f| f.message)
}

/// An absolute-form request's URL (http:// is ws://, as proxies see it).
fn absolute(asked: &str) -> Result<Target, String> {
    let url = if let Some(rest) = asked.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if asked.starts_with("ws://") {
        asked.to_string()
    } else {
        return Err(format!(
            "the request names '{}': an HTTP proxy carries ws:// (or http://) URLs, and wss:// through CONNECT",
            crate::escape::escape(asked)
        ));
    };
    Target::parse(&url).map_err(|f| f.message)
}

/// CONNECT host:port: a tunnel. Inside it, a plain request is read as any
/// other; TLS is intercepted with --mitm, or carried unread.
fn tunnel(
    up: &Upstream,
    mut sock: Socket,
    mut facts: ConnectFacts,
    asked: Asked,
    who: &str,
) -> Opening {
    let authority = asked.target.clone();
    let Some((host, port)) = authority.rsplit_once(':').and_then(|(h, p)| {
        Some((
            h.trim_matches(|c| c == '[' || c == ']'),
            p.parse::<u16>().ok()?,
        ))
    }) else {
        return refuse(
            sock,
            "400 Bad Request",
            &format!(
                "CONNECT needs host:port, not '{}'",
                crate::escape::escape(&authority)
            ),
            who,
        );
    };
    let host = host.to_string();
    if sock
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .is_err()
    {
        return Opening::Refused(format!("client {who}: gone after CONNECT"));
    }
    let _ = sock.set_read_timeout(Some(CLIENT_HEAD_WAIT));
    let mut first = [0u8; 1];
    let speaks_tls = asked.leftover.first().map_or_else(
        || matches!(sock.peek(&mut first), Ok(1) if first[0] == 0x16),
        |b| *b == 0x16,
    );
    let host_port = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if !speaks_tls {
        let deadline = Instant::now() + CLIENT_HEAD_WAIT;
        let inner = match read_head_after(asked.leftover, &mut sock, deadline) {
            Ok(read) => match parse_request(read.head, read.leftover) {
                Ok(a) => a,
                Err(why) => return refuse(sock, "400 Bad Request", &why, who),
            },
            Err(unread) => {
                return Opening::Refused(format!(
                    "client {who}: sent no request through its tunnel to {host_port} (got {})",
                    unread.got_text()
                ))
            }
        };
        let target = match Target::parse(&format!("ws://{host_port}{}", inner.target)) {
            Ok(t) => t,
            Err(f) => return refuse(sock, "400 Bad Request", &f.message, who),
        };
        let url = target.url.to_string();
        return carry(
            up,
            Transport::Plain(sock),
            facts,
            url,
            inner,
            target,
            who,
            false,
        );
    }
    let Some(mitm) = up.mitm.as_ref() else {
        return blind(up, sock, facts, host, port, who);
    };
    if !asked.leftover.is_empty() {
        return Opening::Refused(format!(
            "client {who}: sent its TLS hello together with CONNECT; cannot intercept it"
        ));
    }
    let config = match mitm.server_config(&host) {
        Ok(c) => c,
        Err(f) => return Opening::Refused(format!("client {who}: {}", f.message)),
    };
    let stream = match accept_tls(config, sock) {
        Ok(s) => s,
        Err(why) => {
            return Opening::Refused(format!(
                "client {who}: TLS for {host_port} failed: {why} (does it trust the CA in --mitm?)"
            ))
        }
    };
    facts.tls = Some(stream.facts());
    let mut transport = Transport::Tls(Box::new(stream));
    let deadline = Instant::now() + CLIENT_HEAD_WAIT;
    let inner = match read_head(&mut transport, deadline) {
        Ok(read) => match parse_request(read.head, read.leftover) {
            Ok(a) => a,
            Err(why) => return Opening::Refused(format!("client {who}: {why}")),
        },
        Err(unread) => {
            return Opening::Refused(format!(
                "client {who}: sent no request inside TLS to {host_port} (got {})",
                unread.got_text()
            ))
        }
    };
    let target = match Target::parse(&format!("wss://{host_port}{}", inner.target)) {
        Ok(t) => t,
        Err(f) => return Opening::Refused(format!("client {who}: {}", f.message)),
    };
    let url = target.url.to_string();
    carry(up, transport, facts, url, inner, target, who, true)
}

/// The server side of a TLS handshake inside a tunnel, bounded in time.
fn accept_tls(config: Arc<rustls::ServerConfig>, mut sock: Socket) -> Result<TlsStream, String> {
    let mut conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + CLIENT_HEAD_WAIT;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("not done within {} s", CLIENT_HEAD_WAIT.as_secs()));
        }
        let _ = sock.set_read_timeout(Some(left));
        if let Err(e) = conn.complete_io(&mut sock) {
            let _ = conn.write_tls(&mut sock);
            return Err(e.to_string());
        }
    }
    let _ = sock.set_read_timeout(None);
    Ok(TlsStream {
        conn: conn.into(),
        sock,
    })
}

/// A TLS tunnel without --mitm: carried as bytes, with a notice that says
/// how to see inside.
fn blind(
    up: &Upstream,
    sock: Socket,
    facts: ConnectFacts,
    host: String,
    port: u16,
    who: &str,
) -> Opening {
    let host_port = format!("{host}:{port}");
    let target = match Target::parse(&format!("ws://{host_port}/")) {
        Ok(t) => t,
        Err(f) => return Opening::Refused(format!("client {who}: {}", f.message)),
    };
    let route = Route {
        proxy: None,
        ip_version: None,
        tls_server_name: None,
        timeout: up.timeout,
    };
    let server = match connect::connect(&target, None, &route) {
        Ok(c) => c,
        Err(f) => {
            let _ = sock.shutdown(Shutdown::Both);
            return Opening::Refused(format!(
                "client {who}: tunnel to {host_port}: {}",
                f.message
            ));
        }
    };
    Opening::Opened(Box::new(Opened {
        client: Transport::Plain(sock),
        client_facts: facts,
        client_url: format!("tls://{host_port}"),
        server: server.transport,
        server_facts: server.facts,
        server_url: format!("tls://{host_port}"),
        request_in: Vec::new(),
        request_out: Vec::new(),
        response: empty_response(),
        negotiated: Negotiated::default(),
        from_client: Vec::new(),
        from_server: Vec::new(),
        notices: vec![format!(
            "TLS to {host_port} is carried unread: give --mitm DIR to see inside (and have the client trust DIR/ca.pem)"
        )],
        blind: true,
    }))
}

fn empty_response() -> Response {
    Response {
        raw: Vec::new(),
        status: 0,
        reason: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        leftover: Vec::new(),
        interim: Vec::new(),
        version: 1,
    }
}

/// The request as it goes upstream: the same request line (with the
/// server's path), the same headers in the same order, but Host for the
/// server, no proxy headers, and without permessage-deflate when faults
/// change messages.
fn upstream_request(
    asked: &Asked,
    target: &Target,
    strip_deflate: bool,
    notices: &mut Vec<String>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(asked.head.len() + 64);
    out.extend_from_slice(format!("GET {} HTTP/1.1\r\n", target.resource).as_bytes());
    let mut host_done = false;
    for (name, value) in &asked.headers {
        let lower = name.to_ascii_lowercase();
        let value: Vec<u8> = match lower.as_str() {
            "host" => {
                host_done = true;
                target.host_header.clone().into_bytes()
            }
            "proxy-connection" | "proxy-authorization" => continue,
            "sec-websocket-extensions" if strip_deflate => {
                let text = String::from_utf8_lossy(value);
                let kept: Vec<&str> = text
                    .split(',')
                    .filter(|offer| {
                        offer.split(';').next().map(str::trim) != Some(PERMESSAGE_DEFLATE)
                    })
                    .collect();
                if kept.len() != text.split(',').count() {
                    notices.push(
                        "permessage-deflate taken out of the client's offer: a --fault changes messages, which would break the shared compression window".to_string(),
                    );
                }
                if kept.is_empty() {
                    continue;
                }
                kept.join(",").trim().as_bytes().to_vec()
            }
            _ => value.clone(),
        };
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&value);
        out.extend_from_slice(b"\r\n");
    }
    if !host_done {
        out.extend_from_slice(format!("Host: {}\r\n", target.host_header).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What the two sides agreed for permessage-deflate, read from the
/// client's offer and the server's answer (the view inflates with it).
fn agreed_deflate(
    request: &[u8],
    response: &Response,
    notices: &mut Vec<String>,
) -> Option<extensions::Deflate> {
    let answer = response.header("Sec-WebSocket-Extensions")?;
    let answer = extensions::parse(answer)
        .into_iter()
        .find(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))?;
    let text = String::from_utf8_lossy(request);
    let offers = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .flat_map(|(_, v)| extensions::parse(v.trim()))
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE));
    let mut last = None;
    for offer in offers {
        match extensions::accept_answer(&answer, &offer) {
            Ok(d) => return Some(d),
            Err(why) => last = Some(why),
        }
    }
    notices.push(format!(
        "the server's permessage-deflate answer fits no offer ({}): messages are shown compressed",
        last.unwrap_or_else(|| "none was made".into())
    ));
    None
}

/// Connects upstream, sends the request, reads the answer and relays it.
#[allow(clippy::too_many_arguments)]
fn carry(
    up: &Upstream,
    mut client: Transport,
    client_facts: ConnectFacts,
    client_url: String,
    asked: Asked,
    target: Target,
    who: &str,
    in_tls: bool,
) -> Opening {
    let answer = |client: &mut Transport, status: &str, text: &str| {
        let _ = client.write_all(plain_answer(status, text).as_bytes());
        let _ = client.flush();
        close_politely(client.socket());
    };
    if !asked.is_upgrade() {
        let text = format!(
            "{} {}: not a WebSocket upgrade; wscope proxy carries WebSocket connections only",
            crate::escape::escape(&asked.method),
            crate::escape::escape(&asked.target)
        );
        answer(&mut client, "400 Bad Request", &text);
        return Opening::Refused(format!("client {who}: {text}"));
    }
    let mut notices = Vec::new();
    let request_out = upstream_request(&asked, &target, up.strip_deflate, &mut notices);
    let tls = match (target.tls, &up.tls) {
        (true, Some(c)) => Some(c.clone()),
        (true, None) => {
            answer(
                &mut client,
                "502 Bad Gateway",
                "no TLS configuration for the server",
            );
            return Opening::Refused(format!(
                "client {who}: no TLS configuration for {}",
                target.shown()
            ));
        }
        (false, _) => None,
    };
    let route = Route {
        proxy: None,
        ip_version: None,
        tls_server_name: None,
        timeout: up.timeout,
    };
    let failed = |client: &mut Transport, f: Failure| {
        let text = format!(
            "the server {} cannot be reached: {}",
            target.shown(),
            f.message
        );
        answer(client, "502 Bad Gateway", &text);
        Opening::Refused(format!("client {who}: {text}"))
    };
    let connected = match connect::connect(&target, tls, &route) {
        Ok(c) => c,
        Err(f) => return failed(&mut client, f),
    };
    let mut server = connected.transport;
    if let Err(e) = server.write_all(&request_out).and_then(|_| server.flush()) {
        return failed(
            &mut client,
            crate::error::fail(crate::error::Stage::Io, e.to_string()),
        );
    }
    let response = match read_response(
        &mut server,
        Deadline::after(up.timeout),
        Duration::from_secs(1),
    ) {
        Ok(r) => r,
        Err(f) => return failed(&mut client, f),
    };
    // The answer goes back as it came: interim answers, the head, and for
    // a refusal the start of its body.
    let mut relayed = Vec::new();
    for interim in &response.interim {
        relayed.extend_from_slice(interim);
    }
    relayed.extend_from_slice(&response.raw);
    if response.status != 101 {
        relayed.extend_from_slice(&response.body);
    }
    if client
        .write_all(&relayed)
        .and_then(|_| client.flush())
        .is_err()
    {
        return Opening::Refused(format!("client {who}: gone before the server's answer"));
    }
    if response.status != 101 {
        close_politely(client.socket());
    }
    let negotiated = Negotiated {
        subprotocol: response
            .header("Sec-WebSocket-Protocol")
            .map(str::to_string),
        extensions: response
            .header("Sec-WebSocket-Extensions")
            .map(str::to_string),
        deflate: agreed_deflate(&request_out, &response, &mut notices),
        ..Negotiated::default()
    };
    let _ = in_tls;
    let from_server = response.leftover.clone();
    Opening::Opened(Box::new(Opened {
        client,
        client_facts,
        client_url,
        server,
        server_facts: connected.facts,
        server_url: target.url.to_string(),
        request_in: asked.head,
        request_out,
        response,
        negotiated,
        from_client: asked.leftover,
        from_server,
        notices,
        blind: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reverse_proxy_appends_the_clients_path_and_query() {
        let url = Target::parse("ws://127.0.0.1:9/api?v=1").unwrap();
        let t = joined(&url, "/chat?room=2").unwrap();
        assert_eq!(t.resource, "/api/chat?v=1&room=2");
        let root = Target::parse("ws://127.0.0.1:9/").unwrap();
        assert_eq!(joined(&root, "/x").unwrap().resource, "/x");
    }

    #[test]
    fn the_upstream_request_keeps_the_clients_headers_but_host_and_proxy_ones() {
        let head = b"GET ws://a.test/x HTTP/1.1\r\nHost: a.test\r\nProxy-Connection: keep-alive\r\nUpgrade: websocket\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-other\r\n\r\n".to_vec();
        let asked = parse_request(head, Vec::new()).unwrap();
        let target = Target::parse("ws://127.0.0.1:9/x").unwrap();
        let mut notices = Vec::new();
        let out =
            String::from_utf8(upstream_request(&asked, &target, false, &mut notices)).unwrap();
        assert!(
            out.starts_with("GET /x HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"),
            "{out}"
        );
        assert!(!out.contains("Proxy-Connection"));
        assert!(out.contains("Sec-WebSocket-Key: abc\r\n"));
        assert!(out.contains("permessage-deflate; client_max_window_bits, x-other"));
        let stripped =
            String::from_utf8(upstream_request(&asked, &target, true, &mut notices)).unwrap();
        assert!(
            stripped.contains("Sec-WebSocket-Extensions: x-other\r\n"),
            "{stripped}"
        );
        assert_eq!(notices.len(), 1);
    }
}
