//! Getting from a URL to an open byte stream: name resolution, TCP (or a
//! proxy's tunnel), TLS, each timed, so that a slow step is visible.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use super::proxy::{self, Proxy};
use super::target::Target;
use super::tcp::{connect_any, ms_since, resolve, IpVersion};
use crate::error::{fail, Failure, Stage};
use crate::http::head::TimedRead;
use crate::socket::Socket;
use crate::tls::{self, TlsFacts, TlsStream};

/// The byte stream under the WebSocket: plain, or TLS over the socket.
pub enum Transport {
    Plain(Socket),
    Tls(Box<TlsStream>),
}

impl Transport {
    pub fn socket(&self) -> &Socket {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &t.sock,
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.socket().set_nonblocking(on)
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.socket().set_read_timeout(t)
    }
}

impl TimedRead for Transport {
    fn set_read_timeout(&mut self, limit: Option<Duration>) -> io::Result<()> {
        self.socket().set_read_timeout(limit)
    }
}

impl AsRawFd for Transport {
    fn as_raw_fd(&self) -> RawFd {
        self.socket().as_raw_fd()
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

/// What is shown about how the connection was made, from either side.
#[derive(Debug, Clone)]
pub struct ConnectFacts {
    /// The peer's address: the server's (or the proxy's), or with
    /// --listen the client's.
    pub addr: SocketAddr,
    /// Our end of the connection, when the socket says (for --pcap).
    pub local: Option<SocketAddr>,
    /// The proxy the connection went through, described.
    pub via: Option<String>,
    /// The Unix socket's path, when the connection is over one; `addr`
    /// then means nothing.
    pub unix: Option<std::path::PathBuf>,
    /// How long each step took; only a client times them.
    pub timings: Option<Timings>,
    pub tls: Option<TlsFacts>,
}

/// Milliseconds each step of opening took.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    pub dns_ms: f64,
    pub tcp_ms: f64,
    pub tls_ms: Option<f64>,
}

pub struct Connected {
    pub transport: Transport,
    pub facts: ConnectFacts,
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
    let (socket, addr, dns_ms, tcp_ms) = match &target.unix {
        // A socket file needs no name resolution, and no proxy reaches it.
        Some(path) => {
            let started = Instant::now();
            let unix = crate::socket::connect_unix(path, timeout).map_err(|e| {
                fail(
                    Stage::Connect,
                    format!("cannot connect to the Unix socket {}: {e}", path.display()),
                )
            })?;
            let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
            (Socket::Unix(unix), unspecified, 0.0, ms_since(started))
        }
        None => {
            let (tcp, addr, dns_ms, tcp_ms) = tcp_to(target, route)?;
            let _ = tcp.set_nodelay(true);
            (Socket::Tcp(tcp), addr, dns_ms, tcp_ms)
        }
    };
    let local = match &socket {
        Socket::Tcp(tcp) => tcp.local_addr().ok(),
        Socket::Unix(_) => None,
    };
    socket
        .set_read_timeout(Some(timeout))
        .and_then(|_| socket.set_write_timeout(Some(timeout)))
        .map_err(|e| fail(Stage::Connect, format!("cannot set up the socket: {e}")))?;

    let (transport, tls_ms, tls) = match tls {
        None => (Transport::Plain(socket), None, None),
        Some(client) => {
            let started = Instant::now();
            let name = tls::server_name(route.tls_server_name.unwrap_or(&target.host))?;
            let stream = TlsStream::handshake(&client, name, socket)?;
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
            local,
            via: route
                .proxy
                .filter(|_| target.unix.is_none())
                .map(Proxy::describe),
            unix: target.unix.clone(),
            timings: Some(Timings {
                dns_ms,
                tcp_ms,
                tls_ms,
            }),
            tls,
        },
    })
}

/// TCP to the target, directly or through the proxy: the stream, the
/// address reached, and the milliseconds name resolution and TCP took.
fn tcp_to(
    target: &Target,
    route: &Route,
) -> Result<(std::net::TcpStream, SocketAddr, f64, f64), Failure> {
    let timeout = route.timeout;
    Ok(match route.proxy {
        None => {
            let started = Instant::now();
            let addrs = resolve(&target.host, target.port)?;
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
    })
}
