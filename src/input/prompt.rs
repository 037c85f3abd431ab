//! The interactive prompt. rustyline runs on a thread of its own and hands
//! parsed commands to the session loop; everything the session prints goes
//! through rustyline's external printer, so frames arriving while a line is
//! half typed appear above the prompt and leave the line intact.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread;

use mio::Waker;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, ConditionalEventHandler, Context, Editor, Event, EventContext, EventHandler,
    ExternalPrinter, Helper, KeyEvent, Movement, RepeatCount,
};

use super::command::{self, Command, COMMANDS};
use super::Input;
use crate::wire::close_code;

/// The prompt; a listener puts where typed lines go in it (`wscope #2> `).
static PROMPT: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Bumped by each `set_label`, so that the prompt can wait for the answer
/// to a line that changes it (/to).
static LABELS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets what the prompt says before `> ` from the next line on: `wscope`,
/// then `label` when there is one.
pub fn set_label(label: Option<&str>) {
    if let Ok(mut prompt) = PROMPT.lock() {
        *prompt = match label {
            Some(label) => format!("wscope {label}> "),
            None => String::new(),
        };
    }
    LABELS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

/// After a line that changes the prompt, waits a moment for the change,
/// so that the next prompt already shows it.
fn await_label(since: u64) {
    let end = std::time::Instant::now() + std::time::Duration::from_millis(300);
    while LABELS.load(std::sync::atomic::Ordering::Acquire) == since
        && std::time::Instant::now() < end
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn prompt_text() -> String {
    match PROMPT.lock() {
        Ok(prompt) if !prompt.is_empty() => prompt.clone(),
        _ => "wscope> ".to_string(),
    }
}

type Line = Editor<ReplHelper, rustyline::history::DefaultHistory>;

/// Starts the prompt; returns the printer that all output must go through
/// while the prompt is up.
pub fn start(
    tx: SyncSender<Input>,
    waker: Arc<Waker>,
) -> Result<Box<dyn ExternalPrinter + Send>, String> {
    // Several candidates are listed below the line, as bash does, rather
    // than cycled through in place.
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor: Line =
        Editor::with_config(config).map_err(|e| format!("cannot start the prompt: {e}"))?;
    editor.set_helper(Some(ReplHelper {
        files: FilenameCompleter::new(),
    }));
    editor.bind_sequence(
        KeyEvent::ctrl('C'),
        EventHandler::Conditional(Box::new(CtrlC)),
    );
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let printer = editor
        .create_external_printer()
        .map_err(|e| format!("cannot start the prompt: {e}"))?;
    thread::Builder::new()
        .name("repl".into())
        .spawn(move || prompt_loop(editor, history, &tx, &waker))
        .map_err(|e| format!("cannot start the prompt: {e}"))?;
    Ok(Box::new(printer))
}

fn prompt_loop(mut editor: Line, history: Option<PathBuf>, tx: &SyncSender<Input>, waker: &Waker) {
    let mut closing = false;
    loop {
        let input = match editor.readline(&prompt_text()) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        let _ = editor.save_history(path);
                    }
                }
                // A bracketed paste of several lines arrives as one: each
                // line is its own command, unless together they are one
                // JSON value.
                let mut commands = Vec::new();
                let parts: Vec<&str> = if command::is_multiline_json(&line) {
                    vec![line.trim()]
                } else {
                    line.split('\n').collect()
                };
                for part in parts {
                    match command::parse(part.trim_end_matches('\r')) {
                        Ok(Command::Quit) if !closing => {
                            // As after Ctrl-D: the next Ctrl-C quits at once.
                            closing = true;
                            eprintln!("closing (Close 1000); press Ctrl-C to quit at once");
                            commands.push(Input::Command(Command::Quit));
                        }
                        // After a Close the next Ctrl-C quits at once, as
                        // after /quit.
                        Ok(command @ Command::Close { .. }) => {
                            closing = true;
                            commands.push(Input::Command(command));
                        }
                        Ok(command) => commands.push(Input::Command(command)),
                        // Shown above the prompt, and as an error event.
                        Err(message) => commands.push(Input::Refused {
                            message,
                            counts: false,
                        }),
                    }
                }
                let relabels = commands
                    .iter()
                    .any(|c| matches!(c, Input::Command(Command::To(_))));
                let labels = LABELS.load(std::sync::atomic::Ordering::Acquire);
                if !send_all(tx, waker, commands) {
                    return;
                }
                if relabels {
                    await_label(labels);
                }
                continue;
            }
            // Ctrl-C on an empty line (on a non-empty one it clears the
            // line) or Ctrl-D: close; the second time, quit at once.
            Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) => {
                if closing {
                    Input::QuitNow
                } else {
                    closing = true;
                    eprintln!("closing (Close 1000); press Ctrl-C again to quit at once");
                    Input::Command(Command::Quit)
                }
            }
            // Bytes that are not UTF-8 (a stray key, a bad paste): the
            // line is lost, the session is not.
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                let refused = Input::Refused {
                    message: "typed bytes that are not UTF-8 were dropped, with what came before them on the line; /hex sends bytes"
                        .into(),
                    counts: false,
                };
                if !send_all(tx, waker, vec![refused]) {
                    return;
                }
                continue;
            }
            Err(e) => Input::Failed(format!("the prompt failed: {e}")),
        };
        let last = matches!(input, Input::Failed(_) | Input::QuitNow);
        if tx.send(input).is_err() {
            return;
        }
        let _ = waker.wake();
        if last {
            return;
        }
    }
}

