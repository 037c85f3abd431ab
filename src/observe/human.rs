//! The human view: the handshake as it crossed the wire, then one line per
//! frame with its header decoded.

use std::io::{self, Write};

use colored::{ColoredString, Colorize};

use super::{
    escape, escape_bytes, show_frame_payload, Clock, Dir, Event, Initiator, Interest, Out, Role,
    Screen, Shown,
};
use crate::handshake::{Negotiated, Response};
use crate::net::connect::ConnectFacts;
use crate::wire::close_code;
use crate::wire::decode::MessageEnd;
use crate::wire::frame::{Frame, Kind};

pub struct Human {
    out: Out,
    clock: Clock,
    /// `>` marks what we sent and `<` what we received: with --listen the
    /// request is the one received.
    serving: bool,
    /// How many payload bytes a message line shows (--preview); frame
    /// lines show what the decoder kept, which the same limit bounds.
    preview_limit: usize,
    /// permessage-deflate was negotiated: RSV1 on a message's first frame
    /// is expected, not a violation.
    deflate: bool,
}

impl Human {
    pub fn new(out: Out, clock: Clock, serving: bool, preview_limit: usize) -> Self {
        Human {
            out,
            clock,
            serving,
            preview_limit,
            deflate: false,
        }
    }

    fn markers(&self) -> (&'static str, &'static str) {
        if self.serving {
            ("<", ">")
        } else {
            (">", "<")
        }
    }

    fn stamp(&self) -> ColoredString {
        stamp(self.clock.now())
    }

    fn connect(&mut self, url: &str, role: Role, facts: &ConnectFacts) -> io::Result<()> {
        let (what, timings) = match (role, facts.timings) {
            (Role::Client, Some(t)) => {
                let tls_ms = t
                    .tls_ms
                    .map_or_else(|| "-".to_string(), |ms| format!("{ms:.1}"));
                (
                    format!("connected to {url} at {}", facts.addr),
                    format!(
                        " (dns {:.1} ms, tcp {:.1} ms, tls {tls_ms} ms)",
                        t.dns_ms, t.tcp_ms
                    ),
                )
            }
            (Role::Client, None) => (
                format!("connected to {url} at {}", facts.addr),
                String::new(),
            ),
            (Role::Server, _) => (
                format!("client connected from {} to {url}", facts.addr),
                String::new(),
            ),
        };
        writeln!(
            self.out,
            "{} {} {}{timings}",
            self.stamp(),
            "*".bold(),
            what.bold()
        )?;
        if let Some(via) = &facts.via {
            writeln!(self.out, "{} * through the {via}", self.stamp())?;
        }
        if let Some(tls) = &facts.tls {
            writeln!(
                self.out,
                "{} * TLS {} {}",
                self.stamp(),
                tls.version,
                tls.cipher
            )?;
            if let Some(cert) = &tls.cert {
                writeln!(
                    self.out,
                    "{} * certificate subject: {}; issuer: {}; expires {}",
                    self.stamp(),
                    escape(&cert.subject),
                    escape(&cert.issuer),
                    cert.not_after
                )?;
            }
        }
        Ok(())
    }

