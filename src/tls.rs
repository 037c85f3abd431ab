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
            let (chain, key) = load_client_identity(cert, key)?;
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
    pub conn: ClientConnection,
    pub sock: TcpStream,
}

impl TlsStream {
    /// Runs the TLS handshake to completion on a blocking socket.
    pub fn handshake(
        client: &Client,
        name: ServerName<'static>,
        mut sock: TcpStream,
    ) -> Result<TlsStream, Failure> {
        let mut conn = ClientConnection::new(client.config.clone(), name)
            .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?;
        let mut watched = Watched {
            sock: &mut sock,
            first: Vec::new(),
        };
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut watched) {
                return Err(tls_failure(&e, &watched.first, client.hints));
            }
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

/// The socket during the handshake, keeping the first bytes the server
/// sent: they tell a server that does not speak TLS from one that does.
struct Watched<'a> {
    sock: &'a mut TcpStream,
    first: Vec<u8>,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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

/// Turns a handshake error into a message that says why, in words, with
/// the fix that fits what the user asked.
fn tls_failure(e: &io::Error, first: &[u8], hints: Hints) -> Failure {
    let why = match (
        not_tls(e, first),
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
    ) {
        (Some(why), _) => why,
        (None, Some(rustls::Error::InvalidCertificate(cert))) => describe_certificate_error(cert),
        (None, Some(rustls::Error::AlertReceived(alert))) => describe_alert(*alert, hints),
        (None, Some(rustls::Error::PeerIncompatible(why))) => describe_incompatible(why, hints),
        (None, Some(other)) => other.to_string(),
        (None, None) => e.to_string(),
    };
    fail(Stage::Tls, format!("TLS handshake failed: {why}"))
}

/// A wss:// URL pointed at a port without TLS: the server closes, stays
/// silent, or answers in plain text.
fn not_tls(e: &io::Error, first: &[u8]) -> Option<String> {
    const HINT: &str = "is this a ws:// port? try ws:// instead of wss://";
    let said = match first.first() {
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => "it closed the connection".to_string(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                "it sent nothing back before the timeout".to_string()
            }
            _ => return None,
        },
        // Every TLS record starts with a content type from 20 to 23.
        Some(20..=23) => return None,
        Some(_) => {
            let line = first.split(|&b| b == b'\r' || b == b'\n').next()?;
            let start = String::from_utf8_lossy(line);
            if first.starts_with(b"HTTP/") {
                format!("it answered in plain HTTP ({start:?})")
            } else {
                format!("its answer is not TLS (it began {start:?})")
            }
        }
    };
    Some(format!(
        "the server did not answer the TLS handshake: {said}; {HINT}"
    ))
}

fn describe_alert(alert: rustls::AlertDescription, hints: Hints) -> String {
    use rustls::AlertDescription as A;
    let name = alert_name(alert);
    match alert {
        A::ProtocolVersion if hints.tls13_only => format!(
            "the server does not speak TLS 1.3, the only version --tls-min 1.3 allows (it answered {name}); leave out --tls-min to allow TLS 1.2"
        ),
        A::ProtocolVersion => format!(
            "the server speaks neither TLS 1.2 nor TLS 1.3, the versions wscope allows (it answered {name})"
        ),
        A::HandshakeFailure if hints.tls13_only => format!(
            "the server refused the handshake ({name}); it may not speak TLS 1.3, the only version --tls-min 1.3 allows"
        ),
        A::HandshakeFailure if hints.client_cert => format!(
            "the server refused the handshake ({name}): it shares no cipher suite, key exchange group or signature scheme with wscope, or refused the client certificate"
        ),
        A::HandshakeFailure => format!(
            "the server refused the handshake ({name}): it shares no cipher suite, key exchange group or signature scheme with wscope, or wants a client certificate (--cert FILE --key FILE)"
        ),
        A::CertificateRequired => format!(
            "the server requires a client certificate ({name}): pass --cert FILE --key FILE"
        ),
        A::BadCertificate
        | A::UnsupportedCertificate
        | A::CertificateRevoked
        | A::CertificateExpired
        | A::CertificateUnknown
        | A::UnknownCA
        | A::AccessDenied
            if hints.client_cert =>
        {
            format!("the server refused the client certificate given with --cert ({name})")
        }
        A::UnrecognisedName => format!(
            "the server does not know the name wscope sent it (SNI) ({name}); --tls-server-name NAME sends another"
        ),
        _ => format!("the server sent the TLS alert {name}"),
    }
}

