//! The URL the user gave, checked once and reduced to what the connection
//! needs: where to connect, whether to use TLS, and what to ask for.

use url::{Host, Url};

use crate::error::{fail, Failure, Stage};

#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub tls: bool,
    /// Host name or address literal, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, as sent in the request line.
    pub resource: String,
    /// The Host header: brackets for IPv6, port only when not the default.
    pub host_header: String,
}

impl Target {
    pub fn parse(input: &str) -> Result<Target, Failure> {
        let url = Url::parse(input).map_err(|e| {
            let hint = if !input.contains("://") {
                " (a URL looks like ws://host:port/path)"
            } else {
                ""
            };
            fail(Stage::Usage, format!("invalid URL '{input}': {e}{hint}"))
        })?;
        let tls = match url.scheme() {
            "ws" => false,
            "wss" => true,
            "http" | "https" => {
                let ws = if url.scheme() == "https" { "wss" } else { "ws" };
                return Err(fail(
                    Stage::Usage,
                    format!(
                        "unsupported scheme '{}' in '{input}': use {ws}:// for a WebSocket",
                        url.scheme()
                    ),
                ));
            }
            other => {
                return Err(fail(
                    Stage::Usage,
                    format!("unsupported scheme '{other}' in '{input}': use ws:// or wss://"),
                ))
            }
        };
        let (host, host_literal) = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => (d.to_string(), d.to_string()),
            Some(Host::Ipv4(ip)) => (ip.to_string(), ip.to_string()),
            Some(Host::Ipv6(ip)) => (ip.to_string(), format!("[{ip}]")),
            _ => {
                return Err(fail(
                    Stage::Usage,
                    format!("invalid URL '{input}': it has no host"),
                ))
            }
        };
        if url.fragment().is_some() {
            return Err(fail(
                Stage::Usage,
                format!(
                    "invalid URL '{input}': a WebSocket URL cannot have a #fragment (RFC 6455 §3)"
                ),
            ));
        }
        let default_port = if tls { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        let host_header = if port == default_port {
            host_literal
        } else {
            format!("{host_literal}:{port}")
        };
        let mut resource = url.path().to_string();
        if resource.is_empty() {
            resource.push('/');
        }
        if let Some(q) = url.query() {
            resource.push('?');
            resource.push_str(q);
        }
        Ok(Target {
            url,
            tls,
            host,
            port,
            resource,
            host_header,
        })
    }
}

impl Target {
    /// `user:pass` from the URL, percent-decoded, for Basic auth.
    pub fn credentials(&self) -> Option<String> {
        if self.url.username().is_empty() {
            return None;
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let user = decode(self.url.username());
        let pass = decode(self.url.password().unwrap_or(""));
        Some(format!("{user}:{pass}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_host_with_path_and_query() {
        let t = Target::parse("ws://example.test:9000/chat/room?id=7&x=y").unwrap();
        assert!(!t.tls);
        assert_eq!((t.host.as_str(), t.port), ("example.test", 9000));
        assert_eq!(t.resource, "/chat/room?id=7&x=y");
        assert_eq!(t.host_header, "example.test:9000");
    }

    #[test]
    fn credentials_come_from_the_url() {
        let t = Target::parse("ws://ann:p%40ss@example.test/").unwrap();
        assert_eq!(t.credentials().as_deref(), Some("ann:p@ss"));
        assert_eq!(
            Target::parse("ws://example.test/").unwrap().credentials(),
            None
        );
    }

    #[test]
    fn default_ports_are_left_out_of_host_header() {
        let t = Target::parse("wss://example.test").unwrap();
        assert!(t.tls);
        assert_eq!(t.port, 443);
        assert_eq!(t.resource, "/");
        assert_eq!(t.host_header, "example.test");
        assert_eq!(Target::parse("ws://example.test/").unwrap().port, 80);
    }

    #[test]
    fn ipv6_literal_keeps_brackets_in_host_header() {
        let t = Target::parse("ws://[::1]:8080/x").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.host_header, "[::1]:8080");
    }

    #[test]
    fn bad_urls_are_usage_errors_naming_the_problem() {
        for (input, needle) in [
            ("http://example.test/", "use ws://"),
            ("https://example.test/", "use wss://"),
            ("ftp://example.test/", "unsupported scheme 'ftp'"),
            ("example.test", "a URL looks like"),
            ("ws://", "invalid URL"),
            ("ws://h/#frag", "fragment"),
        ] {
            let err = Target::parse(input).unwrap_err();
            assert_eq!(err.stage, Stage::Usage, "{input}");
            assert!(err.message.contains(needle), "{input}: {}", err.message);
        }
    }
}
