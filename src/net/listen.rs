//! Where --listen waits for clients: a TCP port, or a Unix socket file
//! that is removed again when wscope ends.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::error::{fail, Failure, Stage};
use crate::socket::Socket;

/// Where --listen waits: a TCP port, or a Unix socket file that is
/// removed again when wscope ends.
pub enum Door {
    Tcp(TcpListener),
    Unix(UnixDoor),
}

pub struct UnixDoor {
    listener: UnixListener,
    path: PathBuf,
    file: Option<SocketFile>,
}

/// Removes the socket file when dropped.
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds a Unix socket at `path`. A stale socket file (nobody accepts on
/// it) is replaced; anything else at that path is left alone and refused.
pub fn bind_unix(path: &Path) -> Result<UnixDoor, Failure> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    crate::net::target::check_socket_path(path)
        .map_err(|why| fail(Stage::Usage, format!("--listen unix:{shown}: {why}")))?;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(fail(
                Stage::Usage,
                format!("--listen unix:{shown}: that path exists and is not a socket; choose another path"),
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(fail(
                Stage::Connect,
                format!("cannot listen on unix:{shown}: another program is serving on that socket"),
            ));
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|e| {
        fail(
            Stage::Connect,
            format!("cannot listen on unix:{shown}: {e}"),
        )
    })?;
    Ok(UnixDoor {
        listener,
        path: path.to_path_buf(),
        file: Some(SocketFile(path.to_path_buf())),
    })
}

impl Door {
    /// What removes the socket file at the end, for whoever outlives the
    /// door (the thread that accepts on it is never joined).
    pub fn take_socket_file(&mut self) -> Option<SocketFile> {
        match self {
            Door::Tcp(_) => None,
            Door::Unix(u) => u.file.take(),
        }
    }

    /// The socket file, when clients come over a Unix socket.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Door::Tcp(_) => None,
            Door::Unix(u) => Some(&u.path),
        }
    }

    pub fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Door::Tcp(l) => l.set_nonblocking(true),
            Door::Unix(u) => u.listener.set_nonblocking(true),
        }
    }

    /// The next client waiting, and who it is in words.
    pub fn accept(&self) -> std::io::Result<(Socket, String)> {
        match self {
            Door::Tcp(l) => {
                let (stream, peer) = l.accept()?;
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                Ok((Socket::Tcp(stream), peer.to_string()))
            }
            Door::Unix(u) => {
                let (stream, _) = u.listener.accept()?;
                let _ = stream.set_nonblocking(false);
                Ok((
                    Socket::Unix(stream),
                    format!("a client of unix:{}", u.path.display()),
                ))
            }
        }
    }

    /// What a client connects to, for the notices: ADDR:PORT or the path.
    pub fn local(&self) -> Result<String, Failure> {
        match self {
            Door::Tcp(l) => l
                .local_addr()
                .map(|a| a.to_string())
                .map_err(|e| fail(Stage::Connect, e.to_string())),
            Door::Unix(u) => Ok(format!("unix:{}", u.path.display())),
        }
    }

    /// The URL a client would use, for the notice that says where wscope
    /// listens.
    pub fn url(&self, tls: bool, local: &str) -> String {
        let scheme = if tls { "wss" } else { "ws" };
        match self {
            Door::Tcp(_) => format!("{scheme}://{local}/"),
            Door::Unix(u) => format!("{scheme}+unix://{}:/", u.path.display()),
        }
    }
}

impl AsRawFd for Door {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Door::Tcp(l) => l.as_raw_fd(),
            Door::Unix(u) => u.listener.as_raw_fd(),
        }
    }
}
