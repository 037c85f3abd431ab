//! A pure, incremental decoder for RFC 6455 frames.
//!
//! It sees the bytes that crossed the wire in one direction, in whatever
//! chunks the socket delivered them, and reports every frame header with a
//! bounded, unmasked preview of its payload. It never rejects anything: the
//! point is to show exactly what a broken peer sent, so every bit pattern
//! decodes to something. Memory stays bounded by the preview size whatever
//! length a header announces.

/// How the payload length was encoded in the header (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenEncoding {
    /// 7-bit length in the second byte.
    Short7,
    /// 126 followed by a 16-bit length.
    Ext16,
    /// 127 followed by a 64-bit length.
    Ext64,
}

impl LenEncoding {
    pub fn bits(self) -> u8 {
        match self {
            LenEncoding::Short7 => 7,
            LenEncoding::Ext16 => 16,
            LenEncoding::Ext64 => 64,
        }
    }
}

/// The opcode's meaning, total over all 16 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Reserved,
}

impl Kind {
    pub fn of(opcode: u8) -> Kind {
        match opcode {
            0x0 => Kind::Continuation,
            0x1 => Kind::Text,
            0x2 => Kind::Binary,
            0x8 => Kind::Close,
            0x9 => Kind::Ping,
            0xA => Kind::Pong,
            _ => Kind::Reserved,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Continuation => "continuation",
            Kind::Text => "text",
            Kind::Binary => "binary",
            Kind::Close => "close",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::Reserved => "reserved",
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: u8,
    pub mask_key: Option<[u8; 4]>,
    pub payload_len: u64,
    pub len_encoding: LenEncoding,
    pub header_len: usize,
}

impl FrameHeader {
    pub fn kind(&self) -> Kind {
        Kind::of(self.opcode)
    }

    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    /// Parses a header from the start of `buf`; `None` when `buf` is too
    /// short to hold the whole header. Nothing is consumed.
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        let (&b0, &b1) = (buf.first()?, buf.get(1)?);
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_encoding, mut at) = match b1 & 0x7F {
            126 => {
                let ext = buf.get(2..4)?;
                (
                    u64::from(u16::from_be_bytes([ext[0], ext[1]])),
                    LenEncoding::Ext16,
                    4,
                )
            }
            127 => {
                let ext: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
                (u64::from_be_bytes(ext), LenEncoding::Ext64, 10)
            }
            short => (u64::from(short), LenEncoding::Short7, 2),
        };
        let mask_key = if masked {
            let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
            at += 4;
            Some(key)
        } else {
            None
        };
        Some(FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode: b0 & 0x0F,
            mask_key,
            payload_len,
            len_encoding,
            header_len: at,
        })
    }

    /// The length was not written in its shortest form; legal to parse, but
    /// worth pointing out to someone debugging a peer.
    pub fn non_minimal_length(&self) -> bool {
        match self.len_encoding {
            LenEncoding::Short7 => false,
            LenEncoding::Ext16 => self.payload_len < 126,
            LenEncoding::Ext64 => self.payload_len <= 0xFFFF,
        }
    }
}

/// One frame as seen on the wire: its header and the first bytes of its
/// payload, already unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: FrameHeader,
    pub preview: Vec<u8>,
    /// The stream ended before the whole payload arrived.
    pub cut_short: bool,
    /// For a continuation frame, the kind of the message it continues
    /// (text or binary); `None` when no message was open.
    pub continues: Option<Kind>,
}

impl Frame {
    /// More payload crossed the wire than the preview holds.
    pub fn truncated(&self) -> bool {
        (self.preview.len() as u64) < self.header.payload_len
    }

    /// The close code and reason of a close frame; `None` for other frames
    /// and for a close frame with no body. A one-byte body yields no code.
    pub fn close_code(&self) -> Option<u16> {
        if self.header.kind() != Kind::Close || self.preview.len() < 2 {
            return None;
        }
        Some(u16::from_be_bytes([self.preview[0], self.preview[1]]))
    }

    pub fn close_reason(&self) -> &[u8] {
        match self.close_code() {
            Some(_) => &self.preview[2..],
            None => &[],
        }
    }
}

/// Control frames may carry at most 125 bytes (RFC 6455 §5.5).
const CONTROL_PREVIEW: usize = 125;

enum State {
    /// Collecting header bytes.
    Header,
    /// Header known; collecting up to `limit` bytes of preview.
    Preview {
        header: FrameHeader,
        seen: u64,
        limit: usize,
    },
    /// Frame reported; skipping the rest of its payload.
    Skip { remaining: u64 },
}

