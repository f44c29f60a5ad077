//! A small blocking HTTP/1.1 client over a unix socket or TCP.
//!
//! It does what `supervisorctl` needs and nothing more: `POST /RPC2` on one persistent
//! (keep-alive) connection, and streaming `GET`s of `/logtail/...` and `/mainlogtail` whose
//! chunked bodies are handed to a callback as they arrive. Standard library only.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::CtlError;

/// The largest response body we accept (a `readLog` of a huge file is still far below).
pub const MAX_BODY: usize = 256 * 1024 * 1024;
/// The longest status or header line we accept.
const MAX_LINE: usize = 64 * 1024;

/// Where the server listens, parsed from a `serverurl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///path/to/socket`.
    Unix(PathBuf),
    /// `http://host[:port]` (port 80 when absent).
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// `https://host[:port]` (port 443 when absent; see [`crate::tls`]).
    Https {
        /// Host name or address (what the server's certificate must name).
        host: String,
        /// TCP port.
        port: u16,
    },
}

impl Endpoint {
    /// Parses a server URL the way the reference's transport does: `http://` and
    /// `unix://` (and, beyond the reference, `https://`); anything else is the reference's
    /// `ValueError`.
    pub fn from_serverurl(url: &str) -> Result<Endpoint, CtlError> {
        if let Some(rest) = url.strip_prefix("http://") {
            let netloc = rest.split(['/', '?', '#']).next().unwrap_or("");
            let hostport = netloc.rsplit('@').next().unwrap_or("");
            let (host, port) = split_host_port(hostport, 80)?;
            Ok(Endpoint::Tcp { host, port })
        } else if let Some(rest) = url.strip_prefix("https://") {
            let netloc = rest.split(['/', '?', '#']).next().unwrap_or("");
            let hostport = netloc.rsplit('@').next().unwrap_or("");
            let (host, port) = split_host_port(hostport, 443)?;
            Ok(Endpoint::Https { host, port })
        } else if let Some(path) = url.strip_prefix("unix://") {
            Ok(Endpoint::Unix(PathBuf::from(path)))
        } else {
            Err(CtlError::value_error(format!(
                "Unknown protocol for serverurl {url}"
            )))
        }
    }

    /// The `Host:` header value (`localhost` for unix sockets, as the reference sends).
    pub fn host_header(&self) -> String {
        match self {
            Endpoint::Unix(_) => "localhost".into(),
            Endpoint::Tcp { host, port } | Endpoint::Https { host, port } => {
                let h = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.clone()
                };
                let default = if matches!(self, Endpoint::Https { .. }) {
                    443
                } else {
                    80
                };
                if *port == default {
                    h
                } else {
                    format!("{h}:{port}")
                }
            }
        }
    }

    /// Opens a new connection.
    pub fn connect(&self) -> io::Result<Stream> {
        match self {
            Endpoint::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path)?)),
            Endpoint::Tcp { host, port } => {
                let s = TcpStream::connect((host.as_str(), *port))?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            Endpoint::Https { host, port } => {
                Ok(Stream::Tls(Box::new(crate::tls::connect(host, *port)?)))
            }
        }
    }
}

fn split_host_port(hostport: &str, default_port: u16) -> Result<(String, u16), CtlError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h.to_string(), tail.strip_prefix(':')),
            None => return Err(CtlError::value_error("Invalid IPv6 URL")),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) => match p.parse::<u32>() {
            Ok(n) if n <= 65535 => n as u16,
            Ok(_) => return Err(CtlError::value_error("Port out of range 0-65535")),
            Err(_) => {
                return Err(CtlError::value_error(format!(
                    "Port could not be cast to integer value as '{p}'"
                )))
            }
        },
    };
    Ok((host.to_lowercase(), port))
}

/// A connected socket of either family.
#[derive(Debug)]
pub enum Stream {
    /// Unix-domain stream socket.
    Unix(UnixStream),
    /// TCP socket.
    Tcp(TcpStream),
    /// TLS over TCP (`https://`).
    Tls(Box<crate::tls::TlsStream>),
}

