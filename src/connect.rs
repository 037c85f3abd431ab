//! Getting from a URL to an open byte stream: name resolution, TCP, TLS,
//! each timed, so that a slow step is visible.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection};

use crate::error::{fail, Failure, Stage};
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
    pub addr: SocketAddr,
    pub dns_ms: f64,
    pub tcp_ms: f64,
    pub tls_ms: Option<f64>,
    pub tls: Option<TlsFacts>,
}

pub struct Connected {
    pub transport: Transport,
    pub facts: ConnectFacts,
}

/// Opens TCP (and TLS for wss://) to the target. The socket is left
/// blocking, with `timeout` as its read timeout, for the handshake.
/// `server_name` overrides the name TLS sends (SNI) and verifies.
pub fn connect(
    target: &Target,
    tls_config: Option<Arc<ClientConfig>>,
    server_name: Option<&str>,
    timeout: Duration,
) -> Result<Connected, Failure> {
    let started = Instant::now();
    let addrs = resolve(target)?;
    let dns_ms = ms_since(started);

    let started = Instant::now();
    let (tcp, addr) = connect_any(&addrs, timeout, target)?;
    let tcp_ms = ms_since(started);
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(timeout))
        .and_then(|_| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| fail(Stage::Connect, format!("cannot set up the socket: {e}")))?;

    let (transport, tls_ms, tls) = match tls_config {
        None => (Transport::Plain(tcp), None, None),
        Some(config) => {
            let started = Instant::now();
            let name = tls::server_name(server_name.unwrap_or(&target.host))?;
            let conn = ClientConnection::new(config, name)
                .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?;
            let stream = TlsStream::handshake(conn, tcp)?;
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

/// Tries each address in turn; the error names every address tried.
fn connect_any(
    addrs: &[SocketAddr],
    timeout: Duration,
    target: &Target,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let mut errors = Vec::new();
    for addr in addrs {
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
                "cannot connect to {}:{} at any of its addresses: {}",
                target.host,
                target.port,
                each.join("; ")
            )
        }
    };
    Err(fail(Stage::Connect, detail))
}

pub fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
