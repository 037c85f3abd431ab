//! Whatever a server answers to the upgrade request is read and checked
//! without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use wscope::handshake::{read_response, verify, Request, Shaping};
use wscope::target::Target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(response) = read_response(&mut input, Duration::ZERO) {
        let target = Target::parse("ws://fuzz.test/").unwrap();
        let verdict = verify(&Request::build(&target, &Shaping::default()), &response);
        // A random key cannot have been answered: never "matches".
        assert!(!verdict.accept_ok);
        assert!(verdict.problem.is_some());
    }
});
