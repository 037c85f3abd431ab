//! From a URL to an open byte stream: the target, name resolution and TCP,
//! proxies, and the transport (plain TCP or TLS) the WebSocket runs on.

pub mod connect;
pub mod proxy;
pub mod target;
pub mod tcp;
