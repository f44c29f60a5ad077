//! `healthcheck=`: the health state of RUNNING processes with the fake clock (start
//! delay, consecutive failures, recovery), the three actions, the probe outputs, the
//! events, the log lines and the descriptions.

use super::*;
use supervisor_config::{Check, HealthAction, HealthConfig};

fn health_conf(name: &str, check: &str, retries: u32, action: HealthAction) -> ProcessConfig {
    let mut c = pconf(name);
    c.health = Some(HealthConfig {
        check: Check::parse(check).unwrap(),
        interval: 10.0,
        timeout: 3.0,
        retries,
        start_delay: 0.0,
        action,
    });
    c
}

fn hstart(key: ProcKey, pid: i32) -> Output {
    Output::StartProbe {
        key,
        pid,
        kind: ProbeKind::Health,
    }
}

fn hstop(key: ProcKey, pid: i32) -> Output {
    Output::StopProbe {
        key,
        pid,
        kind: ProbeKind::Health,
    }
}

impl World {
    fn health(&mut self, spec: &str, report: ProbeReport) {
        let (k, pid) = (self.key(spec), self.pid(spec));
        self.sup
            .probe_report(k, pid, ProbeKind::Health, report, self.now, &mut self.host);
        self.drain();
        self.tick();
    }
    fn fail(&mut self, spec: &str, why: &str) {
        self.health(spec, ProbeReport::Failed(why.into()));
    }
    /// Ticks past startsecs (1 s): RUNNING.
    fn up(&mut self, spec: &str) {
        self.tick();
        self.advance(1.5);
        assert_eq!(self.state(spec), ProcessState::Running);
    }
    fn health_events(&mut self) -> Vec<String> {
        let mut v = self.payloads(EventType::ProcessHealthUnhealthy);
        v.extend(
            self.payloads(EventType::ProcessHealthHealthy)
                .into_iter()
                .map(|p| format!("HEALTHY {p}")),
        );
        v
    }
}

#[test]
fn probing_starts_at_running_and_stops_when_it_leaves() {
    let mut w = World::one(health_conf(
        "web",
        "http://127.0.0.1:8080/",
        3,
        HealthAction::Restart,
    ));
    w.tick();
    assert_eq!(w.state("web"), ProcessState::Starting);
    assert!(w.probes.is_empty(), "no health probe while STARTING");
    w.advance(1.5);
    let (k, pid) = (w.key("web"), w.pid("web"));
    assert_eq!(w.probes, vec![hstart(k, pid)]);
    assert_eq!(w.sup.probing_health(), vec![(k, pid)]);
    // The interval is the runtime's: the core has nothing due while RUNNING.
    assert_eq!(w.sup.next_deadline(w.now), None);
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.probes, vec![hstart(k, pid), hstop(k, pid)]);
    assert_eq!(w.sup.probing_health(), vec![]);
}

#[test]
fn the_start_delay_is_a_core_deadline() {
    let mut c = health_conf("web", "tcp://127.0.0.1:8080", 3, HealthAction::Restart);
    c.health.as_mut().unwrap().start_delay = 30.0;
    let mut w = World::one(c);
    w.up("web");
    let running_at = w.now.mono;
    assert!(w.probes.is_empty());
    let d = w
        .sup
        .next_deadline(w.now)
        .expect("the end of the start delay");
    assert!((d - (running_at + 30.0)).abs() < 0.01, "{d}");
    w.advance(29.0);
    assert!(w.probes.is_empty());
    w.run_to_deadline();
    let (k, pid) = (w.key("web"), w.pid("web"));
    assert_eq!(w.probes, vec![hstart(k, pid)]);
    assert_eq!(w.sup.next_deadline(w.now), None);
}

