//! The verdict on a case, with the suite's rules: the events received are
//! matched in order against each expected list, and the way the connection
//! ended against the expected close.

use super::case::{Behavior, Case, CloseBehavior, Event, Step};
use super::engine::Outcome;

#[derive(Debug, Clone)]
pub struct Verdict {
    pub behavior: Behavior,
    pub behavior_close: CloseBehavior,
    /// Why, in words, for each.
    pub result: String,
    pub result_close: String,
}

pub fn judge(case: &Case, outcome: &Outcome) -> Verdict {
    if let Some((behavior, why)) = &outcome.handshake {
        let answered = !outcome.response.is_empty();
        return Verdict {
            behavior: *behavior,
            behavior_close: if answered {
                CloseBehavior::Ok
            } else {
                CloseBehavior::Unclean
            },
            result: why.clone(),
            result_close: if answered {
                "the server answered the request".into()
            } else {
                "the server sent no HTTP answer".into()
            },
        };
    }
    let mut v = Verdict {
        behavior: Behavior::Failed,
        behavior_close: CloseBehavior::Failed,
        result: "the events received differ from every expected list".into(),
        result_close: "the TCP connection was dropped without a closing handshake".into(),
    };
    if let Some((behavior, _)) = case
        .expected
        .iter()
        .find(|(_, events)| *events == outcome.received)
    {
        v.behavior = *behavior;
        v.result = "the events received match an expected list".into();
    }
    if let Some(spec) = echo_spec(case) {
        v.result = format!("the echoes did not come back within {} s", spec);
        match &outcome.echoes {
            Some(Ok(why)) => {
                v.behavior = Behavior::Ok;
                v.result = why.clone();
            }
            Some(Err(why)) => v.result = why.clone(),
            None => {}
        }
    }
    if !outcome.opened {
        v.behavior = Behavior::Failed;
        v.result = "the connection never opened, so nothing was sent".into();
        v.result_close = match &outcome.open_failure {
            Some(why) => format!("the opening handshake was never completed: {why}"),
            None => "the opening handshake was never completed".into(),
        };
        return v;
    }
    let expected = &case.close;
    // With `check --listen` the peer under test is a client.
    let peer = if outcome.server_role {
        "the client"
    } else {
        "the server"
    };
    let wrong_endpoint = expected.closed_by_me != outcome.closed_by_me;
    (v.behavior_close, v.result_close) = if wrong_endpoint {
        let who = if expected.closed_by_me { "we" } else { peer };
        (
            CloseBehavior::Failed,
            format!(
                "the connection was failed by the wrong endpoint: {who} should have closed first"
            ),
        )
    } else if expected.require_clean && !outcome.was_clean {
        (
            CloseBehavior::Unclean,
            format!(
                "the closing handshake must complete and {} drop TCP: {}",
                if outcome.server_role {
                    "we"
                } else {
                    "the server"
                },
                outcome.not_clean_reason.as_deref().unwrap_or("it did not")
            ),
        )
    } else if let Some(code) = outcome
        .remote_close_code
        .filter(|c| !expected.codes.contains(c))
    {
        (
            CloseBehavior::WrongCode,
            format!(
                "the close code should have been {} or empty, not {code}",
                join(&expected.codes)
            ),
        )
    } else if outcome.dropped_by_me && !outcome.server_role {
        (
            CloseBehavior::FailedByClient,
            "the server should drop TCP after the closing handshake; we had to".into(),
        )
    } else {
        (
            CloseBehavior::Ok,
            "the connection was closed properly".into(),
        )
    };
    if expected.wrong_endpoint_fatal && wrong_endpoint {
        v.behavior = Behavior::Failed;
        v.result = format!("{peer} did not fail the connection (it never saw the invalid UTF-8)");
    }
    if case.wrong_code_fails && v.behavior_close == CloseBehavior::WrongCode {
        v.behavior = Behavior::Failed;
        v.result = v.result_close.clone();
    }
    if !case.deflate.is_empty() && outcome.deflate.is_none() {
        v.behavior = Behavior::Unimplemented;
        v.result = "the server did not agree to permessage-deflate".into();
    }
    if case.informational {
        v.behavior = Behavior::Informational;
        v.behavior_close = CloseBehavior::Informational;
        v.result = "the spec does not say what must happen here".into();
    }
    v
}

fn echo_spec(case: &Case) -> Option<f64> {
    case.steps.iter().find_map(|s| match s {
        Step::Echoes(e) => Some(e.within_secs),
        _ => None,
    })
}

