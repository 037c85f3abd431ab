//! Category 4, opcodes: a frame with a reserved opcode (3-7 for data,
//! 11-15 for control) fails the connection with 1002, and nothing sent
//! after it is answered.

use crate::check::case::{Behavior, Case, Event, ExpectedClose, Frame};

const RFC: &str = "RFC 6455 §5.2";
const HELLO: &[u8] = b"Hello, world!";
const FAILED_AFTER_ECHO: &str = "Echo for first message is received, but then connection is failed immediately, since reserved opcode frame is used. A Pong is not received.";

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (group, first, kind) in [(1, 3u8, "non-control"), (2, 11u8, "control")] {
        for n in 0..5u8 {
            let opcode = first + n;
            let id = format!("4.{group}.{}", n + 1);
            // The first of each group has no payload; the others do.
            let payload: &[u8] = match n {
                0 | 2 => b"",
                1 => b"reserved opcode payload",
                _ => HELLO,
            };
            let with_payload = if payload.is_empty() {
                ""
            } else {
                " and non-empty payload"
            };
            let description = format!("reserved {kind} Opcode = {opcode}{with_payload}");
            // The last of each group is written octet by octet.
            let write = |frame: Frame| if n == 4 { frame.chop(1) } else { frame };
            let frame = write(Frame::new(opcode, payload));
            let case = if n < 2 {
                Case::new(id, format!("Send frame with {description}."), RFC)
                    .expectation("The connection is failed immediately.")
                    .send(frame)
                    .expect(Behavior::Ok, vec![])
            } else {
                Case::new(
                    id,
                    format!("Send small text message, then send frame with {description}, then send Ping."),
                    RFC,
                )
                .expectation(FAILED_AFTER_ECHO)
                .send(write(Frame::text(HELLO)))
                .send(frame)
                .send(write(Frame::new(9, b"".as_slice())))
                .expect(Behavior::Ok, vec![Event::text(HELLO)])
                .expect(Behavior::NonStrict, vec![])
            };
            cases.push(case.kill_after(1.0).close(ExpectedClose::by_peer(&[1002])));
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::case::Step;

    #[test]
    fn ids_and_opcodes_are_the_suites() {
        let found: Vec<(String, u8)> = cases()
            .into_iter()
            .map(|c| {
                let reserved = c.steps.iter().find_map(|s| match s {
                    Step::Frame(f) if ![1, 9].contains(&f.opcode) => Some(f.opcode),
                    _ => None,
                });
                (c.id, reserved.unwrap())
            })
            .collect();
        let expected: Vec<(String, u8)> = (3..=7)
            .map(|op| (format!("4.1.{}", op - 2), op))
            .chain((11..=15).map(|op| (format!("4.2.{}", op - 10), op)))
            .collect();
        assert_eq!(found, expected);
    }
}
