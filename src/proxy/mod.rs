//! `wscope proxy`: someone else's WebSocket, carried through and shown
//! on both legs frame by frame, with faults made on purpose. Clients are
//! accepted and opened on threads of their own (open.rs); once carried
//! through, every connection is relayed by one loop (relay.rs), each
//! bounded on its own so that no peer can hold up the rest.

pub mod cutter;
pub mod faults;
pub mod inject;
pub mod open;
pub mod relay;
pub mod watch;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

use crate::error::{fail, Exit, Failure, Stage};
use crate::observe::{Dir, Event, Observers, Role};
use crate::socket::Socket;
use open::{Opening, Upstream};
use relay::{Relay, Settings};

const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

/// Everything the run needs, lowered from the command line.
pub struct Options {
    pub listener: TcpListener,
    pub upstream: Upstream,
    pub settings: Settings,
    pub max_clients: usize,
    pub once: bool,
    pub max_time: Option<Instant>,
    /// Read commands from stdin (injection).
    pub input: bool,
}

/// What the opening threads hand the loop.
enum Arrival {
    Opened(Box<open::Opened>),
    Notice(String),
}

pub fn run(options: Options, obs: &Observers) -> Result<Exit, Failure> {
    let io = |e: std::io::Error| fail(Stage::Io, format!("the proxy cannot wait for events: {e}"));
    let mut poll = Poll::new().map_err(io)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(io)?);
    let mut signals =
        signal_hook_mio::v1_0::Signals::new([libc::SIGINT, libc::SIGTERM]).map_err(io)?;
    poll.registry()
        .register(&mut signals, SIGNALS, mio::Interest::READABLE)
        .map_err(io)?;
    let (tx, rx) = mpsc::channel();
    let live = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let upstream = Arc::new(options.upstream);
    start_accepting(
        options.listener,
        Arc::clone(&upstream),
        tx,
        Arc::clone(&waker),
        Arc::clone(&live),
        Arc::clone(&stop),
        options.max_clients,
    )?;
    let mut input = options
        .input
        .then(|| inject::Input::start(Arc::clone(&waker)));
    let mut relays: Vec<Option<Relay>> = Vec::new();
    let mut last_conn = 0u32;
    let mut events = Events::with_capacity(256);
    let mut wake: Vec<Option<Instant>> = Vec::new();
    let mut ended_once = false;
    loop {
        let now = Instant::now();
        if options.max_time.is_some_and(|end| now >= end) {
            obs.event(&Event::Notice("--max-time reached: the proxy stops"));
            break;
        }
        // Arrivals.
        while let Ok(arrival) = rx.try_recv() {
            match arrival {
                Arrival::Notice(text) => obs.event(&Event::Notice(&text)),
                Arrival::Opened(opened) => {
                    last_conn += 1;
                    let conn = last_conn;
                    show_opening(obs, conn, &opened);
                    if opened.response.status != 101 && !opened.blind {
                        obs.for_leg(conn, Role::Client).event(&Event::Gone);
                        obs.for_leg(conn, Role::Server).event(&Event::Gone);
                        live.fetch_sub(1, Ordering::AcqRel);
                        ended_once = true;
                        continue;
                    }
                    let relay = Relay::new(conn, *opened, obs, &options.settings);
                    let index = relays
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or(relays.len());
                    if index == relays.len() {
                        relays.push(None);
                        wake.push(None);
                    }
                    if let Err(e) = relay.register(poll.registry(), index) {
                        obs.event(&Event::Notice(&format!(
                            "connection {conn}: cannot be watched: {e}"
                        )));
                        live.fetch_sub(1, Ordering::AcqRel);
                        continue;
                    }
                    relays[index] = Some(relay);
                    wake[index] = Some(now);
                }
            }
        }
        if let Some(inp) = input.as_mut() {
            for line in inp.lines() {
                inject::command(&line, &mut relays, obs, inp);
            }
        }
        // Turns for the connections that are due.
        let now = Instant::now();
        for i in 0..relays.len() {
            let due = wake[i].is_some_and(|w| w <= now);
            if !due {
                continue;
            }
            let Some(relay) = relays[i].as_mut() else {
                continue;
            };
            wake[i] = relay.turn(now);
            if relay.done {
                let summary = relay.summary();
                relay.deregister(poll.registry());
                let conn = relay.conn;
                obs.for_conn(conn).event(&Event::Notice(&summary));
                obs.for_leg(conn, Role::Client).event(&Event::Gone);
                obs.for_leg(conn, Role::Server).event(&Event::Gone);
                relays[i] = None;
                wake[i] = None;
                live.fetch_sub(1, Ordering::AcqRel);
                ended_once = true;
            }
        }
        if options.once && ended_once && relays.iter().all(Option::is_none) {
            break;
        }
        obs.flush();
        if obs.stopped() {
            break;
        }
        // Wait for the next event or the earliest timer.
        let mut next = wake.iter().flatten().min().copied();
        if let Some(end) = options.max_time {
            next = Some(next.map_or(end, |n| n.min(end)));
        }
        let timeout = next.map(|n| n.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(io(e));
            }
        }
        let mut signalled = false;
        for event in events.iter() {
            match event.token() {
                WAKER => {}
                SIGNALS => signalled |= signals.pending().next().is_some(),
                Token(t) => {
                    let index = t / 2;
                    if let Some(relay) = relays.get_mut(index).and_then(Option::as_mut) {
                        relay.ready(
                            t % 2 == 1,
                            event.is_readable() || event.is_read_closed() || event.is_error(),
                            event.is_writable(),
                        );
                        wake[index] = Some(Instant::now());
                    }
                }
            }
        }
        if signalled {
            obs.event(&Event::Notice("interrupted: the proxy stops"));
            break;
        }
    }
    stop.store(true, Ordering::Release);
    obs.flush();
    Ok(Exit::Normal)
}

