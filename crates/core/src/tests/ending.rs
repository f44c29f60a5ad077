//! `critical`, `exit_when_done` and the health report (supervisor/ending.rs), with the
//! fake clock and host.

use super::*;

fn critical(name: &str) -> ProcessConfig {
    let mut c = pconf(name);
    c.critical = true;
    c.autorestart = AutoRestart::Never;
    c
}

fn two(a: ProcessConfig, b: ProcessConfig) -> World {
    let (na, nb) = (a.name.clone(), b.name.clone());
    World::new(vec![group(&na, 999, vec![a]), group(&nb, 999, vec![b])])
}

#[test]
fn critical_exit_not_restarted_ends_with_its_own_status() {
    let mut w = two(critical("app"), pconf("side"));
    w.tick();
    w.advance(2.0);
    assert_eq!(w.state("app"), ProcessState::Running);
    assert!(w.sup.end_of_run().is_none());
    w.take_logs();
    w.exit("app", wait_status_exited(7));
    let end = w.sup.end_of_run().expect("the run ends").clone();
    assert_eq!(end.status, 7);
    assert_eq!(
        end.reason,
        EndReason::Critical {
            namespec: "app".into(),
            state: ProcessState::Exited
        }
    );
    let logs = w.take_logs();
    assert!(
        logs.contains(&"CRIT critical program app exited and will not be restarted (exit status 7); shutting down (exit status 7)".to_string()),
        "{logs:?}"
    );
    // the ordered shutdown is under way: the other program is being stopped
    assert_eq!(w.sup.mood(), SupervisorState::Shutdown);
    assert_eq!(w.state("side"), ProcessState::Stopping);
    w.exit("side", wait_status_signaled(15, false));
    w.tick();
    assert!(w.sup.is_finished());
    assert_eq!(w.sup.end_of_run().map(|e| e.status), Some(7));
}

#[test]
fn critical_exit_0_or_spawn_failure_gives_the_documented_status() {
    let mut w = World::one(critical("app"));
    w.tick();
    w.advance(2.0);
    w.exit("app", wait_status_exited(0));
    assert_eq!(w.sup.end_of_run().map(|e| e.status), Some(EXIT_CRITICAL));

    let mut c = critical("missing");
    c.startretries = 0;
    let mut w = World::one(c);
    w.host.fail.insert("missing".into());
    w.tick();
    w.advance(2.0);
    assert_eq!(w.state("missing"), ProcessState::Fatal);
    let end = w.sup.end_of_run().expect("FATAL ends the run");
    assert_eq!(end.status, EXIT_CRITICAL);
    assert!(
        end.text.contains("entered FATAL state (can't find command"),
        "{}",
        end.text
    );
}

#[test]
fn critical_killed_by_a_signal_gives_128_plus_signal() {
    let mut w = World::one(critical("app"));
    w.tick();
    w.advance(2.0);
    w.exit("app", wait_status_signaled(9, false));
    assert_eq!(w.sup.end_of_run().map(|e| e.status), Some(128 + 9));
}

#[test]
fn critical_fatal_after_quick_exits_keeps_the_exit_code() {
    let mut c = critical("flappy");
    c.startretries = 1;
    c.autorestart = AutoRestart::Unexpected;
    let mut w = World::one(c);
    w.tick();
    w.exit("flappy", wait_status_exited(5));
    assert_eq!(w.state("flappy"), ProcessState::Backoff);
    assert!(w.sup.end_of_run().is_none(), "BACKOFF is not down yet");
    w.run_to_deadline();
    assert_eq!(w.state("flappy"), ProcessState::Starting);
    w.exit("flappy", wait_status_exited(5));
    assert_eq!(w.state("flappy"), ProcessState::Fatal);
    assert_eq!(w.sup.end_of_run().map(|e| e.status), Some(5));
}

