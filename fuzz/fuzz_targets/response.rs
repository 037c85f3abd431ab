//! Whatever a server answers to the upgrade request is read and checked
//! without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use wscope::handshake::client::{read_response, verify, Deadline, Request, Shaping};
use wscope::net::target::Target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(response) = read_response(&mut input, Deadline::after(Duration::from_secs(1)), Duration::ZERO) {
        let target = Target::parse("ws://fuzz.test/").unwrap();
        let negotiated = verify(&Request::build(&target, &Shaping::default()), &response);
        // A random key cannot have been answered: never "matches".
        assert!(!negotiated.accept.is_some_and(|a| a.ok));
        assert!(negotiated.problem.is_some());
    }
});
