//! TLS for --listen: the server configuration (a certificate from files or
//! one made at start), an optional demand for a client certificate, and
//! the handshake with a client under a deadline.

use crate::socket::Socket;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

use super::{load_identity, TlsStream, Watched};
use crate::error::{fail, Failure, Stage};

/// How long a client may take over its TLS handshake, as long as the HTTP
/// head read allows.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server's certificate comes from.
pub enum Identity<'a> {
    Files {
        cert: &'a Path,
        key: &'a Path,
    },
    /// Made at start for these names (DNS names or IP addresses).
    SelfSigned(&'a [String]),
}

/// A ready server configuration, and what to tell the user about the
/// certificate when wscope made it.
pub struct Server {
    config: Arc<ServerConfig>,
    pub made: Option<MadeCertificate>,
}

/// A certificate made at start.
pub struct MadeCertificate {
    pub names: Vec<String>,
    /// SHA-256 of the certificate, as colon-separated hex (what browsers
    /// and `openssl x509 -fingerprint -sha256` show).
    pub fingerprint: String,
    /// Base64 SHA-256 of the public key (SPKI): what Chromium's
    /// --ignore-certificate-errors-spki-list and HPKP-style pins take.
    pub spki_sha256: String,
    /// Where its PEM copy was written, for clients to trust; removed when
    /// wscope ends.
    pub pem_path: PathBuf,
}

/// The certificate is new each run, so its copy is of no use afterwards.
impl Drop for MadeCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pem_path);
    }
}

/// The names a made certificate covers when none are given.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

pub fn server_config(identity: Identity, client_ca: Option<&Path>) -> Result<Server, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(file) => {
            let mut roots = RootCertStore::empty();
            super::add_ca_file(&mut roots, file).map_err(|f| renamed(f, "--ca", "--client-ca"))?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| fail(Stage::Usage, format!("--client-ca cannot be used: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let (chain, key, made) = match identity {
        Identity::Files { cert, key } => {
            let (chain, key) = load_identity(cert, key)?;
            (chain, key, None)
        }
        Identity::SelfSigned(names) => make_certificate(names)?,
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        let why = match e {
            rustls::Error::InconsistentKeys(_) => {
                "the --key does not belong to the --cert (their public keys differ)".to_string()
            }
            other => format!("--cert/--key cannot be used: {other}"),
        };
        fail(Stage::Usage, why)
    })?;
    // Lets Wireshark decrypt a session when the user sets SSLKEYLOGFILE.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(Server {
        config: Arc::new(config),
        made,
    })
}

/// A failure about one option, named as another.
fn renamed(failure: Failure, from: &str, to: &str) -> Failure {
    fail(failure.stage, failure.message.replace(from, to))
}

type Made = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    Option<MadeCertificate>,
);

fn make_certificate(names: &[String]) -> Result<Made, Failure> {
    let names: Vec<String> = if names.is_empty() {
        DEFAULT_NAMES.iter().map(|n| n.to_string()).collect()
    } else {
        names.to_vec()
    };
    let cannot = |e: rcgen::Error| {
        fail(
            Stage::Usage,
            format!(
                "--self-signed: cannot make a certificate for {}: {e}",
                names.join(", ")
            ),
        )
    };
    let mut params = rcgen::CertificateParams::new(names.clone()).map_err(cannot)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "wscope self-signed");
    let signing_key = rcgen::KeyPair::generate().map_err(cannot)?;
    let cert = params.self_signed(&signing_key).map_err(cannot)?;
    let made = rcgen::CertifiedKey { cert, signing_key };
    let der = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let pem_path = write_pem_copy(&made.cert.pem())?;
    let (fingerprint, spki_sha256) = fingerprints(&der).map_err(|e| {
        fail(
            Stage::Tls,
            format!("the made certificate is unreadable: {e}"),
        )
    })?;
    Ok((
        vec![der],
        key,
        Some(MadeCertificate {
            names,
            fingerprint,
            spki_sha256,
            pem_path,
        }),
    ))
}

/// A certificate's SHA-256 as colon-separated hex (what browsers and
/// `openssl x509 -fingerprint -sha256` show), and the base64 SHA-256 of
/// its public key (what Chromium's --ignore-certificate-errors-spki-list
/// takes).
pub fn fingerprints(der: &CertificateDer) -> Result<(String, String), String> {
    use base64::Engine;
    let fingerprint = ring::digest::digest(&ring::digest::SHA256, der.as_ref())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw);
    Ok((
        fingerprint,
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref()),
    ))
}

