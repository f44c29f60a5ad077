//! tcp:// and http:// tries: a connect, or a GET whose status must be 2xx.
//!
//! Addresses that are IP literals (and `localhost`) are used as they are; other names
//! are resolved with tokio's resolver (which runs `getaddrinfo` off the loop's thread).
//! The HTTP client is deliberately minimal and strict: one HTTP/1.1 request with
//! `Connection: close`, the status line read (bounded) and nothing else; redirects are
//! reported, never followed.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use supervisor_config::Check;

/// The most bytes read while looking for the status line of an answer.
const MAX_STATUS_LINE: usize = 8 * 1024;

/// One try of a tcp:// or http:// check (the caller bounds its time; `timeout` only
/// words messages). `Err` is the reason, as the spawnerr and description show it.
pub async fn try_once(check: &Check, timeout: Duration) -> Result<(), String> {
    match check {
        Check::Tcp { host, port } => connect(host, *port).await.map(drop),
        Check::Http { host, port, path } => {
            let mut s = connect(host, *port).await?;
            http_get(&mut s, host, *port, path, timeout).await
        }
        other => Err(format!("{} is not a network check", other.kind())),
    }
}

/// The addresses of `host:port`, literal addresses and `localhost` without a lookup.
async fn addresses(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host == "localhost" {
        return Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {}", reason(&e)))?
        .collect();
    if found.is_empty() {
        return Err(format!("cannot resolve {host}"));
    }
    Ok(found)
}

/// Connects to the first address of `host:port` that accepts.
async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for addr in addresses(host, port).await? {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = reason(&e),
        }
    }
    Err(last)
}

/// A short, lower-case reason for an I/O error (`connection refused`).
pub fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::UnexpectedEof => "connection closed without an answer".into(),
        _ => {
            let mut s = e.to_string();
            // "Network is unreachable (os error 101)" -> "network is unreachable"
            if let Some(i) = s.find(" (os error") {
                s.truncate(i);
            }
            s.to_lowercase()
        }
    }
}

/// Sends `GET path` and checks the status of the answer.
async fn http_get(
    s: &mut TcpStream,
    host: &str,
    port: u16,
    path: &str,
    _timeout: Duration,
) -> Result<(), String> {
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: supervisor-rs-probe\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes())
        .await
        .map_err(|e| reason(&e))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            return status_verdict(&buf[..end]);
        }
        if buf.len() >= MAX_STATUS_LINE {
            return Err("the answer's status line is too long".into());
        }
        let n = s.read(&mut chunk).await.map_err(|e| reason(&e))?;
        if n == 0 {
            if buf.is_empty() {
                return Err("connection closed without an answer".into());
            }
            return status_verdict(&buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// 2xx passes; anything else is a failure naming the status.
pub fn status_verdict(line: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err("not an HTTP answer".into());
    }
    match code.as_bytes()[0] {
        b'2' => Ok(()),
        b'3' => Err(format!("HTTP {code} (redirects are not followed)")),
        _ => Err(format!("HTTP {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_verdict(b"HTTP/1.1 200 OK"), Ok(()));
        assert_eq!(status_verdict(b"HTTP/1.0 204"), Ok(()));
        assert_eq!(
            status_verdict(b"HTTP/1.1 503 Service Unavailable"),
            Err("HTTP 503".into())
        );
        assert_eq!(
            status_verdict(b"HTTP/1.1 302 Found"),
            Err("HTTP 302 (redirects are not followed)".into())
        );
        assert_eq!(
            status_verdict(b"SSH-2.0-OpenSSH"),
            Err("not an HTTP answer".into())
        );
        assert_eq!(
            status_verdict(b"HTTP/1.1 20x"),
            Err("not an HTTP answer".into())
        );
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn tcp_refused_then_open() {
        rt().block_on(async {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let check = Check::Tcp {
                host: "127.0.0.1".into(),
                port,
            };
            assert_eq!(try_once(&check, Duration::from_secs(1)).await, Ok(()));
            drop(l);
            assert_eq!(
                try_once(&check, Duration::from_secs(1)).await,
                Err("connection refused".into())
            );
        });
    }

    #[test]
    fn http_status_decides() {
        rt().block_on(async {
            for (answer, want) in [
                (&b"HTTP/1.0 200 OK\r\n\r\nhi"[..], Ok(())),
                (
                    b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
                    Err("HTTP 500".to_string()),
                ),
                (b"", Err("connection closed without an answer".to_string())),
            ] {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let port = l.local_addr().unwrap().port();
                let server = tokio::spawn(async move {
                    let (mut s, _) = l.accept().await.unwrap();
                    let mut req = vec![0u8; 1024];
                    let n = s.read(&mut req).await.unwrap();
                    s.write_all(answer).await.unwrap();
                    String::from_utf8_lossy(&req[..n]).into_owned()
                });
                let check = Check::Http {
                    host: "127.0.0.1".into(),
                    port,
                    path: "/healthz?x=1".into(),
                };
                assert_eq!(try_once(&check, Duration::from_secs(1)).await, want);
                let req = server.await.unwrap();
                assert!(req.starts_with("GET /healthz?x=1 HTTP/1.1\r\n"), "{req}");
                assert!(
                    req.contains(&format!("Host: 127.0.0.1:{port}\r\n")),
                    "{req}"
                );
            }
        });
    }
}
