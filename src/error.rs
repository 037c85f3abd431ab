//! Failures and how they map to the exit codes that scripts rely on.
//!
//! Every failure carries the stage it happened in, because the stage alone
//! decides the exit code (docs/exit-codes.md): a connection that never opened is 1,
//! bad arguments are 2, a connection lost after opening is 3.

use std::fmt;
use std::process::ExitCode;

/// Where in the life of a connection something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Usage,
    Connect,
    Tls,
    Handshake,
    Protocol,
    Io,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Usage => "usage",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Handshake => "handshake",
            Stage::Protocol => "protocol",
            Stage::Io => "io",
        }
    }

    pub fn exit_code(self) -> Exit {
        match self {
            Stage::Usage => Exit::Usage,
            Stage::Connect | Stage::Tls | Stage::Handshake => Exit::NeverOpened,
            Stage::Protocol | Stage::Io => Exit::Lost,
        }
    }
}

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Normal = 0,
    NeverOpened = 1,
    Usage = 2,
    Lost = 3,
    PeerClosedAbnormally = 4,
    /// --replay: the session ran, but what came back differs from the
    /// recording.
    ReplayDiffers = 5,
    /// `wscope check`: a case FAILED.
    CheckFailed = 6,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// A failure worth one line to the user.
#[derive(Debug, Clone)]
pub struct Failure {
    pub stage: Stage,
    pub message: String,
    /// The peer said to come back later (an upgrade answered 502, 503 or
    /// 504): --reconnect tries again.
    pub passing: bool,
}

impl Failure {
    pub fn new(stage: Stage, message: impl Into<String>) -> Self {
        Failure {
            stage,
            message: message.into(),
            passing: false,
        }
    }

    pub fn passing(self) -> Self {
        Failure {
            passing: true,
            ..self
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand for building a failure in a `map_err` or `ok_or_else`.
pub fn fail(stage: Stage, message: impl Into<String>) -> Failure {
    Failure::new(stage, message)
}

/// A warning on stderr: something the user should know that does not stop
/// the session.
pub fn warn(message: &str) {
    eprintln!(
        "{} {}",
        stderr_label("wscope: warning:", false),
        crate::escape::escape(message)
    );
}

/// The one line every failure gets on stderr.
pub fn print_failure(failure: &Failure) {
    print_error(&failure.message);
}

/// Messages may quote the peer: whatever they hold reaches the terminal
/// escaped.
pub fn print_error(message: &str) {
    eprintln!(
        "{} {}",
        stderr_label("wscope: error:", true),
        crate::escape::escape(message)
    );
}

fn stderr_label(label: &str, error: bool) -> String {
    use colored::Colorize;
    use std::io::IsTerminal;
    let colour =
        std::io::stderr().is_terminal() && colored::control::SHOULD_COLORIZE.should_colorize();
    match (colour, error) {
        (false, _) => label.to_string(),
        (true, true) => label.red().bold().to_string(),
        (true, false) => label.yellow().bold().to_string(),
    }
}

/// Errors are one line; some libraries draw pictures over several.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
