//! Proxy benchmark: 1M lines from wscope to an ordered echo server,
//! directly, through `wscope proxy` and through websocat as a proxy
//! (`websocat -E -b ws-l:ADDR ws://UPSTREAM/`), same machine, same run,
//! alternating; then the latency each proxy adds to one message's round
//! trip (median and p99). Prints figures; asserts nothing about speed.
//!
//! Run with `cargo bench --bench proxy` (websocat must be on PATH).
//! `WSCOPE_BENCH_LINES`, `WSCOPE_BENCH_RUNS` and `WSCOPE_BENCH_PINGS`
//! change the size (defaults 1,000,000, 5 and 2,000).

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::*;

/// A proxy process, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a proxy and waits until its port takes connections.
fn start(program: &Path, args: &[&str], port: u16) -> Running {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        // What it shows is formatted in full and thrown away.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "{} did not listen", program.display());
        thread::sleep(Duration::from_millis(20));
    }
    Running(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn main() {
    let lines: usize = env_or("WSCOPE_BENCH_LINES", 1_000_000);
    let runs: usize = env_or("WSCOPE_BENCH_RUNS", 5);
    let pings: usize = env_or("WSCOPE_BENCH_PINGS", 2_000);
    let wscope = release_binary();
    let websocat = which("websocat").unwrap_or_else(|| {
        eprintln!("websocat is not on PATH: cargo install websocat");
        std::process::exit(1);
    });
    let echo = start_echo_server();
    let upstream = format!("ws://127.0.0.1:{echo}/");
    let (quiet_port, json_port, human_port, websocat_port) =
        (free_port(), free_port(), free_port(), free_port());
    let listen = |p: u16| format!("127.0.0.1:{p}");
    let _quiet = start(
        &wscope,
        &[
            "proxy",
            "--quiet",
            "--listen",
            &listen(quiet_port),
            &upstream,
        ],
        quiet_port,
    );
    let _json = start(
        &wscope,
        &["proxy", "--json", "--listen", &listen(json_port), &upstream],
        json_port,
    );
    let _human = start(
        &wscope,
        &["proxy", "--listen", &listen(human_port), &upstream],
        human_port,
    );
    let ws_listen = format!("ws-l:127.0.0.1:{websocat_port}");
    let _websocat = start(
        &websocat,
        &["-E", "-b", &ws_listen, &upstream],
        websocat_port,
    );
    let via = |p: u16| format!("ws://127.0.0.1:{p}/");

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lines.txt");
    write_lines(&input, lines);
    let out = dir.path().join("out.txt");
    println!(
        "wscope proxy vs {} ({}) as a proxy, {lines} lines from wscope, {runs} runs each, alternating",
        websocat.display(),
        version(&websocat)
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "case", "a s", "b s", "a MiB", "b MiB", "b/a"
    );
    let client = |url: String| {
        let (wscope, input, out) = (wscope.clone(), input.clone(), out.clone());
        move || run(&wscope, &[&url], &input, &out, lines)
    };
    let c = compare(runs, client(via(quiet_port)), client(upstream.clone()));
    report_pair(
        "1M lines: proxy --quiet vs direct",
        ("proxied", "direct"),
        &c,
    );
    let c = compare(runs, client(via(quiet_port)), client(via(websocat_port)));
    report_pair(
        "1M lines: wscope vs websocat proxy",
        ("wscope", "websocat"),
        &c,
    );
    let c = compare(runs, client(via(json_port)), client(upstream.clone()));
    report_pair(
        "1M lines: proxy --json vs direct",
        ("proxied", "direct"),
        &c,
    );
    let c = compare(runs, client(via(human_port)), client(upstream.clone()));
    report_pair("1M lines: human view vs direct", ("proxied", "direct"), &c);

    println!(
        "\nlatency of one message's round trip ({pings} messages, one at a time), microseconds"
    );
    println!(
        "{:<26} {:>9} {:>9} {:>14} {:>14}",
        "path", "median", "p99", "added median", "added p99"
    );
    let direct = round_trips(&upstream, pings);
    let base = (percentile(&direct, 50.0), percentile(&direct, 99.0));
    for (name, url) in [
        ("direct", upstream.clone()),
        ("wscope proxy --quiet", via(quiet_port)),
        ("wscope proxy --json", via(json_port)),
        ("websocat proxy", via(websocat_port)),
    ] {
        let times = if name == "direct" {
            direct.clone()
        } else {
            round_trips(&url, pings)
        };
        let (m, p) = (percentile(&times, 50.0), percentile(&times, 99.0));
        println!(
            "{name:<26} {m:>9.1} {p:>9.1} {:>14.1} {:>14.1}",
            m - base.0,
            p - base.1
        );
    }
}

/// Sends `n` messages one at a time, each after the last one's echo;
/// each round trip in microseconds.
fn round_trips(url: &str, n: usize) -> Vec<f64> {
    let (mut ws, _) = tungstenite::connect(url).expect("connect for the latency run");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        let _ = s.set_nodelay(true);
    }
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let text = format!("ping {i}");
        let started = Instant::now();
        ws.send(tungstenite::Message::text(text.clone())).unwrap();
        loop {
            // websocat -b passes text on as binary: either counts.
            match ws.read().unwrap() {
                tungstenite::Message::Text(t) if t.as_str() == text => break,
                tungstenite::Message::Binary(b) if b[..] == *text.as_bytes() => break,
                _ => {}
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let _ = ws.close(None);
    times
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p / 100.0).round() as usize]
}
