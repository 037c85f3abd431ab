//! The driver: one mio `Poll` for the whole run. It waits on every
//! connection's socket, on the waker that input threads use and on
//! SIGINT/SIGTERM, and turns each connection when something may be ready
//! for it; the deadlines of all of them are merged into one wait.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;

use super::{Ended, Session, Step};
use crate::error::{fail, Failure, Stage};
use crate::input::InputQueue;

/// Input threads wake the poll with this token.
pub const WAKER: Token = Token(0);
/// SIGINT and SIGTERM.
pub const SIGNALS: Token = Token(1);
/// The listening socket, when there is one.
pub const LISTENER: Token = Token(2);
/// Connections get tokens from here on.
pub const FIRST_CONN: usize = 16;

/// The poll the run waits on, and the waker input threads use.
pub fn readiness() -> io::Result<(Poll, Arc<Waker>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    Ok((poll, waker))
}

/// SIGINT and SIGTERM, watched by the poll: the first closes cleanly
/// (Close 1001, going away), a second quits at once.
pub fn watch_signals(poll: &Poll) -> Result<Signals, Failure> {
    let io = |e: io::Error| fail(Stage::Io, format!("cannot watch signals: {e}"));
    let mut signals = Signals::new([libc::SIGINT, libc::SIGTERM]).map_err(io)?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(io)?;
    Ok(signals)
}

/// Waits until something is ready or `deadline` passes; a signal that
/// interrupts the wait is not an error.
pub fn wait(
    poll: &mut Poll,
    events: &mut Events,
    deadline: Option<Instant>,
) -> Result<(), Failure> {
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    match poll.poll(events, timeout) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(e) => Err(fail(
            Stage::Io,
            format!("waiting on the socket failed: {e}"),
        )),
    }
}

/// Runs one connection to its end, alone on this thread (client mode, and
/// --listen --once).
pub fn run_one(
    poll: &mut Poll,
    signals: &mut Signals,
    mut session: Session,
) -> Result<(Ended, InputQueue), Failure> {
    let token = Token(FIRST_CONN);
    session.register(poll.registry(), token)?;
    let mut events = Events::with_capacity(8);
    loop {
        for signal in signals.pending() {
            session.on_signal(signal);
        }
        let deadline = match session.turn() {
            Step::Again => Some(Instant::now()),
            Step::Wait(deadline) => deadline,
            Step::Done(outcome) => {
                session.deregister(poll.registry());
                return Ok(session.end(outcome, true));
            }
        };
        wait(poll, &mut events, deadline)?;
    }
}
