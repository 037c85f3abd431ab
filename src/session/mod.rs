//! A connection's session: an endpoint that a driver (`driver.rs`) turns
//! whenever its socket, its input or a deadline may have something, so an
//! idle session costs nothing and a frame is shown the moment it arrives. tungstenite does the
//! protocol; the loop decides what to send and when to close, and hands
//! every frame and message to the observers on the way past.

mod by_id;
mod close;
pub mod driver;
mod keepalive;
mod linger;
mod order;
mod receive;
mod send;
mod stats;
mod view;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Token};
use tungstenite::WebSocket;

use crate::error::{fail, Exit, Failure, Stage};
use crate::input::InputQueue;
use crate::observe::{Event, Initiator, Observers};
use crate::wire::stack::Stack;
use crate::wire::{Dir, Role};

pub use send::help;

use close::Closing;
use keepalive::Keepalive;
use send::Outbox;
use stats::{Stats, StopRules};
use view::WireView;

/// The input a connection may hold ahead of what it has sent, when a
/// driver feeds it from the run's input.
const INPUT_AHEAD: usize = 64;

pub type Socket = WebSocket<Stack>;

/// How a session ended.
pub struct Ended {
    pub result: Result<Exit, Failure>,
    /// The peer's Close code, and who closed first, when a Close came.
    pub peer_close: Option<(Option<u16>, Initiator)>,
    /// We had sent our Close (the input ended, the user closed): a peer
    /// that then drops the connection without answering has not lost it.
    pub we_closed: bool,
}

impl Ended {
    /// Lost, as --reconnect means it: an error, a reset, or a Close the
    /// peer started with 1001, 1006, 1011, 1012 or 1013. A handshake that
    /// was refused or failed TLS will fail the same way again.
    pub fn lost(&self) -> bool {
        is_lost(&self.result, self.peer_close, self.we_closed)
    }
}

fn is_lost(
    result: &Result<Exit, Failure>,
    peer_close: Option<(Option<u16>, Initiator)>,
    we_closed: bool,
) -> bool {
    match (result, peer_close) {
        (_, Some((code, Initiator::Remote))) => {
            matches!(code, Some(1001 | 1006 | 1011 | 1012 | 1013))
        }
        (_, Some((_, Initiator::Local))) => false,
        (Err(failure), None) => !we_closed && matches!(failure.stage, Stage::Io | Stage::Protocol),
        (Ok(_), None) => false,
    }
}

pub struct Options {
    pub role: Role,
    /// Stay open this long after the last message once input has ended
    /// (otherwise `linger` decides).
    pub wait: Option<Duration>,
    /// The opening handshake's round trip, when we timed it.
    pub rtt: Option<Duration>,
    /// How long to wait for the peer's Close after ours.
    pub close_timeout: Duration,
    /// What /status says about the connection besides the counters.
    pub summary: String,
    /// Close after this many incoming data messages.
    pub count: Option<u64>,
    /// Close after an incoming message that matches.
    pub until: Option<regex::Regex>,
    /// Keepalive pings, and how long a pong may take (none: no limit).
    pub ping_interval: Option<Duration>,
    pub ping_timeout: Option<Duration>,
    /// --echo: send every incoming data message back.
    pub echo: bool,
    /// A person types at the prompt: every line gets its own answer.
    pub interactive: bool,
    /// --max-time: when the run must be over.
    pub deadline: Option<Instant>,
    /// --reply rules.
    pub replies: crate::input::reply::Replies,
    /// --rtt-json-id: the JSON field that pairs requests and answers.
    pub rtt_json_id: Option<String>,
    /// --reconnect will open another connection if this one is lost: its
    /// input is kept for it rather than counted as not sent.
    pub reconnects: bool,
}

