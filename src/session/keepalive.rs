//! Keepalive pings (--ping-interval) and the limit on their pongs
//! (--ping-timeout), as a small clock the session asks.

use std::time::{Duration, Instant};

pub struct Keepalive {
    interval: Option<Duration>,
    timeout: Option<Duration>,
    next: Option<Instant>,
    /// The unanswered keepalive ping: its payload and when it went out.
    waiting: Option<(Vec<u8>, Instant)>,
    sent: u64,
}

/// What is due now.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// Send a ping with this payload.
    Ping(Vec<u8>),
    /// The pong is overdue by the limit: the connection is dead.
    Dead(Duration),
}

impl Keepalive {
    pub fn new(interval: Option<Duration>, timeout: Option<Duration>, now: Instant) -> Self {
        Keepalive {
            interval,
            timeout,
            next: interval.map(|i| now + i),
            waiting: None,
            sent: 0,
        }
    }

    /// When to wake up for the next ping or for an overdue pong.
    pub fn deadline(&self) -> Option<Instant> {
        let overdue = self
            .waiting
            .as_ref()
            .zip(self.timeout)
            .map(|((_, sent), limit)| *sent + limit);
        match (self.next, overdue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn due(&mut self, now: Instant) -> Due {
        if let (Some((_, sent)), Some(limit)) = (&self.waiting, self.timeout) {
            if now >= *sent + limit {
                return Due::Dead(limit);
            }
        }
        match (self.next, self.interval) {
            (Some(due), Some(interval)) if now >= due => {
                self.sent += 1;
                let payload = format!("wscope keepalive {}", self.sent).into_bytes();
                if self.waiting.is_none() {
                    self.waiting = Some((payload.clone(), now));
                }
                self.next = Some(now + interval);
                Due::Ping(payload)
            }
            _ => Due::Nothing,
        }
    }

    /// A pong that answers the waiting keepalive gives its round trip.
    pub fn answered(&mut self, payload: &[u8], now: Instant) -> Option<Duration> {
        let (_, sent) = self.waiting.take_if(|(p, _)| p == payload)?;
        Some(now - sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_come_each_interval_and_their_pongs_are_timed() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let mut k = Keepalive::new(Some(second), Some(second * 3), t0);
        assert_eq!(k.deadline(), Some(t0 + second));
        assert_eq!(k.due(t0), Due::Nothing);
        let Due::Ping(payload) = k.due(t0 + second) else {
            panic!("a ping is due")
        };
        assert_eq!(k.answered(b"other", t0 + second * 2), None);
        assert_eq!(k.answered(&payload, t0 + second * 2), Some(second));
    }

    #[test]
    fn an_unanswered_ping_is_dead_after_the_timeout() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let mut k = Keepalive::new(Some(second), Some(second * 2), t0);
        assert!(matches!(k.due(t0 + second), Due::Ping(_)));
        assert_eq!(k.deadline(), Some(t0 + second * 2));
        assert!(matches!(k.due(t0 + second * 2), Due::Ping(_)));
        assert_eq!(k.due(t0 + second * 3), Due::Dead(second * 2));
    }

    #[test]
    fn without_an_interval_nothing_is_due() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(None, None, t0);
        assert_eq!(k.deadline(), None);
        assert_eq!(k.due(t0 + Duration::from_secs(100)), Due::Nothing);
    }
}
