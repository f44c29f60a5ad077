//! `supervisor_rs.getAllConfigExtensions`: the keys of supervisor-rs's own features per
//! process of the loaded configuration (the reference's `getAllConfigInfo` stays
//! byte-identical, so they are not there).
//!
//! One struct per process, `{group, name, ...}`, sorted by group then name. Each feature
//! adds its members in [`extension_members`], one line per key.

use supervisor_config::{GroupConfig, ProcessConfig};
use supervisor_protocol::Value;

use super::super::{Backend, Outcome};
use super::args::done;

/// The members of one process's struct after `group` and `name`: one entry per key of a
/// supervisor-rs feature (add a line here for a new key).
fn extension_members(p: &ProcessConfig) -> Vec<(String, Value)> {
    use supervisor_config::checks::{DEFAULT_READY_INTERVAL, DEFAULT_READY_TIMEOUT};
    use supervisor_config::restart as rs;
    let (ready, ready_timeout, ready_interval) = match &p.ready {
        Some(r) => (r.check.to_string(), r.timeout, r.interval),
        None => (String::new(), DEFAULT_READY_TIMEOUT, DEFAULT_READY_INTERVAL),
    };
    let h = p.health.as_ref();
    let res = &p.resources;
    use supervisor_config::checks as ck;
    vec![
        // depends_on=: ["db:ready", "migrate:done"] (empty = none)
        (
            "depends_on".into(),
            Value::Array(
                p.depends_on
                    .iter()
                    .map(|d| Value::String(d.to_string()))
                    .collect(),
            ),
        ),
        // ready=: the check as text ('' = none: RUNNING after startsecs), and its timing
        ("ready".into(), Value::String(ready)),
        ("ready_timeout".into(), Value::Double(ready_timeout)),
        ("ready_interval".into(), Value::Double(ready_interval)),
        // critical=: true when this program going down ends the daemon (issue 17)
        ("critical".into(), Value::Bool(p.critical)),
        // backoff=, backoff_max=, backoff_jitter=, retry_forever=, restart_delay=,
        // backoff_reset= (issue 15)
        (
            "backoff".into(),
            Value::String(p.restart.kind.name().into()),
        ),
        (
            "backoff_max".into(),
            Value::Double(p.restart.max.unwrap_or(rs::DEFAULT_BACKOFF_MAX)),
        ),
        ("backoff_jitter".into(), Value::Double(p.restart.jitter)),
        ("retry_forever".into(), Value::Bool(p.restart.retry_forever)),
        (
            "restart_delay".into(),
            Value::Double(p.restart.restart_delay),
        ),
        ("backoff_reset".into(), Value::Double(p.restart.reset)),
        // rlimits=: ["RLIMIT_NOFILE=65536:65536", ...] (empty = inherited)
        (
            "rlimits".into(),
            Value::Array(
                p.rlimits
                    .iter()
                    .map(|r| Value::String(r.to_string()))
                    .collect(),
            ),
        ),
        // environment_file=: the daemon's files, then the program's ('-' = optional)
        (
            "environment_file".into(),
            Value::Array(
                p.environment_files
                    .iter()
                    .map(|f| Value::String(f.to_string()))
                    .collect(),
            ),
        ),
        // healthcheck=: the check as text ('' = none) and its keys (issue 15)
        (
            "healthcheck".into(),
            Value::String(h.map(|h| h.check.to_string()).unwrap_or_default()),
        ),
        (
            "healthcheck_interval".into(),
            Value::Double(h.map_or(ck::DEFAULT_HEALTH_INTERVAL, |h| h.interval)),
        ),
        (
            "healthcheck_timeout".into(),
            Value::Double(h.map_or(ck::DEFAULT_HEALTH_TIMEOUT, |h| h.timeout)),
        ),
        (
            "healthcheck_retries".into(),
            Value::Int(h.map_or(ck::DEFAULT_HEALTH_RETRIES, |h| h.retries) as i32),
        ),
        (
            "healthcheck_start_delay".into(),
            Value::Double(h.map_or(ck::DEFAULT_HEALTH_START_DELAY, |h| h.start_delay)),
        ),
        (
            "healthcheck_action".into(),
            Value::String(h.map_or("restart", |h| h.action.as_str()).into()),
        ),
        // cgroup keys and memory/CPU guards (issue 15): bytes as doubles, 0 / '' = unset
        (
            "memory_max".into(),
            Value::Double(res.memory_max.unwrap_or(0) as f64),
        ),
        (
            "memory_high".into(),
            Value::Double(res.memory_high.unwrap_or(0) as f64),
        ),
        (
            "cpu_max".into(),
            Value::String(
                res.cpu_max
                    .map(|c| format!("{}/{}", c.quota_us, c.period_us))
                    .unwrap_or_default(),
            ),
        ),
        (
            "pids_max".into(),
            Value::Int(res.pids_max.map_or(0, |n| n.min(i32::MAX as u64) as i32)),
        ),
        (
            "kill_mode".into(),
            Value::String(res.kill_mode.as_str().into()),
        ),
        (
            "max_memory".into(),
            Value::Double(res.max_memory.unwrap_or(0) as f64),
        ),
        (
            "max_cpu_percent".into(),
            Value::Double(res.max_cpu_percent.unwrap_or(0.0)),
        ),
        (
            "guard_window".into(),
            Value::Int(res.guard_window.min(i32::MAX as u64) as i32),
        ),
        (
            "guard_action".into(),
            Value::String(res.guard_action.as_str().into()),
        ),
    ]
}

/// The struct of one process.
pub fn config_extensions(g: &GroupConfig, p: &ProcessConfig) -> Value {
    let mut members = vec![
        ("group".to_string(), Value::String(g.name.clone())),
        ("name".to_string(), Value::String(p.name.clone())),
    ];
    members.extend(extension_members(p));
    Value::Struct(members)
}

pub(super) fn get_all_config_extensions(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let mut rows: Vec<(String, String, Value)> = Vec::new();
    for g in b.config_groups() {
        for p in &g.processes {
            rows.push((g.name.clone(), p.name.clone(), config_extensions(&g, p)));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    done(Value::Array(rows.into_iter().map(|(_, _, v)| v).collect()))
}
