//! TLS options against an in-process rustls server: mutual TLS, the
//! server name override, the lowest version, certificate errors named for
//! what they are, and SSLKEYLOGFILE.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use crate::common::{wscope, EchoServer};

/// A CA, certificates it signed, written as PEM to a temporary folder.
struct Certs {
    dir: tempfile::TempDir,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and key signed by the test CA.
struct Leaf {
    der: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    cert_pem: PathBuf,
    key_pem: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "wscope TLS test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        Certs {
            dir,
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn leaf(&self, name: &str, purpose: ExtendedKeyUsagePurpose, expired: bool) -> Leaf {
        let mut params =
            CertificateParams::new(vec![name.to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![purpose];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let file = |ext: &str| self.dir.path().join(format!("{name}-{expired}.{ext}"));
        std::fs::write(file("pem"), cert.pem()).unwrap();
        std::fs::write(file("key"), key.serialize_pem()).unwrap();
        Leaf {
            der: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            cert_pem: file("pem"),
            key_pem: file("key"),
        }
    }
}

struct ServerSetup<'a> {
    server: &'a Leaf,
    /// Require a client certificate signed by this CA.
    client_ca: Option<&'a CertificateDer<'static>>,
    tls12_only: bool,
}

/// A wss:// echo server for one connection; returns its port.
fn tls_echo_server(setup: ServerSetup) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if setup.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap();
    let builder = match setup.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = Arc::new(
        builder
            .with_single_cert(vec![setup.server.der.clone()], setup.server.key.clone_key())
            .unwrap(),
    );
    serve_once(config)
}

/// Serves one wss:// echo connection with this configuration; returns the port.
fn serve_once(config: Arc<ServerConfig>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let stream = StreamOwned::new(ServerConnection::new(config).unwrap(), tcp);
        if let Ok(mut ws) = tungstenite::accept(stream) {
            while let Ok(msg) = ws.read() {
                if msg.is_text() && ws.send(msg).is_err() {
                    break;
                }
            }
        }
    });
    port
}

fn url(name: &str, port: u16) -> String {
    format!("wss://{name}:{port}/")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn mutual_tls_works_with_a_client_certificate_and_fails_without() {
    let certs = Certs::new();
    let server = certs.leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth, false);
    let client = certs.leaf("client", ExtendedKeyUsagePurpose::ClientAuth, false);
    let setup = || ServerSetup {
        server: &server,
        client_ca: Some(&certs.ca_der),
        tls12_only: false,
    };

    let port = tls_echo_server(setup());
    let out = wscope(&[
        "--json",
        "-n",
        "1",
        "-x",
        "mtls",
        "--ca",
        path(&certs.ca()),
        "--cert",
        path(&client.cert_pem),
        "--key",
        path(&client.key_pem),
        &url("localhost", port),
    ]);
    out.assert_code(0);
    assert_eq!(out.single("connect")["tls"], true);

    let port = tls_echo_server(setup());
    let out = wscope(&[
        "--json",
        "-x",
        "no cert",
        "--ca",
        path(&certs.ca()),
        &url("localhost", port),
    ]);
    assert!(out.code == 1 || out.code == 3, "refused: {out}");
    assert!(out.events_named("message").is_empty(), "{out}");
    assert!(
        out.stderr.to_lowercase().contains("certificate"),
        "the error says a certificate was wanted: {}",
        out.stderr
    );
}

#[test]
fn an_expired_certificate_is_named_as_expired() {
    let certs = Certs::new();
    let server = certs.leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth, true);
    let port = tls_echo_server(ServerSetup {
        server: &server,
        client_ca: None,
        tls12_only: false,
    });
    let out = wscope(&["--json", "--ca", path(&certs.ca()), &url("localhost", port)]);
    out.assert_code(1);
    let error = out.single("error");
    assert_eq!(error["stage"], "tls");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("expired on 2021-01-01"), "{message}");
    assert!(message.contains("-k"), "{message}");
    // The CA is already trusted: pointing at --ca again would not help.
    assert!(!message.contains("--ca"), "{message}");
}

