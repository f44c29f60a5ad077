//! A test-only web server that serves this crate's pages from a fake process table, so the
//! web UI can be developed and tested in a real browser without the daemon. It plays the
//! HTTP layer's part exactly as `docs/web-ui.md` ("Wiring") describes, with a simulated
//! supervisor behind it: actions move processes through STOPPING/STARTING, every change is
//! pushed on `/events` (Server-Sent Events), and `/logtail/<name>` streams a log that grows.
//!
//! Usage: `harness [--port N] [--procs N] [--user U --password P]`. Prints
//! `listening on 127.0.0.1:<port>` once ready. Binds loopback only. Stops on stdin EOF or
//! when killed. Not part of the product.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use supervisor_protocol::{Fault, FaultCode, ProcessState, Value};
use supervisor_web::{error_page, html_headers, CsrfKey, LocalTime, ProcessRow, Request};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

struct Proc {
    row: ProcessRow,
    log: Vec<u8>,
    err: Vec<u8>,
}

#[derive(Default)]
struct Model {
    procs: BTreeMap<String, Proc>,
    events: Vec<String>, // SSE messages, in order
    next_pid: i64,
    generation: u64,
}

struct Shared {
    model: Mutex<Model>,
    changed: Condvar,
    key: CsrfKey,
    auth: Option<String>, // expected "Basic <b64>"
}

const STATES: [ProcessState; 6] = [
    ProcessState::Running,
    ProcessState::Running,
    ProcessState::Stopped,
    ProcessState::Fatal,
    ProcessState::Exited,
    ProcessState::Backoff,
];

fn describe(row: &ProcessRow, now: i64) -> String {
    match row.state {
        ProcessState::Running => format!(
            "pid {}, uptime {}",
            row.pid,
            supervisor_web::clock::uptime(now - row.start)
        ),
        ProcessState::Stopped if row.start == 0 => "Not started".into(),
        ProcessState::Stopped | ProcessState::Exited => "Nov 21 06:14 PM".into(),
        ProcessState::Fatal | ProcessState::Backoff => {
            "Exited too quickly (process log may have details)".into()
        }
        _ => String::new(),
    }
}

impl Model {
    fn add(&mut self, group: &str, name: &str, state: ProcessState, now: i64) {
        self.next_pid += 1;
        let running = state == ProcessState::Running;
        let mut row = ProcessRow {
            group: group.into(),
            name: name.into(),
            state,
            description: String::new(),
            pid: if running { 1000 + self.next_pid } else { 0 },
            start: if running {
                now - 3600 * (self.next_pid % 30) - 7
            } else {
                0
            },
            stop: 0,
            exitstatus: 0,
            last_exit: None,
            stats: None,
        };
        row.description = describe(&row, now);
        let log = format!("{} starting up\nready to serve\n", row.namespec()).into_bytes();
        self.procs.insert(
            row.namespec(),
            Proc {
                row,
                log,
                err: b"stderr says hello\n".to_vec(),
            },
        );
    }

    fn set_state(&mut self, ns: &str, state: ProcessState, now: i64) {
        let pid = 1000 + self.next_pid + 1;
        let Some(p) = self.procs.get_mut(ns) else {
            return;
        };
        let from = p.row.state;
        p.row.state = state;
        match state {
            ProcessState::Running => {
                p.row.pid = pid;
                p.row.start = now;
            }
            ProcessState::Starting => {}
            _ => p.row.pid = 0,
        }
        if state == ProcessState::Stopped {
            p.row.stop = now;
            p.row.start = p.row.start.max(1);
        }
        p.row.description = describe(&p.row, now);
        // The same shape as supervisor-events' StreamItem::to_sse.
        let name = format!("PROCESS_STATE_{}", state.name());
        let data = serde_json::json!({
            "eventname": name,
            "serial": self.events.len(),
            "payload": {
                "processname": p.row.name,
                "groupname": p.row.group,
                "from_state": from.name(),
                "pid": p.row.pid,
            },
        });
        self.next_pid += 1;
        let seq = self.events.len() + 1;
        self.events
            .push(format!("id: {seq}\nevent: {name}\ndata: {data}\n\n"));
        self.generation += 1;
    }

