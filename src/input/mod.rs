//! Where messages to send come from: -x arguments first, then lines of
//! stdin or the prompt, read on a thread of their own so the session never
//! blocks on them. The channel is bounded: a slow server pushes back on the reader
//! instead of letting input pile up in memory.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::Waker;

pub mod command;
pub mod prompt;
pub mod reply;

use command::Command;

pub enum Input {
    Command(Command),
    /// Several commands at once: a pipe delivers lines faster than one
    /// hand-off each would allow.
    Batch(Vec<Command>),
    /// Input that cannot be sent (bad hex, an unknown command, a stdin
    /// line that is not UTF-8); the message says which and why. `counts`:
    /// it makes the exit code 2 (a script's input; not a typo at the
    /// prompt).
    Refused {
        message: String,
        counts: bool,
    },
    /// Input failed; the message says how.
    Failed(String),
    /// Leave at once, without waiting for the close handshake.
    QuitNow,
}

pub struct InputQueue {
    preset: VecDeque<Input>,
    /// A driver feeds `preset` (a listener's shared input): empty means
    /// more may come, until it says the input ended.
    fed: bool,
    rx: Option<Receiver<Input>>,
    /// Sources opened while another was being read: each is read in turn
    /// once the one before it ends (none is dropped unread).
    later: VecDeque<Receiver<Input>>,
    /// Set by the stdin reader once it has read stdin to its end; `None`
    /// when stdin is not read.
    stdin_done: Option<Arc<AtomicBool>>,
    /// A sender kept here so that input never ends (an echo server).
    _held: Option<SyncSender<Input>>,
    /// Script lines refused so far (bad hex, an unknown command), over
    /// every connection of the run: they make the exit code 2.
    pub refused: u64,
}

/// Nothing is lost silently: the notice for input that never went out
/// (`count` messages, and whether stdin was left unread), with `why` when
/// there is more to say. None when nothing was lost.
pub fn not_sent(count: u64, stdin_unread: bool, why: &str) -> Option<String> {
    let messages = match count {
        0 if !stdin_unread => return None,
        0 => return Some("input not sent: stdin was not read to its end".to_string()),
        1 => "1 input message was not sent".to_string(),
        n => format!("{n} input messages were not sent"),
    };
    let unread = if stdin_unread {
        ", and stdin was not read to its end"
    } else {
        ""
    };
    Some(format!("{messages}{why}{unread}"))
}

/// What the queue has right now.
pub enum Next {
    Item(Input),
    /// Nothing yet; the waker will fire when there is.
    Pending,
    /// All input is used up.
    End,
}

/// How stdin becomes messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinMode {
    /// Each line is a text message.
    Text,
    /// Lines starting with '/' are commands, as at the prompt.
    Slash,
    /// Each line is hex for a binary message.
    Hex,
    /// Binary messages of `chunk` bytes.
    Binary { chunk: usize },
}

/// Bounded, so that a slow server pushes back on whoever produces input.
const QUEUE_DEPTH: usize = 16;

impl InputQueue {
    pub fn new(preset: Vec<Command>) -> Self {
        InputQueue {
            preset: preset.into_iter().map(Input::Command).collect(),
            fed: false,
            rx: None,
            later: VecDeque::new(),
            stdin_done: None,
            _held: None,
            refused: 0,
        }
    }

    /// How many inputs wait in front (put there, or taken from a batch).
    pub fn queued(&self) -> usize {
        self.preset.len()
    }

    /// Adds one input after what waits in front.
    pub fn push_back(&mut self, input: Input) {
        self.preset.push_back(input);
    }

    /// Puts these in front of everything else (the -x preamble, again
    /// for each connection with --reconnect).
    pub fn push_front(&mut self, commands: Vec<Command>) {
        for command in commands.into_iter().rev() {
            self.preset.push_front(Input::Command(command));
        }
    }

    /// Input that a driver feeds with `push_back`, until `feed_ended`.
    pub fn fed(preset: Vec<Command>) -> Self {
        InputQueue {
            fed: true,
            ..InputQueue::new(preset)
        }
    }

    /// The driver has no more to feed: input ends once `preset` is sent.
    pub fn feed_ended(&mut self) {
        self.fed = false;
    }

    /// Input that never ends: the peer decides when the session closes.
    pub fn hold_open(&mut self) {
        self._held = Some(self.channel());
    }

