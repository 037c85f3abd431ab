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
    if let Some(listen) = &cli.listen {
        return run_listen(cli, listen);
    }
    let target = Target::parse(cli.url.as_deref().unwrap_or_default())?;
    let chosen = choose(cli, cases::all(), "")?;
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

/// The cases --cases and --exclude leave of `all`; a pattern that matches
/// none is a usage error (`which` says of which cases).
fn choose(cli: &CheckCli, all: Vec<Case>, which: &str) -> Result<Vec<Case>, Failure> {
    let selection = Selection::new(cli.cases.as_deref(), cli.exclude.as_deref()).map_err(usage)?;
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    if let Some(pattern) = selection.unmatched(&ids) {
        return Err(usage(format!(
            "--cases: '{pattern}' matches no case{which}"
        )));
    }
    let chosen: Vec<Case> = all.into_iter().filter(|c| selection.wants(&c.id)).collect();
    if chosen.is_empty() {
        return Err(usage("--exclude leaves no case to run".into()));
    }
    Ok(chosen)
}

/// Categories a client is not tested with: the opening-handshake cases
/// (14, 15) test servers.
fn serves_clients(case: &Case) -> bool {
    !matches!(case.category(), "14" | "15")
}

/// `wscope check --listen [ADDR:]PORT`: clients connect to run the cases.
fn run_listen(cli: &CheckCli, listen: &str) -> Result<Exit, Failure> {
    use crate::check::listen::{self, Served, Told};
    use std::collections::HashMap;
    let served = cases::all().into_iter().filter(serves_clients).collect();
    let chosen = choose(
        cli,
        served,
        " served to clients (categories 14 and 15 test servers only)",
    )?;
    let addr = super::plan::parse_listen_addr(listen)?;
    let listener = super::server::bind(addr)?;
    let local = listener
        .local_addr()
        .map_or_else(|_| listen.to_string(), |a| a.to_string());
    let terminal = std::io::stdout().is_terminal();
    let colour = crate::app::output::colour(cli.color);
    let mut view = View::new(&chosen, cli.json, terminal, colour);
    eprintln!(
        "wscope check: listening on {local}: {} cases for clients at ws://{local} (the suite's /getCaseCount, /runCase, ...); a browser runs them at http://{local}/",
        chosen.len()
    );
    let served = std::sync::Arc::new(Served::new(chosen));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let served = std::sync::Arc::clone(&served);
        std::thread::Builder::new()
            .name("check-accept".into())
            .spawn(move || listen::accept(listener, served, tx))
            .map_err(|e| fail(Stage::Io, format!("cannot accept clients: {e}")))?;
    }
    watch_interrupt();
    let mut first_case: Option<Instant> = None;
    let mut reports: HashMap<String, Report> = HashMap::new();
    let mut report_error = None;
    loop {
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Told::Finished(finished)) => {
                // The run's time counts from its first case, not from
                // when wscope began to wait for a client.
                first_case.get_or_insert_with(|| Instant::now() - finished.outcome.duration);
                view.case_done(&finished);
                if let Some(dir) = &cli.report {
                    let agent = finished.agent.clone().unwrap_or_default();
                    let dir = dir.join(crate::check::report::clean_for_filename(&agent));
                    if !reports.contains_key(&agent) {
                        match Report::create(&dir, &agent) {
                            Ok(r) => {
                                reports.insert(agent.clone(), r);
                            }
                            Err(e) => {
                                report_error.get_or_insert((dir.clone(), e));
                            }
                        }
                    }
                    if let Some(r) = reports.get_mut(&agent) {
                        if let Err(e) = r.add(&finished) {
                            report_error.get_or_insert((dir, e));
                        }
                    }
                }
            }
            Ok(Told::Reports(agent)) => {
                if cli.until_reports {
                    eprintln!(
                        "wscope check: /updateReports from {}: the run ends",
                        crate::escape::escape(&agent)
                    );
                    break;
                }
            }
            Ok(Told::Notice(text)) => eprintln!("wscope check: {text}"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let elapsed = first_case.map_or(Duration::ZERO, |t| t.elapsed());
    let tally = view.finish(elapsed, STOP.load(Ordering::Relaxed));
    if let Some((dir, e)) = report_error {
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
