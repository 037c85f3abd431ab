//! -H values: accepted ones keep the request valid HTTP.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wscope::handshake::parse_header;

fuzz_target!(|text: &str| {
    if let Ok((name, value)) = parse_header(text) {
        assert!(!name.is_empty());
        assert!(!name.contains([':', ' ', '\r', '\n']));
        assert!(!value.contains(['\r', '\n']));
    }
});
