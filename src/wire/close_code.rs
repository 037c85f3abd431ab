//! Close codes (RFC 6455 §7.4): their names, and which may appear on the wire.

/// Registered codes with the short names users type and see.
const NAMES: &[(u16, &str)] = &[
    (1000, "normal"),
    (1001, "going-away"),
    (1002, "protocol-error"),
    (1003, "unsupported-data"),
    (1005, "no-status"),
    (1006, "abnormal"),
    (1007, "invalid-payload"),
    (1008, "policy-violation"),
    (1009, "message-too-big"),
    (1010, "mandatory-extension"),
    (1011, "internal-error"),
    (1012, "service-restart"),
    (1013, "try-again-later"),
    (1014, "bad-gateway"),
    (1015, "tls-handshake"),
];

pub fn name(code: u16) -> Option<&'static str> {
    NAMES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

pub fn by_name(word: &str) -> Option<u16> {
    let word = word.to_ascii_lowercase().replace('_', "-");
    NAMES.iter().find(|(_, n)| *n == word).map(|(c, _)| *c)
}

/// All codes with their names, for completion.
pub fn named() -> impl Iterator<Item = (u16, &'static str)> {
    NAMES.iter().copied()
}

/// Why a code may not be sent in a Close frame, or `None` if it may
/// (RFC 6455 §7.4.1 and §7.4.2).
pub fn forbidden_on_wire(code: u16) -> Option<&'static str> {
    match code {
        0..=999 => Some("codes below 1000 are not used (RFC 6455 §7.4.2)"),
        1004 => Some("1004 is reserved (RFC 6455 §7.4.1)"),
        1005 | 1006 | 1015 => Some(
            "1005, 1006 and 1015 are for reporting only and must not be sent (RFC 6455 §7.4.1)",
        ),
        1016..=2999 => {
            Some("1016-2999 are reserved for future RFCs and unassigned (RFC 6455 §7.4.2)")
        }
        5000.. => Some("codes above 4999 are not defined (RFC 6455 §7.4.2)"),
        _ => None,
    }
}

/// "1000 (normal)" or "4000" for codes without a name.
pub fn describe(code: u16) -> String {
    match name(code) {
        Some(n) => format!("{code} ({n})"),
        None => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions() {
        assert_eq!(name(1001), Some("going-away"));
        assert_eq!(describe(1011), "1011 (internal-error)");
        assert_eq!(describe(4000), "4000");
        assert_eq!(by_name("policy_violation"), Some(1008));
        assert_eq!(by_name("Normal"), Some(1000));
        assert_eq!(by_name("nope"), None);
    }

    #[test]
    fn wire_rules_follow_rfc_6455() {
        for ok in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert_eq!(forbidden_on_wire(ok), None, "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(forbidden_on_wire(bad).is_some(), "{bad}");
        }
    }
}
