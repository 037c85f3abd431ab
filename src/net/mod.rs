//! From a URL to an open byte stream: the target, name resolution and TCP,
//! proxies, and the transport (plain or TLS, over the socket of
//! `crate::socket`) the WebSocket runs on.

pub mod connect;
pub mod listen;
pub mod proxy;
pub mod target;
pub mod tcp;
