//! HAR: its writer (`--har`) and its reader (`--replay`), side by side.
//!
//! `--har`: the session as HAR 1.2, the way Chrome DevTools saves a
//! WebSocket: the upgrade as an entry (request and response headers,
//! status 101, timings) with `_resourceType: "websocket"` and the data
//! messages in `_webSocketMessages` (`type` send/receive, `time` in epoch
//! seconds, `opcode` 1 or 2, `data`, binary as base64).
//!
//! HAR is one JSON document, but messages are not held for the end: the
//! document is written up to the message list once the response is in,
//! each message is appended as it comes, and the brackets are closed when
//! the recorder goes away.
//!
//! Reading a HAR: Chrome DevTools keeps a WebSocket's handshake as an
//! entry with `_resourceType: "websocket"` and its messages in
//! `_webSocketMessages` (`type` send/receive, `time` in epoch seconds,
//! `opcode` 1 text or 2 binary with base64 `data`).

use super::recording::{replayable_header, Msg, Recording, Sent, Step};
use super::RecordFile;
use crate::observe::{Clock, Dir, Event, Flow, Interest, Observer};
use crate::wire::Role;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};

/// What closes the document after the last message.
const TAIL: &str = "]}]}}\n";

pub struct Har {
    out: BufWriter<RecordFile>,
    clock: Clock,
    /// Epoch seconds when the clock started.
    wall_base: f64,
    /// Each connection's entry until it is written whole or streamed.
    pending: BTreeMap<u32, Pending>,
    /// The connection the events being told belong to.
    conn: u32,
    /// The connection whose entry is open in the document: its messages
    /// are written as they come.
    streaming: Option<u32>,
    /// Whether the document is open inside an entry's message list.
    dangling: bool,
    messages: u64,
    /// Entries written: one per connection.
    entries: u64,
    /// Bytes of messages held for entries that wait for their turn.
    held: usize,
}

/// An entry not yet in the document: another connection's is open there.
struct Pending {
    entry: Value,
    messages: Vec<Value>,
    /// The upgrade was answered with 101: its messages may stream.
    upgraded: bool,
    /// The connection is over: the entry can be written whole.
    gone: bool,
    dropped: u64,
}

/// What entries waiting for their turn may hold in messages, over all of
/// them; later messages of theirs are counted, not kept.
const HELD_MAX: usize = 64 << 20;

impl Har {
    pub fn new(file: RecordFile, clock: Clock) -> Self {
        Har {
            out: BufWriter::new(file),
            clock,
            wall_base: clock.wall_base(),
            pending: BTreeMap::new(),
            conn: 0,
            streaming: None,
            dangling: false,
            messages: 0,
            entries: 0,
            held: 0,
        }
    }

    fn wall(&self, t: f64) -> f64 {
        self.wall_base + t
    }

    /// Writes the document up to this entry's message list (after closing
    /// the previous entry).
    fn begin_entry(&mut self, mut entry: Value) {
        self.close_entry();
        self.messages = 0;
        if let Some(object) = entry.as_object_mut() {
            object.insert("_resourceType".into(), json!("websocket"));
            object.insert("_webSocketMessages".into(), json!([]));
        }
        self.entries += 1;
        self.dangling = true;
        if self.entries > 1 {
            let text = entry.to_string();
            let head = text.strip_suffix("]}").unwrap_or(&text);
            let _ = self.out.write_all(b",");
            let _ = self.out.write_all(head.as_bytes());
            return;
        }
        let document = json!({
            "log": {
                "version": "1.2",
                "creator": {"name": "wscope", "version": env!("CARGO_PKG_VERSION")},
                "pages": [],
                "entries": [entry],
            }
        });
        let text = document.to_string();
        // The message list is the last thing in the document: cut before
        // its closing bracket and what closes the rest.
        let head = text.strip_suffix(&TAIL[..TAIL.len() - 1]).unwrap_or(&text);
        let _ = self.out.write_all(head.as_bytes());
    }

    /// Closes the open entry's message list and the entry.
    fn close_entry(&mut self) {
        if self.dangling {
            self.dangling = false;
            let _ = self.out.write_all(b"]}");
        }
    }

