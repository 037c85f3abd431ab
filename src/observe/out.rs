//! The output sink that every renderer writes into.

use std::io::{self, IsTerminal, Write};

use rustyline::ExternalPrinter;

/// Where rendered output goes: stdout, flushed per event on a terminal and
/// in 64 KiB batches otherwise (and whenever the session goes idle); or,
/// while the prompt is up, rustyline's printer, so that output appears
/// above the line being typed. Renderers append to `buf` directly.
pub struct Out {
    buf: Vec<u8>,
    sink: Sink,
    /// Stdout's reader went away (EPIPE).
    gone: bool,
}

enum Sink {
    Stdout {
        interactive: bool,
    },
    Printer(Box<dyn ExternalPrinter + Send>),
    /// Any writer (a recorder's file for --log, a buffer in a test):
    /// batched like a pipe.
    Writer(Box<dyn Write + Send>),
}

/// How much output is held before it is written when stdout is not a
/// terminal.
const BATCH: usize = 64 * 1024;

impl Out {
    pub fn stdout() -> Self {
        Out {
            buf: Vec::with_capacity(BATCH + 4096),
            sink: Sink::Stdout {
                interactive: io::stdout().is_terminal(),
            },
            gone: false,
        }
    }

    /// Output to a file, written in batches.
    pub fn file(file: crate::formats::RecordFile) -> Self {
        Out::writer(Box::new(file))
    }

    /// Output to any writer, written in batches.
    pub fn writer(writer: Box<dyn Write + Send>) -> Self {
        Out {
            buf: Vec::with_capacity(BATCH + 4096),
            sink: Sink::Writer(writer),
            gone: false,
        }
    }

    /// Sends everything from now on through the prompt's printer.
    pub fn use_printer(&mut self, printer: Box<dyn ExternalPrinter + Send>) {
        let _ = self.flush();
        self.sink = Sink::Printer(printer);
    }

    /// Back to stdout, once the prompt is gone.
    pub fn use_stdout(&mut self) {
        let _ = self.flush();
        *self = Out::stdout();
    }

    /// The terminal's width in columns, when stdout is a terminal.
    pub fn terminal_columns(&self) -> Option<usize> {
        if matches!(self.sink, Sink::Writer(_)) {
            return None;
        }
        let mut size = std::mem::MaybeUninit::<libc::winsize>::uninit();
        // SAFETY: TIOCGWINSZ fills the struct when it returns 0.
        let size = unsafe {
            (libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, size.as_mut_ptr()) == 0)
                .then(|| size.assume_init())
        }?;
        (size.ws_col > 0).then_some(size.ws_col as usize)
    }

    /// Output goes above the prompt.
    pub fn is_prompt(&self) -> bool {
        matches!(self.sink, Sink::Printer(_))
    }

    /// Whether anybody still reads: output is dropped once stdout's
    /// reader has gone.
    pub fn flow(&self) -> super::Flow {
        if self.gone {
            super::Flow::Stop
        } else {
            super::Flow::Go
        }
    }

    /// The buffer the current event is written into.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes what a large event has put in the buffer so far, when that
    /// is a batch's worth and stdout takes it: a big payload is encoded
    /// in pieces, never whole in memory twice. At the prompt the event
    /// stays whole (the printer takes whole lines).
    pub fn spill(&mut self) {
        if self.buf.len() >= BATCH && matches!(self.sink, Sink::Stdout { .. } | Sink::Writer(_)) {
            let _ = self.flush();
        }
    }

    pub fn end_event(&mut self) -> io::Result<()> {
        match &self.sink {
            Sink::Stdout { interactive: false } | Sink::Writer(_) if self.buf.len() < BATCH => {
                Ok(())
            }
            _ => self.flush(),
        }
    }
}

impl Write for Out {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        // A large payload goes straight to stdout rather than being copied
        // into the buffer first.
        if data.len() >= BATCH && matches!(self.sink, Sink::Stdout { .. }) {
            self.flush()?;
            if self.gone {
                return Ok(());
            }
            let mut stdout = io::stdout().lock();
            let result = stdout.write_all(data).and_then(|_| stdout.flush());
            return self.note_gone(result);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        // An event that showed nothing must not print an empty line.
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.gone {
            self.buf.clear();
            return Ok(());
        }
        let result = match &mut self.sink {
            Sink::Stdout { .. } => {
                let mut stdout = io::stdout().lock();
                stdout.write_all(&self.buf).and_then(|_| stdout.flush())
            }
            Sink::Printer(printer) => {
                // The terminal is in raw mode while the prompt is up, so
                // line breaks must return the carriage themselves.
                let text = String::from_utf8_lossy(&self.buf).replace('\n', "\r\n");
                printer.print(text).map_err(io::Error::other)
            }
            Sink::Writer(writer) => writer.write_all(&self.buf).and_then(|_| writer.flush()),
        };
        self.buf.clear();
        self.note_gone(result)
    }
}

impl Out {
    fn note_gone(&mut self, result: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &result {
            if e.kind() == io::ErrorKind::BrokenPipe {
                self.gone = true;
            }
        }
        result
    }
}
