//! What a session counts: frames and bytes each way, pings and their round
//! trips, and incoming messages for the stop conditions (-n, --until).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub struct Stats {
    pub started: Instant,
    /// Data messages each way.
    pub messages_in: u64,
    messages_out: u64,
    /// Messages that came before we sent any (a greeting): not answers.
    /// (One that crosses our first message cannot be told from a fast
    /// answer, and counts as one.)
    unasked: u64,
    first_sent: Option<Instant>,
    /// Pings the user sent, to time the matching pongs.
    pings: VecDeque<(Vec<u8>, Instant)>,
    pub last_rtt: Option<Duration>,
    /// Every ping's round trip, /ping's and keepalive's alike.
    pub round_trips: RoundTrips,
}

/// Round trips for the end-of-session summary. Exact count, min and max;
/// the median is of the first `KEPT` (a day of pings each second stays
/// under a few MiB).
#[derive(Default)]
pub struct RoundTrips {
    kept: Vec<Duration>,
    count: u64,
    min: Option<Duration>,
    max: Option<Duration>,
}

impl RoundTrips {
    const KEPT: usize = 100_000;

    pub fn add(&mut self, rtt: Duration) {
        self.count += 1;
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        self.max = Some(self.max.map_or(rtt, |m| m.max(rtt)));
        if self.kept.len() < Self::KEPT {
            self.kept.push(rtt);
        }
    }

    /// `round trips of 3 pings: min 0.41 ms, median 0.52 ms, max 0.90 ms`,
    /// or None before any pong.
    pub fn summary(&self) -> Option<String> {
        let (min, max) = (self.min?, self.max?);
        let mut sorted = self.kept.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        };
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        let pings = if self.count == 1 { "ping" } else { "pings" };
        let of_first = if self.count > n as u64 {
            format!(" (of the first {n})")
        } else {
            String::new()
        };
        Some(format!(
            "round trips of {} {pings}: min {}, median {}{of_first}, max {}",
            self.count,
            ms(min),
            ms(median),
            ms(max)
        ))
    }
}

impl Stats {
    /// Counts a data message we send.
    pub fn sent(&mut self) {
        if self.first_sent.is_none() {
            self.first_sent = Some(Instant::now());
        }
        self.messages_out += 1;
    }

    /// Counts a data message that came.
    pub fn received(&mut self) {
        self.messages_in += 1;
        if self.first_sent.is_none() {
            self.unasked += 1;
        }
    }

    pub fn messages_out(&self) -> u64 {
        self.messages_out
    }

    /// Messages that came since we first sent one: what may answer us.
    pub fn answers(&self) -> u64 {
        self.messages_in - self.unasked
    }

    pub fn new(now: Instant) -> Self {
        Stats {
            started: now,
            messages_in: 0,
            messages_out: 0,
            unasked: 0,
            first_sent: None,
            pings: VecDeque::new(),
            last_rtt: None,
            round_trips: RoundTrips::default(),
        }
    }

    pub fn ping_sent(&mut self, payload: Vec<u8>, now: Instant) {
        self.pings.push_back((payload, now));
    }

    /// The round trip of the ping this pong echoes, if it echoes one.
    /// `on_wire`: the round trip as the wire saw it, when known; else it
    /// counts from when the ping was queued.
    pub fn pong_received(
        &mut self,
        payload: &[u8],
        now: Instant,
        on_wire: Option<Duration>,
    ) -> Option<Duration> {
        let i = self.pings.iter().position(|(p, _)| p == payload)?;
        let (_, sent) = self.pings.remove(i)?;
        let rtt = on_wire.unwrap_or(now - sent);
        self.timed(rtt);
        Some(rtt)
    }

    /// A round trip, from /ping or a keepalive ping.
    pub fn timed(&mut self, rtt: Duration) {
        self.last_rtt = Some(rtt);
        self.round_trips.add(rtt);
    }

    /// The counters part of /status: frames and bytes (out, in).
    pub fn describe(&self, frames: (u64, u64), bytes: (u64, u64), now: Instant) -> String {
        let ((frames_out, frames_in), (bytes_out, bytes_in)) = (frames, bytes);
        let rtt = self.last_rtt.map_or_else(
            || "none yet".to_string(),
            |d| format!("{:.2} ms", d.as_secs_f64() * 1000.0),
        );
        format!(
            "up {:.1} s; out: {frames_out} frames, {bytes_out} bytes; in: {frames_in} frames, {bytes_in} bytes; last ping round trip: {rtt}",
            (now - self.started).as_secs_f64(),
        )
    }
}

