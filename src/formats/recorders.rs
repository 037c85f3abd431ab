//! Recorders: observers that write the session to a file beside whatever
//! the screen shows, streaming as it goes (nothing held for the end).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{har, pcap, tape};
use crate::error::{fail, Failure, Stage};
use crate::observe::{Clock, Observer};

/// The files to record into, and the recording being replayed (which is
/// never written over).
#[derive(Debug, Clone, Default)]
pub struct Recordings {
    pub log: Option<PathBuf>,
    pub har: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    pub replayed: Option<PathBuf>,
}

/// The recorders asked for.
pub fn open(asked: &Recordings, clock: Clock) -> Result<Vec<Box<dyn Observer>>, Failure> {
    let chosen: Vec<(&str, &Path)> = [
        ("--log", &asked.log),
        ("--har", &asked.har),
        ("--pcap", &asked.pcap),
    ]
    .into_iter()
    .filter_map(|(option, path)| path.as_deref().map(|p| (option, p)))
    .collect();
    for (i, (first, a)) in chosen.iter().enumerate() {
        if let Some((second, _)) = chosen[i + 1..].iter().find(|(_, b)| same_file(a, b)) {
            return Err(fail(
                Stage::Usage,
                format!(
                    "{first} and {second} name the same file, {}: each recording needs its own",
                    a.display()
                ),
            ));
        }
    }
    let mut recorders: Vec<Box<dyn Observer>> = Vec::new();
    let replayed = asked.replayed.as_deref();
    if let Some(path) = &asked.log {
        recorders.push(tape::create(create(path, "--log", replayed)?, clock));
    }
    if let Some(path) = &asked.har {
        recorders.push(Box::new(har::Har::new(
            create(path, "--har", replayed)?,
            clock,
        )));
    }
    if let Some(path) = &asked.pcap {
        recorders.push(Box::new(pcap::Pcap::new(
            create(path, "--pcap", replayed)?,
            clock,
        )));
    }
    Ok(recorders)
}

/// A recorder's file, or a usage error that names it. The recording
/// being replayed is never written over.
fn create(path: &Path, option: &str, replaying: Option<&Path>) -> Result<RecordFile, Failure> {
    if replaying.is_some_and(|replayed| same_file(path, replayed)) {
        return Err(fail(
            Stage::Usage,
            format!(
                "{option} {} is the recording --replay reads: writing it would destroy it",
                path.display()
            ),
        ));
    }
    let file = File::create(path).map_err(|e| {
        fail(
            Stage::Usage,
            format!("{option} {}: cannot create it: {e}", path.display()),
        )
    })?;
    Ok(RecordFile {
        file,
        what: format!("{option} {}", path.display()),
        failed: false,
    })
}

/// Two paths for one file (the file may not exist yet: then its folder
/// is resolved instead).
fn same_file(a: &Path, b: &Path) -> bool {
    fn resolved(path: &Path) -> std::path::PathBuf {
        if let Ok(full) = path.canonicalize() {
            return full;
        }
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        match (folder.canonicalize(), path.file_name()) {
            (Ok(folder), Some(name)) => folder.join(name),
            _ => path.to_path_buf(),
        }
    }
    resolved(a) == resolved(b)
}

/// A recorder's file that says so, once, on stderr when writing to it
/// fails (a full disk, a pipe whose reader left): the recording is cut
/// short there and later writes are dropped, but the session goes on, so
/// no error reaches the recorder (a broken pipe would end the session as
/// if stdout's reader had gone).
pub struct RecordFile {
    file: File,
    what: String,
    failed: bool,
}

impl RecordFile {
    fn note(&mut self, result: std::io::Result<()>) {
        if let Err(e) = &result {
            if !self.failed {
                self.failed = true;
                crate::error::warn(&format!(
                    "{}: writing failed ({e}); the recording is cut short here",
                    self.what
                ));
            }
        }
    }
}

impl std::io::Write for RecordFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if !self.failed {
            let result = self.file.write_all(data);
            self.note(result);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.failed {
            let result = self.file.flush();
            self.note(result);
        }
        Ok(())
    }
}
