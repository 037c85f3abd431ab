//! `wscope check --listen`: the same battery for WebSocket clients. It
//! serves the control URLs of the suite's fuzzingserver, so that existing
//! client harnesses run unchanged: `/getCaseCount`, `/getCaseInfo?case=N`,
//! `/runCase?case=N&agent=A`, `/getCaseStatus?case=N&agent=A` and
//! `/updateReports?agent=A`, each a WebSocket. `http://HOST:PORT/` serves
//! a page that runs the cases with a browser's own `WebSocket`.
//!
//! Each connection is handled on a thread of its own; results go to the
//! caller's thread, which shows them and writes the reports.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::case::Case;
use super::engine;
use super::judge;
use super::run::Finished;
use crate::handshake::extensions::{self, Deflate};
use crate::http::head::read_head;
use crate::net::connect::Transport;
use crate::socket::Socket;

/// Connections handled at once (harnesses run one case at a time; a
/// browser a few).
const MAX_CONNECTIONS: usize = 64;

/// How long /updateReports waits for cases still being judged.
const REPORTS_WAIT: Duration = Duration::from_secs(30);

/// How long a client has to send its request.
const HEAD_WAIT: Duration = Duration::from_secs(10);

/// What the connection threads tell the caller.
pub enum Told {
    Finished(Box<Finished>),
    /// `/updateReports?agent=A` came.
    Reports(String),
    Notice(String),
}

/// The cases served, and each agent's verdicts so far (for
/// `/getCaseStatus`).
pub struct Served {
    pub cases: Vec<Arc<Case>>,
    status: Mutex<HashMap<(String, usize), &'static str>>,
    /// Finished results are numbered in the order they end.
    ended: Mutex<usize>,
    /// Connections being handled now.
    open: AtomicUsize,
    /// Cases running now: /updateReports waits for their results, which a
    /// harness asks for as soon as the last case's connection closes.
    running: AtomicUsize,
}

impl Served {
    pub fn new(cases: Vec<Case>) -> Served {
        Served {
            cases: cases.into_iter().map(Arc::new).collect(),
            status: Mutex::new(HashMap::new()),
            ended: Mutex::new(0),
            open: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        }
    }
}

/// Accepts clients until the process ends; each on a thread of its own.
pub fn accept(listener: TcpListener, served: Arc<Served>, tx: Sender<Told>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Connections past the bound are closed at once: a flood of them
        // costs no threads (each one is bounded in time as well).
        let taken = served
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONNECTIONS).then_some(n + 1)
            });
        if taken.is_err() {
            continue;
        }
        let counter = Arc::clone(&served);
        let (served, tx) = (Arc::clone(&served), tx.clone());
        let spawned = std::thread::Builder::new()
            .name("check-client".into())
            .spawn(move || {
                handle(Socket::Tcp(stream), &served, &tx);
                served.open.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            counter.open.fetch_sub(1, Ordering::AcqRel);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The query's value for `key`.
fn query<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    let (_, q) = target.split_once('?')?;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Percent-decoding for an agent name.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(mut sock: Socket, served: &Served, tx: &Sender<Told>) {
    let who = sock
        .peer_addr()
        .map_or_else(|| "?".to_string(), |a| a.to_string());
    let read = match read_head(&mut sock, Instant::now() + HEAD_WAIT) {
        Ok(read) => read,
        Err(unread) => {
            let _ = tx.send(Told::Notice(format!(
                "client {who}: no request ({})",
                unread.got_text()
            )));
            return;
        }
    };
    let head = String::from_utf8_lossy(&read.head).into_owned();
    let mut lines = head.lines();
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let path = target.split('?').next().unwrap_or("/").to_string();
    let upgrade = header("Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        let (status, kind, body) = if path == "/" {
            (
                "200 OK",
                "text/html; charset=utf-8",
                super::page::html(served.cases.len()),
            )
        } else {
            (
                "404 Not Found",
                "text/plain",
                "not a control URL: /getCaseCount, /getCaseInfo, /runCase, /getCaseStatus, /updateReports, or / for the browser page\n".to_string(),
            )
        };
        let _ = write!(
            sock,
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.shutdown(Shutdown::Write);
        return;
    }
    let key = header("Sec-WebSocket-Key").unwrap_or_default();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let case_no = query(&target, "case").and_then(|n| n.parse::<usize>().ok());
    let case_at = |n: Option<usize>| {
        n.filter(|n| (1..=served.cases.len()).contains(n))
            .map(|n| n - 1)
    };
    // A compression case answers the client's offer as the suite's
    // fuzzingserver does for that case.
    let agreed = match (path.as_str(), case_at(case_no)) {
        ("/runCase", Some(i)) if !served.cases[i].deflate.is_empty() => {
            let offers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
                .flat_map(|(_, v)| extensions::parse(v.trim()))
                .filter(|e| e.name.eq_ignore_ascii_case(extensions::PERMESSAGE_DEFLATE))
                .collect::<Vec<_>>();
            accept_deflate(&served.cases[i].deflate, &offers)
        }
        _ => None,
    };
    let extension = agreed.as_ref().map_or_else(String::new, |(_, text)| {
        format!("Sec-WebSocket-Extensions: {text}\r\n")
    });
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extension}\r\n"
    );
    if sock.write_all(response.as_bytes()).is_err() {
        return;
    }
    let agent = query(&target, "agent").map(decode);
    match path.as_str() {
        "/getCaseCount" => say_and_close(sock, &served.cases.len().to_string()),
        "/getCaseInfo" => match case_at(case_no) {
            Some(i) => {
                let c = &served.cases[i];
                let info = serde_json::json!({"id": c.id, "description": c.description});
                say_and_close(sock, &info.to_string());
            }
            None => close_with(sock, 1008, "no such case"),
        },
        "/getCaseStatus" => {
            let status = case_at(case_no).and_then(|i| {
                let agent = agent.clone().unwrap_or_default();
                served
                    .status
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&(agent, i))
                    .copied()
            });
            let text = serde_json::json!({"behavior": status.unwrap_or("UNKNOWN")}).to_string();
            say_and_close(sock, &text);
        }
        "/updateReports" => {
            close_with(sock, 1000, "");
            let until = Instant::now() + REPORTS_WAIT;
            while served.running.load(Ordering::Acquire) > 0 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = tx.send(Told::Reports(agent.unwrap_or_default()));
        }
        "/runCase" => {
            let Some(i) = case_at(case_no) else {
                return close_with(sock, 1008, "no such case");
            };
            let agent =
                agent.unwrap_or_else(|| header("User-Agent").unwrap_or_else(|| who.clone()));
            let case = Arc::clone(&served.cases[i]);
            served.running.fetch_add(1, Ordering::AcqRel);
            let started = SystemTime::now();
            let outcome = engine::run_served(
                &case,
                Transport::Plain(sock),
                read.leftover,
                head.clone(),
                response.clone(),
                agreed.map(|(d, _)| d),
            );
            let verdict = judge::judge(&case, &outcome);
            served
                .status
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((agent.clone(), i), verdict.behavior.name());
            let index = {
                let mut n = served.ended.lock().unwrap_or_else(|e| e.into_inner());
                *n += 1;
                *n
            };
            let _ = tx.send(Told::Finished(Box::new(Finished {
                index,
                case,
                outcome,
                verdict,
                started,
                agent: Some(agent),
            })));
            served.running.fetch_sub(1, Ordering::AcqRel);
        }
        _ => close_with(sock, 1008, "not a control URL"),
    }
}

