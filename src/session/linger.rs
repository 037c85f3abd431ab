//! How long a session keeps reading after its input has ended, when -w
//! does not say. A server that drops the replies it has not sent once a
//! Close arrives (Python's `websockets` does) must lose nothing, and a
//! one-message run must still end soon after its reply:
//! - once the peer has answered every message: two round trips of the
//!   opening handshake (1-250 ms);
//! - while a peer that answers messages still owes answers: up to 1 s;
//! - before any answer: at least 250 ms, for a peer that thinks before it
//!   answers (a query, a lookup: the round trip says nothing of that),
//!   more for a burst it may still be reading (Python's `websockets` took
//!   20-30 ms to answer the first of 5,000 lines) or a long round trip,
//!   at most 1 s.
//!
//! The quiet counts from the last byte received, or from when our last
//! held-back writes went out (`close_deadline`).

use std::time::Duration;

/// Once every message was answered, in round trips of the handshake.
const ROUND_TRIPS_ANSWERED: u32 = 2;
const SHORTEST_ANSWERED: Duration = Duration::from_millis(1);
const LONGEST_ANSWERED: Duration = Duration::from_millis(250);
/// When no round trip was measured (wscope is the server).
const UNMEASURED: Duration = Duration::from_millis(50);
/// While answers are owed.
const OWED: Duration = Duration::from_secs(1);
/// Before any answer: round trips, a time to think, and a time to read
/// each message sent.
const ROUND_TRIPS_UNANSWERED: u32 = 4;
const THINKING: Duration = Duration::from_millis(250);
const READING_EACH: Duration = Duration::from_micros(20);
const LONGEST_UNANSWERED: Duration = Duration::from_secs(1);

/// The silence after which the session closes. `rtt` is the opening
/// handshake's round trip; `sent` and `received` count data messages.
pub fn silence(rtt: Option<Duration>, sent: u64, received: u64) -> Duration {
    if received > 0 && received < sent {
        return OWED;
    }
    if received > 0 {
        return rtt.map_or(UNMEASURED, |rtt| {
            (rtt * ROUND_TRIPS_ANSWERED).clamp(SHORTEST_ANSWERED, LONGEST_ANSWERED)
        });
    }
    let reading = READING_EACH.saturating_mul(u32::try_from(sent).unwrap_or(u32::MAX));
    (rtt.unwrap_or_default() * ROUND_TRIPS_UNANSWERED)
        .saturating_add(reading)
        .clamp(THINKING, LONGEST_UNANSWERED)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn once_everything_is_answered_a_few_round_trips_bounded_both_ways() {
        assert_eq!(silence(Some(ms(2)), 1, 1), ms(4));
        assert_eq!(
            silence(Some(Duration::from_micros(100)), 1, 1),
            SHORTEST_ANSWERED
        );
        assert_eq!(silence(Some(ms(900)), 3, 3), LONGEST_ANSWERED);
        assert_eq!(silence(None, 3, 3), UNMEASURED);
    }

    #[test]
    fn a_peer_that_answers_gets_longer_while_it_owes_answers() {
        assert_eq!(silence(Some(ms(1)), 5000, 256), OWED);
        assert_eq!(silence(Some(ms(1)), 5000, 5000), ms(2));
    }

    #[test]
    fn before_any_answer_time_to_think_and_to_read_a_burst() {
        // One message to a server that takes its time over the answer.
        assert_eq!(silence(Some(ms(1)), 1, 0), THINKING);
        assert_eq!(silence(Some(ms(1)), 0, 0), THINKING);
        assert_eq!(silence(None, 0, 0), THINKING);
        assert_eq!(silence(Some(ms(1)), 20_000, 0), ms(404));
        assert_eq!(silence(Some(ms(100)), 1, 0), Duration::from_micros(400_020));
        assert_eq!(silence(Some(ms(1)), 1_000_000, 0), LONGEST_UNANSWERED);
    }
}
