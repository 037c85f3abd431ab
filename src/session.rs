//! The session loop. It owns the socket and waits on readiness (the socket,
//! or the waker that input uses), so an idle session costs nothing and a
//! frame is shown the moment it arrives. tungstenite does the protocol;
//! this loop decides what to send, when to close, and what every frame
//! and message looks like on the way past.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes, WebSocket};

use crate::close_code;
use crate::command::{Command, CraftedFrame, COMMANDS};
use crate::connect::Transport;
use crate::error::{fail, Exit, Failure, Stage};
use crate::frame::{Frame, Kind};
use crate::input::{Input, InputQueue, Next};
use crate::render::{Dir, Event, Initiator, Render};
use crate::tap::Tap;
use crate::violation;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
const LISTENER: Token = Token(2);
const SIGNALS: Token = Token(3);

/// How many inputs are sent before the loop reads the socket again, so
/// that neither direction starves the other and queues stay short.
const SEND_BURST: usize = 256;

/// Incoming messages handled per turn of the loop: a server that floods
/// must not keep signals, typed commands and our writes from their turn.
const RECEIVE_BURST: usize = 256;

/// How long the peer may leave our writes waiting before we say so.
const STALL_NOTICE: Duration = Duration::from_secs(2);

/// The poll the session waits on, and the waker input threads use.
pub fn readiness() -> io::Result<(Poll, Arc<Waker>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    Ok((poll, waker))
}

pub struct Options {
    /// Stay open this long after the last message once input has ended.
    pub wait: Option<Duration>,
    /// How long to wait for the server's Close after ours.
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
    /// --listen: we are the server; the peer is a client.
    pub serving: bool,
    /// --echo: send every incoming data message back.
    pub echo: bool,
}

impl Options {
    /// What the other end is, for messages.
    fn peer(&self) -> &'static str {
        if self.serving {
            "client"
        } else {
            "server"
        }
    }
}

pub type Socket = WebSocket<Tap<Transport>>;

pub struct Session<'r> {
    ws: Socket,
    render: &'r mut dyn Render,
    opts: Options,
    poll: Poll,
    /// Held here too: if only an input thread held it, its exit would
    /// close the eventfd and drop a wake-up not yet collected.
    _waker: Arc<Waker>,
    input: InputQueue,
    started: Instant,
    input_ended_at: Option<Instant>,
    /// The socket took less than we gave it; wait until it is writable.
    write_blocked: bool,
    /// Since when writes have been blocked, and whether that was said.
    blocked_since: Option<Instant>,
    stall_reported: bool,
    /// Hand-made frames waiting for tungstenite's buffer to empty.
    pending_raw: VecDeque<Vec<u8>>,
    close_sent_at: Option<Instant>,
    last_received: Instant,
    /// Data messages handed to tungstenite whose last frame has not yet
    /// crossed the wire (kept only when the renderer shows them).
    pending_out: VecDeque<(bool, Bytes)>,
    in_data_frames: usize,
    out_data_frames: usize,
    /// When the last frame each way crossed the wire.
    last_in_at: Instant,
    last_out_at: Instant,
    frames_in: u64,
    frames_out: u64,
    /// Pings we sent, to time the matching pongs.
    pings: VecDeque<(Vec<u8>, Instant)>,
    last_rtt: Option<Duration>,
    /// The code and reason of the last Close frame the server sent, as
    /// decoded from the wire (tungstenite replaces invalid codes).
    last_close_in: Option<(Option<u16>, String)>,
    /// Incoming data messages shown so far.
    messages_in: u64,
    /// A stop condition (--count, --until) was met: later messages are
    /// not shown while the close handshake finishes.
    stopped: bool,
    /// Inputs that could not be sent because the connection was closing.
    unsent: u64,
    /// Incoming frames already shown, ahead of their messages.
    shown_ahead: ShownAhead,
    /// Script input that was refused (bad hex, unknown command, ...).
    refused_inputs: u64,
    next_keepalive: Option<Instant>,
    keepalive_out: Option<(Vec<u8>, Instant)>,
    keepalives: u64,
    outcome: Option<Result<Exit, Failure>>,
    /// --listen's socket: clients that come while one is connected are
    /// turned away.
    listener: Option<std::net::TcpListener>,
}

