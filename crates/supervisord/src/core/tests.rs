//! State-machine tests with a fake clock and a fake host.

use super::text::{wait_status_exited, wait_status_signaled};
use super::*;
use std::collections::{BTreeSet, HashSet};
use supervisor_config::{
    AutoRestart, GroupConfig, GroupKind, LogChannelConfig, LogFile, ProcessConfig,
};

/// A host that hands out pids and records every kill; names in `fail` cannot be spawned.
#[derive(Default)]
pub(crate) struct FakeHost {
    next_pid: i32,
    pub spawned: Vec<(ProcKey, i32)>,
    pub kills: Vec<(i32, i32)>,
    pub fail: HashSet<String>,
    pub kill_error: Option<KillError>,
    pub alive: BTreeSet<i32>,
}

impl Host for FakeHost {
    fn spawn(&mut self, key: ProcKey, config: &ProcessConfig) -> Result<i32, String> {
        if self.fail.contains(&config.name) {
            return Err(format!("can't find command '{}'", config.command));
        }
        self.next_pid += 1;
        let pid = 100 + self.next_pid;
        self.spawned.push((key, pid));
        self.alive.insert(pid);
        Ok(pid)
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
}

impl World {
    fn new(groups: Vec<GroupConfig>) -> World {
        let mut w = World {
            sup: Supervisor::new(groups),
            host: FakeHost::default(),
            now: t0(),
            logs: vec![],
            events: vec![],
            force_passes: false,
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
            .filter(|e| e.kind == kind)
            .map(|e| e.payload.clone())
            .collect()
    }
    fn info(&self, spec: &str) -> ProcessInfo {
        self.sup.process_info(self.key(spec), self.now).unwrap()
    }
}

#[test]
fn autostart_then_running_after_startsecs_strictly() {
    let mut w = World::one(pconf("web"));
    w.tick();
    assert_eq!(w.state("web"), ProcessState::Starting);
    assert_eq!(w.take_logs(), vec!["INFO spawned: 'web' with pid 101"]);
    // exactly startsecs later is not enough ('>' is strict)
    w.advance(1.0);
    assert_eq!(w.state("web"), ProcessState::Starting);
    let d = w.sup.next_deadline(w.now).unwrap();
    assert!(d > w.now.mono && d - w.now.mono < 0.01);
    w.run_to_deadline();
    assert_eq!(w.state("web"), ProcessState::Running);
    assert_eq!(
        w.take_logs(),
        vec!["INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateStarting),
        vec!["processname:web groupname:web from_state:STOPPED tries:0"]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateRunning),
        vec!["processname:web groupname:web from_state:STARTING pid:101"]
    );
    // no deadline while simply running: the loop sleeps
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn autostart_false_stays_stopped() {
    let mut c = pconf("idle");
    c.autostart = false;
    let mut w = World::one(c);
    w.tick();
    assert_eq!(w.state("idle"), ProcessState::Stopped);
    assert_eq!(w.info("idle").description, "Not started");
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn backoff_delays_and_fatal_after_startretries_plus_one() {
    let mut c = pconf("quick");
    c.startretries = 2;
    let mut w = World::one(c);
    w.tick();
    let mut retry_gaps = vec![];
    for _ in 0..3 {
        let started = w.now.mono;
        w.advance(0.1);
        w.exit("quick", wait_status_exited(0));
        assert!(matches!(
            w.state("quick"),
            ProcessState::Backoff | ProcessState::Fatal
        ));
        if w.state("quick") == ProcessState::Fatal {
            break;
        }
        w.run_to_deadline();
        assert_eq!(w.state("quick"), ProcessState::Starting);
        retry_gaps.push(((w.now.mono - started - 0.1) * 1000.0).round() / 1000.0);
    }
    // waits 1 s, 2 s (linear) — plus the timer slack
    assert_eq!(retry_gaps.len(), 2);
    assert!((retry_gaps[0] - 1.001).abs() < 1e-6, "{retry_gaps:?}");
    assert!((retry_gaps[1] - 2.001).abs() < 1e-6, "{retry_gaps:?}");
    assert_eq!(w.state("quick"), ProcessState::Fatal);
    assert_eq!(w.host.spawned.len(), 3);
    let logs = w.take_logs();
    assert!(logs.contains(&"WARN exited: quick (exit status 0; not expected)".to_string()));
    assert_eq!(
        logs.last().unwrap(),
        "INFO gave up: quick entered FATAL state, too many start retries too quickly"
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateBackoff),
        vec![
            "processname:quick groupname:quick from_state:STARTING tries:1",
            "processname:quick groupname:quick from_state:STARTING tries:2",
            "processname:quick groupname:quick from_state:STARTING tries:3",
        ]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateStarting)[1],
        "processname:quick groupname:quick from_state:BACKOFF tries:1"
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateFatal),
        vec!["processname:quick groupname:quick from_state:BACKOFF"]
    );
    let info = w.info("quick");
    assert_eq!(
        info.description,
        "Exited too quickly (process log may have details)"
    );
    assert_eq!(info.exitstatus, 0);
    // FATAL is never left automatically
    w.advance(100.0);
    assert_eq!(w.state("quick"), ProcessState::Fatal);
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn startretries_zero_fatal_after_first_failure() {
    let mut c = pconf("q");
    c.startretries = 0;
    let mut w = World::one(c);
    w.tick();
    w.exit("q", wait_status_exited(1));
    assert_eq!(w.state("q"), ProcessState::Fatal);
}

#[test]
fn spawn_error_backoff_then_fatal_with_spawnerr_text() {
    let mut c = pconf("nocmd");
    c.startretries = 1;
    let mut w = World::one(c);
    w.host.fail.insert("nocmd".into());
    w.tick();
    assert_eq!(w.state("nocmd"), ProcessState::Backoff);
    assert_eq!(
        w.take_logs(),
        vec!["INFO spawnerr: can't find command '/bin/nocmd'"]
    );
    w.run_to_deadline();
    assert_eq!(w.state("nocmd"), ProcessState::Fatal);
    assert_eq!(
        w.take_logs(),
        vec![
            "INFO spawnerr: can't find command '/bin/nocmd'",
            "INFO gave up: nocmd entered FATAL state, too many start retries too quickly"
        ]
    );
    assert_eq!(
        w.info("nocmd").description,
        "can't find command '/bin/nocmd'"
    );
    assert_eq!(w.info("nocmd").pid, 0);
}

#[test]
fn autorestart_matrix() {
    let cases = [
        (AutoRestart::Never, 0, false),
        (AutoRestart::Never, 3, false),
        (AutoRestart::Unexpected, 0, false),
        (AutoRestart::Unexpected, 3, true),
        (AutoRestart::Always, 0, true),
        (AutoRestart::Always, 3, true),
    ];
    for (ar, code, restarts) in cases {
        let mut c = pconf("p");
        c.autorestart = ar;
        let mut w = World::one(c);
        w.tick();
        w.advance(1.5);
        assert_eq!(w.state("p"), ProcessState::Running);
        let pid = w.pid("p");
        w.take_logs();
        w.exit("p", wait_status_exited(code));
        let expected = code == 0;
        let first = w.take_logs()[0].clone();
        if expected {
            assert_eq!(first, "INFO exited: p (exit status 0; expected)");
        } else {
            assert_eq!(first, "WARN exited: p (exit status 3; not expected)");
        }
        let exited = w.payloads(EventType::ProcessStateExited);
        assert_eq!(
            exited,
            vec![format!(
                "processname:p groupname:p from_state:RUNNING expected:{} pid:{pid}",
                i32::from(expected)
            )]
        );
        if restarts {
            assert_eq!(w.state("p"), ProcessState::Starting, "{ar:?} {code}");
            assert_ne!(w.pid("p"), pid);
        } else {
            assert_eq!(w.state("p"), ProcessState::Exited, "{ar:?} {code}");
            let info = w.info("p");
            assert_eq!(info.description, "Nov 21 06:14 PM");
            assert_eq!(info.exitstatus, code);
            if code == 3 {
                assert_eq!(info.spawnerr, "Bad exit code 3");
            }
        }
    }
}

#[test]
fn signal_death_is_never_expected() {
    let mut c = pconf("p");
    c.autorestart = AutoRestart::Never;
    let mut w = World::one(c);
    w.tick();
    w.advance(2.0);
    w.take_logs();
    w.exit("p", wait_status_signaled(9, false));
    assert_eq!(
        w.take_logs(),
        vec!["WARN exited: p (terminated by SIGKILL; not expected)"]
    );
    assert_eq!(w.info("p").exitstatus, -1);
}

#[test]
fn startsecs_zero_running_at_next_transition_and_restart_loop_without_backoff() {
    let mut c = pconf("loop");
    c.startsecs = 0;
    c.autorestart = AutoRestart::Always;
    let mut w = World::one(c);
    w.tick();
    assert_eq!(w.state("loop"), ProcessState::Starting);
    w.run_to_deadline();
    assert_eq!(w.state("loop"), ProcessState::Running);
    for _ in 0..20 {
        // A run longer than QUICK_EXIT: restarted by the very next pass.
        w.advance(0.3);
        w.exit("loop", wait_status_exited(1));
        assert_eq!(w.state("loop"), ProcessState::Starting);
        w.run_to_deadline();
    }
    assert_eq!(w.state("loop"), ProcessState::Running);
    assert_eq!(w.host.spawned.len(), 21);
}

#[test]
fn quick_exit_restarts_no_sooner_than_the_minimum_interval_after_the_last_start() {
    let mut c = pconf("crash");
    c.startsecs = 0;
    c.autorestart = AutoRestart::Always;
    let mut w = World::one(c);
    w.tick();
    w.run_to_deadline();
    // The first quick exit is restarted at once (a kill right after the start, say).
    w.advance(0.01);
    w.exit("crash", wait_status_exited(1));
    assert_eq!(w.state("crash"), ProcessState::Starting);
    w.run_to_deadline();
    assert_eq!(w.state("crash"), ProcessState::Running);
    let started = w.now.mono;
    for round in 0..5 {
        w.advance(0.01);
        w.exit("crash", wait_status_exited(1));
        assert_eq!(w.state("crash"), ProcessState::Exited, "round {round}");
        // Held back, not spinning: the deadline is the end of the interval.
        let due = w.sup.next_deadline(w.now).expect("a restart deadline");
        assert!(
            due > w.now.mono + 0.5,
            "round {round}: {due} vs {}",
            w.now.mono
        );
        w.advance(0.5);
        assert_eq!(w.state("crash"), ProcessState::Exited);
        w.run_to_deadline();
        assert_eq!(w.state("crash"), ProcessState::Starting);
        w.run_to_deadline();
        assert_eq!(w.state("crash"), ProcessState::Running);
    }
    assert_eq!(w.host.spawned.len(), 7);
    // One start per MIN_RESPAWN_INTERVAL at most.
    assert!(w.now.mono - started >= 5.0 * process::MIN_RESPAWN_INTERVAL);
    // An exit after a longer run is restarted at once again, and so is the first quick
    // exit after it.
    w.advance(0.3);
    w.exit("crash", wait_status_exited(1));
    assert_eq!(w.state("crash"), ProcessState::Starting);
    w.run_to_deadline();
    w.advance(0.01);
    w.exit("crash", wait_status_exited(1));
    assert_eq!(w.state("crash"), ProcessState::Starting);
}

#[test]
fn automatic_restarts_per_tick_are_bounded_and_the_rest_follow_next_tick() {
    let n = 3 * supervisor::MAX_RESTARTS_PER_TICK as usize + 5;
    let groups = (0..n)
        .map(|i| {
            let mut c = pconf(&format!("p{i:03}"));
            c.startsecs = 0;
            c.autorestart = AutoRestart::Always;
            group(&c.name.clone(), 999, vec![c])
        })
        .collect();
    let mut w = World::new(groups);
    // Start-up autostarts are not budgeted.
    w.tick();
    assert_eq!(w.host.spawned.len(), n);
    w.advance(2.0);
    for i in 0..n {
        let name = format!("p{i:03}");
        let pid = w.pid(&name);
        w.host.alive.remove(&pid);
        w.sup.reaped(pid, wait_status_exited(1), w.now, &mut w.host);
    }
    w.drain();
    let mut spawned = vec![];
    for _ in 0..4 {
        let before = w.host.spawned.len();
        assert!(w.sup.next_deadline(w.now).is_some_and(|d| d <= w.now.mono));
        w.tick();
        spawned.push(w.host.spawned.len() - before);
    }
    let b = supervisor::MAX_RESTARTS_PER_TICK as usize;
    assert_eq!(spawned, vec![b, b, b, 5]);
}

#[test]
fn shutdown_skips_groups_with_nothing_to_stop_at_once() {
    // 200 groups; the last 150 (stopped first) never started: shutdown must signal the
    // first running child in the same tick, not 8 groups per 3-second report.
    let groups = (0..200)
        .map(|i| group(&format!("g{i:03}"), 999, vec![pconf(&format!("g{i:03}"))]))
        .collect();
    let mut w = World::new(groups);
    for i in 50..200 {
        w.host.fail.insert(format!("g{i:03}"));
    }
    w.tick();
    w.advance(2.0);
    assert_eq!(w.state("g000"), ProcessState::Running);
    assert_eq!(w.state("g199"), ProcessState::Backoff);
    let pids: Vec<i32> = (0..50).rev().map(|i| w.pid(&format!("g{i:03}"))).collect();
    w.sup.request_shutdown();
    w.tick();
    // Equal priorities: every running group is signalled in this tick, last name first.
    assert_eq!(
        w.host.kills,
        pids.iter().map(|&p| (p, 15)).collect::<Vec<_>>()
    );
    assert_eq!(w.state("g199"), ProcessState::Fatal);
    for i in (0..50).rev() {
        let name = format!("g{i:03}");
        assert!(!w.sup.is_finished());
        w.exit(&name, wait_status_signaled(15, false));
    }
    assert_eq!(w.host.kills.len(), 50);
    assert!(w.sup.is_finished());
}

#[test]
fn shutdown_waits_for_higher_priorities_but_not_for_equal_ones() {
    let mut w = World::new(vec![
        group("low", 1, vec![pconf("low")]),
        group("x", 5, vec![pconf("x")]),
        group("y", 5, vec![pconf("y")]),
    ]);
    w.tick();
    w.advance(2.0);
    let (low, x, y) = (w.pid("low"), w.pid("x"), w.pid("y"));
    w.sup.request_shutdown();
    w.tick();
    assert_eq!(w.host.kills, vec![(y, 15), (x, 15)]);
    w.exit("y", wait_status_signaled(15, false));
    assert_eq!(w.host.kills.len(), 2, "low waits for x too");
    w.exit("x", wait_status_signaled(15, false));
    assert_eq!(w.host.kills, vec![(y, 15), (x, 15), (low, 15)]);
    w.exit("low", wait_status_signaled(15, false));
    assert!(w.sup.is_finished());
}

#[test]
fn huge_startsecs_and_stopwaitsecs_never_come_due() {
    let mut c = pconf("slow");
    c.startsecs = 9_223_372_036_854_775_807;
    c.stopwaitsecs = 9_223_372_036_854_775_807;
    c.startretries = u32::MAX;
    let mut w = World::one(c);
    w.tick();
    assert_eq!(w.state("slow"), ProcessState::Starting);
    let d = w.sup.next_deadline(w.now).expect("the startsecs deadline");
    assert!(d.is_finite() && d > 1e18);
    w.advance(1e6);
    assert_eq!(w.state("slow"), ProcessState::Starting);
    let k = w.key("slow");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    assert_eq!(w.state("slow"), ProcessState::Stopping);
    w.advance(1e6);
    // No SIGKILL: stopwaitsecs is not over.
    assert_eq!(w.host.kills.len(), 1);
    w.exit("slow", wait_status_signaled(15, false));
    assert_eq!(w.state("slow"), ProcessState::Stopped);
    // A quick death with huge startsecs: BACKOFF with the saturating counter.
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    w.advance(0.5);
    w.exit("slow", wait_status_exited(1));
    assert_eq!(w.state("slow"), ProcessState::Backoff);
    let p = w.sup.process(k).unwrap();
    assert_eq!(p.backoff(), 1);
}

#[test]
fn exit_while_starting_after_startsecs_goes_running_then_exited() {
    let mut c = pconf("p");
    c.autorestart = AutoRestart::Never;
    let mut w = World::one(c);
    w.tick();
    // the exit is seen before the STARTING -> RUNNING timer fired
    w.now = w.now.plus(1.5);
    let pid = w.pid("p");
    w.sup.reaped(pid, wait_status_exited(0), w.now, &mut w.host);
    w.drain();
    assert_eq!(w.state("p"), ProcessState::Exited);
    assert_eq!(w.payloads(EventType::ProcessStateRunning).len(), 1);
    assert!(!w.logs.iter().any(|l| l.contains("success:")));
}

#[test]
fn stop_with_term_then_stopped_logs() {
    let mut w = World::one(pconf("p"));
    w.tick();
    w.advance(2.0);
    let pid = w.pid("p");
    w.take_logs();
    let k = w.key("p");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("p"), ProcessState::Stopping);
    assert_eq!(w.host.kills, vec![(pid, 15)]);
    assert_eq!(
        w.take_logs(),
        vec![format!("DEBG killing p (pid {pid}) with signal SIGTERM")]
    );
    w.exit("p", wait_status_signaled(15, false));
    assert_eq!(w.state("p"), ProcessState::Stopped);
    assert_eq!(
        w.take_logs(),
        vec!["WARN stopped: p (terminated by SIGTERM)"]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateStopped),
        vec![format!(
            "processname:p groupname:p from_state:STOPPING pid:{pid}"
        )]
    );
    // an administratively stopped process is not restarted, whatever autorestart says
    w.advance(50.0);
    assert_eq!(w.state("p"), ProcessState::Stopped);
    assert_eq!(w.info("p").description, "Nov 21 06:14 PM");
}

