//! Runs one case against a server: opens the connection, writes the case's
//! frames below any WebSocket library (so that it can break every rule),
//! reads the server's frames as a strict client would, and keeps what the
//! judge needs: the events received and how the connection ended.
//!
//! The client's behaviour is the suite's, timers included: a Close we send
//! waits a second for the answer, a server that does not drop TCP a second
//! after the closing handshake is dropped by us, a violation by the server
//! is answered with Close 1002 (1007 for bad UTF-8), and `KillAfter` fails
//! the connection with 1001.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::case::{Case, Echoes, Event, Frame, Step};
use super::deflate::Codec;
use super::wirelog::WireLog;
use crate::handshake::client::{self as hs, Deadline, Request, Shaping};
use crate::handshake::extensions::Deflate;
use crate::net::connect::{self, Route, Transport};
use crate::net::target::Target;
use crate::tls;
use crate::wire::utf8::Utf8Stream;

/// The biggest message a case accepts from the server: category 9's
/// largest echo is 16 MiB. A server that sends more fails the case.
const MAX_MESSAGE: usize = 64 << 20;
/// How long we wait for the answer to our Close, and for the server to
/// drop TCP after the closing handshake (the suite's 1 s each).
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// No case runs longer than its own waits allow; this bounds a case whose
/// server keeps the connection open past every timer.
const LAST_RESORT: Duration = Duration::from_secs(5);
/// The gap between two chops of a frame: long enough for a server to read
/// each on its own, as it does from the suite.
const CHOP_GAP: Duration = Duration::from_micros(100);
/// Frames of more chops than this are written without the gaps.
const MAX_PACED_CHOPS: usize = 1024;
/// Chops written in one turn of the loop, before it reads again.
const PACED_PER_TURN: usize = 64;
/// Events kept per case: no expected list is longer than a dozen, so a
/// server that floods has failed long before this.
const MAX_EVENTS: usize = 100;
/// Reads per turn of the loop: a server that writes faster than we read
/// must not keep the timers from firing.
const READS_PER_TURN: usize = 16;
use crate::wire::raw::random_key as new_key;

/// FIN and RSV1-3 as the frame asks.
fn header_bits(frame: &Frame) -> [bool; 4] {
    [
        frame.fin,
        frame.rsv & 4 != 0,
        frame.rsv & 2 != 0,
        frame.rsv & 1 != 0,
    ]
}

/// The longest the loop reads before it looks at its timers again.
const TURN: Duration = Duration::from_millis(20);
/// Pongs are not queued while this much waits to be written: a server
/// that floods pings and reads nothing must not grow our memory.
const MAX_PENDING_PONGS: usize = 1 << 20;

/// Where and how to connect, the same for every case.
#[derive(Clone)]
pub struct Server {
    pub target: Target,
    pub tls: Option<tls::Client>,
    pub connect_timeout: Duration,
    pub shaping: Shaping,
}

/// Where the connection got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closing,
    Closed,
}

/// What happened, for the judge and the report.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The opening handshake completed.
    pub opened: bool,
    /// Why it did not, in words.
    pub open_failure: Option<String>,
    pub request: String,
    pub response: String,
    pub received: Vec<Event>,
    /// Events that came past [`MAX_EVENTS`].
    pub events_not_kept: usize,
    /// We sent the first Close.
    pub closed_by_me: bool,
    /// We found a violation and failed the connection.
    pub failed_by_me: bool,
    /// We dropped TCP (the server should have).
    pub dropped_by_me: bool,
    /// The closing handshake completed and the server dropped TCP.
    pub was_clean: bool,
    pub not_clean_reason: Option<String>,
    pub local_close_code: Option<u16>,
    pub remote_close_code: Option<u16>,
    pub remote_close_reason: Option<String>,
    /// The deflate parameters the server accepted, if any.
    pub deflate: Option<Deflate>,
    /// For an echo run: `Ok` when every echo came back intact, else why
    /// not. `None` until the run is over.
    pub echoes: Option<Result<String, String>>,
    /// For an opening-handshake case: its verdict and why.
    pub handshake: Option<(super::case::Behavior, String)>,
    pub duration: Duration,
    pub wirelog: WireLog,
    /// wscope was the server (`check --listen`): the peer is a client.
    pub server_role: bool,
}

/// Runs the case to its end. It never panics and never waits longer than
/// the case's timers (plus a few seconds).
pub fn run(case: &Case, server: &Server) -> Outcome {
    let started = Instant::now();
    let mut out = Outcome::default();
    if let Some(check) = &case.handshake {
        out.handshake = Some(handshake_case(check, server, &mut out));
        out.duration = started.elapsed();
        return out;
    }
    match open(case, server, &mut out) {
        Ok((transport, leftover)) => {
            out.opened = true;
            let mut conn = Conn::new(case, transport, out, started);
            conn.run(leftover);
            out = conn.finish();
        }
        Err(why) => out.open_failure = Some(why),
    }
    out.duration = started.elapsed();
    out
}

