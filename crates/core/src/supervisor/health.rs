//! Liveness health checks (`healthcheck=`): what the results of a RUNNING process's
//! check mean, and what is done about them.
//!
//! The core decides, the runtime probes. When a process with `healthcheck=` enters
//! RUNNING, the core waits `healthcheck_start_delay` (its own deadline, on the fake clock
//! in tests) and then asks the runtime to probe (key, pid) ([`Output::StartProbe`] with
//! [`ProbeKind::Health`]); the runtime tries the check every `healthcheck_interval`, each
//! try bounded by `healthcheck_timeout`, and reports every failure and each recovery
//! ([`Supervisor::probe_report`]). Leaving RUNNING stops the probe
//! ([`Output::StopProbe`]), so nothing probes a process that is not RUNNING.
//!
//! * A pass resets the count of consecutive failures. If the process had been reported
//!   unhealthy (in this run or, after a restart by the health action, an earlier one), it
//!   is healthy again: an INFO line and `PROCESS_HEALTH_HEALTHY`.
//! * A failure counts one more. At `healthcheck_retries` consecutive failures in a run the
//!   process is unhealthy: its description says so (`unhealthy: http 503 (3 checks)`), a
//!   WARN line names the check and the action, `PROCESS_HEALTH_UNHEALTHY` is published
//!   (once per verdict change, not once per restart), and `healthcheck_action` is taken:
//!   * `restart`: a normal stop (stopsignal, SIGKILL after stopwaitsecs, the `stopped:`
//!     line), then a start as soon as it is STOPPED, counted like any automatic restart;
//!     its own autorestart and backoff rules are untouched;
//!   * `stop`: the same stop, and it stays STOPPED;
//!   * `none`: only the report; the count (and the description's figure) goes on.
//!
//! An operator's stop cancels a pending restart; the verdict itself is kept until the
//! check passes again.

use super::*;
use crate::{HealthChange, ProbeKind, ProbeReport};
use supervisor_config::{Check, HealthAction};

/// A process's health-check state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Health {
    /// The probe of the current run was asked for (StartProbe sent, no StopProbe yet).
    pub probing: bool,
    /// While RUNNING and before the first try: the monotonic time to start probing.
    pub start_at: Option<f64>,
    /// Consecutive failed checks in the current run.
    pub failures: u32,
    /// The most recent failure's reason.
    pub last_failure: Option<String>,
    /// The last reported verdict was "unhealthy" (kept across runs until a pass).
    pub unhealthy: bool,
    /// The health action was taken in the current run.
    pub acted: bool,
    /// Stopped by `healthcheck_action = restart`: start again once STOPPED.
    pub restart_pending: bool,
    /// The description's text while unhealthy (see [`Process::health_note`]).
    pub note: String,
}

impl Process {
    /// Whether this process has a `healthcheck=`.
    pub(crate) fn has_health_check(&self) -> bool {
        self.config.health.is_some()
    }

    /// True while the current run is judged unhealthy (`healthcheck_retries` failures in a
    /// row and no pass since).
    pub fn is_unhealthy(&self) -> bool {
        self.has_health_check()
            && self.state == ProcessState::Running
            && self.health.acted
            && self.health.failures > 0
    }

    /// The health verdict for the metrics: `None` without a check or while not RUNNING,
    /// else whether the process is healthy (not judged unhealthy).
    pub fn is_healthy(&self) -> Option<bool> {
        (self.has_health_check() && self.state == ProcessState::Running)
            .then(|| !self.is_unhealthy())
    }

    /// Consecutive failed health checks of the current run.
    pub fn health_failures(&self) -> u32 {
        self.health.failures
    }

    /// The description's health part: `unhealthy: http 503 (3 checks)` while the run is
    /// judged unhealthy, empty otherwise.
    pub fn health_note(&self) -> &str {
        if self.is_unhealthy() {
            &self.health.note
        } else {
            ""
        }
    }

    /// The note the description shows after `pid N, uptime T` or while STARTING: the
    /// health verdict while the RUNNING process is unhealthy, else what
    /// [`Process::display_note`] says (dependencies, readiness, guards).
    pub fn info_note(&self) -> &str {
        let h = self.health_note();
        if h.is_empty() {
            self.display_note()
        } else {
            h
        }
    }

    fn refresh_health_note(&mut self) {
        let Some(hc) = &self.config.health else {
            return;
        };
        let reason = self.health.last_failure.as_deref().unwrap_or("failed");
        let n = self.health.failures;
        self.health.note = format!(
            "unhealthy: {} ({n} check{})",
            short_reason(&hc.check, reason),
            if n == 1 { "" } else { "s" }
        );
    }

    /// A state change is being made: entering RUNNING schedules the first try, leaving
    /// it stops the probe.
    pub(crate) fn health_state_changed(
        &mut self,
        ctx: &mut Ctx<'_>,
        old: ProcessState,
        new: ProcessState,
    ) {
        let Some(hc) = &self.config.health else {
            return;
        };
        if new == ProcessState::Running {
            self.health.failures = 0;
            self.health.acted = false;
            self.health.restart_pending = false;
            if hc.start_delay > 0.0 {
                self.health.start_at = Some(ctx.now.mono + hc.start_delay);
            } else {
                self.health_start_probe(ctx);
            }
        } else if old == ProcessState::Running {
            self.health.start_at = None;
            self.health.failures = 0;
            if self.health.probing {
                self.health.probing = false;
                ctx.out.push(Output::StopProbe {
                    key: self.key,
                    pid: self.pid,
                    kind: ProbeKind::Health,
                });
            }
        }
    }

