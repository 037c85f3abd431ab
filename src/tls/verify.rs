//! Certificate verification: rustls's own, wrapped so that each refusal
//! is named, a certificate given with --ca is trusted as pinned, and -k
//! accepts anything.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct};

/// A verification failure the standard error leaves vague, named.
#[derive(Debug)]
pub(super) enum Named {
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
pub(super) struct NamingVerifier {
    pub(super) webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// The certificates from --ca, for comparing byte for byte with the
    /// server's.
    pub(super) ca_certs: Vec<CertificateDer<'static>>,
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
pub(super) struct AcceptAnyCertificate(pub(super) Arc<rustls::crypto::CryptoProvider>);

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