/// Runs the case as the server, on a client's connection whose upgrade
/// was answered (`check --listen`): frames go out unmasked, the client's
/// must come masked, and the server drops TCP once the closing handshake
/// is done.
pub fn run_served(
    case: &Case,
    io: Transport,
    leftover: Vec<u8>,
    request: String,
    response: String,
    deflate: Option<Deflate>,
) -> Outcome {
    let started = Instant::now();
    let out = Outcome {
        opened: true,
        request,
        response,
        server_role: true,
        deflate,
        ..Outcome::default()
    };
    if let Err(e) = io.set_nonblocking(true) {
        let mut out = out;
        out.opened = false;
        out.open_failure = Some(format!("cannot make the socket non-blocking: {e}"));
        return out;
    }
    let _ = io.socket().set_nodelay();
    let mut conn = Conn::new(case, io, out, started);
    conn.server = true;
    conn.raw_pieces = unmasked_pieces(case);
    // The codec compresses as the client and inflates the server: as the
    // server, the parameters go the other way round.
    conn.deflate = deflate.map(|d| Codec::new(&d.swapped(), MAX_MESSAGE));
    conn.run(leftover);
    let mut out = conn.finish();
    out.duration = started.elapsed();
    out
}

/// A case's raw pieces are chops of masked frames; as the server sends
/// them they must be unmasked, cut at the same places in the payload.
fn unmasked_pieces(case: &Case) -> Vec<Vec<u8>> {
    let pieces: Vec<&Vec<u8>> = case
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Raw(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    let whole: Vec<u8> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
    let mut out = Vec::new();
    let mut rest = &whole[..];
    let mut rebuilt = Vec::new();
    while let Some(Ok((h, used))) = parse_header(rest, true) {
        let len = h.len as usize;
        if rest.len() < used + len {
            break;
        }
        let mut payload = rest[used..used + len].to_vec();
        if let Some(key) = h.key {
            crate::wire::frame::unmask(&mut payload, key, 0);
        }
        let bits = [h.fin, h.rsv & 4 != 0, h.rsv & 2 != 0, h.rsv & 1 != 0];
        rebuilt.extend(crate::wire::raw::encode_frame(
            bits, h.opcode, None, &payload,
        ));
        rest = &rest[used + len..];
    }
    rebuilt.extend_from_slice(rest);
    // The keys were in the first piece, with the headers (as the cases
    // cut them): it is that much shorter; the others keep their sizes.
    let shift = whole.len() - rebuilt.len();
    let mut at = 0usize;
    for (i, piece) in pieces.iter().enumerate() {
        let take = if i == 0 {
            piece.len().saturating_sub(shift)
        } else {
            piece.len()
        };
        let end = (at + take).min(rebuilt.len());
        out.push(rebuilt[at.min(end)..end].to_vec());
        at = end;
    }
    out
}

/// The opening handshake, with the case's deflate offers.
fn open(case: &Case, server: &Server, out: &mut Outcome) -> Result<(Transport, Vec<u8>), String> {
    let route = Route {
        proxy: None,
        ip_version: None,
        tls_server_name: None,
        timeout: server.connect_timeout,
    };
    let connected = connect::connect(&server.target, server.tls.clone(), &route)
        .map_err(|f| f.message.clone())?;
    let mut transport = connected.transport;
    let mut shaping = server.shaping.clone();
    if !case.deflate.is_empty() {
        let offers: Vec<String> = case
            .deflate
            .iter()
            .map(super::deflate::offer_text)
            .collect();
        shaping
            .headers
            .push(("Sec-WebSocket-Extensions".into(), offers.join(", ")));
    }
    let request = Request::build(&server.target, &shaping);
    out.request = String::from_utf8_lossy(&request.raw).into_owned();
    hs::send_request(&mut transport, &request).map_err(|f| f.message.clone())?;
    let response = hs::read_response(
        &mut transport,
        Deadline::after(server.connect_timeout),
        Duration::from_millis(100),
    )
    .map_err(|f| f.message.clone())?;
    out.response = String::from_utf8_lossy(&response.raw).into_owned();
    let negotiated = hs::verify(&request, &response);
    if let Some(problem) = negotiated.problem {
        return Err(problem);
    }
    out.deflate = negotiated.deflate;
    let _ = transport.socket().set_nodelay();
    transport
        .set_nonblocking(true)
        .map_err(|e| format!("cannot make the socket non-blocking: {e}"))?;
    Ok((transport, response.leftover))
}

/// Sends the shaped request and judges the answer; the connection is
/// then dropped (a 101 is not used).
fn handshake_case(
    check: &super::case::HandshakeCheck,
    server: &Server,
    out: &mut Outcome,
) -> (super::case::Behavior, String) {
    use super::case::{Answer, Behavior};
    let route = Route {
        proxy: None,
        ip_version: None,
        tls_server_name: None,
        timeout: server.connect_timeout,
    };
    let mut transport = match connect::connect(&server.target, server.tls.clone(), &route) {
        Ok(c) => c.transport,
        Err(f) => {
            out.open_failure = Some(f.message.clone());
            return (
                Behavior::Failed,
                format!("could not connect: {}", f.message),
            );
        }
    };
    let mut shaping = server.shaping.clone();
    for (name, value) in &check.headers {
        shaping.headers.push((name.to_string(), value.to_string()));
    }
    let mut request = Request::build(&server.target, &shaping);
    let text = (check.shape)(String::from_utf8_lossy(&request.raw).into_owned());
    request.raw = text.into_bytes();
    out.request = String::from_utf8_lossy(&request.raw).into_owned();
    let mut answer = Answer::default();
    if hs::send_request(&mut transport, &request).is_ok() {
        if let Ok(response) = hs::read_response(
            &mut transport,
            Deadline::after(server.connect_timeout.min(Duration::from_secs(5))),
            Duration::from_millis(100),
        ) {
            out.response = String::from_utf8_lossy(&response.raw).into_owned();
            answer.status = Some(response.status);
            if response.status == 101 {
                let negotiated = hs::verify(&request, &response);
                answer.problem = negotiated.problem;
                answer.deflate = negotiated.deflate.is_some();
            }
            answer.headers = response.headers;
        }
    }
    out.opened = answer.status == Some(101);
    let _ = transport.socket().shutdown(std::net::Shutdown::Both);
    (check.judge)(&answer)
}

/// A timer the case or the protocol set.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Timer {
    /// Go on with the steps from this index (`Step::Later`).
    Continue(usize, &'static str),
    Kill,
    CloseAfter,
    /// Our Close went unanswered.
    CloseHandshake,
    /// The server did not drop TCP after the closing handshake; `clean`
    /// says whether that makes the close unclean (it does when we closed
    /// first, as in the suite).
    ServerDrop {
        unclean: bool,
    },
    LastResort,
}

/// A frame being read: its header, then its payload as it arrives.
struct Incoming {
    fin: bool,
    rsv: u8,
    opcode: u8,
    remaining: u64,
    /// The payload's length, as the header gave it.
    len: u64,
    /// Control frames' payloads gather here; data goes to the message
    /// (and its first octets here, for the wire log).
    control: Vec<u8>,
    /// Found at fault: its payload is read and dropped.
    skip: bool,
    /// A client's masking key, and how much payload it has unmasked.
    key: Option<[u8; 4]>,
    offset: u64,
}

/// A data message being assembled.
struct Message {
    binary: bool,
    compressed: bool,
    payload: Vec<u8>,
    utf8: Utf8Stream,
    /// Its length so far.
    len: usize,
    /// An echo (not compressed) is compared as it arrives and not kept:
    /// where it first differed from what was sent, if it did.
    streamed: Option<Option<usize>>,
}

struct Conn<'c> {
    case: &'c Case,
    io: Transport,
    out: Outcome,
    state: State,
    started: Instant,
    timers: Vec<(Instant, Timer)>,
    /// Bytes waiting for the socket; each entry is written on its own
    /// (a chop of a frame is its own write).
    outbox: std::collections::VecDeque<Vec<u8>>,
    /// How many of the outbox's first entries are chops, written with a
    /// gap between them so that each leaves as a segment of its own, as
    /// the suite writes them.
    paced: usize,
    inbuf: Vec<u8>,
    frame: Option<Incoming>,
    message: Option<Message>,
    deflate: Option<Codec>,
    echo: Option<EchoRun>,
    /// We are the server: our frames go unmasked, the client's come masked.
    server: bool,
    /// The case's raw pieces, unmasked, when we are the server.
    raw_pieces: Vec<Vec<u8>>,
    raw_sent: usize,
}

