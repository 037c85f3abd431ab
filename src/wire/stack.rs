//! The stack under tungstenite: transport, then the tap (which sees every
//! byte, handshake included), then the extension layer (permessage-deflate,
//! when negotiated), rewriting frames between the wire and tungstenite.
//! tungstenite reads and writes this; wscope looks at the tap.

use std::io::{self, Read, Write};

use super::deflate::DeflateLayer;
use super::tap::Tap;
use super::violation::Violation;
use crate::net::connect::Transport;

/// How many compressed bytes may wait for the socket before writes push
/// back on tungstenite.
const DOWN_HIGH: usize = 256 * 1024;

pub struct Stack {
    tap: Tap<Transport>,
    deflate: Option<Extension>,
}

/// The extension layer and its buffers.
struct Extension {
    layer: DeflateLayer,
    /// Inflated frames not yet read by tungstenite.
    up: Vec<u8>,
    up_read: usize,
    /// Compressed frames not yet taken by the socket.
    down: Vec<u8>,
    down_written: usize,
    wire: Vec<u8>,
    /// The layer's refusal, returned once what came before it is read.
    refused: Option<Violation>,
}

impl Stack {
    pub fn new(tap: Tap<Transport>, deflate: Option<DeflateLayer>) -> Stack {
        Stack {
            tap,
            deflate: deflate.map(|layer| Extension {
                layer,
                up: Vec::new(),
                up_read: 0,
                down: Vec::new(),
                down_written: 0,
                wire: vec![0; 64 * 1024],
                refused: None,
            }),
        }
    }

    pub fn tap(&self) -> &Tap<Transport> {
        &self.tap
    }

    pub fn tap_mut(&mut self) -> &mut Tap<Transport> {
        &mut self.tap
    }

    /// A hand-made frame's payload compressed by the session's compressor,
    /// or `None` when nothing was negotiated.
    pub fn compress_payload(&mut self, payload: &[u8], fin: bool) -> Option<Vec<u8>> {
        let ext = self.deflate.as_mut()?;
        Some(ext.layer.compress_payload(payload, fin))
    }

    /// Writes compressed bytes waiting for the socket; `WouldBlock` if some
    /// remain.
    fn drain_down(&mut self) -> io::Result<()> {
        let Some(ext) = &mut self.deflate else {
            return Ok(());
        };
        while ext.down_written < ext.down.len() {
            let n = self.tap.write(&ext.down[ext.down_written..])?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            ext.down_written += n;
        }
        ext.down.clear();
        ext.down_written = 0;
        Ok(())
    }
}

impl Read for Stack {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(ext) = &mut self.deflate else {
            return self.tap.read(buf);
        };
        loop {
            if ext.up_read < ext.up.len() {
                let n = (ext.up.len() - ext.up_read).min(buf.len());
                buf[..n].copy_from_slice(&ext.up[ext.up_read..ext.up_read + n]);
                ext.up_read += n;
                return Ok(n);
            }
            ext.up.clear();
            ext.up_read = 0;
            if let Some(refused) = &ext.refused {
                return Err(refused.clone().into_io());
            }
            let n = self.tap.read(&mut ext.wire)?;
            if n == 0 {
                return Ok(0);
            }
            if let Err(refused) = ext.layer.incoming(&ext.wire[..n], &mut ext.up) {
                ext.refused = Some(refused);
            }
        }
    }
}

impl Write for Stack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.deflate.is_none() {
            return self.tap.write(buf);
        }
        match self.drain_down() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if self
                    .deflate
                    .as_ref()
                    .is_some_and(|x| x.down.len() >= DOWN_HIGH)
                {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        if let Some(ext) = &mut self.deflate {
            ext.layer.outgoing(buf, &mut ext.down);
        }
        match self.drain_down() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain_down()?;
        self.tap.flush()
    }
}

/// Raw writes go through the tap, so that they are shown and recorded like
/// any others; a half-close ends TLS first, and a reset makes the socket's
/// close send RST.
impl super::raw::RawSink for Tap<Transport> {
    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        Tap::write_raw(self, bytes)
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        Tap::flush_raw(self)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        if let Transport::Tls(tls) = self.get_mut() {
            tls.close_notify();
        }
        self.get_ref().socket().shutdown(std::net::Shutdown::Write)
    }

    fn reset(&mut self) -> io::Result<()> {
        self.get_ref().socket().reset_on_close()
    }
}
