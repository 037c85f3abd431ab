//! JSON payloads made readable in the human view: compact and coloured,
//! or indented on several lines (--pretty). Only objects and arrays count
//! as JSON here: a bare `2` or `"hi"` stays as the text it is. Every
//! string is escaped, since it is the peer's.

use colored::Colorize;
use serde_json::Value;

use crate::escape::escape;

/// The payload as a JSON object or array, if it is one.
pub fn parse_container(bytes: &[u8]) -> Option<Value> {
    match bytes.trim_ascii().first() {
        Some(b'{' | b'[') => serde_json::from_slice(bytes).ok(),
        _ => None,
    }
}

/// On one line, with a space after `:` and `,`, coloured.
pub fn compact(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, None, true);
    out
}

/// On one line, without colour: for a line that is measured and cut.
pub fn compact_plain(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, None, false);
    out
}

/// Indented by two spaces per level, coloured; one string with `\n`s.
pub fn indented(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, Some(0), true);
    out
}

/// `depth` is None for one line, else the current indentation level.
fn write(out: &mut String, value: &Value, depth: Option<usize>, colour: bool) {
    let (open, close, items): (char, char, Vec<(Option<&String>, &Value)>) = match value {
        Value::Object(map) => ('{', '}', map.iter().map(|(k, v)| (Some(k), v)).collect()),
        Value::Array(list) => ('[', ']', list.iter().map(|v| (None, v)).collect()),
        scalar => {
            out.push_str(&scalar_text(scalar, colour));
            return;
        }
    };
    out.push(open);
    if items.is_empty() {
        out.push(close);
        return;
    }
    let inner = depth.map(|d| d + 1);
    for (i, (key, item)) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
            if depth.is_none() {
                out.push(' ');
            }
        }
        if let Some(d) = inner {
            out.push('\n');
            out.push_str(&"  ".repeat(d));
        }
        if let Some(key) = key {
            let key = string_text(key);
            out.push_str(&if colour { key.blue().to_string() } else { key });
            out.push_str(": ");
        }
        write(out, item, inner, colour);
    }
    if let Some(d) = depth {
        out.push('\n');
        out.push_str(&"  ".repeat(d));
    }
    out.push(close);
}

fn scalar_text(value: &Value, colour: bool) -> String {
    let (text, paint): (String, fn(&str) -> colored::ColoredString) = match value {
        Value::String(s) => (string_text(s), |t| t.green()),
        Value::Number(n) => (n.to_string(), |t| t.yellow()),
        Value::Bool(b) => (b.to_string(), |t| t.magenta()),
        _ => ("null".to_string(), |t| t.magenta()),
    };
    if colour {
        paint(&text).to_string()
    } else {
        text
    }
}

/// A JSON string literal, and then whatever JSON does not escape (DEL, C1
/// controls, bidi overrides) escaped for the terminal.
fn string_text(s: &str) -> String {
    escape(&serde_json::to_string(s).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() {
        colored::control::set_override(false);
    }

    #[test]
    fn objects_and_arrays_only() {
        assert!(parse_container(b"2").is_none());
        assert!(parse_container(b"\"hi\"").is_none());
        assert!(parse_container(b"{\"a\":1").is_none());
        assert!(parse_container(b" [1, 2] ").is_some());
    }

    #[test]
    fn compact_and_indented_keep_the_key_order() {
        plain();
        let v = parse_container(br#"{"z":1,"a":[true,null,"x"],"e":{}}"#).unwrap();
        assert_eq!(compact(&v), r#"{"z": 1, "a": [true, null, "x"], "e": {}}"#);
        assert_eq!(
            indented(&v),
            "{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null,\n    \"x\"\n  ],\n  \"e\": {}\n}"
        );
    }

    #[test]
    fn peer_strings_cannot_reach_the_terminal_raw() {
        plain();
        // JSON escapes that decode to ESC, CSI and DEL; and a raw C1.
        let json = r#"["\u001b[2J", "\u009b31m", "\u007f", "C1:"#.to_string() + "\u{9b}\"]";
        let v = parse_container(json.as_bytes()).unwrap();
        let shown = compact(&v);
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{9b}') && !shown.contains('\u{7f}'),
            "{shown:?}"
        );
    }
}
