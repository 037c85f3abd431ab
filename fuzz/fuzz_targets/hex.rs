//! Hex in any spelling parses or names its error; what parses round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wscope::input::command::parse_hex;

fuzz_target!(|text: &str| {
    if let Ok(bytes) = parse_hex(text) {
        let again: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_hex(&again).unwrap(), bytes);
    }
});
