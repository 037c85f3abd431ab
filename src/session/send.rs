//! Sending: input turned into frames, handed to tungstenite (or, for
//! hand-made frames, to the tap beneath it) as fast as the peer reads.
//! When the peer stops reading, input waits, so memory stays bounded.

use std::io;
use std::time::{Duration, Instant};

use tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};

use super::Session;
use crate::input::command::{Command, COMMANDS};
use crate::input::{Input, Next};
use crate::observe::Event;
use crate::wire::raw::{CraftedFrame, Pumped, RawWriter};
use crate::wire::Role;

/// How many inputs are sent before the loop reads the socket again, so
/// that neither direction starves the other and queues stay short.
const SEND_BURST: usize = 256;

/// How long the peer may leave our writes waiting before we say so.
const STALL_NOTICE: Duration = Duration::from_secs(2);

/// Writes the socket has not taken yet.
#[derive(Default)]
pub struct Outbox {
    /// The socket took less than we gave it; wait until it is writable.
    pub blocked: bool,
    /// Since when writes have been blocked, and whether that was said.
    blocked_since: Option<Instant>,
    stall_reported: bool,
    /// Hand-made frames and other raw writes, waiting for tungstenite's
    /// buffer to empty, the socket, or a pause between pieces.
    pub raw: RawWriter,
}

impl Outbox {
    pub fn stalled_for(&self) -> Option<Duration> {
        self.blocked_since.map(|since| since.elapsed())
    }

    pub fn stall_deadline(&self) -> Option<Instant> {
        self.blocked_since
            .filter(|_| !self.stall_reported)
            .map(|since| since + STALL_NOTICE)
    }
}

impl Session {
    /// Hands tungstenite what the input has ready, until the socket pushes
    /// back or a burst is done. Returns whether input is still waiting, so
    /// that the loop comes back without sleeping: the waker fired already.
    pub(super) fn send_input(&mut self) -> bool {
        for _ in 0..SEND_BURST {
            if self.input_ended_at.is_some()
                || self.outbox.blocked
                || !self.outbox.raw.is_empty()
                || self.outcome.is_some()
            {
                break;
            }
            match self.input.take_next() {
                Next::Item(Input::Command(command)) => self.execute(command),
                Next::Item(Input::Batch(commands)) => {
                    for command in commands {
                        self.execute(command);
                    }
                }
                Next::Item(Input::Refused { message, counts }) => self.refuse(&message, counts),
                Next::Item(Input::Failed(why)) => {
                    self.notice(&why);
                    self.end_of_input();
                }
                Next::Item(Input::QuitNow) => self.outcome = Some(Ok(super::Exit::Normal)),
                Next::Pending => {
                    self.show_outgoing();
                    return false;
                }
                Next::End => self.end_of_input(),
            }
        }
        self.show_outgoing();
        self.input_ended_at.is_none() && !self.outbox.blocked && self.outbox.raw.is_empty()
    }

    fn execute(&mut self, command: Command) {
        if self.closing.sent_at.is_some() && !matches!(command, Command::Status | Command::Help) {
            match command {
                Command::Quit | Command::Close { .. } => self.notice(&format!(
                    "already closing; waiting for the {}'s Close (Ctrl-C again quits at once)",
                    self.opts.role.peer()
                )),
                // At the prompt each line is answered at once; a pipe,
                // which may have many more, is counted and told at the end.
                _ if self.opts.interactive => self.notice("not sent: the connection is closing"),
                _ => self.unsent += 1,
            }
            return;
        }
        match command {
            Command::Text(text) => self.send_text(text),
            Command::Binary(data) => self.send_binary(data),
            Command::File(path) => match std::fs::read(&path) {
                Ok(data) => self.send_binary(data),
                Err(e) => {
                    let counts = !self.opts.interactive;
                    self.refuse(
                        &format!("/file: cannot read {}: {e}", path.display()),
                        counts,
                    )
                }
            },
            Command::Ping(payload) => {
                self.stats.ping_sent(payload.clone(), Instant::now());
                self.write(Message::Ping(payload.into()));
            }
            Command::Pong(payload) => self.write(Message::Pong(payload.into())),
            Command::Close { code, reason } => {
                self.closing.user_code = code;
                self.start_close(code, &reason)
            }
            Command::Frame(frame) => self.send_crafted(&frame),
            Command::Status => {
                // What was sent before /status counts in it.
                self.flush_socket();
                self.show_outgoing();
                let status = self.status();
                self.notice(&status)
            }
            Command::Help => self.notice(&help()),
            Command::Quit => self.start_close(Some(1000), ""),
            Command::To(_) | Command::Clients => {
                let counts = !self.opts.interactive;
                self.refuse(
                    "/to and /clients are for --listen, which serves several clients",
                    counts,
                )
            }
        }
    }

