//! JSON Lines, exactly per the contract in docs/json-lines.md: one object per line,
//! each with `event` and `t`. Frame and message events are written by hand
//! into a reused buffer because they come once per frame; the rare events
//! go through serde_json.

use std::io;

use serde_json::{json, Value};

use super::{
    push_hex, push_hex_pieces, show_frame_payload, Clock, Dir, Event, Initiator, Interest, Out,
    Pieces, Role, Screen, Shown, PIECE,
};
use crate::wire::decode::MessageEnd;
use crate::wire::frame::{Frame, Kind};

pub struct Json {
    out: Out,
    clock: Clock,
    /// Epoch seconds when the clock started: a tape (--log) gives every
    /// event its wall-clock time too, so tapes of different runs line up.
    wall_base: Option<f64>,
    /// The connection the next events belong to (`conn` on each).
    conn: Option<u32>,
    /// In the proxy, the leg they happened on (`leg` on each).
    leg: Option<Role>,
}

impl Json {
    pub fn new(out: Out, clock: Clock) -> Self {
        Json {
            out,
            clock,
            wall_base: None,
            conn: None,
            leg: None,
        }
    }

    /// The same stream with a `wall` key (epoch seconds) on every event.
    pub fn with_wall_clock(out: Out, clock: Clock) -> Self {
        Json {
            out,
            clock,
            wall_base: Some(clock.wall_base()),
            conn: None,
            leg: None,
        }
    }

    fn stamp(&self, t: f64) -> Stamp {
        Stamp {
            t,
            wall: self.wall_base.map(|base| base + t),
            conn: self.conn,
            leg: self.leg,
        }
    }

    fn rare_event(&self, event: &Event, t: f64) -> Value {
        match event {
            Event::Connect { url, role, facts } => {
                let tls = facts.tls.as_ref();
                let cert = tls.and_then(|t| t.cert.as_ref());
                let timings = facts.timings.as_ref();
                json!({
                    "event": "connect", "t": t,
                    "url": url,
                    "role": role.name(),
                    "addr": facts.unix.as_ref().map_or_else(
                        || facts.addr.to_string(),
                        |path| format!("unix:{}", path.display()),
                    ),
                    "via": facts.via,
                    "tls": tls.is_some(),
                    "tls_version": tls.map(|t| &t.version),
                    "cipher": tls.map(|t| &t.cipher),
                    "sni": tls.and_then(|t| t.sni.as_ref()),
                    "cert_subject": cert.map(|c| &c.subject),
                    "cert_issuer": cert.map(|c| &c.issuer),
                    "cert_not_after": cert.map(|c| &c.not_after),
                    "timings_ms": {
                        "dns": timings.map(|t| micros(t.dns_ms)),
                        "tcp": timings.map(|t| micros(t.tcp_ms)),
                        "tls": timings.and_then(|t| t.tls_ms).map(micros),
                    },
                })
            }
            Event::Request { raw } => json!({
                "event": "request", "t": t,
                "raw": String::from_utf8_lossy(raw),
            }),
            Event::Response {
                response,
                negotiated,
                upgrade_ms,
            } => {
                let headers: Vec<Value> = response
                    .headers
                    .iter()
                    .map(|(n, v)| json!([n, v]))
                    .collect();
                json!({
                    "event": "response", "t": t,
                    "raw": String::from_utf8_lossy(&response.raw),
                    "interim": response
                        .interim
                        .iter()
                        .map(|raw| String::from_utf8_lossy(raw))
                        .collect::<Vec<_>>(),
                    "status": response.status,
                    "reason": response.reason,
                    "headers": headers,
                    "body": (response.status != 101)
                        .then(|| String::from_utf8_lossy(&response.body)),
                    "accept_ok": negotiated.accept.as_ref().map(|a| a.ok),
                    "accept_expected": negotiated.accept.as_ref().map(|a| &a.expected),
                    "subprotocol": negotiated.subprotocol,
                    "extensions": negotiated.extensions,
                    "deflate": negotiated.deflate.map(|d| json!({
                        "server_no_context_takeover": d.server_no_context_takeover,
                        "client_no_context_takeover": d.client_no_context_takeover,
                        "server_max_window_bits": d.server_max_window_bits,
                        "client_max_window_bits": d.client_max_window_bits,
                    })),
                    "upgrade_ms": upgrade_ms.map(micros),
                })
            }
            Event::Close {
                code,
                reason,
                initiator,
            } => json!({
                "event": "close", "t": t,
                "code": code,
                "reason": reason,
                "initiator": match initiator {
                    Initiator::Local => "local",
                    Initiator::Remote => "remote",
                },
            }),
            Event::Error(failure) => json!({
                "event": "error", "t": t,
                "stage": failure.stage.name(),
                "message": failure.message,
            }),
            // Bad input is an error event too; the session goes on.
            Event::Refused(text) => json!({
                "event": "error", "t": t,
                "stage": "usage",
                "message": text,
            }),
            Event::Notice(text) => json!({
                "event": "notice", "t": t,
                "message": text,
            }),
            Event::Reconnect {
                attempt,
                limit,
                delay,
                cause,
            } => json!({
                "event": "reconnect", "t": t,
                "attempt": attempt,
                "of": limit,
                "delay_s": delay.as_secs_f64(),
                "cause": cause,
            }),
            Event::Answered { id, delay } => json!({
                "event": "answer", "t": t,
                "id": serde_json::from_str::<Value>(id).unwrap_or(Value::Null),
                "delay_ms": micros(delay.as_secs_f64() * 1000.0),
            }),
            Event::Reply {
                rule,
                pattern,
                text,
            } => json!({
                "event": "auto_reply", "t": t,
                "rule": rule,
                "pattern": pattern,
                "data": text,
            }),
            Event::Fault { kind, way, detail } => json!({
                "event": "fault", "t": t,
                "kind": kind,
                "way": way,
                "detail": detail,
            }),
            // Written by hand; see `show`.
            Event::Frame { .. } | Event::Message { .. } | Event::Wire(_) | Event::Gone => {
                Value::Null
            }
        }
    }
}

