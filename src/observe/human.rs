//! The human view: the handshake as it crossed the wire, then one line per
//! frame with its header decoded.

use std::io::{self, Write};

use colored::{ColoredString, Colorize};

use super::filter::{JsonStyle, ViewFilter};
use super::filter::{Layout, TimeFormat};
use super::pretty;
use super::stamp::Stamps;
use super::{
    escape, escape_bytes, show_frame_payload, Clock, Dir, Event, Initiator, Interest, Out, Role,
    Screen, Shown,
};
use crate::handshake::{Negotiated, Response};
use crate::net::connect::ConnectFacts;
use crate::wire::close_code;
use crate::wire::decode::MessageEnd;
use crate::wire::frame::{Frame, Kind, Part};

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
    layout: Layout,
    stamps: Stamps,
    filter: ViewFilter,
    /// With --grep: the rendered frames of data messages not yet complete,
    /// shown once their message matches. `held_bytes` bounds them.
    held: Vec<(Option<u32>, Dir, u64, Vec<u8>)>,
    held_bytes: usize,
    /// The connection the events being shown belong to; once a second
    /// connection has been seen, every stamped line names its own.
    conn: Option<u32>,
    numbered: bool,
    /// In the proxy: the leg the events being shown happened on, named on
    /// every stamped line. On the client leg the proxy serves; on the
    /// server leg it is the client.
    leg: Option<Role>,
    /// Whether lines are coloured: decided by whoever made the view, so a
    /// view without colour is plain whatever the process-wide setting.
    colour: bool,
    /// In the compact layout, a compressed message's only frame waits for
    /// the message: one line then shows both, with the inflated preview.
    /// Anything else that comes first shows the frame line as it is.
    pending: Option<Pending>,
}

/// A frame line not drawn yet.
struct Pending {
    dir: Dir,
    frame: Frame,
    t: f64,
}

/// How much of the frames of unfinished messages --grep holds back; the
/// frames past it are not shown (the message line still is).
const HELD_MAX: usize = 1 << 20;

/// The largest JSON payload --pretty indents: beyond it, the frame lines
/// say enough.
const PRETTY_MAX: usize = 256 * 1024;

/// Below this many columns, `--layout auto` draws compact frame lines: a
/// wide line needs about 85 before its payload.
const WIDE_FROM_COLUMNS: usize = 100;

impl Human {
    pub fn new(out: Out, clock: Clock, serving: bool, preview_limit: usize) -> Self {
        Human {
            out,
            clock,
            serving,
            preview_limit,
            deflate: false,
            layout: Layout::Wide,
            stamps: Stamps::new(TimeFormat::Rel, clock.now()),
            filter: ViewFilter::default(),
            held: Vec::new(),
            held_bytes: 0,
            conn: None,
            numbered: false,
            leg: None,
            colour: true,
            pending: None,
        }
    }

    pub fn with_layout(mut self, layout: Layout, time: TimeFormat) -> Self {
        self.layout = layout;
        self.stamps = Stamps::new(time, self.clock.now());
        self
    }

    /// Colour on or off (on by default; the process-wide setting, from
    /// --color, NO_COLOR and the terminal, must allow it too).
    pub fn with_colour(mut self, colour: bool) -> Self {
        self.colour = colour;
        self
    }

    pub fn with_filter(mut self, filter: ViewFilter) -> Self {
        self.filter = filter;
        self
    }

    /// A frame, through the filters: with --grep, the frames of a data
    /// message wait for the message. `may_wait`: the frame may wait to
    /// share its message's line.
    fn filtered_frame(
        &mut self,
        dir: Dir,
        frame: &Frame,
        t: f64,
        may_wait: bool,
    ) -> io::Result<()> {
        if !self.filter.shows_frame(dir, frame.header.kind()) {
            return Ok(());
        }
        let held_for = frame.message.filter(|_| self.filter.grep.is_some());
        let Some((seq, _)) = held_for else {
            return self.frame(dir, frame, t, may_wait);
        };
        let mark = self.out.buf().len();
        self.frame(dir, frame, t, may_wait)?;
        let line = self.out.buf().split_off(mark);
        if self.held_bytes + line.len() <= HELD_MAX {
            self.held_bytes += line.len();
            self.held.push((self.conn, dir, seq, line));
        }
        Ok(())
    }

