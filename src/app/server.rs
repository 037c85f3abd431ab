//! Server mode (`--listen`): bind, wait for one client with a good
//! upgrade (answering and reporting anything else while the wait goes
//! on), and hand the connection, tap and all, to the session. The tap goes
//! on the stream as soon as a client connects, so the client's request
//! crosses it too.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use crate::error::{fail, Failure, Stage};
use crate::handshake::busy::Busy;
use crate::handshake::server::{self as handshake, Accepted};
use crate::net::connect::{ConnectFacts, Transport};
use crate::net::listen::{bind_unix, Door};
use crate::net::socket::Socket;
use crate::observe::{Event, Observers, Role};
use crate::tls::serve::{self as tls, NotTls};
use crate::wire::tap::{Keep, Tap};

pub fn bind(addr: SocketAddr) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr)
        .map_err(|e| fail(Stage::Connect, format!("cannot listen on {addr}: {e}")))
}

/// Waits on the listener and on SIGINT/SIGTERM together, so that Ctrl-C
/// while waiting ends like Ctrl-C in a session. Made before wscope says it
/// listens, so that no signal in between finds the default action.
pub struct ClientWait {
    poll: mio::Poll,
    signals: signal_hook_mio::v1_0::Signals,
    /// --max-time: when to stop waiting.
    pub deadline: Option<std::time::Instant>,
}

const CLIENT: mio::Token = mio::Token(0);
const SIGNALS: mio::Token = mio::Token(1);

impl ClientWait {
    pub fn new(listener: &Door) -> Result<ClientWait, Failure> {
        use mio::unix::SourceFd;
        use mio::Interest;
        use std::os::fd::AsRawFd;
        let io = |e: std::io::Error| fail(Stage::Io, format!("cannot wait for a client: {e}"));
        let poll = mio::Poll::new().map_err(io)?;
        listener.set_nonblocking().map_err(io)?;
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
        Ok(ClientWait {
            poll,
            signals,
            deadline: None,
        })
    }

