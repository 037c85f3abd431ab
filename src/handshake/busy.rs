//! Clients that come while one is connected: each is answered 503 on a
//! thread of its own (over TLS when the listener serves wss://, so that a
//! TLS client can read why), and the session never waits on them. A few
//! are answered at a time; beyond that a client is dropped at once, so a
//! flood costs neither the session's time nor unbounded threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::net::connect::Transport;
use crate::net::listen::Door;
use crate::net::socket::Socket;
use crate::tls::serve::{NotTls, Server};

/// Clients answered at once; later ones are dropped unanswered.
const AT_ONCE: usize = 4;
const TLS_LIMIT: Duration = Duration::from_secs(2);

/// The listening socket while a session runs.
pub struct Busy {
    door: Door,
    tls: Option<Server>,
    answering: Arc<AtomicUsize>,
}

impl Busy {
    pub fn new(door: Door, tls: Option<&Server>) -> Self {
        Busy {
            door,
            tls: tls.map(Server::shared),
            answering: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn door(&self) -> &Door {
        &self.door
    }

    /// Turns away every client waiting to be accepted; returns a notice
    /// for each.
    pub fn turn_away(&self) -> Vec<String> {
        let mut notices = Vec::new();
        while let Ok((socket, who)) = self.door.accept() {
            if self.answering.load(Ordering::Acquire) >= AT_ONCE {
                drop(socket);
                notices.push(format!(
                    "dropped a client ({who}) unanswered: {AT_ONCE} others are being turned away"
                ));
                continue;
            }
            self.answering.fetch_add(1, Ordering::AcqRel);
            let answering = Arc::clone(&self.answering);
            let tls = self.tls.as_ref().map(Server::shared);
            let spawned = thread::Builder::new()
                .name("turn-away".into())
                .spawn(move || {
                    answer(socket, tls);
                    answering.fetch_sub(1, Ordering::AcqRel);
                });
            notices.push(match spawned {
                Ok(_) => format!(
                    "turning away a second client ({who}) with 503: wscope serves one client at a time"
                ),
                Err(e) => {
                    self.answering.fetch_sub(1, Ordering::AcqRel);
                    format!("dropped a client ({who}) unanswered: {e}")
                }
            });
        }
        notices
    }
}

fn answer(socket: Socket, tls: Option<Server>) {
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
    super::server::refuse_busy(transport);
}
