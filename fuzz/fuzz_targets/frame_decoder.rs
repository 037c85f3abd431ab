//! Arbitrary bytes in arbitrary chunks decode to exactly the frames that
//! decoding them in one piece gives.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wscope::frame::{Frame, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let limit = data[0] as usize;
    let step = (data[1] as usize % 17) + 1;
    let stream = &data[2..];
    let mut whole: Vec<Frame> = Vec::new();
    FrameDecoder::new(limit).feed(stream, |f| whole.push(f));
    let mut chunked: Vec<Frame> = Vec::new();
    let mut decoder = FrameDecoder::new(limit);
    for chunk in stream.chunks(step) {
        decoder.feed(chunk, |f| chunked.push(f));
    }
    assert_eq!(whole, chunked);
    for f in &whole {
        assert!(f.preview.len() <= limit.max(125));
        assert!(f.preview.len() as u64 <= f.header.payload_len);
    }
});