/// What the server agrees to, as the suite's fuzzingserver does for a
/// compression case: the case's offers (made as a client) are, as the
/// server, what it asks of the client (`server_*` there is `client_*`
/// here), tried in order against each of the client's offers. What the
/// client asked of the server it gets. `None`: nothing agreed.
fn accept_deflate(
    tries: &[super::case::DeflateOffer],
    offers: &[extensions::Extension],
) -> Option<(Deflate, String)> {
    for want in tries {
        for offer in offers {
            let has = |name: &str| offer.params.iter().find(|(k, _)| k == name);
            let accepts_bits = has("client_max_window_bits").is_some();
            if want.server_max_window_bits.is_some() && !accepts_bits {
                continue;
            }
            let mut d = Deflate::default();
            let mut text = extensions::PERMESSAGE_DEFLATE.to_string();
            if has("server_no_context_takeover").is_some() {
                d.server_no_context_takeover = true;
                text.push_str("; server_no_context_takeover");
            }
            if let Some((_, Some(v))) = has("server_max_window_bits") {
                match v.parse::<u8>() {
                    Ok(bits) if (8..=15).contains(&bits) => {
                        d.server_max_window_bits = bits;
                        text.push_str(&format!("; server_max_window_bits={bits}"));
                    }
                    _ => continue,
                }
            }
            if want.server_no_context_takeover {
                d.client_no_context_takeover = true;
                text.push_str("; client_no_context_takeover");
            }
            if let Some(bits) = want.server_max_window_bits {
                d.client_max_window_bits = bits;
                text.push_str(&format!("; client_max_window_bits={bits}"));
            }
            return Some((d, text));
        }
    }
    None
}

/// Sends one text message, then closes.
fn say_and_close(mut sock: Socket, text: &str) {
    let frame =
        crate::wire::raw::encode_frame([true, false, false, false], 1, None, text.as_bytes());
    let _ = sock.write_all(&frame);
    close_with(sock, 1000, "");
}

/// Sends a Close, waits a moment for the client's, then drops TCP.
fn close_with(mut sock: Socket, code: u16, reason: &str) {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    let frame = crate::wire::raw::encode_frame([true, false, false, false], 8, None, &payload);
    let _ = sock.write_all(&frame);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 256];
    let until = Instant::now() + Duration::from_secs(1);
    // Read until the client's Close (or anything) arrives, or a second.
    while Instant::now() < until {
        match std::io::Read::read(&mut sock, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) if buf[..n].iter().any(|b| b & 0x0F == 8) => break,
            Ok(_) => {}
        }
    }
    let _ = sock.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_agent_names_are_read_as_harnesses_send_them() {
        let t = "/runCase?case=12&agent=my%20client";
        assert_eq!(query(t, "case"), Some("12"));
        assert_eq!(decode(query(t, "agent").unwrap()), "my client");
        assert_eq!(query("/getCaseCount", "case"), None);
        assert_eq!(decode("a%2"), "a%2");
    }
}
