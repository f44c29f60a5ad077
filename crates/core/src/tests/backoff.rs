//! Restart backoff (issue 15 item 3) on the fake clock: exponential retries with a cap,
//! jitter from the host's random source, retry_forever, restart_delay with its doubling
//! and its reset window.

use super::*;
use crate::process::TIMER_SLACK;
use supervisor_config::{BackoffKind, RestartPolicy};

/// Lets the quick process fail `n` starts; returns the gaps (seconds, 3 decimals) between
/// each exit and the next spawn. Stops early at FATAL.
fn retry_gaps(w: &mut World, name: &str, n: usize) -> Vec<f64> {
    let mut gaps = vec![];
    for _ in 0..n {
        w.advance(0.1);
        w.exit(name, wait_status_exited(1));
        if w.state(name) == ProcessState::Fatal {
            break;
        }
        assert_eq!(w.state(name), ProcessState::Backoff);
        let exited = w.now.mono;
        w.run_to_deadline();
        assert_eq!(w.state(name), ProcessState::Starting);
        gaps.push(((w.now.mono - exited - TIMER_SLACK) * 1000.0).round() / 1000.0);
    }
    gaps
}

fn exponential(c: &mut ProcessConfig) {
    c.restart = RestartPolicy {
        kind: BackoffKind::Exponential,
        ..RestartPolicy::default()
    };
}

#[test]
fn exponential_retries_double_up_to_backoff_max() {
    let mut c = pconf("crash");
    c.startretries = 6;
    exponential(&mut c);
    c.restart.max = Some(10.0);
    let mut w = World::one(c);
    w.tick();
    let gaps = retry_gaps(&mut w, "crash", 10);
    assert_eq!(gaps, [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]);
    assert_eq!(w.state("crash"), ProcessState::Fatal);
    assert_eq!(
        w.payloads(EventType::ProcessStateBackoff).last().unwrap(),
        "processname:crash groupname:crash from_state:STARTING tries:7"
    );
}

#[test]
fn exponential_default_cap_is_60() {
    let mut c = pconf("crash");
    c.startretries = 9;
    exponential(&mut c);
    let mut w = World::one(c);
    w.tick();
    let gaps = retry_gaps(&mut w, "crash", 9);
    assert_eq!(gaps, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]);
}

#[test]
fn jitter_uses_the_hosts_random_source_within_bounds() {
    let mut c = pconf("crash");
    c.startretries = 5;
    exponential(&mut c);
    c.restart.jitter = 0.5;
    let mut w = World::one(c);
    w.host.random = [0.0, 0.5, 0.9, 0.25].into_iter().collect();
    w.tick();
    let gaps = retry_gaps(&mut w, "crash", 4);
    // 1*(1-0), 2*(1-0.25), 4*(1-0.45), 8*(1-0.125)
    assert_eq!(gaps, [1.0, 1.5, 2.2, 7.0]);
    for (n, g) in gaps.iter().enumerate() {
        let base = 2f64.powi(n as i32);
        assert!(
            *g >= base * 0.5 && *g <= base,
            "{g} outside [{}, {base}]",
            base * 0.5
        );
    }
}

#[test]
fn no_jitter_asks_no_random_number() {
    let mut c = pconf("crash");
    c.startretries = 3;
    exponential(&mut c);
    let mut w = World::one(c);
    w.host.random = [0.9].into_iter().collect();
    w.tick();
    retry_gaps(&mut w, "crash", 2);
    assert_eq!(w.host.random.len(), 1, "the source was used without jitter");
}

#[test]
fn retry_forever_never_goes_fatal() {
    let mut c = pconf("crash");
    c.startretries = 0;
    exponential(&mut c);
    c.restart.retry_forever = true;
    c.restart.max = Some(4.0);
    let mut w = World::one(c);
    w.tick();
    let gaps = retry_gaps(&mut w, "crash", 40);
    assert_eq!(gaps.len(), 40);
    assert_eq!(&gaps[..4], [1.0, 2.0, 4.0, 4.0]);
    assert!(gaps[4..].iter().all(|g| *g == 4.0));
    assert!(w.payloads(EventType::ProcessStateFatal).is_empty());
    assert!(!w.take_logs().iter().any(|l| l.contains("gave up")));
}

