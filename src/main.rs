//! wscope: a WebSocket client and debugger. This file turns the command
//! line into a connection, hands it to the session loop, and maps whatever
//! happens to the exit codes in design.md.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::WebSocket;

use wscope::cli::{self, Cli, ColorChoice};
use wscope::command::Command;
use wscope::error::{fail, print_failure, warn, Exit, Failure, Stage};
use wscope::input::{InputQueue, StdinMode};
use wscope::render::{Clock, Event, Human, Json, Out, Payload, Render};
use wscope::target::Target;
use wscope::{connect, handshake, listen, proxy, repl, session, tap, tls};

fn main() -> ExitCode {
    let clock = Clock::start();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    set_up_colour(cli.color);
    let mut render = choose_renderer(&cli, clock);
    let exit = match run(&cli, render.as_mut()) {
        Ok(exit) => exit,
        Err(failure) => {
            let _ = render.event(&Event::Error(&failure));
            // What stdout holds comes first: the frame shown before its
            // error stays before it when both streams go to one place.
            let _ = render.flush();
            print_failure(&failure);
            failure.stage.exit_code()
        }
    };
    let _ = render.flush();
    exit.into()
}

fn run(cli: &Cli, render: &mut dyn Render) -> Result<Exit, Failure> {
    // Checked before connecting: a bad argument is a usage error.
    let until = cli
        .until
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| {
            fail(
                Stage::Usage,
                format!("--until: {}", one_line(&e.to_string())),
            )
        })?;
    if let Some(listen) = &cli.listen {
        return serve(cli, render, listen, until);
    }
    let Some(url) = &cli.url else {
        return Err(fail(
            Stage::Usage,
            "no URL given: wscope ws://HOST[:PORT]/PATH, or --listen PORT (see wscope --help)",
        ));
    };
    let first = Target::parse(url)?;
    let shaping = shaping(cli, &first)?;
    let opened = open(cli, render, first, &shaping)?;
    let summary = summary(&opened.target, &opened.facts, &opened.verdict);
    let session = SessionSetup {
        transport: opened.transport,
        leftover: opened.response.leftover,
        role: Role::Client,
        summary,
        until,
        listener: None,
    };
    run_session(cli, render, session)
}

/// `--listen`: wait for one client with a good upgrade (refusing and
/// reporting anything else), answer it, then run the same session as a
/// client would, from the server's side.
fn serve(
    cli: &Cli,
    render: &mut dyn Render,
    listen: &str,
    until: Option<regex::Regex>,
) -> Result<Exit, Failure> {
    let listener = listen::bind(listen::parse_listen_addr(listen)?)?;
    let local = listener
        .local_addr()
        .map_err(|e| fail(Stage::Connect, e.to_string()))?;
    let mut waiting = listen::ClientWait::new(&listener)?;
    let prompt_later = opens_prompt(cli);
    let _ = render.event(&Event::Notice(&format!(
        "listening on {local}; waiting for a client (ws://{local}/){}",
        if prompt_later {
            "; the prompt opens when one connects"
        } else {
            ""
        }
    )));
    let _ = render.flush();
    let accepted = listen::accept(&listener, &mut waiting, &cli.subprotocols, |refusal| {
        let _ = render.event(&Event::Notice(&refusal.describe()));
        let _ = render.flush();
    })?;
    drop(waiting);
    let Some(accepted) = accepted else {
        let _ = render.event(&Event::Notice("stopped waiting for a client (signal)"));
        return Ok(Exit::Normal);
    };
    let path = String::from_utf8_lossy(&accepted.request)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let target = Target::parse(&format!("ws://{local}{path}"))
        .or_else(|_| Target::parse(&format!("ws://{local}/")))?;
    let facts = connect::ConnectFacts {
        addr: accepted.peer,
        via: None,
        dns_ms: 0.0,
        tcp_ms: 0.0,
        tls_ms: None,
        tls: None,
    };
    let _ = render.event(&Event::Connect {
        target: &target,
        facts: &facts,
    });
    let _ = render.event(&Event::Request {
        raw: &accepted.request,
    });
    let response = handshake::read_response(&mut accepted.response.as_slice(), Duration::ZERO)?;
    let verdict = handshake::Verdict {
        accept_expected: response
            .header("Sec-WebSocket-Accept")
            .unwrap_or_default()
            .to_string(),
        accept_ok: true,
        subprotocol: accepted.subprotocol.clone(),
        extensions: None,
        problem: None,
    };
    let _ = render.event(&Event::Response {
        response: &response,
        verdict: &verdict,
        upgrade_ms: 0.0,
    });
    if !cli.subprotocols.is_empty() && accepted.subprotocol.is_none() {
        // The client may well give up on this session; say why.
        let offered = match accepted.offered.as_slice() {
            [] => "none".to_string(),
            some => some.join(", "),
        };
        let _ = render.event(&Event::Notice(&format!(
            "no subprotocol chosen: the client offered {offered}; -s accepts {}",
            cli.subprotocols.join(", ")
        )));
    }
    let session = SessionSetup {
        transport: connect::Transport::Plain(accepted.stream),
        leftover: accepted.leftover,
        role: Role::Server,
        summary: format!(
            "serving {} on {local}; subprotocol: {}",
            accepted.peer,
            accepted.subprotocol.as_deref().unwrap_or("none")
        ),
        until,
        listener: Some(listener),
    };
    run_session(cli, render, session)
}

