//! wscope: a WebSocket client and debugger. This file parses the command
//! line, builds the plan, dispatches the mode, and maps whatever happens to
//! the exit codes in docs/exit-codes.md.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use wscope::app::plan::{Mode, Plan};
use wscope::app::{client, output, server};
use wscope::cli::Cli;
use wscope::error::{print_failure, Exit, Failure, Stage};
use wscope::observe::{Clock, Event, Json, Observers, Out, Screen};

fn main() -> ExitCode {
    let clock = Clock::start();
    if std::env::args_os().nth(1).is_some_and(|a| a == "check") {
        return check_main();
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "proxy") {
        return proxy_main(clock);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let (screen, bad_grep) = output::screen(&cli, clock);
    let mut obs = Observers::new(screen);
    // Recorders' files are made once the arguments are known to be good:
    // a usage error must not empty an earlier recording.
    let outcome = bad_grep
        .map_or(Ok(()), Err)
        .and_then(|()| Plan::new(&cli))
        .and_then(|plan| {
            let recorders = wscope::formats::open(&output::recordings(&cli), clock)?;
            recorders.into_iter().for_each(|r| obs.add(r));
            Ok(plan)
        })
        .and_then(|plan| match &plan.mode {
            Mode::Connect { target, shaping } => {
                client::run(&plan, &mut obs, (**target).clone(), shaping)
            }
            Mode::Listen { addr } => server::run(&plan, &mut obs, *addr),
            Mode::ListenUnix { path } => server::run_unix(&plan, &mut obs, path),
        });
    let exit = match outcome {
        Ok(exit) => exit,
        Err(failure) => {
            obs.event(&Event::Error(&failure));
            // What stdout holds comes first: the frame shown before its
            // error stays before it when both streams go to one place.
            obs.flush();
            print_failure(&failure);
            failure.stage.exit_code()
        }
    };
    obs.flush();
    exit.into()
}

/// `wscope check URL ...`: the conformance battery.
fn check_main() -> ExitCode {
    let args = std::env::args_os().skip(1);
    let cli = match wscope::cli::CheckCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match wscope::app::check::run(&cli) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            print_failure(&failure);
            failure.stage.exit_code().into()
        }
    }
}

/// `wscope proxy ...`: both legs of someone else's WebSocket.
fn proxy_main(clock: Clock) -> ExitCode {
    let args = std::env::args_os().skip(1);
    let cli = match wscope::cli::ProxyCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match wscope::app::proxy::run(&cli, clock) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            print_failure(&failure);
            failure.stage.exit_code().into()
        }
    }
}

/// clap's errors span several lines; the contract is one line and exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return Exit::Normal.into();
    }
    let rendered = e.to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    // "the following required arguments were not provided:" names them on
    // the next line; an invalid choice lists the valid ones further down.
    if first.ends_with(':') {
        if let Some(next) = lines.next() {
            first = format!("{first} {next}");
        }
    }
    if let Some(values) = lines.find(|l| l.starts_with("[possible values:")) {
        first = format!("{first} {values}");
    }
    let failure = Failure::new(Stage::Usage, format!("{first} (see wscope --help)"));
    if std::env::args().any(|a| a == "--json") {
        let mut json = Json::new(Out::stdout(), Clock::start());
        let _ = json.show(&Event::Error(&failure));
        let _ = json.out().flush();
    }
    print_failure(&failure);
    Exit::Usage.into()
}
