//! The HTTP stack over real sockets (unix and loopback TCP) in front of the fake backend:
//! statuses, auth, limits, keep-alive, HTTP/1.0, deferred calls, log tails, concurrency.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use supervisor_config::{Credentials, InetHttpServerConfig, UnixHttpServerConfig};
use supervisor_protocol::xmlrpc::{parse_method_response, write_method_call};
use supervisor_protocol::{Fault, Value};
use supervisord::http::web::SupervisorWebUi;
use supervisord::http::{self, Limits, Listener, NoWebUi, ServerContext, WebUi};
use supervisord::rpc::fake::{run_loop, FakeBackend};

struct Server {
    dir: tempfile::TempDir,
    sock: PathBuf,
    port: u16,
    _thread: std::thread::JoinHandle<()>,
}

fn start(
    creds: Option<Credentials>,
    limits: Limits,
    setup: impl FnOnce(&mut FakeBackend, &Path),
) -> Server {
    start_with(creds, limits, Arc::new(NoWebUi), setup)
}

fn start_with(
    creds: Option<Credentials>,
    limits: Limits,
    web: Arc<dyn WebUi>,
    setup: impl FnOnce(&mut FakeBackend, &Path),
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let (ul, guard) = http::bind_unix(&UnixHttpServerConfig {
        section: "unix_http_server".into(),
        file: sock.clone(),
        chmod: 0o700,
        chown: None,
        credentials: creds.clone(),
    })
    .unwrap();
    let tl = http::bind_inet(&InetHttpServerConfig {
        section: "inet_http_server".into(),
        host: "127.0.0.1".into(),
        port: 0,
        credentials: creds.clone(),
        tls: None,
    })
    .unwrap();
    let port = tl.local_addr().unwrap().port();
    let mut fake = FakeBackend::new(&[("cat", &["cat"]), ("grp", &["a", "b"])]);
    setup(&mut fake, dir.path());
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let _guard = guard;
            let (tx, rx) = tokio::sync::mpsc::channel(1024);
            let ctx = Arc::new(ServerContext {
                credentials: creds,
                access: None,
                control: tx,
                web,
                limits,
                log: None,
                log_level: supervisor_config::LogLevel::Blather,
                health_open: false,
            });
            tokio::spawn(http::serve(
                Listener::from_std_unix(ul).unwrap(),
                ctx.clone(),
            ));
            tokio::spawn(http::serve(
                Listener::from_std_tcp(tl).unwrap(),
                ctx.clone(),
            ));
            drop(ctx);
            // The fake steps every 200 ms, so a waiting start takes a visible while.
            run_loop(fake, rx, Duration::from_millis(200)).await;
        });
    });
    Server {
        dir,
        sock,
        port,
        _thread: thread,
    }
}

trait Conn: Read + Write {}
impl Conn for UnixStream {}
impl Conn for TcpStream {}

impl Server {
    fn unix(&self) -> Box<dyn Conn> {
        let s = UnixStream::connect(&self.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Box::new(s)
    }
    fn tcp(&self) -> Box<dyn Conn> {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Box::new(s)
    }
}

/// One parsed response.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn rpc(&self) -> Result<Value, Fault> {
        assert_eq!(
            self.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        parse_method_response(&self.body).unwrap()
    }
}

/// Reads one response (Content-Length, chunked or close-delimited).
fn read_response(c: &mut dyn Conn) -> Resp {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = c.read(&mut byte).unwrap();
        assert!(
            n == 1,
            "connection closed in head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let mut r = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(len) = r.header("content-length") {
        let mut body = vec![0u8; len.parse().unwrap()];
        c.read_exact(&mut body).unwrap();
        r.body = body;
    } else if r.header("transfer-encoding") == Some("chunked") {
        // Tails never end: the caller reads chunks itself.
    } else {
        c.read_to_end(&mut r.body).unwrap();
    }
    r
}

