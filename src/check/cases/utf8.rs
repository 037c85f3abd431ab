//! Category 6, UTF-8 handling: text messages whose payload is valid UTF-8
//! must come back as they went; one that is not must make the server fail
//! the connection with 1007, and as soon as it has the octet that makes the
//! payload invalid (6.4.x). 6.5.1 to 6.23.x are generated from a table of
//! byte sequences (after Markus Kuhn's UTF-8 decoder stress test), each
//! sent as a single text frame.

use crate::check::case::{Behavior, Case, Event, ExpectedClose, Frame, Step};
use crate::wire::raw::encode_frame;

const RFC: &str = "RFC 6455 §8.1";

/// "κόσμε": five code points of two and three octets.
const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
/// A Latin-1 mix, every non-ASCII letter two octets long.
const HELLO: &str = "Hello-µ@ßöäüàá-UTF-8!!";

const ECHOED: &str = "The message is echo'ed back to us.";
const FAILED: &str = "The connection is failed immediately, since the payload is not valid UTF-8.";
const FAIL_FAST: &str = "The first frame is accepted, we expect to timeout on the first wait. The 2nd frame should be rejected immediately (fail fast on UTF-8). If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.";
const FAIL_FAST_CHOPS: &str = "The first chop is accepted, we expect to timeout on the first wait. The 2nd chop should be rejected immediately (fail fast on UTF-8). If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.";

pub fn cases() -> Vec<Case> {
    let mut cases = empty_and_valid();
    cases.extend(surrogate());
    cases.extend(fail_fast());
    cases.extend(sequences());
    cases
}

/// 6.1.x and 6.2.x: empty and valid messages, whole and in fragments,
/// closed by us a second after.
fn empty_and_valid() -> Vec<Case> {
    let middle: &[u8] = b"middle frame payload";
    let (hello1, hello2) = HELLO.split_at("Hello-µ@ßöä".len());
    vec![
        Case::new("6.1.1", "Send text message of length 0.", RFC)
            .expectation("A message is echo'ed back to us (with empty payload).")
            .send(Frame::text(b""))
            .step(Step::CloseAfter(1.0))
            .echoed(b""),
        Case::new(
            "6.1.2",
            "Send fragmented text message, 3 fragments each of length 0.",
            RFC,
        )
        .expectation("A message is echo'ed back to us (with empty payload).")
        .send(Frame::text(b"").fin(false))
        .send(Frame::new(0, b"").fin(false))
        .send(Frame::new(0, b""))
        .step(Step::CloseAfter(1.0))
        .echoed(b""),
        Case::new(
            "6.1.3",
            "Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.",
            RFC,
        )
        .expectation(
            "A message is echo'ed back to us (with payload = payload of middle fragment).",
        )
        .send(Frame::text(b"").fin(false))
        .send(Frame::new(0, middle).fin(false))
        .send(Frame::new(0, b""))
        .step(Step::CloseAfter(1.0))
        .echoed(middle),
        Case::new(
            "6.2.1",
            format!(
                "Send a valid UTF-8 text message in one fragment.\nMESSAGE:\n{HELLO}\n{}",
                hex(HELLO.as_bytes())
            ),
            RFC,
        )
        .expectation(ECHOED)
        .step(message(HELLO.as_bytes(), None))
        .step(Step::CloseAfter(1.0))
        .echoed(HELLO.as_bytes()),
        Case::new(
            "6.2.2",
            format!(
                "Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.\nMESSAGE FRAGMENT 1:\n{hello1}\n{}\nMESSAGE FRAGMENT 2:\n{hello2}\n{}",
                hex(hello1.as_bytes()),
                hex(hello2.as_bytes())
            ),
            RFC,
        )
        .expectation(ECHOED)
        .send(Frame::text(hello1).fin(false))
        .send(Frame::new(0, hello2))
        .step(Step::CloseAfter(1.0))
        .echoed(HELLO.as_bytes()),
        Case::new(
            "6.2.3",
            format!(
                "{ONE_OCTET}\nMESSAGE:\n{HELLO}\n{}",
                hex(HELLO.as_bytes())
            ),
            RFC,
        )
        .expectation(ECHOED)
        .step(message(HELLO.as_bytes(), Some(1)))
        .step(Step::CloseAfter(1.0))
        .echoed(HELLO.as_bytes()),
        Case::new(
            "6.2.4",
            format!(
                "{ONE_OCTET}\nMESSAGE:\n{}\n{}",
                String::from_utf8_lossy(KOSME),
                hex(KOSME)
            ),
            RFC,
        )
        .expectation(ECHOED)
        .step(message(KOSME, Some(1)))
        .step(Step::CloseAfter(1.0))
        .echoed(KOSME),
    ]
}

