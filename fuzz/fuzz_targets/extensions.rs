#![no_main]
//! Any Sec-WebSocket-Extensions value, as an offer or as an answer: parsed
//! and judged without a panic; what is accepted is within RFC 7692's
//! ranges.

use libfuzzer_sys::fuzz_target;
use wscope::handshake::extensions::{accept_answer, choose, parse, DEFLATE_OFFER};

fuzz_target!(|text: &str| {
    let parsed = parse(text);
    if let Some((d, answer)) = choose(&parsed) {
        assert!((8..=15).contains(&d.server_max_window_bits));
        assert!((8..=15).contains(&d.client_max_window_bits));
        assert!(answer.starts_with("permessage-deflate"));
    }
    let offer = parse(DEFLATE_OFFER).remove(0);
    for answer in &parsed {
        if let Ok(d) = accept_answer(answer, &offer) {
            assert!((8..=15).contains(&d.server_max_window_bits));
            assert!((8..=15).contains(&d.client_max_window_bits));
        }
    }
});
