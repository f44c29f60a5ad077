//! State-machine tests with a fake clock and a fake host.

use super::text::{wait_status_exited, wait_status_signaled};
use super::*;
use std::collections::{BTreeSet, HashSet};
use supervisor_config::{
    AutoRestart, GroupConfig, GroupKind, LogChannelConfig, LogFile, ProcessConfig,
};

/// Linux's numbers (what the runtime passes from libc on the machines the tests run on).
pub(crate) const SIGNALS: Signals = Signals {
    hup: 1,
    int: 2,
    quit: 3,
    term: 15,
    chld: 17,
    usr2: 12,
    kill: 9,
};
pub(crate) const SIGKILL: i32 = SIGNALS.kill;

/// A host that hands out pids and records every kill; names in `fail` cannot be spawned.
#[derive(Default)]
pub(crate) struct FakeHost {
    next_pid: i32,
    pub spawned: Vec<(ProcKey, i32)>,
    pub kills: Vec<(i32, i32)>,
    pub fail: HashSet<String>,
    pub kill_error: Option<KillError>,
    pub alive: BTreeSet<i32>,
    /// The random fractions `random_fraction` hands out in turn (then 0.5 forever).
    pub random: std::collections::VecDeque<f64>,
}

impl Host for FakeHost {
    fn spawn(&mut self, key: ProcKey, config: &ProcessConfig) -> Result<i32, SpawnFailure> {
        if self.fail.contains(&config.name) {
            return Err(SpawnFailure::new(
                SpawnFailureKind::NoFile,
                format!("can't find command '{}'", config.command),
            ));
        }
        self.next_pid += 1;
        let pid = 100 + self.next_pid;
        self.spawned.push((key, pid));
        self.alive.insert(pid);
        Ok(pid)
    }
    fn random_fraction(&mut self) -> f64 {
        self.random.pop_front().unwrap_or(0.5)
    }
    fn kill(&mut self, pid: i32, signal: i32) -> Result<(), KillError> {
        if let Some(e) = self.kill_error.clone() {
            return Err(e);
        }
        self.kills.push((pid, signal));
        Ok(())
    }
}

fn chan() -> LogChannelConfig {
    LogChannelConfig {
        logfile: LogFile::None,
        logfile_maxbytes: 0,
        logfile_backups: 0,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
        ..Default::default()
    }
}

pub(crate) fn pconf(name: &str) -> ProcessConfig {
    ProcessConfig {
        name: name.into(),
        group: name.into(),
        section: format!("program:{name}"),
        file: "/tmp/x.conf".into(),
        command: format!("/bin/{name}"),
        priority: 999,
        autostart: true,
        autorestart: AutoRestart::Unexpected,
        startsecs: 1,
        startretries: 3,
        exitcodes: vec![0],
        stopsignal: 15,
        stopwaitsecs: 10,
        stopasgroup: false,
        killasgroup: false,
        user: None,
        uid: None,
        redirect_stderr: false,
        stdout: chan(),
        stderr: chan(),
        environment: vec![],
        directory: None,
        umask: None,
        serverurl: None,
        critical: false,
        ready: None,
        resources: Default::default(),
        health: None,
        depends_on: Vec::new(),
        restart: Default::default(),
        rlimits: Vec::new(),
        environment_files: Vec::new(),
    }
}

pub(crate) fn group(name: &str, priority: i32, procs: Vec<ProcessConfig>) -> GroupConfig {
    GroupConfig {
        name: name.into(),
        priority,
        kind: GroupKind::Program,
        processes: procs
            .into_iter()
            .map(|mut p| {
                p.group = name.into();
                p
            })
            .collect(),
    }
}

fn t0() -> Now {
    Now {
        mono: 1000.0,
        wall: 1_795_284_870.0,
        utc_offset: 0,
    }
}

/// A supervisor, a fake host, a clock and everything logged so far.
struct World {
    sup: Supervisor,
    host: FakeHost,
    now: Now,
    logs: Vec<String>,
    events: Vec<Event>,
    /// Make every tick a full transition pass (the reference behaviour the skipping is
    /// compared with).
    force_passes: bool,
    /// The probe starts and stops the core asked for (tests/ready.rs).
    probes: Vec<Output>,
}

