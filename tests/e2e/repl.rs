//! The interactive prompt, driven in a pseudo-terminal as a person would:
//! what is typed must reach the server byte for byte, output must not
//! disturb a half-typed line, and bad input must not end the session.

use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rexpect::process::WaitStatus;
use rexpect::session::{spawn_with_options, PtySession};
use tungstenite::Message;

use crate::common::{Script, ScriptedServer};

const PROMPT: &str = "wscope> ";

/// What the screen shows is read raw, escapes included.
fn pty_options() -> rexpect::reader::Options {
    rexpect::reader::Options::new()
        .timeout_ms(Some(15_000))
        .strip_ansi_escape_codes(false)
}

/// wscope at a terminal, with its own history file and no colour.
fn prompt_session(url: &str, state: &tempfile::TempDir) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wscope"));
    cmd.args(["--color", "never", url])
        .env("XDG_STATE_HOME", state.path())
        .env("TERM", "xterm");
    let mut p = spawn_with_options(cmd, pty_options()).expect("spawning wscope in a pty");
    p.exp_string(PROMPT).expect("the prompt appears");
    p
}

fn exit_code(p: &PtySession) -> i32 {
    match p.process().wait().expect("wscope exits") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("wscope did not exit normally: {other:?}"),
    }
}

/// One frame as the client put it on the wire.
#[derive(Debug, PartialEq, Eq)]
struct WireFrame {
    first_byte: u8,
    masked: bool,
    payload: Vec<u8>,
}

fn wire_frames(mut bytes: &[u8]) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let masked = bytes[1] & 0x80 != 0;
        let (len, mut at) = match bytes[1] & 0x7f {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = masked.then(|| bytes[at..at + 4].to_vec());
        if masked {
            at += 4;
        }
        let mut payload = bytes[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push(WireFrame {
            first_byte: bytes[0],
            masked,
            payload,
        });
        bytes = &bytes[at + len..];
    }
    frames
}

fn masked(first_byte: u8, payload: &[u8]) -> WireFrame {
    WireFrame {
        first_byte,
        masked: true,
        payload: payload.to_vec(),
    }
}

#[test]
fn typed_commands_reach_the_server_byte_for_byte() {
    let server = ScriptedServer::start(Script::recording());
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    // Each line is typed once the previous one has gone out, as a person
    // would; what shows is the frame line for what was sent.
    for (line, shown) in [
        ("hello", "\"hello\""),
        ("/hex 48 65:6c 0x6c6f", "hex:48656c6c6f"),
        ("/b64 AQID", "hex:010203"),
        ("/ping hex:0102", "op=0x9"),
        ("/text /not-a-command", "\"/not-a-command\""),
        ("/frame op=text fin=0 text=hel", "\"hel\""),
        ("/frame op=cont fin=1 text=lo", "\"lo\""),
        ("/frame op=binary mask=off hex=ca fe", "unmasked len=2"),
        (
            "/frame op=0x3 rsv1=1 mask=0a0b0c0d text=odd",
            "rsv=100 op=0x3 mask=0a0b0c0d",
        ),
        ("/close 4001 done here", "reason=\"done here\""),
    ] {
        p.send_line(line).unwrap();
        p.exp_string(shown)
            .unwrap_or_else(|e| panic!("after {line:?}: {e}"));
    }
    p.exp_string("closed:")
        .expect("the close handshake is reported");
    // The server echoes the code the user chose: a normal end.
    assert_eq!(exit_code(&p), 0, "the server echoed our 4001");

    let log = server.log();
    let mut close_payload = 4001u16.to_be_bytes().to_vec();
    close_payload.extend_from_slice(b"done here");
    let expected = vec![
        masked(0x81, b"hello"),
        masked(0x82, b"Hello"),
        masked(0x82, &[1, 2, 3]),
        masked(0x89, &[1, 2]),
        masked(0x81, b"/not-a-command"),
        masked(0x01, b"hel"),
        masked(0x80, b"lo"),
        WireFrame {
            first_byte: 0x82,
            masked: false,
            payload: vec![0xca, 0xfe],
        },
        masked(0x80 | 0x40 | 0x03, b"odd"),
        masked(0x88, &close_payload),
    ];
    assert_eq!(wire_frames(&log.after_head), expected);
    // The chosen masking key is used as given.
    let odd = log
        .after_head
        .windows(4)
        .any(|w| w == [0x0a, 0x0b, 0x0c, 0x0d]);
    assert!(odd, "mask=0a0b0c0d should appear on the wire");
}

