//! TCP to a host: name resolution and trying each address in turn.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::{fail, Failure, Stage};

/// `-4` / `-6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            fail(
                Stage::Connect,
                format!("cannot resolve host '{}': {e}", host),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(fail(
            Stage::Connect,
            format!("host '{}' has no addresses", host),
        ));
    }
    Ok(addrs)
}

/// Tries each address of the wanted family in turn; the error names every
/// address tried.
pub fn connect_any(
    addrs: &[SocketAddr],
    ip_version: Option<IpVersion>,
    timeout: Duration,
    host: &str,
    port: u16,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let wanted = |a: &&SocketAddr| match ip_version {
        None => true,
        Some(IpVersion::V4) => a.is_ipv4(),
        Some(IpVersion::V6) => a.is_ipv6(),
    };
    let candidates: Vec<&SocketAddr> = addrs.iter().filter(wanted).collect();
    if candidates.is_empty() {
        let family = if ip_version == Some(IpVersion::V4) {
            "IPv4"
        } else {
            "IPv6"
        };
        let found: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        return Err(fail(
            Stage::Connect,
            format!(
                "'{host}' has no {family} address (it has {})",
                found.join(", ")
            ),
        ));
    }
    let mut errors = Vec::new();
    for addr in candidates {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => return Ok((s, *addr)),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => errors.push((
                addr,
                format!("timed out after {:.1}s", timeout.as_secs_f64()),
            )),
            Err(e) => errors.push((addr, e.to_string())),
        }
    }
    let detail = match errors.as_slice() {
        [(addr, why)] => format!("cannot connect to {addr}: {why}"),
        _ => {
            let each: Vec<String> = errors
                .iter()
                .map(|(a, why)| format!("{a}: {why}"))
                .collect();
            format!(
                "cannot connect to {host}:{port} at any of its addresses: {}",
                each.join("; ")
            )
        }
    };
    Err(fail(Stage::Connect, detail))
}

pub fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
