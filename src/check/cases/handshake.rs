//! Category 14 (wscope's own; the suite never finished its handshake
//! chapter): the opening handshake. Each case sends wscope's usual request
//! changed in one way and judges the answer (RFC 6455 §4.2, RFC 7692 §7).

use crate::check::case::{Answer, Behavior, Case, HandshakeCheck};

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "14.1",
            "Send Sec-WebSocket-Version: 12.",
            "A 426 Upgrade Required naming version 13 in Sec-WebSocket-Version.",
            "RFC 6455 §4.4",
            &[],
            |r| r.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12"),
            wants_426_naming_13,
        ),
        case(
            "14.2",
            "Send no Sec-WebSocket-Version header.",
            "An HTTP error (400 or 426), not an upgrade.",
            "RFC 6455 §4.2.1",
            &[],
            |r| without_header(&r, "Sec-WebSocket-Version"),
            refused,
        ),
        case(
            "14.3",
            "Send no Sec-WebSocket-Key header.",
            "An HTTP error (400), not an upgrade.",
            "RFC 6455 §4.2.1",
            &[],
            |r| without_header(&r, "Sec-WebSocket-Key"),
            refused,
        ),
        case(
            "14.4",
            "Send the upgrade request with the method POST.",
            "An HTTP error (400 or 405), not an upgrade.",
            "RFC 6455 §4.2.1",
            &[],
            |r| r.replacen("GET ", "POST ", 1),
            refused,
        ),
        case(
            "14.5",
            "Send no Upgrade header.",
            "No upgrade (an HTTP error, or the resource as plain HTTP).",
            "RFC 6455 §4.2.1",
            &[],
            |r| without_header(&r, "Upgrade"),
            refused,
        ),
        case(
            "14.6",
            "Send the header names in odd case (sEC-wEBsOCKET-kEY) and 'Upgrade: WebSocket'.",
            "A valid 101: header names are case-insensitive, and so is the Upgrade token.",
            "RFC 6455 §4.2.1",
            &[],
            odd_case,
            upgraded,
        ),
        case(
            "14.7",
            "Offer only the subprotocol wscope.check.unlikely.",
            "No subprotocol other than the one offered in the answer (or a refusal).",
            "RFC 6455 §4.2.2",
            &[("Sec-WebSocket-Protocol", "wscope.check.unlikely")],
            |r| r,
            no_foreign_answer,
        ),
        case(
            "14.8",
            "Offer 'permessage-deflate' without parameters, and an unknown extension.",
            "No extension or parameter that was not offered in the answer (client_max_window_bits in particular).",
            "RFC 7692 §7.1.2.2",
            &[("Sec-WebSocket-Extensions", "permessage-deflate, x-wscope-unknown")],
            |r| r,
            no_foreign_answer,
        ),
        case(
            "14.9",
            "Offer 'permessage-deflate; server_max_window_bits=15'.",
            "When accepted, the answer names server_max_window_bits (15 or less).",
            "RFC 7692 §7.1.2.1",
            &[(
                "Sec-WebSocket-Extensions",
                "permessage-deflate; server_max_window_bits=15",
            )],
            |r| r,
            window_bits_answered,
        ),
    ]
}

fn case(
    id: &str,
    description: &str,
    expectation: &str,
    rfc: &'static str,
    headers: &[(&'static str, &'static str)],
    shape: fn(String) -> String,
    judge: fn(&Answer) -> (Behavior, String),
) -> Case {
    let mut case = Case::new(id, description, rfc).expectation(expectation);
    case.handshake = Some(HandshakeCheck {
        headers: headers.to_vec(),
        shape,
        judge,
    });
    case
}

fn without_header(request: &str, name: &str) -> String {
    request
        .split_inclusive("\r\n")
        .filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .collect()
}

fn odd_case(request: String) -> String {
    request
        .split_inclusive("\r\n")
        .enumerate()
        .map(|(i, line)| match line.split_once(':') {
            Some((name, value)) if i > 0 && !name.eq_ignore_ascii_case("host") => {
                let flipped: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_uppercase() {
                            c.to_ascii_lowercase()
                        } else {
                            c.to_ascii_uppercase()
                        }
                    })
                    .collect();
                let value = if name.eq_ignore_ascii_case("upgrade") {
                    " WebSocket\r\n".to_string()
                } else {
                    value.to_string()
                };
                format!("{flipped}:{value}")
            }
            _ => line.to_string(),
        })
        .collect()
}