const ONE_OCTET: &str = "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.";

/// 6.3.x: κόσμε, a lone high surrogate (ED A0 80, invalid on its second
/// octet, the message's 12th), then "edited".
fn surrogate() -> Vec<Case> {
    let payload = [KOSME, b"\xed\xa0\x80", b"edited"].concat();
    vec![
        Case::new(
            "6.3.1",
            format!(
                "Send invalid UTF-8 text message unfragmented.\nMESSAGE:\n{}",
                hex(&payload)
            ),
            RFC,
        )
        .expectation(FAILED)
        .step(message(&payload, None))
        .kill_after(1.0)
        .rejected(),
        Case::new(
            "6.3.2",
            format!(
                "Send invalid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.\nMESSAGE:\n{}",
                hex(&payload)
            ),
            RFC,
        )
        .expectation(FAILED)
        .step(message(&payload, Some(1)))
        .kill_after(1.0)
        .rejected(),
    ]
}

/// 6.4.x: an invalid message in three parts with a second's wait after the
/// first and the second. The first part is valid; the second holds the
/// octet that makes the payload invalid (F4 90: above U+10FFFF), all of the
/// code point in 6.4.1 and 6.4.3, that octet alone in 6.4.2 and 6.4.4. A
/// server that fails fast closes before the second wait runs out.
fn fail_fast() -> Vec<Case> {
    let payload = [KOSME, b"\xf4\x90\x80\x80", b"edited"].concat();
    let by_code_point = [&payload[..11], &payload[11..15], &payload[15..]];
    let by_octet = [&payload[..12], &payload[12..13], &payload[13..]];
    let parts = |parts: &[&[u8]; 3]| {
        format!(
            "MESSAGE PARTS:\nPART1 = {}\nPART2 = {}\nPART3 = {}",
            hex(parts[0]),
            hex(parts[1]),
            hex(parts[2])
        )
    };
    vec![
        three_parts(
            "6.4.1",
            format!(
                "Send invalid UTF-8 text message in 3 fragments (frames).\nFirst frame payload is valid, then wait, then 2nd frame which contains the payload making the sequence invalid, then wait, then 3rd frame with rest.\nNote that PART1 and PART3 are valid UTF-8 in themselves, PART2 is a 0x110000 encoded as in the UTF-8 integer encoding scheme, but the codepoint is invalid (out of range).\n{}",
                parts(&by_code_point)
            ),
            FAIL_FAST,
            by_code_point,
        ),
        three_parts(
            "6.4.2",
            format!(
                "Same as Case 6.4.1, but in 2nd frame, we send only up to and including the octet making the complete payload invalid.\n{}",
                parts(&by_octet)
            ),
            FAIL_FAST,
            by_octet,
        ),
        // One frame whose payload goes out in three writes, with the waits
        // between them: the server is to fail before the frame is complete.
        three_chops(
            "6.4.3",
            format!(
                "Same as Case 6.4.1, but we send message not in 3 frames, but in 3 chops of the same message frame.\n{}",
                parts(&by_code_point)
            ),
            FAIL_FAST_CHOPS,
            by_code_point,
        ),
        // The suite's own description gives PART3 as empty (it slices the
        // third part instead of the payload); what it sends is the rest of
        // the payload, as here.
        three_chops(
            "6.4.4",
            format!(
                "Same as Case 6.4.2, but we send message not in 3 frames, but in 3 chops of the same message frame.\n{}",
                parts(&by_octet)
            ),
            FAIL_FAST_CHOPS,
            by_octet,
        ),
    ]
}

