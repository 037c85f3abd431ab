//! Runs the chosen cases, several side by side (`--parallel`), and hands
//! each result over as soon as its case ends, so that reports are written
//! as the run goes and a run cut short keeps what it had. A timed case
//! (category 9) runs alone, so that its duration is its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::case::Case;
use super::engine::{self, Outcome, Server};
use super::judge::{self, Verdict};

/// One case's end.
pub struct Finished {
    /// Its position in the run.
    pub index: usize,
    pub case: Arc<Case>,
    pub outcome: Outcome,
    pub verdict: Verdict,
    pub started: SystemTime,
    /// With `check --listen`: the client's agent name.
    pub agent: Option<String>,
}

/// Which case may start next: a timed case waits for the others to end,
/// and nothing starts beside it.
struct Queue {
    cases: Vec<Arc<Case>>,
    next: usize,
    running: usize,
    alone: bool,
}

/// Runs every case, calling `done` on this thread as each ends (in the
/// order they end). `stop` set from elsewhere lets running cases finish
/// and starts no more.
pub fn run(
    cases: Vec<Case>,
    server: &Server,
    parallel: usize,
    stop: &AtomicBool,
    mut done: impl FnMut(Finished),
) {
    let queue = Arc::new((
        Mutex::new(Queue {
            cases: cases.into_iter().map(Arc::new).collect(),
            next: 0,
            running: 0,
            alone: false,
        }),
        std::sync::Condvar::new(),
    ));
    let (tx, rx) = mpsc::channel::<Finished>();
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            let (queue, tx) = (Arc::clone(&queue), tx.clone());
            scope.spawn(move || worker(&queue, server, stop, &tx));
        }
        drop(tx);
        for finished in rx {
            done(finished);
        }
    });
}

fn worker(
    queue: &(Mutex<Queue>, std::sync::Condvar),
    server: &Server,
    stop: &AtomicBool,
    tx: &mpsc::Sender<Finished>,
) {
    let (lock, turn) = queue;
    loop {
        let (index, case, timed) = {
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if q.next >= q.cases.len() || stop.load(Ordering::Relaxed) {
                    turn.notify_all();
                    return;
                }
                let timed = q.cases[q.next].timed;
                let free = !q.alone && (!timed || q.running == 0);
                if free {
                    break;
                }
                q = turn.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            let index = q.next;
            q.next += 1;
            q.running += 1;
            let timed = q.cases[index].timed;
            q.alone = timed;
            (index, Arc::clone(&q.cases[index]), timed)
        };
        let started = SystemTime::now();
        let outcome = engine::run(&case, server);
        let verdict = judge::judge(&case, &outcome);
        {
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            q.running -= 1;
            if timed {
                q.alone = false;
            }
            turn.notify_all();
        }
        let finished = Finished {
            index,
            case,
            outcome,
            verdict,
            started,
            agent: None,
        };
        if tx.send(finished).is_err() {
            return;
        }
    }
}
