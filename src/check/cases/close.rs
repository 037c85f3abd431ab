//! Category 7, close handling: what a server does with frames that follow
//! a Close, with Close payloads of every length (none, one octet, a code,
//! a reason up to the 125-octet limit and past it, a reason that is not
//! UTF-8), and with every kind of close code: the valid ones are answered
//! (with 1000 or the same code), the invalid ones with 1002. A wrong code
//! in the answer fails the case.

use crate::check::case::{Behavior, Case, Event, ExpectedClose, Frame, Step};

const RFC: &str = "RFC 6455 §5.5.1";
const CODES_RFC: &str = "RFC 6455 §7.4";
const HELLO: &[u8] = b"Hello World!";
/// "κόσμε", a lone surrogate (ED A0 80: not UTF-8), then "edited".
const NOT_UTF8: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited";

/// Close codes the server must accept, answering with 1000 or the same.
const VALID_CODES: [u16; 13] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
];
/// Close codes no endpoint may send: the server answers 1002 or drops TCP.
const INVALID_CODES: [u16; 9] = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

pub fn cases() -> Vec<Case> {
    let mut cases = after_the_close();
    cases.extend(payloads());
    cases.extend(codes());
    cases
}

fn close(code: Option<u16>, reason: &[u8]) -> Step {
    Step::Close {
        code,
        reason: reason.to_vec(),
    }
}

/// Clean close with 1000, nothing else expected; the case sends its own
/// Close, so ours is never added.
fn clean_close(case: Case) -> Case {
    case.kill_after(1.0)
        .expect(Behavior::Ok, vec![])
        .close(ExpectedClose::by_me(&[1000]))
        .suppress_close()
        .wrong_code_fails()
}

/// 7.1.x: frames after our Close are ignored.
fn after_the_close() -> Vec<Case> {
    let normal = || close(Some(1000), b"");
    vec![
        Case::new("7.1.1", "Send a message followed by a close frame", RFC)
            .expectation("Echoed message followed by clean close with normal code.")
            .send(Frame::text(HELLO))
            .kill_after(1.0)
            .expect(Behavior::Ok, vec![Event::text(HELLO)])
            .close(ExpectedClose::by_me(&[1000]))
            .wrong_code_fails(),
        clean_close(
            Case::new("7.1.2", "Send two close frames", RFC)
                .expectation("Clean close with normal code. Second close frame ignored.")
                .step(normal())
                .send(Frame::new(8, b"".as_slice())),
        ),
        clean_close(
            Case::new("7.1.3", "Send a ping after close message", RFC)
                .expectation("Clean close with normal code, no pong.")
                .step(normal())
                .send(Frame::new(9, b"".as_slice())),
        ),
        clean_close(
            Case::new("7.1.4", "Send text message after sending a close frame.", RFC)
                .expectation("Clean close with normal code. Text message ignored.")
                .step(normal())
                .send(Frame::text(HELLO)),
        ),
        clean_close(
            Case::new(
                "7.1.5",
                "Send message fragment1 followed by close then fragment",
                RFC,
            )
            .expectation("Clean close with normal code.")
            .send(Frame::text(b"fragment1".as_slice()).fin(false))
            .step(normal())
            .send(Frame::new(0, b"fragment2".as_slice())),
        ),
        // A big message, then the Close right behind it: whether the echo
        // comes back first is up to the server's design.
        Case::new("7.1.6", "Send 256K message followed by close then a ping", RFC)
            .expectation("Case outcome depends on implementation defined close behavior. Message and close frame are sent back to back. If the close frame is processed before the text message write is complete (as can happen in asynchronous processing models) the close frame is processed first and the text message may not be received or may only be partially received.")
            .send(Frame::text(b"BAsd7&jh23".as_slice()).repeat_to(256 << 10))
            .send(Frame::text(HELLO))
            .step(normal())
            .send(Frame::new(9, b"".as_slice()))
            .kill_after(1.0)
            .expect(Behavior::Ok, vec![Event::text(HELLO)])
            .expect(Behavior::NonStrict, vec![])
            .close(ExpectedClose::by_me(&[1000]))
            .suppress_close()
            .informational(),
    ]
}

