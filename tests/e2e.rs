//! End-to-end tests: the real `wscope` binary against real peers over
//! loopback sockets. Assertions go through the `--json` output where they can.

mod common;

// The test peers themselves, checked against tungstenite as a client.
#[path = "e2e/harness.rs"]
mod harness;
// Echo, stdin input, payload mode, waiting and close codes (tungstenite peer).
#[path = "e2e/echo.rs"]
mod echo;
// Frame decoding: length encodings, preview cap, fragmentation (raw peer).
#[path = "e2e/decoding.rs"]
mod decoding;
// Protocol violations by the server: shown, then reported with exit 3.
#[path = "e2e/violations.rs"]
mod violations;
// Failed handshakes, refused connections and lost connections.
#[path = "e2e/failures.rs"]
mod failures;
// Bad command lines.
#[path = "e2e/usage.rs"]
mod usage;
// ws:// and wss:// against the Python `websockets` server.
#[path = "e2e/python.rs"]
mod python;
// The interactive prompt, driven in a pseudo-terminal.
#[path = "e2e/repl.rs"]
mod repl;
// Pipe mode: lossless through Node's ws, stop conditions, keepalive.
#[path = "e2e/pipe.rs"]
mod pipe;
// Request shaping: headers, Origin, subprotocols, Basic auth.
#[path = "e2e/options.rs"]
mod options;
// TLS options against an in-process rustls server.
#[path = "e2e/tls.rs"]
mod tls;
// Proxies (HTTP CONNECT, SOCKS5), the proxy environment, -4/-6, redirects.
#[path = "e2e/network.rs"]
mod network;
// Server mode: --listen with Node's ws as the client.
#[path = "e2e/listen.rs"]
mod listen;
// wss:// in server mode: --self-signed, --cert/--key, --client-ca.
#[path = "e2e/listen_tls.rs"]
mod listen_tls;
// WebSockets over Unix sockets: ws+unix:// clients and --listen unix:.
#[path = "e2e/unix.rs"]
mod unix;
// Faults: signals, a reader that goes away, trickling and flooding servers,
// impossible lengths, resets, unread output, TLS without close_notify.
#[path = "e2e/faults.rs"]
mod faults;
// The Autobahn testsuite's client-relevant cases, played by raw sockets.
#[path = "e2e/hostile.rs"]
mod hostile;
// Frames matched to messages: seq, part and frames agree, times follow the wire.
#[path = "e2e/pairing.rs"]
mod pairing;
// The header guard: a bad frame is refused at its header, before its payload.
#[path = "e2e/guard.rs"]
mod guard;
// The wire tap's raw chunks are every byte that crossed, both roles.
#[path = "e2e/tap.rs"]
mod tap;
// Hostile peers: escaping, credentials on redirects, bounds, odd heads.
#[path = "e2e/security.rs"]
mod security;
// permessage-deflate against Python, Node and Chromium, and hostile peers.
#[path = "e2e/deflate.rs"]
mod deflate;
// Conversations: automatic replies (socket.io's heartbeat), reconnect.
#[path = "e2e/conversation.rs"]
mod conversation;
// The human view's filters, JSON styles and time formats; pairing by id.
#[path = "e2e/views.rs"]
mod views;
// Recording and replaying: --log tapes, --replay, HAR and pcap.
#[path = "e2e/record.rs"]
mod record;
// Several clients of one listener at once, and a listener that keeps serving.
#[path = "e2e/clients.rs"]
mod clients;
// The raw wire writer: length encodings, lying lengths, split writes.
#[path = "e2e/raw_writer.rs"]
mod raw_writer;
// Invalid UTF-8 fails the connection at the first bad byte, in both roles.
#[path = "e2e/fail_fast.rs"]
mod fail_fast;
// wscope check: the conformance battery against naive, hostile and real
// servers.
#[path = "e2e/check.rs"]
mod check;
// wscope proxy: both legs of real clients and servers, and its faults.
#[path = "e2e/proxy.rs"]
mod proxy;
// wscope check --listen: client harnesses, a browser and a naive client.
#[path = "e2e/check_listen.rs"]
mod check_listen;
