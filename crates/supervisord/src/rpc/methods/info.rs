//! The state methods (versions, identification, daemon state, pid, process and config
//! info) and the encoding of the ProcessInfo and ConfigInfo structs, which the daemon's
//! backend also uses to answer from its own table.

use supervisor_config::{GroupConfig, LogFile, ProcessConfig};
use supervisor_protocol::{Fault, FaultCode, ProcessState, Value, API_VERSION, SUPERVISOR_VERSION};

use super::super::{split_namespec, Backend, Outcome, ProcessSnapshot};
use super::args::{arg_str, capped, capped_u64, done};

pub(super) fn get_api_version(_: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(API_VERSION)
}

pub(super) fn get_supervisor_version(_: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(SUPERVISOR_VERSION)
}

pub(super) fn get_identification(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(b.identification())
}

pub(super) fn get_state(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let s = b.supervisor_state();
    done(Value::structure([
        ("statecode", Value::Int(s.code())),
        ("statename", Value::from(s.name())),
    ]))
}

pub(super) fn get_pid(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(b.daemon_pid())
}

/// The fields of one ProcessInfo struct, borrowed from wherever the backend keeps them
/// (a [`ProcessSnapshot`], or the daemon's process table without any copy).
#[derive(Debug, Clone, Copy)]
pub struct InfoFields<'a> {
    /// Process name.
    pub name: &'a str,
    /// Group name.
    pub group: &'a str,
    /// Current state.
    pub state: ProcessState,
    /// Wall-clock epoch seconds of the last spawn (0 = never).
    pub start: f64,
    /// Wall-clock epoch seconds of the last exit (0 = never).
    pub stop: f64,
    /// Live pid (0 = none).
    pub pid: i32,
    /// Last exit status (0 = none).
    pub exitstatus: i32,
    /// The spawn error text, empty if none.
    pub spawnerr: &'a str,
    /// Resolved stdout log path, empty when not logged.
    pub stdout_logfile: &'a str,
    /// Resolved stderr log path, empty when not logged.
    pub stderr_logfile: &'a str,
    /// What the description shows while STARTING (supervisor-rs): `waiting for: db,
    /// cache` while the process waits for its dependencies, the readiness text while its
    /// `ready=` check is pending; empty (the reference's '') otherwise.
    pub note: &'a str,
    /// Wall time of a `restart_delay` restart while the process waits for it in BACKOFF
    /// (supervisor-rs; 0 = none): the description then reads `restarting in 4s`.
    pub restart_at: f64,
}

impl<'a> InfoFields<'a> {
    /// The fields of a snapshot; `stdout`/`stderr` are its log paths as text.
    pub fn of_snapshot(p: &'a ProcessSnapshot, stdout: &'a str, stderr: &'a str) -> Self {
        InfoFields {
            name: &p.name,
            group: &p.group,
            state: p.state,
            start: p.start,
            stop: p.stop,
            pid: p.pid,
            exitstatus: p.exitstatus,
            spawnerr: &p.spawnerr,
            stdout_logfile: stdout,
            stderr_logfile: stderr,
            note: &p.note,
            restart_at: 0.0,
        }
    }
}

/// The `description` field (§2.7).
pub fn describe(p: &ProcessSnapshot, now: f64, utc_offset: i32) -> String {
    describe_fields(&InfoFields::of_snapshot(p, "", ""), now, utc_offset)
}

/// The `description` field (§2.7) of borrowed fields.
fn describe_fields(p: &InfoFields<'_>, now: f64, utc_offset: i32) -> String {
    let mut s = String::new();
    push_description(&mut s, p, now, utc_offset);
    s
}

/// Appends the `description` field (§2.7) of `p` to `out`.
pub fn push_description(out: &mut String, p: &InfoFields<'_>, now: f64, utc_offset: i32) {
    use crate::core::text::{push_decimal, push_timedelta, short_local_time};
    use std::fmt::Write as _;
    match p.state {
        ProcessState::Running => {
            // Whole seconds of each timestamp, like the reference's gmtime()-based subtraction.
            let up = capped(now) as i64 - capped(p.start) as i64;
            out.push_str("pid ");
            if p.pid < 0 {
                out.push('-');
            }
            push_decimal(out, u64::from(p.pid.unsigned_abs()));
            out.push_str(", uptime ");
            push_timedelta(out, up);
            // `ready = notify` programs' last STATUS= text (supervisor-rs).
            if !p.note.is_empty() {
                out.push_str(", ");
                out.push_str(p.note);
            }
        }
        ProcessState::Backoff if p.restart_at > 0.0 => {
            out.push_str(&crate::core::restart_countdown(p.restart_at, now));
        }
        ProcessState::Fatal | ProcessState::Backoff => {
            if p.spawnerr.is_empty() {
                let _ = write!(out, "unknown error (try \"tail {}\")", p.name);
            } else {
                out.push_str(p.spawnerr);
            }
        }
        ProcessState::Stopped | ProcessState::Exited => {
            if p.start != 0.0 {
                out.push_str(&short_local_time(p.stop, utc_offset));
            } else {
                out.push_str("Not started");
            }
        }
        ProcessState::Starting => out.push_str(p.note),
        _ => {}
    }
}