    /// A complete message, through the filters; with --grep its held
    /// frames are shown if it matches and dropped if not. With --pretty a
    /// JSON payload follows, indented.
    fn filtered_message(
        &mut self,
        dir: Dir,
        binary: bool,
        data: &[u8],
        wire: &MessageEnd,
        t: f64,
    ) -> io::Result<()> {
        // The frame waiting for this message goes into its line; one
        // waiting for another is drawn now.
        match self.pending.take() {
            Some(p) if p.dir == dir && p.frame.message.map(|(seq, _)| seq) == Some(wire.seq) => {}
            other => {
                self.pending = other;
                self.flush_pending()?;
            }
        }
        if !self.filter.shows_dir(dir) {
            return Ok(());
        }
        let kept = self.filter.keeps(binary, data);
        if self.filter.grep.is_some() {
            let mut frames = Vec::new();
            let conn = self.conn;
            self.held.retain_mut(|(c, d, seq, line)| {
                let mine = *c == conn && *d == dir && *seq == wire.seq;
                if mine {
                    frames.push(std::mem::take(line));
                }
                !mine
            });
            self.held_bytes -= frames.iter().map(Vec::len).sum::<usize>();
            if !kept {
                return Ok(());
            }
            for line in frames {
                self.out.write_all(&line)?;
            }
        }
        self.message(dir, binary, data, wire, t)?;
        if self.filter.json == JsonStyle::Pretty && !binary && data.len() <= PRETTY_MAX {
            if let Some(value) = pretty::parse_container(data) {
                writeln!(self.out, "{}", pretty::indented(&value))?;
            }
        }
        Ok(())
    }

    /// Draws the frame line that was waiting for its message.
    fn flush_pending(&mut self) -> io::Result<()> {
        match self.pending.take() {
            Some(Pending { dir, frame, t }) => self.filtered_frame(dir, &frame, t, false),
            None => Ok(()),
        }
    }

    /// Whether a frame line waits for its message, to share one line: in
    /// the compact layout, a compressed message's only frame, when
    /// compression is all its line would have to say besides its size.
    fn waits_for_message(&self, dir: Dir, frame: &Frame) -> bool {
        frame.compressed
            && self.deflate
            && !frame.cut_short
            && matches!(frame.message, Some((_, Part::Whole)))
            && compact_flags(frame, dir, self.deflate, self.serves()) == ["z"]
    }

    /// A message's JSON for its line, when the preview holds all of it
    /// and --no-pretty was not asked: as for a frame line.
    fn message_json(&self, binary: bool, data: &[u8]) -> Option<serde_json::Value> {
        if binary || self.filter.json == JsonStyle::Raw || data.len() > self.preview_limit {
            return None;
        }
        pretty::parse_container(data)
    }

    /// A whole text message's JSON, compact, for a frame line, when the
    /// preview holds all of it and --no-pretty was not asked.
    fn json_preview(&self, frame: &Frame, colour: bool) -> Option<String> {
        let whole = matches!(frame.message, Some((_, Part::Whole)));
        let text = frame.header.kind() == Kind::Text && !frame.header.rsv1;
        if self.filter.json == JsonStyle::Raw || !whole || !text || frame.truncated() {
            return None;
        }
        let value = pretty::parse_container(&frame.preview)?;
        Some(if colour {
            pretty::compact(&value)
        } else {
            pretty::compact_plain(&value)
        })
    }

    /// The width to fit a compact frame line into, or None for the wide
    /// view. Asked per frame: the terminal may have been resized.
    fn compact_width(&self) -> Option<usize> {
        match self.layout {
            Layout::Wide => None,
            Layout::Compact => Some(self.out.terminal_columns().unwrap_or(80)),
            Layout::Auto => self
                .out
                .terminal_columns()
                .filter(|&columns| columns < WIDE_FROM_COLUMNS),
        }
    }

    fn markers(&self) -> (&'static str, &'static str) {
        if self.serves() {
            ("<", ">")
        } else {
            (">", "<")
        }
    }

    fn stamp(&self) -> ColoredString {
        self.stamp_at(self.clock.now())
    }

    /// We are the server on this connection (or, in the proxy, this leg).
    fn serves(&self) -> bool {
        self.leg.map_or(self.serving, |leg| leg == Role::Client)
    }

    fn stamp_at(&self, t: f64) -> ColoredString {
        self.stamp_text(t, self.compact_width().is_some())
            .dimmed()
            .tint(self.colour)
    }

