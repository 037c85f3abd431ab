//! Peer-controlled text made safe for a terminal: every control character
//! (C0, DEL, C1 such as the 8-bit CSI U+009B) and every byte that is not
//! UTF-8 is shown as a visible escape, so that no peer byte reaches a
//! terminal as a control sequence. Printable text, quotes included, stays
//! as it was, so that a head still reads as it crossed the wire.

use std::fmt::Write;

/// `text` with control characters escaped (`\e`-style as `\u{1b}`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// Bytes as text: UTF-8 kept where it is valid and harmless, control
/// characters escaped, other bytes as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        push_escaped(&mut out, chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_become_visible() {
        assert_eq!(escape("ok\x1b]0;title\x07"), "ok\\u{1b}]0;title\\u{7}");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("é ☃ \"q\""), "é ☃ \"q\"");
    }

    #[test]
    fn invalid_bytes_are_shown_as_hex() {
        assert_eq!(escape_bytes(b"a\xffb\x1b"), "a\\xffb\\u{1b}");
    }
}