impl<'r> Session<'r> {
    pub fn new(
        ws: Socket,
        render: &'r mut dyn Render,
        opts: Options,
        (poll, waker): (Poll, Arc<Waker>),
        input: InputQueue,
    ) -> Self {
        Session {
            ws,
            render,
            poll,
            _waker: waker,
            input,
            started: Instant::now(),
            input_ended_at: None,
            write_blocked: false,
            blocked_since: None,
            stall_reported: false,
            pending_raw: VecDeque::new(),
            close_sent_at: None,
            last_received: Instant::now(),
            pending_out: VecDeque::new(),
            in_data_frames: 0,
            out_data_frames: 0,
            last_in_at: Instant::now(),
            last_out_at: Instant::now(),
            frames_in: 0,
            frames_out: 0,
            pings: VecDeque::new(),
            last_rtt: None,
            last_close_in: None,
            messages_in: 0,
            stopped: false,
            unsent: 0,
            shown_ahead: ShownAhead::default(),
            refused_inputs: 0,
            next_keepalive: opts.ping_interval.map(|i| Instant::now() + i),
            keepalive_out: None,
            keepalives: 0,
            outcome: None,
            listener: None,
            opts,
        }
    }

    /// Keeps watching the listening socket, to turn away further clients.
    pub fn with_listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    pub fn run(mut self) -> Result<Exit, Failure> {
        let fd = self.ws.get_ref().get_ref().as_raw_fd();
        self.poll
            .registry()
            .register(
                &mut SourceFd(&fd),
                SOCKET,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| fail(Stage::Io, format!("cannot watch the socket: {e}")))?;
        if let Some(listener) = &self.listener {
            let fd = listener.as_raw_fd();
            let _ = listener.set_nonblocking(true);
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), LISTENER, Interest::READABLE)
                .map_err(|e| fail(Stage::Io, format!("cannot watch the listener: {e}")))?;
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
            let was_blocked = self.write_blocked;
            self.flush_socket();
            // Writes can get through again without a writable edge (the
            // socket had some room, not a third of its buffer); input
            // may be waiting, and its wake-up was used already.
            let unblocked = was_blocked && !self.write_blocked && self.input_ended_at.is_none();
            self.watch_stall();
            if self.render.out().is_gone() && self.outcome.is_none() {
                // Whoever read our output has gone (EPIPE): end quietly.
                self.start_close(Some(1001), "");
                self.outcome = Some(Ok(Exit::Normal));
            }
            if let Some(outcome) = self.outcome.take() {
                self.finish();
                return self.count_refused(outcome);
            }
            let timeout = if more_input || more_incoming || unblocked {
                Some(Duration::ZERO)
            } else {
                // About to wait: what was rendered goes out now.
                let _ = self.render.flush();
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

    /// Hands tungstenite what the input has ready, until the socket pushes
    /// back or a burst is done. Returns whether input is still waiting, so
    /// that the loop comes back without sleeping: the waker fired already.
    fn send_input(&mut self) -> bool {
        for _ in 0..SEND_BURST {
            if self.input_ended_at.is_some()
                || self.write_blocked
                || !self.pending_raw.is_empty()
                || self.outcome.is_some()
            {
                break;
            }
            match self.input.take_next() {
                Next::Item(Input::Command(command)) => self.execute(command),
                Next::Item(Input::Batch(commands)) => {
                    for command in commands {
                        self.execute(command);
                    }
                }
                Next::Item(Input::Refused { message, counts }) => self.refuse(&message, counts),
                Next::Item(Input::Failed(why)) => {
                    self.notice(&why);
                    self.end_of_input();
                }
                Next::Item(Input::QuitNow) => self.outcome = Some(Ok(Exit::Normal)),
                Next::Pending => {
                    self.show_outgoing_frames();
                    return false;
                }
                Next::End => self.end_of_input(),
            }
        }
        self.show_outgoing_frames();
        self.input_ended_at.is_none() && !self.write_blocked && self.pending_raw.is_empty()
    }

    fn execute(&mut self, command: Command) {
        if self.close_sent_at.is_some() && !matches!(command, Command::Status | Command::Help) {
            match command {
                Command::Quit | Command::Close { .. } => self.notice(
                    "already closing; waiting for the server's Close (Ctrl-C again quits at once)",
                ),
                // At the prompt each line is answered; a pipe, which may
                // have many more, is told once and counted after.
                _ => {
                    if self.unsent == 0 || self.render.out().is_prompt() {
                        self.notice("not sent: the connection is closing");
                    }
                    self.unsent += 1;
                }
            }
            return;
        }
        match command {
            Command::Text(text) => self.send_text(text),
            Command::Binary(data) => self.send_binary(data),
            Command::File(path) => match std::fs::read(&path) {
                Ok(data) => self.send_binary(data),
                Err(e) => {
                    let counts = !self.render.out().is_prompt();
                    self.refuse(
                        &format!("/file: cannot read {}: {e}", path.display()),
                        counts,
                    )
                }
            },
            Command::Ping(payload) => {
                self.pings.push_back((payload.clone(), Instant::now()));
                self.write(Message::Ping(payload.into()));
            }
            Command::Pong(payload) => self.write(Message::Pong(payload.into())),
            Command::Close { code, reason } => self.start_close(code, &reason),
            Command::Frame(frame) => self.send_crafted(&frame),
            Command::Status => {
                // What was sent before /status counts in it.
                self.flush_socket();
                self.show_outgoing_frames();
                let status = self.status();
                self.notice(&status)
            }
            Command::Help => self.notice(&help()),
            Command::Quit => self.start_close(Some(1000), ""),
        }
    }

    fn end_of_input(&mut self) {
        self.input_ended_at = Some(Instant::now());
        // -n and --until say when to stop: what they wait for is still to
        // come, whether or not there was input.
        let stop_condition = self.opts.count.is_some() || self.opts.until.is_some();
        if self.opts.wait.is_none() && !stop_condition {
            self.start_close(Some(1000), "");
        }
    }

    fn send_text(&mut self, text: String) {
        let text = Utf8Bytes::from(text);
        if self.render.wants_outgoing_messages() {
            // Shares the buffer; no copy.
            self.pending_out
                .push_back((false, Bytes::from(text.clone())));
        }
        self.write(Message::Text(text));
    }

    fn send_binary(&mut self, data: Vec<u8>) {
        let data = Bytes::from(data);
        if self.render.wants_outgoing_messages() {
            self.pending_out.push_back((true, data.clone()));
        }
        self.write(Message::Binary(data));
    }

    /// A hand-made frame goes out as raw bytes beneath tungstenite, once
    /// everything tungstenite holds has been written, to keep the order.
    fn send_crafted(&mut self, frame: &CraftedFrame) {
        let key = getrandom::u32().unwrap_or(0x5eed_f00d).to_be_bytes();
        self.pending_raw
            .push_back(frame.encode(key, !self.opts.serving));
        self.flush_socket();
    }

    fn write(&mut self, message: Message) {
        match self.ws.write(message) {
            Ok(()) => {}
            // The frame is queued inside tungstenite; it goes out on flush.
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.write_blocked = true
            }
            Err(e) => self.fail_connection(e),
        }
    }

