//! Readiness (`ready=`): STARTING → RUNNING when the process's check passes.
//!
//! With `ready=` set, `startsecs` is not used. At each spawn the process starts waiting:
//! the core asks the runtime to start a probe for (key, pid) ([`Output::StartProbe`]),
//! holds the `ready_timeout` deadline itself, and learns the probe's results as inputs
//! ([`Supervisor::probe_report`]). The outcomes:
//!
//! * the check passes: RUNNING (the PROCESS_STATE_RUNNING event, `startProcess` with
//!   wait returning, `supervisorctl start` printing `started`), with a `success:` line;
//! * `ready_timeout` passes first: a failed start like an exit before `startsecs`. The
//!   spawnerr says which check failed and how (`not ready after 60s: tcp://127.0.0.1:5432
//!   connection refused`), the process is sent its `stopsignal` (SIGKILL after
//!   `stopwaitsecs`) while it stays STARTING, and when it is reaped it goes to BACKOFF,
//!   retried per `startretries`, FATAL at the end;
//! * the process exits while STARTING: BACKOFF at once (whatever `startsecs` says);
//! * it is stopped while waiting: the usual STOPPING → STOPPED.
//!
//! Whenever the wait ends, the probe is cancelled ([`Output::StopProbe`]), so nothing
//! polls unless a check is pending. The runtime repeats tcp/http/exec tries every
//! `ready_interval` and reports a failure only when its reason changes.

use super::*;
use crate::process::EXITED_TOO_QUICKLY;
use crate::text::ExitStatus;
use crate::{KillError, ProbeKind, ProbeReport};

/// A process's readiness state for its current run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Readiness {
    /// Waiting for the check of the current run (STARTING with a pid, probe running).
    pub waiting: bool,
    /// Monotonic time at which the wait gives up (spawn time + `ready_timeout`).
    pub deadline: f64,
    /// The most recent failure a probe reported during this wait.
    pub last_failure: Option<String>,
    /// Set when the wait timed out and the process is being stopped: the monotonic time
    /// of the SIGKILL, and whether it was sent.
    pub failed: Option<(f64, bool)>,
    /// The last `STATUS=` text the process sent (notify), for this run.
    pub status: Option<String>,
    /// What the description shows about readiness ('' = nothing).
    pub note: String,
}

impl Process {
    /// Whether this process has a `ready=` check.
    pub(crate) fn has_ready_check(&self) -> bool {
        self.config.ready.is_some()
    }

    /// The readiness text of the description: `not ready yet: CHECK (REASON)` while
    /// waiting, the spawnerr while being stopped after a timeout, `status: TEXT` while
    /// RUNNING when the process sent a `STATUS=` (empty otherwise).
    pub fn ready_note(&self) -> &str {
        &self.ready.note
    }

    /// The last `STATUS=` text the process sent on its notify socket during this run.
    pub fn ready_status(&self) -> Option<&str> {
        self.ready.status.as_deref()
    }

    /// True while the process is STARTING and its `ready=` check has not passed yet.
    pub fn is_waiting_ready(&self) -> bool {
        self.ready.waiting
    }

    fn refresh_ready_note(&mut self) {
        let Some(rc) = &self.config.ready else {
            self.ready.note.clear();
            return;
        };
        let r = &self.ready;
        let mut note = String::new();
        if r.waiting {
            note = format!("not ready yet: {}", rc.check);
            let mut extra = Vec::new();
            if let Some(f) = &r.last_failure {
                extra.push(f.clone());
            }
            if let Some(s) = &r.status {
                extra.push(format!("status: {s}"));
            }
            if !extra.is_empty() {
                note.push_str(&format!(" ({})", extra.join("; ")));
            }
        } else if r.failed.is_some() {
            note = self.spawnerr.clone().unwrap_or_default();
        } else if self.state == ProcessState::Running {
            if let Some(s) = &r.status {
                note = format!("status: {s}");
            }
        }
        self.ready.note = note;
    }

