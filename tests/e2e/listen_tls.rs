//! wss:// in server mode: `wscope --listen --self-signed` (or --cert/--key)
//! with Python's `websockets`, Node's `ws`, wscope itself and headless
//! Chromium as clients, each trusting the certificate wscope printed;
//! client certificates; and the bad inputs that stop it starting.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{python, wscope, wscope_with_stdin, Listener, Output, Pki};

/// Where wscope wrote the PEM copy of the certificate it made, as it said.
fn made_certificate(server: &Listener) -> PathBuf {
    server.made_certificate()
}

/// The notice about the made certificate, from a finished run.
fn certificate_notice(out: &Output) -> String {
    out.events_named("notice")
        .into_iter()
        .map(|n| n["message"].as_str().unwrap().to_string())
        .find(|m| m.starts_with("self-signed certificate"))
        .unwrap_or_else(|| panic!("no certificate notice\n{out}"))
}

/// Runs a Python client script with the listener's port and the PEM it
/// trusts as arguments; what it printed, once it succeeded.
fn python_client(script: &str, port: u16, pem: &Path) -> String {
    let client = Command::new(python())
        .args(["-c", script, &port.to_string()])
        .arg(pem)
        .output()
        .unwrap();
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    String::from_utf8_lossy(&client.stdout).into_owned()
}

fn connect_event(out: &Output) -> Value {
    out.single("connect")
}

#[test]
fn self_signed_serves_python_websockets_trusting_the_printed_certificate() {
    const CLIENT: &str = "import ssl, sys\n\
        from websockets.sync.client import connect\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        with connect(f'wss://127.0.0.1:{sys.argv[1]}/py?x=1', ssl=ctx, server_hostname='localhost') as ws:\n\
        \x20   ws.send('over tls')\n\
        \x20   print(ws.recv())\n";
    let server = Listener::start(&["--self-signed", "--echo", "--json"]);
    let pem = made_certificate(&server);
    let printed = python_client(CLIENT, server.port, &pem);
    let out = server.finish();
    assert_eq!(printed, "over tls\n");
    out.assert_code(0);
    let notice = certificate_notice(&out);
    assert!(notice.contains("localhost, 127.0.0.1, ::1"), "{notice}");
    assert!(!pem.exists(), "the PEM copy outlived wscope");
    assert!(notice.contains(&pem.display().to_string()), "{notice}");
    let connect = connect_event(&out);
    assert_eq!(connect["tls"], true, "{out}");
    assert_eq!(connect["sni"], "localhost", "{out}");
    assert_eq!(
        connect["url"],
        format!("wss://127.0.0.1:{}/py?x=1", port_of(&connect))
    );
    assert!(connect["tls_version"]
        .as_str()
        .unwrap()
        .starts_with("TLSv1."));
    assert!(!connect["cipher"].as_str().unwrap().is_empty());
    // The tap is above TLS: the request and the frames are in clear.
    let request = out.single("request")["raw"].as_str().unwrap().to_string();
    assert!(request.starts_with("GET /py?x=1 HTTP/1.1\r\n"), "{request}");
    let incoming: Vec<Value> = out
        .events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .collect();
    assert_eq!(incoming.len(), 1, "{out}");
    assert_eq!(incoming[0]["data"], "over tls");
}

