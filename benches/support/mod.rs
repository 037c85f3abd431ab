//! What the benchmarks share: the frame-level echo server, the clients'
//! runs measured (wall time and peak RSS), medians and the report lines.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

/// Runs a client on binary input and checks its output is the input.
pub fn run_bytes(program: &Path, args: &[&str], input: &Path, out: &Path) -> Measured {
    let (_, seconds, max_rss_kib) = spawn_measured(program, args, input, out);
    let ok = std::fs::read(out).ok() == std::fs::read(input).ok();
    Measured {
        seconds,
        max_rss_kib,
        ok,
    }
}

pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

pub struct Measured {
    pub seconds: f64,
    pub max_rss_kib: i64,
    /// The output was what it should be.
    pub ok: bool,
}

pub struct Comparison {
    pub wscope: Vec<Measured>,
    pub websocat: Vec<Measured>,
}

pub fn compare(
    runs: usize,
    mut a: impl FnMut() -> Measured,
    mut b: impl FnMut() -> Measured,
) -> Comparison {
    let mut c = Comparison {
        wscope: Vec::new(),
        websocat: Vec::new(),
    };
    for _ in 0..runs {
        c.wscope.push(a());
        c.websocat.push(b());
    }
    c
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Two runs of wscope side by side, under their own header.
pub fn report_pair(case: &str, (a, b): (&str, &str), c: &Comparison) {
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "", a, b, "MiB", "MiB", "b/a"
    );
    report(case, c);
}

pub fn report(case: &str, c: &Comparison) {
    // Times count only for runs whose output was right: a fast wrong
    // answer must not win, nor a failing one make a ratio.
    let good_median = |v: &[Measured]| {
        let mut t: Vec<f64> = v.iter().filter(|m| m.ok).map(|m| m.seconds).collect();
        (!t.is_empty()).then(|| median(&mut t))
    };
    let (ws, wc) = (good_median(&c.wscope), good_median(&c.websocat));
    let rss = |v: &[Measured]| v.iter().map(|m| m.max_rss_kib).max().unwrap_or(0) as f64 / 1024.0;
    let seconds = |t: Option<f64>| t.map_or("failed".to_string(), |t| format!("{t:.4}"));
    let ratio = match (ws, wc) {
        (Some(ws), Some(wc)) => format!("{:.2}x", wc / ws),
        _ => "n/a".to_string(),
    };
    println!(
        "{case:<34} {:>10} {:>10} {:>10.1} {:>10.1} {ratio:>7}",
        seconds(ws),
        seconds(wc),
        rss(&c.wscope),
        rss(&c.websocat),
    );
    let failed = |v: &[Measured]| v.iter().filter(|m| !m.ok).count();
    for (who, runs) in [("wscope", &c.wscope), ("websocat", &c.websocat)] {
        let n = failed(runs);
        if n > 0 {
            println!(
                "{:<34} {who}: {n} of {} runs gave wrong output (not timed)",
                "",
                runs.len()
            );
        }
    }
}

/// Runs a line-oriented client; checks that it printed `expect_lines`
/// lines, so a fast wrong answer cannot win.
pub fn run(
    program: &Path,
    args: &[&str],
    input: &Path,
    out: &Path,
    expect_lines: usize,
) -> Measured {
    let (status, seconds, max_rss_kib) = spawn_measured(program, args, input, out);
    let got = BufReader::new(File::open(out).unwrap()).lines().count();
    if got != expect_lines {
        eprintln!(
            "warning: {} {args:?} printed {got} lines, expected {expect_lines} (exit status {status})",
            program.display()
        );
    }
    Measured {
        seconds,
        max_rss_kib,
        ok: got == expect_lines,
    }
}

/// Runs a client with stdin from `input` and stdout to `out`; returns its
/// exit status, wall time and peak RSS in KiB.
// The child is reaped by wait4, which also gives its peak RSS.
#[allow(clippy::zombie_processes)]
pub fn spawn_measured(program: &Path, args: &[&str], input: &Path, out: &Path) -> (i32, f64, i64) {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(File::open(input).unwrap())
        .stdout(File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (status, max_rss_kib) = wait_with_rusage(child.id() as i32);
    (status, started.elapsed().as_secs_f64(), max_rss_kib)
}

/// Waits for a child and returns its exit status and peak RSS in KiB.
pub fn wait_with_rusage(pid: i32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid pointers.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    (status, usage.ru_maxrss)
}

pub fn write_lines(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(File::create(path).unwrap());
    for i in 0..n {
        writeln!(f, "line {i:07} of the benchmark").unwrap();
    }
}

pub fn start_echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || echo(stream));
        }
    });
    port
}

/// Answers the upgrade, then echoes frames, unmasked, until the Close.
pub fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 256 * 1024];
    let mut have = 0;
    let head_end = loop {
        let n = match stream.read(&mut buf[have..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        have += n;
        if let Some(p) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let key = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Sec-WebSocket-Key:")
                .or_else(|| l.strip_prefix("sec-websocket-key:"))
        })
        .unwrap_or("")
        .trim()
        .to_string();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    // permessage-deflate with both windows at 15 and context takeover both
    // ways: then a compressed frame echoed as it is inflates on the client
    // exactly as it did here, so the server sends compressed data without
    // the cost of compressing (the client's inflate and deflate are what
    // is measured).
    let deflate = if head.contains("permessage-deflate") {
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        ""
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{deflate}\r\n"
    );
    if stream.write_all(response.as_bytes()).is_err() {
        return;
    }
    buf.copy_within(head_end..have, 0);
    have -= head_end;
    let mut out = Vec::with_capacity(buf.len() + 1024);
    loop {
        // Echo every complete frame in the buffer.
        let mut at = 0;
        let mut closed = false;
        while let Some((opcode, header_len, len, key)) = parse(&buf[at..have]) {
            if at + header_len + len > have {
                break;
            }
            let payload = &buf[at + header_len..at + header_len + len];
            out.push(buf[at]);
            match len {
                n if n < 126 => out.push(n as u8),
                n if n <= 0xFFFF => {
                    out.push(126);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    out.push(127);
                    out.extend_from_slice(&(n as u64).to_be_bytes());
                }
            }
            let start = out.len();
            out.extend_from_slice(payload);
            if let Some(key) = key {
                for (i, b) in out[start..].iter_mut().enumerate() {
                    *b ^= key[i % 4];
                }
            }
            at += header_len + len;
            if opcode == 8 {
                closed = true;
                break;
            }
        }
        if stream.write_all(&out).is_err() {
            return;
        }
        out.clear();
        if closed {
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.read_to_end(&mut Vec::new());
            return;
        }
        buf.copy_within(at..have, 0);
        have -= at;
        if have == buf.len() {
            // One frame bigger than the buffer: grow it.
            buf.resize(buf.len() * 2, 0);
        }
        match stream.read(&mut buf[have..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
    }
}

/// (opcode, header length, payload length, masking key) of the frame at
/// the start of `b`, if its header is complete.
pub fn parse(b: &[u8]) -> Option<(u8, usize, usize, Option<[u8; 4]>)> {
    if b.len() < 2 {
        return None;
    }
    let masked = b[1] & 0x80 != 0;
    let (len, mut at) = match b[1] & 0x7F {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
        127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().ok()?) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    let key = if masked {
        let k: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(k)
    } else {
        None
    };
    Some((b[0] & 0x0F, at, len, key))
}

pub fn release_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --release failed");
    root.join("target/release/wscope")
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

pub fn version(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
