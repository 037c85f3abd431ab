use crate::common::{incoming_messages, wscope, Pki, PythonServer};

// The Python server stops echoing once it has seen our Close, so these
// runs wait (-w) for the echoes instead of closing as soon as input ends.

#[test]
fn ws_echo_against_python_websockets() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/py", server.port);
    let out = wscope(&["--json", "-w", "1", "-x", "hello", "-x", "world", &url]);
    out.assert_code(0);
    assert_eq!(incoming_messages(&out), ["hello", "world"]);
    let connect = out.single("connect");
    assert_eq!(connect["tls"], false, "{connect}");
    let response = out.single("response");
    assert_eq!(response["status"], 101, "{response}");
    assert_eq!(response["accept_ok"], true, "{response}");
    let close = out.single("close");
    assert_eq!(close["code"], 1000, "{close}");
}

#[test]
fn wss_echo_with_ca() {
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let url = format!("wss://127.0.0.1:{}/secure", server.port);
    let ca = pki.ca.to_str().unwrap();
    let out = wscope(&["--json", "-w", "1", "--ca", ca, "-x", "secret", &url]);
    out.assert_code(0);
    assert_eq!(incoming_messages(&out), ["secret"]);
    let connect = out.single("connect");
    assert_eq!(connect["tls"], true, "{connect}");
    let version = connect["tls_version"].as_str().unwrap_or_default();
    assert!(
        version.to_ascii_lowercase().contains("tls"),
        "tls_version: {connect}"
    );
    assert!(
        connect["cipher"].as_str().is_some_and(|c| !c.is_empty()),
        "{connect}"
    );
    let timings = &connect["timings_ms"];
    for phase in ["dns", "tcp", "tls"] {
        assert!(
            timings.get(phase).is_some(),
            "no timings_ms.{phase}: {connect}"
        );
    }
    assert!(timings["tcp"].is_number(), "{connect}");
    assert!(timings["tls"].is_number(), "{connect}");
    // The tap sees plaintext WebSocket bytes under TLS too.
    let request = out.single("request");
    assert!(
        request["raw"]
            .as_str()
            .is_some_and(|r| r.starts_with("GET /secure HTTP/1.1\r\n")),
        "{request}"
    );
    let sent = out
        .events_named("frame")
        .into_iter()
        .find(|f| f["dir"] == "out" && f["opcode"] == 1)
        .unwrap_or_else(|| panic!("no outgoing text frame\n{out}"));
    assert_eq!(sent["payload"], "secret", "{sent}");
}

#[test]
fn wss_without_ca_fails_verification() {
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let url = format!("wss://127.0.0.1:{}/", server.port);
    let out = wscope(&["--json", "-x", "secret", &url]);
    out.assert_code(1);
    out.assert_no_panic();
    let error = out.single("error");
    assert_eq!(error["stage"], "tls", "{error}");
    let message = error["message"].as_str().unwrap().to_ascii_lowercase();
    assert!(message.contains("issuer"), "{message}");
    assert!(out.events_named("response").is_empty(), "{out}");
    assert!(out.events_named("message").is_empty(), "{out}");
}

#[test]
fn wss_without_ca_in_payload_mode_is_one_stderr_line() {
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let url = format!("wss://127.0.0.1:{}/", server.port);
    let out = wscope(&[&url]);
    out.assert_code(1);
    assert_eq!(out.stdout, "", "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("wscope: error: "), "{out}");
    assert!(lines[0].to_ascii_lowercase().contains("issuer"), "{out}");
}

#[test]
fn wss_insecure_works_and_warns() {
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let url = format!("wss://127.0.0.1:{}/", server.port);
    let out = wscope(&["--json", "-w", "1", "-k", "-x", "anyway", &url]);
    out.assert_code(0);
    assert_eq!(incoming_messages(&out), ["anyway"]);
    let stderr = out.stderr.to_ascii_lowercase();
    assert!(
        stderr.contains("warn") || stderr.contains("insecure"),
        "no warning on stderr\n{out}"
    );
}

#[test]
fn wss_with_wrong_ca_fails() {
    let pki = Pki::generate();
    let other = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let url = format!("wss://127.0.0.1:{}/", server.port);
    let out = wscope(&["--json", "--ca", other.ca.to_str().unwrap(), &url]);
    out.assert_code(1);
    let error = out.single("error");
    assert_eq!(error["stage"], "tls", "{error}");
}

/// The README's first example: every echo arrives, though this server
/// drops the replies it has not sent once a Close arrives.
#[test]
fn no_reply_is_lost_to_a_close_sent_too_soon() {
    let server = PythonServer::start(None);
    let url = format!("ws://127.0.0.1:{}/chat", server.port);
    for run in 0..20 {
        let out = wscope(&[&url, "-x", "hello", "-x", "world"]);
        out.assert_code(0);
        assert_eq!(out.stdout, "hello\nworld\n", "run {run}: {out}");
    }
    // The server may still be reading the burst when the input ends: the
    // quiet before its first answer must not close too soon.
    let lines: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    for run in 0..5 {
        let out = crate::common::wscope_with_stdin(&[&url], lines.as_bytes());
        out.assert_code(0);
        let count = out.stdout.lines().count();
        assert_eq!(count, 5000, "run {run}: {}", out.stderr);
        assert_eq!(out.stdout, lines);
    }
}

/// However short the round trip, a server may think before it answers.
#[test]
fn an_answer_that_takes_a_tenth_of_a_second_is_not_lost() {
    let server = PythonServer::with_args(None, &["--think", "0.1"]);
    let url = format!("ws://127.0.0.1:{}/rpc", server.port);
    let out = wscope(&[&url, "-x", r#"{"id":1,"method":"lookup"}"#]);
    out.assert_code(0);
    assert_eq!(out.stdout, "{\"id\":1,\"method\":\"lookup\"}\n", "{out}");
}

/// A greeting that came before our first message is not an answer: the
/// reply to our message is still waited for.
#[test]
fn a_server_that_greets_first_still_gets_time_to_answer() {
    let server = PythonServer::with_args(None, &["--greet", "welcome", "--think", "0.06"]);
    let url = format!("ws://127.0.0.1:{}/", server.port);
    for run in 0..3 {
        // The line comes a moment after the greeting, as a person's or a
        // script's would.
        let out = crate::common::wscope_with_paced_stdin(
            &[&url],
            vec![(std::time::Duration::from_millis(200), b"query\n".to_vec())],
        );
        out.assert_code(0);
        assert_eq!(out.stdout, "welcome\nquery\n", "run {run}: {out}");
    }
}

#[test]
fn ws_to_a_tls_port_says_it_speaks_tls_and_names_the_wss_url() {
    // The Python server drops a plain request to its TLS port without a
    // word; wscope asks the port for TLS and suggests wss://.
    let pki = Pki::generate();
    let server = PythonServer::start(Some(&pki));
    let out = wscope(&[&format!("ws://127.0.0.1:{}/chat", server.port)]);
    out.assert_code(1);
    let wss = format!(
        "this port speaks TLS: use wss://127.0.0.1:{}/chat",
        server.port
    );
    assert!(out.stderr.contains(&wss), "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");

    // A plain server that hangs up without a word is not called TLS.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(2) {
            drop(conn);
        }
    });
    let out = wscope(&[&format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    assert!(!out.stderr.contains("TLS"), "{out}");
}
