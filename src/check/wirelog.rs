//! What crossed the wire during a case, for its report: each frame's
//! header and the start of its payload, and the notes of the run (waits,
//! failures, who dropped TCP). Long runs are cut: category 9 moves
//! megabytes, and its frames are not logged while the echoes run.

use serde_json::{json, Value};

use crate::escape;

/// At most this many lines are kept.
const MAX_LINES: usize = 400;
/// At most this many payload bytes are shown per frame.
pub const PREVIEW: usize = 64;

#[derive(Debug, Default)]
pub struct WireLog {
    lines: Vec<Value>,
    dropped: usize,
    paused: bool,
}

impl WireLog {
    pub fn note(&mut self, ms: f64, text: String) {
        self.push(json!({"ms": round(ms), "note": text}));
    }

    pub fn frame(&mut self, ms: f64, sent: bool, opcode: u8, fin: bool, rsv: u8, payload: &[u8]) {
        if self.paused {
            return;
        }
        if self.full() {
            self.dropped += 1;
            return;
        }
        let preview = shown(opcode, payload);
        self.push(json!({
            "ms": round(ms),
            "dir": if sent { "sent" } else { "received" },
            "opcode": opcode,
            "fin": fin,
            "rsv": rsv,
            "len": payload.len(),
            "payload": preview,
        }));
    }

    /// A frame that came in: its length as announced, and the first
    /// octets of its payload (what is kept of a data frame's).
    pub fn received_frame(
        &mut self,
        ms: f64,
        (opcode, fin, rsv): (u8, bool, u8),
        len: u64,
        start: &[u8],
    ) {
        if self.paused {
            return;
        }
        if self.full() {
            self.dropped += 1;
            return;
        }
        let preview = shown(opcode, start);
        self.push(json!({
            "ms": round(ms),
            "dir": "received",
            "opcode": opcode,
            "fin": fin,
            "rsv": rsv,
            "len": len,
            "payload": preview,
        }));
    }

    /// Frames stop being logged (an echo run), notes go on.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// No more lines are kept: what comes is only counted (and not
    /// formatted first, which a flood of frames would pay for).
    fn full(&self) -> bool {
        self.lines.len() >= MAX_LINES
    }

    fn push(&mut self, line: Value) {
        if self.lines.len() < MAX_LINES {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"lines": self.lines, "more": self.dropped})
    }

    pub fn lines(&self) -> &[Value] {
        &self.lines
    }
}

/// What a log line shows of a payload: a Close's code in decimal and its
/// reason, anything else escaped.
fn shown(opcode: u8, start: &[u8]) -> String {
    let start = &start[..start.len().min(PREVIEW)];
    match start {
        [hi, lo, reason @ ..] if opcode == 8 => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if reason.is_empty() {
                format!("code {code}")
            } else {
                format!("code {code} {}", escape::escape_bytes(reason))
            }
        }
        _ => escape::escape_bytes(start),
    }
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_shows_its_code_and_reason_and_other_payloads_are_escaped() {
        assert_eq!(shown(8, &[0x03, 0xee]), "code 1006");
        assert_eq!(shown(8, b"\x03\xe8bye"), "code 1000 bye");
        assert_eq!(shown(8, b"a"), "a");
        assert_eq!(shown(1, b"\x1b[2J"), escape::escape_bytes(b"\x1b[2J"));
        assert!(!shown(8, b"\x03\xe8\x1b[2J").contains('\x1b'));
    }
}