/// An open connection, ready for the session loop.
struct SessionSetup {
    transport: connect::Transport,
    /// Bytes read with the handshake that belong to the first frames.
    leftover: Vec<u8>,
    role: Role,
    summary: String,
    until: Option<regex::Regex>,
    listener: Option<std::net::TcpListener>,
}

fn run_session(cli: &Cli, render: &mut dyn Render, setup: SessionSetup) -> Result<Exit, Failure> {
    let transport = setup.transport;
    transport
        .set_nonblocking(true)
        .and_then(|_| transport.set_read_timeout(None))
        .map_err(|e| fail(Stage::Io, format!("cannot set up the socket: {e}")))?;
    // Nothing shows previews in payload mode; control frames keep theirs.
    let preview = if render.wants_frames() {
        cli.preview
    } else {
        0
    };
    let tap = tap::Tap::new(transport, preview, &setup.leftover);
    let config = WebSocketConfig::default()
        .max_message_size(Some(cli.max_message_size as usize))
        .max_frame_size(Some(cli.max_frame_size as usize));
    let ws = WebSocket::from_partially_read(tap, setup.leftover, setup.role, Some(config));

    let opts = session::Options {
        wait: cli.wait.map(Duration::from_secs_f64),
        close_timeout: Duration::from_secs_f64(cli.close_timeout),
        summary: setup.summary,
        count: cli.count,
        until: setup.until,
        ping_interval: cli.ping_interval.map(Duration::from_secs_f64),
        ping_timeout: cli.ping_timeout.map(Duration::from_secs_f64),
        serving: setup.role == Role::Server,
        echo: cli.echo,
    };
    let (poll, waker) = session::readiness()
        .map_err(|e| fail(Stage::Io, format!("cannot set up the session: {e}")))?;
    let preset = cli.execute.iter().cloned().map(Command::Text).collect();
    let mut input = InputQueue::new(preset);
    // With stdout redirected (`wscope URL | jq`) there is no screen to
    // draw a prompt on: lines typed at the terminal are sent as they are,
    // and Ctrl-D ends them.
    let stdin_tty = std::io::stdin().is_terminal();
    let typing = stdin_tty && cli.execute.is_empty() && !cli.echo;
    let interactive = opens_prompt(cli);
    let terminal = interactive.then(repl::TerminalGuard::save);
    if interactive {
        let printer = repl::start(input.channel(), waker.clone())
            .map_err(|message| fail(Stage::Io, message))?;
        render.out().use_printer(printer);
    } else if (!stdin_tty || typing) && !cli.echo {
        let mode = if cli.binary {
            StdinMode::Binary {
                chunk: cli.chunk_size as usize,
            }
        } else if cli.hex {
            StdinMode::Hex
        } else if cli.slash {
            StdinMode::Slash
        } else {
            StdinMode::Text
        };
        input.read_stdin(waker.clone(), mode);
    } else if cli.echo {
        // Input never ends by itself: the client decides when to close.
        input.hold_open();
    }
    let mut session = session::Session::new(ws, &mut *render, opts, (poll, waker), input);
    if let Some(listener) = setup.listener {
        session = session.with_listener(listener);
    }
    let outcome = session.run();
    if let Some(terminal) = terminal {
        // Let the prompt thread print what it was handed, then take the
        // terminal back from it.
        std::thread::sleep(Duration::from_millis(30));
        render.out().use_stdout();
        drop(terminal);
        println!();
    }
    outcome
}

