//! Pipe-mode benchmark: wscope against websocat, same machine, same run,
//! alternating, reported as ratios (absolute times drift on shared
//! machines). Prints figures; asserts nothing about speed.
//!
//! Run with `cargo bench --bench pipe` (websocat must be on PATH:
//! `cargo install websocat`). `WSCOPE_BENCH_LINES` and `WSCOPE_BENCH_RUNS`
//! change the size (defaults 1,000,000 and 5); `WSCOPE_BENCH_SERVE=1` runs
//! only the echo server, for profiling a client by hand.
//!
//! The echo server is a frame-level echo written for this benchmark: it
//! unmasks and returns each frame as it comes, answers the Close, and is
//! fast enough that the clients, not the server, are measured.

use std::thread;

#[path = "support/mod.rs"]
mod support;
use support::*;

fn main() {
    if std::env::var_os("WSCOPE_BENCH_SERVE").is_some() {
        // Only the echo server, for profiling a client by hand.
        let port = start_echo_server();
        println!("echo server on ws://127.0.0.1:{port}/");
        loop {
            thread::park();
        }
    }
    let lines: usize = env_or("WSCOPE_BENCH_LINES", 1_000_000);
    let runs: usize = env_or("WSCOPE_BENCH_RUNS", 5);
    let wscope = release_binary();
    let websocat = which("websocat").unwrap_or_else(|| {
        eprintln!("websocat is not on PATH: cargo install websocat");
        std::process::exit(1);
    });
    let port = start_echo_server();
    let url = format!("ws://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lines.txt");
    write_lines(&input, lines);
    println!(
        "wscope {} vs {} ({}), {lines} lines, {runs} runs each, alternating",
        wscope.display(),
        websocat.display(),
        version(&websocat)
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "case", "wscope s", "websocat s", "wscope MiB", "wsocat MiB", "speedup"
    );

    let out = dir.path().join("out.txt");
    let payload = compare(
        runs,
        || run(&wscope, &[&url], &input, &out, lines),
        || run(&websocat, &["-t", &url], &input, &out, lines),
    );
    report("1M lines, payload out", &payload);

    let json = compare(
        runs,
        || run(&wscope, &["--json", &url], &input, &out, lines * 4 + 6),
        || run(&websocat, &["-t", &url], &input, &out, lines),
    );
    report("1M lines, wscope --json", &json);

    let deflate = compare(
        runs,
        || run(&wscope, &["--deflate", &url], &input, &out, lines),
        || run(&wscope, &[&url], &input, &out, lines),
    );
    report_pair(
        "1M lines, --deflate",
        ("wscope --deflate", "wscope plain"),
        &deflate,
    );

    let one = dir.path().join("one.txt");
    write_lines(&one, 1);
    let latency = compare(
        runs * 4,
        || run(&wscope, &[&url], &one, &out, 1),
        || run(&websocat, &["-t", &url], &one, &out, 1),
    );
    report("one message round trip, whole run", &latency);

    // One 256 MiB binary message, echoed; the output must equal the input.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, pseudo_random(256 << 20)).unwrap();
    let size = (256u64 << 20).to_string();
    let big_out = dir.path().join("big.out");
    let huge = compare(
        1,
        || {
            run_bytes(
                &wscope,
                &[
                    "--binary",
                    "--raw",
                    "--chunk-size",
                    &size,
                    "--max-message-size",
                    &size,
                    "--max-frame-size",
                    &size,
                    &url,
                ],
                &big,
                &big_out,
            )
        },
        || run_bytes(&websocat, &["-b", "-B", "268435457", &url], &big, &big_out),
    );
    report("one 256 MiB binary message", &huge);
}
