//! Dependencies (`depends_on=`): a process is spawned only once what it depends on is up
//! (`ready`: RUNNING, i.e. ready when the dependency has a `ready=` check) or done
//! (`done`: exited with one of its `exitcodes`).
//!
//! Every start of a process with dependencies (autostart, `startProcess`, the `all` and
//! group variants, `update`/`add`, the start after a reload, automatic restarts) goes
//! through the gate in [`Process::spawn`]: instead of forking, the process enters
//! STARTING with pid 0 and waits (its description reads `waiting for: db, cache`). The
//! supervisor then starts each dependency that is not already starting or running (which
//! may wait in turn: transitive), and re-evaluates the waits after every change of state
//! (each transition pass and each operator start; never on a timer: a waiting process has
//! no deadline, so nothing wakes the loop for it). When every dependency is satisfied the
//! process is spawned in the same pass; when one fails (FATAL, stopped, exited for good,
//! removed) the waiting process goes to FATAL with a spawnerr that says which and why.
//!
//! Stopping follows the reverse order: the ordered shutdown (and reload) and
//! `stopAllProcesses` signal a process only once every process that depends on it has
//! stopped; priority orders what the dependencies leave free. A dependency that restarts
//! later does not restart its dependents.

use super::*;
use crate::process::Ctx;
use std::collections::BTreeSet;
use supervisor_config::DependencyCondition;

/// A process's side of the dependency machinery.
#[derive(Debug, Clone, Default)]
pub(crate) struct DepProc {
    /// The current wait (STARTING with pid 0), if any.
    pub wait: Option<Box<DepWait>>,
    /// Set by the supervisor right before it spawns a process whose wait is over: the
    /// next [`Process::spawn`] passes the gate once.
    pub released: bool,
    /// How many runs ended with an expected exit code (what `done` waits for).
    pub done_runs: u64,
}

/// One wait for dependencies.
#[derive(Debug, Clone, Default)]
pub(crate) struct DepWait {
    /// False until the supervisor resolved the names and started the dependencies.
    pub begun: bool,
    /// The entries of `depends_on=`, resolved.
    pub entries: Vec<WaitEntry>,
    /// The description: `waiting for: db, cache`.
    pub note: String,
}

/// One `depends_on=` entry of a wait.
#[derive(Debug, Clone)]
pub(crate) struct WaitEntry {
    /// The name as written.
    pub name: String,
    /// The condition.
    pub condition: DependencyCondition,
    /// The processes it stands for, each with its `done_runs` when the wait began.
    pub keys: Vec<(ProcKey, u64)>,
}

/// What the supervisor keeps about dependencies.
#[derive(Debug, Default)]
pub(crate) struct DepState {
    /// Processes waiting for their dependencies.
    pub waiting: BTreeSet<ProcKey>,
    /// Whether any active process has `depends_on=` (selects the dependency-aware stop
    /// order; without dependencies everything behaves as before).
    pub any: bool,
    /// Process → the active processes that depend on it (rebuilt when groups change).
    pub dependents: HashMap<ProcKey, Vec<ProcKey>>,
    /// `stopAllProcesses` stops held back until the process's dependents have stopped.
    pub deferred_stops: BTreeSet<ProcKey>,
}

/// How one dependency process stands against a condition.
enum Status {
    Satisfied,
    Pending,
    Failed(String),
}

/// The namespec a message uses for a process (`db`, or `group:process`).
fn display(p: &Process) -> String {
    if p.config.name == p.config.group {
        p.config.name.clone()
    } else {
        format!("{}:{}", p.config.group, p.config.name)
    }
}

impl Process {
    /// True while the process waits (STARTING, pid 0) for its dependencies.
    pub fn is_waiting_dependencies(&self) -> bool {
        self.deps.wait.is_some()
    }

    /// `waiting for: db, cache` while the process waits for its dependencies, else ''.
    pub fn dependency_note(&self) -> &str {
        self.deps.wait.as_ref().map_or("", |w| w.note.as_str())
    }

    /// What the STARTING description shows: the dependency wait, else the readiness note.
    pub fn starting_note(&self) -> &str {
        match &self.deps.wait {
            Some(w) => &w.note,
            None => self.ready_note(),
        }
    }

