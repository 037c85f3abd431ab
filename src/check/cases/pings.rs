//! Category 2, pings and pongs: every ping answered by a pong with its
//! payload, however it is written; an oversized ping fails the connection;
//! an unsolicited pong is ignored.

use crate::check::case::{Behavior, Case, Event, ExpectedClose, Frame, Step};

const RFC: &str = "RFC 6455 §5.5.2";
const PONG_ECHOED: &str =
    "Pong with payload echo'ed is sent in reply to Ping. Clean close with normal code.";
const BINARY: &[u8] = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff";

pub fn cases() -> Vec<Case> {
    let ping = |payload: &[u8]| Frame::new(9, payload.to_vec());
    let pong = |payload: &[u8]| Frame::new(10, payload.to_vec());
    let answered = |case: Case, payload: &[u8], wait: f64| {
        case.step(Step::CloseAfter(wait))
            .expect(Behavior::Ok, vec![Event::pong(payload.to_vec())])
    };
    let big = [0xfe; 125];
    vec![
        answered(
            Case::new("2.1", "Send ping without payload.", RFC)
                .expectation(
                    "Pong (with empty payload) is sent in reply to Ping. Clean close with normal code.",
                )
                .send(ping(b"")),
            b"",
            1.0,
        ),
        answered(
            Case::new("2.2", "Send ping with small text payload.", RFC)
                .expectation(PONG_ECHOED)
                .send(ping(b"Hello, world!")),
            b"Hello, world!",
            1.0,
        ),
        answered(
            Case::new("2.3", "Send ping with small binary (non UTF-8) payload.", RFC)
                .expectation(PONG_ECHOED)
                .send(ping(BINARY)),
            BINARY,
            1.0,
        ),
        answered(
            Case::new("2.4", "Send ping with binary payload of 125 octets.", RFC)
                .expectation(PONG_ECHOED)
                .send(ping(&big)),
            &big,
            1.0,
        ),
        Case::new("2.5", "Send ping with binary payload of 126 octets.", "RFC 6455 §5.5")
            .expectation("Connection is failed immediately (1002/Protocol Error), since control frames are only allowed to have payload up to and including 125 octets..")
            .send(ping(&[0xfe; 126]))
            .kill_after(1.0)
            .expect(Behavior::Ok, vec![])
            .close(ExpectedClose::by_peer(&[1002])),
        answered(
            Case::new("2.6", "Send ping with binary payload of 125 octets, send in octet-wise chops.", RFC)
                .expectation("Pong with payload echo'ed is sent in reply to Ping. Implementations must be TCP clean. Clean close with normal code.")
                .send(ping(&big).chop(1)),
            &big,
            2.0,
        ),
        Case::new("2.7", "Send unsolicited pong without payload. Verify nothing is received. Clean close with normal code.", "RFC 6455 §5.5.3")
            .expectation("Nothing.")
            .send(pong(b""))
            .step(close_normally())
            .step(Step::CloseAfter(1.0))
            .expect(Behavior::Ok, vec![]),
        Case::new("2.8", "Send unsolicited pong with payload. Verify nothing is received. Clean close with normal code.", "RFC 6455 §5.5.3")
            .expectation("Nothing.")
            .send(pong(b"unsolicited pong payload"))
            .step(close_normally())
            .step(Step::CloseAfter(1.0))
            .expect(Behavior::Ok, vec![]),
        answered(
            Case::new("2.9", "Send unsolicited pong with payload. Send ping with payload. Verify pong for ping is received.", "RFC 6455 §5.5.3")
                .expectation("Nothing in reply to own Pong, but Pong with payload echo'ed in reply to Ping. Clean close with normal code.")
                .send(pong(b"unsolicited pong payload"))
                .send(ping(b"ping payload")),
            b"ping payload",
            1.0,
        ),
        ten_pings("2.10", "Send 10 Pings with payload.", None),
        ten_pings(
            "2.11",
            "Send 10 Pings with payload. Send out octets in octet-wise chops.",
            Some(1),
        ),
    ]
}

fn close_normally() -> Step {
    Step::Close {
        code: Some(1000),
        reason: Vec::new(),
    }
}

/// Ten pings in a row, each answered in order: not required by the RFC
/// (a pong may answer only the latest ping), but the suite asks for it.
fn ten_pings(id: &str, description: &str, chop: Option<usize>) -> Case {
    let mut case = Case::new(id, description, RFC).expectation(
        "Pongs for our Pings with all the payloads. Note: This is not required by the Spec .. but we check for this behaviour anyway. Clean close with normal code.",
    );
    let mut pongs = Vec::new();
    for i in 0..10 {
        let payload = format!("payload-{i}").into_bytes();
        let mut frame = Frame::new(9, payload.clone());
        if let Some(chop) = chop {
            frame = frame.chop(chop);
        }
        case = case.send(frame);
        pongs.push(Event::pong(payload));
    }
    case.step(Step::CloseAfter(3.0)).expect(Behavior::Ok, pongs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_suites_in_order() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        let expected: Vec<String> = (1..=11).map(|n| format!("2.{n}")).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn every_ping_sent_expects_its_pong_but_the_oversized_one() {
        for case in cases() {
            let pings: Vec<Event> = case
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Frame(f) if f.opcode == 9 => Some(Event::pong(f.full_payload())),
                    _ => None,
                })
                .collect();
            if case.id == "2.5" {
                assert_eq!(case.expected, vec![(Behavior::Ok, vec![])]);
                assert_eq!(case.close, ExpectedClose::by_peer(&[1002]));
            } else {
                assert_eq!(case.expected, vec![(Behavior::Ok, pings)], "{}", case.id);
                assert_eq!(case.close, ExpectedClose::by_me(&[1000]), "{}", case.id);
            }
        }
    }
}
