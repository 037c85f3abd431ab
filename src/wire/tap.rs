//! The wire tap: a `Read + Write` wrapper installed on the byte stream the
//! moment it exists (TCP, or the plaintext side of TLS), so that it sees
//! every byte of ws:// and wss:// alike, from the opening handshake on.
//!
//! It keeps the raw chunks with their times for recorders, and once the
//! heads have crossed it decodes frames in both directions and applies the
//! header guard to incoming ones: a frame that breaks the rules is cut off
//! at its header, and the next read fails with the violation, so that
//! tungstenite above never buffers its payload.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use super::decode::{Decoded, FrameDecoder, FrameEnd};
use super::frame::Frame;
use super::guard::Guard;
use super::violation::Violation;
use super::Dir;
use crate::http::head::TimedRead;

/// Bytes as one read or write moved them.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub dir: Dir,
    pub at: Instant,
    pub bytes: Vec<u8>,
}

/// What the tap keeps for its readers.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    /// Payload bytes each data frame keeps for showing.
    pub preview: usize,
    /// Every frame, for a view that shows them; otherwise control frames
    /// only (a Close says how the session ended).
    pub frames: bool,
    /// Raw chunks, for recorders.
    pub chunks: bool,
}

/// One direction: its decoder and what it decoded, with the time the
/// bytes that completed each report crossed the wire.
struct Side {
    decoder: FrameDecoder,
    frames: VecDeque<(Instant, Frame)>,
    ends: VecDeque<(Instant, FrameEnd)>,
    /// Frame bytes seen, heads not counted.
    bytes: u64,
    keep_frames: bool,
}

impl Side {
    fn new(keep: Keep, dir: Dir) -> Side {
        let decoder = FrameDecoder::new(keep.preview);
        Side {
            // The peer's text is checked as it arrives; ours is what the
            // user chose to send.
            decoder: match dir {
                Dir::In => decoder.checking_utf8(),
                Dir::Out => decoder,
            },
            frames: VecDeque::new(),
            ends: VecDeque::new(),
            bytes: 0,
            keep_frames: keep.frames,
        }
    }

    /// Decodes `bytes`; with a guard, returns where a refused frame began
    /// and why.
    fn decode(&mut self, bytes: &[u8], guard: Option<&Guard>) -> Option<(usize, Violation)> {
        // One clock read per socket read, not per frame.
        let now = Instant::now();
        let mut refused = None;
        let (frames, ends, keep_all) = (&mut self.frames, &mut self.ends, self.keep_frames);
        self.decoder.feed(bytes, &mut |decoded| match decoded {
            Decoded::Header {
                header,
                offset,
                message_len,
            } => {
                if refused.is_none() {
                    if let Some(Err(v)) = guard.map(|g| g.check(&header, message_len)) {
                        refused = Some((offset, v));
                    }
                }
            }
            Decoded::Frame(frame) => {
                if keep_all || frame.header.is_control() {
                    frames.push_back((now, frame))
                }
            }
            Decoded::End(end) => ends.push_back((now, end)),
            Decoded::BadUtf8 {
                offset,
                seq,
                index,
                at,
            } => {
                if let (None, Some(_)) = (&refused, guard) {
                    refused = Some((
                        offset,
                        Violation::protocol(
                            format!(
                                "incoming message {seq} is not valid UTF-8 at byte {at}, in frame {index} (RFC 6455 §8.1)"
                            ),
                            1007,
                        ),
                    ));
                }
            }
        });
        if refused.is_some() {
            // The refused frame is shown with what arrived of it.
            if let Some(frame) = self.decoder.take_partial() {
                self.frames.push_back((now, frame));
            }
        }
        refused
    }
}

pub struct Tap<S> {
    inner: S,
    /// Set once the heads have crossed: from then on bytes are frames.
    framing: bool,
    incoming: Side,
    outgoing: Side,
    guard: Option<Guard>,
    /// Bytes that arrived with the handshake's head, served to the reader
    /// above before the socket is read again.
    replay: Vec<u8>,
    replayed: usize,
    /// The guard's verdict, returned by every read from now on.
    refused: Option<Violation>,
    /// Raw chunks for recorders; `None` when nobody records.
    chunks: Option<VecDeque<Chunk>>,
    /// Hand-made frame bytes not yet accepted by the socket; they go out
    /// before anything tungstenite writes next.
    raw_out: VecDeque<u8>,
}

impl<S> Tap<S> {
    pub fn new(inner: S, keep: Keep) -> Self {
        Tap {
            inner,
            framing: false,
            incoming: Side::new(keep, Dir::In),
            outgoing: Side::new(keep, Dir::Out),
            guard: None,
            replay: Vec::new(),
            replayed: 0,
            refused: None,
            chunks: keep.chunks.then(VecDeque::new),
            raw_out: VecDeque::new(),
        }
    }