/// An alert as the TLS specification spells it: `protocol_version`.
fn alert_name(alert: rustls::AlertDescription) -> String {
    let mut name = String::new();
    let mut after_lower = false;
    for c in format!("{alert:?}").chars() {
        if c.is_ascii_uppercase() && after_lower {
            name.push('_');
        }
        after_lower = c.is_ascii_lowercase();
        name.push(c.to_ascii_lowercase());
    }
    name
}

fn describe_incompatible(why: &rustls::PeerIncompatible, hints: Hints) -> String {
    use rustls::PeerIncompatible as P;
    match why {
        P::ServerTlsVersionIsDisabledByOurConfig
        | P::ServerDoesNotSupportTls12Or13
        | P::SupportedVersionsExtensionRequired
            if hints.tls13_only =>
        {
            "the server answered with a TLS version older than 1.3, which --tls-min 1.3 refuses; leave out --tls-min to allow TLS 1.2".into()
        }
        P::ServerTlsVersionIsDisabledByOurConfig | P::ServerDoesNotSupportTls12Or13 => {
            "the server speaks neither TLS 1.2 nor TLS 1.3, the versions wscope allows".into()
        }
        P::NoCipherSuitesInCommon => "the server shares no cipher suite with wscope".into(),
        P::NoKxGroupsInCommon => "the server shares no key exchange group with wscope".into(),
        P::NoSignatureSchemesInCommon => {
            "the server shares no signature scheme with wscope".into()
        }
        other => format!("the server's TLS does not fit wscope's ({other:?})"),
    }
}

fn describe_certificate_error(e: &CertificateError) -> String {
    let fix = "pass --ca FILE to trust its CA, or -k to skip verification";
    match e {
        CertificateError::Other(other) => describe_other_error(other),
        CertificateError::UnknownIssuer => format!(
            "the server's certificate is signed by an unknown issuer (not in the trusted roots); {fix}"
        ),
        // No CA or --ca makes an expired certificate good again.
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the server's certificate expired on {} (it is now {}); trusting another CA cannot help: the server needs a renewed certificate (or a clock is wrong), and -k to skip verification is the only way around it",
            utc(not_after),
            utc(time)
        ),
        CertificateError::Expired => "the server's certificate has expired or has impossible validity dates; trusting another CA cannot help: the server needs a new certificate, and -k to skip verification is the only way around it".into(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the server's certificate is not valid until {} (it is now {}); a clock is wrong or the certificate is dated ahead; -k to skip verification is the only way around it",
            utc(not_before),
            utc(time)
        ),
        CertificateError::NotValidYet => "the server's certificate is not valid yet; a clock is wrong or the certificate is dated ahead; -k to skip verification is the only way around it".into(),
        CertificateError::NotValidForName => {
            "the server's certificate does not match the host name; --tls-server-name NAME verifies another name".into()
        }
        CertificateError::NotValidForNameContext { expected, presented } => {
            let names: Vec<&str> = presented.iter().map(|p| plain_name(p)).collect();
            let names = if names.is_empty() {
                "no names at all (no subjectAltName)".to_string()
            } else {
                names.join(", ")
            };
            format!(
                "the server's certificate does not match the host name {}: it is for {names}; connect by one of those names, or --tls-server-name NAME verifies another name",
                expected.to_str()
            )
        }
        CertificateError::BadSignature => {
            "a signature does not verify: the server's certificate was not signed by its issuer, or the server does not hold the certificate's key".into()
        }
        CertificateError::BadEncoding => {
            "the server's certificate is not well-formed DER and cannot be read".into()
        }
        CertificateError::Revoked => "the server's certificate has been revoked".into(),
        CertificateError::UnknownRevocationStatus => {
            "the server's certificate's revocation status is unknown".into()
        }
        CertificateError::ExpiredRevocationList
        | CertificateError::ExpiredRevocationListContext { .. } => {
            "the revocation list for the server's certificate has expired".into()
        }
        CertificateError::UnhandledCriticalExtension => {
            "the server's certificate has a critical extension that cannot be checked".into()
        }
        #[allow(deprecated)]
        CertificateError::UnsupportedSignatureAlgorithm
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "the server's certificate is signed with an algorithm wscope does not support".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the server's certificate is not meant for TLS servers (its extended key usage lacks serverAuth)".into()
        }
        CertificateError::InvalidOcspResponse => {
            "the OCSP response the server stapled to its certificate is invalid".into()
        }
        CertificateError::ApplicationVerificationFailure => {
            "the server's certificate was refused by an extra check".into()
        }
        other => format!("the server's certificate was rejected: {other}"),
    }
}

