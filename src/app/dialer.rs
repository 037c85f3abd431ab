//! The dialer: everything the command line says about opening a
//! connection as a client (timeouts, IP version, proxy, TLS, redirects),
//! lowered once into a value that opens connections from any thread, so
//! that a mode can open as many as it needs without a command line.
//! Opening is proxy, TCP, TLS, the opening handshake, and redirects with
//! -L. The wire tap goes on the stream the moment it exists, so the
//! handshake crosses it too; every hop's connection, request and response
//! are shown.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cli::{Cli, TlsMin};
use crate::error::{fail, warn, Failure, Stage};
use crate::handshake::client::{self as handshake, Deadline, Request, Shaping};
use crate::handshake::{Negotiated, Response};
use crate::net::connect::{self, ConnectFacts, Route, Transport};
use crate::net::proxy;
use crate::net::target::Target;
use crate::net::tcp::IpVersion;
use crate::observe::{Event, Observers, Role};
use crate::tls;
use crate::wire::tap::{Keep, Tap};

pub struct Dialer {
    pub connect_timeout: Duration,
    pub ip_version: Option<IpVersion>,
    /// --proxy, as given (`Some("")` ignores the proxy environment).
    pub proxy: Option<String>,
    pub tls_server_name: Option<String>,
    /// -L, --max-redirects, --location-trusted.
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub location_trusted: bool,
    ca_files: Vec<PathBuf>,
    insecure: bool,
    client_cert: Option<(PathBuf, PathBuf)>,
    tls13_only: bool,
    /// Made when a first wss:// connection needs it, then shared.
    tls: Mutex<Option<tls::Client>>,
}

impl Dialer {
    pub fn from_cli(cli: &Cli) -> Dialer {
        Dialer {
            connect_timeout: Duration::from_secs_f64(cli.connect_timeout.max(0.001)),
            ip_version: match (cli.ipv4, cli.ipv6) {
                (true, _) => Some(IpVersion::V4),
                (_, true) => Some(IpVersion::V6),
                _ => None,
            },
            proxy: cli.proxy.clone(),
            tls_server_name: cli.tls_server_name.clone(),
            follow_redirects: cli.location,
            max_redirects: cli.max_redirects,
            location_trusted: cli.location_trusted,
            ca_files: cli.ca.clone(),
            insecure: cli.insecure,
            client_cert: cli.cert.clone().zip(cli.key.clone()),
            tls13_only: cli.tls_min == Some(TlsMin::V1_3),
            tls: Mutex::new(None),
        }
    }

    /// The TLS client configuration, made once.
    pub fn tls(&self) -> Result<tls::Client, Failure> {
        let mut made = self.tls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(config) = made.as_ref() {
            return Ok(config.clone());
        }
        if self.insecure {
            warn("-k/--insecure: the server's certificate is not verified; anyone on the path can read and change this session");
        }
        let config = tls::client_config(&tls::TlsOptions {
            ca_files: &self.ca_files,
            insecure: self.insecure,
            client_cert: self
                .client_cert
                .as_ref()
                .map(|(cert, key)| (cert.as_path(), key.as_path())),
            tls13_only: self.tls13_only,
        })?;
        *made = Some(config.clone());
        Ok(config)
    }
}

/// A connection whose opening handshake succeeded.
pub struct Opened {
    pub target: Target,
    pub tap: Tap<Transport>,
    pub facts: ConnectFacts,
    pub response: Response,
    pub negotiated: Negotiated,
    /// How long the server took to answer the upgrade: a round trip.
    pub upgrade: Duration,
}

/// A plain request that got no answer at all: if the port speaks TLS,
/// say so and name the wss:// URL, as a TLS failure names ws://.
fn hint_tls(failure: Failure, target: &Target, addr: std::net::SocketAddr) -> Failure {
    if !tls::probe::speaks_tls(addr, &target.host) {
        return failure;
    }
    let mut url = target.url.clone();
    let _ = url.set_scheme("wss");
    // ws://host/ meant port 80; wss:// would mean 443, so keep the port.
    if url.port().is_none() {
        let _ = url.set_port(Some(target.port));
    }
    fail(
        Stage::Handshake,
        format!("{}; this port speaks TLS: use {url}", failure.message),
    )
}

/// How long to wait for the start of a refusal's body.
const BODY_WAIT: Duration = Duration::from_secs(2);

