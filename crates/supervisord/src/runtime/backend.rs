//! The RPC layer's view of the daemon: [`rpc::Backend`] over the loop's [`Daemon`].

use std::path::PathBuf;

use super::io::{write_stdin, StdinWriteError};
use super::Daemon;
use crate::core::{ProcKey, Target};
use crate::rpc::{Backend, ConfigDiff, ProcessSnapshot, StdinError};
use crate::spawn::{self, SpawnErrorKind};
use supervisor_config::{GroupConfig, LogFile, LogLevel};
use supervisor_protocol::{Fault, FaultCode, SupervisorState};

/// Items an `/events` subscriber may have queued before events are dropped for it.
const STREAM_QUEUE: usize = 256;

impl Daemon {
    /// The key of process `name` of active group `group`.
    pub(super) fn key_of(&self, group: &str, name: &str) -> Option<ProcKey> {
        let spec = format!("{group}:{name}");
        match self.sup.lookup(&spec) {
            Some(Target::Process(k)) => Some(k),
            _ => None,
        }
    }

    fn snapshot(&self, key: ProcKey) -> Option<ProcessSnapshot> {
        self.snapshot_at(key, self.clock.now())
    }

    fn snapshot_at(&self, key: ProcKey, now: crate::core::Now) -> Option<ProcessSnapshot> {
        let p = self.sup.process(key)?;
        let info = self.sup.process_info(key, now)?;
        let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        Some(ProcessSnapshot {
            group: info.group,
            name: info.name,
            state: info.state,
            start: info.start as f64,
            stop: info.stop as f64,
            pid: info.pid,
            exitstatus: info.exitstatus,
            spawnerr: info.spawnerr,
            killing: p.is_killing(),
            stdout_logfile: path(&info.stdout_logfile),
            stderr_logfile: path(&info.stderr_logfile),
        })
    }
}

impl Backend for Daemon {
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
        let _ = self.mainlog.borrow_mut().reopen();
    }

    fn group_names(&self) -> Vec<String> {
        let mut g = self.sup.groups();
        g.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        g.into_iter().map(|g| g.name).collect()
    }

    fn group_processes(&self, group: &str) -> Option<Vec<ProcessSnapshot>> {
        let keys = self.sup.group_keys(group)?;
        let now = self.clock.now();
        Some(
            keys.into_iter()
                .filter_map(|k| self.snapshot_at(k, now))
                .collect(),
        )
    }

    fn process(&self, group: &str, name: &str) -> Option<ProcessSnapshot> {
        self.key_of(group, name).and_then(|k| self.snapshot(k))
    }

    fn has_group(&self, group: &str) -> bool {
        self.sup.is_group_active(group)
    }

    fn all_processes(&self) -> Vec<ProcessSnapshot> {
        let now = self.clock.now();
        let mut groups = self.sup.groups();
        groups.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        groups
            .into_iter()
            .flat_map(|g| g.keys)
            .filter_map(|k| self.snapshot_at(k, now))
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

    fn precheck_command(&self, group: &str, name: &str) -> Result<(), Fault> {
        let Some(p) = self.key_of(group, name).and_then(|k| self.sup.process(k)) else {
            return Err(Fault::new(FaultCode::BadName, format!("{group}:{name}")));
        };
        match spawn::resolve_command(p.config(), &self.config.supervisord.environment) {
            Ok(_) => Ok(()),
            Err(e) => match e.kind {
                SpawnErrorKind::NoFile => Err(Fault::new(FaultCode::NoFile, e.message)),
                SpawnErrorKind::NotExecutable => {
                    Err(Fault::new(FaultCode::NotExecutable, e.message))
                }
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
        self.reap();
        self.apply_outputs();
    }

    fn stop(&mut self, group: &str, name: &str) -> Result<(), String> {
        let Some(k) = self.key_of(group, name) else {
            return Err(format!("no such process {group}:{name}"));
        };
        let now = self.clock.now();
        let r = self.sup.stop_process(k, now, &mut self.host);
        self.apply_outputs();
        self.reap();
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
        let r = self.sup.signal_process(k, signal, now, &mut self.host);
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
