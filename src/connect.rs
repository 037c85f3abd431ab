//! Getting from a URL to an open byte stream: name resolution, TCP, TLS,
//! each timed, so that a slow step is visible.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::{fail, Failure, Stage};
use crate::proxy::{self, Proxy};
use crate::target::Target;
use crate::tls::{self, TlsFacts, TlsStream};

/// The byte stream under the WebSocket: plain TCP or TLS over TCP.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Transport {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &t.sock,
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.tcp().set_nonblocking(on)
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(t)
    }
}

impl AsRawFd for Transport {
    fn as_raw_fd(&self) -> RawFd {
        self.tcp().as_raw_fd()
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(t) => t.flush(),
        }
    }
}

/// What is shown about how the connection was made.
#[derive(Debug, Clone)]
pub struct ConnectFacts {
    /// The address connected to: the server's, or the proxy's.
    pub addr: SocketAddr,
    /// The proxy the connection went through, described.
    pub via: Option<String>,
    pub dns_ms: f64,
    pub tcp_ms: f64,
    pub tls_ms: Option<f64>,
    pub tls: Option<TlsFacts>,
}

pub struct Connected {
    pub transport: Transport,
    pub facts: ConnectFacts,
}

/// `-4` / `-6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

/// How to reach the server.
pub struct Route<'a> {
    pub proxy: Option<&'a Proxy>,
    pub ip_version: Option<IpVersion>,
    /// Overrides the name TLS sends (SNI) and verifies.
    pub tls_server_name: Option<&'a str>,
    pub timeout: Duration,
}

/// Opens TCP (through the proxy, if any; then TLS for wss://) to the
/// target. The socket is left blocking, with the timeout as its read
/// timeout, for the handshake.
pub fn connect(
    target: &Target,
    tls: Option<tls::Client>,
    route: &Route,
) -> Result<Connected, Failure> {
    let timeout = route.timeout;
    let (tcp, addr, dns_ms, tcp_ms) = match route.proxy {
        None => {
            let started = Instant::now();
            let addrs = resolve(target)?;
            let dns_ms = ms_since(started);
            let started = Instant::now();
            let (tcp, addr) =
                connect_any(&addrs, route.ip_version, timeout, &target.host, target.port)?;
            (tcp, addr, dns_ms, ms_since(started))
        }
        Some(proxy) => {
            // Name resolution happens inside the tunnel set-up.
            let started = Instant::now();
            let (tcp, addr) = proxy::tunnel(proxy, target, route.ip_version, timeout)?;
            (tcp, addr, 0.0, ms_since(started))
        }
    };
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(timeout))
        .and_then(|_| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| fail(Stage::Connect, format!("cannot set up the socket: {e}")))?;

    let (transport, tls_ms, tls) = match tls {
        None => (Transport::Plain(tcp), None, None),
        Some(client) => {
            let started = Instant::now();
            let name = tls::server_name(route.tls_server_name.unwrap_or(&target.host))?;
            let stream = TlsStream::handshake(&client, name, tcp)?;
            let facts = stream.facts();
            (
                Transport::Tls(Box::new(stream)),
                Some(ms_since(started)),
                Some(facts),
            )
        }
    };
    Ok(Connected {
        transport,
        facts: ConnectFacts {
            addr,
            via: route.proxy.map(Proxy::describe),
            dns_ms,
            tcp_ms,
            tls_ms,
            tls,
        },
    })
}

fn resolve(target: &Target) -> Result<Vec<SocketAddr>, Failure> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| {
            fail(
                Stage::Connect,
                format!("cannot resolve host '{}': {e}", target.host),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(fail(
            Stage::Connect,
            format!("host '{}' has no addresses", target.host),
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
