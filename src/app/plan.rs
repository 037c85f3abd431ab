//! The command line checked and turned into a plan: which mode, and the
//! values every mode needs, validated before anything touches the network
//! (a bad argument is a usage error, exit 2).

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::cli::Cli;
use crate::error::{fail, one_line, Failure, Stage};
use crate::formats::Recording;
use crate::handshake::{self, client::Shaping};
use crate::net::target::Target;
use crate::wire::Role;

pub enum Mode {
    /// Connect to a server.
    Connect {
        target: Box<Target>,
        shaping: Shaping,
    },
    /// `--listen`: wait for one client.
    Listen { addr: std::net::SocketAddr },
    /// `--listen unix:PATH`: wait for one client on a Unix socket.
    ListenUnix { path: std::path::PathBuf },
}

pub struct Plan<'c> {
    pub cli: &'c Cli,
    pub mode: Mode,
    /// `--until`, compiled.
    pub until: Option<regex::Regex>,
    /// `--reply` rules, compiled.
    pub replies: crate::input::reply::Replies,
    /// A person at a terminal gets the prompt.
    pub prompt: bool,
    /// `--replay`: the recording, read, and `--ignore`, compiled.
    pub replay: Option<(Recording, Vec<regex::Regex>)>,
    /// --max-time: when the whole run must be over.
    pub deadline: Option<std::time::Instant>,
    /// How connections are opened as a client.
    pub dialer: super::dialer::Dialer,
}

impl<'c> Plan<'c> {
    pub fn new(cli: &'c Cli) -> Result<Plan<'c>, Failure> {
        let until = cli
            .until
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| usage(format!("--until: {}", one_line(&e.to_string()))))?;
        let replies = crate::input::reply::Replies::parse(&cli.reply).map_err(usage)?;
        let memory = machine_memory();
        for (option, value) in [
            ("--max-frame-size", cli.max_frame_size),
            ("--max-message-size", cli.max_message_size),
        ] {
            if value > memory {
                return Err(usage(format!(
                    "{option} {value} is more than this machine's memory ({memory} bytes); a peer could make wscope try to hold it"
                )));
            }
        }
        for file in &cli.ca {
            crate::tls::check_ca_file(file)?;
        }
        let replay = cli
            .replay
            .as_deref()
            .map(|path| {
                // A mock server (--listen) sends the server's side again.
                let ours = match cli.listen {
                    Some(_) => Role::Server,
                    None => Role::Client,
                };
                Recording::read(path, cli.entry.as_deref(), ours)
            })
            .transpose()?;
        let masks = cli
            .ignore
            .iter()
            .map(|r| regex::Regex::new(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| usage(format!("--ignore: {}", one_line(&e.to_string()))))?;
        if cli.client_ca.is_some() && cli.cert.is_none() && cli.self_signed.is_none() {
            return Err(usage(
                "--client-ca asks for client certificates over TLS: give --cert and --key, or --self-signed",
            ));
        }
        let mode = match (&cli.listen, &cli.url) {
            (Some(listen), _) if listen.starts_with("unix:") => Mode::ListenUnix {
                path: parse_listen_unix(listen)?,
            },
            (Some(listen), _) => Mode::Listen {
                addr: parse_listen_addr(listen)?,
            },
            (None, Some(url)) => {
                let target = Target::parse(url)?;
                let mut shaping = shaping(cli, &target)?;
                if let Some(recording) = &replay {
                    let recorded = recording.url.as_deref().and_then(|u| Target::parse(u).ok());
                    let same_origin = recorded.is_some_and(|r| r.same_origin(&target));
                    let (headers, dropped) = recording.request_headers(
                        std::mem::take(&mut shaping.headers),
                        &chosen_headers(cli, &target),
                        same_origin,
                    );
                    shaping.headers = headers;
                    if !dropped.is_empty() {
                        let why = match &recording.url {
                            Some(_) => {
                                format!("{} is not the origin it was recorded against", target.url)
                            }
                            None => "the recording does not say which origin it was made against"
                                .to_string(),
                        };
                        crate::error::warn(&format!(
                            "--replay: the recording's {} not sent: {why} (give them with -H)",
                            dropped.join(", "),
                        ));
                    }
                }
                Mode::Connect {
                    target: Box::new(target),
                    shaping,
                }
            }
            (None, None) => return Err(usage(
                "no URL given: wscope ws://HOST[:PORT]/PATH, or --listen PORT (see wscope --help)",
            )),
        };
        Ok(Plan {
            cli,
            mode,
            until,
            replies,
            prompt: opens_prompt(cli) && replay.is_none(),
            replay: replay.map(|r| (r, masks)),
            deadline: cli
                .max_time
                .map(|secs| std::time::Instant::now() + std::time::Duration::from_secs_f64(secs)),
            dialer: super::dialer::Dialer::from_cli(cli),
        })
    }
}

/// The request headers the command line sets through its own options;
/// a replayed recording's do not replace them.
fn chosen_headers(cli: &Cli, target: &Target) -> Vec<&'static str> {
    let mut chosen = Vec::new();
    if cli.origin.is_some() {
        chosen.push("Origin");
    }
    if cli.auth.is_some() || target.credentials().is_some() {
        chosen.push("Authorization");
    }
    if !cli.subprotocols.is_empty() {
        chosen.push("Sec-WebSocket-Protocol");
    }
    if cli.user_agent.is_some() {
        chosen.push("User-Agent");
    }
    if cli.deflate {
        chosen.push("Sec-WebSocket-Extensions");
    }
    chosen
}