/// Connects and runs the opening handshake, following redirects with -L.
pub fn open(
    dialer: &Dialer,
    obs: &mut Observers,
    mut target: Target,
    shaping: &Shaping,
    keep: Keep,
    max_time: Option<Instant>,
) -> Result<Opened, Failure> {
    let mut shaping = shaping.clone();
    let connect_timeout = dialer.connect_timeout;
    let mut hops = 0;
    loop {
        // --connect-timeout bounds the whole opening of each hop, and
        // --max-time the whole run.
        let timeout = match max_time {
            Some(end) => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(fail(
                        Stage::Connect,
                        "--max-time reached before the connection opened",
                    ));
                }
                connect_timeout.min(left)
            }
            None => connect_timeout,
        };
        let deadline = Deadline::after(timeout);
        let proxy = proxy::choose(&target, dialer.proxy.as_deref())?;
        let route = Route {
            proxy: proxy.as_ref(),
            ip_version: dialer.ip_version,
            tls_server_name: dialer.tls_server_name.as_deref(),
            timeout,
        };
        let config = if target.tls {
            Some(dialer.tls()?)
        } else {
            None
        };
        let connected = connect::connect(&target, config, &route)?;
        obs.event(&Event::Connect {
            url: &target.shown(),
            role: Role::Client,
            facts: &connected.facts,
        });
        let mut tap = Tap::new(connected.transport, keep);

        let started = Instant::now();
        let request = Request::build(&target, &shaping);
        obs.event(&Event::Request { raw: &request.raw });
        let answer = handshake::send_request(&mut tap, &request)
            .and_then(|_| handshake::read_response(&mut tap, deadline, BODY_WAIT));
        let upgrade = started.elapsed();
        obs.wire_chunks(&mut tap);
        let response = answer.map_err(|failure| {
            let silent = tap.bytes(crate::wire::Dir::In) == 0 && upgrade < timeout;
            // The probe takes up to two seconds: not past --max-time.
            let room = max_time.is_none_or(|end| end > Instant::now() + Duration::from_secs(2));
            let silent = silent && room;
            match silent && !target.tls && proxy.is_none() && target.unix.is_none() {
                true => hint_tls(failure, &target, connected.facts.addr),
                false => failure,
            }
        })?;
        let negotiated = handshake::verify(&request, &response);
        if response.version == 0 {
            obs.event(&Event::Notice(
                "the server answered with HTTP/1.0; RFC 6455 §4.1 asks for HTTP/1.1 or later",
            ));
        }
        obs.event(&Event::Response {
            response: &response,
            negotiated: &negotiated,
            upgrade_ms: Some(upgrade.as_secs_f64() * 1000.0),
        });
        let Some(problem) = negotiated.problem.clone() else {
            return Ok(Opened {
                target,
                tap,
                facts: connected.facts,
                response,
                negotiated,
                upgrade,
            });
        };
        let location = response.header("Location").filter(|_| {
            dialer.follow_redirects && matches!(response.status, 301 | 302 | 303 | 307 | 308)
        });
        let Some(location) = location else {
            let problem = match response.header("Location") {
                Some(to) if (300..400).contains(&response.status) && !dialer.follow_redirects => {
                    format!(
                        "{problem} (it points to {}; -L follows redirects)",
                        crate::escape::escape(to)
                    )
                }
                _ => problem,
            };
            let failure = fail(Stage::Handshake, with_body(problem, &response.body));
            // A gateway or a server that is starting or stopping.
            return Err(match response.status {
                502..=504 => failure.passing(),
                _ => failure,
            });
        };
        if hops >= dialer.max_redirects {
            return Err(fail(
                Stage::Handshake,
                format!(
                    "too many redirects: stopped after {hops} (--max-redirects); the last pointed to {}",
                    crate::escape::escape(location)
                ),
            ));
        }
        hops += 1;
        let next = redirect_target(&target, location)?;
        if target.tls && !next.tls && !dialer.location_trusted {
            return Err(fail(
                Stage::Handshake,
                format!(
                    "the redirect to {} would leave TLS (wss:// to ws://); not followed (--location-trusted follows it)",
                    next.url
                ),
            ));
        }
        let mut notice = format!(
            "following {} redirect {hops} of at most {} to {}",
            response.status, dialer.max_redirects, next.url
        );
        if !next.same_origin(&target) && !dialer.location_trusted {
            let (kept, dropped) = shaping.without_credentials();
            if !dropped.is_empty() {
                notice += &format!(
                    "; not sending {} to another origin (--location-trusted sends them)",
                    dropped.join(", ")
                );
            }
            shaping = kept;
        }
        target = next;
        obs.event(&Event::Notice(&notice));
    }
}

/// Where a Location header points, as a WebSocket URL (http becomes ws).
fn redirect_target(current: &Target, location: &str) -> Result<Target, Failure> {
    let shown = crate::escape::escape(location);
    let mut next = current.url.join(location).map_err(|e| {
        fail(
            Stage::Handshake,
            format!("the redirect's Location '{shown}' is not a URL: {e}"),
        )
    })?;
    let scheme = match next.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(fail(
                Stage::Handshake,
                format!(
                    "the redirect points to an unsupported scheme '{}': {shown}",
                    crate::escape::escape(other)
                ),
            ))
        }
    };
    if next.scheme() != scheme {
        // Url::set_scheme refuses special-to-special changes like http to
        // ws; rebuilding from text does not.
        let text = format!("{scheme}{}", &next.as_str()[next.scheme().len()..]);
        next = url::Url::parse(&text).map_err(|e| fail(Stage::Handshake, e.to_string()))?;
    }
    let mut next =
        Target::parse(next.as_str()).map_err(|f| Failure::new(Stage::Handshake, f.message))?;
    // A redirect within the same stand-in host stays on the Unix socket.
    if current.unix.is_some() && (&next.host, next.port) == (&current.host, current.port) {
        next.unix = current.unix.clone();
    }
    Ok(next)
}

/// A non-101 answer's message carries the start of its body, since that is
/// usually where the server says why.
fn with_body(problem: String, body: &[u8]) -> String {
    if body.is_empty() {
        return problem;
    }
    let text = String::from_utf8_lossy(body);
    let one_line = crate::escape::escape(&crate::error::one_line(&text));
    let mut start: String = one_line.chars().take(200).collect();
    if start.len() < one_line.len() {
        start.push('…');
    }
    format!("{problem}; body: {start}")
}
