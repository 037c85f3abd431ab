//! `--report DIR`: written case by case as they end, so that a run cut
//! short leaves what it had. `index.json` keeps the suite's shape
//! (`{AGENT: {ID: {behavior, behaviorClose, duration, remoteCloseCode,
//! reportfile}}}`) so that the jq diffs projects use keep working; each case
//! has a JSON file with its wire log and an HTML page; `index.html` is the
//! summary a person opens.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::case::{Behavior, CloseBehavior};
use super::judge::describe;
use super::run::Finished;

/// One case's line in the summary.
struct Row {
    index: usize,
    id: String,
    description: String,
    behavior: Behavior,
    behavior_close: CloseBehavior,
    duration_ms: u128,
    remote_close_code: Option<u16>,
    file: String,
}

pub struct Report {
    dir: PathBuf,
    agent: String,
    rows: BTreeMap<String, Row>,
    /// The suite's index, as it stands.
    index: BTreeMap<String, Value>,
}

impl Report {
    /// Makes the folder (and its parents); an existing one is reused, and
    /// its files from an earlier run of the same cases are replaced.
    pub fn create(dir: &Path, agent: &str) -> io::Result<Report> {
        fs::create_dir_all(dir)?;
        Ok(Report {
            dir: dir.to_path_buf(),
            agent: agent.to_string(),
            rows: BTreeMap::new(),
            index: BTreeMap::new(),
        })
    }

    /// Writes the case's files and brings the indexes up to date.
    pub fn add(&mut self, f: &Finished) -> io::Result<()> {
        let base = format!(
            "{}_case_{}",
            clean_for_filename(&self.agent),
            f.case.id.replace('.', "_")
        );
        let json_file = format!("{base}.json");
        let html_file = format!("{base}.html");
        write_atomically(
            &self.dir.join(&json_file),
            &serde_json::to_vec_pretty(&case_json(f, &self.agent))?,
        )?;
        write_atomically(
            &self.dir.join(&html_file),
            case_html(f, &self.agent).as_bytes(),
        )?;
        self.index.insert(
            f.case.id.clone(),
            json!({
                "behavior": f.verdict.behavior.name(),
                "behaviorClose": f.verdict.behavior_close.name(),
                "duration": f.outcome.duration.as_millis(),
                "remoteCloseCode": f.outcome.remote_close_code,
                "reportfile": json_file,
            }),
        );
        self.rows.insert(
            sort_key(&f.case.id),
            Row {
                index: f.index,
                id: f.case.id.clone(),
                description: f.case.description.clone(),
                behavior: f.verdict.behavior,
                behavior_close: f.verdict.behavior_close,
                duration_ms: f.outcome.duration.as_millis(),
                remote_close_code: f.outcome.remote_close_code,
                file: html_file,
            },
        );
        let index = json!({ self.agent.clone(): self.index });
        write_atomically(
            &self.dir.join("index.json"),
            serde_json::to_string_pretty(&index)?.as_bytes(),
        )?;
        write_atomically(&self.dir.join("index.html"), self.summary_html().as_bytes())
    }