#[test]
fn retries_failures_in_a_row_restart_it_with_a_normal_stop_and_start() {
    let mut w = World::one(health_conf(
        "web",
        "http://127.0.0.1:8080/health",
        3,
        HealthAction::Restart,
    ));
    w.up("web");
    let (k, pid1) = (w.key("web"), w.pid("web"));
    w.take_logs();
    // Failures below `retries`, with a pass in between, reset the count.
    w.fail("web", "HTTP 503");
    w.fail("web", "HTTP 503");
    w.health("web", ProbeReport::Passed);
    w.fail("web", "HTTP 503");
    w.fail("web", "HTTP 500");
    assert_eq!(w.state("web"), ProcessState::Running);
    assert_eq!(w.sup.process(k).unwrap().health_failures(), 2);
    assert!(w.health_events().is_empty());
    assert!(w.host.kills.is_empty());
    assert!(!w.info("web").description.contains("unhealthy"));
    // The third in a row: unhealthy, WARN, the event, the stop signal.
    w.fail("web", "HTTP 503");
    assert_eq!(w.state("web"), ProcessState::Stopping);
    assert_eq!(w.host.kills, vec![(pid1, 15)]);
    let logs = w.take_logs();
    assert!(
        logs.contains(&"WARN unhealthy: web failed 3 health checks in a row: http://127.0.0.1:8080/health HTTP 503; restarting it".to_string()),
        "{logs:?}"
    );
    assert_eq!(
        w.health_events(),
        vec![format!(
            "processname:web groupname:web pid:{pid1} failures:3 action:restart\nHTTP 503"
        )]
    );
    assert_eq!(w.probes.last(), Some(&hstop(k, pid1)));
    // A late result for the old child changes nothing.
    w.sup.probe_report(
        k,
        pid1,
        ProbeKind::Health,
        ProbeReport::Failed("x".into()),
        w.now,
        &mut w.host,
    );
    // The stop ends normally, and the start follows at once.
    w.exit("web", wait_status_signaled(15, false));
    let logs = w.take_logs();
    assert!(
        logs.iter()
            .any(|l| l.ends_with(" stopped: web (terminated by SIGTERM)")),
        "{logs:?}"
    );
    assert_eq!(w.state("web"), ProcessState::Starting);
    let pid2 = w.pid("web");
    assert_ne!(pid2, pid1);
    assert!(
        logs.contains(&format!("INFO spawned: 'web' with pid {pid2}")),
        "{logs:?}"
    );
    // The backoff counter is untouched (a normal start, not a failed one).
    assert_eq!(w.sup.process(k).unwrap().backoff(), 0);
    w.advance(1.5);
    assert_eq!(w.state("web"), ProcessState::Running);
    assert_eq!(w.probes.last(), Some(&hstart(k, pid2)));
    // The new child passes: healthy again, INFO and the event with the new pid.
    w.health("web", ProbeReport::Passed);
    let logs = w.take_logs();
    assert!(
        logs.contains(
            &"INFO healthy: web passed its health check again (http://127.0.0.1:8080/health)"
                .to_string()
        ),
        "{logs:?}"
    );
    assert_eq!(
        w.payloads(EventType::ProcessHealthHealthy),
        vec![format!("processname:web groupname:web pid:{pid2}\n")]
    );
    // A second pass reports nothing new.
    w.health("web", ProbeReport::Passed);
    assert_eq!(w.payloads(EventType::ProcessHealthHealthy).len(), 1);
}

#[test]
fn a_restart_that_does_not_help_acts_again_but_reports_unhealthy_once() {
    let mut w = World::one(health_conf(
        "web",
        "tcp://127.0.0.1:1",
        2,
        HealthAction::Restart,
    ));
    w.up("web");
    for round in 0..3 {
        w.fail("web", "connection refused");
        w.fail("web", "connection refused");
        assert_eq!(w.state("web"), ProcessState::Stopping, "round {round}");
        w.exit("web", wait_status_signaled(15, false));
        w.advance(1.5);
        assert_eq!(w.state("web"), ProcessState::Running, "round {round}");
    }
    assert_eq!(w.host.spawned.len(), 4);
    assert_eq!(w.payloads(EventType::ProcessHealthUnhealthy).len(), 1);
    assert_eq!(w.payloads(EventType::ProcessHealthHealthy).len(), 0);
}

