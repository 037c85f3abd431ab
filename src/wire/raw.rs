//! The raw wire writer: bytes that go below tungstenite, for what it will
//! not write. A frame with any FIN, RSV bits and opcode, masked or not with
//! any key, its length in any encoding or a length that lies; a write split
//! into pieces with pauses between them; the write side shut down; the
//! connection reset. `/frame` uses it, and so can anything that must break
//! a rule on purpose.
//!
//! It writes only once tungstenite has flushed what it holds, so that the
//! wire carries everything in the order it was sent.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

/// How a frame's header says its payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Length {
    /// The shortest encoding, as RFC 6455 §5.2 asks.
    #[default]
    Shortest,
    /// The 16-bit form (126), whatever the length.
    Bits16,
    /// The 64-bit form (127), whatever the length.
    Bits64,
    /// This length (in its shortest form), whatever the payload's: a
    /// header that lies.
    Announce(u64),
}

/// What the raw writer is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireOp {
    /// Bytes, as they are.
    Bytes(Vec<u8>),
    /// Bytes written in `pieces` writes, `pause` apart.
    Split {
        bytes: Vec<u8>,
        pieces: usize,
        pause: Duration,
    },
    /// Shut down our write side (a half-close: the peer reads EOF).
    ShutdownWrite,
    /// Reset the connection (RST instead of FIN).
    Reset,
}

/// Where raw bytes go: the tap, which shows them like any others.
pub trait RawSink {
    /// Writes all of `bytes`, or keeps what the socket did not take and
    /// says `WouldBlock`; `flush_raw` writes the rest.
    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn flush_raw(&mut self) -> io::Result<()>;
    fn shutdown_write(&mut self) -> io::Result<()>;
    fn reset(&mut self) -> io::Result<()>;
}

enum Step {
    Write(Vec<u8>),
    Pause(Duration),
    ShutdownWrite,
    Reset,
}

/// What `pump` got through to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    /// Everything queued is written.
    Done,
    /// The socket pushed back: come back when it is writable.
    Blocked,
    /// A pause between pieces: come back at this time.
    Paused(Instant),
    /// The connection was reset: nothing more can be written.
    Reset,
}

/// Operations waiting for their turn on the wire.
#[derive(Default)]
pub struct RawWriter {
    steps: VecDeque<Step>,
    /// The end of the pause under way.
    resume_at: Option<Instant>,
    /// The sink holds bytes the socket did not take yet.
    blocked: bool,
}

impl RawWriter {
    pub fn push(&mut self, op: WireOp) {
        match op {
            WireOp::Bytes(bytes) => self.steps.push_back(Step::Write(bytes)),
            WireOp::Split {
                bytes,
                pieces,
                pause,
            } => {
                let size = bytes.len().div_ceil(pieces.max(1)).max(1);
                for (i, piece) in bytes.chunks(size).enumerate() {
                    if i > 0 {
                        self.steps.push_back(Step::Pause(pause));
                    }
                    self.steps.push_back(Step::Write(piece.to_vec()));
                }
            }
            WireOp::ShutdownWrite => self.steps.push_back(Step::ShutdownWrite),
            WireOp::Reset => self.steps.push_back(Step::Reset),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && !self.blocked
    }

    /// When a pause ends, if one is under way.
    pub fn resume_at(&self) -> Option<Instant> {
        self.resume_at
    }

    /// Does what is queued, in order, until the socket pushes back or a
    /// pause begins.
    pub fn pump(&mut self, sink: &mut impl RawSink, now: Instant) -> io::Result<Pumped> {
        if self.blocked {
            match sink.flush_raw() {
                Ok(()) => self.blocked = false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Pumped::Blocked),
                Err(e) => return Err(e),
            }
        }
        if let Some(at) = self.resume_at {
            if now < at {
                return Ok(Pumped::Paused(at));
            }
            self.resume_at = None;
        }
        while let Some(step) = self.steps.pop_front() {
            match step {
                Step::Write(bytes) => match sink.write_raw(&bytes) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.blocked = true;
                        return Ok(Pumped::Blocked);
                    }
                    Err(e) => return Err(e),
                },
                Step::Pause(pause) => {
                    let at = now + pause;
                    self.resume_at = Some(at);
                    return Ok(Pumped::Paused(at));
                }
                Step::ShutdownWrite => sink.shutdown_write()?,
                Step::Reset => {
                    sink.reset()?;
                    self.steps.clear();
                    return Ok(Pumped::Reset);
                }
            }
        }
        Ok(Pumped::Done)
    }
}

