//! From an open connection to a running session: the wire stack under
//! tungstenite, the input (arguments, stdin or the prompt), and the
//! observers, the same for every mode.

use std::io::IsTerminal;
use std::time::Duration;

use tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use tungstenite::WebSocket;

use super::plan::Plan;
use crate::error::{fail, Exit, Failure, Stage};
use crate::handshake::extensions::Deflate;
use crate::input::command::Command;
use crate::input::{prompt, InputQueue, StdinMode};
use crate::net::connect::Transport;
use crate::observe::{Event, Observers, Role};
use crate::session::{self, driver, Ended, Session};
use crate::wire::deflate::DeflateLayer;
use crate::wire::guard::Guard;
use crate::wire::stack::Stack;
use crate::wire::tap::{Keep, Tap};

/// What each connection reads into at a time.
const READ_BUFFER: usize = 16 * 1024;

/// A connection whose heads have crossed, ready for frames.
pub struct Ready {
    pub tap: Tap<Transport>,
    /// Bytes read with the head that belong to the first frames.
    pub leftover: Vec<u8>,
    /// permessage-deflate, when negotiated.
    pub deflate: Option<Deflate>,
    /// The opening handshake's round trip, when we timed it.
    pub rtt: Option<Duration>,
    pub role: Role,
    /// What /status says about the connection.
    pub summary: String,
}

/// What the tap keeps, from what the observers want: no previews and no
/// data frames when nobody shows frames.
pub fn keep(plan: &Plan, obs: &Observers) -> Keep {
    let interest = obs.interest();
    Keep {
        preview: if interest.frames { plan.cli.preview } else { 0 },
        frames: interest.frames,
        chunks: interest.chunks,
    }
}

/// One connection's session, with inputs made for it and put away after.
pub fn run(plan: &Plan, obs: &mut Observers, ready: Ready) -> Result<Exit, Failure> {
    let mut inputs = Inputs::start(plan, obs, ready.role, &ready.summary)?;
    let ended = session(plan, obs, ready, &mut inputs);
    let replaying = inputs.replaying.take();
    inputs.finish(obs);
    let outcome = ended.and_then(|ended| ended.result);
    match replaying {
        Some(replaying) => replaying.finish(obs, outcome),
        None => outcome,
    }
}

/// Runs a session on a connection whose heads have crossed. The inputs
/// outlive it, so that --reconnect carries on with the same stdin or
/// prompt; the preamble (-x) goes out again first.
pub fn session(
    plan: &Plan,
    obs: &mut Observers,
    ready: Ready,
    inputs: &mut Inputs,
) -> Result<Ended, Failure> {
    inputs.queue.push_front(preamble(plan.cli));
    let queue = std::mem::replace(&mut inputs.queue, InputQueue::new(Vec::new()));
    let session = build(plan, obs, ready, queue, inputs.reconnects)?;
    let (ended, queue) = driver::run_one(&mut inputs.poll, &mut inputs.signals, session)?;
    inputs.queue = queue;
    obs.event(&Event::Gone);
    Ok(ended)
}

/// The session of a connection whose heads have crossed: the wire stack
/// under tungstenite, the options from the plan, and its input.
pub fn build(
    plan: &Plan,
    obs: &Observers,
    ready: Ready,
    input: InputQueue,
    reconnects: bool,
) -> Result<Session, Failure> {
    let cli = plan.cli;
    let mut tap = ready.tap;
    tap.get_ref()
        .set_nonblocking(true)
        .and_then(|_| tap.get_ref().set_read_timeout(None))
        .map_err(|e| fail(Stage::Io, format!("cannot set up the socket: {e}")))?;
    tap.begin_frames(
        ready.leftover,
        Guard {
            serving: ready.role == Role::Server,
            rsv1_allowed: ready.deflate.is_some(),
            max_frame: cli.max_frame_size,
            max_message: cli.max_message_size,
        },
    );
    // A read buffer of 16 KiB, not tungstenite's 128: a listener holds one
    // per client, idle or not, and reads of larger messages go on in
    // pieces all the same.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(cli.max_message_size as usize))
        .max_frame_size(Some(cli.max_frame_size as usize));
    let ws_role = match ready.role {
        Role::Client => WsRole::Client,
        Role::Server => WsRole::Server,
    };
    let layer = ready
        .deflate
        .map(|params| DeflateLayer::new(params, ready.role, cli.max_message_size));
    let ws = WebSocket::from_raw_socket(Stack::new(tap, layer), ws_role, Some(config));

    let opts = session::Options {
        role: ready.role,
        wait: cli.wait.map(Duration::from_secs_f64),
        rtt: ready.rtt,
        close_timeout: Duration::from_secs_f64(cli.close_timeout),
        summary: ready.summary,
        count: cli.count,
        until: plan.until.clone(),
        ping_interval: cli.ping_interval.map(Duration::from_secs_f64),
        ping_timeout: cli.ping_timeout.map(Duration::from_secs_f64),
        echo: cli.echo,
        interactive: plan.prompt,
        deadline: plan.deadline,
        replies: plan.replies.clone(),
        reconnects,
        rtt_json_id: cli.rtt_json_id.clone(),
    };
    Ok(Session::new(ws, obs.clone(), opts, input))
}

