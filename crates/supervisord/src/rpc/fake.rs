//! A scripted in-memory [`Backend`] and a minimal event loop around it, for tests of the RPC
//! and HTTP layers (and of anything else that talks to the control plane) without real
//! processes.
//!
//! Test code: compiled only for this crate's unit tests and with the `test-support`
//! feature (which the integration tests enable through a dev-dependency on the crate
//! itself), never in a normal build of the library or the daemon.
//!
//! Processes move one step per [`FakeBackend::step`]: STARTING → RUNNING (or → BACKOFF with
//! a spawn error when listed in `dies_on_start`), STOPPING → STOPPED.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use supervisor_config::GroupConfig;
use supervisor_protocol::{ProcessState, SupervisorState};
use tokio::sync::mpsc;

use super::{
    handle, Backend, ConfigDiff, ControlRequest, Pending, PrecheckError, ProcessSnapshot,
    StdinError,
};

/// The fake daemon.
#[derive(Debug, Clone)]
pub struct FakeBackend {
    /// The mood.
    pub state: SupervisorState,
    /// Active groups and their processes, in priority order.
    pub groups: Vec<(String, Vec<ProcessSnapshot>)>,
    /// The loaded config.
    pub config: Vec<GroupConfig>,
    /// The main log.
    pub main_log: Option<PathBuf>,
    /// Wall-clock now.
    pub now: f64,
    /// Names (`group:name`) whose command fails the exec pre-check with NO_FILE.
    pub no_file: HashSet<String>,
    /// Names whose spawn fails at once (BACKOFF with a spawnerr).
    pub spawn_fails: HashSet<String>,
    /// Names that die while STARTING (BACKOFF, "Exited too quickly").
    pub dies_on_start: HashSet<String>,
    /// Names that reach RUNNING within `start` (startsecs=0).
    pub instant: HashSet<String>,
    /// What was written to stdins.
    pub stdin: Vec<(String, Vec<u8>)>,
    /// Signals sent.
    pub signals: Vec<(String, i32)>,
    /// REMOTE_COMMUNICATION events emitted.
    pub events: Vec<(String, String)>,
    /// Result of the next `reload_config`.
    pub reload: Result<ConfigDiff, String>,
    /// Times the main log was reopened.
    pub reopened: u32,
    /// Processes whose logs were cleared.
    pub cleared: Vec<String>,
    /// `/events` subscribers; each REMOTE_COMMUNICATION event sends them a
    /// `StreamItem::Dropped(<number of events so far>)` marker (enough to test the plumbing).
    pub streams: Vec<mpsc::Sender<supervisor_events::StreamItem>>,
    /// Whether `subscribe_events` is supported.
    pub has_event_stream: bool,
}

fn key(g: &str, n: &str) -> String {
    format!("{g}:{n}")
}

impl FakeBackend {
    /// A daemon with the given groups (`(group, [process names])`), all STOPPED.
    pub fn new(groups: &[(&str, &[&str])]) -> FakeBackend {
        FakeBackend {
            state: SupervisorState::Running,
            groups: groups
                .iter()
                .map(|(g, names)| {
                    (
                        g.to_string(),
                        names
                            .iter()
                            .map(|n| ProcessSnapshot {
                                group: g.to_string(),
                                name: n.to_string(),
                                state: ProcessState::Stopped,
                                start: 0.0,
                                stop: 0.0,
                                pid: 0,
                                exitstatus: 0,
                                spawnerr: String::new(),
                                killing: false,
                                stdout_logfile: None,
                                stderr_logfile: None,
                                note: String::new(),
                            })
                            .collect(),
                    )
                })
                .collect(),
            config: Vec::new(),
            main_log: None,
            now: 1_700_000_000.0,
            no_file: HashSet::new(),
            spawn_fails: HashSet::new(),
            dies_on_start: HashSet::new(),
            instant: HashSet::new(),
            stdin: Vec::new(),
            signals: Vec::new(),
            events: Vec::new(),
            reload: Ok(ConfigDiff::default()),
            reopened: 0,
            cleared: Vec::new(),
            streams: Vec::new(),
            has_event_stream: true,
        }
    }

    /// Mutable access to one process.
    pub fn proc_mut(&mut self, group: &str, name: &str) -> Option<&mut ProcessSnapshot> {
        self.groups
            .iter_mut()
            .find(|(g, _)| g == group)?
            .1
            .iter_mut()
            .find(|p| p.name == name)
    }

    /// Advances every process one step; returns true if anything changed.
    pub fn step(&mut self) -> bool {
        let mut changed = false;
        let dies = self.dies_on_start.clone();
        let now = self.now;
        for (_, procs) in &mut self.groups {
            for p in procs {
                match p.state {
                    ProcessState::Starting => {
                        if dies.contains(&key(&p.group, &p.name)) {
                            p.state = ProcessState::Backoff;
                            p.spawnerr = "Exited too quickly (process log may have details)".into();
                            p.pid = 0;
                        } else {
                            p.state = ProcessState::Running;
                        }
                        changed = true;
                    }
                    ProcessState::Stopping => {
                        p.state = ProcessState::Stopped;
                        p.pid = 0;
                        p.killing = false;
                        p.stop = now;
                        changed = true;
                    }
                    _ => {}
                }
            }
        }
        changed
    }
}

