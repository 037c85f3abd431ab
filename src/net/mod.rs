//! From a URL to an open byte stream: the target, name resolution and TCP,
//! proxies, the socket (TCP or Unix), and the transport (plain or TLS) the WebSocket runs on.

pub mod connect;
pub mod listen;
pub mod proxy;
pub mod socket;
pub mod target;
pub mod tcp;