    fn start_close(&mut self, code: Option<u16>, reason: &str) {
        if self.close_sent_at.is_some() || !self.ws.can_write() {
            return;
        }
        self.close_sent_at = Some(Instant::now());
        let frame = code.map(|code| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        });
        match self.ws.close(frame) {
            Ok(()) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.write_blocked = true
            }
            Err(e) => self.fail_connection(e),
        }
        self.show_outgoing_frames();
    }

    fn notice(&mut self, text: &str) {
        let _ = self.render.event(&Event::Notice(text));
    }

    /// Input that could not be sent is an error, not the end of the
    /// session; a script's bad input makes the exit code 2.
    fn refuse(&mut self, message: &str, counts: bool) {
        let _ = self.render.event(&Event::Refused(message));
        if counts {
            self.refused_inputs += 1;
        }
    }

    fn status(&self) -> String {
        let tap = self.ws.get_ref();
        let rtt = self.last_rtt.map_or_else(
            || "none yet".to_string(),
            |d| format!("{:.2} ms", d.as_secs_f64() * 1000.0),
        );
        format!(
            "{}; up {:.1} s; out: {} frames, {} bytes; in: {} frames, {} bytes; last ping round trip: {rtt}",
            self.opts.summary,
            self.started.elapsed().as_secs_f64(),
            self.frames_out,
            tap.bytes_out,
            self.frames_in,
            tap.bytes_in,
        )
    }

    fn flush_socket(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        match self.ws.flush() {
            Ok(()) => {
                self.write_blocked = false;
                self.write_pending_raw();
            }
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.write_blocked = true
            }
            // After the close handshake there is nothing left to flush.
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {}
            Err(e) => self.fail_connection(e),
        }
        self.show_outgoing_frames();
    }

    /// Moves hand-made frames to the tap while the socket takes them.
    fn write_pending_raw(&mut self) {
        while let Some(bytes) = self.pending_raw.pop_front() {
            match self.ws.get_mut().write_raw(&bytes) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_blocked = true;
                    break;
                }
                Err(e) => {
                    self.fail_connection(WsError::Io(e));
                    break;
                }
            }
        }
    }

    /// Reads until the socket has nothing more, showing every frame, or
    /// until a burst is done. Returns whether more may be waiting, so that
    /// the loop comes back without sleeping (readiness will not be
    /// reported again for bytes already there).
    fn receive(&mut self) -> bool {
        for _ in 0..RECEIVE_BURST {
            if self.outcome.is_some() {
                return false;
            }
            let result = self.ws.read();
            self.show_outgoing_frames();
            match result {
                Ok(message) => {
                    // A pong answers us; it is not the server speaking, so
                    // keepalives do not hold -w open forever.
                    if !matches!(message, Message::Pong(_)) {
                        self.last_received = Instant::now();
                    }
                    self.on_message(message);
                }
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Whatever is queued now is part of a message still
                    // arriving: show it already.
                    self.show_incoming_frames(Through::All);
                    return false;
                }
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    self.show_incoming_frames(Through::All);
                    self.outcome = Some(Err(fail(
                        Stage::Io,
                        "the connection closed before the close handshake finished",
                    )));
                }
                Err(e) => {
                    self.show_incoming_frames(Through::All);
                    self.fail_connection(e);
                }
            }
        }
        self.outcome.is_none()
    }

    fn on_message(&mut self, message: Message) {
        match message {
            Message::Text(text) => {
                self.show_incoming_frames(Through::DataEnd);
                self.on_data_message(false, text.as_bytes());
            }
            Message::Binary(data) => {
                self.show_incoming_frames(Through::DataEnd);
                self.on_data_message(true, &data);
            }
            Message::Ping(_) => self.show_incoming_frames(Through::Ping),
            Message::Pong(payload) => {
                self.show_incoming_frames(Through::Pong);
                self.time_pong(&payload);
            }
            Message::Close(_) => {
                self.show_incoming_frames(Through::Close);
                self.on_close_received();
            }
            Message::Frame(_) => {}
        }
    }

    fn on_data_message(&mut self, binary: bool, data: &[u8]) {
        if self.stopped {
            self.in_data_frames = 0;
            return;
        }
        self.show_message(Dir::In, binary, data);
        if self.opts.echo && self.close_sent_at.is_none() {
            if binary {
                self.send_binary(data.to_vec());
            } else if let Ok(text) = std::str::from_utf8(data) {
                self.send_text(text.to_string());
            }
        }
        self.messages_in += 1;
        let counted = self.opts.count.is_some_and(|n| self.messages_in >= n);
        let matched = self.opts.until.as_ref().is_some_and(|re| {
            if binary {
                re.is_match(&crate::render::hex(data))
            } else {
                re.is_match(&String::from_utf8_lossy(data))
            }
        });
        if counted || matched {
            self.stopped = true;
            self.start_close(Some(1000), "");
        }
    }

    /// A pong that echoes one of our pings gives its round trip.
    fn time_pong(&mut self, payload: &[u8]) {
        if self
            .keepalive_out
            .as_ref()
            .is_some_and(|(p, _)| p == payload)
        {
            if let Some((_, sent)) = self.keepalive_out.take() {
                self.last_rtt = Some(sent.elapsed());
            }
            return;
        }
        let Some(i) = self.pings.iter().position(|(p, _)| p == payload) else {
            return;
        };
        let Some((_, sent)) = self.pings.remove(i) else {
            return;
        };
        let rtt = sent.elapsed();
        self.last_rtt = Some(rtt);
        self.notice(&format!(
            "pong matches our ping: round trip {:.2} ms",
            rtt.as_secs_f64() * 1000.0
        ));
    }

    fn on_close_received(&mut self) {
        let (code, reason) = self.last_close_in.take().unwrap_or((None, String::new()));
        if let Some(why) = code.and_then(close_code::forbidden_on_wire) {
            // tungstenite has already queued Close 1002 in reply.
            self.outcome = Some(Err(fail(
                Stage::Protocol,
                format!(
                    "the {} sent close code {}, which may not be sent: {why}",
                    self.opts.peer(),
                    code.unwrap_or_default()
                ),
            )));
            return;
        }
        // Our reply (tungstenite queued it) goes out and shows before the
        // summary.
        let _ = self.ws.flush();
        self.show_outgoing_frames();
        let initiator = if self.close_sent_at.is_some() {
            Initiator::Local
        } else {
            Initiator::Remote
        };
        let _ = self.render.event(&Event::Close {
            code,
            reason: &reason,
            initiator,
        });
        let exit = match code {
            None | Some(1000) | Some(1001) => Exit::Normal,
            Some(_) => Exit::PeerClosedAbnormally,
        };
        self.outcome = Some(Ok(exit));
    }

    /// Shows queued incoming frames through the one that ends the message
    /// tungstenite just returned (or all of them). Frames are shown in the
    /// order they crossed the wire: outgoing frames from before each one
    /// come first. One that was shown ahead of its message (see
    /// `show_outgoing_frames`) is not shown again.
    fn show_incoming_frames(&mut self, through: Through) {
        if self.shown_ahead.take(through) {
            return;
        }
        while let Some((at, frame)) = self.ws.get_mut().next_incoming() {
            self.show_outgoing_frames_before(at);
            let ends = Through::of(&frame);
            self.show_incoming_frame(at, &frame);
            match ends {
                Some(ends) if ends == through => return,
                // Shown before tungstenite returns its message (a frame
                // reported as soon as its header and preview were in).
                Some(ends) if through == Through::All => self.shown_ahead.add(ends),
                _ => {}
            }
        }
    }

    fn show_incoming_frame(&mut self, at: Instant, frame: &Frame) {
        self.frames_in += 1;
        self.last_in_at = at;
        if is_data(frame) {
            self.in_data_frames += 1;
        }
        if frame.header.kind() == Kind::Close {
            let reason = String::from_utf8_lossy(frame.close_reason()).into_owned();
            self.last_close_in = Some((frame.close_code(), reason));
        }
        if self.render.wants_frames() {
            let _ = self.render.event(&Event::Frame {
                dir: Dir::In,
                frame,
                at,
            });
        }
    }

    /// Outgoing frames, each after the incoming frames that crossed before
    /// it (shown ahead of the messages tungstenite has yet to return).
    fn show_outgoing_frames(&mut self) {
        while let Some((at, frame)) = self.ws.get_mut().next_outgoing() {
            while let Some((seen, early)) = self.ws.get_mut().next_incoming_before(at) {
                if let Some(ends) = Through::of(&early) {
                    self.shown_ahead.add(ends);
                }
                self.show_incoming_frame(seen, &early);
            }
            self.show_outgoing_frame(at, &frame);
        }
    }

    fn show_outgoing_frames_before(&mut self, at: Instant) {
        while let Some((seen, frame)) = self.ws.get_mut().next_outgoing_before(at) {
            self.show_outgoing_frame(seen, &frame);
        }
    }

    fn show_outgoing_frame(&mut self, at: Instant, frame: &Frame) {
        self.frames_out += 1;
        self.last_out_at = at;
        if self.render.wants_frames() {
            let _ = self.render.event(&Event::Frame {
                dir: Dir::Out,
                frame,
                at,
            });
        }
        if is_data(frame) {
            self.out_data_frames += 1;
            if frame.header.fin {
                if let Some((binary, data)) = self.pending_out.pop_front() {
                    self.show_message(Dir::Out, binary, &data);
                }
                self.out_data_frames = 0;
            }
        }
    }

    fn show_message(&mut self, dir: Dir, binary: bool, data: &[u8]) {
        let (counter, at) = match dir {
            Dir::In => (&mut self.in_data_frames, self.last_in_at),
            Dir::Out => (&mut self.out_data_frames, self.last_out_at),
        };
        let frames = std::mem::take(counter);
        let _ = self.render.event(&Event::Message {
            dir,
            binary,
            data,
            frames,
            at,
        });
    }

    /// Fails the connection: reports the broken rule and, where RFC 6455
    /// asks for it, sends a Close with the matching code.
    fn fail_connection(&mut self, e: WsError) {
        let mid_frame = self.ws.get_ref().incoming_mid_frame();
        self.ws.get_mut().take_partial_incoming();
        self.show_incoming_frames(Through::All);
        let mut v = violation::from_ws_error(e, mid_frame, self.opts.peer());
        if v.failure.stage == Stage::Protocol
            && v.failure.message.contains("not valid UTF-8")
            && self.last_close_in.is_some()
        {
            v.failure.message =
                "the peer's Close frame has a reason that is not valid UTF-8 (RFC 6455 §5.5.1)"
                    .into();
        }
        if let Some(code) = v.close_code {
            if self.ws.can_write() {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                };
                let _ = self.ws.close(Some(frame));
                self.show_outgoing_frames();
            }
        }
        self.outcome = Some(Err(v.failure));
    }

    /// The close handshake's limit, or the end of -w's silence.
    fn close_deadline(&self) -> Option<Instant> {
        if let Some(sent) = self.close_sent_at {
            return Some(sent + self.opts.close_timeout);
        }
        let ended = self.input_ended_at?;
        let wait = self.opts.wait?;
        Some(ended.max(self.last_received) + wait)
    }

    /// When the next keepalive ping is due, or its pong is overdue.
    fn keepalive_deadline(&self) -> Option<Instant> {
        if self.close_sent_at.is_some() {
            return None;
        }
        let overdue = self
            .keepalive_out
            .as_ref()
            .zip(self.opts.ping_timeout)
            .map(|((_, sent), limit)| *sent + limit);
        match (self.next_keepalive, overdue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let stall = self
            .blocked_since
            .filter(|_| !self.stall_reported)
            .map(|since| since + STALL_NOTICE);
        [self.close_deadline(), self.keepalive_deadline(), stall]
            .into_iter()
            .flatten()
            .min()
    }

    /// A peer that stops reading blocks our writes; input then waits (so
    /// memory stays bounded) and, after a while, the user is told.
    fn watch_stall(&mut self) {
        if !self.write_blocked {
            self.blocked_since = None;
            self.stall_reported = false;
            return;
        }
        let since = *self.blocked_since.get_or_insert_with(Instant::now);
        if !self.stall_reported && since.elapsed() >= STALL_NOTICE {
            self.stall_reported = true;
            let peer = self.opts.peer();
            self.notice(&format!(
                "stalled: the {peer} has not read what we sent for {:.1} s; input waits until it does",
                since.elapsed().as_secs_f64()
            ));
        }
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if let (Some((_, sent)), Some(limit)) = (&self.keepalive_out, self.opts.ping_timeout) {
            if self.close_sent_at.is_none() && now >= *sent + limit {
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
        if let (Some(due), Some(interval)) = (self.next_keepalive, self.opts.ping_interval) {
            if now >= due && self.close_sent_at.is_none() {
                self.keepalives += 1;
                let payload = format!("wscope keepalive {}", self.keepalives).into_bytes();
                if self.keepalive_out.is_none() {
                    self.keepalive_out = Some((payload.clone(), now));
                }
                self.next_keepalive = Some(now + interval);
                self.write(Message::Ping(payload.into()));
            }
        }
        if self.close_deadline().is_some_and(|d| now >= d) {
            if self.close_sent_at.is_some() {
                self.outcome = Some(Err(fail(
                    Stage::Io,
                    format!(
                        "the {} did not answer our Close within {:.1}s (--close-timeout)",
                        self.opts.peer(),
                        self.opts.close_timeout.as_secs_f64()
                    ),
                )));
            } else {
                self.start_close(Some(1000), "");
            }
        }
    }

    /// Sends what is still queued (a Close reply, say) before the socket is
    /// dropped, waiting at most the close timeout for it.
    /// A session that ended well still fails a script whose input was
    /// partly refused, so that `&&` notices.
    fn count_refused(&mut self, outcome: Result<Exit, Failure>) -> Result<Exit, Failure> {
        match outcome {
            Ok(Exit::Normal) if self.refused_inputs > 0 => {
                let n = self.refused_inputs;
                let lines = if n == 1 { "line was" } else { "lines were" };
                self.notice(&format!("{n} input {lines} refused (exit code 2)"));
                let _ = self.render.flush();
                Ok(Exit::Usage)
            }
            other => other,
        }
    }

    fn finish(&mut self) {
        self.report_unsent();
        let tcp = self.ws.get_ref().get_ref().tcp();
        let _ = tcp.set_nonblocking(false);
        let _ = tcp.set_write_timeout(Some(
            self.opts.close_timeout.max(Duration::from_millis(100)),
        ));
        let _ = self.ws.flush();
        self.write_pending_raw();
        let _ = self.ws.flush();
        self.show_outgoing_frames();
        self.show_incoming_frames(Through::All);
        let _ = self.render.flush();
    }
}

impl Session<'_> {
    fn on_signal(&mut self, signal: i32) {
        if self.close_sent_at.is_some() {
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
        let Some(listener) = &self.listener else {
            return;
        };
        let mut turned_away = Vec::new();
        while let Ok((stream, addr)) = listener.accept() {
            crate::listen::refuse_busy(stream);
            turned_away.push(addr);
        }
        for addr in turned_away {
            self.notice(&format!(
                "turned away a second client from {addr} with 503: wscope serves one client at a time"
            ));
        }
    }

    /// Nothing is lost silently: input that never went out is counted.
    fn report_unsent(&mut self) {
        let (queued, stdin_unread) = self.input.discard();
        let total = self.unsent + queued;
        let unread = stdin_unread && self.input_ended_at.is_none();
        match (total, unread) {
            (0, false) => {}
            (0, true) => self.notice("input not sent: stdin was not read to its end"),
            (n, false) => self.notice(&format!("{n} input messages were not sent")),
            (n, true) => self.notice(&format!(
                "{n} input messages were not sent, and stdin was not read to its end"
            )),
        }
    }
}

fn is_data(frame: &Frame) -> bool {
    matches!(
        frame.header.kind(),
        Kind::Continuation | Kind::Text | Kind::Binary
    )
}

/// Which incoming frame ends what tungstenite returned: the last frame of
/// a data message, a ping, a pong or a close; `All` shows everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Through {
    All,
    DataEnd,
    Ping,
    Pong,
    Close,
}

impl Through {
    /// The kind of message this frame ends, if it ends one.
    fn of(frame: &Frame) -> Option<Through> {
        match frame.header.kind() {
            _ if is_data(frame) && frame.header.fin => Some(Through::DataEnd),
            Kind::Ping => Some(Through::Ping),
            Kind::Pong => Some(Through::Pong),
            Kind::Close => Some(Through::Close),
            _ => None,
        }
    }
}

/// Frames shown ahead of their message, to keep the view in wire order,
/// counted by kind until tungstenite returns their messages (in the same
/// order, so a count is enough). `All` is never counted.
#[derive(Default)]
struct ShownAhead([usize; 5]);

impl ShownAhead {
    fn add(&mut self, through: Through) {
        self.0[through as usize] += 1;
    }

    /// Whether a frame of this kind was shown ahead; counts it off.
    fn take(&mut self, through: Through) -> bool {
        let count = &mut self.0[through as usize];
        let ahead = *count > 0;
        *count = count.saturating_sub(1);
        ahead
    }
}

fn help() -> String {
    let mut text = String::from("commands (a line without '/' is sent as text):");
    for (name, example, what) in COMMANDS {
        text.push_str(&format!("\n  {name:<8} {what}\n           e.g. {example}"));
    }
    text.push_str(
        "\n  Ctrl-C clears the line; on an empty line it closes (Close 1000); twice quits at once.",
    );
    text
}