/// Both legs' handshakes, as they crossed: the request as received and
/// as sent upstream, the answer as received and as relayed.
fn show_opening(obs: &Observers, conn: u32, o: &open::Opened) {
    let client = obs.for_leg(conn, Role::Client);
    let server = obs.for_leg(conn, Role::Server);
    let chunk = |leg: &Observers, dir, bytes: &[u8]| {
        if !bytes.is_empty() && obs.interest().chunks {
            leg.event(&Event::Wire(&crate::wire::tap::Chunk {
                dir,
                at: Instant::now(),
                bytes: bytes.to_vec(),
            }));
        }
    };
    client.event(&Event::Connect {
        url: &o.client_url,
        role: Role::Server,
        facts: &o.client_facts,
    });
    if !o.blind {
        chunk(&client, Dir::In, &o.request_in);
        client.event(&Event::Request { raw: &o.request_in });
    }
    server.event(&Event::Connect {
        url: &o.server_url,
        role: Role::Client,
        facts: &o.server_facts,
    });
    if !o.blind {
        chunk(&server, Dir::Out, &o.request_out);
        chunk(&server, Dir::In, &o.response.raw);
        chunk(&client, Dir::Out, &o.response.raw);
        server.event(&Event::Request {
            raw: &o.request_out,
        });
        server.event(&Event::Response {
            response: &o.response,
            negotiated: &o.negotiated,
            upgrade_ms: None,
        });
        client.event(&Event::Response {
            response: &o.response,
            negotiated: &o.negotiated,
            upgrade_ms: None,
        });
    }
    for notice in &o.notices {
        obs.for_conn(conn).event(&Event::Notice(notice));
    }
}

/// Accepts clients on a thread of its own; each one's opening runs on a
/// thread of its own too. Clients past `max` are turned away with 503.
fn start_accepting(
    listener: TcpListener,
    upstream: Arc<Upstream>,
    tx: Sender<Arrival>,
    waker: Arc<Waker>,
    live: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    max: usize,
) -> Result<(), Failure> {
    thread::Builder::new()
        .name("proxy-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let Ok(stream) = stream else {
                    thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let who = stream
                    .peer_addr()
                    .map_or_else(|_| "?".to_string(), |a| a.to_string());
                let _ = stream.set_nodelay(true);
                let taken = live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                });
                if taken.is_err() {
                    let mut s = Socket::Tcp(stream);
                    let _ = std::io::Write::write_all(
                        &mut s,
                        crate::handshake::server::plain_answer(
                            "503 Service Unavailable",
                            &format!("the proxy carries {max} clients at most (--max-clients)"),
                        )
                        .as_bytes(),
                    );
                    let _ = tx.send(Arrival::Notice(format!(
                        "client {who} turned away: {max} clients are being carried (--max-clients)"
                    )));
                    let _ = waker.wake();
                    continue;
                }
                let (tx2, waker2, upstream2, live2) = (
                    tx.clone(),
                    Arc::clone(&waker),
                    Arc::clone(&upstream),
                    Arc::clone(&live),
                );
                let spawned = thread::Builder::new()
                    .name("proxy-open".into())
                    .spawn(move || {
                        let (tx, waker, upstream, live) = (tx2, waker2, upstream2, live2);
                        let arrival = match open::open(&upstream, Socket::Tcp(stream), &who) {
                            Opening::Opened(o) => Arrival::Opened(o),
                            Opening::Refused(text) => {
                                live.fetch_sub(1, Ordering::AcqRel);
                                Arrival::Notice(text)
                            }
                        };
                        let _ = tx.send(arrival);
                        let _ = waker.wake();
                    });
                if spawned.is_err() {
                    live.fetch_sub(1, Ordering::AcqRel);
                    let _ = tx.send(Arrival::Notice("cannot start a thread for a client".into()));
                }
            }
        })
        .map(|_| ())
        .map_err(|e| fail(Stage::Io, format!("cannot start accepting clients: {e}")))
}
