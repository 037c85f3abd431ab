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
use tungstenite::{Error as WsError, Message, WebSocket};

use crate::close_code;
use crate::connect::Transport;
use crate::error::{fail, warn, Exit, Failure, Stage};
use crate::frame::{Frame, Kind};
use crate::input::{Input, InputQueue, Next};
use crate::render::{Dir, Event, Initiator, Render};
use crate::tap::Tap;
use crate::violation;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);

pub struct Options {
    /// Stay open this long after the last message once input has ended.
    pub wait: Option<Duration>,
    /// How long to wait for the server's Close after ours.
    pub close_timeout: Duration,
}

pub type Socket = WebSocket<Tap<Transport>>;

pub struct Session<'r> {
    ws: Socket,
    render: &'r mut dyn Render,
    opts: Options,
    poll: Poll,
    /// Held here too: if only the input thread held it, its exit would
    /// close the eventfd and drop a wake-up not yet collected.
    _waker: Arc<Waker>,
    input: InputQueue,
    input_ended_at: Option<Instant>,
    /// The socket took less than we gave it; wait until it is writable.
    write_blocked: bool,
    close_sent_at: Option<Instant>,
    last_received: Instant,
    /// Data messages handed to tungstenite whose last frame has not yet
    /// crossed the wire (kept only when the renderer shows them).
    pending_out: VecDeque<(bool, Vec<u8>)>,
    in_data_frames: usize,
    out_data_frames: usize,
    /// The code and reason of the last Close frame the server sent, as
    /// decoded from the wire (tungstenite replaces invalid codes).
    last_close_in: Option<(Option<u16>, String)>,
    outcome: Option<Result<Exit, Failure>>,
}

