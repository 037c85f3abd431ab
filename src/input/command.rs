//! Parsing what a user types (in the REPL, or in a pipe with --slash) into
//! a command. Pure: no I/O, so every rule is unit-tested and fuzzable, and
//! every error names what was wrong and where.

use std::path::PathBuf;
use std::time::Duration;

use crate::wire::close_code;
use crate::wire::raw::{CraftedFrame, Length, Mask};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Text(String),
    Binary(Vec<u8>),
    /// Binary read from a file when the command runs.
    File(PathBuf),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close {
        code: Option<u16>,
        reason: String,
    },
    /// Boxed: a frame spec is large, and commands are queued by the
    /// thousand in a fast pipe.
    Frame(Box<CraftedFrame>),
    Status,
    Help,
    Quit,
    /// With --listen: where typed lines go from now on.
    To(Target),
    /// With --listen: list the connections.
    Clients,
}

/// Which of a listener's clients typed input goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The client that connected last (the default).
    Newest,
    One(u32),
    All,
}

/// Every command with a one-line example, for /help and completion.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "/text",
        "/text /not-a-command",
        "send text that starts with '/'",
    ),
    (
        "/hex",
        "/hex 48 65 6c 6c 6f",
        "send binary from hex (48:65, 0x4865 and 4865 work too)",
    ),
    (
        "/json",
        "/json {\"op\": \"sub\", \"id\": 1}",
        "send text after checking that it is JSON (one value; it may span lines)",
    ),
    ("/b64", "/b64 SGVsbG8=", "send binary from base64"),
    (
        "/file",
        "/file ./payload.bin",
        "send a file's bytes as one binary message",
    ),
    (
        "/ping",
        "/ping hello   /ping hex:0102",
        "send a ping; the matching pong shows the round trip (/ping! sends over 125 bytes)",
    ),
    (
        "/pong",
        "/pong hex:cafe",
        "send an unsolicited pong (/pong! sends over 125 bytes)",
    ),
    (
        "/close",
        "/close going-away bye",
        "close with a code (number or name) and reason",
    ),
    (
        "/close!",
        "/close! 1005",
        "close with any code or reason, even ones RFC 6455 forbids",
    ),
    (
        "/frame",
        "/frame op=text fin=0 text=hel   /frame len=64 split=3 pause=500 text=slow",
        "send a hand-made frame (op fin rsv1-3 mask deflate; len=7|16|64, announce=N to claim N bytes; split=N pieces pause=MS apart; then text= or hex=)",
    ),
    (
        "/status",
        "/status",
        "show the connection, counters and last ping round trip",
    ),
    (
        "/to",
        "/to 2   /to all   /to newest",
        "with --listen: send what you type to client 2, to every client, or to the newest",
    ),
    (
        "/clients",
        "/clients",
        "with --listen: list the clients: number, address, path, age and counters",
    ),
    ("/help", "/help", "list the commands"),
    (
        "/quit",
        "/quit",
        "close the connection (Close 1000) and quit",
    ),
];

fn parse_target(arg: &str) -> Result<Target, String> {
    match arg.trim() {
        "all" | "*" => Ok(Target::All),
        "newest" | "new" | "last" => Ok(Target::Newest),
        n => match n.trim_start_matches('#').parse::<u32>() {
            Ok(n) if n > 0 => Ok(Target::One(n)),
            _ => Err(format!(
                "/to takes a client number, 'all' or 'newest', not '{}'",
                crate::escape::escape(n)
            )),
        },
    }
}