    /// The time, and the connection's number once there are several.
    fn stamp_text(&self, t: f64, compact: bool) -> String {
        let mut stamp = self.stamps.at(t, compact);
        if let Some(conn) = self.conn.filter(|_| self.numbered) {
            stamp.push_str(&format!(" #{conn}"));
        }
        if let Some(leg) = self.leg {
            stamp.push_str(match leg {
                Role::Client => " client",
                Role::Server => " server",
            });
        }
        stamp
    }

    fn connect(&mut self, url: &str, role: Role, facts: &ConnectFacts) -> io::Result<()> {
        // Over a Unix socket the path says where; there is no address.
        let at = match &facts.unix {
            Some(path) => format!("unix:{}", escape(&path.display().to_string())),
            None => facts.addr.to_string(),
        };
        let (what, timings) = match (role, facts.timings) {
            (Role::Client, Some(t)) => {
                let tls_ms = t
                    .tls_ms
                    .map_or_else(|| "-".to_string(), |ms| format!("{ms:.1}"));
                (
                    format!("connected to {url} at {at}"),
                    format!(
                        " (dns {:.1} ms, tcp {:.1} ms, tls {tls_ms} ms)",
                        t.dns_ms, t.tcp_ms
                    ),
                )
            }
            (Role::Client, None) => (format!("connected to {url} at {at}"), String::new()),
            (Role::Server, _) if facts.unix.is_some() => {
                (format!("client connected on {at} ({url})"), String::new())
            }
            (Role::Server, _) => (
                format!("client connected from {at} to {url}"),
                String::new(),
            ),
        };
        writeln!(
            self.out,
            "{} {} {}{timings}",
            self.stamp(),
            "*".bold().tint(self.colour),
            what.bold().tint(self.colour)
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
            if let Some(sni) = &tls.sni {
                writeln!(
                    self.out,
                    "{} * client asked for {} (SNI)",
                    self.stamp(),
                    escape(sni)
                )?;
            }
            let whose = match role {
                Role::Client => "certificate",
                Role::Server => "client certificate",
            };
            if let Some(cert) = &tls.cert {
                writeln!(
                    self.out,
                    "{} * {whose} subject: {}; issuer: {}; expires {}",
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
            writeln!(
                self.out,
                "{} {}",
                marker.cyan().tint(self.colour),
                escape_bytes(line)
            )?;
        }
        writeln!(self.out, "{}", marker.cyan().tint(self.colour))
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
                    marker.cyan().tint(self.colour),
                    response.body.len()
                )?;
                for line in response.body.split(|&b| b == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    writeln!(
                        self.out,
                        "{} {}",
                        marker.cyan().tint(self.colour),
                        escape_bytes(line)
                    )?;
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
            "matches".green().tint(self.colour)
        } else {
            format!("does NOT match (expected {})", accept.expected)
                .red()
                .tint(self.colour)
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

    fn frame(&mut self, dir: Dir, frame: &Frame, t: f64, may_wait: bool) -> io::Result<()> {
        if let Some(columns) = self.compact_width() {
            if may_wait && self.waits_for_message(dir, frame) {
                self.pending = Some(Pending {
                    dir,
                    frame: frame.clone(),
                    t,
                });
                return Ok(());
            }
            let stamp = self.stamp_text(t, true);
            let json = self.json_preview(frame, false);
            let start = LineStart {
                stamp: &stamp,
                columns,
                colour: self.colour,
            };
            let line = compact_frame(frame, dir, start, self.deflate, self.serves(), json);
            return writeln!(self.out, "{line}");
        }
        let h = &frame.header;
        let arrow = arrow(dir).tint(self.colour);
        let kind = format!("{:<12}", h.kind().name());
        let kind = match h.kind() {
            Kind::Reserved => kind.red().bold(),
            k if h.is_control() || k == Kind::Continuation => kind.yellow(),
            _ => kind.normal(),
        }
        .tint(self.colour);
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
        }
        .tint(self.colour);
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
            self.stamp_at(t),
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
        } else if let Some(json) = self.json_preview(frame, true) {
            write!(self.out, " {json}")?;
        } else if h.payload_len > 0 {
            let shown = show_frame_payload(frame);
            write!(self.out, " {}", preview(shown, h.payload_len, self.colour))?;
        }
        if frame.cut_short {
            write!(
                self.out,
                " {}",
                format!(
                    "(cut short: {} of {} bytes had arrived when the session ended)",
                    frame.preview.len(),
                    h.payload_len
                )
                .red()
                .tint(self.colour)
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
        let json = self.message_json(binary, data);
        if let Some(columns) = self.compact_width() {
            let body = match &json {
                Some(value) => pretty::compact_plain(value),
                None => preview_text(shown, data.len() as u64),
            };
            let stamp = self.stamp_text(t, true);
            let start = LineStart {
                stamp: &stamp,
                columns,
                colour: self.colour,
            };
            let line = compact_message(dir, wire, data.len(), start, &body);
            return writeln!(self.out, "{line}");
        }
        let body = match &json {
            Some(value) => pretty::compact(value),
            None => preview(shown, data.len() as u64, self.colour),
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
            "{} {} {} {} len={}{deflated}{frames} {body}",
            self.stamp_at(t),
            arrow(dir).tint(self.colour),
            "message".bold().tint(self.colour),
            if binary { "binary" } else { "text" },
            data.len(),
        )
    }

    fn close(&mut self, code: Option<u16>, reason: &str, initiator: Initiator) -> io::Result<()> {
        let code = code.map_or_else(|| "no code".to_string(), close_code::describe);
        let peer = if self.serves() { "client" } else { "server" };
        let how = match initiator {
            Initiator::Local => format!("we closed first; the {peer} answered"),
            Initiator::Remote => format!("the {peer} closed first with"),
        };
        writeln!(
            self.out,
            "{} {} {how} {code} reason=\"{}\"",
            self.stamp(),
            "* closed:".bold().tint(self.colour),
            escape(reason)
        )
    }
}

/// One frame in at most `columns` columns: direction, kind, the flags
/// that are unusual (fin=0, unexpected RSV bits, masking against the
/// role, a non-minimal length), the length and as much payload as fits.
/// Where a compact line starts and how much room it has: the stamp, the
/// terminal's columns, and whether it is coloured.
struct LineStart<'a> {
    stamp: &'a str,
    columns: usize,
    colour: bool,
}

fn compact_frame(
    frame: &Frame,
    dir: Dir,
    start: LineStart,
    deflate: bool,
    serving: bool,
    json: Option<String>,
) -> String {
    let LineStart {
        stamp: stamp_text,
        columns,
        colour,
    } = start;
    let h = &frame.header;
    let kind = match h.kind() {
        Kind::Continuation => "cont",
        Kind::Reserved => "op?",
        k => k.name(),
    };
    let flags = compact_flags(frame, dir, deflate, serving);
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" {}", flags.join(" "))
    };
    let size = h.payload_len.to_string();
    let body = if h.kind() == Kind::Close {
        match frame.close_code() {
            Some(code) => format!(
                "{} \"{}\"",
                close_code::describe(code),
                escape_bytes(frame.close_reason())
            ),
            None => String::new(),
        }
    } else if let Some(json) = json {
        json
    } else if h.payload_len > 0 {
        preview_text(show_frame_payload(frame), h.payload_len)
    } else {
        String::new()
    };
    let cut = if frame.cut_short { " (cut short)" } else { "" };
    // Everything but the body, in columns: stamp, arrow, kind, flags, size
    // and the spaces between them.
    let used = stamp_text.len() + 3 + 6 + flags.chars().count() + 1 + size.len() + 1 + cut.len();
    let body = fit(&body, columns.saturating_sub(used + 1));
    // Colour goes on after the fitting, so escapes do not count as columns.
    let kind = format!("{kind:<6}");
    let kind = match h.kind() {
        Kind::Reserved => kind.red().bold(),
        k if h.is_control() || k == Kind::Continuation => kind.yellow(),
        _ => kind.normal(),
    }
    .tint(colour);
    let line = format!(
        "{} {} {kind}{} {size} {body}{}",
        stamp_text.dimmed().tint(colour),
        arrow(dir).tint(colour),
        flags.red().tint(colour),
        cut.red().tint(colour)
    );
    line.trim_end().to_string()
}

