//! Getting there: an HTTP CONNECT proxy and a SOCKS5 proxy written for
//! these tests (they record what they were asked), the proxy environment
//! variables, -4/-6, and redirects.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use crate::common::{wscope, wscope_with_env, EchoServer};

/// Copies bytes both ways until either side ends.
fn splice(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut b2);
        let _ = b2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a2);
    let _ = a2.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// An HTTP CONNECT proxy for one connection. It answers 407 unless the
/// request carries `want_auth` (when given), and reports the request head.
fn connect_proxy(want_auth: Option<&'static str>) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        tx.send(head.clone()).unwrap();
        let mut client = client;
        if let Some(auth) = want_auth {
            if !head.contains(&format!("Proxy-Authorization: {auth}\r\n")) {
                let _ = client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
                return;
            }
        }
        let authority = head.split_whitespace().nth(1).unwrap().to_string();
        let server = TcpStream::connect(authority).unwrap();
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        splice(client, server);
    });
    (port, rx)
}

/// A SOCKS5 proxy for one connection (no authentication); reports the
/// address type and address it was asked for.
fn socks5_proxy() -> (u16, mpsc::Receiver<(u8, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut greeting = [0u8; 2];
        client.read_exact(&mut greeting).unwrap();
        let mut methods = vec![0u8; greeting[1] as usize];
        client.read_exact(&mut methods).unwrap();
        client.write_all(&[5, 0]).unwrap();
        let mut req = [0u8; 4];
        client.read_exact(&mut req).unwrap();
        let host = match req[3] {
            1 => {
                let mut ip = [0u8; 4];
                client.read_exact(&mut ip).unwrap();
                std::net::Ipv4Addr::from(ip).to_string()
            }
            3 => {
                let mut len = [0u8; 1];
                client.read_exact(&mut len).unwrap();
                let mut name = vec![0u8; len[0] as usize];
                client.read_exact(&mut name).unwrap();
                String::from_utf8(name).unwrap()
            }
            other => panic!("unexpected address type {other}"),
        };
        let mut port = [0u8; 2];
        client.read_exact(&mut port).unwrap();
        let port = u16::from_be_bytes(port);
        tx.send((req[3], host.clone())).unwrap();
        let server = TcpStream::connect((host.as_str(), port)).unwrap();
        client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).unwrap();
        splice(client, server);
    });
    (port, rx)
}