#[test]
fn stop_with_exit_0_logs_info() {
    let mut w = World::one(pconf("p"));
    w.tick();
    let k = w.key("p");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.take_logs();
    w.exit("p", wait_status_exited(0));
    assert_eq!(w.take_logs(), vec!["INFO stopped: p (exit status 0)"]);
}

#[test]
fn stopwaitsecs_escalates_to_sigkill_and_rearms() {
    let mut c = pconf("stubborn");
    c.stopwaitsecs = 3;
    c.stopasgroup = true;
    c.killasgroup = true;
    let mut w = World::one(c);
    w.tick();
    w.advance(2.0);
    let pid = w.pid("stubborn");
    let k = w.key("stubborn");
    w.take_logs();
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.host.kills, vec![(-pid, 15)]);
    assert_eq!(
        w.take_logs(),
        vec![format!(
            "DEBG killing stubborn (pid {pid}) process group with signal SIGTERM"
        )]
    );
    let d = w.sup.next_deadline(w.now).unwrap();
    assert!((d - w.now.mono - 3.0).abs() < 1e-9);
    w.run_to_deadline();
    assert_eq!(w.host.kills, vec![(-pid, 15), (-pid, 9)]);
    assert_eq!(
        w.take_logs(),
        vec![
            format!("WARN killing 'stubborn' ({pid}) with SIGKILL"),
            format!("DEBG killing stubborn (pid {pid}) process group with signal SIGKILL"),
        ]
    );
    // still alive: SIGKILL again every stopwaitsecs
    w.run_to_deadline();
    assert_eq!(w.host.kills.len(), 3);
    assert_eq!(w.payloads(EventType::ProcessStateStopping).len(), 1);
}

