//! What one direction of one leg shows: every frame with its header
//! decoded and a preview of its payload, and every data message whole
//! (inflated, when it was compressed) up to a bound. The bytes are those
//! that crossed that leg: on the way in as the peer sent them, on the way
//! out as the proxy wrote them.

use std::time::Instant;

use crate::check::deflate::Codec;
use crate::handshake::extensions::Deflate;
use crate::observe::{Dir, Event, Observers, Role};
use crate::wire::decode::MessageEnd;
use crate::wire::frame::{take_header, unmask, Frame, FrameHeader, Kind, Part};

/// A message is shown whole up to this size; past it, its frames say
/// enough and a notice gives its length.
pub const VIEW_MAX: usize = 16 << 20;

/// Control frames carry at most 125 bytes.
const CONTROL_MAX: usize = 125;

struct Open {
    seq: u64,
    kind: Kind,
    frames: u64,
    wire_len: u64,
    compressed: bool,
    data: Vec<u8>,
    too_big: bool,
}

struct Current {
    frame: Frame,
    remaining: u64,
    offset: u64,
    shown: bool,
    /// Part of the open data message.
    data: bool,
}

pub struct Watch {
    obs: Observers,
    dir: Dir,
    /// Who sent these bytes.
    sender: Role,
    preview: usize,
    header: Vec<u8>,
    current: Option<Current>,
    frames: u64,
    messages: u64,
    open: Option<Open>,
    inflate: Option<Codec>,
    /// Name protocol violations (only where the bytes come in).
    judging: bool,
    /// permessage-deflate was agreed: RSV1 may start a message.
    deflate: bool,
    /// Violations seen since the relay last looked.
    pub violations: Vec<String>,
    /// The sender's Close frame: its code, once it has crossed.
    pub close: Option<Option<u16>>,
}

impl Watch {
    /// `leg` is where the bytes cross and `dir` which way, as seen from
    /// the proxy; `deflate` the parameters agreed on the connection.
    pub fn new(
        obs: Observers,
        dir: Dir,
        leg: Role,
        preview: usize,
        deflate: Option<Deflate>,
    ) -> Watch {
        // On the client leg, what comes in is the client's; on the server
        // leg, the server's.
        let sender = match dir {
            Dir::In => leg,
            Dir::Out => leg.other(),
        };
        let inflate = deflate.map(|params| {
            // The codec inflates the server's messages; for the client's,
            // its parameters are the other way round.
            let params = match sender {
                Role::Server => params,
                Role::Client => params.swapped(),
            };
            Codec::new(&params, VIEW_MAX)
        });
        Watch {
            obs,
            dir,
            sender,
            preview,
            header: Vec::with_capacity(14),
            current: None,
            frames: 0,
            messages: 0,
            open: None,
            deflate: deflate.is_some(),
            inflate,
            judging: dir == Dir::In,
            violations: Vec::new(),
            close: None,
        }
    }

    /// A frame is being cut short or more frames are coming.
    pub fn mid_frame(&self) -> bool {
        self.current.is_some() || !self.header.is_empty()
    }

    pub fn feed(&mut self, mut bytes: &[u8], at: Instant) {
        while !bytes.is_empty() {
            match self.current.as_mut() {
                None => {
                    let (header, used) = take_header(&mut self.header, bytes);
                    bytes = &bytes[used..];
                    let Some(header) = header else { continue };
                    self.header.clear();
                    self.begin(header);
                    self.progress(at);
                }
                Some(cur) => {
                    let take = cur.remaining.min(bytes.len() as u64) as usize;
                    let piece = &bytes[..take];
                    bytes = &bytes[take..];
                    let limit = if cur.frame.header.is_control() {
                        CONTROL_MAX
                    } else {
                        self.preview
                    };
                    let key = cur.frame.header.mask_key;
                    if cur.frame.preview.len() < limit {
                        let want = (limit - cur.frame.preview.len()).min(take);
                        let start = cur.frame.preview.len();
                        cur.frame.preview.extend_from_slice(&piece[..want]);
                        if let Some(key) = key {
                            unmask(&mut cur.frame.preview[start..], key, start);
                        }
                    }
                    if cur.data {
                        if let Some(open) = self.open.as_mut() {
                            if !open.too_big && open.data.len() + take <= VIEW_MAX {
                                let start = open.data.len();
                                open.data.extend_from_slice(piece);
                                if let Some(key) = key {
                                    unmask(&mut open.data[start..], key, cur.offset as usize);
                                }
                            } else if !open.too_big {
                                open.too_big = true;
                                open.data = Vec::new();
                            }
                        }
                    }
                    cur.offset += take as u64;
                    cur.remaining -= take as u64;
                    self.progress(at);
                }
            }
        }
    }