    /// A head line by line, every peer byte escaped.
    fn head(&mut self, marker: &str, raw: &[u8]) -> io::Result<()> {
        for line in raw.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                break;
            }
            writeln!(self.out, "{} {}", marker.cyan(), escape_bytes(line))?;
        }
        writeln!(self.out, "{}", marker.cyan())
    }

    fn response(
        &mut self,
        response: &Response,
        negotiated: &Negotiated,
        upgrade_ms: Option<f64>,
    ) -> io::Result<()> {
        let (_, marker) = self.markers();
        for interim in &response.interim {
            self.head(marker, interim)?;
            writeln!(
                self.out,
                "{} * an interim response: skipped (RFC 9110 §15.2)",
                self.stamp()
            )?;
        }
        self.head(marker, &response.raw)?;
        if response.status != 101 {
            if !response.body.is_empty() {
                writeln!(
                    self.out,
                    "{} body (first {} bytes)",
                    marker.cyan(),
                    response.body.len()
                )?;
                for line in response.body.split(|&b| b == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    writeln!(self.out, "{} {}", marker.cyan(), escape_bytes(line))?;
                }
            }
            return Ok(());
        }
        let subprotocol = escape(negotiated.subprotocol.as_deref().unwrap_or("none"));
        let extensions = escape(negotiated.extensions.as_deref().unwrap_or("none"));
        if let Some(deflate) = &negotiated.deflate {
            self.deflate = true;
            writeln!(self.out, "{} * {}", self.stamp(), deflate.describe())?;
        }
        let Some(accept) = &negotiated.accept else {
            return writeln!(
                self.out,
                "{} * answered 101; subprotocol: {subprotocol}; extensions: {extensions}",
                self.stamp(),
            );
        };
        let verdict = if accept.ok {
            "matches".green()
        } else {
            format!("does NOT match (expected {})", accept.expected).red()
        };
        writeln!(
            self.out,
            "{} * Sec-WebSocket-Accept {}",
            self.stamp(),
            verdict
        )?;
        let took = upgrade_ms.map_or_else(String::new, |ms| format!("upgrade took {ms:.1} ms; "));
        writeln!(
            self.out,
            "{} * {took}subprotocol: {subprotocol}; extensions: {extensions}",
            self.stamp(),
        )
    }

    fn frame(&mut self, dir: Dir, frame: &Frame, t: f64) -> io::Result<()> {
        let h = &frame.header;
        let arrow = arrow(dir);
        let kind = format!("{:<12}", h.kind().name());
        let kind = match h.kind() {
            Kind::Reserved => kind.red().bold(),
            k if h.is_control() || k == Kind::Continuation => kind.yellow(),
            _ => kind.normal(),
        };
        let flag = |on: bool, c: char| if on { c } else { '0' };
        let rsv: String = [flag(h.rsv1, '1'), flag(h.rsv2, '1'), flag(h.rsv3, '1')]
            .iter()
            .collect();
        let expected = rsv == "000"
            || (self.deflate && rsv == "100" && matches!(h.kind(), Kind::Text | Kind::Binary));
        let rsv = if expected {
            rsv.normal()
        } else {
            rsv.red().bold()
        };
        let mask = match h.mask_key {
            Some(k) => format!("mask={}", super::hex(&k)),
            None => "unmasked".to_string(),
        };
        let odd_len = if h.non_minimal_length() {
            " non-minimal"
        } else {
            ""
        };
        write!(
            self.out,
            "{} {} {} fin={} rsv={} op=0x{:x} {} len={} ({}-bit{}) hdr={}",
            stamp(t),
            arrow,
            kind,
            u8::from(h.fin),
            rsv,
            h.opcode,
            mask,
            h.payload_len,
            h.len_encoding.bits(),
            odd_len,
            h.header_len
        )?;
        if h.kind() == Kind::Close {
            if let Some(code) = frame.close_code() {
                write!(
                    self.out,
                    " code={} reason=\"{}\"",
                    close_code::describe(code),
                    escape_bytes(frame.close_reason())
                )?;
            }
        } else if h.payload_len > 0 {
            let shown = show_frame_payload(frame);
            write!(self.out, " {}", preview(shown, h.payload_len))?;
        }
        if frame.cut_short {
            write!(
                self.out,
                " {}",
                format!(
                    "(cut short: {} of {} bytes had arrived when the connection ended)",
                    frame.preview.len(),
                    h.payload_len
                )
                .red()
            )?;
        }
        writeln!(self.out)
    }

    fn message(
        &mut self,
        dir: Dir,
        binary: bool,
        data: &[u8],
        wire: &MessageEnd,
        t: f64,
    ) -> io::Result<()> {
        // One line per message only when it took several frames or was
        // compressed: otherwise the frame line already said it all.
        if wire.frames < 2 && !wire.compressed {
            return Ok(());
        }
        let kept = &data[..data.len().min(self.preview_limit)];
        let shown = match std::str::from_utf8(kept) {
            _ if binary => Shown::Hex(kept),
            Ok(text) => Shown::Utf8(text),
            // Cut inside a character: keep the whole ones.
            Err(e) if e.error_len().is_none() => {
                Shown::Utf8(std::str::from_utf8(&kept[..e.valid_up_to()]).unwrap_or_default())
            }
            Err(_) => Shown::Hex(kept),
        };
        let frames = match wire.frames {
            1 => String::new(),
            n => format!(" from {n} frames"),
        };
        let deflated = if wire.compressed {
            let ratio = wire.wire_len as f64 * 100.0 / (data.len().max(1)) as f64;
            format!(
                " (deflated to {} bytes on the wire, {ratio:.1}%)",
                wire.wire_len
            )
        } else {
            String::new()
        };
        writeln!(
            self.out,
            "{} {} {} {} len={}{deflated}{frames} {}",
            stamp(t),
            arrow(dir),
            "message".bold(),
            if binary { "binary" } else { "text" },
            data.len(),
            preview(shown, data.len() as u64)
        )
    }

    fn close(&mut self, code: Option<u16>, reason: &str, initiator: Initiator) -> io::Result<()> {
        let code = code.map_or_else(|| "no code".to_string(), close_code::describe);
        let peer = if self.serving { "client" } else { "server" };
        let how = match initiator {
            Initiator::Local => format!("we closed first; the {peer} answered"),
            Initiator::Remote => format!("the {peer} closed first with"),
        };
        writeln!(
            self.out,
            "{} {} {how} {code} reason=\"{}\"",
            self.stamp(),
            "* closed:".bold(),
            escape(reason)
        )
    }
}

