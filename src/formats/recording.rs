//! A recorded session read back, from a tape (`--log`) or a HAR: the
//! request headers and, in order, what each side sent. Replaying it as a
//! client or as a mock server is a matter of which side's steps are ours.

use std::path::Path;

use super::{har, tape};
use crate::error::{fail, Failure, Stage};
use crate::wire::Role;

/// A complete data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub binary: bool,
    pub data: Vec<u8>,
}

/// Something one side sent that a replay sends again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Message(Msg),
    Ping(Vec<u8>),
    /// The Close that started the close handshake (the answer to it is
    /// the protocol's, not the script's).
    Close {
        code: Option<u16>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub by: Role,
    pub step: Step,
    /// Seconds since the recording started.
    pub t: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    /// The URL the recording was made against, when it says.
    pub url: Option<String>,
    /// The upgrade request's headers, those wscope writes itself left out.
    pub headers: Vec<(String, String)>,
    /// Everything sent, both sides, in the order it crossed.
    pub sent: Vec<Sent>,
    /// The close code the server's side of the close handshake carried:
    /// `None` when the recording has no close handshake.
    pub server_close: Option<Option<u16>>,
}

/// The longest a replay waits on the recording's clock (a day).
const MAX_GAP: f64 = 86_400.0;

/// A step for one side of a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub step: Step,
    /// How many data messages the other side had sent before it.
    pub after: u64,
    /// Seconds after the first thing sent on the recording.
    pub at: f64,
}

/// Headers wscope generates for every request; a recording's own values
/// of these would be wrong for a new connection.
const GENERATED: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "content-length",
];

pub fn replayable_header(name: &str) -> bool {
    !GENERATED.contains(&name.to_ascii_lowercase().as_str()) && !name.starts_with(':')
}

