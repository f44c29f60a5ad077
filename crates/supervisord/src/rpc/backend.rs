//! What the RPC layer needs from the daemon: a narrow trait the runtime implements over the
//! core's `Supervisor` (and the tests over a fake).
//!
//! The RPC layer owns names, argument checking, fault mapping, result shapes, waiting rules
//! and log reading; the backend only answers questions about the process table and carries
//! out requests on it.

use std::path::PathBuf;

use super::methods;
use supervisor_config::GroupConfig;
use supervisor_protocol::{ProcessState, SupervisorState, Value};

/// A read-only picture of one process, as `getProcessInfo` and the waiting rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSnapshot {
    /// Group name.
    pub group: String,
    /// Process name.
    pub name: String,
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
    pub spawnerr: String,
    /// True while a stop/kill has been sent and the exit is awaited.
    pub killing: bool,
    /// Resolved stdout log path (`None` = not logged).
    pub stdout_logfile: Option<PathBuf>,
    /// Resolved stderr log path (`None` = not logged).
    pub stderr_logfile: Option<PathBuf>,
    /// The STARTING description (supervisor-rs): `waiting for: db` or the readiness
    /// text; empty otherwise (see [`methods::InfoFields::note`]).
    pub note: String,
}

/// `getAllProcessInfo` built from [`Backend::all_processes`] (the default of
/// [`Backend::all_process_info_values`], kept callable so a backend's own answer can be
/// compared with it).
pub fn all_process_info_from_snapshots<B: Backend + ?Sized>(b: &B) -> Vec<Value> {
    let now = b.now();
    let off = b.utc_offset();
    let procs = b.all_processes();
    // Lexical by group, then by name (the reference's order for this call); sort indices,
    // not the snapshots.
    let mut order: Vec<usize> = (0..procs.len()).collect();
    order.sort_unstable_by(|&x, &y| {
        let (x, y) = (&procs[x], &procs[y]);
        (&x.group, &x.name).cmp(&(&y.group, &y.name))
    });
    order
        .into_iter()
        .map(|i| methods::process_info(&procs[i], now, off))
        .collect()
}

/// The stats of a snapshot without reading `/proc` (no sample, no restart count).
pub fn figures_without_sample(p: &ProcessSnapshot, now: f64) -> crate::stats::ProcessFigures {
    crate::stats::ProcessFigures {
        group: p.group.clone(),
        name: p.name.clone(),
        state: p.state,
        pid: p.pid,
        start: p.start,
        uptime: if p.pid != 0 {
            (now - p.start).max(0.0)
        } else {
            0.0
        },
        restarts: 0,
        last_exit: None,
        sample: None,
    }
}

/// Why writing to a process's stdin failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinError {
    /// No pid, or the process is being stopped (`NOT_RUNNING`).
    NotRunning,
    /// The pipe is closed or the process has no stdin (`NO_FILE`).
    NoFile,
    /// Any other I/O error; the text becomes a `FAILED` detail.
    Failed(String),
}

/// Why the exec pre-check of `startProcess` refuses a process (the RPC layer turns it into
/// the reference's fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrecheckError {
    /// The process is not in the active groups (`BAD_NAME`).
    NoSuchProcess,
    /// The command cannot be found; the reference's detail text (`NO_FILE`).
    NoFile(String),
    /// The command is not executable; the reference's detail text (`NOT_EXECUTABLE`).
    NotExecutable(String),
}

/// The result of `reloadConfig`: group names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    /// Groups in the new config that are not active.
    pub added: Vec<String>,
    /// Active groups whose config differs.
    pub changed: Vec<String>,
    /// Active groups absent from the new config.
    pub removed: Vec<String>,
}

/// The daemon as the RPC methods see it. All calls happen on the event loop, one at a time.
pub trait Backend {
    /// The daemon's mood; anything but RUNNING (and FATAL) refuses `supervisor.*` calls with
    /// SHUTDOWN_STATE.
    fn supervisor_state(&self) -> SupervisorState;
    /// `[supervisord] identifier`.
    fn identification(&self) -> String;
    /// The daemon's pid.
    fn daemon_pid(&self) -> i32;
    /// Wall-clock epoch seconds now.
    fn now(&self) -> f64;
    /// The local time zone's offset from UTC in seconds (for `Nov 21 06:14 PM`).
    fn utc_offset(&self) -> i32;
    /// The main log file path, `None` when the main log is not a file.
    fn main_logfile(&self) -> Option<PathBuf>;
    /// Called after the main log file was removed by `clearLog`: reopen it (the reference
    /// logs `reopening log file` at INFO first).
    fn reopen_main_log(&mut self);

