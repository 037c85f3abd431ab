//! How long a session keeps reading after its input has ended, when -w
//! does not say: until the peer has been quiet for a few round trips (two
//! once it has answered every message), or for longer while a peer that
//! answers messages still owes answers. A
//! server that drops the replies it has not sent once a Close arrives
//! (Python's `websockets` does) then loses nothing, and a one-message run
//! still ends a few round trips after its reply. Before its first answer
//! a peer handed a burst may still be reading it (Python's `websockets`
//! took 20-30 ms to answer the first of 5,000 lines), so that quiet grows
//! with the messages sent. The quiet counts from the last byte received,
//! or from when our last held-back writes went out (`close_deadline`).

use std::time::Duration;

/// The quiet that ends a session, in round trips of the opening handshake:
/// fewer once every message was answered.
const ROUND_TRIPS: u32 = 4;
const ROUND_TRIPS_ANSWERED: u32 = 2;
const SHORTEST: Duration = Duration::from_millis(5);
const SHORTEST_ANSWERED: Duration = Duration::from_millis(1);
const LONGEST: Duration = Duration::from_millis(250);
/// When no round trip was measured (wscope is the server).
const UNMEASURED: Duration = Duration::from_millis(50);
/// The quiet allowed while answers are owed.
const OWED: Duration = Duration::from_secs(1);
/// Before any answer: the time a peer may take to read each message sent.
const READING_EACH: Duration = Duration::from_micros(20);

/// The silence after which the session closes. `rtt` is the opening
/// handshake's round trip; `sent` and `received` count data messages.
pub fn silence(rtt: Option<Duration>, sent: u64, received: u64) -> Duration {
    // A peer that has answered some messages but not all is still busy.
    if received > 0 && received < sent {
        return OWED;
    }
    let (trips, shortest) = if received > 0 {
        (ROUND_TRIPS_ANSWERED, SHORTEST_ANSWERED)
    } else {
        (ROUND_TRIPS, SHORTEST)
    };
    let reading = if received == 0 {
        READING_EACH.saturating_mul(u32::try_from(sent).unwrap_or(u32::MAX))
    } else {
        Duration::ZERO
    };
    rtt.map_or(UNMEASURED, |rtt| rtt * trips)
        .saturating_add(reading)
        .clamp(shortest, LONGEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_round_trips_bounded_both_ways() {
        let ms = Duration::from_millis;
        assert_eq!(silence(Some(ms(2)), 0, 0), ms(8));
        assert_eq!(silence(Some(ms(2)), 1, 1), ms(4), "everything answered");
        assert_eq!(silence(Some(Duration::from_micros(100)), 0, 0), SHORTEST);
        assert_eq!(
            silence(Some(Duration::from_micros(100)), 1, 1),
            SHORTEST_ANSWERED
        );
        assert_eq!(silence(Some(ms(900)), 3, 3), LONGEST);
        assert_eq!(silence(None, 0, 0), UNMEASURED);
    }

    #[test]
    fn a_peer_that_answers_gets_longer_while_it_owes_answers() {
        let rtt = Some(Duration::from_millis(1));
        assert_eq!(silence(rtt, 5000, 256), OWED);
        assert_eq!(silence(rtt, 5000, 5000), Duration::from_millis(2));
        // One that has not answered yet gets time to read what it was sent.
        assert_eq!(silence(rtt, 10, 0), Duration::from_millis(5));
        assert_eq!(silence(rtt, 5000, 0), Duration::from_millis(104));
        assert_eq!(silence(rtt, 1_000_000, 0), LONGEST);
        assert_eq!(silence(None, 5000, 0), Duration::from_millis(150));
    }
}