impl World {
    fn new(groups: Vec<GroupConfig>) -> World {
        let mut w = World {
            sup: Supervisor::new(groups, SIGNALS),
            host: FakeHost::default(),
            now: t0(),
            logs: vec![],
            events: vec![],
            force_passes: false,
            probes: vec![],
        };
        w.drain();
        w
    }
    fn one(cfg: ProcessConfig) -> World {
        let name = cfg.name.clone();
        World::new(vec![group(&name, 999, vec![cfg])])
    }
    fn drain(&mut self) {
        for o in self.sup.drain_output() {
            match o {
                Output::Log { level, text } => self.logs.push(format!("{} {text}", level.tag())),
                Output::Event(e) => self.events.push(e),
                o @ (Output::StartProbe { .. } | Output::StopProbe { .. }) => self.probes.push(o),
                _ => {}
            }
        }
    }
    fn tick(&mut self) {
        if self.force_passes {
            self.sup.mark_dirty();
        }
        self.sup.tick(self.now, &mut self.host);
        self.drain();
    }
    fn advance(&mut self, secs: f64) {
        self.now = self.now.plus(secs);
        self.tick();
    }
    /// Advances to the core's next deadline (asserting there is one) and ticks.
    fn run_to_deadline(&mut self) {
        let d = self.sup.next_deadline(self.now).expect("a deadline");
        if d > self.now.mono {
            self.now = self.now.plus(d - self.now.mono);
        }
        self.tick();
    }
    fn key(&self, spec: &str) -> ProcKey {
        match self.sup.lookup(spec) {
            Some(Target::Process(k)) => k,
            other => panic!("{spec}: {other:?}"),
        }
    }
    fn state(&self, spec: &str) -> ProcessState {
        self.sup.process(self.key(spec)).unwrap().state()
    }
    fn pid(&self, spec: &str) -> i32 {
        self.sup.process(self.key(spec)).unwrap().pid()
    }
    fn exit(&mut self, spec: &str, status: i32) {
        let pid = self.pid(spec);
        assert_ne!(pid, 0, "{spec} has no pid");
        self.host.alive.remove(&pid);
        self.sup.reaped(pid, status, self.now, &mut self.host);
        self.drain();
        self.tick();
    }
    fn take_logs(&mut self) -> Vec<String> {
        self.drain();
        std::mem::take(&mut self.logs)
    }
    fn payloads(&mut self, kind: EventType) -> Vec<String> {
        self.drain();
        self.events
            .iter()
            .filter(|e| e.kind() == kind)
            .map(payload)
            .collect()
    }
    fn info(&self, spec: &str) -> ProcessInfo {
        self.sup.process_info(self.key(spec), self.now).unwrap()
    }
}

mod backoff;
mod daemon;
mod deps;
mod ending;
mod guard;
mod health;
mod idle;
mod random;
mod ready;
mod starting;
mod stopping;

/// The payload text of `e` in the reference's format, so the assertions read like the
/// bytes a listener gets. (The daemon renders through the events crate; the interop tests
/// compare those bytes with the reference's.)
pub(crate) fn payload(e: &Event) -> String {
    match e {
        Event::ProcessState(c) => {
            let mut p = format!(
                "processname:{} groupname:{} from_state:{}",
                c.process,
                c.group,
                c.from.name()
            );
            match c.to {
                ProcessState::Starting | ProcessState::Backoff => {
                    p.push_str(&format!(" tries:{}", c.tries));
                }
                ProcessState::Exited => {
                    p.push_str(&format!(
                        " expected:{} pid:{}",
                        i32::from(c.expected),
                        c.pid
                    ));
                }
                ProcessState::Stopped | ProcessState::Running | ProcessState::Stopping => {
                    p.push_str(&format!(" pid:{}", c.pid));
                }
                ProcessState::Fatal | ProcessState::Unknown => {}
            }
            p
        }
        Event::SupervisorRunning | Event::SupervisorStopping => String::new(),
        Event::GroupAdded(g) | Event::GroupRemoved(g) => format!("groupname:{g}\n"),
        Event::Tick { when, .. } => format!("when:{when}"),
        Event::Health(h) if h.healthy => format!(
            "processname:{} groupname:{} pid:{}\n",
            h.process, h.group, h.pid
        ),
        Event::Health(h) => format!(
            "processname:{} groupname:{} pid:{} failures:{} action:{}\n{}",
            h.process, h.group, h.pid, h.failures, h.action, h.reason
        ),
    }
}
