//! Does this port speak TLS? Asked only after a ws:// handshake got no
//! answer at all: a TLS server drops a plain HTTP request without a word,
//! so the silence alone cannot tell a TLS port from a broken server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rustls::ClientConnection;

use super::{client_config, server_name, TlsOptions};

/// How long the probe may take, connect and answer each.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// Sends a TLS ClientHello to `addr` on a new connection and reports
/// whether the first bytes back are a TLS record (a handshake or an alert).
pub fn speaks_tls(addr: SocketAddr, host: &str) -> bool {
    let hello = || -> Option<Vec<u8>> {
        let client = client_config(&TlsOptions {
            ca_files: &[],
            insecure: true,
            client_cert: None,
            tls13_only: false,
        })
        .ok()?;
        let name = server_name(host)
            .or_else(|_| server_name("localhost"))
            .ok()?;
        let mut conn = ClientConnection::new(client.config, name).ok()?;
        let mut bytes = Vec::new();
        conn.write_tls(&mut bytes).ok()?;
        Some(bytes)
    };
    let Some(hello) = hello() else { return false };
    let Ok(mut sock) = TcpStream::connect_timeout(&addr, PROBE_WAIT) else {
        return false;
    };
    if sock.set_read_timeout(Some(PROBE_WAIT)).is_err() || sock.write_all(&hello).is_err() {
        return false;
    }
    let mut first = [0u8; 2];
    sock.read_exact(&mut first).is_ok() && is_tls_record_start(first)
}

/// A record of type handshake (22) or alert (21), protocol major version 3.
fn is_tls_record_start(first: [u8; 2]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_told_from_http() {
        assert!(is_tls_record_start([0x16, 0x03]));
        assert!(is_tls_record_start([0x15, 0x03]));
        assert!(!is_tls_record_start(*b"HT"));
    }
}
