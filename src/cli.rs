//! The command line: one `Cli` that every other module reads from.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// A WebSocket client and debugger: shows the raw opening handshake and
/// every frame in both directions with its header decoded.
///
/// Text given with -x, then lines read from stdin when it is not a terminal,
/// are sent as text messages; when the input is used up wscope sends Close
/// 1000 and prints everything that arrives until the server's Close.
///
/// Exit codes: 0 closed normally, 1 never opened, 2 usage error, 3 opened
/// then lost, 4 the peer closed with an abnormal code.
#[derive(Parser, Debug)]
#[command(name = "wscope", version, about, long_about)]
pub struct Cli {
    /// The server to connect to: ws://HOST[:PORT]/PATH or wss://...
    #[arg(value_name = "URL", required_unless_present = "listen")]
    pub url: Option<String>,

    /// Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1)
    /// for one client and show its session the same way. A second client
    /// meanwhile is turned away with 503.
    #[arg(short = 'l', long, value_name = "[ADDR:]PORT", conflicts_with = "url")]
    pub listen: Option<String>,

    /// With --listen: send every message back to the client.
    // `requires` alone lets a flag through beside a URL.
    #[arg(long, requires = "listen", conflicts_with = "url")]
    pub echo: bool,

    /// Add a request header, 'Name: value' (repeatable, order kept); one
    /// named like a header wscope writes replaces it.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "HEADER",
        conflicts_with = "listen"
    )]
    pub headers: Vec<String>,

    /// Send this Origin header.
    #[arg(short = 'o', long, value_name = "ORIGIN", conflicts_with = "listen")]
    pub origin: Option<String>,

    /// Offer this subprotocol (repeatable); a server that picks one not
    /// offered fails the handshake.
    #[arg(short = 's', long = "subprotocol", value_name = "PROTOCOL")]
    pub subprotocols: Vec<String>,

    /// HTTP Basic credentials, USER:PASS (also taken from the URL).
    #[arg(long, value_name = "USER:PASS", conflicts_with = "listen")]
    pub auth: Option<String>,

    /// The User-Agent header ('' sends none).
    #[arg(long, value_name = "AGENT", conflicts_with = "listen")]
    pub user_agent: Option<String>,

    /// Send TEXT as a text message (repeatable, sent in order).
    #[arg(short = 'x', long = "execute", value_name = "TEXT")]
    pub execute: Vec<String>,

    /// After the input is used up, stay open until SECS seconds pass with
    /// nothing received, then close. Without it: until the peer is quiet
    /// for four round trips (5-250 ms), or up to 1 s while it still owes
    /// answers. -w 0 closes at once.
    #[arg(short = 'w', long = "wait", value_name = "SECS", value_parser = parse_seconds, allow_negative_numbers = true)]
    pub wait: Option<f64>,

    /// Treat stdin lines that start with '/' as commands, as at the prompt
    /// (/ping, /close 4000 bye, /frame ...).
    #[arg(long, conflicts_with_all = ["binary", "hex"])]
    pub slash: bool,

    /// Send stdin as binary messages of --chunk-size bytes instead of lines.
    #[arg(long, conflicts_with = "hex")]
    pub binary: bool,

    /// Size of each binary message with --binary.
    #[arg(long, value_name = "BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u64).range(1..=1 << 31))]
    pub chunk_size: u64,

    /// Each stdin line is hex for one binary message (48656c, 48 65 6c, ...).
    #[arg(long)]
    pub hex: bool,

    /// Write incoming payloads as they are: no newline after each message,
    /// binary not turned into hex.
    #[arg(long, conflicts_with_all = ["json", "frames"])]
    pub raw: bool,

    /// Close and exit after N incoming data messages.
    #[arg(short = 'n', long, value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,

    /// Close and exit after an incoming message that matches REGEX (binary
    /// messages are matched as hex).
    #[arg(long, value_name = "REGEX")]
    pub until: Option<String>,

    /// Send a ping every SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_positive_seconds, allow_negative_numbers = true)]
    pub ping_interval: Option<f64>,

    /// With --ping-interval: give up (exit 3) when a pong takes longer.
    #[arg(long, value_name = "SECS", requires = "ping_interval", value_parser = parse_positive_seconds, allow_negative_numbers = true)]
    pub ping_timeout: Option<f64>,

    /// Print every event as one JSON object per line.
    #[arg(long, conflicts_with = "frames")]
    pub json: bool,

    /// Show the handshake and frame view even when stdout is not a terminal
    /// (by default a pipe gets only the payload of each incoming message).
    #[arg(long)]
    pub frames: bool,

    /// When to colour the output.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,

    /// Trust the CA certificates in this PEM file, besides the built-in roots.
    #[arg(long, value_name = "FILE", conflicts_with = "listen")]
    pub ca: Vec<PathBuf>,

    /// Client certificate chain (PEM) for mutual TLS; needs --key.
    #[arg(long, value_name = "FILE", requires = "key", conflicts_with = "listen")]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) for --cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "cert",
        conflicts_with = "listen"
    )]
    pub key: Option<PathBuf>,

    /// Send and verify this name in TLS instead of the URL's host.
    #[arg(long, value_name = "NAME", conflicts_with = "listen")]
    pub tls_server_name: Option<String>,

    /// Lowest TLS version to accept.
    #[arg(long, value_name = "VERSION", conflicts_with = "listen")]
    pub tls_min: Option<TlsMin>,

    /// Do not verify the server's certificate (dangerous; warns).
    #[arg(short = 'k', long, conflicts_with = "listen")]
    pub insecure: bool,

    /// Show at most BYTES of each frame's payload.
    #[arg(long, value_name = "BYTES", default_value_t = 128)]
    pub preview: usize,

    /// Largest incoming message accepted; a bigger one fails the
    /// connection with Close 1009 instead of growing memory.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub max_message_size: u64,

    /// Largest incoming frame accepted.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub max_frame_size: u64,

    /// How long to wait for the server's Close after sending ours.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_seconds, allow_negative_numbers = true)]
    pub close_timeout: f64,

    /// Connect through this proxy: http://[USER:PASS@]HOST:PORT (CONNECT),
    /// socks5://HOST:PORT or socks5h://HOST:PORT (the proxy resolves the
    /// name). Without it HTTPS_PROXY/HTTP_PROXY, ALL_PROXY and NO_PROXY
    /// are honoured; --proxy '' ignores them.
    #[arg(long, value_name = "URL", conflicts_with = "listen")]
    pub proxy: Option<String>,

    /// Use IPv4 addresses only.
    #[arg(short = '4', long = "ipv4", conflicts_with_all = ["ipv6", "listen"])]
    pub ipv4: bool,

    /// Use IPv6 addresses only.
    #[arg(short = '6', long = "ipv6", conflicts_with = "listen")]
    pub ipv6: bool,

    /// Follow 3xx redirects (each hop is shown).
    #[arg(short = 'L', long, conflicts_with = "listen")]
    pub location: bool,

    /// Offer permessage-deflate (compression), as browsers do; with
    /// --listen, accept a client's offer.
    #[arg(long)]
    pub deflate: bool,

    /// With -L, trust redirects as curl does: credentials (Authorization,
    /// Cookie, Proxy-Authorization) follow them to other origins, and a
    /// redirect from wss:// to ws:// is followed.
    #[arg(long, requires = "location", conflicts_with = "listen")]
    pub location_trusted: bool,

    /// How many redirects -L follows.
    #[arg(long, value_name = "N", default_value_t = 5, conflicts_with = "listen")]
    pub max_redirects: u32,

    /// Give up connecting (TCP, TLS and the upgrade) after SECS seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_positive_seconds, allow_negative_numbers = true, conflicts_with = "listen")]
    pub connect_timeout: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TlsMin {
    #[value(name = "1.2")]
    V1_2,
    #[value(name = "1.3")]
    V1_3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Longer than any session needs, and short enough that every deadline
/// computed from it stays representable.
const MAX_SECONDS: f64 = 1e9;

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) => Ok(v),
        Ok(v) if v > MAX_SECONDS => Err(format!("'{s}' is more than {MAX_SECONDS} seconds")),
        Ok(v) if v < 0.0 => Err(format!("'{s}' is negative; give 0 or more seconds")),
        _ => Err(format!(
            "'{s}' is not a number of seconds (use e.g. 5 or 0.5)"
        )),
    }
}

