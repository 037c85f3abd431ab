//! TLS through rustls: the client configuration, a stream that behaves on
//! non-blocking sockets, and the facts shown about a session. What went
//! wrong is put in words by `explain`; certificates are checked by
//! `verify`.

mod explain;
pub mod mitm;
pub mod probe;
pub mod serve;
mod verify;

use crate::socket::Socket;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::error::{fail, Failure, Stage};

use explain::tls_failure;
use verify::{AcceptAnyCertificate, NamingVerifier};

/// What the user asked of TLS.
pub struct TlsOptions<'a> {
    pub ca_files: &'a [std::path::PathBuf],
    pub insecure: bool,
    /// A client certificate chain and its key, for mutual TLS.
    pub client_cert: Option<(&'a Path, &'a Path)>,
    /// Refuse TLS 1.2.
    pub tls13_only: bool,
}

/// A client configuration, with what the user asked of it that a failed
/// handshake's explanation depends on.
#[derive(Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
    hints: Hints,
}

#[derive(Clone, Copy, Debug)]
struct Hints {
    tls13_only: bool,
    client_cert: bool,
}

pub fn client_config(opts: &TlsOptions) -> Result<Client, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut ca_certs = Vec::new();
        for file in opts.ca_files {
            ca_certs.extend(add_ca_file(&mut roots, file)?);
        }
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamingVerifier { webpki, ca_certs }))
    };
    let mut config = match opts.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let (chain, key) = load_identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| fail(Stage::Usage, format!("--cert/--key cannot be used: {e}")))?
        }
    };
    // Lets Wireshark decrypt a session when the user sets SSLKEYLOGFILE.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(Client {
        config: Arc::new(config),
        hints: Hints {
            tls13_only: opts.tls13_only,
            client_cert: opts.client_cert.is_some(),
        },
    })
}

/// A certificate chain and its key from PEM files (--cert and --key),
/// for either side.
fn load_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Failure> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| {
            fail(
                Stage::Usage,
                format!("cannot read --cert {}: {}", cert.display(), pem_error(e)),
            )
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            fail(
                Stage::Usage,
                format!("--cert {} is not valid PEM: {e}", cert.display()),
            )
        })?;
    if chain.is_empty() {
        return Err(fail(
            Stage::Usage,
            format!("--cert {} holds no PEM certificate", cert.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::Io(e) => {
                format!("cannot read --key {}: {e}", key.display())
            }
            rustls::pki_types::pem::Error::NoItemsFound => format!(
                "--key {} holds no PEM private key (expected -----BEGIN PRIVATE KEY-----)",
                key.display()
            ),
            other => format!(
                "--key {} holds no usable private key: {other}",
                key.display()
            ),
        };
        fail(Stage::Usage, why)
    })?;
    Ok((chain, key))
}

/// The I/O error inside, without the enum's wrapping.
fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// A --ca file checked when the command line is read, so that a bad one
/// is a usage error even when the URL is ws:// (a redirect may still
/// lead to wss://).
pub fn check_ca_file(file: &Path) -> Result<(), Failure> {
    let mut roots = RootCertStore::empty();
    add_ca_file(&mut roots, file).map(|_| ())
}

/// Adds the certificates of one --ca file to the roots; returns them.
fn add_ca_file(
    roots: &mut RootCertStore,
    file: &Path,
) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let shown = file.display();
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| fail(Stage::Usage, format!("cannot read --ca file {shown}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            fail(
                Stage::Usage,
                format!("--ca file {shown} is not valid PEM: {e}"),
            )
        })?;
    if certs.is_empty() {
        return Err(fail(
            Stage::Usage,
            format!(
                "--ca file {shown} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"
            ),
        ));
    }
    for cert in &certs {
        roots.add(cert.clone()).map_err(|e| {
            fail(
                Stage::Usage,
                format!("--ca file {shown}: unusable certificate: {e}"),
            )
        })?;
    }
    Ok(certs)
}

pub fn server_name(host: &str) -> Result<ServerName<'static>, Failure> {
    ServerName::try_from(host.to_string()).map_err(|e| {
        fail(
            Stage::Usage,
            format!("'{host}' is not a valid TLS server name: {e}"),
        )
    })
}

/// A TLS session over a TCP socket that works whether the socket blocks or
/// not: `WouldBlock` surfaces only when the socket itself has nothing more.
pub struct TlsStream {
    /// Either side: wscope is the TLS client when it connects and the TLS
    /// server with --listen.
    pub conn: rustls::Connection,
    pub sock: Socket,
}

