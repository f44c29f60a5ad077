//! The extension method `supervisor_rs.rotateLogs(name)` (`supervisorctl rotate`):
//! rotates log files now, whatever their `*logfile_rotate` schedule.
//!
//! `name` is a process (`web`, `group:web`), a whole group (`group:*`), or `all` (every
//! process and the main log). The answer is one struct per log owner, like
//! `clearAllProcessLogs`: `{name, group, status, description}` with status 80 (SUCCESS)
//! and a description such as `stdout rotated; stderr empty`, or status 30 (FAILED) and
//! the error. An unknown name is the BAD_NAME fault.

use std::io;

use supervisor_protocol::{Fault, FaultCode, Value};

use super::rotating::Rotated;
use crate::rpc::{split_namespec, Backend, Outcome};

/// What rotating one log file now did (`None`: the channel has no file).
pub type RotateResult = io::Result<Option<Rotated>>;

/// Describes the rotation of one owner's files: `Ok(text)` or `Err(text)` if one failed.
pub fn describe(results: &[(&str, RotateResult)]) -> Result<String, String> {
    let mut parts = Vec::new();
    let mut failed = false;
    for (what, r) in results {
        parts.push(match r {
            Ok(Some(Rotated::Yes)) => format!("{what} rotated"),
            Ok(Some(Rotated::Empty)) => format!("{what} empty, not rotated"),
            Ok(Some(Rotated::NotAFile)) => format!("{what} not a regular file, not rotated"),
            Ok(None) => format!("{what} has no log file"),
            Err(e) => {
                failed = true;
                format!("{what} rotation failed: {e}")
            }
        });
    }
    let text = if parts.is_empty() {
        "no log file".to_string()
    } else {
        parts.join("; ")
    };
    if failed {
        Err(text)
    } else {
        Ok(text)
    }
}

fn entry(group: &str, name: &str, r: Result<String, String>) -> Value {
    let (status, description) = match r {
        Ok(t) => (FaultCode::Success.code(), t),
        Err(t) => (FaultCode::Failed.code(), t),
    };
    Value::Struct(vec![
        ("name".into(), Value::from(name)),
        ("group".into(), Value::from(group)),
        ("status".into(), Value::Int(status)),
        ("description".into(), Value::String(description)),
    ])
}

/// `supervisor_rs.rotateLogs(name)`.
pub fn rotate_logs(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = match params.first() {
        Some(Value::String(s)) => s.as_str(),
        _ => return Outcome::Done(Err(Fault::bare(FaultCode::IncorrectParameters))),
    };
    let bad = || Outcome::Done(Err(Fault::new(FaultCode::BadName, spec)));
    let mut all = b.all_processes();
    all.sort_by(|x, y| (&x.group, &x.name).cmp(&(&y.group, &y.name)));
    let targets: Vec<(String, String)> = if spec == "all" {
        all.iter()
            .map(|p| (p.group.clone(), p.name.clone()))
            .collect()
    } else {
        let (group, name) = split_namespec(spec);
        match name {
            None => {
                let found: Vec<_> = all
                    .iter()
                    .filter(|p| p.group == group)
                    .map(|p| (p.group.clone(), p.name.clone()))
                    .collect();
                if found.is_empty() {
                    return bad();
                }
                found
            }
            Some(name) => match b.process(group, name) {
                Some(p) => vec![(p.group.clone(), p.name.clone())],
                None => return bad(),
            },
        }
    };
    let mut out = Vec::new();
    for (group, name) in &targets {
        let r = b.rotate_process_logs(group, name);
        out.push(entry(group, name, r));
    }
    if spec == "all" {
        let r = b.rotate_main_log();
        out.push(entry("", "supervisord", r));
    }
    Outcome::Done(Ok(Value::Array(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        assert_eq!(
            describe(&[
                ("stdout", Ok(Some(Rotated::Yes))),
                ("stderr", Ok(Some(Rotated::Empty)))
            ]),
            Ok("stdout rotated; stderr empty, not rotated".to_string())
        );
        assert_eq!(
            describe(&[("stdout", Ok(Some(Rotated::NotAFile)))]),
            Ok("stdout not a regular file, not rotated".to_string())
        );
        assert_eq!(describe(&[]), Ok("no log file".to_string()));
        let e = describe(&[
            ("stdout", Ok(None)),
            ("stderr", Err(io::Error::from_raw_os_error(libc::EACCES))),
        ])
        .unwrap_err();
        assert!(
            e.starts_with("stdout has no log file; stderr rotation failed: "),
            "{e}"
        );
    }
}
