//! The whole web UI as one async function: a request in, a response out, with XML-RPC
//! calls made through a closure the caller provides (the daemon passes one that sends the
//! call to its event loop). This crate still does no I/O of its own; the HTTP layer only
//! converts its request into a [`Request`] and the [`WebResponse`] into its response type.

use std::borrow::Cow;
use std::future::Future;

use supervisor_protocol::{Fault, ProcessState, Value, SUPERVISOR_VERSION};

use crate::action::{action_json, action_message, redirect_location};
use crate::clock::{self, LocalTime};
use crate::csrf::CsrfKey;
use crate::pages::{error_page, render_status_page, render_tail_page};
use crate::route::{route, Channel, Reply, Request, WebRequest};
use crate::snapshot::{render_status_json, ProcessRow, StatusSnapshot};

/// A complete HTTP response for the HTTP layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    /// Status code.
    pub status: u16,
    /// Headers, in order (names are canonical, values valid header text).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Cow<'static, [u8]>,
}

impl WebResponse {
    fn new(
        status: u16,
        headers: &[(&'static str, &'static str)],
        body: impl Into<Cow<'static, [u8]>>,
    ) -> WebResponse {
        WebResponse {
            status,
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            body: body.into(),
        }
    }

    fn error(status: u16, reason: &str) -> WebResponse {
        WebResponse::new(
            status,
            &crate::html_headers(),
            error_page(status, reason).into_bytes(),
        )
    }