/// Milliseconds rounded to the microsecond, so that timings read cleanly.
fn micros(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The `,"name":` that starts a key, as one literal.
macro_rules! k {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// When an event happened: `t`, and on a tape the wall clock as well.
#[derive(Clone, Copy)]
struct Stamp {
    t: f64,
    wall: Option<f64>,
    conn: Option<u32>,
    leg: Option<Role>,
}

impl From<f64> for Stamp {
    fn from(t: f64) -> Stamp {
        Stamp {
            t,
            wall: None,
            conn: None,
            leg: None,
        }
    }
}

/// Appends `"key":` pairs to one JSON object.
struct Line<'a>(&'a mut Vec<u8>);

impl Line<'_> {
    fn start<'b>(buf: &'b mut Vec<u8>, event: &str, stamp: impl Into<Stamp>) -> Line<'b> {
        let stamp = stamp.into();
        buf.extend_from_slice(b"{\"event\":\"");
        buf.extend_from_slice(event.as_bytes());
        buf.extend_from_slice(b"\",\"t\":");
        push_seconds(buf, stamp.t);
        if let Some(wall) = stamp.wall {
            buf.extend_from_slice(b",\"wall\":");
            push_seconds(buf, wall);
        }
        if let Some(conn) = stamp.conn {
            buf.extend_from_slice(b",\"conn\":");
            buf.extend_from_slice(itoa::Buffer::new().format(conn).as_bytes());
        }
        if let Some(leg) = stamp.leg {
            buf.extend_from_slice(b",\"leg\":\"");
            buf.extend_from_slice(leg.name().as_bytes());
            buf.push(b'"');
        }
        Line(buf)
    }

    /// `key` is the whole `,"name":` prefix, built at compile time by `k!`.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        self.0.extend_from_slice(key.as_bytes());
        self.0
    }

    fn str(&mut self, key: &str, value: &str) {
        let buf = self.key(key);
        push_json_string(buf, value);
    }

    /// A value known to need no escaping (names from our own tables).
    fn plain(&mut self, key: &str, value: &'static str) {
        let buf = self.key(key);
        buf.push(b'"');
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'"');
    }

    fn hex(&mut self, key: &str, bytes: &[u8]) {
        let buf = self.key(key);
        buf.push(b'"');
        push_hex(buf, bytes);
        buf.push(b'"');
    }

    fn bool(&mut self, key: &str, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.key(key).extend_from_slice(text);
    }

    fn num(&mut self, key: &str, value: u64) {
        let mut digits = itoa::Buffer::new();
        let text = digits.format(value);
        self.key(key).extend_from_slice(text.as_bytes());
    }

    fn null(&mut self, key: &str) {
        self.key(key).extend_from_slice(b"null");
    }

    fn end(self) {
        self.0.extend_from_slice(b"}\n");
    }
}