    fn begin(&mut self, header: FrameHeader) {
        self.frames += 1;
        if self.judging {
            if let Some(v) = self.violation(&header) {
                self.violations.push(v);
            }
        }
        let kind = header.kind();
        let mut continues = None;
        let mut message = None;
        let mut compressed = false;
        let data = match kind {
            Kind::Text | Kind::Binary => {
                self.messages += 1;
                self.open = Some(Open {
                    seq: self.messages,
                    kind,
                    frames: 0,
                    wire_len: 0,
                    compressed: header.rsv1,
                    data: Vec::new(),
                    too_big: false,
                });
                let part = if header.fin { Part::Whole } else { Part::Start };
                message = Some((self.messages, part));
                compressed = header.rsv1;
                true
            }
            Kind::Continuation => match self.open.as_ref() {
                Some(open) => {
                    continues = Some(open.kind);
                    let part = if header.fin { Part::End } else { Part::Middle };
                    message = Some((open.seq, part));
                    compressed = open.compressed;
                    true
                }
                None => false,
            },
            _ => false,
        };
        if data {
            if let Some(open) = self.open.as_mut() {
                open.frames += 1;
                open.wire_len += header.payload_len;
            }
        }
        self.current = Some(Current {
            remaining: header.payload_len,
            offset: 0,
            shown: false,
            data,
            frame: Frame {
                header,
                preview: Vec::new(),
                cut_short: false,
                continues,
                index: self.frames,
                message,
                compressed,
            },
        });
    }

    /// Shows the frame once its preview is in, and ends it once its last
    /// byte is.
    fn progress(&mut self, at: Instant) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let limit = if cur.frame.header.is_control() {
            CONTROL_MAX as u64
        } else {
            self.preview as u64
        };
        if !cur.shown
            && (cur.remaining == 0
                || cur.frame.preview.len() as u64 >= limit.min(cur.frame.header.payload_len))
        {
            cur.shown = true;
            self.obs.event(&Event::Frame {
                dir: self.dir,
                frame: &cur.frame,
                at,
                rtt: None,
            });
        }
        if cur.remaining > 0 {
            return;
        }
        let Some(cur) = self.current.take() else {
            return;
        };
        if cur.frame.header.kind() == Kind::Close && self.close.is_none() {
            self.close = Some(cur.frame.close_code());
        }
        if cur.data && cur.frame.header.fin {
            if let Some(open) = self.open.take() {
                self.message_ends(open, at);
            }
        }
    }

    fn message_ends(&mut self, open: Open, at: Instant) {
        let wire = MessageEnd {
            seq: open.seq,
            kind: open.kind,
            frames: open.frames,
            wire_len: open.wire_len,
            compressed: open.compressed,
        };
        if open.too_big {
            // Its frames went by; a compressed one's window is lost to
            // the view from here on.
            self.obs.event(&Event::Notice(&format!(
                "message {} ({} bytes on the wire) is over {} MiB: shown by its frames only",
                open.seq,
                open.wire_len,
                VIEW_MAX >> 20
            )));
            if open.compressed {
                self.inflate = None;
            }
            return;
        }
        let data = match (open.compressed, self.inflate.as_mut()) {
            (true, Some(codec)) => match codec.inflate(&open.data) {
                Ok(plain) => plain,
                Err(why) => {
                    if self.judging {
                        self.violations
                            .push(format!("compressed message {} {why}", open.seq));
                    }
                    open.data
                }
            },
            _ => open.data,
        };
        if self.judging && open.kind == Kind::Text && std::str::from_utf8(&data).is_err() {
            self.violations.push(format!(
                "text message {} is not valid UTF-8 (RFC 6455 §8.1)",
                open.seq
            ));
        }
        self.obs.event(&Event::Message {
            dir: self.dir,
            binary: open.kind == Kind::Binary,
            data: &data,
            wire,
            at,
        });
    }

    /// A rule of RFC 6455 the sender broke with this header, in words.
    fn violation(&self, h: &FrameHeader) -> Option<String> {
        let who = self.sender.name();
        let kind = h.kind();
        if self.sender == Role::Client && h.mask_key.is_none() {
            return Some(format!("the {who} sent an unmasked frame (RFC 6455 §5.1)"));
        }
        if self.sender == Role::Server && h.mask_key.is_some() {
            return Some(format!("the {who} sent a masked frame (RFC 6455 §5.1)"));
        }
        if h.rsv2
            || h.rsv3
            || (h.rsv1 && !(self.deflate && matches!(kind, Kind::Text | Kind::Binary)))
        {
            return Some(format!(
                "the {who} set a reserved bit no extension gave a meaning (RFC 6455 §5.2)"
            ));
        }
        match kind {
            Kind::Reserved => Some(format!(
                "the {who} used the reserved opcode {} (RFC 6455 §5.2)",
                h.opcode
            )),
            Kind::Close | Kind::Ping | Kind::Pong if !h.fin || h.payload_len > 125 => {
                Some(format!(
                "the {who} sent a {} frame that is fragmented or over 125 bytes (RFC 6455 §5.5)",
                kind.name()
            ))
            }
            Kind::Continuation if self.open.is_none() => Some(format!(
                "the {who} sent a continuation frame with no message open (RFC 6455 §5.4)"
            )),
            Kind::Text | Kind::Binary if self.open.is_some() => Some(format!(
                "the {who} began a new message before the last one ended (RFC 6455 §5.4)"
            )),
            _ => None,
        }
    }
}