/// Category 9's run in progress.
struct EchoRun {
    spec: Echoes,
    /// What the messages are cut from.
    source: Vec<u8>,
    /// Where in `source` the message last sent began: its echo is
    /// compared with the source, so a big message is not held twice.
    last_start: usize,
    /// The buffer messages are built in, kept for the next one when small.
    payload: Vec<u8>,
    sent: usize,
}

/// Messages up to this size reuse one buffer; bigger ones free theirs
/// once written, so that only the wire copy and the echo are held.
const REUSED_BUFFER: usize = 1 << 20;

/// The first byte at which `echo` differs from `len` bytes of `source`
/// read from `start` round and round, if any.
fn differs_at(source: &[u8], start: usize, echo: &[u8]) -> Option<usize> {
    let mut at = 0;
    let mut from = start;
    while at < echo.len() {
        let take = (echo.len() - at).min(source.len() - from);
        if let Some(i) = echo[at..at + take]
            .iter()
            .zip(&source[from..from + take])
            .position(|(a, b)| a != b)
        {
            return Some(at + i);
        }
        at += take;
        from = 0;
    }
    None
}

impl<'c> Conn<'c> {
    fn new(case: &'c Case, io: Transport, out: Outcome, started: Instant) -> Conn<'c> {
        let deflate = out.deflate.as_ref().map(|d| Codec::new(d, MAX_MESSAGE));
        Conn {
            case,
            io,
            out,
            state: State::Open,
            started,
            timers: Vec::new(),
            outbox: Default::default(),
            paced: 0,
            inbuf: Vec::new(),
            frame: None,
            message: None,
            deflate,
            echo: None,
            server: false,
            raw_pieces: Vec::new(),
            raw_sent: 0,
        }
    }

    fn finish(self) -> Outcome {
        self.out
    }

    fn run(&mut self, leftover: Vec<u8>) {
        self.arm(LAST_RESORT + self.case_waits(), Timer::LastResort);
        if !self.case.deflate.is_empty() && self.deflate.is_none() {
            // The suite's compression cases end here: UNIMPLEMENTED.
            self.out
                .wirelog
                .note(0.0, "the server did not agree to permessage-deflate".into());
            self.send_close(Some(1000), &[], false);
        } else {
            self.steps_from(0);
        }
        if !leftover.is_empty() {
            self.received_bytes(&leftover);
        }
        let mut buf = vec![0u8; 64 * 1024];
        while self.state != State::Closed {
            if let Err(e) = self.flush() {
                // What the server sent before it went is still to read.
                self.out
                    .wirelog
                    .note(self.ms(), format!("write failed: {e}"));
            }
            self.read_available(&mut buf);
            self.fire_due_timers();
            if self.state == State::Closed {
                break;
            }
            self.wait_for_io();
        }
    }

    /// The longest the case's own timers can take, so that the last-resort
    /// bound never cuts a case short.
    fn case_waits(&self) -> Duration {
        let secs: f64 = self
            .case
            .steps
            .iter()
            .map(|s| match s {
                Step::Later { secs, .. } | Step::KillAfter(secs) | Step::CloseAfter(secs) => *secs,
                Step::Echoes(e) => e.within_secs,
                _ => 0.0,
            })
            .sum();
        Duration::from_secs_f64(secs + 2.0 * CLOSE_WAIT.as_secs_f64())
    }

    fn arm(&mut self, after: Duration, timer: Timer) {
        self.timers.push((Instant::now() + after, timer));
    }

    fn disarm(&mut self, which: impl Fn(&Timer) -> bool) {
        self.timers.retain(|(_, t)| !which(t));
    }

    fn ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// Runs the steps from `from` until a wait or the end.
    fn steps_from(&mut self, from: usize) {
        let case = self.case;
        for (i, step) in case.steps.iter().enumerate().skip(from) {
            if self.state == State::Closed {
                return;
            }
            match step {
                Step::Frame(frame) => self.send_frame(frame),
                Step::Message {
                    binary,
                    payload,
                    fragment,
                } => self.send_message(*binary, payload, *fragment),
                Step::Close { code, reason } => self.send_close(*code, reason, false),
                Step::Later { secs, tag } => {
                    self.out
                        .wirelog
                        .note(self.ms(), format!("wait {secs} s ({tag})"));
                    self.arm(Duration::from_secs_f64(*secs), Timer::Continue(i + 1, tag));
                    return;
                }
                Step::KillAfter(secs) => {
                    self.arm(Duration::from_secs_f64(*secs), Timer::Kill);
                }
                Step::CloseAfter(secs) => {
                    self.arm(Duration::from_secs_f64(*secs), Timer::CloseAfter);
                }
                Step::Echoes(spec) => self.start_echoes(spec),
                Step::Raw(bytes) => {
                    let bytes = match self.server {
                        true => self
                            .raw_pieces
                            .get(self.raw_sent)
                            .cloned()
                            .unwrap_or_default(),
                        false => bytes.clone(),
                    };
                    self.raw_sent += 1;
                    self.out
                        .wirelog
                        .note(self.ms(), format!("{} raw bytes", bytes.len()));
                    self.outbox.push_back(bytes);
                    self.flush_blocking();
                }
            }
        }
    }

    fn start_echoes(&mut self, spec: &Echoes) {
        let source: Vec<u8> = match self.case.corpus {
            Some(kind) => super::cases::corpus(kind).to_vec(),
            None if spec.fill.is_empty() => vec![b'*'],
            None => spec.fill.clone(),
        };
        self.arm(Duration::from_secs_f64(spec.within_secs), Timer::CloseAfter);
        self.out.wirelog.pause();
        self.echo = Some(EchoRun {
            spec: spec.clone(),
            source,
            last_start: 0,
            payload: Vec::new(),
            sent: 0,
        });
        self.send_next_echo();
    }

    /// The next message: the next `size` bytes of the source, from where
    /// the last one ended (wrapping around), so that each differs.
    fn send_next_echo(&mut self) {
        let Some(run) = self.echo.as_mut() else {
            return;
        };
        let start = (run.sent * run.spec.size) % run.source.len();
        run.last_start = start;
        run.payload.clear();
        // Room for the frame's header too, for a frame made in place.
        run.payload.reserve(run.spec.size + 14);
        // Whole slices at a time: a byte iterator here costs more than
        // compressing the message.
        let mut from = start;
        while run.payload.len() < run.spec.size {
            let take = (run.spec.size - run.payload.len()).min(run.source.len() - from);
            run.payload
                .extend_from_slice(&run.source[from..from + take]);
            from = 0;
        }
        run.sent += 1;
        let (binary, fragment, chop) = (run.spec.binary, run.spec.fragment, run.spec.chop);
        let payload = std::mem::take(&mut run.payload);
        match (fragment, self.deflate.is_some()) {
            (Some(_), _) | (None, true) => self.send_message(binary, &payload, fragment),
            (None, false) => {
                let mut frame = Frame::new(if binary { 2 } else { 1 }, Vec::new());
                frame.chop = chop;
                if payload.len() > REUSED_BUFFER {
                    // The frame is made in the message's own buffer.
                    self.send_owned(&frame, payload);
                    return;
                }
                self.send_payload(&frame, &payload);
            }
        }
        if let Some(run) = self.echo.as_mut() {
            if payload.len() <= REUSED_BUFFER {
                run.payload = payload;
            }
        }
    }

    /// An echo came back: the next goes out, or the run is over.
    /// `len` is the echo's length, `difference` where it first differed
    /// from what was sent.
    fn echo_received(&mut self, binary: bool, len: usize, difference: Option<usize>) {
        let Some(run) = self.echo.as_ref() else {
            return;
        };
        let verdict = if binary != run.spec.binary {
            Some(Err(format!(
                "expected a {} echo, got a {} message",
                kind(run.spec.binary),
                kind(binary)
            )))
        } else if len != run.spec.size {
            Some(Err(format!(
                "expected an echo of {} bytes, got {}",
                run.spec.size, len
            )))
        } else if let Some(at) = difference {
            Some(Err(format!(
                "the echo differs from what was sent at byte {at}"
            )))
        } else if run.sent < run.spec.count {
            None
        } else {
            Some(Ok(format!(
                "{} echo{} of {} bytes came back intact",
                run.spec.count,
                if run.spec.count == 1 { "" } else { "es" },
                run.spec.size
            )))
        };
        match verdict {
            None => self.send_next_echo(),
            Some(result) => {
                self.out.echoes = Some(result);
                self.out.wirelog.resume();
                self.send_close(Some(1000), &[], false);
            }
        }
    }

    fn send_frame(&mut self, frame: &Frame) {
        let payload = frame.full_payload();
        self.send_payload(frame, &payload);
    }

    fn send_payload(&mut self, frame: &Frame, payload: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        let bytes = crate::wire::raw::encode_frame(
            header_bits(frame),
            frame.opcode,
            (!self.server).then(new_key),
            payload,
        );
        self.out
            .wirelog
            .frame(self.ms(), true, frame.opcode, frame.fin, frame.rsv, payload);
        self.queue(frame, bytes);
    }

    /// The same, made in the payload's own buffer: a big message is not
    /// held twice.
    fn send_owned(&mut self, frame: &Frame, payload: Vec<u8>) {
        if self.state == State::Closed {
            return;
        }
        self.out.wirelog.frame(
            self.ms(),
            true,
            frame.opcode,
            frame.fin,
            frame.rsv,
            &payload,
        );
        let bytes = crate::wire::raw::encode_frame_owned(
            header_bits(frame),
            frame.opcode,
            (!self.server).then(new_key),
            payload,
        );
        self.queue(frame, bytes);
    }

    /// A frame's bytes go to the outbox, whole or in chops.
    fn queue(&mut self, frame: &Frame, bytes: Vec<u8>) {
        match frame.chop {
            Some(size) if size > 0 => {
                for chop in bytes.chunks(size) {
                    self.outbox.push_back(chop.to_vec());
                }
                // Only chops at the head of the queue are paced; behind
                // others they go as they are, which is rare and harmless.
                // A frame of thousands of chops (category 9) is about the
                // server's reassembly, not timing: its chops go as fast as
                // the socket takes them, each a write of its own.
                let chops = bytes.len().div_ceil(size);
                if chops <= MAX_PACED_CHOPS && self.outbox.len() == chops + self.paced {
                    self.paced += chops;
                }
            }
            _ => self.outbox.push_back(bytes),
        }
        if frame.sync {
            self.flush_blocking();
        }
    }

    /// A message, whole or in fragments, compressed when deflate is on.
    fn send_message(&mut self, binary: bool, payload: &[u8], fragment: Option<usize>) {
        let opcode = if binary { 2 } else { 1 };
        let (wire, rsv) = match self.deflate.as_mut() {
            Some(codec) => (codec.compress(payload), 4),
            None => (payload.to_vec(), 0),
        };
        let size = fragment.filter(|&s| s > 0).unwrap_or(usize::MAX);
        let pieces: Vec<&[u8]> = if wire.is_empty() {
            vec![&wire[..]]
        } else {
            wire.chunks(size.min(wire.len())).collect()
        };
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut frame = Frame::new(if i == 0 { opcode } else { 0 }, Vec::new());
            frame.fin = i == last;
            frame.rsv = if i == 0 { rsv } else { 0 };
            self.send_payload(&frame, piece);
        }
    }

