//! From an open connection to a running session: the wire stack under
//! tungstenite, the input (arguments, stdin or the prompt), and the
//! observers, the same for every mode.

use std::io::IsTerminal;
use std::net::TcpListener;
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
use crate::session::{self, Session};
use crate::wire::deflate::DeflateLayer;
use crate::wire::guard::Guard;
use crate::wire::stack::Stack;
use crate::wire::tap::{Keep, Tap};

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
    /// --listen's socket, to turn away further clients.
    pub listener: Option<TcpListener>,
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

pub fn run(plan: &Plan, obs: &mut Observers, ready: Ready) -> Result<Exit, Failure> {
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
    let config = WebSocketConfig::default()
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
    let terminal = plan.prompt.then(prompt::TerminalGuard::save);
    if plan.prompt {
        let printer =
            prompt::start(input.channel(), waker.clone()).map_err(|m| fail(Stage::Io, m))?;
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
        input.read_stdin(waker.clone(), mode);
    } else if cli.echo {
        // Input never ends by itself: the client decides when to close.
        input.hold_open();
    }
    let mut session = Session::new(ws, obs, opts, (poll, waker), input);
    if let Some(listener) = ready.listener {
        session = session.with_listener(listener);
    }
    let outcome = session.run();
    if let Some(terminal) = terminal {
        // Let the prompt thread print what it was handed, then take the
        // terminal back from it.
        std::thread::sleep(Duration::from_millis(30));
        obs.screen_out().use_stdout();
        drop(terminal);
        println!();
    }
    outcome
}

/// The handshake's raw bytes go to the observers that record them.
pub fn pass_chunks<S>(tap: &mut Tap<S>, obs: &mut Observers) {
    let chunks: Vec<_> = tap.take_chunks().collect();
    for chunk in &chunks {
        obs.event(&Event::Wire(chunk));
    }
}