/// A data message in at most `columns` columns, laid out as a frame
/// line: its kind, `z` and its size on the wire before its own when it
/// was compressed (`z 77→75`), how many frames carried it when more than
/// one, and as much of it as fits (`body`, already escaped).
fn compact_message(
    dir: Dir,
    wire: &MessageEnd,
    len: usize,
    start: LineStart,
    body: &str,
) -> String {
    let LineStart {
        stamp: stamp_text,
        columns,
        colour,
    } = start;
    let kind = if wire.kind == Kind::Binary {
        "binary"
    } else {
        "text"
    };
    let mut flags = Vec::new();
    if wire.compressed {
        flags.push("z".to_string());
    }
    if wire.frames > 1 {
        flags.push(format!("{} frames", wire.frames));
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" {}", flags.join(" "))
    };
    let size = if wire.compressed {
        format!("{}→{len}", wire.wire_len)
    } else {
        len.to_string()
    };
    let used = stamp_text.len() + 3 + 6 + flags.chars().count() + 1 + size.chars().count() + 1;
    let body = fit(body, columns.saturating_sub(used + 1));
    let line = format!(
        "{} {} {kind:<6}{} {size} {body}",
        stamp_text.dimmed().tint(colour),
        arrow(dir).tint(colour),
        flags.dimmed().tint(colour),
    );
    line.trim_end().to_string()
}