fn three_parts(id: &str, description: String, expectation: &str, parts: [&[u8]; 3]) -> Case {
    Case::new(id, description, RFC)
        .expectation(expectation)
        .send(Frame::text(parts[0]).fin(false))
        .later(1.0, "A")
        .send(Frame::new(0, parts[1]).fin(false))
        .later(1.0, "B")
        .send(Frame::new(0, parts[2]))
        .fails_fast()
}

/// The parts as three writes of one frame: the header with the first
/// part, then the second, then the third.
fn three_chops(id: &str, description: String, expectation: &str, parts: [&[u8]; 3]) -> Case {
    let frame = encode_frame([true, false, false, false], 1, Some(MASK), &parts.concat());
    let first = frame.len() - parts[1].len() - parts[2].len();
    let second = first + parts[1].len();
    Case::new(id, description, RFC)
        .expectation(expectation)
        .step(Step::Raw(frame[..first].to_vec()))
        .later(1.0, "A")
        .step(Step::Raw(frame[first..second].to_vec()))
        .later(1.0, "B")
        .step(Step::Raw(frame[second..].to_vec()))
        .fails_fast()
}

/// Any fixed key will do: the server unmasks whatever it is.
const MASK: [u8; 4] = [0x5a, 0x3c, 0x96, 0xe1];

/// A byte sequence of the table and whether it is valid UTF-8.
type Sequence = (bool, Vec<u8>);

fn valid(bytes: &[u8]) -> Sequence {
    (true, bytes.to_vec())
}

fn invalid(bytes: &[u8]) -> Sequence {
    (false, bytes.to_vec())
}