fn stamp(t: f64) -> ColoredString {
    format!("[{t:>10.6}]").dimmed()
}

fn arrow(dir: Dir) -> ColoredString {
    match dir {
        Dir::Out => "→".blue().bold(),
        Dir::In => "←".green().bold(),
    }
}

/// The part of a payload that was kept, escaped to stay on one line, with
/// a visible marker counting the bytes of `total` that are not shown.
fn preview(shown: Shown, total: u64) -> String {
    let (body, shown_bytes) = match shown {
        Shown::Utf8(s) => (format!("\"{}\"", s.escape_debug()), s.len()),
        Shown::Hex(h) => (format!("hex:{}", super::hex(h)), h.len()),
    };
    let hidden = total.saturating_sub(shown_bytes as u64);
    if hidden > 0 {
        format!("{body}{}", format!("…(+{hidden} bytes)").dimmed())
    } else {
        body
    }
}

impl Screen for Human {
    fn show(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Connect { url, role, facts } => self.connect(url, *role, facts)?,
            Event::Request { raw } => self.head(self.markers().0, raw)?,
            Event::Response {
                response,
                negotiated,
                upgrade_ms,
            } => self.response(response, negotiated, *upgrade_ms)?,
            Event::Frame { dir, frame, at } => self.frame(*dir, frame, self.clock.at(*at))?,
            Event::Message {
                dir,
                binary,
                data,
                wire,
                at,
            } => self.message(*dir, *binary, data, wire, self.clock.at(*at))?,
            Event::Wire(_) => {}
            Event::Close {
                code,
                reason,
                initiator,
            } => self.close(*code, reason, *initiator)?,
            // Errors go to stderr from main, once, in every mode.
            Event::Error(_) => {}
            Event::Refused(text) => {
                if self.out.is_prompt() {
                    // Above the line being typed, like everything else.
                    writeln!(
                        self.out,
                        "{} {}",
                        "wscope: error:".red().bold(),
                        escape(text)
                    )?;
                } else {
                    crate::error::print_error(text);
                }
            }
            Event::Notice(text) => {
                for line in text.lines() {
                    writeln!(self.out, "{} {} {}", self.stamp(), "*".bold(), escape(line))?;
                }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_counts_exactly_the_bytes_not_shown() {
        let text = "é".repeat(150); // 300 bytes
        assert_eq!(
            preview(Shown::Utf8(&text[..128]), 300),
            format!("\"{}\"{}", "é".repeat(64), "…(+172 bytes)".dimmed())
        );
        assert_eq!(preview(Shown::Hex(&[0xca, 0xfe]), 2), "hex:cafe");
    }
}