/// Seconds with microsecond precision, without float formatting on the
/// per-frame path.
fn push_seconds(buf: &mut Vec<u8>, t: f64) {
    let micros = (t.max(0.0) * 1e6).round() as u64;
    let mut digits = itoa::Buffer::new();
    buf.extend_from_slice(digits.format(micros / 1_000_000).as_bytes());
    buf.push(b'.');
    let frac = micros % 1_000_000;
    let text = digits.format(frac);
    buf.extend(std::iter::repeat_n(b'0', 6 - text.len()));
    buf.extend_from_slice(text.as_bytes());
}

/// Appends serialized JSON with C1 controls escaped (serde_json leaves
/// them as they are; in JSON text they can only stand inside strings).
fn push_escaping_c1(buf: &mut Vec<u8>, json: &[u8]) {
    let mut start = 0;
    for i in 0..json.len().saturating_sub(1) {
        if json[i] == 0xC2 && (0x80..0xA0).contains(&json[i + 1]) && i >= start {
            buf.extend_from_slice(&json[start..i]);
            buf.extend_from_slice(b"\\u00");
            push_hex(buf, &json[i + 1..i + 2]);
            start = i + 2;
        }
    }
    buf.extend_from_slice(&json[start..]);
}

/// Which bytes a JSON string cannot hold as they are.
const fn escape_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7F] = true;
    table
}

const NEEDS_ESCAPE: [bool; 256] = escape_table();

/// A JSON string literal, escaped per RFC 8259, and C1 controls
/// (U+0080-U+009F, such as the 8-bit CSI) escaped as well: a terminal
/// showing JSON Lines must not take peer text for a control sequence.
fn push_json_string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    push_json_body(buf, s);
    buf.push(b'"');
}

/// The inside of a JSON string literal.
fn push_json_body(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // C1 controls are encoded in UTF-8 as C2 80..C2 9F.
        if b == 0xC2 && bytes.get(i + 1).is_some_and(|n| (0x80..0xA0).contains(n)) {
            buf.extend_from_slice(&bytes[start..i]);
            buf.extend_from_slice(b"\\u00");
            push_hex(buf, &bytes[i + 1..i + 2]);
            start = i + 2;
            continue;
        }
        if i < start || !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        buf.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(DIGITS[(b >> 4) as usize]);
                buf.push(DIGITS[(b & 0xF) as usize]);
            }
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

fn write_frame(
    buf: &mut Vec<u8>,
    t: impl Into<Stamp>,
    dir: Dir,
    frame: &Frame,
    rtt: Option<std::time::Duration>,
) {
    let h = &frame.header;
    let mut line = Line::start(buf, "frame", t);
    line.plain(k!("dir"), dir.name());
    line.bool(k!("fin"), h.fin);
    line.bool(k!("rsv1"), h.rsv1);
    line.bool(k!("rsv2"), h.rsv2);
    line.bool(k!("rsv3"), h.rsv3);
    line.num(k!("opcode"), u64::from(h.opcode));
    line.plain(k!("kind"), h.kind().name());
    line.bool(k!("masked"), h.mask_key.is_some());
    match h.mask_key {
        Some(key) => line.hex(k!("mask_key"), &key),
        None => line.null(k!("mask_key")),
    }
    line.num(k!("len"), h.payload_len);
    line.num(k!("len_bits"), u64::from(h.len_encoding.bits()));
    line.num(k!("header_len"), h.header_len as u64);
    match show_frame_payload(frame) {
        Shown::Utf8(text) => {
            line.str(k!("payload"), text);
            line.plain(k!("payload_encoding"), "utf8");
        }
        Shown::Hex(bytes) => {
            line.hex(k!("payload"), bytes);
            line.plain(k!("payload_encoding"), "hex");
        }
    }
    line.bool(k!("truncated"), frame.truncated());
    // RSV1 on its message's first frame: permessage-deflate compressed it.
    if frame.compressed {
        line.bool(k!("compressed"), true);
    }
    match frame.message {
        Some((seq, part)) => {
            line.num(k!("message"), seq);
            line.plain(k!("part"), part.name());
        }
        None => {
            line.null(k!("message"));
            line.null(k!("part"));
        }
    }
    if frame.cut_short {
        line.bool(k!("cut_short"), true);
    }
    // A pong that answers our ping: its round trip, from our ping's
    // crossing the wire to its (milliseconds, microsecond precision).
    if let Some(rtt) = rtt {
        push_seconds(line.key(k!("rtt_ms")), rtt.as_secs_f64() * 1000.0);
    }
    if h.kind() == Kind::Close {
        match frame.close_code() {
            Some(code) => line.num(k!("close_code"), u64::from(code)),
            None => line.null(k!("close_code")),
        }
        line.str(
            k!("close_reason"),
            &String::from_utf8_lossy(frame.close_reason()),
        );
    }
    line.end();
}