    fn summary_html(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for row in self.rows.values() {
            *counts.entry(row.behavior.name()).or_default() += 1;
        }
        let mut html = page_head(&format!("wscope check: {}", self.agent));
        let _ = write!(
            html,
            "<h1>wscope check</h1>\n<p>Server: <b>{}</b>, {} cases: {}</p>\n",
            esc(&self.agent),
            self.rows.len(),
            counts
                .iter()
                .map(|(k, n)| format!("<span class=\"{}\">{n} {k}</span>", class(k)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        html.push_str("<table>\n<tr><th>case</th><th>behaviour</th><th>close</th><th>ms</th><th>close code</th><th>what it sends</th></tr>\n");
        let mut category = "";
        for row in self.rows.values() {
            let this = row.id.split('.').next().unwrap_or("");
            if this != category {
                category = this;
                let name = super::cases::CATEGORIES
                    .iter()
                    .find(|(c, _)| *c == this)
                    .map_or("", |(_, n)| n);
                let _ = writeln!(
                    html,
                    "<tr class=\"cat\"><td colspan=\"6\">{this} {}</td></tr>",
                    esc(name)
                );
            }
            let _ = writeln!(
                html,
                "<tr id=\"c{}\"><td><a href=\"{}\">{}</a></td><td class=\"{}\">{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                row.index,
                esc(&row.file),
                esc(&row.id),
                class(row.behavior.name()),
                row.behavior.name(),
                class(row.behavior_close.name()),
                row.behavior_close.name(),
                row.duration_ms,
                row.remote_close_code.map_or(String::new(), |c| c.to_string()),
                esc(&first_line(&row.description)),
            );
        }
        html.push_str("</table>\n</body>\n</html>\n");
        html
    }
}

/// The suite's file names: the agent lowercased, anything but letters and
/// digits made `_`.
pub fn clean_for_filename(agent: &str) -> String {
    let spaced: String = agent
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                ' '
            }
        })
        .collect();
    spaced.trim().replace(' ', "_")
}

/// "6.4.1" sorts before "6.10.1", and "9.1.1" before "10.1.1".
fn sort_key(id: &str) -> String {
    id.split('.')
        .map(|part| format!("{:0>4}", part))
        .collect::<Vec<_>>()
        .join(".")
}

fn case_json(f: &Finished, agent: &str) -> Value {
    let expected: serde_json::Map<String, Value> = f
        .case
        .expected
        .iter()
        .map(|(b, events)| (b.name().to_string(), Value::String(describe(events))))
        .collect();
    json!({
        "agent": agent,
        "id": f.case.id,
        "description": f.case.description,
        "expectation": f.case.expectation,
        "rfc": f.case.rfc,
        "started": time::OffsetDateTime::from(f.started)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "duration": f.outcome.duration.as_millis(),
        "behavior": f.verdict.behavior.name(),
        "behaviorClose": f.verdict.behavior_close.name(),
        "result": f.verdict.result,
        "resultClose": f.verdict.result_close,
        "expected": expected,
        "received": describe(&f.outcome.received),
        "expectedClose": {
            "closedByMe": f.case.close.closed_by_me,
            "closeCode": f.case.close.codes,
            "requireClean": f.case.close.require_clean,
        },
        "closedByMe": f.outcome.closed_by_me,
        "failedByMe": f.outcome.failed_by_me,
        "droppedByMe": f.outcome.dropped_by_me,
        "wasClean": f.outcome.was_clean,
        "wasNotCleanReason": f.outcome.not_clean_reason,
        "localCloseCode": f.outcome.local_close_code,
        "remoteCloseCode": f.outcome.remote_close_code,
        "remoteCloseReason": f.outcome.remote_close_reason,
        "httpRequest": crate::escape::escape(&f.outcome.request),
        "httpResponse": crate::escape::escape(&f.outcome.response),
        "wirelog": f.outcome.wirelog.to_json(),
    })
}

