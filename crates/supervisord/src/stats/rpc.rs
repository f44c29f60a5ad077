//! The extension methods `supervisor_rs.getProcessStats(name)` and
//! `supervisor_rs.getAllProcessStats()`: the [`ProcessFigures`] of the backend as XML-RPC
//! structs (see docs/metrics.md for every field).

use supervisor_protocol::{Fault, FaultCode, Value};

use super::ProcessFigures;
use crate::rpc::{split_namespec, Backend, Outcome};

/// Clamps to an XML-RPC `<int>`.
fn int(v: u64) -> Value {
    Value::Int(v.min(i32::MAX as u64) as i32)
}

/// The struct of one process: the table's bookkeeping, then the sampled figures (zeros
/// with `available` false when there is no live process to read).
pub fn figures_value(f: &ProcessFigures) -> Value {
    let s = f.sample;
    let m = |k: &str, v: Value| (k.to_string(), v);
    Value::Struct(vec![
        m("name", Value::String(f.name.clone())),
        m("group", Value::String(f.group.clone())),
        m("pid", Value::Int(f.pid)),
        m("state", Value::Int(f.state.code())),
        m("statename", Value::String(f.state.name().to_string())),
        m(
            "start",
            Value::Int(f.start.clamp(0.0, i32::MAX as f64) as i32),
        ),
        m("uptime", int(f.uptime.max(0.0) as u64)),
        m("restarts", int(f.restarts)),
        m("exitstatus", Value::Int(f.last_exit.unwrap_or(0))),
        m("available", Value::Bool(s.is_some())),
        m(
            "cpu_seconds",
            Value::Double(s.map_or(0.0, |s| (s.cpu_seconds * 100.0).round() / 100.0)),
        ),
        m(
            "cpu_percent",
            Value::Double(s.map_or(0.0, |s| s.cpu_percent)),
        ),
        m("rss_kb", int(s.map_or(0, |s| s.rss_bytes / 1024))),
        m("fds", int(s.map_or(0, |s| s.fds))),
        m("threads", int(s.map_or(0, |s| s.threads))),
        m("processes", int(s.map_or(0, |s| s.processes))),
        m(
            "cpu_source",
            Value::String(s.map_or("", |s| s.cpu_source.as_str()).to_string()),
        ),
    ])
}

/// `supervisor_rs.getProcessStats(name)`: BAD_NAME for an unknown process.
pub fn get_process_stats(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let Some(spec) = params.first().and_then(Value::as_str) else {
        return Outcome::Done(Err(Fault::bare(FaultCode::IncorrectParameters)));
    };
    let (group, name) = split_namespec(spec);
    let found = match name {
        Some(name) => b.process_figures(group, name),
        None => None,
    };
    Outcome::Done(match found {
        Some(f) => Ok(figures_value(&f)),
        None => Err(Fault::new(FaultCode::BadName, spec)),
    })
}

/// `supervisor_rs.getAllProcessStats()`: every process, in `getAllProcessInfo` order.
pub fn get_all_process_stats(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let all = b.all_process_figures();
    Outcome::Done(Ok(Value::Array(all.iter().map(figures_value).collect())))
}