fn send_all(tx: &SyncSender<Input>, waker: &Waker, inputs: Vec<Input>) -> bool {
    for input in inputs {
        if tx.send(input).is_err() {
            return false;
        }
    }
    let _ = waker.wake();
    true
}

/// History lives in the user's state directory (XDG on Linux).
fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    let dir = base.join("wscope");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

/// Ctrl-C clears a non-empty line; on an empty one it interrupts.
struct CtrlC;

impl ConditionalEventHandler for CtrlC {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        if ctx.line().is_empty() {
            Some(Cmd::Interrupt)
        } else {
            Some(Cmd::Kill(Movement::WholeBuffer))
        }
    }
}

struct ReplHelper {
    files: FilenameCompleter,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if !before.starts_with('/') {
            return Ok((0, Vec::new()));
        }
        let Some((name, arg)) = before.split_once(' ') else {
            // Completing the command name itself.
            let found = COMMANDS
                .iter()
                .filter(|(c, _, _)| c.starts_with(before))
                .map(|(c, _, _)| pair(c, &format!("{c} ")))
                .collect();
            return Ok((0, found));
        };
        let start = name.len() + 1;
        match name {
            "/file" => self.files.complete(line, pos, ctx),
            "/close" | "/close!" if !arg.contains(' ') => {
                // Codes that may not go on the wire only after /close!,
                // which is there to send them anyway.
                let anything = name == "/close!";
                let found = close_code::named()
                    .filter(|(code, _)| anything || close_code::forbidden_on_wire(*code).is_none())
                    .filter(|(code, n)| n.starts_with(arg) || code.to_string().starts_with(arg))
                    .map(|(code, n)| pair(&format!("{n} ({code})"), &format!("{n} ")))
                    .collect();
                Ok((start, found))
            }
            "/frame" => {
                let word_start = before.rfind(' ').map_or(0, |i| i + 1);
                let word = &before[word_start..];
                let found = FRAME_WORDS
                    .iter()
                    .filter(|w| w.starts_with(word))
                    .map(|w| pair(w, w))
                    .collect();
                Ok((word_start, found))
            }
            _ => Ok((start, Vec::new())),
        }
    }
}

const FRAME_WORDS: &[&str] = &[
    "op=text",
    "op=binary",
    "op=cont",
    "op=close",
    "op=ping",
    "op=pong",
    "fin=0",
    "fin=1",
    "rsv1=1",
    "rsv2=1",
    "rsv3=1",
    "mask=off",
    "mask=on",
    "text=",
    "hex=",
];

fn pair(display: &str, replacement: &str) -> Pair {
    Pair {
        display: display.to_string(),
        replacement: replacement.to_string(),
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

/// A JSON object or array still open at the end of a line: Enter goes to
/// a new line instead of sending, until its brackets balance.
impl Validator for ReplHelper {
    fn validate(
        &self,
        ctx: &mut rustyline::validate::ValidationContext,
    ) -> rustyline::Result<rustyline::validate::ValidationResult> {
        use rustyline::validate::ValidationResult;
        let text = ctx.input();
        let body = text.trim_start();
        let body = body.strip_prefix("/json").map_or(body, str::trim_start);
        let json = matches!(body.as_bytes().first(), Some(b'{' | b'['));
        if json && command::open_brackets(body) > 0 {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for ReplHelper {}

/// The terminal's settings from before the prompt started, put back when
/// wscope exits, whichever thread is inside rustyline at the time.
pub struct TerminalGuard {
    saved: Option<libc::termios>,
}

impl TerminalGuard {
    pub fn save() -> Self {
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the struct when it returns 0.
        let saved = unsafe {
            (libc::tcgetattr(libc::STDIN_FILENO, t.as_mut_ptr()) == 0).then(|| t.assume_init())
        };
        TerminalGuard { saved }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            // SAFETY: restoring settings read by tcgetattr on the same fd.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustyline::history::DefaultHistory;

    fn candidates(line: &str) -> (usize, Vec<Pair>) {
        let helper = ReplHelper {
            files: FilenameCompleter::new(),
        };
        let history = DefaultHistory::new();
        let ctx = Context::new(&history);
        helper.complete(line, line.len(), &ctx).unwrap()
    }

    fn complete(line: &str) -> (usize, Vec<String>) {
        let (start, found) = candidates(line);
        (start, found.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn close_offers_codes_for_reporting_only_after_close_bang() {
        let (_, plain) = complete("/close ");
        assert_eq!(plain.len(), 12, "{plain:?}");
        for reporting_only in ["no-status ", "abnormal ", "tls-handshake "] {
            assert!(!plain.contains(&reporting_only.to_string()), "{plain:?}");
        }
        let (_, forced) = complete("/close! ");
        assert_eq!(forced.len(), 15, "{forced:?}");
        assert!(forced.contains(&"abnormal ".to_string()));
        // Shown with their numbers, and found by them.
        let (_, found) = candidates("/close 100");
        let shown: Vec<String> = found.into_iter().map(|p| p.display).collect();
        assert_eq!(shown[0], "normal (1000)");
        assert!(!shown.iter().any(|s| s.contains("1005")), "{shown:?}");
    }

    #[test]
    fn completes_commands_and_close_code_names() {
        let (start, found) = complete("/clo");
        assert_eq!(start, 0);
        assert_eq!(found, vec!["/close ", "/close! "]);
        assert_eq!(complete("/cli").1, vec!["/clients "]);
        let (start, found) = complete("/close go");
        assert_eq!(start, 7);
        assert_eq!(found, vec!["going-away "]);
        let (_, found) = complete("/frame op=t");
        assert_eq!(found, vec!["op=text"]);
        assert!(complete("hello").1.is_empty());
    }
}
