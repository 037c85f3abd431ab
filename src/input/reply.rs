//! Automatic replies (--reply 'REGEX=>TEXT'): an incoming text message
//! that matches a rule's pattern is answered at once with the rule's text,
//! its `$1`, `${name}` replaced by the match's groups. Binary messages are
//! matched as lowercase hex. The first rule that matches wins.

use regex::Regex;

#[derive(Clone)]
pub struct ReplyRule {
    pub pattern: Regex,
    /// The reply, with `$1`-style references to the pattern's groups.
    pub template: String,
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
            rules.push(ReplyRule {
                pattern,
                template: template.to_string(),
            });
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
            let mut text = String::new();
            found.expand(&rule.template, &mut text);
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
