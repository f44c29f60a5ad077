//! The table of callable methods: name, arity, help text, signature and handler.
//!
//! Help texts are ours; the `@param`/`@return` lines carry the types the reference
//! advertises, and [`Method::signature`] is what `system.methodSignature` returns.

use supervisor_config::{GroupConfig, LogFile, ProcessConfig};
use supervisor_protocol::{Fault, FaultCode, ProcessState, Value, API_VERSION, SUPERVISOR_VERSION};

use super::budget::{self, encoded_len, SINGLE_ROOM};
use super::logread::{self, ReadError};
use super::{
    make_namespec, split_namespec, Backend, Outcome, ProcessSnapshot, StdinError, Waiter,
    XmlOutcome, XmlWaiter,
};
use supervisor_protocol::xmlrpc;

/// A handler: the backend and the (arity-checked) params.
pub type Handler = fn(&mut dyn Backend, &[Value]) -> Outcome;

/// A handler that encodes its answer itself: it appends exactly the `<value>…</value>\n`
/// that [`write_value`](supervisor_protocol::xmlrpc::write_value) would write for the
/// [`Handler`]'s value (or leaves `out` alone and returns the same fault). For the big
/// answers (`getAllProcessInfo`), so no value tree is built only to be encoded.
pub type XmlHandler = fn(&mut dyn Backend, &[Value], &mut Vec<u8>) -> Result<(), Fault>;

/// A handler whose answer can be large (the log reads): it is told the room, in encoded
/// bytes, its value has in the answer, and refuses with [`budget::too_large`] before
/// reading anything when what it would return cannot fit. [`Method::handler`] calls it
/// with the room of a single call; a multicall with the room it has left.
pub type BoundedHandler = fn(&mut dyn Backend, &[Value], usize) -> Outcome;

/// One callable method.
pub struct Method {
    /// Full name, `namespace.method`.
    pub name: &'static str,
    /// Fewest params accepted.
    pub min_args: usize,
    /// Most params accepted.
    pub max_args: usize,
    /// False for the few methods the reference serves while shutting down.
    pub checks_state: bool,
    /// `[return type, param types...]`.
    pub signature: &'static [&'static str],
    /// The text `system.methodHelp` returns.
    pub help: &'static str,
    /// The code.
    pub handler: Handler,
    /// The same method encoding its answer directly, if it has such a fast path.
    pub xml: Option<XmlHandler>,
    /// The same method within a given room, for the methods whose answer can be large.
    pub bounded: Option<BoundedHandler>,
}

macro_rules! m {
    ($name:expr, $min:expr, $max:expr, $check:expr, [$($sig:expr),*], $help:expr, $h:expr) => {
        m!($name, $min, $max, $check, [$($sig),*], $help, $h, None)
    };
    ($name:expr, $min:expr, $max:expr, $check:expr, [$($sig:expr),*], $help:expr, $h:expr, $x:expr) => {
        m!($name, $min, $max, $check, [$($sig),*], $help, $h, $x, None)
    };
    ($name:expr, $min:expr, $max:expr, $check:expr, [$($sig:expr),*], $help:expr, $h:expr, $x:expr, $bounded:expr) => {
        Method {
            name: $name,
            min_args: $min,
            max_args: $max,
            checks_state: $check,
            signature: &[$($sig),*],
            help: $help,
            handler: $h,
            xml: $x,
            bounded: $bounded,
        }
    };
}