/// The flags of a compact frame line: only what is unusual, and `z` for
/// a compressed message's first frame.
fn compact_flags(frame: &Frame, dir: Dir, deflate: bool, serving: bool) -> Vec<String> {
    let h = &frame.header;
    let mut flags = Vec::new();
    if !h.fin {
        flags.push("fin=0".to_string());
    }
    let data = matches!(h.kind(), Kind::Text | Kind::Binary);
    match (h.rsv1, h.rsv2, h.rsv3) {
        (false, false, false) => {}
        (true, false, false) if deflate && data => flags.push("z".to_string()),
        (a, b, c) => flags.push(format!("rsv={}{}{}", u8::from(a), u8::from(b), u8::from(c))),
    }
    if h.kind() == Kind::Reserved {
        flags.push(format!("op=0x{:x}", h.opcode));
    }
    // A client masks what it sends; a server does not.
    let masked_sender = (dir == Dir::Out) != serving;
    match (h.mask_key.is_some(), masked_sender) {
        (false, true) => flags.push("unmasked".to_string()),
        (true, false) => flags.push("masked".to_string()),
        _ => {}
    }
    if h.non_minimal_length() {
        flags.push(format!("{}-bit", h.len_encoding.bits()));
    }
    flags
}

/// `text` cut to `room` terminal columns, with `…` marking the cut. Wide
/// characters (CJK, most emoji) take two columns.
fn fit(text: &str, room: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if text.width() <= room {
        return text.to_string();
    }
    let room = room.saturating_sub(1);
    let mut kept = String::new();
    let mut used = 0;
    for c in text.chars() {
        let width = c.width().unwrap_or(0);
        if used + width > room {
            break;
        }
        used += width;
        kept.push(c);
    }
    format!("{kept}…")
}

fn arrow(dir: Dir) -> ColoredString {
    match dir {
        Dir::Out => "→".blue().bold(),
        Dir::In => "←".green().bold(),
    }
}

/// The part of a payload that was kept, escaped to stay on one line, with
/// a visible marker counting the bytes of `total` that are not shown.
fn preview(shown: Shown, total: u64, colour: bool) -> String {
    let (body, hidden) = preview_parts(shown, total);
    match hidden {
        Some(marker) => format!("{body}{}", marker.dimmed().tint(colour)),
        None => body,
    }
}

/// Colour as a view was told: without it, plain text whatever the
/// process-wide setting.
trait Tint {
    fn tint(self, colour: bool) -> ColoredString;
}

impl Tint for ColoredString {
    fn tint(self, colour: bool) -> ColoredString {
        if colour {
            self
        } else {
            self.clear()
        }
    }
}

/// The same without colour, for a line that is measured.
fn preview_text(shown: Shown, total: u64) -> String {
    let (body, hidden) = preview_parts(shown, total);
    body + &hidden.unwrap_or_default()
}

fn preview_parts(shown: Shown, total: u64) -> (String, Option<String>) {
    let (body, shown_bytes) = match shown {
        Shown::Utf8(s) => (format!("\"{}\"", s.escape_debug()), s.len()),
        Shown::Hex(h) => (format!("hex:{}", super::hex(h)), h.len()),
    };
    let hidden = total.saturating_sub(shown_bytes as u64);
    (body, (hidden > 0).then(|| format!("…(+{hidden} bytes)")))
}

