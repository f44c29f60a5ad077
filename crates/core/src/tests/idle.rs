//! Idle ticks that skip the transition pass, and the immediate log sink.

use super::*;

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
    let mut sup = Supervisor::new(vec![group("a", 1, vec![pconf("a")])], SIGNALS);
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
