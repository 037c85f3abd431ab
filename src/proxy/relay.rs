//! One proxied connection: the client's socket and the server's, and a
//! pipe each way. Bytes are read as they come, cut at frame boundaries
//! (faults decide each frame's fate), queued with the delay faults give
//! them and written as the other side takes them. Each leg's frames and
//! messages are shown as they crossed it. Everything is nonblocking and
//! bounded: a pipe stops reading while its queue is full, so a peer that
//! reads nothing holds at most `HIGH_WATER` bytes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::cutter::Cutter;
use super::faults::{After, Fault, FaultKind, Faults, Way};
use super::open::Opened;
use super::watch::Watch;
use crate::net::connect::Transport;
use crate::observe::{Dir, Event, Observers, Role};
use crate::wire::raw::encode_frame;
use crate::wire::tap::Chunk;

/// A pipe stops reading while this much waits to be written.
pub const HIGH_WATER: usize = 1 << 20;

/// Reads per side per turn, so that one busy connection cannot starve
/// the others.
const READS_PER_TURN: usize = 16;

const READ_SIZE: usize = 64 * 1024;

/// After a Close the proxy sent (a fault, --strict), how long the peers
/// have to answer before their sockets are closed.
const CLOSING_WAIT: Duration = Duration::from_secs(2);

/// What the relay settings are, for every connection.
pub struct Settings {
    pub faults: Vec<Fault>,
    pub seed: u64,
    pub strict: bool,
    pub preview: usize,
    /// Frames and messages are decoded for someone.
    pub watching: bool,
    /// Raw chunks are recorded (--pcap).
    pub chunks: bool,
}

struct Side {
    io: Transport,
    /// Reading may find more (edge-triggered readiness).
    readable: bool,
    writable: bool,
    /// It sent EOF (or failed).
    eof: bool,
    /// Our write side is shut.
    shut: bool,
}

struct Pipe {
    cutter: Cutter,
    faults: Faults,
    /// The leg the bytes come in on, and the leg they go out on.
    watch_in: Option<Watch>,
    watch_out: Option<Watch>,
    obs_in: Observers,
    obs_out: Observers,
    queue: VecDeque<(Instant, Vec<u8>)>,
    queued: usize,
    /// Written so far of the queue's front.
    front_done: usize,
    last_release: Instant,
    holds: Vec<(Instant, Instant)>,
    rate: Option<u64>,
    /// Throttled: nothing is written before then.
    next_write: Instant,
    /// Frames the proxy adds once the stream is at a frame boundary.
    inject: VecDeque<Vec<u8>>,
    /// Nothing more from the source goes on (after a Close the proxy sent).
    cut_off: bool,
}

pub struct Relay {
    pub conn: u32,
    client: Side,
    server: Side,
    up: Pipe,
    down: Pipe,
    obs: Observers,
    started: Instant,
    blind: bool,
    strict: bool,
    chunks: bool,
    /// Timed closes and resets still to come: (when, way, fault).
    timed: Vec<(Instant, Way, Fault)>,
    /// Counted ones: (way, messages, fault).
    counted: Vec<(Way, u64, Fault)>,
    /// The proxy sent Close frames itself; by then the sockets go.
    closing: Option<Instant>,
    pub done: bool,
    /// Reads land here, one buffer for the connection's life.
    read_buf: Vec<u8>,
}

pub fn tokens(index: usize) -> (Token, Token) {
    (Token(index * 2), Token(index * 2 + 1))
}