/// Writes the made certificate (never its key) where clients can read it:
/// a file of its own in the temporary directory, named after this process.
fn write_pem_copy(pem: &str) -> Result<PathBuf, Failure> {
    // A name nobody can guess ahead, and create_new: a file already there
    // (one left by a killed run, or a link someone planted) is never
    // written through; the next name is tried.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let mut last_error = None;
    for attempt in 0..16u32 {
        let name = format!(
            "wscope-{}-{nanos:08x}{attempt:x}-cert.pem",
            std::process::id()
        );
        let path = std::env::temp_dir().join(name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        match file.and_then(|mut f| std::io::Write::write_all(&mut f, pem.as_bytes())) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                return Err(fail(
                    Stage::Connect,
                    format!("--self-signed: cannot write {}: {e}", path.display()),
                ))
            }
        }
    }
    Err(fail(
        Stage::Connect,
        format!(
            "--self-signed: cannot write a PEM copy in {}: {}",
            std::env::temp_dir().display(),
            last_error.map_or_else(String::new, |e| e.to_string())
        ),
    ))
}

/// Why a client's connection did not become a TLS session.
pub enum NotTls {
    /// It spoke plain HTTP: a ws:// client at a wss:// listener. Holds
    /// the first bytes it sent.
    PlainHttp(Vec<u8>),
    /// The handshake failed or timed out; the reason in words.
    Failed(String),
}

impl Server {
    /// The same TLS settings, for another thread (the certificate made at
    /// start stays with the original).
    pub fn shared(&self) -> Server {
        Server {
            config: Arc::clone(&self.config),
            made: None,
        }
    }

    /// Runs the server side of the TLS handshake with a client that just
    /// connected, within `HANDSHAKE_TIMEOUT` or by `max_time` (--max-time)
    /// if that comes first.
    pub fn accept(
        &self,
        mut sock: Socket,
        max_time: Option<Instant>,
    ) -> Result<TlsStream, (Socket, NotTls)> {
        let limit = max_time.map_or(HANDSHAKE_TIMEOUT, |end| {
            end.saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), HANDSHAKE_TIMEOUT)
        });
        let deadline = Instant::now() + limit;
        // A TLS connection starts with a handshake record (0x16); anything
        // else is most likely a plain ws:// request.
        let _ = sock.set_read_timeout(Some(limit));
        let mut first = [0u8; 1];
        match sock.peek(&mut first) {
            Ok(1) if first[0] != 0x16 => {
                let mut got = vec![0u8; 256];
                let n = sock.peek(&mut got).unwrap_or(0);
                got.truncate(n);
                return Err((sock, NotTls::PlainHttp(got)));
            }
            Ok(1) => {}
            Ok(_) => {
                return Err((
                    sock,
                    NotTls::Failed("it closed without sending anything".to_string()),
                ))
            }
            Err(e) => return Err((sock, NotTls::Failed(wait_error(&e, limit)))),
        }
        let mut conn = match ServerConnection::new(self.config.clone()) {
            Ok(conn) => conn,
            Err(e) => return Err((sock, NotTls::Failed(format!("TLS setup failed: {e}")))),
        };
        let mut watched = Watched {
            sock: &mut sock,
            first: Vec::new(),
            deadline: Some(deadline),
        };
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut watched) {
                // Tell the client why, when rustls has an alert for it.
                let _ = conn.write_tls(watched.sock);
                let why = if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) {
                    format!(
                        "its TLS handshake was not done within {:.1}s",
                        limit.as_secs_f64()
                    )
                } else {
                    format!("its TLS handshake failed: {}", handshake_error(&e))
                };
                return Err((sock, NotTls::Failed(why)));
            }
        }
        let _ = sock.set_read_timeout(None);
        Ok(TlsStream {
            conn: conn.into(),
            sock,
        })
    }
}

fn wait_error(e: &std::io::Error, limit: Duration) -> String {
    if matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ) {
        format!("it sent nothing within {:.1}s", limit.as_secs_f64())
    } else {
        format!("reading from it failed: {e}")
    }
}

/// A failed server handshake in words; a missing client certificate is
/// the one worth naming.
fn handshake_error(e: &std::io::Error) -> String {
    let inner = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::NoCertificatesPresented) => {
            "it presented no client certificate, and --client-ca requires one".to_string()
        }
        Some(rustls::Error::InvalidCertificate(why)) => {
            format!("its client certificate was refused: {why:?}")
        }
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}