/// Every callable method, sorted by name (`system.listMethods` order).
pub static TABLE: &[Method] = &[
    m!("supervisor.addProcessGroup", 1, 1, true, ["boolean", "string"],
       "Activate a process group of the loaded configuration.\n\n@param string name  the group to add\n@return boolean result  true on success",
       add_process_group),
    m!("supervisor.clearAllProcessLogs", 0, 0, true, ["array"],
       "Clear the stdout and stderr logs of every process.\n\n@return array result  one status struct per process",
       clear_all_process_logs),
    m!("supervisor.clearLog", 0, 0, true, ["boolean"],
       "Empty the main log file and reopen it.\n\n@return boolean result  true unless an error occurred",
       clear_log),
    m!("supervisor.clearProcessLog", 1, 1, true, ["boolean", "string"],
       "Alias of clearProcessLogs.\n\n@param string name  process name (or group:name)\n@return boolean result  true unless an error occurred",
       clear_process_logs),
    m!("supervisor.clearProcessLogs", 1, 1, true, ["boolean", "string"],
       "Clear and reopen the stdout and stderr logs of one process.\n\n@param string name  process name (or group:name)\n@return boolean result  true unless an error occurred",
       clear_process_logs),
    m!("supervisor.getAPIVersion", 0, 0, true, ["string"],
       "The version of this XML-RPC API.\n\n@return string version  API version",
       get_api_version),
    m!("supervisor.getAllConfigInfo", 0, 0, true, ["array"],
       "Configuration of every process of the loaded configuration, one struct per process.\n\n@return array result  process config structs",
       get_all_config_info),
    m!("supervisor.getAllProcessInfo", 0, 0, true, ["array"],
       "State of every process, sorted by group then name.\n\n@return array result  process info structs",
       get_all_process_info, Some(get_all_process_info_xml)),
    m!("supervisor.getIdentification", 0, 0, true, ["string"],
       "The identifier of this daemon (from the configuration).\n\n@return string identifier  the identifier",
       get_identification),
    m!("supervisor.getPID", 0, 0, true, ["int"],
       "The process id of the daemon.\n\n@return int pid  process id",
       get_pid),
    m!("supervisor.getProcessInfo", 1, 1, true, ["struct", "string"],
       "State of one process.\n\n@param string name  process name (or group:name)\n@return struct result  process info",
       get_process_info, Some(get_process_info_xml)),
    m!("supervisor.getState", 0, 0, true, ["struct"],
       "The daemon's state as a struct with statecode and statename.\n\n@return struct result  the state",
       get_state),
    m!("supervisor.getSupervisorVersion", 0, 0, true, ["string"],
       "The Supervisor version this daemon is compatible with.\n\n@return string version  version",
       get_supervisor_version),
    m!("supervisor.getVersion", 0, 0, true, ["string"],
       "Alias of getAPIVersion (kept for old clients).\n\n@return string version  API version",
       get_api_version),
    m!("supervisor.readLog", 2, 2, true, ["string", "int", "int"],
       "Read bytes of the main log.\n\n@param int offset  where to start (negative: from the end)\n@param int length  how many bytes (0: to the end)\n@return string result  the bytes read",
       read_log, None, Some(read_log_within)),
    m!("supervisor.readMainLog", 2, 2, true, ["string", "int", "int"],
       "Alias of readLog.\n\n@param int offset  where to start (negative: from the end)\n@param int length  how many bytes (0: to the end)\n@return string result  the bytes read",
       read_log, None, Some(read_log_within)),
    m!("supervisor.readProcessLog", 3, 3, true, ["string", "string", "int", "int"],
       "Alias of readProcessStdoutLog.\n\n@param string name  process name (or group:name)\n@param int offset  where to start\n@param int length  how many bytes\n@return string result  the bytes read",
       read_process_stdout_log, None, Some(read_process_stdout_log_within)),
    m!("supervisor.readProcessStderrLog", 3, 3, true, ["string", "string", "int", "int"],
       "Read bytes of a process's stderr log.\n\n@param string name  process name (or group:name)\n@param int offset  where to start\n@param int length  how many bytes\n@return string result  the bytes read",
       read_process_stderr_log, None, Some(read_process_stderr_log_within)),
    m!("supervisor.readProcessStdoutLog", 3, 3, true, ["string", "string", "int", "int"],
       "Read bytes of a process's stdout log.\n\n@param string name  process name (or group:name)\n@param int offset  where to start\n@param int length  how many bytes\n@return string result  the bytes read",
       read_process_stdout_log, None, Some(read_process_stdout_log_within)),
    m!("supervisor.reloadConfig", 0, 0, true, ["array"],
       "Re-read the configuration file and report which groups were added, changed or removed\ncompared with the running ones (nothing is started or stopped).\n\n@return array result  [[added, changed, removed]]",
       reload_config),
    m!("supervisor.removeProcessGroup", 1, 1, true, ["boolean", "string"],
       "Deactivate a group whose processes are all stopped.\n\n@param string name  the group to remove\n@return boolean result  true on success",
       remove_process_group),
    m!("supervisor.restart", 0, 0, true, ["boolean"],
       "Restart the daemon (stop every process, re-read the configuration, start again).\n\n@return boolean result  true unless an error occurred",
       restart),
    m!("supervisor.sendProcessStdin", 2, 2, true, ["boolean", "string", "string"],
       "Write characters (UTF-8 encoded) to a process's stdin.\n\n@param string name  process name (or group:name)\n@param string chars  the characters to write\n@return boolean result  true unless an error occurred",
       send_process_stdin),
    m!("supervisor.sendRemoteCommEvent", 2, 2, false, ["boolean", "string", "string"],
       "Emit a REMOTE_COMMUNICATION event to the listeners subscribed to it.\n\n@param string type  the type field of the event\n@param string data  the event body\n@return boolean result  true unless an error occurred",
       send_remote_comm_event),
    m!("supervisor.shutdown", 0, 0, true, ["boolean"],
       "Stop every process and exit the daemon.\n\n@return boolean result  true unless an error occurred",
       shutdown),
    m!("supervisor.signalAllProcesses", 1, 1, true, ["array", "string"],
       "Send a signal to every signallable process.\n\n@param string signal  signal name (HUP, SIGHUP) or number\n@return array result  one status struct per process signalled",
       signal_all_processes),
    m!("supervisor.signalProcess", 2, 2, true, ["boolean", "string", "string"],
       "Send a signal to one process (or to a group with group:*).\n\n@param string name  process name (or group:name, group:*)\n@param string signal  signal name (HUP, SIGHUP) or number\n@return boolean result  true unless an error occurred",
       signal_process),
    m!("supervisor.signalProcessGroup", 2, 2, true, ["array", "string", "string"],
       "Send a signal to every signallable process of a group.\n\n@param string name  group name\n@param string signal  signal name (HUP, SIGHUP) or number\n@return array result  one status struct per process signalled",
       signal_process_group),
    m!("supervisor.startAllProcesses", 0, 1, true, ["array", "boolean"],
       "Start every process that is not running.\n\n@param boolean wait  wait until each one is running\n@return array result  one status struct per process started",
       start_all_processes),
    m!("supervisor.startProcess", 1, 2, true, ["boolean", "string", "boolean"],
       "Start one process (or a group with group:*).\n\n@param string name  process name (or group:name, group:*)\n@param boolean wait  wait until it is running\n@return boolean result  true unless an error occurred",
       start_process),
    m!("supervisor.startProcessGroup", 1, 2, true, ["array", "string", "boolean"],
       "Start every process of a group that is not running.\n\n@param string name  group name\n@param boolean wait  wait until each one is running\n@return array result  one status struct per process started",
       start_process_group),
    m!("supervisor.stopAllProcesses", 0, 1, true, ["array", "boolean"],
       "Stop every running process.\n\n@param boolean wait  wait until each one is stopped\n@return array result  one status struct per process stopped",
       stop_all_processes),
    m!("supervisor.stopProcess", 1, 2, true, ["boolean", "string", "boolean"],
       "Stop one process (or a group with group:*).\n\n@param string name  process name (or group:name, group:*)\n@param boolean wait  wait until it is stopped\n@return boolean result  true unless an error occurred",
       stop_process),
    m!("supervisor.stopProcessGroup", 1, 2, true, ["array", "string", "boolean"],
       "Stop every running process of a group.\n\n@param string name  group name\n@param boolean wait  wait until each one is stopped\n@return array result  one status struct per process stopped",
       stop_process_group),
    m!("supervisor.tailProcessLog", 3, 3, true, ["array", "string", "int", "int"],
       "Alias of tailProcessStdoutLog.\n\n@param string name  process name (or group:name)\n@param int offset  where the previous tail ended\n@param int length  most bytes wanted\n@return array result  [string bytes, int offset, bool overflow]",
       tail_process_stdout_log, None, Some(tail_process_stdout_log_within)),
    m!("supervisor.tailProcessStderrLog", 3, 3, true, ["array", "string", "int", "int"],
       "Tail a process's stderr log: at most length bytes after offset; if more is there, the\nlast length bytes and overflow=true. The returned offset is the log's size.\n\n@param string name  process name (or group:name)\n@param int offset  where the previous tail ended\n@param int length  most bytes wanted\n@return array result  [string bytes, int offset, bool overflow]",
       tail_process_stderr_log, None, Some(tail_process_stderr_log_within)),
    m!("supervisor.tailProcessStdoutLog", 3, 3, true, ["array", "string", "int", "int"],
       "Tail a process's stdout log: at most length bytes after offset; if more is there, the\nlast length bytes and overflow=true. The returned offset is the log's size.\n\n@param string name  process name (or group:name)\n@param int offset  where the previous tail ended\n@param int length  most bytes wanted\n@return array result  [string bytes, int offset, bool overflow]",
       tail_process_stdout_log, None, Some(tail_process_stdout_log_within)),
    m!("system.listMethods", 0, 0, false, ["array"],
       "The names of every method this server answers.\n\n@return array result  method names",
       list_methods),
    m!("system.methodHelp", 1, 1, false, ["string", "string"],
       "The help text of a method.\n\n@param string name  method name\n@return string result  help text",
       method_help),
    m!("system.methodSignature", 1, 1, false, ["array", "string"],
       "The signature of a method: return type first, then the parameter types.\n\n@param string name  method name\n@return array result  type names",
       method_signature),
    m!("system.multicall", 1, 1, false, ["array", "array"],
       "Run several calls in order in one request. Each call is a struct {methodName, params};\neach result is the call's value or a {faultCode, faultString} struct.\n\n@param array calls  the calls\n@return array result  the results",
       multicall),
];

