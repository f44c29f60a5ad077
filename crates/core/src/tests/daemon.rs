//! The daemon as a whole: priorities, ordered shutdown, daemon signals, namespecs,
//! groups, descriptions and TICK events.

use super::*;

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