impl Recording {
    /// Reads a tape or, when the file is one JSON document with a `log`,
    /// a HAR. `entry` picks among a HAR's WebSocket entries; what `ours`
    /// will send again is checked.
    pub fn read(path: &Path, entry: Option<&str>, ours: Role) -> Result<Recording, Failure> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| {
            fail(
                Stage::Usage,
                format!("--replay {shown}: cannot read it: {e}"),
            )
        })?;
        let looks_like_har = text
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{')
            && serde_json::from_slice::<serde_json::Value>(&text)
                .is_ok_and(|v| v.get("log").is_some());
        let result = if looks_like_har {
            har::read(&text, entry)
        } else {
            tape::read(&text, entry)
        };
        result
            .and_then(|recording| recording.check(ours).map(|()| recording))
            .map_err(|e| fail(Stage::Usage, format!("--replay {shown}: {e}")))
    }

    /// What a replay sends must be as valid as what the command line
    /// sends: a header that would split the request, a control frame that
    /// breaks RFC 6455, or a close code that may not be sent is refused
    /// (whoever wrote the file may not be on our side).
    fn check(&self, ours: Role) -> Result<(), String> {
        for (name, value) in &self.headers {
            if !crate::handshake::is_token(name) {
                return Err(format!(
                    "the recorded header name \"{}\" is not a valid HTTP header name",
                    name.escape_debug()
                ));
            }
            crate::handshake::check_value(&format!("the recorded header '{name}'"), value)?;
        }
        for (i, sent) in self.sent.iter().enumerate().filter(|(_, s)| s.by == ours) {
            let at = |what: String| format!("recorded step {}: {what}", i + 1);
            match &sent.step {
                Step::Ping(payload) if payload.len() > 125 => {
                    return Err(at(format!(
                        "a ping of {} bytes; RFC 6455 §5.5 allows at most 125",
                        payload.len()
                    )))
                }
                Step::Close {
                    code: Some(code), ..
                } => {
                    if let Some(why) = crate::wire::close_code::forbidden_on_wire(*code) {
                        return Err(at(format!("a Close with code {code}: {why}")));
                    }
                }
                Step::Close { code: None, reason } if !reason.is_empty() => {
                    return Err(at("a Close with a reason but no code".into()))
                }
                _ => {}
            }
            if let Step::Close { reason, .. } = &sent.step {
                if reason.len() > 123 {
                    return Err(at(format!(
                        "a Close reason of {} bytes; RFC 6455 §5.5 allows at most 123",
                        reason.len()
                    )));
                }
            }
        }
        Ok(())
    }

    /// What `side` sends, each with how many messages it waits for.
    pub fn steps(&self, side: Role) -> Vec<Planned> {
        let start = self.sent.first().map_or(0.0, |s| s.t);
        let mut heard = 0;
        let mut steps = Vec::new();
        for sent in &self.sent {
            if sent.by == side {
                steps.push(Planned {
                    step: sent.step.clone(),
                    after: heard,
                    // A hand-edited tape must not make a replay wait for ever.
                    at: (sent.t - start).clamp(0.0, MAX_GAP),
                });
            } else if matches!(sent.step, Step::Message(_)) {
                heard += 1;
            }
        }
        steps
    }

    /// The data messages `side` sent, in order.
    pub fn messages(&self, side: Role) -> Vec<Msg> {
        self.sent
            .iter()
            .filter(|s| s.by == side)
            .filter_map(|s| match &s.step {
                Step::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether `side` started the close handshake.
    pub fn closed_by(&self, side: Role) -> bool {
        self.sent
            .iter()
            .any(|s| s.by == side && matches!(s.step, Step::Close { .. }))
    }
}

impl Recording {
    /// The recording's request headers, except those the command line gives
    /// (with -H, or with an option such as --origin, named in `chosen`), and
    /// except credentials when the target is another origin than the one
    /// recorded: those are returned apart, to be named.
    pub fn request_headers(
        &self,
        given: Vec<(String, String)>,
        chosen: &[&str],
        same_origin: bool,
    ) -> (Vec<(String, String)>, Vec<String>) {
        let mut dropped = Vec::new();
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let overridden = given.iter().any(|(g, _)| g.eq_ignore_ascii_case(name))
                || chosen.iter().any(|c| c.eq_ignore_ascii_case(name));
            if overridden {
                continue;
            }
            if !same_origin && crate::handshake::client::is_credential(name) {
                dropped.push(name.clone());
                continue;
            }
            headers.push((name.clone(), value.clone()));
        }
        headers.extend(given);
        (headers, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Step {
        Step::Message(Msg {
            binary: false,
            data: s.as_bytes().to_vec(),
        })
    }

    #[test]
    fn each_step_waits_for_what_the_other_side_had_sent() {
        let rec = Recording {
            sent: vec![
                Sent {
                    by: Role::Client,
                    step: text("a"),
                    t: 1.0,
                },
                Sent {
                    by: Role::Server,
                    step: text("A"),
                    t: 1.1,
                },
                Sent {
                    by: Role::Server,
                    step: Step::Ping(vec![]),
                    t: 1.2,
                },
                Sent {
                    by: Role::Client,
                    step: text("b"),
                    t: 1.5,
                },
                Sent {
                    by: Role::Server,
                    step: text("B"),
                    t: 1.6,
                },
            ],
            ..Recording::default()
        };
        let client: Vec<_> = rec.steps(Role::Client).iter().map(|p| p.after).collect();
        assert_eq!(client, [0, 1]);
        let server: Vec<_> = rec.steps(Role::Server).iter().map(|p| p.after).collect();
        assert_eq!(server, [1, 1, 2]);
        assert!((rec.steps(Role::Client)[1].at - 0.5).abs() < 1e-9);
        assert_eq!(rec.messages(Role::Server).len(), 2);
    }

    #[test]
    fn generated_headers_are_not_replayed() {
        assert!(!replayable_header("Sec-WebSocket-Key"));
        assert!(!replayable_header("host"));
        assert!(replayable_header("Cookie"));
    }
}