fn status_text(a: &Answer) -> String {
    match a.status {
        Some(s) => format!("the server answered {s}"),
        None => "the server sent no HTTP answer".into(),
    }
}

fn wants_426_naming_13(a: &Answer) -> (Behavior, String) {
    let names_13 = a
        .header("Sec-WebSocket-Version")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == "13"));
    match a.status {
        Some(426) if names_13 => (Behavior::Ok, "426 naming version 13".into()),
        Some(101) => (
            Behavior::Failed,
            "the server upgraded a request for a version it does not speak".into(),
        ),
        Some(426) => (
            Behavior::NonStrict,
            "426, but without Sec-WebSocket-Version: 13".into(),
        ),
        Some(s) if (400..500).contains(&s) => (
            Behavior::NonStrict,
            format!("{s}, where 426 with Sec-WebSocket-Version: 13 tells the client what to use"),
        ),
        _ => (
            Behavior::Failed,
            format!("{}; expected 426", status_text(a)),
        ),
    }
}

fn refused(a: &Answer) -> (Behavior, String) {
    match a.status {
        Some(101) => (
            Behavior::Failed,
            "the server upgraded a request that is not a valid opening handshake".into(),
        ),
        Some(s) if (400..500).contains(&s) => (Behavior::Ok, format!("refused with {s}")),
        Some(s) => (
            Behavior::NonStrict,
            format!("not upgraded, but answered {s} where a 4xx error says why"),
        ),
        None => (
            Behavior::NonStrict,
            "not upgraded, but the connection was dropped without an HTTP answer".into(),
        ),
    }
}

fn upgraded(a: &Answer) -> (Behavior, String) {
    match (a.status, &a.problem) {
        (Some(101), None) => (Behavior::Ok, "a valid 101".into()),
        (Some(101), Some(problem)) => (Behavior::Failed, format!("a 101, but {problem}")),
        _ => (
            Behavior::Failed,
            format!("{}; header names are case-insensitive", status_text(a)),
        ),
    }
}

fn no_foreign_answer(a: &Answer) -> (Behavior, String) {
    match (a.status, &a.problem) {
        (Some(101), None) => (
            Behavior::Ok,
            "the answer holds only what was offered".into(),
        ),
        (Some(101), Some(problem)) => (Behavior::Failed, problem.clone()),
        _ => (
            Behavior::Ok,
            format!("{}: refusing is allowed", status_text(a)),
        ),
    }
}

fn window_bits_answered(a: &Answer) -> (Behavior, String) {
    if a.status != Some(101) {
        return (
            Behavior::Failed,
            format!("{}; expected 101", status_text(a)),
        );
    }
    if let Some(problem) = &a.problem {
        return (Behavior::Failed, problem.clone());
    }
    if !a.deflate {
        return (
            Behavior::Unimplemented,
            "the server did not agree to permessage-deflate".into(),
        );
    }
    let named = a
        .header("Sec-WebSocket-Extensions")
        .is_some_and(|v| v.contains("server_max_window_bits"));
    if named {
        (
            Behavior::Ok,
            "server_max_window_bits is in the answer".into(),
        )
    } else {
        (
            Behavior::Failed,
            "the offer named server_max_window_bits=15 and the answer does not".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn shapes_change_one_thing() {
        assert!(!without_header(REQUEST, "sec-websocket-key").contains("Key"));
        assert!(without_header(REQUEST, "Sec-WebSocket-Key").ends_with("13\r\n\r\n"));
        let odd = odd_case(REQUEST.into());
        assert!(odd.contains("sEC-wEBsOCKET-kEY: k\r\n"), "{odd}");
        assert!(odd.contains("uPGRADE: WebSocket\r\n"), "{odd}");
        assert!(odd.starts_with("GET / HTTP/1.1\r\nHost: h\r\n"));
    }

    #[test]
    fn a_426_must_name_13() {
        let mut a = Answer {
            status: Some(426),
            headers: vec![("Sec-WebSocket-Version".into(), "13, 8".into())],
            ..Answer::default()
        };
        assert_eq!(wants_426_naming_13(&a).0, Behavior::Ok);
        a.headers.clear();
        assert_eq!(wants_426_naming_13(&a).0, Behavior::NonStrict);
        a.status = Some(101);
        assert_eq!(wants_426_naming_13(&a).0, Behavior::Failed);
    }
}
