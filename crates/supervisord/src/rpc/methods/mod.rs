//! The table of callable methods: name, arity, help text, signature and handler.
//!
//! Help texts are ours; the `@param`/`@return` lines carry the types the reference
//! advertises, and [`Method::signature`] is what `system.methodSignature` returns.
//!
//! The handlers live by family: `info` (the daemon's and the processes' state, and how a
//! ProcessInfo/ConfigInfo struct is encoded), `logs` (read, tail, clear), `control`
//! (the daemon's mood, groups, stdin, start/stop/signal and their waiters), `system`
//! (`system.*`, multicall); `args` holds the argument parsing they share.

use supervisor_protocol::{Fault, FaultCode, Value};

use super::{Backend, Outcome};

/// Returns the fault of a `Result` from the enclosing handler as its [`Outcome`].
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(f) => return Outcome::Done(Err(f)),
        }
    };
}

mod args;
mod control;
mod extensions;
mod info;
mod logs;
mod system;

use control::{
    add_process_group, reload_config, remove_process_group, restart, send_process_stdin,
    send_remote_comm_event, shutdown, signal_all_processes, signal_process, signal_process_group,
    start_all_processes, start_process, start_process_group, stop_all_processes, stop_process,
    stop_process_group,
};
use info::{
    get_all_config_info, get_all_process_info, get_all_process_info_xml, get_api_version,
    get_identification, get_pid, get_process_info, get_process_info_xml, get_state,
    get_supervisor_version,
};
use logs::{
    clear_all_process_logs, clear_log, clear_process_logs, read_log, read_log_within,
    read_process_stderr_log, read_process_stderr_log_within, read_process_stdout_log,
    read_process_stdout_log_within, tail_process_stderr_log, tail_process_stderr_log_within,
    tail_process_stdout_log, tail_process_stdout_log_within,
};
use system::{list_methods, method_help, method_signature, multicall};

pub use info::{
    describe, process_info, process_info_of, process_info_size_hint, push_description,
    write_process_info, InfoFields,
};
pub use system::multicall_xml;
#[cfg(test)]
pub(in crate::rpc) use system::{multicall_within, multicall_xml_within};

/// A handler: the backend and the (arity-checked) params.
pub type Handler = fn(&mut dyn Backend, &[Value]) -> Outcome;

/// A handler that encodes its answer itself: it appends exactly the `<value>…</value>\n`
/// that [`write_value`](supervisor_protocol::xmlrpc::write_value) would write for the
/// [`Handler`]'s value (or leaves `out` alone and returns the same fault). For the big
/// answers (`getAllProcessInfo`), so no value tree is built only to be encoded.
pub type XmlHandler = fn(&mut dyn Backend, &[Value], &mut Vec<u8>) -> Result<(), Fault>;

/// A handler whose answer can be large (the log reads): it is told the room, in encoded
/// bytes, its value has in the answer, and refuses with
/// [`budget::too_large`](super::budget::too_large) before reading anything when what it
/// would return cannot fit. [`Method::handler`] calls it with the room of a single call; a
/// multicall with the room it has left.
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
    m!("supervisor_rs.createToken", 2, 2, true, ["string", "string", "string"],
       "Create a bearer token (admin only). The token is returned now and never again; the\ndaemon keeps only its SHA-256. An extension of supervisor-rs; see docs/security.md.\n\n@param string name  a unique name (letters, digits, '_', '-', '.')\n@param string role  read, operate or admin\n@return string token  the token, for 'Authorization: Bearer TOKEN'",
       crate::access::rpc::create_token),
    m!("supervisor_rs.getAllConfigExtensions", 0, 0, true, ["array"],
       "The keys of supervisor-rs's own features for every process of the loaded\nconfiguration (depends_on, readiness, ...), one struct {group, name, ...} per process,\nsorted by group then name. An extension of supervisor-rs; see docs/configuration.md.\n\n@return array result  structs {group, name, depends_on: ['db:ready', ...], ...}",
       extensions::get_all_config_extensions),
    m!("supervisor_rs.getAllProcessStats", 0, 0, true, ["array"],
       "Resource figures of every process (CPU seconds and %, RSS, descriptors, threads,\nuptime, restarts, last exit status), sampled now, sorted by group then name.\nAn extension of supervisor-rs; see docs/metrics.md.\n\n@return array result  process stats structs",
       crate::stats::rpc::get_all_process_stats),
    m!("supervisor_rs.getProcessStats", 1, 1, true, ["struct", "string"],
       "Resource figures of one process (CPU seconds and %, RSS, descriptors, threads,\nuptime, restarts, last exit status), sampled now. The process and its descendants\nare counted. An extension of supervisor-rs; see docs/metrics.md.\n\n@param string name  process name (or group:name)\n@return struct result  process stats",
       crate::stats::rpc::get_process_stats),
    m!("supervisor_rs.listTokens", 0, 0, true, ["array"],
       "The bearer tokens (admin only): name, role and creation time of each, never the\ntoken itself. An extension of supervisor-rs; see docs/security.md.\n\n@return array result  structs {name, role, created}",
       crate::access::rpc::list_tokens),
    m!("supervisor_rs.revokeToken", 1, 1, true, ["boolean", "string"],
       "Revoke (delete) a bearer token (admin only); requests with it are refused at once.\nAn extension of supervisor-rs; see docs/security.md.\n\n@param string name  the token's name\n@return boolean result  true when it was revoked",
       crate::access::rpc::revoke_token),
    m!("supervisor_rs.rotateLogs", 1, 1, true, ["array", "string"],
       "Rotate log files now, whatever their schedule (supervisorctl rotate). name is a\nprocess (or group:name), group:* or all (every process and the main log). Empty\nfiles and non-regular targets (/dev/stdout) are left alone. An extension of\nsupervisor-rs; see docs/configuration.md.\n\n@param string name  process name (or group:name, group:*, all)\n@return array result  one status struct per process (and supervisord for all)",
       crate::logs::rpc::rotate_logs),
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
