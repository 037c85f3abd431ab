//! Words for what went wrong in TLS: certificate errors with the fix that
//! fits, alerts by their names, and a server that does not speak TLS.

use std::io;

use rustls::pki_types::UnixTime;
use rustls::CertificateError;

use crate::error::{fail, Failure, Stage};

use super::verify::Named;
use super::Hints;

/// Turns a handshake error into a message that says why, in words, with
/// the fix that fits what the user asked.
pub(super) fn tls_failure(e: &io::Error, first: &[u8], hints: Hints) -> Failure {
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
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        // Past year 9999: no calendar date to show.
        Err(_) => format!("{secs} seconds after 1970 (UTC)"),
    }
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