/// Finds a method by its full name, with the reference's UNKNOWN_METHOD rules.
pub fn lookup(name: &str) -> Result<&'static Method, Fault> {
    let unknown = || Fault::bare(FaultCode::UnknownMethod);
    let mut parts = name.split('.');
    let (Some(_ns), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unknown());
    };
    if method.starts_with('_') {
        return Err(unknown());
    }
    TABLE
        .binary_search_by(|m| m.name.cmp(name))
        .map(|i| &TABLE[i])
        .map_err(|_| unknown())
}

// ---------------------------------------------------------------------------------------------
// Argument helpers.

fn bad_params() -> Fault {
    Fault::bare(FaultCode::IncorrectParameters)
}

fn done(v: impl Into<Value>) -> Outcome {
    Outcome::Done(Ok(v.into()))
}

fn fail(f: Fault) -> Outcome {
    Outcome::Done(Err(f))
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(f) => return Outcome::Done(Err(f)),
        }
    };
}

fn arg_str(params: &[Value], i: usize) -> Result<&str, Fault> {
    params.get(i).and_then(Value::as_str).ok_or_else(bad_params)
}

/// An int param; like the reference's `int()`, a decimal string is accepted too.
fn arg_int(params: &[Value], i: usize) -> Result<i64, Fault> {
    match params.get(i) {
        Some(Value::Int(v)) => Ok(i64::from(*v)),
        Some(Value::Bool(b)) => Ok(i64::from(*b)),
        Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| bad_params()),
        _ => Err(bad_params()),
    }
}

/// An optional boolean param (`wait`), default true; truthiness as in the reference.
fn arg_wait(params: &[Value], i: usize) -> Result<bool, Fault> {
    match params.get(i) {
        None => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Int(v)) => Ok(*v != 0),
        Some(Value::String(s)) => Ok(!s.is_empty()),
        Some(_) => Err(bad_params()),
    }
}

