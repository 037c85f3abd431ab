//! JSON Lines, exactly per the contract in design.md: one object per line,
//! each with `event` and `t`.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::{hex, show_frame_payload, Clock, Dir, Event, Initiator, Out, Render, Shown};
use crate::frame::Frame;

pub struct Json {
    out: Out,
    clock: Clock,
}

impl Json {
    pub fn new(out: Out, clock: Clock) -> Self {
        Json { out, clock }
    }

    fn to_value(&self, event: &Event) -> Value {
        let t = self.clock.now();
        match event {
            Event::Connect { target, facts } => {
                let tls = facts.tls.as_ref();
                let cert = tls.and_then(|t| t.cert.as_ref());
                json!({
                    "event": "connect", "t": t,
                    "url": target.url.as_str(),
                    "addr": facts.addr.to_string(),
                    "tls": tls.is_some(),
                    "tls_version": tls.map(|t| &t.version),
                    "cipher": tls.map(|t| &t.cipher),
                    "cert_subject": cert.map(|c| &c.subject),
                    "cert_issuer": cert.map(|c| &c.issuer),
                    "cert_not_after": cert.map(|c| &c.not_after),
                    "timings_ms": {
                        "dns": facts.dns_ms, "tcp": facts.tcp_ms, "tls": facts.tls_ms,
                    },
                })
            }
            Event::Request { raw } => json!({
                "event": "request", "t": t,
                "raw": String::from_utf8_lossy(raw),
            }),
            Event::Response {
                response,
                verdict,
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
                    "status": response.status,
                    "reason": response.reason,
                    "headers": headers,
                    "body": (response.status != 101)
                        .then(|| String::from_utf8_lossy(&response.body)),
                    "accept_ok": verdict.accept_ok,
                    "accept_expected": verdict.accept_expected,
                    "subprotocol": verdict.subprotocol,
                    "extensions": verdict.extensions,
                    "upgrade_ms": upgrade_ms,
                })
            }
            Event::Frame { dir, frame } => frame_value(t, *dir, frame),
            Event::Message {
                dir,
                binary,
                data,
                frames,
            } => {
                let len = data.len();
                let (data, encoding) = if *binary {
                    (hex(data), "hex")
                } else {
                    (String::from_utf8_lossy(data).into_owned(), "utf8")
                };
                json!({
                    "event": "message", "t": t,
                    "dir": dir.name(),
                    "kind": if *binary { "binary" } else { "text" },
                    "len": len,
                    "data": data,
                    "encoding": encoding,
                    "frames": frames,
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
            Event::Notice(text) => json!({
                "event": "notice", "t": t,
                "message": text,
            }),
            Event::Error(failure) => json!({
                "event": "error", "t": t,
                "stage": failure.stage.name(),
                "message": failure.message,
            }),
        }
    }
}

fn frame_value(t: f64, dir: Dir, frame: &Frame) -> Value {
    let h = &frame.header;
    let (payload, encoding) = match show_frame_payload(frame) {
        Shown::Utf8(s) => (s.to_string(), "utf8"),
        Shown::Hex(h) => (h, "hex"),
    };
    let mut value = json!({
        "event": "frame", "t": t,
        "dir": dir.name(),
        "fin": h.fin, "rsv1": h.rsv1, "rsv2": h.rsv2, "rsv3": h.rsv3,
        "opcode": h.opcode,
        "kind": h.kind().name(),
        "masked": h.mask_key.is_some(),
        "mask_key": h.mask_key.map(|k| hex(&k)),
        "len": h.payload_len,
        "len_bits": h.len_encoding.bits(),
        "header_len": h.header_len,
        "payload": payload,
        "payload_encoding": encoding,
        "truncated": frame.truncated(),
    });
    if frame.cut_short {
        value["cut_short"] = json!(true);
    }
    if h.kind() == crate::frame::Kind::Close {
        value["close_code"] = json!(frame.close_code());
        value["close_reason"] = json!(String::from_utf8_lossy(frame.close_reason()));
    }
    value
}

impl Render for Json {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let value = self.to_value(event);
        serde_json::to_writer(&mut self.out, &value)?;
        self.out.write_all(b"\n")?;
        self.out.end_event()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn wants_frames(&self) -> bool {
        true
    }

    fn out(&mut self) -> &mut Out {
        &mut self.out
    }

    fn wants_outgoing_messages(&self) -> bool {
        true
    }
}