impl Stream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Tls(s) => s.sock.set_read_timeout(d),
        }
    }

    fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Tls(s) => s.sock.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A complete HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Body bytes (de-chunked).
    pub body: Vec<u8>,
}

/// The head of a response: status line and the headers we act on.
#[derive(Debug, Default)]
struct Head {
    status: u16,
    reason: String,
    content_length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
}

/// The value of a Basic `Authorization` header for these credentials.
pub use supervisor_protocol::basic_auth::header_value as basic_auth;

/// The XML-RPC client connection: `POST /RPC2` on a kept-alive connection.
pub struct HttpClient {
    endpoint: Endpoint,
    authorization: Option<String>,
    conn: Option<BufReader<Stream>>,
}

impl HttpClient {
    /// A client for this endpoint; `authorization` is a full header value or none.
    pub fn new(endpoint: Endpoint, authorization: Option<String>) -> HttpClient {
        HttpClient {
            endpoint,
            authorization,
            conn: None,
        }
    }

    /// Sends one POST and reads the whole response. A reused connection that turns out to
    /// be closed by the server is replaced once.
    pub fn post(&mut self, path: &str, body: &[u8]) -> io::Result<Response> {
        let reused = self.conn.is_some();
        match self.post_once(path, body) {
            Err(e) if reused && is_stale(&e) => {
                self.conn = None;
                self.post_once(path, body)
            }
            other => other,
        }
    }

    fn post_once(&mut self, path: &str, body: &[u8]) -> io::Result<Response> {
        if self.conn.is_none() {
            self.conn = Some(BufReader::new(self.endpoint.connect()?));
        }
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\nUser-Agent: supervisor-rs supervisorctl\r\nContent-Type: text/xml\r\nAccept: text/xml\r\n",
            self.endpoint.host_header()
        );
        if let Some(a) = &self.authorization {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let result = (|| {
            let conn = self.conn.as_mut().expect("connected above");
            let w = conn.get_mut();
            w.write_all(req.as_bytes())?;
            w.write_all(body)?;
            w.flush()?;
            let head = read_head(conn)?;
            let body = read_body(conn, &head)?;
            Ok((head, body))
        })();
        match result {
            Ok((head, body)) => {
                if !head.keep_alive || head.status != 200 {
                    self.conn = None;
                }
                Ok(Response {
                    status: head.status,
                    reason: head.reason,
                    body,
                })
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }
}

fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

fn read_line_limited(r: &mut impl BufRead) -> io::Result<String> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "Remote end closed connection without response",
        ));
    }
    if !buf.ends_with(b"\n") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "response line too long or truncated",
        ));
    }
    while buf.last() == Some(&b'\n') || buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let line = read_line_limited(r)?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad status line {line:?}"),
        ));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    let reason = parts.next().unwrap_or("").trim().to_string();
    let mut head = Head {
        status,
        reason,
        keep_alive: version == "HTTP/1.1",
        ..Head::default()
    };
    for _ in 0..200 {
        let h = read_line_limited(r)?;
        if h.is_empty() {
            return Ok(head);
        }
        if let Some((name, value)) = h.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => head.content_length = value.parse().ok(),
                "transfer-encoding" => head.chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => {
                    if value.eq_ignore_ascii_case("close") {
                        head.keep_alive = false;
                    } else if value.eq_ignore_ascii_case("keep-alive") {
                        head.keep_alive = true;
                    }
                }
                _ => {}
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "too many headers",
    ))
}

fn read_body(r: &mut impl BufRead, head: &Head) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if head.chunked {
        let mut dec = ChunkDecoder::default();
        let mut buf = [0u8; 16 * 1024];
        while !dec.done {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a chunked body",
                ));
            }
            dec.feed(&buf[..n], &mut |d| body.extend_from_slice(d))?;
            if body.len() > MAX_BODY {
                return Err(too_big());
            }
        }
    } else if let Some(len) = head.content_length {
        if len > MAX_BODY {
            return Err(too_big());
        }
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else if !head.keep_alive {
        r.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
        if body.len() > MAX_BODY {
            return Err(too_big());
        }
    }
    Ok(body)
}

