//! Conversations wscope holds by itself: automatic replies (--reply)
//! against a real socket.io server and an in-process one.

use std::net::TcpListener;
use std::thread;

use tungstenite::Message;

use crate::common::{incoming_messages, wscope, NodeServer};

fn socketio_url(server: &NodeServer) -> String {
    format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        server.port
    )
}

fn sent_texts(out: &crate::common::Output) -> Vec<String> {
    out.events_named("frame")
        .iter()
        .filter(|f| f["dir"] == "out" && f["kind"] == "text")
        .map(|f| f["payload"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_reply_rule_holds_a_socketio_session_that_is_dropped_without_it() {
    // A heartbeat every second, and half a second to answer it.
    let server = NodeServer::script(
        "socketio_server.js",
        &["--ping-interval", "1000", "--ping-timeout", "500"],
    );
    let url = socketio_url(&server);

    // Without the rule the server gives up after its first ping.
    let out = wscope(&["--json", "-x", "40", "-n", "17", &url]);
    let got = incoming_messages(&out);
    assert!(got.len() < 17, "{got:?}");
    assert_eq!(got.iter().filter(|m| *m == "2").count(), 1, "{got:?}");
    let close = out.single("close");
    assert_eq!(close["initiator"], "remote", "{close}");
    // The close was clean, so the exit code is 0: a notice says that -n
    // was not met.
    let unmet = format!(
        "the session ended before -n 17 was met: the server sent {} messages",
        got.len()
    );
    assert!(
        out.events_named("notice")
            .iter()
            .any(|e| e["message"] == unmet.as_str()),
        "{out}"
    );

    // With it: the open packet, the namespace's answer, then 15 pings
    // over 15 seconds, each answered; wscope closes after -n 17.
    let out = wscope(&["--json", "-x", "40", "-n", "17", "--reply", "^2$=>3", &url]);
    out.assert_code(0);
    let got = incoming_messages(&out);
    assert_eq!(got.len(), 17, "{got:?}");
    assert!(got[0].starts_with("0{"), "{got:?}");
    assert!(got[1].starts_with("40{"), "{got:?}");
    assert!(got[2..].iter().all(|m| m == "2"), "{got:?}");
    let replies = out.events_named("auto_reply");
    assert_eq!(replies.len(), 15);
    assert_eq!(replies[0]["rule"], 1);
    assert_eq!(replies[0]["pattern"], "^2$");
    assert_eq!(replies[0]["data"], "3");
    let sent = sent_texts(&out);
    assert_eq!(sent[0], "40");
    assert_eq!(sent[1..], vec!["3".to_string(); 15][..]);
    assert_eq!(out.single("close")["initiator"], "local");
}

#[test]
fn replies_answer_a_challenge_and_an_application_ping_with_captured_groups() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        let mut answers = Vec::new();
        for ask in [
            r#"{"challenge":"n0nce-17"}"#,
            r#"{"op":"ping","id":5}"#,
            "cafe01",
        ] {
            ws.send(Message::text(ask)).unwrap();
            match ws.read().unwrap() {
                Message::Text(t) => answers.push(t.to_string()),
                other => panic!("expected a text answer, got {other:?}"),
            }
        }
        // Binary: matched as hex.
        ws.send(Message::binary(vec![0xca, 0xfe, 0x02])).unwrap();
        if let Message::Text(t) = ws.read().unwrap() {
            answers.push(t.to_string());
        }
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
        answers
    });
    let out = wscope(&[
        "--json",
        "-w",
        "5",
        "--reply",
        r#"^\{"challenge":"([^"]+)"\}$=>{"answer":"$1"}"#,
        "--reply",
        r#""op":"ping","id":(?<id>\d+)=>{"op":"pong","id":${id}}"#,
        "--reply",
        "^cafe(..)$=>bytes $1",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    out.assert_code(0);
    let answers = server.join().unwrap();
    assert_eq!(
        answers,
        [
            r#"{"answer":"n0nce-17"}"#,
            r#"{"op":"pong","id":5}"#,
            "bytes 01",
            "bytes 02"
        ]
    );
    let rules: Vec<u64> = out
        .events_named("auto_reply")
        .iter()
        .map(|r| r["rule"].as_u64().unwrap())
        .collect();
    assert_eq!(rules, [1, 2, 3, 3]);
}

#[test]
fn a_bad_reply_rule_is_a_usage_error() {
    for (rule, says) in [
        ("no arrow here", "write it as REGEX=>TEXT"),
        ("([=>x", "the pattern is not a valid regex"),
    ] {
        let out = wscope(&["--reply", rule, "ws://127.0.0.1:9/"]);
        out.assert_code(2);
        assert!(out.stderr.contains(says), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn reconnect_survives_two_abnormal_ends_and_sends_the_preamble_each_time() {
    let server = NodeServer::with_args(&["--fail-first"]);
    let out = wscope(&[
        "--json",
        "--reconnect",
        "3",
        "--reconnect-delay",
        "0.1",
        "-x",
        "hello",
        &server.url(),
    ]);
    out.assert_code(0);
    let reconnects = out.events_named("reconnect");
    assert_eq!(reconnects.len(), 2, "{out}");
    assert_eq!(reconnects[0]["attempt"], 1);
    assert_eq!(reconnects[0]["of"], 3);
    let first = reconnects[0]["cause"].as_str().unwrap();
    assert!(first.contains("1011"), "{first}");
    let second = reconnects[1]["cause"].as_str().unwrap();
    assert!(second.contains("without a Close frame"), "{second}");
    // Three connections, the preamble on each; only the last echoed it.
    assert_eq!(out.events_named("connect").len(), 3);
    assert_eq!(sent_texts(&out), ["hello", "hello", "hello"]);
    assert_eq!(incoming_messages(&out), ["hello"]);
}

#[test]
fn reconnect_to_a_refused_port_waits_between_attempts_and_gives_up() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = std::time::Instant::now();
    let out = wscope(&[
        "--json",
        "--reconnect",
        "3",
        "--reconnect-delay",
        "0.2",
        &format!("ws://127.0.0.1:{port}/"),
    ]);
    let elapsed = started.elapsed();
    out.assert_code(1);
    let reconnects = out.events_named("reconnect");
    let delays: Vec<f64> = reconnects
        .iter()
        .map(|r| r["delay_s"].as_f64().unwrap())
        .collect();
    // The delay doubles: 0.2 + 0.4 + 0.8 s, never a spin.
    assert_eq!(delays, [0.2, 0.4, 0.8], "{out}");
    assert!(reconnects
        .iter()
        .all(|r| r["cause"].as_str().unwrap().contains("refused")));
    assert!(
        elapsed >= std::time::Duration::from_millis(1400),
        "three attempts took only {elapsed:?}: not waiting between them"
    );
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

#[test]
fn a_close_the_user_asked_for_is_not_a_reason_to_reconnect() {
    let server = NodeServer::start();
    let out = wscope(&[
        "--json",
        "--reconnect",
        "always",
        "-x",
        "once",
        &server.url(),
    ]);
    out.assert_code(0);
    assert!(out.events_named("reconnect").is_empty(), "{out}");
    assert_eq!(incoming_messages(&out), ["once"]);
}

/// Reads a request head up to its blank line, for a peer that answers it
/// by hand.
fn read_head(stream: &mut std::net::TcpStream) {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
        head.push(byte[0]);
    }
}

#[test]
fn an_upgrade_answered_503_is_tried_again_and_a_404_is_not() {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        // A server behind a gateway, starting: 503 first, then the upgrade.
        let (mut stream, _) = listener.accept().unwrap();
        read_head(&mut stream);
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 8\r\nConnection: close\r\n\r\nstarting")
            .unwrap();
        drop(stream);
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        while let Ok(message) = ws.read() {
            if message.is_text() {
                ws.send(message).unwrap();
            }
        }
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&[
        "--json",
        "--reconnect",
        "2",
        "--reconnect-delay",
        "0.1",
        "-x",
        "hi",
        &url,
    ]);
    out.assert_code(0);
    let reconnects = out.events_named("reconnect");
    assert_eq!(reconnects.len(), 1, "{out}");
    let cause = reconnects[0]["cause"].as_str().unwrap();
    assert!(cause.contains("503 Service Unavailable"), "{cause}");
    assert_eq!(incoming_messages(&out), ["hi"]);

    // A 404 will not change by waiting: no second attempt.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            read_head(&mut stream);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&[
        "--json",
        "--reconnect",
        "2",
        "--reconnect-delay",
        "0.1",
        &url,
    ]);
    out.assert_code(1);
    assert!(out.events_named("reconnect").is_empty(), "{out}");
    assert_eq!(out.single("error")["stage"], "handshake");
}

#[test]
fn a_server_that_drops_the_connection_at_our_close_is_not_reconnected() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut ws = tungstenite::accept(stream.unwrap()).unwrap();
            // Echoes, and at our Close goes away without answering it.
            while let Ok(message) = ws.read() {
                if message.is_close() {
                    break;
                }
                ws.send(message).unwrap();
            }
        }
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&["--json", "--reconnect", "3", "-x", "hello", &url]);
    out.assert_code(3);
    assert!(out.events_named("reconnect").is_empty(), "{out}");
    assert_eq!(out.events_named("connect").len(), 1, "{out}");
    assert_eq!(incoming_messages(&out), ["hello"]);
}
