//! The session loop. It owns the socket and waits on readiness (the
//! socket, the waker that input uses, signals), so an idle session costs
//! nothing and a frame is shown the moment it arrives. tungstenite does the
//! protocol; the loop decides what to send and when to close, and hands
//! every frame and message to the observers on the way past.

mod by_id;
mod close;
mod keepalive;
mod linger;
mod order;
mod receive;
mod send;
mod stats;
mod view;

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use tungstenite::WebSocket;

use crate::error::{fail, Exit, Failure, Stage};
use crate::handshake::busy::Busy;
use crate::input::InputQueue;
use crate::observe::{Event, Initiator, Observers};
use crate::wire::stack::Stack;
use crate::wire::{Dir, Role};

use close::Closing;
use keepalive::Keepalive;
use send::Outbox;
use stats::{Stats, StopRules};
use view::WireView;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
const LISTENER: Token = Token(2);
const SIGNALS: Token = Token(3);

pub type Socket = WebSocket<Stack>;

/// The poll the session waits on, and the waker input threads use.
pub fn readiness() -> io::Result<(Poll, Arc<Waker>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    Ok((poll, waker))
}

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

pub struct Session<'o> {
    ws: Socket,
    obs: &'o mut Observers,
    opts: Options,
    poll: &'o mut Poll,
    /// Held here too: if only an input thread held it, its exit would
    /// close the eventfd and drop a wake-up not yet collected.
    _waker: Arc<Waker>,
    input: &'o mut InputQueue,
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
    /// --listen's socket: clients that come while one is connected are
    /// turned away.
    listener: Option<Busy>,
}

impl<'o> Session<'o> {
    pub fn new(
        ws: Socket,
        obs: &'o mut Observers,
        opts: Options,
        (poll, waker): (&'o mut Poll, Arc<Waker>),
        input: &'o mut InputQueue,
    ) -> Self {
        let now = Instant::now();
        Session {
            ws,
            view: WireView::new(obs.interest()),
            obs,
            poll,
            _waker: waker,
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
            listener: None,
            opts,
        }
    }

    /// Keeps watching the listening socket, to turn away further clients.
    pub fn with_listener(mut self, listener: Busy) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Runs the session to its end; `Ended` says how, for --reconnect.
    pub fn run(mut self) -> Ended {
        let result = self.run_loop();
        Ended {
            result,
            peer_close: self.peer_close,
            we_closed: self.closing.sent_at.is_some(),
        }
    }

    fn run_loop(&mut self) -> Result<Exit, Failure> {
        let fd = self.ws.get_ref().tap().get_ref().as_raw_fd();
        let watch = |e: io::Error| fail(Stage::Io, format!("cannot watch the socket: {e}"));
        self.poll
            .registry()
            .register(
                &mut SourceFd(&fd),
                SOCKET,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(watch)?;
        if let Some(listener) = self.listener.as_ref().map(Busy::door) {
            let _ = listener.set_nonblocking();
            self.poll
                .registry()
                .register(
                    &mut SourceFd(&listener.as_raw_fd()),
                    LISTENER,
                    Interest::READABLE,
                )
                .map_err(watch)?;
        }
        // SIGINT and SIGTERM close cleanly (Close 1001, going away); a
        // second one quits at once.
        let mut signals = signal_hook_mio::v1_0::Signals::new([libc::SIGINT, libc::SIGTERM])
            .map_err(|e| fail(Stage::Io, format!("cannot watch signals: {e}")))?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|e| fail(Stage::Io, format!("cannot watch signals: {e}")))?;
        let mut events = Events::with_capacity(8);
        loop {
            for signal in signals.pending() {
                self.on_signal(signal);
            }
            self.turn_away_clients();
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
                self.finish(&outcome);
                return self.count_refused(outcome);
            }
            let timeout = if more_input || more_incoming || unblocked {
                Some(Duration::ZERO)
            } else {
                // About to wait: what was shown goes out now.
                self.obs.flush();
                self.next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(fail(
                        Stage::Io,
                        format!("waiting on the socket failed: {e}"),
                    ))
                }
            }
            self.on_deadline();
        }
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

    fn on_signal(&mut self, signal: i32) {
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

    /// One client at a time: later ones get a 503 that says why.
    fn turn_away_clients(&mut self) {
        let Some(busy) = &self.listener else {
            return;
        };
        for notice in busy.turn_away() {
            self.notice(&notice);
        }
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
