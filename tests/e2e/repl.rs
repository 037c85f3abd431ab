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

use crate::common::{EchoServer, PythonServer, Script, ScriptedServer};

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
    // Said once, on stderr (the terminal), since nothing else shows it.
    let said = p.exp_string("Ctrl-D closes").unwrap();
    assert!(
        said.contains("wscope: connected to ws://127.0.0.1:"),
        "{said}"
    );
    assert!(
        said.contains("there is no prompt: each line you type is sent as a text message"),
        "{said}"
    );
    p.send_line("typed at the terminal").unwrap();
    p.send_control('d').unwrap();
    let rest = p.exp_string("exit=0").unwrap();
    assert!(!rest.contains("no prompt"), "said twice: {rest}");
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

/// wscope at a terminal of `columns` columns, as `prompt_session`.
fn sized_session(columns: u16, args: &[&str], state: &tempfile::TempDir) -> PtySession {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "stty cols {columns} rows 24 && exec \"$0\" --color never \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_wscope"))
        .args(args)
        .env("XDG_STATE_HOME", state.path())
        .env("TERM", "xterm");
    let mut p = spawn_with_options(cmd, pty_options()).expect("spawning wscope in a pty");
    p.exp_string(PROMPT).expect("the prompt appears");
    p
}

/// Everything wscope printed from now until it exits. The pty reader
/// hands over one char per byte: put the UTF-8 back together.
fn rest_of_output(p: &mut PtySession) -> String {
    let raw = p.exp_eof().expect("wscope ends its output");
    let bytes: Vec<u8> = raw.chars().map(|c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn an_80_column_terminal_gets_one_line_per_frame_with_its_preview() {
    let server = EchoServer::start();
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let state = tempfile::tempdir().unwrap();
    let mut p = sized_session(80, &[&url], &state);
    let long = "tick ".repeat(60);
    p.send_line("hello").unwrap();
    p.send_line(long.trim_end()).unwrap();
    p.send_line("/frame op=text fin=0 text=part").unwrap();
    p.send_line("/quit").unwrap();
    let output = rest_of_output(&mut p);
    assert!(output.contains("← text   5 \"hello\""), "{output}");
    assert!(output.contains("→ text   fin=0 4 \"part\""), "{output}");
    let frame_lines: Vec<String> = output
        .split(['\r', '\n'])
        .filter(|l| l.contains("] → ") || l.contains("] ← "))
        .map(without_escapes)
        .collect();
    assert!(frame_lines.len() >= 3, "{output}");
    for line in &frame_lines {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
        assert!(!line.contains("rsv=000"), "not the wide view: {line:?}");
    }
    let echoed = frame_lines
        .iter()
        .find(|l| l.contains("← text   299 \"tick tick"))
        .unwrap_or_else(|| panic!("the long echo on one line: {frame_lines:?}"));
    assert!(echoed.ends_with('…'), "{echoed:?}");
    assert_eq!(exit_code(&p), 0);
}

/// A screen line as it shows: the terminal's control sequences removed.
fn without_escapes(line: &str) -> String {
    let mut shown = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            shown.push(c);
        }
    }
    shown
}

#[test]
fn a_wide_terminal_and_layout_wide_keep_the_full_decoding() {
    let server = EchoServer::start();
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let state = tempfile::tempdir().unwrap();
    for (columns, args) in [
        (160, vec![url.as_str()]),
        (80, vec!["--layout", "wide", &url]),
    ] {
        let mut p = sized_session(columns, &args, &state);
        p.send_line("hello").unwrap();
        p.exp_regex(r"text +fin=1 rsv=000 op=0x1 unmasked len=5 \(7-bit\) hdr=2 \x22hello\x22")
            .unwrap_or_else(|e| panic!("{columns} columns {args:?}: {e}"));
        p.send_line("/quit").unwrap();
        assert_eq!(exit_code(&p), 0);
    }
}

#[test]
fn the_session_ends_without_a_stray_prompt() {
    let server = EchoServer::start();
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&url, &state);
    p.send_line("/close 4000 bye").unwrap();
    let output = rest_of_output(&mut p);
    let closed = output.rfind("closed:").expect("the close is shown");
    // The prompt may be redrawn under the last line, but it is then wiped.
    let prompt = output.rfind(PROMPT).unwrap_or(0);
    let wiped = output.rfind("\r\x1b[2K").expect("the prompt line is wiped");
    assert!(wiped > prompt && wiped > closed, "{output:?}");
    assert_eq!(exit_code(&p), 0, "the server echoed our own code");
}

