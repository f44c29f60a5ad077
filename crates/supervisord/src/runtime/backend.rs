//! The RPC layer's view of the daemon: [`rpc::Backend`] over the loop's [`Daemon`].

use std::path::PathBuf;

use super::io::{write_stdin, StdinWriteError};
use super::Daemon;
use crate::core::ProcKey;
use crate::rpc::methods::{self, InfoFields};
use crate::rpc::{Backend, ConfigDiff, PrecheckError, ProcessSnapshot, StdinError};
use crate::spawn::{self, SpawnErrorKind};
use supervisor_config::{GroupConfig, LogFile, LogLevel};
use supervisor_protocol::{SupervisorState, Value};

/// Items an `/events` subscriber may have queued before events are dropped for it.
const STREAM_QUEUE: usize = 256;

impl Daemon {
    /// The key of process `name` of active group `group`.
    pub(super) fn key_of(&self, group: &str, name: &str) -> Option<ProcKey> {
        self.sup.process_key(group, name)
    }

    fn snapshot(&self, key: ProcKey) -> Option<ProcessSnapshot> {
        let p = self.sup.process(key)?;
        let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        Some(ProcessSnapshot {
            group: p.group().to_string(),
            name: p.name().to_string(),
            state: p.state(),
            // Whole seconds, as getProcessInfo reports them.
            start: p.start_wall().trunc(),
            stop: p.stop_wall().trunc(),
            pid: p.pid(),
            exitstatus: p.exitstatus().unwrap_or(0),
            spawnerr: p.spawnerr().unwrap_or_default().to_string(),
            killing: p.is_killing(),
            stdout_logfile: path(p.stdout_logfile()),
            stderr_logfile: path(p.stderr_logfile()),
            note: p.info_note().to_string(),
        })
    }

    /// The getProcessInfo struct of `key`, straight from the process table.
    fn info_value(&self, key: ProcKey, now: f64, utc_offset: i32) -> Option<Value> {
        let fields = self.info_fields(key)?;
        Some(methods::process_info_of(&fields, now, utc_offset))
    }

    /// The getProcessInfo fields of `key`, borrowed from the process table.
    fn info_fields(&self, key: ProcKey) -> Option<InfoFields<'_>> {
        let p = self.sup.process(key)?;
        Some(InfoFields {
            name: p.name(),
            group: p.group(),
            state: p.state(),
            start: p.start_wall().trunc(),
            stop: p.stop_wall().trunc(),
            pid: p.pid(),
            exitstatus: p.exitstatus().unwrap_or(0),
            spawnerr: p.spawnerr().unwrap_or_default(),
            stdout_logfile: p.stdout_logfile(),
            stderr_logfile: p.stderr_logfile(),
            restart_at: p.restart_due_wall(),
            // dependencies, readiness, guards; the health verdict (core health.rs)
            note: p.info_note(),
        })
    }
}

impl Backend for Daemon {
    fn process_figures(&mut self, group: &str, name: &str) -> Option<crate::stats::ProcessFigures> {
        self.stats_one(group, name)
    }

    fn all_process_figures(&mut self) -> Vec<crate::stats::ProcessFigures> {
        self.stats_all()
    }

    fn metrics_text(&mut self, openmetrics: bool) -> Option<String> {
        Some(self.metrics_page(openmetrics))
    }

    fn supervisor_state(&self) -> SupervisorState {
        self.sup.mood()
    }

    fn identification(&self) -> String {
        self.config.supervisord.identifier.clone()
    }

    fn daemon_pid(&self) -> i32 {
        std::process::id() as i32
    }

    fn now(&self) -> f64 {
        self.clock.now().wall
    }

    fn utc_offset(&self) -> i32 {
        self.clock.now().utc_offset
    }

    fn main_logfile(&self) -> Option<PathBuf> {
        self.mainlog.borrow().path().map(PathBuf::from)
    }

    fn reopen_main_log(&mut self) {
        self.log(LogLevel::Info, "reopening log file");
        let reopened = self.mainlog.borrow_mut().reopen();
        if let Err(e) = reopened {
            let path = self
                .mainlog
                .borrow()
                .path()
                .map(|p| p.display().to_string());
            let path = path.unwrap_or_default();
            self.log(
                LogLevel::Warn,
                &format!("could not reopen log file {path}: {e}"),
            );
        }
    }

    fn group_names(&self) -> Vec<String> {
        let mut g: Vec<(i32, &str)> = self
            .sup
            .groups_by_priority()
            .map(|(name, prio, _)| (prio, name))
            .collect();
        g.sort_unstable();
        g.into_iter().map(|(_, name)| name.to_string()).collect()
    }

    fn group_processes(&self, group: &str) -> Option<Vec<ProcessSnapshot>> {
        let keys = self.sup.group_keys_ref(group)?;
        Some(keys.iter().filter_map(|&k| self.snapshot(k)).collect())
    }

    fn process(&self, group: &str, name: &str) -> Option<ProcessSnapshot> {
        self.key_of(group, name).and_then(|k| self.snapshot(k))
    }