fn case_html(f: &Finished, agent: &str) -> String {
    let mut html = page_head(&format!("{} {}", agent, f.case.id));
    let v = &f.verdict;
    let _ = write!(
        html,
        "<p><a href=\"index.html#c{}\">← all cases</a></p>\n<h1>Case {}</h1>\n<p>{}</p>\n<p><i>{}</i> ({})</p>\n",
        f.index,
        esc(&f.case.id),
        esc(&f.case.description),
        esc(&f.case.expectation),
        esc(f.case.rfc),
    );
    let _ = write!(
        html,
        "<table>\n<tr><th>behaviour</th><td class=\"{}\">{}</td><td>{}</td></tr>\n<tr><th>close</th><td class=\"{}\">{}</td><td>{}</td></tr>\n",
        class(v.behavior.name()),
        v.behavior.name(),
        esc(&v.result),
        class(v.behavior_close.name()),
        v.behavior_close.name(),
        esc(&v.result_close),
    );
    for (b, events) in &f.case.expected {
        let _ = writeln!(
            html,
            "<tr><th>expected for {}</th><td colspan=\"2\">{}</td></tr>",
            b.name(),
            esc(&describe(events))
        );
    }
    let _ = writeln!(
        html,
        "<tr><th>received</th><td colspan=\"2\">{}</td></tr>\n<tr><th>duration</th><td colspan=\"2\">{} ms</td></tr>\n<tr><th>close codes</th><td colspan=\"2\">ours {}, the server's {}</td></tr>\n</table>",
        esc(&describe(&f.outcome.received)),
        f.outcome.duration.as_millis(),
        f.outcome.local_close_code.map_or("none".into(), |c| c.to_string()),
        f.outcome.remote_close_code.map_or("none".into(), |c| c.to_string()),
    );
    let _ = write!(
        html,
        "<h2>Opening handshake</h2>\n<pre>{}</pre>\n<pre>{}</pre>\n<h2>Wire log</h2>\n<table>\n<tr><th>ms</th><th>dir</th><th>op</th><th>fin</th><th>rsv</th><th>len</th><th>payload (start)</th></tr>\n",
        esc(&f.outcome.request),
        esc(&f.outcome.response),
    );
    for line in f.outcome.wirelog.lines() {
        let ms = line["ms"].as_f64().unwrap_or(0.0);
        if let Some(note) = line["note"].as_str() {
            let _ = writeln!(
                html,
                "<tr class=\"note\"><td>{ms:.1}</td><td colspan=\"6\">{}</td></tr>",
                esc(note)
            );
        } else {
            let _ = writeln!(
                html,
                "<tr><td>{ms:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(line["dir"].as_str().unwrap_or("")),
                line["opcode"],
                line["fin"],
                line["rsv"],
                line["len"],
                esc(line["payload"].as_str().unwrap_or("")),
            );
        }
    }
    html.push_str("</table>\n</body>\n</html>\n");
    html
}

fn page_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        esc(title),
        STYLE
    )
}

const STYLE: &str = "body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
tr.cat td { background: #eee; font-weight: bold; }
tr.note td { color: #666; font-style: italic; }
pre { background: #f6f6f6; padding: 8px; }
.ok { background: #bfb; }
.nonstrict { background: #ffb; }
.info { background: #ddf; }
.unimpl { background: #ddd; }
.failed { background: #f99; }
.warn { background: #fd9; }
";

/// The CSS class for a verdict's colour.
fn class(verdict: &str) -> &'static str {
    match verdict {
        "OK" => "ok",
        "NON-STRICT" => "nonstrict",
        "INFORMATIONAL" => "info",
        "UNIMPLEMENTED" => "unimpl",
        "FAILED" | "FAILED BY CLIENT" => "failed",
        _ => "warn",
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

/// Text made safe in HTML: peer bytes never become markup.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Written beside, then renamed: a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("part");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_the_suites() {
        assert_eq!(clean_for_filename("Tungstenite 0.30"), "tungstenite_0_30");
        assert_eq!(
            clean_for_filename(" Python/3.13 websockets/15 "),
            "python_3_13_websockets_15"
        );
    }

    #[test]
    fn ids_sort_by_number() {
        let mut ids = vec!["10.1.1", "6.10.1", "6.4.1", "9.1.1", "12.1.1"];
        ids.sort_by_key(|id| sort_key(id));
        assert_eq!(ids, ["6.4.1", "6.10.1", "9.1.1", "10.1.1", "12.1.1"]);
    }

    #[test]
    fn peer_text_never_becomes_markup() {
        assert_eq!(
            esc("<script>\"x\" & 'y'"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;"
        );
    }
}