    /// `getAllProcessInfo`: the rows as the RPC structs.
    fn process_infos(&self, now: i64) -> Value {
        let s = |v: &str| Value::String(v.to_string());
        let n = |v: i64| Value::Int(v as i32);
        Value::Array(
            self.procs
                .values()
                .map(|p| {
                    let r = &p.row;
                    Value::Struct(vec![
                        ("name".into(), s(&r.name)),
                        ("group".into(), s(&r.group)),
                        ("start".into(), n(r.start)),
                        ("stop".into(), n(r.stop)),
                        ("now".into(), n(now)),
                        ("state".into(), Value::Int(r.state.code())),
                        ("statename".into(), s(r.state.name())),
                        ("spawnerr".into(), s("")),
                        ("exitstatus".into(), n(r.exitstatus)),
                        ("pid".into(), n(r.pid)),
                        ("description".into(), s(&describe(r, now))),
                    ])
                })
                .collect(),
        )
    }
}

/// Runs one RPC-equivalent call against the fake model (what the daemon's dispatcher does).
fn run_call(shared: &Arc<Shared>, method: &str, params: &[Value]) -> Result<Value, Fault> {
    let target = params
        .first()
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match method {
        "supervisor.getAllProcessInfo" => {
            return Ok(shared.model.lock().unwrap().process_infos(now()));
        }
        "supervisor.getIdentification" => return Ok(Value::String("harness".into())),
        "supervisor.readProcessStdoutLog"
        | "supervisor.readProcessStderrLog"
        | "supervisor.tailProcessStdoutLog"
        | "supervisor.tailProcessStderrLog" => {
            let m = shared.model.lock().unwrap();
            let p = m
                .procs
                .get(&target)
                .ok_or_else(|| Fault::new(FaultCode::BadName, &target))?;
            let log = if method.contains("Stderr") {
                &p.err
            } else {
                &p.log
            };
            let int = |i: usize| params.get(i).and_then(Value::as_int).unwrap_or(0) as i64;
            let (offset, length) = (int(1), int(2));
            let size = log.len() as i64;
            let text = |a: i64, b: i64| {
                let (a, b) = (a.clamp(0, size) as usize, b.clamp(0, size) as usize);
                Value::String(String::from_utf8_lossy(&log[a..b.max(a)]).into_owned())
            };
            if method.contains("tail") {
                // The reference's tail arithmetic: the last `length` bytes, the size, overflow.
                let (mut o, mut l, mut overflow) = (offset, length, false);
                if size > o + l {
                    overflow = true;
                    o = size - 1;
                }
                if o + l > size {
                    if o > size - 1 {
                        l = 0;
                    }
                    o = size - l;
                }
                let o = o.max(0);
                return Ok(Value::Array(vec![
                    text(o, o + l.max(0)),
                    Value::Int(size as i32),
                    Value::Bool(overflow),
                ]));
            }
            return Ok(if offset < 0 {
                text(size + offset, size)
            } else if length == 0 {
                text(offset, size)
            } else {
                text(offset, offset + length)
            });
        }
        _ => {}
    }
    let names: Vec<String> = {
        let m = shared.model.lock().unwrap();
        match method {
            "supervisor.stopAllProcesses" | "supervisor.startAllProcesses" => {
                m.procs.keys().cloned().collect()
            }
            "supervisor.startProcessGroup" | "supervisor.stopProcessGroup" => {
                let v: Vec<String> = m
                    .procs
                    .values()
                    .filter(|p| p.row.group == target)
                    .map(|p| p.row.namespec())
                    .collect();
                if v.is_empty() {
                    return Err(Fault::new(FaultCode::BadName, &target));
                }
                v
            }
            _ => {
                if !m.procs.contains_key(&target) {
                    return Err(Fault::new(FaultCode::BadName, &target));
                }
                vec![target.clone()]
            }
        }
    };
    let starting = method.contains("start");
    if method == "supervisor.clearProcessLogs" {
        let mut m = shared.model.lock().unwrap();
        if let Some(p) = m.procs.get_mut(&target) {
            p.log.clear();
            p.err.clear();
        }
        return Ok(Value::Bool(true));
    }
    // Transition through STARTING/STOPPING, then settle (waiting, like wait=true).
    let mut touched = vec![];
    {
        let mut m = shared.model.lock().unwrap();
        for ns in &names {
            let state = m.procs[ns].row.state;
            if starting && state == ProcessState::Running && method == "supervisor.startProcess" {
                return Err(Fault::new(FaultCode::AlreadyStarted, ns));
            }
            if starting && !state.is_running() {
                m.set_state(ns, ProcessState::Starting, now());
                touched.push(ns.clone());
            } else if !starting && state.is_running() {
                m.set_state(ns, ProcessState::Stopping, now());
                touched.push(ns.clone());
            } else if !starting && method == "supervisor.stopProcess" {
                return Err(Fault::bare(FaultCode::NotRunning));
            }
        }
        shared.changed.notify_all();
    }
    thread::sleep(Duration::from_millis(300));
    {
        let mut m = shared.model.lock().unwrap();
        for ns in &touched {
            let to = if starting {
                ProcessState::Running
            } else {
                ProcessState::Stopped
            };
            m.set_state(ns, to, now());
        }
        shared.changed.notify_all();
    }
    Ok(Value::Bool(true))
}

