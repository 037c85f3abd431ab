//! Rendering: every event of a session goes through one `Render`, chosen
//! once from the flags and whether stdout is a terminal.

mod human;
mod json;
mod out;
mod payload;

use std::io::{self, Write};
use std::time::Instant;

pub use human::Human;
pub use json::Json;
pub use out::Out;
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
    /// `at` is when the frame's last bytes crossed the wire.
    Frame {
        dir: Dir,
        frame: &'a Frame,
        at: Instant,
    },
    /// A complete data message; `frames` is how many frames carried it,
    /// `at` when the last of them crossed the wire.
    Message {
        dir: Dir,
        binary: bool,
        data: &'a [u8],
        frames: usize,
        at: Instant,
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
    /// Input that was refused; the session goes on.
    Refused(&'a str),
}

pub trait Render {
    fn event(&mut self, event: &Event) -> io::Result<()>;
    /// Where the output goes.
    fn out(&mut self) -> &mut Out;
    /// Called before the session waits, so batched output is not held back.
    fn flush(&mut self) -> io::Result<()> {
        self.out().flush()
    }
    /// Whether frame events are shown at all; when not, frames are decoded
    /// without payload previews.
    fn wants_frames(&self) -> bool {
        true
    }
    /// Whether outgoing data messages are shown.
    fn wants_outgoing_messages(&self) -> bool {
        true
    }
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

    /// Seconds from the start to `at`.
    pub fn at(self, at: Instant) -> f64 {
        at.saturating_duration_since(self.0).as_secs_f64()
    }
}

/// A payload preview as text, when it is text, or as hex.
pub enum Shown<'a> {
    Utf8(&'a str),
    /// Bytes to be shown as hex.
    Hex(&'a [u8]),
}

/// Text frames and control payloads show as text when they are valid
/// UTF-8; a preview cut inside a character keeps its whole characters.
/// Binary and invalid text show as hex, so nothing is hidden.
pub fn show_frame_payload(frame: &Frame) -> Shown<'_> {
    let bytes = &frame.preview;
    let textual = match frame.header.kind() {
        Kind::Binary | Kind::Close | Kind::Reserved => false,
        Kind::Continuation => frame.continues != Some(Kind::Binary),
        // Ping payloads are often counters or timestamps: text only when
        // they read as text.
        Kind::Ping | Kind::Pong => !bytes
            .iter()
            .any(|&b| b < 0x20 && !b.is_ascii_whitespace() || b == 0x7F),
        Kind::Text => true,
    };
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
    Shown::Hex(bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends lowercase hex digits, without an intermediate string.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 0xF) as usize]);
    }
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
        assert!(matches!(show_frame_payload(&f), Shown::Hex(h) if h == [0xde, 0xad]));
    }

    #[test]
    fn continuations_show_like_their_message_and_binary_pings_as_hex() {
        let mut frames = Vec::new();
        // binary "01" without FIN, then its continuation "03" (a valid
        // UTF-8 byte, still binary); a ping of 01 02; a ping of "hi".
        FrameDecoder::new(16).feed(
            &[
                0x02, 0x01, 0x01, 0x80, 0x01, 0x03, 0x89, 0x02, 1, 2, 0x89, 0x02, b'h', b'i',
            ],
            |f| frames.push(f),
        );
        assert!(matches!(show_frame_payload(&frames[1]), Shown::Hex([3])));
        assert!(matches!(show_frame_payload(&frames[2]), Shown::Hex([1, 2])));
        assert!(matches!(show_frame_payload(&frames[3]), Shown::Utf8("hi")));
    }

    #[test]
    fn invalid_text_shows_as_hex() {
        let f = frame(&[0x81, 0x02, 0xc3, 0x28], 16);
        assert!(matches!(show_frame_payload(&f), Shown::Hex(h) if h == [0xc3, 0x28]));
    }

    #[test]
    fn preview_cut_inside_a_character_keeps_whole_characters() {
        // "é" is c3 a9; a 3-byte preview of "aéé" ends mid-character.
        let f = frame(&[0x81, 0x05, b'a', 0xc3, 0xa9, 0xc3, 0xa9], 4);
        assert!(matches!(show_frame_payload(&f), Shown::Utf8("aé")));
    }
}
