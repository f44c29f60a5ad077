//! Memory/CPU guards (supervisor/guard.rs) on the fake clock: the action of each
//! `guard_action`, the main-log line naming the figure, the description, the CPU window.

use super::*;
use crate::GuardSample;
use supervisor_config::resources::GuardAction;

fn guarded(action: GuardAction) -> World {
    let mut c = pconf("web");
    c.startsecs = 0;
    c.resources.max_memory = Some(512 << 20);
    c.resources.max_cpu_percent = Some(50.0);
    c.resources.guard_window = 10;
    c.resources.guard_action = action;
    let mut w = World::one(c);
    w.tick();
    w.advance(0.1);
    assert_eq!(w.state("web"), ProcessState::Running);
    w
}

fn sample(w: &mut World, mb: u64, cpu: f64) -> bool {
    let key = w.key("web");
    let pid = w.pid("web");
    let s = GuardSample {
        pid,
        memory_bytes: mb << 20,
        cpu_seconds: cpu,
    };
    let r = w.sup.guard_sample(key, s, w.now, &mut w.host);
    w.drain();
    r
}

#[test]
fn memory_over_the_limit_restarts_with_a_new_pid() {
    let mut w = guarded(GuardAction::Restart);
    assert!(!sample(&mut w, 100, 0.0));
    let first = w.pid("web");
    w.take_logs();
    assert!(sample(&mut w, 612, 0.0));
    let logs = w.take_logs();
    assert!(
        logs.iter()
            .any(|l| l == "WARN max_memory: web uses 612 MB > 512 MB, restarting"),
        "{logs:?}"
    );
    assert_eq!(w.state("web"), ProcessState::Stopping);
    assert!(w.sup.guard_restart_pending());
    w.exit("web", 15);
    assert_eq!(w.state("web"), ProcessState::Stopped);
    w.sup.guard_restarts(w.now, &mut w.host);
    w.drain();
    w.advance(0.1);
    assert_eq!(w.state("web"), ProcessState::Running);
    assert_ne!(w.pid("web"), first);
    assert!(!w.sup.guard_restart_pending());
    let desc = w.info("web").description;
    assert!(
        desc.contains("restarted by max_memory: 612 MB > 512 MB"),
        "{desc}"
    );
}

#[test]
fn stop_leaves_it_stopped_and_none_only_reports_once() {
    let mut w = guarded(GuardAction::Stop);
    assert!(sample(&mut w, 600, 0.0));
    w.exit("web", 15);
    w.sup.guard_restarts(w.now, &mut w.host);
    w.advance(5.0);
    assert_eq!(w.state("web"), ProcessState::Stopped);

    let mut w = guarded(GuardAction::None);
    let pid = w.pid("web");
    w.take_logs();
    assert!(sample(&mut w, 600, 0.0));
    assert!(!sample(&mut w, 610, 0.0));
    let logs = w.take_logs();
    assert_eq!(
        logs.iter().filter(|l| l.contains("max_memory:")).count(),
        1,
        "{logs:?}"
    );
    assert_eq!(w.pid("web"), pid);
    assert_eq!(w.state("web"), ProcessState::Running);
    assert!(w
        .info("web")
        .description
        .contains("max_memory: 610 MB > 512 MB"));
    // back under: INFO, and the note goes
    assert!(!sample(&mut w, 100, 0.0));
    assert!(w
        .take_logs()
        .iter()
        .any(|l| l.contains("back under its guards")));
    assert!(!w.info("web").description.contains("max_memory"));
}

#[test]
fn cpu_trips_only_over_a_full_window() {
    let mut w = guarded(GuardAction::Stop);
    // 90% of a core, sampled every second: nothing before ten seconds of history.
    for i in 0..10 {
        assert!(!sample(&mut w, 10, 0.9 * i as f64), "tripped at {i} s");
        w.now = w.now.plus(1.0);
    }
    assert!(sample(&mut w, 10, 9.0));
    assert!(w
        .take_logs()
        .iter()
        .any(|l| l == "WARN max_cpu_percent: web used 90% CPU over 10s > 50%, stopping"));
}

#[test]
fn a_sample_of_another_run_is_ignored() {
    let mut w = guarded(GuardAction::Restart);
    let key = w.key("web");
    let s = GuardSample {
        pid: 4242,
        memory_bytes: 1 << 40,
        cpu_seconds: 0.0,
    };
    assert!(!w.sup.guard_sample(key, s, w.now, &mut w.host));
    assert_eq!(w.state("web"), ProcessState::Running);
}
