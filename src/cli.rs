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
/// then lost, 4 the peer closed with an abnormal code, 5 a --replay got
/// answers that differ from the recording, 6 a `wscope check` case failed.
///
/// `wscope check URL` tests a server against the Autobahn testsuite's
/// cases (see `wscope check --help`).
#[derive(Parser, Debug)]
#[command(name = "wscope", version, about, long_about)]
pub struct Cli {
    /// The server to connect to: ws://HOST[:PORT]/PATH or wss://..., or
    /// over a Unix socket ws+unix:///SOCKET:/PATH (wss+unix:// for TLS).
    #[arg(value_name = "URL", required_unless_present = "listen")]
    pub url: Option<String>,

    /// Be the server: wait on [ADDR:]PORT (a bare port means 127.0.0.1),
    /// or on a Unix socket with unix:PATH (removed on exit), for clients,
    /// and show their sessions the same way, each with its number. Several
    /// are served at once (--max-clients), until Ctrl-C or SIGTERM (--once:
    /// one client). With --cert/--key or --self-signed it serves
    /// wss://.
    #[arg(
        short = 'l',
        long,
        value_name = "[ADDR:]PORT|unix:PATH",
        conflicts_with = "url"
    )]
    pub listen: Option<String>,

    /// With --listen: send every message back to the client.
    // `requires` alone lets a flag through beside a URL.
    #[arg(long, requires = "listen", conflicts_with = "url")]
    pub echo: bool,

    /// With --listen: serve one client, then exit with that session's exit
    /// code (without it, wscope keeps serving until Ctrl-C or SIGTERM).
    #[arg(long, requires = "listen", conflicts_with = "url")]
    pub once: bool,

    /// With --listen: how many clients are served at once; one more is
    /// answered 503.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096), requires = "listen", conflicts_with = "url")]
    pub max_clients: u32,

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
    /// for two round trips once it answered everything (1-250 ms), up to
    /// 1 s while it still owes answers, 0.25-1 s before any answer. -w 0
    /// closes at once.
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

    /// Answer an incoming message that matches REGEX with TEXT, at once
    /// (`$1`, `${name}`: the match's groups; `$$`: a `$`; binary messages
    /// are matched as hex). Repeatable: the first rule that matches answers. For
    /// example '^2$=>3' keeps an Engine.IO (socket.io) session alive.
    #[arg(long, value_name = "REGEX=>TEXT")]
    pub reply: Vec<String>,

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

    /// How frame lines are laid out: `wide` decodes every header field;
    /// `compact` keeps each frame on one terminal line (direction, kind,
    /// flags only when unusual, length, preview); `auto` is compact on a
    /// terminal narrower than 100 columns.
    #[arg(long, value_name = "LAYOUT", default_value = "auto")]
    pub layout: Layout,

    /// The time at the start of each line: seconds since the start
    /// (`rel`), the wall clock (`abs`), or seconds since the line before
    /// (`delta`).
    #[arg(long, value_name = "FORMAT", default_value = "rel")]
    pub time: TimeFormat,

    /// Show JSON text payloads (objects and arrays) indented on the lines
    /// after their message; by default they are shown on one line,
    /// coloured.
    #[arg(long, conflicts_with = "no_pretty")]
    pub pretty: bool,

    /// Show JSON text payloads exactly as they were sent.
    #[arg(long)]
    pub no_pretty: bool,

    /// Show only what goes this way (the human view; --json stays whole).
    #[arg(long, value_name = "DIR")]
    pub only: Option<OnlyDir>,

    /// Leave these kinds of frame out of the human view, comma-separated
    /// (ping,pong,close,text,binary,continuation); they are still handled.
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub hide: Vec<FrameKind>,

    /// Show only the messages that match REGEX (binary as hex), with their
    /// frames (the human view; --json stays whole).
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,

    /// Pair the JSON messages sent and received that carry the same value
    /// in FIELD (`id`, or a dotted path such as `meta.id`), in whatever
    /// order the answers come, and show each answer's delay.
    #[arg(long, value_name = "FIELD")]
    pub rtt_json_id: Option<String>,

    /// When to colour the output.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,

    /// Trust the CA certificates in this PEM file, besides the built-in roots.
    #[arg(long, value_name = "FILE", conflicts_with = "listen")]
    pub ca: Vec<PathBuf>,

    /// Certificate chain (PEM): the client's for mutual TLS, or with
    /// --listen the server's, which then serves wss://. Needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) for --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// With --listen: serve wss:// with a certificate made at start for
    /// localhost, 127.0.0.1 and ::1, or for the names given
    /// (--self-signed=NAME,...). Prints its fingerprints and where a PEM
    /// copy was written.
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true, value_delimiter = ',', requires = "listen", conflicts_with_all = ["cert", "url"])]
    pub self_signed: Option<Vec<String>>,

    /// With --listen and TLS: require a client certificate issued by a CA
    /// in this PEM file.
    #[arg(long, value_name = "FILE", requires = "listen", conflicts_with = "url")]
    pub client_ca: Option<PathBuf>,

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

    /// Largest incoming message accepted (64 MiB; inflated size when
    /// compressed); a bigger one fails the connection with Close 1009
    /// instead of growing memory.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_message_size: u64,

    /// Largest incoming frame accepted (16 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
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

    /// Bound the whole run, connecting included, to SECS seconds, as
    /// curl's --max-time does: when it is reached wscope sends a Close and
    /// exits 3 at once.
    #[arg(long, value_name = "SECS", value_parser = parse_positive_seconds, allow_negative_numbers = true)]
    pub max_time: Option<f64>,

    /// Open the connection again when it is lost (an error, a reset, a
    /// refused connection, an upgrade answered 502, 503 or 504, or a Close
    /// the server started with 1001, 1011, 1012 or 1013), up to N more
    /// times, or `always`. The -x messages
    /// go out again on each connection; stdin or the prompt carries on.
    #[arg(long, value_name = "N|always", value_parser = parse_reconnect, conflicts_with = "listen")]
    pub reconnect: Option<Reconnect>,

    /// With --reconnect: the first wait before connecting again; it
    /// doubles after each attempt that fails to open, up to
    /// --reconnect-max-delay.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_positive_seconds, allow_negative_numbers = true, requires = "reconnect")]
    pub reconnect_delay: f64,

    /// With --reconnect: the longest wait between attempts.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_positive_seconds, allow_negative_numbers = true, requires = "reconnect")]
    pub reconnect_max_delay: f64,

    /// Give up connecting (TCP, TLS and the upgrade) after SECS seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_positive_seconds, allow_negative_numbers = true, conflicts_with = "listen")]
    pub connect_timeout: f64,

    /// Also write the --json event stream, each event with its wall-clock
    /// time, to FILE (a tape, see docs/tape.md), whatever the screen shows.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Write the session to FILE as HAR 1.2, the way Chrome DevTools saves
    /// a WebSocket (the upgrade as an entry, messages in _webSocketMessages).
    #[arg(long, value_name = "FILE")]
    pub har: Option<PathBuf>,

    /// Write the WebSocket stream (handshake and frames, both ways) to FILE
    /// as a pcapng capture for Wireshark; for wss:// the decrypted bytes.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Play a tape (--log) or a HAR again: with a URL, send its messages
    /// and compare what comes back (exit 5 when it differs); with
    /// --listen, answer a client with the messages its server sent.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["execute", "echo", "reply", "reconnect"])]
    pub replay: Option<PathBuf>,

    /// With --replay: wait before each message for as many messages as the
    /// recording had received by then (paced), keep the recording's gaps
    /// (original), or send at once (none).
    #[arg(
        long,
        value_name = "WHEN",
        default_value = "paced",
        requires = "replay"
    )]
    pub timing: Timing,

    /// With --replay, paced: how long to wait for each awaited message.
    #[arg(long, value_name = "SECS", default_value = "5", requires = "replay", value_parser = parse_positive_seconds, allow_negative_numbers = true)]
    pub replay_timeout: f64,

    /// With --replay: mask what matches REGEX in both the recorded and the
    /// received messages before comparing (repeatable; binary as hex).
    #[arg(long, value_name = "REGEX", requires = "replay")]
    pub ignore: Vec<String>,

    /// With --replay of a HAR or a tape of several connections: the
    /// WebSocket entry (or connection) whose URL contains this, or the
    /// Nth (from 1).
    #[arg(long, value_name = "URL-SUBSTRING|N", requires = "replay")]
    pub entry: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Timing {
    Paced,
    Original,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TlsMin {
    #[value(name = "1.2")]
    V1_2,
    #[value(name = "1.3")]
    V1_3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnlyDir {
    /// What the peer sent.
    In,
    /// What wscope sent.
    Out,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FrameKind {
    Ping,
    Pong,
    Close,
    Text,
    Binary,
    Continuation,
}

// The view's own settings, parsed straight from the command line.
pub use crate::observe::{Layout, TimeFormat};

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

/// How many times --reconnect may open the connection again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconnect {
    Times(u64),
    Always,
}

fn parse_reconnect(s: &str) -> Result<Reconnect, String> {
    match s {
        "always" => Ok(Reconnect::Always),
        _ => match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Reconnect::Times(n)),
            _ => Err(format!(
                "'{s}' is not a number of attempts (1 or more) or 'always'"
            )),
        },
    }
}