/// Parses one input line. A line that does not start with '/' is text.
pub fn parse(line: &str) -> Result<Command, String> {
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Command::Text(line.to_string()));
    };
    let (name, arg) = match rest.split_once([' ', '\n']) {
        Some((name, arg)) => (name, arg),
        None => (rest, ""),
    };
    match name {
        "text" => Ok(Command::Text(arg.to_string())),
        "json" => parse_json(arg).map(Command::Text),
        "hex" => parse_hex(arg).map(Command::Binary),
        "b64" | "base64" => parse_base64(arg).map(Command::Binary),
        "file" => {
            let path = arg.trim();
            if path.is_empty() {
                return Err("/file needs a path, e.g. /file ./payload.bin".into());
            }
            Ok(Command::File(expand_home(path)))
        }
        "ping" => control_payload("ping", arg).map(Command::Ping),
        "pong" => control_payload("pong", arg).map(Command::Pong),
        "ping!" => parse_payload(arg).map(Command::Ping),
        "pong!" => parse_payload(arg).map(Command::Pong),
        "close" => parse_close(arg, false),
        "close!" => parse_close(arg, true),
        "frame" => parse_frame(arg).map(|frame| Command::Frame(Box::new(frame))),
        "status" => Ok(Command::Status),
        "clients" => Ok(Command::Clients),
        "to" => parse_target(arg).map(Command::To),
        "help" | "?" => Ok(Command::Help),
        "quit" | "exit" | "q" => Ok(Command::Quit),
        "" => Err("empty command: type /help for the list, or /text / to send a lone '/'".into()),
        other => Err(format!(
            "unknown command '/{other}': type /help for the list, or /text to send text starting with '/'"
        )),
    }
}

/// `/json`: the text as typed, once it parses as one JSON value.
fn parse_json(arg: &str) -> Result<String, String> {
    let text = arg.trim();
    if text.is_empty() {
        return Err("/json needs a value, e.g. /json {\"op\": \"ping\"}".into());
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(_) => Ok(text.to_string()),
        Err(e) => Err(format!(
            "/json: not valid JSON: {e} (not sent; /text sends it as it is)"
        )),
    }
}

/// How many JSON brackets (`{`, `[`) are still open in `text`, outside
/// strings: the prompt keeps reading lines while a value is unfinished.
pub fn open_brackets(text: &str) -> i64 {
    let mut depth = 0i64;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') => in_string = false,
            (true, _) => {}
            (false, '"') => in_string = true,
            (false, '{' | '[') => depth += 1,
            (false, '}' | ']') => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// A JSON object or array typed or pasted over several lines: sent as one
/// message rather than line by line.
pub fn is_multiline_json(text: &str) -> bool {
    let body = text.trim();
    let body = body.strip_prefix("/json").map_or(body, str::trim_start);
    text.contains('\n')
        && matches!(body.as_bytes().first(), Some(b'{' | b'['))
        && serde_json::from_str::<serde_json::Value>(body).is_ok()
}

/// A ping or pong payload within the 125 bytes that RFC 6455 allows a
/// control frame; `/ping!` and `/pong!` skip the check.
fn control_payload(name: &str, arg: &str) -> Result<Vec<u8>, String> {
    let payload = parse_payload(arg)?;
    if payload.len() > 125 {
        return Err(format!(
            "a {name} payload is {} bytes; RFC 6455 §5.5 allows at most 125 in a control frame (use /{name}! to send it anyway)",
            payload.len()
        ));
    }
    Ok(payload)
}

/// Hex in any of the usual spellings: `48 65 6c`, `48:65:6c`, `0x48656c`,
/// `48656c`. Errors give the 1-based position of the offending character.
pub fn parse_hex(input: &str) -> Result<Vec<u8>, String> {
    let mut digits: Vec<(usize, u8)> = Vec::with_capacity(input.len());
    let chars: Vec<char> = input.chars().collect();
    // Each group between separators holds whole bytes: "4 8" is a typo,
    // not 0x48.
    let mut group_start = 0;
    let odd_group = |digits: &[(usize, u8)], from: usize| -> Result<(), String> {
        let group = &digits[from..];
        if group.len() % 2 != 0 {
            let (pos, _) = group[group.len() - 1];
            return Err(format!(
                "bad hex: odd number of digits in a group; the digit at position {pos} has no pair"
            ));
        }
        Ok(())
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
            // A 0x prefix at the start of a group.
            let at_group_start = i == 0 || matches!(chars[i - 1], ' ' | ':' | ',' | '-');
            if at_group_start {
                i += 2;
                continue;
            }
        }
        match c {
            ' ' | ':' | ',' | '-' | '\t' => {
                odd_group(&digits, group_start)?;
                group_start = digits.len();
            }
            _ => match c.to_digit(16) {
                Some(d) => digits.push((pos, d as u8)),
                None => {
                    return Err(format!(
                        "bad hex: '{c}' at position {pos} is not a hex digit"
                    ))
                }
            },
        }
        i += 1;
    }
    odd_group(&digits, group_start)?;
    Ok(digits.chunks(2).map(|p| (p[0].1 << 4) | p[1].1).collect())
}

