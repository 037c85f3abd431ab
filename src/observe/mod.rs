//! Observers: everything a session does becomes an event, and events fan
//! out to every observer: the screen (human, JSON Lines or payloads only)
//! and, beside it, recorders. An observer says whether it can go on (a
//! screen whose reader went away cannot), and says once what it wants to
//! see, so that nothing is decoded or copied for nobody.

mod filter;
mod human;
mod json;
mod out;
mod payload;
mod pretty;
mod stamp;

use std::cell::{RefCell, RefMut};
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Instant;

pub use crate::escape::{escape, escape_bytes};
pub use filter::{JsonStyle, Layout, TimeFormat, ViewFilter};
pub use human::Human;
pub use json::Json;
pub use out::Out;
pub use payload::Payload;

use crate::error::Failure;
use crate::handshake::{Negotiated, Response};
use crate::net::connect::ConnectFacts;
use crate::wire::decode::MessageEnd;
use crate::wire::frame::{Frame, Kind};
use crate::wire::tap::Chunk;
pub use crate::wire::{Dir, Role};

/// Who sent the first Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Local,
    Remote,
}

/// What happened, from either role's side.
pub enum Event<'a> {
    /// A connection is open: to a server, or from a client (--listen).
    Connect {
        url: &'a str,
        role: Role,
        facts: &'a ConnectFacts,
    },
    /// The request head, exactly as it crossed the wire.
    Request {
        raw: &'a [u8],
    },
    /// The response head (and a refusal's body), and what it settled.
    Response {
        response: &'a Response,
        negotiated: &'a Negotiated,
        /// How long the server took to answer; only a client times it.
        upgrade_ms: Option<f64>,
    },
    /// `at` is when the frame's header and preview had crossed the wire;
    /// `rtt`, on a pong that answers our ping, the time from our ping's
    /// crossing to its.
    Frame {
        dir: Dir,
        frame: &'a Frame,
        at: Instant,
        rtt: Option<std::time::Duration>,
    },
    /// A complete data message (`data` as tungstenite returned it, so
    /// inflated when it was compressed); `wire` says which data message
    /// that way it was, how many frames carried it and their payload size
    /// on the wire; `at` is when the last of them crossed.
    Message {
        dir: Dir,
        binary: bool,
        data: &'a [u8],
        wire: MessageEnd,
        at: Instant,
    },
    Close {
        code: Option<u16>,
        reason: &'a str,
        initiator: Initiator,
    },
    Error(&'a Failure),
    /// --reconnect: the connection was lost (`cause`); attempt `attempt`
    /// (of `limit`, if there is one) follows after `delay`.
    Reconnect {
        attempt: u64,
        limit: Option<u64>,
        delay: std::time::Duration,
        cause: &'a str,
    },
    /// --rtt-json-id: an incoming message answered the request that
    /// carried the same id (`id` as JSON text), `delay` after it.
    Answered {
        id: &'a str,
        delay: std::time::Duration,
    },
    /// A --reply rule matched an incoming message: `text` goes out next.
    Reply {
        rule: usize,
        pattern: &'a str,
        text: &'a str,
    },
    /// Something the user asked about or should know (/status, a round
    /// trip, input that could not be sent).
    Notice(&'a str),
    /// Input that was refused; the session goes on.
    Refused(&'a str),
    /// Raw bytes as they crossed, handshake included (for recorders).
    Wire(&'a Chunk),
    /// The connection is over and its socket closed: recorders finish
    /// what they keep for it (its HAR entry, its TCP flow).
    Gone,
    /// The proxy applied a fault (`kind`, as --fault names it) to the
    /// direction `way` ("up": client to server, "down": back).
    Fault {
        kind: &'a str,
        way: &'a str,
        detail: &'a str,
    },
}

/// Whether an observer can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Go,
    /// It cannot show anything any more (nobody reads its output).
    Stop,
    /// A recorder that has heard all it was for (one connection's): it is
    /// let go.
    Done,
}

/// What an observer wants to see beyond the events every one gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interest {
    /// Frame events (and payload previews to show in them).
    pub frames: bool,
    /// Message events for what we sent.
    pub outgoing_messages: bool,
    /// Raw chunks (`Event::Wire`).
    pub chunks: bool,
}

impl Interest {
    /// Frames and messages both ways: what a view of the session shows.
    pub const SESSION: Interest = Interest {
        frames: true,
        outgoing_messages: true,
        chunks: false,
    };

    fn or(self, other: Interest) -> Interest {
        Interest {
            frames: self.frames || other.frames,
            outgoing_messages: self.outgoing_messages || other.outgoing_messages,
            chunks: self.chunks || other.chunks,
        }
    }
}

pub trait Observer {
    fn event(&mut self, event: &Event) -> Flow;
    /// Called before the session waits, so batched output is not held back.
    fn flush(&mut self) -> Flow;
    fn interest(&self) -> Interest;
    /// The events that follow belong to connection `conn` (none: to the
    /// run as a whole). Told only when it changes.
    fn set_conn(&mut self, _conn: Option<u32>) {}
    /// In the proxy: the events that follow happened on this leg of the
    /// connection (`Role::Client`: between the client and the proxy).
    fn set_leg(&mut self, _leg: Option<Role>) {}
}

/// An observer that draws on stdout: its output can be moved above the
/// prompt while one is up.
pub trait Screen {
    fn show(&mut self, event: &Event) -> io::Result<()>;
    fn out(&mut self) -> &mut Out;
    fn interest(&self) -> Interest;
    fn set_conn(&mut self, _conn: Option<u32>) {}
    fn set_leg(&mut self, _leg: Option<Role>) {}
    /// The session is about to wait: draw what was held for later.
    fn idle(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: Screen + ?Sized> Observer for T {
    fn event(&mut self, event: &Event) -> Flow {
        // Write errors other than a reader gone are not worth stopping for.
        let _ = self.show(event);
        self.out().flow()
    }

    fn flush(&mut self) -> Flow {
        let _ = self.idle();
        let _ = self.out().flush();
        self.out().flow()
    }

    fn interest(&self) -> Interest {
        Screen::interest(self)
    }

    fn set_conn(&mut self, conn: Option<u32>) {
        Screen::set_conn(self, conn)
    }

    fn set_leg(&mut self, leg: Option<Role>) {
        Screen::set_leg(self, leg)
    }
}

/// The screen and every recorder, fed the same events. A handle: each
/// connection holds one tagged with its number, so that every event it
/// sends names its connection; all of them feed the same observers (one
/// thread drives every connection, so a `RefCell` is enough).
#[derive(Clone)]
pub struct Observers {
    shared: Rc<RefCell<Fanout>>,
    conn: Option<u32>,
    leg: Option<Role>,
}

struct Fanout {
    screen: Box<dyn Screen>,
    recorders: Vec<Box<dyn Observer>>,
    interest: Interest,
    stopped: bool,
    /// The connection (and leg) the observers were last told about.
    told: (Option<u32>, Option<Role>),
}

impl Observers {
    pub fn new(screen: Box<dyn Screen>) -> Observers {
        let interest = Screen::interest(screen.as_ref());
        Observers {
            shared: Rc::new(RefCell::new(Fanout {
                screen,
                recorders: Vec::new(),
                interest,
                stopped: false,
                told: (None, None),
            })),
            conn: None,
            leg: None,
        }
    }

    /// The same observers, for the events of connection `conn`.
    pub fn for_conn(&self, conn: u32) -> Observers {
        Observers {
            shared: Rc::clone(&self.shared),
            conn: Some(conn),
            leg: None,
        }
    }

    /// The same observers, for the events of one leg of a proxied
    /// connection.
    pub fn for_leg(&self, conn: u32, leg: Role) -> Observers {
        Observers {
            shared: Rc::clone(&self.shared),
            conn: Some(conn),
            leg: Some(leg),
        }
    }

    /// The connection this handle speaks for.
    pub fn conn(&self) -> Option<u32> {
        self.conn
    }

    pub fn add(&self, recorder: Box<dyn Observer>) {
        let mut fan = self.shared.borrow_mut();
        fan.interest = fan.interest.or(recorder.interest());
        fan.recorders.push(recorder);
    }

    pub fn event(&self, event: &Event) {
        let mut fan = self.shared.borrow_mut();
        let fan = &mut *fan;
        if fan.told != (self.conn, self.leg) {
            fan.told = (self.conn, self.leg);
            Observer::set_conn(fan.screen.as_mut(), self.conn);
            Observer::set_leg(fan.screen.as_mut(), self.leg);
            for recorder in &mut fan.recorders {
                recorder.set_conn(self.conn);
                recorder.set_leg(self.leg);
            }
        }
        let mut flow = Observer::event(fan.screen.as_mut(), event);
        // A recorder that is done (one connection's) is let go.
        fan.recorders
            .retain_mut(|recorder| match recorder.event(event) {
                Flow::Stop => {
                    flow = Flow::Stop;
                    true
                }
                Flow::Done => false,
                Flow::Go => true,
            });
        fan.stopped |= flow == Flow::Stop;
    }

    pub fn flush(&self) {
        let mut fan = self.shared.borrow_mut();
        let fan = &mut *fan;
        let mut flow = Observer::flush(fan.screen.as_mut());
        for recorder in &mut fan.recorders {
            if recorder.flush() == Flow::Stop {
                flow = Flow::Stop;
            }
        }
        fan.stopped |= flow == Flow::Stop;
    }

    /// An observer cannot go on: the session should end.
    pub fn stopped(&self) -> bool {
        self.shared.borrow().stopped
    }

    pub fn interest(&self) -> Interest {
        self.shared.borrow().interest
    }

    /// The raw bytes the tap kept (the opening handshake's, say) go to the
    /// observers that record them.
    pub fn wire_chunks<S>(&self, tap: &mut crate::wire::tap::Tap<S>) {
        let chunks: Vec<_> = tap.take_chunks().collect();
        for chunk in &chunks {
            self.event(&Event::Wire(chunk));
        }
    }

    /// The screen's output, to move it above the prompt and back.
    pub fn screen_out(&self) -> RefMut<'_, Out> {
        RefMut::map(self.shared.borrow_mut(), |fan| fan.screen.out())
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

    /// The wall clock (seconds since the Unix epoch) when the clock
    /// started: recordings stamp their events with it.
    pub fn wall_base(self) -> f64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        now - self.now()
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
/// Binary, invalid text and compressed payloads (whose bytes may happen
/// to be valid UTF-8 but are not the text) show as hex, so nothing is
/// hidden or mistaken.
pub fn show_frame_payload(frame: &Frame) -> Shown<'_> {
    let bytes = &frame.preview;
    let textual = match frame.header.kind() {
        _ if frame.compressed => false,
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

/// Where a large payload is encoded piece by piece: a plain buffer, or the
/// output, which writes each batch as it fills.
pub trait Pieces {
    fn buf(&mut self) -> &mut Vec<u8>;
    /// A piece is in the buffer: write it out if that is worth it.
    fn spill(&mut self);
}

impl Pieces for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }
    fn spill(&mut self) {}
}

impl Pieces for Out {
    fn buf(&mut self) -> &mut Vec<u8> {
        Out::buf(self)
    }
    fn spill(&mut self) {
        Out::spill(self)
    }
}

/// How much payload is encoded at a time.
pub const PIECE: usize = 32 * 1024;

/// Appends `bytes` as hex, a piece at a time.
pub fn push_hex_pieces(out: &mut impl Pieces, bytes: &[u8]) {
    for piece in bytes.chunks(PIECE) {
        push_hex(out.buf(), piece);
        out.spill();
    }
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
    use crate::wire::decode::{Decoded, FrameDecoder};

    fn frames(bytes: &[u8], limit: usize) -> Vec<Frame> {
        let mut out = Vec::new();
        FrameDecoder::new(limit).feed(bytes, &mut |d| {
            if let Decoded::Frame(f) = d {
                out.push(f)
            }
        });
        out
    }

    fn frame(bytes: &[u8], limit: usize) -> Frame {
        frames(bytes, limit).remove(0)
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
        // binary "01" without FIN, then its continuation "03" (a valid
        // UTF-8 byte, still binary); a ping of 01 02; a ping of "hi".
        let frames = frames(
            &[
                0x02, 0x01, 0x01, 0x80, 0x01, 0x03, 0x89, 0x02, 1, 2, 0x89, 0x02, b'h', b'i',
            ],
            16,
        );
        assert!(matches!(show_frame_payload(&frames[1]), Shown::Hex([3])));
        assert!(matches!(show_frame_payload(&frames[2]), Shown::Hex([1, 2])));
        assert!(matches!(show_frame_payload(&frames[3]), Shown::Utf8("hi")));
    }

    #[test]
    fn compressed_payloads_show_as_hex_even_when_they_read_as_text() {
        // The socket.io heartbeat "2" deflated is 32 02 00, valid UTF-8;
        // then a compressed message in two fragments.
        let frames = frames(
            &[
                0xc1, 0x03, 0x32, 0x02, 0x00, 0x41, 0x01, b'a', 0x80, 0x01, b'b',
            ],
            16,
        );
        assert!(frames.iter().all(|f| f.compressed));
        assert!(matches!(
            show_frame_payload(&frames[0]),
            Shown::Hex([0x32, 2, 0])
        ));
        assert!(matches!(show_frame_payload(&frames[1]), Shown::Hex(b"a")));
        assert!(matches!(show_frame_payload(&frames[2]), Shown::Hex(b"b")));
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
