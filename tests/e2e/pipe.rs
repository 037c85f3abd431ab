//! Pipe mode: nothing lost, stop conditions, keepalive, and a server that
//! closes first. The lossless runs go through Node's `ws`, which echoes a
//! message before it handles a Close that follows it.

use std::time::Duration;

use crate::common::{
    close_frame, incoming_messages, wscope, wscope_with_paced_stdin, wscope_with_stdin, After,
    EchoConfig, EchoServer, NodeServer, Script, ScriptedServer,
};

/// Deterministic bytes (xorshift), so a failure can be reproduced.
fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn a_hundred_thousand_lines_come_back_exactly_through_node_ws() {
    let server = NodeServer::start();
    let mut input = String::new();
    for i in 0..100_000 {
        input.push_str(&format!(
            "line {i} ünïcödé \"quoted\" \\ {}\n",
            "x".repeat(i % 50)
        ));
    }
    let out = wscope_with_stdin(&[&server.url()], input.as_bytes());
    out.assert_code(0);
    assert!(
        out.stdout == input,
        "echoed lines differ; stderr: {}",
        out.stderr
    );
}

#[test]
fn a_binary_file_comes_back_byte_for_byte_through_node_ws() {
    let server = NodeServer::start();
    let data = pseudo_random(3 * 1024 * 1024 + 17, 0x9e37_79b9_7f4a_7c15);
    let out = wscope_with_stdin(
        &["--binary", "--raw", "--chunk-size", "65536", &server.url()],
        &data,
    );
    out.assert_code(0);
    assert!(out.stdout_bytes == data, "the echoed file differs");
    // Each chunk is one message of --chunk-size bytes.
    let json = wscope_with_stdin(
        &["--binary", "--json", "--chunk-size", "65536", &server.url()],
        &data[..200_000],
    );
    json.assert_code(0);
    let sizes: Vec<u64> = json
        .events_named("message")
        .iter()
        .filter(|m| m["dir"] == "in")
        .map(|m| m["len"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [65536, 65536, 65536, 3392]);
}

#[test]
fn hex_lines_are_binary_messages_and_bad_ones_are_named() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(
        &["--hex", &server.url("/")],
        b"48656c6c6f\n0x01 02:03\nzz\n",
    );
    // Everything good was sent; the refused line makes the run fail.
    out.assert_code(2);
    assert_eq!(out.stdout, "48656c6c6f\n010203\n");
    assert!(
        out.stderr.contains("stdin line 3") && out.stderr.contains("'z' at position 1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 input line was refused"),
        "{}",
        out.stderr
    );
}

