//! One direction's bytes, cut at frame boundaries on their way through
//! the proxy: each frame passes exactly as it came (header, mask, payload
//! and all), is left out, has bits flipped, or is held until its message
//! is whole. Nothing is parsed beyond headers, and nothing is kept but a
//! held message, which is bounded.

use std::time::Instant;

use super::faults::{Fate, Faults};
use crate::wire::frame::{take_header, FrameHeader, Kind};

/// A message held for match= is let go past this size, unjudged.
pub const MAX_HELD: usize = 1 << 20;

enum State {
    Header,
    Payload {
        remaining: u64,
        /// Bytes of this payload already passed.
        offset: u64,
        fate: Fate,
        key: Option<[u8; 4]>,
        /// The frame belongs to the held message.
        held: bool,
        ends_message: bool,
    },
}

/// The message held whole for a match=: its frames' bytes, and its
/// payload unmasked, to be judged.
struct Held {
    bytes: Vec<u8>,
    payload: Vec<u8>,
}

pub struct Cutter {
    header: Vec<u8>,
    state: State,
    /// The fate of the data message whose frames are arriving, for its
    /// continuations (`None` when no message is open).
    message: Option<Fate>,
    held: Option<Held>,
    /// A held message grew past MAX_HELD and went on unjudged.
    pub overflowed: u64,
}

impl Default for Cutter {
    fn default() -> Self {
        Cutter {
            header: Vec::with_capacity(14),
            state: State::Header,
            message: None,
            held: None,
            overflowed: 0,
        }
    }
}

impl Cutter {
    /// A data message's frames are arriving (injected frames wait for
    /// its end, not to land inside it).
    pub fn mid_message(&self) -> bool {
        self.message.is_some() || !matches!(self.state, State::Header)
    }

