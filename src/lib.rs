//! wscope as a library: the pieces the binary is made of, in the order
//! data flows through them. It exists so that the parsers, the decoder and
//! the wire stack can be fuzzed, benchmarked and tested from outside; the
//! command-line program is `src/main.rs`.

pub mod app;
pub mod check;
pub mod cli;
pub mod error;
pub mod escape;
pub mod formats;
pub mod handshake;
pub mod http;
pub mod input;
pub mod net;
pub mod observe;
pub mod proxy;
pub mod session;
pub mod socket;
pub mod tls;
pub mod wire;