fn parse_positive_seconds(s: &str) -> Result<f64, String> {
    match parse_seconds(s)? {
        v if v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' must be more than 0 seconds")),
    }
}

/// `wscope check URL`: the conformance battery for a WebSocket server.
#[derive(Parser, Debug)]
#[command(
    name = "wscope check",
    bin_name = "wscope check",
    version,
    about = "Test a WebSocket server (or, with --listen, clients) against the Autobahn testsuite's cases",
    long_about = "Test a WebSocket server against the Autobahn testsuite's cases: \
framing, pings, reserved bits, opcodes, fragmentation, UTF-8, closing, limits \
and permessage-deflate, with the suite's verdicts. The server should echo \
every message it receives. Exits 6 when a case FAILED (docs/exit-codes.md)."
)]
pub struct CheckCli {
    /// The server to test: ws:// or wss://, an echo endpoint
    #[arg(value_name = "URL", required_unless_present = "listen")]
    pub url: Option<String>,

    /// Test clients instead: serve the suite's fuzzingserver control URLs
    /// (/getCaseCount, /runCase, ...) on [ADDR:]PORT for client harnesses,
    /// and a page at / that runs the cases in a browser
    #[arg(long, value_name = "[ADDR:]PORT", conflicts_with = "url")]
    pub listen: Option<String>,