impl Relay {
    pub fn new(conn: u32, opened: Opened, obs: &Observers, settings: &Settings) -> Relay {
        let now = Instant::now();
        let on_client = obs.for_leg(conn, Role::Client);
        let on_server = obs.for_leg(conn, Role::Server);
        let deflate = opened.negotiated.deflate;
        let watch = |o: &Observers, dir, leg| {
            (settings.watching && !opened.blind)
                .then(|| Watch::new(o.clone(), dir, leg, settings.preview, deflate))
        };
        let pipe = |way: Way, obs_in: &Observers, obs_out: &Observers, leg_in: Role| {
            let faults = Faults::new(
                way,
                &settings.faults,
                settings.seed.wrapping_add(u64::from(conn)),
                now,
            );
            let holds = faults
                .holds()
                .into_iter()
                .map(|(a, b)| (now + a, now + b))
                .collect();
            let rate = faults.rate();
            Pipe {
                cutter: Cutter::default(),
                watch_in: watch(obs_in, Dir::In, leg_in),
                watch_out: watch(obs_out, Dir::Out, leg_in.other()),
                obs_in: obs_in.clone(),
                obs_out: obs_out.clone(),
                faults,
                queue: VecDeque::new(),
                queued: 0,
                front_done: 0,
                last_release: now,
                holds,
                rate,
                next_write: now,
                inject: VecDeque::new(),
                cut_off: false,
            }
        };
        let up = pipe(Way::Up, &on_client, &on_server, Role::Client);
        let down = pipe(Way::Down, &on_server, &on_client, Role::Server);
        let mut timed = Vec::new();
        let mut counted = Vec::new();
        for way in [Way::Up, Way::Down] {
            let faults = if way == Way::Up {
                &up.faults
            } else {
                &down.faults
            };
            for f in faults.endings() {
                let after = match f.kind {
                    FaultKind::Close { after, .. } | FaultKind::Reset { after } => after,
                    _ => continue,
                };
                match after {
                    After::Time(d) => timed.push((now + d, way, f.clone())),
                    After::Messages(n) => counted.push((way, n, f.clone())),
                }
            }
        }
        let _ = opened.client.set_nonblocking(true);
        let _ = opened.server.set_nonblocking(true);
        let mut relay = Relay {
            conn,
            client: Side {
                io: opened.client,
                readable: true,
                writable: true,
                eof: false,
                shut: false,
            },
            server: Side {
                io: opened.server,
                readable: true,
                writable: true,
                eof: false,
                shut: false,
            },
            up,
            down,
            obs: obs.for_conn(conn),
            started: now,
            blind: opened.blind,
            strict: settings.strict,
            chunks: settings.chunks,
            timed,
            counted,
            closing: None,
            done: false,
            read_buf: vec![0u8; READ_SIZE],
        };
        // The first frames may have come with the heads.
        if !opened.from_client.is_empty() {
            relay.take_in(Way::Up, &opened.from_client, now);
        }
        if !opened.from_server.is_empty() {
            relay.take_in(Way::Down, &opened.from_server, now);
        }
        relay
    }

    pub fn register(&self, registry: &Registry, index: usize) -> io::Result<()> {
        let (c, s) = tokens(index);
        let both = Interest::READABLE | Interest::WRITABLE;
        registry.register(&mut SourceFd(&self.client.io.as_raw_fd()), c, both)?;
        registry.register(&mut SourceFd(&self.server.io.as_raw_fd()), s, both)
    }

    pub fn deregister(&self, registry: &Registry) {
        let _ = registry.deregister(&mut SourceFd(&self.client.io.as_raw_fd()));
        let _ = registry.deregister(&mut SourceFd(&self.server.io.as_raw_fd()));
    }

    /// Readiness came for one side.
    pub fn ready(&mut self, server_side: bool, readable: bool, writable: bool) {
        let side = if server_side {
            &mut self.server
        } else {
            &mut self.client
        };
        side.readable |= readable;
        side.writable |= writable;
    }

    /// Does what can be done now; returns when it wants to be called again
    /// (`Some(now)` for "at once": it stopped with more to read).
    pub fn turn(&mut self, now: Instant) -> Option<Instant> {
        self.fire_timers(now);
        let mut again = false;
        for way in [Way::Up, Way::Down] {
            again |= self.read_side(way);
        }
        for way in [Way::Up, Way::Down] {
            self.write_side(way, Instant::now());
        }
        self.finish_if_over();
        if self.done {
            return None;
        }
        if again {
            return Some(now);
        }
        self.next_wake()
    }

    fn pipe(&mut self, way: Way) -> &mut Pipe {
        match way {
            Way::Up => &mut self.up,
            Way::Down => &mut self.down,
        }
    }