/// The table 6.5 to 6.23 are made from: each group (a subcategory, named
/// as in the suite) with its sequences, in order.
fn table() -> Vec<(&'static str, Vec<Sequence>)> {
    // A lone start octet of each length, each followed by a space.
    let lonely =
        |from: u8, to: u8| -> Sequence { (false, (from..to).flat_map(|b| [b, b' ']).collect()) };
    let truncated: [&[u8]; 10] = [
        b"\xc0",
        b"\xe0\x80",
        b"\xf0\x80\x80",
        b"\xf8\x80\x80\x80",
        b"\xfc\x80\x80\x80\x80",
        b"\xdf",
        b"\xef\xbf",
        b"\xf7\xbf\xbf",
        b"\xfb\xbf\xbf\xbf",
        b"\xfd\xbf\xbf\xbf\xbf",
    ];
    // U+FFFE and U+FFFF, then the last two code points of planes 1 to 16.
    let noncharacters = [0xfffe, 0xffff]
        .into_iter()
        .chain((1..=16u32).flat_map(|plane| [plane << 16 | 0xfffe, plane << 16 | 0xffff]))
        .map(|c| {
            let c = char::from_u32(c).expect("a code point");
            valid(c.encode_utf8(&mut [0; 4]).as_bytes())
        })
        .collect();
    vec![
        (
            "Some valid UTF-8 sequences",
            vec![
                valid(b"hello\x24world"),
                valid(b"hello\xc2\xa2world"),
                valid(b"hello\xe2\x82\xacworld"),
                valid(b"hello\xf0\xa4\xad\xa2world"),
                valid(KOSME),
            ],
        ),
        (
            "All prefixes of a valid UTF-8 string that contains multi-byte code points",
            // A prefix is valid when it ends on a code point's end.
            (1..=KOSME.len())
                .map(|n| {
                    (
                        std::str::from_utf8(&KOSME[..n]).is_ok(),
                        KOSME[..n].to_vec(),
                    )
                })
                .collect(),
        ),
        (
            "First possible sequence of a certain length",
            vec![
                valid(b"\x00"),
                valid(b"\xc2\x80"),
                valid(b"\xe0\xa0\x80"),
                valid(b"\xf0\x90\x80\x80"),
            ],
        ),
        (
            "First possible sequence length 5/6 (invalid codepoints)",
            vec![
                invalid(b"\xf8\x88\x80\x80\x80"),
                invalid(b"\xfc\x84\x80\x80\x80\x80"),
            ],
        ),
        (
            "Last possible sequence of a certain length",
            vec![
                valid(b"\x7f"),
                valid(b"\xdf\xbf"),
                valid(b"\xef\xbf\xbf"),
                valid(b"\xf4\x8f\xbf\xbf"),
            ],
        ),
        (
            "Last possible sequence length 4/5/6 (invalid codepoints)",
            vec![
                invalid(b"\xf7\xbf\xbf\xbf"),
                invalid(b"\xfb\xbf\xbf\xbf\xbf"),
                invalid(b"\xfd\xbf\xbf\xbf\xbf\xbf"),
            ],
        ),
        (
            "Other boundary conditions",
            vec![
                valid(b"\xed\x9f\xbf"),
                valid(b"\xee\x80\x80"),
                valid(b"\xef\xbf\xbd"),
                valid(b"\xf4\x8f\xbf\xbf"),
                invalid(b"\xf4\x90\x80\x80"),
            ],
        ),
        (
            "Unexpected continuation bytes",
            vec![
                invalid(b"\x80"),
                invalid(b"\xbf"),
                invalid(b"\x80\xbf"),
                invalid(b"\x80\xbf\x80"),
                invalid(b"\x80\xbf\x80\xbf"),
                invalid(b"\x80\xbf\x80\xbf\x80"),
                invalid(b"\x80\xbf\x80\xbf\x80\xbf"),
                // 80 to BE: the suite's range stops short of BF.
                (false, (0x80..0xbf).collect()),
            ],
        ),
        (
            "Lonely start characters",
            // Each range stops short of its last octet, as the suite's do.
            vec![
                lonely(0xc0, 0xdf),
                lonely(0xe0, 0xef),
                lonely(0xf0, 0xf7),
                lonely(0xf8, 0xfb),
                lonely(0xfc, 0xfd),
            ],
        ),
        (
            "Sequences with last continuation byte missing",
            truncated.iter().map(|s| invalid(s)).collect(),
        ),
        (
            "Concatenation of incomplete sequences",
            vec![invalid(&truncated.concat())],
        ),
        (
            "Impossible bytes",
            vec![
                invalid(b"\xfe"),
                invalid(b"\xff"),
                invalid(b"\xfe\xfe\xff\xff"),
            ],
        ),
        (
            "Examples of an overlong ASCII character",
            vec![
                invalid(b"\xc0\xaf"),
                invalid(b"\xe0\x80\xaf"),
                invalid(b"\xf0\x80\x80\xaf"),
                invalid(b"\xf8\x80\x80\x80\xaf"),
                invalid(b"\xfc\x80\x80\x80\x80\xaf"),
            ],
        ),
        (
            "Maximum overlong sequences",
            vec![
                invalid(b"\xc1\xbf"),
                invalid(b"\xe0\x9f\xbf"),
                invalid(b"\xf0\x8f\xbf\xbf"),
                invalid(b"\xf8\x87\xbf\xbf\xbf"),
                invalid(b"\xfc\x83\xbf\xbf\xbf\xbf"),
            ],
        ),
        (
            "Overlong representation of the NUL character",
            vec![
                invalid(b"\xc0\x80"),
                invalid(b"\xe0\x80\x80"),
                invalid(b"\xf0\x80\x80\x80"),
                invalid(b"\xf8\x80\x80\x80\x80"),
                invalid(b"\xfc\x80\x80\x80\x80\x80"),
            ],
        ),
        (
            "Single UTF-16 surrogates",
            vec![
                invalid(b"\xed\xa0\x80"),
                invalid(b"\xed\xad\xbf"),
                invalid(b"\xed\xae\x80"),
                invalid(b"\xed\xaf\xbf"),
                invalid(b"\xed\xb0\x80"),
                invalid(b"\xed\xbe\x80"),
                invalid(b"\xed\xbf\xbf"),
            ],
        ),
        (
            "Paired UTF-16 surrogates",
            vec![
                invalid(b"\xed\xa0\x80\xed\xb0\x80"),
                invalid(b"\xed\xa0\x80\xed\xbf\xbf"),
                invalid(b"\xed\xad\xbf\xed\xb0\x80"),
                invalid(b"\xed\xad\xbf\xed\xbf\xbf"),
                invalid(b"\xed\xae\x80\xed\xb0\x80"),
                invalid(b"\xed\xae\x80\xed\xbf\xbf"),
                invalid(b"\xed\xaf\xbf\xed\xb0\x80"),
                invalid(b"\xed\xaf\xbf\xed\xbf\xbf"),
            ],
        ),
        ("Non-character code points (valid UTF-8)", noncharacters),
        (
            "Unicode specials (i.e. replacement char)",
            vec![
                valid(b"\xef\xbf\xb9"),
                valid(b"\xef\xbf\xba"),
                valid(b"\xef\xbf\xbb"),
                valid(b"\xef\xbf\xbc"),
                valid(b"\xef\xbf\xbd"),
                valid(b"\xef\xbf\xbe"),
                valid(b"\xef\xbf\xbf"),
            ],
        ),
    ]
}