    /// With --listen: end after the first /updateReports, with the exit
    /// code (6 if a case FAILED), so that a CI job needs no kill
    #[arg(long, requires = "listen")]
    pub until_reports: bool,

    /// Run only these cases: the suite's ids with * globs, comma-separated
    /// ('1.*,6.4.*')
    #[arg(long, value_name = "LIST")]
    pub cases: Option<String>,

    /// Leave these cases out (same form as --cases)
    #[arg(long, value_name = "LIST")]
    pub exclude: Option<String>,

    /// One JSON line per case as it ends, then a summary line
    #[arg(long)]
    pub json: bool,

    /// Write the suite's index.json, a JSON file per case with its wire
    /// log, and an HTML report (index.html) to DIR, as cases end
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// The server's name in the report [default: its Server header, or
    /// the host]
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,

    /// Run up to N cases side by side (timed cases always run alone)
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,

    /// Seconds to wait for each connection and opening handshake
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_positive_seconds)]
    pub connect_timeout: f64,

    /// Trust the CA certificates in this PEM file, besides the built-in roots
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,

    /// Do not verify the server's certificate
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// When to colour the output
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

/// `wscope proxy`: both legs of someone else's WebSocket, frame by frame.
#[derive(Parser, Debug)]
#[command(
    name = "wscope proxy",
    bin_name = "wscope proxy",
    version,
    about = "Carry WebSocket connections through, showing both legs frame by frame",
    long_about = "Carry WebSocket connections through, showing both legs frame by frame. \
With a URL it is a reverse proxy: clients connect to --listen and are carried \
to URL. Without one it is an HTTP proxy (CONNECT and absolute-form requests) \
for apps set up with HTTP_PROXY/HTTPS_PROXY and browsers with --proxy-server; \
--mitm DIR shows what goes through TLS tunnels. Faults (--fault) delay, drop, \
corrupt, stall or close on purpose. See docs/proxy.md."
)]
pub struct ProxyCli {
    /// Where clients connect: [ADDR:]PORT (the address defaults to 127.0.0.1)
    #[arg(short = 'l', long, value_name = "[ADDR:]PORT")]
    pub listen: String,

