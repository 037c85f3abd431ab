//! The human view: the handshake as it crossed the wire, then one line per
//! frame with its header decoded.

use std::io::{self, Write};

use colored::{ColoredString, Colorize};

use super::{show_frame_payload, Clock, Dir, Event, Initiator, Out, Render, Shown};
use crate::close_code;
use crate::connect::ConnectFacts;
use crate::frame::{Frame, Kind};
use crate::handshake::{Response, Verdict};
use crate::target::Target;

pub struct Human {
    out: Out,
    clock: Clock,
    /// `>` marks what we sent and `<` what we received: with --listen the
    /// request is the one received.
    serving: bool,
    /// How many payload bytes a message line shows (--preview); frame
    /// lines show what the decoder kept, which the same limit bounds.
    preview_limit: usize,
}

impl Human {
    pub fn new(out: Out, clock: Clock, serving: bool, preview_limit: usize) -> Self {
        Human {
            out,
            clock,
            serving,
            preview_limit,
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

    fn connect(&mut self, target: &Target, facts: &ConnectFacts) -> io::Result<()> {
        let tls_ms = facts
            .tls_ms
            .map_or_else(|| "-".to_string(), |ms| format!("{ms:.1}"));
        writeln!(
            self.out,
            "{} {} {} {} at {} (dns {:.1} ms, tcp {:.1} ms, tls {} ms)",
            self.stamp(),
            "*".bold(),
            if self.serving {
                "client connected:"
            } else {
                "connected to"
            }
            .bold(),
            target.url.as_str().bold(),
            facts.addr.to_string().bold(),
            facts.dns_ms,
            facts.tcp_ms,
            tls_ms
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
                    cert.subject,
                    cert.issuer,
                    cert.not_after
                )?;
            }
        }
        Ok(())
    }

    fn head(&mut self, marker: &str, raw: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(raw);
        for line in text.split("\r\n").take_while(|l| !l.is_empty()) {
            writeln!(self.out, "{} {}", marker.cyan(), line)?;
        }
        writeln!(self.out, "{}", marker.cyan())
    }

    fn response(
        &mut self,
        response: &Response,
        verdict: &Verdict,
        upgrade_ms: f64,
    ) -> io::Result<()> {
        let (_, marker) = self.markers();
        self.head(marker, &response.raw)?;
        if response.status != 101 {
            if !response.body.is_empty() {
                let body = String::from_utf8_lossy(&response.body);
                writeln!(
                    self.out,
                    "{} body (first {} bytes)",
                    marker.cyan(),
                    response.body.len()
                )?;
                for line in body.lines() {
                    writeln!(self.out, "{} {}", marker.cyan(), line)?;
                }
            }
            return Ok(());
        }
        if self.serving {
            return writeln!(
                self.out,
                "{} * answered 101; subprotocol: {}",
                self.stamp(),
                verdict.subprotocol.as_deref().unwrap_or("none")
            );
        }
        let accept = if verdict.accept_ok {
            "matches".green()
        } else {
            format!("does NOT match (expected {})", verdict.accept_expected).red()
        };
        writeln!(
            self.out,
            "{} * Sec-WebSocket-Accept {}",
            self.stamp(),
            accept
        )?;
        writeln!(
            self.out,
            "{} * upgrade took {:.1} ms; subprotocol: {}; extensions: {}",
            self.stamp(),
            upgrade_ms,
            verdict.subprotocol.as_deref().unwrap_or("none"),
            verdict.extensions.as_deref().unwrap_or("none")
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
        let rsv = if rsv == "000" {
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
                let reason = String::from_utf8_lossy(frame.close_reason());
                write!(
                    self.out,
                    " code={} reason={:?}",
                    close_code::describe(code),
                    reason
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
        frames: usize,
        t: f64,
    ) -> io::Result<()> {
        // One line per message only when it took several frames: otherwise
        // the frame line already said it all.
        if frames < 2 {
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
        writeln!(
            self.out,
            "{} {} {} {} len={} from {} frames {}",
            stamp(t),
            arrow(dir),
            "message".bold(),
            if binary { "binary" } else { "text" },
            data.len(),
            frames,
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
            "{} {} {how} {code} reason={reason:?}",
            self.stamp(),
            "* closed:".bold()
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

impl Render for Human {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Connect { target, facts } => self.connect(target, facts)?,
            Event::Request { raw } => self.head(self.markers().0, raw)?,
            Event::Response {
                response,
                verdict,
                upgrade_ms,
            } => self.response(response, verdict, *upgrade_ms)?,
            Event::Frame { dir, frame, at } => self.frame(*dir, frame, self.clock.at(*at))?,
            Event::Message {
                dir,
                binary,
                data,
                frames,
                at,
            } => self.message(*dir, *binary, data, *frames, self.clock.at(*at))?,
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
                    writeln!(self.out, "{} {text}", "wscope: error:".red().bold())?;
                } else {
                    crate::error::print_error(text);
                }
            }
            Event::Notice(text) => {
                for line in text.lines() {
                    writeln!(self.out, "{} {} {line}", self.stamp(), "*".bold())?;
                }
            }
        }
        self.out.end_event()
    }

    fn out(&mut self) -> &mut Out {
        &mut self.out
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
