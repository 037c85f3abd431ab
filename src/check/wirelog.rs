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
        let shown = &payload[..payload.len().min(PREVIEW)];
        let preview = escape::escape_bytes(shown);
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
        let preview = escape::escape_bytes(&start[..start.len().min(PREVIEW)]);
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

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
