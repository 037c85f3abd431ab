//! What the session shows of the wire: every frame in the order it
//! crossed, both directions merged, and every data message after its last
//! frame. Frames and messages are paired by the numbers the tap gave them:
//! when tungstenite returns a message, the tap's next completion record
//! says which frame ended it and which data message it was.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tungstenite::Bytes;

use super::order;
use crate::observe::{Event, Interest, Observers};
use crate::wire::decode::FrameEnd;
use crate::wire::frame::{Frame, Kind};
use crate::wire::tap::Tap;
use crate::wire::Dir;

/// A data message handed to tungstenite, shown once its last frame is out.
struct Outgoing {
    seq: u64,
    binary: bool,
    data: Bytes,
}

pub struct WireView {
    interest: Interest,
    /// Data messages sent so far, numbered as the tap numbers them.
    out_seq: u64,
    outgoing: VecDeque<Outgoing>,
    /// The code and reason of the last Close frame the peer sent, as
    /// decoded from the wire (tungstenite replaces invalid codes).
    pub last_close_in: Option<(Option<u16>, String)>,
    /// The incoming text message being received, for naming where its
    /// UTF-8 breaks.
    pub text_in: TextSoFar,
    /// Our pings as they crossed the wire (payload, when), oldest first,
    /// for the round trip of the pong that answers one.
    pings_out: VecDeque<(Vec<u8>, Instant)>,
    /// The round trip of the last pong shown, when it answered our ping.
    pub last_pong_rtt: Option<Duration>,
}

/// Pings waiting for their pong; older ones are forgotten.
const PINGS_KEPT: usize = 64;

/// What the previews hold of the latest incoming text message: its
/// number, and its bytes while every one of them was kept.
#[derive(Default)]
pub struct TextSoFar {
    pub seq: u64,
    pub bytes: Vec<u8>,
    /// `bytes` are all of the message's payload so far.
    pub whole: bool,
}

/// How much of a text message is kept for that.
const TEXT_KEPT: usize = 64 * 1024;

impl TextSoFar {
    fn add(&mut self, frame: &Frame) {
        use crate::wire::frame::Part;
        let Some((seq, part)) = frame.message else {
            return;
        };
        let text = match frame.header.kind() {
            Kind::Text => true,
            Kind::Continuation => frame.continues == Some(Kind::Text),
            _ => false,
        };
        if !text {
            return;
        }
        if matches!(part, Part::Whole | Part::Start) {
            // The frames after a broken message may be decoded (and shown)
            // before tungstenite reports it: the first broken one stays.
            if self.broken() {
                return;
            }
            self.seq = seq;
            self.bytes.clear();
            // Compressed bytes say nothing about the text's UTF-8.
            self.whole = !frame.header.rsv1;
        }
        if seq != self.seq || !self.whole {
            return;
        }
        if frame.truncated() || self.bytes.len() + frame.preview.len() > TEXT_KEPT {
            self.whole = false;
            return;
        }
        self.bytes.extend_from_slice(&frame.preview);
    }

    fn broken(&self) -> bool {
        self.whole && std::str::from_utf8(&self.bytes).is_err_and(|e| e.error_len().is_some())
    }

    /// Where the text stops being UTF-8, in words: ` at byte 5` when the
    /// kept bytes show it.
    pub fn where_invalid(&self) -> String {
        match std::str::from_utf8(&self.bytes) {
            Err(e) if self.whole && e.error_len().is_some() => {
                format!(" at byte {}", e.valid_up_to())
            }
            Err(e) if self.whole => format!(
                ": it ends inside a character that starts at byte {}",
                e.valid_up_to()
            ),
            _ => String::new(),
        }
    }
}

impl WireView {
    pub fn new(interest: Interest) -> Self {
        WireView {
            interest,
            out_seq: 0,
            outgoing: VecDeque::new(),
            last_close_in: None,
            text_in: TextSoFar::default(),
            pings_out: VecDeque::new(),
            last_pong_rtt: None,
        }
    }

    /// A data message goes to tungstenite: it will be the next one out.
    pub fn sending(&mut self, binary: bool, data: &Bytes) {
        self.out_seq += 1;
        if self.interest.outgoing_messages {
            // Shares the buffer; no copy.
            self.outgoing.push_back(Outgoing {
                seq: self.out_seq,
                binary,
                data: data.clone(),
            });
        }
    }

    /// A hand-made frame goes out: a text or binary one starts a message.
    pub fn sending_crafted(&mut self, opcode: u8) {
        if matches!(Kind::of(opcode), Kind::Text | Kind::Binary) {
            self.out_seq += 1;
        }
    }

    /// tungstenite returned a message (`data` for a data message): shows
    /// the frames through the one that completed it, then the message.
    pub fn received<S>(&mut self, tap: &mut Tap<S>, obs: &Observers, data: Option<(bool, &[u8])>) {
        let Some((at, end)) = tap.next_end(Dir::In) else {
            // Not expected: the tap sees every byte tungstenite does.
            self.show_all(tap, obs);
            return;
        };
        self.show_incoming_through(end.index, tap, obs);
        if let (Some((binary, data)), Some(message)) = (data, end.message) {
            obs.event(&Event::Message {
                dir: Dir::In,
                binary,
                data,
                wire: message,
                at,
            });
        }
    }