/// Appends the ProcessInfo struct of `p` as XML-RPC, byte for byte what
/// `write_value(&process_info_of(p, ..))` writes, without building the value.
/// `scratch` is reused for the description.
pub fn write_process_info(
    out: &mut Vec<u8>,
    scratch: &mut String,
    p: &InfoFields<'_>,
    now: f64,
    utc_offset: i32,
) {
    use supervisor_protocol::xmlrpc::{
        begin_struct, end_struct, write_int_member, write_str_member,
    };
    scratch.clear();
    push_description(scratch, p, now, utc_offset);
    begin_struct(out);
    write_str_member(out, "name", p.name);
    write_str_member(out, "group", p.group);
    write_int_member(out, "start", capped(p.start));
    write_int_member(out, "stop", capped(p.stop));
    write_int_member(out, "now", capped(now));
    write_int_member(out, "state", p.state.code());
    write_str_member(out, "statename", p.state.name());
    write_str_member(out, "spawnerr", p.spawnerr);
    write_int_member(out, "exitstatus", p.exitstatus);
    write_str_member(out, "logfile", p.stdout_logfile);
    write_str_member(out, "stdout_logfile", p.stdout_logfile);
    write_str_member(out, "stderr_logfile", p.stderr_logfile);
    write_int_member(out, "pid", p.pid);
    write_str_member(out, "description", scratch);
    end_struct(out);
}

/// A close upper estimate of what [`write_process_info`] appends for `p` (without
/// escapes), to size the output once.
pub fn process_info_size_hint(p: &InfoFields<'_>) -> usize {
    // 14 members' fixed markup and names (~700 bytes), the numbers, a description.
    800 + p.name.len()
        + p.group.len()
        + p.spawnerr.len() * 2
        + p.stdout_logfile.len() * 2
        + p.stderr_logfile.len()
        + p.name.len()
}

