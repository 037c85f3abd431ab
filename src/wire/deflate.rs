//! permessage-deflate (RFC 7692) as a layer between the tap and
//! tungstenite. Incoming, it inflates compressed messages into plain
//! frames, so tungstenite sees what it knows; outgoing, it compresses the
//! data frames tungstenite writes. The tap beneath sees the wire as it is
//! (RSV1 set, compressed lengths); the session above sees plain messages.
//!
//! Inflated bytes count against --max-message-size as they come out, so a
//! compression bomb is refused as soon as it crosses the limit, with memory
//! bounded near it. Inflated output is handed up as fragments of at most a
//! piece, so no frame header has to wait for a whole message.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::frame::{take_header, unmask, FrameHeader, Kind};
use super::raw::encode_frame;
use super::utf8::Utf8Stream;
use super::violation::Violation;
use super::Role;
use crate::handshake::extensions::Deflate;

/// From this size on a message is compressed at zlib's default level,
/// below it at the fast one.
const BIG_MESSAGE: usize = 1024;

/// How much inflated payload one handed-up fragment carries at most.
const PIECE: usize = 32 * 1024;
/// The tail every compressed message leaves off (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What the peer's compressed data could not be, as a Close code: 1007
/// (invalid frame payload data) for data that does not inflate.
pub const BAD_DATA_CODE: u16 = 1007;

pub struct DeflateLayer {
    role: Role,
    inflate: Inflate,
    compress: Compressor,
}