    /// The gate of [`Process::spawn`]: true when the process must wait for its
    /// dependencies instead of forking now (it then is STARTING with pid 0).
    pub(crate) fn dependency_gate(&mut self, ctx: &mut Ctx<'_>) -> bool {
        if self.config.depends_on.is_empty() || std::mem::take(&mut self.deps.released) {
            return false;
        }
        if self.deps.wait.is_some() {
            return true;
        }
        self.killing = false;
        self.spawnerr = None;
        self.exitstatus = None;
        self.laststart = Some(ctx.now);
        self.respawn_at = f64::NEG_INFINITY;
        self.deps.wait = Some(Box::default());
        self.change_state(ctx, ProcessState::Starting, true);
        true
    }

    /// A stop while waiting: STOPPED at once (there is no child to signal).
    pub(crate) fn cancel_dependency_wait(&mut self, ctx: &mut Ctx<'_>) {
        let note = self.dependency_note().to_string();
        self.deps.wait = None;
        self.laststop_wall = ctx.now.wall;
        self.change_state(ctx, ProcessState::Stopped, true);
        ctx.out.log(
            LogLevel::Info,
            format!("stopped: {} (while {note})", self.config.name),
        );
    }

    /// The wait failed: FATAL with `why` as the spawnerr.
    fn fail_dependency_wait(&mut self, ctx: &mut Ctx<'_>, why: String) {
        self.deps.wait = None;
        self.delay = 0.0;
        self.backoff = 0;
        self.laststop_wall = ctx.now.wall;
        self.spawnerr = Some(why.clone());
        self.change_state(ctx, ProcessState::Fatal, true);
        ctx.out.log(
            LogLevel::Info,
            format!("gave up: {} entered FATAL state, {why}", self.config.name),
        );
    }

    /// A run ended: count it for `done` when its exit code was expected.
    pub(crate) fn count_done_run(&mut self, code: i32) {
        if self.config.exitcodes.contains(&code) {
            self.deps.done_runs += 1;
        }
    }
}

impl Supervisor {
    /// Rebuilds the reverse dependency edges of the active processes (after groups
    /// changed).
    pub(super) fn rebuild_dependents(&mut self) {
        self.deps.dependents.clear();
        self.deps.any = false;
        let mut edges = Vec::new();
        for p in self.procs.values() {
            if p.config.depends_on.is_empty() {
                continue;
            }
            self.deps.any = true;
            for d in &p.config.depends_on {
                for k in self.resolve_dependency(&d.name).unwrap_or_default() {
                    if k != p.key {
                        edges.push((k, p.key));
                    }
                }
            }
        }
        for (dep, dependent) in edges {
            let v = self.deps.dependents.entry(dep).or_default();
            if !v.contains(&dependent) {
                v.push(dependent);
            }
        }
    }

    /// The active processes a `depends_on=` name stands for: `group:process`, a group, or
    /// a program (its processes in whatever group they are). `None` = nothing active.
    pub(super) fn resolve_dependency(&self, name: &str) -> Option<Vec<ProcKey>> {
        if let Some((g, p)) = name.split_once(':') {
            return self.process_key(g, p).map(|k| vec![k]);
        }
        if let Some(keys) = self.group_keys_ref(name) {
            if !keys.is_empty() {
                return Some(keys.to_vec());
            }
        }
        let keys: Vec<ProcKey> = self
            .lexical
            .iter()
            .copied()
            .filter(|k| {
                self.procs
                    .get(k)
                    .is_some_and(|p| p.config.section.split_once(':').map(|x| x.1) == Some(name))
            })
            .collect();
        (!keys.is_empty()).then_some(keys)
    }

    /// The processes that depend on `key` (active ones).
    pub fn dependents_of(&self, key: ProcKey) -> Vec<ProcKey> {
        self.deps.dependents.get(&key).cloned().unwrap_or_default()
    }

    /// True when every process that depends on `key` is in a stopped state.
    pub(super) fn dependents_stopped(&self, key: ProcKey) -> bool {
        self.deps.dependents.get(&key).is_none_or(|ds| {
            ds.iter()
                .all(|d| self.procs.get(d).is_none_or(|p| p.state.is_stopped()))
        })
    }

