//! UTF-8 checked as a text message arrives, piece by piece and across its
//! frames, so that a connection fails at the first invalid byte (RFC 6455
//! §8.1) rather than when the message or frame is complete.

/// Where the first invalid byte is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadUtf8 {
    /// Its offset in the piece just fed (0 when its sequence began in an
    /// earlier piece).
    pub in_piece: usize,
    /// Its offset in the message.
    pub in_message: u64,
}

/// The state between pieces: the start of a character that the next piece
/// completes, and how many bytes came before.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    carry: [u8; 4],
    carried: usize,
    seen: u64,
}

impl Utf8Stream {
    /// Checks the next piece of the message.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), BadUtf8> {
        let mut start = 0;
        if self.carried > 0 {
            // The carried bytes are a valid start of a character: complete
            // it with the first bytes of this piece.
            let lead_at = self.seen - self.carried as u64;
            let need = char_len(self.carry[0]) - self.carried;
            let take = need.min(piece.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&piece[..take]);
            self.carried += take;
            match std::str::from_utf8(&self.carry[..self.carried]) {
                Ok(_) => self.carried = 0,
                Err(e) if e.error_len().is_none() => {}
                Err(_) => {
                    return Err(BadUtf8 {
                        in_piece: 0,
                        in_message: lead_at,
                    })
                }
            }
            start = take;
        }
        let rest = &piece[start..];
        if self.carried == 0 {
            if let Err(e) = std::str::from_utf8(rest) {
                let at = start + e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(BadUtf8 {
                        in_piece: at,
                        in_message: self.seen + at as u64,
                    });
                }
                // A character cut by the end of the piece: kept for the next.
                let tail = &piece[at..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carried = tail.len();
            }
        }
        self.seen += piece.len() as u64;
        Ok(())
    }

    /// The message is complete: a character still unfinished is invalid.
    pub fn finish(&mut self) -> Result<(), BadUtf8> {
        if self.carried == 0 {
            return Ok(());
        }
        Err(BadUtf8 {
            in_piece: 0,
            in_message: self.seen - self.carried as u64,
        })
    }
}

/// How many bytes a character with this first byte has (the carried
/// bytes always begin with a valid one).
fn char_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xF4 => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `size`; the first invalid byte's offset.
    fn check(bytes: &[u8], size: usize) -> Result<(), u64> {
        let mut stream = Utf8Stream::default();
        for piece in bytes.chunks(size) {
            stream.feed(piece).map_err(|b| b.in_message)?;
        }
        stream.finish().map_err(|b| b.in_message)
    }

    #[test]
    fn valid_text_passes_however_it_is_cut() {
        let text = "κόσμε, 世界, 🎉 ok".as_bytes();
        for size in 1..=text.len() {
            assert_eq!(check(text, size), Ok(()), "pieces of {size}");
        }
        assert_eq!(check(b"", 1), Ok(()));
    }

    #[test]
    fn the_first_invalid_byte_is_found_however_it_is_cut() {
        // The suite's 6.4.1: "κόσμε" then an invalid 4-byte start, then
        // "edited".
        let mut bytes = "κόσμε".as_bytes().to_vec();
        let bad_at = bytes.len() as u64;
        bytes.extend_from_slice(&[0xf4, 0x90, 0x80, 0x80]);
        bytes.extend_from_slice(b"edited");
        for size in 1..=bytes.len() {
            assert_eq!(check(&bytes, size), Err(bad_at), "pieces of {size}");
        }
        // A lone continuation byte, and an overlong encoding.
        assert_eq!(check(b"ab\x80cd", 2), Err(2));
        assert_eq!(check(b"a\xc0\xafb", 1), Err(1));
    }

    #[test]
    fn a_character_cut_by_the_end_of_the_message_is_invalid() {
        assert_eq!(check(b"ok\xe2\x82", 1), Err(2));
        assert_eq!(check(b"ok\xe2\x82", 5), Err(2));
    }

    #[test]
    fn the_offset_in_the_piece_is_where_the_bad_byte_is() {
        let mut stream = Utf8Stream::default();
        stream.feed(b"abc").unwrap();
        let bad = stream.feed(b"de\xffz").unwrap_err();
        assert_eq!(
            bad,
            BadUtf8 {
                in_piece: 2,
                in_message: 5
            }
        );
    }
}
