#![no_main]
//! Whatever a peer sends on a session with permessage-deflate, in any
//! chunks: the inflating layer hands up frames or refuses with a close
//! code, never panics, and never hands up more than the limit allows.

use libfuzzer_sys::fuzz_target;
use wscope::handshake::extensions::Deflate;
use wscope::wire::deflate::DeflateLayer;
use wscope::wire::Role;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let params = Deflate {
        server_no_context_takeover: data[0] & 1 == 1,
        client_no_context_takeover: data[0] & 2 == 2,
        server_max_window_bits: 8 + (data[0] >> 4) % 8,
        client_max_window_bits: 8 + (data[1] >> 4) % 8,
    };
    let role = if data[1] & 1 == 1 { Role::Server } else { Role::Client };
    let limit = 1 << 16;
    let mut layer = DeflateLayer::new(params, role, limit);
    let step = (data[1] as usize >> 1) % 64 + 1;
    let mut up = Vec::new();
    for chunk in data[2..].chunks(step) {
        if let Err(refused) = layer.incoming(chunk, &mut up) {
            assert!(matches!(refused.close_code, Some(1002 | 1007 | 1009)));
            break;
        }
    }
});