/// `~/...` as a shell would read it (Tab completion offers such paths).
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

fn parse_base64(input: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let compact: String = input.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| match e {
            // Named as the hex errors are: the character, 1-based.
            base64::DecodeError::InvalidByte(at, byte) => format!(
                "bad base64: {:?} at position {} is not a base64 character",
                char::from(byte),
                at + 1
            ),
            base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidLastSymbol(..) => {
                "bad base64: the length or the last characters are wrong (padding with '=' to a multiple of 4?)".to_string()
            }
            other => format!("bad base64: {other}"),
        })
}

/// A control or frame payload: text, or bytes after a `hex:` or `b64:` prefix.
pub fn parse_payload(arg: &str) -> Result<Vec<u8>, String> {
    if let Some(h) = arg.strip_prefix("hex:") {
        parse_hex(h)
    } else if let Some(b) = arg.strip_prefix("b64:") {
        parse_base64(b)
    } else {
        Ok(arg.as_bytes().to_vec())
    }
}

/// A close code by number or by name (`normal`, `going-away`, ...).
pub fn parse_close_code(word: &str) -> Result<u16, String> {
    if let Ok(n) = word.parse::<u32>() {
        return u16::try_from(n).map_err(|_| format!("close code {n} is out of range (0-65535)"));
    }
    close_code::by_name(word).ok_or_else(|| {
        format!("'{word}' is not a close code: use a number such as 1000 or a name such as normal, going-away, policy-violation")
    })
}

fn parse_close(arg: &str, forced: bool) -> Result<Command, String> {
    let arg = arg.trim_start();
    if arg.is_empty() {
        return Ok(Command::Close {
            code: Some(1000),
            reason: String::new(),
        });
    }
    let (word, reason) = match arg.split_once(' ') {
        Some((w, r)) => (w, r.to_string()),
        None => (arg, String::new()),
    };
    let code = parse_close_code(word)?;
    if !forced {
        if let Some(why) = close_code::forbidden_on_wire(code) {
            return Err(format!(
                "close code {code} may not be sent: {why}; use /close! {code} to send it anyway"
            ));
        }
        if reason.len() > 123 {
            return Err(format!(
                "a close reason may be at most 123 bytes (this one is {}) (RFC 6455 §5.5); use /close! to send it anyway",
                reason.len()
            ));
        }
    }
    Ok(Command::Close {
        code: Some(code),
        reason,
    })
}

/// `/frame op=text fin=0 rsv1=1 mask=off text=hello world`: key=value
/// settings, then `text=` or `hex=` taking the rest of the line.
fn parse_frame(arg: &str) -> Result<CraftedFrame, String> {
    let mut frame = CraftedFrame {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: 0x1,
        mask: Mask::Auto,
        length: Length::Shortest,
        split: None,
        payload: Vec::new(),
        deflate: false,
    };
    let mut rest = arg.trim_start();
    while !rest.is_empty() {
        let (key, after_eq) = rest
            .split_once('=')
            .ok_or_else(|| format!("/frame: expected key=value at '{rest}'"))?;
        match key {
            "text" => {
                frame.payload = after_eq.as_bytes().to_vec();
                break;
            }
            "hex" => {
                frame.payload = parse_hex(after_eq)?;
                break;
            }
            "b64" => {
                frame.payload = parse_base64(after_eq)?;
                break;
            }
            _ => {}
        }
        let (value, next) = match after_eq.split_once(' ') {
            Some((v, n)) => (v, n.trim_start()),
            None => (after_eq, ""),
        };
        match key {
            "op" | "opcode" => frame.opcode = parse_opcode(value)?,
            "fin" => frame.fin = parse_bit(key, value)?,
            "rsv1" => frame.rsv1 = parse_bit(key, value)?,
            "rsv2" => frame.rsv2 = parse_bit(key, value)?,
            "rsv3" => frame.rsv3 = parse_bit(key, value)?,
            "mask" => frame.mask = parse_mask(value)?,
            "deflate" => frame.deflate = parse_bit(key, value)?,
            "len" => frame.length = parse_length(value)?,
            "announce" => frame.length = parse_announce(value)?,
            "split" => {
                let pause = frame.split.map_or(Duration::from_millis(100), |(_, p)| p);
                frame.split = Some((parse_pieces(value)?, pause));
            }
            "pause" => {
                let pieces = frame.split.map_or(2, |(n, _)| n);
                frame.split = Some((pieces, parse_pause(value)?));
            }
            other => {
                return Err(format!(
                    "/frame: unknown setting '{other}': use op, fin, rsv1, rsv2, rsv3, mask, deflate, len, announce, split, pause, then text= or hex="
                ))
            }
        }
        rest = next;
    }
    if frame.length == Length::Bits16 && frame.payload.len() > 0xFFFF {
        return Err(format!(
            "/frame: len=16 holds at most 65535 bytes, and the payload has {} (len=64, or announce=N to claim a length)",
            frame.payload.len()
        ));
    }
    Ok(frame)
}