    /// The session then closes once the peer is quiet (see
    /// `close_deadline`).
    pub(super) fn end_of_input(&mut self) {
        self.input_ended_at = Some(Instant::now());
    }

    pub(super) fn send_text(&mut self, text: String) {
        if let Some(by_id) = &mut self.by_id {
            by_id.sent(text.as_bytes(), std::time::Instant::now());
        }
        let text = Utf8Bytes::from(text);
        self.stats.sent();
        self.view.sending(false, &Bytes::from(text.clone()));
        self.write(Message::Text(text));
    }

    pub(super) fn send_binary(&mut self, data: Vec<u8>) {
        let data = Bytes::from(data);
        self.stats.sent();
        self.view.sending(true, &data);
        self.write(Message::Binary(data));
    }

    /// A hand-made frame goes out as raw bytes beneath tungstenite, once
    /// everything tungstenite holds has been written, to keep the order.
    fn send_crafted(&mut self, frame: &CraftedFrame) {
        let key = crate::wire::raw::random_key();
        let mut frame = frame.clone();
        if frame.deflate {
            // Compressed in order with what tungstenite sent before it.
            self.flush_socket();
            let Some(compressed) = self
                .ws
                .get_mut()
                .compress_payload(&frame.payload, frame.fin)
            else {
                let counts = !self.opts.interactive;
                self.refuse(
                    "/frame deflate=1: permessage-deflate was not negotiated (--deflate offers it)",
                    counts,
                );
                return;
            };
            frame.payload = compressed;
            frame.rsv1 |= frame.opcode != 0;
        }
        self.view.sending_crafted(frame.opcode);
        self.outbox
            .raw
            .push(frame.op(key, self.opts.role == Role::Client));
        self.flush_socket();
    }

    pub(super) fn write(&mut self, message: Message) {
        match self.ws.write(message) {
            Ok(()) => {}
            // The frame is queued inside tungstenite; it goes out on flush.
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.outbox.blocked = true
            }
            Err(e) => self.fail_connection(e),
        }
    }

    /// Input that could not be sent is an error, not the end of the
    /// session; a script's bad input makes the exit code 2.
    pub(super) fn refuse(&mut self, message: &str, counts: bool) {
        self.show_all();
        self.obs.event(&Event::Refused(message));
        if counts {
            self.input.refused += 1;
        }
    }

    pub(super) fn flush_socket(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        match self.ws.flush() {
            Ok(()) => {
                if self.outbox.blocked {
                    // What the socket held back has gone out only now.
                    self.last_written = Instant::now();
                }
                self.outbox.blocked = false;
                self.write_pending_raw();
            }
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.outbox.blocked = true
            }
            // After the close handshake there is nothing left to flush.
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {}
            Err(e) => self.fail_connection(e),
        }
        self.show_outgoing();
    }

    /// Moves raw writes to the tap while the socket takes them, pausing
    /// where a split write asks to.
    pub(super) fn write_pending_raw(&mut self) {
        let tap = self.ws.get_mut().tap_mut();
        match self.outbox.raw.pump(tap, Instant::now()) {
            Ok(Pumped::Done | Pumped::Paused(_)) => {}
            Ok(Pumped::Blocked) => self.outbox.blocked = true,
            Ok(Pumped::Reset) => {
                self.notice("reset the connection (RST), as asked");
                self.outcome = Some(Ok(super::Exit::Normal));
            }
            Err(e) => self.fail_connection(WsError::Io(e)),
        }
    }

    /// A peer that stops reading blocks our writes; input then waits (so
    /// memory stays bounded) and, after a while, the user is told.
    pub(super) fn watch_stall(&mut self) {
        if !self.outbox.blocked {
            self.outbox.blocked_since = None;
            self.outbox.stall_reported = false;
            return;
        }
        let since = *self.outbox.blocked_since.get_or_insert_with(Instant::now);
        if !self.outbox.stall_reported && since.elapsed() >= STALL_NOTICE {
            self.outbox.stall_reported = true;
            let peer = self.opts.role.peer();
            self.notice(&format!(
                "stalled: the {peer} has not read what we sent for {:.1} s; input waits until it does",
                since.elapsed().as_secs_f64()
            ));
        }
    }

    pub(super) fn show_outgoing(&mut self) {
        let tap = self.ws.get_mut().tap_mut();
        self.view.show_outgoing(tap, &self.obs);
    }
}

pub fn help() -> String {
    let mut text = String::from("commands (a line without '/' is sent as text):");
    for (name, example, what) in COMMANDS {
        text.push_str(&format!("\n  {name:<8} {what}\n           e.g. {example}"));
    }
    text.push_str(
        "\n  Ctrl-C clears the line; on an empty line it closes (Close 1000); twice quits at once.",
    );
    text
}