    /// Starts the closing handshake (or, from `fail`, fails the
    /// connection): a Close with any code and reason, valid or not.
    fn send_close(&mut self, code: Option<u16>, reason: &[u8], reply: bool) {
        match self.state {
            State::Open => {
                let mut payload = Vec::new();
                if let Some(code) = code {
                    payload.extend_from_slice(&code.to_be_bytes());
                }
                payload.extend_from_slice(reason);
                self.send_payload(&Frame::new(8, Vec::new()), &payload);
                self.state = State::Closing;
                self.out.closed_by_me = !reply;
                self.out.local_close_code = code;
                if !reply {
                    self.arm(CLOSE_WAIT, Timer::CloseHandshake);
                }
            }
            State::Closing | State::Closed => {}
        }
    }

    /// We found the server at fault (or a kill timer ran out): Close with
    /// this code, or drop at once when we are already closing.
    fn fail(&mut self, code: u16, why: &str) {
        self.out.failed_by_me = true;
        self.out.wirelog.note(self.ms(), format!("fail: {why}"));
        match self.state {
            State::Open => {
                let reason: Vec<u8> = why.as_bytes().iter().copied().take(123).collect();
                self.send_close(Some(code), &reason, false);
                if self.out.not_clean_reason.is_none() {
                    self.out.not_clean_reason = Some(why.to_string());
                }
            }
            State::Closing => self.drop_connection(),
            State::Closed => {}
        }
    }