fn path_text(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The ProcessInfo struct, members in the reference's wire order.
pub fn process_info(p: &ProcessSnapshot, now: f64, utc_offset: i32) -> Value {
    let stdout = path_text(&p.stdout_logfile);
    let stderr = path_text(&p.stderr_logfile);
    process_info_of(
        &InfoFields::of_snapshot(p, &stdout, &stderr),
        now,
        utc_offset,
    )
}

/// The ProcessInfo struct of borrowed fields, members in the reference's wire order.
pub fn process_info_of(p: &InfoFields<'_>, now: f64, utc_offset: i32) -> Value {
    let s = |t: &str| Value::String(t.to_owned());
    Value::Struct(vec![
        ("name".into(), s(p.name)),
        ("group".into(), s(p.group)),
        ("start".into(), Value::Int(capped(p.start))),
        ("stop".into(), Value::Int(capped(p.stop))),
        ("now".into(), Value::Int(capped(now))),
        ("state".into(), Value::Int(p.state.code())),
        ("statename".into(), s(p.state.name())),
        ("spawnerr".into(), s(p.spawnerr)),
        ("exitstatus".into(), Value::Int(p.exitstatus)),
        ("logfile".into(), s(p.stdout_logfile)),
        ("stdout_logfile".into(), s(p.stdout_logfile)),
        ("stderr_logfile".into(), s(p.stderr_logfile)),
        ("pid".into(), Value::Int(p.pid)),
        (
            "description".into(),
            Value::String(describe_fields(p, now, utc_offset)),
        ),
    ])
}

pub(super) fn get_process_info(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let (group, name) = split_namespec(spec);
    match name.and_then(|name| b.process_info_value(group, name)) {
        Some(v) => done(v),
        None => Outcome::Done(Err(Fault::new(FaultCode::BadName, spec))),
    }
}

pub(super) fn get_all_process_info(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(Value::Array(b.all_process_info_values()))
}

pub(super) fn get_process_info_xml(
    b: &mut dyn Backend,
    params: &[Value],
    out: &mut Vec<u8>,
) -> Result<(), Fault> {
    let spec = arg_str(params, 0)?;
    let (group, name) = split_namespec(spec);
    if name.is_some_and(|name| b.write_process_info(group, name, out)) {
        Ok(())
    } else {
        Err(Fault::new(FaultCode::BadName, spec))
    }
}

pub(super) fn get_all_process_info_xml(
    b: &mut dyn Backend,
    _: &[Value],
    out: &mut Vec<u8>,
) -> Result<(), Fault> {
    b.write_all_process_info(out);
    Ok(())
}

fn logfile_value(f: &LogFile, resolved: Option<std::path::PathBuf>) -> Value {
    match f {
        LogFile::None | LogFile::Syslog => Value::from("none"),
        LogFile::Auto => match resolved {
            Some(p) => Value::String(p.to_string_lossy().into_owned()),
            None => Value::from("auto"),
        },
        LogFile::Path(p) => Value::String(p.to_string_lossy().into_owned()),
    }
}

/// One ConfigInfo struct (getAllConfigInfo), members in the reference's order. `auto_logs`
/// are the files AUTO logs were resolved to (stdout, stderr), if any.
fn config_info(
    g: &GroupConfig,
    p: &ProcessConfig,
    inuse: bool,
    auto_logs: (Option<std::path::PathBuf>, Option<std::path::PathBuf>),
) -> Value {
    let opt = |s: &Option<String>, none: &str| match s {
        Some(s) => Value::String(s.clone()),
        None => Value::from(none),
    };
    Value::Struct(vec![
        ("autostart".into(), Value::Bool(p.autostart)),
        ("directory".into(), opt(&p.directory, "none")),
        (
            "uid".into(),
            match p.uid {
                Some(u) => Value::Int(u as i32),
                None => Value::from("none"),
            },
        ),
        ("command".into(), Value::String(p.command.clone())),
        (
            "exitcodes".into(),
            Value::Array(p.exitcodes.iter().map(|c| Value::Int(*c)).collect()),
        ),
        ("group".into(), Value::String(g.name.clone())),
        ("group_prio".into(), Value::Int(g.priority)),
        ("inuse".into(), Value::Bool(inuse)),
        ("killasgroup".into(), Value::Bool(p.killasgroup)),
        ("name".into(), Value::String(p.name.clone())),
        ("process_prio".into(), Value::Int(p.priority)),
        ("redirect_stderr".into(), Value::Bool(p.redirect_stderr)),
        ("startretries".into(), Value::Int(p.startretries as i32)),
        ("startsecs".into(), Value::Int(capped_u64(p.startsecs))),
        (
            "stdout_capture_maxbytes".into(),
            Value::Int(capped_u64(p.stdout.capture_maxbytes)),
        ),
        (
            "stdout_events_enabled".into(),
            Value::Bool(p.stdout.events_enabled),
        ),
        (
            "stdout_logfile".into(),
            logfile_value(&p.stdout.logfile, auto_logs.0),
        ),
        (
            "stdout_logfile_backups".into(),
            Value::Int(p.stdout.logfile_backups as i32),
        ),
        (
            "stdout_logfile_maxbytes".into(),
            Value::Int(capped_u64(p.stdout.logfile_maxbytes)),
        ),
        ("stdout_syslog".into(), Value::Bool(p.stdout.syslog)),
        ("stopsignal".into(), Value::Int(p.stopsignal)),
        (
            "stopwaitsecs".into(),
            Value::Int(capped_u64(p.stopwaitsecs)),
        ),
        (
            "stderr_capture_maxbytes".into(),
            Value::Int(capped_u64(p.stderr.capture_maxbytes)),
        ),
        (
            "stderr_events_enabled".into(),
            Value::Bool(p.stderr.events_enabled),
        ),
        (
            "stderr_logfile".into(),
            logfile_value(&p.stderr.logfile, auto_logs.1),
        ),
        (
            "stderr_logfile_backups".into(),
            Value::Int(p.stderr.logfile_backups as i32),
        ),
        (
            "stderr_logfile_maxbytes".into(),
            Value::Int(capped_u64(p.stderr.logfile_maxbytes)),
        ),
        ("stderr_syslog".into(), Value::Bool(p.stderr.syslog)),
        // The reference turns both an absent serverurl and AUTO into None, shown as 'none'.
        ("serverurl".into(), opt(&p.serverurl, "none")),
    ])
}

pub(super) fn get_all_config_info(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let active = b.group_names();
    let mut rows: Vec<(String, Value)> = Vec::new();
    for g in b.config_groups() {
        let inuse = active.contains(&g.name);
        for p in &g.processes {
            let auto = (
                b.resolved_auto_log(&g.name, &p.name, false),
                b.resolved_auto_log(&g.name, &p.name, true),
            );
            rows.push((p.name.clone(), config_info(&g, p, inuse, auto)));
        }
    }
    // Stable sort by name, as the reference does.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    done(Value::Array(rows.into_iter().map(|(_, v)| v).collect()))
}
