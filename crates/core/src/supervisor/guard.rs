//! Memory and CPU guards (`max_memory`, `max_cpu_percent` over `guard_window`,
//! `guard_action`; supervisor-rs, issue 15 item 2): the built-in `memmon`.
//!
//! The runtime samples only the processes that have a guard, at [`sample_interval`], and
//! hands each figure in with [`Supervisor::guard_sample`]. The core keeps the CPU history of
//! the current run, decides whether a limit is passed, writes the main-log line naming the
//! figure (`max_memory: web uses 612 MB > 512 MB, restarting`) and acts: `restart` stops
//! the process and starts it again once it is down ([`Supervisor::guard_restarts`]),
//! `stop` stops it, `none` only reports. While a guard is over its limit (or after a
//! restart it caused) the RUNNING description says so.

use std::collections::VecDeque;

use super::*;
use supervisor_config::resources::{GuardAction, ResourceConfig};

/// One sample of a guarded process's tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardSample {
    /// The pid the figures are about (a sample of an earlier run is ignored).
    pub pid: i32,
    /// Resident memory of the process and its descendants, in bytes.
    pub memory_bytes: u64,
    /// CPU seconds used so far by the process and its descendants.
    pub cpu_seconds: f64,
}

/// The guard state of one process.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuardProc {
    /// The run the CPU history is about.
    pid: i32,
    /// (monotonic time, CPU seconds) of this run, oldest first, at most one window long.
    cpu: VecDeque<(f64, f64)>,
    /// What the description shows ('' = nothing).
    note: String,
    /// Set when a `restart` trip stopped the process: start it once it is down.
    restart_pending: bool,
    /// Trips so far (for `none`: logged once per crossing).
    over: bool,
}

/// The bound of the CPU history of one process (one window at the shortest interval).
const MAX_CPU_POINTS: usize = 1024;

/// How often a guarded process is sampled: a tenth of its `guard_window`, clamped to
/// 1..10 seconds (a memory-only guard uses the default window's 6 s... clamped the same).
pub fn sample_interval(r: &ResourceConfig) -> f64 {
    (r.guard_window as f64 / 10.0).clamp(1.0, 10.0)
}

/// Memory in whole MB (1024-based, like the config's sizes) for the log lines.
pub fn megabytes(bytes: u64) -> u64 {
    (bytes + (1 << 19)) >> 20
}

/// The verdict of one sample against the guards of `r`: `Some((figure, log text, short
/// text))` when a limit is passed, like `("max_memory", "web uses 612 MB > 512 MB",
/// "612 MB > 512 MB")`.
fn verdict(
    r: &ResourceConfig,
    name: &str,
    s: &GuardSample,
    cpu_percent: Option<f64>,
) -> Option<(&'static str, String, String)> {
    if let Some(max) = r.max_memory {
        if s.memory_bytes > max {
            let short = format!("{} MB > {} MB", megabytes(s.memory_bytes), megabytes(max));
            return Some(("max_memory", format!("{name} uses {short}"), short));
        }
    }
    if let (Some(max), Some(pct)) = (r.max_cpu_percent, cpu_percent) {
        if pct > max {
            let short = format!("{pct:.0}% CPU over {}s > {max}%", r.guard_window);
            return Some(("max_cpu_percent", format!("{name} used {short}"), short));
        }
    }
    None
}

impl GuardProc {
    /// Records a CPU figure at `t` and returns the average % over the last full window
    /// (`None` until one window of history exists).
    fn cpu_percent(&mut self, t: f64, cpu: f64, window: f64) -> Option<f64> {
        self.cpu.push_back((t, cpu));
        while self.cpu.len() > MAX_CPU_POINTS {
            self.cpu.pop_front();
        }
        // Keep the newest point that is at least one window old as the base.
        while self.cpu.len() >= 2 && t - self.cpu[1].0 >= window {
            self.cpu.pop_front();
        }
        let (t0, c0) = *self.cpu.front()?;
        let span = t - t0;
        // A little slack: samples land on the interval, not exactly a window apart.
        if span + 0.5 < window || span <= 0.0 {
            return None;
        }
        Some(((cpu - c0).max(0.0) / span) * 100.0)
    }
}

impl Process {
    /// What the guards say about this process for the description ('' = nothing).
    pub fn guard_note(&self) -> &str {
        &self.guard.note
    }

    /// The note of the description: the dependency wait or readiness while STARTING, the
    /// guard note (when there is one) while RUNNING, else the readiness status.
    pub fn display_note(&self) -> &str {
        if self.state == ProcessState::Running && !self.guard.note.is_empty() {
            return &self.guard.note;
        }
        self.starting_note()
    }
}

impl Supervisor {
    /// The processes to sample now: a guard set, RUNNING or STARTING with a pid. Each with
    /// its pid and sampling interval in seconds.
    pub fn guarded(&self) -> Vec<(ProcKey, i32, f64)> {
        self.procs
            .values()
            .filter(|p| p.config.resources.has_guard() && p.pid > 0)
            .filter(|p| matches!(p.state, ProcessState::Running | ProcessState::Starting))
            .map(|p| (p.key, p.pid, sample_interval(&p.config.resources)))
            .collect()
    }