    /// A child was forked for this run: start waiting for its check.
    pub(crate) fn ready_spawned(&mut self, ctx: &mut Ctx<'_>) {
        let Some(rc) = &self.config.ready else {
            return;
        };
        self.ready = Readiness {
            waiting: true,
            deadline: ctx.now.mono + rc.timeout,
            ..Readiness::default()
        };
        ctx.out.push(Output::StartProbe {
            key: self.key,
            pid: self.pid,
            kind: ProbeKind::Ready,
        });
        self.refresh_ready_note();
    }

    /// Ends the wait (if any) and asks the runtime to cancel the probe.
    pub(crate) fn ready_cancel(&mut self, ctx: &mut Ctx<'_>) {
        if self.ready.waiting {
            self.ready.waiting = false;
            ctx.out.push(Output::StopProbe {
                key: self.key,
                pid: self.pid,
                kind: ProbeKind::Ready,
            });
        }
    }

    /// A state change is being made: leaving STARTING ends the wait.
    pub(crate) fn ready_state_changed(
        &mut self,
        ctx: &mut Ctx<'_>,
        old: ProcessState,
        new: ProcessState,
    ) {
        if old == ProcessState::Starting && new != ProcessState::Starting {
            self.ready_cancel(ctx);
            self.ready.failed = None;
        }
        if self.config.ready.is_some() {
            self.refresh_ready_note();
        }
    }

    /// The STARTING part of a transition pass for a process with `ready=`: the timeout
    /// and, after it, the SIGKILL escalation.
    pub(crate) fn ready_transition(&mut self, ctx: &mut Ctx<'_>) {
        let Some(rc) = self.config.ready.clone() else {
            return;
        };
        if self.pid == 0 {
            return;
        }
        let now = ctx.now.mono;
        match self.ready.failed {
            None if self.ready.waiting && now >= self.ready.deadline => {
                let reason = self
                    .ready
                    .last_failure
                    .clone()
                    .unwrap_or_else(|| default_reason(&rc.check).to_string());
                let msg = format!(
                    "not ready after {}: {} {}",
                    seconds_text(rc.timeout),
                    rc.check,
                    reason
                );
                self.ready_cancel(ctx);
                self.spawnerr = Some(msg.clone());
                self.ready.failed = Some((now + self.config.stopwaitsecs as f64, false));
                self.refresh_ready_note();
                ctx.out.log(
                    LogLevel::Warn,
                    format!("{}: {msg}; stopping it", self.config.name),
                );
                let sig = self.config.stopsignal;
                self.ready_signal(ctx, sig);
            }
            Some((kill_at, false)) if now >= kill_at => {
                ctx.out.log(
                    LogLevel::Warn,
                    format!("killing '{}' ({}) with SIGKILL", self.config.name, self.pid),
                );
                self.ready.failed = Some((kill_at, true));
                let sig = ctx.sigkill;
                self.ready_signal(ctx, sig);
            }
            _ => {}
        }
    }

    /// Signals the child of a run that failed its readiness (group-wide when
    /// `stopasgroup`/`killasgroup` say so), staying in STARTING: the reap makes it BACKOFF.
    fn ready_signal(&mut self, ctx: &mut Ctx<'_>, sig: i32) {
        let as_group = if sig == ctx.sigkill {
            self.config.killasgroup
        } else {
            self.config.stopasgroup
        };
        ctx.out.log(
            LogLevel::Debug,
            format!(
                "killing {} (pid {}) {}with signal {}",
                self.config.name,
                self.pid,
                if as_group { "process group " } else { "" },
                crate::text::signal_name(sig)
            ),
        );
        let target = if as_group { -self.pid } else { self.pid };
        if let Err(KillError::Other(e)) = ctx.host.kill(target, sig) {
            ctx.out.log(
                LogLevel::Critical,
                format!(
                    "unknown problem killing {} ({}):{e}",
                    self.config.name, self.pid
                ),
            );
        }
    }