#[test]
fn stop_action_leaves_it_stopped() {
    let mut w = World::one(health_conf("web", "exec:/bin/check", 1, HealthAction::Stop));
    w.up("web");
    w.fail("web", "exit status 1");
    assert_eq!(w.state("web"), ProcessState::Stopping);
    assert!(w
        .take_logs()
        .contains(&"WARN unhealthy: web failed 1 health check in a row: exec:/bin/check exit status 1; stopping it".to_string()));
    w.exit("web", wait_status_signaled(15, false));
    w.advance(60.0);
    assert_eq!(w.state("web"), ProcessState::Stopped);
    assert_eq!(w.host.spawned.len(), 1);
    assert_eq!(
        w.health_events(),
        vec![format!(
            "processname:web groupname:web pid:101 failures:1 action:stop\nexit status 1"
        )]
    );
}

#[test]
fn none_action_only_reports_and_the_description_counts_on() {
    let mut w = World::one(health_conf(
        "web",
        "http://127.0.0.1:8080/",
        3,
        HealthAction::None,
    ));
    w.up("web");
    let pid = w.pid("web");
    for _ in 0..3 {
        w.fail("web", "HTTP 503");
    }
    assert_eq!(w.state("web"), ProcessState::Running);
    assert!(w.host.kills.is_empty());
    let d = w.info("web").description;
    assert!(d.starts_with(&format!("pid {pid}, uptime 0:00:0")), "{d}");
    assert!(d.ends_with(", unhealthy: http 503 (3 checks)"), "{d}");
    assert!(w.take_logs().contains(
        &"WARN unhealthy: web failed 3 health checks in a row: http://127.0.0.1:8080/ HTTP 503"
            .to_string()
    ));
    w.fail("web", "timed out after 3s");
    assert!(w
        .info("web")
        .description
        .ends_with(", unhealthy: http timed out after 3s (4 checks)"));
    assert_eq!(w.payloads(EventType::ProcessHealthUnhealthy).len(), 1);
    assert_eq!(
        w.sup.process(w.key("web")).unwrap().is_healthy(),
        Some(false)
    );
    w.health("web", ProbeReport::Passed);
    assert!(!w.info("web").description.contains("unhealthy"));
    assert_eq!(
        w.sup.process(w.key("web")).unwrap().is_healthy(),
        Some(true)
    );
    assert_eq!(w.payloads(EventType::ProcessHealthHealthy).len(), 1);
    assert!(w
        .take_logs()
        .iter()
        .any(|l| l.starts_with("INFO healthy: web passed its health check again")));
}

#[test]
fn an_operator_stop_during_the_health_restart_wins() {
    let mut w = World::one(health_conf(
        "web",
        "tcp://127.0.0.1:1",
        1,
        HealthAction::Restart,
    ));
    w.up("web");
    w.fail("web", "connection refused");
    assert_eq!(w.state("web"), ProcessState::Stopping);
    // shutdown while the health action's stop is under way: no restart.
    w.sup.request_shutdown();
    w.exit("web", wait_status_signaled(15, false));
    w.advance(5.0);
    assert_eq!(w.state("web"), ProcessState::Stopped);
    assert_eq!(w.host.spawned.len(), 1);
}

#[test]
fn an_exit_while_unhealthy_follows_autorestart_and_stops_the_probe() {
    let mut c = health_conf("web", "tcp://127.0.0.1:1", 3, HealthAction::None);
    c.autorestart = AutoRestart::Always;
    let mut w = World::one(c);
    w.up("web");
    let (k, pid1) = (w.key("web"), w.pid("web"));
    w.fail("web", "connection refused");
    w.exit("web", wait_status_exited(1));
    assert!(w.probes.contains(&hstop(k, pid1)));
    assert_eq!(
        w.state("web"),
        ProcessState::Starting,
        "autorestart as usual"
    );
    w.advance(1.5);
    assert_eq!(
        w.sup.process(k).unwrap().health_failures(),
        0,
        "a new run counts anew"
    );
}

#[test]
fn without_healthcheck_nothing_changes() {
    let mut w = World::one(pconf("plain"));
    w.up("plain");
    assert!(w.probes.is_empty());
    assert_eq!(w.sup.next_deadline(w.now), None);
    assert_eq!(w.sup.process(w.key("plain")).unwrap().is_healthy(), None);
    // A stray report is ignored.
    w.health("plain", ProbeReport::Failed("x".into()));
    assert_eq!(w.state("plain"), ProcessState::Running);
    assert!(w.health_events().is_empty());
}