impl TlsStream {
    /// Runs the TLS handshake to completion on a blocking socket.
    pub fn handshake(
        client: &Client,
        name: ServerName<'static>,
        mut sock: Socket,
    ) -> Result<TlsStream, Failure> {
        let mut conn = ClientConnection::new(client.config.clone(), name)
            .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?;
        let mut watched = Watched {
            sock: &mut sock,
            first: Vec::new(),
            deadline: None,
        };
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut watched) {
                return Err(tls_failure(&e, &watched.first, client.hints));
            }
        }
        Ok(TlsStream {
            conn: conn.into(),
            sock,
        })
    }

    /// Reads what plaintext comes until `deadline`, one socket read (at
    /// most 200 ms) at a time, stopping once `enough` holds or 64 KiB came.
    /// Unlike `read`, which waits for a whole record however slowly it
    /// trickles in, this never outlasts the deadline.
    pub fn read_within(&mut self, deadline: Instant, enough: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while !enough(&got) && got.len() < 64 * 1024 {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = self
                .sock
                .set_read_timeout(Some(left.min(Duration::from_millis(200))));
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if self.conn.process_new_packets().is_err() {
                break;
            }
        }
        got
    }

    /// Ends the TLS session cleanly (close_notify), as far as the socket
    /// takes it.
    pub fn close_notify(&mut self) {
        self.conn.send_close_notify();
        let _ = self.write_pending_tls();
    }

    /// Writes out everything rustls holds; `WouldBlock` if the socket is full.
    fn write_pending_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    pub fn facts(&self) -> TlsFacts {
        let version = self
            .conn
            .protocol_version()
            .map(|v| format!("{v:?}").replace("TLSv1_", "TLSv1."))
            .unwrap_or_default();
        let cipher = self
            .conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default();
        let cert = self
            .conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|c| CertificateFacts::parse(c));
        let sni = match &self.conn {
            rustls::Connection::Server(server) => server.server_name().map(str::to_string),
            rustls::Connection::Client(_) => None,
        };
        TlsFacts {
            version,
            cipher,
            cert,
            sni,
        }
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the TCP connection without TLS close_notify",
                    ))
                }
                Err(e) => return Err(e),
            }
            // Answers to key updates and the like must go out too.
            match self.write_pending_tls() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
            if self.conn.read_tls(&mut self.sock)? == 0 {
                // EOF on the socket: let the reader say whether it was clean.
                self.conn.process_new_packets().map_err(tls_io_error)?;
                return match self.conn.reader().read(buf) {
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof
                        ) =>
                    {
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the peer closed the TCP connection without TLS close_notify",
                        ))
                    }
                    other => other,
                };
            }
            self.conn.process_new_packets().map_err(tls_io_error)?;
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Refuse more plaintext while earlier records are still queued, so
        // that a stalled peer pushes back instead of growing our buffers.
        self.write_pending_tls()?;
        let n = self.conn.writer().write(buf)?;
        match self.write_pending_tls() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.write_pending_tls()?;
        self.sock.flush()
    }
}

fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The socket during the handshake, keeping the first bytes the server
/// sent: they tell a server that does not speak TLS from one that does.
struct Watched<'a> {
    sock: &'a mut Socket,
    first: Vec<u8>,
    /// When set, each read waits only until then, so that a client that
    /// stalls its handshake cannot hold a listener forever.
    deadline: Option<std::time::Instant>,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.sock.set_read_timeout(Some(left))?;
        }
        let n = self.sock.read(buf)?;
        let keep = n.min(64 - self.first.len().min(64));
        self.first.extend_from_slice(&buf[..keep]);
        Ok(n)
    }
}

impl Write for Watched<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// What is shown about an established TLS session.
#[derive(Debug, Clone)]
pub struct TlsFacts {
    pub version: String,
    pub cipher: String,
    /// The peer's certificate: the server's, or with --listen the
    /// client's when it presented one.
    pub cert: Option<CertificateFacts>,
    /// With --listen: the name the client asked for (SNI), if any.
    pub sni: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CertificateFacts {
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
}

impl CertificateFacts {
    fn parse(der: &CertificateDer) -> Option<CertificateFacts> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        Some(CertificateFacts {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after: cert
                .validity()
                .not_after
                .to_rfc2822()
                .unwrap_or_else(|_| cert.validity().not_after.to_string()),
        })
    }
}