    /// The child of a process with `ready=` was reaped while STARTING (not being
    /// stopped by an operator): a failed start. Returns false when this is not that case
    /// (the usual rules apply).
    pub(crate) fn ready_exit(&mut self, ctx: &mut Ctx<'_>, exit: &ExitStatus) -> bool {
        if self.config.ready.is_none() || self.killing || self.state != ProcessState::Starting {
            return false;
        }
        let timed_out = self.ready.failed.is_some();
        self.exitstatus = None;
        if !timed_out {
            self.spawnerr = Some(EXITED_TOO_QUICKLY.to_string());
        }
        let name = self.config.name.clone();
        self.change_state(ctx, ProcessState::Backoff, true);
        let how = if timed_out {
            "not ready in time"
        } else {
            "before it was ready"
        };
        ctx.out.log(
            LogLevel::Warn,
            format!("exited: {name} ({}; not expected, {how})", exit.text),
        );
        true
    }

    /// A probe result for this process's child `pid`.
    pub(crate) fn ready_report(&mut self, ctx: &mut Ctx<'_>, pid: i32, report: ProbeReport) {
        if pid != self.pid || self.pid == 0 {
            return;
        }
        match report {
            ProbeReport::Status(text) => {
                self.ready.status = Some(text);
            }
            ProbeReport::Failed(reason) => {
                if self.ready.waiting {
                    self.ready.last_failure = Some(reason);
                }
            }
            ProbeReport::Passed => {
                if !self.ready.waiting || self.state != ProcessState::Starting {
                    return;
                }
                // The probe ended by itself: no StopProbe needed.
                self.ready.waiting = false;
                self.delay = 0.0;
                self.backoff = 0;
                let check = self
                    .config
                    .ready
                    .as_ref()
                    .map(|r| r.check.to_string())
                    .unwrap_or_default();
                self.change_state(ctx, ProcessState::Running, true);
                ctx.out.log(
                    LogLevel::Info,
                    format!(
                        "success: {} entered RUNNING state, ready check passed ({check})",
                        self.config.name
                    ),
                );
            }
        }
        self.refresh_ready_note();
    }

    /// The time the next transition pass must run for this STARTING process with
    /// `ready=` (the timeout, then the SIGKILL), if any.
    pub(crate) fn ready_due(&self) -> Option<f64> {
        if self.pid == 0 {
            return None;
        }
        match self.ready.failed {
            Some((kill_at, false)) => Some(kill_at),
            Some((_, true)) => None,
            None if self.ready.waiting => Some(self.ready.deadline),
            None => None,
        }
    }
}

/// The reason given when the wait timed out before any probe reported a failure.
fn default_reason(check: &supervisor_config::Check) -> &'static str {
    use supervisor_config::Check;
    match check {
        Check::Log(_) => "no matching line",
        Check::Notify => "no READY=1",
        Check::Exec(_) => "the command did not finish",
        _ => "no answer",
    }
}

/// `60s`, `0.5s`, `1.25s`.
fn seconds_text(s: f64) -> String {
    if s.fract() == 0.0 && s < 1e15 {
        format!("{}s", s as i64)
    } else {
        format!("{s}s")
    }
}

impl Supervisor {
    /// A result of the probe of process `key`'s child `pid` (the runtime's input): a
    /// pass makes a waiting process RUNNING, a failure is remembered for the timeout's
    /// message and the description, a status text is shown in the description. Results
    /// for another pid (an earlier run) are ignored.
    pub fn probe_report(
        &mut self,
        key: ProcKey,
        pid: i32,
        kind: ProbeKind,
        report: ProbeReport,
        now: Now,
        host: &mut dyn Host,
    ) {
        match kind {
            ProbeKind::Ready => {
                self.with_proc(key, now, host, |p, ctx| p.ready_report(ctx, pid, report));
            }
            ProbeKind::Health => {
                // health.rs
                self.with_proc(key, now, host, |p, ctx| p.health_report(ctx, pid, report));
            }
        }
    }

    /// The processes that wait for their `ready=` check now, with their child's pid
    /// (what probes should be running: the runtime compares after a reload).
    pub fn waiting_ready(&self) -> Vec<(ProcKey, i32)> {
        self.procs
            .values()
            .filter(|p| p.ready.waiting)
            .map(|p| (p.key, p.pid))
            .collect()
    }
}
