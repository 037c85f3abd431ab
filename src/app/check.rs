//! `wscope check URL`, lowered: the command line becomes a server to
//! reach, the cases to run and where results go; then the run, and its
//! exit code (docs/exit-codes.md).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::check::case::{Case, Step};
use crate::check::cases;
use crate::check::engine::{self, Server};
use crate::check::report::Report;
use crate::check::run;
use crate::check::select::Selection;
use crate::check::view::View;
use crate::cli::CheckCli;
use crate::error::{fail, Exit, Failure, Stage};
use crate::handshake::client::Shaping;
use crate::net::target::Target;
use crate::tls;

pub fn run(cli: &CheckCli) -> Result<Exit, Failure> {
    let target = Target::parse(&cli.url)?;
    let selection = Selection::new(cli.cases.as_deref(), cli.exclude.as_deref()).map_err(usage)?;
    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    if let Some(pattern) = selection.unmatched(&ids) {
        return Err(usage(format!("--cases: '{pattern}' matches no case")));
    }
    let chosen: Vec<Case> = all.into_iter().filter(|c| selection.wants(&c.id)).collect();
    if chosen.is_empty() {
        return Err(usage("--exclude leaves no case to run".into()));
    }
    for file in &cli.ca {
        tls::check_ca_file(file)?;
    }
    let tls = match target.tls {
        true => Some(tls::client_config(&tls::TlsOptions {
            ca_files: &cli.ca,
            insecure: cli.insecure,
            client_cert: None,
            tls13_only: false,
        })?),
        false => None,
    };
    let server = Server {
        target: target.clone(),
        tls,
        connect_timeout: Duration::from_secs_f64(cli.connect_timeout),
        shaping: Shaping::default(),
    };
    // One opening first: a server that cannot be reached ends the run at
    // once (exit 1), and its Server header names it in the report.
    let agent = match probe(&server) {
        Ok(header) => cli
            .agent
            .clone()
            .or(header)
            .unwrap_or_else(|| target.host_header.clone()),
        Err(why) => return Err(fail(Stage::Connect, why)),
    };
    let mut report = match &cli.report {
        Some(dir) => Some(
            Report::create(dir, &agent)
                .map_err(|e| usage(format!("--report: cannot write to {}: {e}", dir.display())))?,
        ),
        None => None,
    };
    let terminal = std::io::stdout().is_terminal();
    let colour = crate::app::output::colour(cli.color);
    let mut view = View::new(&chosen, cli.json, terminal, colour);
    watch_interrupt();
    let stop = &STOP;
    let started = Instant::now();
    let mut report_error = None;
    run::run(chosen, &server, cli.parallel.into(), stop, |finished| {
        view.case_done(&finished);
        if let Some(r) = report.as_mut() {
            if let Err(e) = r.add(&finished) {
                report_error.get_or_insert(e);
                report = None;
            }
        }
    });
    let stopped = stop.load(Ordering::Relaxed);
    let tally = view.finish(started.elapsed(), stopped);
    if let (Some(e), Some(dir)) = (report_error, &cli.report) {
        return Err(fail(
            Stage::Io,
            format!("--report: writing to {} failed: {e}", dir.display()),
        ));
    }
    Ok(if tally.failed > 0 {
        Exit::CheckFailed
    } else {
        Exit::Normal
    })
}

/// Set by the first Ctrl-C or SIGTERM: the cases running finish, no
/// more start, and the summary (and report) say what ran. A second one
/// ends the process at once.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
    // SAFETY: restoring the default action is async-signal-safe.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
    }
}

fn watch_interrupt() {
    let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic and resets itself.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

fn usage(message: String) -> Failure {
    Failure::new(Stage::Usage, message)
}

/// Opens and closes one connection; the server's Server header, if any.
fn probe(server: &Server) -> Result<Option<String>, String> {
    let case = Case::new("0", "probe", "RFC 6455 §4.1").step(Step::Close {
        code: Some(1000),
        reason: Vec::new(),
    });
    let outcome = engine::run(&case, server);
    if let Some(why) = outcome.open_failure {
        return Err(format!(
            "cannot open a WebSocket at {}: {why}",
            server.target.shown()
        ));
    }
    Ok(outcome
        .response
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("server")
                .then(|| crate::escape::escape(value.trim()))
        })
        .filter(|s| !s.is_empty()))
}
