//! Proxies: which one applies (--proxy, or the usual environment
//! variables with NO_PROXY), and opening a tunnel through it: HTTP CONNECT
//! (with Basic credentials from the proxy URL), SOCKS5 with local name
//! resolution, or SOCKS5h with the proxy resolving the name.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Instant;

use url::Url;

use super::target::Target;
use super::tcp::{connect_any, IpVersion};
use crate::error::{fail, Failure, Stage};
use crate::http::head::{read_head, Stop};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    HttpConnect,
    Socks5,
    /// SOCKS5, the proxy resolving the host name.
    Socks5h,
}

#[derive(Debug, Clone)]
pub struct Proxy {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    /// `user:pass`, percent-decoded.
    pub credentials: Option<(String, String)>,
    /// Where the setting came from, for the connection facts.
    pub source: String,
}

impl Proxy {
    pub fn parse(input: &str, source: &str) -> Result<Proxy, Failure> {
        let bad = |why: String| fail(Stage::Usage, format!("proxy '{input}' ({source}): {why}"));
        // A bare host:port means an HTTP proxy, as curl takes it.
        let with_scheme = if input.contains("://") {
            input.to_string()
        } else {
            format!("http://{input}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
        let (kind, default_port) = match url.scheme() {
            "http" => (Kind::HttpConnect, 80),
            "socks5" => (Kind::Socks5, 1080),
            "socks5h" => (Kind::Socks5h, 1080),
            other => {
                return Err(bad(format!(
                    "unsupported proxy scheme '{other}': use http://, socks5:// or socks5h://"
                )))
            }
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => return Err(bad("it has no host".into())),
        };
        let credentials = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (decode(url.username()), decode(url.password().unwrap_or("")))
        });
        Ok(Proxy {
            kind,
            host,
            port: url.port().unwrap_or(default_port),
            credentials,
            source: source.to_string(),
        })
    }

    pub fn describe(&self) -> String {
        let kind = match self.kind {
            Kind::HttpConnect => "HTTP CONNECT",
            Kind::Socks5 => "SOCKS5",
            Kind::Socks5h => "SOCKS5h",
        };
        format!("{kind} proxy {}:{} ({})", self.host, self.port, self.source)
    }
}

/// The proxy for `target`: `--proxy` if given (an empty one means none),
/// else HTTPS_PROXY (wss) or HTTP_PROXY (ws), then ALL_PROXY, unless
/// NO_PROXY lists the host.
pub fn choose(target: &Target, flag: Option<&str>) -> Result<Option<Proxy>, Failure> {
    if let Some(flag) = flag {
        return if flag.is_empty() {
            Ok(None)
        } else {
            Proxy::parse(flag, "--proxy").map(Some)
        };
    }
    let names: &[&str] = if target.tls {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    let Some((name, value)) = names.iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| (*n, v))
    }) else {
        return Ok(None);
    };
    let no_proxy = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    if bypassed(&target.host, &no_proxy) {
        return Ok(None);
    }
    Proxy::parse(&value, name).map(Some)
}

/// NO_PROXY: `*`, or host names (matching subdomains too) and addresses.
fn bypassed(host: &str, no_proxy: &str) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|e| e == "*" || host == e || host.ends_with(&format!(".{e}")))
}

/// Opens TCP to the proxy and a tunnel through it to the target.
pub fn tunnel(
    proxy: &Proxy,
    target: &Target,
    ipv: Option<IpVersion>,
    timeout: std::time::Duration,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let addrs: Vec<SocketAddr> = (proxy.host.as_str(), proxy.port)
        .to_socket_addrs()
        .map_err(|e| {
            fail(
                Stage::Connect,
                format!("cannot resolve {}: {e}", proxy.describe()),
            )
        })?
        .collect();
    let (mut stream, addr) =
        connect_any(&addrs, ipv, timeout, &proxy.host, proxy.port).map_err(|f| {
            fail(
                Stage::Connect,
                format!("{} (the {})", f.message, proxy.describe()),
            )
        })?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| fail(Stage::Connect, e.to_string()))?;
    match proxy.kind {
        Kind::HttpConnect => http_connect(&mut stream, proxy, target, Instant::now() + timeout)?,
        Kind::Socks5 | Kind::Socks5h => socks5(&mut stream, proxy, target)?,
    }
    Ok((stream, addr))
}