pub fn usage(message: impl Into<String>) -> Failure {
    fail(Stage::Usage, message)
}

/// What the request options ask of the handshake.
fn shaping(cli: &Cli, target: &Target) -> Result<Shaping, Failure> {
    let headers = cli
        .headers
        .iter()
        .map(|h| handshake::parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    if let Some(auth) = &cli.auth {
        if !auth.contains(':') {
            return Err(usage(format!("--auth '{auth}' is not USER:PASS")));
        }
    }
    for p in &cli.subprotocols {
        handshake::check_subprotocol(p).map_err(usage)?;
    }
    if let Some(origin) = &cli.origin {
        handshake::check_value("--origin", origin).map_err(usage)?;
    }
    if let Some(agent) = &cli.user_agent {
        handshake::check_value("--user-agent", agent).map_err(usage)?;
    }
    let mut headers = headers;
    let offered_by_hand = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"));
    if cli.deflate && !offered_by_hand {
        headers.push((
            "Sec-WebSocket-Extensions".to_string(),
            crate::handshake::extensions::DEFLATE_OFFER.to_string(),
        ));
    }
    Ok(Shaping {
        headers,
        origin: cli.origin.clone(),
        subprotocols: cli.subprotocols.clone(),
        basic_auth: cli.auth.clone().or_else(|| target.credentials()),
        user_agent: cli.user_agent.clone(),
    })
}

/// The machine's physical memory in bytes: no size limit may exceed it,
/// since a message up to the limit is held whole.
fn machine_memory() -> u64 {
    // SAFETY: sysconf only reads system configuration.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    match (u64::try_from(pages), u64::try_from(size)) {
        (Ok(pages), Ok(size)) if pages > 0 && size > 0 => pages.saturating_mul(size),
        // Unknown: 64-bit lengths are refused by the guard anyway.
        _ => 1 << 40,
    }
}

/// A person at a terminal (stdin and stdout) who gave nothing to send gets
/// the prompt; an echo server needs no input at all.
fn opens_prompt(cli: &Cli) -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && cli.execute.is_empty()
        && !cli.echo
}

/// `[ADDR:]PORT`; a bare port listens on 127.0.0.1 only.
pub fn parse_listen_addr(input: &str) -> Result<SocketAddr, Failure> {
    let with_host = if input.parse::<u16>().is_ok() {
        format!("127.0.0.1:{input}")
    } else {
        input.to_string()
    };
    with_host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            fail(
                Stage::Usage,
                format!(
                    "--listen '{input}' is not [ADDR:]PORT (e.g. 9001, 0.0.0.0:9001, [::1]:9001)"
                ),
            )
        })
}

/// `unix:PATH`: a socket file path the platform can bind.
pub fn parse_listen_unix(input: &str) -> Result<std::path::PathBuf, Failure> {
    let path = std::path::Path::new(&input["unix:".len()..]);
    if path.as_os_str().is_empty() {
        return Err(usage(
            "--listen unix: needs a path (e.g. --listen unix:/tmp/app.sock)",
        ));
    }
    crate::net::target::check_socket_path(path)
        .map_err(|why| usage(format!("--listen {input}: {why}")))?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen_addr("9001").unwrap().to_string(),
            "127.0.0.1:9001"
        );
        assert_eq!(parse_listen_addr("0.0.0.0:0").unwrap().port(), 0);
        assert_eq!(parse_listen_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(parse_listen_addr("nope").is_err());
    }

    #[test]
    fn unix_listen_paths() {
        assert_eq!(
            parse_listen_unix("unix:/tmp/a.sock").unwrap(),
            std::path::Path::new("/tmp/a.sock")
        );
        assert!(parse_listen_unix("unix:").is_err());
        let long = format!("unix:/{}", "x".repeat(200));
        assert!(parse_listen_unix(&long)
            .unwrap_err()
            .message
            .contains("at most"));
    }
}
