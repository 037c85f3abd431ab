//! Category 1, framing: text and binary messages of every length encoding
//! (7-bit, 16-bit and 64-bit lengths, at their edges), each sent as one
//! frame and echoed back, the largest also written in chops of 997 octets.

use crate::check::case::{Behavior, Case, Event, Frame};

const RFC: &str = "RFC 6455 §5.2";

/// Payload lengths at the edges of the length encodings; the last twice,
/// the second time in chops.
const LENGTHS: [usize; 7] = [0, 125, 126, 127, 128, 65535, 65536];
const CHOP: usize = 997;

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (group, binary) in [(1, false), (2, true)] {
        let (kind, fill) = if binary {
            ("binary", 0xfe)
        } else {
            ("text", b'*')
        };
        let runs = LENGTHS
            .iter()
            .map(|&len| (len, None))
            .chain([(65536, Some(CHOP))]);
        for (n, (len, chop)) in runs.enumerate() {
            let payload = vec![fill; len];
            let description = match (len, chop) {
                (0, _) => format!("Send {kind} message with payload 0."),
                (_, None) => format!("Send {kind} message message with payload of length {len}."),
                (_, Some(chop)) => format!(
                    "Send {kind} message message with payload of length {len}. Sent out data in chops of {chop} octets."
                ),
            };
            let expectation = if len == 0 {
                format!("Receive echo'ed {kind} message (with empty payload). Clean close with normal code.")
            } else {
                format!("Receive echo'ed {kind} message (with payload as sent). Clean close with normal code.")
            };
            let mut frame = Frame::new(if binary { 2 } else { 1 }, payload.clone());
            if let Some(chop) = chop {
                frame = frame.chop(chop);
            }
            let echo = if binary {
                Event::binary(payload)
            } else {
                Event::text(payload)
            };
            cases.push(
                Case::new(format!("1.{group}.{}", n + 1), description, RFC)
                    .expectation(expectation)
                    .send(frame)
                    // The big ones get longer: they are echoed in many reads.
                    .kill_after(if len > 128 { 10.0 } else { 1.0 })
                    .expect(Behavior::Ok, vec![echo]),
            );
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::case::{ExpectedClose, Step};

    #[test]
    fn ids_are_the_suites_in_order() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        let expected: Vec<String> = (1..=2)
            .flat_map(|g| (1..=8).map(move |n| format!("1.{g}.{n}")))
            .collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn each_case_sends_one_frame_and_expects_it_back() {
        for case in cases() {
            let Step::Frame(frame) = &case.steps[0] else {
                panic!("{}: {:?}", case.id, case.steps[0]);
            };
            let echo = if frame.opcode == 2 {
                Event::binary(frame.full_payload())
            } else {
                Event::text(frame.full_payload())
            };
            assert_eq!(
                case.expected,
                vec![(Behavior::Ok, vec![echo])],
                "{}",
                case.id
            );
            assert_eq!(case.close, ExpectedClose::by_me(&[1000]));
            assert_eq!(frame.chop.is_some(), case.id.ends_with(".8"), "{}", case.id);
        }
    }
}
