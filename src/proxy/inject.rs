//! Lines typed to the proxy (or piped to it): frames sent to the server
//! as if from the client, or to the client as if from the server, on a
//! chosen connection. The rest of each line is what the REPL takes: text,
//! /hex, /ping, /close 1012 bye, /frame ...

use std::io::BufRead;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Instant;

use mio::Waker;

use super::faults::Way;
use super::relay::Relay;
use crate::input::command::{self, Command};
use crate::observe::{Event, Observers};
use crate::wire::raw::{encode_frame, random_key};

pub const HELP: &str = "\
/server LINE    send LINE to the server as if from the client (LINE: text, /hex .., /ping .., /close CODE REASON, /frame ..)
/client LINE    send LINE to the client as if from the server
/conn N         send to connection N from now on (the newest by default)
/list           the connections being carried
/help           this list";

pub struct Input {
    rx: Receiver<String>,
    /// The connection chosen with /conn; the newest when unset.
    pub chosen: Option<u32>,
}

impl Input {
    /// Reads stdin on a thread of its own, waking the loop per line.
    pub fn start(waker: Arc<Waker>) -> Input {
        let (tx, rx) = mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("proxy-input".into())
            .spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            });
        Input { rx, chosen: None }
    }

    pub fn lines(&mut self) -> Vec<String> {
        self.rx.try_iter().collect()
    }
}

/// Runs one typed line.
pub fn command(line: &str, relays: &mut [Option<Relay>], obs: &Observers, input: &mut Input) {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return;
    }
    let refuse = |text: &str| obs.event(&Event::Refused(text));
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let way = match word {
        "/server" => Way::Up,
        "/client" => Way::Down,
        "/conn" => {
            match rest.trim().parse::<u32>() {
                Ok(n) if relays.iter().flatten().any(|r| r.conn == n) => {
                    input.chosen = Some(n);
                    obs.event(&Event::Notice(&format!(
                        "typed frames go to connection {n}"
                    )));
                }
                _ => refuse(&format!(
                    "/conn: no connection '{}' (see /list)",
                    rest.trim()
                )),
            }
            return;
        }
        "/list" => {
            let conns: Vec<String> = relays
                .iter()
                .flatten()
                .map(|r| format!("#{}", r.conn))
                .collect();
            let text = if conns.is_empty() {
                "no connection is being carried".to_string()
            } else {
                format!("connections: {}", conns.join(" "))
            };
            obs.event(&Event::Notice(&text));
            return;
        }
        "/help" => {
            obs.event(&Event::Notice(HELP));
            return;
        }
        _ => {
            refuse("say where it goes: /server LINE or /client LINE (see /help)");
            return;
        }
    };
    let conn = input
        .chosen
        .filter(|n| relays.iter().flatten().any(|r| r.conn == *n))
        .or_else(|| relays.iter().flatten().map(|r| r.conn).max());
    let Some(relay) = relays.iter_mut().flatten().find(|r| Some(r.conn) == conn) else {
        refuse("no connection is being carried");
        return;
    };
    let parsed = match command::parse(rest) {
        Ok(c) => c,
        Err(why) => return refuse(&why),
    };
    // To the server a client's frame is masked; to the client, not.
    let key = (way == Way::Up).then(random_key);
    let fin = [true, false, false, false];
    let frame = match parsed {
        Command::Text(t) => encode_frame(fin, 1, key, t.as_bytes()),
        Command::Binary(b) => encode_frame(fin, 2, key, &b),
        Command::Ping(p) => encode_frame(fin, 9, key, &p),
        Command::Pong(p) => encode_frame(fin, 10, key, &p),
        Command::Close { code, reason } => {
            let mut payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
            payload.extend_from_slice(reason.as_bytes());
            encode_frame(fin, 8, key, &payload)
        }
        Command::Frame(crafted) => crafted.encode(random_key(), way == Way::Up),
        _ => return refuse(
            "only frames can be sent through the proxy: text, /hex, /ping, /pong, /close, /frame",
        ),
    };
    let leg = if way == Way::Up { "server" } else { "client" };
    obs.for_conn(relay.conn).event(&Event::Notice(&format!(
        "sending a {}-byte frame to the {leg}",
        frame.len()
    )));
    relay.inject(way, frame, Instant::now());
}
