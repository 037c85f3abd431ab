//! Extension negotiation (RFC 6455 §9, RFC 7692 §7): the offers a request
//! makes, the answer a server gives, checked parameter by parameter, and
//! what a server accepts. permessage-deflate is the one wscope speaks.

/// One extension in a header: its name and its parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

/// Parses a Sec-WebSocket-Extensions value (several headers joined with
/// commas): `name; param; param=value, name2`.
pub fn parse(value: &str) -> Vec<Extension> {
    value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().filter(|n| !n.is_empty())?.to_string();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_ascii_lowercase(),
                        Some(v.trim().trim_matches('"').to_string()),
                    ),
                    None => (p.to_ascii_lowercase(), None),
                })
                .collect();
            Some(Extension { name, params })
        })
        .collect()
}

pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// What `--deflate` offers, as browsers do.
pub const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Negotiated permessage-deflate parameters (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deflate {
    /// The server starts each message it sends with a fresh window.
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// LZ77 window sizes, 8-15 (15 when not given).
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

/// Which window sizes an offer named with a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Named {
    pub server_max_window_bits: bool,
    pub client_max_window_bits: bool,
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

impl Deflate {
    /// The same agreement seen from the other end: what the server's side
    /// says of itself is what the client's side says of its peer.
    pub fn swapped(self) -> Deflate {
        Deflate {
            server_no_context_takeover: self.client_no_context_takeover,
            client_no_context_takeover: self.server_no_context_takeover,
            server_max_window_bits: self.client_max_window_bits,
            client_max_window_bits: self.server_max_window_bits,
        }
    }

    /// The parameters as a response header value. A window size is
    /// named when it is not the default, or when the offer named it: a
    /// server that accepts `server_max_window_bits=15` answers with it
    /// (RFC 7692 §7.1.2.1), and some clients refuse an answer without it.
    pub fn header_value(&self, offered: Named) -> String {
        let mut value = PERMESSAGE_DEFLATE.to_string();
        if self.server_no_context_takeover {
            value.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            value.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits != 15 || offered.server_max_window_bits {
            value.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits != 15 || offered.client_max_window_bits {
            value.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        value
    }

    /// One line for the connection facts.
    pub fn describe(&self) -> String {
        format!(
            "permessage-deflate: server window {} bits{}, client window {} bits{}",
            self.server_max_window_bits,
            if self.server_no_context_takeover {
                ", no context takeover"
            } else {
                ""
            },
            self.client_max_window_bits,
            if self.client_no_context_takeover {
                ", no context takeover"
            } else {
                ""
            },
        )
    }
}

/// A window-bits value: 8 to 15 (RFC 7692 §7.1.2).
fn window_bits(name: &str, value: Option<&str>) -> Result<u8, String> {
    let value = value.ok_or_else(|| format!("{name} needs a value (8-15) (RFC 7692 §7.1.2)"))?;
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) if !value.starts_with('0') => Ok(bits),
        _ => Err(format!(
            "{name}={value} is not a window size of 8 to 15 bits (RFC 7692 §7.1.2)"
        )),
    }
}

/// Checks a server's permessage-deflate answer against what the client
/// offered (RFC 7692 §7.1): every parameter known, none repeated, values
/// in range, client_max_window_bits only if offered. The offer's own
/// limits bind the answer too.
pub fn accept_answer(answer: &Extension, offer: &Extension) -> Result<Deflate, String> {
    let mut deflate = Deflate::default();
    let mut seen: Vec<&str> = Vec::new();
    let offered = |name: &str| offer.params.iter().find(|(k, _)| k == name);
    for (key, value) in &answer.params {
        if seen.contains(&key.as_str()) {
            return Err(format!(
                "the server's permessage-deflate repeats {key} (RFC 7692 §7.1)"
            ));
        }
        seen.push(key);
        let value = value.as_deref();
        match key.as_str() {
            "server_no_context_takeover" | "client_no_context_takeover" if value.is_some() => {
                return Err(format!(
                    "the server's {key} has a value; it takes none (RFC 7692 §7.1.1)"
                ))
            }
            "server_no_context_takeover" => deflate.server_no_context_takeover = true,
            "client_no_context_takeover" => deflate.client_no_context_takeover = true,
            "server_max_window_bits" => {
                let bits = window_bits(key, value).map_err(|e| format!("the server's {e}"))?;
                if let Some((_, Some(limit))) = offered(key) {
                    if limit.parse::<u8>().is_ok_and(|limit| bits > limit) {
                        return Err(format!(
                            "the server chose server_max_window_bits={bits}, over the {limit} offered (RFC 7692 §7.1.2.1)"
                        ));
                    }
                }
                deflate.server_max_window_bits = bits;
            }
            "client_max_window_bits" => {
                let Some((_, limit)) = offered(key) else {
                    return Err(
                        "the server sent client_max_window_bits, which was not offered (RFC 7692 §7.1.2.2)"
                            .into(),
                    );
                };
                let bits = window_bits(key, value).map_err(|e| format!("the server's {e}"))?;
                if let Some(limit) = limit.as_deref().and_then(|l| l.parse::<u8>().ok()) {
                    if bits > limit {
                        return Err(format!(
                            "the server chose client_max_window_bits={bits}, over the {limit} offered (RFC 7692 §7.1.2.2)"
                        ));
                    }
                }
                deflate.client_max_window_bits = bits;
            }
            other => {
                return Err(format!(
                    "the server's permessage-deflate has an unknown parameter '{other}' (RFC 7692 §7.1)"
                ))
            }
        }
    }
    // The client's own limit on its window binds it whether or not the
    // server repeats it.
    if let Some((_, Some(limit))) = offered("client_max_window_bits") {
        if let Ok(limit @ 8..=15) = limit.parse::<u8>() {
            deflate.client_max_window_bits = deflate.client_max_window_bits.min(limit);
        }
    }
    if offered("client_no_context_takeover").is_some() {
        deflate.client_no_context_takeover = true;
    }
    Ok(deflate)
}

/// As a server: the first permessage-deflate offer that can be accepted,
/// and the answer to it, with the parameters it asked for (RFC 7692 §7.1).
pub fn choose(offers: &[Extension]) -> Option<(Deflate, String)> {
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| {
            let mut deflate = Deflate::default();
            let mut named = Named::default();
            let mut seen: Vec<&str> = Vec::new();
            for (key, value) in &offer.params {
                if seen.contains(&key.as_str()) {
                    return None;
                }
                seen.push(key);
                let value = value.as_deref();
                match key.as_str() {
                    "server_no_context_takeover" if value.is_none() => {
                        deflate.server_no_context_takeover = true
                    }
                    "client_no_context_takeover" if value.is_none() => {
                        deflate.client_no_context_takeover = true
                    }
                    "server_max_window_bits" => {
                        deflate.server_max_window_bits = window_bits(key, value).ok()?;
                        named.server_max_window_bits = true;
                    }
                    // Without a value the client only says it can take a
                    // limit; with one, it is the limit.
                    "client_max_window_bits" => {
                        if value.is_some() {
                            deflate.client_max_window_bits = window_bits(key, value).ok()?;
                            named.client_max_window_bits = true;
                        }
                    }
                    _ => return None,
                }
            }
            Some((deflate, deflate.header_value(named)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Extension {
        parse(value).remove(0)
    }

    #[test]
    fn headers_parse_into_names_and_parameters() {
        let parsed = parse("permessage-deflate; client_max_window_bits, x-foo; a=\"1\"; B");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].params, [("client_max_window_bits".into(), None)]);
        assert_eq!(
            parsed[1].params,
            [("a".into(), Some("1".into())), ("b".into(), None)]
        );
    }

    #[test]
    fn a_good_answer_gives_its_parameters() {
        let offer = one(DEFLATE_OFFER);
        let d = accept_answer(
            &one("permessage-deflate; server_no_context_takeover; client_max_window_bits=10"),
            &offer,
        )
        .unwrap();
        assert!(d.server_no_context_takeover && !d.client_no_context_takeover);
        assert_eq!(
            (d.server_max_window_bits, d.client_max_window_bits),
            (15, 10)
        );
        assert_eq!(
            accept_answer(&one("permessage-deflate"), &offer).unwrap(),
            Deflate::default()
        );
    }

    #[test]
    fn bad_answers_name_the_rule() {
        let offer = one("permessage-deflate");
        for (answer, needle) in [
            (
                "permessage-deflate; client_max_window_bits=10",
                "not offered",
            ),
            ("permessage-deflate; server_max_window_bits=16", "8 to 15"),
            (
                "permessage-deflate; server_max_window_bits",
                "needs a value",
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                "takes none",
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                "repeats",
            ),
            ("permessage-deflate; mystery", "unknown parameter"),
        ] {
            let e = accept_answer(&one(answer), &offer).unwrap_err();
            assert!(e.contains(needle), "{answer}: {e}");
        }
        let limited = one("permessage-deflate; server_max_window_bits=10");
        let e = accept_answer(
            &one("permessage-deflate; server_max_window_bits=12"),
            &limited,
        )
        .unwrap_err();
        assert!(e.contains("over the 10 offered"), "{e}");
    }

    #[test]
    fn a_server_accepts_what_the_client_asked_for() {
        let offers = parse(
            "x-unknown, permessage-deflate; client_max_window_bits=12; server_no_context_takeover",
        );
        let (d, answer) = choose(&offers).unwrap();
        assert!(d.server_no_context_takeover);
        assert_eq!(d.client_max_window_bits, 12);
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
        );
        assert_eq!(choose(&parse("permessage-deflate; bogus")), None);
        assert_eq!(
            choose(&parse("permessage-deflate; client_max_window_bits")),
            Some((Deflate::default(), "permessage-deflate".into()))
        );
        assert_eq!(choose(&parse("x-webkit-deflate-frame")), None);
    }

    #[test]
    fn a_window_size_the_offer_named_is_answered_even_at_15() {
        for (offer, answer) in [
            (
                "permessage-deflate; server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=15",
            ),
            (
                "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
            ),
            (
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits",
                "permessage-deflate; server_max_window_bits=12",
            ),
        ] {
            let (deflate, got) = choose(&parse(offer)).unwrap();
            assert_eq!(got, answer, "{offer}");
            // What the answer says is what a client takes from it.
            assert_eq!(
                accept_answer(&one(&got), &one(offer)),
                Ok(deflate),
                "{offer}"
            );
        }
    }
}
