//! Automatic replies (--reply 'REGEX=>TEXT'): an incoming text message
//! that matches a rule's pattern is answered at once with the rule's text,
//! its `$1`, `${1}`, `$name` and `${name}` replaced by the match's groups
//! and `$$` by `$`. A reference to a group the pattern does not have is
//! refused when the rule is read (it would silently send nothing in its
//! place). Binary messages are matched as lowercase hex. The first rule
//! that matches wins.

use regex::Regex;

#[derive(Clone)]
pub struct ReplyRule {
    pub pattern: Regex,
    /// The reply: text, and the pattern's groups by number.
    pub template: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Group(usize),
}

/// Reads a reply's text into pieces, each group reference checked
/// against the pattern.
fn template_of(text: &str, pattern: &Regex) -> Result<Vec<Piece>, String> {
    let group = |name: &str| -> Result<usize, String> {
        let index = match name.parse::<usize>() {
            Ok(n) if n < pattern.captures_len() => Some(n),
            Ok(_) => None,
            Err(_) => pattern.capture_names().position(|n| n == Some(name)),
        };
        index.ok_or_else(|| {
            format!(
                "${name} names no group of the pattern (it has {}); write $$ for a literal $",
                pattern.captures_len() - 1
            )
        })
    };
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let word_end = |s: &str, digits: bool| {
            s.find(|c: char| {
                if digits {
                    !c.is_ascii_digit()
                } else {
                    !(c.is_ascii_alphanumeric() || c == '_')
                }
            })
            .unwrap_or(s.len())
        };
        let (name, used) = if let Some(stripped) = after.strip_prefix('$') {
            literal.push('$');
            rest = stripped;
            continue;
        } else if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                return Err("'${' without its '}'; write $$ for a literal $".into());
            };
            (&braced[..close], close + 2)
        } else if after.starts_with(|c: char| c.is_ascii_digit()) {
            let end = word_end(after, true);
            (&after[..end], end)
        } else if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            let end = word_end(after, false);
            (&after[..end], end)
        } else {
            // A lone '$' stands for itself.
            literal.push('$');
            rest = after;
            continue;
        };
        let index = group(name)?;
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Group(index));
        rest = &after[used..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

#[derive(Clone, Default)]
pub struct Replies {
    rules: Vec<ReplyRule>,
}

/// The reply a rule chose: which rule (from 1, in command-line order) and
/// the text to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub rule: usize,
    pub text: String,
}

impl Replies {
    /// Parses each `REGEX=>TEXT`; the first `=>` ends the pattern.
    pub fn parse(specs: &[String]) -> Result<Replies, String> {
        let mut rules = Vec::with_capacity(specs.len());
        for spec in specs {
            let Some((pattern, template)) = spec.split_once("=>") else {
                return Err(format!(
                    "--reply '{spec}': write it as REGEX=>TEXT, for example '^2$=>3'"
                ));
            };
            let pattern = Regex::new(pattern).map_err(|e| {
                let first = e.to_string();
                let first = first.lines().last().unwrap_or_default().trim().to_string();
                format!("--reply '{spec}': the pattern is not a valid regex: {first}")
            })?;
            let template = template_of(template, &pattern)
                .map_err(|why| format!("--reply '{spec}': {why}"))?;
            rules.push(ReplyRule { pattern, template });
        }
        Ok(Replies { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The pattern of rule `rule` (from 1), as given.
    pub fn pattern(&self, rule: usize) -> &str {
        self.rules[rule - 1].pattern.as_str()
    }

    /// The reply to an incoming data message, if a rule matches it.
    pub fn answer(&self, binary: bool, data: &[u8]) -> Option<Reply> {
        if self.rules.is_empty() {
            return None;
        }
        let hex;
        let subject = if binary {
            hex = crate::observe::hex(data);
            hex.as_str()
        } else {
            std::str::from_utf8(data).ok()?
        };
        self.rules.iter().enumerate().find_map(|(i, rule)| {
            let found = rule.pattern.captures(subject)?;
            let text = rule
                .template
                .iter()
                .map(|piece| match piece {
                    Piece::Text(text) => text.as_str(),
                    // A group that took no part in the match: nothing.
                    Piece::Group(n) => found.get(*n).map_or("", |m| m.as_str()),
                })
                .collect();
            Some(Reply { rule: i + 1, text })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(specs: &[&str]) -> Replies {
        Replies::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn the_first_matching_rule_answers_with_its_groups() {
        let r = rules(&[
            r"^2$=>3",
            r#"^\{"op":"ping","id":(\d+)\}$=>{"op":"pong","id":$1}"#,
            "^.*$=>other",
        ]);
        assert_eq!(
            r.answer(false, b"2"),
            Some(Reply {
                rule: 1,
                text: "3".into()
            })
        );
        assert_eq!(
            r.answer(false, br#"{"op":"ping","id":42}"#).unwrap().text,
            r#"{"op":"pong","id":42}"#
        );
        assert_eq!(r.answer(false, b"22").unwrap().rule, 3);
    }

    #[test]
    fn binary_is_matched_as_hex_and_named_groups_work() {
        let r = rules(&["^cafe(?<rest>..)$=>got ${rest}"]);
        assert_eq!(r.answer(true, &[0xca, 0xfe, 0x01]).unwrap().text, "got 01");
        assert_eq!(r.answer(false, b"cafe01").unwrap().text, "got 01");
        assert_eq!(r.answer(true, &[0x01]), None);
    }

    #[test]
    fn references_are_checked_against_the_pattern() {
        let r = rules(&[r#"^ping (\d+)$=>{"$$type":"pong","id":"${1}a","n":$1,"cost":"$ 5"}"#]);
        assert_eq!(
            r.answer(false, b"ping 42").unwrap().text,
            r#"{"$type":"pong","id":"42a","n":42,"cost":"$ 5"}"#
        );
        let err = |s: &str| Replies::parse(&[s.to_string()]).err().unwrap();
        // A number ends at its last digit.
        assert_eq!(
            rules(&[r"^ping (\d+)$=>$1a"])
                .answer(false, b"ping 7")
                .unwrap()
                .text,
            "7a"
        );
        assert!(err(r"^(\d+)$=>$5").contains("$5 names no group of the pattern (it has 1)"));
        assert!(err(r#"^x$=>{"$type":1}"#).contains("$type names no group"));
        assert!(err(r"^x$=>${1").contains("without its '}'"));
        assert_eq!(
            rules(&["^(?<n>x)$=>$n-${n}$"])
                .answer(false, b"x")
                .unwrap()
                .text,
            "x-x$"
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let err = |s: &str| Replies::parse(&[s.to_string()]).err().unwrap();
        assert!(err("no arrow").contains("REGEX=>TEXT"));
        assert!(err("(=>x").contains("not a valid regex"));
        // The text may hold another arrow.
        assert_eq!(
            rules(&["a=>b=>c"]).answer(false, b"a").unwrap().text,
            "b=>c"
        );
    }
}
