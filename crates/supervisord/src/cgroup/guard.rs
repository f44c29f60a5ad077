//! The runtime side of the memory/CPU guards (`max_memory`, `max_cpu_percent`; the
//! decisions are in `core::supervisor::guard`). Only processes with a guard are sampled,
//! each every `core::sample_interval` (a tenth of its `guard_window`, 1..10 s); with no
//! guard in the config this arms no timer and reads nothing.
//!
//! Figures: memory from the process's cgroup when a memory controller accounts it (v2
//! `memory.current`, v1 `total_rss`), else the RSS of the process and its descendants
//! from /proc (`stats::Sampler`); CPU seconds from the stats sampler (the cgroup's
//! `cpu.stat` when the process has a cgroup of its own, else /proc).

use std::collections::HashMap;
use std::time::Instant;

use supervisor_core::{GuardSample, Now, ProcKey, Supervisor};

use crate::runtime::RealHost;
use crate::stats::Sampler;

/// Samples the guarded processes.
#[derive(Debug, Default)]
pub struct GuardRunner {
    sampler: Option<Sampler>,
    /// Next sample time (monotonic seconds) per process.
    due: HashMap<ProcKey, f64>,
    /// Whether the config has any guard (checked again after config changes).
    enabled: bool,
    checked_passes: Option<u64>,
    /// Set while a guard restart or a busy cgroup removal waits: poll soon.
    pub soon: bool,
}

/// How soon a pending guard restart or cgroup removal is looked at again.
const SOON: f64 = 0.1;

impl GuardRunner {
    /// When the loop must call [`GuardRunner::run`] next (monotonic seconds), if ever.
    pub fn next_deadline(&self, now: Now) -> Option<f64> {
        let soon = self.soon.then_some(now.mono + SOON);
        let due = if self.enabled {
            self.due.values().copied().reduce(f64::min)
        } else {
            None
        };
        match (soon, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Samples what is due, hands the figures to the core, restarts what a guard stopped,
    /// retries busy cgroup removals. Returns WARN lines for the main log.
    pub fn run(&mut self, sup: &mut Supervisor, now: Now, host: &mut RealHost) -> Vec<String> {
        let passes = sup.transition_passes();
        let changed = self.checked_passes != Some(passes);
        if changed {
            self.checked_passes = Some(passes);
            self.enabled = sup.any_guard();
        }
        // A wake-up for something else (an RPC, child output) costs nothing here unless the
        // processes changed or a sample is due.
        let due_now = self.due.values().any(|&t| t <= now.mono);
        if self.enabled && (changed || due_now) {
            let live = sup.guarded();
            self.due.retain(|k, _| live.iter().any(|(l, _, _)| l == k));
            for (key, pid, interval) in live {
                let due = *self.due.entry(key).or_insert(now.mono);
                if due > now.mono {
                    continue;
                }
                self.due.insert(key, now.mono + interval);
                let start = sup.process(key).map_or(0.0, |p| p.start_wall());
                let sampler = self.sampler.get_or_insert_with(Sampler::new);
                sampler.begin_request();
                let Some(s) = sampler.sample(pid, start, now.wall, Instant::now()) else {
                    continue;
                };
                let memory = host
                    .cgroups
                    .of_key(key)
                    .and_then(|c| c.memory_bytes())
                    .unwrap_or(s.rss_bytes);
                sup.guard_sample(
                    key,
                    GuardSample {
                        pid,
                        memory_bytes: memory,
                        cpu_seconds: s.cpu_seconds,
                    },
                    now,
                    host,
                );
            }
        }
        if sup.guard_restart_pending() {
            sup.guard_restarts(now, host);
        }
        let (gave_up, more) = host.cgroups.retry_removals();
        self.soon = sup.guard_restart_pending() || more;
        gave_up
    }
}