#[test]
fn refused_script_lines_are_error_events_in_json() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(
        &["--slash", "--json", &server.url("/")],
        b"a\n/file /no/such/file\n/hex 0g\nb\n",
    );
    out.assert_code(2);
    assert_eq!(incoming_messages(&out), ["a", "b"]);
    let errors: Vec<String> = out
        .events_named("error")
        .iter()
        .map(|e| {
            assert_eq!(e["stage"], "usage", "{e}");
            e["message"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("stdin line 2: /file: cannot read /no/such/file")
            && errors[0].ends_with("; not sent"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("stdin line 3:") && errors[1].contains("'g' at position 2"),
        "{errors:?}"
    );
    // The close handshake was still normal.
    assert_eq!(out.single("close")["code"], 1000);
}

#[test]
fn slash_lines_are_commands() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(
        &["--slash", "--json", &server.url("/")],
        b"plain\n/hex 0102\n/ping hi\n/text /literal\n",
    );
    out.assert_code(0);
    let sent: Vec<(String, String)> = out
        .events_named("frame")
        .iter()
        .filter(|f| f["dir"] == "out")
        .map(|f| {
            (
                f["kind"].as_str().unwrap().into(),
                f["payload"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = [
        ("text", "plain"),
        ("binary", "0102"),
        ("ping", "hi"),
        ("text", "/literal"),
        ("close", "03e8"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(sent, expect);
}

#[test]
fn count_stops_after_n_messages() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(&["-n", "2", &server.url("/")], b"a\nb\nc\nd\n");
    out.assert_code(0);
    assert_eq!(out.stdout, "a\nb\n");
}

#[test]
fn until_stops_at_the_first_match() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(
        &["--until", "^st.p$", &server.url("/")],
        b"go\nstep\nstop\nafter\n",
    );
    out.assert_code(0);
    assert_eq!(out.stdout, "go\nstep\n");
}

#[test]
fn count_and_until_wait_for_a_server_that_speaks_late_even_without_input() {
    for stop in [["-n", "1"], ["--until", "hello$"]] {
        let server = EchoServer::with(EchoConfig {
            greet: Some((Duration::from_millis(300), "late hello".to_string())),
            ..EchoConfig::default()
        })
        .unwrap();
        let out = wscope(&[stop[0], stop[1], &server.url("/")]);
        out.assert_code(0);
        assert_eq!(out.stdout, "late hello\n", "{stop:?}: {out}");
    }
}

#[test]
fn a_bad_until_pattern_is_a_usage_error() {
    let out = wscope(&["--until", "(", "ws://127.0.0.1:1/"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--until"), "{}", out.stderr);
}

#[test]
fn stdin_closed_at_once_closes_normally() {
    let server = EchoServer::start();
    let out = wscope(&["--json", &server.url("/")]);
    out.assert_code(0);
    assert!(out.events_named("message").is_empty());
    assert_eq!(out.single("close")["initiator"], "local");
}

#[test]
fn a_server_closing_first_ends_the_run_and_reports_unsent_input() {
    let server = EchoServer::with(EchoConfig {
        close_after: Some((3, 4001)),
        ..Default::default()
    })
    .unwrap();
    // More lines than the server takes; the last arrive after its Close.
    let chunks = vec![
        (Duration::ZERO, b"1\n2\n3\n".to_vec()),
        (Duration::from_millis(300), b"4\n5\n".to_vec()),
    ];
    let out = wscope_with_paced_stdin(&[&server.url("/")], chunks);
    out.assert_code(4);
    assert_eq!(out.stdout, "1\n2\n3\n");
    assert!(
        out.stderr.contains("not sent"),
        "unsent input is reported: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("closed the connection with 4001"),
        "the close that makes exit 4 is explained: {}",
        out.stderr
    );
}

#[test]
fn a_close_that_makes_a_nonzero_exit_is_explained_on_stderr() {
    let server = ScriptedServer::start(Script::frames(close_frame(4000, "go away")));
    let out = wscope(&["-w", "5", &server.url("/")]);
    out.assert_code(4);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr.trim_end(),
        "wscope: the server closed the connection with 4000 reason=\"go away\"",
        "one line, and no word of unsent input when stdin was empty"
    );
}

#[test]
fn keepalive_pings_are_answered_and_timed() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(
        &[
            "--json",
            "-w",
            "0.7",
            "--ping-interval",
            "0.2",
            "--ping-timeout",
            "1",
            &server.url("/"),
        ],
        b"",
    );
    out.assert_code(0);
    let pings = out
        .events_named("frame")
        .iter()
        .filter(|f| f["dir"] == "out" && f["kind"] == "ping")
        .count();
    let pongs = out
        .events_named("frame")
        .iter()
        .filter(|f| f["dir"] == "in" && f["kind"] == "pong")
        .count();
    assert!(pings >= 2, "pings every 0.2 s for 0.7 s: {pings}");
    assert_eq!(pings, pongs);
    // Each pong's round trip is shown, and summed up at the end.
    let notices: Vec<String> = out
        .events_named("notice")
        .iter()
        .map(|n| n["message"].as_str().unwrap().to_string())
        .collect();
    let timed = notices
        .iter()
        .filter(|n| n.starts_with("keepalive pong: round trip "))
        .count();
    assert_eq!(timed, pongs, "{notices:?}");
    let summary = format!("round trips of {pongs} pings: min ");
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with(&summary) && n.contains(", median ")),
        "{notices:?}"
    );
}

#[test]
fn max_time_bounds_the_whole_run() {
    // A server that answers nothing and never closes.
    let server = ScriptedServer::start(Script {
        response: None,
        bytes: Vec::new(),
        after: After::ReadToEnd,
    });
    // -w 30 would keep it 30 s after stdin's end; --max-time ends it first.
    let out = wscope(&["--max-time", "0.5", "-w", "30", &server.url("/")]);
    out.assert_code(3);
    assert!(
        out.stderr
            .contains("--max-time reached: closed without waiting for the server's reply"),
        "{}",
        out.stderr
    );

    // A server that never answers the upgrade: the opening is bounded too.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let out = wscope(&["--max-time", "0.3", &format!("ws://127.0.0.1:{port}/")]);
    out.assert_code(1);
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    drop(silent);
}

#[test]
fn a_missing_pong_is_a_lost_connection() {
    // Reads everything, answers nothing.
    let server = ScriptedServer::start(Script {
        response: None,
        bytes: Vec::new(),
        after: After::ReadToEnd,
    });
    let out = wscope_with_paced_stdin(
        &[
            "--ping-interval",
            "0.2",
            "--ping-timeout",
            "0.3",
            &server.url("/"),
        ],
        vec![(Duration::from_secs(2), b"late\n".to_vec())],
    );
    out.assert_code(3);
    assert!(out.stderr.contains("no pong within 0.3s"), "{}", out.stderr);
}

#[test]
fn a_message_over_max_message_size_fails_with_1009() {
    let big = crate::common::frame(true, 0, 2, false, &[7u8; 2000]);
    let server = ScriptedServer::start(Script::frames(big));
    // -w: no Close of our own goes out before the message arrives.
    let out = wscope(&[
        "--json",
        "-w",
        "5",
        "--max-message-size",
        "1000",
        &server.url("/"),
    ]);
    out.assert_code(3);
    let error = out.single("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("over the limit of 1000 (--max-message-size)"),
        "{error}"
    );
    let sent = server.log().client_frames();
    assert_eq!(
        sent.last().map(|(op, p)| (*op, p.clone())),
        Some((8, vec![0x03, 0xf1]))
    );
}

#[test]
fn status_in_a_script_counts_what_was_sent_before_it() {
    let server = EchoServer::start();
    let out = wscope_with_stdin(&["--slash", "-w", "0.3", &server.url("/")], b"a\n/status\n");
    out.assert_code(0);
    assert!(out.stderr.contains("out: 1 frames, 7 bytes"), "{out}");
}

#[test]
fn files_queued_behind_a_server_that_reads_nothing_are_not_held_in_memory() {
    // The server takes the connection and never reads: wscope's writes
    // block, and the 400 /file lines behind them must wait as paths.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let _ws = tungstenite::accept(stream).unwrap();
        std::thread::sleep(Duration::from_secs(30));
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.bin");
    std::fs::write(&file, vec![7u8; 1 << 20]).unwrap();
    let script = dir.path().join("script");
    let line = format!("/file {}\n", file.display());
    std::fs::write(&script, line.repeat(400)).unwrap();
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(format!(
        "exec '{}' --slash --max-time 3 ws://127.0.0.1:{port}/ < '{}'",
        env!("CARGO_BIN_EXE_wscope"),
        script.display()
    ));
    let (out, peak_kib) = crate::common::run_measured(command);
    out.assert_code(3);
    // 400 MiB if each file were read as its line was.
    assert!(peak_kib < 100 * 1024, "peak {peak_kib} KiB\n{out}");
}