    fn health_start_probe(&mut self, ctx: &mut Ctx<'_>) {
        self.health.start_at = None;
        self.health.probing = true;
        ctx.out.push(Output::StartProbe {
            key: self.key,
            pid: self.pid,
            kind: ProbeKind::Health,
        });
    }

    /// The RUNNING part of a transition pass: the start delay's end starts the probe.
    pub(crate) fn health_transition(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(at) = self.health.start_at {
            if ctx.now.mono >= at && self.pid != 0 {
                self.health_start_probe(ctx);
            }
        }
    }

    /// When the next transition pass must run for this RUNNING process (the end of the
    /// start delay), if any.
    pub(crate) fn health_due(&self) -> Option<f64> {
        self.health.start_at
    }

    /// A STOPPED process the health action stopped, to be started again by the next
    /// pass.
    pub(crate) fn health_restart_pending(&self) -> bool {
        self.health.restart_pending && self.state == ProcessState::Stopped
    }

    /// An operator's (or the shutdown's) stop: no restart by the health action.
    pub(crate) fn health_cancel_restart(&mut self) {
        self.health.restart_pending = false;
    }

    /// A health probe result for this process's child `pid`.
    pub(crate) fn health_report(&mut self, ctx: &mut Ctx<'_>, pid: i32, report: ProbeReport) {
        if pid != self.pid
            || self.pid == 0
            || self.state != ProcessState::Running
            || !self.health.probing
        {
            return;
        }
        let Some(hc) = self.config.health.clone() else {
            return;
        };
        match report {
            ProbeReport::Status(_) => {}
            ProbeReport::Passed => {
                self.health.failures = 0;
                self.health.acted = false;
                if self.health.unhealthy {
                    self.health.unhealthy = false;
                    ctx.out.log(
                        LogLevel::Info,
                        format!(
                            "healthy: {} passed its health check again ({})",
                            self.config.name, hc.check
                        ),
                    );
                    ctx.out.push(Output::Event(Event::Health(HealthChange {
                        process: self.config.name.clone(),
                        group: self.config.group.clone(),
                        pid: self.pid,
                        healthy: true,
                        failures: 0,
                        action: hc.action.as_str(),
                        reason: String::new(),
                    })));
                }
            }
            ProbeReport::Failed(reason) => {
                self.health.failures = self.health.failures.saturating_add(1);
                self.health.last_failure = Some(reason.clone());
                self.refresh_health_note();
                if self.health.acted || self.health.failures < hc.retries {
                    ctx.out.log(
                        LogLevel::Debug,
                        format!(
                            "health check of {} failed ({} of {}): {} {reason}",
                            self.config.name, self.health.failures, hc.retries, hc.check
                        ),
                    );
                    return;
                }
                self.health.acted = true;
                let what = match hc.action {
                    HealthAction::Restart => "; restarting it",
                    HealthAction::Stop => "; stopping it",
                    HealthAction::None => "",
                };
                ctx.out.log(
                    LogLevel::Warn,
                    format!(
                        "unhealthy: {} failed {} health check{} in a row: {} {reason}{what}",
                        self.config.name,
                        self.health.failures,
                        if self.health.failures == 1 { "" } else { "s" },
                        hc.check
                    ),
                );
                if !self.health.unhealthy {
                    self.health.unhealthy = true;
                    ctx.out.push(Output::Event(Event::Health(HealthChange {
                        process: self.config.name.clone(),
                        group: self.config.group.clone(),
                        pid: self.pid,
                        healthy: false,
                        failures: self.health.failures,
                        action: hc.action.as_str(),
                        reason,
                    })));
                }
                if hc.action != HealthAction::None {
                    // A normal stop; `laststopreport` as an operator's stop would set it.
                    self.laststopreport = None;
                    let sig = self.config.stopsignal;
                    self.kill(ctx, sig);
                    self.health.restart_pending = hc.action == HealthAction::Restart;
                }
            }
        }
    }
}

/// The reason as the description shows it after the check's kind: `http 503`,
/// `tcp connection refused`, `exec exit status 1`.
fn short_reason(check: &Check, reason: &str) -> String {
    let kind = check.kind();
    let r = match check {
        Check::Http { .. } => reason.strip_prefix("HTTP ").unwrap_or(reason),
        _ => reason,
    };
    format!("{kind} {r}")
}

impl Supervisor {
    /// The processes whose health check is being probed now, with their child's pid
    /// (what health probes should be running).
    pub fn probing_health(&self) -> Vec<(ProcKey, i32)> {
        self.procs
            .values()
            .filter(|p| p.health.probing)
            .map(|p| (p.key, p.pid))
            .collect()
    }
}
