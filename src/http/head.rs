//! One bounded reader for HTTP heads, used for the server's response to our
//! upgrade, a client's request to `--listen`, and a proxy's answer to
//! CONNECT. Bounded in size and in time as a whole (a peer that sends one
//! byte a second cannot hold us past the deadline), and it says what
//! arrived when it gives up.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A head larger than this is not a WebSocket peer talking. Bounded by
/// size, not by a count of headers.
pub const MAX_HEAD: usize = 64 * 1024;

/// A byte stream whose reads can be given a time limit.
pub trait TimedRead: Read {
    fn set_read_timeout(&mut self, limit: Option<Duration>) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_read_timeout(&mut self, limit: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, limit)
    }
}

/// In-memory input, for tests and for parsing heads already read.
impl TimedRead for &[u8] {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// Why no head was read.
#[derive(Debug)]
pub enum Stop {
    /// The peer closed the connection first.
    Closed,
    /// Over `MAX_HEAD` bytes without an end.
    TooLarge,
    /// The deadline passed.
    TimedOut,
    /// The first bytes cannot start an HTTP head (a TLS record, say).
    NotHttp,
    Io(io::Error),
}

/// A head that was not read, and what had arrived of it.
#[derive(Debug)]
pub struct Unread {
    pub stop: Stop,
    pub got: Vec<u8>,
}

impl Unread {
    /// What arrived, shown safely and briefly, for an error message.
    pub fn got_text(&self) -> String {
        if self.got.is_empty() {
            return "nothing".to_string();
        }
        let start = &self.got[..self.got.len().min(120)];
        let more = if self.got.len() > start.len() {
            "…"
        } else {
            ""
        };
        format!(
            "{} bytes: \"{}\"{more}",
            self.got.len(),
            crate::escape::escape_bytes(start)
        )
    }
}

/// A head as read: its bytes up to and including the blank line, and the
/// bytes read past it (they belong to whatever follows).
#[derive(Debug)]
pub struct ReadHead {
    pub head: Vec<u8>,
    pub leftover: Vec<u8>,
}

/// Reads one head, giving up at `deadline`.
pub fn read_head(stream: &mut impl TimedRead, deadline: Instant) -> Result<ReadHead, Unread> {
    read_head_after(Vec::with_capacity(1024), stream, deadline)
}

/// Reads one head that may have begun in `buf` (bytes read past an
/// earlier head).
pub fn read_head_after(
    mut buf: Vec<u8>,
    stream: &mut impl TimedRead,
    deadline: Instant,
) -> Result<ReadHead, Unread> {
    let mut chunk = [0u8; 4096];
    let mut searched = 0;
    loop {
        if let Some(end) = head_end(&buf, searched) {
            let leftover = buf.split_off(end);
            return Ok(ReadHead {
                head: buf,
                leftover,
            });
        }
        searched = buf.len().saturating_sub(3);
        let stop = |stop, got| Err(Unread { stop, got });
        if buf.first().is_some_and(|b| !b.is_ascii_alphabetic()) {
            return stop(Stop::NotHttp, buf);
        }
        if buf.len() > MAX_HEAD {
            return stop(Stop::TooLarge, buf);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return stop(Stop::TimedOut, buf);
        }
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            return stop(Stop::Io(e), buf);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return stop(Stop::Closed, buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return stop(Stop::TimedOut, buf)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return stop(Stop::Io(e), buf),
        }
    }
}

/// Where the head ends: after the first empty line. Lines may end in bare
/// LF (RFC 9112 §2.2 lets a recipient accept that).
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let lf = i + p;
        let line_start = buf[..lf].iter().rposition(|&b| b == b'\n');
        // The line just ended is empty (or only a CR): the head is over.
        if let Some(prev) = line_start {
            if lf - prev == 1 || (lf - prev == 2 && buf[lf - 1] == b'\r') {
                return Some(lf + 1);
            }
        }
        i = lf + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_head_and_what_follows_it() {
        let mut wire: &[u8] = b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n\x81\x00";
        let read = read_head(&mut wire, far()).unwrap();
        assert_eq!(read.head, b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n");
        assert_eq!(read.leftover, b"\x81\x00");
    }

    #[test]
    fn bare_lf_lines_end_a_head_too() {
        let mut wire: &[u8] = b"HTTP/1.1 101 OK\nA: b\n\nrest";
        let read = read_head(&mut wire, far()).unwrap();
        assert_eq!(read.head, b"HTTP/1.1 101 OK\nA: b\n\n");
        assert_eq!(read.leftover, b"rest");
    }

    #[test]
    fn a_head_without_an_end_says_what_arrived() {
        let mut wire: &[u8] = b"HTTP/1.1 200 OK\r\nX: \x1b[2J";
        let unread = read_head(&mut wire, far()).unwrap_err();
        assert!(matches!(unread.stop, Stop::Closed));
        let text = unread.got_text();
        assert!(text.starts_with("24 bytes: "), "{text}");
        assert!(!text.contains('\x1b'), "escaped: {text}");
    }

    #[test]
    fn tls_bytes_are_not_a_head() {
        let mut wire: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00];
        let unread = read_head(&mut wire, far()).unwrap_err();
        assert!(matches!(unread.stop, Stop::NotHttp));
    }

    #[test]
    fn many_headers_are_fine_while_the_head_is_small_enough() {
        let mut head = b"HTTP/1.1 101 OK\r\n".to_vec();
        for i in 0..300 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let read = read_head(&mut head.as_slice(), far()).unwrap();
        assert_eq!(read.head.len(), head.len());
        let huge = vec![b'a'; MAX_HEAD + 10];
        let unread = read_head(&mut huge.as_slice(), far()).unwrap_err();
        assert!(matches!(unread.stop, Stop::TooLarge));
    }
}