    fn drop_connection(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.out.dropped_by_me = true;
        self.out.wirelog.note(self.ms(), "we drop TCP".to_string());
        let _ = self.flush();
        let _ = self.io.socket().shutdown(std::net::Shutdown::Both);
        self.state = State::Closed;
    }

    /// As the server, we end TCP once the closing handshake is done
    /// (RFC 6455 §7.1.1): what is queued goes first.
    fn server_drops(&mut self) {
        let until = Instant::now() + CLOSE_WAIT;
        while !self.outbox.is_empty() && Instant::now() < until {
            if self.flush().is_err() {
                break;
            }
            if !self.outbox.is_empty() {
                self.poll(Duration::from_millis(10));
            }
        }
        self.out
            .wirelog
            .note(self.ms(), "closing handshake done: we drop TCP".to_string());
        let _ = self.io.socket().shutdown(std::net::Shutdown::Both);
        self.state = State::Closed;
    }

    fn lost(&mut self, why: &str) {
        if self.state == State::Closed {
            return;
        }
        let peer = if self.server { "client" } else { "server" };
        self.out
            .wirelog
            .note(self.ms(), format!("TCP closed by the {peer} ({why})"));
        if !self.out.was_clean && self.out.not_clean_reason.is_none() {
            self.out.not_clean_reason = Some(format!(
                "the {peer} dropped the TCP connection without a closing handshake ({why})"
            ));
        }
        self.state = State::Closed;
    }