/// `len=7|16|64`: the encoding of the length field.
fn parse_length(value: &str) -> Result<Length, String> {
    match value {
        "7" => Ok(Length::Shortest),
        "16" => Ok(Length::Bits16),
        "64" => Ok(Length::Bits64),
        _ => Err(format!(
            "/frame: len={value}: the length's encoding is 7, 16 or 64 (announce=N makes the header claim N bytes)"
        )),
    }
}

/// `announce=N`: the header claims N bytes, whatever the payload.
fn parse_announce(value: &str) -> Result<Length, String> {
    value
        .parse::<u64>()
        .map(Length::Announce)
        .map_err(|_| format!("/frame: announce={value}: a byte count, 0 to 2^64-1"))
}

fn parse_pieces(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "/frame: split={value}: the number of pieces, 1 to 10000"
        )),
    }
}

/// `pause=MS` (milliseconds), or with a unit: `pause=1.5s`, `pause=200ms`.
fn parse_pause(value: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(ms) = value.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1.0)
    } else {
        (value, 0.001)
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && (0.0..=60_000.0).contains(&(n * scale * 1000.0)) => {
            Ok(Duration::from_secs_f64(n * scale))
        }
        _ => Err(format!(
            "/frame: pause={value}: milliseconds (200), or with a unit (200ms, 1.5s), up to a minute"
        )),
    }
}

fn parse_opcode(value: &str) -> Result<u8, String> {
    let named = match value {
        "cont" | "continuation" => Some(0x0),
        "text" => Some(0x1),
        "binary" | "bin" => Some(0x2),
        "close" => Some(0x8),
        "ping" => Some(0x9),
        "pong" => Some(0xA),
        _ => None,
    };
    let n = match named {
        Some(n) => n,
        None => {
            let parsed = match value.strip_prefix("0x") {
                Some(h) => u8::from_str_radix(h, 16),
                None => value.parse::<u8>(),
            };
            parsed.map_err(|_| {
                format!("/frame: op '{value}' is not an opcode: use cont, text, binary, close, ping, pong or 0-15")
            })?
        }
    };
    if n > 15 {
        return Err(format!("/frame: opcode {n} does not fit in 4 bits (0-15)"));
    }
    Ok(n)
}

fn parse_bit(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "true" | "on" => Ok(true),
        "0" | "false" | "off" => Ok(false),
        _ => Err(format!("/frame: {key}={value}: use 1 or 0")),
    }
}