#[test]
fn critical_that_will_be_restarted_or_is_stopped_does_not_end_the_run() {
    let mut c = critical("app");
    c.autorestart = AutoRestart::Unexpected;
    let mut w = World::one(c);
    w.tick();
    w.advance(2.0);
    w.exit("app", wait_status_exited(2));
    // restarted at once: not down
    assert_eq!(w.state("app"), ProcessState::Starting);
    assert!(w.sup.end_of_run().is_none());
    // the operator stops it: asked for, not a failure
    w.advance(2.0);
    let k = w.key("app");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.exit("app", wait_status_signaled(15, false));
    w.advance(5.0);
    assert_eq!(w.state("app"), ProcessState::Stopped);
    assert!(w.sup.end_of_run().is_none());
    assert_eq!(w.sup.mood(), SupervisorState::Running);
}

#[test]
fn a_non_critical_fatal_changes_nothing() {
    let mut c = pconf("missing");
    c.startretries = 0;
    let mut w = two(c, pconf("other"));
    w.host.fail.insert("missing".into());
    w.tick();
    w.advance(2.0);
    w.advance(5.0);
    assert_eq!(w.state("missing"), ProcessState::Fatal);
    assert!(w.sup.end_of_run().is_none());
    assert_eq!(w.sup.mood(), SupervisorState::Running);
}

