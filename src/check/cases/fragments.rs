//! Category 5, fragmentation: a message in fragments is echoed whole,
//! however its octets are written and with pings between its fragments;
//! a fragmented control frame, a continuation with nothing to continue,
//! or a new message inside a fragmented one fails the connection with 1002.

use crate::check::case::{Behavior, Case, Event, ExpectedClose, Frame, Step};

const RFC: &str = "RFC 6455 §5.4";
const NOTHING_TO_CONTINUE: &str =
    "The connection is failed immediately, since there is no message to continue.";

/// How a case's frames are written.
#[derive(Clone, Copy)]
enum Writes {
    /// As the socket takes them.
    Whole,
    /// Each frame flushed on its own (the suite's frame-wise chops).
    FrameByFrame,
    /// Octet by octet.
    OctetByOctet,
}

impl Writes {
    fn apply(self, frame: Frame) -> Frame {
        match self {
            Writes::Whole => frame,
            Writes::FrameByFrame => frame.sync(),
            Writes::OctetByOctet => frame.chop(1),
        }
    }
}

fn text(payload: &str) -> Frame {
    Frame::text(payload.as_bytes())
}

fn continuation(payload: &str) -> Frame {
    Frame::new(0, payload.as_bytes())
}

fn ping(payload: &str) -> Frame {
    Frame::new(9, payload.as_bytes())
}

/// Frames written in order, then a second for the server to fail us.
fn refused(id: &str, description: &str, expectation: &str, frames: Vec<Frame>) -> Case {
    let mut case = Case::new(id, description, RFC).expectation(expectation);
    for frame in frames {
        case = case.send(frame);
    }
    case.kill_after(1.0)
        .expect(Behavior::Ok, vec![])
        .close(ExpectedClose::by_peer(&[1002]))
}

/// Frames written in order; the events come back, then we close.
fn echoed(
    id: &str,
    description: &str,
    expectation: &str,
    frames: Vec<Frame>,
    events: Vec<Event>,
) -> Case {
    let mut case = Case::new(id, description, RFC).expectation(expectation);
    for frame in frames {
        case = case.send(frame);
    }
    case.step(Step::CloseAfter(1.0))
        .expect(Behavior::Ok, events)
        .close(ExpectedClose::by_me(&[1000]))
}

pub fn cases() -> Vec<Case> {
    let control_fragmented =
        "Connection is failed immediately, since control message MUST NOT be fragmented.";
    let mut cases = vec![
        refused(
            "5.1",
            "Send Ping fragmented into 2 fragments.",
            control_fragmented,
            vec![ping("fragment1").fin(false), continuation("fragment2")],
        ),
        refused(
            "5.2",
            "Send Pong fragmented into 2 fragments.",
            control_fragmented,
            vec![
                Frame::new(10, b"fragment1".as_slice()).fin(false),
                continuation("fragment2"),
            ],
        ),
    ];
    let ways = [
        (Writes::Whole, ""),
        (
            Writes::FrameByFrame,
            ", octets are sent in frame-wise chops",
        ),
        (
            Writes::OctetByOctet,
            ", octets are sent in octet-wise chops",
        ),
    ];
    for (n, (writes, how)) in ways.into_iter().enumerate() {
        cases.push(echoed(
            &format!("5.{}", 3 + n),
            &format!("Send text Message fragmented into 2 fragments{how}."),
            "Message is processed and echo'ed back to us.",
            vec![
                writes.apply(text("fragment1").fin(false)),
                writes.apply(continuation("fragment2")),
            ],
            vec![Event::text("fragment1fragment2")],
        ));
    }
    let ways = [
        (Writes::Whole, ""),
        (
            Writes::FrameByFrame,
            " Octets are sent in frame-wise chops.",
        ),
        (
            Writes::OctetByOctet,
            " Octets are sent in octet-wise chops.",
        ),
    ];
    for (n, (writes, how)) in ways.into_iter().enumerate() {
        cases.push(echoed(
            &format!("5.{}", 6 + n),
            &format!("Send text Message fragmented into 2 fragments, one ping with payload in-between.{how}"),
            "A pong is received, then the message is echo'ed back to us.",
            vec![
                writes.apply(text("fragment1").fin(false)),
                writes.apply(ping("ping payload")),
                writes.apply(continuation("fragment2")),
            ],
            vec![
                Event::pong("ping payload"),
                Event::text("fragment1fragment2"),
            ],
        ));
    }
    let chops = [
        (Writes::Whole, "in one chop"),
        (Writes::FrameByFrame, "in per-frame chops"),
        (Writes::OctetByOctet, "in octet-wise chops"),
    ];
    for (group, fin) in [(9, true), (12, false)] {
        let flag = if fin { "true" } else { "false" };
        for (n, (writes, how)) in chops.into_iter().enumerate() {
            cases.push(refused(
                &format!("5.{}", group + n),
                &format!("Send unfragmented Text Message after Continuation Frame with FIN = {flag}, where there is nothing to continue, sent {how}."),
                NOTHING_TO_CONTINUE,
                vec![
                    writes.apply(continuation("non-continuation payload").fin(fin)),
                    writes.apply(text("Hello, world!")),
                ],
            ));
        }
    }
    // The first message is good (its echo is OK, none NON-STRICT); what
    // follows it is not.
    cases.push(
        Case::new(
            "5.15",
            "Send text Message fragmented into 2 fragments, then Continuation Frame with FIN = false where there is nothing to continue, then unfragmented Text Message, all sent in one chop.",
            RFC,
        )
        .expectation(NOTHING_TO_CONTINUE)
        .send(text("fragment1").fin(false))
        .send(continuation("fragment2"))
        .send(continuation("fragment3").fin(false))
        .send(text("fragment4"))
        .kill_after(1.0)
        .expect(Behavior::Ok, vec![Event::text("fragment1fragment2")])
        .expect(Behavior::NonStrict, vec![])
        .close(ExpectedClose::by_peer(&[1002])),
    );
    for (id, fin, flag) in [("5.16", false, "false"), ("5.17", true, "true")] {
        let twice = (0..2)
            .flat_map(|_| {
                [
                    continuation("fragment1").fin(fin),
                    text("fragment2").fin(false),
                    continuation("fragment3"),
                ]
            })
            .collect();
        cases.push(refused(
            id,
            &format!("Repeated 2x: Continuation Frame with FIN = {flag} (where there is nothing to continue), then text Message fragmented into 2 fragments."),
            NOTHING_TO_CONTINUE,
            twice,
        ));
    }
    cases.push(refused(
        "5.18",
        "Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent in one chop.",
        "The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.",
        vec![text("fragment1").fin(false), text("fragment2")],
    ));
    cases.push(pings_while_fragmented("5.19", Writes::Whole));
    cases.push(pings_while_fragmented("5.20", Writes::FrameByFrame));
    cases
}

