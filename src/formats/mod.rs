//! The interchange formats, one file each with its writer and its reader
//! side by side: the tape (`--log`, docs/tape.md), HAR (`--har`) and pcapng
//! (`--pcap`); what a recording holds once read, and how a replay is
//! compared with it.

pub mod compare;
pub mod har;
pub mod pcap;
pub mod recorders;
pub mod recording;
pub mod tape;

pub use recorders::{open, RecordFile, Recordings};
pub use recording::*;

/// The key a recorder keeps a connection's state under: its number, with
/// the top bit set for the server leg of a proxied connection.
pub fn leg_key(conn: u32, leg: Option<crate::wire::Role>) -> u32 {
    match leg {
        Some(crate::wire::Role::Server) => conn | 1 << 31,
        _ => conn,
    }
}