/// The -x messages.
pub fn preamble(cli: &crate::cli::Cli) -> Vec<Command> {
    cli.execute.iter().cloned().map(Command::Text).collect()
}

/// Where messages to send come from, and the readiness they wake: made
/// once per run.
pub struct Inputs {
    pub poll: mio::Poll,
    /// SIGINT and SIGTERM, watched by `poll` for the whole run.
    pub signals: signal_hook_mio::v1_0::Signals,
    waker: std::sync::Arc<mio::Waker>,
    pub queue: InputQueue,
    /// Another connection follows if this one is lost (--reconnect, with
    /// attempts left).
    pub reconnects: bool,
    /// The terminal's settings while the prompt is up.
    terminal: Option<prompt::TerminalGuard>,
    /// --replay feeds the queue instead of stdin or the prompt.
    replaying: Option<super::replay::Replaying>,
}

impl Inputs {
    pub fn start(
        plan: &Plan,
        obs: &mut Observers,
        role: Role,
        summary: &str,
    ) -> Result<Inputs, Failure> {
        Inputs::open(plan, obs, role, summary, true)
    }

    fn open(
        plan: &Plan,
        obs: &mut Observers,
        role: Role,
        summary: &str,
        replay: bool,
    ) -> Result<Inputs, Failure> {
        let cli = plan.cli;
        let (poll, waker) = driver::readiness()
            .map_err(|e| fail(Stage::Io, format!("cannot set up the session: {e}")))?;
        let signals = driver::watch_signals(&poll)?;
        // The preamble is put in front by each session.
        let mut queue = InputQueue::new(Vec::new());
        // With stdout redirected (`wscope URL | jq`) there is no screen to
        // draw a prompt on: lines typed at the terminal are sent as they are,
        // and Ctrl-D ends them.
        let stdin_tty = std::io::stdin().is_terminal();
        let typing = stdin_tty && cli.execute.is_empty() && !cli.echo;
        let terminal = plan.prompt.then(prompt::TerminalGuard::save);
        let replaying = if replay {
            super::replay::start(plan, role, &mut queue, waker.clone(), obs)?
        } else {
            None
        };
        if plan.replay.is_some() {
            // The recording is the input.
        } else if plan.prompt {
            let printer =
                prompt::start(queue.channel(), waker.clone()).map_err(|m| fail(Stage::Io, m))?;
            obs.screen_out().use_printer(printer);
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
            if typing {
                // Nothing on the screen would say so otherwise.
                eprintln!("{}", typing_notice(mode, role, summary));
            }
            queue.read_stdin(waker.clone(), mode);
        } else if cli.echo {
            // Input never ends by itself: the client decides when to close.
            queue.hold_open();
        }
        Ok(Inputs {
            poll,
            signals,
            waker,
            queue,
            reconnects: false,
            terminal,
            replaying,
        })
    }

    /// A listener's inputs: the prompt or stdin, shared by its clients
    /// (each client's --replay is started apart, for it alone).
    pub fn start_serving(
        plan: &Plan,
        obs: &mut Observers,
        summary: &str,
    ) -> Result<Inputs, Failure> {
        Inputs::open(plan, obs, Role::Server, summary, false)
    }

    /// The waker input threads use.
    pub fn waker(&self) -> std::sync::Arc<mio::Waker> {
        self.waker.clone()
    }

    /// After the last connection of --reconnect: input kept for a next
    /// connection that did not come is counted, as a session counts it.
    pub fn report_unsent(&mut self, obs: &mut Observers) {
        let (queued, unread) = self.queue.discard();
        let why = ": no connection was left to send it";
        let why = if queued > 1 {
            &why.replace(" it", " them")
        } else {
            why
        };
        if let Some(notice) = crate::input::not_sent(queued, unread, why) {
            obs.event(&Event::Notice(&notice));
        }
    }

    /// Takes the terminal back from the prompt, if there was one.
    pub fn finish(self, obs: &mut Observers) {
        if let Some(terminal) = self.terminal {
            // Let the prompt thread print what it was handed, then take the
            // terminal back from it.
            std::thread::sleep(Duration::from_millis(30));
            obs.screen_out().use_stdout();
            drop(terminal);
            // The prompt thread redrew its prompt under the last line; the
            // session is over, so it is wiped rather than left for the shell.
            print!("\r\x1b[2K");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
    }
}

/// Said once on stderr when lines typed at a terminal go out with no
/// prompt (stdout is a pipe or a file).
fn typing_notice(mode: StdinMode, role: Role, summary: &str) -> String {
    let connected = match role {
        Role::Client => "connected to ",
        Role::Server => "",
    };
    let lines = match mode {
        StdinMode::Text => {
            "each line you type is sent as a text message (/commands too: --slash reads them)"
        }
        StdinMode::Hex => "each line you type is sent as hex bytes",
        StdinMode::Slash => "each line you type is sent, /commands run",
        StdinMode::Binary { .. } => "what you type is sent as binary messages",
    };
    format!("wscope: {connected}{summary}; stdout is not a terminal, so there is no prompt: {lines}; Ctrl-D closes")
}