#[test]
fn killasgroup_only_for_sigkill() {
    let mut c = pconf("p");
    c.stopwaitsecs = 1;
    c.killasgroup = true;
    let mut w = World::one(c);
    w.tick();
    let pid = w.pid("p");
    let k = w.key("p");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.run_to_deadline();
    assert_eq!(w.host.kills, vec![(pid, 15), (-pid, 9)]);
}

#[test]
fn stop_in_backoff_goes_stopped_without_signal() {
    let mut w = World::one(pconf("q"));
    w.tick();
    w.exit("q", wait_status_exited(1));
    assert_eq!(w.state("q"), ProcessState::Backoff);
    w.take_logs();
    let k = w.key("q");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("q"), ProcessState::Stopped);
    assert!(w.host.kills.is_empty());
    assert_eq!(
        w.take_logs(),
        vec!["DEBG Attempted to kill q, which is in BACKOFF state."]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateStopped),
        vec!["processname:q groupname:q from_state:BACKOFF pid:0"]
    );
    w.advance(10.0);
    assert_eq!(w.state("q"), ProcessState::Stopped);
}

#[test]
fn stop_errors() {
    let mut c = pconf("p");
    c.autostart = false;
    let mut w = World::one(c);
    w.tick();
    let k = w.key("p");
    assert_eq!(
        w.sup.stop_process(k, w.now, &mut w.host),
        Err(StopError::NotRunning)
    );
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    // STOPPING is not a RUNNING state
    assert_eq!(
        w.sup.stop_process(k, w.now, &mut w.host),
        Err(StopError::NotRunning)
    );
}