    /// Active group names in (priority, name) order.
    fn group_names(&self) -> Vec<String>;
    /// Snapshots of the processes of an active group, in (priority, name) order; `None` if
    /// the group is not active.
    fn group_processes(&self, group: &str) -> Option<Vec<ProcessSnapshot>>;
    /// One process of an active group.
    fn process(&self, group: &str, name: &str) -> Option<ProcessSnapshot>;
    /// The state of one process of an active group (parked stops look at it after every
    /// state change; override when a snapshot costs more than a lookup).
    fn process_state(&self, group: &str, name: &str) -> Option<ProcessState> {
        self.process(group, name).map(|p| p.state)
    }
    /// True when `group` is active (override when snapshots of a big group are costly).
    fn has_group(&self, group: &str) -> bool {
        self.group_processes(group).is_some()
    }
    /// Every process of every active group: groups in (priority, name) order, processes in
    /// their group's order. The default asks group by group; a backend with many groups
    /// should answer in one pass (this is what `getAllProcessInfo` and the `all` variants
    /// use, so it bounds their cost).
    fn all_processes(&self) -> Vec<ProcessSnapshot> {
        self.group_names()
            .iter()
            .flat_map(|g| self.group_processes(g).unwrap_or_default())
            .collect()
    }
    /// The `getProcessInfo` struct of one process of an active group. The default builds
    /// it from [`Backend::process`]; the daemon answers from its table without copies.
    fn process_info_value(&self, group: &str, name: &str) -> Option<Value> {
        let p = self.process(group, name)?;
        Some(methods::process_info(&p, self.now(), self.utc_offset()))
    }
    /// `getAllProcessInfo`: every process's struct, lexical by group name then process
    /// name. The default sorts [`Backend::all_processes`]; the daemon keeps that order.
    fn all_process_info_values(&self) -> Vec<Value> {
        all_process_info_from_snapshots(self)
    }
    /// Appends the encoded `getProcessInfo` struct of one process (exactly what
    /// `write_value` writes for [`Backend::process_info_value`]); false, with nothing
    /// written, when there is no such process.
    fn write_process_info(&self, group: &str, name: &str, out: &mut Vec<u8>) -> bool {
        match self.process_info_value(group, name) {
            Some(v) => {
                supervisor_protocol::xmlrpc::write_value(out, &v);
                true
            }
            None => false,
        }
    }
    /// Appends the encoded `getAllProcessInfo` array (exactly what `write_value` writes
    /// for [`Backend::all_process_info_values`]).
    fn write_all_process_info(&self, out: &mut Vec<u8>) {
        let v = Value::Array(self.all_process_info_values());
        supervisor_protocol::xmlrpc::write_value(out, &v);
    }