    /// How dependency process `d` stands against `cond` (`since` = its `done_runs` when
    /// the wait began).
    fn status_of(d: &Process, cond: DependencyCondition, since: u64) -> Status {
        let name = display(d);
        let fatal = || Status::Failed(format!("dependency {name} is FATAL"));
        let stopped = || Status::Failed(format!("dependency {name} was stopped"));
        let unknown = || Status::Failed(format!("dependency {name} is in an unknown state"));
        match cond {
            DependencyCondition::Ready => match d.state {
                ProcessState::Running => Status::Satisfied,
                ProcessState::Starting | ProcessState::Backoff | ProcessState::Stopping => {
                    Status::Pending
                }
                ProcessState::Fatal => fatal(),
                ProcessState::Stopped => stopped(),
                ProcessState::Exited if d.autorestarts() => Status::Pending,
                ProcessState::Exited => Status::Failed(format!("dependency {name} exited")),
                ProcessState::Unknown => unknown(),
            },
            DependencyCondition::Done => {
                if d.deps.done_runs > since {
                    return Status::Satisfied;
                }
                match d.state {
                    ProcessState::Exited
                        if d.exitstatus
                            .is_some_and(|c| d.config.exitcodes.contains(&c)) =>
                    {
                        Status::Satisfied
                    }
                    ProcessState::Exited if d.autorestarts() => Status::Pending,
                    ProcessState::Exited => Status::Failed(format!(
                        "dependency {name} exited with unexpected exit code {}",
                        d.exitstatus.unwrap_or(0)
                    )),
                    ProcessState::Running
                    | ProcessState::Starting
                    | ProcessState::Backoff
                    | ProcessState::Stopping => Status::Pending,
                    ProcessState::Fatal => fatal(),
                    ProcessState::Stopped => stopped(),
                    ProcessState::Unknown => unknown(),
                }
            }
        }
    }

    /// Whether a dependency in this state must be started by a new wait (it is neither
    /// starting nor running, nor already satisfying `cond`).
    fn needs_start(d: &Process, cond: DependencyCondition) -> bool {
        match d.state {
            ProcessState::Stopped | ProcessState::Fatal => true,
            ProcessState::Exited => match cond {
                DependencyCondition::Ready => true,
                DependencyCondition::Done => !d
                    .exitstatus
                    .is_some_and(|c| d.config.exitcodes.contains(&c)),
            },
            _ => false,
        }
    }

    /// Starts dependency `key` for a waiting process (through the gate, so it may wait in
    /// turn), advanced once like `startProcess` (a `startsecs=0` process is RUNNING).
    fn start_dependency(&mut self, key: ProcKey, now: Now, host: &mut dyn Host) {
        let mood = self.mood;
        self.with_proc(key, now, host, |p, ctx| {
            p.spawn(ctx);
            if p.spawnerr.is_none() && p.pid != 0 {
                ctx.now = ctx.now.plus(1e-6);
                p.transition(ctx, mood);
            }
        });
    }

    /// A dependency path from `key` back to itself, if any (the loader refuses such
    /// configs; this keeps a table built without it from waiting forever).
    fn cycle_through(&self, key: ProcKey) -> Option<Vec<ProcKey>> {
        let mut path = vec![key];
        let mut seen = BTreeSet::new();
        self.cycle_dfs(key, key, &mut path, &mut seen)
            .then_some(path)
    }

    fn cycle_dfs(
        &self,
        target: ProcKey,
        at: ProcKey,
        path: &mut Vec<ProcKey>,
        seen: &mut BTreeSet<ProcKey>,
    ) -> bool {
        let Some(p) = self.procs.get(&at) else {
            return false;
        };
        for d in &p.config.depends_on {
            for k in self.resolve_dependency(&d.name).unwrap_or_default() {
                if k == target {
                    path.push(k);
                    return true;
                }
                if seen.insert(k) {
                    path.push(k);
                    if self.cycle_dfs(target, k, path, seen) {
                        return true;
                    }
                    path.pop();
                }
            }
        }
        false
    }