    /// The heads have crossed: `leftover` (read past the head already) and
    /// everything after it are frames, and incoming ones are guarded.
    pub fn begin_frames(&mut self, leftover: Vec<u8>, guard: Guard) {
        self.framing = true;
        self.guard = Some(guard);
        self.replay = leftover;
        self.replayed = 0;
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::In => &mut self.incoming,
            Dir::Out => &mut self.outgoing,
        }
    }

    fn side_ref(&self, dir: Dir) -> &Side {
        match dir {
            Dir::In => &self.incoming,
            Dir::Out => &self.outgoing,
        }
    }

    /// The next decoded frame that way, with when it crossed.
    pub fn next_frame(&mut self, dir: Dir) -> Option<(Instant, Frame)> {
        self.side(dir).frames.pop_front()
    }

    /// When the next decoded frame that way crossed, if there is one.
    pub fn next_frame_at(&self, dir: Dir) -> Option<Instant> {
        self.side_ref(dir).frames.front().map(|(at, _)| *at)
    }

    /// The number of the next decoded frame that way, if there is one.
    pub fn next_frame_index(&self, dir: Dir) -> Option<u64> {
        self.side_ref(dir).frames.front().map(|(_, f)| f.index)
    }

    /// The next completion record that way, left in place.
    pub fn peek_end(&self, dir: Dir) -> Option<FrameEnd> {
        self.side_ref(dir).ends.front().map(|(_, e)| *e)
    }

    /// The next completed control frame or data message that way.
    pub fn next_end(&mut self, dir: Dir) -> Option<(Instant, FrameEnd)> {
        self.side(dir).ends.pop_front()
    }

    /// Raw chunks since the last call, in the order they crossed.
    pub fn take_chunks(&mut self) -> impl Iterator<Item = Chunk> + '_ {
        self.chunks.iter_mut().flat_map(|c| c.drain(..))
    }

    /// How many frames crossed that way.
    pub fn frames(&self, dir: Dir) -> u64 {
        self.side_ref(dir).decoder.frames_seen()
    }

    /// Frame bytes that crossed that way (the heads not counted).
    pub fn bytes(&self, dir: Dir) -> u64 {
        self.side_ref(dir).bytes
    }

    /// Queues the frame the peer's stream stopped in, if its header was
    /// complete.
    pub fn take_partial_incoming(&mut self) {
        if let Some(frame) = self.incoming.decoder.take_partial() {
            self.incoming.frames.push_back((Instant::now(), frame));
        }
    }

    /// Whether the peer's stream stopped inside a frame.
    pub fn incoming_mid_frame(&self) -> bool {
        self.incoming.decoder.mid_frame()
    }

    fn record(&mut self, dir: Dir, bytes: &[u8]) {
        if let Some(chunks) = &mut self.chunks {
            chunks.push_back(Chunk {
                dir,
                at: Instant::now(),
                bytes: bytes.to_vec(),
            });
        }
    }

    fn saw_outgoing(&mut self, bytes: &[u8]) {
        self.record(Dir::Out, bytes);
        if self.framing {
            self.outgoing.bytes += bytes.len() as u64;
            self.outgoing.decode(bytes, None);
        }
    }

    /// Decodes incoming frame bytes; how many of them may go up, or the
    /// violation when none may.
    fn pass_incoming(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if !self.framing {
            return Ok(bytes.len());
        }
        self.incoming.bytes += bytes.len() as u64;
        match self.incoming.decode(bytes, self.guard.as_ref()) {
            None => Ok(bytes.len()),
            Some((offset, violation)) => {
                self.refused = Some(violation.clone());
                if offset == 0 {
                    Err(violation.into_io())
                } else {
                    // The frames before the refused one go up first.
                    Ok(offset)
                }
            }
        }
    }
}

impl<S: TimedRead> TimedRead for Tap<S> {
    fn set_read_timeout(&mut self, limit: Option<std::time::Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(limit)
    }
}

impl<S: Write> Tap<S> {
    /// Queues bytes that bypass tungstenite (a frame it would refuse to
    /// build, such as an unmasked client frame) and writes what the socket
    /// takes now. Call only when tungstenite has nothing buffered, so that
    /// order on the wire is the order of sending.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.raw_out.extend(bytes);
        self.flush_raw()
    }

    /// Writes queued raw bytes; `WouldBlock` if some remain.
    pub fn flush_raw(&mut self) -> io::Result<()> {
        while !self.raw_out.is_empty() {
            let (front, _) = self.raw_out.as_slices();
            let n = self.inner.write(front)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let written: Vec<u8> = self.raw_out.drain(..n).collect();
            self.saw_outgoing(&written);
        }
        Ok(())
    }
}