    /// Writes the entries whose turn has come: while no connection
    /// streams, the oldest waiting one is written, whole when its
    /// connection is over, or opened to stream.
    fn advance(&mut self) {
        while self.streaming.is_none() {
            let Some((&conn, _)) = self.pending.iter().find(|(_, p)| p.upgraded || p.gone) else {
                return;
            };
            let Some(mut pending) = self.pending.remove(&conn) else {
                return;
            };
            if pending.dropped > 0 {
                pending.entry["_wscopeMessagesNotKept"] = json!(pending.dropped);
            }
            self.begin_entry(pending.entry);
            for message in pending.messages {
                self.held = self.held.saturating_sub(message_size(&message));
                self.write_message(&message);
            }
            if pending.gone {
                self.close_entry();
            } else {
                self.streaming = Some(conn);
            }
        }
    }

    fn write_message(&mut self, message: &Value) {
        if self.messages > 0 {
            let _ = self.out.write_all(b",");
        }
        self.messages += 1;
        let _ = serde_json::to_writer(&mut self.out, message);
    }

    fn connect(
        &mut self,
        url: &str,
        addr: std::net::SocketAddr,
        timings: Option<(f64, f64, Option<f64>)>,
    ) {
        let started = self.wall(self.clock.now());
        let (dns, tcp, tls) = timings.unwrap_or((-1.0, -1.0, None));
        let entry = json!({
            "startedDateTime": iso8601(started),
            "time": 0,
            "request": {
                "method": "GET",
                "url": url,
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "queryString": query(url),
                "cookies": [],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": 0,
                "statusText": "",
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "cookies": [],
                "content": {"size": 0, "mimeType": "x-unknown"},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": 0,
            },
            "cache": {},
            "timings": {
                "blocked": -1,
                "dns": dns,
                // HAR counts the TLS handshake in connect as well.
                "connect": if tcp < 0.0 { -1.0 } else { tcp + tls.unwrap_or(0.0) },
                "ssl": tls.unwrap_or(-1.0),
                "send": 0,
                "wait": 0,
                "receive": 0,
            },
            "serverIPAddress": addr.ip().to_string(),
            "connection": addr.port().to_string(),
        });
        // A redirect within the connection replaces the entry it had.
        self.pending.insert(
            self.conn,
            Pending {
                entry,
                messages: Vec::new(),
                upgraded: false,
                gone: false,
                dropped: 0,
            },
        );
    }

    fn message(&mut self, dir: Dir, binary: bool, data: &[u8], t: f64) {
        let data = if binary {
            base64::engine::general_purpose::STANDARD.encode(data)
        } else {
            String::from_utf8_lossy(data).into_owned()
        };
        let message = json!({
            "type": if dir == Dir::Out { "send" } else { "receive" },
            "time": self.wall(t),
            "opcode": if binary { 2 } else { 1 },
            "data": data,
        });
        if self.streaming == Some(self.conn) {
            self.write_message(&message);
            return;
        }
        let Some(pending) = self.pending.get_mut(&self.conn) else {
            return;
        };
        let size = message_size(&message);
        if self.held + size > HELD_MAX {
            pending.dropped += 1;
        } else {
            self.held += size;
            pending.messages.push(message);
        }
    }
}

/// About what a message takes held in memory.
fn message_size(message: &Value) -> usize {
    64 + message["data"].as_str().map_or(0, str::len)
}