fn join(codes: &[u16]) -> String {
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Events as a reader sees them: `text "Hello" (5 bytes)`, `pong`,
/// `timeout A`; peer text escaped and cut.
pub fn describe(events: &[Event]) -> String {
    if events.is_empty() {
        return "nothing".into();
    }
    const SHOWN: usize = 12;
    let more = events.len().saturating_sub(SHOWN);
    let mut shown = events
        .iter()
        .take(SHOWN)
        .map(|e| match e {
            Event::Message { binary, payload } => {
                let shown = &payload[..payload.len().min(40)];
                let more = if payload.len() > 40 { "…" } else { "" };
                let kind = if *binary { "binary" } else { "text" };
                if *binary {
                    let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
                    format!("{kind} {hex}{more} ({} bytes)", payload.len())
                } else {
                    format!(
                        "{kind} \"{}{more}\" ({} bytes)",
                        crate::escape::escape_bytes(shown),
                        payload.len()
                    )
                }
            }
            Event::Pong(p) => format!("pong ({} bytes)", p.len()),
            Event::Timeout(tag) => format!("timeout {tag}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        shown.push_str(&format!(" and {more} more"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::case::{ExpectedClose, Frame};

    fn echo_case() -> Case {
        Case::new("1.1.1", "text", "RFC 6455 §5.6")
            .send(Frame::text("hi"))
            .kill_after(1.0)
            .expect(Behavior::Ok, vec![Event::text("hi")])
            .close(ExpectedClose::by_me(&[1000]))
    }

    fn clean_close_by_me(received: Vec<Event>) -> Outcome {
        Outcome {
            opened: true,
            received,
            closed_by_me: true,
            was_clean: true,
            remote_close_code: Some(1000),
            ..Outcome::default()
        }
    }

    #[test]
    fn an_echo_and_a_clean_close_pass() {
        let v = judge(&echo_case(), &clean_close_by_me(vec![Event::text("hi")]));
        assert_eq!(
            (v.behavior, v.behavior_close),
            (Behavior::Ok, CloseBehavior::Ok)
        );
    }

    #[test]
    fn a_changed_echo_fails_and_says_so() {
        let v = judge(&echo_case(), &clean_close_by_me(vec![Event::text("ho")]));
        assert_eq!(v.behavior, Behavior::Failed);
        assert_eq!(describe(&[Event::text("ho")]), "text \"ho\" (2 bytes)");
    }

    #[test]
    fn the_close_is_judged_in_the_suites_order() {
        let case = echo_case();
        let mut o = clean_close_by_me(vec![Event::text("hi")]);
        o.dropped_by_me = true;
        assert_eq!(
            judge(&case, &o).behavior_close,
            CloseBehavior::FailedByClient
        );
        o.remote_close_code = Some(1002);
        assert_eq!(judge(&case, &o).behavior_close, CloseBehavior::WrongCode);
        o.was_clean = false;
        assert_eq!(judge(&case, &o).behavior_close, CloseBehavior::Unclean);
        o.closed_by_me = false;
        assert_eq!(judge(&case, &o).behavior_close, CloseBehavior::Failed);
    }

    #[test]
    fn no_close_code_is_accepted() {
        let mut o = clean_close_by_me(vec![Event::text("hi")]);
        o.remote_close_code = None;
        assert_eq!(judge(&echo_case(), &o).behavior_close, CloseBehavior::Ok);
    }

    #[test]
    fn a_wrong_code_fails_the_behaviour_where_the_suite_says_so() {
        let case = Case::new("7.7.1", "close", "RFC 6455 §7.4")
            .expect(Behavior::Ok, vec![])
            .wrong_code_fails();
        let mut o = clean_close_by_me(vec![]);
        o.remote_close_code = Some(1011);
        let v = judge(&case, &o);
        assert_eq!(
            (v.behavior, v.behavior_close),
            (Behavior::Failed, CloseBehavior::WrongCode)
        );
    }

    #[test]
    fn closing_on_the_wrong_side_is_fatal_for_utf8_cases() {
        let case = Case::new("6.3.1", "bad utf-8", "RFC 6455 §8.1")
            .expect(Behavior::Ok, vec![])
            .close(ExpectedClose::by_peer(&[1007]).wrong_endpoint_fatal());
        let v = judge(&case, &clean_close_by_me(vec![]));
        assert_eq!(
            (v.behavior, v.behavior_close),
            (Behavior::Failed, CloseBehavior::Failed)
        );
    }

    #[test]
    fn a_handshake_that_failed_fails_the_close() {
        let o = Outcome {
            open_failure: Some("refused".into()),
            ..Outcome::default()
        };
        let v = judge(&echo_case(), &o);
        assert_eq!(v.behavior_close, CloseBehavior::Failed);
        assert!(v.result_close.contains("refused"));
    }
}