/// 5.19 and 5.20: a message in five fragments, a ping after the second,
/// a second's pause, and another ping before the last. Both pongs come
/// before the echo: the first long before the message is complete.
fn pings_while_fragmented(id: &str, writes: Writes) -> Case {
    let (description, expectation) = if id == "5.19" {
        (
            "A fragmented text message is sent in multiple frames. After sending the first 2 frames of the text message, a Ping is sent. Then we wait 1s, then we send 2 more text fragments, another Ping and then the final text fragment. Everything is legal.",
            "The peer immediately answers the first Ping before it has received the last text message fragment. The peer pong's back the Ping's payload exactly, and echo's the payload of the fragmented message back to us.",
        )
    } else {
        (
            "Same as Case 5.19, but send all frames with SYNC = True. Note, this does not change the octets sent in any way, only how the stream is chopped up on the wire.",
            "Same as Case 5.19. Implementations must be agnostic to how octet stream is chopped up on wire (must be TCP clean).",
        )
    };
    let w = |frame| writes.apply(frame);
    Case::new(id, description, RFC)
        .expectation(expectation)
        .send(w(text("fragment1").fin(false)))
        .send(w(continuation("fragment2").fin(false)))
        .send(w(ping("pongme 1!")))
        .pause(1.0)
        .send(w(continuation("fragment3").fin(false)))
        .send(w(continuation("fragment4").fin(false)))
        .send(w(ping("pongme 2!")))
        .send(w(continuation("fragment5")))
        .step(Step::CloseAfter(1.0))
        .expect(
            Behavior::Ok,
            vec![
                Event::pong("pongme 1!"),
                Event::pong("pongme 2!"),
                Event::text("fragment1fragment2fragment3fragment4fragment5"),
            ],
        )
        .close(ExpectedClose::by_me(&[1000]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_suites_in_order() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        let expected: Vec<String> = (1..=20).map(|n| format!("5.{n}")).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn what_is_refused_expects_1002_and_what_is_legal_its_echo() {
        for case in cases() {
            let legal = ["5.3", "5.4", "5.5", "5.6", "5.7", "5.8", "5.19", "5.20"]
                .contains(&case.id.as_str());
            if legal {
                assert_eq!(case.close, ExpectedClose::by_me(&[1000]), "{}", case.id);
                let echo = case.expected[0].1.last().unwrap().clone();
                assert!(
                    matches!(echo, Event::Message { binary: false, .. }),
                    "{}",
                    case.id
                );
            } else {
                assert_eq!(case.close, ExpectedClose::by_peer(&[1002]), "{}", case.id);
            }
        }
    }

    #[test]
    fn pauses_record_nothing() {
        let case = pings_while_fragmented("5.19", Writes::Whole);
        assert!(case
            .steps
            .iter()
            .any(|s| matches!(s, Step::Later { secs, tag: "" } if *secs == 1.0)));
        assert!(case.expected[0]
            .1
            .iter()
            .all(|e| !matches!(e, Event::Timeout(_))));
    }
}
