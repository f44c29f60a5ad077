//! Arbitrary bytes as what a client sends on one connection to the daemon's HTTP server:
//! the real `serve_connection` (hyper, limits, Basic auth, /RPC2 decoding, /logtail and
//! /mainlogtail routing, the web UI of crates/web) over an in-memory duplex stream. The
//! event loop is played by a task that answers every control request with a plausible
//! value. Each input is bounded in time; a panic anywhere is a bug.
//!
//! The first input byte picks the set-up: bit 0 = the server has credentials
//! (`user`/`123`), the rest of the input is the byte stream of the connection.
#![no_main]
use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use supervisor_config::{Credentials, LogLevel};
use supervisor_protocol::xmlrpc::{write_response, Value};
use supervisor_protocol::Fault;
use supervisord::http::web::SupervisorWebUi;
use supervisord::http::{serve_connection, Limits, ServerContext};
use supervisord::rpc::ControlRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
}

fn process_info(name: &str) -> Value {
    let s = |v: &str| Value::String(v.to_string());
    Value::Struct(vec![
        ("name".into(), s(name)),
        ("group".into(), s(name)),
        ("start".into(), Value::Int(1_700_000_000)),
        ("stop".into(), Value::Int(0)),
        ("now".into(), Value::Int(1_700_000_100)),
        ("state".into(), Value::Int(20)),
        ("statename".into(), s("RUNNING")),
        ("spawnerr".into(), s("")),
        ("exitstatus".into(), Value::Int(0)),
        ("logfile".into(), s("/tmp/x.log")),
        ("stdout_logfile".into(), s("/tmp/x.log")),
        ("stderr_logfile".into(), s("")),
        ("pid".into(), Value::Int(42)),
        ("description".into(), s("pid 42, uptime 0:01:40")),
    ])
}

/// The dummy event loop's answer to one call.
fn answer(name: &str, params: &[Value]) -> Result<Value, Fault> {
    match name {
        "supervisor.getAllProcessInfo" => Ok(Value::Array(vec![
            process_info("web"),
            process_info("worker"),
        ])),
        "supervisor.getProcessInfo" => Ok(process_info("web")),
        "supervisor.getIdentification" => Ok(Value::String("supervisor".into())),
        "supervisor.getState" => Ok(Value::Struct(vec![
            ("statecode".into(), Value::Int(1)),
            ("statename".into(), Value::String("RUNNING".into())),
        ])),
        "supervisor.readProcessStdoutLog"
        | "supervisor.readProcessStderrLog"
        | "supervisor.readLog" => Ok(Value::String("line one\nline <two> & three\n".into())),
        "supervisor.fail" => Err(Fault {
            code: 10,
            string: "BAD_NAME: fail".into(),
        }),
        _ if name.starts_with("supervisor.") => Ok(Value::Bool(true)),
        // Anything else: echo the params (exercises the writer on parsed values).
        _ => Ok(Value::Array(params.to_vec())),
    }
}

async fn dummy_loop(mut rx: mpsc::Receiver<ControlRequest>) {
    while let Some(req) = rx.recv().await {
        match req {
            ControlRequest::Call {
                name,
                params,
                reply,
            } => {
                let _ = reply.send(answer(&name, &params));
            }
            ControlRequest::CallXml {
                name,
                params,
                reply,
            } => {
                let _ = reply.send(answer(&name, &params).map(|v| write_response(&v)));
            }
            ControlRequest::LogPath { reply, .. } => {
                let _ = reply.send(None);
            }
            ControlRequest::SubscribeEvents { reply, .. } => {
                let _ = reply.send(None);
            }
            ControlRequest::Metrics { reply, .. } => {
                let _ = reply.send(None);
            }
            ControlRequest::Health { reply } => {
                let _ = reply.send(None);
            }
            // Calls of an authenticated caller: dropped (the client sees FAILED).
            ControlRequest::As { .. } => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&setup, stream)) = data.split_first() else {
        return;
    };
    let credentials = (setup & 1 == 1).then(|| Credentials {
        username: "user".into(),
        password: "123".into(),
    });
    let limits = Limits {
        max_body: 64 * 1024,
        max_head: 8 * 1024,
        max_headers: 32,
        head_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(200),
        body_timeout: Duration::from_millis(200),
        max_connections: 8,
        evict_after: Duration::from_millis(100),
        ..Limits::default()
    };
    RT.with(|rt| {
        rt.block_on(async {
            let (tx, rx) = mpsc::channel(16);
            let ctx = Arc::new(ServerContext {
                credentials,
                access: None,
                control: tx,
                web: SupervisorWebUi::new(),
                limits,
                log: None,
                log_level: LogLevel::Info,
                health_open: false,
            });
            let looper = tokio::spawn(dummy_loop(rx));
            let (mut client, server) = tokio::io::duplex(16 * 1024);
            let server = tokio::spawn(serve_connection(server, ctx));
            let talk = async {
                let (mut rd, mut wr) = tokio::io::split(&mut client);
                let send = async {
                    let _ = wr.write_all(stream).await;
                    let _ = wr.shutdown().await;
                };
                let recv = async {
                    // Read (and drop) the answers until the server closes.
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut total = 0usize;
                    while let Ok(n) = rd.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        total += n;
                    }
                    total
                };
                tokio::join!(send, recv)
            };
            // Streaming answers (log tails) never end by themselves: bounded per input.
            let _ = tokio::time::timeout(Duration::from_millis(500), talk).await;
            server.abort();
            looper.abort();
            let _ = server.await;
            let _ = looper.await;
        })
    });
});