#[test]
fn kill_failure_goes_unknown_and_esrch_is_ignored() {
    let mut w = World::one(pconf("p"));
    w.tick();
    let k = w.key("p");
    w.host.kill_error = Some(KillError::NoSuchProcess("[Errno 3] No such process".into()));
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("p"), ProcessState::Stopping);
    assert!(w.logs.last().unwrap().starts_with(
        "DEBG unable to signal p (pid 101), it probably just exited on its own: [Errno 3]"
    ));

    let mut w = World::one(pconf("p"));
    w.tick();
    let k = w.key("p");
    w.host.kill_error = Some(KillError::Other("EPERM".into()));
    let err = w.sup.stop_process(k, w.now, &mut w.host).unwrap_err();
    w.drain();
    assert_eq!(
        err,
        StopError::Failed("unknown problem killing p (101):EPERM".into())
    );
    assert_eq!(w.state("p"), ProcessState::Unknown);
    assert_eq!(
        w.sup.start_process(k, w.now, &mut w.host),
        Err(StartError::UnknownState)
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateUnknown),
        vec!["processname:p groupname:p from_state:STOPPING"]
    );
    // the child eventually dies: reaped into EXITED rather than an internal error
    w.host.kill_error = None;
    w.exit("p", wait_status_exited(0));
    assert_eq!(w.state("p"), ProcessState::Exited);
}

#[test]
fn start_process_rpc_semantics() {
    let mut c = pconf("p");
    c.autostart = false;
    let mut bad = pconf("bad");
    bad.autostart = false;
    let mut w = World::new(vec![group("p", 1, vec![c]), group("bad", 2, vec![bad])]);
    w.host.fail.insert("bad".into());
    let k = w.key("p");
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    assert_eq!(
        w.sup.start_process(k, w.now, &mut w.host),
        Err(StartError::AlreadyStarted)
    );
    let kb = w.key("bad");
    assert_eq!(
        w.sup.start_process(kb, w.now, &mut w.host),
        Err(StartError::SpawnError)
    );
    // BACKOFF is a RUNNING state: a second start is refused
    assert_eq!(
        w.sup.start_process(kb, w.now, &mut w.host),
        Err(StartError::AlreadyStarted)
    );
    // startsecs=0: RUNNING when the call returns
    let mut z = pconf("zero");
    z.startsecs = 0;
    z.autostart = false;
    let mut wz = World::one(z);
    let kz = wz.key("zero");
    wz.sup.start_process(kz, wz.now, &mut wz.host).unwrap();
    assert_eq!(wz.state("zero"), ProcessState::Running);
    // waiter: until RUNNING
    let id = w.sup.add_waiter(WaitCondition::Running(k));
    w.tick();
    assert!(w.sup.take_completed_waiters().is_empty());
    w.run_to_deadline();
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::Done)]
    );
}