/// Incremental decoder for one direction of a connection.
pub struct FrameDecoder {
    state: State,
    /// Partial header bytes (at most 14).
    header_buf: Vec<u8>,
    preview: Vec<u8>,
    preview_limit: usize,
    /// The kind of the fragmented message in progress, so that its
    /// continuation frames show as text or as hex like its first frame.
    open_message: Option<Kind>,
    /// `continues` of the frame being decoded.
    continues: Option<Kind>,
}

impl FrameDecoder {
    /// `preview_limit` caps the preview of data frames; control frames
    /// always keep up to 125 bytes.
    pub fn new(preview_limit: usize) -> Self {
        FrameDecoder {
            state: State::Header,
            header_buf: Vec::with_capacity(14),
            preview: Vec::new(),
            preview_limit,
            open_message: None,
            continues: None,
        }
    }

    /// Follows fragmented messages: a text or binary frame without FIN
    /// opens one, the continuation frame with FIN ends it.
    fn track_message(&mut self, header: &FrameHeader) {
        self.continues = None;
        match header.kind() {
            Kind::Continuation => {
                self.continues = self.open_message;
                if header.fin {
                    self.open_message = None;
                }
            }
            kind @ (Kind::Text | Kind::Binary) => {
                self.open_message = (!header.fin).then_some(kind);
            }
            _ => {}
        }
    }

    /// Feeds the next bytes of the stream; calls `emit` for every frame
    /// whose header and preview are complete. A frame is reported as soon as
    /// its preview is in, before the rest of a long payload arrives.
    pub fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(Frame)) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Header => {
                    // Take only what the header can need, then parse.
                    let want = 14 - self.header_buf.len();
                    let take = want.min(bytes.len());
                    self.header_buf.extend_from_slice(&bytes[..take]);
                    match FrameHeader::parse(&self.header_buf) {
                        None => {
                            bytes = &bytes[take..];
                        }
                        Some(header) => {
                            // Give back what belonged to the payload.
                            let extra = self.header_buf.len() - header.header_len;
                            bytes = &bytes[take - extra..];
                            self.header_buf.clear();
                            self.preview.clear();
                            self.track_message(&header);
                            // Control payloads are small and carry meaning
                            // (close codes), so they are always kept whole.
                            let limit = if header.is_control() {
                                self.preview_limit.max(CONTROL_PREVIEW)
                            } else {
                                self.preview_limit
                            };
                            self.state = State::Preview {
                                header,
                                seen: 0,
                                limit,
                            };
                            self.maybe_emit(&mut emit);
                        }
                    }
                }
                State::Preview {
                    header,
                    seen,
                    limit,
                } => {
                    let want = (*limit - self.preview.len()) as u64;
                    let left = header.payload_len - *seen;
                    let take = want.min(left).min(bytes.len() as u64) as usize;
                    let key = header.mask_key;
                    let start = self.preview.len();
                    self.preview.extend_from_slice(&bytes[..take]);
                    if let Some(key) = key {
                        unmask(&mut self.preview[start..], key, start);
                    }
                    *seen += take as u64;
                    bytes = &bytes[take..];
                    self.maybe_emit(&mut emit);
                }
                State::Skip { remaining } => {
                    let take = (*remaining).min(bytes.len() as u64);
                    *remaining -= take;
                    bytes = &bytes[take as usize..];
                    if *remaining == 0 {
                        self.state = State::Header;
                    }
                }
            }
        }
    }

    /// The frame whose preview was still coming in when the stream ended,
    /// so that a frame cut short is shown too.
    pub fn take_partial(&mut self) -> Option<Frame> {
        let State::Preview { header, .. } = &self.state else {
            return None;
        };
        let frame = Frame {
            header: header.clone(),
            preview: std::mem::take(&mut self.preview),
            cut_short: true,
            continues: self.continues,
        };
        self.state = State::Header;
        Some(frame)
    }

    /// The stream stopped inside a frame (header or payload).
    pub fn mid_frame(&self) -> bool {
        !matches!(self.state, State::Header) || !self.header_buf.is_empty()
    }

    /// Reports the frame in `Preview` once its preview is complete.
    fn maybe_emit(&mut self, emit: &mut impl FnMut(Frame)) {
        let State::Preview {
            header,
            seen,
            limit,
        } = &self.state
        else {
            return;
        };
        let preview_full = self.preview.len() >= *limit;
        if *seen < header.payload_len && !preview_full {
            return;
        }
        let remaining = header.payload_len - *seen;
        let frame = Frame {
            header: header.clone(),
            preview: std::mem::take(&mut self.preview),
            cut_short: false,
            continues: self.continues,
        };
        self.state = if remaining == 0 {
            State::Header
        } else {
            State::Skip { remaining }
        };
        emit(frame);
    }
}

