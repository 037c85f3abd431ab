//! What a conformance case is: what it sends, step by step, what it
//! expects back, and how it expects the connection to close. The facts are
//! the Autobahn testsuite's (its ids, payloads, waits and expected events);
//! the code that runs and judges them is in `engine.rs` and `judge.rs`.

/// How the events received compare with the case's expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Behavior {
    Ok,
    NonStrict,
    Informational,
    Unimplemented,
    Failed,
}

impl Behavior {
    /// The suite's own word for it, as in its reports.
    pub fn name(self) -> &'static str {
        match self {
            Behavior::Ok => "OK",
            Behavior::NonStrict => "NON-STRICT",
            Behavior::Informational => "INFORMATIONAL",
            Behavior::Unimplemented => "UNIMPLEMENTED",
            Behavior::Failed => "FAILED",
        }
    }
}

/// How the connection ended, judged against the case's expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseBehavior {
    Ok,
    Unclean,
    WrongCode,
    Failed,
    FailedByClient,
    Informational,
    Unimplemented,
}

impl CloseBehavior {
    pub fn name(self) -> &'static str {
        match self {
            CloseBehavior::Ok => "OK",
            CloseBehavior::Unclean => "UNCLEAN",
            CloseBehavior::WrongCode => "WRONG CODE",
            CloseBehavior::Failed => "FAILED",
            CloseBehavior::FailedByClient => "FAILED BY CLIENT",
            CloseBehavior::Informational => "INFORMATIONAL",
            CloseBehavior::Unimplemented => "UNIMPLEMENTED",
        }
    }
}

/// Something that arrived (or a wait that ran out) and counts for the
/// verdict. Pings are answered, not counted, as in the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message {
        binary: bool,
        payload: Vec<u8>,
    },
    Pong(Vec<u8>),
    /// A `Step::Later` wait ran out with the connection still open.
    Timeout(&'static str),
}

impl Event {
    pub fn text(payload: impl Into<Vec<u8>>) -> Event {
        Event::Message {
            binary: false,
            payload: payload.into(),
        }
    }

    pub fn binary(payload: impl Into<Vec<u8>>) -> Event {
        Event::Message {
            binary: true,
            payload: payload.into(),
        }
    }

    pub fn pong(payload: impl Into<Vec<u8>>) -> Event {
        Event::Pong(payload.into())
    }
}

/// A frame the case writes, any header it likes (always masked, as a
/// client must, unless `unmasked`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub opcode: u8,
    pub fin: bool,
    /// RSV1..3 as the header's three bits (4 = RSV1, 2 = RSV2, 1 = RSV3).
    pub rsv: u8,
    pub payload: Vec<u8>,
    /// The payload repeated up to this length (the suite's `payload_len`).
    pub repeat_to: Option<usize>,
    /// The frame's bytes written this many at a time, each write flushed
    /// on its own (the suite's `chopsize`).
    pub chop: Option<usize>,
    /// Written and flushed on its own before the next step (`sync`).
    pub sync: bool,
}

impl Frame {
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            opcode,
            fin: true,
            rsv: 0,
            payload: payload.into(),
            repeat_to: None,
            chop: None,
            sync: false,
        }
    }
    pub fn text(payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(1, payload)
    }
    pub fn binary(payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(2, payload)
    }
    pub fn fin(mut self, fin: bool) -> Frame {
        self.fin = fin;
        self
    }
    pub fn rsv(mut self, rsv: u8) -> Frame {
        self.rsv = rsv;
        self
    }
    pub fn repeat_to(mut self, len: usize) -> Frame {
        self.repeat_to = Some(len);
        self
    }
    pub fn chop(mut self, size: usize) -> Frame {
        self.chop = Some(size);
        self
    }
    pub fn sync(mut self) -> Frame {
        self.sync = true;
        self
    }

    /// The payload as it goes out (repeated to `repeat_to`).
    pub fn full_payload(&self) -> Vec<u8> {
        match self.repeat_to {
            Some(len) if !self.payload.is_empty() => {
                self.payload.iter().copied().cycle().take(len).collect()
            }
            Some(len) => vec![0; len],
            None => self.payload.clone(),
        }
    }
}