#[test]
fn waiter_outcomes() {
    let mut c = pconf("p");
    c.autostart = false;
    c.autorestart = AutoRestart::Never;
    let mut w = World::one(c);
    let k = w.key("p");
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    let id = w.sup.add_waiter(WaitCondition::Running(k));
    w.exit("p", wait_status_exited(0));
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::SpawnError)]
    );
    // stop waiter logs 'waiting for p to stop' at most every 2 s
    w.advance(5.0); // BACKOFF retry
    w.advance(2.0);
    assert_eq!(w.state("p"), ProcessState::Running);
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    let id = w.sup.add_waiter(WaitCondition::Stopped(k));
    w.take_logs();
    w.tick();
    w.advance(1.0);
    w.run_to_deadline();
    let waits: Vec<_> = w
        .take_logs()
        .into_iter()
        .filter(|l| l == "INFO waiting for p to stop")
        .collect();
    assert_eq!(waits.len(), 2);
    w.exit("p", wait_status_exited(0));
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::Done)]
    );
}

#[test]
fn priorities_order_start_and_shutdown() {
    let mut w = World::new(vec![
        group("b", 20, vec![pconf("b")]),
        group("a", 10, vec![pconf("a1"), pconf("a2")]),
        group("c", 30, vec![pconf("c")]),
    ]);
    w.tick();
    let spawned: Vec<_> = w
        .take_logs()
        .into_iter()
        .filter_map(|l| l.strip_prefix("INFO spawned: ").map(String::from))
        .collect();
    assert_eq!(
        spawned,
        vec![
            "'a1' with pid 101",
            "'a2' with pid 102",
            "'b' with pid 103",
            "'c' with pid 104"
        ]
    );
    w.advance(2.0);
    w.take_logs();
    w.sup.on_signal(15);
    w.tick();
    assert_eq!(
        w.take_logs(),
        vec![
            "WARN received SIGTERM indicating exit request",
            "DEBG killing c (pid 104) with signal SIGTERM",
            "INFO waiting for b, a1, a2, c to die",
        ]
    );
    assert_eq!(
        w.payloads(EventType::SupervisorStateChangeStopping),
        vec![String::new()]
    );
    // b is only signalled once c is gone
    assert_eq!(w.host.kills.len(), 1);
    w.exit("c", wait_status_signaled(15, false));
    assert_eq!(w.host.kills.len(), 2);
    w.exit("b", wait_status_exited(0));
    // a1 and a2 together, descending order
    assert_eq!(
        w.host.kills,
        vec![(104, 15), (103, 15), (102, 15), (101, 15)]
    );
    w.exit("a:a1", wait_status_exited(0));
    assert!(!w.sup.is_finished());
    w.exit("a:a2", wait_status_exited(0));
    assert!(w.sup.is_finished());
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn shutdown_reports_every_three_seconds_and_backoff_goes_fatal() {
    let mut w = World::new(vec![
        group("q", 1, vec![pconf("q")]),
        group("s", 2, vec![pconf("s")]),
    ]);
    w.tick();
    w.exit("q", wait_status_exited(1));
    assert_eq!(w.state("q"), ProcessState::Backoff);
    w.sup.request_shutdown();
    w.tick();
    w.take_logs();
    let fatal_before = w.payloads(EventType::ProcessStateFatal).len();
    w.advance(1.0);
    assert!(w.take_logs().iter().all(|l| !l.contains("to die")));
    w.run_to_deadline();
    assert_eq!(
        w.take_logs()
            .into_iter()
            .filter(|l| l.contains("to die"))
            .collect::<Vec<_>>(),
        // a BACKOFF process counts as unstopped until its own group's turn
        vec!["INFO waiting for q, s to die"]
    );
    w.exit("s", wait_status_exited(0));
    // BACKOFF -> FATAL without a 'gave up' line, no respawn during shutdown
    assert_eq!(w.state("q"), ProcessState::Fatal);
    assert_eq!(
        w.payloads(EventType::ProcessStateFatal).len(),
        fatal_before + 1
    );
    assert!(!w.logs.iter().any(|l| l.contains("gave up")));
    assert!(w.sup.is_finished());
}

#[test]
fn no_autorestart_during_shutdown() {
    let mut c = pconf("a");
    c.autorestart = AutoRestart::Always;
    let mut w = World::new(vec![
        group("a", 1, vec![c]),
        group("z", 2, vec![pconf("z")]),
    ]);
    w.tick();
    w.advance(2.0);
    w.sup.request_shutdown();
    w.tick();
    // 'a' (lower priority, stopped last) crashes while z is being stopped
    w.exit("a", wait_status_exited(1));
    assert_eq!(w.state("a"), ProcessState::Exited);
    w.exit("z", wait_status_exited(0));
    assert!(w.sup.is_finished());
}

#[test]
fn hup_during_shutdown_is_ignored() {
    let mut w = World::new(vec![]);
    w.sup.on_signal(15);
    w.sup.on_signal(1);
    w.drain();
    assert_eq!(w.sup.mood(), SupervisorState::Shutdown);
    assert_eq!(
        w.logs[1],
        "WARN ignored SIGHUP indicating restart request (shutdown in progress)"
    );
    w.tick();
    assert!(w.sup.is_finished());
}

#[test]
fn restart_mood_and_usr2() {
    let mut w = World::new(vec![]);
    assert_eq!(w.sup.on_signal(12), KillResult::ReopenLogs);
    assert_eq!(w.sup.on_signal(1), KillResult::Nothing);
    w.drain();
    assert_eq!(
        w.logs,
        vec![
            "INFO received SIGUSR2 indicating log reopen request",
            "INFO supervisord logreopen",
            "WARN received SIGHUP indicating restart request"
        ]
    );
    assert_eq!(w.sup.mood(), SupervisorState::Restarting);
}

#[test]
fn unknown_pid_is_debug() {
    let mut w = World::new(vec![]);
    assert_eq!(
        w.sup
            .reaped(4242, wait_status_exited(0), w.now, &mut w.host),
        None
    );
    w.drain();
    assert_eq!(w.logs, vec!["DEBG reaped unknown pid 4242 (exit status 0)"]);
}

#[test]
fn namespec_lookup() {
    let mut m0 = pconf("multi_00");
    m0.group = "multi".into();
    let mut m1 = pconf("multi_01");
    m1.group = "multi".into();
    let w = World::new(vec![
        group("web", 1, vec![pconf("web")]),
        group("multi", 2, vec![m0, m1]),
    ]);
    assert!(matches!(w.sup.lookup("web"), Some(Target::Process(_))));
    assert!(matches!(w.sup.lookup("web:web"), Some(Target::Process(_))));
    assert_eq!(w.sup.lookup("web:"), Some(Target::Group("web".into())));
    assert_eq!(w.sup.lookup("multi:*"), Some(Target::Group("multi".into())));
    assert!(matches!(
        w.sup.lookup("multi:multi_01"),
        Some(Target::Process(_))
    ));
    assert_eq!(w.sup.lookup("multi"), None);
    assert_eq!(w.sup.lookup("multi_00"), None);
    assert_eq!(w.sup.lookup("nope:"), None);
    assert_eq!(w.sup.lookup("web:nope"), None);
}

#[test]
fn groups_add_remove_and_diff() {
    let mut w = World::new(vec![group("a", 1, vec![pconf("a")])]);
    w.tick();
    assert_eq!(w.sup.remove_group("a"), Err(true));
    assert_eq!(w.sup.remove_group("zz"), Err(false));
    let mut changed = group("a", 5, vec![pconf("a")]);
    changed.priority = 5;
    w.sup
        .set_loaded_config(vec![changed, group("b", 2, vec![pconf("b")])]);
    assert_eq!(
        w.sup.diff_to_active(),
        (vec!["b".to_string()], vec!["a".to_string()], vec![])
    );
    assert_eq!(w.sup.add_loaded_group("b"), Ok(()));
    assert_eq!(w.sup.add_loaded_group("b"), Err(true));
    assert_eq!(w.sup.add_loaded_group("c"), Err(false));
    w.tick();
    assert_eq!(w.state("b"), ProcessState::Starting);
    let ka = w.key("a");
    w.sup.stop_process(ka, w.now, &mut w.host).unwrap();
    w.exit("a", wait_status_signaled(15, false));
    assert_eq!(w.sup.remove_group("a"), Ok(()));
    assert_eq!(
        w.payloads(EventType::ProcessGroupRemoved),
        vec!["groupname:a\n"]
    );
    assert_eq!(w.sup.lookup("a"), None);
}

#[test]
fn running_description_uptime() {
    let mut w = World::one(pconf("p"));
    w.tick();
    w.advance(3723.4);
    let info = w.info("p");
    assert_eq!(info.description, "pid 101, uptime 1:02:03");
    assert_eq!(info.start, 1_795_284_870);
    assert_eq!(info.statename(), "RUNNING");
}

#[test]
fn tick_events_only_when_enabled() {
    let mut w = World::new(vec![]);
    assert_eq!(w.sup.next_deadline(w.now), None);
    w.sup.set_tick_events(true, w.now);
    let d = w.sup.next_deadline(w.now).unwrap();
    // wall 1_795_284_870 is a multiple of 5: next boundary in 5 s
    assert!((d - w.now.mono - 5.0).abs() < 1e-9);
    w.run_to_deadline();
    assert_eq!(
        w.payloads(EventType::Tick5),
        vec!["when:1795284875".to_string()]
    );
}

// ---- randomized ---------------------------------------------------------------------------

mod random {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Advance(u16),
        Exit(usize, u8, bool),
        Start(usize),
        Stop(usize),
        Signal(usize),
        ToDeadline,
        Shutdown,
        ToggleFail(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u16..3000).prop_map(Op::Advance),
            (0usize..3, 0u8..4, any::<bool>()).prop_map(|(i, c, s)| Op::Exit(i, c, s)),
            (0usize..3).prop_map(Op::Start),
            (0usize..3).prop_map(Op::Stop),
            (0usize..3).prop_map(Op::Signal),
            Just(Op::ToDeadline),
            Just(Op::ToDeadline),
            (0usize..3).prop_map(Op::ToggleFail),
            Just(Op::Shutdown),
        ]
    }

    fn configs() -> impl Strategy<Value = Vec<ProcessConfig>> {
        proptest::collection::vec((0u64..3, 0u32..3, 0u8..3, any::<bool>(), 1u64..4), 3).prop_map(
            |v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, (ss, sr, ar, autostart, sw))| {
                        let mut c = pconf(&format!("p{i}"));
                        c.startsecs = ss;
                        c.startretries = sr;
                        c.autorestart = [
                            AutoRestart::Never,
                            AutoRestart::Unexpected,
                            AutoRestart::Always,
                        ][ar as usize];
                        c.autostart = autostart;
                        c.stopwaitsecs = sw;
                        c
                    })
                    .collect()
            },
        )
    }

    fn allowed(from: ProcessState, to: ProcessState) -> bool {
        use ProcessState::*;
        matches!(
            (from, to),
            (Stopped | Exited | Fatal | Backoff, Starting)
                | (Starting, Backoff | Running | Stopping | Unknown)
                | (Running, Exited | Stopping | Unknown)
                | (Backoff, Fatal | Stopped)
                | (Stopping, Stopped | Unknown)
                | (Unknown, Exited)
        )
    }

    fn state_of_event(kind: EventType) -> Option<ProcessState> {
        Some(match kind {
            EventType::ProcessStateStopped => ProcessState::Stopped,
            EventType::ProcessStateStarting => ProcessState::Starting,
            EventType::ProcessStateRunning => ProcessState::Running,
            EventType::ProcessStateBackoff => ProcessState::Backoff,
            EventType::ProcessStateStopping => ProcessState::Stopping,
            EventType::ProcessStateExited => ProcessState::Exited,
            EventType::ProcessStateFatal => ProcessState::Fatal,
            EventType::ProcessStateUnknown => ProcessState::Unknown,
            _ => return None,
        })
    }

    fn field<'a>(payload: &'a str, name: &str) -> Option<&'a str> {
        payload
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
        #[test]
        fn invariants_hold(cfgs in configs(), ops in proptest::collection::vec(op(), 1..60)) {
            let names: Vec<String> = cfgs.iter().map(|c| c.name.clone()).collect();
            let retries: Vec<u32> = cfgs.iter().map(|c| c.startretries).collect();
            let mut w = World::new(vec![group("g", 1, cfgs)]);
            let keys: Vec<ProcKey> = names.iter().map(|n| w.key(&format!("g:{n}"))).collect();
            w.tick();
            // consecutive failed starts per process since the last success/FATAL/manual start
            let mut states = [ProcessState::Stopped; 3];
            let mut failures = [0u32; 3];
            let mut seen = 0usize;
            for op in ops {
                match op {
                    Op::Advance(ms) => w.advance(f64::from(ms) / 1000.0),
                    Op::ToDeadline => {
                        if let Some(d) = w.sup.next_deadline(w.now) {
                            if d > w.now.mono { w.now = w.now.plus(d - w.now.mono); }
                        }
                        w.tick();
                    }
                    Op::Exit(i, code, sig) => {
                        let pid = w.sup.process(keys[i]).unwrap().pid();
                        if pid != 0 {
                            let st = if sig { wait_status_signaled(9, false) } else { wait_status_exited(i32::from(code)) };
                            w.host.alive.remove(&pid);
                            w.sup.reaped(pid, st, w.now, &mut w.host);
                            w.drain();
                            w.tick();
                        }
                    }
                    Op::Start(i) => {
                        if w.sup.mood() == SupervisorState::Running {
                            let _ = w.sup.start_process(keys[i], w.now, &mut w.host);
                            w.drain();
                            w.tick();
                        }
                    }
                    Op::Stop(i) if w.sup.mood() == SupervisorState::Running => {
                        let _ = w.sup.stop_process(keys[i], w.now, &mut w.host);
                        w.drain();
                        w.tick();
                    }
                    Op::Signal(i) => {
                        let _ = w.sup.signal_process(keys[i], 1, w.now, &mut w.host);
                        w.drain();
                        w.tick();
                    }
                    Op::Stop(_) => {}
                    Op::Shutdown => { w.sup.request_shutdown(); w.tick(); }
                    Op::ToggleFail(i) => {
                        if !w.host.fail.remove(&names[i]) { w.host.fail.insert(names[i].clone()); }
                    }
                }
                // every state event is a transition the reference makes, from the state we saw
                for e in &w.events[seen..] {
                    let Some(to) = state_of_event(e.kind) else { continue };
                    let name = field(&e.payload, "processname").unwrap();
                    let i = names.iter().position(|n| n == name).unwrap();
                    let from = ProcessState::from_name(field(&e.payload, "from_state").unwrap()).unwrap();
                    prop_assert_eq!(from, states[i], "event {:?}", e);
                    prop_assert!(allowed(from, to), "{:?} -> {:?}", from, to);
                    if to == ProcessState::Starting {
                        let tries: u32 = field(&e.payload, "tries").unwrap().parse().unwrap();
                        prop_assert_eq!(tries, failures[i]);
                        prop_assert!(tries <= retries[i]);
                    }
                    match to {
                        ProcessState::Backoff => failures[i] += 1,
                        ProcessState::Running | ProcessState::Exited => failures[i] = 0,
                        ProcessState::Fatal => {
                            // from BACKOFF either by giving up (startretries+1 failures) or at shutdown
                            if w.sup.mood() == SupervisorState::Running {
                                prop_assert_eq!(failures[i], retries[i] + 1);
                            } else {
                                prop_assert!(failures[i] <= retries[i] + 1);
                            }
                            failures[i] = 0;
                        }
                        _ => {}
                    }
                    states[i] = to;
                }
                seen = w.events.len();
                // at most one live pid per process; pid table consistent
                let mut pids = HashSet::new();
                for (i, k) in keys.iter().enumerate() {
                    let p = w.sup.process(*k).unwrap();
                    prop_assert_eq!(p.state(), states[i]);
                    if p.pid() != 0 {
                        prop_assert!(pids.insert(p.pid()));
                        prop_assert!(w.host.alive.contains(&p.pid()));
                        prop_assert_eq!(w.sup.key_for_pid(p.pid()), Some(*k));
                        prop_assert!(matches!(p.state(), ProcessState::Starting | ProcessState::Running | ProcessState::Stopping | ProcessState::Unknown));
                    } else {
                        prop_assert!(!matches!(p.state(), ProcessState::Starting | ProcessState::Running | ProcessState::Stopping));
                    }
                    if w.sup.mood() != SupervisorState::Running && w.sup.is_finished() {
                        prop_assert!(p.state().is_stopped());
                    }
                }
                // every live child the host knows about belongs to a process
                for pid in &w.host.alive {
                    prop_assert!(w.sup.key_for_pid(*pid).is_some());
                }
                // the deadline never lies in the past after a tick
                if let Some(d) = w.sup.next_deadline(w.now) {
                    prop_assert!(d > w.now.mono, "deadline {} not after now {}", d, w.now.mono);
                }
            }
        }

        #[test]
        fn skipping_idle_passes_changes_nothing(cfgs in configs(), ops in proptest::collection::vec(op(), 1..60)) {
            let names: Vec<String> = cfgs.iter().map(|c| c.name.clone()).collect();
            let mut a = World::new(vec![group("g", 1, cfgs.clone())]);
            let mut b = World::new(vec![group("g", 1, cfgs)]);
            b.force_passes = true;
            let keys: Vec<ProcKey> = names.iter().map(|n| a.key(&format!("g:{n}"))).collect();
            for w in [&mut a, &mut b] {
                w.tick();
            }
            for op in ops {
                for w in [&mut a, &mut b] {
                    apply(w, &op, &keys, &names);
                }
                prop_assert_eq!(&a.logs, &b.logs);
                prop_assert_eq!(&a.events, &b.events);
                prop_assert_eq!(a.now, b.now);
                prop_assert_eq!(a.sup.next_deadline(a.now), b.sup.next_deadline(b.now));
                for k in &keys {
                    prop_assert_eq!(a.sup.process_info(*k, a.now), b.sup.process_info(*k, b.now));
                }
            }
        }
    }

    /// One randomized operation, as `invariants_hold` performs it.
    fn apply(w: &mut World, op: &Op, keys: &[ProcKey], names: &[String]) {
        match *op {
            Op::Advance(ms) => w.advance(f64::from(ms) / 1000.0),
            Op::ToDeadline => {
                if let Some(d) = w.sup.next_deadline(w.now) {
                    if d > w.now.mono {
                        w.now = w.now.plus(d - w.now.mono);
                    }
                }
                w.tick();
            }
            Op::Exit(i, code, sig) => {
                let pid = w.sup.process(keys[i]).unwrap().pid();
                if pid != 0 {
                    let st = if sig {
                        wait_status_signaled(9, false)
                    } else {
                        wait_status_exited(i32::from(code))
                    };
                    w.host.alive.remove(&pid);
                    w.sup.reaped(pid, st, w.now, &mut w.host);
                    w.drain();
                    w.tick();
                }
            }
            Op::Start(i) => {
                if w.sup.mood() == SupervisorState::Running {
                    let _ = w.sup.start_process(keys[i], w.now, &mut w.host);
                    w.drain();
                    w.tick();
                }
            }
            Op::Stop(i) => {
                if w.sup.mood() == SupervisorState::Running {
                    let _ = w.sup.stop_process(keys[i], w.now, &mut w.host);
                    w.drain();
                    w.tick();
                }
            }
            Op::Signal(i) => {
                let _ = w.sup.signal_process(keys[i], 1, w.now, &mut w.host);
                w.drain();
                w.tick();
            }
            Op::Shutdown => {
                w.sup.request_shutdown();
                w.tick();
            }
            Op::ToggleFail(i) => {
                if !w.host.fail.remove(&names[i]) {
                    w.host.fail.insert(names[i].clone());
                }
            }
        }
    }
}