/// Clamps an epoch time to the XML-RPC int range (the reference's `capped_int`).
fn capped(t: f64) -> i32 {
    if t >= f64::from(i32::MAX) {
        i32::MAX
    } else if t <= f64::from(i32::MIN) {
        i32::MIN
    } else {
        t as i32
    }
}

fn capped_u64(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Resolves a process namespec; a group-only spec or an unknown name is BAD_NAME.
fn resolve(b: &dyn Backend, spec: &str) -> Result<ProcessSnapshot, Fault> {
    let (group, name) = split_namespec(spec);
    let bad = || Fault::new(FaultCode::BadName, spec);
    let name = name.ok_or_else(bad)?;
    b.process(group, name).ok_or_else(bad)
}

// ---------------------------------------------------------------------------------------------
// Info methods.

fn get_api_version(_: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(API_VERSION)
}

fn get_supervisor_version(_: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(SUPERVISOR_VERSION)
}

fn get_identification(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(b.identification())
}

fn get_state(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let s = b.supervisor_state();
    done(Value::structure([
        ("statecode", Value::Int(s.code())),
        ("statename", Value::from(s.name())),
    ]))
}

fn get_pid(b: &mut dyn Backend, _: &[Value]) -> Outcome {
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
        }
    }
}

/// The `description` field (§2.7).
pub fn describe(p: &ProcessSnapshot, now: f64, utc_offset: i32) -> String {
    describe_fields(&InfoFields::of_snapshot(p, "", ""), now, utc_offset)
}

/// The `description` field (§2.7) of borrowed fields.
pub fn describe_fields(p: &InfoFields<'_>, now: f64, utc_offset: i32) -> String {
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

fn get_process_info(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let (group, name) = split_namespec(spec);
    match name.and_then(|name| b.process_info_value(group, name)) {
        Some(v) => done(v),
        None => Outcome::Done(Err(Fault::new(FaultCode::BadName, spec))),
    }
}

fn get_all_process_info(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(Value::Array(b.all_process_info_values()))
}

fn get_process_info_xml(
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

fn get_all_process_info_xml(
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
pub fn config_info(
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

fn get_all_config_info(b: &mut dyn Backend, _: &[Value]) -> Outcome {
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

// ---------------------------------------------------------------------------------------------
// Logs.

fn read_error_fault(e: ReadError) -> Fault {
    match e {
        ReadError::BadArguments => Fault::bare(FaultCode::BadArguments),
        ReadError::Failed => Fault::bare(FaultCode::Failed),
        ReadError::TooLarge => budget::too_large(),
    }
}

/// Runs a [`BoundedHandler`] as a call of its own: with the room of a whole answer, and a
/// value whose encoding (escapes included) would not fit is the [`budget::too_large`]
/// fault.
fn single(b: &mut dyn Backend, params: &[Value], within: BoundedHandler) -> Outcome {
    match within(b, params, SINGLE_ROOM) {
        Outcome::Done(Ok(v)) if encoded_len(&v) > SINGLE_ROOM => fail(budget::too_large()),
        other => other,
    }
}

/// The room a log read's bytes have when its value takes `room` encoded bytes: the markup
/// around them (a string value, or a tail's array) comes off first.
fn byte_room(room: usize) -> u64 {
    room.saturating_sub(256) as u64
}

fn read_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, read_log_within)
}

fn read_log_within(b: &mut dyn Backend, params: &[Value], room: usize) -> Outcome {
    let offset = tri!(arg_int(params, 0));
    let length = tri!(arg_int(params, 1));
    let Some(path) = b.main_logfile() else {
        return fail(Fault::bare(FaultCode::NoFile));
    };
    if !path.exists() {
        return fail(Fault::new(FaultCode::NoFile, path.display()));
    }
    match logread::read_file(&path, offset, length, byte_room(room)) {
        Ok(data) => done(logread::bytes_to_string(data)),
        Err(e) => fail(read_error_fault(e)),
    }
}

fn clear_log(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let Some(path) = b.main_logfile() else {
        return fail(Fault::bare(FaultCode::NoFile));
    };
    if !path.exists() {
        return fail(Fault::bare(FaultCode::NoFile));
    }
    if std::fs::remove_file(&path).is_err() {
        return fail(Fault::bare(FaultCode::Failed));
    }
    b.reopen_main_log();
    done(true)
}

fn channel_path(p: &ProcessSnapshot, stderr: bool) -> Option<std::path::PathBuf> {
    if stderr {
        p.stderr_logfile.clone()
    } else {
        p.stdout_logfile.clone()
    }
}

fn read_process_log(b: &mut dyn Backend, params: &[Value], stderr: bool, room: usize) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let offset = tri!(arg_int(params, 1));
    let length = tri!(arg_int(params, 2));
    let p = tri!(resolve(b, spec));
    let Some(path) = channel_path(&p, stderr) else {
        return fail(Fault::bare(FaultCode::NoFile));
    };
    if !path.exists() {
        return fail(Fault::new(FaultCode::NoFile, path.display()));
    }
    match logread::read_file(&path, offset, length, byte_room(room)) {
        Ok(data) => done(logread::bytes_to_string(data)),
        Err(e) => fail(read_error_fault(e)),
    }
}

fn read_process_stdout_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, read_process_stdout_log_within)
}

fn read_process_stdout_log_within(b: &mut dyn Backend, params: &[Value], room: usize) -> Outcome {
    read_process_log(b, params, false, room)
}

fn read_process_stderr_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, read_process_stderr_log_within)
}