fn too_big() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "response body too large")
}

/// Incremental decoder of a chunked transfer-encoded body.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    /// Bytes still to read of the current chunk's data.
    remaining: usize,
    /// Partial size line (or CRLF after the data) being collected.
    line: Vec<u8>,
    /// Expecting the CRLF that ends a chunk's data.
    want_crlf: bool,
    /// The terminating zero-size chunk was seen.
    pub done: bool,
}

impl ChunkDecoder {
    /// Feeds raw bytes; decoded data is passed to `out`. Trailers are skipped.
    pub fn feed(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        while !input.is_empty() && !self.done {
            if self.remaining > 0 {
                let n = self.remaining.min(input.len());
                out(&input[..n]);
                self.remaining -= n;
                input = &input[n..];
                if self.remaining == 0 {
                    self.want_crlf = true;
                }
                continue;
            }
            // collect a line
            match input.iter().position(|&b| b == b'\n') {
                None => {
                    self.line.extend_from_slice(input);
                    if self.line.len() > MAX_LINE {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "chunk size line too long",
                        ));
                    }
                    return Ok(());
                }
                Some(i) => {
                    self.line.extend_from_slice(&input[..i]);
                    input = &input[i + 1..];
                    let line = std::mem::take(&mut self.line);
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim();
                    if self.want_crlf {
                        self.want_crlf = false;
                        if !text.is_empty() {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "missing CRLF after chunk",
                            ));
                        }
                        continue;
                    }
                    if text.is_empty() {
                        continue;
                    }
                    let size_text = text.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("bad chunk size {size_text:?}"),
                        )
                    })?;
                    if size == 0 {
                        self.done = true;
                    } else {
                        self.remaining = size;
                    }
                }
            }
        }
        Ok(())
    }
}

/// How a streaming GET ended.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The caller asked to stop (Ctrl-C).
    Stopped,
    /// The server ended the body.
    Finished,
    /// The server answered with a non-200 status (the body is ignored).
    Status(u16),
}

