//! Waiters, TICK events and the next deadline the loop must wake for.

use super::*;

impl Supervisor {
    // ---- waiters --------------------------------------------------------------------------

    /// Parks a waiter; its outcome shows up in [`take_completed_waiters`] after a later
    /// (or the next) [`tick`](Supervisor::tick).
    ///
    /// [`take_completed_waiters`]: Supervisor::take_completed_waiters
    pub fn add_waiter(&mut self, cond: WaitCondition) -> WaiterId {
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.waiters.insert(id, cond);
        id
    }

    /// Forgets a waiter (its client went away).
    pub fn cancel_waiter(&mut self, id: WaiterId) {
        self.waiters.remove(&id);
    }

    /// Waiters resolved since the last call.
    pub fn take_completed_waiters(&mut self) -> Vec<(WaiterId, WaitOutcome)> {
        std::mem::take(&mut self.completed)
    }

    pub(super) fn poll_waiters(&mut self, now: Now, host: &mut dyn Host) {
        let ids: Vec<(WaiterId, WaitCondition)> =
            self.waiters.iter().map(|(i, c)| (*i, *c)).collect();
        for (id, cond) in ids {
            let outcome = match cond {
                WaitCondition::Running(k) => match self.procs.get(&k) {
                    None => Some(WaitOutcome::Gone),
                    Some(p) if p.spawnerr.is_some() => Some(WaitOutcome::SpawnError),
                    Some(p) => match p.state {
                        ProcessState::Running => Some(WaitOutcome::Done),
                        ProcessState::Starting => None,
                        _ => Some(WaitOutcome::AbnormalTermination),
                    },
                },
                WaitCondition::Stopped(k) => {
                    self.with_proc(k, now, host, |p, ctx| p.stop_report(ctx));
                    match self.procs.get(&k) {
                        None => Some(WaitOutcome::Gone),
                        Some(p) if p.state.is_stopped() => Some(WaitOutcome::Done),
                        Some(_) => None,
                    }
                }
            };
            if let Some(o) = outcome {
                self.waiters.remove(&id);
                self.completed.push((id, o));
            }
        }
    }

    // ---- TICK events ----------------------------------------------------------------------

    /// Turns TICK_5/60/3600 events on or off (on only while a listener subscribes to them,
    /// so an idle daemon has no periodic wake-up).
    pub fn set_tick_events(&mut self, enabled: bool, now: Now) {
        self.idle.dirty = true;
        self.ticks = enabled.then(|| {
            let w = now.wall.floor() as i64;
            TICKS.map(|(p, _)| w - w.rem_euclid(p))
        });
    }

    pub(super) fn emit_ticks(&mut self, now: Now) {
        let Some(mut last) = self.ticks else { return };
        let w = now.wall.floor() as i64;
        for (i, (period, kind)) in TICKS.iter().enumerate() {
            let this = w - w.rem_euclid(*period);
            if this != last[i] {
                last[i] = this;
                self.emit(Event::Tick {
                    kind: *kind,
                    when: this,
                });
            }
        }
        self.ticks = Some(last);
    }

    // ---- timing ---------------------------------------------------------------------------

    /// The monotonic time at which [`tick`](Supervisor::tick) must next run, or `None` when
    /// nothing is due until an outside input arrives. A value at or before `now` means "now".
    pub fn next_deadline(&self, now: Now) -> Option<f64> {
        let mut best: Option<f64> = None;
        let mut consider = |t: f64| {
            best = Some(best.map_or(t, |b: f64| b.min(t)));
        };
        if self.mood != SupervisorState::Running {
            if self.finished {
                return None;
            }
            if let Some(t) = self.last_shutdown_report {
                consider(t + 3.0 + TIMER_SLACK);
            } else {
                consider(now.mono);
            }
        }
        if !self.idle.dirty && self.mood == SupervisorState::Running {
            // Nothing changed since the last pass: its summary is exact.
            if let Some(t) = self.idle.deadline {
                consider(t);
            }
            if self.idle.immediate {
                consider(now.mono);
            }
        } else {
            for p in self.procs.values() {
                if let Some(t) = p.deadline(self.mood) {
                    consider(t);
                }
                if self.mood == SupervisorState::Running && p.wants_immediate_start() {
                    consider(now.mono);
                }
            }
        }
        for k in &self.stop_watch {
            if let Some(p) = self.procs.get(k) {
                if p.state == ProcessState::Stopping {
                    consider(p.laststopreport.map_or(now.mono, |t| t + 2.0 + TIMER_SLACK));
                }
            }
        }
        for cond in self.waiters.values() {
            if let WaitCondition::Stopped(k) = cond {
                if let Some(p) = self.procs.get(k) {
                    if p.state == ProcessState::Stopping {
                        consider(p.laststopreport.map_or(now.mono, |t| t + 2.0 + TIMER_SLACK));
                    }
                }
            }
        }
        if self.ticks.is_some() {
            let w = now.wall.floor();
            let next = w - w.rem_euclid(5.0) + 5.0;
            consider(now.mono + (next - now.wall).max(0.0));
        }
        best
    }
}