fn read_process_stderr_log_within(b: &mut dyn Backend, params: &[Value], room: usize) -> Outcome {
    read_process_log(b, params, true, room)
}

fn tail_process_log(b: &mut dyn Backend, params: &[Value], stderr: bool, room: usize) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let offset = tri!(arg_int(params, 1));
    let length = tri!(arg_int(params, 2));
    let p = tri!(resolve(b, spec));
    let empty = || {
        done(Value::Array(vec![
            Value::from(""),
            Value::Int(0),
            Value::Bool(false),
        ]))
    };
    let Some(path) = channel_path(&p, stderr) else {
        return empty();
    };
    if !path.exists() {
        return empty();
    }
    let t =
        tri!(logread::tail_file(&path, offset, length, byte_room(room)).map_err(read_error_fault));
    done(Value::Array(vec![
        Value::String(logread::bytes_to_string(t.data)),
        Value::Int(i32::try_from(t.offset).unwrap_or(i32::MAX)),
        Value::Bool(t.overflow),
    ]))
}

fn tail_process_stdout_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, tail_process_stdout_log_within)
}

fn tail_process_stdout_log_within(b: &mut dyn Backend, params: &[Value], room: usize) -> Outcome {
    tail_process_log(b, params, false, room)
}

fn tail_process_stderr_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, tail_process_stderr_log_within)
}

fn tail_process_stderr_log_within(b: &mut dyn Backend, params: &[Value], room: usize) -> Outcome {
    tail_process_log(b, params, true, room)
}

fn clear_process_logs(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let p = tri!(resolve(b, spec));
    match b.clear_process_logs(&p.group, &p.name) {
        Ok(()) => done(true),
        Err(_) => fail(Fault::new(FaultCode::Failed, spec)),
    }
}

fn result_struct(group: &str, name: &str, r: &Result<Value, Fault>) -> Value {
    let (status, description) = match r {
        Ok(_) => (FaultCode::Success.code(), "OK".to_string()),
        Err(f) => (f.code, f.string.clone()),
    };
    Value::Struct(vec![
        ("name".into(), Value::from(name)),
        ("group".into(), Value::from(group)),
        ("status".into(), Value::Int(status)),
        ("description".into(), Value::String(description)),
    ])
}

fn all_processes(b: &dyn Backend) -> Vec<ProcessSnapshot> {
    b.all_processes()
}

fn clear_all_process_logs(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let mut out = Vec::new();
    for p in all_processes(b) {
        let r = match b.clear_process_logs(&p.group, &p.name) {
            Ok(()) => Ok(Value::Bool(true)),
            Err(_) => Err(Fault::new(
                FaultCode::Failed,
                make_namespec(&p.group, &p.name),
            )),
        };
        out.push(result_struct(&p.group, &p.name, &r));
    }
    done(Value::Array(out))
}

// ---------------------------------------------------------------------------------------------
// Daemon control.

fn shutdown(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    b.shutdown();
    done(true)
}

fn restart(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    b.restart();
    done(true)
}

fn reload_config(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    match b.reload_config() {
        Ok(d) => {
            let names = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
            done(Value::Array(vec![Value::Array(vec![
                names(d.added),
                names(d.changed),
                names(d.removed),
            ])]))
        }
        Err(msg) => fail(Fault::new(FaultCode::CantReread, msg)),
    }
}

fn add_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    if !b.config_groups().iter().any(|g| g.name == name) {
        return fail(Fault::new(FaultCode::BadName, name));
    }
    if b.add_group(name) {
        done(true)
    } else {
        fail(Fault::new(FaultCode::AlreadyAdded, name))
    }
}

fn remove_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    if !b.has_group(name) {
        return fail(Fault::new(FaultCode::BadName, name));
    }
    if b.remove_group(name) {
        done(true)
    } else {
        fail(Fault::new(FaultCode::StillRunning, name))
    }
}

fn send_process_stdin(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let chars = match &params[1] {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Base64(d) => d.clone(),
        other => {
            return fail(Fault::new(
                FaultCode::IncorrectParameters,
                python_repr(other),
            ))
        }
    };
    let p = tri!(resolve(b, spec));
    if p.pid == 0 || p.killing {
        return fail(Fault::new(FaultCode::NotRunning, spec));
    }
    match b.write_stdin(&p.group, &p.name, &chars) {
        Ok(()) => done(true),
        Err(StdinError::NotRunning) => fail(Fault::new(FaultCode::NotRunning, spec)),
        Err(StdinError::NoFile) => fail(Fault::new(FaultCode::NoFile, spec)),
        Err(StdinError::Failed(msg)) => fail(Fault::new(FaultCode::Failed, msg)),
    }
}

/// How Python prints a non-string param in a fault detail (close enough for ints/bools).
fn python_repr(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Double(d) => supervisor_protocol::xmlrpc::python_float_repr(*d),
        _ => format!("{v:?}"),
    }
}

/// A scalar param as the text Python's `%s` would give (the reference formats whatever it
/// is given into the event).
fn scalar_text(v: &Value) -> Result<String, Fault> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Int(_) | Value::Bool(_) | Value::Double(_) => Ok(python_repr(v)),
        Value::Base64(d) => Ok(String::from_utf8_lossy(d).into_owned()),
        _ => Err(bad_params()),
    }
}

