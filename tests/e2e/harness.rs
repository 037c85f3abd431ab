//! The fixtures checked against tungstenite as a reference client, so that
//! a failure elsewhere points at wscope rather than at the test peers.

use std::net::TcpStream;
use std::process::Command;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Error, Message};

use crate::common::{
    close_frame, frame, json_events, python, text_frame, EchoServer, Pki, PythonServer, Received,
    Script, ScriptedServer,
};

fn connect(url: &str) -> tungstenite::WebSocket<TcpStream> {
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let stream = TcpStream::connect(addr).unwrap();
    tungstenite::client(url, stream).expect("handshake").0
}

#[test]
fn scripted_server_frames_decode_as_intended() {
    let mut bytes = text_frame("");
    bytes.extend(text_frame(&"a".repeat(126)));
    bytes.extend(text_frame(&"a".repeat(65536)));
    bytes.extend(frame(false, 0, 1, false, b"hel"));
    bytes.extend(frame(true, 0, 0, false, b"lo"));
    bytes.extend(close_frame(4001, "done"));
    let server = ScriptedServer::start(Script::frames(bytes));
    let mut ws = connect(&server.url("/p?q=1"));
    let mut lens = Vec::new();
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => lens.push(t.len()),
            Message::Close(Some(c)) => {
                assert_eq!(u16::from(c.code), 4001);
                assert_eq!(c.reason.as_str(), "done");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(lens, [0, 126, 65536, 5]);
    ws.flush().unwrap();
    drop(ws);
    let log = server.log();
    assert!(log.request.starts_with("GET /p?q=1 HTTP/1.1\r\n"));
    assert!(log.response.starts_with("HTTP/1.1 101 "));
    assert_eq!(log.client_frames().first().map(|f| f.0), Some(8));
}

#[test]
fn violating_frames_are_rejected_by_tungstenite() {
    let cases = [
        frame(true, 0b100, 1, false, b"hi"),
        frame(true, 0, 1, true, b"hi"),
        frame(true, 0, 3, false, b"x"),
        frame(true, 0, 0xB, false, b""),
        frame(true, 0, 9, false, &[b'p'; 126]),
        frame(false, 0, 9, false, b"p"),
        frame(true, 0, 8, false, &1005u16.to_be_bytes()),
        frame(true, 0, 8, false, &999u16.to_be_bytes()),
        frame(true, 0, 8, false, &[0x03]),
        frame(true, 0, 1, false, &[0xC3, 0x28]),
        frame(true, 0, 0, false, b"orphan"),
    ];
    for bytes in cases {
        let server = ScriptedServer::start(Script::frames(bytes.clone()));
        let mut ws = connect(&server.url("/"));
        match ws.read() {
            Err(Error::Protocol(_)) | Err(Error::Utf8(_)) => {}
            // tungstenite answers a bad close code by closing with 1002
            // itself rather than with an error.
            Ok(Message::Close(Some(c))) if c.code == CloseCode::Protocol => {}
            other => panic!("{bytes:02x?} gave {other:?}"),
        }
    }
}

#[test]
fn echo_server_echoes_records_and_closes() {
    let server = EchoServer::start();
    let mut ws = connect(&server.url("/x"));
    ws.send(Message::text("ping me")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("ping me"));
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    assert_eq!(
        server.received(),
        [Received::Text("ping me".into()), Received::Close(None)]
    );
    assert_eq!(server.paths(), ["/x"]);
}

#[test]
fn json_events_accepts_json_lines_only() {
    let events = json_events("{\"event\":\"a\",\"t\":0.5}\n{\"event\":\"b\",\"t\":1}\n");
    assert_eq!(events.len(), 2);
    assert!(json_events("").is_empty());
    for bad in [
        "not json\n",
        "{\"event\":\"a\"}\n",
        "{\"event\":\"a\",\"t\":1}\n\n",
    ] {
        let result = std::panic::catch_unwind(|| json_events(bad));
        assert!(result.is_err(), "accepted {bad:?}");
    }
}

#[test]
fn generated_pki_is_trusted_by_a_python_client() {
    const CLIENT: &str = "import ssl, sys\n\
        from websockets.sync.client import connect\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        with connect(f'wss://127.0.0.1:{sys.argv[1]}/', ssl=ctx) as ws:\n\
        \x20   ws.send('over tls')\n\
        \x20   print(ws.recv())\n";
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let out = Command::new(python())
        .args(["-c", CLIENT, &server.port.to_string()])
        .arg(&pki.ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over tls\n");
}

#[test]
fn generated_pki_is_trusted_by_rustls() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};
    use std::io::{Read, Write};
    use std::sync::Arc;

    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    for name in ["127.0.0.1", "localhost"] {
        let name = ServerName::try_from(name).unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config.clone()), name).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("TLS handshake with the generated certificate");
        let mut buf = [0u8; 12];
        tls.read_exact(&mut buf).unwrap();
        assert!(buf.starts_with(b"HTTP/1.1"), "{buf:?}");
    }
}
