use crate::common::{wscope, Output};

/// Exit 2, no panic, and exactly one line on stderr, which is returned.
fn usage_error(args: &[&str]) -> String {
    let out = wscope(args);
    check_usage_error(&out)
}

fn check_usage_error(out: &Output) -> String {
    out.assert_code(2);
    out.assert_no_panic();
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr\n{out}");
    lines[0].to_string()
}

#[test]
fn http_scheme_is_rejected() {
    let line = usage_error(&["http://x"]);
    assert!(line.starts_with("wscope: error: "), "{line}");
    assert!(line.contains("http"), "does not name the scheme: {line}");
}

#[test]
fn a_url_without_a_scheme_suggests_the_url_meant() {
    let line = usage_error(&["127.0.0.1:8765"]);
    assert!(
        line.ends_with("did you mean ws://127.0.0.1:8765/ ?"),
        "{line}"
    );
    let line = usage_error(&["localhost:8765/"]);
    assert!(
        line.ends_with("did you mean ws://localhost:8765/ ?"),
        "{line}"
    );
    assert!(!line.contains("unsupported scheme"), "{line}");
}

#[test]
fn an_unreadable_ca_file_is_a_usage_error_even_for_ws() {
    // A ws:// URL may still be redirected to wss://: the file is read
    // first either way.
    let line = usage_error(&["--ca", "/nonexistent/ca.pem", "ws://127.0.0.1:9/"]);
    assert!(
        line.contains("cannot read --ca file /nonexistent/ca.pem"),
        "{line}"
    );
}

#[test]
fn url_without_host_is_rejected() {
    let line = usage_error(&["ws://"]);
    assert!(line.starts_with("wscope: error: "), "{line}");
}

#[test]
fn unknown_flag_is_rejected() {
    let line = usage_error(&["--bogus", "ws://127.0.0.1:9/"]);
    assert!(line.contains("--bogus"), "does not name the flag: {line}");
}

#[test]
fn missing_url_is_rejected() {
    let out = wscope(&[]);
    out.assert_code(2);
    out.assert_no_panic();
    assert!(!out.stderr.is_empty(), "{out}");
}

#[test]
fn bad_color_value_is_rejected() {
    let out = wscope(&["--color", "purple", "ws://127.0.0.1:9/"]);
    out.assert_code(2);
    out.assert_no_panic();
    assert!(out.stderr.contains("purple"), "{out}");
}

#[test]
fn usage_error_in_json_mode_is_also_an_error_event() {
    let out = wscope(&["--json", "http://x"]);
    check_usage_error(&out);
    let error = out.single("error");
    assert_eq!(error["stage"], "usage", "{error}");
}

#[test]
fn out_of_range_numbers_name_the_option_and_the_limit() {
    for (args, named, why) in [
        (["-w", "1e300"], "--wait", "more than"),
        (["-w", "-1"], "--wait", "negative"),
        (["--close-timeout", "1e19"], "--close-timeout", "more than"),
        (
            ["--connect-timeout", "0"],
            "--connect-timeout",
            "more than 0",
        ),
        (
            ["--ping-interval", "nan"],
            "--ping-interval",
            "not a number",
        ),
        (["-n", "0"], "--count", "1 or more"),
        (["-n", "many"], "--count", "not a whole number"),
    ] {
        let mut all = args.to_vec();
        all.push("ws://127.0.0.1:9/");
        let line = usage_error(&all);
        assert!(line.contains(named), "{args:?}: {line}");
        assert!(line.contains(why), "{args:?}: {line}");
    }
}

#[test]
fn an_invalid_choice_lists_the_valid_ones() {
    let line = usage_error(&["--tls-min", "1.1", "wss://127.0.0.1:9/"]);
    assert!(line.contains("[possible values: 1.2, 1.3]"), "{line}");
}

#[test]
fn echo_is_for_server_mode_only() {
    let line = usage_error(&["--echo", "ws://127.0.0.1:9/"]);
    assert!(line.contains("--echo"), "{line}");
}

#[test]
fn client_options_are_refused_in_server_mode() {
    for (args, named) in [
        (["-H", "A: b"], "--header"),
        (["--ca", "ca.pem"], "--ca"),
        (["--proxy", "http://127.0.0.1:9"], "--proxy"),
    ] {
        let mut all = vec!["--listen", "0"];
        all.extend(args);
        let line = usage_error(&all);
        assert!(line.contains("cannot be used with"), "{args:?}: {line}");
        assert!(line.contains(named), "{args:?}: {line}");
    }
}

#[test]
fn request_values_cannot_smuggle_header_lines() {
    for (args, named) in [
        (["--user-agent", "ua\r\nEvil: 1"], "--user-agent"),
        (["--origin", "http://x\r\nEvil: 1"], "--origin"),
        (["-H", "X-A: 1\nEvil: 1"], "-H 'X-A'"),
        (["-s", "chat\r\nEvil: 1"], "-s"),
    ] {
        let mut all = args.to_vec();
        all.push("ws://127.0.0.1:9/");
        let line = usage_error(&all);
        assert!(line.contains(named), "{args:?}: {line}");
    }
}
