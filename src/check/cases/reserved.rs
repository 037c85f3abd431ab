//! Category 3, reserved bits: with no extension agreed, a frame with any
//! RSV bit set fails the connection with 1002, and nothing sent after it
//! is answered.

use crate::check::case::{Behavior, Case, Event, ExpectedClose, Frame};

const RFC: &str = "RFC 6455 §5.2";
const HELLO: &[u8] = b"Hello, world!";
const FAILED_AFTER_ECHO: &str = "Echo for first message is received, but then connection is failed immediately, since RSV must be 0, when no extension defining RSV meaning has been negotiated. The Pong is not received.";

/// How the three frames of 3.2-3.4 are written.
#[derive(Clone, Copy)]
enum Writes {
    Whole,
    /// Each frame flushed on its own.
    FrameByFrame,
    OctetByOctet,
}

pub fn cases() -> Vec<Case> {
    vec![
        alone(
            "3.1",
            "Send small text message with RSV = 1.",
            "The connection is failed immediately (1002/protocol error), since RSV must be 0, when no extension defining RSV meaning has been negotiated.",
            Frame::text(HELLO).rsv(1),
        ),
        after_an_echo(
            "3.2",
            "Send small text message, then send again with RSV = 2, then send Ping.",
            2,
            Writes::Whole,
        ),
        after_an_echo(
            "3.3",
            "Send small text message, then send again with RSV = 3, then send Ping. Octets are sent in frame-wise chops. Octets are sent in octet-wise chops.",
            3,
            Writes::FrameByFrame,
        ),
        after_an_echo(
            "3.4",
            "Send small text message, then send again with RSV = 4, then send Ping. Octets are sent in octet-wise chops.",
            4,
            Writes::OctetByOctet,
        ),
        alone(
            "3.5",
            "Send small binary message with RSV = 5.",
            "The connection is failed immediately, since RSV must be 0.",
            Frame::binary(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff".as_slice()).rsv(5),
        ),
        alone(
            "3.6",
            "Send Ping with RSV = 6.",
            "The connection is failed immediately, since RSV must be 0.",
            Frame::new(9, HELLO).rsv(6),
        ),
        alone(
            "3.7",
            "Send Close with RSV = 7.",
            "The connection is failed immediately, since RSV must be 0.",
            Frame::new(8, b"".as_slice()).rsv(7),
        ),
    ]
}

fn alone(id: &str, description: &str, expectation: &str, frame: Frame) -> Case {
    Case::new(id, description, RFC)
        .expectation(expectation)
        .send(frame)
        .kill_after(1.0)
        .expect(Behavior::Ok, vec![])
        .close(ExpectedClose::by_peer(&[1002]))
}

/// A good message, the bad frame, then a ping: the echo is expected, the
/// pong is not. A server that fails before echoing is NON-STRICT.
fn after_an_echo(id: &str, description: &str, rsv: u8, writes: Writes) -> Case {
    let write = |frame: Frame| match writes {
        Writes::Whole => frame,
        Writes::FrameByFrame => frame.sync(),
        Writes::OctetByOctet => frame.chop(1),
    };
    Case::new(id, description, RFC)
        .expectation(FAILED_AFTER_ECHO)
        .send(write(Frame::text(HELLO)))
        .send(write(Frame::text(HELLO).rsv(rsv)))
        .send(write(Frame::new(9, b"".as_slice())))
        .kill_after(1.0)
        .expect(Behavior::Ok, vec![Event::text(HELLO)])
        .expect(Behavior::NonStrict, vec![])
        .close(ExpectedClose::by_peer(&[1002]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::case::Step;

    #[test]
    fn ids_are_the_suites_in_order() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        let expected: Vec<String> = (1..=7).map(|n| format!("3.{n}")).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn each_case_sets_its_number_as_the_rsv_bits_and_expects_1002() {
        for (n, case) in cases().into_iter().enumerate() {
            let rsv: Vec<u8> = case
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Frame(f) if f.rsv != 0 => Some(f.rsv),
                    _ => None,
                })
                .collect();
            assert_eq!(rsv, vec![n as u8 + 1], "{}", case.id);
            assert_eq!(case.close, ExpectedClose::by_peer(&[1002]));
        }
    }
}