#[test]
fn a_name_mismatch_is_named_and_tls_server_name_overrides_the_name() {
    let certs = Certs::new();
    let server = certs.leaf("service.test", ExtendedKeyUsagePurpose::ServerAuth, false);
    let setup = || ServerSetup {
        server: &server,
        client_ca: None,
        tls12_only: false,
    };
    // The certificate is for service.test (and 127.0.0.1); "localhost" is not in it.
    let port = tls_echo_server(setup());
    let out = wscope(&["--ca", path(&certs.ca()), &url("localhost", port)]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("does not match the host name"),
        "{}",
        out.stderr
    );

    let port = tls_echo_server(setup());
    let out = wscope(&[
        "-n",
        "1",
        "-x",
        "named",
        "--ca",
        path(&certs.ca()),
        "--tls-server-name",
        "service.test",
        &url("localhost", port),
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout, "named\n");
}

#[test]
fn tls_min_refuses_an_older_server_and_the_version_is_shown() {
    let certs = Certs::new();
    let server = certs.leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth, false);
    let setup = || ServerSetup {
        server: &server,
        client_ca: None,
        tls12_only: true,
    };
    let port = tls_echo_server(setup());
    let out = wscope(&["--json", "--ca", path(&certs.ca()), &url("localhost", port)]);
    out.assert_code(0);
    assert_eq!(out.single("connect")["tls_version"], "TLSv1.2");

    let port = tls_echo_server(setup());
    let out = wscope(&[
        "--json",
        "--tls-min",
        "1.3",
        "--ca",
        path(&certs.ca()),
        &url("localhost", port),
    ]);
    out.assert_code(1);
    let error = out.single("error");
    assert_eq!(error["stage"], "tls");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("does not speak TLS 1.3") && message.contains("--tls-min"),
        "{message}"
    );
}

#[test]
fn sslkeylogfile_receives_the_session_secrets() {
    let certs = Certs::new();
    let server = certs.leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth, false);
    let port = tls_echo_server(ServerSetup {
        server: &server,
        client_ca: None,
        tls12_only: false,
    });
    let log = certs.dir.path().join("keys.log");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wscope"))
        .args([
            "-x",
            "secret",
            "--ca",
            path(&certs.ca()),
            &url("localhost", port),
        ])
        .env("SSLKEYLOGFILE", &log)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let keys = std::fs::read_to_string(&log).unwrap();
    assert!(keys.contains("CLIENT_TRAFFIC_SECRET_0"), "{keys}");
}

#[test]
fn bad_client_identity_files_are_usage_errors() {
    let certs = Certs::new();
    let ca = certs.ca();
    let out = wscope(&["--cert", path(&ca), "wss://127.0.0.1:1/"]);
    out.assert_code(2);
    let out = wscope(&[
        "--cert",
        path(&ca),
        "--key",
        path(&ca),
        "wss://127.0.0.1:1/",
    ]);
    out.assert_code(2);
    assert!(out.stderr.contains("--key"), "{}", out.stderr);
}

#[test]
fn a_self_signed_certificate_is_named_and_can_be_trusted_with_ca() {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "selfie");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("selfie.pem");
    std::fs::write(&pem, cert.pem()).unwrap();
    let leaf = Leaf {
        der: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        cert_pem: pem.clone(),
        key_pem: pem.clone(),
    };
    let setup = || ServerSetup {
        server: &leaf,
        client_ca: None,
        tls12_only: false,
    };
    let port = tls_echo_server(setup());
    let out = wscope(&[&url("localhost", port)]);
    out.assert_code(1);
    assert!(out.stderr.contains("self-signed"), "{}", out.stderr);
    assert!(out.stderr.contains("CN=selfie"), "{}", out.stderr);

    let port = tls_echo_server(setup());
    let out = wscope(&[
        "-n",
        "1",
        "-x",
        "trusted",
        "--ca",
        path(&pem),
        &url("localhost", port),
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout, "trusted\n");
}

