//! What the run shows and records, lowered from the command line: the
//! screen (human, JSON Lines or payloads), its filters, and the files the
//! recorders write. Below `app/` nothing reads the command line.

use crate::cli::{Cli, ColorChoice, FrameKind, OnlyDir};
use crate::error::Failure;
use crate::formats::Recordings;
use crate::observe::{Clock, Dir, Human, Json, JsonStyle, Out, Payload, Screen, ViewFilter};
use crate::wire::frame::Kind;

/// The screen the command line asks for, and the problem with its
/// `--grep` if it has one (the run then ends with a usage error, shown
/// on that screen).
pub fn screen(cli: &Cli, clock: Clock) -> (Box<dyn Screen>, Option<Failure>) {
    let colour = colour(cli.color);
    // Messages on stderr follow the same choice.
    colored::control::set_override(colour);
    let (grep, problem) = match cli.grep.as_deref().map(regex::Regex::new) {
        None => (None, None),
        Some(Ok(grep)) => (Some(grep), None),
        Some(Err(e)) => (
            None,
            Some(super::plan::usage(format!(
                "--grep: {}",
                crate::error::one_line(&e.to_string())
            ))),
        ),
    };
    let out = Out::stdout();
    let serving = cli.listen.is_some();
    let screen: Box<dyn Screen> = if cli.json {
        Box::new(Json::new(out, clock))
    } else if cli.frames || std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        Box::new(
            Human::new(out, clock, serving, cli.preview)
                .with_layout(cli.layout, cli.time)
                .with_colour(colour)
                .with_filter(view_filter(cli, grep)),
        )
    } else {
        Box::new(Payload::new(out, cli.raw, serving))
    };
    (screen, problem)
}

/// Colour is decided once: on a terminal unless NO_COLOR is set or
/// TERM=dumb, unless --color says otherwise.
pub fn colour(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// --only, --hide, --grep and the JSON style, for the human view.
fn view_filter(cli: &Cli, grep: Option<regex::Regex>) -> ViewFilter {
    ViewFilter {
        only: cli.only.map(|only| match only {
            OnlyDir::In => Dir::In,
            OnlyDir::Out => Dir::Out,
        }),
        hide: cli
            .hide
            .iter()
            .map(|kind| match kind {
                FrameKind::Ping => Kind::Ping,
                FrameKind::Pong => Kind::Pong,
                FrameKind::Close => Kind::Close,
                FrameKind::Text => Kind::Text,
                FrameKind::Binary => Kind::Binary,
                FrameKind::Continuation => Kind::Continuation,
            })
            .collect(),
        grep,
        json: match (cli.pretty, cli.no_pretty) {
            (true, _) => JsonStyle::Pretty,
            (_, true) => JsonStyle::Raw,
            _ => JsonStyle::Compact,
        },
    }
}

/// The files the recorders write, and the recording --replay reads (never
/// written over).
pub fn recordings(cli: &Cli) -> Recordings {
    Recordings {
        log: cli.log.clone(),
        har: cli.har.clone(),
        pcap: cli.pcap.clone(),
        replayed: cli.replay.clone(),
    }
}
