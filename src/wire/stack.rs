//! The stack under tungstenite: transport, then the tap (which sees every
//! byte, handshake included), then the seam where an extension layer
//! (permessage-deflate) sits, rewriting frames between the wire and
//! tungstenite. tungstenite reads and writes this; wscope looks at the tap.

use std::io::{self, Read, Write};

use super::tap::Tap;
use crate::net::connect::Transport;

pub struct Stack {
    tap: Tap<Transport>,
}

impl Stack {
    pub fn new(tap: Tap<Transport>) -> Stack {
        Stack { tap }
    }

    pub fn tap(&self) -> &Tap<Transport> {
        &self.tap
    }

    pub fn tap_mut(&mut self) -> &mut Tap<Transport> {
        &mut self.tap
    }
}

impl Read for Stack {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tap.read(buf)
    }
}

impl Write for Stack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tap.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tap.flush()
    }
}