/// One connection's endpoint: its socket under tungstenite, what it has
/// shown, what it waits to send and how far its close has got. It owns no
/// poll: a driver (`driver.rs`) waits for it and calls `turn` whenever its
/// socket, its input or one of its deadlines may have something.
pub struct Session {
    ws: Socket,
    /// The observers, tagged with this connection's number.
    obs: Observers,
    opts: Options,
    input: InputQueue,
    view: WireView,
    stats: Stats,
    stop: StopRules,
    keepalive: Keepalive,
    by_id: Option<by_id::ById>,
    outbox: Outbox,
    closing: Closing,
    input_ended_at: Option<Instant>,
    /// When the peer last sent anything: -w's silence counts from here.
    last_received: Instant,
    /// When writes the socket had held back last went out: the quiet
    /// after the input counts from the latest of this, the input's end and
    /// `last_received`. Keepalive pings do not count, so -w still ends.
    last_written: Instant,
    /// Inputs that could not be sent because the connection was closing.
    unsent: u64,
    outcome: Option<Result<Exit, Failure>>,
    /// The peer's Close, when one came: its code, and whether it answered
    /// ours.
    peer_close: Option<(Option<u16>, Initiator)>,
}

/// What a turn left to do.
pub enum Step {
    /// More may be ready at once (input, bytes already read): turn again
    /// without waiting.
    Again,
    /// Nothing until the socket or the input wakes the poll, or until
    /// this deadline.
    Wait(Option<Instant>),
    /// The connection is over; `Session::end` puts it away.
    Done(Result<Exit, Failure>),
}

impl Session {
    pub fn new(ws: Socket, obs: Observers, opts: Options, input: InputQueue) -> Self {
        let now = Instant::now();
        Session {
            ws,
            view: WireView::new(obs.interest()),
            obs,
            input,
            stats: Stats::new(now),
            stop: StopRules::new(opts.count, opts.until.clone()),
            keepalive: Keepalive::new(opts.ping_interval, opts.ping_timeout, now),
            by_id: opts.rtt_json_id.as_deref().map(by_id::ById::new),
            outbox: Outbox::default(),
            closing: Closing::default(),
            input_ended_at: None,
            last_received: now,
            last_written: now,
            unsent: 0,
            outcome: None,
            peer_close: None,
            opts,
        }
    }

    /// The socket, for the driver to watch.
    pub fn register(&self, registry: &mio::Registry, token: Token) -> Result<(), Failure> {
        let fd = self.ws.get_ref().tap().get_ref().as_raw_fd();
        registry
            .register(
                &mut SourceFd(&fd),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| fail(Stage::Io, format!("cannot watch the socket: {e}")))
    }

    pub fn deregister(&self, registry: &mio::Registry) {
        let fd = self.ws.get_ref().tap().get_ref().as_raw_fd();
        let _ = registry.deregister(&mut SourceFd(&fd));
    }

    /// The input this connection sends from: the driver may feed it.
    pub fn input(&mut self) -> &mut InputQueue {
        &mut self.input
    }

    /// Whether its input has room for more: a peer that stops reading
    /// holds back our writes, then the input, which then fills.
    pub fn has_room(&self) -> bool {
        self.input.queued() < INPUT_AHEAD
    }

    /// How long the peer has left our writes waiting, if it has.
    pub fn stalled_for(&self) -> Option<Duration> {
        self.outbox.stalled_for()
    }

    /// Our Close has gone out (or the connection is over).
    pub fn closing(&self) -> bool {
        self.closing.sent_at.is_some() || self.outcome.is_some()
    }

    /// Counters for /clients.
    pub fn counters(&self) -> String {
        let tap = self.ws.get_ref().tap();
        format!(
            "{} frames out, {} in; {} bytes out, {} in",
            tap.frames(Dir::Out),
            tap.frames(Dir::In),
            tap.bytes(Dir::Out),
            tap.bytes(Dir::In)
        )
    }

