//! Server mode (`--listen`): bind, wait for one client with a good
//! upgrade (answering and reporting anything else while the wait goes
//! on), and hand the connection, tap and all, to the session. The tap goes
//! on the stream as soon as a client connects, so the client's request
//! crosses it too.

use std::net::{SocketAddr, TcpListener};

use crate::error::{fail, Failure, Stage};
use crate::handshake::server::{self as handshake, Accepted};
use crate::net::connect::{ConnectFacts, Transport};
use crate::observe::{Event, Observers, Role};
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
    pub fn wait(&mut self) -> Result<bool, Failure> {
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

/// A client whose upgrade we answered with 101.
pub struct Served {
    pub tap: Tap<Transport>,
    pub peer: SocketAddr,
    pub accepted: Accepted,
}

/// Waits for a client with a good upgrade request and answers it with
/// 101; shows its connection and both heads. Anything else is answered
/// (400) or dropped, reported, and the wait goes on. `Ok(None)`: SIGINT or
/// SIGTERM came first; the user stopped waiting.
pub fn serve(
    listener: &TcpListener,
    waiting: &mut ClientWait,
    offer: &[String],
    deflate: bool,
    obs: &mut Observers,
    keep: Keep,
) -> Result<Option<Served>, Failure> {
    let local = listener
        .local_addr()
        .map_err(|e| fail(Stage::Connect, e.to_string()))?;
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
        let _ = stream.set_nodelay(true);
        let mut tap = Tap::new(Transport::Plain(stream), keep);
        match handshake::answer(&mut tap, peer, offer, deflate) {
            Ok(accepted) => {
                let facts = ConnectFacts {
                    addr: peer,
                    via: None,
                    timings: None,
                    tls: None,
                };
                let url = format!("ws://{local}{}", accepted.resource);
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
                    handshake::close_politely(tap.get_ref().tcp());
                }
                obs.event(&Event::Notice(&refusal.describe()));
                obs.flush();
            }
        }
    }
}

/// Listen mode: wait for a client, answer it, then run the session from
/// the server's side.
pub fn run(
    plan: &super::plan::Plan,
    obs: &mut Observers,
    addr: SocketAddr,
) -> Result<crate::error::Exit, Failure> {
    let cli = plan.cli;
    let listener = bind(addr)?;
    let local = listener
        .local_addr()
        .map_err(|e| fail(Stage::Connect, e.to_string()))?;
    let mut waiting = ClientWait::new(&listener)?;
    let later = if plan.prompt {
        "; the prompt opens when one connects"
    } else {
        ""
    };
    obs.event(&Event::Notice(&format!(
        "listening on {local}; waiting for a client (ws://{local}/){later}"
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
            listener: Some(listener),
        },
    )
}