impl<'r> Session<'r> {
    /// `read_stdin` adds the lines of stdin after the preset messages.
    pub fn new(
        ws: Socket,
        render: &'r mut dyn Render,
        opts: Options,
        preset: Vec<String>,
        read_stdin: bool,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut input = InputQueue::new(preset);
        if read_stdin {
            input.read_stdin(waker.clone());
        }
        Ok(Session {
            ws,
            render,
            opts,
            poll,
            _waker: waker,
            input,
            input_ended_at: None,
            write_blocked: false,
            close_sent_at: None,
            last_received: Instant::now(),
            pending_out: VecDeque::new(),
            in_data_frames: 0,
            out_data_frames: 0,
            last_close_in: None,
            outcome: None,
        })
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
        let mut events = Events::with_capacity(8);
        loop {
            self.send_input();
            self.receive();
            self.flush_socket();
            if let Some(outcome) = self.outcome.take() {
                self.finish();
                return outcome;
            }
            let _ = self.render.flush();
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
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

    /// Hands tungstenite everything the input has ready, until the socket
    /// pushes back.
    fn send_input(&mut self) {
        while self.close_sent_at.is_none() && !self.write_blocked && self.input_ended_at.is_none() {
            match self.input.next() {
                Next::Item(Input::Text(text)) => self.send_text(text),
                Next::Item(Input::NotUtf8 { line }) => warn(&format!(
                    "stdin line {line} is not valid UTF-8; not sent as text"
                )),
                Next::Item(Input::Failed(why)) => {
                    warn(&why);
                    self.end_of_input();
                }
                Next::Pending => break,
                Next::End => self.end_of_input(),
            }
            if self.outcome.is_some() {
                return;
            }
        }
        self.show_outgoing_frames();
    }

    fn end_of_input(&mut self) {
        self.input_ended_at = Some(Instant::now());
        if self.opts.wait.is_none() {
            self.start_close();
        }
    }

    fn send_text(&mut self, text: String) {
        if self.render.wants_outgoing_messages() {
            self.pending_out
                .push_back((false, text.as_bytes().to_vec()));
        }
        self.write(Message::text(text));
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

    fn start_close(&mut self) {
        if self.close_sent_at.is_some() || !self.ws.can_write() {
            return;
        }
        self.close_sent_at = Some(Instant::now());
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        match self.ws.close(Some(frame)) {
            Ok(()) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.write_blocked = true
            }
            Err(e) => self.fail_connection(e),
        }
        self.show_outgoing_frames();
    }

    fn flush_socket(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        match self.ws.flush() {
            Ok(()) => self.write_blocked = false,
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.write_blocked = true
            }
            // After the close handshake there is nothing left to flush.
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {}
            Err(e) => self.fail_connection(e),
        }
        self.show_outgoing_frames();
    }

    /// Reads until the socket has nothing more, showing every frame.
    fn receive(&mut self) {
        while self.outcome.is_none() {
            let result = self.ws.read();
            self.show_outgoing_frames();
            match result {
                Ok(message) => {
                    self.last_received = Instant::now();
                    self.on_message(message);
                }
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Whatever is queued now is part of a message still
                    // arriving: show it already.
                    self.show_incoming_frames_until(|_| false);
                    return;
                }
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    self.show_incoming_frames_until(|_| false);
                    self.outcome = Some(Err(fail(
                        Stage::Io,
                        "the connection closed before the close handshake finished",
                    )));
                }
                Err(e) => {
                    self.show_incoming_frames_until(|_| false);
                    self.fail_connection(e);
                }
            }
        }
    }

    fn on_message(&mut self, message: Message) {
        match message {
            Message::Text(text) => {
                self.show_incoming_frames_until(ends_data_message);
                self.show_message(Dir::In, false, text.as_bytes());
            }
            Message::Binary(data) => {
                self.show_incoming_frames_until(ends_data_message);
                self.show_message(Dir::In, true, &data);
            }
            Message::Ping(_) => self.show_incoming_frames_until(|f| f.header.kind() == Kind::Ping),
            Message::Pong(_) => self.show_incoming_frames_until(|f| f.header.kind() == Kind::Pong),
            Message::Close(_) => {
                self.show_incoming_frames_until(|f| f.header.kind() == Kind::Close);
                self.on_close_received();
            }
            Message::Frame(_) => {}
        }
    }

    fn on_close_received(&mut self) {
        let (code, reason) = self.last_close_in.take().unwrap_or((None, String::new()));
        if let Some(why) = code.and_then(close_code::forbidden_on_wire) {
            // tungstenite has already queued Close 1002 in reply.
            self.outcome = Some(Err(fail(
                Stage::Protocol,
                format!(
                    "the server sent close code {}, which may not be sent: {why}",
                    code.unwrap_or_default()
                ),
            )));
            return;
        }
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

    /// Shows queued incoming frames up to and including the first that
    /// matches `last`, or all of them.
    fn show_incoming_frames_until(&mut self, last: impl Fn(&Frame) -> bool) {
        while let Some(frame) = self.ws.get_mut().next_incoming() {
            if is_data(&frame) {
                self.in_data_frames += 1;
            }
            if frame.header.kind() == Kind::Close {
                let reason = String::from_utf8_lossy(frame.close_reason()).into_owned();
                self.last_close_in = Some((frame.close_code(), reason));
            }
            if self.render.wants_frames() {
                let _ = self.render.event(&Event::Frame {
                    dir: Dir::In,
                    frame: &frame,
                });
            }
            if last(&frame) {
                return;
            }
        }
    }

    fn show_outgoing_frames(&mut self) {
        while let Some(frame) = self.ws.get_mut().next_outgoing() {
            if self.render.wants_frames() {
                let _ = self.render.event(&Event::Frame {
                    dir: Dir::Out,
                    frame: &frame,
                });
            }
            if is_data(&frame) {
                self.out_data_frames += 1;
                if frame.header.fin {
                    if let Some((binary, data)) = self.pending_out.pop_front() {
                        self.show_message(Dir::Out, binary, &data);
                    }
                    self.out_data_frames = 0;
                }
            }
        }
    }

    fn show_message(&mut self, dir: Dir, binary: bool, data: &[u8]) {
        let counter = match dir {
            Dir::In => &mut self.in_data_frames,
            Dir::Out => &mut self.out_data_frames,
        };
        let frames = std::mem::take(counter);
        let _ = self.render.event(&Event::Message {
            dir,
            binary,
            data,
            frames,
        });
    }

    /// Fails the connection: reports the broken rule and, where RFC 6455
    /// asks for it, sends a Close with the matching code.
    fn fail_connection(&mut self, e: WsError) {
        let mid_frame = self.ws.get_ref().incoming_mid_frame();
        self.ws.get_mut().take_partial_incoming();
        self.show_incoming_frames_until(|_| false);
        let mut v = violation::from_ws_error(e, mid_frame);
        if v.failure.stage == Stage::Protocol
            && v.failure.message.contains("not valid UTF-8")
            && self.last_close_in.is_some()
        {
            v.failure.message =
                "the server's Close frame has a reason that is not valid UTF-8 (RFC 6455 §5.5.1)"
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

    fn next_deadline(&self) -> Option<Instant> {
        if let Some(sent) = self.close_sent_at {
            return Some(sent + self.opts.close_timeout);
        }
        let ended = self.input_ended_at?;
        let wait = self.opts.wait?;
        Some(ended.max(self.last_received) + wait)
    }

    fn on_deadline(&mut self) {
        let Some(deadline) = self.next_deadline() else {
            return;
        };
        if Instant::now() < deadline {
            return;
        }
        if self.close_sent_at.is_some() {
            self.outcome = Some(Err(fail(
                Stage::Io,
                format!(
                    "the server did not answer our Close within {:.1}s (--close-timeout)",
                    self.opts.close_timeout.as_secs_f64()
                ),
            )));
        } else {
            self.start_close();
        }
    }

    /// Sends what is still queued (a Close reply, say) before the socket is
    /// dropped, waiting at most the close timeout for it.
    fn finish(&mut self) {
        let tcp = self.ws.get_ref().get_ref().tcp();
        let _ = tcp.set_nonblocking(false);
        let _ = tcp.set_write_timeout(Some(
            self.opts.close_timeout.max(Duration::from_millis(100)),
        ));
        let _ = self.ws.flush();
        self.show_outgoing_frames();
        self.show_incoming_frames_until(|_| false);
        let _ = self.render.flush();
    }
}

fn is_data(frame: &Frame) -> bool {
    matches!(
        frame.header.kind(),
        Kind::Continuation | Kind::Text | Kind::Binary
    )
}

fn ends_data_message(frame: &Frame) -> bool {
    is_data(frame) && frame.header.fin
}