#[test]
fn a_line_typed_while_closing_is_reported_once() {
    // A server that never answers the Close.
    let server = ScriptedServer::start(Script::frames(Vec::new()));
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    p.send_line("/close").unwrap();
    p.exp_string("code=1000").unwrap();
    p.send_line("too late").unwrap();
    p.exp_string("not sent: the connection is closing").unwrap();
    p.send_control('c').unwrap();
    let output = rest_of_output(&mut p);
    assert!(!output.contains("not sent"), "reported twice: {output:?}");
    assert_eq!(exit_code(&p), 0, "the user quit");
}

#[test]
fn tab_lists_close_codes_and_reporting_only_codes_only_after_close_bang() {
    let server = EchoServer::start();
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&url, &state);
    p.send("/close \t\t").unwrap();
    p.flush().unwrap();
    let listed = p.exp_string("try-again-later (1013)").unwrap();
    assert!(listed.contains("normal (1000)"), "{listed:?}");
    assert!(listed.contains("going-away (1001)"), "{listed:?}");
    assert!(!listed.contains("abnormal"), "{listed:?}");
    // Clear the line, then the same after /close!.
    p.send_control('c').unwrap();
    p.send("/close! ab\t").unwrap();
    p.flush().unwrap();
    p.exp_string("abnormal ").unwrap();
    p.send_control('c').unwrap();
    p.send_line("/close going-away").unwrap();
    p.exp_string("code=1001").unwrap();
    p.exp_string("closed:").unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn json_typed_over_several_lines_or_pasted_goes_out_as_one_message() {
    let server = ScriptedServer::start(Script::recording());
    let state = tempfile::tempdir().unwrap();
    let mut p = prompt_session(&server.url("/"), &state);
    // Typed: Enter inside an open object starts a new line.
    p.send("{\r").unwrap();
    p.send("  \"id\": 1,\r").unwrap();
    p.send("  \"tags\": [\"a\",\r").unwrap();
    p.send("\"b\"]\r").unwrap();
    p.send("}\r").unwrap();
    p.flush().unwrap();
    // Pasted (bracketed paste), then /json over two lines.
    p.send("\x1b[200~[1,\n 2]\x1b[201~\r").unwrap();
    p.send("/json {\"x\":\r").unwrap();
    p.send("true}\r").unwrap();
    p.send("/json {bad}\r").unwrap();
    p.flush().unwrap();
    p.exp_string("/json: not valid JSON").unwrap();
    p.send_line("/quit").unwrap();
    p.exp_string("closed:").unwrap();
    assert_eq!(exit_code(&p), 0);
    let frames = wire_frames(&server.log().after_head);
    let texts: Vec<String> = frames
        .iter()
        .filter(|f| f.first_byte == 0x81)
        .map(|f| String::from_utf8(f.payload.clone()).unwrap())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    let first: serde_json::Value = serde_json::from_str(&texts[0]).unwrap();
    assert_eq!(first, serde_json::json!({"id": 1, "tags": ["a", "b"]}));
    assert_eq!(texts[1], "[1,\n 2]");
    assert_eq!(texts[2], "{\"x\":\ntrue}");
}

