#![no_main]
//! Any bytes from a peer, read in any chunk sizes through the tap and its
//! header guard: no panic, nothing passed up after a refusal, and what is
//! passed up is a prefix of what arrived.

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use wscope::wire::guard::Guard;
use wscope::wire::tap::{Keep, Tap};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let guard = Guard {
        serving: data[0] & 1 == 1,
        rsv1_allowed: data[0] & 2 == 2,
        max_frame: 1 << (data[1] % 40),
        max_message: 1 << (data[2] % 40),
    };
    let step = (data[0] as usize >> 2) + 1;
    let wire = &data[3..];
    let keep = Keep {
        preview: 16,
        frames: true,
        chunks: false,
    };
    let mut tap = Tap::new(wire, keep);
    tap.begin_frames(Vec::new(), guard);
    let mut passed = Vec::new();
    let mut buf = vec![0u8; step];
    let mut refused = false;
    loop {
        match tap.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                assert!(!refused, "bytes passed up after a refusal");
                passed.extend_from_slice(&buf[..n]);
            }
            Err(_) => {
                if refused {
                    break;
                }
                refused = true;
            }
        }
    }
    assert!(wire.starts_with(&passed));
});
