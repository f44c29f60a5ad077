//! The audit log: one INFO line per state-changing call (every method above `read`,
//! each call of a multicall on its own, the web UI's actions, which are RPC calls too),
//! and one per refused call, written when its outcome is known:
//!
//! ```text
//! 2026-12-04 19:30:00,123 INFO audit: user deploy from 127.0.0.1:40112 called supervisor.stopProcess('web') -> ok
//! 2026-12-04 19:30:01,456 INFO audit: user admin uid 1000 pid 4242 from unix called supervisor.reloadConfig() -> ok
//! 2026-12-04 19:30:02,789 INFO audit: user viewer from 127.0.0.1:40113 called supervisor.stopProcess('web') -> denied: FAILED: not allowed for role read: supervisor.stopProcess needs operate
//! ```
//!
//! The lines go to the main log (whatever its `loglevel`), or to `[supervisord]
//! audit_logfile` when set (same line format, rotated like the main log). Reads are not
//! audited.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use supervisor_config::LogLevel;
use supervisor_protocol::{Fault, Value};

use super::{roles, Caller};
use crate::logs::MainLog;
use crate::rpc::{Backend, Outcome, Waiter};

/// Longest argument text written (a big `sendProcessStdin` is cut).
pub const MAX_ARGS_TEXT: usize = 200;

enum Sink {
    Main(Rc<RefCell<MainLog>>),
    File(MainLog),
    #[cfg(test)]
    Capture(Rc<RefCell<Vec<String>>>),
}

/// Audit lines go to a vector (unit tests).
#[cfg(test)]
pub fn capture() -> Rc<RefCell<Vec<String>>> {
    let v = Rc::new(RefCell::new(Vec::new()));
    SINK.with(|s| *s.borrow_mut() = Some(Sink::Capture(v.clone())));
    v
}

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Audit lines go to the main log.
pub fn to_main_log(log: Rc<RefCell<MainLog>>) {
    SINK.with(|s| *s.borrow_mut() = Some(Sink::Main(log)));
}

/// Audit lines go to their own file (`audit_logfile`).
pub fn to_file(log: MainLog) {
    SINK.with(|s| *s.borrow_mut() = Some(Sink::File(log)));
}

/// Writes one audit line (`audit: ` + `text`) at INFO.
pub fn write(text: &str) {
    let line = format!("audit: {text}");
    SINK.with(|s| match &mut *s.borrow_mut() {
        Some(Sink::Main(l)) => {
            let mut l = l.borrow_mut();
            if l.enabled(LogLevel::Info) {
                l.log(LogLevel::Info, &line);
            } else {
                // An audit trail does not vanish with `loglevel = warn`: the line is
                // written anyway (to the file and stdout targets).
                let now = chrono::Local::now();
                l.write_line(&crate::logs::mainlog::format_line(
                    &now,
                    LogLevel::Info,
                    &line,
                ));
            }
        }
        Some(Sink::File(l)) => l.log(LogLevel::Info, &line),
        #[cfg(test)]
        Some(Sink::Capture(v)) => v.borrow_mut().push(line),
        None => {}
    });
}

/// Reopens an own audit file (on SIGUSR2, with the main log).
pub fn reopen() {
    SINK.with(|s| {
        if let Some(Sink::File(l)) = &mut *s.borrow_mut() {
            let _ = l.reopen();
        }
    });
}

fn value_text(v: &Value, out: &mut String) {
    match v {
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::String(s) => out.push_str(&supervisor_protocol::pyrepr::str_repr(s)),
        Value::Double(d) => out.push_str(&d.to_string()),
        Value::DateTime(d) => out.push_str(d),
        Value::Base64(b) => out.push_str(&supervisor_protocol::pyrepr::bytes_repr(b)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value_text(x, out);
                if out.len() > MAX_ARGS_TEXT {
                    break;
                }
            }
            out.push(']');
        }
        Value::Struct(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&supervisor_protocol::pyrepr::str_repr(k));
                out.push_str(": ");
                value_text(x, out);
                if out.len() > MAX_ARGS_TEXT {
                    break;
                }
            }
            out.push('}');
        }
    }
}

/// The arguments as written in the line: `('web', True)`, cut at [`MAX_ARGS_TEXT`].
pub fn args_text(params: &[Value]) -> String {
    let mut s = String::from("(");
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        value_text(p, &mut s);
        if s.len() > MAX_ARGS_TEXT {
            break;
        }
    }
    if s.len() > MAX_ARGS_TEXT {
        let mut cut = MAX_ARGS_TEXT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s.push(')');
    s
}

/// One call to be written once its outcome is known.
#[derive(Debug, Clone)]
pub struct Entry {
    who: String,
    from: String,
    method: String,
    args: String,
}

impl Entry {
    /// The entry of `caller` calling `method(params)`.
    pub fn new(caller: &Caller, method: &str, params: &[Value]) -> Entry {
        Entry {
            who: caller.who(),
            from: caller.peer.from_text(),
            method: method.to_string(),
            args: args_text(params),
        }
    }

    fn line(&self, outcome: &str) -> String {
        format!(
            "{} from {} called {}{} -> {outcome}",
            self.who, self.from, self.method, self.args
        )
    }

    /// Writes the line with the call's result.
    pub fn finish(&self, result: &Result<Value, Fault>) {
        let outcome = match result {
            Ok(_) => "ok".to_string(),
            Err(f) => format!("fault {} ({})", f.code, f.string),
        };
        write(&self.line(&outcome));
    }
}

/// Writes the line of a call refused for its role.
pub fn denied(caller: &Caller, method: &str, params: &[Value], fault: &Fault) {
    write(&Entry::new(caller, method, params).line(&format!("denied: {}", fault.string)));
}

/// A waiting call whose line is written when it finishes (or `abandoned` when its client
/// went away first).
struct Audited {
    inner: Box<dyn Waiter>,
    entry: Option<Entry>,
}

impl Waiter for Audited {
    fn poll(&mut self, backend: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        let r = self.inner.poll(backend)?;
        if let Some(e) = self.entry.take() {
            e.finish(&r);
        }
        Some(r)
    }
}

impl Drop for Audited {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            write(&e.line("abandoned (the client went away before the call finished)"));
        }
    }
}

/// Audits `outcome` of `method(params)` when the current caller made it and the method
/// changes state: a finished call is written now, a waiting one when it finishes.
pub fn wrap(method: &str, params: &[Value], outcome: Outcome) -> Outcome {
    let Some(caller) = super::current() else {
        return outcome;
    };
    if !roles::is_state_changing(method) {
        return outcome;
    }
    audit_outcome(&caller, method, params, outcome)
}

fn audit_outcome(
    caller: &Arc<Caller>,
    method: &str,
    params: &[Value],
    outcome: Outcome,
) -> Outcome {
    let entry = Entry::new(caller, method, params);
    match outcome {
        Outcome::Done(r) => {
            entry.finish(&r);
            Outcome::Done(r)
        }
        Outcome::Wait(w) => Outcome::Wait(Box::new(Audited {
            inner: w,
            entry: Some(entry),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        assert_eq!(args_text(&[]), "()");
        assert_eq!(
            args_text(&[Value::from("web"), Value::Bool(true)]),
            "('web', True)"
        );
        let long = "x".repeat(1000);
        let t = args_text(&[Value::from(long.as_str())]);
        assert!(t.len() < MAX_ARGS_TEXT + 10 && t.ends_with("...)"), "{t}");
    }
}
