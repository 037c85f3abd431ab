//! Everything about bytes on the wire after the opening handshake: the
//! frame codec, the incremental decoder, the tap that sees every byte, the
//! header guard, and what a broken rule means.

pub mod close_code;
pub mod decode;
pub mod deflate;
pub mod frame;
pub mod guard;
pub mod raw;
pub mod stack;
pub mod tap;
pub mod utf8;
pub mod violation;

/// Which way bytes crossed, from wscope's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::In => "in",
            Dir::Out => "out",
        }
    }
}

/// Which end of the connection wscope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }

    /// The other end.
    pub fn other(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// What the other end is, for messages.
    pub fn peer(self) -> &'static str {
        match self {
            Role::Client => "server",
            Role::Server => "client",
        }
    }
}