fn send_remote_comm_event(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let kind = tri!(scalar_text(&params[0]));
    let data = tri!(scalar_text(&params[1]));
    b.remote_comm_event(&kind, &data);
    done(true)
}

// ---------------------------------------------------------------------------------------------
// Start / stop / signal.

/// Waits for a started process to reach RUNNING.
struct StartWaiter {
    group: String,
    name: String,
    spec: String,
}

impl Waiter for StartWaiter {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        let Some(p) = b.process(&self.group, &self.name) else {
            return Some(Err(Fault::new(FaultCode::AbnormalTermination, &self.spec)));
        };
        if !p.spawnerr.is_empty() {
            return Some(Err(Fault::new(FaultCode::SpawnError, &self.spec)));
        }
        match p.state {
            ProcessState::Running => Some(Ok(Value::Bool(true))),
            ProcessState::Starting => None,
            _ => Some(Err(Fault::new(FaultCode::AbnormalTermination, &self.spec))),
        }
    }
}

/// Waits for a stopping process to reach a stopped state.
struct StopWaiter {
    group: String,
    name: String,
}

impl Waiter for StopWaiter {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        match b.process(&self.group, &self.name) {
            Some(p) if !p.state.is_stopped() => {
                b.stop_report(&self.group, &self.name);
                None
            }
            _ => Some(Ok(Value::Bool(true))),
        }
    }
}

fn start_one(b: &mut dyn Backend, p: &ProcessSnapshot, spec: &str, wait: bool) -> Outcome {
    tri!(b.precheck_command(&p.group, &p.name));
    if p.state.is_running() {
        return fail(Fault::new(FaultCode::AlreadyStarted, spec));
    }
    if p.state == ProcessState::Unknown {
        return fail(Fault::new(
            FaultCode::Failed,
            format!("{spec} is in an unknown process state"),
        ));
    }
    b.start(&p.group, &p.name);
    let after = b.process(&p.group, &p.name);
    if after.as_ref().is_some_and(|a| !a.spawnerr.is_empty()) {
        return fail(Fault::new(FaultCode::SpawnError, spec));
    }
    if wait && after.is_some_and(|a| a.state != ProcessState::Running) {
        return Outcome::Wait(Box::new(StartWaiter {
            group: p.group.clone(),
            name: p.name.clone(),
            spec: spec.to_string(),
        }));
    }
    done(true)
}

fn stop_one(b: &mut dyn Backend, p: &ProcessSnapshot, spec: &str, wait: bool) -> Outcome {
    if !p.state.is_running() {
        return fail(Fault::new(FaultCode::NotRunning, spec));
    }
    if let Err(msg) = b.stop(&p.group, &p.name) {
        return fail(Fault::new(FaultCode::Failed, msg));
    }
    if wait
        && b.process(&p.group, &p.name)
            .is_some_and(|a| !a.state.is_stopped())
    {
        return Outcome::Wait(Box::new(StopWaiter {
            group: p.group.clone(),
            name: p.name.clone(),
        }));
    }
    done(true)
}

/// Parses a signal as the reference does: a number (0-31, 34, 64) or a name with or
/// without `SIG`, any case, surrounding blanks ignored.
pub fn signal_number(v: &Value) -> Option<i32> {
    const VALID: fn(i64) -> bool = |n| (0..=31).contains(&n) || n == 34 || n == 64;
    let text = match v {
        Value::Int(i) => return VALID(i64::from(*i)).then_some(*i),
        Value::Bool(b) => return Some(i32::from(*b)),
        // Python's int() truncates a float.
        Value::Double(d) if d.is_finite() => {
            let n = d.trunc() as i64;
            return VALID(n).then_some(n as i32);
        }
        Value::String(s) => s,
        _ => return None,
    };
    if let Ok(n) = text.trim().parse::<i64>() {
        return VALID(n).then_some(n as i32);
    }
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" | "CLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        "RTMIN" => 34,
        "RTMAX" => 64,
        // Python's signal module also exposes these constants under SIG* names.
        "_DFL" | "_BLOCK" => 0,
        "_IGN" | "_UNBLOCK" => 1,
        "_SETMASK" => 2,
        _ => return None,
    };
    Some(n)
}

fn signal_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn signal_one(b: &mut dyn Backend, p: &ProcessSnapshot, spec: &str, sig: &Value) -> Outcome {
    let Some(n) = signal_number(sig) else {
        return fail(Fault::new(FaultCode::BadSignal, signal_text(sig)));
    };
    if !p.state.is_signallable() {
        return fail(Fault::new(FaultCode::NotRunning, spec));
    }
    match b.signal(&p.group, &p.name, n) {
        Ok(()) => done(true),
        Err(msg) => fail(Fault::new(FaultCode::Failed, msg)),
    }
}

/// Runs an operation over several processes, the reference's way: synchronous results
/// first (in process order), then waited ones in the order they finish.
struct ManyWaiter {
    results: Vec<Value>,
    waiting: Vec<(String, String, Box<dyn Waiter>)>,
}

impl Waiter for ManyWaiter {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        let mut i = 0;
        while i < self.waiting.len() {
            if let Some(r) = self.waiting[i].2.poll(b) {
                let (g, n, _) = self.waiting.remove(i);
                self.results.push(result_struct(&g, &n, &r));
            } else {
                i += 1;
            }
        }
        if self.waiting.is_empty() {
            Some(Ok(Value::Array(std::mem::take(&mut self.results))))
        } else {
            None
        }
    }
}