/// A connection whose opening handshake succeeded.
struct Opened {
    target: Target,
    transport: connect::Transport,
    facts: connect::ConnectFacts,
    response: handshake::Response,
    verdict: handshake::Verdict,
}

/// Connects and runs the opening handshake, following redirects with -L;
/// every hop's connection, request and response are shown.
fn open(
    cli: &Cli,
    render: &mut dyn Render,
    mut target: Target,
    shaping: &handshake::Shaping,
) -> Result<Opened, Failure> {
    let timeout = Duration::from_secs_f64(cli.connect_timeout.max(0.001));
    let ip_version = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(connect::IpVersion::V4),
        (_, true) => Some(connect::IpVersion::V6),
        _ => None,
    };
    let mut tls_config = None;
    let mut hops = 0;
    loop {
        if target.tls && tls_config.is_none() {
            if cli.insecure {
                warn("-k/--insecure: the server's certificate is not verified; anyone on the path can read and change this session");
            }
            tls_config = Some(tls::client_config(&tls::TlsOptions {
                ca_files: &cli.ca,
                insecure: cli.insecure,
                client_cert: cli.cert.as_deref().zip(cli.key.as_deref()),
                tls13_only: cli.tls_min == Some(cli::TlsMin::V1_3),
            })?);
        }
        let proxy = proxy::choose(&target, cli.proxy.as_deref())?;
        let route = connect::Route {
            proxy: proxy.as_ref(),
            ip_version,
            tls_server_name: cli.tls_server_name.as_deref(),
            timeout,
        };
        let config = if target.tls { tls_config.clone() } else { None };
        let connected = connect::connect(&target, config, &route)?;
        let _ = render.event(&Event::Connect {
            target: &target,
            facts: &connected.facts,
        });
        let mut transport = connected.transport;

        let started = Instant::now();
        let request = handshake::Request::build(&target, shaping);
        let _ = render.event(&Event::Request { raw: &request.raw });
        handshake::send_request(&mut transport, &request)?;
        let response =
            handshake::read_response(&mut transport, timeout.min(Duration::from_secs(2))).map_err(
                |mut failure| {
                    if failure.message.ends_with("timed out") {
                        failure.message += &format!(
                            ": no answer within {} s (--connect-timeout)",
                            cli.connect_timeout
                        );
                    }
                    failure
                },
            )?;
        let verdict = handshake::verify(&request, &response);
        let _ = render.event(&Event::Response {
            response: &response,
            verdict: &verdict,
            upgrade_ms: connect::ms_since(started),
        });
        let Some(problem) = verdict.problem.clone() else {
            return Ok(Opened {
                target,
                transport,
                facts: connected.facts,
                response,
                verdict,
            });
        };
        let location = response
            .header("Location")
            .filter(|_| cli.location && matches!(response.status, 301 | 302 | 303 | 307 | 308));
        let Some(location) = location else {
            let problem = match response.header("Location") {
                Some(to) if (300..400).contains(&response.status) && !cli.location => {
                    format!("{problem} (it points to {to}; -L follows redirects)")
                }
                _ => problem,
            };
            return Err(fail(Stage::Handshake, with_body(problem, &response.body)));
        };
        if hops >= cli.max_redirects {
            return Err(fail(
                Stage::Handshake,
                format!(
                    "too many redirects: stopped after {hops} (--max-redirects); the last pointed to {location}"
                ),
            ));
        }
        hops += 1;
        target = redirect_target(&target, location)?;
        let notice = format!(
            "following {} redirect {hops} of at most {} to {}",
            response.status, cli.max_redirects, target.url
        );
        let _ = render.event(&Event::Notice(&notice));
    }
}