fn rpc_request(name: &str, params: &[Value], extra: &str) -> Vec<u8> {
    let body = write_method_call(name, params);
    let mut req = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

fn call(c: &mut dyn Conn, name: &str, params: &[Value]) -> Result<Value, Fault> {
    c.write_all(&rpc_request(name, params, "")).unwrap();
    read_response(c).rpc()
}

fn raw(c: &mut dyn Conn, req: &str) -> Resp {
    c.write_all(req.as_bytes()).unwrap();
    read_response(c)
}

#[test]
fn rpc_over_both_transports_with_keep_alive() {
    let s = start(None, Limits::default(), |_, _| {});
    for mut c in [s.unix(), s.tcp()] {
        for _ in 0..3 {
            let v = call(&mut *c, "supervisor.getState", &[]).unwrap();
            assert_eq!(v.get("statename"), Some(&Value::from("RUNNING")));
        }
        assert_eq!(
            call(&mut *c, "supervisor.nosuch", &[]),
            Err(Fault {
                code: 1,
                string: "UNKNOWN_METHOD".into()
            })
        );
    }
    let mut c = s.unix();
    c.write_all(&rpc_request("supervisor.getPID", &[], ""))
        .unwrap();
    let r = read_response(&mut *c);
    assert_eq!(r.header("content-type"), Some("text/xml"));
    assert_eq!(r.header("server"), Some("Medusa/1.12"));
    // Header names are sent in Title-Case like the reference's.
    assert!(r.headers.iter().any(|(k, _)| k == "Content-Type"));
    assert!(r.headers.iter().any(|(k, _)| k == "Content-Length"));
    assert!(r.header("date").is_some());
}

#[test]
fn statuses_and_error_pages() {
    let s = start(None, Limits::default(), |_, _| {});
    let mut c = s.unix();
    let r = raw(&mut *c, "GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        "<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code 400.\r\n<p>Message: Bad Request.\r\n</body>\r\n"
    );
    let r = raw(
        &mut *c,
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 411);
    let mut c = s.unix();
    let r = raw(&mut *c, "GET /nosuch HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = raw(&mut *c, "GET /ok.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"OK"[..]));
    // Malformed XML and a missing method name.
    for body in ["<methodCall><oops>", "<methodCall><params/></methodCall>"] {
        let req = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let r = raw(&mut *c, &req);
        assert_eq!(r.status, 400, "{body}");
    }
    // Any path starting with /RPC2 is XML-RPC.
    let body = write_method_call("supervisor.getAPIVersion", &[]);
    let mut req = format!(
        "POST /RPC2/anything HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    c.write_all(&req).unwrap();
    assert_eq!(read_response(&mut *c).rpc(), Ok(Value::from("3.0")));
    // Non-GET to the tails.
    let r = raw(
        &mut *c,
        "POST /logtail/cat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    let r = raw(&mut *c, "DELETE /mainlogtail HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 400);
    // No main log / no process log: 404.
    let r = raw(&mut *c, "GET /mainlogtail HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = raw(&mut *c, "GET /logtail/nosuch HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn http_1_0_closes_unless_keep_alive() {
    let s = start(None, Limits::default(), |_, _| {});
    let body = write_method_call("supervisor.getAPIVersion", &[]);
    let mut c = s.tcp();
    let mut req = format!(
        "POST /RPC2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    c.write_all(&req).unwrap();
    let r = read_response(&mut *c);
    assert_eq!(r.rpc(), Ok(Value::from("3.0")));
    let mut rest = Vec::new();
    assert_eq!(
        c.read_to_end(&mut rest).unwrap(),
        0,
        "closed after the response"
    );
    // With keep-alive, a second request on the same connection works.
    let mut c = s.tcp();
    let mut req = format!(
        "POST /RPC2 HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    for _ in 0..2 {
        c.write_all(&req).unwrap();
        assert_eq!(read_response(&mut *c).rpc(), Ok(Value::from("3.0")));
    }
}

fn basic(user_pass: &str) -> String {
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

#[test]
fn auth_on_every_path() {
    let creds = Credentials {
        username: "user".into(),
        password: "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef".into(), // "123"
    };
    let s = start(Some(creds), Limits::default(), |_, _| {});
    for path in [
        "/RPC2",
        "/logtail/cat",
        "/mainlogtail",
        "/",
        "/ok.html",
        "/nosuch",
    ] {
        let mut c = s.unix();
        let r = raw(&mut *c, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"default\"")
        );
        assert_eq!(r.header("connection"), Some("close"));
    }
    for bad in [
        basic("user:1234"),
        basic("usr:123"),
        "Authorization: Digest abc\r\n".into(),
    ] {
        let mut c = s.tcp();
        c.write_all(&rpc_request("supervisor.getPID", &[], &bad))
            .unwrap();
        assert_eq!(read_response(&mut *c).status, 401);
    }
    let mut c = s.tcp();
    let r = raw(
        &mut *c,
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %%%\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    let mut c = s.unix();
    for _ in 0..2 {
        c.write_all(&rpc_request("supervisor.getPID", &[], &basic("user:123")))
            .unwrap();
        assert_eq!(read_response(&mut *c).rpc(), Ok(Value::Int(4242)));
    }
}

#[test]
fn body_and_head_limits() {
    let limits = Limits {
        max_body: 1000,
        body_timeout: Duration::from_millis(500),
        head_timeout: Duration::from_millis(800),
        ..Limits::default()
    };
    let s = start(None, limits, |_, _| {});
    let mut c = s.unix();
    let r = raw(
        &mut *c,
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    // A huge header block is refused without the daemon buffering it all.
    let mut c = s.unix();
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000));
    let _ = c.write_all(big.as_bytes());
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431"),
        "{text}"
    );
    // A client that stops sending its body is cut off; others are served meanwhile.
    let mut slow = s.unix();
    slow.write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<meth")
        .unwrap();
    let mut other = s.tcp();
    assert!(call(&mut *other, "supervisor.getPID", &[]).is_ok());
    let r = read_response(&mut *slow);
    assert_eq!(r.status, 400);
    // A client that never finishes its head is cut off too.
    let mut half = s.unix();
    half.write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let t0 = Instant::now();
    let _ = half.read_to_end(&mut buf);
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The daemon is still fine.
    assert!(call(&mut *s.unix(), "supervisor.getAPIVersion", &[]).is_ok());
}

#[test]
fn a_waiting_call_does_not_block_others() {
    let s = start(None, Limits::default(), |_, _| {});
    let mut waiting = s.unix();
    let t0 = Instant::now();
    waiting
        .write_all(&rpc_request(
            "supervisor.startProcess",
            &[Value::from("cat")],
            "",
        ))
        .unwrap();
    // Meanwhile, many quick calls are answered.
    let mut c = s.tcp();
    for _ in 0..20 {
        let v = call(&mut *c, "supervisor.getProcessInfo", &[Value::from("cat")]).unwrap();
        let state = v.get("statename").unwrap().as_str().unwrap().to_string();
        if state == "RUNNING" {
            break;
        }
    }
    assert_eq!(read_response(&mut *waiting).rpc(), Ok(Value::Bool(true)));
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn many_concurrent_clients() {
    let s = Arc::new(start(None, Limits::default(), |_, _| {}));
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut c = if i % 2 == 0 { s.unix() } else { s.tcp() };
                for _ in 0..25 {
                    let v = call(&mut *c, "supervisor.getAllProcessInfo", &[]).unwrap();
                    assert_eq!(v.as_array().unwrap().len(), 3);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn read_chunk(c: &mut dyn Conn) -> Vec<u8> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        assert_eq!(c.read(&mut b).unwrap(), 1);
        line.push(b[0]);
    }
    let n =
        usize::from_str_radix(std::str::from_utf8(&line[..line.len() - 2]).unwrap(), 16).unwrap();
    let mut data = vec![0u8; n + 2];
    c.read_exact(&mut data).unwrap();
    data.truncate(n);
    data
}

#[test]
fn logtail_streams_and_follows() {
    let s = start(None, Limits::default(), |fake, dir| {
        let out = dir.join("cat.log");
        let big: Vec<u8> = (0..2000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(&out, big).unwrap();
        fake.proc_mut("grp", "a").unwrap().stdout_logfile = Some(out);
        fake.proc_mut("grp", "a").unwrap().stderr_logfile = Some(dir.join("never-created"));
        let main = dir.join("main.log");
        std::fs::write(&main, b"main line\n").unwrap();
        fake.main_log = Some(main);
    });
    let out = s.dir.path().join("cat.log");
    let mut c = s.unix();
    let r = raw(&mut *c, "GET /logtail/grp%3Aa HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-type"), Some("text/plain;charset=utf-8"));
    assert_eq!(r.header("x-accel-buffering"), Some("no"));
    assert!(r.header("last-modified").unwrap().ends_with(" GMT"));
    let first = read_chunk(&mut *c);
    assert_eq!(first.len(), 1024);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&out)
        .unwrap()
        .write_all(b"NEW\n")
        .unwrap();
    assert_eq!(read_chunk(&mut *c), b"NEW\n");
    std::fs::write(&out, b"").unwrap();
    assert_eq!(read_chunk(&mut *c), b"==> File truncated <==\n");

    let mut c = s.unix();
    let r = raw(
        &mut *c,
        "GET /logtail/grp:a/stderr HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 404);
    let r = raw(
        &mut *c,
        "GET /logtail/grp:a/bogus HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 404);
    // Main log over HTTP/1.0: close-delimited, no X-Accel-Buffering.
    let mut c = s.tcp();
    c.write_all(b"GET /mainlogtail HTTP/1.0\r\n\r\n").unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.ends_with(b"main line\n") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    assert!(text.starts_with("HTTP/1.0 200"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("x-accel-buffering"));
    assert!(!text.to_ascii_lowercase().contains("transfer-encoding"));
}

#[test]
fn events_stream() {
    let s = start(None, Limits::default(), |_, _| {});
    let mut c = s.unix();
    let r = raw(
        &mut *c,
        "GET /events?events=NOSUCH HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("NOSUCH"));
    let r = raw(
        &mut *c,
        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    let mut c = s.unix();
    let r = raw(
        &mut *c,
        "GET /events?events=REMOTE_COMMUNICATION HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let mut other = s.tcp();
    call(
        &mut *other,
        "supervisor.sendRemoteCommEvent",
        &[Value::from("t"), Value::from("d")],
    )
    .unwrap();
    assert_eq!(
        read_chunk(&mut *c),
        b"event: dropped\ndata: {\"dropped\":1}\n\n"
    );
}

#[test]
fn events_stream_absent_is_404() {
    let s = start(None, Limits::default(), |f, _| f.has_event_stream = false);
    let r = raw(&mut *s.unix(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn stop_finishes_in_flight_responses_then_returns() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let (ul, guard) = http::bind_unix(&UnixHttpServerConfig {
        section: "unix_http_server".into(),
        file: sock.clone(),
        chmod: 0o700,
        chown: None,
        credentials: None,
    })
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let fake = FakeBackend::new(&[("cat", &["cat"])]);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            let ctx = Arc::new(ServerContext {
                credentials: None,
                access: None,
                control: tx,
                web: Arc::new(NoWebUi),
                limits: Limits::default(),
                log: None,
                log_level: supervisor_config::LogLevel::Blather,
                health_open: false,
            });
            tokio::spawn(run_loop(fake, rx, Duration::from_millis(300)));
            let listener = Listener::from_std_unix(ul).unwrap();
            http::serve_until(listener, ctx, stop_rx).await;
            done_tx.send(()).unwrap();
        });
        drop(guard);
    });
    let connect = || {
        let s = UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Box::new(s) as Box<dyn Conn>
    };
    let mut idle = connect();
    assert!(call(&mut *idle, "supervisor.getPID", &[]).is_ok());
    // A call that waits for the fake's next step (up to 300 ms) is in flight at stop.
    let mut waiting = connect();
    waiting
        .write_all(&rpc_request(
            "supervisor.startProcess",
            &[Value::from("cat")],
            "",
        ))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stop_tx.send(true).unwrap();
    assert_eq!(read_response(&mut *waiting).rpc(), Ok(Value::Bool(true)));
    done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("serve_until returns once connections are done");
    // The idle keep-alive connection was closed.
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap_or(0), 0);
    thread.join().unwrap();
    assert!(!sock.exists());
}

#[test]
fn web_ui_is_served_through_the_hook() {
    let s = start_with(None, Limits::default(), SupervisorWebUi::new(), |_, _| {});
    let mut c = s.unix();
    let r = raw(&mut *c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = String::from_utf8_lossy(&r.body);
    assert!(page.contains("cat"), "{page}");
    let r = raw(
        &mut *c,
        "GET /stylesheets/supervisor.css HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let r = raw(&mut *c, "GET /ok.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    // A GET never acts: the process stays stopped.
    let r = raw(
        &mut *c,
        "GET /index.html?processname=cat&action=start HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(r.status < 500);
    let info = call(&mut *c, "supervisor.getProcessInfo", &[Value::from("cat")]).unwrap();
    assert_eq!(info.get("statename"), Some(&Value::from("STOPPED")));
    let r = raw(&mut *c, "GET /nosuch.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
}