#[test]
fn without_the_keys_linear_backoff_is_unchanged() {
    let mut c = pconf("crash");
    c.startretries = 4;
    let mut w = World::one(c);
    w.tick();
    assert_eq!(retry_gaps(&mut w, "crash", 10), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(w.state("crash"), ProcessState::Fatal);
}

/// Brings `name` to RUNNING (startsecs 1), lets it run `secs` more, then makes it exit 1.
fn run_then_crash(w: &mut World, name: &str, secs: f64) {
    assert_eq!(w.state(name), ProcessState::Starting);
    w.run_to_deadline();
    assert_eq!(w.state(name), ProcessState::Running);
    w.advance(secs);
    w.exit(name, wait_status_exited(1));
}

#[test]
fn restart_delay_waits_in_backoff_after_running() {
    let mut c = pconf("slow");
    c.autorestart = AutoRestart::Always;
    c.startretries = 0;
    c.restart.restart_delay = 4.0;
    let mut w = World::one(c);
    w.tick();
    run_then_crash(&mut w, "slow", 5.0);
    assert_eq!(w.state("slow"), ProcessState::Backoff);
    assert_eq!(w.info("slow").description, "restarting in 4s");
    assert_eq!(w.sup.process(w.key("slow")).unwrap().backoff(), 0);
    // the listeners see RUNNING -> EXITED (unexpected), then EXITED -> BACKOFF
    assert_eq!(
        w.payloads(EventType::ProcessStateExited),
        vec!["processname:slow groupname:slow from_state:RUNNING expected:0 pid:101"]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateBackoff),
        vec!["processname:slow groupname:slow from_state:EXITED tries:0"]
    );
    assert!(w
        .take_logs()
        .contains(&"INFO delaying restart of slow by 4s (restart_delay)".to_string()));
    w.advance(1.5);
    assert_eq!(w.info("slow").description, "restarting in 3s");
    assert_eq!(w.host.spawned.len(), 1);
    w.run_to_deadline();
    assert_eq!(w.state("slow"), ProcessState::Starting);
    assert_eq!(w.host.spawned.len(), 2);
    // linear: the same wait every time; startretries=0 never counts it
    run_then_crash(&mut w, "slow", 5.0);
    assert_eq!(w.state("slow"), ProcessState::Backoff);
    assert_eq!(w.info("slow").description, "restarting in 4s");
}

#[test]
fn restart_delay_doubles_with_exponential_and_resets() {
    let mut c = pconf("slow");
    c.autorestart = AutoRestart::Always;
    exponential(&mut c);
    c.restart.restart_delay = 2.0;
    c.restart.max = Some(10.0);
    c.restart.reset = 30.0;
    let mut w = World::one(c);
    w.tick();
    let mut waits = vec![];
    for _ in 0..5 {
        run_then_crash(&mut w, "slow", 3.0);
        assert_eq!(w.state("slow"), ProcessState::Backoff);
        let exited = w.now.mono;
        w.run_to_deadline();
        assert_eq!(w.state("slow"), ProcessState::Starting);
        waits.push((w.now.mono - exited - TIMER_SLACK).round());
    }
    assert_eq!(waits, [2.0, 4.0, 8.0, 10.0, 10.0]);
    // a run that stays RUNNING backoff_reset seconds starts the count over
    run_then_crash(&mut w, "slow", 30.0);
    assert_eq!(w.info("slow").description, "restarting in 2s");
    w.run_to_deadline();
    run_then_crash(&mut w, "slow", 29.0);
    assert_eq!(w.info("slow").description, "restarting in 4s");
}

#[test]
fn restart_delay_respects_autorestart_and_stop() {
    let mut c = pconf("job");
    c.autorestart = AutoRestart::Unexpected;
    c.restart.restart_delay = 5.0;
    let mut w = World::one(c);
    w.tick();
    // an expected exit is not restarted at all: EXITED, no wait
    w.run_to_deadline();
    w.advance(2.0);
    w.exit("job", wait_status_exited(0));
    assert_eq!(w.state("job"), ProcessState::Exited);
    let k = w.key("job");
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    w.run_to_deadline();
    assert_eq!(w.state("job"), ProcessState::Running);
    // an unexpected exit waits; a stop during the wait ends it: STOPPED, no restart
    w.advance(2.0);
    w.exit("job", wait_status_exited(3));
    assert_eq!(w.state("job"), ProcessState::Backoff);
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("job"), ProcessState::Stopped);
    let spawned = w.host.spawned.len();
    w.advance(10.0);
    assert_eq!(w.state("job"), ProcessState::Stopped);
    assert_eq!(w.host.spawned.len(), spawned);
    assert_ne!(w.info("job").description, "restarting in 0s");
}

#[test]
fn restart_delay_then_quick_failures_use_the_retry_backoff() {
    let mut c = pconf("slow");
    c.autorestart = AutoRestart::Always;
    c.startretries = 1;
    c.restart.restart_delay = 3.0;
    let mut w = World::one(c);
    w.tick();
    run_then_crash(&mut w, "slow", 5.0);
    w.run_to_deadline();
    assert_eq!(w.state("slow"), ProcessState::Starting);
    // now it dies before startsecs: the counted BACKOFF (1 s), then FATAL
    let gaps = retry_gaps(&mut w, "slow", 3);
    assert_eq!(gaps, [1.0]);
    assert_eq!(w.state("slow"), ProcessState::Fatal);
}