    /// Begins the wait of `key`: resolves its dependencies, starts those that need it.
    /// Returns a failure text when a name resolves to nothing active, or the
    /// dependencies lead back to `key`.
    fn begin_wait(&mut self, key: ProcKey, now: Now, host: &mut dyn Host) -> Option<String> {
        if let Some(cycle) = self.cycle_through(key) {
            let names: Vec<String> = cycle
                .iter()
                .filter_map(|k| self.procs.get(k).map(display))
                .collect();
            return Some(format!("dependency cycle {}", names.join(" -> ")));
        }
        let deps = self.procs.get(&key)?.config.depends_on.clone();
        let mut entries = Vec::with_capacity(deps.len());
        for d in &deps {
            let Some(keys) = self.resolve_dependency(&d.name) else {
                return Some(format!("dependency {} is not active", d.name));
            };
            let keys: Vec<(ProcKey, u64)> = keys
                .into_iter()
                .filter(|k| *k != key)
                .filter_map(|k| self.procs.get(&k).map(|p| (k, p.deps.done_runs)))
                .collect();
            entries.push(WaitEntry {
                name: d.name.clone(),
                condition: d.condition,
                keys,
            });
        }
        let to_start: Vec<ProcKey> = entries
            .iter()
            .flat_map(|e| e.keys.iter().map(move |(k, _)| (*k, e.condition)))
            .filter(|(k, c)| self.procs.get(k).is_some_and(|p| Self::needs_start(p, *c)))
            .map(|(k, _)| k)
            .collect();
        if let Some(w) = self.procs.get_mut(&key).and_then(|p| p.deps.wait.as_mut()) {
            w.begun = true;
            w.entries = entries;
        }
        let mut started = BTreeSet::new();
        for k in to_start {
            if started.insert(k) {
                // re-checked: an earlier start in this loop may have started it already
                let needs = self.procs.get(&k).is_some_and(|p| {
                    matches!(
                        p.state,
                        ProcessState::Stopped | ProcessState::Fatal | ProcessState::Exited
                    )
                });
                if needs {
                    self.start_dependency(k, now, host);
                }
            }
        }
        None
    }

    /// Re-evaluates every waiting process until nothing changes: begins new waits,
    /// spawns the processes whose dependencies are satisfied (only while the daemon is
    /// RUNNING), fails those whose dependency failed. Returns whether anything changed.
    pub(super) fn advance_dependency_waits(&mut self, now: Now, host: &mut dyn Host) -> bool {
        let mut changed = false;
        // Each round settles at least one wait or stops; bounded by the table size.
        for _ in 0..=self.procs.slots.len() {
            let waiting: Vec<ProcKey> = self.deps.waiting.iter().copied().collect();
            let mut progress = false;
            for key in waiting {
                let Some(p) = self.procs.get(&key) else {
                    self.deps.waiting.remove(&key);
                    continue;
                };
                let Some(w) = p.deps.wait.as_ref() else {
                    self.deps.waiting.remove(&key);
                    continue;
                };
                if !w.begun {
                    progress = true;
                    if let Some(why) = self.begin_wait(key, now, host) {
                        self.finish_wait(key, now, host, Err(why));
                        continue;
                    }
                }
                match self.evaluate_wait(key) {
                    Ok(None) => {
                        if self.mood == SupervisorState::Running {
                            progress = true;
                            self.finish_wait(key, now, host, Ok(()));
                        }
                    }
                    Ok(Some(note)) => {
                        if let Some(w) = self.procs.get_mut(&key).and_then(|p| p.deps.wait.as_mut())
                        {
                            if w.note != note {
                                let first = w.note.is_empty();
                                w.note.clone_from(&note);
                                if first {
                                    let name = self.procs.get(&key).map(|p| p.config.name.clone());
                                    self.log(
                                        LogLevel::Info,
                                        format!("{} is {note}", name.unwrap_or_default()),
                                    );
                                }
                            }
                        }
                    }
                    Err(why) => {
                        progress = true;
                        self.finish_wait(key, now, host, Err(why));
                    }
                }
            }
            changed |= progress;
            if !progress {
                break;
            }
        }
        changed
    }

    /// `Ok(None)`: every dependency is satisfied; `Ok(Some(note))`: still waiting (the
    /// description); `Err(why)`: a dependency failed.
    fn evaluate_wait(&self, key: ProcKey) -> Result<Option<String>, String> {
        let Some(w) = self.procs.get(&key).and_then(|p| p.deps.wait.as_ref()) else {
            return Ok(None);
        };
        let mut pending: Vec<&str> = Vec::new();
        for e in &w.entries {
            let mut entry_pending = false;
            for (k, since) in &e.keys {
                let Some(d) = self.procs.get(k) else {
                    return Err(format!("dependency {} was removed", e.name));
                };
                match Self::status_of(d, e.condition, *since) {
                    Status::Satisfied => {}
                    Status::Pending => entry_pending = true,
                    Status::Failed(why) => return Err(why),
                }
            }
            if entry_pending {
                pending.push(&e.name);
            }
        }
        if pending.is_empty() {
            Ok(None)
        } else {
            Ok(Some(format!("waiting for: {}", pending.join(", "))))
        }
    }