    /// Does what is due: deadlines that passed, input to send, bytes to
    /// read, writes to push; says what is left.
    pub fn turn(&mut self) -> Step {
        self.on_deadline();
        let more_input = self.send_input();
        let more_incoming = self.receive();
        let was_blocked = self.outbox.blocked;
        self.flush_socket();
        // Writes can get through again without a writable edge (the
        // socket had some room, not a third of its buffer); input
        // may be waiting, and its wake-up was used already.
        let unblocked = was_blocked && !self.outbox.blocked && self.input_ended_at.is_none();
        self.watch_stall();
        self.pass_chunks();
        if self.obs.stopped() && self.outcome.is_none() {
            // Whoever read our output has gone (EPIPE): end quietly.
            self.start_close(Some(1001), "");
            self.outcome = Some(Ok(Exit::Normal));
        }
        if let Some(outcome) = self.outcome.take() {
            return Step::Done(outcome);
        }
        if more_input || more_incoming || unblocked {
            Step::Again
        } else {
            // About to wait: what was shown goes out now.
            self.obs.flush();
            Step::Wait(self.next_deadline())
        }
    }

    /// Puts the connection away after `Step::Done`: what is queued goes
    /// out within a bounded budget (`alone`: the budget may block, no other
    /// connection waits on this thread), then the counts are told. The
    /// input is handed back for a next connection (--reconnect).
    pub fn end(mut self, outcome: Result<Exit, Failure>, alone: bool) -> (Ended, InputQueue) {
        self.finish(&outcome, alone);
        let result = self.count_refused(outcome);
        let ended = Ended {
            result,
            peer_close: self.peer_close,
            we_closed: self.closing.sent_at.is_some(),
        };
        (ended, self.input)
    }

    fn notice(&mut self, text: &str) {
        // Frames the tap decoded already crossed before now: they come
        // first, so that the view stays in time order.
        self.show_all();
        self.obs.event(&Event::Notice(text));
    }

    /// Raw chunks go to the observers that record them.
    fn pass_chunks(&mut self) {
        if !self.obs.interest().chunks {
            return;
        }
        let chunks: Vec<_> = self.ws.get_mut().tap_mut().take_chunks().collect();
        for chunk in &chunks {
            self.obs.event(&Event::Wire(chunk));
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let keepalive = self
            .keepalive
            .deadline()
            .filter(|_| self.closing.sent_at.is_none());
        [
            self.close_deadline(),
            keepalive,
            self.outbox.stall_deadline(),
            self.outbox.raw.resume_at(),
            self.opts.deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.opts.deadline.is_some_and(|end| now >= end) {
            // The Close goes out with what is queued; no reply is awaited.
            self.start_close(Some(1000), "");
            self.outcome = Some(Err(fail(
                Stage::Io,
                format!(
                    "--max-time reached: closed without waiting for the {}'s reply",
                    self.opts.role.peer()
                ),
            )));
            return;
        }
        if self.closing.sent_at.is_none() {
            match self.keepalive.due(now) {
                keepalive::Due::Nothing => {}
                keepalive::Due::Ping(payload) => {
                    self.write(tungstenite::Message::Ping(payload.into()))
                }
                keepalive::Due::Dead(limit) => {
                    self.outcome = Some(Err(fail(
                        Stage::Io,
                        format!(
                            "no pong within {:.1}s of our ping (--ping-timeout): the connection is dead",
                            limit.as_secs_f64()
                        ),
                    )));
                    return;
                }
            }
        }
        self.on_close_deadline(now);
    }

    /// Closes with `code`, or, when our Close went out already, ends at
    /// once (the user asked twice).
    pub fn close_or_quit(&mut self, code: u16) {
        if self.closing.sent_at.is_some() {
            self.outcome = Some(Ok(Exit::Normal));
        } else {
            self.start_close(Some(code), "");
        }
    }

    pub fn on_signal(&mut self, signal: i32) {
        if self.closing.sent_at.is_some() {
            self.outcome = Some(Ok(Exit::Normal));
            return;
        }
        let name = if signal == libc::SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        };
        self.notice(&format!(
            "{name}: closing (Close 1001); a second signal quits at once"
        ));
        self.start_close(Some(1001), "");
    }

    /// The /status line.
    fn status(&self) -> String {
        let tap = self.ws.get_ref().tap();
        format!(
            "{}; {}",
            self.opts.summary,
            self.stats.describe(
                (tap.frames(Dir::Out), tap.frames(Dir::In)),
                (tap.bytes(Dir::Out), tap.bytes(Dir::In)),
                Instant::now()
            )
        )
    }
}