/// A frame's header and payload as they go on the wire: `key` masks it.
pub fn encode(
    bits: [bool; 4],
    opcode: u8,
    key: Option<[u8; 4]>,
    length: Length,
    payload: &[u8],
) -> Vec<u8> {
    let [fin, rsv1, rsv2, rsv3] = bits;
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(
        (u8::from(fin) << 7)
            | (u8::from(rsv1) << 6)
            | (u8::from(rsv2) << 5)
            | (u8::from(rsv3) << 4)
            | (opcode & 0x0F),
    );
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let len = payload.len() as u64;
    let (form, announced) = match length {
        Length::Shortest => (None, len),
        Length::Bits16 => (Some(126), len),
        Length::Bits64 => (Some(127), len),
        Length::Announce(n) => (None, n),
    };
    let form = form.unwrap_or(match announced {
        n if n < 126 => 0,
        n if n <= 0xFFFF => 126,
        _ => 127,
    });
    match form {
        0 => out.push(mask_bit | announced as u8),
        126 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(announced as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&announced.to_be_bytes());
        }
    }
    if let Some(key) = key {
        out.extend_from_slice(&key);
    }
    let body = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        super::frame::unmask(&mut out[body..], key, 0);
    }
    out
}

/// Builds a frame with the shortest length encoding.
/// A fresh masking key.
pub fn random_key() -> [u8; 4] {
    getrandom::u32().unwrap_or(0x5eed_f00d).to_be_bytes()
}

pub fn encode_frame(bits: [bool; 4], opcode: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    encode(bits, opcode, key, Length::Shortest, payload)
}

/// The same frame, made in the payload's own buffer (masked in place, the
/// header put in front), so that a big message is never held twice. The
/// buffer should have 14 bytes of room to spare.
pub fn encode_frame_owned(
    bits: [bool; 4],
    opcode: u8,
    key: Option<[u8; 4]>,
    mut payload: Vec<u8>,
) -> Vec<u8> {
    let header = encode_header(bits, opcode, key, payload.len());
    if let Some(key) = key {
        crate::wire::frame::unmask(&mut payload, key, 0);
    }
    payload.splice(0..0, header);
    payload
}

/// A frame's header for a payload of `len` bytes, length in its shortest
/// form.
fn encode_header(bits: [bool; 4], opcode: u8, key: Option<[u8; 4]>, len: usize) -> Vec<u8> {
    let mut header = encode(bits, opcode, None, Length::Announce(len as u64), &[]);
    if let Some(key) = key {
        header[1] |= 0x80;
        header.extend_from_slice(&key);
    }
    header
}

/// A hand-made frame: every header field is the user's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CraftedFrame {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: u8,
    pub mask: Mask,
    /// How the header says the payload's length (a lie, even).
    pub length: Length,
    /// Written in this many pieces, this far apart.
    pub split: Option<(usize, std::time::Duration)>,
    pub payload: Vec<u8>,
    /// Compress the payload with the session's permessage-deflate
    /// compressor (and set RSV1 on a message's first frame).
    pub deflate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// As the role requires: masked from a client, unmasked from a server.
    Auto,
    Random,
    Key([u8; 4]),
    /// Unmasked, which RFC 6455 §5.1 forbids a client: for testing servers.
    Off,
}

impl CraftedFrame {
    /// The frame's bytes as they go on the wire; `random_key` is used when
    /// the mask is `Random`, or `Auto` from a client.
    pub fn encode(&self, random_key: [u8; 4], client: bool) -> Vec<u8> {
        let key = match self.mask {
            Mask::Auto if client => Some(random_key),
            Mask::Auto => None,
            Mask::Random => Some(random_key),
            Mask::Key(k) => Some(k),
            Mask::Off => None,
        };
        encode(
            [self.fin, self.rsv1, self.rsv2, self.rsv3],
            self.opcode,
            key,
            self.length,
            &self.payload,
        )
    }