    fn fire_due_timers(&mut self) {
        loop {
            let now = Instant::now();
            let Some(pos) = self.timers.iter().position(|(at, _)| *at <= now) else {
                return;
            };
            let (_, timer) = self.timers.remove(pos);
            if self.state == State::Closed {
                return;
            }
            match timer {
                Timer::Continue(from, tag) => {
                    if self.state == State::Open {
                        // An untagged wait is a pause and counts for nothing.
                        if !tag.is_empty() {
                            self.record(Event::Timeout(tag));
                        }
                        self.steps_from(from);
                    }
                }
                Timer::Kill => self.fail(1001, "Going Away"),
                Timer::CloseAfter => self.send_close(None, &[], false),
                Timer::CloseHandshake => {
                    self.out.was_clean = false;
                    self.out.not_clean_reason =
                        Some("the server did not answer our Close within 1 s".into());
                    self.drop_connection();
                }
                Timer::ServerDrop { unclean } => {
                    if unclean {
                        self.out.was_clean = false;
                        self.out.not_clean_reason = Some(
                            "the server did not drop TCP within 1 s of the closing handshake"
                                .into(),
                        );
                    }
                    self.drop_connection();
                }
                Timer::LastResort => {
                    self.out.was_clean = false;
                    self.out.not_clean_reason = Some("the case ran past all its waits".into());
                    self.drop_connection();
                }
            }
        }
    }

