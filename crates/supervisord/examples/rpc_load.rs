//! A small XML-RPC load generator for the daemon's unix socket (a measuring tool, not a test).
//!
//! N threads, each with its own keep-alive HTTP/1.1 connection, call one method back to back
//! for a fixed time (or a fixed number of calls) and the tool reports calls/s, latency
//! percentiles and, with `--pid`, the daemon's CPU time per call (utime+stime from
//! `/proc/PID/stat`). Python clients spend far longer parsing a big answer than the daemon
//! spends producing it; this client only checks the status line and reads the body, so what
//! it measures is the daemon.
//!
//! ```text
//! cargo run --release -p supervisord --example rpc_load -- \
//!     --socket /tmp/x/supervisor.sock --method supervisor.getProcessInfo --names \
//!     --conns 2 --secs 5 --pid 1234
//! ```
//!
//! `--names` first asks `getAllProcessInfo` for every `group:name` and cycles through them as
//! the one string argument; `--arg S` passes a fixed string instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use supervisor_protocol::xmlrpc::{parse_method_response, write_method_call};
use supervisor_protocol::Value;

struct Opts {
    socket: String,
    method: String,
    arg: Option<String>,
    names: bool,
    conns: usize,
    secs: f64,
    calls: Option<usize>,
    pid: Option<i32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: rpc_load --socket PATH [--method NAME] [--arg S | --names] [--conns N] \
         [--secs S | --calls N] [--pid PID]"
    );
    std::process::exit(2)
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        socket: String::new(),
        method: "supervisor.getAllProcessInfo".into(),
        arg: None,
        names: false,
        conns: 1,
        secs: 5.0,
        calls: None,
        pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--socket" => o.socket = val(),
            "--method" => o.method = val(),
            "--arg" => o.arg = Some(val()),
            "--names" => o.names = true,
            "--conns" => o.conns = val().parse().unwrap_or_else(|_| usage()),
            "--secs" => o.secs = val().parse().unwrap_or_else(|_| usage()),
            "--calls" => o.calls = Some(val().parse().unwrap_or_else(|_| usage())),
            "--pid" => o.pid = Some(val().parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    if o.socket.is_empty() || o.conns == 0 {
        usage();
    }
    o
}

/// One keep-alive connection.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn open(path: &str) -> std::io::Result<Conn> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::with_capacity(1 << 16, s.try_clone()?),
            writer: s,
        })
    }

    /// Sends one prepared request and returns the response body.
    fn call(&mut self, request: &[u8]) -> std::io::Result<Vec<u8>> {
        self.writer.write_all(request)?;
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            return Err(bad(&format!("status line {line:?}")));
        }
        let mut len = None;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("eof in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                }
            }
        }
        let len = len.ok_or_else(|| bad("no content-length"))?;
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok(body)
    }
}

fn request(method: &str, params: &[Value]) -> Vec<u8> {
    let body = write_method_call(method, params);
    let mut r = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(&body);
    r
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let o = parse_opts();
    let names: Vec<String> = if o.names {
        let mut c = Conn::open(&o.socket).expect("connect");
        let body = c
            .call(&request("supervisor.getAllProcessInfo", &[]))
            .expect("getAllProcessInfo");
        let v = parse_method_response(&body)
            .expect("parse")
            .expect("no fault");
        v.as_array()
            .unwrap_or(&[])
            .iter()
            .filter_map(|p| {
                Some(format!(
                    "{}:{}",
                    p.get("group")?.as_str()?,
                    p.get("name")?.as_str()?
                ))
            })
            .collect()
    } else {
        Vec::new()
    };
    let requests: Vec<Vec<u8>> = if !names.is_empty() {
        names
            .iter()
            .map(|n| request(&o.method, &[Value::String(n.clone())]))
            .collect()
    } else if let Some(a) = &o.arg {
        vec![request(&o.method, &[Value::String(a.clone())])]
    } else {
        vec![request(&o.method, &[])]
    };
    let requests = std::sync::Arc::new(requests);
    let cpu0 = o.pid.and_then(cpu_ticks);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(o.secs);
    let per_conn = o.calls.map(|n| n.div_ceil(o.conns));
    let mut threads = Vec::new();
    for t in 0..o.conns {
        let reqs = requests.clone();
        let socket = o.socket.clone();
        threads.push(std::thread::spawn(move || {
            let mut c = Conn::open(&socket).expect("connect");
            let mut lat = Vec::new();
            let mut bytes = 0usize;
            let mut i = t;
            loop {
                if let Some(n) = per_conn {
                    if lat.len() >= n {
                        break;
                    }
                } else if Instant::now() >= deadline {
                    break;
                }
                let s = Instant::now();
                let body = c.call(&reqs[i % reqs.len()]).expect("call");
                lat.push(s.elapsed());
                bytes += body.len();
                i += 1;
            }
            (lat, bytes)
        }));
    }
    let mut lat = Vec::new();
    let mut bytes = 0;
    for t in threads {
        let (l, b) = t.join().expect("thread");
        lat.extend(l);
        bytes += b;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = o.pid.and_then(cpu_ticks);
    lat.sort();
    let n = lat.len();
    println!(
        "{} x{} conns: {n} calls in {wall:.2} s = {:.0} calls/s, {:.0} bytes/answer",
        o.method,
        o.conns,
        n as f64 / wall,
        bytes as f64 / n.max(1) as f64
    );
    println!(
        "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        percentile(&lat, 50.0),
        percentile(&lat, 90.0),
        percentile(&lat, 99.0),
        percentile(&lat, 100.0)
    );
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let cpu_ms = (b - a) as f64 * 1000.0 / hz;
        println!(
            "daemon cpu: {cpu_ms:.0} ms total, {:.4} ms/call",
            cpu_ms / n.max(1) as f64
        );
    }
}