#[test]
fn an_http_connect_proxy_with_credentials_carries_the_session() {
    let server = EchoServer::start();
    let (proxy_port, seen) = connect_proxy(Some("Basic dTpwQHNz"));
    let proxy = format!("http://u:p%40ss@127.0.0.1:{proxy_port}");
    let out = wscope(&[
        "--json",
        "-x",
        "through",
        "--proxy",
        &proxy,
        &server.url("/"),
    ]);
    out.assert_code(0);
    let head = seen.recv().unwrap();
    assert!(
        head.starts_with(&format!("CONNECT 127.0.0.1:{} HTTP/1.1\r\n", server.port())),
        "{head}"
    );
    let connect = out.single("connect");
    assert_eq!(connect["addr"], format!("127.0.0.1:{proxy_port}"));
    assert!(
        connect["via"].as_str().unwrap().contains("HTTP CONNECT"),
        "{connect}"
    );
    let echoed: Vec<String> = out
        .events_named("message")
        .iter()
        .filter(|m| m["dir"] == "in")
        .map(|m| m["data"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(echoed, ["through"]);
}

#[test]
fn a_proxy_that_refuses_is_a_connect_failure_naming_its_answer() {
    let server = EchoServer::start();
    let (proxy_port, _seen) = connect_proxy(Some("Basic secret"));
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let out = wscope(&["--json", "--proxy", &proxy, &server.url("/")]);
    out.assert_code(1);
    let error = out.single("error");
    assert_eq!(error["stage"], "connect");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("407"), "{error}");
    assert!(
        message.contains("http://USER:PASS@HOST:PORT"),
        "the fix: {error}"
    );
}

#[test]
fn socks5h_from_all_proxy_lets_the_proxy_resolve_the_name() {
    let server = EchoServer::start();
    let (proxy_port, seen) = socks5_proxy();
    let url = format!("ws://localhost:{}/", server.port());
    let proxy = format!("socks5h://127.0.0.1:{proxy_port}");
    let out = wscope_with_env(
        &["-4", "-n", "1", "-x", "socks", &url],
        &[("ALL_PROXY", &proxy)],
    );
    out.assert_code(0);
    assert_eq!(out.stdout, "socks\n");
    assert_eq!(seen.recv().unwrap(), (3, "localhost".to_string()));
}

#[test]
fn socks5_resolves_the_name_itself() {
    let server = EchoServer::start();
    let (proxy_port, seen) = socks5_proxy();
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let proxy = format!("socks5://127.0.0.1:{proxy_port}");
    let out = wscope(&["-n", "1", "-x", "socks", "--proxy", &proxy, &url]);
    out.assert_code(0);
    assert_eq!(seen.recv().unwrap(), (1, "127.0.0.1".to_string()));
}

#[test]
fn no_proxy_and_an_empty_proxy_flag_bypass_the_environment() {
    let server = EchoServer::start();
    // Nothing listens on port 1: using this proxy would fail.
    let dead = "http://127.0.0.1:1";
    let out = wscope_with_env(
        &["-n", "1", "-x", "direct", &server.url("/")],
        &[("HTTP_PROXY", dead), ("NO_PROXY", "example.test,127.0.0.1")],
    );
    out.assert_code(0);
    let out = wscope_with_env(
        &["-n", "1", "-x", "direct", "--proxy", "", &server.url("/")],
        &[("HTTP_PROXY", dead)],
    );
    out.assert_code(0);
    let out = wscope_with_env(&["--json", &server.url("/")], &[("HTTP_PROXY", dead)]);
    out.assert_code(1);
    assert!(out.single("error")["message"]
        .as_str()
        .unwrap()
        .contains("HTTP_PROXY"));
}

#[test]
fn ip_version_flags_choose_the_address_family() {
    let server = EchoServer::start();
    let out = wscope(&["-6", &server.url("/")]);
    out.assert_code(1);
    assert!(out.stderr.contains("no IPv6 address"), "{}", out.stderr);
    let url = format!("ws://localhost:{}/", server.port());
    let out = wscope(&["--json", "-4", &url]);
    out.assert_code(0);
    assert_eq!(
        out.single("connect")["addr"],
        format!("127.0.0.1:{}", server.port())
    );
}

/// Answers every connection with a redirect to `location(n)`.
fn redirecting_server(status: u16, location: impl Fn(u16) -> String + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Moved\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
                location(port)
            );
        }
    });
    port
}

#[test]
fn location_follows_redirects_and_shows_each_hop() {
    let server = EchoServer::start();
    let echo_port = server.port();
    let port = redirecting_server(301, move |_| format!("http://127.0.0.1:{echo_port}/new"));
    let url = format!("ws://127.0.0.1:{port}/old");
    let out = wscope(&["--json", "-L", "-n", "1", "-x", "moved", &url]);
    out.assert_code(0);
    let statuses: Vec<u64> = out
        .events_named("response")
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [301, 101]);
    assert_eq!(out.events_named("connect").len(), 2);
    assert!(out.events_named("notice")[0]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("ws://127.0.0.1:{echo_port}/new")));
    assert_eq!(server.paths(), ["/new"]);

    let out = wscope(&["--json", &url]);
    out.assert_code(1);
    assert_eq!(out.single("response")["status"], 301);
    // Without -L the error says where it points and how to follow it.
    let message = out.single("error")["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("points to http://127.0.0.1:{echo_port}/new"))
            && message.contains("-L"),
        "{message}"
    );
}

#[test]
fn a_redirect_loop_stops_at_max_redirects() {
    let port = redirecting_server(302, |own| format!("ws://127.0.0.1:{own}/again"));
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&["--json", "-L", "--max-redirects", "2", &url]);
    out.assert_code(1);
    assert_eq!(out.events_named("response").len(), 3);
    assert!(out.single("error")["message"]
        .as_str()
        .unwrap()
        .contains("too many redirects"));
}
