//! The tape (`--log`): the `--json` event stream, every event with its
//! wall-clock time as well, written to a file as the session goes
//! (docs/tape.md). `wscope --replay` reads it back.

use super::RecordFile;

use crate::observe::{Clock, Json, Observer, Out};

pub fn create(file: RecordFile, clock: Clock) -> Box<dyn Observer> {
    Box::new(Json::with_wall_clock(Out::file(file), clock))
}
