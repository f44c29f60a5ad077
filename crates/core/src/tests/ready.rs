//! `ready=`: every readiness outcome with the fake clock (pass, timeout → BACKOFF →
//! FATAL, exit while STARTING, stop while waiting), the probe outputs, waiters and the
//! descriptions.

use super::*;
use supervisor_config::{Check, ReadyConfig};

fn ready_conf(name: &str, check: &str, timeout: f64) -> ProcessConfig {
    let mut c = pconf(name);
    c.ready = Some(ReadyConfig {
        check: Check::parse(check).unwrap(),
        timeout,
        interval: 0.5,
    });
    c
}

fn start(key: ProcKey, pid: i32) -> Output {
    Output::StartProbe {
        key,
        pid,
        kind: ProbeKind::Ready,
    }
}

fn stop(key: ProcKey, pid: i32) -> Output {
    Output::StopProbe {
        key,
        pid,
        kind: ProbeKind::Ready,
    }
}

impl World {
    fn report(&mut self, spec: &str, report: ProbeReport) {
        let (k, pid) = (self.key(spec), self.pid(spec));
        self.report_for(spec, pid, report);
        let _ = k;
    }
    fn report_for(&mut self, spec: &str, pid: i32, report: ProbeReport) {
        let k = self.key(spec);
        self.sup
            .probe_report(k, pid, ProbeKind::Ready, report, self.now, &mut self.host);
        self.drain();
        self.tick();
    }
}

#[test]
fn running_only_when_the_check_passes_not_after_startsecs() {
    let mut w = World::one(ready_conf("db", "tcp://127.0.0.1:5432", 60.0));
    w.tick();
    let (k, pid) = (w.key("db"), w.pid("db"));
    assert_eq!(w.state("db"), ProcessState::Starting);
    assert_eq!(w.probes, vec![start(k, pid)], "one probe for (key, pid)");
    assert_eq!(
        w.info("db").description,
        "not ready yet: tcp://127.0.0.1:5432"
    );
    // startsecs (1) is not used.
    w.advance(5.0);
    assert_eq!(w.state("db"), ProcessState::Starting);
    w.report("db", ProbeReport::Failed("connection refused".into()));
    assert_eq!(
        w.info("db").description,
        "not ready yet: tcp://127.0.0.1:5432 (connection refused)"
    );
    // A result for another child (an earlier run) changes nothing.
    w.report_for("db", pid + 1000, ProbeReport::Passed);
    assert_eq!(w.state("db"), ProcessState::Starting);
    w.take_logs();
    w.report("db", ProbeReport::Passed);
    assert_eq!(w.state("db"), ProcessState::Running);
    assert_eq!(
        w.take_logs(),
        vec!["INFO success: db entered RUNNING state, ready check passed (tcp://127.0.0.1:5432)"]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateRunning),
        vec![format!(
            "processname:db groupname:db from_state:STARTING pid:{pid}"
        )]
    );
    assert!(w
        .info("db")
        .description
        .starts_with(&format!("pid {pid}, uptime ")));
    // The probe ended by itself with the pass; nothing else asked for.
    assert_eq!(w.probes, vec![start(k, pid)]);
    assert_eq!(w.sup.waiting_ready(), vec![]);
    // Nothing due any more (no polling without a pending check).
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn the_only_deadline_while_waiting_is_the_timeout() {
    let mut w = World::one(ready_conf("db", "http://127.0.0.1:80/", 7.0));
    w.tick();
    let started = w.now.mono;
    let d = w.sup.next_deadline(w.now).unwrap();
    assert!((d - (started + 7.0)).abs() < 0.01, "{d} vs {started}+7");
    let passes = w.sup.transition_passes();
    // Ticks before the deadline do not walk the table.
    w.advance(3.0);
    w.advance(3.0);
    assert_eq!(w.sup.transition_passes(), passes);
    assert_eq!(w.state("db"), ProcessState::Starting);
}