/// A self-signed certificate for localhost and 127.0.0.1 with
/// basicConstraints CA:TRUE, as `openssl req -x509` makes by default.
fn ca_flagged_self_signed(dir: &Path) -> Leaf {
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "made-like-openssl");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let pem = dir.join("openssl-like.pem");
    std::fs::write(&pem, cert.pem()).unwrap();
    Leaf {
        der: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        cert_pem: pem.clone(),
        key_pem: pem,
    }
}

#[test]
fn a_self_signed_ca_certificate_is_named_and_can_be_pinned_with_ca() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = ca_flagged_self_signed(dir.path());
    let setup = || ServerSetup {
        server: &leaf,
        client_ca: None,
        tls12_only: false,
    };

    let port = tls_echo_server(setup());
    let out = wscope(&["--json", &url("localhost", port)]);
    out.assert_code(1);
    let error = out.single("error");
    assert_eq!(error["stage"], "tls");
    let message = error["message"].as_str().unwrap();
    for words in [
        "CN=made-like-openssl",
        "CA certificate",
        "CA:TRUE",
        "server's own certificate",
        "openssl req -x509",
        "--ca",
    ] {
        assert!(message.contains(words), "{words:?} in {message}");
    }
    assert!(!message.contains("Other("), "{message}");

    // Given with --ca, the very certificate the server presents is pinned.
    let port = tls_echo_server(setup());
    let out = wscope(&[
        "-n",
        "1",
        "-x",
        "pinned",
        "--ca",
        path(&leaf.cert_pem),
        &url("localhost", port),
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout, "pinned\n");

    // Pinned, it must still be for the name verified.
    let port = tls_echo_server(setup());
    let out = wscope(&[
        "--ca",
        path(&leaf.cert_pem),
        "--tls-server-name",
        "elsewhere.test",
        &url("localhost", port),
    ]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("does not match the host name elsewhere.test"),
        "{}",
        out.stderr
    );
}

/// Presents a certificate but signs the handshake with another key.
#[derive(Debug)]
struct Impostor(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Impostor {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[test]
fn a_pinned_certificate_still_needs_the_handshake_signed_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = ca_flagged_self_signed(dir.path());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let other_key = KeyPair::generate().unwrap();
    let signer = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(other_key.serialize_der().into()))
        .unwrap();
    let certified = rustls::sign::CertifiedKey::new(vec![leaf.der.clone()], signer);
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Impostor(Arc::new(certified))));
    let port = serve_once(Arc::new(config));
    let out = wscope(&[
        "--json",
        "-x",
        "never",
        "--ca",
        path(&leaf.cert_pem),
        &url("localhost", port),
    ]);
    out.assert_code(1);
    let error = out.single("error");
    assert_eq!(error["stage"], "tls");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("does not hold the certificate's key"),
        "{error}"
    );
    assert!(out.events_named("message").is_empty(), "{out}");
}

#[test]
fn wss_to_a_plain_websocket_port_says_the_server_did_not_answer_tls() {
    // A WebSocket server without TLS drops the ClientHello as bad HTTP.
    let plain = EchoServer::start();
    let out = wscope(&["--json", &url("127.0.0.1", plain.port())]);
    out.assert_code(1);
    let error = out.single("error");
    assert_eq!(error["stage"], "tls");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("did not answer the TLS handshake") && message.contains("ws://"),
        "{message}"
    );

    // Another answers the ClientHello in plain HTTP.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut hello = [0u8; 512];
        let _ = tcp.read(&mut hello);
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        let _ = tcp.shutdown(std::net::Shutdown::Write);
        let _ = tcp.read_to_end(&mut Vec::new());
    });
    let out = wscope(&[&url("127.0.0.1", port)]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("did not answer the TLS handshake")
            && out
                .stderr
                .contains("plain HTTP (\"HTTP/1.1 400 Bad Request\")")
            && out.stderr.contains("ws://"),
        "{}",
        out.stderr
    );
}