    /// The exec pre-check of `startProcess` (no state change): a command that cannot be
    /// found or run, with the reference's detail text.
    fn precheck_command(&self, group: &str, name: &str) -> Result<(), PrecheckError>;
    /// Spawns the process now (fork/exec done before returning, the child reaped once and
    /// the state machine advanced once, so a `startsecs=0` process is RUNNING on return and
    /// a failed spawn has its `spawnerr` set).
    fn start(&mut self, group: &str, name: &str);
    /// Asks the process to stop (stop signal sent). `Err` is the kill error text.
    fn stop(&mut self, group: &str, name: &str) -> Result<(), String>;
    /// `stopAllProcesses`' stop: like [`Backend::stop`], but the signal is held back
    /// until every process that depends on this one (`depends_on=`) has stopped.
    fn stop_after_dependents(&mut self, group: &str, name: &str) -> Result<(), String> {
        self.stop(group, name)
    }
    /// Called each time a `stopProcess(wait=true)` caller re-checks a process that has not
    /// stopped yet: the place for the reference's `waiting for <name> to stop` log line.
    fn stop_report(&mut self, _group: &str, _name: &str) {}
    /// Sends `signal` to the process. `Err` is the kill error text.
    fn signal(&mut self, group: &str, name: &str, signal: i32) -> Result<(), String>;
    /// Removes and reopens the process's stdout and stderr logs.
    fn clear_process_logs(&mut self, group: &str, name: &str) -> std::io::Result<()>;
    /// Rotates the process's stdout and stderr log files now (`supervisor_rs.rotateLogs`):
    /// what was done, as text (see [`crate::logs::rpc::describe`]); `Err` when a
    /// rotation failed.
    fn rotate_process_logs(&mut self, _group: &str, _name: &str) -> Result<String, String> {
        Err("log rotation is not available here".into())
    }
    /// Rotates the main log file now (`supervisor_rs.rotateLogs("all")`).
    fn rotate_main_log(&mut self) -> Result<String, String> {
        Err("log rotation is not available here".into())
    }
    /// Writes bytes to the process's stdin.
    fn write_stdin(&mut self, group: &str, name: &str, data: &[u8]) -> Result<(), StdinError>;
    /// Emits a REMOTE_COMMUNICATION event.
    fn remote_comm_event(&mut self, kind: &str, data: &str);

    /// Sets the mood to SHUTDOWN.
    fn shutdown(&mut self);
    /// Sets the mood to RESTARTING.
    fn restart(&mut self);
    /// Re-parses the config file, keeps it as the "loaded" config and reports the
    /// difference with the active groups; `Err` is the config error text.
    fn reload_config(&mut self) -> Result<ConfigDiff, String>;
    /// The groups of the loaded config (what `getAllConfigInfo` and `addProcessGroup` see).
    fn config_groups(&self) -> Vec<GroupConfig>;
    /// The file an `AUTO` log of a loaded-config process was given, when that config entry
    /// has been activated since it was loaded (at startup or by `addProcessGroup`): the
    /// reference shows such resolved names in `getAllConfigInfo`, and `auto` for entries
    /// loaded by `reloadConfig` and not (re-)added since. `None` shows `auto`.
    fn resolved_auto_log(&self, _group: &str, _name: &str, _stderr: bool) -> Option<PathBuf> {
        None
    }
    /// Activates a group of the loaded config; false if it is already active.
    fn add_group(&mut self, name: &str) -> bool;
    /// Removes an active group; false if any of its processes is not stopped.
    fn remove_group(&mut self, name: &str) -> bool;

    /// The resource figures of one process of an active group
    /// (`supervisor_rs.getProcessStats`), sampled now. The default has the table's
    /// bookkeeping from [`Backend::process`] and no sample; the daemon reads `/proc`.
    fn process_figures(&mut self, group: &str, name: &str) -> Option<crate::stats::ProcessFigures> {
        self.process(group, name)
            .map(|p| figures_without_sample(&p, self.now()))
    }
    /// The figures of every process (`supervisor_rs.getAllProcessStats`, `/metrics`),
    /// lexical by group then name like `getAllProcessInfo`.
    fn all_process_figures(&mut self) -> Vec<crate::stats::ProcessFigures> {
        let now = self.now();
        let mut all: Vec<_> = self
            .all_processes()
            .iter()
            .map(|p| figures_without_sample(p, now))
            .collect();
        all.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        all
    }
    /// The `/metrics` page (Prometheus text format 0.0.4, or OpenMetrics text when
    /// `openmetrics`); `None` when this daemon has none (the client gets 404).
    fn metrics_text(&mut self, _openmetrics: bool) -> Option<String> {
        None
    }

    /// Subscribes an `/events` client to these event types (the event bus's
    /// `subscribe_stream`); `None` when the daemon has no event stream (the client gets 404).
    fn subscribe_events(
        &mut self,
        _types: &[supervisor_protocol::events::EventType],
    ) -> Option<tokio::sync::mpsc::Receiver<supervisor_events::StreamItem>> {
        None
    }

    /// The health report behind `/livez` and `/readyz` (`core::Supervisor::health`);
    /// `None` when there is none (the endpoints then answer 503).
    fn health(&mut self) -> Option<crate::core::HealthReport> {
        None
    }
}