/// One message echoed `count` times in a row, each sent when the last
/// echo came back (category 9): what the suite measures for speed.
#[derive(Debug, Clone, PartialEq)]
pub struct Echoes {
    pub binary: bool,
    pub size: usize,
    /// Repeated to `size`.
    pub fill: Vec<u8>,
    pub count: usize,
    /// Sent as fragments of this size (a message), not one frame.
    pub fragment: Option<usize>,
    /// Each frame written this many bytes at a time.
    pub chop: Option<usize>,
    /// The case fails when the echoes are not back within this many
    /// seconds (the suite then starts the closing handshake).
    pub within_secs: f64,
}

/// What a case does, in order. A `Later` splits the steps: those after it
/// run when its wait is over, and only while the connection is open.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Frame(Frame),
    /// A whole message, in fragments of `fragment` bytes when given
    /// (the suite's `sendMessage`).
    Message {
        binary: bool,
        payload: Vec<u8>,
        fragment: Option<usize>,
    },
    /// Starts the closing handshake: a Close frame with this code and
    /// reason (either may be absent, and either may be invalid: the
    /// suite's `sendCloseFrame`). Nothing else is sent after it.
    Close {
        code: Option<u16>,
        reason: Vec<u8>,
    },
    /// Wait this long; then, if the connection is still open, record
    /// `Event::Timeout(tag)` (nothing when the tag is empty: a pause) and
    /// go on with the next steps.
    Later {
        secs: f64,
        tag: &'static str,
    },
    /// Fail the connection (Close 1001, then drop) if it is not closed
    /// this many seconds from now (the suite's `killAfter`).
    KillAfter(f64),
    /// Start the closing handshake (Close without a code) if the
    /// connection is still open this many seconds from now (`closeAfter`).
    CloseAfter(f64),
    /// Category 9's echo runs; the case is judged by them, not by
    /// `expected`.
    Echoes(Echoes),
    /// Bytes as they are (already masked): a frame cut where a case
    /// wants to pause in it.
    Raw(Vec<u8>),
}

/// What the server answered to a hand-made opening request.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// `None`: no HTTP answer at all (the connection closed or timed out).
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// For a 101: what is wrong with it, checked as a client checks it.
    pub problem: Option<String>,
    /// For a 101: whether permessage-deflate was agreed.
    pub deflate: bool,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An opening-handshake case: the request is wscope's usual one, changed
/// by `shape` (which gets the request's text and returns what is sent);
/// `judge` gives the verdict on the answer.
#[derive(Debug, Clone)]
pub struct HandshakeCheck {
    /// Extra headers for the usual request (offers).
    pub headers: Vec<(&'static str, &'static str)>,
    pub shape: fn(String) -> String,
    pub judge: fn(&Answer) -> (Behavior, String),
}

/// How the case expects the connection to end (the suite's
/// `expectedClose`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedClose {
    /// We (the tester) send the first Close; otherwise the server must.
    pub closed_by_me: bool,
    /// The close codes accepted from the server (none at all is accepted
    /// too). The first is the code we send when we close.
    pub codes: Vec<u16>,
    /// The closing handshake must complete and the server drop TCP.
    pub require_clean: bool,
    /// When the wrong side closes, the case fails (the server did not
    /// see the invalid UTF-8 at all).
    pub wrong_endpoint_fatal: bool,
}

impl ExpectedClose {
    /// We close, the server answers; nothing is wrong.
    pub fn by_me(codes: &[u16]) -> ExpectedClose {
        ExpectedClose {
            closed_by_me: true,
            codes: codes.to_vec(),
            require_clean: true,
            wrong_endpoint_fatal: false,
        }
    }
    /// The server must fail the connection, with one of these codes.
    pub fn by_peer(codes: &[u16]) -> ExpectedClose {
        ExpectedClose {
            closed_by_me: false,
            codes: codes.to_vec(),
            require_clean: false,
            wrong_endpoint_fatal: false,
        }
    }
    pub fn clean(mut self, clean: bool) -> ExpectedClose {
        self.require_clean = clean;
        self
    }
    pub fn wrong_endpoint_fatal(mut self) -> ExpectedClose {
        self.wrong_endpoint_fatal = true;
        self
    }
}