    /// Cuts `bytes` and appends what goes on to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], faults: &mut Faults, now: Instant, out: &mut Vec<u8>) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Header => {
                    let (header, used) = take_header(&mut self.header, bytes);
                    bytes = &bytes[used..];
                    let Some(header) = header else { continue };
                    let (fate, held, ends_message) = self.begin(&header, faults, now);
                    match (&fate, held) {
                        (_, true) => {
                            if let Some(h) = self.held.as_mut() {
                                h.bytes.extend_from_slice(&self.header);
                            }
                        }
                        (Fate::Drop, _) => {}
                        _ => out.extend_from_slice(&self.header),
                    }
                    self.header.clear();
                    self.state = State::Payload {
                        remaining: header.payload_len,
                        offset: 0,
                        fate,
                        key: header.mask_key,
                        held,
                        ends_message,
                    };
                    self.end_frame_if_done(faults, out);
                }
                State::Payload {
                    remaining,
                    offset,
                    fate,
                    key,
                    held,
                    ..
                } => {
                    let take = (*remaining).min(bytes.len() as u64) as usize;
                    let piece = &bytes[..take];
                    bytes = &bytes[take..];
                    let at = *offset;
                    *remaining -= take as u64;
                    *offset += take as u64;
                    if *held {
                        if let Some(h) = self.held.as_mut() {
                            h.bytes.extend_from_slice(piece);
                            let start = h.payload.len();
                            h.payload.extend_from_slice(piece);
                            if let Some(key) = *key {
                                crate::wire::frame::unmask(
                                    &mut h.payload[start..],
                                    key,
                                    (at % 4) as usize,
                                );
                            }
                        }
                    } else {
                        match fate {
                            Fate::Drop => {}
                            Fate::Flip(flips) => {
                                let start = out.len();
                                out.extend_from_slice(piece);
                                // A bit flipped in the masked byte is the
                                // same bit flipped in the payload.
                                for &(o, mask) in flips.iter() {
                                    if o >= at && o < at + take as u64 {
                                        out[start + (o - at) as usize] ^= mask;
                                    }
                                }
                            }
                            Fate::Pass | Fate::Hold => out.extend_from_slice(piece),
                        }
                    }
                    self.end_frame_if_done(faults, out);
                }
            }
        }
    }

    /// A header is in: its fate, whether it joins the held message, and
    /// whether it ends a data message.
    fn begin(
        &mut self,
        header: &FrameHeader,
        faults: &mut Faults,
        now: Instant,
    ) -> (Fate, bool, bool) {
        match header.kind() {
            Kind::Text | Kind::Binary => {
                // A new message while one is open is passed as it is: the
                // proxy is a window, not a judge.
                let fate = faults.fate(header, true, now);
                let held = fate == Fate::Hold;
                if held {
                    self.held = Some(Held {
                        bytes: Vec::new(),
                        payload: Vec::new(),
                    });
                }
                self.message = (!header.fin).then(|| fate.clone());
                (fate, held, header.fin)
            }
            Kind::Continuation => match self.message.clone() {
                Some(fate) => {
                    if header.fin {
                        self.message = None;
                    }
                    let fate = match fate {
                        // Only the first frame's bits are flipped.
                        Fate::Flip(_) => Fate::Pass,
                        other => other,
                    };
                    let held = fate == Fate::Hold && self.held.is_some();
                    (fate, held, header.fin)
                }
                None => (Fate::Pass, false, false),
            },
            _ => (faults.fate(header, false, now), false, false),
        }
    }

    fn end_frame_if_done(&mut self, faults: &mut Faults, out: &mut Vec<u8>) {
        let State::Payload {
            remaining,
            held,
            ends_message,
            ..
        } = &self.state
        else {
            return;
        };
        let (done, held, ends_message) = (*remaining == 0, *held, *ends_message);
        if held && self.held.as_ref().is_some_and(|h| h.bytes.len() > MAX_HELD) {
            // Too big to judge: what is held goes on, and the rest passes.
            if let Some(h) = self.held.take() {
                out.extend_from_slice(&h.bytes);
            }
            self.overflowed += 1;
            self.message = self.message.as_ref().map(|_| Fate::Pass);
            if let State::Payload { held, fate, .. } = &mut self.state {
                *held = false;
                *fate = Fate::Pass;
            }
        }
        if !done {
            return;
        }
        if held && ends_message {
            if let Some(h) = self.held.take() {
                if !faults.judge_held(&h.payload) {
                    out.extend_from_slice(&h.bytes);
                }
            }
        }
        self.state = State::Header;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::faults::{parse, Way};
    use crate::wire::raw::encode_frame;

    fn run(faults: &[&str], way: Way, input: &[u8], piece: usize) -> (Vec<u8>, Faults) {
        let all: Vec<_> = faults.iter().map(|f| parse(f).unwrap()).collect();
        let now = Instant::now();
        let mut f = Faults::new(way, &all, 3, now);
        let mut cutter = Cutter::default();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            cutter.feed(chunk, &mut f, now, &mut out);
        }
        (out, f)
    }

    fn text(s: &str, fin: bool, opcode: u8) -> Vec<u8> {
        encode_frame(
            [fin, false, false, false],
            opcode,
            Some([1, 2, 3, 4]),
            s.as_bytes(),
        )
    }

    #[test]
    fn without_faults_every_byte_passes_as_it_came() {
        let mut input = text("hel", false, 1);
        input.extend(encode_frame([true, false, false, false], 9, None, b"p"));
        input.extend(text("lo", false, 0));
        input.extend(text("!", true, 0));
        for piece in [1, 2, 5, 1000] {
            assert_eq!(run(&[], Way::Up, &input, piece).0, input);
        }
    }

    #[test]
    fn drop_removes_every_frame_of_the_message_but_not_the_control_frames_among_them() {
        let first = text("one", true, 1);
        let mut second = text("tw", false, 1);
        let ping = encode_frame([true, false, false, false], 9, Some([0; 4]), b"");
        second.extend(&ping);
        second.extend(text("o", true, 0));
        let third = text("three", true, 1);
        let input = [first.clone(), second, third.clone()].concat();
        for piece in [1, 3, 100] {
            let (out, f) = run(&["drop:up,every=2"], Way::Up, &input, piece);
            assert_eq!(out, [first.clone(), ping.clone(), third.clone()].concat());
            assert_eq!(f.applied.len(), 1);
        }
    }

    #[test]
    fn corrupt_flips_one_bit_of_the_unmasked_payload() {
        let input = text("hello", true, 1);
        let (out, f) = run(&["corrupt:up,every=1"], Way::Up, &input, 2);
        let diff: Vec<u8> = out.iter().zip(&input).map(|(a, b)| a ^ b).collect();
        assert_eq!(diff.iter().filter(|b| **b != 0).count(), 1);
        assert_eq!(diff.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        assert!(diff[..6].iter().all(|b| *b == 0), "the header is untouched");
        assert_eq!(f.applied[0].kind, "corrupt");
    }

    #[test]
    fn match_drops_only_the_messages_whose_text_matches() {
        let keep = text("hello", true, 1);
        let mut secret = text("sec", false, 1);
        secret.extend(text("ret", true, 0));
        let input = [keep.clone(), secret, keep.clone()].concat();
        for piece in [1, 4, 100] {
            let (out, _) = run(&["drop:up,match=secret"], Way::Up, &input, piece);
            assert_eq!(out, [keep.clone(), keep.clone()].concat());
        }
    }
}