/// 7.3.x and 7.5.1: Close payloads from empty to too long, and a reason
/// that is not UTF-8.
fn payloads() -> Vec<Case> {
    let refused = |codes: &[u16]| ExpectedClose::by_me(codes).clean(false);
    vec![
        clean_close(
            Case::new("7.3.1", "Send a close frame with payload length 0 (no close code, no close reason)", RFC)
                .expectation("Clean close with normal code.")
                .step(close(None, b"")),
        ),
        clean_close(
            Case::new("7.3.2", "Send a close frame with payload length 1", RFC)
                .expectation("Clean close with protocol error or drop TCP.")
                .step(close(None, b"a")),
        )
        .close(refused(&[1002])),
        clean_close(
            Case::new("7.3.3", "Send a close frame with payload length 2 (regular close with a code)", RFC)
                .expectation("Clean close with normal code.")
                .step(close(Some(1000), b"")),
        ),
        clean_close(
            Case::new("7.3.4", "Send a close frame with close code and close reason", RFC)
                .expectation("Clean close with normal code.")
                .step(close(Some(1000), HELLO)),
        ),
        clean_close(
            Case::new("7.3.5", "Send a close frame with close code and close reason of maximum length (123)", RFC)
                .expectation("Clean close with normal code.")
                .step(close(Some(1000), &[b'*'; 123])),
        ),
        clean_close(
            Case::new("7.3.6", "Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets", RFC)
                .expectation("Clean close with protocol error code or dropped TCP connection.")
                .step(close(Some(1000), &[b'*'; 124])),
        )
        .close(refused(&[1002])),
        clean_close(
            Case::new("7.5.1", "Send a close frame with invalid UTF8 payload", "RFC 6455 §8.1")
                .expectation("Clean close with protocol error or invalid utf8 code or dropped TCP.")
                .step(close(Some(1000), NOT_UTF8)),
        )
        .close(refused(&[1002, 1007])),
    ]
}

/// 7.7.x, 7.9.x and 7.13.x: close codes valid, invalid, and undefined.
fn codes() -> Vec<Case> {
    let mut cases = Vec::new();
    for (n, &code) in VALID_CODES.iter().enumerate() {
        cases.push(
            Case::new(
                format!("7.7.{}", n + 1),
                format!("Send close with valid close code {code}"),
                CODES_RFC,
            )
            .expectation("Clean close with normal or echoed code")
            .step(close(Some(code), b""))
            .kill_after(1.0)
            .expect(Behavior::Ok, vec![])
            .close(ExpectedClose::by_me(&[1000, code]))
            .wrong_code_fails(),
        );
    }
    for (n, &code) in INVALID_CODES.iter().enumerate() {
        cases.push(
            Case::new(
                format!("7.9.{}", n + 1),
                format!("Send close with invalid close code {code}"),
                CODES_RFC,
            )
            .expectation("Clean close with protocol error code or drop TCP")
            .step(close(Some(code), b""))
            .kill_after(1.0)
            .expect(Behavior::Ok, vec![])
            .close(ExpectedClose::by_me(&[1002]).clean(false))
            .wrong_code_fails(),
        );
    }
    // Codes past those the RFC defines: anything the server does is noted.
    for (n, code) in [5000u16, 65535].into_iter().enumerate() {
        cases.push(
            Case::new(
                format!("7.13.{}", n + 1),
                format!("Send close with close code {code}"),
                CODES_RFC,
            )
            .expectation("Actual events are undefined by the spec.")
            .step(close(Some(code), b""))
            .kill_after(1.0)
            .expect(Behavior::Ok, vec![])
            .close(ExpectedClose::by_me(&[1000, code, 1002]).clean(false))
            .suppress_close()
            .informational(),
        );
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_suites_in_order() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        let mut expected: Vec<String> = (1..=6).map(|n| format!("7.1.{n}")).collect();
        expected.extend((1..=6).map(|n| format!("7.3.{n}")));
        expected.push("7.5.1".into());
        expected.extend((1..=13).map(|n| format!("7.7.{n}")));
        expected.extend((1..=9).map(|n| format!("7.9.{n}")));
        expected.extend((1..=2).map(|n| format!("7.13.{n}")));
        assert_eq!(expected.len(), 37);
        assert_eq!(ids, expected);
    }

    #[test]
    fn a_wrong_code_fails_every_case_but_the_informational_ones() {
        for case in cases() {
            assert_eq!(case.wrong_code_fails, !case.informational, "{}", case.id);
            assert!(case.close.closed_by_me, "{}", case.id);
        }
    }

    #[test]
    fn close_payloads_are_as_long_as_the_case_says() {
        let payload_len = |id: &str| {
            let case = cases().into_iter().find(|c| c.id == id).unwrap();
            case.steps
                .iter()
                .find_map(|s| match s {
                    Step::Close { code, reason } => Some(code.map_or(0, |_| 2) + reason.len()),
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!(payload_len("7.3.1"), 0);
        assert_eq!(payload_len("7.3.2"), 1);
        assert_eq!(payload_len("7.3.5"), 125);
        assert_eq!(payload_len("7.3.6"), 126);
    }
}