    /// The value of header `name` (ASCII case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How much of the end of the main log is searched for the last exit of FATAL and BACKOFF
/// processes.
const MAIN_LOG_TAIL: u64 = 64 * 1024;

/// Builds the status snapshot from `getAllProcessInfo` and `getIdentification` (and, when a
/// process is FATAL or BACKOFF, the end of the main log: `readLog`).
async fn snapshot<F, Fut>(rpc: &mut F, now: LocalTime) -> Result<StatusSnapshot, Fault>
where
    F: FnMut(&'static str, Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Fault>>,
{
    let infos = rpc("supervisor.getAllProcessInfo", vec![]).await?;
    let identification = rpc("supervisor.getIdentification", vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "supervisor".to_string());
    let mut processes: Vec<ProcessRow> = match &infos {
        Value::Array(items) => items
            .iter()
            .filter_map(ProcessRow::from_process_info)
            .collect(),
        _ => Vec::new(),
    };
    // CPU, memory and restarts, when the daemon is supervisor-rs (one call; none else).
    if let Ok(Value::Array(stats)) = rpc("supervisor_rs.getAllProcessStats", vec![]).await {
        let mut by_name = std::collections::HashMap::new();
        for v in &stats {
            if let (Some(row), Some(s)) = (
                ProcessRow::from_process_info(v),
                crate::snapshot::RowStats::from_value(v),
            ) {
                by_name.insert((row.group, row.name), s);
            }
        }
        for p in &mut processes {
            p.stats = by_name.remove(&(p.group.clone(), p.name.clone()));
        }
    }
    // FATAL and BACKOFF keep no exit status; the main log says how the last run ended.
    let ended = |p: &ProcessRow| {
        p.start > 0 && matches!(p.state, ProcessState::Fatal | ProcessState::Backoff)
    };
    if processes.iter().any(ended) {
        let tail = -i32::try_from(MAIN_LOG_TAIL).unwrap_or(i32::MAX);
        if let Ok(Value::String(log)) =
            rpc("supervisor.readLog", vec![Value::Int(tail), Value::Int(0)]).await
        {
            crate::snapshot::add_last_exits(&mut processes, &log);
        }
    }
    Ok(StatusSnapshot {
        version: SUPERVISOR_VERSION.to_string(),
        identification,
        now: now.unix,
        utc_offset: now.utc_offset,
        year: clock::year(now),
        processes,
        read_only: false,
    })
}

/// Answers one request for the web UI, or `None` when the path is not one of its paths
/// (the HTTP layer then answers 404). `host` is the request's `Host` header (for the
/// reference's absolute redirect after a form action). `rpc(method, params)` runs one XML-RPC
/// method exactly as `/RPC2` would (waits included) and yields its result.
pub async fn handle<F, Fut>(
    req: &Request<'_>,
    host: Option<&str>,
    key: &CsrfKey,
    now: LocalTime,
    mut rpc: F,
) -> Option<WebResponse>
where
    F: FnMut(&'static str, Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Fault>>,
{
    let html = crate::html_headers();
    let token = || key.token(req.user, now.unix);
    Some(match route(req, key, now) {
        WebRequest::NotFound => return None,
        WebRequest::StatusPage { message, confirm } => match snapshot(&mut rpc, now).await {
            Ok(mut snap) => WebResponse::new(
                200,
                &html,
                {
                    snap.read_only = req.read_only;
                    render_status_page(&snap, message.as_deref(), confirm.as_ref(), &token())
                }
                .into_bytes(),
            ),
            Err(_) => WebResponse::error(500, "Internal Server Error"),
        },
        WebRequest::TailPage {
            processname,
            limit,
            channel,
        } => {
            let ns = processname.clone().unwrap_or_default();
            let result = if ns.is_empty() {
                Ok(String::new())
            } else {
                let method = match channel {
                    Channel::Stdout => "supervisor.readProcessStdoutLog",
                    Channel::Stderr => "supervisor.readProcessStderrLog",
                };
                let offset = -i32::try_from(limit).unwrap_or(i32::MAX);
                rpc(
                    method,
                    vec![Value::String(ns), Value::Int(offset), Value::Int(0)],
                )
                .await
                .map(|v| {
                    let text = v.as_str().unwrap_or("").to_string();
                    // As much as was asked for came back: the read most likely started
                    // inside a line, which the page must not show cut.
                    if text.len() as u64 >= limit {
                        crate::logview::from_line_start(text, 1).1
                    } else {
                        text
                    }
                })
            };
            let log = match &result {
                Ok(text) => Ok(text.as_str()),
                Err(fault) => Err(fault),
            };
            let page = render_tail_page(processname.as_deref(), limit, channel, log, &token());
            WebResponse::new(200, &html, page.into_bytes())
        }
        // A read-only user's action is refused before any call (the calls would get the
        // role fault anyway).
        WebRequest::Action { .. } if req.read_only => WebResponse::error(403, "Forbidden"),
        WebRequest::Action { action, reply } => {
            let mut results = Vec::new();
            for call in action.calls() {
                results.push(rpc(call.method, call.params).await);
            }
            let message = action_message(&action, &results, now);
            match reply {
                Reply::Json => WebResponse::new(
                    200,
                    &crate::json_headers(),
                    action_json(&message).into_bytes(),
                ),
                Reply::Redirect => {
                    let mut r = WebResponse::error(301, "Moved Permanently");
                    r.headers
                        .push(("Location", redirect_location(host, "localhost", &message)));
                    r
                }
            }
        }
        WebRequest::StatusJson => match snapshot(&mut rpc, now).await {
            Ok(snap) => WebResponse::new(
                200,
                &crate::json_headers(),
                render_status_json(&snap, &token()).into_bytes(),
            ),
            Err(_) => WebResponse::error(500, "Internal Server Error"),
        },
        WebRequest::LogJson {
            processname,
            channel,
            want,
        } => {
            let result = if processname.is_empty() {
                Err(Fault::new(
                    supervisor_protocol::FaultCode::BadName,
                    "no process name",
                ))
            } else {
                crate::logview::read_piece(&mut rpc, &processname, channel, want).await
            };
            WebResponse::new(
                200,
                &crate::json_headers(),
                crate::logview::log_json(&result).into_bytes(),
            )
        }
        WebRequest::Ok => WebResponse::new(200, &[("Content-Type", "text/plain")], &b"OK"[..]),
        WebRequest::Asset { content_type, body } => {
            let mut r = WebResponse::new(200, &crate::asset_headers(), body);
            r.headers
                .insert(0, ("Content-Type", content_type.to_string()));
            r
        }
        WebRequest::CsrfRejected => WebResponse::error(403, "Forbidden"),
        WebRequest::BadAction => WebResponse::error(500, "Internal Server Error"),
        WebRequest::BodyTooLarge => WebResponse::error(413, "Request Entity Too Large"),
        WebRequest::MethodNotAllowed { allow } => {
            let mut r = WebResponse::error(405, "Method Not Allowed");
            r.headers.push(("Allow", allow.to_string()));
            r
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::future::{ready, Ready};
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use supervisor_protocol::FaultCode;

    /// Polls a future whose awaits are all ready at once (the fake RPC below).
    fn block_on<T>(f: impl Future<Output = T>) -> T {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    const NOW: LocalTime = LocalTime {
        unix: 1_795_284_920,
        utc_offset: 0,
    };

    fn info(name: &str, state: i32, desc: &str) -> Value {
        Value::Struct(vec![
            ("name".into(), Value::String(name.into())),
            ("group".into(), Value::String(name.into())),
            ("state".into(), Value::Int(state)),
            ("description".into(), Value::String(desc.into())),
            ("pid".into(), Value::Int(if state == 20 { 42 } else { 0 })),
            ("start".into(), Value::Int(100)),
        ])
    }

    /// A fake daemon: records calls, answers from a small table.
    struct Fake {
        calls: RefCell<Vec<(String, Vec<Value>)>>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                calls: RefCell::new(vec![]),
            }
        }

        fn rpc(&self) -> impl FnMut(&'static str, Vec<Value>) -> Ready<Result<Value, Fault>> + '_ {
            move |method, params| {
                self.calls
                    .borrow_mut()
                    .push((method.to_string(), params.clone()));
                let target = params
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                ready(match method {
                    "supervisor.getAllProcessInfo" => Ok(Value::Array(vec![
                        info("web", 20, "pid 42, uptime 0:01:00"),
                        info("<b>x</b>", 0, "Not started"),
                    ])),
                    "supervisor.getIdentification" => Ok(Value::String("box1".into())),
                    "supervisor_rs.getAllProcessStats" => Ok(Value::Array(vec![Value::Struct(
                        [
                            ("name", Value::String("web".into())),
                            ("group", Value::String("web".into())),
                            ("state", Value::Int(20)),
                            ("available", Value::Bool(true)),
                            ("cpu_percent", Value::Double(12.5)),
                            ("rss_kb", Value::Int(2048)),
                            ("restarts", Value::Int(3)),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    )])),
                    "supervisor.readProcessStdoutLog" if target == "web" => {
                        Ok(Value::String("hello <i>\n".into()))
                    }
                    "supervisor.readProcessStdoutLog" if target == "long" => Ok(Value::String(
                        format!("{}ut line\nwhole line\nlast\n", "c".repeat(1000)),
                    )),
                    "supervisor.readProcessStdoutLog" => {
                        Err(Fault::new(FaultCode::BadName, &target))
                    }
                    "supervisor.stopProcess" if target == "web" => Ok(Value::Bool(true)),
                    "supervisor.stopProcess" => Err(Fault::new(FaultCode::BadName, &target)),
                    _ => Err(Fault::bare(FaultCode::UnknownMethod)),
                })
            }
        }
    }

    fn request<'a>(method: &'a str, path: &'a str, query: &'a str, body: &'a [u8]) -> Request<'a> {
        Request {
            method,
            path,
            query,
            body,
            csrf_header: None,
            user: "admin",
            read_only: false,
        }
    }

    fn key() -> CsrfKey {
        CsrfKey::new(&[3; 32])
    }

    #[test]
    fn status_page_is_built_from_the_rpc_snapshot() {
        let fake = Fake::new();
        let r = block_on(handle(
            &request("GET", "/", "", b""),
            None,
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html;charset=utf-8"));
        assert!(r.header("Content-Security-Policy").is_some());
        let body = String::from_utf8(r.body.into_owned()).unwrap();
        assert!(body.contains("Supervisor <span class=\"ident\">box1</span>"));
        assert!(body.contains(">pid 42, uptime 0:01:00<"));
        assert!(body.contains("&lt;b&gt;x&lt;/b&gt;") && !body.contains("<b>x</b>"));
        // The stats columns: figures for the process that has them, dashes for the other.
        assert!(body.contains("<th class=\"cpu\" scope=\"col\">CPU</th>"));
        assert!(body.contains(
            "<td class=\"cpu\">12.5%</td><td class=\"mem\">2.0 MiB</td><td class=\"restarts\">3</td>"
        ));
        assert!(body.contains(
            "<td class=\"cpu\">-</td><td class=\"mem\">-</td><td class=\"restarts\">-</td>"
        ));
        let methods: Vec<String> = fake.calls.borrow().iter().map(|c| c.0.clone()).collect();
        assert_eq!(
            methods,
            [
                "supervisor.getAllProcessInfo",
                "supervisor.getIdentification",
                "supervisor_rs.getAllProcessStats"
            ]
        );
    }

    #[test]
    fn a_get_action_calls_nothing_that_changes_state() {
        let fake = Fake::new();
        let r = block_on(handle(
            &request("GET", "/index.html", "processname=web&action=stop", b""),
            None,
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert_eq!(r.status, 200);
        assert!(fake
            .calls
            .borrow()
            .iter()
            .all(|(m, _)| m == "supervisor.getAllProcessInfo"
                || m == "supervisor.getIdentification"
                || m == "supervisor_rs.getAllProcessStats"));
    }

    #[test]
    fn a_posted_action_runs_its_calls_and_redirects_like_the_reference() {
        let fake = Fake::new();
        let body = format!("csrf_token={}", key().token("admin", NOW.unix));
        let req = request(
            "POST",
            "/index.html",
            "processname=web&action=stop",
            body.as_bytes(),
        );
        let r = block_on(handle(
            &req,
            Some("127.0.0.1:9001"),
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert_eq!(r.status, 301);
        assert_eq!(
            r.header("Location"),
            Some("http://127.0.0.1:9001/?message=Process%20web%20stopped")
        );
        assert_eq!(
            fake.calls.borrow()[0],
            (
                "supervisor.stopProcess".to_string(),
                vec![Value::String("web".into())]
            )
        );
        // The JSON variant, unknown process.
        let fake = Fake::new();
        let body = format!(
            "action=stop&processname=nope&csrf_token={}",
            key().token("admin", NOW.unix)
        );
        let req = request("POST", "/api/action", "", body.as_bytes());
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body.as_ref(),
            br#"{"message":"No such process named nope","error":true}"#
        );
    }

    #[test]
    fn a_post_without_token_is_refused_before_any_call() {
        let fake = Fake::new();
        let req = request("POST", "/index.html", "", b"action=stopall");
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        assert_eq!(r.status, 403);
        assert!(fake.calls.borrow().is_empty());
    }

    #[test]
    fn tail_page_reads_the_last_bytes_and_reports_faults() {
        let fake = Fake::new();
        let req = request("GET", "/tail.html", "processname=web&limit=5000", b"");
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        let body = String::from_utf8(r.body.into_owned()).unwrap();
        assert!(body.contains(">hello &lt;i&gt;\n</pre>"));
        assert_eq!(
            fake.calls.borrow()[0].1,
            vec![
                Value::String("web".into()),
                Value::Int(-5000),
                Value::Int(0)
            ]
        );
        // A read as long as the limit starts inside a line: the cut line is not shown.
        let fake = Fake::new();
        let req = request("GET", "/tail.html", "processname=long&limit=10", b"");
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        let body = String::from_utf8(r.body.into_owned()).unwrap();
        assert!(body.contains("\">whole line\nlast\n</pre>"), "{body}");
        let req = request("GET", "/tail.html", "processname=nope", b"");
        let r = block_on(handle(&req, None, &key(), NOW, Fake::new().rpc())).unwrap();
        let body = String::from_utf8(r.body.into_owned()).unwrap();
        assert!(body.contains(">ERROR: unexpected rpc fault [10] BAD_NAME: nope</pre>"));
    }

    #[test]
    fn log_json_reads_and_never_acts() {
        let fake = Fake::new();
        let req = request("GET", "/api/log.json", "processname=&after=5", b"");
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        assert_eq!(
            (r.status, r.header("Content-Type")),
            (200, Some("application/json"))
        );
        assert_eq!(r.body.as_ref(), br#"{"error":"BAD_NAME: no process name"}"#);
        assert!(fake.calls.borrow().is_empty());
        let req = request("GET", "/api/log.json", "processname=nope", b"");
        let fake = Fake::new();
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(v["error"].as_str().is_some());
        assert!(fake
            .calls
            .borrow()
            .iter()
            .all(|(m, _)| m.starts_with("supervisor.tail") || m.starts_with("supervisor.read")));
    }

    #[test]
    fn small_answers() {
        let fake = Fake::new();
        let ok = block_on(handle(
            &request("GET", "/ok.html", "", b""),
            None,
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert_eq!((ok.status, ok.body.as_ref()), (200, &b"OK"[..]));
        assert_eq!(ok.header("Content-Type"), Some("text/plain"));
        let css = block_on(handle(
            &request("GET", "/stylesheets/supervisor.css", "", b""),
            None,
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert_eq!(css.header("Content-Type"), Some("text/css; charset=utf-8"));
        let json = block_on(handle(
            &request("GET", "/api/status.json", "", b""),
            None,
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert_eq!(json.header("Content-Type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(v["processes"].as_array().unwrap().len(), 2);
        let put = block_on(handle(
            &request("PUT", "/", "", b""),
            None,
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert_eq!((put.status, put.header("Allow")), (405, Some("GET, POST")));
        assert!(block_on(handle(
            &request("GET", "/RPC3", "", b""),
            None,
            &key(),
            NOW,
            fake.rpc()
        ))
        .is_none());
    }

    /// A read-only user (role read): the status page has no action buttons, and a
    /// posted action is refused with 403 before any call is made.
    #[test]
    fn read_only_users_see_and_run_no_actions() {
        let fake = Fake::new();
        let mut req = request("GET", "/", "", b"");
        req.read_only = true;
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        let page = String::from_utf8(r.body.to_vec()).unwrap();
        assert!(page.contains("data-read-only=\"1\""));
        for b in [
            "Stop All",
            "Start All",
            "Restart All",
            "act-stop",
            "act-clearlog",
        ] {
            assert!(!page.contains(b), "{b}");
        }
        assert!(page.contains("value=\"refresh\""));
        let body = format!("csrf_token={}", key().token("admin", NOW.unix));
        let mut req = request(
            "POST",
            "/index.html",
            "processname=web&action=stop",
            body.as_bytes(),
        );
        req.read_only = true;
        let calls_before = fake.calls.borrow().len();
        let r = block_on(handle(&req, None, &key(), NOW, fake.rpc())).unwrap();
        assert_eq!(r.status, 403);
        assert_eq!(fake.calls.borrow().len(), calls_before);
        // The same page for a user who may act has the buttons.
        let r = block_on(handle(
            &request("GET", "/", "", b""),
            None,
            &key(),
            NOW,
            fake.rpc(),
        ))
        .unwrap();
        assert!(String::from_utf8(r.body.to_vec())
            .unwrap()
            .contains("act-stop"));
    }
}
