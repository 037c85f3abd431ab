//! A listener's clients, served at once by one driver: each accepted
//! client becomes a session of its own with its own number, the shared
//! input (the prompt or stdin) goes to the client `/to` chose, and the
//! listener keeps serving until a signal, --max-time or, with --once, the
//! first client's end.

use std::time::{Duration, Instant};

use mio::{Events, Token};

use super::accept::{Acceptor, Arrival, Served};
use super::launch::{self, Inputs, Ready};
use super::plan::Plan;
use super::replay::{self, Replaying};
use crate::error::{fail, Exit, Failure, Stage};
use crate::input::command::{Command, Target};
use crate::input::{Input, InputQueue, Next};
use crate::observe::{Event, Initiator, Observers, Role};
use crate::session::driver::{self, FIRST_CONN};
use crate::session::{Session, Step};

/// How long the listener must stay without clients before it says again
/// that it is waiting: clients that come and go quickly get one notice.
const WAITING_AGAIN: Duration = Duration::from_millis(500);

/// A client that has read nothing of ours for this long is skipped by
/// input that goes to every client.
const STUCK: Duration = Duration::from_secs(2);

struct Client {
    conn: u32,
    session: Session,
    obs: Observers,
    peer: String,
    path: String,
    since: Instant,
    replaying: Option<Replaying>,
    /// It is being skipped by input to every client (it reads nothing).
    skipping: bool,
}

struct Clients<'p, 'c> {
    plan: &'p Plan<'c>,
    obs: Observers,
    acceptor: Acceptor,
    local: String,
    clients: Vec<Client>,
    /// The last number given; a client's number is never reused.
    last_conn: u32,
    target: Target,
    /// Shared input taken but not yet handed to its clients (they were
    /// full, or none was connected yet).
    held: Option<Command>,
    /// The shared input has ended: later clients get none.
    input_ended: bool,
    /// A signal came: no more clients, and the run ends once every
    /// connection has.
    stopping: bool,
    /// When to say again that the listener waits, while it has no client.
    waiting_due: Option<Instant>,
    waiting: String,
    /// With --once: how the one client's session ended.
    once: Option<Result<Exit, Failure>>,
}

/// Serves clients as `acceptor` hands them over, until the run ends.
pub fn serve(
    plan: &Plan,
    obs: &mut Observers,
    inputs: &mut Inputs,
    acceptor: Acceptor,
    waiting: String,
    local: &str,
) -> Result<Exit, Failure> {
    let mut clients = Clients {
        plan,
        obs: obs.clone(),
        acceptor,
        local: local.to_string(),
        clients: Vec::new(),
        last_conn: 0,
        target: Target::Newest,
        held: None,
        input_ended: false,
        stopping: false,
        waiting_due: Some(Instant::now()),
        waiting,
        once: None,
    };
    clients.run(inputs)
}

impl Clients<'_, '_> {
    fn run(&mut self, inputs: &mut Inputs) -> Result<Exit, Failure> {
        let mut events = Events::with_capacity(64);
        let prompt = self.plan.prompt;
        loop {
            for signal in inputs.signals.pending() {
                self.on_signal(signal);
            }
            self.say_waiting();
            while let Ok(arrival) = self.acceptor.rx.try_recv() {
                match arrival {
                    Arrival::Notice(text) => self.obs.event(&Event::Notice(&text)),
                    Arrival::Client(served) => self.admit(*served, inputs),
                }
            }
            self.route(&mut inputs.queue, prompt);
            let mut next = self.waiting_due;
            let mut again = false;
            let mut i = 0;
            while i < self.clients.len() {
                match self.clients[i].session.turn() {
                    Step::Again => again = true,
                    Step::Wait(deadline) => next = earliest(next, deadline),
                    Step::Done(outcome) => {
                        let client = self.clients.remove(i);
                        self.put_away(client, outcome, inputs);
                        continue;
                    }
                }
                i += 1;
            }
            next = earliest(next, self.waiting_due);
            if let Some(once) = self.once.take() {
                return once;
            }
            if self.stopping && self.clients.is_empty() {
                return Ok(Exit::Normal);
            }
            if let Some(end) = self.plan.deadline {
                if Instant::now() >= end && self.clients.is_empty() {
                    // Each client's session closed at --max-time itself.
                    return match self.last_conn {
                        0 => Err(fail(Stage::Connect, "--max-time reached: no client came")),
                        _ => Ok(Exit::Normal),
                    };
                }
                next = earliest(next, Some(end));
            }
            self.obs.flush();
            let deadline = if again { Some(Instant::now()) } else { next };
            driver::wait(&mut inputs.poll, &mut events, deadline)?;
        }
    }