/// A permessage-deflate offer a case makes (categories 12 and 13).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeflateOffer {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (`Some(None)`: offered without a value).
    pub client_max_window_bits: Option<Option<u8>>,
}

/// Generated data that the compression cases (categories 12 and 13) send
/// in slices, one per message: each kind compresses like the suite's file
/// of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corpus {
    /// JSON records (text).
    Json,
    /// A 512x512 black-and-white bitmap (binary).
    Bitmap,
    /// German prose, sent as binary as the suite does.
    Prose,
    /// An HTML page (text).
    Html,
    /// Compressed streams, as a PDF holds (binary, barely compressible).
    Pdf,
}

/// One case, as the suite defines it.
#[derive(Debug, Clone)]
pub struct Case {
    /// The suite's id: "6.4.1".
    pub id: String,
    pub description: String,
    pub expectation: String,
    /// The RFC section the case is about, shown when it fails.
    pub rfc: &'static str,
    pub steps: Vec<Step>,
    /// Each behaviour with the events that earn it, tried in order.
    pub expected: Vec<(Behavior, Vec<Event>)>,
    pub close: ExpectedClose,
    /// A WRONG CODE close fails the case's behaviour too (category 7).
    pub wrong_code_fails: bool,
    /// Whatever happens, the verdict is INFORMATIONAL (7.1.6, 7.13.x).
    pub informational: bool,
    /// No Close is sent when the events match (the suite's
    /// `suppressClose`): the case sends its own.
    pub suppress_close: bool,
    /// Offers sent in the opening handshake, in order; a server that
    /// accepts none of them makes the case UNIMPLEMENTED.
    pub deflate: Vec<DeflateOffer>,
    /// The case is about speed (category 9): it runs alone, so that its
    /// duration is its own.
    pub timed: bool,
    /// The echo run sends slices of this instead of its `fill`.
    pub corpus: Option<Corpus>,
    /// An opening-handshake case: no frames, only a request and its answer.
    pub handshake: Option<HandshakeCheck>,
}

impl Case {
    pub fn new(id: impl Into<String>, description: impl Into<String>, rfc: &'static str) -> Case {
        Case {
            id: id.into(),
            description: description.into(),
            expectation: String::new(),
            rfc,
            steps: Vec::new(),
            expected: Vec::new(),
            close: ExpectedClose::by_me(&[1000]),
            wrong_code_fails: false,
            informational: false,
            suppress_close: false,
            deflate: Vec::new(),
            timed: false,
            corpus: None,
            handshake: None,
        }
    }
    pub fn expectation(mut self, text: impl Into<String>) -> Case {
        self.expectation = text.into();
        self
    }
    pub fn step(mut self, step: Step) -> Case {
        self.steps.push(step);
        self
    }
    pub fn send(self, frame: Frame) -> Case {
        self.step(Step::Frame(frame))
    }
    pub fn later(self, secs: f64, tag: &'static str) -> Case {
        self.step(Step::Later { secs, tag })
    }
    /// A wait that records nothing (the suite's untagged `continueLater`).
    pub fn pause(self, secs: f64) -> Case {
        self.later(secs, "")
    }
    pub fn kill_after(self, secs: f64) -> Case {
        self.step(Step::KillAfter(secs))
    }
    pub fn expect(mut self, behavior: Behavior, events: Vec<Event>) -> Case {
        self.expected.push((behavior, events));
        self
    }
    pub fn close(mut self, close: ExpectedClose) -> Case {
        self.close = close;
        self
    }
    pub fn wrong_code_fails(mut self) -> Case {
        self.wrong_code_fails = true;
        self
    }
    pub fn suppress_close(mut self) -> Case {
        self.suppress_close = true;
        self
    }
    pub fn informational(mut self) -> Case {
        self.informational = true;
        self
    }
    pub fn timed(mut self) -> Case {
        self.timed = true;
        self
    }
    /// The category: "6" for "6.4.1".
    pub fn category(&self) -> &str {
        self.id.split('.').next().unwrap_or("")
    }
}
