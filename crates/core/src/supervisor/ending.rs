//! When the daemon ends its run by itself, and what it reports about its health (issue 17).
//!
//! * `[program:x] critical = true`: when x goes FATAL, or exits and will not be restarted,
//!   while the daemon is RUNNING, the run ends: a CRIT line says why, the ordered shutdown
//!   starts and [`Supervisor::end_of_run`] carries the exit status (x's own when it has a
//!   non-zero one, `128 + N` when a signal N killed it, [`EXIT_CRITICAL`] otherwise).
//! * `[supervisord] exit_when_done = true`: once no process is running or will be started
//!   or restarted, the run ends with [`EXIT_DONE_OK`] when every program that ran ended with
//!   one of its `exitcodes` (or was stopped by the operator), [`EXIT_DONE_UNEXPECTED`]
//!   otherwise.
//!
//! Both are decided here, after a full transition pass, and announced with
//! [`Output::EndOfRun`]; the runtime only maps the decision to the process exit status.
//! [`Supervisor::health`] is the one answer to "is everything up" (for `GET /readyz` and
//! systemd's `READY=1`/`STATUS=`).

use super::*;

/// The exit status after a shutdown that was asked for (signal, `shutdown` call), and
/// after `exit_when_done` when every program ended as expected.
pub const EXIT_DONE_OK: i32 = 0;
/// The exit status after `exit_when_done` when some program did not end as expected.
pub const EXIT_DONE_UNEXPECTED: i32 = 1;
/// The exit status when a `critical` program went down without a non-zero exit status of
/// its own (FATAL after a spawn error, or an exit with status 0).
pub const EXIT_CRITICAL: i32 = 3;

/// Why the run ended by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// A `critical = true` process went down for good.
    Critical {
        /// Its namespec (`name`, or `group:name` in a group of several).
        namespec: String,
        /// Its state then (FATAL or EXITED).
        state: ProcessState,
    },
    /// `exit_when_done`: nothing is running and nothing will be restarted.
    Done {
        /// The processes that did not end as expected (`name (why)`), in table order.
        unexpected: Vec<String>,
    },
}

/// The decision to end the run: the status the daemon exits with and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndOfRun {
    /// The daemon's exit status.
    pub status: i32,
    /// Why.
    pub reason: EndReason,
    /// The CRIT/INFO/WARN text logged for it (also systemd's `STATUS=`).
    pub text: String,
}

/// What [`Supervisor::health`] finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// Every autostart process is RUNNING, no `critical` process is down, and the daemon
    /// is not shutting down or restarting (`GET /readyz` answers 200).
    pub ready: bool,
    /// Every autostart process has reached RUNNING or ended (FATAL, EXITED not to be
    /// restarted, STOPPED after a run): what systemd's `READY=1` waits for.
    pub settled: bool,
    /// What is not ready, one short line each (`web: STARTING`), in table order.
    pub not_ready: Vec<String>,
    /// How many processes are in each state (non-zero counts only), RUNNING first.
    pub counts: Vec<(ProcessState, usize)>,
}

impl HealthReport {
    /// The counts as one line for systemd's `STATUS=`: `12 running, 1 fatal`
    /// (`no programs` for an empty table).
    pub fn counts_text(&self) -> String {
        if self.counts.is_empty() {
            return "no programs".to_string();
        }
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(s, n)| format!("{n} {}", s.name().to_ascii_lowercase()))
            .collect();
        parts.join(", ")
    }
}

/// The order of the states in [`HealthReport::counts`].
const COUNT_ORDER: [ProcessState; 8] = [
    ProcessState::Running,
    ProcessState::Starting,
    ProcessState::Backoff,
    ProcessState::Stopping,
    ProcessState::Exited,
    ProcessState::Fatal,
    ProcessState::Stopped,
    ProcessState::Unknown,
];

/// `name`, or `group:name` when they differ.
fn namespec(p: &Process) -> String {
    if p.config.group == p.config.name {
        p.config.name.clone()
    } else {
        format!("{}:{}", p.config.group, p.config.name)
    }
}

/// The daemon's exit status for a critical process that went down: its own exit code
/// when non-zero, `128 + N` for a death by signal N, else [`EXIT_CRITICAL`].
fn critical_status(p: &Process) -> i32 {
    match p.last_wait_status {
        Some(raw) => {
            let sig = raw & 0x7f;
            if sig == 0 {
                let code = (raw >> 8) & 0xff;
                if code != 0 {
                    code
                } else {
                    EXIT_CRITICAL
                }
            } else if sig != 0x7f {
                128 + sig
            } else {
                EXIT_CRITICAL
            }
        }
        None => EXIT_CRITICAL,
    }
}

impl Process {
    /// Not running and never to be (re)started automatically: FATAL, EXITED without an
    /// autorestart, STOPPED unless it still waits for its autostart.
    pub(crate) fn is_done(&self) -> bool {
        match self.state {
            ProcessState::Fatal => true,
            ProcessState::Exited => !self.autorestarts(),
            ProcessState::Stopped => !(self.laststart.is_none() && self.config.autostart),
            _ => false,
        }
    }

    /// A one-shot that did its job: EXITED with an expected exit code and not to be
    /// restarted (a migration, a cache warm-up). `/readyz` counts it as ready, as
    /// READY=1 counts it as done: it will never be RUNNING again, and holding the whole
    /// pod "not ready" for it forever is not what anyone running one wants.
    pub(crate) fn finished_as_expected(&self) -> bool {
        self.state == ProcessState::Exited && !self.autorestarts() && self.spawnerr.is_none()
    }