    /// Ends the wait of `key`: spawns it (`Ok`) or makes it FATAL (`Err(why)`).
    fn finish_wait(&mut self, key: ProcKey, now: Now, host: &mut dyn Host, r: Result<(), String>) {
        self.deps.waiting.remove(&key);
        let mood = self.mood;
        self.with_proc(key, now, host, |p, ctx| match r {
            Ok(()) => {
                p.deps.wait = None;
                p.deps.released = true;
                p.spawn(ctx);
                if p.spawnerr.is_none() && p.pid != 0 {
                    ctx.now = ctx.now.plus(1e-6);
                    p.transition(ctx, mood);
                }
            }
            Err(why) => p.fail_dependency_wait(ctx, why),
        });
    }

    // ---- stopping in reverse order ----------------------------------------------------

    /// The ordered shutdown with dependencies: a process is stopped only once every
    /// process that depends on it has stopped; among the processes that leaves free, the
    /// highest group priority goes first (and is waited for), like the plain shutdown.
    pub(super) fn advance_shutdown_deps(&mut self, now: Now, host: &mut dyn Host) -> bool {
        let mut changed = false;
        loop {
            let Some(stop) = self.stop_groups.as_ref() else {
                return changed;
            };
            let mut free: Vec<(i32, ProcKey)> = Vec::new();
            let mut unstopped = false;
            for name in stop.iter() {
                let Some(g) = self.active_group(name) else {
                    continue;
                };
                for k in &g.keys {
                    if self.procs.get(k).is_some_and(|p| !p.state.is_stopped()) {
                        unstopped = true;
                        if self.dependents_stopped(*k) {
                            free.push((g.config.priority, *k));
                        }
                    }
                }
            }
            if !unstopped {
                if let Some(s) = self.stop_groups.as_mut() {
                    changed |= !s.is_empty();
                    s.clear();
                }
                return changed;
            }
            let Some(top) = free.iter().map(|(p, _)| *p).max() else {
                return changed; // everything left waits for something still stopping
            };
            let batch: Vec<ProcKey> = free
                .iter()
                .filter(|(p, _)| *p == top)
                .map(|(_, k)| *k)
                .rev()
                .collect();
            for k in &batch {
                changed |= self.stop_one(*k, now, host);
            }
            let done = batch
                .iter()
                .all(|k| self.procs.get(k).is_none_or(|p| p.state.is_stopped()));
            if !done {
                return changed;
            }
            changed = true;
        }
    }

    /// `stopAllProcesses` for one process: stops it now when every process that depends
    /// on it has stopped, else holds the stop back until they have (it is then sent by a
    /// later [`tick`](Supervisor::tick)). Without dependencies this is
    /// [`stop_process`](Supervisor::stop_process).
    pub fn stop_after_dependents(
        &mut self,
        key: ProcKey,
        now: Now,
        host: &mut dyn Host,
    ) -> Result<(), StopError> {
        let p = self.procs.get(&key).ok_or(StopError::NoSuchProcess)?;
        if !p.state.is_running() {
            return Err(StopError::NotRunning);
        }
        if self.dependents_stopped(key) {
            return self.stop_process(key, now, host);
        }
        self.idle.dirty = true;
        self.deps.deferred_stops.insert(key);
        Ok(())
    }

    /// Sends the held-back stops whose dependents have stopped (each pass).
    pub(super) fn advance_deferred_stops(&mut self, now: Now, host: &mut dyn Host) -> bool {
        if self.deps.deferred_stops.is_empty() {
            return false;
        }
        let mut changed = false;
        let keys: Vec<ProcKey> = self.deps.deferred_stops.iter().copied().collect();
        for k in keys {
            let running = self.procs.get(&k).is_some_and(|p| p.state.is_running());
            if !running {
                self.deps.deferred_stops.remove(&k);
                continue;
            }
            if self.dependents_stopped(k) {
                self.deps.deferred_stops.remove(&k);
                let _ = self.stop_process(k, now, host);
                changed = true;
            }
        }
        changed
    }

    /// Whether a stop of `key` is being held back until its dependents stop.
    pub fn is_stop_deferred(&self, key: ProcKey) -> bool {
        self.deps.deferred_stops.contains(&key)
    }
}