fn for_many(
    b: &mut dyn Backend,
    procs: Vec<ProcessSnapshot>,
    select: fn(ProcessState) -> bool,
    mut op: impl FnMut(&mut dyn Backend, &ProcessSnapshot, &str) -> Outcome,
) -> Outcome {
    let mut many = ManyWaiter {
        results: Vec::new(),
        waiting: Vec::new(),
    };
    for p in procs {
        // Each process is looked at when its turn comes (earlier operations may change it).
        let Some(p) = b.process(&p.group, &p.name) else {
            continue;
        };
        if !select(p.state) {
            continue;
        }
        let spec = make_namespec(&p.group, &p.name);
        match op(b, &p, &spec) {
            Outcome::Done(r) => many.results.push(result_struct(&p.group, &p.name, &r)),
            Outcome::Wait(w) => many.waiting.push((p.group.clone(), p.name.clone(), w)),
        }
    }
    Outcome::Wait(Box::new(many))
}

fn group_procs(b: &dyn Backend, group: &str) -> Result<Vec<ProcessSnapshot>, Fault> {
    b.group_processes(group)
        .ok_or_else(|| Fault::new(FaultCode::BadName, group))
}

fn not_running(s: ProcessState) -> bool {
    !s.is_running()
}

fn start_process(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    let (group, name) = split_namespec(spec);
    if !b.has_group(group) {
        return fail(Fault::new(FaultCode::BadName, spec));
    }
    match name {
        None => start_group(b, group, wait),
        Some(_) => {
            let p = tri!(resolve(b, spec));
            start_one(b, &p, spec, wait)
        }
    }
}

fn start_group(b: &mut dyn Backend, group: &str, wait: bool) -> Outcome {
    let procs = tri!(group_procs(b, group));
    for_many(b, procs, not_running, |b, p, spec| {
        start_one(b, p, spec, wait)
    })
}

fn start_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let group = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    start_group(b, group, wait)
}

fn start_all_processes(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let wait = tri!(arg_wait(params, 0));
    let procs = all_processes(b);
    for_many(b, procs, not_running, |b, p, spec| {
        start_one(b, p, spec, wait)
    })
}

fn stop_process(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    let (group, name) = split_namespec(spec);
    if !b.has_group(group) {
        return fail(Fault::new(FaultCode::BadName, spec));
    }
    match name {
        None => stop_group(b, group, wait),
        Some(_) => {
            let p = tri!(resolve(b, spec));
            stop_one(b, &p, spec, wait)
        }
    }
}

fn stop_group(b: &mut dyn Backend, group: &str, wait: bool) -> Outcome {
    let procs = tri!(group_procs(b, group));
    for_many(b, procs, ProcessState::is_running, |b, p, spec| {
        stop_one(b, p, spec, wait)
    })
}

fn stop_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let group = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    stop_group(b, group, wait)
}

fn stop_all_processes(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let wait = tri!(arg_wait(params, 0));
    let procs = all_processes(b);
    for_many(b, procs, ProcessState::is_running, |b, p, spec| {
        stop_one(b, p, spec, wait)
    })
}

fn signal_process(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let sig = &params[1];
    let (group, name) = split_namespec(spec);
    if !b.has_group(group) {
        return fail(Fault::new(FaultCode::BadName, spec));
    }
    match name {
        None => signal_group(b, group, sig),
        Some(_) => {
            let p = tri!(resolve(b, spec));
            signal_one(b, &p, spec, sig)
        }
    }
}

fn signal_group(b: &mut dyn Backend, group: &str, sig: &Value) -> Outcome {
    let procs = tri!(group_procs(b, group));
    for_many(b, procs, ProcessState::is_signallable, |b, p, spec| {
        signal_one(b, p, spec, sig)
    })
}

fn signal_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let group = tri!(arg_str(params, 0));
    signal_group(b, group, &params[1])
}

fn signal_all_processes(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let sig = &params[0];
    let procs = all_processes(b);
    for_many(b, procs, ProcessState::is_signallable, |b, p, spec| {
        signal_one(b, p, spec, sig)
    })
}

// ---------------------------------------------------------------------------------------------
// system.*

fn list_methods(_: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(Value::Array(
        TABLE.iter().map(|m| Value::from(m.name)).collect(),
    ))
}

fn method_help(_: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    match TABLE.iter().find(|m| m.name == name) {
        Some(m) => done(m.help),
        None => fail(Fault::bare(FaultCode::SignatureUnsupported)),
    }
}

fn method_signature(_: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    match TABLE.iter().find(|m| m.name == name) {
        Some(m) => done(Value::Array(
            m.signature.iter().map(|t| Value::from(*t)).collect(),
        )),
        None => fail(Fault::bare(FaultCode::SignatureUnsupported)),
    }
}

fn fault_struct(f: Fault) -> Value {
    Value::Struct(vec![
        ("faultCode".into(), Value::Int(f.code)),
        ("faultString".into(), Value::String(f.string)),
    ])
}

/// Where a multicall's results go: kept as values (for [`Waiter`]) or encoded as they come
/// (for [`XmlWaiter`]: each value is dropped once written, so the answer is never held
/// twice).
trait Results: Send {
    fn add(&mut self, v: Value);
}

impl Results for Vec<Value> {
    fn add(&mut self, v: Value) {
        self.push(v);
    }
}

