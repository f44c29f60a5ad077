//! The HTTP servers' defences (issue 10) over real sockets in front of the fake backend,
//! with small limits so the timeouts show within a test: the first request head has a
//! deadline from the accept, idle keep-alive connections are closed, at the connection cap
//! the oldest connection without a request head makes room for a new client while a
//! streaming response is never cut, and a refused login's body is read before the 401.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use supervisor_config::{Credentials, InetHttpServerConfig, UnixHttpServerConfig};
use supervisor_protocol::xmlrpc::{parse_method_response, write_method_call};
use supervisor_protocol::Value;
use supervisord::http::{self, Limits, Listener, NoWebUi, ServerContext};
use supervisord::rpc::fake::{run_loop, FakeBackend};

struct Server {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    port: u16,
    log: PathBuf,
}

fn start(creds: Option<Credentials>, limits: Limits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let log = dir.path().join("cat.log");
    std::fs::write(&log, b"hello\n").unwrap();
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
    let mut fake = FakeBackend::new(&[("cat", &["cat"])]);
    if let Some(p) = fake.proc_mut("cat", "cat") {
        p.stdout_logfile = Some(log.clone());
    }
    std::thread::spawn(move || {
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
                web: Arc::new(NoWebUi),
                limits,
                log: None,
                log_level: supervisor_config::LogLevel::Info,
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
            run_loop(fake, rx, Duration::from_millis(200)).await;
        });
    });
    Server {
        _dir: dir,
        sock,
        port,
        log,
    }
}

impl Server {
    fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
    fn unix(&self) -> UnixStream {
        let s = UnixStream::connect(&self.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

fn rpc_request(name: &str, extra: &str) -> Vec<u8> {
    let body = write_method_call(name, &[]);
    let mut req = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

/// Reads one response with a Content-Length body: (status, body).
fn read_response(c: &mut impl Read) -> (u16, Vec<u8>) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut b).unwrap(), 1, "closed in head");
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).unwrap();
    (status, body)
}

fn get_pid(c: &mut (impl Read + Write)) -> Value {
    c.write_all(&rpc_request("supervisor.getPID", "")).unwrap();
    let (status, body) = read_response(c);
    assert_eq!(status, 200);
    parse_method_response(&body).unwrap().unwrap()
}

/// Whether the server closed `c` within `within` (EOF or reset).
fn closed_within(c: &mut impl Read, within: Duration) -> bool {
    let t0 = Instant::now();
    let mut b = [0u8; 64];
    loop {
        match c.read(&mut b) {
            Ok(0) | Err(_) if t0.elapsed() <= within => return true,
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

#[test]
fn first_head_has_a_deadline_from_the_accept() {
    let s = start(
        None,
        Limits {
            head_timeout: Duration::from_millis(600),
            ..Limits::default()
        },
    );
    // Dribbling a head byte by byte does not keep a connection open past the deadline.
    let mut c = s.tcp();
    let t0 = Instant::now();
    let mut closed = false;
    for b in b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if c.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(closed || closed_within(&mut c, Duration::from_secs(3)));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // A client that sends its request at once is served, and keeps its connection for
    // later requests past the first-head deadline.
    let mut ok = s.tcp();
    assert_eq!(get_pid(&mut ok), Value::Int(4242));
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(get_pid(&mut ok), Value::Int(4242));
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let s = start(
        None,
        Limits {
            idle_timeout: Duration::from_millis(700),
            ..Limits::default()
        },
    );
    let mut c = s.unix();
    assert_eq!(get_pid(&mut c), Value::Int(4242));
    let t0 = Instant::now();
    assert!(closed_within(&mut c, Duration::from_secs(5)));
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    // A connection in use is not idle: calls 300 ms apart keep it.
    let mut busy = s.tcp();
    for _ in 0..5 {
        assert_eq!(get_pid(&mut busy), Value::Int(4242));
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn at_the_cap_half_open_connections_make_room_but_streams_stay() {
    let s = start(
        None,
        Limits {
            max_connections: 8,
            evict_after: Duration::from_millis(200),
            ..Limits::default()
        },
    );
    // A log tail in progress: a long-lived response.
    let mut tail = s.tcp();
    tail.write_all(b"GET /logtail/cat HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("hello") {
        let n = tail.read(&mut b).unwrap();
        assert!(n > 0, "tail closed");
        got.extend_from_slice(&b[..n]);
    }
    // Far more half-open connections than the cap.
    let mut half: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut c = s.tcp();
            c.write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    // A real client still gets in, quickly.
    for _ in 0..3 {
        let t0 = Instant::now();
        let mut c = s.tcp();
        assert_eq!(get_pid(&mut c), Value::Int(4242));
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }
    // The oldest half-open connections were closed.
    half[0]
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(closed_within(&mut half[0], Duration::from_secs(5)));
    // The tail stream was not cut: new output still arrives on it.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&s.log)
        .unwrap();
    f.write_all(b"world\n").unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("world") {
        let n = tail.read(&mut b).unwrap();
        assert!(n > 0, "tail was closed to make room");
        got.extend_from_slice(&b[..n]);
    }
    drop(half);
}

#[test]
fn refused_login_body_is_read_before_the_401() {
    let creds = Credentials {
        username: "user".into(),
        password: "123".into(),
    };
    let s = start(Some(creds), Limits::default());
    // A 2 MB body (more than the socket buffers hold) sent in pieces after the head: the server reads it all, then answers
    // 401 and closes; the client never sees a reset while writing or reading.
    for _ in 0..5 {
        let mut c = s.unix();
        let body = vec![b'x'; 2_000_000];
        let head = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp3cm9uZw==\r\n\
Content-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        for piece in body.chunks(64 * 1024) {
            c.write_all(piece)
                .expect("body write failed: the server closed early");
        }
        let (status, _) = read_response(&mut c);
        assert_eq!(status, 401);
    }
}
