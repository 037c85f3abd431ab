//! Rendering: every event of a session goes through one `Render`, chosen
//! once from the flags and whether stdout is a terminal.

mod human;
mod json;
mod payload;

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

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

/// Stdout, flushed per event on a terminal and batched otherwise.
pub struct Out {
    writer: io::BufWriter<io::Stdout>,
    interactive: bool,
}

impl Out {
    pub fn stdout() -> Self {
        let stdout = io::stdout();
        let interactive = stdout.is_terminal();
        Out {
            writer: io::BufWriter::with_capacity(64 * 1024, stdout),
            interactive,
        }
    }

    pub fn end_event(&mut self) -> io::Result<()> {
        if self.interactive {
            self.writer.flush()?;
        }
        Ok(())
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
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