impl Screen for Human {
    fn show(&mut self, event: &Event) -> io::Result<()> {
        // A frame line waiting for its message is drawn before anything
        // else is; its message decides itself.
        if !matches!(event, Event::Message { .. } | Event::Wire(_)) {
            self.flush_pending()?;
        }
        match event {
            Event::Connect { url, role, facts } => {
                // A connection numbers its messages from 1 again (after a
                // redirect, say): what its last one held is dropped.
                let conn = self.conn;
                let dropped: usize = self
                    .held
                    .iter()
                    .filter(|(c, ..)| *c == conn)
                    .map(|(.., line)| line.len())
                    .sum();
                self.held.retain(|(c, ..)| *c != conn);
                self.held_bytes -= dropped;
                self.connect(url, *role, facts)?
            }
            Event::Request { raw } => self.head(self.markers().0, raw)?,
            Event::Response {
                response,
                negotiated,
                upgrade_ms,
            } => self.response(response, negotiated, *upgrade_ms)?,
            Event::Frame { dir, frame, at, .. } => {
                self.filtered_frame(*dir, frame, self.clock.at(*at), true)?
            }
            Event::Message {
                dir,
                binary,
                data,
                wire,
                at,
            } => self.filtered_message(*dir, *binary, data, wire, self.clock.at(*at))?,
            Event::Wire(_) | Event::Gone => {}
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
                        "wscope: error:".red().bold().tint(self.colour),
                        escape(text)
                    )?;
                } else {
                    crate::error::print_error(text);
                }
            }
            Event::Reconnect {
                attempt,
                limit,
                delay,
                cause,
            } => {
                let of = limit.map_or_else(String::new, |n| format!(" of {n}"));
                writeln!(
                    self.out,
                    "{} {} {}; attempt {attempt}{of} in {:.1} s",
                    self.stamp(),
                    "* reconnect:".bold().tint(self.colour),
                    escape(cause),
                    delay.as_secs_f64()
                )?
            }
            Event::Answered { id, delay } => {
                if self.filter.shows_dir(Dir::In) {
                    writeln!(
                        self.out,
                        "{} {} id {} after {:.2} ms",
                        self.stamp(),
                        "* answer:".bold().tint(self.colour),
                        escape(id),
                        delay.as_secs_f64() * 1000.0
                    )?
                }
            }
            Event::Reply {
                rule,
                pattern,
                text,
            } => writeln!(
                self.out,
                "{} {} rule {rule} /{}/ answers {}",
                self.stamp(),
                "* auto-reply:".bold().tint(self.colour),
                escape(pattern),
                fit(&format!("\"{}\"", text.escape_debug()), 60)
            )?,
            Event::Fault { kind, way, detail } => writeln!(
                self.out,
                "{} {} {} {}: {}",
                self.stamp(),
                "* fault".magenta().bold().tint(self.colour),
                kind,
                way,
                escape(detail)
            )?,
            Event::Notice(text) => {
                for line in text.lines() {
                    writeln!(
                        self.out,
                        "{} {} {}",
                        self.stamp(),
                        "*".bold().tint(self.colour),
                        escape(line)
                    )?;
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

    /// A frame held for its message belongs to the connection it came
    /// on: another connection's event draws it first.
    fn set_conn(&mut self, conn: Option<u32>) {
        if self.pending.is_some() {
            let _ = self.flush_pending();
        }
        self.conn = conn;
        self.numbered |= conn.is_some_and(|n| n > 1);
    }

    fn set_leg(&mut self, leg: Option<Role>) {
        if self.pending.is_some() {
            let _ = self.flush_pending();
        }
        self.leg = leg;
        // Proxied connections are always named: each has two legs.
        self.numbered |= leg.is_some();
    }

    /// An outgoing frame still waiting when the session goes idle has no
    /// message to wait for (a hand-made one, or one the socket holds).
    fn idle(&mut self) -> io::Result<()> {
        if self.pending.as_ref().is_some_and(|p| p.dir == Dir::Out) {
            self.flush_pending()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode::{Decoded, FrameDecoder};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// What a view wrote, kept for the test to read.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl Write for Written {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Written {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn frame(bytes: &[u8]) -> Frame {
        let mut found = None;
        FrameDecoder::new(64).feed(bytes, &mut |d| {
            if let Decoded::Frame(f) = d {
                found.get_or_insert(f);
            }
        });
        found.unwrap()
    }

    /// A compact view without colour, writing to a buffer.
    fn view(written: &Written) -> Human {
        Human::new(
            Out::writer(Box::new(written.clone())),
            Clock::start(),
            true,
            64,
        )
        .with_layout(Layout::Compact, TimeFormat::Rel)
        .with_colour(false)
    }

    #[test]
    fn lines_name_their_connection_once_a_second_one_has_come() {
        let written = Written::default();
        let mut human = view(&written);
        let at = Instant::now();
        // An unmasked text frame "hi" from the server's side ("out").
        let hi = frame(&[0x81, 0x02, b'h', b'i']);
        human.set_conn(Some(1));
        human
            .show(&Event::Frame {
                dir: Dir::Out,
                frame: &hi,
                at,
                rtt: None,
            })
            .unwrap();
        human.set_conn(Some(2));
        human
            .show(&Event::Frame {
                dir: Dir::Out,
                frame: &hi,
                at,
                rtt: None,
            })
            .unwrap();
        human.set_conn(Some(1));
        human.show(&Event::Notice("still here")).unwrap();
        human.out().flush().unwrap();
        let text = written.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].ends_with("] → text   2 \"hi\""), "{text}");
        assert!(lines[1].contains("] #2 → text   2 \"hi\""), "{text}");
        assert!(lines[2].contains("] #1 * still here"), "{text}");
    }

    #[test]
    fn a_view_without_colour_writes_no_escape_and_escapes_the_peer() {
        let written = Written::default();
        let mut human = view(&written);
        // The peer's text carries ESC [ 2 J (clear screen) and a bell.
        let nasty = frame(&[0x81, 0x06, 0x1b, b'[', b'2', b'J', 0x07, b'x']);
        human.set_conn(Some(1));
        human
            .show(&Event::Frame {
                dir: Dir::In,
                frame: &nasty,
                at: Instant::now(),
                rtt: None,
            })
            .unwrap();
        human.show(&Event::Notice("a \x1b[31m notice")).unwrap();
        human.out().flush().unwrap();
        let text = written.text();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(!text.contains('\x07'), "{text:?}");
        // A client's frame without a mask is flagged; its bytes are escaped.
        assert!(
            text.contains("← text   unmasked 6 \"\\u{1b}[2J\\u{7}x\""),
            "{text}"
        );
    }

    #[test]
    fn the_marker_counts_exactly_the_bytes_not_shown() {
        let text = "é".repeat(150); // 300 bytes
        assert_eq!(
            preview(Shown::Utf8(&text[..128]), 300, true),
            format!("\"{}\"{}", "é".repeat(64), "…(+172 bytes)".dimmed())
        );
        assert_eq!(preview(Shown::Hex(&[0xca, 0xfe]), 2, false), "hex:cafe");
    }

    #[test]
    fn a_compressed_message_line_says_z_and_both_sizes_in_its_columns() {
        colored::control::set_override(false);
        let wire = MessageEnd {
            seq: 1,
            kind: Kind::Text,
            frames: 1,
            wire_len: 77,
            compressed: true,
        };
        let body = format!("\"{}\"", "x".repeat(100));
        let start = |stamp| LineStart {
            stamp,
            columns: 80,
            colour: false,
        };
        let line = compact_message(Dir::Out, &wire, 75, start("[   0.822]"), &body);
        assert!(
            line.starts_with("[   0.822] → text   z 77→75 \"xxx"),
            "{line}"
        );
        assert!(line.ends_with('…') && line.chars().count() == 79, "{line}");
        let wire = MessageEnd {
            kind: Kind::Binary,
            frames: 3,
            compressed: false,
            wire_len: 5,
            ..wire
        };
        let line = compact_message(Dir::In, &wire, 5, start("[   0.822]"), "hex:01");
        assert_eq!(line, "[   0.822] ← binary 3 frames 5 hex:01");
    }

    #[test]
    fn a_cut_counts_terminal_columns_not_characters() {
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdefg", 6), "abcde…");
        // Each of these takes two columns: three of them and the mark fill 7.
        assert_eq!(fit("漢字漢字漢字", 7), "漢字漢…");
        assert_eq!(fit("漢字漢字漢字", 12), "漢字漢字漢字");
    }
}