    /// Shows outgoing frames (and the messages they complete), each after
    /// the incoming frames that crossed before it.
    pub fn show_outgoing<S>(&mut self, tap: &mut Tap<S>, obs: &Observers) {
        loop {
            let frame_at = tap.next_frame_at(Dir::Out);
            match frame_at {
                Some(at) => {
                    while let Some(seen) = tap.next_frame_at(Dir::In) {
                        if order::goes_before(at, seen) {
                            break;
                        }
                        self.pop_incoming(tap, obs);
                    }
                    self.pop_outgoing(tap, obs);
                }
                None => {
                    self.show_outgoing_ends(tap, obs, u64::MAX);
                    return;
                }
            }
        }
    }

    /// Everything decoded so far, both ways, in wire order: for a message
    /// still arriving, and before an error is reported.
    pub fn show_all<S>(&mut self, tap: &mut Tap<S>, obs: &Observers) {
        while let Some(dir) = order::first(tap.next_frame_at(Dir::In), tap.next_frame_at(Dir::Out))
        {
            match dir {
                Dir::In => self.pop_incoming(tap, obs),
                Dir::Out => self.pop_outgoing(tap, obs),
            }
        }
        self.show_outgoing_ends(tap, obs, u64::MAX);
    }

    fn show_incoming_through<S>(&mut self, index: u64, tap: &mut Tap<S>, obs: &Observers) {
        // Frames shown ahead (while their message was arriving) are gone
        // from the queue already; only later ones are left.
        while let Some(seen) = tap.next_frame_at(Dir::In) {
            let upto = tap.next_frame_index(Dir::In).is_some_and(|i| i <= index);
            if !upto {
                break;
            }
            while let Some(at) = tap.next_frame_at(Dir::Out) {
                if !order::goes_before(at, seen) {
                    break;
                }
                self.pop_outgoing(tap, obs);
            }
            self.pop_incoming(tap, obs);
        }
    }

    fn pop_incoming<S>(&mut self, tap: &mut Tap<S>, obs: &Observers) {
        let Some((at, frame)) = tap.next_frame(Dir::In) else {
            return;
        };
        if frame.header.kind() == Kind::Close {
            let reason = String::from_utf8_lossy(frame.close_reason()).into_owned();
            self.last_close_in = Some((frame.close_code(), reason));
        }
        self.text_in.add(&frame);
        let rtt = if frame.header.kind() == Kind::Pong {
            self.pong_in(&frame.preview, at)
        } else {
            None
        };
        self.show_frame(obs, Dir::In, &frame, at, rtt);
    }

    /// A pong that answers one of our pings: the time between the two
    /// crossing the wire (what was queued before the ping does not count).
    fn pong_in(&mut self, payload: &[u8], at: Instant) -> Option<Duration> {
        let i = self.pings_out.iter().position(|(p, _)| p == payload)?;
        // Pings older than the one answered will not be answered now.
        let (_, sent) = self.pings_out.drain(..=i).next_back()?;
        let rtt = at.saturating_duration_since(sent);
        self.last_pong_rtt = Some(rtt);
        Some(rtt)
    }

    fn pop_outgoing<S>(&mut self, tap: &mut Tap<S>, obs: &Observers) {
        let Some((at, frame)) = tap.next_frame(Dir::Out) else {
            return;
        };
        if frame.header.kind() == Kind::Ping {
            if self.pings_out.len() == PINGS_KEPT {
                self.pings_out.pop_front();
            }
            self.pings_out.push_back((frame.preview.clone(), at));
        }
        // Messages that ended before this frame come first.
        self.show_outgoing_ends(tap, obs, frame.index);
        self.show_frame(obs, Dir::Out, &frame, at, None);
        // And the one it ends, if it is all out, before anything later.
        self.show_outgoing_ends(tap, obs, frame.index + 1);
    }

    fn show_frame(
        &self,
        obs: &Observers,
        dir: Dir,
        frame: &Frame,
        at: Instant,
        rtt: Option<Duration>,
    ) {
        if self.interest.frames {
            obs.event(&Event::Frame {
                dir,
                frame,
                at,
                rtt,
            });
        }
    }

    /// Outgoing messages whose last frame (before frame `before`) is out.
    fn show_outgoing_ends<S>(&mut self, tap: &mut Tap<S>, obs: &Observers, before: u64) {
        while let Some(end) = tap.peek_end(Dir::Out) {
            if end.index >= before {
                return;
            }
            let Some((at, FrameEnd { message, .. })) = tap.next_end(Dir::Out) else {
                return;
            };
            let Some(message) = message else { continue };
            // A hand-made message has no entry; older entries cannot
            // complete any more.
            while self.outgoing.front().is_some_and(|o| o.seq < message.seq) {
                self.outgoing.pop_front();
            }
            if self.outgoing.front().is_some_and(|o| o.seq == message.seq) {
                let Some(sent) = self.outgoing.pop_front() else {
                    return;
                };
                obs.event(&Event::Message {
                    dir: Dir::Out,
                    binary: sent.binary,
                    data: &sent.data,
                    wire: message,
                    at,
                });
            }
        }
    }
}