impl Observer for Har {
    fn event(&mut self, event: &Event) -> Flow {
        match event {
            Event::Connect { url, facts, .. } => {
                let timings = facts.timings.map(|t| (t.dns_ms, t.tcp_ms, t.tls_ms));
                self.connect(url, facts.addr, timings);
            }
            Event::Request { raw } => {
                if let Some(pending) = self.pending.get_mut(&self.conn) {
                    let head = String::from_utf8_lossy(raw);
                    pending.entry["request"]["headers"] = headers(head.split("\r\n").skip(1));
                    pending.entry["request"]["headersSize"] = json!(raw.len());
                }
            }
            Event::Response {
                response,
                upgrade_ms,
                ..
            } => {
                let Some(pending) = self.pending.get_mut(&self.conn) else {
                    return Flow::Go;
                };
                let entry = &mut pending.entry;
                let r = &mut entry["response"];
                r["status"] = json!(response.status);
                r["statusText"] = json!(response.reason);
                r["headers"] = json!(response
                    .headers
                    .iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect::<Vec<_>>());
                r["headersSize"] = json!(response.raw.len());
                let wait = upgrade_ms.unwrap_or(0.0);
                entry["timings"]["wait"] = json!(wait);
                let t = &entry["timings"];
                let total: f64 = ["dns", "connect", "wait"]
                    .iter()
                    .filter_map(|k| t[*k].as_f64())
                    .filter(|v| *v > 0.0)
                    .sum();
                entry["time"] = json!(total);
                if response.status == 101 {
                    pending.upgraded = true;
                    self.advance();
                }
            }
            Event::Gone => {
                if self.streaming == Some(self.conn) {
                    self.close_entry();
                    self.streaming = None;
                } else if let Some(pending) = self.pending.get_mut(&self.conn) {
                    pending.gone = true;
                }
                self.advance();
            }
            Event::Message {
                dir,
                binary,
                data,
                at,
                ..
            } => {
                let t = self.clock.at(*at);
                self.message(*dir, *binary, data, t);
            }
            _ => {}
        }
        Flow::Go
    }

    fn flush(&mut self) -> Flow {
        let _ = self.out.flush();
        Flow::Go
    }

    fn set_conn(&mut self, conn: Option<u32>) {
        self.conn = conn.unwrap_or(0);
    }

    /// A proxied connection's two legs are kept apart (its server leg
    /// under the connection's number with the top bit set).
    fn set_leg(&mut self, leg: Option<crate::wire::Role>) {
        self.conn = crate::formats::leg_key(self.conn, leg);
    }

    fn interest(&self) -> Interest {
        Interest {
            outgoing_messages: true,
            ..Interest::default()
        }
    }
}

impl Drop for Har {
    fn drop(&mut self) {
        // What is still waiting is written: a refused upgrade still makes
        // an entry, without messages.
        self.streaming = None;
        for pending in self.pending.values_mut() {
            pending.gone = true;
        }
        self.advance();
        if self.entries == 0 {
            // Nothing connected: an empty log, still a HAR.
            self.begin_entry(json!({}));
        }
        if !self.dangling {
            // TAIL closes an open entry's message list and the entry first.
            let _ = self.out.write_all(&TAIL.as_bytes()[2..]);
        } else {
            let _ = self.out.write_all(TAIL.as_bytes());
        }
        let _ = self.out.flush();
    }
}

fn headers<'a>(lines: impl Iterator<Item = &'a str>) -> Value {
    json!(lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| json!({"name": n.trim(), "value": v.trim()}))
        .collect::<Vec<_>>())
}

fn query(url: &str) -> Value {
    let pairs = url::Url::parse(url)
        .map(|u| {
            u.query_pairs()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    json!(pairs)
}

/// Epoch seconds as an ISO 8601 UTC time with milliseconds.
fn iso8601(epoch: f64) -> String {
    let millis = (epoch.max(0.0) * 1000.0) as i128;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000.25), "2023-11-14T22:13:20.250Z");
        assert_eq!(iso8601(951_782_400.0), "2000-02-29T00:00:00.000Z");
    }
}

