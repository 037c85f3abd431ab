//! What `wscope check` prints: on a terminal a progress bar per category,
//! then each case that is not OK with what was expected and what came, and
//! a last line of counts; with `--json` a line per case as it ends and a
//! summary line.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use colored::Colorize;
use serde_json::json;

use super::case::{Behavior, Case, CloseBehavior};
use super::cases::CATEGORIES;
use super::judge::describe;
use super::run::Finished;

/// The verdict counts at the end, for the summary and the exit code.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: usize,
    pub behavior: BTreeMap<Behavior, usize>,
    pub close: BTreeMap<&'static str, usize>,
    /// Cases whose behaviour or close is FAILED.
    pub failed: usize,
}

pub struct View {
    json: bool,
    terminal: bool,
    colour: bool,
    /// Each category in run order: its id, total and how many are done.
    categories: Vec<(String, usize, usize)>,
    /// How many categories have had their final line.
    shown: usize,
    /// Cases that are not OK, by position, for the end.
    not_ok: BTreeMap<usize, String>,
    tally: Tally,
    out: std::io::Stdout,
}

impl View {
    pub fn new(cases: &[Case], json: bool, terminal: bool, colour: bool) -> View {
        let mut categories: Vec<(String, usize, usize)> = Vec::new();
        for case in cases {
            match categories.last_mut() {
                Some((c, total, _)) if c == case.category() => *total += 1,
                _ => categories.push((case.category().to_string(), 1, 0)),
            }
        }
        View {
            json,
            terminal,
            colour,
            categories,
            shown: 0,
            not_ok: BTreeMap::new(),
            tally: Tally::default(),
            out: std::io::stdout(),
        }
    }

    pub fn case_done(&mut self, f: &Finished) {
        let v = &f.verdict;
        self.tally.cases += 1;
        *self.tally.behavior.entry(v.behavior).or_default() += 1;
        *self.tally.close.entry(v.behavior_close.name()).or_default() += 1;
        if v.behavior == Behavior::Failed || v.behavior_close == CloseBehavior::Failed {
            self.tally.failed += 1;
        }
        if self.json {
            let mut line = json!({
                "event": "case",
                "id": f.case.id,
                "behavior": v.behavior.name(),
                "behavior_close": v.behavior_close.name(),
                "remote_close_code": f.outcome.remote_close_code,
                "duration_ms": f.outcome.duration.as_millis(),
                "description": f.case.description,
                "result": v.result,
                "result_close": v.result_close,
            });
            if let Some(agent) = &f.agent {
                line["agent"] = json!(agent);
            }
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
            return;
        }
        if v.behavior != Behavior::Ok || !matches!(v.behavior_close, CloseBehavior::Ok) {
            self.not_ok.insert(f.index, self.details(f));
        }
        if let Some(cat) = self
            .categories
            .iter_mut()
            .find(|(c, _, _)| c == f.case.category())
        {
            cat.2 += 1;
        }
        self.progress();
    }

    /// Final lines for the categories done, in order; a bar for the
    /// first that is not (on a terminal).
    fn progress(&mut self) {
        while let Some((cat, total, done)) = self.categories.get(self.shown).cloned() {
            if done < total {
                if self.terminal {
                    let _ = write!(self.out, "\r{}", bar(&cat, done, total));
                    let _ = self.out.flush();
                }
                return;
            }
            let _ = writeln!(self.out, "\r{}", bar(&cat, done, total));
            self.shown += 1;
        }
        let _ = self.out.flush();
    }

    fn details(&self, f: &Finished) -> String {
        let v = &f.verdict;
        let paint = |name: &'static str| -> String {
            if !self.colour {
                return name.to_string();
            }
            match name {
                "OK" => name.green().to_string(),
                "FAILED" | "FAILED BY CLIENT" => name.red().bold().to_string(),
                "NON-STRICT" | "UNCLEAN" | "WRONG CODE" => name.yellow().to_string(),
                _ => name.cyan().to_string(),
            }
        };
        let mut text = format!(
            "{}  {}  close {}  ({} ms)  {}\n  {}\n",
            f.case.id,
            paint(v.behavior.name()),
            paint(v.behavior_close.name()),
            f.outcome.duration.as_millis(),
            f.case.rfc,
            first_line(&f.case.description),
        );
        for (b, events) in &f.case.expected {
            text.push_str(&format!("  expected  {}: {}\n", b.name(), describe(events)));
        }
        if !f.case.expected.is_empty() {
            text.push_str(&format!("  came      {}\n", describe(&f.outcome.received)));
        }
        if v.behavior != Behavior::Ok {
            text.push_str(&format!("  result    {}\n", v.result));
        }
        if v.behavior_close != CloseBehavior::Ok {
            text.push_str(&format!("  close     {}\n", v.result_close));
        }
        text
    }

    /// The cases that were not OK, then the counts; the tally for the
    /// exit code.
    pub fn finish(mut self, elapsed: Duration, stopped: bool) -> Tally {
        let summary = self.summary(elapsed);
        if self.json {
            let behavior: BTreeMap<&str, usize> = self
                .tally
                .behavior
                .iter()
                .map(|(b, n)| (b.name(), *n))
                .collect();
            let line = json!({
                "event": "summary",
                "cases": self.tally.cases,
                "behavior": behavior,
                "behavior_close": self.tally.close,
                "failed": self.tally.failed,
                "duration_ms": elapsed.as_millis(),
                "stopped": stopped,
            });
            let _ = writeln!(self.out, "{line}");
        } else {
            if self.terminal && self.shown < self.categories.len() {
                let _ = writeln!(self.out);
            }
            if !self.not_ok.is_empty() {
                let _ = writeln!(self.out);
            }
            for text in self.not_ok.values() {
                let _ = writeln!(self.out, "{text}");
            }
            if stopped {
                let _ = writeln!(self.out, "stopped: the cases not yet begun were not run");
            }
            let _ = writeln!(self.out, "{summary}");
        }
        let _ = self.out.flush();
        self.tally
    }

    fn summary(&self, elapsed: Duration) -> String {
        let counts = [
            Behavior::Ok,
            Behavior::NonStrict,
            Behavior::Informational,
            Behavior::Unimplemented,
            Behavior::Failed,
        ]
        .iter()
        .map(|b| {
            format!(
                "{} {}",
                self.tally.behavior.get(b).copied().unwrap_or(0),
                b.name()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
        let close = self
            .tally
            .close
            .iter()
            .map(|(name, n)| format!("{n} {name}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} cases in {:.1} s: {counts}; close: {close}",
            self.tally.cases,
            elapsed.as_secs_f64()
        )
    }
}

fn bar(category: &str, done: usize, total: usize) -> String {
    let name = CATEGORIES
        .iter()
        .find(|(c, _)| *c == category)
        .map_or("", |(_, n)| n);
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "{category:>3} {name:<44} [{}{}] {done:>3}/{total}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    )
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