/// Where a Location header points, as a WebSocket URL (http becomes ws).
fn redirect_target(current: &Target, location: &str) -> Result<Target, Failure> {
    let mut next = current.url.join(location).map_err(|e| {
        fail(
            Stage::Handshake,
            format!("the redirect's Location '{location}' is not a URL: {e}"),
        )
    })?;
    let scheme = match next.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(fail(
                Stage::Handshake,
                format!("the redirect points to an unsupported scheme '{other}': {location}"),
            ))
        }
    };
    if next.scheme() != scheme {
        // Url::set_scheme refuses special-to-special changes like http to
        // ws; rebuilding from text does not.
        let text = format!("{scheme}{}", &next.as_str()[next.scheme().len()..]);
        next = url::Url::parse(&text).map_err(|e| fail(Stage::Handshake, e.to_string()))?;
    }
    Target::parse(next.as_str()).map_err(|f| Failure::new(Stage::Handshake, f.message))
}

/// What the request options ask of the handshake.
fn shaping(cli: &Cli, target: &Target) -> Result<handshake::Shaping, Failure> {
    let headers = cli
        .headers
        .iter()
        .map(|h| handshake::parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| fail(Stage::Usage, message))?;
    if let Some(auth) = &cli.auth {
        if !auth.contains(':') {
            return Err(fail(
                Stage::Usage,
                format!("--auth '{auth}' is not USER:PASS"),
            ));
        }
    }
    let usage = |message| fail(Stage::Usage, message);
    for p in &cli.subprotocols {
        handshake::check_subprotocol(p).map_err(usage)?;
    }
    if let Some(origin) = &cli.origin {
        handshake::check_value("--origin", origin).map_err(usage)?;
    }
    if let Some(agent) = &cli.user_agent {
        handshake::check_value("--user-agent", agent).map_err(usage)?;
    }
    Ok(handshake::Shaping {
        headers,
        origin: cli.origin.clone(),
        subprotocols: cli.subprotocols.clone(),
        basic_auth: cli.auth.clone().or_else(|| target.credentials()),
        user_agent: cli.user_agent.clone(),
    })
}

/// One line about the connection for /status.
fn summary(target: &Target, facts: &connect::ConnectFacts, verdict: &handshake::Verdict) -> String {
    let tls = facts.tls.as_ref().map_or_else(
        || "no TLS".to_string(),
        |t| format!("{} {}", t.version, t.cipher),
    );
    format!(
        "{} at {}; {tls}; subprotocol: {}",
        target.url,
        facts.addr,
        verdict.subprotocol.as_deref().unwrap_or("none")
    )
}

/// Errors are one line; some libraries draw pictures over several.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A non-101 answer's message carries the start of its body, since that is
/// usually where the server says why.
fn with_body(problem: String, body: &[u8]) -> String {
    if body.is_empty() {
        return problem;
    }
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut start: String = one_line.chars().take(200).collect();
    if start.len() < one_line.len() {
        start.push('…');
    }
    format!("{problem}; body: {start}")
}

/// A person at a terminal (stdin and stdout) who gave nothing to send gets
/// the prompt; an echo server needs no input at all.
fn opens_prompt(cli: &Cli) -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && cli.execute.is_empty()
        && !cli.echo
}

fn choose_renderer(cli: &Cli, clock: Clock) -> Box<dyn Render> {
    let out = Out::stdout();
    if cli.json {
        Box::new(Json::new(out, clock))
    } else if cli.frames || std::io::stdout().is_terminal() {
        Box::new(Human::new(out, clock, cli.listen.is_some(), cli.preview))
    } else {
        Box::new(Payload::new(out, cli.raw, cli.listen.is_some()))
    }
}

/// Colour is decided once: on a terminal unless NO_COLOR is set or
/// TERM=dumb, unless --color says otherwise.
fn set_up_colour(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    };
    colored::control::set_override(on);
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
        let _ = json.event(&Event::Error(&failure));
        let _ = json.flush();
    }
    print_failure(&failure);
    Exit::Usage.into()
}
