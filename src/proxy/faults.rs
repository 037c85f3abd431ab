//! `--fault KIND[:up|down][,key=value...]`: what each fault is, parsed
//! once, and the state one connection keeps for them: message counters,
//! timers and a random stream that `--seed` makes repeatable.

use std::time::{Duration, Instant};

use regex::Regex;

use crate::wire::frame::{FrameHeader, Kind};

/// A direction through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

impl Way {
    pub fn name(self) -> &'static str {
        match self {
            Way::Up => "up",
            Way::Down => "down",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Way::Up => 0,
            Way::Down => 1,
        }
    }
}

/// When a close or reset happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum After {
    Time(Duration),
    /// After this many data messages in the fault's direction.
    Messages(u64),
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    Delay {
        ms: Duration,
        jitter: Duration,
    },
    Drop {
        every: Option<u64>,
        pattern: Option<Regex>,
        p: Option<f64>,
    },
    Corrupt {
        every: u64,
        bits: u32,
    },
    Close {
        code: u16,
        reason: String,
        after: After,
    },
    Reset {
        after: After,
    },
    Stall {
        ping: bool,
        pong: bool,
        after: Duration,
    },
    Throttle {
        rate: u64,
    },
    Hold {
        length: Duration,
        after: Duration,
    },
}

/// One `--fault`, as given and as understood.
#[derive(Debug, Clone)]
pub struct Fault {
    pub spec: String,
    pub kind: FaultKind,
    /// Which directions it acts on: [up, down].
    pub ways: [bool; 2],
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self.kind {
            FaultKind::Delay { .. } => "delay",
            FaultKind::Drop { .. } => "drop",
            FaultKind::Corrupt { .. } => "corrupt",
            FaultKind::Close { .. } => "close",
            FaultKind::Reset { .. } => "reset",
            FaultKind::Stall { .. } => "stall",
            FaultKind::Throttle { .. } => "throttle",
            FaultKind::Hold { .. } => "hold",
        }
    }

    pub fn acts_on(&self, way: Way) -> bool {
        self.ways[way.index()]
    }

    /// It changes or removes data messages: deflate's shared window would
    /// no longer match on both sides.
    pub fn alters_messages(&self) -> bool {
        matches!(
            self.kind,
            FaultKind::Drop { .. } | FaultKind::Corrupt { .. }
        )
    }
}

/// Parses one `--fault` value; the error names what was wrong.
pub fn parse(spec: &str) -> Result<Fault, String> {
    let mut parts = spec.split(',');
    let head = parts.next().unwrap_or_default().trim();
    let (name, way) = match head.split_once(':') {
        Some((name, way)) => (name, Some(way)),
        None => (head, None),
    };
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for part in parts {
        let part = part.trim();
        match part.split_once('=') {
            Some((k, v)) => keys.push((k.trim(), v.trim())),
            None => return Err(format!("'{part}' is not key=value")),
        }
    }
    let get = |key: &str| keys.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let allowed: &[&str] = match name {
        "delay" => &["ms", "jitter"],
        "drop" => &["every", "match", "p"],
        "corrupt" => &["every", "bits"],
        "close" => &["code", "reason", "after"],
        "reset" => &["after"],
        "stall" => &["of", "after"],
        "throttle" => &["rate"],
        "hold" => &["ms", "after"],
        other => {
            return Err(format!(
                "unknown fault kind '{other}' (delay, drop, corrupt, close, reset, stall, throttle, hold)"
            ))
        }
    };
    if let Some((k, _)) = keys.iter().find(|(k, _)| !allowed.contains(k)) {
        return Err(format!(
            "{name} takes no '{k}' (it takes {})",
            allowed.join(", ")
        ));
    }
    let ways = match way {
        None if matches!(name, "close" | "reset") => [false, true],
        None => [true, true],
        Some("up") => [true, false],
        Some("down") => [false, true],
        Some(other) => return Err(format!("'{other}' is not a direction (up or down)")),
    };
    let kind = match name {
        "delay" => FaultKind::Delay {
            ms: get("ms")
                .map(millis)
                .transpose()?
                .ok_or("delay needs ms=MILLISECONDS")?,
            jitter: get("jitter").map(millis).transpose()?.unwrap_or_default(),
        },
        "drop" => {
            let every = get("every").map(count).transpose()?;
            let pattern = get("match")
                .map(|p| {
                    Regex::new(p)
                        .map_err(|e| format!("match: {}", crate::error::one_line(&e.to_string())))
                })
                .transpose()?;
            let p = get("p").map(probability).transpose()?;
            if every.is_none() && pattern.is_none() && p.is_none() {
                return Err("drop needs every=N, match=REGEX or p=PROBABILITY".into());
            }
            FaultKind::Drop { every, pattern, p }
        }
        "corrupt" => FaultKind::Corrupt {
            every: get("every").map(count).transpose()?.unwrap_or(1),
            bits: match get("bits").map(count).transpose()? {
                Some(n) if n > 64 => return Err("bits: at most 64".into()),
                Some(n) => n as u32,
                None => 1,
            },
        },
        "close" => {
            let code = match get("code") {
                None => 1000,
                Some(v) => match v.parse::<u16>() {
                    Ok(c) if (1000..=4999).contains(&c) && !matches!(c, 1004..=1006 | 1015) => c,
                    _ => {
                        return Err(format!(
                        "code: '{v}' cannot be sent in a Close frame (1000-4999, not 1004-1006 or 1015)"
                    ))
                    }
                },
            };
            let reason = get("reason").unwrap_or_default().to_string();
            if reason.len() > 123 {
                return Err("reason: at most 123 bytes".into());
            }
            FaultKind::Close {
                code,
                reason,
                after: get("after")
                    .map(after)
                    .transpose()?
                    .unwrap_or(After::Time(Duration::ZERO)),
            }
        }
        "reset" => FaultKind::Reset {
            after: get("after")
                .map(after)
                .transpose()?
                .unwrap_or(After::Time(Duration::ZERO)),
        },
        "stall" => {
            let (ping, pong) = match get("of") {
                None => (true, true),
                Some("ping") => (true, false),
                Some("pong") => (false, true),
                Some(other) => return Err(format!("of: '{other}' is not ping or pong")),
            };
            FaultKind::Stall {
                ping,
                pong,
                after: get("after").map(duration).transpose()?.unwrap_or_default(),
            }
        }
        "throttle" => FaultKind::Throttle {
            rate: get("rate")
                .map(count)
                .transpose()?
                .ok_or("throttle needs rate=BYTES_PER_SECOND")?,
        },
        "hold" => FaultKind::Hold {
            length: get("ms")
                .map(millis)
                .transpose()?
                .ok_or("hold needs ms=MILLISECONDS")?,
            after: get("after").map(duration).transpose()?.unwrap_or_default(),
        },
        _ => unreachable!("names were checked above"),
    };
    Ok(Fault {
        spec: spec.to_string(),
        kind,
        ways,
    })
}