    /// Reads what the source of `way` has, as far as its queue allows.
    /// Returns whether it stopped with more perhaps waiting.
    fn read_side(&mut self, way: Way) -> bool {
        // Taken out while the bytes it holds are handed on.
        let mut buf = std::mem::take(&mut self.read_buf);
        let more = self.read_into(way, &mut buf);
        self.read_buf = buf;
        more
    }

    fn read_into(&mut self, way: Way, buf: &mut [u8]) -> bool {
        for _ in 0..READS_PER_TURN {
            let (source, queued) = match way {
                Way::Up => (&mut self.client, self.up.queued),
                Way::Down => (&mut self.server, self.down.queued),
            };
            if source.eof || !source.readable || queued >= HIGH_WATER {
                return false;
            }
            match source.io.read(buf) {
                Ok(0) => {
                    source.eof = true;
                    return false;
                }
                Ok(n) => self.take_in(way, &buf[..n], Instant::now()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    source.readable = false;
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    source.eof = true;
                    let who = if way == Way::Up { "client" } else { "server" };
                    self.obs.event(&Event::Notice(&format!(
                        "the {who}'s connection failed: {e}"
                    )));
                    return false;
                }
            }
        }
        true
    }

    /// Bytes from the source of `way`: shown, cut, queued.
    fn take_in(&mut self, way: Way, bytes: &[u8], at: Instant) {
        let chunks = self.chunks;
        let blind = self.blind;
        let strict = self.strict;
        let pipe = self.pipe(way);
        if chunks {
            pipe.obs_in.event(&Event::Wire(&Chunk {
                dir: Dir::In,
                at,
                bytes: bytes.to_vec(),
            }));
        }
        let mut violations = Vec::new();
        if let Some(w) = pipe.watch_in.as_mut() {
            w.feed(bytes, at);
            violations.append(&mut w.violations);
        }
        let mut out = Vec::with_capacity(bytes.len());
        if blind {
            out.extend_from_slice(bytes);
        } else if !pipe.cut_off {
            pipe.cutter.feed(bytes, &mut pipe.faults, at, &mut out);
        }
        let applied: Vec<_> = pipe.faults.applied.drain(..).collect();
        for a in &applied {
            pipe.obs_in.event(&Event::Fault {
                kind: a.kind,
                way: a.way.name(),
                detail: &a.detail,
            });
        }
        if pipe.cutter.overflowed > 0 {
            pipe.cutter.overflowed = 0;
            pipe.obs_in.event(&Event::Notice(&format!(
                "a message over {} MiB was passed on without being matched",
                super::cutter::MAX_HELD >> 20
            )));
        }
        if strict && !violations.is_empty() {
            // The frame that broke the rule goes no further.
            out.clear();
        }
        self.queue(way, out, at);
        for v in violations {
            if strict {
                self.obs.event(&Event::Notice(&format!(
                    "--strict: {v}; failing the connection (1002)"
                )));
                self.close_both(1002, "protocol error", at);
            } else {
                let pipe = self.pipe(way);
                pipe.obs_in
                    .event(&Event::Notice(&format!("violation, passed on: {v}")));
            }
        }
        let messages = self.pipe(way).faults.messages;
        let due: Vec<Fault> = self
            .counted
            .iter()
            .filter(|(w, n, _)| *w == way && messages >= *n)
            .map(|(_, _, f)| f.clone())
            .collect();
        self.counted
            .retain(|(w, n, _)| !(*w == way && messages >= *n));
        for f in due {
            self.end_by_fault(way, &f, at);
        }
    }

