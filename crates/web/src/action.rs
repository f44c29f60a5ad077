//! The actions a page can ask for, the XML-RPC calls that carry each one out, and the
//! message the page shows afterwards (the reference's texts, §7.3 of the surface spec).

use crate::clock::{ctime, LocalTime};
use crate::escape;
use serde::Serialize;
use supervisor_protocol::{Fault, FaultCode, Value};

/// One state-changing (or refresh) request from the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Re-render the page; changes nothing.
    Refresh,
    /// Stop every process.
    StopAll,
    /// Stop every process, then start every process.
    RestartAll,
    /// Start every process (not on the reference's page; offered by ours).
    StartAll,
    /// Start one process (namespec).
    Start(String),
    /// Stop one process (namespec).
    Stop(String),
    /// Stop then start one process (namespec); errors of either step are ignored.
    Restart(String),
    /// Clear both log files of one process (namespec).
    ClearLog(String),
    /// Start every process of a group (group name).
    StartGroup(String),
    /// Stop every process of a group (group name).
    StopGroup(String),
    /// Stop then start every process of a group (group name).
    RestartGroup(String),
}

/// One XML-RPC call the HTTP layer runs (through the same dispatcher as `/RPC2`, with the
/// method's default `wait=true`) to carry out an [`Action`].
#[derive(Debug, Clone, PartialEq)]
pub struct RpcCall {
    /// Full method name, e.g. `supervisor.stopProcess`.
    pub method: &'static str,
    /// Positional parameters.
    pub params: Vec<Value>,
}

fn call(method: &'static str, params: Vec<Value>) -> RpcCall {
    RpcCall { method, params }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

impl Action {
    /// Parses the `action` form field; `target` is the `processname` field. `None` when the
    /// action is unknown or needs a target that is missing/empty (the reference answers 500).
    pub fn parse(action: &str, target: Option<&str>) -> Option<Action> {
        let target = target.filter(|t| !t.is_empty()).map(str::to_string);
        Some(match action {
            "refresh" => Action::Refresh,
            "stopall" => Action::StopAll,
            "restartall" => Action::RestartAll,
            "startall" => Action::StartAll,
            "start" => Action::Start(target?),
            "stop" => Action::Stop(target?),
            "restart" => Action::Restart(target?),
            "clearlog" => Action::ClearLog(target?),
            "startgroup" => Action::StartGroup(target?),
            "stopgroup" => Action::StopGroup(target?),
            "restartgroup" => Action::RestartGroup(target?),
            _ => return None,
        })
    }

    /// The `action` field value for this action.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Refresh => "refresh",
            Action::StopAll => "stopall",
            Action::RestartAll => "restartall",
            Action::StartAll => "startall",
            Action::Start(_) => "start",
            Action::Stop(_) => "stop",
            Action::Restart(_) => "restart",
            Action::ClearLog(_) => "clearlog",
            Action::StartGroup(_) => "startgroup",
            Action::StopGroup(_) => "stopgroup",
            Action::RestartGroup(_) => "restartgroup",
        }
    }

    /// The process namespec or group name the action applies to, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            Action::Refresh | Action::StopAll | Action::RestartAll | Action::StartAll => None,
            Action::Start(t)
            | Action::Stop(t)
            | Action::Restart(t)
            | Action::ClearLog(t)
            | Action::StartGroup(t)
            | Action::StopGroup(t)
            | Action::RestartGroup(t) => Some(t),
        }
    }

    /// A short human description used by the confirmation panel, e.g. `stop process web`.
    pub fn describe(&self) -> String {
        match self {
            Action::Refresh => "refresh the page".into(),
            Action::StopAll => "stop all processes".into(),
            Action::RestartAll => "restart all processes".into(),
            Action::StartAll => "start all processes".into(),
            Action::Start(t) => format!("start process {t}"),
            Action::Stop(t) => format!("stop process {t}"),
            Action::Restart(t) => format!("restart process {t}"),
            Action::ClearLog(t) => format!("clear the logs of process {t}"),
            Action::StartGroup(t) => format!("start every process of group {t}"),
            Action::StopGroup(t) => format!("stop every process of group {t}"),
            Action::RestartGroup(t) => format!("restart every process of group {t}"),
        }
    }

    /// The query string that names this action (`processname=..&action=..`), URL-quoted.
    pub fn query(&self) -> String {
        match self.target() {
            Some(t) => format!(
                "processname={}&action={}",
                escape::url_quote(t),
                self.name()
            ),
            None => format!("action={}", self.name()),
        }
    }

    /// The XML-RPC calls that carry the action out, to run in order. Run every call even
    /// when an earlier one faults (the reference ignores the stop fault of a restart), and
    /// pass all results, in order, to [`action_message`].
    pub fn calls(&self) -> Vec<RpcCall> {
        match self {
            Action::Refresh => vec![],
            Action::StopAll => vec![call("supervisor.stopAllProcesses", vec![])],
            Action::StartAll => vec![call("supervisor.startAllProcesses", vec![])],
            Action::RestartAll => vec![
                call("supervisor.stopAllProcesses", vec![]),
                call("supervisor.startAllProcesses", vec![]),
            ],
            Action::Start(ns) => vec![call("supervisor.startProcess", vec![s(ns)])],
            Action::Stop(ns) => vec![call("supervisor.stopProcess", vec![s(ns)])],
            Action::Restart(ns) => vec![
                call("supervisor.stopProcess", vec![s(ns)]),
                call("supervisor.startProcess", vec![s(ns)]),
            ],
            Action::ClearLog(ns) => vec![call("supervisor.clearProcessLogs", vec![s(ns)])],
            Action::StartGroup(g) => vec![call("supervisor.startProcessGroup", vec![s(g)])],
            Action::StopGroup(g) => vec![call("supervisor.stopProcessGroup", vec![s(g)])],
            Action::RestartGroup(g) => vec![
                call("supervisor.stopProcessGroup", vec![s(g)]),
                call("supervisor.startProcessGroup", vec![s(g)]),
            ],
        }
    }
}