    /// Writes what the socket takes now.
    fn flush(&mut self) -> io::Result<()> {
        let mut written_paced = 0;
        while let Some(front) = self.outbox.front_mut() {
            match self.io.write(front) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) if n == front.len() => {
                    self.outbox.pop_front();
                    if self.paced > 0 {
                        self.paced -= 1;
                        written_paced += 1;
                        // A short gap before the next chop, and a turn of
                        // the loop (to read) now and then.
                        if self.paced == 0 || written_paced == PACED_PER_TURN {
                            return Ok(());
                        }
                        std::thread::sleep(CHOP_GAP);
                    }
                }
                Ok(n) => {
                    front.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.outbox.clear();
                    self.paced = 0;
                    return Err(e);
                }
            }
        }
        match self.io.flush() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// `sync`: what is queued goes out before the next step, reading
    /// meanwhile so that a server echoing as we write is not stuck.
    fn flush_blocking(&mut self) {
        let until = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 16 * 1024];
        while !self.outbox.is_empty() && self.state != State::Closed && Instant::now() < until {
            if self.flush().is_err() {
                return;
            }
            if !self.outbox.is_empty() {
                self.read_available(&mut buf);
                self.poll(Duration::from_millis(10));
            }
        }
    }

    fn read_available(&mut self, buf: &mut [u8]) {
        let turn_ends = Instant::now() + TURN;
        for _ in 0..READS_PER_TURN {
            // However slowly the frames are taken apart (a flood of tiny
            // ones), the timers get their turn.
            if Instant::now() > turn_ends {
                return;
            }
            if self.state == State::Closed {
                return;
            }
            match self.io.read(buf) {
                Ok(0) => return self.lost("EOF"),
                Ok(n) => {
                    let chunk = buf[..n].to_vec();
                    self.received_bytes(&chunk);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.lost(&e.to_string()),
            }
        }
    }

    fn wait_for_io(&mut self) {
        let now = Instant::now();
        let next = self
            .timers
            .iter()
            .map(|(at, _)| at.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(1));
        self.poll(next.clamp(Duration::from_millis(1), Duration::from_secs(1)));
    }

    fn poll(&self, limit: Duration) {
        let mut events = libc::POLLIN;
        if !self.outbox.is_empty() {
            events |= libc::POLLOUT;
        }
        let mut fd = libc::pollfd {
            fd: self.io.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the length given.
        unsafe {
            libc::poll(&mut fd, 1, limit.as_millis().min(i32::MAX as u128) as i32);
        }
    }

    /// Bytes from the server: frames are read as they arrive, payloads
    /// going straight to their message, so nothing is held twice. A frame
    /// found at fault is failed and then skipped, so that the server's
    /// answer to our Close can still be read.
    fn received_bytes(&mut self, chunk: &[u8]) {
        self.inbuf.extend_from_slice(chunk);
        let mut at = 0;
        while self.state != State::Closed {
            if self.frame.is_none() {
                match parse_header(&self.inbuf[at..], self.server) {
                    None => break,
                    Some(Err(why)) => {
                        // The stream cannot be followed past a bad header.
                        self.fail(1002, &why);
                        self.inbuf.clear();
                        return;
                    }
                    Some(Ok((mut header, used))) => {
                        at += used;
                        if let Err((code, why)) = self.frame_begins(&header) {
                            header.skip = true;
                            self.fail(code, &why);
                        }
                        self.frame = Some(header);
                    }
                }
            }
            let Some(frame) = self.frame.as_mut() else {
                break;
            };
            let take = (frame.remaining.min((self.inbuf.len() - at) as u64)) as usize;
            frame.remaining -= take as u64;
            let (skip, done) = (frame.skip, frame.remaining == 0);
            if !skip {
                let mut piece = self.inbuf[at..at + take].to_vec();
                if let Some(key) = frame.key {
                    crate::wire::frame::unmask(&mut piece, key, frame.offset as usize);
                }
                frame.offset += take as u64;
                if let Err((code, why)) = self.payload_piece(&piece) {
                    self.message = None;
                    if let Some(f) = self.frame.as_mut() {
                        f.skip = true;
                    }
                    self.fail(code, &why);
                }
            }
            at += take;
            if !done {
                break;
            }
            let frame = self.frame.take().expect("a frame in progress");
            if !frame.skip {
                if let Err((code, why)) = self.frame_ends(frame) {
                    self.fail(code, &why);
                }
            }
        }
        self.inbuf.drain(..at.min(self.inbuf.len()));
    }

    /// The header's checks, as a strict client makes them.
    fn frame_begins(&mut self, f: &Incoming) -> Result<(), (u16, String)> {
        let control = f.opcode >= 8;
        let deflate_bit = f.rsv == 4 && self.deflate.is_some() && matches!(f.opcode, 1 | 2);
        if f.rsv != 0 && !deflate_bit {
            return Err((
                1002,
                format!("RSV bits {:03b} set with no extension agreed", f.rsv),
            ));
        }
        match f.opcode {
            0 if self.message.is_none() => {
                return Err((1002, "a continuation frame with no message begun".into()))
            }
            1 | 2 if self.message.is_some() => {
                return Err((1002, "a new data frame inside a fragmented message".into()))
            }
            0..=2 | 8..=10 => {}
            op => return Err((1002, format!("reserved opcode {op:#x}"))),
        }
        if control && !f.fin {
            return Err((1002, "a fragmented control frame".into()));
        }
        if control && f.remaining > 125 {
            return Err((
                1002,
                format!("a control frame of {} bytes (at most 125)", f.remaining),
            ));
        }
        if !control {
            let held = self.message.as_ref().map_or(0, |m| m.len as u64);
            if held + f.remaining > MAX_MESSAGE as u64 {
                return Err((1009, format!("a message over {} MiB", MAX_MESSAGE >> 20)));
            }
        }
        if matches!(f.opcode, 1 | 2) {
            let streamed = (self.echo.is_some() && !deflate_bit).then_some(None);
            self.message = Some(Message {
                binary: f.opcode == 2,
                compressed: deflate_bit,
                payload: Vec::new(),
                utf8: Utf8Stream::default(),
                len: 0,
                streamed,
            });
        }
        Ok(())
    }

    fn payload_piece(&mut self, piece: &[u8]) -> Result<(), (u16, String)> {
        let frame = self.frame.as_mut().expect("a frame in progress");
        if frame.opcode >= 8 {
            frame.control.extend_from_slice(piece);
            return Ok(());
        }
        let room = crate::check::wirelog::PREVIEW.saturating_sub(frame.control.len());
        frame
            .control
            .extend_from_slice(&piece[..piece.len().min(room)]);
        let message = self.message.as_mut().expect("a message in progress");
        if !message.binary && !message.compressed {
            message.utf8.feed(piece).map_err(|bad| {
                (
                    1007,
                    format!("invalid UTF-8 at byte {} of a text message", bad.in_message),
                )
            })?;
        }
        match (&mut message.streamed, self.echo.as_ref()) {
            (Some(difference), Some(run)) => {
                if difference.is_none() && message.len < run.spec.size {
                    let from = (run.last_start + message.len) % run.source.len();
                    let within = &piece[..piece.len().min(run.spec.size - message.len)];
                    *difference = differs_at(&run.source, from, within).map(|i| message.len + i);
                }
            }
            _ => message.payload.extend_from_slice(piece),
        }
        message.len += piece.len();
        Ok(())
    }

    fn frame_ends(&mut self, frame: Incoming) -> Result<(), (u16, String)> {
        self.out.wirelog.received_frame(
            self.ms(),
            (frame.opcode, frame.fin, frame.rsv),
            frame.len,
            &frame.control,
        );
        match frame.opcode {
            8 => self.close_received(&frame.control),
            9 => {
                let pending: usize = self.outbox.iter().map(Vec::len).sum();
                if self.state == State::Open && pending < MAX_PENDING_PONGS {
                    self.send_payload(&Frame::new(10, Vec::new()), &frame.control);
                }
                Ok(())
            }
            10 => {
                self.record(Event::Pong(frame.control));
                self.finish_when_done();
                Ok(())
            }
            _ if frame.fin => self.message_ends(),
            _ => Ok(()),
        }
    }

    fn message_ends(&mut self) -> Result<(), (u16, String)> {
        let mut message = self.message.take().expect("a message in progress");
        if message.compressed {
            let codec = self.deflate.as_mut().expect("deflate agreed");
            let plain = codec
                .inflate(&message.payload)
                .map_err(|why| (1007, format!("a compressed message {why}")))?;
            if !message.binary {
                let mut check = Utf8Stream::default();
                check
                    .feed(&plain)
                    .and_then(|()| check.finish())
                    .map_err(|bad| {
                        (
                            1007,
                            format!(
                                "invalid UTF-8 at byte {} of an inflated text message",
                                bad.in_message
                            ),
                        )
                    })?;
            }
            message.payload = plain;
        } else if !message.binary {
            message.utf8.finish().map_err(|bad| {
                (
                    1007,
                    format!(
                        "a text message ends inside a character at byte {}",
                        bad.in_message
                    ),
                )
            })?;
        }
        if let Some(run) = self.echo.as_ref() {
            let (len, difference) = match message.streamed {
                Some(difference) => (message.len, difference),
                None => (
                    message.payload.len(),
                    differs_at(&run.source, run.last_start, &message.payload),
                ),
            };
            self.echo_received(message.binary, len, difference);
            return Ok(());
        }
        self.record(Event::Message {
            binary: message.binary,
            payload: message.payload,
        });
        self.finish_when_done();
        Ok(())
    }

    fn close_received(&mut self, payload: &[u8]) -> Result<(), (u16, String)> {
        if payload.len() == 1 {
            return Err((1002, "a Close frame with a 1-byte payload".into()));
        }
        let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        self.out.remote_close_code = code;
        if let Some(code) = code {
            if !close_code_allowed(code) {
                return Err((1002, format!("close code {code} may not be sent")));
            }
        }
        if payload.len() > 2 {
            match std::str::from_utf8(&payload[2..]) {
                Ok(reason) => self.out.remote_close_reason = Some(reason.to_string()),
                Err(_) => return Err((1007, "a close reason that is not UTF-8".into())),
            }
        }
        match self.state {
            State::Closing => {
                self.disarm(|t| *t == Timer::CloseHandshake);
                self.out.was_clean = true;
                if self.server {
                    self.server_drops();
                } else {
                    self.arm(CLOSE_WAIT, Timer::ServerDrop { unclean: true });
                }
            }
            State::Open => {
                self.out.was_clean = true;
                self.send_close(Some(1000), &[], true);
                if self.server {
                    self.server_drops();
                } else {
                    self.arm(CLOSE_WAIT, Timer::ServerDrop { unclean: false });
                }
            }
            State::Closed => {}
        }
        Ok(())
    }

    /// Keeps an event for the verdict, up to [`MAX_EVENTS`]; past that the
    /// case has failed anyway, and the rest are only counted.
    fn record(&mut self, event: Event) {
        if self.out.received.len() < MAX_EVENTS {
            self.out.received.push(event);
        } else {
            if self.out.events_not_kept == 0 {
                let note = format!("more than {MAX_EVENTS} events: the rest are counted, not kept");
                self.out.wirelog.note(self.ms(), note);
            }
            self.out.events_not_kept += 1;
        }
    }

    /// The suite closes once the events match every expected list.
    fn finish_when_done(&mut self) {
        let case = self.case;
        if case.expected.is_empty() || case.expected.iter().any(|(_, e)| *e != self.out.received) {
            return;
        }
        if case.close.closed_by_me && !case.suppress_close {
            let code = case.close.codes.first().copied();
            self.send_close(code, &[], false);
        }
    }
}

fn kind(binary: bool) -> &'static str {
    if binary {
        "binary"
    } else {
        "text"
    }
}