    /// Queues bytes to go out with the pipe's delay, then any frames the
    /// proxy adds once the stream is at a boundary.
    fn queue(&mut self, way: Way, out: Vec<u8>, at: Instant) {
        let pipe = self.pipe(way);
        if !out.is_empty() {
            let release = if pipe.faults.delays() {
                let d = pipe.faults.delay();
                let r = (at + d).max(pipe.last_release);
                pipe.obs_in.event(&Event::Fault {
                    kind: "delay",
                    way: way.name(),
                    detail: &format!(
                        "{} bytes held {:.0} ms",
                        out.len(),
                        (r - at).as_secs_f64() * 1000.0
                    ),
                });
                r
            } else {
                at
            };
            pipe.last_release = release;
            pipe.queued += out.len();
            pipe.queue.push_back((release, out));
        }
        while !pipe.inject.is_empty() && !pipe.cutter.mid_message() {
            let frame = pipe.inject.pop_front().unwrap_or_default();
            let release = pipe.last_release.max(at);
            pipe.queued += frame.len();
            pipe.queue.push_back((release, frame));
        }
    }

    /// Writes what is due on the destination of `way`.
    fn write_side(&mut self, way: Way, now: Instant) {
        let chunks = self.chunks;
        let (pipe, dest) = match way {
            Way::Up => (&mut self.up, &mut self.server),
            Way::Down => (&mut self.down, &mut self.client),
        };
        loop {
            if dest.shut || !dest.writable {
                return;
            }
            let Some((release, bytes)) = pipe.queue.front() else {
                break;
            };
            if *release > now
                || pipe.next_write > now
                || pipe.holds.iter().any(|(a, b)| *a <= now && now < *b)
            {
                return;
            }
            let mut piece = &bytes[pipe.front_done..];
            if let Some(rate) = pipe.rate {
                let most = (rate / 20).max(1) as usize;
                piece = &piece[..piece.len().min(most)];
            }
            match dest.io.write(piece) {
                Ok(0) => {
                    dest.shut = true;
                    return;
                }
                Ok(n) => {
                    let written = &piece[..n];
                    if let Some(w) = pipe.watch_out.as_mut() {
                        w.feed(written, now);
                    }
                    if chunks {
                        pipe.obs_out.event(&Event::Wire(&Chunk {
                            dir: Dir::Out,
                            at: now,
                            bytes: written.to_vec(),
                        }));
                    }
                    if let Some(rate) = pipe.rate {
                        pipe.next_write = now + Duration::from_secs_f64(n as f64 / rate as f64);
                    }
                    pipe.front_done += n;
                    pipe.queued -= n;
                    if pipe.front_done == bytes.len() {
                        pipe.queue.pop_front();
                        pipe.front_done = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    dest.writable = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // The destination is gone: what waits for it is lost.
                    dest.shut = true;
                    dest.eof = true;
                    pipe.queue.clear();
                    pipe.queued = 0;
                    return;
                }
            }
        }
        let _ = dest.io.flush();
        // The source ended and everything went out: pass the end on.
        let source_eof = match way {
            Way::Up => self.client.eof,
            Way::Down => self.server.eof,
        };
        let (pipe, dest) = match way {
            Way::Up => (&self.up, &mut self.server),
            Way::Down => (&self.down, &mut self.client),
        };
        if source_eof && pipe.queue.is_empty() && !dest.shut {
            dest.shut = true;
            if let Transport::Tls(t) = &mut dest.io {
                t.close_notify();
            }
            let _ = dest.io.socket().shutdown(Shutdown::Write);
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        let due: Vec<(Way, Fault)> = self
            .timed
            .iter()
            .filter(|(at, ..)| *at <= now)
            .map(|(_, w, f)| (*w, f.clone()))
            .collect();
        self.timed.retain(|(at, ..)| *at > now);
        for (way, f) in due {
            self.end_by_fault(way, &f, now);
        }
        if self.closing.is_some_and(|at| at <= now) {
            self.drop_both();
        }
    }

    /// A close or reset fault is due.
    fn end_by_fault(&mut self, way: Way, f: &Fault, now: Instant) {
        if self.done {
            return;
        }
        match &f.kind {
            FaultKind::Close { code, reason, .. } => {
                let target = if way == Way::Down { "client" } else { "server" };
                self.pipe(way).obs_in.event(&Event::Fault {
                    kind: "close",
                    way: way.name(),
                    detail: &format!("Close {code} sent to the {target} (and to the other side)"),
                });
                self.close_both(*code, reason, now);
            }
            FaultKind::Reset { .. } => {
                let target = if way == Way::Down { "client" } else { "server" };
                self.pipe(way).obs_in.event(&Event::Fault {
                    kind: "reset",
                    way: way.name(),
                    detail: &format!("the {target}'s TCP connection reset; the other one closed"),
                });
                let side = if way == Way::Down {
                    &self.client
                } else {
                    &self.server
                };
                let _ = side.io.socket().reset_on_close();
                self.drop_both();
            }
            _ => {}
        }
    }

    /// The proxy ends the connection itself: a Close to each side, as
    /// the other would send it, then nothing more from either.
    fn close_both(&mut self, code: u16, reason: &str, now: Instant) {
        if self.closing.is_some() {
            return;
        }
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        let to_client = encode_frame([true, false, false, false], 8, None, &payload);
        let key = crate::wire::raw::random_key();
        let to_server = encode_frame([true, false, false, false], 8, Some(key), &payload);
        self.down.inject.push_back(to_client);
        self.up.inject.push_back(to_server);
        self.up.cut_off = true;
        self.down.cut_off = true;
        // Frames cut off mid-way leave no boundary to wait for.
        self.up.cutter = Cutter::default();
        self.down.cutter = Cutter::default();
        self.queue(Way::Up, Vec::new(), now);
        self.queue(Way::Down, Vec::new(), now);
        self.closing = Some(now + CLOSING_WAIT);
    }

    fn drop_both(&mut self) {
        let _ = self.client.io.socket().shutdown(Shutdown::Both);
        let _ = self.server.io.socket().shutdown(Shutdown::Both);
        self.client.eof = true;
        self.server.eof = true;
        self.client.shut = true;
        self.server.shut = true;
        self.up.queue.clear();
        self.down.queue.clear();
        self.done = true;
    }

    fn finish_if_over(&mut self) {
        if self.done {
            return;
        }
        // Both ends have ended and all was passed on.
        let over = self.client.eof
            && self.server.eof
            && self.up.queue.is_empty()
            && self.down.queue.is_empty();
        // After the proxy's own Close: both answered (or gave up).
        let answered = self.closing.is_some()
            && [&self.up, &self.down].iter().all(|p| {
                p.queue.is_empty() && p.watch_in.as_ref().is_none_or(|w| w.close.is_some())
            });
        if over || answered {
            self.drop_both();
        }
    }

    /// When something waiting becomes due: the front of a queue whose
    /// destination can take it (one that cannot is woken by readiness, not
    /// by the clock), and the fault timers.
    fn next_wake(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for (pipe, dest) in [(&self.up, &self.server), (&self.down, &self.client)] {
            let Some((release, _)) = pipe.queue.front() else {
                continue;
            };
            if !dest.writable || dest.shut {
                continue;
            }
            let mut due = (*release).max(pipe.next_write);
            for (from, until) in &pipe.holds {
                if *from <= due && due < *until {
                    due = *until;
                }
            }
            consider(due);
        }
        for (at, ..) in &self.timed {
            consider(*at);
        }
        if let Some(at) = self.closing {
            consider(at);
        }
        next
    }

    /// How the connection ended, for the view.
    pub fn summary(&self) -> String {
        let close = |p: &Pipe| match p.watch_in.as_ref().and_then(|w| w.close) {
            Some(Some(code)) => format!("Close {code}"),
            Some(None) => "Close (no code)".to_string(),
            None => "no Close".to_string(),
        };
        if self.blind {
            return format!(
                "tunnel closed after {:.1} s",
                self.started.elapsed().as_secs_f64()
            );
        }
        if self.up.watch_in.is_none() {
            return format!(
                "connection ended after {:.1} s",
                self.started.elapsed().as_secs_f64()
            );
        }
        format!(
            "connection ended after {:.1} s: the client sent {}, the server {}",
            self.started.elapsed().as_secs_f64(),
            close(&self.up),
            close(&self.down)
        )
    }

    /// Frames the user typed at the prompt, to go one way.
    pub fn inject(&mut self, way: Way, frame: Vec<u8>, now: Instant) {
        self.pipe(way).inject.push_back(frame);
        self.queue(way, Vec::new(), now);
    }
}