#[test]
fn lines_typed_ahead_all_go_out_in_order() {
    let server = ScriptedServer::start(Script::recording());
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    // Several lines in one write reach the terminal in one read: a fast
    // typist, or keys queued while wscope is busy.
    let lines = ["one", "two", "/hex 0a0b", "three", "/quit"];
    p.send(&lines.map(|l| format!("{l}\r")).concat()).unwrap();
    p.flush().unwrap();
    p.exp_string("closed:").unwrap();
    assert_eq!(exit_code(&p), 0);
    let frames = wire_frames(&server.log().after_head);
    assert_eq!(
        frames,
        vec![
            masked(0x81, b"one"),
            masked(0x81, b"two"),
            masked(0x82, &[0x0a, 0x0b]),
            masked(0x81, b"three"),
            masked(0x88, &1000u16.to_be_bytes()),
        ]
    );
}

#[test]
fn a_message_arriving_mid_line_is_shown_and_leaves_the_line_intact() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (push, pushed) = mpsc::channel::<()>();
    let (got_tx, got) = mpsc::channel::<String>();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        pushed.recv().unwrap();
        ws.send(Message::text("pushed while typing")).unwrap();
        while let Ok(msg) = ws.read() {
            if let Message::Text(t) = msg {
                got_tx.send(t.to_string()).unwrap();
            }
        }
    });
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&format!("ws://127.0.0.1:{port}/"), &state);
    p.send("half typed").unwrap();
    p.flush().unwrap();
    p.exp_string("half typed").unwrap();
    push.send(()).unwrap();
    p.exp_string("pushed while typing").unwrap();
    p.send_line(" and finished").unwrap();
    let sent = got.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(sent, "half typed and finished");
    p.send_control('d').unwrap();
    p.exp_string("closed:").unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn bad_input_is_explained_and_the_session_goes_on() {
    let server = ScriptedServer::start(Script::recording());
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    for (line, error) in [
        ("/hex 4g", "'g' at position 2 is not a hex digit"),
        ("/hex 123", "odd number of digits"),
        ("/close 1005", "use /close! 1005 to send it anyway"),
        ("/close 70000", "out of range"),
        ("/pnig", "unknown command '/pnig'"),
        ("/frame op=99", "does not fit in 4 bits"),
    ] {
        p.send_line(line).unwrap();
        p.exp_string(error)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    p.send_line("still here").unwrap();
    p.exp_string("\"still here\"").unwrap();
    p.send_line("/quit").unwrap();
    p.exp_string("closed:").unwrap();
    assert_eq!(exit_code(&p), 0);
    let frames = wire_frames(&server.log().after_head);
    assert_eq!(
        frames.len(),
        2,
        "only the good line and the close: {frames:?}"
    );
    assert_eq!(frames[0], masked(0x81, b"still here"));
    assert_eq!(frames[1], masked(0x88, &1000u16.to_be_bytes()));
}

#[test]
fn ctrl_c_closes_and_a_second_ctrl_c_quits_at_once() {
    // A server that never answers the Close.
    let server = ScriptedServer::start(Script::frames(Vec::new()));
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    p.send("some text").unwrap();
    p.flush().unwrap();
    p.exp_string("some text").unwrap();
    // The first Ctrl-C only clears the line.
    p.send_control('c').unwrap();
    p.send_control('c').unwrap();
    p.exp_string("Ctrl-C again to quit").unwrap();
    p.exp_string("code=1000").unwrap();
    p.send_control('c').unwrap();
    assert_eq!(exit_code(&p), 0, "the user quit");
    let frames = wire_frames(&server.log().after_head);
    assert_eq!(frames, vec![masked(0x88, &1000u16.to_be_bytes())]);
}

#[test]
fn history_is_kept_across_runs() {
    let state = tempfile::tempdir().unwrap();
    for (line, shown) in [
        ("first run line", "\"first run line\""),
        ("/status", "frames"),
    ] {
        let server = ScriptedServer::start(Script::recording());
        let mut p = prompt_session(&server.url("/"), &state);
        p.send_line(line).unwrap();
        p.exp_string(shown).unwrap();
        p.send_line("/quit").unwrap();
        p.exp_string("closed:").unwrap();
        assert_eq!(exit_code(&p), 0);
    }
    let history = std::fs::read_to_string(state.path().join("wscope/history")).unwrap();
    let lines: Vec<&str> = history.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, vec!["first run line", "/quit", "/status", "/quit"]);
}

