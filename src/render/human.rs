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

/// How many characters of a payload a frame line shows at most.
const LINE_PREVIEW: usize = 96;

pub struct Human {
    out: Out,
    clock: Clock,
    /// `>` marks what we sent and `<` what we received: with --listen the
    /// request is the one received.
    serving: bool,
}

impl Human {
    pub fn new(out: Out, clock: Clock, serving: bool) -> Self {
        Human {
            out,
            clock,
            serving,
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
            let hidden = h.payload_len - frame.preview.len() as u64;
            write!(self.out, " {}", preview(show_frame_payload(frame), hidden))?;
        }
        if frame.cut_short {
            write!(
                self.out,
                " {}",
                format!(
                    "(cut short: the stream ended after {} of {} bytes)",
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
        let shown = if binary {
            Shown::Hex(&data[..data.len().min(LINE_PREVIEW)])
        } else {
            Shown::Utf8(std::str::from_utf8(data).unwrap_or("<invalid UTF-8>"))
        };
        let hidden = data.len().saturating_sub(LINE_PREVIEW) as u64;
        writeln!(
            self.out,
            "{} {} {} {} len={} from {} frames {}",
            stamp(t),
            arrow(dir),
            "message".bold(),
            if binary { "binary" } else { "text" },
            data.len(),
            frames,
            preview(shown, hidden)
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

/// A payload cut to one line, with a visible marker of what was left out.
fn preview(shown: Shown, hidden_bytes: u64) -> String {
    let (mut text, limit) = match &shown {
        Shown::Utf8(s) => {
            let escaped: String = s.escape_debug().collect();
            (escaped, LINE_PREVIEW)
        }
        Shown::Hex(h) => (super::hex(h), LINE_PREVIEW * 2),
    };
    let mut cut = false;
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        cut = true;
    }
    let body = match shown {
        Shown::Utf8(_) => format!("\"{text}\""),
        Shown::Hex(_) => format!("hex:{text}"),
    };
    if cut || hidden_bytes > 0 {
        let more = if hidden_bytes > 0 {
            format!("…(+{hidden_bytes} bytes)")
        } else {
            "…".to_string()
        };
        format!("{body}{}", more.dimmed())
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