#[test]
fn idle_ticks_skip_the_transition_pass_until_a_timer_is_due() {
    let mut cfgs = Vec::new();
    for i in 0..50 {
        let mut c = pconf(&format!("p{i:02}"));
        c.startsecs = 5;
        c.stopwaitsecs = 3;
        cfgs.push(c);
    }
    let mut w = World::new(vec![group("g", 1, cfgs)]);
    w.tick();
    assert_eq!(w.state("g:p00"), ProcessState::Starting);
    let after_start = w.sup.transition_passes();
    // Wake-ups before startsecs elapsed (an RPC read, a log line): no pass.
    for _ in 0..10 {
        w.advance(0.1);
    }
    assert_eq!(w.sup.transition_passes(), after_start);
    assert_eq!(w.state("g:p49"), ProcessState::Starting);
    // The deadline is still exact without a pass.
    let d = w.sup.next_deadline(w.now).unwrap();
    assert!((d - (1000.0 + 5.0 + 0.001)).abs() < 1e-9, "{d}");
    // The startsecs deadline fires.
    w.run_to_deadline();
    assert_eq!(w.sup.transition_passes(), after_start + 1);
    assert_eq!(w.state("g:p00"), ProcessState::Running);
    assert_eq!(w.state("g:p49"), ProcessState::Running);
    // Everything RUNNING: nothing is ever due, ticks stay cheap.
    assert_eq!(w.sup.next_deadline(w.now), None);
    w.advance(100.0);
    assert_eq!(w.sup.transition_passes(), after_start + 1);
    // An input (a reap) makes the next tick a pass, which restarts the process.
    let passes = w.sup.transition_passes();
    w.exit("g:p07", wait_status_exited(1));
    assert_eq!(w.sup.transition_passes(), passes + 1);
    assert_eq!(w.state("g:p07"), ProcessState::Starting);
    // A stop arms the SIGKILL timer; idle ticks before it do not send anything, the
    // deadline does.
    let k = w.key("g:p03");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.tick();
    let passes = w.sup.transition_passes();
    w.advance(2.9);
    assert_eq!(w.sup.transition_passes(), passes);
    assert!(!w.host.kills.iter().any(|&(_, s)| s == SIGKILL));
    w.advance(0.2);
    assert_eq!(w.sup.transition_passes(), passes + 1);
    assert!(w.host.kills.iter().any(|&(_, s)| s == SIGKILL));
    // A mood change always passes (and shutdown never skips).
    w.sup.request_shutdown();
    w.tick();
    assert_eq!(w.sup.transition_passes(), passes + 2);
    w.tick();
    assert_eq!(w.sup.transition_passes(), passes + 3);
}