/// The errors rustls passes through as "other": ours, and the webpki ones
/// it has no variant for.
fn describe_other_error(other: &rustls::OtherError) -> String {
    if let Some(named) = other.0.downcast_ref::<Named>() {
        return named.to_string();
    }
    let Some(e) = other.0.downcast_ref::<webpki::Error>() else {
        return format!("the server's certificate was rejected: {}", other.0);
    };
    use webpki::Error as W;
    let why = match e {
        W::CaUsedAsEndEntity => "is a CA certificate (basicConstraints CA:TRUE) used as the server's own certificate; pass that exact certificate with --ca to pin it, or -k to skip verification",
        W::EndEntityUsedAsCa => "chain has a certificate that is not a CA (no basicConstraints CA:TRUE) signing another",
        W::PathLenConstraintViolated => "chain is longer than a CA's path length constraint allows",
        W::NameConstraintViolation => "names a host its CA is not allowed to vouch for (name constraints)",
        W::MaximumPathDepthExceeded
        | W::MaximumPathBuildCallsExceeded
        | W::MaximumSignatureChecksExceeded
        | W::MaximumNameConstraintComparisonsExceeded => "chain is too long or tangled to verify",
        W::CertDistrusted => "chain leads to a distrusted certificate",
        W::UnsupportedCertVersion => "is not an X.509 version 3 certificate",
        W::UnsupportedCriticalExtension => "has a critical extension that cannot be checked",
        W::SignatureAlgorithmMismatch => "names two different signature algorithms inside and outside its signed part",
        W::EmptyEkuExtension => "has an empty extended key usage extension",
        W::MalformedDnsIdentifier => "holds a malformed DNS name",
        W::MalformedNameConstraint | W::InvalidNetworkMaskConstraint => "chain holds a malformed name constraint",
        W::UnsupportedNameType => "cannot be checked against this kind of server name",
        W::InvalidSerialNumber => "has an invalid serial number",
        W::BadDer
        | W::BadDerTime
        | W::TrailingData(_)
        | W::MalformedExtensions
        | W::ExtensionValueInvalid => "is not well-formed and cannot be read",
        other => return format!("the server's certificate was rejected (webpki: {other})"),
    };
    format!("the server's certificate {why}")
}

