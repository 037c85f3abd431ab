//! Receiving: what tungstenite returns, shown with the frames that carried
//! it, and acted on (echo, stop conditions, pongs, the peer's Close).

use std::io;
use std::time::Instant;

use tungstenite::{Error as WsError, Message};

use super::Session;
use crate::error::{fail, Stage};
use crate::observe::Event;

/// Incoming messages handled per turn of the loop: a peer that floods
/// must not keep signals, typed commands and our writes from their turn.
const RECEIVE_BURST: usize = 256;

impl Session {
    /// Reads until the socket has nothing more, showing every frame, or
    /// until a burst is done. Returns whether more may be waiting, so that
    /// the loop comes back without sleeping (readiness will not be
    /// reported again for bytes already there).
    pub(super) fn receive(&mut self) -> bool {
        for _ in 0..RECEIVE_BURST {
            if self.outcome.is_some() {
                return false;
            }
            let (bytes_before, heard_before) = (self.bytes_in(), self.last_received);
            let result = self.ws.read();
            if self.bytes_in() != bytes_before {
                // Silence (-w) means no bytes came, not no whole message.
                self.last_received = Instant::now();
            }
            // A pong answers us; it is not the peer speaking, so keepalives
            // do not hold -w open forever.
            if matches!(result, Ok(Message::Pong(_)))
                && !self.ws.get_ref().tap().incoming_mid_frame()
            {
                self.last_received = heard_before;
            }
            self.show_outgoing();
            match result {
                Ok(message) => self.on_message(message),
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Whatever is queued now is part of a message still
                    // arriving: show it already.
                    self.show_all();
                    return false;
                }
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    self.show_all();
                    self.outcome = Some(Err(fail(
                        Stage::Io,
                        "the connection closed before the close handshake finished",
                    )));
                }
                Err(e) => self.fail_connection(e),
            }
        }
        self.outcome.is_none()
    }

    fn on_message(&mut self, message: Message) {
        let tap = self.ws.get_mut().tap_mut();
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            self.stats.received();
        }
        match &message {
            Message::Text(text) => {
                let data = Some((false, text.as_bytes()));
                // Once a stop condition is met, later messages are not shown.
                let shown = if self.stop.met { None } else { data };
                self.view.received(tap, &self.obs, shown);
                if !self.stop.met {
                    self.on_data_message(false, text.as_bytes());
                }
            }
            Message::Binary(data) => {
                let shown = if self.stop.met {
                    None
                } else {
                    Some((true, &data[..]))
                };
                self.view.received(tap, &self.obs, shown);
                if !self.stop.met {
                    self.on_data_message(true, data);
                }
            }
            Message::Ping(_) => self.view.received(tap, &self.obs, None),
            Message::Pong(payload) => {
                self.view.received(tap, &self.obs, None);
                self.time_pong(payload);
            }
            Message::Close(_) => {
                self.view.received(tap, &self.obs, None);
                self.on_close_received();
            }
            Message::Frame(_) => {}
        }
    }

    fn on_data_message(&mut self, binary: bool, data: &[u8]) {
        let answered = self
            .by_id
            .as_mut()
            .filter(|_| !binary)
            .and_then(|by_id| by_id.received(data, Instant::now()));
        if let Some((id, delay)) = answered {
            // As with notices: what crossed before comes first.
            self.show_all();
            self.obs.event(&Event::Answered { id: &id, delay });
        }
        if self.closing.sent_at.is_none() {
            if let Some(reply) = self.opts.replies.answer(binary, data) {
                self.show_all();
                self.obs.event(&Event::Reply {
                    rule: reply.rule,
                    pattern: self.opts.replies.pattern(reply.rule),
                    text: &reply.text,
                });
                self.send_text(reply.text);
            }
        }
        if self.opts.echo && self.closing.sent_at.is_none() {
            if binary {
                self.send_binary(data.to_vec());
            } else if let Ok(text) = std::str::from_utf8(data) {
                self.send_text(text.to_string());
            }
        }
        if self.stop.meets(binary, data) {
            self.start_close(Some(1000), "");
        }
    }

    /// A pong that echoes one of our pings gives its round trip, timed
    /// from when the ping crossed the wire (the view saw both go by).
    fn time_pong(&mut self, payload: &[u8]) {
        let now = Instant::now();
        let on_wire = self.view.last_pong_rtt.take();
        if let Some(rtt) = self.keepalive.answered(payload, now) {
            let rtt = on_wire.unwrap_or(rtt);
            self.stats.timed(rtt);
            self.notice(&format!(
                "keepalive pong: round trip {:.2} ms",
                rtt.as_secs_f64() * 1000.0
            ));
            return;
        }
        if let Some(rtt) = self.stats.pong_received(payload, now, on_wire) {
            self.notice(&format!(
                "pong matches our ping: round trip {:.2} ms",
                rtt.as_secs_f64() * 1000.0
            ));
        }
    }

    fn bytes_in(&self) -> u64 {
        self.ws.get_ref().tap().bytes(crate::wire::Dir::In)
    }

    pub(super) fn show_all(&mut self) {
        let tap = self.ws.get_mut().tap_mut();
        self.view.show_all(tap, &self.obs);
    }
}