/// GETs `path` and hands body bytes to `on_data` as they arrive, until the body ends,
/// the server answers non-200, `stop` becomes true (checked every 100 ms), or `on_data`
/// returns false (e.g. stdout was closed).
pub fn stream_get(
    endpoint: &Endpoint,
    path: &str,
    authorization: Option<&str>,
    stop: &AtomicBool,
    on_data: &mut dyn FnMut(&[u8]) -> bool,
) -> io::Result<StreamEnd> {
    let stream = endpoint.connect()?;
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut conn = BufReader::new(stream);
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: chunked\r\nAccept: */*\r\nUser-agent: supervisor-rs supervisorctl\r\n",
        endpoint.host_header()
    );
    if let Some(a) = authorization {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    conn.get_mut().write_all(req.as_bytes())?;
    // Read the head, tolerating read timeouts so that Ctrl-C works while waiting.
    if stop.load(Ordering::SeqCst) {
        conn.get_ref().shutdown();
        return Ok(StreamEnd::Stopped);
    }
    let Some(head) = read_head_retrying(&mut conn, stop)? else {
        conn.get_ref().shutdown();
        return Ok(StreamEnd::Stopped);
    };
    if head.status != 200 {
        conn.get_ref().shutdown();
        return Ok(StreamEnd::Status(head.status));
    }
    let mut dec = ChunkDecoder::default();
    let mut left = head.content_length;
    let mut buf = [0u8; 16 * 1024];
    loop {
        if stop.load(Ordering::SeqCst) {
            conn.get_ref().shutdown();
            return Ok(StreamEnd::Stopped);
        }
        let n = match conn.read(&mut buf) {
            Ok(0) => return Ok(StreamEnd::Finished),
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        };
        let mut keep_going = true;
        if head.chunked {
            dec.feed(&buf[..n], &mut |d| keep_going &= on_data(d))?;
            if dec.done {
                return Ok(StreamEnd::Finished);
            }
        } else if let Some(l) = left.as_mut() {
            let take = n.min(*l);
            keep_going = on_data(&buf[..take]);
            *l -= take;
            if *l == 0 {
                return Ok(StreamEnd::Finished);
            }
        } else {
            keep_going = on_data(&buf[..n]);
        }
        if !keep_going {
            conn.get_ref().shutdown();
            return Ok(StreamEnd::Finished);
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Reads the response head; a read timeout restarts from what was buffered so far
/// (the head is collected byte-exactly in a local buffer). `None` = stopped.
fn read_head_retrying(conn: &mut BufReader<Stream>, stop: &AtomicBool) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        match conn.read(&mut byte) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "Remote end closed connection without response",
                ))
            }
            Ok(_) => {
                raw.push(byte[0]);
                if raw.ends_with(b"\r\n\r\n") || raw.ends_with(b"\n\n") {
                    let mut cursor = io::Cursor::new(raw);
                    return read_head(&mut cursor).map(Some);
                }
                if raw.len() > MAX_LINE {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "response head too large",
                    ));
                }
            }
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::from_serverurl("http://localhost:9001").unwrap(),
            Endpoint::Tcp {
                host: "localhost".into(),
                port: 9001
            }
        );
        assert_eq!(
            Endpoint::from_serverurl("http://u:p@Example.com/x").unwrap(),
            Endpoint::Tcp {
                host: "example.com".into(),
                port: 80
            }
        );
        assert_eq!(
            Endpoint::from_serverurl("unix:///tmp/s.sock").unwrap(),
            Endpoint::Unix("/tmp/s.sock".into())
        );
        let e = Endpoint::from_serverurl("ftp://x").unwrap_err();
        assert_eq!(e.py_str(), "Unknown protocol for serverurl ftp://x");
        assert!(Endpoint::from_serverurl("http://h:99999").is_err());
        assert_eq!(
            Endpoint::from_serverurl("http://h:12")
                .unwrap()
                .host_header(),
            "h:12"
        );
        let https = Endpoint::from_serverurl("https://Ctl.example:9443/RPC2").unwrap();
        assert_eq!(
            https,
            Endpoint::Https {
                host: "ctl.example".into(),
                port: 9443
            }
        );
        assert_eq!(https.host_header(), "ctl.example:9443");
        let default = Endpoint::from_serverurl("https://[::1]").unwrap();
        assert_eq!(
            default,
            Endpoint::Https {
                host: "::1".into(),
                port: 443
            }
        );
        assert_eq!(default.host_header(), "[::1]");
    }

    #[test]
    fn chunked_decoding_in_pieces() {
        let wire = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        for split in 1..wire.len() {
            let mut d = ChunkDecoder::default();
            let mut out = Vec::new();
            d.feed(&wire[..split], &mut |b| out.extend_from_slice(b))
                .unwrap();
            d.feed(&wire[split..], &mut |b| out.extend_from_slice(b))
                .unwrap();
            assert_eq!(out, b"hello world");
            assert!(d.done);
        }
    }

    #[test]
    fn bad_chunk_size_is_an_error() {
        let mut d = ChunkDecoder::default();
        assert!(d.feed(b"zz\r\n", &mut |_| {}).is_err());
    }

    #[test]
    fn head_and_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA";
        let mut c = io::Cursor::new(&raw[..]);
        let h = read_head(&mut c).unwrap();
        assert_eq!(h.status, 200);
        assert!(h.keep_alive);
        assert_eq!(read_body(&mut c, &h).unwrap(), b"abc");
        let raw = b"HTTP/1.0 401 Unauthorized\r\nConnection: close\r\n\r\nno";
        let mut c = io::Cursor::new(&raw[..]);
        let h = read_head(&mut c).unwrap();
        assert_eq!(
            (h.status, h.reason.as_str(), h.keep_alive),
            (401, "Unauthorized", false)
        );
        assert_eq!(read_body(&mut c, &h).unwrap(), b"no");
        assert!(read_head(&mut io::Cursor::new(&b"garbage\r\n\r\n"[..])).is_err());
    }

    #[test]
    fn auth_header() {
        assert_eq!(basic_auth("user", "123"), "Basic dXNlcjoxMjM=");
    }
}
