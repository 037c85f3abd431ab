//! Clients past the limit (--max-clients): each is answered 503 on a
//! thread of its own (over TLS when the listener serves wss://, so that a
//! TLS client can read why), so the connections being served never wait
//! on them. A few are answered at a time; beyond that a client is dropped
//! at once, so a flood costs neither time nor unbounded threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::net::connect::Transport;
use crate::socket::Socket;
use crate::tls::serve::{NotTls, Server};

/// Clients answered at once; later ones are dropped unanswered.
const AT_ONCE: usize = 4;
const TLS_LIMIT: Duration = Duration::from_secs(2);

/// Turns clients away with 503.
pub struct Busy {
    tls: Option<Server>,
    answering: Arc<AtomicUsize>,
}

impl Busy {
    pub fn new(tls: Option<&Server>) -> Self {
        Busy {
            tls: tls.map(Server::shared),
            answering: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Answers this client 503, saying `why` and when to try again;
    /// returns the notice.
    pub fn turn_away(&self, socket: Socket, who: &str, why: &str, when: &str) -> String {
        if self.answering.load(Ordering::Acquire) >= AT_ONCE {
            drop(socket);
            return format!(
                "dropped a client ({who}) unanswered: {AT_ONCE} others are being turned away"
            );
        }
        self.answering.fetch_add(1, Ordering::AcqRel);
        let answering = Arc::clone(&self.answering);
        let tls = self.tls.as_ref().map(Server::shared);
        let body = format!("{why}; try again {when}");
        let spawned = thread::Builder::new()
            .name("turn-away".into())
            .spawn(move || {
                answer(socket, tls, &body);
                answering.fetch_sub(1, Ordering::AcqRel);
            });
        match spawned {
            Ok(_) => format!("turning away a client ({who}) with 503: {why}"),
            Err(e) => {
                self.answering.fetch_sub(1, Ordering::AcqRel);
                format!("dropped a client ({who}) unanswered: {e}")
            }
        }
    }
}

fn answer(socket: Socket, tls: Option<Server>, body: &str) {
    let transport = match tls {
        None => Transport::Plain(socket),
        // Its TLS handshake gets 2 s, not the 10 s a served client gets.
        Some(server) => match server.accept(socket, Some(Instant::now() + TLS_LIMIT)) {
            Ok(stream) => Transport::Tls(Box::new(stream)),
            // A plain ws:// client reads a plain answer.
            Err((socket, NotTls::PlainHttp(_))) => Transport::Plain(socket),
            // No handshake in time: nothing it could read.
            Err(_) => return,
        },
    };
    super::server::refuse_busy(transport, body);
}