fn count(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{v}' is not a whole number of 1 or more")),
    }
}

fn probability(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("p: '{v}' is not a probability from 0 to 1")),
    }
}

/// Milliseconds: a plain number, or a duration with its unit.
fn millis(v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(ms) if ms >= 0.0 && ms.is_finite() && ms < 1e9 => {
            Ok(Duration::from_secs_f64(ms / 1000.0))
        }
        Ok(_) => Err(format!("'{v}' is not a number of milliseconds")),
        Err(_) => duration(v),
    }
}

/// A duration with its unit: 300ms, 1s, 1.5s, 2m.
fn duration(v: &str) -> Result<Duration, String> {
    let bad = || format!("'{v}' is not a duration (300ms, 1s, 2m)");
    let (number, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(bad());
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x >= 0.0 && (x * scale).is_finite() && x * scale < 1e7 => {
            Ok(Duration::from_secs_f64(x * scale))
        }
        _ => Err(bad()),
    }
}

/// `after=`: a duration, or a plain count of messages.
fn after(v: &str) -> Result<After, String> {
    match v.parse::<u64>() {
        Ok(n) => Ok(After::Messages(n)),
        Err(_) => duration(v).map(After::Time).map_err(|_| {
            format!("after: '{v}' is neither a duration (1s, 500ms) nor a number of messages")
        }),
    }
}

/// What happens to one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Pass,
    Drop,
    /// Pass with these payload bits flipped: (offset, bit mask).
    Flip(Vec<(u64, u8)>),
    /// Keep the message until it is whole, then judge it (drop match=).
    Hold,
}

/// A fault applied: for the view and the `fault` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub kind: &'static str,
    pub way: Way,
    pub detail: String,
}

/// A small, fast random stream (splitmix64): repeatable from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// One direction's faults on one connection: decides each frame's fate.
pub struct Faults {
    way: Way,
    list: Vec<Fault>,
    rng: Rng,
    started: Instant,
    /// Data messages begun in this direction.
    pub messages: u64,
    /// What was applied since the relay last looked.
    pub applied: Vec<Applied>,
}

impl Faults {
    pub fn new(way: Way, all: &[Fault], seed: u64, started: Instant) -> Faults {
        Faults {
            way,
            list: all.iter().filter(|f| f.acts_on(way)).cloned().collect(),
            rng: Rng::new(seed ^ (way.index() as u64).wrapping_mul(0xA24B_AED4_963E_E407)),
            started,
            messages: 0,
            applied: Vec::new(),
        }
    }

