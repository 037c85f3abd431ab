//! The wire tap: a `Read + Write` wrapper between tungstenite and the
//! transport. Because it sits above TLS it sees the plaintext WebSocket
//! bytes of ws:// and wss:// alike, and because it sits below tungstenite it
//! sees frames exactly as they crossed the wire, including ones tungstenite
//! then rejects.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use crate::frame::{Frame, FrameDecoder};

pub struct Tap<S> {
    inner: S,
    incoming: FrameDecoder,
    outgoing: FrameDecoder,
    /// Decoded frames with the time their last bytes crossed the wire.
    frames_in: VecDeque<(Instant, Frame)>,
    frames_out: VecDeque<(Instant, Frame)>,
    /// Hand-made frame bytes not yet accepted by the socket; they go out
    /// before anything tungstenite writes next.
    raw_out: VecDeque<u8>,
    /// Plaintext bytes that crossed each way.
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl<S> Tap<S> {
    /// `already_read` are bytes that arrived with the handshake response.
    pub fn new(inner: S, preview_limit: usize, already_read: &[u8]) -> Self {
        let mut tap = Tap {
            inner,
            incoming: FrameDecoder::new(preview_limit),
            outgoing: FrameDecoder::new(preview_limit),
            frames_in: VecDeque::new(),
            frames_out: VecDeque::new(),
            raw_out: VecDeque::new(),
            bytes_in: 0,
            bytes_out: 0,
        };
        tap.saw_incoming(already_read);
        tap
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn next_incoming(&mut self) -> Option<(Instant, Frame)> {
        self.frames_in.pop_front()
    }

    pub fn next_outgoing(&mut self) -> Option<(Instant, Frame)> {
        self.frames_out.pop_front()
    }

    /// The next incoming frame, if its last bytes crossed before `at`.
    pub fn next_incoming_before(&mut self, at: Instant) -> Option<(Instant, Frame)> {
        match self.frames_in.front() {
            Some((seen, _)) if *seen <= at => self.frames_in.pop_front(),
            _ => None,
        }
    }

    /// The next outgoing frame, if its last bytes crossed before `at`.
    pub fn next_outgoing_before(&mut self, at: Instant) -> Option<(Instant, Frame)> {
        match self.frames_out.front() {
            Some((seen, _)) if *seen <= at => self.frames_out.pop_front(),
            _ => None,
        }
    }

    /// Queues the frame the server's stream stopped in, if its header was
    /// complete.
    pub fn take_partial_incoming(&mut self) {
        if let Some(frame) = self.incoming.take_partial() {
            self.frames_in.push_back((Instant::now(), frame));
        }
    }

    /// Whether the server's stream stopped inside a frame.
    pub fn incoming_mid_frame(&self) -> bool {
        self.incoming.mid_frame()
    }

    fn saw_incoming(&mut self, bytes: &[u8]) {
        self.bytes_in += bytes.len() as u64;
        // One clock read per socket read, not per frame.
        let now = Instant::now();
        let queue = &mut self.frames_in;
        self.incoming.feed(bytes, |f| queue.push_back((now, f)));
    }

    fn saw_outgoing(&mut self, bytes: &[u8]) {
        self.bytes_out += bytes.len() as u64;
        let now = Instant::now();
        let queue = &mut self.frames_out;
        self.outgoing.feed(bytes, |f| queue.push_back((now, f)));
    }
}

impl<S: Write> Tap<S> {
    /// Queues bytes that bypass tungstenite (a frame it would refuse to
    /// build, such as an unmasked client frame) and writes what the socket
    /// takes now. Call only when tungstenite has nothing buffered, so that
    /// order on the wire is the order of sending.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.raw_out.extend(bytes);
        self.drain_raw()
    }

    /// Writes queued raw bytes; `WouldBlock` if some remain.
    fn drain_raw(&mut self) -> io::Result<()> {
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
        let n = self.inner.read(buf)?;
        self.saw_incoming(&buf[..n]);
        Ok(n)
    }
}

impl<S: Write> Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.drain_raw()?;
        let n = self.inner.write(buf)?;
        self.saw_outgoing(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain_raw()?;
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

    #[test]
    fn only_bytes_that_were_written_are_decoded() {
        let mut tap = Tap::new(Trickle { written: vec![] }, 16, &[]);
        let frame = [0x81, 0x02, b'h', b'i'];
        assert_eq!(tap.write(&frame).unwrap(), 3);
        assert!(
            tap.next_outgoing().is_none(),
            "frame is not complete on the wire"
        );
        tap.write_all(&frame[3..]).unwrap();
        assert_eq!(tap.next_outgoing().unwrap().1.preview, b"hi");
        assert_eq!(tap.bytes_out, 4);
    }

    #[test]
    fn raw_bytes_go_out_before_later_writes_and_are_decoded() {
        let mut tap = Tap::new(Trickle { written: vec![] }, 16, &[]);
        // An unmasked text frame "hi", then a later tungstenite write.
        assert!(tap.write_raw(&[0x81, 0x02, b'h', b'i']).is_ok());
        assert!(tap.raw_out.is_empty());
        tap.write_all(&[0x89, 0x00]).unwrap();
        assert_eq!(tap.inner.written, vec![0x81, 0x02, b'h', b'i', 0x89, 0x00]);
        let (_, first) = tap.next_outgoing().unwrap();
        assert_eq!(
            (first.header.mask_key, first.preview.as_slice()),
            (None, &b"hi"[..])
        );
        assert_eq!(tap.next_outgoing().unwrap().1.header.opcode, 0x9);
    }

    #[test]
    fn bytes_read_with_the_handshake_are_decoded_first() {
        let wire: &[u8] = &[0x81, 0x01, b'b'];
        let mut tap = Tap::new(wire, 16, &[0x81, 0x01, b'a']);
        let mut buf = [0u8; 8];
        assert_eq!(tap.read(&mut buf).unwrap(), 3);
        assert_eq!(tap.next_incoming().unwrap().1.preview, b"a");
        assert_eq!(tap.next_incoming().unwrap().1.preview, b"b");
    }
}
