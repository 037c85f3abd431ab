//! Request shaping: headers, Origin, subprotocols, Basic auth and the
//! User-Agent reach a server that checks them, and show in the handshake.

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use crate::common::{wscope, NodeServer};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode};

/// A server that wants `Authorization: Basic ann:pw` (401 otherwise) and
/// `Origin: https://app.test` (403 otherwise), answers with `pick` as its
/// subprotocol, echoes one message, and reports the request headers it saw
/// in order.
// tungstenite's handshake callback fixes the (large) error type.
#[allow(clippy::result_large_err)]
fn checking_server(pick: Option<&'static str>) -> (u16, mpsc::Receiver<Vec<(String, String)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let check = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
            let seen: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            tx.send(seen).unwrap();
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
            let refuse = |status: StatusCode, why: &str| {
                let mut r = ErrorResponse::new(Some(why.to_string()));
                *r.status_mut() = status;
                Err(r)
            };
            if header("Authorization") != Some("Basic YW5uOnB3") {
                return refuse(StatusCode::UNAUTHORIZED, "who are you?");
            }
            if header("Origin") != Some("https://app.test") {
                return refuse(StatusCode::FORBIDDEN, "wrong origin");
            }
            if let Some(p) = pick {
                resp.headers_mut()
                    .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
            }
            Ok(resp)
        };
        if let Ok(mut ws) = tungstenite::accept_hdr(stream, check) {
            while let Ok(msg) = ws.read() {
                if msg.is_text() && ws.send(msg).is_err() {
                    break;
                }
            }
        }
    });
    (port, rx)
}

#[test]
fn request_options_reach_the_server_in_order_and_show_in_the_handshake() {
    let (port, seen) = checking_server(Some("v2"));
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&[
        "--json",
        "-x",
        "hi",
        "-H",
        "X-Trace: abc",
        "-H",
        "X-Other: 2",
        "-o",
        "https://app.test",
        "-s",
        "chat",
        "-s",
        "v2",
        "--auth",
        "ann:pw",
        "--user-agent",
        "probe/1",
        &url,
    ]);
    out.assert_code(0);
    let names: Vec<String> = seen.recv().unwrap().into_iter().map(|(n, _)| n).collect();
    let tail: Vec<&str> = names.iter().skip(5).map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "origin",
            "sec-websocket-protocol",
            "authorization",
            "user-agent",
            "x-trace",
            "x-other"
        ]
    );
    let raw = out.single("request")["raw"].as_str().unwrap().to_string();
    for line in [
        "Origin: https://app.test\r\n",
        "Sec-WebSocket-Protocol: chat, v2\r\n",
        "Authorization: Basic YW5uOnB3\r\n",
        "User-Agent: probe/1\r\n",
        "X-Trace: abc\r\n",
    ] {
        assert!(raw.contains(line), "{line:?} missing from {raw:?}");
    }
    assert_eq!(out.single("response")["subprotocol"], "v2");
}

#[test]
fn credentials_in_the_url_become_basic_auth() {
    let (port, seen) = checking_server(None);
    let url = format!("ws://ann:pw@127.0.0.1:{port}/");
    let out = wscope(&["--json", "-o", "https://app.test", &url]);
    out.assert_code(0);
    let headers = seen.recv().unwrap();
    assert!(headers.contains(&("authorization".into(), "Basic YW5uOnB3".into())));
}

#[test]
fn refused_credentials_show_the_401_and_never_open() {
    let (port, _seen) = checking_server(None);
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&[
        "--json",
        "-o",
        "https://app.test",
        "--auth",
        "ann:wrong",
        &url,
    ]);
    out.assert_code(1);
    let response = out.single("response");
    assert_eq!(response["status"], 401);
    assert!(response["body"].as_str().unwrap().contains("who are you?"));
    assert_eq!(out.single("error")["stage"], "handshake");
}

#[test]
fn a_subprotocol_that_was_not_offered_fails_the_handshake() {
    let (port, _seen) = checking_server(Some("nope"));
    let url = format!("ws://127.0.0.1:{port}/");
    let out = wscope(&[
        "-o",
        "https://app.test",
        "--auth",
        "ann:pw",
        "-s",
        "chat",
        &url,
    ]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("'nope', which was not offered (offered: chat)"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_request_options_are_usage_errors() {
    for (args, needle) in [
        (&["-H", "no colon"][..], "'Name: value'"),
        (&["-H", "Bad Name: x"], "not a valid header name"),
        (&["--auth", "nocolon"], "USER:PASS"),
        (&["-s", "a,b"], "not a subprotocol name"),
    ] {
        let mut all = args.to_vec();
        all.push("ws://127.0.0.1:1/");
        let out = wscope(&all);
        out.assert_code(2);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn node_ws_sees_the_shaped_request_and_picks_a_subprotocol() {
    let server = NodeServer::with_args(&["--report-headers", "--pick-protocol"]);
    let out = wscope(&[
        "--json",
        "-n",
        "1",
        "-s",
        "chat",
        "-s",
        "v2",
        "-H",
        "X-Trace: abc",
        "-o",
        "https://app.test",
        "--auth",
        "ann:pw",
        &server.url(),
    ]);
    out.assert_code(0);
    assert_eq!(out.single("response")["subprotocol"], "chat");
    let first = out
        .events_named("message")
        .into_iter()
        .find(|m| m["dir"] == "in")
        .expect("the server's report");
    let raw: Vec<String> = serde_json::from_str(first["data"].as_str().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = raw
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    for (name, value) in [
        ("Origin", "https://app.test"),
        ("Sec-WebSocket-Protocol", "chat, v2"),
        ("Authorization", "Basic YW5uOnB3"),
        ("X-Trace", "abc"),
    ] {
        assert!(
            pairs.contains(&(name.to_string(), value.to_string())),
            "{name}: {value} not seen by node: {pairs:?}"
        );
    }
}
