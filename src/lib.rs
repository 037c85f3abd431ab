//! wscope as a library: the pieces the binary is made of. It exists so
//! that the parsers and the frame decoder can be fuzzed and benchmarked
//! from outside; the command-line program is `src/main.rs`.

pub mod cli;
pub mod close_code;
pub mod command;
pub mod connect;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod input;
pub mod listen;
pub mod proxy;
pub mod render;
pub mod repl;
pub mod session;
pub mod tap;
pub mod target;
pub mod tls;
pub mod violation;