/// A Unix time as a UTC date and time, for people.
fn utc(t: &UnixTime) -> String {
    let secs = t.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// webpki lists a certificate's names as `DnsName("a.test")` and
/// `IpAddress(127.0.0.1)`; people want the names.
fn plain_name(presented: &str) -> &str {
    for prefix in ["DnsName(\"", "IpAddress(", "UniformResourceIdentifier(\""] {
        if let Some(rest) = presented.strip_prefix(prefix) {
            return rest.trim_end_matches(')').trim_end_matches('"');
        }
    }
    presented
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

/// A verification failure the standard error leaves vague, named.
#[derive(Debug)]
enum Named {
    /// An unknown issuer that is the certificate itself.
    SelfSigned { subject: String },
    /// A CA certificate presented as the server's own (webpki's
    /// CaUsedAsEndEntity).
    CaAsServer { subject: String, self_signed: bool },
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Named::SelfSigned { subject } => write!(
                f,
                "the server's certificate is self-signed (subject and issuer are both {subject}), so nothing vouches for it; pass --ca with that certificate to trust it, or -k to skip verification"
            ),
            Named::CaAsServer {
                subject,
                self_signed: true,
            } => write!(
                f,
                "the server's certificate ({subject}) is a CA certificate (basicConstraints CA:TRUE) used as the server's own certificate: a self-signed certificate made with CA:TRUE, as `openssl req -x509` makes by default; pass that exact certificate with --ca to pin it, reissue it with `-addext basicConstraints=critical,CA:FALSE`, or -k to skip verification"
            ),
            Named::CaAsServer {
                subject,
                self_signed: false,
            } => write!(
                f,
                "the server's certificate ({subject}) is a CA certificate (basicConstraints CA:TRUE) used as the server's own certificate; the server should present a certificate that CA issued; pass that exact certificate with --ca to pin it, or -k to skip verification"
            ),
        }
    }
}

impl std::error::Error for Named {}

/// The standard verification, with two additions: failures the standard
/// error leaves vague are named (a self-signed certificate, a CA
/// certificate serving as the server's own), and a certificate given with
/// --ca that the server presents as is counts as pinned.
#[derive(Debug)]
struct NamingVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// The certificates from --ca, for comparing byte for byte with the
    /// server's.
    ca_certs: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for NamingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let Err(rustls::Error::InvalidCertificate(error)) = &result else {
            return result;
        };
        let ca_as_server = matches!(error, CertificateError::Other(other)
            if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)));
        if !ca_as_server && !matches!(error, CertificateError::UnknownIssuer) {
            return result;
        }
        // Only the chain of trust failed, and the user vouched for this very
        // certificate: no issuer is needed, and its CA:TRUE flag (which
        // `openssl req -x509` sets) says nothing against it.
        if self
            .ca_certs
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return verify_pinned(end_entity, server_name, now);
        }
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity.as_ref()) else {
            return result;
        };
        let subject = cert.subject().to_string();
        let self_signed = cert.subject() == cert.issuer();
        let named = match (ca_as_server, self_signed) {
            (true, _) => Named::CaAsServer {
                subject,
                self_signed,
            },
            (false, true) => Named::SelfSigned { subject },
            (false, false) => return result,
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(named)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A pinned certificate has no chain to check, but it must still be for
/// this server name, within its dates, and meant for a server, as any
/// other certificate must.
fn verify_pinned(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, rustls::Error> {
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref())
        .map_err(|_| CertificateError::BadEncoding)?;
    let unix = |t: x509_parser::time::ASN1Time| {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.timestamp().max(0) as u64))
    };
    let not_before = unix(cert.validity().not_before);
    let not_after = unix(cert.validity().not_after);
    if now.as_secs() < not_before.as_secs() {
        return Err(CertificateError::NotValidYetContext {
            time: now,
            not_before,
        }
        .into());
    }
    if now.as_secs() > not_after.as_secs() {
        return Err(CertificateError::ExpiredContext {
            time: now,
            not_after,
        }
        .into());
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        if !eku.value.server_auth {
            return Err(CertificateError::InvalidPurpose.into());
        }
    }
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
    rustls::client::verify_server_name(&parsed, server_name)?;
    Ok(ServerCertVerified::assertion())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_shown_in_utc() {
        let at = |secs| {
            utc(&UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                secs,
            )))
        };
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(1_609_459_200), "2021-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400 + 3_661), "2000-02-29 01:01:01 UTC");
        assert_eq!(at(4_107_542_399), "2100-02-28 23:59:59 UTC");
    }

    #[test]
    fn alerts_are_spelled_as_in_the_specification() {
        use rustls::AlertDescription as A;
        assert_eq!(alert_name(A::ProtocolVersion), "protocol_version");
        assert_eq!(alert_name(A::UnknownCA), "unknown_ca");
    }

    #[test]
    fn webpki_names_lose_their_wrapping() {
        assert_eq!(plain_name("DnsName(\"service.test\")"), "service.test");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("DirectoryName"), "DirectoryName");
    }
}
