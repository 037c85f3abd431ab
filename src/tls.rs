//! TLS through rustls: the client configuration, a stream that behaves on
//! non-blocking sockets, the facts shown about a session, and readable
//! certificate errors.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
};

use crate::error::{fail, Failure, Stage};

/// What the user asked of TLS.
pub struct TlsOptions<'a> {
    pub ca_files: &'a [std::path::PathBuf],
    pub insecure: bool,
    /// A client certificate chain and its key, for mutual TLS.
    pub client_cert: Option<(&'a Path, &'a Path)>,
    /// Refuse TLS 1.2.
    pub tls13_only: bool,
}

pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, Failure> {
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
        for file in opts.ca_files {
            add_ca_file(&mut roots, file)?;
        }
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamingVerifier(webpki)))
    };
    let mut config = match opts.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let (chain, key) = load_client_identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| fail(Stage::Usage, format!("--cert/--key cannot be used: {e}")))?
        }
    };
    // Lets Wireshark decrypt a session when the user sets SSLKEYLOGFILE.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(Arc::new(config))
}

fn load_client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Failure> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| {
            fail(
                Stage::Usage,
                format!("cannot read --cert {}: {e}", cert.display()),
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
        fail(
            Stage::Usage,
            format!("--key {} holds no usable private key: {e}", key.display()),
        )
    })?;
    Ok((chain, key))
}

fn add_ca_file(roots: &mut RootCertStore, file: &Path) -> Result<(), Failure> {
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
    for cert in certs {
        roots.add(cert).map_err(|e| {
            fail(
                Stage::Usage,
                format!("--ca file {shown}: unusable certificate: {e}"),
            )
        })?;
    }
    Ok(())
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
    pub conn: ClientConnection,
    pub sock: TcpStream,
}

impl TlsStream {
    /// Runs the TLS handshake to completion on a blocking socket.
    pub fn handshake(conn: ClientConnection, mut sock: TcpStream) -> Result<TlsStream, Failure> {
        let mut conn = conn;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(tls_failure)?;
        }
        Ok(TlsStream { conn, sock })
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
        TlsFacts {
            version,
            cipher,
            cert,
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

/// Turns a handshake error into a message that says why, in words.
fn tls_failure(e: io::Error) -> Failure {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return fail(Stage::Tls, format!("TLS handshake failed: {e}"));
    };
    let why = match tls {
        rustls::Error::InvalidCertificate(cert) => describe_certificate_error(cert),
        rustls::Error::AlertReceived(alert) => format!("the server sent a TLS alert: {alert:?}"),
        other => other.to_string(),
    };
    fail(Stage::Tls, format!("TLS handshake failed: {why}"))
}

fn describe_certificate_error(e: &CertificateError) -> String {
    let fix = "pass --ca FILE to trust its CA, or -k to skip verification";
    match e {
        CertificateError::Other(other) if other.0.downcast_ref::<SelfSigned>().is_some() => format!(
            "the server's certificate is self-signed ({}), so nothing vouches for it; pass --ca with that certificate to trust it, or -k to skip verification",
            other.0
        ),
        CertificateError::UnknownIssuer => format!(
            "the server's certificate is signed by an unknown issuer (not in the trusted roots); {fix}"
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("the server's certificate has expired ({e}); {fix}")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("the server's certificate is not valid yet ({e})")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("the server's certificate does not match the host name: {e}")
        }
        CertificateError::BadSignature => "the server's certificate has a bad signature".into(),
        other => format!("the server's certificate was rejected: {other}"),
    }
}

/// What is shown about an established TLS session.
#[derive(Debug, Clone)]
pub struct TlsFacts {
    pub version: String,
    pub cipher: String,
    pub cert: Option<CertificateFacts>,
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

/// The certificate that failed as "unknown issuer" names itself as its
/// issuer.
#[derive(Debug)]
struct SelfSigned(String);

impl std::fmt::Display for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "subject and issuer are both {}", self.0)
    }
}

impl std::error::Error for SelfSigned {}

/// The standard verification, with one more word in its errors: an
/// unknown issuer that is the certificate itself is called self-signed.
#[derive(Debug)]
struct NamingVerifier(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for NamingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        if let Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) = &result {
            if let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity.as_ref()) {
                if cert.subject() == cert.issuer() {
                    let name = cert.subject().to_string();
                    return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                        rustls::OtherError(Arc::new(SelfSigned(name))),
                    )));
                }
            }
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `-k`: accepts any certificate, still checking handshake signatures so
/// that the session itself works.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