impl<S: Read> Read for Tap<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(violation) = &self.refused {
            return Err(violation.clone().into_io());
        }
        if self.replayed < self.replay.len() {
            // Recorded already, when it arrived with the head.
            let n = (self.replay.len() - self.replayed).min(buf.len());
            buf[..n].copy_from_slice(&self.replay[self.replayed..self.replayed + n]);
            self.replayed += n;
            if self.replayed == self.replay.len() {
                self.replay = Vec::new();
                self.replayed = 0;
            }
            return self.pass_incoming(&buf[..n]);
        }
        let n = self.inner.read(buf)?;
        self.record(Dir::In, &buf[..n]);
        self.pass_incoming(&buf[..n])
    }
}

impl<S: Write> Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_raw()?;
        let n = self.inner.write(buf)?;
        self.saw_outgoing(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_raw()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that accepts only a few bytes per write, as a full socket would.
    struct Trickle {
        written: Vec<u8>,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const KEEP: Keep = Keep {
        preview: 16,
        frames: true,
        chunks: true,
    };

    const GUARD: Guard = Guard {
        serving: false,
        rsv1_allowed: false,
        max_frame: 1 << 20,
        max_message: 1 << 20,
    };

    fn framing<S>(inner: S, leftover: &[u8]) -> Tap<S> {
        let mut tap = Tap::new(inner, KEEP);
        tap.begin_frames(leftover.to_vec(), GUARD);
        tap
    }

    #[test]
    fn only_bytes_that_were_written_are_decoded() {
        let mut tap = framing(Trickle { written: vec![] }, &[]);
        let frame = [0x81, 0x02, b'h', b'i'];
        assert_eq!(tap.write(&frame).unwrap(), 3);
        assert!(
            tap.next_frame(Dir::Out).is_none(),
            "frame is not complete on the wire"
        );
        tap.write_all(&frame[3..]).unwrap();
        assert_eq!(tap.next_frame(Dir::Out).unwrap().1.preview, b"hi");
        assert_eq!(tap.bytes(Dir::Out), 4);
    }

    #[test]
    fn raw_bytes_go_out_before_later_writes_and_are_decoded() {
        let mut tap = framing(Trickle { written: vec![] }, &[]);
        // An unmasked text frame "hi", then a later tungstenite write.
        assert!(tap.write_raw(&[0x81, 0x02, b'h', b'i']).is_ok());
        assert!(tap.raw_out.is_empty());
        tap.write_all(&[0x89, 0x00]).unwrap();
        assert_eq!(tap.inner.written, vec![0x81, 0x02, b'h', b'i', 0x89, 0x00]);
        let (_, first) = tap.next_frame(Dir::Out).unwrap();
        assert_eq!(
            (first.header.mask_key, first.preview.as_slice()),
            (None, &b"hi"[..])
        );
        assert_eq!(tap.next_frame(Dir::Out).unwrap().1.header.opcode, 0x9);
    }

    #[test]
    fn bytes_read_with_the_head_come_first_and_are_recorded_once() {
        let wire: &[u8] = b"HTTP/1.1 101 OK\r\n\r\n\x81\x01a\x81\x01b";
        let mut tap = Tap::new(wire, KEEP);
        let mut buf = [0u8; 64];
        // The head reader read everything, the first frame included.
        let n = tap.read(&mut buf).unwrap();
        assert_eq!(n, wire.len() - 3 + 3);
        tap.begin_frames(buf[19..n].to_vec(), GUARD);
        let mut frames = [0u8; 8];
        assert_eq!(tap.read(&mut frames).unwrap(), 6);
        assert_eq!(tap.next_frame(Dir::In).unwrap().1.preview, b"a");
        assert_eq!(tap.next_frame(Dir::In).unwrap().1.preview, b"b");
        let recorded: Vec<u8> = tap.take_chunks().flat_map(|c| c.bytes).collect();
        assert_eq!(recorded, wire);
    }

    #[test]
    fn a_refused_header_stops_the_bytes_at_its_start() {
        // A good text frame, then a ping announcing 10^9 bytes.
        let wire: &[u8] = &[
            0x81, 0x01, b'a', 0x89, 0x7f, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00, 1, 2,
        ];
        let mut tap = framing(wire, &[]);
        let mut buf = [0u8; 64];
        assert_eq!(tap.read(&mut buf).unwrap(), 3, "the good frame goes up");
        let e = tap.read(&mut buf).unwrap_err();
        assert_eq!(Violation::from_io(&e).unwrap().close_code, Some(1002));
        let shown: Vec<u8> = std::iter::from_fn(|| tap.next_frame(Dir::In))
            .map(|(_, f)| f.header.opcode)
            .collect();
        assert_eq!(shown, [0x1, 0x9], "the refused frame is shown too");
    }
}