#[test]
fn json_payloads_at_the_prompt_compact_pretty_and_raw() {
    // Line ends come back from the terminal as \r\r\n.
    for (args, shows) in [
        (vec![], r#"\{"id": 7, "ok": true\}"#),
        (vec!["--pretty"], r#"\n  "id": 7,\r*\n  "ok": true\r*\n\}"#),
        (vec!["--no-pretty"], r#""\{\\"id\\":7,\\"ok\\":true\}""#),
    ] {
        let server = EchoServer::start();
        let url = format!("ws://127.0.0.1:{}/", server.port());
        let state = tempfile::tempdir().unwrap();
        let mut all = args.clone();
        all.push(&url);
        let mut p = sized_session(120, &all, &state);
        p.send_line(r#"{"id":7,"ok":true}"#).unwrap();
        p.exp_regex(shows)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        p.send_line("/quit").unwrap();
        assert_eq!(exit_code(&p), 0);
    }
}

/// A compact frame or message line, split: its arrow, kind, flags, size
/// and preview.
fn compact_parts(line: &str) -> (String, String, String, String, String) {
    let parts =
        regex::Regex::new(r"^\[[^\]]*\] (.) (\w+) +((?:[a-z=0-9]+ )*?)(\d+(?:→\d+)?) (.*)$")
            .unwrap();
    let c = parts
        .captures(line)
        .unwrap_or_else(|| panic!("not a compact line: {line:?}"));
    let part = |i: usize| c[i].trim_end().to_string();
    (part(1), part(2), part(3), part(4), part(5))
}

#[test]
fn a_compressed_session_reads_like_a_plain_one_in_80_columns() {
    let server = PythonServer::with_args(None, &["--deflate"]);
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let state = tempfile::tempdir().unwrap();
    let big = state.path().join("big.bin");
    let mebibyte: Vec<u8> = (0..1u32 << 20).map(|i| (i % 13) as u8).collect();
    std::fs::write(&big, &mebibyte).unwrap();
    // Compressible even at the fast level, so it goes compressed.
    let json = r#"{"id": 3, "op": "subscribe", "channels": ["trades","trades","trades"], "filter": {"trades": 1}}"#;
    for style in [None, Some("--no-pretty")] {
        let mut screens = Vec::new();
        for deflate in [false, true] {
            let mut args: Vec<&str> = style.into_iter().collect();
            if deflate {
                args.push("--deflate");
            }
            args.push(&url);
            let mut p = sized_session(80, &args, &state);
            p.send_line(json).unwrap();
            p.send_line(&format!("/file {}", big.display())).unwrap();
            // The mebibyte goes out and comes back before we close.
            let mut raw = String::new();
            for _ in 0..2 {
                raw += &p.exp_string("1048576 hex:").unwrap();
                raw += "1048576 hex:";
            }
            p.send_line("/quit").unwrap();
            let bytes: Vec<u8> = raw.chars().map(|c| c as u8).collect();
            let output = String::from_utf8_lossy(&bytes).into_owned() + &rest_of_output(&mut p);
            assert_eq!(exit_code(&p), 0, "{output}");
            let lines: Vec<String> = output
                .split(['\r', '\n'])
                .filter(|l| l.contains("] → ") || l.contains("] ← "))
                .map(without_escapes)
                .collect();
            for line in &lines {
                assert!(line.chars().count() <= 80, "wider than 80: {line:?}");
            }
            screens.push(lines);
        }
        // Each way: the text, the binary and the Close, one line each
        // (the answers may come between what we send).
        let way = |lines: &[String], arrow: &str| -> Vec<String> {
            let arrow = format!("] {arrow} ");
            lines
                .iter()
                .filter(|l| l.contains(&arrow))
                .cloned()
                .collect()
        };
        let mut compressed = Vec::new();
        for arrow in ["→", "←"] {
            let (plain, zipped) = (way(&screens[0], arrow), way(&screens[1], arrow));
            assert_eq!(plain.len(), 3, "{style:?}: {plain:#?}");
            assert_eq!(zipped.len(), 3, "{style:?}: {zipped:#?}");
            for (p, c) in plain.iter().zip(&zipped).take(2) {
                let (p_dir, p_kind, p_flags, p_size, p_body) = compact_parts(p);
                let (c_dir, c_kind, c_flags, c_size, c_body) = compact_parts(c);
                assert_eq!((&c_dir, &c_kind), (&p_dir, &p_kind), "{c}");
                assert_eq!((p_flags.as_str(), c_flags.as_str()), ("", "z"), "{p}\n{c}");
                let (on_wire, inflated) = c_size.split_once('→').expect("z WIRE→LEN");
                assert_eq!(inflated, p_size, "{c}");
                assert!(on_wire.parse::<u64>().is_ok(), "{c}");
                // The same preview, cut a little earlier for the longer size.
                let shown = c_body.trim_end_matches('…');
                assert!(
                    p_body.starts_with(shown) && shown.len() > 20,
                    "{style:?}:\n{p}\n{c}"
                );
            }
            compressed.extend(zipped);
        }
        assert!(compressed[0].contains("→ text   z "), "{compressed:#?}");
        assert!(compressed[1].contains("→ binary z "), "{compressed:#?}");
        assert!(
            compressed[4].contains("→1048576 hex:000102"),
            "{compressed:#?}"
        );
        let json_shown = if style.is_none() {
            r#" {"id": 3, "op": "subscribe""#
        } else {
            r#" "{\"id\": 3, \"op\": \"subscribe\""#
        };
        assert!(
            compressed[3].contains(json_shown),
            "{style:?}: {compressed:#?}"
        );
    }
}
