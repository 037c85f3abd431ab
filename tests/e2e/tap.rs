//! The wire tap sees every byte from connect on: the raw chunks it hands
//! to observers, concatenated per direction, are exactly what the peer
//! received and sent, opening handshake included, as a client and as a
//! server. The peer here is tungstenite over a stream that records every
//! byte it reads and writes.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread;

use clap::Parser;

use tungstenite::protocol::Role as WsRole;
use tungstenite::{Message, WebSocket};

use wscope::app::plan::{Mode, Plan};
use wscope::app::{accept, dialer};
use wscope::cli::Cli;
use wscope::net::listen::Door;
use wscope::observe::{Dir, Out};
use wscope::observe::{Event, Flow, Interest, Observer, Observers, Payload};
use wscope::wire::guard::Guard;
use wscope::wire::stack::Stack;
use wscope::wire::tap::Keep;

/// A stream that keeps a copy of every byte read from it and written to it.
struct Recording<S> {
    inner: S,
    read: Arc<Mutex<Vec<u8>>>,
    written: Arc<Mutex<Vec<u8>>>,
}

impl<S: Read> Read for Recording<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl<S: Write> Write for Recording<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Log = Arc<Mutex<Vec<u8>>>;

fn recording(stream: TcpStream) -> (Recording<TcpStream>, Log, Log) {
    let (read, written) = (Log::default(), Log::default());
    let stream = Recording {
        inner: stream,
        read: read.clone(),
        written: written.clone(),
    };
    (stream, read, written)
}

/// The peer's side: echoes text until the Close, and answers it.
fn echo_until_close<S: Read + Write>(ws: &mut WebSocket<S>) {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => ws.send(Message::Text(t)).unwrap(),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = ws.flush();
}

/// An observer that keeps the raw chunks, per direction.
#[derive(Clone, Default)]
struct Chunks(Rc<RefCell<[Vec<u8>; 2]>>);

impl Chunks {
    fn bytes(&self, dir: Dir) -> Vec<u8> {
        self.0.borrow()[dir as usize].clone()
    }
}

impl Observer for Chunks {
    fn event(&mut self, event: &Event) -> Flow {
        if let Event::Wire(chunk) = event {
            self.0.borrow_mut()[chunk.dir as usize].extend_from_slice(&chunk.bytes);
        }
        Flow::Go
    }
    fn flush(&mut self) -> Flow {
        Flow::Go
    }
    fn interest(&self) -> Interest {
        Interest {
            chunks: true,
            ..Interest::default()
        }
    }
}

fn observers(chunks: &Chunks) -> Observers {
    let obs = Observers::new(Box::new(Payload::new(Out::stdout(), false, false)));
    obs.add(Box::new(chunks.clone()));
    obs
}

const KEEP: Keep = Keep {
    preview: 16,
    frames: true,
    chunks: true,
};

const GUARD: Guard = Guard {
    serving: false,
    rsv1_allowed: false,
    max_frame: 1 << 20,
    max_message: 1 << 20,
};

/// One exchange over an open connection: a text out, its echo back, a
/// close handshake; then the chunks the tap still holds.
fn exchange(mut ws: WebSocket<Stack>, chunks: &Chunks) {
    ws.send(Message::text("over the tap")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("over the tap"));
    ws.close(None).unwrap();
    while !matches!(ws.read(), Err(_) | Ok(Message::Close(_))) {}
    let _ = ws.flush();
    for chunk in ws.get_mut().tap_mut().take_chunks() {
        chunks.0.borrow_mut()[chunk.dir as usize].extend_from_slice(&chunk.bytes);
    }
}

#[test]
fn as_a_client_the_chunks_are_every_byte_the_server_saw() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let (stream, read, written) = recording(stream);
        let mut ws = tungstenite::accept(stream).unwrap();
        echo_until_close(&mut ws);
        let bytes = |log: &Log| log.lock().unwrap().clone();
        (bytes(&read), bytes(&written))
    });

    let cli = Cli::try_parse_from(["wscope", &format!("ws://127.0.0.1:{port}/tap?x=1")]).unwrap();
    let plan = Plan::new(&cli).unwrap();
    let Mode::Connect { target, shaping } = &plan.mode else {
        panic!("a URL is connect mode")
    };
    let chunks = Chunks::default();
    let mut obs = observers(&chunks);
    let opened = dialer::open(
        &plan.dialer,
        &mut obs,
        (**target).clone(),
        shaping,
        KEEP,
        None,
    )
    .unwrap();
    let mut tap = opened.tap;
    tap.begin_frames(opened.response.leftover, GUARD);
    let ws = WebSocket::from_raw_socket(Stack::new(tap, None), WsRole::Client, None);
    exchange(ws, &chunks);

    let (server_read, server_written) = peer.join().unwrap();
    assert!(server_read.starts_with(b"GET /tap?x=1 HTTP/1.1\r\n"));
    assert_eq!(chunks.bytes(Dir::Out), server_read, "what we sent");
    assert_eq!(chunks.bytes(Dir::In), server_written, "what we received");
}

#[test]
fn as_a_server_the_chunks_are_every_byte_the_client_saw() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (stream, read, written) = recording(stream);
        let url = format!("ws://127.0.0.1:{port}/served");
        let (mut ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
        ws.send(Message::text("over the tap")).unwrap();
        echo_until_close(&mut ws);
        let bytes = |log: &Log| log.lock().unwrap().clone();
        (bytes(&read), bytes(&written))
    });

    let chunks = Chunks::default();
    let obs = observers(&chunks);
    let (_poll, waker) = wscope::session::driver::readiness().unwrap();
    let offer = accept::Offer {
        subprotocols: Vec::new(),
        deflate: false,
        keep: KEEP,
    };
    let acceptor =
        accept::Acceptor::start(Door::Tcp(listener), None, offer, 1, waker, None).unwrap();
    let served = match acceptor.rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok(accept::Arrival::Client(served)) => *served,
        Ok(accept::Arrival::Notice(notice)) => panic!("not served: {notice}"),
        Err(e) => panic!("no client came: {e}"),
    };
    let mut tap = served.tap;
    obs.wire_chunks(&mut tap);
    tap.begin_frames(
        served.accepted.leftover,
        Guard {
            serving: true,
            ..GUARD
        },
    );
    let ws = WebSocket::from_raw_socket(Stack::new(tap, None), WsRole::Server, None);
    exchange(ws, &chunks);

    let (client_read, client_written) = peer.join().unwrap();
    assert!(client_written.starts_with(b"GET /served HTTP/1.1\r\n"));
    assert_eq!(chunks.bytes(Dir::In), client_written, "what we received");
    assert_eq!(chunks.bytes(Dir::Out), client_read, "what we sent");
}
