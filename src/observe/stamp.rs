//! The time at the start of each line of the human view (--time): seconds
//! since the start (`rel`), the wall clock (`abs`), or seconds since the
//! line before (`delta`); narrower in the compact layout.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::filter::TimeFormat;

pub struct Stamps {
    format: TimeFormat,
    /// The wall clock when `t` was 0.
    start: SystemTime,
    /// The `t` of the line before, for `delta`.
    last: Cell<f64>,
}

impl Stamps {
    /// `now` is the current `t`.
    pub fn new(format: TimeFormat, now: f64) -> Stamps {
        let start = SystemTime::now()
            .checked_sub(Duration::from_secs_f64(now))
            .unwrap_or(UNIX_EPOCH);
        Stamps {
            format,
            start,
            last: Cell::new(0.0),
        }
    }

    /// The stamp for a line at `t` seconds, with microseconds (wide) or
    /// milliseconds (compact).
    pub fn at(&self, t: f64, compact: bool) -> String {
        let digits = if compact { 3 } else { 6 };
        match self.format {
            TimeFormat::Rel => {
                let width = if compact { 8 } else { 10 };
                format!("[{t:>width$.digits$}]")
            }
            TimeFormat::Delta => {
                let since = (t - self.last.replace(t)).max(0.0);
                let width = if compact { 7 } else { 9 };
                format!("[+{since:>width$.digits$}]")
            }
            TimeFormat::Abs => {
                let wall = self.start + Duration::from_secs_f64(t.max(0.0));
                let since_epoch = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
                let (h, m, s) = local_time_of_day(since_epoch.as_secs());
                let fraction = since_epoch.subsec_micros() as f64 / 1e6;
                let seconds = s as f64 + fraction;
                let width = digits + 3;
                format!("[{h:02}:{m:02}:{seconds:0width$.digits$}]")
            }
        }
    }
}

/// Hours, minutes and seconds of the local time of day (the TZ setting).
fn local_time_of_day(epoch_seconds: u64) -> (u32, u32, u32) {
    let t = epoch_seconds as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: localtime_r fills `tm` when it returns non-null.
    let tm = unsafe {
        if libc::localtime_r(&t, tm.as_mut_ptr()).is_null() {
            return (
                (epoch_seconds / 3600 % 24) as u32,
                (epoch_seconds / 60 % 60) as u32,
                (epoch_seconds % 60) as u32,
            );
        }
        tm.assume_init()
    };
    (tm.tm_hour as u32, tm.tm_min as u32, tm.tm_sec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_delta_stamps() {
        let rel = Stamps::new(TimeFormat::Rel, 0.0);
        assert_eq!(rel.at(1.5, false), "[  1.500000]");
        assert_eq!(rel.at(1.5, true), "[   1.500]");
        let delta = Stamps::new(TimeFormat::Delta, 0.0);
        assert_eq!(delta.at(1.0, false), "[+ 1.000000]");
        assert_eq!(delta.at(1.25, false), "[+ 0.250000]");
        assert_eq!(delta.at(1.25, true), "[+  0.000]");
    }

    #[test]
    fn absolute_stamps_are_a_time_of_day() {
        let abs = Stamps::new(TimeFormat::Abs, 0.0);
        let shown = abs.at(0.0, false);
        // [HH:MM:SS.ffffff]
        assert_eq!(shown.len(), 17, "{shown}");
        assert_eq!(&shown[3..4], ":");
        assert_eq!(&shown[6..7], ":");
        assert_eq!(&shown[9..10], ".");
        assert_eq!(abs.at(0.0, true).len(), 14);
    }
}