impl DeflateLayer {
    pub fn new(params: Deflate, role: Role, max_message: u64) -> Self {
        let (theirs, ours) = match role {
            Role::Client => (
                (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
                (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
            ),
            Role::Server => (
                (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
                (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
            ),
        };
        DeflateLayer {
            role,
            inflate: Inflate::new(theirs.0, theirs.1, max_message, role),
            compress: Compressor::new(ours.0, ours.1),
        }
    }

    /// Incoming wire bytes in, plain frame bytes for tungstenite out.
    pub fn incoming(&mut self, wire: &[u8], up: &mut Vec<u8>) -> Result<(), Violation> {
        self.inflate.feed(wire, up)
    }

    /// Outgoing frame bytes from tungstenite in, wire bytes out.
    pub fn outgoing(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        self.compress.feed(plain, wire, self.role)
    }

    /// A hand-made frame's payload, compressed with the session's
    /// compressor (its context taken over as for any message).
    pub fn compress_payload(&mut self, payload: &[u8], fin: bool) -> Vec<u8> {
        self.compress.compress(payload, fin)
    }
}

/// The inflating side.
struct Inflate {
    decompress: Decompress,
    /// A fresh window for each message (the peer's no_context_takeover).
    reset_each_message: bool,
    max_message: u64,
    /// Frames handed up must be masked when we are the server.
    mask_up: bool,
    header: Vec<u8>,
    state: InState,
    message: Option<InMessage>,
    /// Data messages so far.
    messages: u64,
    /// Inflated bytes not yet handed up.
    piece: Vec<u8>,
    scratch: Vec<u8>,
}

enum InState {
    Header,
    /// Bytes that pass as they are.
    Pass {
        remaining: u64,
    },
    /// Compressed payload: unmasked here, then inflated.
    Compressed {
        remaining: u64,
        key: Option<[u8; 4]>,
        offset: usize,
        fin: bool,
    },
}

struct InMessage {
    compressed: bool,
    opcode: u8,
    /// Whether a fragment of it was handed up already.
    started: bool,
    inflated: u64,
    /// A compressed text message's UTF-8, checked as it inflates.
    utf8: Option<Utf8Stream>,
    /// Its number among the data messages, for the report.
    seq: u64,
}

impl Inflate {
    fn new(bits: u8, reset_each_message: bool, max_message: u64, role: Role) -> Self {
        Inflate {
            // A larger window inflates a smaller one's output; zlib has no
            // raw 8-bit window.
            decompress: Decompress::new_with_window_bits(false, bits.max(9)),
            reset_each_message,
            max_message,
            mask_up: role == Role::Server,
            header: Vec::with_capacity(14),
            state: InState::Header,
            message: None,
            messages: 0,
            piece: Vec::new(),
            scratch: vec![0; PIECE],
        }
    }

    fn feed(&mut self, mut wire: &[u8], up: &mut Vec<u8>) -> Result<(), Violation> {
        while !wire.is_empty() {
            match &mut self.state {
                InState::Header => {
                    let (header, used) = take_header(&mut self.header, wire);
                    wire = &wire[used..];
                    if let Some(header) = header {
                        self.start_frame(&header, up)?;
                    }
                }
                InState::Pass { remaining } => {
                    let take = (*remaining).min(wire.len() as u64) as usize;
                    up.extend_from_slice(&wire[..take]);
                    *remaining -= take as u64;
                    wire = &wire[take..];
                    if *remaining == 0 {
                        self.state = InState::Header;
                    }
                }
                InState::Compressed {
                    remaining,
                    key,
                    offset,
                    fin,
                } => {
                    let take = (*remaining).min(wire.len() as u64).min(PIECE as u64) as usize;
                    let mut chunk = wire[..take].to_vec();
                    if let Some(key) = *key {
                        unmask(&mut chunk, key, *offset);
                    }
                    *offset += take;
                    *remaining -= take as u64;
                    wire = &wire[take..];
                    let done = *remaining == 0;
                    let fin = *fin;
                    self.inflate(&chunk, FlushDecompress::None, up)?;
                    if done {
                        self.state = InState::Header;
                        if fin {
                            self.end_message(up)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A header is complete: decide whether its payload passes or inflates.
    fn start_frame(&mut self, header: &FrameHeader, up: &mut Vec<u8>) -> Result<(), Violation> {
        let kind = header.kind();
        let compressed = match kind {
            Kind::Text | Kind::Binary => {
                self.messages += 1;
                self.message = Some(InMessage {
                    compressed: header.rsv1,
                    opcode: header.opcode,
                    started: false,
                    inflated: 0,
                    utf8: (header.rsv1 && kind == Kind::Text).then(Utf8Stream::default),
                    seq: self.messages,
                });
                header.rsv1
            }
            Kind::Continuation => self.message.as_ref().is_some_and(|m| m.compressed),
            _ => false,
        };
        let payload_len = header.payload_len;
        if compressed {
            self.state = InState::Compressed {
                remaining: payload_len,
                key: header.mask_key,
                offset: 0,
                fin: header.fin,
            };
            self.header.clear();
            if payload_len == 0 && header.fin {
                self.state = InState::Header;
                self.end_message(up)?;
            }
            return Ok(());
        }
        if matches!(kind, Kind::Text | Kind::Binary | Kind::Continuation) && header.fin {
            self.message = None;
        }
        up.extend_from_slice(&self.header);
        self.header.clear();
        self.state = if payload_len == 0 {
            InState::Header
        } else {
            InState::Pass {
                remaining: payload_len,
            }
        };
        Ok(())
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        flush: FlushDecompress,
        up: &mut Vec<u8>,
    ) -> Result<(), Violation> {
        loop {
            let (before_in, before_out) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress(input, &mut self.scratch, flush)
                .map_err(|e| {
                    Violation::protocol(
                        format!("a compressed message does not inflate: {e} (RFC 7692 §7.2.2)"),
                        BAD_DATA_CODE,
                    )
                })?;
            let used = (self.decompress.total_in() - before_in) as usize;
            let made = (self.decompress.total_out() - before_out) as usize;
            input = &input[used..];
            if made > 0 {
                let inflated = self.message.as_mut().map_or(0, |m| {
                    m.inflated += made as u64;
                    m.inflated
                });
                if inflated > self.max_message {
                    return Err(Violation::protocol(
                        format!(
                            "a compressed message inflates past the limit of {} bytes (--max-message-size raises it)",
                            self.max_message
                        ),
                        1009,
                    ));
                }
                if let Some(message) = self.message.as_mut() {
                    if let Some(Err(bad)) =
                        message.utf8.as_mut().map(|u| u.feed(&self.scratch[..made]))
                    {
                        return Err(bad_utf8(message.seq, bad.in_message));
                    }
                }
                self.piece.extend_from_slice(&self.scratch[..made]);
                if self.piece.len() >= PIECE {
                    self.hand_up(false, up);
                }
            }
            let stuck = used == 0 && made == 0;
            if stuck
                || matches!(status, Status::StreamEnd)
                || (input.is_empty() && made < self.scratch.len())
            {
                return Ok(());
            }
        }
    }

    fn end_message(&mut self, up: &mut Vec<u8>) -> Result<(), Violation> {
        self.inflate(&TAIL, FlushDecompress::Sync, up)?;
        if let Some(message) = self.message.as_mut() {
            if let Some(Err(bad)) = message.utf8.as_mut().map(Utf8Stream::finish) {
                return Err(bad_utf8(message.seq, bad.in_message));
            }
        }
        self.hand_up(true, up);
        self.message = None;
        if self.reset_each_message {
            self.decompress.reset(false);
        }
        Ok(())
    }

    /// Frames the inflated bytes so far for tungstenite: the first with
    /// the message's opcode, later ones as continuations.
    fn hand_up(&mut self, fin: bool, up: &mut Vec<u8>) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        let opcode = if message.started { 0 } else { message.opcode };
        message.started = true;
        // A zero key masks nothing, as tungstenite requires of a client.
        let key = self.mask_up.then_some([0; 4]);
        up.extend_from_slice(&encode_frame(
            [fin, false, false, false],
            opcode,
            key,
            &self.piece,
        ));
        self.piece.clear();
    }
}

/// A compressed text message whose inflated text is not UTF-8: failed as
/// soon as the bad byte inflates (RFC 6455 §8.1).
fn bad_utf8(seq: u64, at: u64) -> Violation {
    Violation::protocol(
        format!(
            "incoming message {seq} is not valid UTF-8 at byte {at} of its inflated text (RFC 6455 §8.1)"
        ),
        1007,
    )
}

/// The compressing side: data frames from tungstenite, compressed.
struct Compressor {
    /// `None` for an 8-bit window, which zlib cannot produce: then the
    /// data goes in stored blocks, which use no window at all.
    compress: Option<Compress>,
    /// The compressor is at the default level, for big messages.
    big: bool,
    reset_each_message: bool,
    header: Vec<u8>,
    state: OutState,
    payload: Vec<u8>,
    /// The window's worth of what the peer has inflated, newest last
    /// (under context takeover): after a message goes out uncompressed,
    /// the compressor starts again from it, as the peer's inflater does.
    history: Vec<u8>,
    window: usize,
}

enum OutState {
    Header,
    Pass { remaining: u64 },
    Data { header: FrameHeader, remaining: u64 },
}

impl Compressor {
    fn new(bits: u8, reset_each_message: bool) -> Self {
        Compressor {
            compress: (bits > 8)
                .then(|| Compress::new_with_window_bits(Compression::fast(), false, bits)),
            big: false,
            reset_each_message,
            header: Vec::with_capacity(14),
            state: OutState::Header,
            payload: Vec::new(),
            history: Vec::new(),
            window: 1 << bits,
        }
    }

    /// What went out compressed, as the peer's window now holds it. The
    /// buffer grows to two windows before its front is dropped, so each
    /// byte is moved about once.
    fn remember(&mut self, payload: &[u8]) {
        if self.reset_each_message || self.compress.is_none() {
            return;
        }
        let keep = &payload[payload.len().saturating_sub(self.window)..];
        self.history.extend_from_slice(keep);
        if self.history.len() > 2 * self.window {
            let extra = self.history.len() - self.window;
            self.history.drain(..extra);
        }
    }

    /// The last message went out uncompressed: the compressor forgets it
    /// and starts again from the window the peer holds.
    fn forget_last(&mut self) {
        let Some(compress) = &mut self.compress else {
            return;
        };
        compress.reset();
        if !self.reset_each_message && !self.history.is_empty() {
            let window = &self.history[self.history.len().saturating_sub(self.window)..];
            let _ = compress.set_dictionary(window);
        }
    }

    fn feed(&mut self, mut plain: &[u8], wire: &mut Vec<u8>, role: Role) {
        while !plain.is_empty() {
            match &mut self.state {
                OutState::Header => {
                    let (header, used) = take_header(&mut self.header, plain);
                    plain = &plain[used..];
                    let Some(header) = header else {
                        continue;
                    };
                    let data = matches!(
                        header.kind(),
                        Kind::Text | Kind::Binary | Kind::Continuation
                    );
                    if data {
                        self.payload.clear();
                        self.state = OutState::Data {
                            remaining: header.payload_len,
                            header,
                        };
                        self.header.clear();
                        self.finish_if_complete(wire, role);
                    } else {
                        wire.extend_from_slice(&self.header);
                        self.header.clear();
                        self.state = match header.payload_len {
                            0 => OutState::Header,
                            n => OutState::Pass { remaining: n },
                        };
                    }
                }
                OutState::Pass { remaining } => {
                    let take = (*remaining).min(plain.len() as u64) as usize;
                    wire.extend_from_slice(&plain[..take]);
                    *remaining -= take as u64;
                    plain = &plain[take..];
                    if *remaining == 0 {
                        self.state = OutState::Header;
                    }
                }
                OutState::Data { remaining, .. } => {
                    let take = (*remaining).min(plain.len() as u64) as usize;
                    self.payload.extend_from_slice(&plain[..take]);
                    *remaining -= take as u64;
                    plain = &plain[take..];
                    self.finish_if_complete(wire, role);
                }
            }
        }
    }

    /// A whole data frame is in: compressed, it goes out with RSV1 on the
    /// message's first frame, masked with the key tungstenite chose.
    fn finish_if_complete(&mut self, wire: &mut Vec<u8>, _role: Role) {
        let OutState::Data { header, remaining } = &self.state else {
            return;
        };
        if *remaining > 0 {
            return;
        }
        let header = header.clone();
        let mut payload = std::mem::take(&mut self.payload);
        if let Some(key) = header.mask_key {
            unmask(&mut payload, key, 0);
        }
        let compressed = self.compress(&payload, header.fin);
        let first = header.kind() != Kind::Continuation;
        // A message that deflate does not make smaller (random or already
        // compressed data) goes as it is, RSV1 clear (RFC 7692 §6), as
        // the peers do; a message of several frames is committed at its
        // first.
        if first && header.fin && compressed.len() >= payload.len() {
            self.forget_last();
            wire.extend_from_slice(&encode_frame(
                [true, false, false, false],
                header.opcode,
                header.mask_key,
                &payload,
            ));
        } else {
            self.remember(&payload);
            wire.extend_from_slice(&encode_frame(
                [header.fin, first, false, false],
                header.opcode,
                header.mask_key,
                &compressed,
            ));
        }
        self.state = OutState::Header;
    }

    /// Compresses one frame's payload; the message's last frame loses the
    /// 4-byte tail (RFC 7692 §7.2.1).
    fn compress(&mut self, payload: &[u8], fin: bool) -> Vec<u8> {
        let mut out = match &mut self.compress {
            Some(compress) => {
                // zlib's default level (6), as the peers use, for what is
                // worth it: at the fast level text came out twice the size
                // of theirs. Small messages keep the fast level, whose
                // per-message cost is a sixth of it (a level change waits
                // for a message boundary, where the stream is flushed).
                let big = payload.len() >= BIG_MESSAGE;
                if big != self.big {
                    let level = if big {
                        Compression::default()
                    } else {
                        Compression::fast()
                    };
                    if compress.set_level(level).is_ok() {
                        self.big = big;
                    }
                }
                let mut out = Vec::with_capacity(payload.len() + 64);
                let mut input = payload;
                loop {
                    // Room for the sync flush; more only if it ran out.
                    out.reserve(64);
                    let before = compress.total_in();
                    let _ = compress.compress_vec(input, &mut out, FlushCompress::Sync);
                    input = &input[(compress.total_in() - before) as usize..];
                    // Done when the input is in and the flush had room.
                    if input.is_empty() && out.len() < out.capacity() {
                        break;
                    }
                }
                out
            }
            None => stored_blocks(payload),
        };
        if fin {
            if out.ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            if self.reset_each_message {
                if let Some(compress) = &mut self.compress {
                    compress.reset();
                }
            }
        }
        out
    }
}

/// Deflate's stored blocks (RFC 1951 §3.2.4), ending with an empty one as
/// a sync flush does: valid for any window size.
fn stored_blocks(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 65535 * 5 + 5);
    for block in payload.chunks(65535) {
        let len = block.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode::{Decoded, FrameDecoder};

    fn frames(bytes: &[u8]) -> Vec<(u8, bool, bool, Vec<u8>)> {
        let mut out = Vec::new();
        FrameDecoder::new(usize::MAX >> 1).feed(bytes, &mut |d| {
            if let Decoded::Frame(f) = d {
                out.push((f.header.opcode, f.header.fin, f.header.rsv1, f.preview))
            }
        });
        out
    }

    fn pair(params: Deflate) -> (DeflateLayer, DeflateLayer) {
        (
            DeflateLayer::new(params, Role::Client, 1 << 30),
            DeflateLayer::new(params, Role::Server, 1 << 30),
        )
    }

    /// What the client writes, through both layers, to what the server's
    /// tungstenite reads.
    fn round_trip(
        client: &mut DeflateLayer,
        server: &mut DeflateLayer,
        opcode: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let plain = encode_frame(
            [true, false, false, false],
            opcode,
            Some([1, 2, 3, 4]),
            payload,
        );
        let mut wire = Vec::new();
        client.outgoing(&plain, &mut wire);
        let on_wire = frames(&wire);
        let compressed = on_wire[0].2;
        let mut up = Vec::new();
        // Byte by byte, to cross every boundary.
        for b in &wire {
            server.incoming(std::slice::from_ref(b), &mut up).unwrap();
        }
        let got = frames(&up);
        assert!(got.iter().all(|f| !f.2), "no RSV1 handed up");
        assert_eq!(got[0].0, opcode);
        assert!(got.last().unwrap().1, "the message ends");
        let plain: Vec<u8> = got.into_iter().flat_map(|f| f.3).collect();
        let on_wire_len: usize = on_wire.iter().map(|f| f.3.len()).sum();
        assert_eq!(
            compressed,
            on_wire_len < plain.len(),
            "RSV1 exactly when the wire is smaller"
        );
        plain
    }

    #[test]
    fn what_deflate_cannot_shrink_goes_as_it_is_and_the_window_stays_in_step() {
        for params in [
            Deflate::default(),
            Deflate {
                client_no_context_takeover: true,
                ..Deflate::default()
            },
        ] {
            let (mut client, mut server) = pair(params);
            let text = b"the same words again and again, the same words again".repeat(40);
            let mut x = 0x2545_f491_4f6c_dd1d_u64;
            let noise: Vec<u8> = (0..1_000_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            let mut sizes = Vec::new();
            for payload in [&text[..], &noise, &text, &noise[..5000], &text] {
                let plain =
                    encode_frame([true, false, false, false], 2, Some([9, 8, 7, 6]), payload);
                let mut wire = Vec::new();
                client.outgoing(&plain, &mut wire);
                let on_wire = frames(&wire);
                sizes.push((on_wire[0].2, on_wire[0].3.len()));
                let mut up = Vec::new();
                server.incoming(&wire, &mut up).unwrap();
                let got: Vec<u8> = frames(&up).into_iter().flat_map(|f| f.3).collect();
                assert_eq!(got, payload, "{params:?}");
            }
            assert!(!sizes[1].0 && sizes[1].1 == noise.len(), "{sizes:?}");
            assert!(!sizes[3].0, "{sizes:?}");
            // After the noise, text compresses as well as before it.
            assert!(sizes[2].0 && sizes[4].0, "{sizes:?}");
            assert!(sizes[4].1 <= sizes[0].1, "{sizes:?}");
        }
    }

    #[test]
    fn messages_survive_compression_with_and_without_context_takeover() {
        for params in [
            Deflate::default(),
            Deflate {
                client_no_context_takeover: true,
                server_no_context_takeover: true,
                client_max_window_bits: 9,
                server_max_window_bits: 10,
            },
            Deflate {
                client_max_window_bits: 8,
                ..Deflate::default()
            },
        ] {
            let (mut client, mut server) = pair(params);
            let big: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
            let noise: Vec<u8> = (0..70_000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            for (opcode, payload) in [
                (1, &b"hello hello hello"[..]),
                (2, &big),
                (2, &noise),
                (1, b""),
            ] {
                assert_eq!(
                    round_trip(&mut client, &mut server, opcode, payload),
                    payload,
                    "{params:?}"
                );
            }
        }
    }

    #[test]
    fn control_frames_and_plain_messages_pass_as_they_are() {
        let (_, mut server) = pair(Deflate::default());
        let ping = encode_frame([true, false, false, false], 9, Some([1, 1, 1, 1]), b"p");
        let text = encode_frame([true, false, false, false], 1, Some([2, 2, 2, 2]), b"plain");
        let mut up = Vec::new();
        server.incoming(&ping, &mut up).unwrap();
        server.incoming(&text, &mut up).unwrap();
        let mut expected = ping.clone();
        expected.extend_from_slice(&text);
        assert_eq!(up, expected);
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        let mut client = DeflateLayer::new(Deflate::default(), Role::Client, 1 << 30);
        let mut server = DeflateLayer::new(Deflate::default(), Role::Server, 1_000_000);
        let zeros = vec![0u8; 10_000_000];
        let plain = encode_frame([true, false, false, false], 2, Some([0; 4]), &zeros);
        let mut wire = Vec::new();
        client.outgoing(&plain, &mut wire);
        assert!(wire.len() < 200_000, "{} bytes on the wire", wire.len());
        let mut up = Vec::new();
        let refused = server.incoming(&wire, &mut up).unwrap_err();
        assert_eq!(refused.close_code, Some(1009));
        assert!(up.len() < 1_100_000, "bounded near the limit: {}", up.len());
    }

    #[test]
    fn data_that_does_not_inflate_is_refused() {
        let mut server = DeflateLayer::new(Deflate::default(), Role::Server, 1 << 20);
        let bad = encode_frame([true, true, false, false], 1, Some([0; 4]), &[0xff; 16]);
        let refused = server.incoming(&bad, &mut Vec::new()).unwrap_err();
        assert_eq!(refused.close_code, Some(BAD_DATA_CODE));
    }

    #[test]
    fn stored_blocks_inflate() {
        let payload = vec![7u8; 70_000];
        let mut d = Decompress::new_with_window_bits(false, 9);
        let mut input = stored_blocks(&payload);
        input.truncate(input.len() - 4);
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(100_000);
        d.decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, payload);
    }
}
