//! Accepting a listener's clients: each client's opening handshake (TLS,
//! then its upgrade request) runs on a thread of its own, so that a slow
//! or silent client holds up neither the connections being served nor the
//! next client; what comes of it is handed to the driver on a channel. The
//! tap goes on the stream as soon as a client connects, so the client's
//! request crosses it too.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use crate::error::{fail, Failure, Stage};
use crate::handshake::busy::Busy;
use crate::handshake::server::{self as handshake, Accepted};
use crate::net::connect::{ConnectFacts, Transport};
use crate::net::listen::Door;
use crate::socket::Socket;
use crate::tls::serve::{self as tls, NotTls};
use crate::wire::tap::{Keep, Tap};

/// A client whose upgrade we answered with 101, and what to show of it.
pub struct Served {
    pub tap: Tap<Transport>,
    pub peer: String,
    pub accepted: Accepted,
    pub facts: ConnectFacts,
    pub url: String,
}

/// What the accepting threads hand the driver.
pub enum Arrival {
    Client(Box<Served>),
    /// A client that was refused or turned away, in words.
    Notice(String),
}

/// What every accepted client is answered with.
#[derive(Clone)]
pub struct Offer {
    pub subprotocols: Vec<String>,
    pub deflate: bool,
    pub keep: Keep,
}

