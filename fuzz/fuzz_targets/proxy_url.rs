//! Any proxy setting is a proxy or a usage error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wscope::net::proxy::Proxy;

fuzz_target!(|text: &str| {
    if let Ok(p) = Proxy::parse(text, "fuzz") {
        assert!(!p.host.is_empty());
        let _ = p.describe();
    }
});
