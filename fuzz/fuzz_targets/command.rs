//! Any line typed at the prompt parses or is refused, never panics; a
//! hand-made frame encodes to bytes that decode back to what was asked
//! (unless it was asked to lie about its length).
#![no_main]
use libfuzzer_sys::fuzz_target;
use wscope::input::command::{parse, Command};
use wscope::wire::raw::Length;
use wscope::wire::decode::{Decoded, FrameDecoder};

fuzz_target!(|line: &str| {
    if let Ok(Command::Frame(frame)) = parse(line) {
        // A header that claims another length is meant not to decode back.
        if matches!(frame.length, Length::Announce(_)) {
            return;
        }
        let bytes = frame.encode([1, 2, 3, 4], true);
        let mut decoded = Vec::new();
        FrameDecoder::new(usize::MAX >> 1).feed(&bytes, &mut |d| {
            if let Decoded::Frame(f) = d {
                decoded.push(f)
            }
        });
        assert_eq!(decoded.len(), 1);
        let h = &decoded[0].header;
        assert_eq!(
            (h.fin, h.rsv1, h.rsv2, h.rsv3, h.opcode),
            (frame.fin, frame.rsv1, frame.rsv2, frame.rsv3, frame.opcode)
        );
        assert_eq!(decoded[0].preview, frame.payload);
    }
});