fn http_connect(
    stream: &mut TcpStream,
    proxy: &Proxy,
    target: &Target,
    deadline: Instant,
) -> Result<(), Failure> {
    use base64::Engine;
    let authority = match target.host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", target.port),
        _ => format!("{}:{}", target.host, target.port),
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some((user, pass)) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let io = |e: std::io::Error| fail(Stage::Connect, format!("{}: {e}", proxy.describe()));
    stream.write_all(request.as_bytes()).map_err(io)?;
    let read = read_head(stream, deadline).map_err(|unread| {
        let got = unread.got_text();
        let how = match unread.stop {
            Stop::TimedOut => "did not answer CONNECT in time (--connect-timeout)".to_string(),
            Stop::Io(e) => format!("failed while answering CONNECT: {e}"),
            _ => "closed the connection before answering CONNECT".to_string(),
        };
        fail(
            Stage::Connect,
            format!("{} {how} (got {got})", proxy.describe()),
        )
    })?;
    // Nothing may follow the answer: the tunnel speaks when we do.
    if !read.leftover.is_empty() {
        return Err(fail(
            Stage::Connect,
            format!(
                "{} sent {} bytes after its answer to CONNECT, before the tunnel was used",
                proxy.describe(),
                read.leftover.len()
            ),
        ));
    }
    let head = read.head;
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if !status.starts_with('2') {
        // 407: the proxy wants credentials, which go in its URL.
        let hint = if status == "407" {
            "; give credentials in the proxy URL: http://USER:PASS@HOST:PORT"
        } else {
            ""
        };
        return Err(fail(
            Stage::Connect,
            format!(
                "{} refused CONNECT {authority}: {}{hint}",
                proxy.describe(),
                crate::escape::escape(status_line.trim())
            ),
        ));
    }
    Ok(())
}

fn socks5(stream: &mut TcpStream, proxy: &Proxy, target: &Target) -> Result<(), Failure> {
    let what = proxy.describe();
    let io = |e: std::io::Error| fail(Stage::Connect, format!("{what}: {e}"));
    let method = if proxy.credentials.is_some() {
        0x02
    } else {
        0x00
    };
    stream.write_all(&[5, 1, method]).map_err(io)?;
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).map_err(io)?;
    if reply[0] != 5 || reply[1] != method {
        return Err(fail(
            Stage::Connect,
            format!("{what} does not accept our authentication method (answered {reply:02x?})"),
        ));
    }
    if let Some((user, pass)) = &proxy.credentials {
        let mut auth = vec![1, user.len() as u8];
        auth.extend_from_slice(user.as_bytes());
        auth.push(pass.len() as u8);
        auth.extend_from_slice(pass.as_bytes());
        stream.write_all(&auth).map_err(io)?;
        stream.read_exact(&mut reply).map_err(io)?;
        if reply[1] != 0 {
            return Err(fail(
                Stage::Connect,
                format!("{what} rejected the user name and password"),
            ));
        }
    }
    let mut request = vec![5, 1, 0];
    match (proxy.kind, target.host.parse::<IpAddr>()) {
        (_, Ok(IpAddr::V4(ip))) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        (_, Ok(IpAddr::V6(ip))) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        (Kind::Socks5h, Err(_)) => {
            request.push(3);
            request.push(target.host.len() as u8);
            request.extend_from_slice(target.host.as_bytes());
        }
        (_, Err(_)) => {
            // socks5://: the name is resolved here.
            let addr = (target.host.as_str(), target.port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| {
                    fail(
                        Stage::Connect,
                        format!("cannot resolve host '{}'", target.host),
                    )
                })?;
            match addr.ip() {
                IpAddr::V4(ip) => {
                    request.push(1);
                    request.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    request.push(4);
                    request.extend_from_slice(&ip.octets());
                }
            }
        }
    }
    request.extend_from_slice(&target.port.to_be_bytes());
    stream.write_all(&request).map_err(io)?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).map_err(io)?;
    if head[1] != 0 {
        return Err(fail(
            Stage::Connect,
            format!(
                "{what} could not connect to {}:{}: {}",
                target.host,
                target.port,
                socks_reply(head[1])
            ),
        ));
    }
    // The bound address, which we do not need, in whichever form it came.
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).map_err(io)?;
            len[0] as usize + 2
        }
        other => {
            return Err(fail(
                Stage::Connect,
                format!("{what} sent address type {other}"),
            ));
        }
    };
    let mut skip = vec![0u8; rest];
    stream.read_exact(&mut skip).map_err(io)?;
    Ok(())
}

fn socks_reply(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "not allowed by the proxy's rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_of_each_kind() {
        let p = Proxy::parse("http://u:p%40ss@proxy.test:3128", "--proxy").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (Kind::HttpConnect, "proxy.test", 3128)
        );
        assert_eq!(p.credentials, Some(("u".into(), "p@ss".into())));
        assert_eq!(Proxy::parse("socks5h://127.0.0.1", "x").unwrap().port, 1080);
        assert_eq!(
            Proxy::parse("proxy.test:8080", "x").unwrap().kind,
            Kind::HttpConnect
        );
        let e = Proxy::parse("ftp://x", "--proxy").unwrap_err();
        assert!(
            e.message.contains("unsupported proxy scheme 'ftp'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn no_proxy_matches_hosts_and_subdomains() {
        assert!(bypassed("api.example.com", "localhost, .example.com"));
        assert!(bypassed("example.com", "example.com"));
        assert!(bypassed("anything", "*"));
        assert!(!bypassed("notexample.com", "example.com"));
        assert!(bypassed("127.0.0.1", "127.0.0.1"));
        assert!(!bypassed("127.0.0.1", ""));
    }
}