/// XORs `data` with `key`, where `data` starts `offset` bytes into the payload.
pub fn unmask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn decode_whole(bytes: &[u8], limit: usize) -> Vec<Frame> {
        let mut frames = Vec::new();
        FrameDecoder::new(limit).feed(bytes, |f| frames.push(f));
        frames
    }

    fn decode_bytewise(bytes: &[u8], limit: usize) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut d = FrameDecoder::new(limit);
        for b in bytes {
            d.feed(std::slice::from_ref(b), |f| frames.push(f));
        }
        frames
    }

    /// Builds a frame as a peer would, to check lengths at the boundaries
    /// (the encoder is anchored by the RFC's own examples below).
    fn build(opcode: u8, fin: bool, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        crate::command::encode_frame([fin, false, false, false], opcode, key, payload)
    }

    #[test]
    fn unmasked_text_hello() {
        let frames = decode_whole(&hex("81 05 48 65 6c 6c 6f"), 128);
        assert_eq!(frames.len(), 1);
        let h = &frames[0].header;
        assert!(h.fin && !h.rsv1 && !h.rsv2 && !h.rsv3);
        assert_eq!(h.kind(), Kind::Text);
        assert_eq!(h.mask_key, None);
        assert_eq!((h.payload_len, h.header_len), (5, 2));
        assert_eq!(frames[0].preview, b"Hello");
        assert!(!frames[0].truncated());
    }

    #[test]
    fn masked_text_hello_from_rfc() {
        // RFC 6455 §5.7: a masked "Hello".
        let frames = decode_whole(&hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), 128);
        let h = &frames[0].header;
        assert_eq!(h.mask_key, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
        assert_eq!(frames[0].preview, b"Hello");
    }

    #[test]
    fn fragmented_message_from_rfc() {
        let frames = decode_whole(&hex("01 03 48 65 6c 80 02 6c 6f"), 128);
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].header.opcode, frames[0].header.fin), (1, false));
        assert_eq!((frames[1].header.opcode, frames[1].header.fin), (0, true));
        assert_eq!(frames[1].preview, b"lo");
    }

    #[test]
    fn every_opcode_decodes_with_its_kind() {
        let expected = [
            (0x0, Kind::Continuation),
            (0x1, Kind::Text),
            (0x2, Kind::Binary),
            (0x8, Kind::Close),
            (0x9, Kind::Ping),
            (0xA, Kind::Pong),
        ];
        for opcode in 0u8..16 {
            let frames = decode_whole(&[0x80 | opcode, 0x00], 128);
            assert_eq!(frames.len(), 1, "opcode {opcode}");
            assert_eq!(frames[0].header.opcode, opcode);
            let want = expected
                .iter()
                .find(|(op, _)| *op == opcode)
                .map_or(Kind::Reserved, |(_, k)| *k);
            assert_eq!(frames[0].header.kind(), want, "opcode {opcode}");
        }
    }

    #[test]
    fn rsv_bits_are_reported() {
        let h = &decode_whole(&hex("f1 00"), 8)[0].header;
        assert!(h.fin && h.rsv1 && h.rsv2 && h.rsv3);
        let h = &decode_whole(&hex("21 00"), 8)[0].header;
        assert!(!h.fin && !h.rsv1 && h.rsv2 && !h.rsv3);
    }

    #[test]
    fn boundary_lengths_choose_their_encoding() {
        let cases = [
            (0usize, LenEncoding::Short7, 2usize),
            (125, LenEncoding::Short7, 2),
            (126, LenEncoding::Ext16, 4),
            (65535, LenEncoding::Ext16, 4),
            (65536, LenEncoding::Ext64, 10),
        ];
        for (len, enc, header_len) in cases {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for key in [None, Some([1, 2, 3, 4])] {
                let bytes = build(2, true, key, &payload);
                let frames = decode_whole(&bytes, 200);
                assert_eq!(frames.len(), 1, "len {len}");
                let h = &frames[0].header;
                assert_eq!(h.payload_len, len as u64);
                assert_eq!(h.len_encoding, enc);
                let masked_extra = if key.is_some() { 4 } else { 0 };
                assert_eq!(h.header_len, header_len + masked_extra);
                assert_eq!(frames[0].preview, &payload[..len.min(200)]);
                assert_eq!(frames[0].truncated(), len > 200);
            }
        }
    }

    #[test]
    fn bytewise_and_whole_decoding_agree() {
        let mut stream = Vec::new();
        for (i, len) in [0usize, 1, 125, 126, 65535, 65536].iter().enumerate() {
            let payload = vec![b'a' + i as u8; *len];
            let key = (i % 2 == 0).then_some([9, 8, 7, 6]);
            stream.extend(build(1 + (i % 2) as u8, true, key, &payload));
        }
        stream.extend(hex("89 02 68 69 8a 80 01 02 03 04 88 02 03 e8"));
        for limit in [0, 3, 128, 70000] {
            let whole = decode_whole(&stream, limit);
            assert_eq!(whole.len(), 9);
            assert_eq!(whole, decode_bytewise(&stream, limit), "limit {limit}");
        }
    }

    #[test]
    fn close_code_and_reason() {
        let f = &decode_whole(&hex("88 05 03 e8 62 79 65"), 128)[0];
        assert_eq!(f.close_code(), Some(1000));
        assert_eq!(f.close_reason(), b"bye");
        let empty = &decode_whole(&hex("88 00"), 128)[0];
        assert_eq!(empty.close_code(), None);
        let one_byte = &decode_whole(&hex("88 01 03"), 128)[0];
        assert_eq!(one_byte.close_code(), None);
    }

    #[test]
    fn control_frames_keep_their_payload_whatever_the_limit() {
        let f = &decode_whole(&hex("88 05 03 e8 62 79 65 82 02 01 02"), 0);
        assert_eq!(f[0].close_code(), Some(1000));
        assert_eq!(f[0].close_reason(), b"bye");
        assert!(f[1].preview.is_empty() && f[1].truncated());
    }

    #[test]
    fn huge_announced_length_stays_bounded() {
        // 2^63 bytes announced, a few delivered: reported, nothing buffered.
        let frames = decode_whole(&hex("82 7f 80 00 00 00 00 00 00 00 01 02 03"), 2);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].header.payload_len, 1 << 63);
        assert_eq!(frames[0].preview, vec![1, 2]);
        assert!(frames[0].truncated());
    }

    #[test]
    fn partial_header_is_held_until_complete() {
        let mut d = FrameDecoder::new(16);
        let mut frames = Vec::new();
        d.feed(&hex("82 7e 00"), |f| frames.push(f));
        assert!(frames.is_empty());
        assert!(d.mid_frame());
        d.feed(&hex("7e 01"), |f| frames.push(f));
        assert!(frames.is_empty(), "preview not complete yet");
        d.feed(&[0u8; 15], |f| frames.push(f));
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].header.payload_len, 126);
        assert!(d.mid_frame(), "preview out, payload still coming");
        assert!(d.take_partial().is_none(), "already reported");
        d.feed(&[0u8; 110], |f| frames.push(f));
        assert!(!d.mid_frame());
    }

    #[test]
    fn a_frame_cut_short_can_still_be_taken() {
        let mut d = FrameDecoder::new(16);
        d.feed(&hex("82 7e 00 10 01 02"), |_| panic!("not complete"));
        let f = d.take_partial().unwrap();
        assert_eq!(f.header.payload_len, 16);
        assert_eq!(f.preview, vec![1, 2]);
        assert!(f.truncated() && f.cut_short);
        assert!(!d.mid_frame());
    }

    #[test]
    fn continuation_frames_know_the_kind_of_their_message() {
        // binary without FIN, ping between, continuation, continuation+FIN;
        // then a text message in two, then a stray continuation.
        let frames = decode_whole(
            &hex("02 01 01 89 00 00 01 02 80 01 03 01 01 68 80 01 69 80 00"),
            8,
        );
        let continues: Vec<_> = frames.iter().map(|f| f.continues).collect();
        assert_eq!(
            continues,
            [
                None,
                None,
                Some(Kind::Binary),
                Some(Kind::Binary),
                None,
                Some(Kind::Text),
                None
            ]
        );
    }

    #[test]
    fn non_minimal_length_is_flagged() {
        let h = &decode_whole(&hex("81 7e 00 02 68 69"), 8)[0].header;
        assert_eq!(h.payload_len, 2);
        assert!(h.non_minimal_length());
        let h = &decode_whole(&hex("81 02 68 69"), 8)[0].header;
        assert!(!h.non_minimal_length());
    }
}
