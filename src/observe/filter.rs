//! What the human view leaves out (--only, --hide, --grep) and how it
//! shows JSON (--pretty, --no-pretty). The session still handles
//! everything it hides; --json stays complete.

use regex::Regex;

use super::Dir;
use crate::wire::frame::Kind;

/// How a text payload that is a JSON object or array is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStyle {
    /// On one line, coloured (the default).
    Compact,
    /// Also indented on the lines after its message (--pretty).
    Pretty,
    /// As it was sent (--no-pretty).
    Raw,
}

pub struct ViewFilter {
    pub only: Option<Dir>,
    pub hide: Vec<Kind>,
    pub grep: Option<Regex>,
    pub json: JsonStyle,
}

impl Default for ViewFilter {
    fn default() -> Self {
        ViewFilter {
            only: None,
            hide: Vec::new(),
            grep: None,
            json: JsonStyle::Compact,
        }
    }
}

impl ViewFilter {
    pub fn shows_dir(&self, dir: Dir) -> bool {
        self.only.is_none_or(|only| only == dir)
    }

    /// A frame of this kind that way, before --grep has its say. With
    /// --grep, control frames belong to no message and are left out.
    pub fn shows_frame(&self, dir: Dir, kind: Kind) -> bool {
        let data = matches!(kind, Kind::Text | Kind::Binary | Kind::Continuation);
        self.shows_dir(dir) && !self.hide.contains(&kind) && (self.grep.is_none() || data)
    }

    /// Whether --grep keeps a message: text as it is, binary as hex.
    pub fn keeps(&self, binary: bool, data: &[u8]) -> bool {
        let Some(grep) = &self.grep else { return true };
        if binary {
            grep.is_match(&super::hex(data))
        } else {
            std::str::from_utf8(data).is_ok_and(|text| grep.is_match(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_kind_and_pattern() {
        let f = ViewFilter {
            only: Some(Dir::In),
            hide: vec![Kind::Ping],
            grep: Some(Regex::new("^ab").unwrap()),
            json: JsonStyle::Raw,
        };
        assert!(!f.shows_frame(Dir::Out, Kind::Text));
        assert!(f.shows_frame(Dir::In, Kind::Continuation));
        assert!(!f.shows_frame(Dir::In, Kind::Ping));
        assert!(
            !f.shows_frame(Dir::In, Kind::Pong),
            "control frames go with --grep"
        );
        assert!(f.keeps(false, b"abc") && !f.keeps(false, b"cab"));
        assert!(f.keeps(true, &[0xab, 0x01]));
    }
}

/// How the human view stamps its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeFormat {
    /// Seconds since wscope started.
    Rel,
    /// The wall clock, local time.
    Abs,
    /// Seconds since the line before.
    Delta,
}

/// How wide the human view's frame lines are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    Auto,
    Wide,
    Compact,
}
