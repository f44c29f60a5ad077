//! Times `parse_method_call` (and, without the request limits, `parse_method_response`) on
//! 16 MB adversarial documents, to check that reading is linear and fast enough to run on the
//! daemon's single event-loop thread.
//!
//! `cargo run --release -p supervisor-protocol --example xmlrpc_parse [size_mb [shape]]`
//!
//! For each shape it prints the best of five runs of each parser (wall and thread CPU time) and whether the request was
//! parsed or refused (and why).

use std::fmt::Write as _;
use std::time::{Duration, Instant};
use supervisor_protocol::xmlrpc::{parse_method_call, parse_method_response};

/// `unit(i)` repeated until the body reaches `size` bytes, wrapped as one param.
fn fill(size: usize, head: &str, tail: &str, unit: impl Fn(usize) -> String) -> String {
    let mut body = String::with_capacity(size + 4096);
    body.push_str(head);
    let mut i = 0;
    while body.len() + tail.len() < size {
        body.push_str(&unit(i));
        i += 1;
    }
    body.push_str(tail);
    body
}

fn call(params: &str) -> String {
    format!("<?xml version='1.0'?>\n<methodCall><methodName>supervisor.getState</methodName><params>{params}</params></methodCall>")
}

fn response(params: &str) -> String {
    format!("<?xml version='1.0'?>\n<methodResponse><params>{params}</params></methodResponse>")
}

/// This thread's CPU time (on a shared machine, wall time also counts other processes).
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The best wall and CPU times of five runs (the result is dropped inside the timing, as the
/// daemon drops it on its loop).
fn best<T>(f: impl Fn() -> T) -> (Duration, Duration, T) {
    let mut wall = Duration::MAX;
    let mut cpu = Duration::MAX;
    let mut out = f();
    for _ in 0..5 {
        let (t, c) = (Instant::now(), cpu_now());
        out = f();
        wall = wall.min(t.elapsed());
        cpu = cpu.min(cpu_now() - c);
    }
    (wall, cpu, out)
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(16);
    let size = mb * 1024 * 1024;
    let one = |inner: String| format!("<param>{inner}</param>");
    // Each shape is the content of <params> (for a call and for a response).
    let shapes: Vec<(&str, String)> = vec![
        (
            "wide struct, unique names",
            one(fill(size, "<value><struct>", "</struct></value>", |i| {
                format!("<member><name>k{i}</name><value><int>1</int></value></member>")
            })),
        ),
        (
            "many structs at the member limit, unique names",
            fill(size, "", "", |j| {
                let mut s = String::from("<param><value><struct>");
                for i in 0..10_000 {
                    let _ = write!(s, "<member><name>k{j}_{i}</name><value/></member>");
                }
                s.push_str("</struct></value></param>");
                s
            }),
        ),
        (
            "wide struct, one repeated name",
            one(fill(size, "<value><struct>", "</struct></value>", |_| {
                "<member><name>same</name><value><int>1</int></value></member>".into()
            })),
        ),
        (
            "many 2-member structs (multicall of getState)",
            one(fill(
                size,
                "<value><array><data>",
                "</data></array></value>",
                |_| {
                    "<value><struct><member><name>methodName</name><value><string>supervisor.getState</string></value></member><member><name>params</name><value><array><data></data></array></value></member></struct></value>".into()
                },
            )),
        ),
        (
            "nesting at the depth limit, repeated",
            fill(size, "", "", |_| {
                let mut s = String::from("<param>");
                for _ in 0..40 {
                    s.push_str("<value><array><data>");
                }
                for _ in 0..40 {
                    s.push_str("</data></array></value>");
                }
                s.push_str("</param>");
                s
            }),
        ),
        (
            "array of <value/> (2M items)",
            one(fill(
                size,
                "<value><array><data>",
                "</data></array></value>",
                |_| "<value/>".into(),
            )),
        ),
        (
            "array of ints (600k items)",
            one(fill(
                size,
                "<value><array><data>",
                "</data></array></value>",
                |_| "<value><int>1</int></value>".into(),
            )),
        ),
        (
            "one string of entities",
            one(fill(size, "<value><string>", "</string></value>", |_| {
                "&amp;&lt;&#x41;&#66;x".into()
            })),
        ),
        (
            "one string, CR LF line ends",
            one(fill(size, "<value>", "</value>", |_| {
                "abcdefghijklmn\r\n".into()
            })),
        ),
        (
            "one CDATA section",
            one(fill(size, "<value><![CDATA[", "]]></value>", |_| {
                "abc<>&]]]".into()
            })),
        ),
        (
            "one base64 value",
            one(fill(size, "<value><base64>", "</base64></value>", |_| {
                "aGVsbG8gd29ybGQh\n".into()
            })),
        ),
        (
            "many tiny params",
            fill(size, "", "", |_| "<param><value/></param>".into()),
        ),
        (
            "one element with many attributes",
            one(fill(size, "<value ", "/>", |i| format!("a{i}='&amp;' "))),
        ),
        (
            "values with 16 attributes each",
            one(fill(
                size,
                "<value><array><data>",
                "</data></array></value>",
                |_| {
                    let mut s = String::from("<value");
                    for i in 0..16 {
                        let _ = write!(s, " a{i}='&amp;'");
                    }
                    s.push_str("/>");
                    s
                },
            )),
        ),
        (
            "whitespace and comments between elements",
            one(fill(
                size,
                "<value><array><data>",
                "</data></array></value>",
                |_| "  \n\t<!-- comment -->  ".into(),
            )),
        ),
    ];
    let only = std::env::args().nth(2).unwrap_or_default();
    let mut report = String::new();
    for (name, params) in shapes.iter().filter(|(n, _)| n.contains(only.as_str())) {
        let req = call(params);
        let resp = response(params);
        let (t_call, c_call, r_call) = best(|| parse_method_call(req.as_bytes()));
        let (t_resp, c_resp, r_resp) = best(|| parse_method_response(resp.as_bytes()));
        let verdict = match &r_call {
            Ok(c) => format!("parsed ({} params)", c.params.len()),
            Err(e) if e.is_limit() => format!("refused: {e}"),
            Err(e) => format!("malformed?! {e}"),
        };
        let resp_verdict = match &r_resp {
            Ok(_) => "parsed".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let _ = writeln!(
            report,
            "{name:<48} {:>5.1} MB  call     {:>6.1} ms wall {:>6.1} ms cpu  {verdict}\n{:<48} {:>8}  response {:>6.1} ms wall {:>6.1} ms cpu  {resp_verdict}",
            req.len() as f64 / 1048576.0,
            t_call.as_secs_f64() * 1e3,
            c_call.as_secs_f64() * 1e3,
            "",
            "",
            t_resp.as_secs_f64() * 1e3,
            c_resp.as_secs_f64() * 1e3,
        );
    }
    print!("{report}");
}