/// 6.5.1 to 6.23.7: one case per sequence, numbered by group from 6.5 and
/// within it from 1, the sequence sent as one text frame.
fn sequences() -> Vec<Case> {
    let mut cases = Vec::new();
    for (group, (_title, sequences)) in table().into_iter().enumerate() {
        for (n, (is_valid, bytes)) in sequences.into_iter().enumerate() {
            let id = format!("6.{}.{}", group + 5, n + 1);
            let (said, expectation) = if is_valid {
                ("valid", ECHOED)
            } else {
                ("not valid", FAILED)
            };
            let description = format!(
                "Send a text message with payload which is {said} UTF-8 in one fragment.\nPayload: 0x{}",
                hex(&bytes)
            );
            let case = Case::new(id, description, RFC)
                .expectation(expectation)
                .step(message(&bytes, None))
                .kill_after(0.5);
            cases.push(if is_valid {
                case.echoed(&bytes)
            } else {
                case.rejected()
            });
        }
    }
    cases
}

/// The suite's `sendMessage`, always text here.
fn message(payload: &[u8], fragment: Option<usize>) -> Step {
    Step::Message {
        binary: false,
        payload: payload.to_vec(),
        fragment,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The two outcomes of this category.
trait Outcome {
    /// The text comes back as sent; we then close with 1000.
    fn echoed(self, payload: &[u8]) -> Case;
    /// Nothing comes back and the server fails the connection with 1007;
    /// if we are the ones to close, it did not see the invalid UTF-8.
    fn rejected(self) -> Case;
    /// The first wait runs out and the server fails the connection with
    /// 1007 before the second does (NON-STRICT when only after it).
    fn fails_fast(self) -> Case;
}

impl Outcome for Case {
    fn echoed(self, payload: &[u8]) -> Case {
        self.expect(Behavior::Ok, vec![Event::text(payload)])
            .close(ExpectedClose::by_me(&[1000]))
    }

    fn rejected(self) -> Case {
        self.expect(Behavior::Ok, vec![])
            .close(ExpectedClose::by_peer(&[1007]).wrong_endpoint_fatal())
    }

    fn fails_fast(self) -> Case {
        self.kill_after(1.0)
            .expect(Behavior::Ok, vec![Event::Timeout("A")])
            .expect(
                Behavior::NonStrict,
                vec![Event::Timeout("A"), Event::Timeout("B")],
            )
            .close(ExpectedClose::by_peer(&[1007]).wrong_endpoint_fatal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The suite's category 6, in its order.
    const IDS: &str = "
        6.1.1 6.1.2 6.1.3 6.2.1 6.2.2 6.2.3 6.2.4 6.3.1 6.3.2 6.4.1 6.4.2 6.4.3 6.4.4
        6.5.1 6.5.2 6.5.3 6.5.4 6.5.5
        6.6.1 6.6.2 6.6.3 6.6.4 6.6.5 6.6.6 6.6.7 6.6.8 6.6.9 6.6.10 6.6.11
        6.7.1 6.7.2 6.7.3 6.7.4 6.8.1 6.8.2 6.9.1 6.9.2 6.9.3 6.9.4 6.10.1 6.10.2 6.10.3
        6.11.1 6.11.2 6.11.3 6.11.4 6.11.5
        6.12.1 6.12.2 6.12.3 6.12.4 6.12.5 6.12.6 6.12.7 6.12.8
        6.13.1 6.13.2 6.13.3 6.13.4 6.13.5
        6.14.1 6.14.2 6.14.3 6.14.4 6.14.5 6.14.6 6.14.7 6.14.8 6.14.9 6.14.10
        6.15.1 6.16.1 6.16.2 6.16.3
        6.17.1 6.17.2 6.17.3 6.17.4 6.17.5 6.18.1 6.18.2 6.18.3 6.18.4 6.18.5
        6.19.1 6.19.2 6.19.3 6.19.4 6.19.5
        6.20.1 6.20.2 6.20.3 6.20.4 6.20.5 6.20.6 6.20.7
        6.21.1 6.21.2 6.21.3 6.21.4 6.21.5 6.21.6 6.21.7 6.21.8
        6.22.1 6.22.2 6.22.3 6.22.4 6.22.5 6.22.6 6.22.7 6.22.8 6.22.9 6.22.10 6.22.11
        6.22.12 6.22.13 6.22.14 6.22.15 6.22.16 6.22.17 6.22.18 6.22.19 6.22.20 6.22.21
        6.22.22 6.22.23 6.22.24 6.22.25 6.22.26 6.22.27 6.22.28 6.22.29 6.22.30 6.22.31
        6.22.32 6.22.33 6.22.34
        6.23.1 6.23.2 6.23.3 6.23.4 6.23.5 6.23.6 6.23.7
    ";

    fn case(id: &str) -> Case {
        cases()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no case {id}"))
    }

    /// Everything the case sends, as one payload.
    fn sent(case: &Case) -> Vec<u8> {
        let mut payload = Vec::new();
        let mut raw: Vec<u8> = Vec::new();
        for step in &case.steps {
            match step {
                Step::Frame(frame) => payload.extend(frame.full_payload()),
                Step::Message { payload: p, .. } => payload.extend(p),
                Step::Raw(bytes) => raw.extend(bytes),
                _ => {}
            }
        }
        if !raw.is_empty() {
            // One short masked frame: two header bytes, the key, the payload.
            assert!(raw[1] & 0x7f < 126 && raw[1] & 0x80 != 0, "{}", case.id);
            let key = &raw[2..6];
            payload.extend(raw[6..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        payload
    }

    #[test]
    fn ids_are_the_suites_in_order() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        let expected: Vec<&str> = IDS.split_whitespace().collect();
        assert_eq!(expected.len(), 145);
        assert_eq!(ids, expected);
    }

    #[test]
    fn an_echo_is_expected_exactly_when_the_payload_is_valid_utf8() {
        for case in cases() {
            let payload = sent(&case);
            let is_valid = std::str::from_utf8(&payload).is_ok();
            let echo = Event::text(payload.clone());
            let echoed = case
                .expected
                .iter()
                .any(|(_, events)| events.contains(&echo));
            assert_eq!(is_valid, echoed, "{}", case.id);
            if is_valid {
                assert_eq!(
                    case.expected,
                    vec![(Behavior::Ok, vec![echo])],
                    "{}",
                    case.id
                );
                assert_eq!(case.close, ExpectedClose::by_me(&[1000]), "{}", case.id);
            } else {
                assert!(case
                    .expected
                    .iter()
                    .flat_map(|(_, events)| events)
                    .all(|e| matches!(e, Event::Timeout(_))));
                assert_eq!(
                    case.close,
                    ExpectedClose::by_peer(&[1007]).wrong_endpoint_fatal(),
                    "{}",
                    case.id
                );
                assert!(!case.close.require_clean);
            }
        }
    }

    #[test]
    fn every_case_says_what_it_is() {
        for case in cases() {
            assert_eq!(case.rfc, "RFC 6455 §8.1");
            assert!(!case.expectation.is_empty(), "{}", case.id);
            assert!(!case.description.contains('<'), "{}", case.id);
            assert_eq!(case.category(), "6");
            let sub: u32 = case.id.split('.').nth(1).unwrap().parse().unwrap();
            if sub >= 5 {
                let payload = format!("Payload: 0x{}", hex(&sent(&case)));
                assert!(case.description.ends_with(&payload), "{}", case.id);
            }
        }
    }

    #[test]
    fn fail_fast_waits_between_the_three_frames() {
        let case = case("6.4.1");
        assert_eq!(
            case.steps,
            vec![
                Step::Frame(Frame::text(KOSME).fin(false)),
                Step::Later {
                    secs: 1.0,
                    tag: "A"
                },
                Step::Frame(Frame::new(0, b"\xf4\x90\x80\x80").fin(false)),
                Step::Later {
                    secs: 1.0,
                    tag: "B"
                },
                Step::Frame(Frame::new(0, b"edited")),
                Step::KillAfter(1.0),
            ]
        );
        assert_eq!(
            case.expected,
            vec![
                (Behavior::Ok, vec![Event::Timeout("A")]),
                (
                    Behavior::NonStrict,
                    vec![Event::Timeout("A"), Event::Timeout("B")]
                ),
            ]
        );
        assert!(case.description.contains("PART2 = f4908080"));

        // 6.4.2: the second part is the one octet that breaks it.
        let parts: Vec<Vec<u8>> = case_frames("6.4.2");
        assert_eq!(
            parts,
            vec![
                [KOSME, b"\xf4"].concat(),
                b"\x90".to_vec(),
                b"\x80\x80edited".to_vec()
            ]
        );
    }

    fn case_frames(id: &str) -> Vec<Vec<u8>> {
        case(id)
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Frame(f) => Some(f.payload.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn prefixes_are_valid_only_on_a_code_points_end() {
        let c = case("6.6.1");
        assert_eq!(sent(&c), b"\xce");
        assert!(c.expected[0].1.is_empty());
        let c = case("6.6.2");
        assert_eq!(sent(&c), b"\xce\xba");
        assert_eq!(c.expected[0].1, vec![Event::text(b"\xce\xba".to_vec())]);
        let c = case("6.6.4");
        assert_eq!(
            c.description,
            "Send a text message with payload which is not valid UTF-8 in one fragment.\nPayload: 0xcebae1bd"
        );
        assert_eq!(
            c.steps,
            vec![message(b"\xce\xba\xe1\xbd", None), Step::KillAfter(0.5)]
        );
        assert_eq!(sent(&case("6.6.11")), KOSME);
    }

    #[test]
    fn generated_runs_stop_where_the_suites_do() {
        // Every continuation octet but BF.
        let all: Vec<u8> = (0x80..=0xbe).collect();
        assert_eq!(sent(&case("6.12.8")), all);
        // Two-octet starts C0 to DE, each with a space after it.
        let starts = sent(&case("6.13.1"));
        assert_eq!(starts.len(), 62);
        assert_eq!(&starts[..4], b"\xc0 \xc1 ");
        assert_eq!(&starts[60..], b"\xde ");
        assert_eq!(sent(&case("6.13.5")), b"\xfc ");
        assert_eq!(
            sent(&case("6.15.1")),
            b"\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf"
        );
        // U+1FFFE first among the planes, U+10FFFF last.
        assert_eq!(sent(&case("6.22.3")), b"\xf0\x9f\xbf\xbe");
        assert_eq!(sent(&case("6.22.34")), b"\xf4\x8f\xbf\xbf");
    }

    #[test]
    fn empty_and_fragmented_valid_messages() {
        let c = case("6.1.2");
        assert_eq!(
            c.steps,
            vec![
                Step::Frame(Frame::text(b"").fin(false)),
                Step::Frame(Frame::new(0, b"").fin(false)),
                Step::Frame(Frame::new(0, b"")),
                Step::CloseAfter(1.0),
            ]
        );
        assert_eq!(c.expected, vec![(Behavior::Ok, vec![Event::text(b"")])]);
        let c = case("6.2.4");
        assert_eq!(c.steps[0], message(KOSME, Some(1)));
        let c = case("6.3.2");
        assert_eq!(
            c.steps,
            vec![
                message(
                    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
                    Some(1)
                ),
                Step::KillAfter(1.0)
            ]
        );
    }
}
