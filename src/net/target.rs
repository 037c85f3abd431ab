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
    /// `ws+unix://` and `wss+unix://`: the Unix socket to connect to
    /// instead of host and port.
    pub unix: Option<std::path::PathBuf>,
}

impl Target {
    /// Whether `other` is the same origin: scheme, host and port, or the
    /// same socket file (over a Unix socket the origin is the socket; its
    /// stand-in host name says nothing). Credentials never cross origins.
    pub fn same_origin(&self, other: &Target) -> bool {
        (self.tls, &self.host, self.port, &self.unix)
            == (other.tls, &other.host, other.port, &other.unix)
    }

    pub fn parse(input: &str) -> Result<Target, Failure> {
        if let Some(rest) = input
            .strip_prefix("ws+unix://")
            .or_else(|| input.strip_prefix("wss+unix://"))
        {
            return Target::parse_unix(input, rest);
        }
        let url = Url::parse(input).map_err(|e| match meant(input) {
            Some(url) => fail(
                Stage::Usage,
                format!("'{input}' is not a URL: did you mean {url} ?"),
            ),
            None if !input.contains("://") => fail(
                Stage::Usage,
                format!("invalid URL '{input}': {e} (a URL looks like ws://host:port/path)"),
            ),
            None => fail(Stage::Usage, format!("invalid URL '{input}': {e}")),
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
                let message = match meant(input) {
                    Some(url) => format!("'{input}' has no scheme: did you mean {url} ?"),
                    None => {
                        format!("unsupported scheme '{other}' in '{input}': use ws:// or wss://")
                    }
                };
                return Err(fail(Stage::Usage, message));
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
            unix: None,
        })
    }

    /// `ws+unix:///run/app.sock:/path?query`, the convention of Node's `ws`:
    /// the socket's path, then after the first ':' the request's path.
    fn parse_unix(input: &str, rest: &str) -> Result<Target, Failure> {
        let bad = |why: &str| {
            fail(
                Stage::Usage,
                format!("invalid URL '{input}': {why} (e.g. ws+unix:///run/app.sock:/path)"),
            )
        };
        let (socket, resource) = match rest.split_once(':') {
            Some((socket, resource)) => (socket, resource),
            None => match rest.split_once('?') {
                Some((socket, query)) => (socket, &input[input.len() - query.len() - 1..]),
                None => (rest, "/"),
            },
        };
        if socket.is_empty() {
            return Err(bad("it names no socket path"));
        }
        check_socket_path(std::path::Path::new(socket)).map_err(|why| bad(&why))?;
        let resource = match resource {
            "" => "/".to_string(),
            r if r.starts_with('/') => r.to_string(),
            r if r.starts_with('?') => format!("/{r}"),
            _ => {
                return Err(bad(
                    "the request path after the socket path must start with '/'",
                ))
            }
        };
        if resource.contains('#') {
            return Err(bad("a WebSocket URL cannot have a #fragment (RFC 6455 §3)"));
        }
        if resource.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("the request path has spaces or control characters"));
        }
        let tls = input.starts_with("wss+unix:");
        // The URL kept for display, redirects and recorders: the socket
        // stands where a host would.
        let url = Url::parse(&format!(
            "{}://localhost{resource}",
            if tls { "wss" } else { "ws" }
        ))
        .map_err(|e| bad(&e.to_string()))?;
        Ok(Target {
            url,
            tls,
            host: "localhost".to_string(),
            port: if tls { 443 } else { 80 },
            resource,
            host_header: "localhost".to_string(),
            unix: Some(std::path::PathBuf::from(socket)),
        })
    }
}

/// The WebSocket URL a scheme-less `host:port[/path]` most likely meant:
/// `wss://` for port 443, `ws://` otherwise. None when the input has a
/// scheme of its own or would not be a valid URL even with one.
fn meant(input: &str) -> Option<String> {
    if input.contains("://") || input.is_empty() {
        return None;
    }
    let url = Url::parse(&format!("ws://{input}")).ok()?;
    match url.host() {
        Some(Host::Domain("")) => return None,
        None => return None,
        _ => {}
    }
    let scheme = if url.port() == Some(443) { "wss" } else { "ws" };
    let url = Url::parse(&format!("{scheme}://{input}")).ok()?;
    Some(url.to_string())
}