    fn process_state(&self, group: &str, name: &str) -> Option<supervisor_protocol::ProcessState> {
        let k = self.key_of(group, name)?;
        self.sup.process(k).map(|p| p.state())
    }

    fn has_group(&self, group: &str) -> bool {
        self.sup.is_group_active(group)
    }

    fn all_processes(&self) -> Vec<ProcessSnapshot> {
        let mut groups: Vec<(i32, &str, &[ProcKey])> = self
            .sup
            .groups_by_priority()
            .map(|(name, prio, keys)| (prio, name, keys))
            .collect();
        groups.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        groups
            .into_iter()
            .flat_map(|(_, _, keys)| keys)
            .filter_map(|&k| self.snapshot(k))
            .collect()
    }

    fn process_info_value(&self, group: &str, name: &str) -> Option<Value> {
        let key = self.key_of(group, name)?;
        let now = self.clock.now();
        self.info_value(key, now.wall, now.utc_offset)
    }

    fn write_process_info(&self, group: &str, name: &str, out: &mut Vec<u8>) -> bool {
        let Some(fields) = self.key_of(group, name).and_then(|k| self.info_fields(k)) else {
            return false;
        };
        let now = self.clock.now();
        let mut scratch = String::new();
        methods::write_process_info(out, &mut scratch, &fields, now.wall, now.utc_offset);
        true
    }

    fn write_all_process_info(&self, out: &mut Vec<u8>) {
        let now = self.clock.now();
        let keys = self.sup.keys_lexical();
        let size: usize = keys
            .iter()
            .filter_map(|&k| self.info_fields(k))
            .map(|f| methods::process_info_size_hint(&f))
            .sum();
        out.reserve(size + 64);
        let mut scratch = String::with_capacity(64);
        supervisor_protocol::xmlrpc::begin_array(out);
        for &k in keys {
            if let Some(fields) = self.info_fields(k) {
                methods::write_process_info(out, &mut scratch, &fields, now.wall, now.utc_offset);
            }
        }
        supervisor_protocol::xmlrpc::end_array(out);
    }

    fn all_process_info_values(&self) -> Vec<Value> {
        let now = self.clock.now();
        self.sup
            .keys_lexical()
            .iter()
            .filter_map(|&k| self.info_value(k, now.wall, now.utc_offset))
            .collect()
    }

    fn resolved_auto_log(&self, group: &str, name: &str, stderr: bool) -> Option<PathBuf> {
        if !self.auto_resolved.contains(group) {
            return None;
        }
        let p = self.key_of(group, name).and_then(|k| self.sup.process(k))?;
        let channel = if stderr {
            &p.config().stderr
        } else {
            &p.config().stdout
        };
        if channel.logfile != LogFile::Auto {
            return None;
        }
        let s = self.snapshot(p.key())?;
        if stderr {
            s.stderr_logfile
        } else {
            s.stdout_logfile
        }
    }

    fn precheck_command(&self, group: &str, name: &str) -> Result<(), PrecheckError> {
        let Some(p) = self.key_of(group, name).and_then(|k| self.sup.process(k)) else {
            return Err(PrecheckError::NoSuchProcess);
        };
        match spawn::resolve_command(p.config(), &self.config.supervisord.environment) {
            Ok(_) => Ok(()),
            Err(e) => match e.kind {
                SpawnErrorKind::NoFile => Err(PrecheckError::NoFile(e.message)),
                SpawnErrorKind::NotExecutable => Err(PrecheckError::NotExecutable(e.message)),
                SpawnErrorKind::Other => Ok(()),
            },
        }
    }

    fn start(&mut self, group: &str, name: &str) {
        let Some(k) = self.key_of(group, name) else {
            return;
        };
        let now = self.clock.now();
        let _ = self.sup.start_process(k, now, &mut self.host);
        self.apply_outputs();
        // A child that is gone already (only this one: the loop reaps the rest).
        let pid = self.sup.process(k).map_or(0, |p| p.pid());
        self.reap_pid(pid);
        self.apply_outputs();
    }

    fn stop(&mut self, group: &str, name: &str) -> Result<(), String> {
        let Some(k) = self.key_of(group, name) else {
            return Err(format!("no such process {group}:{name}"));
        };
        let now = self.clock.now();
        let pid = self.sup.process(k).map_or(0, |p| p.pid());
        let r = self.sup.stop_process(k, now, &mut self.host);
        self.apply_outputs();
        self.reap_pid(pid);
        self.apply_outputs();
        match r {
            Ok(()) | Err(crate::core::StopError::NotRunning) => Ok(()),
            Err(crate::core::StopError::Failed(m)) => Err(m),
            Err(crate::core::StopError::NoSuchProcess) => {
                Err(format!("no such process {group}:{name}"))
            }
        }
    }

