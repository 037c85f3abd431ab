//! Any URL argument is a target or a usage error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wscope::net::target::Target;

fuzz_target!(|text: &str| {
    if let Ok(t) = Target::parse(text) {
        assert!(t.resource.starts_with('/'));
        assert!(!t.host.is_empty());
        let _ = t.credentials();
    }
});