/// What a message event says besides its time.
struct MessageLine<'a> {
    dir: Dir,
    binary: bool,
    data: &'a [u8],
    wire: MessageEnd,
}

/// A message line; its data is encoded a piece at a time, so that a large
/// payload goes out as it is encoded instead of being held twice.
fn write_message(out: &mut impl Pieces, t: impl Into<Stamp>, m: MessageLine) {
    let MessageLine {
        dir,
        binary,
        data,
        wire,
    } = m;
    let mut line = Line::start(out.buf(), "message", t);
    line.plain(k!("dir"), dir.name());
    line.plain(k!("kind"), if binary { "binary" } else { "text" });
    line.num(k!("len"), data.len() as u64);
    line.num(k!("seq"), wire.seq);
    line.num(k!("frames"), wire.frames);
    line.num(k!("wire_len"), wire.wire_len);
    if wire.compressed {
        line.bool(k!("compressed"), true);
    }
    line.plain(k!("encoding"), if binary { "hex" } else { "utf8" });
    line.key(k!("data")).push(b'"');
    if binary {
        push_hex_pieces(out, data);
    } else {
        // Valid text is the rule; checking first skips the lossy copy.
        match std::str::from_utf8(data) {
            Ok(text) => push_text_pieces(out, text),
            Err(_) => push_text_pieces(out, &String::from_utf8_lossy(data)),
        }
    }
    out.buf().extend_from_slice(b"\"}\n");
}

/// Appends `text` JSON-escaped, a piece at a time, cut at characters.
fn push_text_pieces(out: &mut impl Pieces, text: &str) {
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(PIECE);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        push_json_body(out.buf(), &rest[..end]);
        out.spill();
        rest = &rest[end..];
    }
}