/// The result of one [`RpcCall`].
pub type CallResult = Result<Value, Fault>;

fn unexpected(f: &Fault) -> String {
    format!("unexpected rpc fault [{}] {}", f.code, f.string)
}

fn is_bad_name(results: &[CallResult]) -> bool {
    results
        .iter()
        .any(|r| matches!(r, Err(f) if f.fault_code() == Some(FaultCode::BadName)))
}

/// Failures listed in a `startProcessGroup`/`stopProcessGroup` result array
/// (`{name, group, status, description}` structs whose `status` is not SUCCESS).
fn group_failures(v: &Value) -> Vec<String> {
    let Value::Array(items) = v else {
        return vec![];
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Struct(members) = item else {
                return None;
            };
            let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
            let status = get("status").and_then(Value::as_int)?;
            if status == FaultCode::Success.code() {
                return None;
            }
            let name = get("name").and_then(Value::as_str).unwrap_or("?");
            let desc = get("description").and_then(Value::as_str).unwrap_or("");
            Some(format!("{name}: {desc}"))
        })
        .collect()
}

/// The message shown after an action, from the results of its [`Action::calls`] (in order)
/// and the local time (for the `... at <ctime>` messages). Texts are the reference's.
pub fn action_message(action: &Action, results: &[CallResult], now: LocalTime) -> String {
    let first = results.first();
    match action {
        Action::Refresh => format!("Page refreshed at {}", ctime(now)),
        Action::StopAll => format!("All stopped at {}", ctime(now)),
        Action::RestartAll => format!("All restarted at {}", ctime(now)),
        Action::StartAll => format!("All started at {}", ctime(now)),
        Action::Start(ns) => match first {
            Some(Err(f)) if f.fault_code() == Some(FaultCode::BadName) => {
                format!("No such process named {ns}")
            }
            Some(Err(f)) => {
                let why = match f.fault_code() {
                    Some(FaultCode::NoFile) => "no such file".to_string(),
                    Some(FaultCode::NotExecutable) => "file not executable".to_string(),
                    Some(FaultCode::AlreadyStarted) => "already started".to_string(),
                    Some(FaultCode::SpawnError) => "spawn error".to_string(),
                    Some(FaultCode::AbnormalTermination) => "abnormal termination".to_string(),
                    _ => unexpected(f),
                };
                format!("ERROR: Process {ns}: {why}")
            }
            _ => format!("Process {ns} started"),
        },
        Action::Stop(ns) => match first {
            Some(Err(f)) if f.fault_code() == Some(FaultCode::BadName) => {
                format!("No such process named {ns}")
            }
            Some(Err(f)) => unexpected(f),
            _ => format!("Process {ns} stopped"),
        },
        Action::Restart(ns) => {
            if is_bad_name(results) {
                format!("No such process named {ns}")
            } else {
                format!("Process {ns} restarted")
            }
        }
        Action::ClearLog(ns) => match first {
            Some(Err(f)) if f.fault_code() == Some(FaultCode::BadName) => {
                format!("No such process named {ns}")
            }
            Some(Err(f)) => unexpected(f),
            _ => format!("Log for {ns} cleared"),
        },
        Action::StartGroup(g) | Action::StopGroup(g) | Action::RestartGroup(g) => {
            if is_bad_name(results) {
                return format!("No such group named {g}");
            }
            if let Some(Err(f)) = results.iter().find(|r| r.is_err()) {
                return unexpected(f);
            }
            // For a restart only the start step's failures matter.
            let last = results.last().and_then(|r| r.as_ref().ok());
            let failures = last.map(group_failures).unwrap_or_default();
            if !failures.is_empty() {
                return format!("ERROR: Group {g}: {}", failures.join("; "));
            }
            let verb = match action {
                Action::StartGroup(_) => "started",
                Action::StopGroup(_) => "stopped",
                _ => "restarted",
            };
            format!("Group {g} {verb}")
        }
    }
}