impl Backend for FakeBackend {
    fn supervisor_state(&self) -> SupervisorState {
        self.state
    }
    fn identification(&self) -> String {
        "supervisor".into()
    }
    fn daemon_pid(&self) -> i32 {
        4242
    }
    fn now(&self) -> f64 {
        self.now
    }
    fn utc_offset(&self) -> i32 {
        0
    }
    fn main_logfile(&self) -> Option<PathBuf> {
        self.main_log.clone()
    }
    fn reopen_main_log(&mut self) {
        self.reopened += 1;
        if let Some(p) = &self.main_log {
            let _ = std::fs::write(p, b"");
        }
    }
    fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|(g, _)| g.clone()).collect()
    }
    fn group_processes(&self, group: &str) -> Option<Vec<ProcessSnapshot>> {
        self.groups
            .iter()
            .find(|(g, _)| g == group)
            .map(|(_, p)| p.clone())
    }
    fn process(&self, group: &str, name: &str) -> Option<ProcessSnapshot> {
        self.groups
            .iter()
            .find(|(g, _)| g == group)?
            .1
            .iter()
            .find(|p| p.name == name)
            .cloned()
    }
    fn has_group(&self, group: &str) -> bool {
        self.groups.iter().any(|(g, _)| g == group)
    }
    fn all_processes(&self) -> Vec<ProcessSnapshot> {
        self.groups
            .iter()
            .flat_map(|(_, p)| p.iter().cloned())
            .collect()
    }
    fn precheck_command(&self, group: &str, name: &str) -> Result<(), PrecheckError> {
        if self.no_file.contains(&key(group, name)) {
            Err(PrecheckError::NoFile(format!(
                "can't find command '{name}'"
            )))
        } else {
            Ok(())
        }
    }
    fn start(&mut self, group: &str, name: &str) {
        let now = self.now;
        let fails = self.spawn_fails.contains(&key(group, name));
        let instant = self.instant.contains(&key(group, name));
        if let Some(p) = self.proc_mut(group, name) {
            p.start = now;
            p.spawnerr.clear();
            if fails {
                p.state = ProcessState::Backoff;
                p.spawnerr = format!("can't find command '{name}'");
            } else {
                p.state = if instant {
                    ProcessState::Running
                } else {
                    ProcessState::Starting
                };
                p.pid = 1000 + p.name.len() as i32;
            }
        }
    }
    fn stop(&mut self, group: &str, name: &str) -> Result<(), String> {
        if let Some(p) = self.proc_mut(group, name) {
            if p.state == ProcessState::Backoff {
                p.state = ProcessState::Stopped;
            } else {
                p.state = ProcessState::Stopping;
                p.killing = true;
            }
        }
        Ok(())
    }
    fn signal(&mut self, group: &str, name: &str, signal: i32) -> Result<(), String> {
        self.signals.push((key(group, name), signal));
        Ok(())
    }
    fn clear_process_logs(&mut self, group: &str, name: &str) -> std::io::Result<()> {
        self.cleared.push(key(group, name));
        Ok(())
    }
    fn write_stdin(&mut self, group: &str, name: &str, data: &[u8]) -> Result<(), StdinError> {
        self.stdin.push((key(group, name), data.to_vec()));
        Ok(())
    }
    fn remote_comm_event(&mut self, kind: &str, data: &str) {
        self.events.push((kind.into(), data.into()));
        let n = self.events.len() as u64;
        self.streams.retain(|s| {
            s.try_send(supervisor_events::StreamItem::Dropped(n))
                .is_ok()
        });
    }
    fn subscribe_events(
        &mut self,
        _types: &[supervisor_protocol::events::EventType],
    ) -> Option<mpsc::Receiver<supervisor_events::StreamItem>> {
        if !self.has_event_stream {
            return None;
        }
        let (tx, rx) = mpsc::channel(16);
        self.streams.push(tx);
        Some(rx)
    }
    fn shutdown(&mut self) {
        self.state = SupervisorState::Shutdown;
    }
    fn restart(&mut self) {
        self.state = SupervisorState::Restarting;
    }
    fn reload_config(&mut self) -> Result<ConfigDiff, String> {
        self.reload.clone()
    }
    fn config_groups(&self) -> Vec<GroupConfig> {
        self.config.clone()
    }
    fn add_group(&mut self, name: &str) -> bool {
        if self.groups.iter().any(|(g, _)| g == name) {
            return false;
        }
        self.groups.push((name.to_string(), Vec::new()));
        true
    }
    fn remove_group(&mut self, name: &str) -> bool {
        let Some(i) = self.groups.iter().position(|(g, _)| g == name) else {
            return false;
        };
        if self.groups[i].1.iter().any(|p| !p.state.is_stopped()) {
            return false;
        }
        self.groups.remove(i);
        true
    }
}

/// Runs a minimal event loop: serves control requests, steps the fake every `step` and
/// answers parked calls. Returns when every sender is gone.
pub async fn run_loop(
    mut backend: FakeBackend,
    mut rx: mpsc::Receiver<ControlRequest>,
    step: Duration,
) {
    let mut pending = Pending::new();
    let mut ticker = tokio::time::interval(step);
    loop {
        tokio::select! {
            req = rx.recv() => match req {
                Some(req) => handle(&mut backend, &mut pending, req),
                None => return,
            },
            _ = ticker.tick() => {
                backend.step();
                pending.poll(&mut backend);
            }
        }
    }
}