impl Screen for Json {
    fn show(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Frame {
                dir,
                frame,
                at,
                rtt,
            } => {
                let stamp = self.stamp(self.clock.at(*at));
                write_frame(self.out.buf(), stamp, *dir, frame, *rtt)
            }
            Event::Message {
                dir,
                binary,
                data,
                wire,
                at,
            } => {
                let stamp = self.stamp(self.clock.at(*at));
                write_message(
                    &mut self.out,
                    stamp,
                    MessageLine {
                        dir: *dir,
                        binary: *binary,
                        data,
                        wire: *wire,
                    },
                )
            }
            Event::Wire(_) | Event::Gone => return Ok(()),
            rare => {
                let stamp = self.stamp(self.clock.now());
                let mut value = self.rare_event(rare, stamp.t);
                if let Some(object) = value.as_object_mut() {
                    if let Some(wall) = stamp.wall {
                        object.insert("wall".into(), json!(wall));
                    }
                    if let Some(conn) = stamp.conn {
                        object.insert("conn".into(), json!(conn));
                    }
                    if let Some(leg) = stamp.leg {
                        object.insert("leg".into(), json!(leg.name()));
                    }
                }
                let text = serde_json::to_vec(&value)?;
                push_escaping_c1(self.out.buf(), &text);
                self.out.buf().push(b'\n');
            }
        }
        self.out.end_event()
    }

    fn out(&mut self) -> &mut Out {
        &mut self.out
    }

    fn interest(&self) -> Interest {
        Interest::SESSION
    }

    fn set_conn(&mut self, conn: Option<u32>) {
        self.conn = conn;
    }

    fn set_leg(&mut self, leg: Option<Role>) {
        self.leg = leg;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode::{Decoded, FrameDecoder};

    fn parse(line: &[u8]) -> Value {
        serde_json::from_slice(line).expect("valid JSON")
    }

    #[test]
    fn strings_are_escaped_so_that_serde_reads_them_back() {
        let tricky = "quote \" backslash \\ nl \n cr \r tab \t nul \u{0} del \u{7f} é 😀";
        let mut buf = Vec::new();
        push_json_string(&mut buf, tricky);
        let back: String = serde_json::from_slice(&buf).unwrap();
        assert_eq!(back, tricky);
    }

    #[test]
    fn every_byte_is_escaped_at_every_position_in_a_word() {
        // Each special byte is found wherever it sits, after plain text
        // and before more special bytes.
        for b in 0u8..=0x7F {
            for at in 0..20 {
                let mut text = "abcdefghijklmnopqrstuvwxyz".to_string();
                text.insert(at, b as char);
                text.push('\u{1}');
                let mut buf = Vec::new();
                push_json_string(&mut buf, &text);
                let back: String = serde_json::from_slice(&buf).unwrap();
                assert_eq!(back, text, "byte {b:#x} at {at}");
                let raw_specials = buf[1..buf.len() - 1]
                    .iter()
                    .filter(|&&c| c < 0x20 || c == 0x7F)
                    .count();
                assert_eq!(raw_specials, 0, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn c1_controls_are_escaped_in_every_string() {
        let mut buf = Vec::new();
        push_json_string(&mut buf, "a\u{9b}31m\u{1b}b\u{a0}");
        assert_eq!(buf, b"\"a\\u009b31m\\u001bb\xc2\xa0\"");
        let mut buf = Vec::new();
        let value = serde_json::to_vec(&json!({"k": "x\u{9b}y"})).unwrap();
        push_escaping_c1(&mut buf, &value);
        assert_eq!(buf, b"{\"k\":\"x\\u009by\"}");
        assert_eq!(parse(&buf)["k"], "x\u{9b}y");
    }

    #[test]
    fn seconds_keep_microseconds() {
        for (t, text) in [
            (0.0, "0.000000"),
            (1.5, "1.500000"),
            (12.0000071, "12.000007"),
        ] {
            let mut buf = Vec::new();
            push_seconds(&mut buf, t);
            assert_eq!(String::from_utf8(buf).unwrap(), text);
        }
    }

    #[test]
    fn frame_lines_carry_every_contract_key() {
        let mut frames = Vec::new();
        // A masked close frame with code 1001 and reason "bye".
        let mut bytes = vec![0x88, 0x85, 1, 2, 3, 4];
        let mut payload = vec![0x03, 0xe9, b'b', b'y', b'e'];
        crate::wire::frame::unmask(&mut payload, [1, 2, 3, 4], 0);
        bytes.extend_from_slice(&payload);
        FrameDecoder::new(8).feed(&bytes, &mut |d| {
            if let Decoded::Frame(f) = d {
                frames.push(f)
            }
        });
        let mut buf = Vec::new();
        write_frame(&mut buf, 1.5, Dir::Out, &frames[0], None);
        assert!(buf.ends_with(b"}\n"));
        let v = parse(&buf);
        assert_eq!(v["event"], "frame");
        assert_eq!(v["t"], 1.5);
        assert_eq!(v["dir"], "out");
        assert_eq!(
            (v["fin"].as_bool(), v["rsv1"].as_bool()),
            (Some(true), Some(false))
        );
        assert_eq!(v["opcode"], 8);
        assert_eq!(v["kind"], "close");
        assert_eq!(v["masked"], true);
        assert_eq!(v["mask_key"], "01020304");
        assert_eq!(
            (v["len"].as_u64(), v["header_len"].as_u64()),
            (Some(5), Some(6))
        );
        assert_eq!(v["payload"], "03e9627965");
        assert_eq!(v["payload_encoding"], "hex");
        assert_eq!(v["truncated"], false);
        assert_eq!(v["close_code"], 1001);
        assert_eq!(v["close_reason"], "bye");
        assert_eq!((v["message"].is_null(), v["part"].is_null()), (true, true));
    }

    fn end(seq: u64, frames: u64) -> MessageEnd {
        MessageEnd {
            seq,
            kind: Kind::Text,
            frames,
            wire_len: 9,
            compressed: false,
        }
    }

    #[test]
    fn message_lines_encode_text_and_binary() {
        let mut buf = Vec::new();
        write_message(
            &mut buf,
            0.25,
            MessageLine {
                dir: Dir::In,
                binary: false,
                data: "a\"b".as_bytes(),
                wire: end(1, 2),
            },
        );
        let v = parse(&buf);
        buf.clear();
        assert_eq!(
            (v["kind"].as_str(), v["data"].as_str()),
            (Some("text"), Some("a\"b"))
        );
        assert_eq!(
            (v["len"].as_u64(), v["frames"].as_u64()),
            (Some(3), Some(2))
        );
        write_message(
            &mut buf,
            0.25,
            MessageLine {
                dir: Dir::Out,
                binary: true,
                data: &[0, 255],
                wire: end(3, 1),
            },
        );
        let v = parse(&buf);
        assert_eq!(
            (v["data"].as_str(), v["encoding"].as_str()),
            (Some("00ff"), Some("hex"))
        );
        assert_eq!(v["dir"], "out");
    }
}