#[test]
fn timeout_is_a_failed_start_backoff_then_fatal_with_the_reason() {
    let mut c = ready_conf("db", "tcp://127.0.0.1:5432", 3.0);
    c.startretries = 1;
    c.stopwaitsecs = 2;
    let mut w = World::one(c);
    w.tick();
    let (k, pid1) = (w.key("db"), w.pid("db"));
    w.report("db", ProbeReport::Failed("connection refused".into()));
    w.take_logs();
    w.run_to_deadline();
    let msg = "not ready after 3s: tcp://127.0.0.1:5432 connection refused";
    assert_eq!(
        w.state("db"),
        ProcessState::Starting,
        "stopping it, still STARTING"
    );
    assert_eq!(w.sup.process(k).unwrap().spawnerr(), Some(msg));
    assert_eq!(w.host.kills, vec![(pid1, 15)], "its stopsignal");
    assert_eq!(w.probes, vec![start(k, pid1), stop(k, pid1)]);
    assert!(
        w.take_logs()
            .contains(&format!("WARN db: {msg}; stopping it")),
        "the main log says why"
    );
    assert_eq!(w.info("db").description, msg);
    // It does not die: SIGKILL after stopwaitsecs.
    w.run_to_deadline();
    assert_eq!(w.host.kills, vec![(pid1, 15), (pid1, SIGKILL)]);
    assert_eq!(
        w.sup.next_deadline(w.now),
        None,
        "then it waits for the reap"
    );
    w.exit("db", wait_status_signaled(9, false));
    assert_eq!(w.state("db"), ProcessState::Backoff);
    assert_eq!(w.info("db").description, msg);
    assert_eq!(w.sup.process(k).unwrap().backoff(), 1);
    // The retry after the backoff delay: a new child and a new probe.
    w.run_to_deadline();
    assert_eq!(w.state("db"), ProcessState::Starting);
    let pid2 = w.pid("db");
    assert_ne!(pid2, pid1);
    assert_eq!(w.probes.last(), Some(&start(k, pid2)));
    assert_eq!(w.sup.process(k).unwrap().spawnerr(), None);
    // No failure reported this time: the message says so.
    w.run_to_deadline();
    let msg2 = "not ready after 3s: tcp://127.0.0.1:5432 no answer";
    assert_eq!(w.sup.process(k).unwrap().spawnerr(), Some(msg2));
    w.take_logs();
    w.exit("db", wait_status_signaled(15, false));
    // backoff 2 > startretries 1: FATAL, with the reason kept.
    assert_eq!(w.state("db"), ProcessState::Fatal);
    assert_eq!(w.info("db").description, msg2);
    assert_eq!(w.info("db").spawnerr, msg2);
    let logs = w.take_logs();
    assert!(
        logs.contains(
            &"INFO gave up: db entered FATAL state, too many start retries too quickly".to_string()
        ),
        "{logs:?}"
    );
    let states: Vec<EventType> = w
        .events
        .iter()
        .map(|e| e.kind())
        .filter(|k| *k != EventType::ProcessGroupAdded)
        .collect();
    assert_eq!(
        states,
        vec![
            EventType::ProcessStateStarting,
            EventType::ProcessStateBackoff,
            EventType::ProcessStateStarting,
            EventType::ProcessStateBackoff,
            EventType::ProcessStateFatal,
        ]
    );
}

#[test]
fn exiting_while_waiting_is_backoff_whatever_startsecs_says() {
    let mut c = ready_conf("db", "log:ready", 60.0);
    c.startsecs = 1;
    let mut w = World::one(c);
    w.tick();
    let (k, pid) = (w.key("db"), w.pid("db"));
    w.advance(10.0); // far past startsecs
    w.take_logs();
    w.exit("db", wait_status_exited(0));
    assert_eq!(w.state("db"), ProcessState::Backoff);
    assert_eq!(
        w.info("db").spawnerr,
        "Exited too quickly (process log may have details)"
    );
    assert_eq!(
        w.probes,
        vec![start(k, pid), stop(k, pid)],
        "probe cancelled"
    );
    assert!(w.take_logs().contains(
        &"WARN exited: db (exit status 0; not expected, before it was ready)".to_string()
    ));
    assert!(w.payloads(EventType::ProcessStateRunning).is_empty());
}

#[test]
fn stop_while_waiting_cancels_the_probe() {
    let mut w = World::one(ready_conf("db", "exec:pg_isready", 60.0));
    w.tick();
    let (k, pid) = (w.key("db"), w.pid("db"));
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("db"), ProcessState::Stopping);
    assert_eq!(w.probes, vec![start(k, pid), stop(k, pid)]);
    assert_eq!(w.sup.waiting_ready(), vec![]);
    // A late pass changes nothing.
    w.report("db", ProbeReport::Passed);
    assert_eq!(w.state("db"), ProcessState::Stopping);
    w.exit("db", wait_status_signaled(15, false));
    assert_eq!(w.state("db"), ProcessState::Stopped);
    // The timeout never fires for a stopped process.
    w.advance(120.0);
    assert_eq!(w.state("db"), ProcessState::Stopped);
    assert_eq!(w.info("db").spawnerr, "");
}

#[test]
fn start_with_wait_returns_only_when_ready_or_with_a_spawn_error() {
    let mut w = World::one(ready_conf("db", "tcp://127.0.0.1:1", 2.0));
    let k = w.key("db");
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    let id = w.sup.add_waiter(WaitCondition::Running(k));
    w.advance(1.0);
    assert!(w.sup.take_completed_waiters().is_empty(), "still waiting");
    w.report("db", ProbeReport::Passed);
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::Done)]
    );

    // The same with a timeout: SPAWN_ERROR as soon as the wait gives up.
    let mut w = World::one(ready_conf("db", "tcp://127.0.0.1:1", 2.0));
    let k = w.key("db");
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    let id = w.sup.add_waiter(WaitCondition::Running(k));
    w.run_to_deadline();
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::SpawnError)]
    );
}

#[test]
fn notify_status_shows_in_the_description() {
    let mut w = World::one(ready_conf("app", "notify", 60.0));
    w.tick();
    let pid = w.pid("app");
    w.report("app", ProbeReport::Status("loading data".into()));
    assert_eq!(
        w.info("app").description,
        "not ready yet: notify (status: loading data)"
    );
    w.report("app", ProbeReport::Passed);
    w.report("app", ProbeReport::Status("serving".into()));
    assert_eq!(
        w.info("app").description,
        format!("pid {pid}, uptime 0:00:00, status: serving")
    );
    // A new run starts without the old status.
    w.exit("app", wait_status_exited(1));
    assert_eq!(w.state("app"), ProcessState::Starting, "autorestart");
    assert_eq!(w.info("app").description, "not ready yet: notify");
}

#[test]
fn without_ready_nothing_changes() {
    let mut w = World::one(pconf("plain"));
    w.tick();
    w.advance(1.5);
    assert_eq!(w.state("plain"), ProcessState::Running);
    assert!(w.probes.is_empty());
    assert!(w.info("plain").description.starts_with("pid "));
}
