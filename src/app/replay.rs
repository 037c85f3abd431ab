//! `--replay`: a recorded session played again. As a client, its
//! messages and control frames go out in order, each when the server has
//! answered as much as it had on the recording (or on the recording's
//! clock, or at once), and what comes back is compared with the recording
//! at the end. With --listen, the recorded server's messages answer a
//! client the same way. The script is fed to the session as input from a
//! thread of its own, so the session loop stays the one that sends.

use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use mio::Waker;

use super::plan::Plan;
use crate::cli::Timing;
use crate::error::{fail, Exit, Failure, Stage};
use crate::formats::compare::Comparison;
use crate::formats::{Msg, Planned, Step};
use crate::input::command::Command;
use crate::input::{Input, InputQueue};
use crate::observe::{Dir, Event, Flow, Interest, Observer, Observers, Role};

/// What the session has heard so far, shared with the feeding thread.
struct Progress {
    state: Mutex<Heard>,
    changed: Condvar,
}

#[derive(Default)]
struct Heard {
    messages: u64,
    /// The session is over or closing: nothing more will come.
    ended: bool,
    /// The peer's close code, once the close handshake finished.
    close: Option<Option<u16>>,
    comparison: Option<Comparison>,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, Heard> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `done` holds, the session ends, or `limit` passes;
    /// false when the limit passed.
    fn wait(&self, limit: Duration, done: impl Fn(&Heard) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut heard = self.lock();
        while !done(&heard) && !heard.ended {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            heard = match self.changed.wait_timeout(heard, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

/// The observer that counts (and compares) what arrives.
/// Hears one connection's messages for the replay; other connections'
/// events (a listener's other clients) are not its business.
struct Listener {
    progress: Arc<Progress>,
    conn: Option<u32>,
    current: Option<u32>,
}

impl Observer for Listener {
    fn event(&mut self, event: &Event) -> Flow {
        // Without a connection of its own (a run of several, one after
        // another) it hears them all.
        if self.conn.is_some() && self.current != self.conn {
            return Flow::Go;
        }
        let mut heard = self.progress.lock();
        let flow = match event {
            Event::Message {
                dir: Dir::In,
                binary,
                data,
                ..
            } => {
                heard.messages += 1;
                if let Some(comparison) = &mut heard.comparison {
                    comparison.received(&Msg {
                        binary: *binary,
                        data: data.to_vec(),
                    });
                }
                Flow::Go
            }
            Event::Close { code, .. } => {
                heard.close = Some(*code);
                heard.ended = true;
                Flow::Go
            }
            Event::Error(_) => {
                heard.ended = true;
                Flow::Go
            }
            // Its connection is over: it has nothing more to hear.
            Event::Gone if self.conn.is_some() => {
                heard.ended = true;
                Flow::Done
            }
            _ => return Flow::Go,
        };
        drop(heard);
        self.progress.changed.notify_all();
        flow
    }

    fn set_conn(&mut self, conn: Option<u32>) {
        self.current = conn;
    }

    fn flush(&mut self) -> Flow {
        Flow::Go
    }

    fn interest(&self) -> Interest {
        Interest::default()
    }
}

/// A replay under way.
pub struct Replaying {
    progress: Arc<Progress>,
    /// How the recording's server closed (compared as a client).
    recorded_close: Option<Option<u16>>,
}

/// Starts feeding the recording's steps for `role` into `input`, when
/// --replay was given; a replay that cannot start is an error, never a
/// plain session in its place.
pub fn start(
    plan: &Plan,
    role: Role,
    input: &mut InputQueue,
    waker: Arc<Waker>,
    obs: &mut Observers,
) -> Result<Option<Replaying>, Failure> {
    let Some((recording, masks)) = plan.replay.as_ref() else {
        return Ok(None);
    };
    let ours = role;
    let theirs = ours.other();
    let progress = Arc::new(Progress {
        state: Mutex::new(Heard {
            comparison: (role == Role::Client)
                .then(|| Comparison::new(recording.messages(theirs), masks.clone())),
            ..Heard::default()
        }),
        changed: Condvar::new(),
    });
    obs.add(Box::new(Listener {
        progress: progress.clone(),
        conn: obs.conn(),
        current: obs.conn(),
    }));
    let feed = Feed {
        steps: recording.steps(ours),
        total: recording.messages(theirs).len() as u64,
        await_their_close: recording.closed_by(theirs),
        timing: plan.cli.timing,
        limit: Duration::from_secs_f64(plan.cli.replay_timeout),
    };
    let tx = input.channel();
    let shared = progress.clone();
    thread::Builder::new()
        .name("replay".into())
        .spawn(move || feed.run(&shared, tx, &waker))
        .map_err(|e| fail(Stage::Io, format!("cannot start the replay: {e}")))?;
    Ok(Some(Replaying {
        progress,
        recorded_close: recording.server_close,
    }))
}

struct Feed {
    steps: Vec<Planned>,
    /// How many messages the other side sent on the recording.
    total: u64,
    /// The other side started the close handshake on the recording.
    await_their_close: bool,
    timing: Timing,
    limit: Duration,
}

impl Feed {
    fn run(mut self, progress: &Progress, tx: SyncSender<Input>, waker: &Waker) {
        let started = Instant::now();
        for planned in std::mem::take(&mut self.steps) {
            // The Close waits for its answers whatever the timing: closing
            // early would only make every later message missing.
            let closing = matches!(planned.step, Step::Close { .. });
            match self.timing {
                _ if closing || self.timing == Timing::Paced => {
                    // Once a wait has run out the peer is not answering as
                    // recorded: later steps go without waiting, so a silent
                    // server costs one limit, not one per step.
                    if !progress.wait(self.limit, |h| h.messages >= planned.after) {
                        self.limit = Duration::ZERO;
                    }
                }
                Timing::Original => {
                    let due = started + Duration::from_secs_f64(planned.at);
                    thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                Timing::None | Timing::Paced => {}
            }
            if progress.lock().ended {
                return;
            }
            let command = match planned.step {
                Step::Message(Msg {
                    binary: false,
                    data,
                }) => Command::Text(String::from_utf8_lossy(&data).into_owned()),
                Step::Message(Msg { binary: true, data }) => Command::Binary(data),
                Step::Ping(payload) => Command::Ping(payload),
                Step::Close { code, reason } => Command::Close { code, reason },
            };
            if tx.send(Input::Command(command)).is_err() {
                return;
            }
            let _ = waker.wake();
        }
        // The script is done; input ends (and the session may close) once
        // the rest of what the recording got has come.
        if self.timing != Timing::None {
            let (total, close) = (self.total, self.await_their_close);
            let _ = progress.wait(self.limit, |h| {
                h.messages >= total && (!close || h.close.is_some())
            });
        }
        drop(tx);
        let _ = waker.wake();
    }
}

impl Replaying {
    /// As a client: the differences from the recording, and exit 5 when
    /// there are any and the session itself ended well.
    pub fn finish(
        self,
        obs: &mut Observers,
        outcome: Result<Exit, Failure>,
    ) -> Result<Exit, Failure> {
        let (comparison, close) = {
            let mut heard = self.progress.lock();
            (heard.comparison.take(), heard.close)
        };
        let Some(comparison) = comparison else {
            return outcome;
        };
        let report = comparison.finish((self.recorded_close, close));
        for difference in &report.differences {
            obs.event(&Event::Notice(&format!("replay: {difference}")));
        }
        if report.undescribed > 0 {
            obs.event(&Event::Notice(&format!(
                "replay: and {} more differences",
                report.undescribed
            )));
        }
        obs.event(&Event::Notice(&report.summary()));
        match outcome {
            Ok(Exit::Normal | Exit::PeerClosedAbnormally) if !report.matches() => {
                Ok(Exit::ReplayDiffers)
            }
            // The server closed with the code it closed with on the
            // recording: expected. Without a recorded Close there was
            // nothing to compare, and 4 stays 4.
            Ok(Exit::PeerClosedAbnormally) if self.recorded_close.is_some() => Ok(Exit::Normal),
            other => other,
        }
    }
}