    /// The server to carry clients to (ws:// or wss://); without it, an
    /// HTTP proxy
    #[arg(value_name = "URL")]
    pub url: Option<String>,

    /// Intercept TLS tunnels with a CA kept in DIR (made on first use):
    /// ca.pem to trust, ca.key (mode 0600) never printed
    #[arg(long, value_name = "DIR", conflicts_with = "url")]
    pub mitm: Option<PathBuf>,

    /// A fault to apply: KIND[:up|down][,key=value...], repeatable. Kinds:
    /// delay (ms, jitter), drop (every, match, p), corrupt (every, bits),
    /// close (code, reason, after), reset (after), stall (of=ping|pong,
    /// after), throttle (rate), hold (ms, after)
    #[arg(long, value_name = "SPEC")]
    pub fault: Vec<String>,

    /// Seed for the random faults (p=, jitter=, corrupt), to repeat a run
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Fail a connection whose peer breaks the protocol (1002), instead of
    /// naming the violation and passing it on
    #[arg(long)]
    pub strict: bool,

    /// JSON Lines output: every event carries conn and leg
    #[arg(long)]
    pub json: bool,

    /// Show connections, handshakes, faults and notices, but no frames or
    /// messages (the fastest way through)
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// How many clients are carried at once; one more is refused with 503
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_clients: u32,

    /// End after the first client's connection ends
    #[arg(long)]
    pub once: bool,

    /// Stop after this many seconds
    #[arg(long, value_name = "SECS", value_parser = parse_positive_seconds, allow_negative_numbers = true)]
    pub max_time: Option<f64>,

    /// Seconds to wait for the upstream connection and its handshake
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_positive_seconds)]
    pub connect_timeout: f64,

    /// Trust the CA certificates in this PEM file upstream, besides the
    /// built-in roots
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,

    /// Do not verify the upstream server's certificate
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Payload bytes shown per frame
    #[arg(long, value_name = "BYTES", default_value_t = 128)]
    pub preview: usize,

    /// Record both legs as JSON Lines (a tape) to FILE
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Record both legs as a HAR file
    #[arg(long, value_name = "FILE")]
    pub har: Option<PathBuf>,

    /// Record both legs as pcapng (two TCP flows per client)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// When to colour the output
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

/// The whole command line as shells and the man page see it: the session's
/// options, and `check` as a subcommand (which main picks by its first
/// argument, before clap sees the rest).
pub fn full_command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command()
        .args_conflicts_with_subcommands(true)
        .subcommand_negates_reqs(true)
        .disable_help_subcommand(true)
        .subcommand(CheckCli::command().name("check").bin_name("wscope check"))
        .subcommand(ProxyCli::command().name("proxy").bin_name("wscope proxy"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
        CheckCli::command().debug_assert();
        ProxyCli::command().debug_assert();
        full_command().debug_assert();
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
            clap_complete::generate(shell, &mut full_command(), "wscope", &mut generated);
            check_generated(&format!("completions/{file}"), &generated);
        }
    }

    #[test]
    fn committed_man_page_matches_the_cli() {
        let mut generated = Vec::new();
        clap_mangen::Man::new(full_command())
            .render(&mut generated)
            .unwrap();
        check_generated("man/wscope.1", &generated);
        let mut generated = Vec::new();
        clap_mangen::Man::new(CheckCli::command().name("wscope-check"))
            .render(&mut generated)
            .unwrap();
        check_generated("man/wscope-check.1", &generated);
        let mut generated = Vec::new();
        clap_mangen::Man::new(ProxyCli::command().name("wscope-proxy"))
            .render(&mut generated)
            .unwrap();
        check_generated("man/wscope-proxy.1", &generated);
    }

    #[test]
    fn seconds_must_be_non_negative_numbers() {
        assert_eq!(parse_seconds("1.5"), Ok(1.5));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("inf").is_err());
    }
}
