//! permessage-deflate for the compression cases (categories 12 and 13):
//! the offers they make, and a whole-message codec with the parameters
//! the server accepted (RFC 7692 §7.2).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::case::DeflateOffer;
use crate::handshake::extensions::Deflate;

/// The four bytes a sync flush ends with, left off on the wire.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The offer as it goes in Sec-WebSocket-Extensions.
pub fn offer_text(offer: &DeflateOffer) -> String {
    // In the suite's order: what the client accepts, then asks.
    let mut text = String::from("permessage-deflate");
    if offer.client_no_context_takeover {
        text.push_str("; client_no_context_takeover");
    }
    match offer.client_max_window_bits {
        Some(Some(bits)) => text.push_str(&format!("; client_max_window_bits={bits}")),
        Some(None) => text.push_str("; client_max_window_bits"),
        None => {}
    }
    if offer.server_no_context_takeover {
        text.push_str("; server_no_context_takeover");
    }
    if let Some(bits) = offer.server_max_window_bits {
        text.push_str(&format!("; server_max_window_bits={bits}"));
    }
    text
}

/// Compresses our messages and inflates the server's, one whole message
/// at a time.
pub struct Codec {
    compress: Compress,
    reset_ours: bool,
    decompress: Decompress,
    reset_theirs: bool,
    limit: usize,
}

impl Codec {
    pub fn new(params: &Deflate, limit: usize) -> Codec {
        // zlib cannot make a window of 8 bits; 9 is within what was agreed.
        let ours = params.client_max_window_bits.max(9);
        let theirs = params.server_max_window_bits.max(9);
        Codec {
            // Only the echo's integrity matters here, not the ratio: the
            // fast level keeps our side from being what a run waits on.
            compress: Compress::new_with_window_bits(Compression::fast(), false, ours),
            reset_ours: params.client_no_context_takeover,
            decompress: Decompress::new_with_window_bits(false, theirs),
            reset_theirs: params.server_no_context_takeover,
            limit,
        }
    }

    pub fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let mut input = payload;
        loop {
            out.reserve(1024);
            let before = self.compress.total_in();
            let _ = self
                .compress
                .compress_vec(input, &mut out, FlushCompress::Sync);
            input = &input[(self.compress.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.is_empty() {
            // Nothing was left to flush: an empty stored block's first
            // byte (RFC 7692 §7.2.3.6), which the tail completes.
            out.push(0x00);
        }
        if self.reset_ours {
            self.compress.reset();
        }
        out
    }

    /// The message inflated; an error says what was wrong with it.
    pub fn inflate(&mut self, payload: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(payload.len().saturating_mul(2).min(self.limit) + 64);
        for input in [payload, &TAIL[..]] {
            let mut input = input;
            loop {
                if out.len() == out.capacity() {
                    if out.len() >= self.limit {
                        return Err(format!("inflates to over {} MiB", self.limit >> 20));
                    }
                    out.reserve(out.len().max(4096).min(self.limit - out.len() + 1));
                }
                let before = self.decompress.total_in();
                let status = self
                    .decompress
                    .decompress_vec(input, &mut out, FlushDecompress::Sync)
                    .map_err(|e| format!("does not inflate: {e}"))?;
                input = &input[(self.decompress.total_in() - before) as usize..];
                if status == Status::StreamEnd || (input.is_empty() && out.len() < out.capacity()) {
                    break;
                }
            }
        }
        if self.reset_theirs {
            self.decompress.reset(false);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(no_takeover: bool, bits: u8) -> Deflate {
        Deflate {
            server_no_context_takeover: no_takeover,
            client_no_context_takeover: no_takeover,
            server_max_window_bits: bits,
            client_max_window_bits: bits,
        }
    }

    #[test]
    fn what_one_side_compresses_the_other_inflates() {
        for (takeover, bits) in [(false, 15), (true, 9), (false, 8)] {
            let mut ours = Codec::new(&params(takeover, bits), 1 << 20);
            let mut theirs = Codec::new(&params(takeover, bits), 1 << 20);
            for text in ["Hello, world", "Hello, world", "", "abc"] {
                let wire = ours.compress(text.as_bytes());
                let back = theirs.inflate(&wire);
                assert_eq!(
                    back.as_deref(),
                    Ok(text.as_bytes()),
                    "{takeover} {bits} {text:?} {wire:02x?}"
                );
            }
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let mut ours = Codec::new(&params(false, 15), 64 << 20);
        let wire = ours.compress(&vec![0u8; 8 << 20]);
        let mut theirs = Codec::new(&params(false, 15), 1 << 20);
        assert!(theirs.inflate(&wire).unwrap_err().contains("over 1 MiB"));
    }

    #[test]
    fn offers_read_as_rfc_7692_writes_them() {
        let offer = DeflateOffer {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: Some(10),
            client_max_window_bits: Some(None),
        };
        assert_eq!(
            offer_text(&offer),
            "permessage-deflate; client_max_window_bits; server_no_context_takeover; server_max_window_bits=10"
        );
    }
}
