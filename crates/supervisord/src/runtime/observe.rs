//! The daemon's side of the stats and `/metrics`: the process table's bookkeeping, a
//! fresh sample from [`crate::stats::Sampler`], the log channels' counters and the event
//! bus's counters, gathered on the loop when a client asks (never otherwise).

use std::time::Instant;

use super::Daemon;
use crate::core::ProcKey;
use crate::http::metrics::{LogCounters, MetricsInput};
use crate::logs::childlog::Channel;
use crate::stats::ProcessFigures;

impl Daemon {
    /// The figures of `key`, sampled now (within the sampler's current request).
    fn figures_of(&mut self, key: ProcKey, wall: f64, mono: Instant) -> Option<ProcessFigures> {
        let p = self.sup.process(key)?;
        let pid = p.pid();
        let start = p.start_wall().trunc();
        let mut f = ProcessFigures {
            group: p.group().to_string(),
            name: p.name().to_string(),
            state: p.state(),
            pid,
            start,
            uptime: if pid != 0 {
                (wall - p.start_wall()).max(0.0)
            } else {
                0.0
            },
            restarts: p.restarts(),
            last_exit: p.last_exit(),
            sample: None,
        };
        if pid != 0 {
            f.sample = self.stats.sample(pid, p.start_wall(), wall, mono);
        }
        Some(f)
    }

    /// `supervisor_rs.getProcessStats` of one process.
    pub(super) fn stats_one(&mut self, group: &str, name: &str) -> Option<ProcessFigures> {
        let key = self.key_of(group, name)?;
        let wall = self.clock.now().wall;
        self.stats.begin_request();
        self.figures_of(key, wall, Instant::now())
    }

    /// Every process's figures, lexical by group then name; forgets the history of
    /// processes that are gone.
    pub(super) fn stats_all(&mut self) -> Vec<ProcessFigures> {
        let wall = self.clock.now().wall;
        let mono = Instant::now();
        let keys = self.sup.keys_lexical().to_vec();
        let live = keys
            .iter()
            .filter(|&&k| self.sup.process(k).is_some_and(|p| p.pid() != 0))
            .count();
        self.stats.begin_full_request(live);
        let all = keys
            .into_iter()
            .filter_map(|k| self.figures_of(k, wall, mono))
            .collect();
        self.stats.end_full_request();
        all
    }

    /// The `/metrics` page.
    pub(super) fn metrics_page(&mut self, openmetrics: bool) -> String {
        let processes = self.stats_all();
        // Readiness, for the processes with a `ready=` check: passed once RUNNING.
        let process_ready = processes
            .iter()
            .map(|f| {
                let p = self
                    .key_of(&f.group, &f.name)
                    .and_then(|k| self.sup.process(k))?;
                p.config().ready.as_ref()?;
                Some(p.state() == crate::core::ProcessState::Running && !p.is_waiting_ready())
            })
            .collect();
        // Health checks (`healthcheck=`), for RUNNING processes with one.
        let process_healthy = processes
            .iter()
            .map(|f| {
                self.key_of(&f.group, &f.name)
                    .and_then(|k| self.sup.process(k))?
                    .is_healthy()
            })
            .collect();
        let mut logs = Vec::new();
        for &k in self.sup.keys_lexical() {
            let (Some(p), Some(io)) = (self.sup.process(k), self.host.io.get(&k)) else {
                continue;
            };
            let mut push = |channel: Channel, l: &crate::logs::ChannelLogger| {
                let c = l.file_counters();
                logs.push(LogCounters {
                    group: p.group().to_string(),
                    name: p.name().to_string(),
                    channel: channel.as_str(),
                    bytes: c.0,
                    rotations: c.1,
                    spliced: l.bytes_spliced(),
                });
            };
            push(Channel::Stdout, &io.stdout.borrow());
            if let Some(e) = &io.stderr {
                push(Channel::Stderr, &e.borrow());
            }
        }
        let input = {
            let bus = self.bus.borrow();
            MetricsInput {
                processes,
                process_ready,
                process_healthy,
                daemon_ready: Some(self.sup.health().ready),
                logs,
                pools: bus.pool_stats(),
                events: bus.published_counts().to_vec(),
                supervisor_state: self.sup.mood(),
            }
        };
        crate::http::metrics::render(input, openmetrics)
    }
}