    /// Down for good, as `critical` means it: FATAL, or EXITED without an autorestart.
    /// (A process the operator stopped is not down: stopping it was asked for.)
    pub(crate) fn is_down_for_good(&self) -> bool {
        match self.state {
            ProcessState::Fatal => true,
            ProcessState::Exited => !self.autorestarts(),
            _ => false,
        }
    }

    /// How its last run ended, for the log lines: `exit status 3`, `terminated by SIGKILL`,
    /// or the spawn error of a FATAL process.
    fn end_text(&self) -> String {
        if self.state == ProcessState::Fatal {
            if let Some(e) = &self.spawnerr {
                return e.clone();
            }
        }
        match self.last_wait_status {
            Some(raw) => decode_wait_status(raw).text,
            None => self.spawnerr.clone().unwrap_or_default(),
        }
    }
}

impl Supervisor {
    /// `[supervisord] exit_when_done`: end the run once every process is done.
    pub fn set_exit_when_done(&mut self, on: bool) {
        self.exit_when_done = on;
        self.idle.dirty = true;
    }

    /// The decision to end the run, once made (`critical` or `exit_when_done`): the daemon
    /// exits with its status after the ordered shutdown. `None` when the run ends (or
    /// goes on) only as asked.
    pub fn end_of_run(&self) -> Option<&EndOfRun> {
        self.end.as_ref()
    }

    /// Looks for a reason to end the run (called after every full transition pass while
    /// RUNNING); at most one decision is ever made. Returns true when it made it now.
    pub(super) fn check_end_of_run(&mut self) -> bool {
        if self.mood != SupervisorState::Running || self.end.is_some() {
            return false;
        }
        let mut decision = None;
        for &k in &self.lexical {
            let Some(p) = self.procs.get(&k) else {
                continue;
            };
            if p.config.critical && p.is_down_for_good() {
                let how = if p.state == ProcessState::Fatal {
                    "entered FATAL state"
                } else {
                    "exited and will not be restarted"
                };
                let spec = namespec(p);
                let status = critical_status(p);
                let text = format!(
                    "critical program {spec} {how} ({}); shutting down (exit status {status})",
                    p.end_text()
                );
                decision = Some((
                    LogLevel::Critical,
                    EndOfRun {
                        status,
                        reason: EndReason::Critical {
                            namespec: spec,
                            state: p.state,
                        },
                        text,
                    },
                ));
                break;
            }
        }
        if decision.is_none() && self.exit_when_done {
            let all_done = self
                .lexical
                .iter()
                .all(|k| self.procs.get(k).is_none_or(|p| p.is_done()));
            if all_done {
                let unexpected: Vec<String> = self
                    .lexical
                    .iter()
                    .filter_map(|k| self.procs.get(k))
                    .filter(|p| match p.state {
                        ProcessState::Fatal => true,
                        ProcessState::Exited => !p
                            .exitstatus
                            .is_some_and(|es| p.config.exitcodes.contains(&es)),
                        _ => false,
                    })
                    .map(|p| format!("{} ({})", namespec(p), p.end_text()))
                    .collect();
                let (level, status, text) = if unexpected.is_empty() {
                    (
                        LogLevel::Info,
                        EXIT_DONE_OK,
                        format!(
                            "exit_when_done: every program is done; shutting down (exit status {EXIT_DONE_OK})"
                        ),
                    )
                } else {
                    (
                        LogLevel::Warn,
                        EXIT_DONE_UNEXPECTED,
                        format!(
                            "exit_when_done: every program is done, not all as expected: {}; shutting down (exit status {EXIT_DONE_UNEXPECTED})",
                            unexpected.join(", ")
                        ),
                    )
                };
                decision = Some((
                    level,
                    EndOfRun {
                        status,
                        reason: EndReason::Done { unexpected },
                        text,
                    },
                ));
            }
        }
        if let Some((level, end)) = decision {
            self.log(level, end.text.clone());
            self.out.push(Output::EndOfRun(end.clone()));
            self.end = Some(end);
            self.request_shutdown();
            return true;
        }
        false
    }

    /// Whether everything is up: see [`HealthReport`]. One walk over the table.
    pub fn health(&self) -> HealthReport {
        let mut counts = [0usize; COUNT_ORDER.len()];
        let mut not_ready = Vec::new();
        let mut settled = true;
        for &k in &self.lexical {
            let Some(p) = self.procs.get(&k) else {
                continue;
            };
            if let Some(i) = COUNT_ORDER.iter().position(|s| *s == p.state) {
                counts[i] += 1;
            }
            let critical_down = p.config.critical && p.is_down_for_good();
            if critical_down {
                not_ready.push(format!("{}: {} (critical)", namespec(p), p.state.name()));
            } else if p.config.autostart
                && p.state != ProcessState::Running
                && !p.finished_as_expected()
            {
                not_ready.push(format!("{}: {}", namespec(p), p.state.name()));
            }
            if p.config.autostart && p.state != ProcessState::Running && !p.is_done() {
                settled = false;
            }
        }
        let mood_ok = self.mood == SupervisorState::Running;
        if !mood_ok {
            not_ready.insert(0, format!("supervisord: {}", self.mood.name()));
        }
        HealthReport {
            ready: not_ready.is_empty(),
            settled,
            not_ready,
            counts: COUNT_ORDER
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| (*s, n))
                .collect(),
        }
    }
}
