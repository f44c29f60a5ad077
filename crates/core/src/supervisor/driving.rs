//! Driving the state machines: transition passes, reaped children, operator starts,
//! stops and signals, and the ordered shutdown.

use super::*;

impl Supervisor {
    pub(super) fn with_proc<R>(
        &mut self,
        key: ProcKey,
        now: Now,
        host: &mut dyn Host,
        f: impl FnOnce(&mut Process, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let p = self.procs.get_mut(&key)?;
        self.idle.dirty = true;
        let before = p.pid;
        let mut ctx = Ctx {
            now,
            host,
            out: &mut self.out,
            restarts_left: self.restart_budget,
            sigkill: self.signals.kill,
        };
        let r = f(p, &mut ctx);
        self.restart_budget = ctx.restarts_left;
        if p.deps.wait.is_some() {
            self.deps.waiting.insert(key);
        }
        if p.pid != before {
            if before != 0 {
                self.pids.remove(&before);
            }
            if p.pid != 0 {
                self.pids.insert(p.pid, key);
            }
        }
        Some(r)
    }

    /// A child was reaped with raw wait `status`. Returns the key of the process it was,
    /// or `None` for a pid we never spawned (a re-parented orphan), which is logged at
    /// DEBUG level (the reference logs INFO; see docs/COMPATIBILITY.md).
    pub fn reaped(
        &mut self,
        pid: i32,
        status: i32,
        now: Now,
        host: &mut dyn Host,
    ) -> Option<ProcKey> {
        match self.pids.get(&pid).copied() {
            Some(key) => {
                self.with_proc(key, now, host, |p, ctx| p.finish(ctx, status));
                Some(key)
            }
            None => {
                let d = decode_wait_status(status);
                self.log(
                    LogLevel::Debug,
                    format!("reaped unknown pid {pid} ({})", d.text),
                );
                None
            }
        }
    }

    /// Runs every due transition (what one or more iterations of the reference's main loop
    /// do): automatic starts, STARTING → RUNNING, BACKOFF retries and FATAL, SIGKILL
    /// escalation, the ordered shutdown, waiters and TICK events. Call it after every input
    /// and whenever [`next_deadline`](Supervisor::next_deadline) is reached.
    ///
    /// When nothing changed since the last pass and no process timer is due, the walk over
    /// every process is skipped (only parked waiters and TICK events are looked at), so a
    /// loop wake-up costs O(1) in the number of processes.
    pub fn tick(&mut self, now: Now, host: &mut dyn Host) {
        let idle = self.idle;
        if !idle.dirty
            && self.mood == SupervisorState::Running
            && idle.due.is_none_or(|t| now.mono < t)
        {
            self.tick_housekeeping(now, host);
            return;
        }
        self.passes += 1;
        self.restart_budget = MAX_RESTARTS_PER_TICK;
        let mut settled = self.transition_passes_at(now, host);
        // `critical` and `exit_when_done` (ending.rs) look at the settled table; when
        // they end the run, the ordered shutdown begins in this same tick.
        if self.check_end_of_run() {
            settled = self.transition_passes_at(now, host);
        }
        self.idle = if settled && self.mood == SupervisorState::Running {
            self.summarize_timers()
        } else {
            IdleCache::DIRTY
        };
    }

    /// How many full transition passes [`tick`](Supervisor::tick) has made (skipped ticks
    /// do not count): for tests and profiling.
    pub fn transition_passes(&self) -> u64 {
        self.passes
    }

    /// Forgets what the last pass found, so the next [`tick`](Supervisor::tick) makes a
    /// full pass (tests compare the result with and without skipping).
    pub fn mark_dirty(&mut self) {
        self.idle.dirty = true;
    }

    /// The idle summary after a settled pass in the RUNNING mood.
    pub(super) fn summarize_timers(&self) -> IdleCache {
        let mut c = IdleCache {
            dirty: false,
            due: None,
            deadline: None,
            immediate: false,
        };
        for p in self.procs.values() {
            if let Some(t) = p.due_at() {
                c.due = min_opt(c.due, t);
            }
            if let Some(t) = p.deadline(SupervisorState::Running) {
                c.deadline = min_opt(c.deadline, t);
            }
            c.immediate |= p.wants_immediate_start();
        }
        c
    }

    /// What every tick does, pass or no pass: parked waiters, TICK events, the stop watch.
    pub(super) fn tick_housekeeping(&mut self, now: Now, host: &mut dyn Host) {
        self.poll_waiters(now, host);
        self.emit_ticks(now);
        let procs = &self.procs;
        self.stop_watch.retain(|k| {
            procs
                .get(k)
                .is_some_and(|p| p.state == ProcessState::Stopping)
        });
    }

    /// The full transition passes of [`tick`](Supervisor::tick). Returns false when the
    /// last allowed pass still changed something (the next tick must pass again).
    pub(super) fn transition_passes_at(&mut self, now: Now, host: &mut dyn Host) -> bool {
        let mut settled = false;
        for _ in 0..MAX_PASSES {
            let mut changed = false;
            if self.mood != SupervisorState::Running {
                if self.finished {
                    return true;
                }
                if self.stop_groups.is_none() {
                    let names = self
                        .sorted_group_indices()
                        .into_iter()
                        .map(|i| self.groups[i].config.name.clone())
                        .collect();
                    self.stop_groups = Some(names);
                    self.emit(Event::SupervisorStopping);
                }
                changed |= self.advance_shutdown(now, host);
                if !self.shutdown_report(now) {
                    self.finished = true;
                    self.poll_waiters(now, host);
                    return true;
                }
            }
            let mood = self.mood;
            for oi in 0..self.order.len() {
                let gi = self.order[oi];
                for ki in 0..self.groups[gi].keys.len() {
                    let k = self.groups[gi].keys[ki];
                    changed |= self
                        .with_proc(k, now, host, |p, ctx| p.transition(ctx, mood))
                        .unwrap_or(false);
                }
            }
            changed |= self.advance_dependency_waits(now, host);
            changed |= self.advance_deferred_stops(now, host);
            if self.mood != SupervisorState::Running {
                changed |= self.shutdown_phase_2();
            }
            if !changed {
                settled = true;
                break;
            }
        }
        self.tick_housekeeping(now, host);
        settled
    }

    /// The ordered shutdown's first phase: stops every group of the highest priority still
    /// to stop (in the reference's order, the last name first) and, as long as that leaves
    /// them with nothing to wait for (their processes were stopped, exited, FATAL or in
    /// BACKOFF), drops them and goes on with the next priority at once.
    ///
    /// The reference stops one group per loop iteration and waits for it before the next,
    /// equal priorities included: with thousands of one-program groups a shutdown took
    /// one round trip per group (and never-started groups a loop iteration each, a second
    /// or more apart when idle). Groups of equal priority have no order between them here
    /// (see docs/COMPATIBILITY.md); lower priorities still wait for higher ones.
    pub(super) fn advance_shutdown(&mut self, now: Now, host: &mut dyn Host) -> bool {
        if self.deps.any {
            return self.advance_shutdown_deps(now, host); // reverse dependency order
        }
        let mut changed = false;
        loop {
            let Some(stop) = self.stop_groups.as_ref() else {
                return changed;
            };
            let priority = |name: &String| self.group_config(name).map(|g| g.priority);
            let Some(top) = stop.last().map(priority) else {
                return changed;
            };
            let batch: Vec<String> = stop
                .iter()
                .rev()
                .take_while(|n| priority(n) == top)
                .cloned()
                .collect();
            for name in &batch {
                changed |= self.stop_group(name, now, host);
            }
            let done = batch.iter().all(|name| {
                self.group_keys_ref(name)
                    .unwrap_or_default()
                    .iter()
                    .all(|k| self.procs.get(k).is_none_or(|p| p.state.is_stopped()))
            });
            if !done {
                return changed;
            }
            if let Some(s) = self.stop_groups.as_mut() {
                s.truncate(s.len() - batch.len());
            }
            changed = true;
        }
    }

    /// Stops every running process of group `name` (all at once, descending process
    /// priority); BACKOFF processes become FATAL.
    pub(super) fn stop_group(&mut self, name: &str, now: Now, host: &mut dyn Host) -> bool {
        let Some(keys) = self.group_keys(name) else {
            return false;
        };
        let mut changed = false;
        for k in keys.into_iter().rev() {
            changed |= self.stop_one(k, now, host);
        }
        changed
    }

    /// Stops process `k` when it runs or starts; a BACKOFF one becomes FATAL. Returns
    /// whether it changed (the step of every group, "all" and shutdown stop).
    pub(super) fn stop_one(&mut self, k: ProcKey, now: Now, host: &mut dyn Host) -> bool {
        self.with_proc(k, now, host, |p, ctx| match p.state {
            ProcessState::Running | ProcessState::Starting => {
                p.stop(ctx);
                true
            }
            ProcessState::Backoff => {
                p.give_up(ctx);
                true
            }
            _ => false,
        })
        .unwrap_or(false)
    }

    /// Logs `waiting for a, b to die` (throttled to every 3 s). Returns whether any process
    /// is not yet stopped.
    pub(super) fn shutdown_report(&mut self, now: Now) -> bool {
        let unstopped = || {
            self.groups
                .iter()
                .flat_map(|g| g.keys.iter())
                .filter_map(|k| self.procs.get(k))
                .filter(|p| !p.state.is_stopped())
        };
        if unstopped().next().is_none() {
            return false;
        }
        if self.last_shutdown_report.is_none_or(|t| now.mono > t + 3.0) {
            let unstopped: Vec<String> = unstopped().map(|p| p.config.name.clone()).collect();
            self.log(
                LogLevel::Info,
                format!("waiting for {} to die", unstopped.join(", ")),
            );
            self.last_shutdown_report = Some(now.mono);
        }
        true
    }

    /// Drops the group being stopped from the queue once all its processes are stopped.
    pub(super) fn shutdown_phase_2(&mut self) -> bool {
        if self.deps.any {
            return false; // advance_shutdown_deps drops what it stopped
        }
        let Some(name) = self.stop_groups.as_ref().and_then(|s| s.last()).cloned() else {
            return false;
        };
        let done = self
            .group_keys(&name)
            .unwrap_or_default()
            .iter()
            .all(|k| self.procs.get(k).is_none_or(|p| p.state.is_stopped()));
        if done {
            if let Some(s) = self.stop_groups.as_mut() {
                s.pop();
            }
        }
        done
    }

    /// `startProcess` after the RPC layer's checks (name, executable): spawns `key` now
    /// and advances it once (so a `startsecs=0` process is RUNNING on return).
    pub fn start_process(
        &mut self,
        key: ProcKey,
        now: Now,
        host: &mut dyn Host,
    ) -> Result<(), StartError> {
        let p = self.procs.get(&key).ok_or(StartError::NoSuchProcess)?;
        if p.state.is_running() {
            return Err(StartError::AlreadyStarted);
        }
        if p.state == ProcessState::Unknown {
            return Err(StartError::UnknownState);
        }
        let mood = self.mood;
        let failed = self
            .with_proc(key, now, host, |p, ctx| {
                p.spawn(ctx);
                if p.spawnerr.is_some() {
                    return true;
                }
                // The reference advances the machine once, with a clock read after the
                // fork: a startsecs=0 process is RUNNING when the call returns.
                ctx.now = ctx.now.plus(1e-6);
                p.transition(ctx, mood);
                false
            })
            .unwrap_or(true);
        // depends_on=: the wait begins now (dependencies started, spawned if satisfied).
        self.advance_dependency_waits(now, host);
        let failed = failed || self.procs.get(&key).is_some_and(|p| p.spawnerr.is_some());
        if failed {
            Err(StartError::SpawnError)
        } else {
            Ok(())
        }
    }

    /// `stopProcess`: sends the stop signal (BACKOFF → STOPPED at once).
    pub fn stop_process(
        &mut self,
        key: ProcKey,
        now: Now,
        host: &mut dyn Host,
    ) -> Result<(), StopError> {
        let p = self.procs.get(&key).ok_or(StopError::NoSuchProcess)?;
        if !p.state.is_running() {
            return Err(StopError::NotRunning);
        }
        match self
            .with_proc(key, now, host, |p, ctx| p.stop(ctx))
            .flatten()
        {
            Some(msg) => Err(StopError::Failed(msg)),
            None => Ok(()),
        }
    }

    /// `signalProcess`: sends `sig` without a state change.
    pub fn signal_process(
        &mut self,
        key: ProcKey,
        sig: i32,
        now: Now,
        host: &mut dyn Host,
    ) -> Result<(), SignalError> {
        let p = self.procs.get(&key).ok_or(SignalError::NoSuchProcess)?;
        if !p.state.is_signallable() {
            return Err(SignalError::NotRunning);
        }
        match self
            .with_proc(key, now, host, |p, ctx| p.signal(ctx, sig))
            .flatten()
        {
            Some(msg) => Err(SignalError::Failed(msg)),
            None => Ok(()),
        }
    }

    /// Logs `waiting for <name> to stop` (at most every 2 s) for a process an RPC caller
    /// is waiting on, and keeps [`next_deadline`](Supervisor::next_deadline) waking the
    /// loop for the next report while it stays STOPPING.
    pub fn stop_report(&mut self, key: ProcKey, now: Now, host: &mut dyn Host) {
        self.with_proc(key, now, host, |p, ctx| p.stop_report(ctx));
        self.stop_watch.insert(key);
    }
}