/// Accepts clients on a thread of its own and answers each one's opening
/// handshake (TLS, then HTTP) on a thread of its own, so that a slow or
/// silent client holds up neither the connections being served nor the
/// next client. Clients past `max` (counting those still in their
/// handshake) are turned away with 503. The driver gets each arrival on
/// `rx`, woken by `waker`, and gives a place back with `left`.
pub struct Acceptor {
    pub rx: Receiver<Arrival>,
    live: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Acceptor {
    pub fn start(
        door: Door,
        tls: Option<tls::Server>,
        offer: Offer,
        max: usize,
        waker: Arc<mio::Waker>,
        deadline: Option<std::time::Instant>,
    ) -> Result<Acceptor, Failure> {
        let (tx, rx) = mpsc::channel();
        let live = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let lobby = Lobby {
            tls,
            offer,
            local: door.local()?,
            unix: door.unix_path().map(Path::to_path_buf),
            deadline,
            tx,
            waker,
            live: live.clone(),
            handshaking: Arc::new(AtomicUsize::new(0)),
        };
        let stopped = stop.clone();
        thread::Builder::new()
            .name("accept".into())
            .spawn(move || lobby.accept_loop(&door, max, &stopped))
            .map_err(|e| fail(Stage::Io, format!("cannot start accepting clients: {e}")))?;
        Ok(Acceptor { rx, live, stop })
    }

    /// A served client's connection ended: its place is free again.
    pub fn left(&self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }

    /// No more clients: later ones are dropped.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// A client not served: the notice, and its connection when it was
/// answered (to be closed politely).
type Refused = (String, Option<Box<Tap<Transport>>>);

/// Clients that may be in their opening handshake beyond the limit of
/// those served.
const HANDSHAKES_BEYOND: usize = 16;

/// Why a client is turned away, and when to try again.
fn busy_words(max: usize) -> (String, &'static str) {
    match max {
        1 => (
            "wscope serves one client at a time".to_string(),
            "when the current session ends",
        ),
        n => (
            format!("wscope serves {n} clients at a time (--max-clients)"),
            "when one of them leaves",
        ),
    }
}

/// What the accepting threads share: how to answer a client, and where
/// to hand it.
struct Lobby {
    tls: Option<tls::Server>,
    offer: Offer,
    local: String,
    unix: Option<std::path::PathBuf>,
    deadline: Option<std::time::Instant>,
    tx: Sender<Arrival>,
    waker: Arc<mio::Waker>,
    /// Clients served.
    live: Arc<AtomicUsize>,
    /// Clients in their opening handshake.
    handshaking: Arc<AtomicUsize>,
}

impl Clone for Lobby {
    fn clone(&self) -> Lobby {
        Lobby {
            tls: self.tls.as_ref().map(tls::Server::shared),
            offer: self.offer.clone(),
            local: self.local.clone(),
            unix: self.unix.clone(),
            deadline: self.deadline,
            tx: self.tx.clone(),
            waker: self.waker.clone(),
            live: self.live.clone(),
            handshaking: self.handshaking.clone(),
        }
    }
}

impl Lobby {
    fn tell(&self, arrival: Arrival) -> bool {
        let sent = self.tx.send(arrival).is_ok();
        let _ = self.waker.wake();
        sent
    }

    fn accept_loop(self, door: &Door, max: usize, stop: &AtomicBool) {
        let busy = Busy::new(self.tls.as_ref());
        loop {
            let (socket, who) = match door.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.tell(Arrival::Notice(format!("accepting a client failed: {e}")));
                    // A full file table passes; do not spin on it.
                    thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
            };
            if stop.load(Ordering::Acquire) {
                continue;
            }
            // Clients in their handshake are bounded too: a flood of
            // silent connections costs a few threads, not one each.
            if self.live.load(Ordering::Acquire) >= max
                || self.handshaking.load(Ordering::Acquire) >= max + HANDSHAKES_BEYOND
            {
                let (why, when) = busy_words(max);
                if !self.tell(Arrival::Notice(busy.turn_away(socket, &who, &why, when))) {
                    return;
                }
                continue;
            }
            self.handshaking.fetch_add(1, Ordering::AcqRel);
            let lobby = self.clone();
            let spawned = thread::Builder::new()
                .name("handshake".into())
                .spawn(move || {
                    let (arrival, answered) = match lobby.handshake(socket, who, max) {
                        Ok(served) => (Arrival::Client(Box::new(served)), None),
                        Err((notice, answered)) => (Arrival::Notice(notice), answered),
                    };
                    lobby.handshaking.fetch_sub(1, Ordering::AcqRel);
                    lobby.tell(arrival);
                    // Told first: the polite close can take a second.
                    if let Some(tap) = answered {
                        handshake::close_politely(tap.get_ref().socket());
                    }
                });
            if let Err(e) = spawned {
                self.handshaking.fetch_sub(1, Ordering::AcqRel);
                self.tell(Arrival::Notice(format!("cannot answer a client: {e}")));
            }
        }
    }

    /// One client's opening handshake: TLS when the listener serves
    /// wss://, then its upgrade request, answered 101 if a place is free
    /// (taken then, so that clients in their handshakes at once never
    /// exceed `max`), 503 if not, or refused.
    fn handshake(&self, socket: Socket, who: String, max: usize) -> Result<Served, Refused> {
        let peer_addr = socket.peer_addr();
        let transport = match &self.tls {
            None => Transport::Plain(socket),
            Some(server) => match server.accept(socket, self.deadline) {
                Ok(session) => Transport::Tls(Box::new(session)),
                Err((stream, why)) => return Err((not_tls(&stream, who, why).describe(), None)),
            },
        };
        let admit = || {
            self.live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .map(|_| ())
                .map_err(|_| {
                    let (why, when) = busy_words(max);
                    format!("{why}; try again {when}")
                })
        };
        let tls_facts = match &transport {
            Transport::Tls(session) => Some(session.facts()),
            Transport::Plain(_) => None,
        };
        // The tap sits above TLS: it sees the handshake and frames in clear.
        let mut tap = Tap::new(transport, self.offer.keep);
        let offer = &self.offer;
        match handshake::answer(&mut tap, &who, &offer.subprotocols, offer.deflate, admit) {
            Ok(accepted) => {
                let facts = ConnectFacts {
                    // A Unix socket's client has no address: the
                    // unspecified one stands in (the view shows the path).
                    addr: peer_addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
                    // Our end, for --pcap; a Unix socket has no address.
                    local: self.local.parse().ok(),
                    via: None,
                    unix: self.unix.clone(),
                    timings: None,
                    tls: tls_facts,
                };
                let scheme = if self.tls.is_some() { "wss" } else { "ws" };
                let url = match &self.unix {
                    Some(path) => {
                        format!("{scheme}+unix://{}:{}", path.display(), accepted.resource)
                    }
                    None => format!("{scheme}://{}{}", self.local, accepted.resource),
                };
                Ok(Served {
                    tap,
                    peer: who,
                    accepted,
                    facts,
                    url,
                })
            }
            Err(refusal) => {
                let notice = match refusal.status {
                    Some(503) => format!(
                        "turning away a client ({who}) with 503: {}",
                        busy_words(max).0
                    ),
                    _ => refusal.describe(),
                };
                // An answered client is closed politely, so that it reads
                // the answer.
                Err((notice, refusal.status.map(|_| Box::new(tap))))
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
            let answer = handshake::plain_answer(
                "400 Bad Request",
                "this port serves wss:// (TLS); connect with wss://",
            );
            let _ = std::io::Write::write_all(&mut &*stream, answer.as_bytes());
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