fn write_response(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

fn error(
    stream: &mut TcpStream,
    code: u16,
    reason: &str,
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut headers: Vec<(&str, &str)> = html_headers().to_vec();
    headers.extend_from_slice(extra);
    write_response(
        stream,
        &format!("{code} {reason}"),
        &headers,
        error_page(code, reason).as_bytes(),
    )
}

fn chunk(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    write!(stream, "{:x}\r\n", data.len())?;
    stream.write_all(data)?;
    stream.write_all(b"\r\n")?;
    stream.flush()
}

fn serve_events(stream: &mut TcpStream, shared: &Arc<Shared>) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n",
    )?;
    chunk(stream, b": hello\n\n")?;
    let mut seen = shared.model.lock().unwrap().events.len();
    loop {
        let batch: Vec<String> = {
            let m = shared.model.lock().unwrap();
            let (m, _) = shared
                .changed
                .wait_timeout_while(m, Duration::from_secs(15), |m| m.events.len() == seen)
                .unwrap();
            let b = m.events[seen..].to_vec();
            seen = m.events.len();
            b
        };
        if batch.is_empty() {
            chunk(stream, b": keepalive\n\n")?;
        }
        for sse in batch {
            chunk(stream, sse.as_bytes())?;
        }
    }
}

fn serve_logtail(stream: &mut TcpStream, shared: &Arc<Shared>, rest: &str) -> std::io::Result<()> {
    let rest = percent_decode(rest);
    let (ns, stderr) = match rest.strip_suffix("/stderr") {
        Some(n) => (n.to_string(), true),
        None => (
            rest.strip_suffix("/stdout").unwrap_or(&rest).to_string(),
            false,
        ),
    };
    let mut sent = {
        let m = shared.model.lock().unwrap();
        let Some(p) = m.procs.get(&ns) else {
            drop(m);
            return error(stream, 404, "Not Found", &[]);
        };
        let log = if stderr { &p.err } else { &p.log };
        let start = log.len().saturating_sub(1024);
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain;charset=utf-8\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        chunk(stream, &log[start..])?;
        log.len()
    };
    loop {
        let data = {
            let m = shared.model.lock().unwrap();
            let gen = m.generation;
            let (m, _) = shared
                .changed
                .wait_timeout_while(m, Duration::from_secs(5), |m| m.generation == gen)
                .unwrap();
            let Some(p) = m.procs.get(&ns) else {
                return Ok(());
            };
            let log = if stderr { &p.err } else { &p.log };
            if log.len() < sent {
                sent = 0;
            }
            let d = log[sent..].to_vec();
            sent = log.len();
            d
        };
        chunk(stream, &data)?;
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn handle(mut stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers: Vec<(String, String)> = vec![];
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        if headers.len() > 100 {
            return error(&mut stream, 400, "Bad Request", &[]);
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if len > supervisor_web::route::MAX_FORM_BODY {
        return error(&mut stream, 413, "Request Entity Too Large", &[]);
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;

    // Auth first, for every path (as the daemon does).
    if let Some(expected) = &shared.auth {
        if header("authorization") != Some(expected.as_str()) {
            return error(
                &mut stream,
                401,
                "Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"default\"")],
            );
        }
    }
    let user = if shared.auth.is_some() { "user" } else { "" };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path == "/events" {
        return serve_events(&mut stream, &shared);
    }
    if let Some(rest) = path.strip_prefix("/logtail/") {
        return serve_logtail(&mut stream, &shared, rest);
    }
    let t = now();
    let clock = LocalTime {
        unix: t,
        utc_offset: 0,
    };
    let req = Request {
        method: &method,
        path,
        query,
        body: &body,
        csrf_header: header("x-csrf-token"),
        user,
        read_only: false,
    };
    // Exactly what the daemon does: one call of supervisor_web::handle, RPC through a
    // closure (here the simulated supervisor, answering synchronously).
    let rpc =
        |m: &'static str, params: Vec<Value>| std::future::ready(run_call(&shared, m, &params));
    let answer = block_on(supervisor_web::handle(
        &req,
        header("host"),
        &shared.key,
        clock,
        rpc,
    ));
    match answer {
        Some(r) => {
            let headers: Vec<(&str, &str)> =
                r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let status = format!("{} {}", r.status, reason(r.status));
            write_response(&mut stream, &status, &headers, &r.body)
        }
        None => error(&mut stream, 404, "Not Found", &[]),
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        301 => "Moved Permanently",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        _ => "Error",
    }
}

/// Runs a future whose awaits are all immediately ready.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let port: u16 = arg("--port").and_then(|p| p.parse().ok()).unwrap_or(0);
    let procs: usize = arg("--procs").and_then(|p| p.parse().ok()).unwrap_or(12);
    let auth = match (arg("--user"), arg("--password")) {
        (Some(u), Some(p)) => Some(supervisor_protocol::basic_auth::header_value(&u, &p)),
        _ => None,
    };
    let t = now();
    let mut model = Model::default();
    model.add("ticker", "ticker", ProcessState::Running, t);
    model.add(
        "evil",
        "<script>alert(1)</script>",
        ProcessState::Running,
        t,
    );
    let groups = ["web", "workers", "cron", "queue", "mail"];
    for i in 0..procs.saturating_sub(2) {
        let g = groups[i % groups.len()];
        let state = STATES[((i as u64).wrapping_mul(2_654_435_761) >> 7) as usize % STATES.len()];
        model.add(g, &format!("{g}_{i:03}"), state, t);
    }
    if let Some(p) = model.procs.get_mut("evil:<script>alert(1)</script>") {
        p.log.extend_from_slice(
            b"<script>alert('from the log')</script>\n<img src=x onerror=alert(2)>\n",
        );
    }
    let shared = Arc::new(Shared {
        model: Mutex::new(model),
        changed: Condvar::new(),
        key: CsrfKey::new(&t.to_be_bytes().repeat(4)),
        auth,
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    println!("listening on {}", listener.local_addr().unwrap());
    std::io::stdout().flush().ok();

    // The ticker writes a line every 500 ms.
    let s2 = shared.clone();
    thread::spawn(move || {
        for n in 0u64.. {
            thread::sleep(Duration::from_millis(500));
            let mut m = s2.model.lock().unwrap();
            if let Some(p) = m.procs.get_mut("ticker") {
                if p.row.state == ProcessState::Running {
                    p.log.extend_from_slice(format!("tick {n}\n").as_bytes());
                    if p.log.len() > 256 * 1024 {
                        p.log.drain(..128 * 1024);
                    }
                }
            }
            m.generation += 1;
            s2.changed.notify_all();
        }
    });
    // Exit when stdin closes (the test runner went away).
    thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    for conn in listener.incoming().flatten() {
        let s = shared.clone();
        thread::spawn(move || {
            let _ = handle(conn, s);
        });
    }
}