    fn note(&mut self, kind: &'static str, detail: String) {
        self.applied.push(Applied {
            kind,
            way: self.way,
            detail,
        });
    }

    /// The fate of a frame whose header just arrived; `starts_message`:
    /// it is the first frame of a data message.
    pub fn fate(&mut self, header: &FrameHeader, starts_message: bool, now: Instant) -> Fate {
        match header.kind() {
            Kind::Ping | Kind::Pong => {
                let ping = header.kind() == Kind::Ping;
                let since = now.saturating_duration_since(self.started);
                let stalled = self.list.iter().any(|f| {
                    matches!(f.kind, FaultKind::Stall { ping: sp, pong: so, after }
                        if since >= after && (if ping { sp } else { so }))
                });
                if stalled {
                    let what = if ping { "ping" } else { "pong" };
                    self.note("stall", format!("a {what} was not passed on"));
                    return Fate::Drop;
                }
                Fate::Pass
            }
            Kind::Text | Kind::Binary if starts_message => {
                self.messages += 1;
                let n = self.messages;
                let mut hold = false;
                let mut drop_why = None;
                let mut flip = None;
                for i in 0..self.list.len() {
                    match &self.list[i].kind {
                        FaultKind::Drop { every, pattern, p } => {
                            if every.is_some_and(|e| n % e == 0) {
                                drop_why = Some(format!(
                                    "message {n} dropped (every {})",
                                    every.unwrap_or(1)
                                ));
                            } else if let Some(p) = *p {
                                if self.rng.unit() < p {
                                    drop_why = Some(format!("message {n} dropped (p={p})"));
                                }
                            }
                            hold |= pattern.is_some();
                        }
                        FaultKind::Corrupt { every, bits } if n % every == 0 => {
                            flip = Some(*bits);
                        }
                        _ => {}
                    }
                }
                if let Some(why) = drop_why {
                    self.note("drop", why);
                    return Fate::Drop;
                }
                if let Some(bits) = flip {
                    // Flip within the first frame's payload (bounded, so
                    // that it is seen soon whatever the length).
                    let span = header.payload_len.min(4096);
                    if span > 0 {
                        let flips: Vec<(u64, u8)> = (0..bits)
                            .map(|_| (self.rng.below(span), 1u8 << self.rng.below(8)))
                            .collect();
                        let at: Vec<String> = flips
                            .iter()
                            .map(|(o, m)| format!("byte {o} bit {}", m.trailing_zeros()))
                            .collect();
                        self.note("corrupt", format!("message {n}: flipped {}", at.join(", ")));
                        return Fate::Flip(flips);
                    }
                }
                if hold {
                    return Fate::Hold;
                }
                Fate::Pass
            }
            _ => Fate::Pass,
        }
    }

    /// A held message is whole: whether a match= drops it.
    pub fn judge_held(&mut self, payload: &[u8]) -> bool {
        let text = String::from_utf8_lossy(payload);
        let n = self.messages;
        let matched = self.list.iter().find_map(|f| match &f.kind {
            FaultKind::Drop {
                pattern: Some(re), ..
            } if re.is_match(&text) => Some(re.as_str().to_string()),
            _ => None,
        });
        match matched {
            Some(re) => {
                self.note("drop", format!("message {n} dropped (matched /{re}/)"));
                true
            }
            None => false,
        }
    }

    /// How long this direction's data waits before it goes on: the sum of
    /// its delays, each with its jitter drawn.
    pub fn delay(&mut self) -> Duration {
        let mut total = Duration::ZERO;
        for i in 0..self.list.len() {
            if let FaultKind::Delay { ms, jitter } = self.list[i].kind {
                let j = jitter.as_secs_f64();
                let offset = if j > 0.0 {
                    (self.rng.unit() * 2.0 - 1.0) * j
                } else {
                    0.0
                };
                total += Duration::from_secs_f64((ms.as_secs_f64() + offset).max(0.0));
            }
        }
        total
    }

    pub fn delays(&self) -> bool {
        self.list
            .iter()
            .any(|f| matches!(f.kind, FaultKind::Delay { .. }))
    }

    /// Bytes per second this direction may carry.
    pub fn rate(&self) -> Option<u64> {
        self.list.iter().find_map(|f| match f.kind {
            FaultKind::Throttle { rate } => Some(rate),
            _ => None,
        })
    }

    /// The hold windows, from the connection's start.
    pub fn holds(&self) -> Vec<(Duration, Duration)> {
        self.list
            .iter()
            .filter_map(|f| match f.kind {
                FaultKind::Hold { length, after } => Some((after, after + length)),
                _ => None,
            })
            .collect()
    }