#[test]
fn backoff_retry_fires_after_idle_ticks() {
    let mut c = pconf("b");
    c.startretries = 2;
    let mut w = World::one(c);
    w.host.fail.insert("b".into());
    w.tick();
    assert_eq!(w.state("b"), ProcessState::Backoff);
    let passes = w.sup.transition_passes();
    w.advance(0.5);
    assert_eq!(w.sup.transition_passes(), passes);
    assert_eq!(w.host.spawned.len(), 0);
    w.host.fail.clear();
    w.advance(0.6);
    assert_eq!(w.sup.transition_passes(), passes + 1);
    assert_eq!(w.state("b"), ProcessState::Starting);
}

#[test]
fn log_sink_receives_lines_immediately_in_order() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut sup = Supervisor::new(vec![group("a", 1, vec![pconf("a")])]);
    let s = seen.clone();
    sup.set_log_sink(Box::new(move |level, text| {
        s.borrow_mut().push(format!("{} {text}", level.tag()))
    }));
    let mut host = FakeHost::default();
    sup.tick(t0(), &mut host);
    sup.on_signal(15);
    sup.tick(t0(), &mut host);
    assert_eq!(
        *seen.borrow(),
        vec![
            "INFO spawned: 'a' with pid 101",
            "WARN received SIGTERM indicating exit request",
            "DEBG killing a (pid 101) with signal SIGTERM",
            "INFO waiting for a to die",
        ]
    );
    assert!(sup
        .drain_output()
        .iter()
        .all(|o| !matches!(o, Output::Log { .. })));
}
