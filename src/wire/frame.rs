//! The frame codec (RFC 6455 §5.2): headers parsed and built, payloads
//! masked, hand-made frames encoded. Every bit pattern parses to
//! something, so a broken peer's frames can be shown as they were; the
//! rules are applied elsewhere (`guard`).

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

/// Collects a header from a stream that arrives in pieces: takes from
/// `bytes` what a header can need into `buf` (at most 14 bytes in all).
/// Returns the header once it is complete, `buf` then holding exactly its
/// bytes, and how many bytes of `bytes` were used.
pub fn take_header(buf: &mut Vec<u8>, bytes: &[u8]) -> (Option<FrameHeader>, usize) {
    let take = (14 - buf.len()).min(bytes.len());
    buf.extend_from_slice(&bytes[..take]);
    match FrameHeader::parse(buf) {
        None => (None, take),
        Some(header) => {
            // Give back what belonged to the payload.
            let extra = buf.len() - header.header_len;
            buf.truncate(header.header_len);
            (Some(header), take - extra)
        }
    }
}

/// Where a data frame stands in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A text or binary frame with FIN: the whole message.
    Whole,
    /// A text or binary frame without FIN.
    Start,
    /// A continuation frame without FIN.
    Middle,
    /// A continuation frame with FIN.
    End,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Whole => "whole",
            Part::Start => "start",
            Part::Middle => "middle",
            Part::End => "end",
        }
    }

    pub fn ends_message(self) -> bool {
        matches!(self, Part::Whole | Part::End)
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
    /// Which frame this is in its direction, counting from 1.
    pub index: u64,
    /// The data message this frame carries part of: its sequence number in
    /// this direction (from 1) and the frame's place in it. `None` for
    /// control frames, reserved opcodes and a continuation with no message
    /// open. Frames and messages are paired by this number.
    pub message: Option<(u64, Part)>,
    /// Its payload is compressed: RSV1 was set on the first frame of the
    /// data message it carries (permessage-deflate).
    pub compressed: bool,
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

/// XORs `data` with `key`, where `data` starts `offset` bytes into the payload.
pub fn unmask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}