pub fn read(text: &[u8], entry: Option<&str>) -> Result<Recording, String> {
    let har: Value = serde_json::from_slice(text).map_err(|e| format!("not JSON ({e})"))?;
    let entries = har
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or("no log.entries: not a HAR")?;
    let all: Vec<(usize, &Value)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.get("_resourceType").and_then(Value::as_str) == Some("websocket")
                || e.get("_webSocketMessages").is_some()
        })
        .collect();
    // --entry N: the Nth WebSocket entry (a --reconnect run's entries
    // share one URL); otherwise a piece of the URL.
    let by_number = entry
        .and_then(|want| want.parse::<usize>().ok())
        .and_then(|n| all.get(n.wrapping_sub(1)));
    let sockets: Vec<(usize, &Value)> = match (by_number, entry) {
        (Some(one), _) => vec![*one],
        (None, None) => all.clone(),
        // Not a number in range: a piece of the URL (a port, say).
        (None, Some(want)) => all
            .iter()
            .copied()
            .filter(|(_, e)| url(e).contains(want))
            .collect(),
    };
    let (index, socket) = match (sockets.as_slice(), entry) {
        ([one], _) => one,
        ([], None) => return Err("no WebSocket entry (_resourceType \"websocket\")".into()),
        ([], Some(want)) if want.parse::<usize>().is_ok() => {
            return Err(format!(
                "--entry {want}: there are {} WebSocket entries, and none has {want:?} in its URL",
                all.len()
            ))
        }
        ([], Some(want)) => return Err(format!("no WebSocket entry whose URL contains {want:?}")),
        (many, _) => {
            let urls: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, (_, e))| format!("{} {}", i + 1, crate::escape::escape(url(e))))
                .collect();
            return Err(format!(
                "{} WebSocket entries ({}); pick one with --entry URL-SUBSTRING or --entry N",
                many.len(),
                urls.join(", ")
            ));
        }
    };
    let at = |what: &str| format!("log.entries[{index}]: {what}");
    let mut rec = Recording {
        url: socket
            .pointer("/request/url")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Recording::default()
    };
    if let Some(headers) = socket.pointer("/request/headers").and_then(Value::as_array) {
        for header in headers {
            let name = header.get("name").and_then(Value::as_str);
            let value = header.get("value").and_then(Value::as_str);
            if let (Some(name), Some(value)) = (name, value) {
                if replayable_header(name) {
                    rec.headers.push((name.to_string(), value.to_string()));
                }
            }
        }
    }
    let messages = socket
        .get("_webSocketMessages")
        .and_then(Value::as_array)
        .ok_or_else(|| at("no _webSocketMessages"))?;
    for (i, message) in messages.iter().enumerate() {
        let at = |what: &str| at(&format!("_webSocketMessages[{i}]: {what}"));
        let by = match message.get("type").and_then(Value::as_str) {
            Some("send") => Role::Client,
            Some("receive") => Role::Server,
            _ => return Err(at("\"type\" is not \"send\" or \"receive\"")),
        };
        let t = message.get("time").and_then(Value::as_f64).unwrap_or(0.0);
        let data = message
            .get("data")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let step = match message.get("opcode").and_then(Value::as_u64) {
            Some(1) => Step::Message(Msg {
                binary: false,
                data: data.as_bytes().to_vec(),
            }),
            Some(2) => Step::Message(Msg {
                binary: true,
                data: base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| at(&format!("binary data is not base64 ({e})")))?,
            }),
            Some(9) => Step::Ping(data.as_bytes().to_vec()),
            // Chrome records data messages only; other opcodes are skipped.
            Some(_) => continue,
            None => return Err(at("no \"opcode\"")),
        };
        rec.sent.push(Sent { by, step, t });
    }
    Ok(rec)
}

fn url(entry: &Value) -> &str {
    entry
        .pointer("/request/url")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod reading_tests {
    use super::*;

    #[test]
    fn chrome_shaped_entries_are_read() {
        let har = br#"{"log":{"version":"1.2","entries":[
          {"request":{"url":"https://x/page","headers":[]},"_resourceType":"document"},
          {"request":{"url":"wss://x/socket","headers":[
              {"name":"Host","value":"x"},{"name":"Cookie","value":"s=1"}]},
           "_resourceType":"websocket",
           "_webSocketMessages":[
              {"type":"send","time":1700000000.5,"opcode":1,"data":"hi"},
              {"type":"receive","time":1700000000.6,"opcode":2,"data":"AP8="}]}]}}"#;
        let rec = read(har, None).unwrap();
        assert_eq!(rec.headers, [("Cookie".to_string(), "s=1".to_string())]);
        assert_eq!(rec.messages(Role::Server)[0].data, [0, 255]);
        assert!(read(har, Some("nothing")).is_err());
    }
}