fn parse_count(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("0 messages would end the run before it starts; give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number of messages")),
    }
}

fn parse_positive_seconds(s: &str) -> Result<f64, String> {
    match parse_seconds(s)? {
        v if v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' must be more than 0 seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Fails when a committed generated file differs from what the CLI
    /// generates now; `WSCOPE_UPDATE_COMPLETIONS=1 cargo test` rewrites it.
    fn check_generated(relative: &str, generated: &[u8]) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        if std::env::var_os("WSCOPE_UPDATE_COMPLETIONS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, generated).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{relative} is out of date with the CLI: run WSCOPE_UPDATE_COMPLETIONS=1 cargo test"
        );
    }

    #[test]
    fn committed_completions_match_the_cli() {
        use clap_complete::Shell;
        for (shell, file) in [
            (Shell::Bash, "wscope.bash"),
            (Shell::Zsh, "_wscope"),
            (Shell::Fish, "wscope.fish"),
            (Shell::Elvish, "wscope.elv"),
            (Shell::PowerShell, "_wscope.ps1"),
        ] {
            let mut generated = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "wscope", &mut generated);
            check_generated(&format!("completions/{file}"), &generated);
        }
    }

    #[test]
    fn committed_man_page_matches_the_cli() {
        let mut generated = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut generated)
            .unwrap();
        check_generated("man/wscope.1", &generated);
    }

    #[test]
    fn seconds_must_be_non_negative_numbers() {
        assert_eq!(parse_seconds("1.5"), Ok(1.5));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("inf").is_err());
    }
}
