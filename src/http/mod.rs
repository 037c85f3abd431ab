//! HTTP as far as WebSockets need it: reading a head, bounded.

pub mod head;