/// -n and --until: when enough has come in, the session closes.
pub struct StopRules {
    pub count: Option<u64>,
    pub until: Option<regex::Regex>,
    messages: u64,
    /// Met: later messages are not shown while the close finishes.
    pub met: bool,
}

impl StopRules {
    pub fn new(count: Option<u64>, until: Option<regex::Regex>) -> Self {
        StopRules {
            count,
            until,
            messages: 0,
            met: false,
        }
    }

    /// Whether the session waits for something after its input ends.
    pub fn waits(&self) -> bool {
        self.count.is_some() || self.until.is_some()
    }

    /// Counts an incoming data message; true when it meets a rule.
    pub fn meets(&mut self, binary: bool, data: &[u8]) -> bool {
        self.messages += 1;
        let counted = self.count.is_some_and(|n| self.messages >= n);
        let matched = self.until.as_ref().is_some_and(|re| {
            if binary {
                re.is_match(&crate::observe::hex(data))
            } else {
                re.is_match(&String::from_utf8_lossy(data))
            }
        });
        self.met |= counted || matched;
        counted || matched
    }

    /// What the session was waiting for and did not get, in words, for a
    /// session that ended first (the exit code alone would say "closed
    /// normally").
    pub fn unmet(&self, peer: &str) -> Option<String> {
        if self.met || !self.waits() {
            return None;
        }
        let goal = match (self.count, &self.until) {
            (Some(n), None) => format!("-n {n}"),
            (None, Some(re)) => format!("--until /{re}/"),
            (Some(n), Some(re)) => format!("-n {n} or --until /{re}/"),
            (None, None) => return None,
        };
        let got = match self.messages {
            1 => "1 message".to_string(),
            n => format!("{n} messages"),
        };
        Some(format!(
            "the session ended before {goal} was met: the {peer} sent {got}"
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unmet_goal_is_named_with_what_came() {
        let mut rules = StopRules::new(Some(3), None);
        rules.meets(false, b"a");
        assert_eq!(
            rules.unmet("server").as_deref(),
            Some("the session ended before -n 3 was met: the server sent 1 message")
        );
        rules.meets(false, b"b");
        rules.meets(false, b"c");
        assert_eq!(rules.unmet("server"), None);
        let until = StopRules::new(None, Some(regex::Regex::new("^ok$").unwrap()));
        assert_eq!(
            until.unmet("client").as_deref(),
            Some("the session ended before --until /^ok$/ was met: the client sent 0 messages")
        );
        assert_eq!(StopRules::new(None, None).unmet("server"), None);
    }

    use super::*;

    #[test]
    fn the_round_trip_summary_has_count_min_median_and_max() {
        let mut trips = RoundTrips::default();
        assert_eq!(trips.summary(), None);
        for ms in [9, 1, 4, 2] {
            trips.add(Duration::from_millis(ms));
        }
        assert_eq!(
            trips.summary().unwrap(),
            "round trips of 4 pings: min 1.00 ms, median 3.00 ms, max 9.00 ms"
        );
        trips.add(Duration::from_millis(5));
        assert!(trips.summary().unwrap().contains("median 4.00 ms"));
    }

    #[test]
    fn pongs_are_paired_with_their_pings_by_payload() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0);
        stats.ping_sent(b"a".to_vec(), t0);
        stats.ping_sent(b"b".to_vec(), t0 + Duration::from_millis(5));
        let later = t0 + Duration::from_millis(20);
        assert_eq!(
            stats.pong_received(b"b", later, None),
            Some(Duration::from_millis(15))
        );
        assert_eq!(stats.pong_received(b"b", later, None), None);
        assert_eq!(
            stats.pong_received(b"a", later, None),
            Some(Duration::from_millis(20))
        );
    }

    #[test]
    fn count_and_until_stop_the_session() {
        let mut rules = StopRules::new(Some(2), None);
        assert!(!rules.meets(false, b"x"));
        assert!(rules.meets(false, b"y"));
        let mut rules = StopRules::new(None, Some(regex::Regex::new("^ca").unwrap()));
        assert!(!rules.meets(false, b"x"));
        assert!(rules.meets(true, &[0xca, 0xfe]), "binary is matched as hex");
    }
}