    /// A sender for a producer thread; its input ends when it is dropped.
    /// A second source is read after the first has ended.
    pub fn channel(&mut self) -> SyncSender<Input> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_DEPTH);
        match self.rx {
            None => self.rx = Some(rx),
            Some(_) => self.later.push_back(rx),
        }
        tx
    }

    /// Also reads stdin after the preset messages, as `mode` says.
    pub fn read_stdin(&mut self, waker: Arc<Waker>, mode: StdinMode) {
        let tx = self.channel();
        let done = Arc::new(AtomicBool::new(false));
        self.stdin_done = Some(done.clone());
        thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                let reader = BufReader::with_capacity(64 * 1024, io::stdin().lock());
                match mode {
                    StdinMode::Binary { chunk } => read_chunks(reader, chunk, tx, &waker),
                    lines => read_lines(reader, lines, tx, &waker),
                }
                done.store(true, Ordering::Release);
            })
            .expect("spawning the stdin thread");
    }

    /// Drops whatever is queued; returns how many messages that was and
    /// whether stdin is a pipe that was not read to its end. A reader that
    /// is about to finish (stdin empty or at its end, only not read yet
    /// when the session ended) gets a moment to, so that the count is
    /// exact instead of "not read to its end".
    pub fn discard(&mut self) -> (u64, bool) {
        let mut count = self.preset.len() as u64;
        self.preset.clear();
        let Some(rx) = &self.rx else {
            return (count, false);
        };
        let give_up = Instant::now() + Duration::from_millis(100);
        loop {
            match rx.try_recv() {
                Ok(Input::Batch(b)) => count += b.len() as u64,
                Ok(Input::Command(_)) => count += 1,
                Ok(_) => {}
                Err(TryRecvError::Empty) => {
                    let reading = self
                        .stdin_done
                        .as_ref()
                        .is_some_and(|done| !done.load(Ordering::Acquire));
                    if !reading || Instant::now() >= give_up {
                        return (count, reading);
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Err(TryRecvError::Disconnected) => return (count, false),
            }
        }
    }

    pub fn take_next(&mut self) -> Next {
        if let Some(item) = self.preset.pop_front() {
            return Next::Item(item);
        }
        let Some(rx) = &self.rx else {
            return if self.fed { Next::Pending } else { Next::End };
        };
        match rx.try_recv() {
            Ok(Input::Batch(commands)) => {
                self.preset.extend(commands.into_iter().map(Input::Command));
                self.take_next()
            }
            Ok(item) => Next::Item(item),
            Err(TryRecvError::Empty) => Next::Pending,
            Err(TryRecvError::Disconnected) => match self.later.pop_front() {
                Some(next) => {
                    self.rx = Some(next);
                    self.take_next()
                }
                None => Next::End,
            },
        }
    }
}

/// Lines that are already buffered go over as one batch, so a fast pipe
/// costs one hand-off and one wake-up per buffer, not per line.
const MAX_BATCH: usize = 4096;

fn read_lines<R: Read>(
    mut reader: BufReader<R>,
    mode: StdinMode,
    tx: SyncSender<Input>,
    waker: &Waker,
) {
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut batch = Vec::new();
    let send = |item: Input| {
        let sent = tx.send(item).is_ok();
        let _ = waker.wake();
        sent
    };
    loop {
        buf.clear();
        let command = match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {
                line_no += 1;
                strip_line_end(&mut buf);
                match String::from_utf8(std::mem::take(&mut buf)) {
                    Ok(text) if mode != StdinMode::Text => {
                        let parsed = if mode == StdinMode::Hex {
                            command::parse_hex(&text).map(Command::Binary)
                        } else {
                            // A /file that cannot be opened is named with
                            // its line here; it is read only when it is
                            // sent, so a slow peer holds one file at a time.
                            command::parse(&text).and_then(|command| match command {
                                Command::File(path) => match can_open(&path) {
                                    Ok(()) => Ok(Command::File(path)),
                                    Err(e) => {
                                        Err(format!("/file: cannot read {}: {e}", path.display()))
                                    }
                                },
                                other => Ok(other),
                            })
                        };
                        match parsed {
                            Ok(command) => Some(command),
                            Err(problem) => {
                                // What came before goes out before the error.
                                let done = std::mem::take(&mut batch);
                                let refused = Input::Refused {
                                    message: format!("stdin line {line_no}: {problem}; not sent"),
                                    counts: true,
                                };
                                if !send(Input::Batch(done)) || !send(refused) {
                                    return;
                                }
                                None
                            }
                        }
                    }
                    Ok(text) => Some(Command::Text(text)),
                    Err(_) => {
                        let done = std::mem::take(&mut batch);
                        let refused = Input::Refused {
                            message: format!(
                                "stdin line {line_no} is not valid UTF-8; not sent as text"
                            ),
                            counts: true,
                        };
                        if !send(Input::Batch(done)) || !send(refused) {
                            return;
                        }
                        None
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let done = std::mem::take(&mut batch);
                let _ = send(Input::Batch(done));
                let _ = send(Input::Failed(format!("reading stdin failed: {e}")));
                return;
            }
        };
        batch.extend(command);
        // Hand over when the next read would wait, or the batch is big.
        let hand_over = reader.buffer().is_empty() || batch.len() >= MAX_BATCH;
        if hand_over && !batch.is_empty() && !send(Input::Batch(std::mem::take(&mut batch))) {
            return;
        }
    }
    if !batch.is_empty() && !send(Input::Batch(batch)) {
        return;
    }
    // Dropping the sender tells the session that input has ended.
    drop(tx);
    let _ = waker.wake();
}

/// `--binary`: stdin in messages of `chunk` bytes; the last may be shorter.
fn read_chunks<R: Read>(
    mut reader: BufReader<R>,
    chunk: usize,
    tx: SyncSender<Input>,
    waker: &Waker,
) {
    loop {
        let mut data = Vec::with_capacity(chunk.min(1 << 20));
        match (&mut reader).take(chunk as u64).read_to_end(&mut data) {
            Ok(0) => break,
            Ok(_) => {
                if tx.send(Input::Command(Command::Binary(data))).is_err() {
                    return;
                }
                let _ = waker.wake();
            }
            Err(e) => {
                let _ = tx.send(Input::Failed(format!("reading stdin failed: {e}")));
                let _ = waker.wake();
                return;
            }
        }
    }
    drop(tx);
    let _ = waker.wake();
}

fn strip_line_end(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
}

/// Whether a file opens for reading (without waiting, should it be a FIFO).
fn can_open(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_stripped_and_nothing_else() {
        for (raw, want) in [
            (&b"hi\n"[..], &b"hi"[..]),
            (b"hi\r\n", b"hi"),
            (b"hi", b"hi"),
            (b" hi \n", b" hi "),
            (b"\n", b""),
        ] {
            let mut v = raw.to_vec();
            strip_line_end(&mut v);
            assert_eq!(v, want);
        }
    }
}