fn port_of(connect: &Value) -> String {
    connect["url"]
        .as_str()
        .unwrap()
        .split("127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn self_signed_serves_node_ws_trusting_the_printed_certificate() {
    let server = Listener::start(&["--self-signed", "--echo", "--json"]);
    let pem = made_certificate(&server);
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    let client = Command::new("node")
        .arg(peers.join("node_client.js"))
        .arg(format!("wss://127.0.0.1:{}/node", server.port))
        .args(["one", "two"])
        .env("NODE_EXTRA_CA_CERTS", &pem)
        .current_dir(&peers)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = server.finish();
    assert_eq!(
        String::from_utf8_lossy(&client.stdout),
        "OPEN -\none\ntwo\nCLOSE 1000 done\n",
        "{out}"
    );
    out.assert_code(0);
    let connect = connect_event(&out);
    assert_eq!(connect["tls"], true, "{out}");
    // Node sends no SNI for an IP address.
    assert_eq!(connect["sni"], Value::Null, "{out}");
}

#[test]
fn self_signed_serves_wscope_trusting_it_with_ca() {
    let server = Listener::start(&["--self-signed", "--echo", "--json"]);
    let pem = made_certificate(&server);
    let url = format!("wss://localhost:{}/self", server.port);
    let client = wscope_with_stdin(
        &[&url, "--ca", pem.to_str().unwrap(), "--json", "-4"],
        b"first\nsecond\n",
    );
    let out = server.finish();
    client.assert_code(0);
    out.assert_code(0);
    let echoed: Vec<Value> = client
        .events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .map(|m| m["data"].clone())
        .collect();
    assert_eq!(echoed, ["first", "second"], "{client}");
    let seen_by_client = connect_event(&client);
    assert_eq!(seen_by_client["cert_subject"], "CN=wscope self-signed");
    let connect = connect_event(&out);
    assert_eq!(connect["sni"], "localhost", "{out}");
    assert_eq!(connect["tls_version"], seen_by_client["tls_version"]);
    assert_eq!(connect["cipher"], seen_by_client["cipher"]);
}

#[test]
fn cert_and_key_files_serve_wss() {
    let pki = Pki::generate();
    let server = Listener::start(&[
        "--cert",
        pki.cert.to_str().unwrap(),
        "--key",
        pki.key.to_str().unwrap(),
        "--echo",
        "--json",
    ]);
    let url = format!("wss://127.0.0.1:{}/", server.port);
    let client = wscope_with_stdin(&[&url, "--ca", pki.ca.to_str().unwrap(), "--json"], b"hi\n");
    let out = server.finish();
    client.assert_code(0);
    out.assert_code(0);
    assert!(out
        .events_named("notice")
        .iter()
        .all(|n| !n["message"].as_str().unwrap().starts_with("self-signed")));
    assert_eq!(connect_event(&out)["tls"], true);
}

#[test]
fn chromium_connects_trusting_the_certificate_by_its_public_key() {
    let Some(binary) = crate::pairing::chromium() else {
        if std::env::var("WSCOPE_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("!!!!!!!! SKIPPED chromium_connects_trusting_the_certificate_by_its_public_key: no Chromium !!!!!!!!");
            return;
        }
        panic!("Chromium is not installed (/usr/bin/chromium); scripts/test.sh installs it");
    };
    let server = Listener::start(&["--self-signed", "--echo", "--json", "-n", "1"]);
    let pem = made_certificate(&server);
    let spki = spki_of(&pem);
    let html = format!(
        r#"<!doctype html><meta charset="utf-8"><script>
const ws = new WebSocket("wss://127.0.0.1:{port}/browser");
ws.onopen = () => ws.send("from chromium");
</script>"#,
        port = server.port
    );
    let browser = crate::pairing::open_in_chromium_with(
        &binary,
        &html,
        &[format!("--ignore-certificate-errors-spki-list={spki}")],
    );
    let out = server.finish();
    drop(browser);
    out.assert_code(0);
    let notice = certificate_notice(&out);
    assert!(notice.contains(&spki), "{notice}");
    let connect = connect_event(&out);
    assert_eq!(connect["tls"], true, "{out}");
    let incoming: Vec<Value> = out
        .events_named("message")
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .collect();
    assert_eq!(incoming[0]["data"], "from chromium", "{out}");
}

/// The base64 SHA-256 of a PEM certificate's public key, computed here
/// (not taken from wscope's notice) so that the notice is checked too.
fn spki_of(pem: &Path) -> String {
    use base64::Engine;
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_file(pem).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

#[test]
fn client_certificate_required_refused_when_missing_shown_when_presented() {
    let clients = Pki::client();
    let server = Listener::start(&[
        "--self-signed",
        "--client-ca",
        clients.ca.to_str().unwrap(),
        "--echo",
        "--json",
    ]);
    let pem = made_certificate(&server);
    let url = format!("wss://127.0.0.1:{}/", server.port);
    let ca = pem.to_str().unwrap();
    let without = wscope_with_stdin(&[&url, "--ca", ca, "--json"], b"hi\n");
    assert_ne!(without.code, 0, "{without}");
    without.assert_no_panic();
    let with = wscope_with_stdin(
        &[
            &url,
            "--ca",
            ca,
            "--cert",
            clients.cert.to_str().unwrap(),
            "--key",
            clients.key.to_str().unwrap(),
            "--json",
        ],
        b"hi\n",
    );
    let out = server.finish();
    with.assert_code(0);
    out.assert_code(0);
    let refused = out
        .events_named("notice")
        .into_iter()
        .map(|n| n["message"].as_str().unwrap().to_string())
        .find(|m| m.starts_with("dropped a connection"))
        .unwrap_or_else(|| panic!("no notice about the client without a certificate\n{out}"));
    assert!(
        refused.contains("presented no client certificate"),
        "{refused}"
    );
    let connect = connect_event(&out);
    assert_eq!(connect["cert_subject"], "CN=test client", "{out}");
    assert_eq!(connect["cert_issuer"], "CN=wscope client CA", "{out}");
}

#[test]
fn a_second_client_of_a_tls_listener_reads_the_503_over_tls_or_plain() {
    const CLIENT: &str = "import ssl, sys\n\
        from websockets.sync.client import connect\n\
        from websockets.exceptions import InvalidStatus\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        url = f'wss://127.0.0.1:{sys.argv[1]}/'\n\
        with connect(url, ssl=ctx, server_hostname='localhost') as first:\n\
        \x20   try:\n\
        \x20       connect(url, ssl=ctx, server_hostname='localhost')\n\
        \x20       print('second accepted')\n\
        \x20   except InvalidStatus as e:\n\
        \x20       print(e.response.status_code, e.response.body.decode().strip())\n\
        \x20   import socket\n\
        \x20   plain = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
        \x20   plain.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n\
        \x20   print(plain.recv(100).split(b'\\r\\n')[0].decode())\n\
        \x20   first.send('still here')\n\
        \x20   print(first.recv())\n";
    let server = Listener::start(&["--self-signed", "--echo", "--json"]);
    let pem = made_certificate(&server);
    assert_eq!(
        python_client(CLIENT, server.port, &pem),
        "503 wscope serves one client at a time; try again when the current session ends\n\
         HTTP/1.1 503 Service Unavailable\nstill here\n"
    );
    let out = server.finish();
    out.assert_code(0);
    assert!(
        out.events_named("notice").iter().any(|n| n["message"]
            .as_str()
            .unwrap()
            .starts_with("turning away a client (127.0.0.1:")),
        "{out}"
    );
}

#[test]
fn a_plain_ws_client_at_a_tls_listener_is_told_and_the_wait_goes_on() {
    let server = Listener::start(&["--self-signed", "--echo", "--json"]);
    let pem = made_certificate(&server);
    let plain = wscope(&[&format!("ws://127.0.0.1:{}/", server.port), "--json"]);
    plain.assert_code(1);
    assert!(plain.stdout.contains("this port serves wss://"), "{plain}");
    let url = format!("wss://127.0.0.1:{}/", server.port);
    let good = wscope_with_stdin(&[&url, "--ca", pem.to_str().unwrap()], b"x\n");
    good.assert_code(0);
    let out = server.finish();
    out.assert_code(0);
    assert!(
        out.events_named("notice").iter().any(|n| n["message"]
            .as_str()
            .unwrap()
            .contains("spoke plain HTTP (ws://), but this listener serves wss:// (TLS)")),
        "{out}"
    );
}

#[test]
fn bad_certificate_inputs_are_one_line_usage_errors() {
    let pki = Pki::generate();
    let other = Pki::generate();
    let cert = pki.cert.to_str().unwrap();
    let missing = pki.key.with_file_name("absent.key");
    let unreadable = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(unreadable.path(), "not a key\n").unwrap();
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["--cert", cert, "--key", missing.to_str().unwrap()],
            "cannot read --key",
        ),
        (
            vec!["--cert", cert, "--key", unreadable.path().to_str().unwrap()],
            "holds no PEM private key",
        ),
        (
            vec!["--cert", cert, "--key", other.key.to_str().unwrap()],
            "the --key does not belong to the --cert",
        ),
        (
            vec!["--client-ca", other.ca.to_str().unwrap()],
            "--client-ca asks for client certificates over TLS",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["--listen", "0"];
        all.extend(args);
        let out = wscope(&all);
        out.assert_code(2);
        out.assert_no_panic();
        assert_eq!(out.stderr.trim_end().lines().count(), 1, "{out}");
        assert!(out.stderr.contains(expected), "{expected:?}\n{out}");
    }
}

#[test]
fn a_later_client_trickling_its_request_over_tls_is_answered_within_a_second() {
    // Finishes the TLS handshake, then sends its request's record a byte
    // every 50 ms (2 KiB: minutes), and waits up to 15 s for the answer.
    const TRICKLE: &str = r#"
import socket, ssl, sys, threading, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname='localhost')
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        raw.sendall(out.read())
        inc.write(raw.recv(65536))
raw.sendall(out.read())
tls.write(b'GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ' + b'a' * 2000 + b'\r\n\r\n')
record = out.read()
def trickle():
    for byte in record:
        try:
            raw.send(bytes([byte]))
        except OSError:
            return
        time.sleep(0.05)
threading.Thread(target=trickle, daemon=True).start()
raw.settimeout(15)
data = b''
while b'\r\n' not in data:
    chunk = raw.recv(65536)
    if not chunk:
        break
    inc.write(chunk)
    try:
        data += tls.read(65536)
    except ssl.SSLWantReadError:
        pass
print(data.split(b'\r\n')[0].decode())
"#;
    const HOLD: &str = "import ssl, sys, time\n\
        from websockets.sync.client import connect\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        with connect(f'wss://127.0.0.1:{sys.argv[1]}/', ssl=ctx, server_hostname='localhost') as ws:\n\
        \x20   print('OPEN', flush=True)\n\
        \x20   sys.stdin.read()\n";
    let server = Listener::start(&["--self-signed", "--echo", "--json"]);
    let pem = made_certificate(&server);
    let mut first = Command::new(python())
        .args(["-c", HOLD, &server.port.to_string()])
        .arg(&pem)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut opened = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(first.stdout.as_mut().unwrap()),
        &mut opened,
    )
    .unwrap();
    assert_eq!(opened, "OPEN\n");
    let later = python_client(TRICKLE, server.port, &pem);
    drop(first.stdin.take());
    let _ = first.wait();
    assert_eq!(later, "HTTP/1.1 503 Service Unavailable\n");
    server.finish().assert_code(0);
}