/// The longest path a Unix socket address holds (sun_path, less its NUL).
pub const UNIX_PATH_MAX: usize = {
    // SAFETY: an all-zero sockaddr_un is valid; only its field's size is read.
    let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_path.len() - 1
};

/// A socket path the platform can bind or connect to, or why not.
pub fn check_socket_path(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let len = path.as_os_str().as_bytes().len();
    if len > UNIX_PATH_MAX {
        return Err(format!(
            "the socket path is {len} bytes long; this platform allows at most {UNIX_PATH_MAX}"
        ));
    }
    if path.as_os_str().as_bytes().contains(&0) {
        return Err("the socket path contains a NUL byte".to_string());
    }
    Ok(())
}

impl Target {
    /// The URL as shown: over a Unix socket, the `ws+unix://` form, since
    /// `url` then stands in with localhost.
    pub fn shown(&self) -> String {
        match &self.unix {
            Some(path) => format!(
                "{}+unix://{}:{}",
                self.url.scheme(),
                path.display(),
                self.resource
            ),
            None => self.url.to_string(),
        }
    }

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
    fn a_url_without_its_scheme_gets_a_suggestion() {
        for (input, suggestion) in [
            ("127.0.0.1:8765", "did you mean ws://127.0.0.1:8765/ ?"),
            ("localhost:8765/", "did you mean ws://localhost:8765/ ?"),
            (
                "localhost:8765/chat?a=1",
                "did you mean ws://localhost:8765/chat?a=1 ?",
            ),
            (
                "example.test:443/feed",
                "did you mean wss://example.test/feed ?",
            ),
            ("[::1]:9000", "did you mean ws://[::1]:9000/ ?"),
        ] {
            let err = Target::parse(input).unwrap_err().to_string();
            assert!(err.contains(suggestion), "{input}: {err}");
        }
        // Nothing sensible to suggest: the plain complaint stays.
        let err = Target::parse("not a url at all").unwrap_err().to_string();
        assert!(err.contains("invalid URL"), "{err}");
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
    fn unix_socket_urls_split_the_socket_from_the_path() {
        let t = Target::parse("ws+unix:///run/app.sock:/chat?x=1").unwrap();
        assert_eq!(
            t.unix.as_deref(),
            Some(std::path::Path::new("/run/app.sock"))
        );
        assert_eq!(t.resource, "/chat?x=1");
        assert_eq!(t.host_header, "localhost");
        assert_eq!(t.shown(), "ws+unix:///run/app.sock:/chat?x=1");
        assert!(!t.tls);
        let t = Target::parse("wss+unix:///tmp/s").unwrap();
        assert!(t.tls);
        assert_eq!(t.resource, "/");
        assert_eq!(
            Target::parse("ws+unix://rel.sock:/p")
                .unwrap()
                .unix
                .as_deref(),
            Some(std::path::Path::new("rel.sock"))
        );
        for (bad, needle) in [
            ("ws+unix://", "no socket path"),
            ("ws+unix:///s:p", "must start with '/'"),
            (&format!("ws+unix:///{}:/", "a".repeat(200)), "at most"),
        ] {
            let err = Target::parse(bad).unwrap_err();
            assert_eq!(err.stage, Stage::Usage);
            assert!(err.message.contains(needle), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn bad_urls_are_usage_errors_naming_the_problem() {
        for (input, needle) in [
            ("http://example.test/", "use ws://"),
            ("https://example.test/", "use wss://"),
            ("ftp://example.test/", "unsupported scheme 'ftp'"),
            ("example.test", "did you mean ws://example.test/ ?"),
            ("exa mple", "a URL looks like"),
            ("ws://", "invalid URL"),
            ("ws://h/#frag", "fragment"),
        ] {
            let err = Target::parse(input).unwrap_err();
            assert_eq!(err.stage, Stage::Usage, "{input}");
            assert!(err.message.contains(needle), "{input}: {}", err.message);
        }
    }
}