    /// True when a client is at the door, false when a signal came.
    pub fn wait(&mut self) -> Result<bool, Failure> {
        let mut events = mio::Events::with_capacity(4);
        loop {
            let left = self
                .deadline
                .map(|end| end.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Err(fail(Stage::Connect, "--max-time reached: no client came"));
            }
            match self.poll.poll(&mut events, left) {
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

/// A client whose upgrade we answered with 101.
pub struct Served {
    pub tap: Tap<Transport>,
    pub peer: String,
    pub accepted: Accepted,
}

/// Waits for a client with a good upgrade request and answers it with
/// 101; shows its connection and both heads. Anything else is answered
/// (400) or dropped, reported, and the wait goes on. `Ok(None)`: SIGINT or
/// SIGTERM came first; the user stopped waiting.
pub fn serve(
    listener: &Door,
    waiting: &mut ClientWait,
    offer: &[String],
    deflate: bool,
    obs: &mut Observers,
    keep: Keep,
    tls: Option<&tls::Server>,
) -> Result<Option<Served>, Failure> {
    let local = listener.local()?;
    let unix = listener.unix_path().map(Path::to_path_buf);
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
        let transport = match tls {
            None => Transport::Plain(stream),
            Some(server) => match server.accept(stream, waiting.deadline) {
                Ok(session) => Transport::Tls(Box::new(session)),
                Err((stream, why)) => {
                    obs.event(&Event::Notice(&not_tls(&stream, peer, why).describe()));
                    obs.flush();
                    continue;
                }
            },
        };
        let tls_facts = match &transport {
            Transport::Tls(session) => Some(session.facts()),
            Transport::Plain(_) => None,
        };
        // The tap sits above TLS: it sees the handshake and frames in clear.
        let mut tap = Tap::new(transport, keep);
        match handshake::answer(&mut tap, &peer, offer, deflate) {
            Ok(accepted) => {
                let facts = ConnectFacts {
                    addr: peer
                        .parse()
                        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
                    // Our end, for --pcap; a Unix socket has no address.
                    local: local.parse().ok(),
                    via: None,
                    unix: unix.clone(),
                    timings: None,
                    tls: tls_facts,
                };
                let scheme = if tls.is_some() { "wss" } else { "ws" };
                let url = match &unix {
                    Some(path) => {
                        format!("{scheme}+unix://{}:{}", path.display(), accepted.resource)
                    }
                    None => format!("{scheme}://{local}{}", accepted.resource),
                };
                obs.event(&Event::Connect {
                    url: &url,
                    role: Role::Server,
                    facts: &facts,
                });
                obs.event(&Event::Request {
                    raw: &accepted.request,
                });
                obs.event(&Event::Response {
                    response: &accepted.response,
                    negotiated: &accepted.negotiated,
                    upgrade_ms: None,
                });
                super::launch::pass_chunks(&mut tap, obs);
                return Ok(Some(Served {
                    tap,
                    peer,
                    accepted,
                }));
            }
            Err(refusal) => {
                if refusal.status.is_some() {
                    handshake::close_politely(tap.get_ref().socket());
                }
                obs.event(&Event::Notice(&refusal.describe()));
                obs.flush();
            }
        }
    }
}

/// A client that did not get through TLS, answered where it can read the
/// answer and described for the notice.
fn not_tls(stream: &Socket, peer: String, why: NotTls) -> handshake::Refusal {
    match why {
        NotTls::PlainHttp(got) => {
            // A ws:// client can read a plain answer: tell it too.
            let body = "this port serves wss:// (TLS); connect with wss://\n";
            let _ = std::io::Write::write_all(
                &mut &*stream,
                format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            handshake::close_politely(stream);
            handshake::Refusal {
                peer,
                request_line: handshake::request_line(&got),
                status: Some(400),
                why: "it spoke plain HTTP (ws://), but this listener serves wss:// (TLS)"
                    .to_string(),
            }
        }
        NotTls::Failed(why) => handshake::Refusal {
            peer,
            request_line: None,
            status: None,
            why,
        },
    }
}

/// Listen mode: wait for a client, answer it, then run the session from
/// the server's side.
pub fn run(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    addr: SocketAddr,
) -> Result<crate::error::Exit, Failure> {
    let tls = server_tls(plan.cli)?;
    run_at(plan, obs, Door::Tcp(bind(addr)?), tls)
}

/// Listen mode on a Unix socket (`--listen unix:PATH`).
pub fn run_unix(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    path: &Path,
) -> Result<crate::error::Exit, Failure> {
    let tls = server_tls(plan.cli)?;
    run_at(plan, obs, Door::Unix(bind_unix(path)?), tls)
}

fn run_at(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    listener: Door,
    tls: Option<tls::Server>,
) -> Result<crate::error::Exit, Failure> {
    let cli = plan.cli;
    let local = listener.local()?;
    let mut waiting = ClientWait::new(&listener)?;
    waiting.deadline = plan.deadline;
    let later = if plan.prompt {
        "; the prompt opens when one connects"
    } else {
        ""
    };
    if let Some(made) = tls.as_ref().and_then(|t| t.made.as_ref()) {
        obs.event(&Event::Notice(&format!(
            "self-signed certificate for {}; SHA-256 fingerprint {}; public key (SPKI) SHA-256 {}; PEM copy at {} (trust it with --ca, NODE_EXTRA_CA_CERTS or SSL_CERT_FILE)",
            made.names.join(", "),
            made.fingerprint,
            made.spki_sha256,
            made.pem_path.display()
        )));
    }
    let url = listener.url(tls.is_some(), &local);
    obs.event(&Event::Notice(&format!(
        "listening on {local}; waiting for a client ({url}){later}"
    )));
    obs.flush();
    let keep = super::launch::keep(plan, obs);
    let served = serve(
        &listener,
        &mut waiting,
        &cli.subprotocols,
        cli.deflate,
        obs,
        keep,
        tls.as_ref(),
    )?;
    drop(waiting);
    let Some(Served {
        tap,
        peer,
        accepted,
    }) = served
    else {
        obs.event(&Event::Notice("stopped waiting for a client (signal)"));
        return Ok(crate::error::Exit::Normal);
    };
    let chosen = accepted.negotiated.subprotocol.clone();
    if accepted.declined_deflate {
        obs.event(&Event::Notice(
            "the client offered permessage-deflate; declined (--deflate accepts it)",
        ));
    }
    if !cli.subprotocols.is_empty() && chosen.is_none() {
        // The client may well give up on this session; say why.
        let offered = match accepted.offered.as_slice() {
            [] => "none".to_string(),
            some => crate::escape::escape(&some.join(", ")),
        };
        obs.event(&Event::Notice(&format!(
            "no subprotocol chosen: the client offered {offered}; -s accepts {}",
            cli.subprotocols.join(", ")
        )));
    }
    super::launch::run(
        plan,
        obs,
        super::launch::Ready {
            tap,
            leftover: accepted.leftover,
            deflate: accepted.negotiated.deflate,
            rtt: None,
            role: Role::Server,
            summary: format!(
                "serving {peer} on {local}; subprotocol: {}",
                crate::escape::escape(chosen.as_deref().unwrap_or("none"))
            ),
            listener: Some(Busy::new(listener, tls.as_ref())),
        },
    )
}

/// The listener's TLS, when --cert/--key or --self-signed ask for it.
fn server_tls(cli: &crate::cli::Cli) -> Result<Option<tls::Server>, Failure> {
    let identity = match (&cli.cert, &cli.key, &cli.self_signed) {
        (Some(cert), Some(key), _) => tls::Identity::Files { cert, key },
        (_, _, Some(names)) => tls::Identity::SelfSigned(names),
        _ => return Ok(None),
    };
    tls::server_config(identity, cli.client_ca.as_deref()).map(Some)
}