    fn stop_after_dependents(&mut self, group: &str, name: &str) -> Result<(), String> {
        let Some(k) = self.key_of(group, name) else {
            return Err(format!("no such process {group}:{name}"));
        };
        let now = self.clock.now();
        let pid = self.sup.process(k).map_or(0, |p| p.pid());
        let r = self.sup.stop_after_dependents(k, now, &mut self.host);
        self.apply_outputs();
        self.reap_pid(pid);
        self.apply_outputs();
        match r {
            Ok(()) | Err(crate::core::StopError::NotRunning) => Ok(()),
            Err(crate::core::StopError::Failed(m)) => Err(m),
            Err(crate::core::StopError::NoSuchProcess) => {
                Err(format!("no such process {group}:{name}"))
            }
        }
    }

    fn stop_report(&mut self, group: &str, name: &str) {
        if let Some(k) = self.key_of(group, name) {
            let now = self.clock.now();
            self.sup.stop_report(k, now, &mut self.host);
            self.apply_outputs();
        }
    }

    fn signal(&mut self, group: &str, name: &str, signal: i32) -> Result<(), String> {
        let Some(k) = self.key_of(group, name) else {
            return Err(format!("no such process {group}:{name}"));
        };
        let now = self.clock.now();
        // kill_mode = cgroup: an operator's signal is for the process, not its cgroup.
        self.host.cgroups.direct_signals(true);
        let r = self.sup.signal_process(k, signal, now, &mut self.host);
        self.host.cgroups.direct_signals(false);
        self.apply_outputs();
        match r {
            Ok(()) | Err(crate::core::SignalError::NotRunning) => Ok(()),
            Err(crate::core::SignalError::Failed(m)) => Err(m),
            Err(crate::core::SignalError::NoSuchProcess) => {
                Err(format!("no such process {group}:{name}"))
            }
        }
    }

    fn clear_process_logs(&mut self, group: &str, name: &str) -> std::io::Result<()> {
        match self.key_of(group, name).and_then(|k| self.host.io.get(&k)) {
            Some(io) => io.clear(),
            None => Ok(()),
        }
    }

    fn rotate_process_logs(&mut self, group: &str, name: &str) -> Result<String, String> {
        match self.key_of(group, name).and_then(|k| self.host.io.get(&k)) {
            Some(io) => io.rotate_now(),
            None => Err(format!("no such process {group}:{name}")),
        }
    }

    fn rotate_main_log(&mut self) -> Result<String, String> {
        let r = self.mainlog.borrow_mut().rotate_now();
        crate::logs::rpc::describe(&[("main log", r)])
    }

    fn write_stdin(&mut self, group: &str, name: &str, data: &[u8]) -> Result<(), StdinError> {
        let Some(k) = self.key_of(group, name) else {
            return Err(StdinError::NotRunning);
        };
        let Some(p) = self.sup.process(k) else {
            return Err(StdinError::NotRunning);
        };
        if p.pid() == 0 || p.is_killing() {
            return Err(StdinError::NotRunning);
        }
        let Some(io) = self.host.io.get(&k) else {
            return Err(StdinError::NoFile);
        };
        match write_stdin(&io.stdin, data) {
            Ok(()) => Ok(()),
            Err(StdinWriteError::NoPipe | StdinWriteError::Closed) => Err(StdinError::NoFile),
            Err(StdinWriteError::Other(m)) => Err(StdinError::Failed(m)),
        }
    }

    fn remote_comm_event(&mut self, kind: &str, data: &str) {
        self.bus
            .borrow_mut()
            .publish(supervisor_events::Event::remote_communication(kind, data));
        self.flush_bus();
    }

    fn shutdown(&mut self) {
        self.sup.request_shutdown();
    }

    fn restart(&mut self) {
        self.sup.request_restart();
    }

    fn reload_config(&mut self) -> Result<ConfigDiff, String> {
        let cfg = (self.loader)()?;
        self.sup.set_loaded_config(cfg.groups);
        self.auto_resolved.clear();
        let (added, changed, removed) = self.sup.diff_to_active();
        Ok(ConfigDiff {
            added,
            changed,
            removed,
        })
    }

    fn config_groups(&self) -> Vec<GroupConfig> {
        self.sup.loaded_config().to_vec()
    }

    fn add_group(&mut self, name: &str) -> bool {
        let ok = self.sup.add_loaded_group(name).is_ok();
        if ok {
            self.auto_resolved.insert(name.to_string());
        }
        self.apply_outputs();
        ok
    }

    fn health(&mut self) -> Option<crate::core::HealthReport> {
        Some(self.sup.health())
    }

    fn subscribe_events(
        &mut self,
        types: &[supervisor_protocol::events::EventType],
    ) -> Option<tokio::sync::mpsc::Receiver<supervisor_events::StreamItem>> {
        let (id, rx) = self.bus.borrow_mut().subscribe_stream(types, STREAM_QUEUE);
        // Forget subscriptions whose client is gone (the bus notices them lazily).
        {
            let bus = self.bus.borrow();
            self.streams.retain(|s| bus.stream_stats(*s).is_some());
        }
        self.streams.push(id);
        // A subscription to TICK_* turns the core's tick timer on.
        self.flush_bus();
        Some(rx)
    }

    fn remove_group(&mut self, name: &str) -> bool {
        let ok = self.sup.remove_group(name).is_ok();
        self.apply_outputs();
        ok
    }
}
