//! `--cases` and `--exclude`: the suite's ids with `*` globs,
//! comma-separated (`1.*,6.4.*`).

/// The ids a list names, as patterns.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Selection {
    /// Reads the lists; an empty pattern or a character other than
    /// digits, dots, `*` and letters is refused, naming it.
    pub fn new(include: Option<&str>, exclude: Option<&str>) -> Result<Selection, String> {
        Ok(Selection {
            include: patterns(include, "--cases")?,
            exclude: patterns(exclude, "--exclude")?,
        })
    }

    pub fn wants(&self, id: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob(p, id)))
            && !self.exclude.iter().any(|p| glob(p, id))
    }

    /// A pattern of `--cases` that matches none of these ids.
    pub fn unmatched<'a>(&'a self, ids: &[&str]) -> Option<&'a str> {
        self.include
            .iter()
            .find(|p| !ids.iter().any(|id| glob(p, id)))
            .map(String::as_str)
    }
}

fn patterns(list: Option<&str>, option: &str) -> Result<Vec<String>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .map(|p| {
            if p.is_empty() {
                Err(format!("{option}: an empty pattern in '{list}'"))
            } else if let Some(bad) = p
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '*' | '-' | '_')))
            {
                Err(format!(
                    "{option}: '{p}' has '{}'; a pattern is a case id with * globs, like 6.4.*",
                    bad.escape_default()
                ))
            } else {
                Ok(p.to_string())
            }
        })
        .collect()
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_the_suite_spells_them() {
        assert!(glob("1.*", "1.1.1"));
        assert!(!glob("1.*", "10.1.1"));
        assert!(glob("6.4.*", "6.4.3"));
        assert!(glob("*", "13.7.18"));
        assert!(glob("9.*.1", "9.7.1"));
        assert!(!glob("9.*.1", "9.7.2"));
        assert!(glob("7.1.1", "7.1.1"));
        assert!(!glob("7.1.1", "7.1.10"));
    }

    #[test]
    fn excluded_cases_win() {
        let s = Selection::new(Some("1.*,6.4.*"), Some("1.2.*")).unwrap();
        assert!(s.wants("1.1.3"));
        assert!(!s.wants("1.2.3"));
        assert!(s.wants("6.4.1"));
        assert!(!s.wants("6.3.1"));
        assert!(Selection::new(None, Some("9.*,12.*,13.*"))
            .unwrap()
            .wants("1.1.1"));
    }

    #[test]
    fn bad_patterns_are_named() {
        let e = Selection::new(Some("1.*,,2.*"), None).unwrap_err();
        assert!(e.contains("empty pattern"), "{e}");
        let e = Selection::new(None, Some("1.[1]")).unwrap_err();
        assert!(e.contains("'1.[1]' has '['"), "{e}");
        let s = Selection::new(Some("1.*,14.*"), None).unwrap();
        assert_eq!(s.unmatched(&["1.1.1", "2.1"]), Some("14.*"));
    }
}