impl Results for Vec<u8> {
    fn add(&mut self, v: Value) {
        xmlrpc::write_value(self, &v);
    }
}

/// Runs the calls of a multicall one after the other; a waiting call holds up the rest.
/// The results share one answer of at most [`budget::MAX_ANSWER`] bytes: a result that
/// does not fit becomes a [`budget::too_large`] fault entry, and so does every later
/// call, which is then not run at all.
struct MultiWaiter<R> {
    calls: std::collections::VecDeque<Value>,
    current: Option<Box<dyn Waiter>>,
    results: R,
    /// Encoded bytes of the results so far.
    used: usize,
    /// Set once a result did not fit: the remaining calls are refused.
    full: bool,
    /// The encoded bytes all results may take ([`SINGLE_ROOM`] but in tests).
    limit: usize,
}

impl<R: Results> MultiWaiter<R> {
    fn new(calls: &[Value], results: R, limit: usize) -> Self {
        MultiWaiter {
            calls: calls.iter().cloned().collect(),
            current: None,
            results,
            used: 0,
            full: false,
            limit,
        }
    }

    /// The encoded bytes the next result may take.
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }

    fn push(&mut self, r: Result<Value, Fault>) {
        let v = match r {
            Err(f) if budget::is_too_large(&f) => {
                self.full = true;
                fault_struct(f)
            }
            r => r.unwrap_or_else(fault_struct),
        };
        let mut len = encoded_len(&v);
        let v = if self.full || len > self.room() {
            self.full = true;
            drop(v);
            let f = fault_struct(budget::too_large());
            len = encoded_len(&f);
            f
        } else {
            v
        };
        self.used += len;
        self.results.add(v);
    }

    /// Runs calls until one must wait (`false`) or all are done (`true`).
    fn run(&mut self, b: &mut dyn Backend) -> bool {
        loop {
            if let Some(w) = self.current.as_mut() {
                match w.poll(b) {
                    Some(r) => {
                        self.current = None;
                        self.push(r);
                    }
                    None => return false,
                }
            }
            let Some(call) = self.calls.pop_front() else {
                return true;
            };
            if self.full {
                self.push(Err(budget::too_large()));
                continue;
            }
            match one_of_multicall(b, &call, self.room()) {
                Outcome::Done(r) => self.push(r),
                Outcome::Wait(w) => self.current = Some(w),
            }
        }
    }
}

impl Waiter for MultiWaiter<Vec<Value>> {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        self.run(b)
            .then(|| Ok(Value::Array(std::mem::take(&mut self.results))))
    }
}

impl XmlWaiter for MultiWaiter<Vec<u8>> {
    fn poll_xml(&mut self, b: &mut dyn Backend) -> Option<Result<Vec<u8>, Fault>> {
        if !self.run(b) {
            return None;
        }
        let mut out = std::mem::take(&mut self.results);
        xmlrpc::end_array(&mut out);
        xmlrpc::end_response(&mut out);
        Some(Ok(out))
    }
}

fn one_of_multicall(b: &mut dyn Backend, call: &Value, room: usize) -> Outcome {
    let Some(members) = call.as_struct() else {
        return fail(Fault::new(FaultCode::Failed, "a call must be a struct"));
    };
    let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let name = match get("methodName") {
        None => {
            return fail(Fault::new(FaultCode::IncorrectParameters, "No methodName"));
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return fail(Fault::new(FaultCode::Failed, "methodName must be a string"));
        }
    };
    if name == "system.multicall" {
        return fail(Fault::new(
            FaultCode::IncorrectParameters,
            "Recursive system.multicall forbidden",
        ));
    }
    let params = match get("params") {
        None => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return fail(Fault::bare(FaultCode::IncorrectParameters)),
    };
    super::dispatch_within(b, name, params, room)
}

fn multicall(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    multicall_within(b, params, SINGLE_ROOM)
}

/// [`multicall`] whose results may take `limit` encoded bytes in all.
pub(super) fn multicall_within(b: &mut dyn Backend, params: &[Value], limit: usize) -> Outcome {
    let Some(calls) = params.first().and_then(Value::as_array) else {
        return fail(bad_params());
    };
    let mut m = MultiWaiter::new(calls, Vec::with_capacity(calls.len()), limit);
    match m.poll(b) {
        Some(r) => Outcome::Done(r),
        None => Outcome::Wait(Box::new(m)),
    }
}

/// `system.multicall` for `/RPC2`: the same calls and results as [`multicall`], each
/// result encoded into the answer as soon as it is known.
pub fn multicall_xml(b: &mut dyn Backend, params: &[Value]) -> XmlOutcome {
    multicall_xml_within(b, params, SINGLE_ROOM)
}

/// [`multicall_xml`] whose results may take `limit` encoded bytes in all.
pub(super) fn multicall_xml_within(
    b: &mut dyn Backend,
    params: &[Value],
    limit: usize,
) -> XmlOutcome {
    let Some(calls) = params.first().and_then(Value::as_array) else {
        return XmlOutcome::Done(Err(bad_params()));
    };
    let mut out = Vec::with_capacity(1024);
    xmlrpc::begin_response(&mut out);
    xmlrpc::begin_array(&mut out);
    let mut m = MultiWaiter::new(calls, out, limit);
    match m.poll_xml(b) {
        Some(r) => XmlOutcome::Done(r),
        None => XmlOutcome::Wait(Box::new(m)),
    }
}