/// Codes a strict client accepts in a Close (RFC 6455 §7.4).
fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// A frame header from the front of `buf`: `None` until it is whole.
/// A server's frames must come unmasked and a client's (`from_client`)
/// masked.
fn parse_header(buf: &[u8], from_client: bool) -> Option<Result<(Incoming, usize), String>> {
    if buf.len() < 2 {
        return None;
    }
    let (b0, b1) = (buf[0], buf[1]);
    let (mut len, mut used) = (u64::from(b1 & 0x7F), 2);
    if len == 126 {
        let bytes = buf.get(2..4)?;
        len = u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        used = 4;
    } else if len == 127 {
        let bytes = buf.get(2..10)?;
        len = u64::from_be_bytes(bytes.try_into().ok()?);
        used = 10;
    }
    let masked = b1 & 0x80 != 0;
    if masked && !from_client {
        return Some(Err("the server masked a frame (RFC 6455 §5.1)".into()));
    }
    if !masked && from_client {
        return Some(Err(
            "the client sent an unmasked frame (RFC 6455 §5.1)".into()
        ));
    }
    let key = if masked {
        let k: [u8; 4] = buf.get(used..used + 4)?.try_into().ok()?;
        used += 4;
        Some(k)
    } else {
        None
    };
    Some(Ok((
        Incoming {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0F,
            remaining: len,
            len,
            control: Vec::new(),
            skip: false,
            key,
            offset: 0,
        },
        used,
    )))
}

#[cfg(test)]
mod tests {
    use super::differs_at;

    #[test]
    fn an_echo_is_compared_with_the_source_read_round_and_round() {
        let source = b"abcde";
        assert_eq!(differs_at(source, 3, b"deabcdeab"), None);
        assert_eq!(differs_at(source, 3, b"deabXdeab"), Some(4));
        assert_eq!(differs_at(source, 0, b""), None);
        assert_eq!(differs_at(source, 4, b"eabcdeabcdeX"), Some(11));
    }
}