    /// The first signal closes every client (Close 1001) and stops
    /// accepting; a second quits at once.
    fn on_signal(&mut self, signal: i32) {
        let name = if signal == libc::SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        };
        self.stop(name, 1001);
    }

    /// Stops accepting and closes every client with `code`; asked again,
    /// quits at once.
    fn stop(&mut self, why: &str, code: u16) {
        if !self.stopping {
            self.stopping = true;
            self.acceptor.stop();
            let said = match self.clients.len() {
                0 => format!("{why}: stopped listening (no client was connected)"),
                1 => format!("{why}: stopped listening; closing the client's connection (Close {code}); asked again, wscope quits at once"),
                n => format!("{why}: stopped listening; closing {n} clients' connections (Close {code}); asked again, wscope quits at once"),
            };
            self.obs.event(&Event::Notice(&said));
        }
        for client in &mut self.clients {
            client.session.close_or_quit(code);
        }
    }

    fn say_waiting(&mut self) {
        if self.waiting_due.is_some_and(|due| Instant::now() >= due) {
            self.waiting_due = None;
            let later = if self.plan.prompt {
                "; the prompt takes lines once one connects"
            } else {
                ""
            };
            self.obs
                .event(&Event::Notice(&format!("{}{later}", self.waiting)));
        }
    }

    /// A client whose upgrade was answered becomes a session.
    fn admit(&mut self, served: Served, inputs: &Inputs) {
        if self.stopping || self.once.is_some() {
            self.acceptor.left();
            return;
        }
        self.last_conn += 1;
        let conn = self.last_conn;
        let mut obs = self.obs.for_conn(conn);
        let Served {
            mut tap,
            peer,
            accepted,
            facts,
            url,
        } = served;
        obs.event(&Event::Connect {
            url: &url,
            role: Role::Server,
            facts: &facts,
        });
        obs.event(&Event::Request {
            raw: &accepted.request,
        });
        obs.event(&Event::Response {
            response: &accepted.response,
            negotiated: &accepted.negotiated,
            upgrade_ms: None,
        });
        obs.wire_chunks(&mut tap);
        let cli = self.plan.cli;
        let chosen = accepted.negotiated.subprotocol.clone();
        if accepted.declined_deflate {
            obs.event(&Event::Notice(
                "the client offered permessage-deflate; declined (--deflate accepts it)",
            ));
        }
        if !cli.subprotocols.is_empty() && chosen.is_none() {
            // The client may well give up on this session; say why.
            let offered = match accepted.offered.as_slice() {
                [] => "none".to_string(),
                some => crate::escape::escape(&some.join(", ")),
            };
            obs.event(&Event::Notice(&format!(
                "no subprotocol chosen: the client offered {offered}; -s accepts {}",
                cli.subprotocols.join(", ")
            )));
        }
        let preamble = launch::preamble(cli);
        let mut input = if self.input_ended {
            InputQueue::new(preamble)
        } else {
            InputQueue::fed(preamble)
        };
        // A recording is played to each client on its own.
        let replaying = match replay::start(
            self.plan,
            Role::Server,
            &mut input,
            inputs.waker(),
            &mut obs,
        ) {
            Ok(replaying) => replaying,
            Err(failure) => {
                obs.event(&Event::Error(&failure));
                obs.event(&Event::Gone);
                self.acceptor.left();
                return;
            }
        };
        if self.plan.replay.is_some() {
            input.feed_ended();
        }
        let ready = Ready {
            tap,
            leftover: accepted.leftover,
            deflate: accepted.negotiated.deflate,
            rtt: None,
            role: Role::Server,
            summary: format!(
                "serving {} on {}; subprotocol: {}",
                crate::escape::escape(&peer),
                self.local,
                crate::escape::escape(chosen.as_deref().unwrap_or("none"))
            ),
        };
        let session = launch::build(self.plan, &obs, ready, input, false).and_then(|session| {
            session.register(inputs.poll.registry(), Token(FIRST_CONN + conn as usize))?;
            Ok(session)
        });
        match session {
            Ok(session) => {
                self.waiting_due = None;
                self.clients.push(Client {
                    conn,
                    session,
                    obs,
                    peer,
                    path: accepted.resource.clone(),
                    since: Instant::now(),
                    replaying,
                    skipping: false,
                });
                self.relabel();
            }
            Err(failure) => {
                obs.event(&Event::Error(&failure));
                obs.event(&Event::Gone);
                self.acceptor.left();
            }
        }
    }

    /// A client's session ended: what it owed goes out, its end is told,
    /// and its place is free.
    fn put_away(&mut self, client: Client, outcome: Result<Exit, Failure>, inputs: &Inputs) {
        let Client {
            conn,
            session,
            mut obs,
            replaying,
            ..
        } = client;
        session.deregister(inputs.poll.registry());
        let (ended, _unsent) = session.end(outcome, self.plan.cli.once);
        let result = match replaying {
            Some(replaying) => replaying.finish(&mut obs, ended.result),
            None => ended.result,
        };
        if let Err(failure) = &result {
            // The connection ended without a close handshake: say so, as
            // a close a browser would report (1006), and why.
            if ended.peer_close.is_none() {
                obs.event(&Event::Close {
                    code: Some(1006),
                    reason: &failure.message,
                    initiator: Initiator::Remote,
                });
            }
            if !self.plan.cli.once {
                obs.event(&Event::Error(failure));
                obs.event(&Event::Notice(&format!(
                    "client {conn} is gone: {}",
                    failure.message
                )));
            }
        }
        obs.event(&Event::Gone);
        obs.flush();
        self.acceptor.left();
        if self.plan.cli.once {
            self.once = Some(result);
            return;
        }
        if self.target == Target::One(conn) {
            self.obs.event(&Event::Notice(&format!(
                "client {conn} was where typed lines went; /to picks another (/clients lists them)"
            )));
        }
        if self.clients.is_empty() && !self.stopping {
            self.waiting_due = Some(Instant::now() + WAITING_AGAIN);
        }
        self.relabel();
    }

    /// The prompt says where typed lines go.
    fn relabel(&self) {
        if !self.plan.prompt {
            return;
        }
        let label = match self.target {
            Target::All => Some("all".to_string()),
            Target::One(n) => Some(format!("#{n}")),
            Target::Newest => self.clients.last().map(|c| format!("#{}", c.conn)),
        };
        crate::input::prompt::set_label(label.as_deref());
    }

    /// Hands the shared input to the clients it is for, while they take
    /// it; /to and /clients are answered here.
    fn route(&mut self, input: &mut InputQueue, prompt: bool) {
        loop {
            let command = match self.held.take() {
                Some(command) => command,
                None => match input.take_next() {
                    Next::Item(Input::Command(command)) => command,
                    Next::Item(Input::Batch(commands)) => {
                        // take_next unpacks batches; kept for completeness.
                        for command in commands {
                            input.push_back(Input::Command(command));
                        }
                        continue;
                    }
                    Next::Item(Input::Refused { message, counts }) => {
                        self.obs.event(&Event::Refused(&message));
                        if counts {
                            input.refused += 1;
                        }
                        continue;
                    }
                    Next::Item(Input::Failed(why)) => {
                        self.obs.event(&Event::Notice(&why));
                        self.end_input();
                        return;
                    }
                    Next::Item(Input::QuitNow) => {
                        // Ctrl-C twice at the prompt: quit at once.
                        self.stop("quit", 1000);
                        self.stop("quit", 1000);
                        return;
                    }
                    Next::Pending => return,
                    Next::End => {
                        self.end_input();
                        return;
                    }
                },
            };
            match command {
                // Ctrl-C or Ctrl-D on an empty line, /quit: the listener
                // stops, as on a signal.
                Command::Quit => self.stop("quit", 1000),
                Command::To(target) => self.choose(target),
                Command::Clients => {
                    let list = self.list();
                    self.obs.event(&Event::Notice(&list));
                }
                Command::Help => {
                    let help = crate::session::help();
                    self.obs.event(&Event::Notice(&help));
                }
                command => {
                    let targets = self.targets();
                    if targets.is_empty() {
                        if prompt {
                            let why = match self.target {
                                Target::One(n) => format!(
                                    "not sent: client {n} is not connected; /to picks another (/clients lists them)"
                                ),
                                _ => "not sent: no client is connected".to_string(),
                            };
                            self.obs.event(&Event::Refused(&why));
                            continue;
                        }
                        // A script's lines wait for a client.
                        self.held = Some(command);
                        return;
                    }
                    // Input waits for the slowest client, unless it has
                    // stopped reading: then it is skipped, so that it
                    // never holds up the others.
                    let full: Vec<usize> = targets
                        .iter()
                        .copied()
                        .filter(|&i| !self.clients[i].session.has_room())
                        .collect();
                    let stuck = |i: usize| {
                        self.clients[i]
                            .session
                            .stalled_for()
                            .is_some_and(|d| d >= STUCK)
                    };
                    if full.len() == targets.len() || !full.iter().all(|&i| stuck(i)) {
                        self.held = Some(command);
                        return;
                    }
                    for &i in &targets {
                        let client = &mut self.clients[i];
                        if client.session.has_room() {
                            client.skipping = false;
                            let input = client.session.input();
                            input.push_back(Input::Command(command.clone()));
                        } else if !client.skipping {
                            client.skipping = true;
                            client.obs.event(&Event::Notice(&format!(
                                "client {} reads nothing: what goes to every client skips it until it reads again",
                                client.conn
                            )));
                        }
                    }
                }
            }
        }
    }

    /// The shared input is over: each client's input ends after what it
    /// was handed, and later clients get none.
    fn end_input(&mut self) {
        self.input_ended = true;
        for client in &mut self.clients {
            client.session.input().feed_ended();
        }
    }

    fn choose(&mut self, target: Target) {
        let said = match target {
            Target::All => "typed lines go to every client".to_string(),
            Target::Newest => "typed lines go to the newest client".to_string(),
            Target::One(n) if self.clients.iter().any(|c| c.conn == n) => {
                format!("typed lines go to client {n}")
            }
            Target::One(n) => {
                let text = format!("no client {n} is connected (/clients lists them)");
                self.obs.event(&Event::Refused(&text));
                self.relabel();
                return;
            }
        };
        self.target = target;
        self.relabel();
        self.obs.event(&Event::Notice(&said));
    }

    /// Where the next typed line goes, as indexes into `clients`.
    fn targets(&self) -> Vec<usize> {
        let open = |c: &Client| !c.session.closing();
        match self.target {
            Target::All => (0..self.clients.len())
                .filter(|&i| open(&self.clients[i]))
                .collect(),
            Target::Newest => (0..self.clients.len())
                .rev()
                .find(|&i| open(&self.clients[i]))
                .into_iter()
                .collect(),
            Target::One(n) => self
                .clients
                .iter()
                .position(|c| c.conn == n && open(c))
                .into_iter()
                .collect(),
        }
    }

    /// The /clients list.
    fn list(&self) -> String {
        if self.clients.is_empty() {
            return "no client is connected".to_string();
        }
        let now = Instant::now();
        let mut text = format!("{} connected:", self.clients.len());
        let chosen = self.targets();
        for (i, c) in self.clients.iter().enumerate() {
            let mark = if chosen.contains(&i) {
                " (typed lines go here)"
            } else {
                ""
            };
            text.push_str(&format!(
                "\n  #{} {} {} for {:.1} s; {}{mark}",
                c.conn,
                crate::escape::escape(&c.peer),
                crate::escape::escape(&c.path),
                now.duration_since(c.since).as_secs_f64(),
                c.session.counters(),
            ));
        }
        text
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
