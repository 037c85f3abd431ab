//! Every case, by category, in the suite's order. One file per category
//! (the suite's chapter), each a list of cases with the suite's ids.

mod close;
mod deflate;
mod extras;
mod fragments;
mod framing;
mod handshake;
mod limits;
mod misc;
mod opcodes;
mod pings;
mod reserved;
mod utf8;

use super::case::Case;

pub use deflate::corpus;

/// The categories, with the suite's names for them.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("1", "Framing"),
    ("2", "Pings/Pongs"),
    ("3", "Reserved Bits"),
    ("4", "Opcodes"),
    ("5", "Fragmentation"),
    ("6", "UTF-8 Handling"),
    ("7", "Close Handling"),
    ("9", "Limits/Performance"),
    ("10", "Misc"),
    ("12", "WebSocket Compression (different payloads)"),
    ("13", "WebSocket Compression (different parameters)"),
    ("14", "Opening Handshake (wscope)"),
    ("15", "Beyond the suite (wscope)"),
];

/// Every case, in the order the suite runs them.
pub fn all() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(framing::cases());
    all.extend(pings::cases());
    all.extend(reserved::cases());
    all.extend(opcodes::cases());
    all.extend(fragments::cases());
    all.extend(utf8::cases());
    all.extend(close::cases());
    all.extend(limits::cases());
    all.extend(misc::cases());
    all.extend(deflate::cases());
    all.extend(handshake::cases());
    all.extend(extras::cases());
    all
}
