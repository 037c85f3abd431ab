//! Rendering: every event of a session goes through one `Render`, chosen
//! once from the flags and whether stdout is a terminal.

mod human;
mod json;
mod payload;

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

use rustyline::ExternalPrinter;

pub use human::Human;
pub use json::Json;
pub use payload::Payload;

use crate::connect::ConnectFacts;
use crate::error::Failure;
use crate::frame::{Frame, Kind};
use crate::handshake::{Response, Verdict};
use crate::target::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::In => "in",
            Dir::Out => "out",
        }
    }
}

/// Who sent the first Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Local,
    Remote,
}

pub enum Event<'a> {
    Connect {
        target: &'a Target,
        facts: &'a ConnectFacts,
    },
    Request {
        raw: &'a [u8],
    },
    Response {
        response: &'a Response,
        verdict: &'a Verdict,
        upgrade_ms: f64,
    },
    Frame {
        dir: Dir,
        frame: &'a Frame,
    },
    /// A complete data message; `frames` is how many frames carried it.
    Message {
        dir: Dir,
        binary: bool,
        data: &'a [u8],
        frames: usize,
    },
    Close {
        code: Option<u16>,
        reason: &'a str,
        initiator: Initiator,
    },
    Error(&'a Failure),
    /// Something the user asked about or should know (/status, a round
    /// trip, input that could not be sent).
    Notice(&'a str),
}

pub trait Render {
    fn event(&mut self, event: &Event) -> io::Result<()>;
    /// Called before the session waits, so batched output is not held back.
    fn flush(&mut self) -> io::Result<()>;
    /// Whether frame events are shown at all; when not, the tap skips
    /// decoding.
    fn wants_frames(&self) -> bool;
    /// Whether outgoing data messages are shown.
    fn wants_outgoing_messages(&self) -> bool;
    fn out(&mut self) -> &mut Out;
}

/// Seconds since the program started, for the `t` of every event.
#[derive(Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Clock(Instant::now())
    }

    pub fn now(self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// Where rendered output goes: stdout, flushed per event on a terminal and
/// batched otherwise; or, while the prompt is up, rustyline's printer, so
/// that output appears above the line being typed.
pub struct Out {
    sink: Sink,
}

enum Sink {
    Stdout {
        writer: io::BufWriter<io::Stdout>,
        interactive: bool,
    },
    Printer {
        printer: Box<dyn ExternalPrinter + Send>,
        pending: Vec<u8>,
    },
}

impl Out {
    pub fn stdout() -> Self {
        let stdout = io::stdout();
        let interactive = stdout.is_terminal();
        Out {
            sink: Sink::Stdout {
                writer: io::BufWriter::with_capacity(64 * 1024, stdout),
                interactive,
            },
        }
    }

    /// Sends everything from now on through the prompt's printer.
    pub fn use_printer(&mut self, printer: Box<dyn ExternalPrinter + Send>) {
        let _ = self.flush();
        self.sink = Sink::Printer {
            printer,
            pending: Vec::new(),
        };
    }

    /// Back to stdout, once the prompt is gone.
    pub fn use_stdout(&mut self) {
        let _ = self.flush();
        *self = Out::stdout();
    }

    pub fn end_event(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout {
                writer,
                interactive: true,
            } => writer.flush(),
            Sink::Stdout { .. } => Ok(()),
            // An event that showed nothing must not print an empty line.
            Sink::Printer { pending, .. } if pending.is_empty() => Ok(()),
            Sink::Printer { printer, pending } => {
                // The terminal is in raw mode while the prompt is up, so
                // line breaks must return the carriage themselves.
                let text = String::from_utf8_lossy(pending).replace('\n', "\r\n");
                pending.clear();
                printer.print(text).map_err(io::Error::other)
            }
        }
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout { writer, .. } => writer.write(buf),
            Sink::Printer { pending, .. } => {
                pending.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout { writer, .. } => writer.write_all(buf),
            Sink::Printer { pending, .. } => {
                pending.extend_from_slice(buf);
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout { writer, .. } => writer.flush(),
            Sink::Printer { .. } => self.end_event(),
        }
    }
}

/// A payload preview as text, when it is text, or as hex.
pub enum Shown<'a> {
    Utf8(&'a str),
    Hex(String),
}

/// Text frames and control payloads show as text when they are valid
/// UTF-8; a preview cut inside a character keeps its whole characters.
/// Binary and invalid text show as hex, so nothing is hidden.
pub fn show_frame_payload(frame: &Frame) -> Shown<'_> {
    let bytes = &frame.preview;
    let textual = !matches!(
        frame.header.kind(),
        Kind::Binary | Kind::Close | Kind::Reserved
    );
    if textual {
        match std::str::from_utf8(bytes) {
            Ok(s) => return Shown::Utf8(s),
            // Cut in the middle of a character by the preview limit.
            Err(e) if e.error_len().is_none() && frame.truncated() => {
                let valid = &bytes[..e.valid_up_to()];
                return Shown::Utf8(std::str::from_utf8(valid).unwrap_or_default());
            }
            Err(_) => {}
        }
    }
    Shown::Hex(hex(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xF) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameDecoder;

    fn frame(bytes: &[u8], limit: usize) -> Frame {
        let mut out = None;
        FrameDecoder::new(limit).feed(bytes, |f| out = Some(f));
        out.unwrap()
    }

    #[test]
    fn text_shows_as_utf8_and_binary_as_hex() {
        let f = frame(&[0x81, 0x02, b'h', b'i'], 16);
        assert!(matches!(show_frame_payload(&f), Shown::Utf8("hi")));
        let f = frame(&[0x82, 0x02, 0xde, 0xad], 16);
        assert!(matches!(show_frame_payload(&f), Shown::Hex(h) if h == "dead"));
    }

    #[test]
    fn invalid_text_shows_as_hex() {
        let f = frame(&[0x81, 0x02, 0xc3, 0x28], 16);
        assert!(matches!(show_frame_payload(&f), Shown::Hex(h) if h == "c328"));
    }

    #[test]
    fn preview_cut_inside_a_character_keeps_whole_characters() {
        // "é" is c3 a9; a 3-byte preview of "aéé" ends mid-character.
        let f = frame(&[0x81, 0x05, b'a', 0xc3, 0xa9, 0xc3, 0xa9], 4);
        assert!(matches!(show_frame_payload(&f), Shown::Utf8("aé")));
    }
}
