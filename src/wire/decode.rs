//! A pure, incremental decoder for one direction of a connection.
//!
//! It sees the bytes that crossed the wire, in whatever chunks the socket
//! delivered them, and reports each frame three times: when its header is
//! complete (so that the guard can refuse it before its payload is read),
//! when its header and a bounded, unmasked preview are in (so that it can
//! be shown), and when its last byte has crossed (so that a message is
//! dated by its last frame). It numbers frames and data messages, so that a
//! message and its frames are paired by number, never by counting later.
//! It never rejects anything: every bit pattern decodes to something, and
//! memory stays bounded by the preview size whatever a header announces.

use super::frame::{take_header, Frame, FrameHeader, Kind, Part};
use super::utf8::Utf8Stream;

/// Control frames may carry at most 125 bytes (RFC 6455 §5.5).
const CONTROL_PREVIEW: usize = 125;

/// What the decoder reports, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A header is complete. `offset` is where it began in the bytes just
    /// fed (0 when it began in an earlier chunk); `message_len` is what the
    /// data message it belongs to announces so far, this frame included.
    Header {
        header: FrameHeader,
        offset: usize,
        message_len: u64,
    },
    /// Header and preview are in: the frame can be shown.
    Frame(Frame),
    /// The last byte of a frame that completes something crossed: a
    /// control frame, or the last frame of a data message.
    End(FrameEnd),
    /// With `checking_utf8`: an uncompressed text message is not valid
    /// UTF-8. `offset` is where the bad byte is in the bytes just fed;
    /// `at`, where it is in the message (number `seq`), whose frame
    /// `index` carried it. Reported once per message, as soon as it is
    /// seen.
    BadUtf8 {
        offset: usize,
        seq: u64,
        index: u64,
        at: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEnd {
    /// The frame's `index`.
    pub index: u64,
    /// Set when the frame ended a data message.
    pub message: Option<MessageEnd>,
}

/// A data message whose last frame has crossed the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageEnd {
    pub seq: u64,
    pub kind: Kind,
    pub frames: u64,
    /// Payload bytes on the wire, all frames together.
    pub wire_len: u64,
    /// Its first frame had RSV1 set: compressed (permessage-deflate).
    pub compressed: bool,
}

enum State {
    /// Collecting header bytes.
    Header,
    /// Header known; collecting up to `limit` bytes of preview.
    Preview {
        header: FrameHeader,
        seen: u64,
        limit: usize,
    },
    /// Frame reported; skipping the rest of its payload (`key` and
    /// `offset` unmask it where it must be read, to check its UTF-8).
    Skip {
        remaining: u64,
        key: Option<[u8; 4]>,
        offset: u64,
    },
}

/// The data message whose frames are arriving.
#[derive(Clone, Copy)]
struct OpenMessage {
    seq: u64,
    kind: Kind,
    frames: u64,
    wire_len: u64,
    compressed: bool,
}

pub struct FrameDecoder {
    state: State,
    /// Partial header bytes (at most 14).
    header_buf: Vec<u8>,
    preview: Vec<u8>,
    preview_limit: usize,
    frames: u64,
    messages: u64,
    open: Option<OpenMessage>,
    /// The frame being decoded: its number, message and what it ends.
    current: Current,
    /// Whether text messages are checked as they arrive (the peer's).
    check_utf8: bool,
    /// The open text message's UTF-8 so far, while it is being checked.
    utf8: Option<Utf8Stream>,
    /// The current frame's payload is part of that text.
    frame_is_text: bool,
}