    /// What the raw writer is to do with it.
    pub fn op(&self, random_key: [u8; 4], client: bool) -> WireOp {
        let bytes = self.encode(random_key, client);
        match self.split {
            Some((pieces, pause)) => WireOp::Split {
                bytes,
                pieces,
                pause,
            },
            None => WireOp::Bytes(bytes),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_frame_made_in_its_payloads_buffer_is_the_same_frame() {
        for len in [0, 1, 125, 126, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for key in [None, Some([1, 2, 3, 4])] {
                let bits = [true, false, false, false];
                let mut owned = Vec::with_capacity(len + 14);
                owned.extend_from_slice(&payload);
                assert_eq!(
                    encode_frame_owned(bits, 2, key, owned),
                    encode_frame(bits, 2, key, &payload),
                    "{len} {key:?}"
                );
            }
        }
    }

    use super::*;
    use crate::wire::frame::FrameHeader;

    #[test]
    fn lengths_in_every_form_and_a_lying_one() {
        let bits = [true, false, false, false];
        assert_eq!(
            encode(bits, 1, None, Length::Shortest, b"hi"),
            b"\x81\x02hi"
        );
        assert_eq!(
            encode(bits, 1, None, Length::Bits16, b"hi"),
            b"\x81\x7e\x00\x02hi"
        );
        assert_eq!(
            encode(bits, 1, None, Length::Bits64, b"hi"),
            b"\x81\x7f\x00\x00\x00\x00\x00\x00\x00\x02hi"
        );
        assert_eq!(
            encode(bits, 2, None, Length::Announce(300), b"hi"),
            b"\x82\x7e\x01\x2chi"
        );
        // Masked: the key follows the length, and the payload is masked.
        assert_eq!(
            encode(bits, 1, Some([1, 2, 3, 4]), Length::Shortest, b"hi"),
            [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]
        );
    }

    /// A sink that takes at most `room` bytes and then pushes back.
    #[derive(Default)]
    struct Sink {
        written: Vec<Vec<u8>>,
        room: usize,
        held: Vec<u8>,
        shut: bool,
    }

    impl RawSink for Sink {
        fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.held.extend_from_slice(bytes);
            self.flush_raw()
        }
        fn flush_raw(&mut self) -> io::Result<()> {
            let n = self.held.len().min(self.room);
            self.room -= n;
            self.written.push(self.held.drain(..n).collect());
            if self.held.is_empty() {
                Ok(())
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            self.shut = true;
            Ok(())
        }
        fn reset(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_split_write_pauses_between_pieces_and_waits_when_blocked() {
        let mut writer = RawWriter::default();
        let pause = Duration::from_millis(100);
        writer.push(WireOp::Split {
            bytes: b"abcdef".to_vec(),
            pieces: 3,
            pause,
        });
        writer.push(WireOp::ShutdownWrite);
        let mut sink = Sink {
            room: 100,
            ..Sink::default()
        };
        let t0 = Instant::now();
        assert_eq!(
            writer.pump(&mut sink, t0).unwrap(),
            Pumped::Paused(t0 + pause)
        );
        assert_eq!(sink.written, [b"ab".to_vec()]);
        // Too early: nothing more.
        assert_eq!(
            writer.pump(&mut sink, t0).unwrap(),
            Pumped::Paused(t0 + pause)
        );
        let t1 = t0 + pause;
        assert_eq!(
            writer.pump(&mut sink, t1).unwrap(),
            Pumped::Paused(t1 + pause)
        );
        sink.room = 1;
        let t2 = t1 + pause;
        assert_eq!(writer.pump(&mut sink, t2).unwrap(), Pumped::Blocked);
        assert!(!sink.shut, "the half-close waits for the bytes before it");
        sink.room = 10;
        assert_eq!(writer.pump(&mut sink, t2).unwrap(), Pumped::Done);
        assert!(sink.shut);
        let all: Vec<u8> = sink.written.concat();
        assert_eq!(all, b"abcdef");
        assert!(writer.is_empty());
    }

    #[test]
    fn rfc_examples_encode_byte_for_byte() {
        // RFC 6455 §5.7: an unmasked and a masked "Hello".
        assert_eq!(
            encode_frame([true, false, false, false], 1, None, b"Hello"),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        assert_eq!(
            encode_frame(
                [true, false, false, false],
                1,
                Some([0x37, 0xfa, 0x21, 0x3d]),
                b"Hello"
            ),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
    }

    #[test]
    fn lengths_take_the_shortest_encoding() {
        for (len, header) in [(125usize, 2usize), (126, 4), (65535, 4), (65536, 10)] {
            let bytes = encode_frame([true, false, false, false], 2, None, &vec![0; len]);
            assert_eq!(bytes.len(), len + header, "len {len}");
            assert_eq!(FrameHeader::parse(&bytes).unwrap().payload_len, len as u64);
        }
    }

    #[test]
    fn crafted_frames_mask_as_asked() {
        let mut frame = CraftedFrame {
            fin: true,
            rsv1: true,
            rsv2: false,
            rsv3: false,
            opcode: 9,
            mask: Mask::Auto,
            length: Length::Shortest,
            split: None,
            payload: b"x".to_vec(),
            deflate: false,
        };
        let key = [1, 2, 3, 4];
        assert_eq!(frame.encode(key, false), [0xC9, 0x01, b'x']);
        assert_eq!(frame.encode(key, true)[1], 0x81);
        frame.mask = Mask::Off;
        assert_eq!(frame.encode(key, true)[1], 0x01);
        frame.mask = Mask::Key([9, 9, 9, 9]);
        assert_eq!(&frame.encode(key, false)[2..6], &[9, 9, 9, 9]);
    }
}
