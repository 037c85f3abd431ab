//! --reconnect: open the connection again when it is lost, waiting a
//! delay that doubles after each attempt that fails to open, so that a
//! refused port is never hammered. The inputs (stdin, the prompt) live
//! across connections; the -x preamble goes out again on each.

use std::time::{Duration, Instant};

use super::dialer::open;
use super::launch::{self, Inputs};
use super::plan::Plan;
use crate::cli::Reconnect;
use crate::error::{fail, Exit, Failure, Stage};
use crate::handshake::client::Shaping;
use crate::net::target::Target;
use crate::observe::{Event, Initiator, Observers, Role};
use crate::wire::close_code;

/// The delays between attempts, and how many are left.
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    limit: Option<u64>,
    /// Attempts made after the first connection.
    pub attempts: u64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, reconnect: Reconnect) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
            limit: match reconnect {
                Reconnect::Times(n) => Some(n),
                Reconnect::Always => None,
            },
            attempts: 0,
        }
    }

    /// The wait before the next attempt, or None when none is left.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self.limit.is_some_and(|limit| self.attempts >= limit) {
            return None;
        }
        self.attempts += 1;
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        Some(delay)
    }

    /// A connection opened: the next loss waits the shortest delay again.
    pub fn opened(&mut self) {
        self.next = self.initial;
    }

    pub fn attempts_left(&self) -> bool {
        self.limit.is_none_or(|limit| self.attempts < limit)
    }

    pub fn limit(&self) -> Option<u64> {
        self.limit
    }
}

/// Connect mode with --reconnect; ends with the last connection's result.
pub fn run(
    plan: &Plan,
    obs: &mut Observers,
    target: Target,
    shaping: &Shaping,
    reconnect: Reconnect,
) -> Result<Exit, Failure> {
    let cli = plan.cli;
    let mut backoff = Backoff::new(
        Duration::from_secs_f64(cli.reconnect_delay),
        Duration::from_secs_f64(cli.reconnect_max_delay),
        reconnect,
    );
    let mut signals = Signals::watch()?;
    let mut inputs: Option<Inputs> = None;
    // The last session kept its unsent input for a next connection.
    let mut input_kept = false;
    let mut attempt = 0;
    let last = loop {
        let keep = launch::keep(plan, obs);
        // Each attempt is a connection of its own, numbered from 1.
        attempt += 1;
        let conn = &mut obs.for_conn(attempt);
        let (result, cause) = match open(
            &plan.dialer,
            conn,
            target.clone(),
            shaping,
            keep,
            plan.deadline,
        ) {
            Ok(opened) => {
                backoff.opened();
                let ready = opened.ready();
                let inputs = match &mut inputs {
                    Some(inputs) => inputs,
                    None => inputs.insert(Inputs::start(plan, obs, Role::Client, &ready.summary)?),
                };
                inputs.reconnects = backoff.attempts_left();
                let ended = launch::session(plan, conn, ready, inputs)?;
                input_kept = inputs.reconnects && ended.lost();
                let cause = ended
                    .lost()
                    .then(|| match (&ended.result, ended.peer_close) {
                        (_, Some((code, Initiator::Remote))) => format!(
                            "the server closed with {}",
                            code.map_or_else(|| "no code".to_string(), close_code::describe)
                        ),
                        (Err(failure), _) => failure.message.clone(),
                        _ => "the connection was lost".to_string(),
                    });
                (ended.result, cause)
            }
            // Refused, unreachable or answered 502/503/504: the server
            // may be restarting.
            Err(failure)
                if matches!(failure.stage, Stage::Connect | Stage::Io) || failure.passing =>
            {
                let cause = failure.message.clone();
                (Err(failure), Some(cause))
            }
            Err(failure) => (Err(failure), None),
        };
        let Some(cause) = cause else { break result };
        // Ctrl-C while the connection was being opened or lost.
        if signals.came() {
            break result;
        }
        let Some(delay) = backoff.next_delay() else {
            break result;
        };
        if plan
            .deadline
            .is_some_and(|end| Instant::now() + delay >= end)
        {
            break result;
        }
        obs.event(&Event::Reconnect {
            attempt: backoff.attempts,
            limit: backoff.limit(),
            delay,
            cause: &cause,
        });
        obs.flush();
        if !signals.pause(delay)? {
            break result;
        }
    };
    if let Some(mut inputs) = inputs {
        if input_kept {
            inputs.report_unsent(obs);
        }
        inputs.finish(obs);
    }
    last
}

/// SIGINT and SIGTERM, watched for the whole run: a signal that comes
/// while a connection opens is kept until it is asked about (signal-hook
/// does not put the default action back between sessions).
struct Signals {
    poll: mio::Poll,
    signals: signal_hook_mio::v1_0::Signals,
    came: bool,
}

impl Signals {
    fn watch() -> Result<Signals, Failure> {
        let io = |e: std::io::Error| fail(Stage::Io, format!("cannot watch signals: {e}"));
        let poll = mio::Poll::new().map_err(io)?;
        let mut signals =
            signal_hook_mio::v1_0::Signals::new([libc::SIGINT, libc::SIGTERM]).map_err(io)?;
        poll.registry()
            .register(&mut signals, mio::Token(0), mio::Interest::READABLE)
            .map_err(io)?;
        Ok(Signals {
            poll,
            signals,
            came: false,
        })
    }

    /// Whether a signal came since the run started.
    fn came(&mut self) -> bool {
        self.came |= self.signals.pending().next().is_some();
        self.came
    }

    /// Waits `delay`; false when a signal came first (the user stopped it).
    fn pause(&mut self, delay: Duration) -> Result<bool, Failure> {
        let end = Instant::now() + delay;
        let mut events = mio::Events::with_capacity(2);
        loop {
            if self.came() {
                return Ok(false);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(true);
            }
            match self.poll.poll(&mut events, Some(left)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(Stage::Io, format!("cannot wait to reconnect: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_and_reset_once_a_connection_opens() {
        let s = Duration::from_secs;
        let mut b = Backoff::new(s(1), s(5), Reconnect::Times(5));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().unwrap()).collect();
        assert_eq!(delays, [s(1), s(2), s(4), s(5)]);
        b.opened();
        assert_eq!(b.next_delay(), Some(s(1)));
        assert!(!b.attempts_left());
        assert_eq!(b.next_delay(), None);
    }

    #[test]
    fn always_never_runs_out() {
        let mut b = Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(1),
            Reconnect::Always,
        );
        assert!((0..1000).all(|_| b.next_delay().is_some()));
        assert!(b.attempts_left());
    }
}