#[derive(Clone, Copy, Default)]
struct Current {
    index: u64,
    continues: Option<Kind>,
    message: Option<(u64, Part)>,
    compressed: bool,
    /// The End to report after its last byte, if it completes something.
    end: Option<FrameEnd>,
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
            frames: 0,
            messages: 0,
            open: None,
            current: Current::default(),
            check_utf8: false,
            utf8: None,
            frame_is_text: false,
        }
    }

    /// Also checks the UTF-8 of uncompressed text messages as their bytes
    /// arrive (`Decoded::BadUtf8`).
    pub fn checking_utf8(mut self) -> Self {
        self.check_utf8 = true;
        self
    }

    /// Checks a piece of the current frame's payload (unmasked), when it
    /// belongs to a text message being checked.
    fn check_text(&mut self, piece: &[u8], offset: usize, emit: &mut impl FnMut(Decoded)) {
        if !self.frame_is_text {
            return;
        }
        let Some(stream) = &mut self.utf8 else {
            return;
        };
        if let Err(bad) = stream.feed(piece) {
            self.report_bad_utf8(offset + bad.in_piece, bad.in_message, emit);
        }
    }

    fn report_bad_utf8(&mut self, offset: usize, at: u64, emit: &mut impl FnMut(Decoded)) {
        self.utf8 = None;
        self.frame_is_text = false;
        emit(Decoded::BadUtf8 {
            offset,
            seq: self.current.message.map_or(0, |(seq, _)| seq),
            index: self.current.index,
            at,
        });
    }

    /// Feeds the next bytes of the stream; `emit` gets every report they
    /// complete, in order.
    pub fn feed(&mut self, chunk: &[u8], emit: &mut impl FnMut(Decoded)) {
        let mut bytes = chunk;
        while !bytes.is_empty() {
            match &mut self.state {
                State::Header => {
                    let offset = if self.header_buf.is_empty() {
                        chunk.len() - bytes.len()
                    } else {
                        0
                    };
                    let (header, used) = take_header(&mut self.header_buf, bytes);
                    bytes = &bytes[used..];
                    let Some(header) = header else {
                        continue;
                    };
                    self.header_buf.clear();
                    self.preview.clear();
                    let message_len = self.start_frame(&header);
                    emit(Decoded::Header {
                        header: header.clone(),
                        offset,
                        message_len,
                    });
                    // Control payloads are small and carry meaning (close
                    // codes), so they are always kept whole.
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
                    self.maybe_emit(emit);
                }
                State::Preview {
                    header,
                    seen,
                    limit,
                } => {
                    let want = (*limit - self.preview.len()) as u64;
                    let left = header.payload_len - *seen;
                    let take = want.min(left).min(bytes.len() as u64) as usize;
                    let start = self.preview.len();
                    self.preview.extend_from_slice(&bytes[..take]);
                    if let Some(key) = header.mask_key {
                        super::frame::unmask(&mut self.preview[start..], key, start);
                    }
                    *seen += take as u64;
                    let offset = chunk.len() - bytes.len();
                    bytes = &bytes[take..];
                    if self.frame_is_text {
                        // The stream is taken out while it reads the
                        // preview it lives beside.
                        if let Some(mut stream) = self.utf8.take() {
                            let checked = stream.feed(&self.preview[start..]);
                            self.utf8 = Some(stream);
                            if let Err(bad) = checked {
                                self.report_bad_utf8(offset + bad.in_piece, bad.in_message, emit);
                            }
                        }
                    }
                    self.maybe_emit(emit);
                }
                State::Skip {
                    remaining,
                    key,
                    offset: payload_at,
                } => {
                    let take = (*remaining).min(bytes.len() as u64);
                    *remaining -= take;
                    let (piece, key, at) = (&bytes[..take as usize], *key, *payload_at);
                    *payload_at += take;
                    let done = *remaining == 0;
                    let offset = chunk.len() - bytes.len();
                    bytes = &bytes[take as usize..];
                    if self.frame_is_text && self.utf8.is_some() {
                        self.check_masked(piece, key, at, offset, emit);
                    }
                    if done {
                        self.state = State::Header;
                        self.end_frame(emit);
                    }
                }
            }
        }
    }

    /// Numbers the frame and follows its data message: a text or binary
    /// frame opens one, the continuation frame with FIN ends it. Returns
    /// the message's announced length so far.
    fn start_frame(&mut self, header: &FrameHeader) -> u64 {
        self.frames += 1;
        let index = self.frames;
        let mut current = Current {
            index,
            ..Current::default()
        };
        let kind = header.kind();
        let open = match kind {
            Kind::Continuation => {
                current.continues = self.open.map(|m| m.kind);
                self.open.as_mut()
            }
            Kind::Text | Kind::Binary => {
                // A compressed message is checked once inflated, above.
                self.utf8 = (self.check_utf8 && kind == Kind::Text && !header.rsv1)
                    .then(Utf8Stream::default);
                self.messages += 1;
                self.open = Some(OpenMessage {
                    seq: self.messages,
                    kind,
                    frames: 0,
                    wire_len: 0,
                    compressed: header.rsv1,
                });
                self.open.as_mut()
            }
            _ => None,
        };
        let mut message_len = 0;
        if let Some(open) = open {
            open.frames += 1;
            open.wire_len = open.wire_len.saturating_add(header.payload_len);
            message_len = open.wire_len;
            let part = match (kind, header.fin) {
                (Kind::Continuation, true) => Part::End,
                (Kind::Continuation, false) => Part::Middle,
                (_, true) => Part::Whole,
                (_, false) => Part::Start,
            };
            current.message = Some((open.seq, part));
            current.compressed = open.compressed;
            if part.ends_message() {
                current.end = Some(FrameEnd {
                    index,
                    message: Some(MessageEnd {
                        seq: open.seq,
                        kind: open.kind,
                        frames: open.frames,
                        wire_len: open.wire_len,
                        compressed: open.compressed,
                    }),
                });
                self.open = None;
            }
        } else if header.is_control() {
            current.end = Some(FrameEnd {
                index,
                message: None,
            });
        }
        self.frame_is_text = self.utf8.is_some()
            && matches!(kind, Kind::Text | Kind::Continuation)
            && current.message.is_some();
        self.current = current;
        message_len
    }

    /// Checks payload bytes still masked, a piece at a time.
    fn check_masked(
        &mut self,
        piece: &[u8],
        key: Option<[u8; 4]>,
        at: u64,
        offset: usize,
        emit: &mut impl FnMut(Decoded),
    ) {
        let Some(key) = key else {
            return self.check_text(piece, offset, emit);
        };
        let mut plain = [0u8; 4096];
        for (i, part) in piece.chunks(plain.len()).enumerate() {
            let done = i * plain.len();
            let plain = &mut plain[..part.len()];
            plain.copy_from_slice(part);
            super::frame::unmask(plain, key, (at as usize + done) % 4);
            self.check_text(plain, offset + done, emit);
            if self.utf8.is_none() {
                return;
            }
        }
    }

    fn end_frame(&mut self, emit: &mut impl FnMut(Decoded)) {
        let ends_text = self.frame_is_text
            && self
                .current
                .end
                .is_some_and(|end| end.message.is_some_and(|m| m.kind == Kind::Text));
        if ends_text {
            if let Some(Err(bad)) = self.utf8.take().map(|mut stream| stream.finish()) {
                self.report_bad_utf8(0, bad.in_message, emit);
            }
        }
        if let Some(end) = self.current.end.take() {
            emit(Decoded::End(end));
        }
    }

    fn frame(&mut self, header: FrameHeader, cut_short: bool) -> Frame {
        Frame {
            header,
            preview: std::mem::take(&mut self.preview),
            cut_short,
            continues: self.current.continues,
            index: self.current.index,
            message: self.current.message,
            compressed: self.current.compressed,
        }
    }

    /// The frame whose preview was still coming in when the stream ended
    /// (or was refused), so that a frame cut short is shown too.
    pub fn take_partial(&mut self) -> Option<Frame> {
        let State::Preview { header, .. } = &self.state else {
            return None;
        };
        let header = header.clone();
        self.state = State::Header;
        Some(self.frame(header, true))
    }

    /// How many frames began so far.
    pub fn frames_seen(&self) -> u64 {
        self.frames
    }

    /// The stream stopped inside a frame (header or payload).
    pub fn mid_frame(&self) -> bool {
        !matches!(self.state, State::Header) || !self.header_buf.is_empty()
    }

    /// Reports the frame in `Preview` once its preview is complete, and its
    /// end if its payload is complete too.
    fn maybe_emit(&mut self, emit: &mut impl FnMut(Decoded)) {
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
        let offset = *seen;
        let header = header.clone();
        self.state = if remaining == 0 {
            State::Header
        } else {
            State::Skip {
                remaining,
                key: header.mask_key,
                offset,
            }
        };
        let frame = self.frame(header, false);
        emit(Decoded::Frame(frame));
        if remaining == 0 {
            self.end_frame(emit);
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame::LenEncoding;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn decode_all(bytes: &[u8], limit: usize) -> Vec<Decoded> {
        let mut out = Vec::new();
        FrameDecoder::new(limit).feed(bytes, &mut |d| out.push(d));
        out
    }

    fn frames(decoded: Vec<Decoded>) -> Vec<Frame> {
        decoded
            .into_iter()
            .filter_map(|d| match d {
                Decoded::Frame(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn decode_whole(bytes: &[u8], limit: usize) -> Vec<Frame> {
        frames(decode_all(bytes, limit))
    }

    fn decode_bytewise_all(bytes: &[u8], limit: usize) -> Vec<Decoded> {
        let mut out = Vec::new();
        let mut d = FrameDecoder::new(limit);
        for b in bytes {
            d.feed(std::slice::from_ref(b), &mut |x| out.push(x));
        }
        out
    }

    fn decode_bytewise(bytes: &[u8], limit: usize) -> Vec<Frame> {
        frames(decode_bytewise_all(bytes, limit))
    }

    fn push_frames(d: &mut FrameDecoder, bytes: &[u8], frames: &mut Vec<Frame>) {
        d.feed(bytes, &mut |x| {
            if let Decoded::Frame(f) = x {
                frames.push(f)
            }
        });
    }

    /// Builds a frame as a peer would, to check lengths at the boundaries
    /// (the encoder is anchored by the RFC's own examples below).
    fn build(opcode: u8, fin: bool, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        crate::wire::raw::encode_frame([fin, false, false, false], opcode, key, payload)
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
        push_frames(&mut d, &hex("82 7e 00"), &mut frames);
        assert!(frames.is_empty());
        assert!(d.mid_frame());
        push_frames(&mut d, &hex("7e 01"), &mut frames);
        assert!(frames.is_empty(), "preview not complete yet");
        push_frames(&mut d, &[0u8; 15], &mut frames);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].header.payload_len, 126);
        assert!(d.mid_frame(), "preview out, payload still coming");
        assert!(d.take_partial().is_none(), "already reported");
        push_frames(&mut d, &[0u8; 110], &mut frames);
        assert!(!d.mid_frame());
    }

    #[test]
    fn a_frame_cut_short_can_still_be_taken() {
        let mut d = FrameDecoder::new(16);
        let mut frames = Vec::new();
        push_frames(&mut d, &hex("82 7e 00 10 01 02"), &mut frames);
        assert!(frames.is_empty(), "not complete");
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

    #[test]
    fn frames_and_messages_are_numbered_and_paired() {
        // text "a" whole; binary in two with a ping between; close.
        let bytes = hex("81 01 61 02 01 01 89 00 80 01 02 88 02 03 e8");
        let decoded = decode_all(&bytes, 8);
        let parts: Vec<_> = frames(decoded.clone())
            .iter()
            .map(|f| (f.index, f.message))
            .collect();
        assert_eq!(
            parts,
            [
                (1, Some((1, Part::Whole))),
                (2, Some((2, Part::Start))),
                (3, None),
                (4, Some((2, Part::End))),
                (5, None),
            ]
        );
        let ends: Vec<FrameEnd> = decoded
            .iter()
            .filter_map(|d| match d {
                Decoded::End(e) => Some(*e),
                _ => None,
            })
            .collect();
        let message = |seq, kind, frames, wire_len| MessageEnd {
            seq,
            kind,
            frames,
            wire_len,
            compressed: false,
        };
        assert_eq!(
            ends,
            [
                FrameEnd {
                    index: 1,
                    message: Some(message(1, Kind::Text, 1, 1))
                },
                FrameEnd {
                    index: 3,
                    message: None
                },
                FrameEnd {
                    index: 4,
                    message: Some(message(2, Kind::Binary, 2, 2))
                },
                FrameEnd {
                    index: 5,
                    message: None
                },
            ]
        );
        // Byte by byte, every header begins in its own chunk.
        let offsets_zeroed: Vec<Decoded> = decoded
            .into_iter()
            .map(|d| match d {
                Decoded::Header {
                    header,
                    message_len,
                    ..
                } => Decoded::Header {
                    header,
                    offset: 0,
                    message_len,
                },
                other => other,
            })
            .collect();
        assert_eq!(offsets_zeroed, decode_bytewise_all(&bytes, 8));
    }

    #[test]
    fn a_message_ends_when_its_last_byte_crosses_not_its_preview() {
        let mut d = FrameDecoder::new(2);
        let mut out = Vec::new();
        d.feed(&hex("81 04 61 62"), &mut |x| out.push(x));
        assert!(matches!(
            out.as_slice(),
            [Decoded::Header { .. }, Decoded::Frame(_)]
        ));
        d.feed(&hex("63"), &mut |x| out.push(x));
        assert_eq!(out.len(), 2, "one byte still to come");
        d.feed(&hex("64"), &mut |x| out.push(x));
        assert!(matches!(
            out.last(),
            Some(Decoded::End(FrameEnd { index: 1, .. }))
        ));
    }

    #[test]
    fn headers_say_where_they_began_and_what_their_message_announces() {
        let bytes = hex("01 02 61 62 80 7e 01 00");
        let headers: Vec<(usize, u64)> = decode_all(&bytes, 0)
            .into_iter()
            .filter_map(|d| match d {
                Decoded::Header {
                    offset,
                    message_len,
                    ..
                } => Some((offset, message_len)),
                _ => None,
            })
            .collect();
        assert_eq!(headers, [(0, 2), (4, 258)]);
        // A header split across chunks began in an earlier one.
        let mut d = FrameDecoder::new(0);
        let mut offsets = Vec::new();
        let mut on = |x: Decoded| {
            if let Decoded::Header { offset, .. } = x {
                offsets.push(offset)
            }
        };
        d.feed(&hex("82 00 82"), &mut on);
        d.feed(&hex("00"), &mut on);
        assert_eq!(offsets, [0, 0]);
    }
}