/// Whether a message reports a failure (the page shows it in the error colour).
pub fn is_error_message(message: &str) -> bool {
    message.starts_with("ERROR")
        || message.starts_with("unexpected rpc fault")
        || message.starts_with("No such ")
}

/// The `Location` of the reference's `301` after an action:
/// `http://<host>/?message=<quoted message>`. `host` is the request's `Host` header (or the
/// server's `name[:port]` when absent); a host with characters a host name cannot contain
/// is replaced by `fallback` so the header cannot be used to inject anything.
pub fn redirect_location(host: Option<&str>, fallback: &str, message: &str) -> String {
    let ok = |h: &str| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
    };
    let host = match host {
        Some(h) if ok(h) => h,
        _ if ok(fallback) => fallback,
        _ => "localhost",
    };
    format!("http://{host}/?message={}", escape::url_quote(message))
}

/// Body of the JSON answer to `POST /api/action`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ActionReply {
    /// The message, as the reference's page would show it.
    pub message: String,
    /// Whether the message reports a failure.
    pub error: bool,
}

/// The JSON body answering `POST /api/action` (send with `Content-Type: application/json`).
pub fn action_json(message: &str) -> String {
    let reply = ActionReply {
        message: message.to_string(),
        error: is_error_message(message),
    };
    serde_json::to_string(&reply).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: LocalTime = LocalTime {
        unix: 1_795_284_920,
        utc_offset: 0,
    };

    fn fault(code: FaultCode, detail: &str) -> CallResult {
        Err(Fault::new(code, detail))
    }

    #[test]
    fn parse_round_trips_and_refuses_missing_targets() {
        for name in [
            "start",
            "stop",
            "restart",
            "clearlog",
            "startgroup",
            "stopgroup",
            "restartgroup",
        ] {
            let a = Action::parse(name, Some("g:p")).unwrap();
            assert_eq!(a.name(), name);
            assert_eq!(a.target(), Some("g:p"));
            assert_eq!(Action::parse(name, None), None);
            assert_eq!(Action::parse(name, Some("")), None);
        }
        for name in ["refresh", "stopall", "restartall", "startall"] {
            assert_eq!(Action::parse(name, None).unwrap().name(), name);
        }
        assert_eq!(Action::parse("explode", Some("x")), None);
        assert_eq!(
            Action::Stop("grp:a b".into()).query(),
            "processname=grp%3Aa%20b&action=stop"
        );
    }

    #[test]
    fn calls_match_the_reference() {
        assert!(Action::Refresh.calls().is_empty());
        let r = Action::Restart("web".into()).calls();
        assert_eq!(r[0].method, "supervisor.stopProcess");
        assert_eq!(r[1].method, "supervisor.startProcess");
        assert_eq!(r[1].params, vec![Value::String("web".into())]);
        let m: Vec<_> = Action::RestartAll
            .calls()
            .iter()
            .map(|c| c.method)
            .collect();
        assert_eq!(
            m,
            [
                "supervisor.stopAllProcesses",
                "supervisor.startAllProcesses"
            ]
        );
        assert_eq!(
            Action::ClearLog("x".into()).calls()[0].method,
            "supervisor.clearProcessLogs"
        );
    }

    #[test]
    fn messages_match_the_reference() {
        let ok = [Ok(Value::Bool(true))];
        assert_eq!(
            action_message(&Action::Refresh, &[], NOW),
            "Page refreshed at Sat Nov 21 18:15:20 2026"
        );
        assert_eq!(
            action_message(&Action::StopAll, &ok, NOW),
            "All stopped at Sat Nov 21 18:15:20 2026"
        );
        assert_eq!(
            action_message(&Action::RestartAll, &ok, NOW),
            "All restarted at Sat Nov 21 18:15:20 2026"
        );
        let start = Action::Start("web".into());
        assert_eq!(action_message(&start, &ok, NOW), "Process web started");
        let cases = [
            (FaultCode::NoFile, "ERROR: Process web: no such file"),
            (
                FaultCode::NotExecutable,
                "ERROR: Process web: file not executable",
            ),
            (
                FaultCode::AlreadyStarted,
                "ERROR: Process web: already started",
            ),
            (FaultCode::SpawnError, "ERROR: Process web: spawn error"),
            (
                FaultCode::AbnormalTermination,
                "ERROR: Process web: abnormal termination",
            ),
            (FaultCode::BadName, "No such process named web"),
        ];
        for (code, want) in cases {
            assert_eq!(action_message(&start, &[fault(code, "web")], NOW), want);
        }
        assert_eq!(
            action_message(&start, &[fault(FaultCode::Failed, "boom")], NOW),
            "ERROR: Process web: unexpected rpc fault [30] FAILED: boom"
        );
        let stop = Action::Stop("web".into());
        assert_eq!(action_message(&stop, &ok, NOW), "Process web stopped");
        assert_eq!(
            action_message(&stop, &[Err(Fault::bare(FaultCode::NotRunning))], NOW),
            "unexpected rpc fault [70] NOT_RUNNING"
        );
        let restart = Action::Restart("web".into());
        let mixed = [
            Err(Fault::bare(FaultCode::NotRunning)),
            Ok(Value::Bool(true)),
        ];
        assert_eq!(
            action_message(&restart, &mixed, NOW),
            "Process web restarted"
        );
        let clear = Action::ClearLog("web".into());
        assert_eq!(action_message(&clear, &ok, NOW), "Log for web cleared");
        assert_eq!(
            action_message(&clear, &[fault(FaultCode::BadName, "web")], NOW),
            "No such process named web"
        );
    }

    #[test]
    fn group_messages_list_failures() {
        let item = |name: &str, status: i32, desc: &str| {
            Value::Struct(vec![
                ("name".into(), Value::String(name.into())),
                ("group".into(), Value::String("g".into())),
                ("status".into(), Value::Int(status)),
                ("description".into(), Value::String(desc.into())),
            ])
        };
        let g = Action::StartGroup("g".into());
        let all_ok = [Ok(Value::Array(vec![
            item("a", 80, "OK"),
            item("b", 80, "OK"),
        ]))];
        assert_eq!(action_message(&g, &all_ok, NOW), "Group g started");
        let some_bad = [Ok(Value::Array(vec![
            item("a", 80, "OK"),
            item("b", 50, "SPAWN_ERROR: b"),
        ]))];
        assert_eq!(
            action_message(&g, &some_bad, NOW),
            "ERROR: Group g: b: SPAWN_ERROR: b"
        );
        assert_eq!(
            action_message(&g, &[fault(FaultCode::BadName, "g")], NOW),
            "No such group named g"
        );
    }

    #[test]
    fn redirect_location_matches_the_reference_and_sanitises_host() {
        assert_eq!(
            redirect_location(
                Some("127.0.0.1:19011"),
                "localhost",
                "Process sleeper stopped"
            ),
            "http://127.0.0.1:19011/?message=Process%20sleeper%20stopped"
        );
        assert_eq!(
            redirect_location(Some("evil\r\nSet-Cookie: x"), "myhost:9001", "m"),
            "http://myhost:9001/?message=m"
        );
        assert_eq!(
            redirect_location(None, "bad host", "m"),
            "http://localhost/?message=m"
        );
    }

    #[test]
    fn json_reply_flags_errors() {
        assert_eq!(
            action_json("Process a started"),
            r#"{"message":"Process a started","error":false}"#
        );
        assert!(action_json("ERROR: Process a: spawn error").contains(r#""error":true"#));
        assert!(is_error_message("No such process named x"));
    }
}
