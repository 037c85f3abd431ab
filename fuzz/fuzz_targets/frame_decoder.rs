//! Arbitrary bytes in arbitrary chunks decode to exactly the frames, and
//! the completions, that decoding them in one piece gives; headers are
//! reported at offsets inside the chunk they began in.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wscope::wire::decode::{Decoded, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let limit = data[0] as usize;
    let step = (data[1] as usize % 17) + 1;
    let stream = &data[2..];
    // Header offsets depend on the chunking; everything else must not.
    let keep = |d: Decoded, len: usize, out: &mut Vec<Decoded>| match d {
        Decoded::Header { offset, .. } => assert!(offset < len),
        other => out.push(other),
    };
    let mut whole = Vec::new();
    FrameDecoder::new(limit).feed(stream, &mut |d| keep(d, stream.len(), &mut whole));
    let mut chunked = Vec::new();
    let mut decoder = FrameDecoder::new(limit);
    for chunk in stream.chunks(step) {
        decoder.feed(chunk, &mut |d| keep(d, chunk.len(), &mut chunked));
    }
    assert_eq!(whole, chunked);
    for d in &whole {
        if let Decoded::Frame(f) = d {
            assert!(f.preview.len() <= limit.max(125));
            assert!(f.preview.len() as u64 <= f.header.payload_len);
        }
    }
});