fn parse_mask(value: &str) -> Result<Mask, String> {
    match value {
        "1" | "on" | "true" | "random" => Ok(Mask::Random),
        "0" | "off" | "false" | "none" => Ok(Mask::Off),
        key => {
            let bytes = parse_hex(key).map_err(|e| format!("/frame: mask={key}: {e}"))?;
            let key: [u8; 4] = bytes.try_into().map_err(|_| {
                format!(
                    "/frame: mask={value}: a masking key is 4 bytes (8 hex digits), or use on/off"
                )
            })?;
            Ok(Mask::Key(key))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_checked_and_open_brackets_are_counted_outside_strings() {
        assert_eq!(
            parse("/json {\"a\": [1, 2]}").unwrap(),
            Command::Text("{\"a\": [1, 2]}".into())
        );
        let err = parse("/json {\"a\": }").unwrap_err();
        assert!(err.starts_with("/json: not valid JSON: "), "{err}");
        assert!(parse("/json").unwrap_err().contains("needs a value"));
        assert_eq!(open_brackets("{\"a\": [1,"), 2);
        assert_eq!(open_brackets("{\"a\": \"}]\\\"{\""), 1);
        assert_eq!(open_brackets("{}"), 0);
        assert!(is_multiline_json("{\n  \"a\": 1\n}"));
        assert!(is_multiline_json("/json [\n1]"));
        assert!(!is_multiline_json("{\"a\": 1}"), "one line");
        assert!(!is_multiline_json("one\ntwo"));
    }
    use crate::wire::decode::{Decoded, FrameDecoder};

    #[test]
    fn plain_lines_are_text_and_text_command_escapes_slash() {
        assert_eq!(parse("hello /x"), Ok(Command::Text("hello /x".into())));
        assert_eq!(parse("/text /etc"), Ok(Command::Text("/etc".into())));
        assert_eq!(parse(""), Ok(Command::Text(String::new())));
    }

    #[test]
    fn hex_in_every_spelling() {
        for s in [
            "48 65 6c",
            "48:65:6c",
            "0x48656c",
            "48656c",
            "0x48 0x65 0x6C",
            "48-65,6c",
        ] {
            assert_eq!(parse_hex(s), Ok(vec![0x48, 0x65, 0x6c]), "{s}");
        }
        assert_eq!(parse_hex(""), Ok(vec![]));
    }

    #[test]
    fn hex_errors_name_the_position() {
        let e = parse_hex("48 6g").unwrap_err();
        assert!(e.contains("'g' at position 5"), "{e}");
        let e = parse_hex("48 6").unwrap_err();
        assert!(
            e.contains("odd number of digits") && e.contains("position 4"),
            "{e}"
        );
        // Separated single digits are not paired across the separator.
        let e = parse_hex("4 8").unwrap_err();
        assert!(e.contains("position 1"), "{e}");
        let e = parse_hex("0x4 0x8").unwrap_err();
        assert!(e.contains("position 3"), "{e}");
        assert_eq!(parse_hex("0a0b 0c"), Ok(vec![0x0a, 0x0b, 0x0c]));
        let e = parse_hex("0x4x").unwrap_err();
        assert!(e.contains("'x' at position 4"), "{e}");
    }

    #[test]
    fn file_paths_starting_with_a_tilde_are_in_home() {
        if let Some(home) = std::env::var_os("HOME") {
            let expected = PathBuf::from(home).join("x.bin");
            assert_eq!(parse("/file ~/x.bin"), Ok(Command::File(expected)));
        }
        assert_eq!(
            parse("/file ./~/x"),
            Ok(Command::File(PathBuf::from("./~/x")))
        );
    }

    #[test]
    fn oversized_control_payloads_are_refused_unless_forced() {
        let big = format!("/ping {}", "x".repeat(126));
        let e = parse(&big).unwrap_err();
        assert!(e.contains("126 bytes") && e.contains("/ping!"), "{e}");
        assert_eq!(
            parse(&big.replacen("/ping", "/ping!", 1)),
            Ok(Command::Ping(vec![b'x'; 126]))
        );
        assert!(parse(&format!("/pong {}", "y".repeat(125))).is_ok());
        assert!(parse(&format!("/pong {}", "y".repeat(126))).is_err());
    }

    #[test]
    fn payload_prefixes() {
        assert_eq!(parse("/ping hi"), Ok(Command::Ping(b"hi".to_vec())));
        assert_eq!(parse("/ping"), Ok(Command::Ping(vec![])));
        assert_eq!(parse("/pong hex:cafe"), Ok(Command::Pong(vec![0xca, 0xfe])));
        assert_eq!(parse("/b64 SGk="), Ok(Command::Binary(b"Hi".to_vec())));
        assert!(parse("/b64 !!").unwrap_err().contains("bad base64"));
        let e = parse("/b64 AB*C").unwrap_err();
        assert!(e.contains("'*' at position 3"), "{e}");
    }

    #[test]
    fn close_codes_by_number_and_name_with_rfc_rules() {
        assert_eq!(
            parse("/close"),
            Ok(Command::Close {
                code: Some(1000),
                reason: String::new()
            })
        );
        assert_eq!(
            parse("/close going-away see you"),
            Ok(Command::Close {
                code: Some(1001),
                reason: "see you".into()
            })
        );
        assert_eq!(
            parse("/close 4000"),
            Ok(Command::Close {
                code: Some(4000),
                reason: String::new()
            })
        );
        let e = parse("/close 1005").unwrap_err();
        assert!(e.contains("1005") && e.contains("/close!"), "{e}");
        assert!(parse("/close 999").is_err());
        assert!(parse("/close 2000").is_err());
        assert!(parse("/close 70000").unwrap_err().contains("out of range"));
        assert!(parse("/close nonsense")
            .unwrap_err()
            .contains("not a close code"));
        let long = "x".repeat(124);
        assert!(parse(&format!("/close 1000 {long}"))
            .unwrap_err()
            .contains("123 bytes"));
        assert_eq!(
            parse("/close! 1005"),
            Ok(Command::Close {
                code: Some(1005),
                reason: String::new()
            })
        );
        assert!(parse(&format!("/close! 1000 {long}")).is_ok());
    }

    #[test]
    fn frame_settings_and_payload() {
        let Ok(Command::Frame(f)) = parse("/frame op=text fin=0 text=hel lo") else {
            panic!()
        };
        assert_eq!((f.opcode, f.fin, f.mask), (1, false, Mask::Auto));
        assert_eq!(f.payload, b"hel lo");
        let Ok(Command::Frame(f)) = parse("/frame op=0xB rsv1=1 rsv3=1 mask=off hex=01 02") else {
            panic!()
        };
        assert_eq!(
            (f.opcode, f.rsv1, f.rsv2, f.rsv3, f.mask),
            (0xB, true, false, true, Mask::Off)
        );
        assert_eq!(f.payload, vec![1, 2]);
        let Ok(Command::Frame(f)) = parse("/frame op=cont mask=01020304") else {
            panic!()
        };
        assert_eq!((f.opcode, f.mask), (0, Mask::Key([1, 2, 3, 4])));
        assert!(parse("/frame op=16").unwrap_err().contains("4 bits"));
        assert!(parse("/frame fin=2").unwrap_err().contains("fin=2"));
        assert!(parse("/frame colour=red")
            .unwrap_err()
            .contains("unknown setting 'colour'"));
        assert!(parse("/frame mask=0102").unwrap_err().contains("4 bytes"));
        assert!(parse("/frame op").unwrap_err().contains("key=value"));
    }

    #[test]
    fn encoded_frames_decode_back_to_what_was_asked() {
        for (mask, len) in [
            (Mask::Off, 5),
            (Mask::Key([9, 8, 7, 6]), 300),
            (Mask::Random, 70000),
            (Mask::Auto, 10),
        ] {
            let crafted = CraftedFrame {
                fin: false,
                rsv1: true,
                rsv2: false,
                rsv3: true,
                opcode: 0x3,
                mask,
                length: Length::Shortest,
                split: None,
                payload: (0..len).map(|i| i as u8).collect(),
                deflate: false,
            };
            let bytes = crafted.encode([1, 2, 3, 4], true);
            let mut decoded = Vec::new();
            FrameDecoder::new(usize::MAX >> 1).feed(&bytes, &mut |d| {
                if let Decoded::Frame(f) = d {
                    decoded.push(f)
                }
            });
            let f = &decoded[0];
            assert_eq!(
                (f.header.fin, f.header.rsv1, f.header.rsv2, f.header.rsv3),
                (false, true, false, true)
            );
            assert_eq!(f.header.opcode, 3);
            let want_key = match mask {
                Mask::Off => None,
                Mask::Key(k) => Some(k),
                Mask::Random | Mask::Auto => Some([1, 2, 3, 4]),
            };
            assert_eq!(f.header.mask_key, want_key);
            assert_eq!(f.preview, crafted.payload);
        }
    }

    #[test]
    fn unknown_commands_are_errors_that_point_to_help() {
        let e = parse("/pnig").unwrap_err();
        assert!(e.contains("'/pnig'") && e.contains("/help"), "{e}");
        assert_eq!(parse("/quit"), Ok(Command::Quit));
        assert_eq!(parse("/help"), Ok(Command::Help));
    }
}