    /// Whether any process has a guard at all (the runtime samples nothing otherwise).
    pub fn any_guard(&self) -> bool {
        self.procs.values().any(|p| p.config.resources.has_guard())
    }

    /// Whether a `restart` trip waits for its process to be down.
    pub fn guard_restart_pending(&self) -> bool {
        self.procs.values().any(|p| p.guard.restart_pending)
    }

    /// One sample of `key`'s tree. Returns true when a guard tripped (and acted).
    pub fn guard_sample(
        &mut self,
        key: ProcKey,
        sample: GuardSample,
        now: Now,
        host: &mut dyn Host,
    ) -> bool {
        let Some(p) = self.procs.get_mut(&key) else {
            return false;
        };
        if p.pid != sample.pid || sample.pid <= 0 || !p.config.resources.has_guard() {
            return false;
        }
        if p.guard.pid != sample.pid {
            p.guard = GuardProc {
                pid: sample.pid,
                note: std::mem::take(&mut p.guard.note),
                ..Default::default()
            };
        }
        let r = p.config.resources.clone();
        let window = r.guard_window as f64;
        let pct = if r.max_cpu_percent.is_some() {
            p.guard.cpu_percent(now.mono, sample.cpu_seconds, window)
        } else {
            None
        };
        let name = p.name().to_string();
        let Some((figure, text, short)) = verdict(&r, &name, &sample, pct) else {
            if p.guard.over {
                p.guard.over = false;
                p.guard.note.clear();
                self.log(LogLevel::Info, format!("{name} is back under its guards"));
            }
            return false;
        };
        let action = r.guard_action;
        let doing = match action {
            GuardAction::Restart => "restarting",
            GuardAction::Stop => "stopping",
            GuardAction::None => "not acting (guard_action = none)",
        };
        if action == GuardAction::None {
            p.guard.note = format!("{figure}: {short}");
            if p.guard.over {
                return false;
            }
            p.guard.over = true;
            self.log(LogLevel::Warn, format!("{figure}: {text}, {doing}"));
            return true;
        }
        p.guard.cpu.clear();
        p.guard.restart_pending = action == GuardAction::Restart;
        p.guard.note = if action == GuardAction::Restart {
            format!("restarted by {figure}: {short}")
        } else {
            String::new()
        };
        self.log(LogLevel::Warn, format!("{figure}: {text}, {doing}"));
        let _ = self.stop_process(key, now, host);
        true
    }

    /// Starts again the processes a `restart` trip stopped, once they are down. Call after
    /// state changes (or on the sampling timer) while [`Supervisor::guard_restart_pending`].
    pub fn guard_restarts(&mut self, now: Now, host: &mut dyn Host) {
        let due: Vec<ProcKey> = self
            .procs
            .values()
            .filter(|p| p.guard.restart_pending && p.state.is_stopped())
            .map(|p| p.key)
            .collect();
        for key in due {
            if let Some(p) = self.procs.get_mut(&key) {
                p.guard.restart_pending = false;
            }
            if self.mood_allows_start() {
                let _ = self.start_process(key, now, host);
            }
        }
    }

    /// Whether the daemon is running normally (no shutdown in progress).
    fn mood_allows_start(&self) -> bool {
        self.mood == SupervisorState::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_window_average() {
        let mut g = GuardProc::default();
        assert_eq!(g.cpu_percent(0.0, 0.0, 10.0), None);
        assert_eq!(g.cpu_percent(5.0, 5.0, 10.0), None);
        let p = g.cpu_percent(10.0, 10.0, 10.0).unwrap();
        assert!((p - 100.0).abs() < 1e-9, "{p}");
        // Idle from now on: the average over the last window falls.
        let p = g.cpu_percent(20.0, 10.0, 10.0).unwrap();
        assert!(p < 1e-9, "{p}");
        assert!(g.cpu.len() <= 3);
    }

    #[test]
    fn verdict_names_the_figure() {
        let mut r = ResourceConfig::new();
        r.max_memory = Some(512 << 20);
        let s = GuardSample {
            pid: 1,
            memory_bytes: 612 << 20,
            cpu_seconds: 0.0,
        };
        let (f, t, short) = verdict(&r, "web", &s, None).unwrap();
        assert_eq!(f, "max_memory");
        assert_eq!(t, "web uses 612 MB > 512 MB");
        assert_eq!(short, "612 MB > 512 MB");
        let small = GuardSample {
            memory_bytes: 100 << 20,
            ..s
        };
        assert!(verdict(&r, "web", &small, None).is_none());
        r.max_cpu_percent = Some(50.0);
        let (f, t, _) = verdict(&r, "web", &small, Some(97.4)).unwrap();
        assert_eq!(f, "max_cpu_percent");
        assert_eq!(t, "web used 97% CPU over 60s > 50%");
        assert!(verdict(&r, "web", &small, Some(20.0)).is_none());
    }

    #[test]
    fn interval_is_bounded() {
        let mut r = ResourceConfig::new();
        assert_eq!(sample_interval(&r), 6.0);
        r.guard_window = 3;
        assert_eq!(sample_interval(&r), 1.0);
        r.guard_window = 3600;
        assert_eq!(sample_interval(&r), 10.0);
    }
}