    /// The close or reset this direction's faults ask for once its
    /// message count reaches `after`.
    pub fn endings(&self) -> Vec<&Fault> {
        self.list
            .iter()
            .filter(|f| matches!(f.kind, FaultKind::Close { .. } | FaultKind::Reset { .. }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_in_the_help_parse() {
        let f = parse("delay:down,ms=300").unwrap();
        assert_eq!(f.ways, [false, true]);
        assert!(matches!(f.kind, FaultKind::Delay { ms, .. } if ms == Duration::from_millis(300)));
        let f = parse("drop:up,every=2").unwrap();
        assert_eq!(f.ways, [true, false]);
        assert!(matches!(f.kind, FaultKind::Drop { every: Some(2), .. }));
        let f = parse("close:down,code=1012,after=1s").unwrap();
        assert!(matches!(
            f.kind,
            FaultKind::Close { code: 1012, after: After::Time(d), .. } if d == Duration::from_secs(1)
        ));
        let f = parse("close,after=3").unwrap();
        assert!(matches!(
            f.kind,
            FaultKind::Close {
                after: After::Messages(3),
                ..
            }
        ));
        assert_eq!(f.ways, [false, true]);
        assert!(parse("stall:up,of=pong").is_ok());
        assert!(parse("throttle:down,rate=1000").is_ok());
        assert!(parse("hold:up,ms=500,after=1s").is_ok());
        assert!(parse("corrupt:down,every=3,bits=2").is_ok());
        assert!(parse("reset:up,after=500ms").is_ok());
    }

    #[test]
    fn bad_faults_say_what_is_wrong() {
        let err = |s| parse(s).unwrap_err();
        assert!(err("lag").contains("unknown fault kind 'lag'"));
        assert!(err("delay:sideways,ms=1").contains("'sideways' is not a direction"));
        assert!(err("delay").contains("delay needs ms="));
        assert!(err("drop:up").contains("drop needs every=N"));
        assert!(err("drop,every=0").contains("'0' is not a whole number"));
        assert!(err("drop,p=2").contains("probability"));
        assert!(err("drop,match=(").contains("match:"));
        assert!(err("close,code=1005").contains("cannot be sent"));
        assert!(err("close,after=soon").contains("after: 'soon'"));
        assert!(err("delay,ms=1,speed=2").contains("delay takes no 'speed'"));
        assert!(err("stall,of=close").contains("not ping or pong"));
        assert!(err("hold,ms=5,x").contains("'x' is not key=value"));
    }

    fn header(opcode: u8, len: u64) -> FrameHeader {
        let mut bytes = vec![0x80 | opcode, len as u8];
        bytes.resize(2 + len as usize, 0);
        FrameHeader::parse(&bytes).unwrap()
    }

    #[test]
    fn drop_every_second_message_and_stall_pongs() {
        let all = [
            parse("drop:up,every=2").unwrap(),
            parse("stall:up,of=pong").unwrap(),
        ];
        let now = Instant::now();
        let mut up = Faults::new(Way::Up, &all, 1, now);
        let fates: Vec<Fate> = (0..4).map(|_| up.fate(&header(1, 3), true, now)).collect();
        assert_eq!(fates, [Fate::Pass, Fate::Drop, Fate::Pass, Fate::Drop]);
        assert_eq!(up.fate(&header(0xA, 0), false, now), Fate::Drop);
        assert_eq!(up.fate(&header(0x9, 0), false, now), Fate::Pass);
        assert_eq!(up.applied.len(), 3);
        // The other direction is untouched.
        let mut down = Faults::new(Way::Down, &all, 1, now);
        assert!((0..4).all(|_| down.fate(&header(1, 3), true, now) == Fate::Pass));
    }

    #[test]
    fn random_faults_repeat_with_the_same_seed() {
        let all = [parse("drop,p=0.5").unwrap()];
        let now = Instant::now();
        let run = |seed| {
            let mut f = Faults::new(Way::Up, &all, seed, now);
            (0..32)
                .map(|_| f.fate(&header(1, 1), true, now) == Fate::Drop)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let dropped = run(7).iter().filter(|d| **d).count();
        assert!((4..=28).contains(&dropped), "{dropped}");
    }

    #[test]
    fn a_matching_message_is_held_then_dropped() {
        let all = [parse("drop:down,match=^secret").unwrap()];
        let now = Instant::now();
        let mut down = Faults::new(Way::Down, &all, 1, now);
        assert_eq!(down.fate(&header(1, 6), true, now), Fate::Hold);
        assert!(down.judge_held(b"secret"));
        assert_eq!(down.fate(&header(1, 6), true, now), Fate::Hold);
        assert!(!down.judge_held(b"public"));
    }
}