/// The pid of the one child of `parent` (Linux's /proc children list).
fn only_child(parent: u32) -> u32 {
    for _ in 0..100 {
        let path = format!("/proc/{parent}/task/{parent}/children");
        let children = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("{parent} has no child");
}

#[test]
fn a_signal_at_the_prompt_restores_the_terminal() {
    // SIGINT at the prompt is taken as the prompt's Ctrl-C (Close 1000);
    // SIGTERM says the process is going away (Close 1001).
    for (signal, code) in [(libc::SIGTERM, 1001u16), (libc::SIGINT, 1000)] {
        let server = ScriptedServer::start(Script::recording());
        let state = tempfile::tempdir().unwrap();
        // A shell prints the terminal's settings, runs wscope, then prints
        // them again as it finds them when wscope is gone.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo \"shell=$$ before=$(stty -g)\"; \"$0\" --color never \"$1\"; echo \"exit=$? after=$(stty -g) end\"",
            env!("CARGO_BIN_EXE_wscope"),
            &server.url("/"),
        ])
        .env("XDG_STATE_HOME", state.path())
        .env("TERM", "xterm");
        let mut p = spawn_with_options(cmd, pty_options()).expect("spawning sh in a pty");
        let (_, shell) = p.exp_regex(r"shell=\d+ before=\S+").unwrap();
        let (shell, before) = shell.split_once(" before=").unwrap();
        let shell: u32 = shell["shell=".len()..].parse().unwrap();
        p.exp_string(PROMPT).unwrap();
        p.send("half typed").unwrap();
        p.flush().unwrap();
        p.exp_string("half typed").unwrap();
        let wscope = only_child(shell);
        // SAFETY: signalling a process this test started.
        unsafe { libc::kill(wscope as i32, signal) };
        let (_, after) = p.exp_regex(r"exit=\d+ after=\S+ end").unwrap();
        assert_eq!(
            after,
            format!("exit=0 after={before} end"),
            "signal {signal}: the settings from before the prompt are back"
        );
        let frames = wire_frames(&server.log().after_head);
        assert_eq!(
            frames,
            vec![masked(0x88, &code.to_be_bytes())],
            "signal {signal}: the half-typed line is not sent"
        );
    }
}

#[test]
fn with_stdout_redirected_typed_lines_are_sent_without_a_prompt() {
    let server = crate::common::EchoServer::start();
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out.txt");
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "\"$0\" \"$1\" > \"$2\"; echo \"exit=$?\"",
        env!("CARGO_BIN_EXE_wscope"),
        &server.url("/"),
        out.to_str().unwrap(),
    ])
    .env("XDG_STATE_HOME", state.path());
    let mut p = spawn_with_options(cmd, pty_options()).expect("spawning sh in a pty");
    // No prompt to wait for: wait until the server has the connection.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.paths().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never connected");
        thread::sleep(Duration::from_millis(20));
    }
    p.send_line("typed at the terminal").unwrap();
    p.send_control('d').unwrap();
    p.exp_string("exit=0").unwrap();
    let echoed = std::fs::read_to_string(&out).unwrap();
    assert_eq!(echoed, "typed at the terminal\n");
}

#[test]
fn bytes_that_are_not_utf8_at_the_prompt_do_not_end_the_session() {
    let server = ScriptedServer::start(Script::recording());
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    p.send("ab").unwrap();
    p.flush().unwrap();
    p.exp_string("ab").unwrap();
    // A stray byte that no terminal would send as text.
    {
        use std::io::Write as _;
        let mut terminal = p.process().get_file_handle().unwrap();
        terminal.write_all(&[0xff, 0xfe]).unwrap();
        terminal.flush().unwrap();
    }
    p.exp_string("not UTF-8 were dropped").unwrap();
    p.send_line("still here").unwrap();
    p.exp_string("\"still here\"").unwrap();
    p.send_line("/quit").unwrap();
    p.exp_string("closed:").unwrap();
    assert_eq!(exit_code(&p), 0);
    let frames = wire_frames(&server.log().after_head);
    assert_eq!(frames.first(), Some(&masked(0x81, b"still here")));
    assert!(
        frames.iter().all(|f| !f.payload.contains(&0xff)),
        "{frames:?}"
    );
}

#[test]
fn after_quit_one_ctrl_c_quits_at_once() {
    // A server that never answers the Close.
    let server = ScriptedServer::start(Script::frames(Vec::new()));
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    p.send_line("/quit").unwrap();
    p.exp_string("press Ctrl-C to quit at once").unwrap();
    p.exp_string("code=1000").unwrap();
    p.send_control('c').unwrap();
    assert_eq!(exit_code(&p), 0, "the user quit");
}