#[test]
fn the_end_is_announced_as_a_typed_output() {
    let mut w = World::one(critical("app"));
    w.tick();
    w.advance(2.0);
    let pid = w.pid("app");
    w.sup.reaped(pid, wait_status_exited(4), w.now, &mut w.host);
    w.sup.tick(w.now, &mut w.host);
    let ends: Vec<EndOfRun> = w
        .sup
        .drain_output()
        .into_iter()
        .filter_map(|o| match o {
            Output::EndOfRun(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].status, 4);
    // decided once: later passes add nothing
    w.advance(1.0);
    assert!(!w
        .sup
        .drain_output()
        .iter()
        .any(|o| matches!(o, Output::EndOfRun(_))));
}

fn oneshot(name: &str) -> ProcessConfig {
    let mut c = pconf(name);
    c.autorestart = AutoRestart::Never;
    c.startsecs = 0;
    c
}

#[test]
fn exit_when_done_exits_0_once_every_program_ended_as_expected() {
    let mut w = two(oneshot("a"), oneshot("b"));
    w.sup.set_exit_when_done(true);
    w.tick();
    w.exit("a", wait_status_exited(0));
    assert!(w.sup.end_of_run().is_none(), "b still runs");
    w.advance(1.0);
    assert!(w.sup.end_of_run().is_none());
    w.exit("b", wait_status_exited(0));
    let end = w.sup.end_of_run().expect("done").clone();
    assert_eq!(end.status, EXIT_DONE_OK);
    assert_eq!(end.reason, EndReason::Done { unexpected: vec![] });
    w.tick();
    assert!(w.sup.is_finished());
}

#[test]
fn exit_when_done_exits_1_when_a_program_did_not_end_as_expected() {
    let mut w = two(oneshot("a"), oneshot("b"));
    w.sup.set_exit_when_done(true);
    w.tick();
    w.exit("a", wait_status_exited(3));
    assert!(w.sup.end_of_run().is_none());
    w.exit("b", wait_status_exited(0));
    let end = w.sup.end_of_run().expect("done");
    assert_eq!(end.status, EXIT_DONE_UNEXPECTED);
    assert_eq!(
        end.reason,
        EndReason::Done {
            unexpected: vec!["a (exit status 3)".into()]
        }
    );
    let logs = w.take_logs();
    assert!(
        logs.iter().any(|l| l.starts_with(
            "WARN exit_when_done: every program is done, not all as expected: a (exit status 3)"
        )),
        "{logs:?}"
    );
}

#[test]
fn exit_when_done_waits_for_restarts_and_backoff() {
    // autorestart=unexpected and a bad exit: restarted, so not done
    let mut c = pconf("job");
    c.startsecs = 0;
    c.startretries = 1;
    let mut w = World::one(c);
    w.sup.set_exit_when_done(true);
    w.tick();
    w.exit("job", wait_status_exited(2));
    assert!(w.sup.end_of_run().is_none());
    assert_eq!(w.state("job"), ProcessState::Starting);
    w.advance(1.0);
    w.exit("job", wait_status_exited(0));
    // exit 0 is expected: autorestart=unexpected does not restart it
    assert_eq!(w.sup.end_of_run().map(|e| e.status), Some(EXIT_DONE_OK));
}

#[test]
fn exit_when_done_counts_fatal_as_unexpected_and_ignores_never_started() {
    let mut c = pconf("missing");
    c.startretries = 0;
    let mut idle = pconf("manual");
    idle.autostart = false;
    let mut w = two(c, idle);
    w.host.fail.insert("missing".into());
    w.sup.set_exit_when_done(true);
    w.tick();
    w.advance(2.0);
    let end = w.sup.end_of_run().expect("done");
    assert_eq!(end.status, EXIT_DONE_UNEXPECTED);
    assert_eq!(
        end.reason,
        EndReason::Done {
            unexpected: vec!["missing (can't find command '/bin/missing')".into()]
        }
    );
}

#[test]
fn without_the_keys_nothing_ends_the_run() {
    let mut w = two(oneshot("a"), oneshot("b"));
    w.tick();
    w.exit("a", wait_status_exited(3));
    w.exit("b", wait_status_exited(0));
    w.advance(10.0);
    assert!(w.sup.end_of_run().is_none());
    assert_eq!(w.sup.mood(), SupervisorState::Running);
}

#[test]
fn health_waits_for_every_autostart_program_and_names_what_is_not_ready() {
    let mut slow = pconf("slow");
    slow.startsecs = 2;
    let mut manual = pconf("manual");
    manual.autostart = false;
    let mut w = World::new(vec![
        group("fast", 999, vec![pconf("fast")]),
        group("slow", 999, vec![slow]),
        group("manual", 999, vec![manual]),
    ]);
    let h = w.sup.health();
    assert!(!h.ready && !h.settled);
    w.tick();
    w.advance(1.5);
    let h = w.sup.health();
    assert_eq!(h.not_ready, vec!["slow: STARTING".to_string()]);
    assert!(!h.settled);
    assert_eq!(h.counts_text(), "1 running, 1 starting, 1 stopped");
    w.advance(1.0);
    let h = w.sup.health();
    assert!(h.ready && h.settled, "{h:?}");
    assert!(h.not_ready.is_empty());
    assert_eq!(h.counts_text(), "2 running, 1 stopped");
    // a shutdown is not ready
    w.sup.request_shutdown();
    let h = w.sup.health();
    assert!(!h.ready);
    assert_eq!(h.not_ready[0], "supervisord: SHUTDOWN");
}

#[test]
fn health_settles_on_fatal_but_is_not_ready_and_flags_critical() {
    let mut c = critical("core");
    c.autorestart = AutoRestart::Never;
    let mut missing = pconf("missing");
    missing.startretries = 0;
    let mut w = two(c, missing);
    w.host.fail.insert("missing".into());
    w.tick();
    w.advance(2.0);
    w.advance(2.0);
    let h = w.sup.health();
    assert!(h.settled, "{h:?}");
    assert!(!h.ready);
    assert_eq!(h.not_ready, vec!["missing: FATAL".to_string()]);
    assert_eq!(h.counts_text(), "1 running, 1 fatal");
    // a critical program down is named as such
    w.exit("core", wait_status_exited(1));
    let h = w.sup.health();
    assert!(
        h.not_ready.contains(&"core: EXITED (critical)".to_string()),
        "{h:?}"
    );
}

#[test]
fn health_counts_a_one_shot_that_exited_as_expected_as_ready() {
    let mut w = two(pconf("web"), oneshot("migrate"));
    w.tick();
    w.advance(1.5);
    w.exit("migrate", wait_status_exited(0));
    let h = w.sup.health();
    assert!(
        h.ready && h.settled,
        "an expected exit of a one-shot is done: {h:?}"
    );
    assert_eq!(h.counts_text(), "1 running, 1 exited");
    // an unexpected exit is not
    let mut w = two(pconf("web"), oneshot("migrate"));
    w.tick();
    w.advance(1.5);
    w.exit("migrate", wait_status_exited(3));
    let h = w.sup.health();
    assert!(!h.ready, "{h:?}");
    assert_eq!(h.not_ready, vec!["migrate: EXITED".to_string()]);
}

#[test]
fn health_of_an_empty_table() {
    let w = World::new(vec![]);
    let h = w.sup.health();
    assert!(h.ready && h.settled);
    assert_eq!(h.counts_text(), "no programs");
}
