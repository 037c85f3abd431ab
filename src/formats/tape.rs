//! The tape: its writer (`--log`) and its reader (`--replay`), side by side.
//!
//! The tape (`--log`): the `--json` event stream, every event with its
//! wall-clock time as well, written to a file as the session goes
//! (docs/tape.md). `wscope --replay` reads it back.
//!
//! Reading a tape: the JSON Lines that `--log` wrote (docs/tape.md).
//! Only the events a replay needs are read; others are skipped, so tapes
//! from newer versions still play.

use super::recording::{replayable_header, Msg, Recording, Sent, Step};
use super::RecordFile;
use crate::observe::{Clock, Json, Observer, Out};
use crate::wire::Role;
use serde_json::Value;
use std::collections::BTreeMap;

pub fn create(file: RecordFile, clock: Clock) -> Box<dyn Observer> {
    Box::new(Json::with_wall_clock(Out::file(file), clock))
}

/// The recording in a tape, or what is wrong with it ("line 3: ...").
/// A tape of several connections (--reconnect) holds one recording each;
/// `entry` picks one, by number or by a piece of its URL.
pub fn read(text: &[u8], entry: Option<&str>) -> Result<Recording, String> {
    // Each connection's recording as it is read, by `conn` (a tape of a
    // listener's clients interleaves them; an older tape has no `conn`
    // and one connection after another).
    let mut open: BTreeMap<u64, Reading> = BTreeMap::new();
    let mut done: Vec<(u64, Recording)> = Vec::new();
    // Until a connect event says otherwise, the recorder was the client.
    let mut recorder = Role::Client;
    let mut events = 0;
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = |what: String| format!("line {number}: {what}");
        let value: Value =
            serde_json::from_slice(line).map_err(|e| at(format!("not a JSON object ({e})")))?;
        let event = value
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| at("no \"event\" name".into()))?;
        let t = value.get("t").and_then(Value::as_f64).unwrap_or(0.0);
        let conn = value.get("conn").and_then(Value::as_u64).unwrap_or(0);
        let side = |value: &Value| -> Result<Role, String> {
            match value.get("dir").and_then(Value::as_str) {
                Some("out") => Ok(recorder),
                Some("in") => Ok(recorder.other()),
                _ => Err(at(format!(
                    "a {event} event without \"dir\" \"in\" or \"out\""
                ))),
            }
        };
        events += 1;
        if event == "connect" {
            // A new connection, or a redirect's next hop within one: what
            // the last hop had is kept only if it was upgraded.
            if let Some(last) = open.remove(&conn) {
                last.keep(conn, &mut done);
            }
            let mut reading = Reading::default();
            if value.get("role").and_then(Value::as_str) == Some("server") {
                recorder = Role::Server;
            } else {
                reading.rec.url = value.get("url").and_then(Value::as_str).map(str::to_string);
            }
            open.insert(conn, reading);
            continue;
        }
        let reading = open.entry(conn).or_default();
        let rec = &mut reading.rec;
        match event {
            "response" => {
                reading.upgraded |= value.get("status").and_then(Value::as_u64) == Some(101);
            }
            "request" => {
                let raw = value
                    .get("raw")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at("a request event without \"raw\"".into()))?;
                rec.headers = head_headers(raw);
            }
            "message" => {
                let by = side(&value)?;
                let data = message_data(&value).map_err(at)?;
                rec.sent.push(Sent {
                    by,
                    step: Step::Message(data),
                    t,
                });
            }
            "frame" => {
                let by = side(&value)?;
                match value.get("kind").and_then(Value::as_str) {
                    Some("ping") => {
                        let payload = frame_payload(&value).map_err(at)?;
                        rec.sent.push(Sent {
                            by,
                            step: Step::Ping(payload),
                            t,
                        });
                    }
                    Some("close") => {
                        let code = value
                            .get("close_code")
                            .and_then(Value::as_u64)
                            .and_then(|c| u16::try_from(c).ok());
                        if by == Role::Server && rec.server_close.is_none() {
                            rec.server_close = Some(code);
                        }
                        reading.closes += 1;
                        // Only the first Close is the script's; the other
                        // is the protocol's answer to it.
                        if reading.closes == 1 {
                            let reason = value
                                .get("close_reason")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            rec.sent.push(Sent {
                                by,
                                step: Step::Close { code, reason },
                                t,
                            });
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if events == 0 {
        return Err("the tape is empty (write one with --log FILE)".into());
    }
    // A tape with no upgraded connection still names what it tried.
    let mut fallback = None;
    for (conn, reading) in open {
        if reading.upgraded || !reading.rec.sent.is_empty() {
            reading.keep(conn, &mut done);
        } else {
            fallback = Some(reading.rec);
        }
    }
    // Numbered connections in their order; an older tape's in the order
    // they came.
    done.sort_by_key(|(conn, _)| *conn);
    let mut connections: Vec<Recording> = done.into_iter().map(|(_, rec)| rec).collect();
    if connections.is_empty() {
        connections.push(fallback.unwrap_or_default());
    }
    pick(connections, entry)
}

/// One connection's recording while the tape is read.
#[derive(Default)]
struct Reading {
    rec: Recording,
    upgraded: bool,
    closes: u32,
}

impl Reading {
    /// Only connections that were upgraded (not a redirect's first hop,
    /// not a refused upgrade) are worth replaying.
    fn keep(self, conn: u64, done: &mut Vec<(u64, Recording)>) {
        if self.upgraded || !self.rec.sent.is_empty() {
            done.push((conn, self.rec));
        }
    }
}

/// One connection of several: the Nth (from 1), or the one whose URL
/// holds `entry`.
fn pick(mut connections: Vec<Recording>, entry: Option<&str>) -> Result<Recording, String> {
    let count = connections.len();
    let url = |r: &Recording| r.url.clone().unwrap_or_default();
    match entry.map(|want| (want, want.parse::<usize>())) {
        None if count == 1 => Ok(connections.remove(0)),
        None => Err(format!(
            "the tape holds {count} connections (a --reconnect run); pick one with --entry N (1 to {count})"
        )),
        Some((_, Ok(n))) if (1..=count).contains(&n) => Ok(connections.remove(n - 1)),
        // Not a number in range: a piece of the URL (a port, say).
        Some((want, _)) => {
            let mut found: Vec<Recording> = connections
                .into_iter()
                .filter(|r| url(r).contains(want))
                .collect();
            match found.len() {
                1 => Ok(found.remove(0)),
                0 => Err(format!(
                    "--entry {want}: the tape holds {count} connections, and none has {want:?} in its URL"
                )),
                n => Err(format!(
                    "{n} connections on the tape have a URL that contains {want:?}; pick one with --entry N"
                )),
            }
        }
    }
}

/// The headers of a raw request head worth sending again.
pub fn head_headers(raw: &str) -> Vec<(String, String)> {
    raw.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .filter(|(n, _)| !n.is_empty() && replayable_header(n))
        .collect()
}

fn message_data(value: &Value) -> Result<Msg, String> {
    let binary = match value.get("kind").and_then(Value::as_str) {
        Some("text") => false,
        Some("binary") => true,
        _ => return Err("a message event whose \"kind\" is not \"text\" or \"binary\"".into()),
    };
    let data = value
        .get("data")
        .and_then(Value::as_str)
        .ok_or("a message event without \"data\"")?;
    let encoding = value.get("encoding").and_then(Value::as_str);
    let data = decode(data, encoding).map_err(|e| format!("message data: {e}"))?;
    Ok(Msg { binary, data })
}

fn frame_payload(value: &Value) -> Result<Vec<u8>, String> {
    let payload = value
        .get("payload")
        .and_then(Value::as_str)
        .unwrap_or_default();
    decode(
        payload,
        value.get("payload_encoding").and_then(Value::as_str),
    )
    .map_err(|e| format!("frame payload: {e}"))
}

fn decode(text: &str, encoding: Option<&str>) -> Result<Vec<u8>, String> {
    match encoding {
        Some("hex") => from_hex(text),
        Some("utf8") | None => Ok(text.as_bytes().to_vec()),
        Some(other) => Err(format!("unknown encoding {other:?}")),
    }
}

pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 {
        return Err("hex with an odd number of digits".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex at position {i}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listeners_clients_interleaved_on_a_tape_are_read_apart() {
        let tape =
            br#"{"event":"connect","t":0.1,"conn":1,"url":"ws://127.0.0.1:9/a","role":"server"}
{"event":"response","t":0.1,"conn":1,"raw":"","status":101}
{"event":"connect","t":0.2,"conn":2,"url":"ws://127.0.0.1:9/b","role":"server"}
{"event":"response","t":0.2,"conn":2,"raw":"","status":101}
{"event":"message","t":0.3,"conn":2,"dir":"in","kind":"text","data":"to two","encoding":"utf8"}
{"event":"message","t":0.4,"conn":1,"dir":"in","kind":"text","data":"to one","encoding":"utf8"}
{"event":"message","t":0.5,"conn":2,"dir":"out","kind":"text","data":"from two","encoding":"utf8"}
"#;
        let texts = |rec: &Recording| -> Vec<String> {
            rec.sent
                .iter()
                .map(|s| match &s.step {
                    Step::Message(m) => String::from_utf8_lossy(&m.data).into_owned(),
                    _ => String::new(),
                })
                .collect()
        };
        let one = read(tape, Some("1")).unwrap();
        assert_eq!(texts(&one), ["to one"]);
        let two = read(tape, Some("2")).unwrap();
        assert_eq!(texts(&two), ["to two", "from two"]);
        assert_eq!(two.sent[1].by, Role::Server);
    }

    #[test]
    fn a_tape_gives_messages_pings_and_the_first_close() {
        let tape = br#"{"event":"connect","t":0.1,"url":"ws://x/","addr":"1.2.3.4:5","tls":false,"role":"client"}
{"event":"request","t":0.1,"raw":"GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: abc\r\nCookie: a=b\r\n\r\n"}
{"event":"message","t":0.2,"dir":"out","kind":"text","len":2,"data":"hi","encoding":"utf8"}
{"event":"frame","t":0.25,"dir":"in","kind":"ping","payload":"0102","payload_encoding":"hex"}
{"event":"message","t":0.3,"dir":"in","kind":"binary","len":2,"data":"00ff","encoding":"hex"}
{"event":"frame","t":0.4,"dir":"out","kind":"close","close_code":1000,"close_reason":""}
{"event":"frame","t":0.5,"dir":"in","kind":"close","close_code":4000,"close_reason":"x"}
"#;
        let rec = read(tape, None).unwrap();
        assert_eq!(rec.headers, [("Cookie".to_string(), "a=b".to_string())]);
        assert_eq!(rec.sent.len(), 4);
        assert_eq!(rec.sent[1].step, Step::Ping(vec![1, 2]));
        assert_eq!(rec.messages(Role::Server)[0].data, [0, 255]);
        assert_eq!(rec.server_close, Some(Some(4000)));
        assert!(rec.closed_by(Role::Client));
    }

    #[test]
    fn a_tape_of_several_connections_needs_entry() {
        let tape = br#"{"event":"connect","t":0.1,"url":"ws://x/a","role":"client"}
{"event":"response","t":0.1,"status":101}
{"event":"message","t":0.2,"dir":"out","kind":"text","data":"first"}
{"event":"connect","t":1.1,"url":"ws://x/a","role":"client"}
{"event":"response","t":1.1,"status":503}
{"event":"connect","t":2.1,"url":"ws://x/b","role":"client"}
{"event":"response","t":2.1,"status":101}
{"event":"message","t":2.2,"dir":"out","kind":"text","data":"second"}
"#;
        let err = read(tape, None).unwrap_err();
        assert!(err.contains("holds 2 connections"), "{err}");
        let data = |entry| {
            read(tape, Some(entry)).unwrap().messages(Role::Client)[0]
                .data
                .clone()
        };
        assert_eq!(data("1"), b"first");
        assert_eq!(data("2"), b"second");
        assert_eq!(data("/b"), b"second");
        assert!(read(tape, Some("3"))
            .unwrap_err()
            .contains("holds 2 connections"));
        assert!(read(tape, Some("x/"))
            .unwrap_err()
            .contains("2 connections"));
    }

    #[test]
    fn bad_lines_are_named() {
        let err = read(b"{\"event\":\"connect\"}\nnot json\n", None).unwrap_err();
        assert!(err.starts_with("line 2: not a JSON object"), "{err}");
        let err = read(
            b"{\"event\":\"message\",\"dir\":\"out\",\"kind\":\"text\"}\n",
            None,
        )
        .unwrap_err();
        assert!(
            err.contains("line 1: a message event without \"data\""),
            "{err}"
        );
        assert!(read(b"\n", None).is_err());
    }
}
