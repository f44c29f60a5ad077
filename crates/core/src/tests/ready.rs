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

mod random {
    //! Random sequences of probe results, exits, starts, stops and time: the probes the
    //! core asked for are exactly the waits it holds, RUNNING only ever follows a pass for
    //! that very child, and no wait outlives its `ready_timeout`.

    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    #[derive(Debug, Clone)]
    enum Op {
        Advance(u16),
        Pass(usize, bool),
        Fail(usize, u8),
        Status(usize),
        Exit(usize, u8),
        Start(usize),
        Stop(usize),
        ToDeadline,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u16..4000).prop_map(Op::Advance),
            (0usize..3, any::<bool>()).prop_map(|(i, stale)| Op::Pass(i, stale)),
            (0usize..3, 0u8..3).prop_map(|(i, r)| Op::Fail(i, r)),
            (0usize..3).prop_map(Op::Status),
            (0usize..3, 0u8..3).prop_map(|(i, c)| Op::Exit(i, c)),
            (0usize..3).prop_map(Op::Start),
            (0usize..3).prop_map(Op::Stop),
            Just(Op::ToDeadline),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn probes_match_waits_and_running_follows_a_pass(
            timeouts in proptest::collection::vec(1u8..6, 3),
            retries in 0u32..3,
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let confs: Vec<ProcessConfig> = timeouts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut c = ready_conf(&format!("p{i}"), "tcp://127.0.0.1:9", f64::from(*t));
                    c.startretries = retries;
                    c.stopwaitsecs = 1;
                    c
                })
                .collect();
            let mut w = World::new(vec![group("g", 1, confs)]);
            let names = ["g:p0", "g:p1", "g:p2"];
            let mut open: HashSet<(ProcKey, i32)> = HashSet::new();
            let mut opened_at: HashMap<(ProcKey, i32), f64> = HashMap::new();
            let mut passed: HashSet<i32> = HashSet::new();
            let mut seen = 0;
            w.tick();
            for op in ops {
                match op {
                    Op::Advance(ms) => w.advance(f64::from(ms) / 1000.0),
                    Op::ToDeadline => {
                        if let Some(d) = w.sup.next_deadline(w.now) {
                            if d > w.now.mono {
                                w.now = w.now.plus(d - w.now.mono);
                            }
                        }
                        w.tick();
                    }
                    Op::Pass(i, stale) => {
                        let (k, pid) = (w.key(names[i]), w.pid(names[i]));
                        if stale {
                            w.report_for(names[i], pid + 7, ProbeReport::Passed);
                        } else if open.contains(&(k, pid)) {
                            // The runtime only reports a pass while its probe runs, and
                            // the probe ends with it.
                            open.remove(&(k, pid));
                            passed.insert(pid);
                            w.report_for(names[i], pid, ProbeReport::Passed);
                        }
                    }
                    Op::Fail(i, r) => {
                        let pid = w.pid(names[i]);
                        w.report_for(names[i], pid, ProbeReport::Failed(format!("reason {r}")));
                    }
                    Op::Status(i) => {
                        let pid = w.pid(names[i]);
                        w.report_for(names[i], pid, ProbeReport::Status("s".into()));
                    }
                    Op::Exit(i, c) => {
                        if w.pid(names[i]) != 0 {
                            w.exit(names[i], wait_status_exited(i32::from(c)));
                        }
                    }
                    Op::Start(i) => {
                        let k = w.key(names[i]);
                        let _ = w.sup.start_process(k, w.now, &mut w.host);
                        w.drain();
                        w.tick();
                    }
                    Op::Stop(i) => {
                        let k = w.key(names[i]);
                        let _ = w.sup.stop_process(k, w.now, &mut w.host);
                        w.drain();
                        w.tick();
                    }
                }
                for o in &w.probes[seen..] {
                    match o {
                        Output::StartProbe { key, pid, .. } => {
                            prop_assert!(open.insert((*key, *pid)), "started twice: {o:?}");
                            opened_at.insert((*key, *pid), w.now.mono);
                        }
                        Output::StopProbe { key, pid, .. } => {
                            prop_assert!(open.remove(&(*key, *pid)), "stopped unknown: {o:?}");
                        }
                        _ => {}
                    }
                }
                seen = w.probes.len();
                let waits: HashSet<(ProcKey, i32)> = w.sup.waiting_ready().into_iter().collect();
                prop_assert_eq!(&waits, &open, "the probes are the waits");
                for name in names {
                    let p = w.sup.process(w.key(name)).unwrap();
                    if p.state() == ProcessState::Running {
                        prop_assert!(passed.contains(&p.pid()), "{name} RUNNING without a pass");
                    }
                    if p.is_waiting_ready() {
                        prop_assert_eq!(p.state(), ProcessState::Starting);
                        prop_assert!(p.pid() != 0);
                        let t0 = opened_at[&(p.key(), p.pid())];
                        let timeout = p.config().ready.as_ref().unwrap().timeout;
                        let d = w.sup.next_deadline(w.now).expect("a waiting process has a deadline");
                        prop_assert!(d <= t0 + timeout + 0.01, "deadline {d} past {t0}+{timeout}");
                    }
                }
            }
        }
    }
}
