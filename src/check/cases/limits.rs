//! Category 9, limits and performance: big messages (up to 16 MiB) echoed
//! whole, in fragments from 64 octets up, and written in chops; then a
//! thousand small messages, each sent when the last came back, for the
//! round-trip time. Each is judged by its echoes, and timed.

use crate::check::case::{Case, Echoes, ExpectedClose, Step};

const RFC: &str = "RFC 6455 §5.4";
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// What the suite repeats to fill its text and binary messages.
const TEXT_FILL: &[u8] = b"BAsd7&jh23";
const BINARY_FILL: &[u8] = b"\x00\xfe\x23\xfa\xf0";

/// One message of `size` bytes echoed; `fragment` and `chop` as in
/// [`Echoes`]; the case fails after `within` seconds.
struct Big {
    binary: bool,
    size: usize,
    fill: &'static [u8],
    fragment: Option<usize>,
    chop: Option<usize>,
    within: f64,
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // 9.1 and 9.2: one frame; the bigger ones get longer.
    let sizes = [64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB];
    for (group, binary) in [(1, false), (2, true)] {
        for (n, &size) in sizes.iter().enumerate() {
            let within = match (binary, size) {
                (_, s) if s <= 256 * KIB => 10.0,
                (true, s) if s <= 4 * MIB => 10.0,
                _ => 100.0,
            };
            let fill = if binary { BINARY_FILL } else { TEXT_FILL };
            cases.push(big(
                format!("9.{group}.{}", n + 1),
                Big {
                    binary,
                    size,
                    fill,
                    fragment: None,
                    chop: None,
                    within,
                },
            ));
        }
    }
    // 9.3 and 9.4: 4 MiB in fragments of 64 octets up to one fragment.
    let fragments = [
        64,
        256,
        KIB,
        4 * KIB,
        16 * KIB,
        64 * KIB,
        256 * KIB,
        MIB,
        4 * MIB,
    ];
    for (group, binary) in [(3, false), (4, true)] {
        for (n, &fragment) in fragments.iter().enumerate() {
            cases.push(big(
                format!("9.{group}.{}", n + 1),
                Big {
                    binary,
                    size: 4 * MIB,
                    fill: b"*",
                    fragment: Some(fragment),
                    chop: None,
                    within: 100.0,
                },
            ));
        }
    }
    // 9.5 and 9.6: 1 MiB in one frame, written in chops of 64 octets up.
    let chops = [64, 128, 256, 512, KIB, 2 * KIB];
    for (group, binary) in [(5, false), (6, true)] {
        for (n, &chop) in chops.iter().enumerate() {
            let fill = if binary { BINARY_FILL } else { TEXT_FILL };
            cases.push(big(
                format!("9.{group}.{}", n + 1),
                Big {
                    binary,
                    size: MIB,
                    fill,
                    fragment: None,
                    chop: Some(chop),
                    within: 1000.0,
                },
            ));
        }
    }
    // 9.7 and 9.8: a thousand small messages, one at a time.
    let rounds = [
        (0, 60.0),
        (16, 60.0),
        (64, 60.0),
        (256, 120.0),
        (KIB, 240.0),
        (4 * KIB, 480.0),
    ];
    for (group, binary) in [(7, false), (8, true)] {
        let kind = if binary { "binary" } else { "text" };
        for (n, &(size, within)) in rounds.iter().enumerate() {
            cases.push(
                Case::new(
                    format!("9.{group}.{}", n + 1),
                    format!("Send 1000 {kind} messages of payload size {size} to measure implementation/network RTT (round trip time) / latency."),
                    RFC,
                )
                .expectation(format!(
                    "Receive echo'ed {kind} messages (with payload as sent). Timeout case after {within} secs."
                ))
                .step(Step::Echoes(Echoes {
                    binary,
                    size,
                    fill: if binary { vec![0xfe] } else { b"*".to_vec() },
                    count: 1000,
                    fragment: None,
                    chop: None,
                    within_secs: within,
                }))
                .close(ExpectedClose::by_me(&[1000]))
                .timed(),
            );
        }
    }
    cases
}

fn big(id: String, spec: Big) -> Case {
    let kind = if spec.binary { "binary" } else { "text" };
    let length = size_name(spec.size);
    let description = match (spec.fragment, spec.chop) {
        (Some(fragment), _) => format!(
            "Send fragmented {kind} message message with message payload of length {length}. Sent out in fragments of {}.",
            short_size(fragment)
        ),
        (None, Some(chop)) => format!(
            "Send {kind} message message with payload of length {length}. Sent out data in chops of {chop} octets."
        ),
        (None, None) => format!("Send {kind} message message with payload of length {length}."),
    };
    Case::new(id, description, RFC)
        .expectation(format!(
            "Receive echo'ed {kind} message (with payload as sent)."
        ))
        .step(Step::Echoes(Echoes {
            binary: spec.binary,
            size: spec.size,
            fill: spec.fill.to_vec(),
            count: 1,
            fragment: spec.fragment,
            chop: spec.chop,
            within_secs: spec.within,
        }))
        .close(ExpectedClose::by_me(&[1000]))
        .timed()
}

/// "64 * 2**10 (64k)", as the suite writes sizes.
fn size_name(size: usize) -> String {
    if size >= MIB {
        format!("{} * 2**20 ({}M)", size / MIB, size / MIB)
    } else {
        format!("{} * 2**10 ({}k)", size / KIB, size / KIB)
    }
}

/// "64", "4k", "1M".
fn short_size(size: usize) -> String {
    match size {
        s if s >= MIB => format!("{}M", s / MIB),
        s if s >= KIB => format!("{}k", s / KIB),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_suites_in_order() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        let counts = [6, 6, 9, 9, 6, 6, 6, 6];
        let expected: Vec<String> = counts
            .iter()
            .enumerate()
            .flat_map(|(g, &n)| (1..=n).map(move |i| format!("9.{}.{i}", g + 1)))
            .collect();
        assert_eq!(expected.len(), 54);
        assert_eq!(ids, expected);
    }

    #[test]
    fn every_case_is_one_timed_echo_run() {
        for case in cases() {
            assert!(case.timed, "{}", case.id);
            let [Step::Echoes(run)] = case.steps.as_slice() else {
                panic!("{}: {:?}", case.id, case.steps);
            };
            assert!(
                run.size <= 16 * MIB && run.within_secs >= 10.0,
                "{}",
                case.id
            );
            let group: u32 = case.id[2..3].parse().unwrap();
            assert_eq!(run.binary, group % 2 == 0, "{}", case.id);
            assert_eq!(run.count, if group >= 7 { 1000 } else { 1 }, "{}", case.id);
        }
    }

    #[test]
    fn descriptions_name_sizes_as_the_suite_does() {
        let cases = cases();
        let described = |id: &str| {
            cases
                .iter()
                .find(|c| c.id == id)
                .unwrap()
                .description
                .clone()
        };
        assert_eq!(
            described("9.1.1"),
            "Send text message message with payload of length 64 * 2**10 (64k)."
        );
        assert_eq!(
            described("9.3.1"),
            "Send fragmented text message message with message payload of length 4 * 2**20 (4M). Sent out in fragments of 64."
        );
        assert_eq!(
            described("9.6.1"),
            "Send binary message message with payload of length 1 * 2**20 (1M). Sent out data in chops of 64 octets."
        );
    }
}
