//! The header guard: RFC 6455's rules for a frame header, applied the
//! moment the header is complete, so that a frame that breaks them fails
//! the connection before its payload is read or buffered. A ping that
//! announces a gigabyte costs nothing but its header.

use super::frame::{FrameHeader, Kind};
use super::violation::Violation;

/// What the incoming side may send and how much of it we take.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    /// We are the server: the peer's frames must be masked.
    pub serving: bool,
    /// A negotiated extension gives RSV1 a meaning (permessage-deflate).
    pub rsv1_allowed: bool,
    /// `--max-frame-size`: one frame's payload.
    pub max_frame: u64,
    /// `--max-message-size`: a data message, all its frames together.
    pub max_message: u64,
}

impl Guard {
    fn peer(&self) -> &'static str {
        if self.serving {
            "client"
        } else {
            "server"
        }
    }

    /// Checks a complete header; `message_len` is what its data message
    /// announces so far, this frame included.
    pub fn check(&self, header: &FrameHeader, message_len: u64) -> Result<(), Violation> {
        let peer = self.peer();
        let protocol = |rule: String| Err(Violation::protocol(rule, 1002));
        let too_big = |rule: String| Err(Violation::protocol(rule, 1009));
        let kind = header.kind();
        if kind == Kind::Reserved {
            let class = if header.is_control() {
                "control"
            } else {
                "data"
            };
            return protocol(format!(
                "the {peer} sent reserved {class} opcode 0x{:x} (RFC 6455 §5.2)",
                header.opcode
            ));
        }
        if header.rsv1 && self.rsv1_allowed && (header.is_control() || kind == Kind::Continuation) {
            return protocol(format!(
                "the {peer} set RSV1 on a {} frame; permessage-deflate marks only a message's first frame (RFC 7692 §6.1)",
                kind.name()
            ));
        }
        if header.rsv2 || header.rsv3 || (header.rsv1 && !self.rsv1_allowed) {
            let bits = [
                (header.rsv1, "RSV1"),
                (header.rsv2, "RSV2"),
                (header.rsv3, "RSV3"),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(", ");
            return protocol(format!(
                "the {peer} set {bits} on a {} frame, which no negotiated extension explains (RFC 6455 §5.2)",
                kind.name()
            ));
        }
        match (self.serving, header.mask_key.is_some()) {
            (false, true) => return protocol(
                "the server sent a masked frame; server frames must not be masked (RFC 6455 §5.1)"
                    .into(),
            ),
            (true, false) => return protocol(
                "the client sent an unmasked frame; client frames must be masked (RFC 6455 §5.1)"
                    .into(),
            ),
            _ => {}
        }
        if header.payload_len >> 63 != 0 {
            return protocol(format!(
                "the {peer} sent a frame whose 64-bit length has its most significant bit set ({} bytes) (RFC 6455 §5.2)",
                header.payload_len
            ));
        }
        if header.is_control() {
            if !header.fin {
                return protocol(format!(
                    "the {peer} sent a fragmented {} frame; control frames must have FIN set (RFC 6455 §5.5)",
                    kind.name()
                ));
            }
            if header.payload_len > 125 {
                return protocol(format!(
                    "the {peer} sent a {} frame announcing {} bytes; control frames carry at most 125 (RFC 6455 §5.5)",
                    kind.name(),
                    header.payload_len
                ));
            }
            return Ok(());
        }
        if header.payload_len > self.max_frame {
            return too_big(format!(
                "the {peer} sent a {} frame announcing {} bytes, over the limit of {} (--max-frame-size)",
                kind.name(),
                header.payload_len,
                self.max_frame
            ));
        }
        if message_len > self.max_message {
            return too_big(format!(
                "the {peer}'s message would reach {message_len} bytes with this frame, over the limit of {} (--max-message-size)",
                self.max_message
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> FrameHeader {
        FrameHeader::parse(bytes).unwrap()
    }

    const CLIENT: Guard = Guard {
        serving: false,
        rsv1_allowed: false,
        max_frame: 1000,
        max_message: 1500,
    };

    fn code(guard: &Guard, bytes: &[u8], message_len: u64) -> Option<u16> {
        guard
            .check(&header(bytes), message_len)
            .err()
            .and_then(|v| v.close_code)
    }

    #[test]
    fn good_headers_pass() {
        assert_eq!(code(&CLIENT, &[0x81, 0x05], 5), None);
        assert_eq!(code(&CLIENT, &[0x89, 0x7d], 0), None);
        assert_eq!(code(&CLIENT, &[0x88, 0x00], 0), None);
        let server = Guard {
            serving: true,
            ..CLIENT
        };
        assert_eq!(code(&server, &[0x82, 0x80, 1, 2, 3, 4], 0), None);
    }

    #[test]
    fn control_frames_are_small_and_whole() {
        // A ping announcing 10^9 bytes, as a 64-bit length.
        let big_ping = [0x89, 0x7f, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00];
        assert_eq!(code(&CLIENT, &big_ping, 0), Some(1002));
        assert_eq!(code(&CLIENT, &[0x89, 0x7e, 0x00, 0x7e], 0), Some(1002));
        assert_eq!(code(&CLIENT, &[0x09, 0x00], 0), Some(1002));
    }

    #[test]
    fn reserved_bits_opcodes_and_masking_break_the_rules() {
        assert_eq!(code(&CLIENT, &[0xC1, 0x00], 0), Some(1002), "RSV1");
        assert_eq!(code(&CLIENT, &[0xA1, 0x00], 0), Some(1002), "RSV2");
        assert_eq!(code(&CLIENT, &[0x83, 0x00], 0), Some(1002), "opcode 3");
        assert_eq!(code(&CLIENT, &[0x8B, 0x00], 0), Some(1002), "opcode B");
        assert_eq!(code(&CLIENT, &[0x81, 0x80, 1, 2, 3, 4], 0), Some(1002));
        let server = Guard {
            serving: true,
            ..CLIENT
        };
        assert_eq!(code(&server, &[0x81, 0x00], 0), Some(1002));
        let deflate = Guard {
            rsv1_allowed: true,
            ..CLIENT
        };
        assert_eq!(code(&deflate, &[0xC1, 0x00], 0), None);
        assert_eq!(code(&deflate, &[0xC0, 0x00], 0), Some(1002), "continuation");
        assert_eq!(code(&deflate, &[0xC9, 0x00], 0), Some(1002), "ping");
    }

    #[test]
    fn lengths_are_judged_before_the_payload() {
        let top_bit = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(code(&CLIENT, &top_bit, u64::MAX), Some(1002));
        assert_eq!(code(&CLIENT, &[0x82, 0x7e, 0x03, 0xe9], 1001), Some(1009));
        assert_eq!(code(&CLIENT, &[0x80, 0x7e, 0x03, 0x20], 1600), Some(1009));
        assert_eq!(code(&CLIENT, &[0x80, 0x7e, 0x03, 0x20], 1500), None);
    }
}
