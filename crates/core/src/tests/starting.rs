//! Starting: autostart, startsecs, BACKOFF and FATAL, autorestart, restart pacing.

use super::*;

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
fn restarts_count_every_fork_after_the_first_and_last_exit_survives_a_restart() {
    let mut w = World::one(pconf("web"));
    let p = |w: &World| {
        let p = w.sup.process(w.key("web")).unwrap();
        (p.restarts(), p.last_exit())
    };
    assert_eq!(p(&w), (0, None));
    w.tick();
    w.advance(2.0);
    assert_eq!(w.state("web"), ProcessState::Running);
    assert_eq!(p(&w), (0, None));
    // pconf's autorestart is `unexpected`: exit code 3 is restarted automatically.
    w.exit("web", wait_status_exited(3));
    let (_, last) = p(&w);
    assert_eq!(last, Some(3));
    // Whatever the autorestart policy, a start is one more fork.
    if w.pid("web") == 0 {
        w.run_to_deadline();
    }
    if w.pid("web") == 0 {
        let k = w.key("web");
        let _ = w.sup.start_process(k, w.now, &mut w.host);
        w.drain();
    }
    assert_ne!(w.pid("web"), 0);
    assert_eq!(p(&w), (1, Some(3)));
    // The reference's exitstatus is cleared by the new start; ours for the stats is not.
    assert_eq!(w.sup.process(w.key("web")).unwrap().exitstatus(), None);
}
