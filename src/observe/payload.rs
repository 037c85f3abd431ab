//! Payload mode, for pipes: each incoming data message on its own line,
//! text as it is and binary as hex (or, with --raw, every payload's bytes
//! as they are); nothing else on stdout.

use std::io::{self, Write};

use super::{escape, escape_bytes, push_hex_pieces, Dir, Event, Initiator, Interest, Out, Screen};
use crate::wire::close_code;

pub struct Payload {
    out: Out,
    /// Bytes as they are: no newline, no hex.
    raw: bool,
    /// wscope is the server (--listen), so the peer is a client.
    serving: bool,
}

impl Payload {
    pub fn new(out: Out, raw: bool, serving: bool) -> Self {
        Payload { out, raw, serving }
    }
}

impl Screen for Payload {
    fn show(&mut self, event: &Event) -> io::Result<()> {
        match event {
            // Stdout carries payloads only.
            Event::Notice(text) => {
                for line in text.lines() {
                    eprintln!("wscope: {}", escape(line));
                }
                return Ok(());
            }
            Event::Refused(text) => {
                crate::error::print_error(text);
                return Ok(());
            }
            Event::Reconnect {
                attempt,
                delay,
                cause,
                ..
            } => {
                eprintln!(
                    "wscope: reconnect: {}; attempt {attempt} in {:.1} s",
                    escape(cause),
                    delay.as_secs_f64()
                );
                return Ok(());
            }
            // A refused upgrade: its head goes to stderr before the error,
            // since the headers often say why (WWW-Authenticate, Location).
            Event::Response { response, .. } if response.status != 101 => {
                for line in response.raw.split(|&b| b == b'\n') {
                    let line = line.trim_ascii_end();
                    if !line.is_empty() {
                        eprintln!("< {}", escape_bytes(line));
                    }
                }
                return Ok(());
            }
            _ => {}
        }
        if let Event::Close {
            code: Some(code),
            reason,
            initiator,
        } = event
        {
            // A close that makes the exit code non-zero is explained, so
            // that a script's `||` branch knows why.
            if !matches!(code, 1000 | 1001) {
                let peer = if self.serving { "client" } else { "server" };
                let who = match initiator {
                    Initiator::Remote => format!("the {peer} closed the connection"),
                    Initiator::Local => format!("closed; the {peer} answered"),
                };
                eprintln!(
                    "wscope: {who} with {} reason=\"{}\"",
                    close_code::describe(*code),
                    escape(reason)
                );
            }
            return Ok(());
        }
        if let Event::Message {
            dir: Dir::In,
            binary,
            data,
            ..
        } = event
        {
            if self.raw {
                self.out.write_all(data)?;
            } else {
                if *binary {
                    push_hex_pieces(&mut self.out, data);
                } else {
                    // Large text goes straight to stdout, not via a copy.
                    self.out.write_all(data)?;
                }
                self.out.buf().push(b'\n');
            }
            self.out.end_event()?;
        }
        Ok(())
    }

    fn out(&mut self) -> &mut Out {
        &mut self.out
    }

    fn interest(&self) -> Interest {
        Interest::default()
    }
}
