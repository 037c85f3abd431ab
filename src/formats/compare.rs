//! Comparing the messages a replay received with those on the recording,
//! one at a time as they arrive, so nothing but the differences is kept.
//! `--ignore` patterns mask volatile parts (ids, timestamps) on both sides
//! first; binary messages are compared as hex, as `--until` matches them.

use regex::Regex;

use super::Msg;

/// How many differences are described; the rest are only counted.
const DESCRIBED: usize = 20;
/// Bytes shown around the first difference of a changed message.
const EXCERPT: usize = 40;

pub struct Comparison {
    expected: Vec<Msg>,
    masks: Vec<Regex>,
    received: usize,
    differences: Vec<String>,
    undescribed: usize,
}

impl Comparison {
    pub fn new(expected: Vec<Msg>, masks: Vec<Regex>) -> Self {
        Comparison {
            expected,
            masks,
            received: 0,
            differences: Vec::new(),
            undescribed: 0,
        }
    }

    /// One message received, in order.
    pub fn received(&mut self, got: &Msg) {
        let index = self.received;
        self.received += 1;
        let number = index + 1;
        let difference = match self.expected.get(index) {
            None => Some(format!(
                "extra: message {number} ({}) was not on the recording: {}",
                kind(got),
                excerpt(&self.masked(got), 0)
            )),
            Some(want) if want.binary != got.binary => Some(format!(
                "changed: message {number} is {}, the recording has {}",
                kind(got),
                kind(want)
            )),
            Some(want) => {
                let binary = want.binary;
                let (want, got) = (self.masked(want), self.masked(got));
                first_difference(&want, &got).map(|at| {
                    // Binary is compared as hex: two digits a byte.
                    let byte = if binary { at / 2 } else { at };
                    format!(
                        "changed: message {number} differs at byte {byte}: expected {}, got {}",
                        excerpt(&want, at),
                        excerpt(&got, at)
                    )
                })
            }
        };
        if let Some(text) = difference {
            self.note(text);
        }
    }

    /// The differences, once the session is over; `close` is the code the
    /// server closed with on the recording and now (`None`: no close
    /// handshake).
    pub fn finish(mut self, close: (Option<Option<u16>>, Option<Option<u16>>)) -> Report {
        for index in self.received..self.expected.len() {
            let want = &self.expected[index];
            let text = format!(
                "missing: message {} ({}) never came: {}",
                index + 1,
                kind(want),
                excerpt(&self.masked(want), 0)
            );
            self.note(text);
        }
        // A recording without a close handshake (a HAR, a lost
        // connection) says nothing about how it should end.
        match close {
            (Some(want), got) if Some(want) != got => self.note(format!(
                "close: the recording ended with {}, this run with {}",
                describe_close(Some(want)),
                describe_close(got)
            )),
            _ => {}
        }
        self.report()
    }

    fn report(self) -> Report {
        Report {
            expected: self.expected.len(),
            received: self.received,
            differences: self.differences,
            undescribed: self.undescribed,
        }
    }

    fn note(&mut self, text: String) {
        if self.differences.len() < DESCRIBED {
            self.differences.push(text);
        } else {
            self.undescribed += 1;
        }
    }

    fn masked(&self, msg: &Msg) -> String {
        let mut text = if msg.binary {
            crate::observe::hex(&msg.data)
        } else {
            String::from_utf8_lossy(&msg.data).into_owned()
        };
        for mask in &self.masks {
            text = mask.replace_all(&text, "*").into_owned();
        }
        text
    }
}

pub struct Report {
    pub expected: usize,
    pub received: usize,
    pub differences: Vec<String>,
    pub undescribed: usize,
}

impl Report {
    pub fn matches(&self) -> bool {
        self.differences.is_empty()
    }

    /// One line for the end of the run.
    pub fn summary(&self) -> String {
        if self.matches() {
            return format!(
                "replay matches the recording: {} of {} messages received as recorded",
                self.received, self.expected
            );
        }
        let count = self.differences.len() + self.undescribed;
        format!(
            "replay differs from the recording: {count} difference{} ({} messages expected, {} received)",
            if count == 1 { "" } else { "s" },
            self.expected,
            self.received
        )
    }
}

fn kind(msg: &Msg) -> &'static str {
    if msg.binary {
        "binary"
    } else {
        "text"
    }
}

fn describe_close(close: Option<Option<u16>>) -> String {
    match close {
        None => "no close handshake".into(),
        Some(None) => "a Close without a code".into(),
        Some(Some(code)) => format!("Close {code}"),
    }
}

/// The byte offset where two texts first differ, if they do.
fn first_difference(a: &str, b: &str) -> Option<usize> {
    let same = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    (same < a.len() || same < b.len()).then_some(same)
}

/// A quoted piece of `text` around byte `at`, escaped for a terminal.
fn excerpt(text: &str, at: usize) -> String {
    let mut start = at.saturating_sub(10).min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + EXCERPT).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!(
        "\"{}{}{}\"",
        if start > 0 { "…" } else { "" },
        crate::escape::escape(&text[start..end]),
        if end < text.len() { "…" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Msg {
        Msg {
            binary: false,
            data: s.as_bytes().to_vec(),
        }
    }

    #[test]
    fn equal_runs_match() {
        let mut c = Comparison::new(vec![text("a"), text("b")], vec![]);
        c.received(&text("a"));
        c.received(&text("b"));
        let report = c.finish((Some(Some(1000)), Some(Some(1000))));
        assert!(report.matches(), "{:?}", report.differences);
    }

    #[test]
    fn changed_missing_extra_and_close_are_reported() {
        let mut c = Comparison::new(vec![text("hello world"), text("b")], vec![]);
        c.received(&text("hello there"));
        let report = c.finish((Some(Some(1000)), Some(Some(4000))));
        assert_eq!(report.differences.len(), 3, "{:?}", report.differences);
        assert!(report.differences[0].contains("differs at byte 6"));
        assert!(report.differences[1].starts_with("missing: message 2"));
        assert!(report.differences[2].contains("Close 4000"));
        let mut c = Comparison::new(vec![], vec![]);
        c.received(&text("x"));
        assert!(c.finish((None, None)).differences[0].starts_with("extra"));
    }

    #[test]
    fn masks_hide_volatile_parts() {
        let masks = vec![Regex::new(r"id=\d+").unwrap()];
        let mut c = Comparison::new(vec![text("ok id=12 done")], masks);
        c.received(&text("ok id=9876 done"));
        assert!(c.finish((None, None)).matches());
    }
}
