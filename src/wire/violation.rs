//! What tungstenite's errors mean to someone debugging a server: the rule
//! that was broken, with its RFC 6455 section, and the close code a client
//! sends when it fails the connection for it (RFC 6455 §7.4.1).

use std::io;

use tungstenite::error::{CapacityError, Error as WsError, ProtocolError};

use crate::error::{fail, Failure, Stage};

/// A failed connection: what to tell the user, and which close code (if
/// any) still makes sense to send.
#[derive(Debug, Clone)]
pub struct Violation {
    pub failure: Failure,
    pub close_code: Option<u16>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.failure.message)
    }
}

impl std::error::Error for Violation {}

impl Violation {
    /// A broken rule that fails the connection with `code`.
    pub fn protocol(message: String, code: u16) -> Violation {
        Violation {
            failure: fail(Stage::Protocol, message),
            close_code: Some(code),
        }
    }

    /// Carried through tungstenite as an I/O error from the tap.
    pub fn into_io(self) -> io::Error {
        io::Error::other(self)
    }

    /// The guard's violation, when an I/O error is one.
    pub fn from_io(e: &io::Error) -> Option<&Violation> {
        e.get_ref()?.downcast_ref::<Violation>()
    }
}

/// `mid_frame` says whether the peer's stream stopped inside a frame;
/// `peer` names it ("server", or "client" with --listen).
pub fn from_ws_error(e: WsError, mid_frame: bool, peer: &str) -> Violation {
    match e {
        WsError::Protocol(p) => from_protocol_error(p, mid_frame, peer),
        WsError::Utf8(detail) => protocol(
            format!("a text message is not valid UTF-8 ({detail}) (RFC 6455 §8.1)"),
            1007,
        ),
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => protocol(
            // tungstenite reports both limits alike, for either direction.
            format!(
                "a size of {size} bytes exceeds the limit of {max_size} bytes (--max-message-size raises it for a message, --max-frame-size for one frame)"
            ),
            1009,
        ),
        WsError::Capacity(c) => protocol(c.to_string(), 1009),
        WsError::Io(io) => match Violation::from_io(&io) {
            Some(refused) => refused.clone(),
            None => Violation {
                failure: io_failure(&io, peer),
                close_code: None,
            },
        },
        other => Violation {
            failure: fail(Stage::Io, other.to_string()),
            close_code: None,
        },
    }
}

fn protocol(message: String, code: u16) -> Violation {
    Violation::protocol(message, code)
}

fn from_protocol_error(p: ProtocolError, mid_frame: bool, peer: &str) -> Violation {
    use ProtocolError::*;
    let rule = match p {
        NonZeroReservedBits => {
            format!("the {peer} set RSV bits without a negotiated extension (RFC 6455 §5.2)")
        }
        MaskedFrameFromServer => {
            "the server sent a masked frame; server frames must not be masked (RFC 6455 §5.1)"
                .into()
        }
        UnmaskedFrameFromClient => {
            "the client sent an unmasked frame; client frames must be masked (RFC 6455 §5.1)".into()
        }
        FragmentedControlFrame => {
            format!("the {peer} sent a fragmented control frame; control frames must have FIN set (RFC 6455 §5.5)")
        }
        ControlFrameTooBig => {
            format!("the {peer} sent a control frame with a payload over 125 bytes (RFC 6455 §5.5)")
        }
        UnknownControlFrameType(op) | UnknownDataFrameType(op) | InvalidOpcode(op) => {
            let class = if op & 0x8 != 0 { "control" } else { "data" };
            format!("the {peer} sent reserved {class} opcode 0x{op:x} (RFC 6455 §5.2)")
        }
        UnexpectedContinueFrame => {
            format!(
                "the {peer} sent a continuation frame with no message to continue (RFC 6455 §5.4)"
            )
        }
        ExpectedFragment(_) => {
            format!("the {peer} started a new data message before finishing the fragmented one (RFC 6455 §5.4)")
        }
        InvalidCloseSequence => {
            format!("the {peer} sent a close frame with a one-byte payload (RFC 6455 §5.5.1)")
        }
        ReceivedAfterClosing => {
            format!("the {peer} sent a frame after its Close frame (RFC 6455 §5.5.1)")
        }
        ResetWithoutClosingHandshake => {
            let where_ = if mid_frame {
                " in the middle of a frame"
            } else {
                ""
            };
            return Violation {
                failure: fail(
                    Stage::Io,
                    format!(
                        "the {peer} closed the connection{where_} without a Close frame (abnormal closure 1006, RFC 6455 §7.1.5)"
                    ),
                ),
                close_code: None,
            };
        }
        other => format!("{other} (RFC 6455)"),
    };
    protocol(rule, 1002)
}

fn io_failure(e: &io::Error, peer: &str) -> Failure {
    let message = match e.kind() {
        io::ErrorKind::ConnectionReset => format!("the {peer} reset the connection"),
        io::ErrorKind::ConnectionAborted => "the connection was aborted".to_string(),
        io::ErrorKind::BrokenPipe => {
            format!("the {peer} closed the connection while we were writing")
        }
        _ => format!("connection lost: {e}"),
    };
    fail(Stage::Io, message)
}
