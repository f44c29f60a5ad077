//! The table of active groups and processes, the daemon mood and the ordered shutdown.

use std::collections::{BTreeMap, HashMap};

use super::process::{Ctx, Process, TIMER_SLACK};
use super::text::{decode_wait_status, short_local_time, signal_name, timedelta_text};
use super::{Event, EventType, Host, LogLevel, LogSink, Now, Outbox, Output, ProcKey};
use supervisor_config::GroupConfig;
use supervisor_protocol::{ProcessState, SupervisorState};

/// What a namespec (§4.4) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One process.
    Process(ProcKey),
    /// A whole group (`g:` or `g:*`).
    Group(String),
}

/// Why `start_process` refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The process is in a RUNNING state (RUNNING, STARTING, BACKOFF): fault ALREADY_STARTED.
    AlreadyStarted,
    /// The process is UNKNOWN: fault FAILED (`<name> is in an unknown process state`).
    UnknownState,
    /// The spawn recorded a spawnerr: fault SPAWN_ERROR.
    SpawnError,
    /// No such process key.
    NoSuchProcess,
}

/// Why `stop_process` refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopError {
    /// Not in a RUNNING state: fault NOT_RUNNING.
    NotRunning,
    /// The kill failed: fault FAILED with this text.
    Failed(String),
    /// No such process key.
    NoSuchProcess,
}

/// Why `signal_process` refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalError {
    /// Not in a SIGNALLABLE state: fault NOT_RUNNING.
    NotRunning,
    /// The kill failed: fault FAILED with this text.
    Failed(String),
    /// No such process key.
    NoSuchProcess,
}

/// What the runtime must do after a signal was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillResult {
    /// Nothing beyond the log lines and mood change already made.
    Nothing,
    /// Reopen the main log and every child log (SIGUSR2).
    ReopenLogs,
}

/// The condition a parked RPC call waits for (§4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// `startProcess(wait=true)`: until RUNNING, or a spawn error / abnormal termination.
    Running(ProcKey),
    /// `stopProcess(wait=true)`: until in a STOPPED state (logs `waiting for x to stop`).
    Stopped(ProcKey),
}

/// How a parked wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The condition was reached.
    Done,
    /// A spawnerr appeared while waiting to reach RUNNING: fault SPAWN_ERROR.
    SpawnError,
    /// The process left STARTING/RUNNING without a spawnerr: fault ABNORMAL_TERMINATION.
    AbnormalTermination,
    /// The process no longer exists (its group was removed).
    Gone,
}

/// Identifies a parked waiter.
pub type WaiterId = u64;

/// `getProcessInfo`'s fields (§4.5), before XML-RPC encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process name.
    pub name: String,
    /// Group name.
    pub group: String,
    /// Last spawn time, epoch seconds (0 if never).
    pub start: i64,
    /// Last exit time, epoch seconds (0 if never).
    pub stop: i64,
    /// Server time, epoch seconds.
    pub now: i64,
    /// State.
    pub state: ProcessState,
    /// Spawn error text ('' if none).
    pub spawnerr: String,
    /// Last exit status (0 if none).
    pub exitstatus: i32,
    /// stdout log path ('' when NONE).
    pub stdout_logfile: String,
    /// stderr log path ('' when NONE).
    pub stderr_logfile: String,
    /// Live pid (0 if none).
    pub pid: i32,
    /// The §2.7 description.
    pub description: String,
}

/// One active group, as listed for the RPC layer.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    /// Group name.
    pub name: String,
    /// Group priority.
    pub priority: i32,
    /// Its processes in (priority, name) order.
    pub keys: Vec<ProcKey>,
}

#[derive(Debug, Clone)]
struct ActiveGroup {
    config: GroupConfig,
    keys: Vec<ProcKey>,
    /// Process name → key, for lookups without a scan.
    by_name: HashMap<String, ProcKey>,
}

/// The whole supervised world: groups, processes, mood, shutdown progress and waiters.
#[derive(Debug)]
pub struct Supervisor {
    groups: Vec<ActiveGroup>,
    procs: ProcTable,
    /// Indices into `groups`, ascending (stable) priority; rebuilt when groups change.
    order: Vec<usize>,
    /// Group name → index into `groups`; rebuilt when groups change.
    group_index: HashMap<String, usize>,
    /// Every process key, lexical by (group, name); rebuilt when groups change.
    lexical: Vec<ProcKey>,
    pids: HashMap<i32, ProcKey>,
    next_key: ProcKey,
    mood: SupervisorState,
    /// Group names still to stop at shutdown, ascending priority (stopped from the end).
    stop_groups: Option<Vec<String>>,
    last_shutdown_report: Option<f64>,
    finished: bool,
    loaded: Vec<GroupConfig>,
    out: Outbox,
    waiters: BTreeMap<WaiterId, WaitCondition>,
    completed: Vec<(WaiterId, WaitOutcome)>,
    next_waiter: WaiterId,
    ticks: Option<[i64; 3]>,
    /// Processes someone is waiting on to stop (for the `waiting for x to stop` cadence).
    stop_watch: std::collections::HashSet<ProcKey>,
    /// What the last transition pass left behind; lets [`Supervisor::tick`] and
    /// [`Supervisor::next_deadline`] skip their walk over every process while nothing changed.
    idle: IdleCache,
    /// Full transition passes made so far (see [`Supervisor::transition_passes`]).
    passes: u64,
    /// Automatic (re)starts the current [`Supervisor::tick`] may still make (see
    /// [`MAX_RESTARTS_PER_TICK`]).
    restart_budget: u32,
}

/// The state of the process table as of the end of the last full [`Supervisor::tick`].
///
/// A transition pass only changes something when an input arrived since the previous pass
/// (a reap, an RPC start/stop/signal, a group added or removed, a mood change) or when a
/// process's own timer (startsecs, backoff retry, stopwaitsecs) came due. Every mutation
/// of a process goes through `with_proc` or the group/mood entry points, which set `dirty`;
/// the timers are summarized in `due`. While `dirty` is false and `due` lies in the future,
/// a pass would find nothing to do, so `tick` skips it.
#[derive(Debug, Clone, Copy)]
struct IdleCache {
    /// Something may have changed since the last pass.
    dirty: bool,
    /// The earliest monotonic time at which a pass could change a process (a lower bound:
    /// an early pass is harmless, a late one is not). `None` = never without an input.
    due: Option<f64>,
    /// What [`Process::deadline`] gives at the earliest over every process (the loop's
    /// wake-up time, with the timer slack).
    deadline: Option<f64>,
    /// Some process wants to be started by the very next pass.
    immediate: bool,
}

impl IdleCache {
    const DIRTY: IdleCache = IdleCache {
        dirty: true,
        due: None,
        deadline: None,
        immediate: false,
    };
}

fn min_opt(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// The process table: a slot per key (keys are handed out in sequence and never reused),
/// so lookups are an index, not a hash.
#[derive(Debug, Default)]
struct ProcTable {
    slots: Vec<Option<Box<Process>>>,
}

impl ProcTable {
    fn get(&self, key: &ProcKey) -> Option<&Process> {
        self.slots.get(*key as usize)?.as_deref()
    }

    fn get_mut(&mut self, key: &ProcKey) -> Option<&mut Process> {
        self.slots.get_mut(*key as usize)?.as_deref_mut()
    }

    fn insert(&mut self, key: ProcKey, p: Process) {
        let i = key as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(Box::new(p));
    }

    fn remove(&mut self, key: &ProcKey) -> Option<Process> {
        self.slots.get_mut(*key as usize)?.take().map(|p| *p)
    }

    fn values(&self) -> impl Iterator<Item = &Process> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }
}

/// The TICK periods and their event types.
const TICKS: [(i64, EventType); 3] = [
    (5, EventType::Tick5),
    (60, EventType::Tick60),
    (3600, EventType::Tick3600),
];

/// How many transition passes one `tick` may make before yielding (each pass is what
/// one iteration of the reference's loop does; more passes settle chained transitions).
const MAX_PASSES: usize = 8;

/// How many automatic restarts (autorestart after an exit, BACKOFF retries) one
/// [`Supervisor::tick`] makes at most; the others stay due and are made by the next tick,
/// which the loop runs right after serving what arrived meanwhile (RPC, signals). Spawns
/// the operator asks for and the start-up autostarts are not counted.
pub const MAX_RESTARTS_PER_TICK: u32 = 64;

impl Supervisor {
    /// A supervisor whose loaded config is `groups` (sorted by (priority, name)); every
    /// group is made active at once (first definition of a duplicated name wins), with the
    /// GROUP_ADDED outputs and events queued. Nothing is spawned until the first [`tick`].
    ///
    /// [`tick`]: Supervisor::tick
    pub fn new(groups: Vec<GroupConfig>) -> Supervisor {
        let mut sup = Supervisor {
            groups: Vec::new(),
            procs: ProcTable::default(),
            order: Vec::new(),
            group_index: HashMap::new(),
            lexical: Vec::new(),
            pids: HashMap::new(),
            next_key: 1,
            mood: SupervisorState::Running,
            stop_groups: None,
            last_shutdown_report: None,
            finished: false,
            loaded: groups.clone(),
            out: Outbox::default(),
            waiters: BTreeMap::new(),
            completed: Vec::new(),
            next_waiter: 1,
            ticks: None,
            stop_watch: std::collections::HashSet::new(),
            idle: IdleCache::DIRTY,
            passes: 0,
            restart_budget: MAX_RESTARTS_PER_TICK,
        };
        for g in groups {
            sup.push_group(g);
        }
        sup.rebuild_order();
        sup
    }

    /// Emits SUPERVISOR_STATE_CHANGE_RUNNING (the loop calls this when it starts running).
    pub fn enter_running(&mut self) {
        self.emit(EventType::SupervisorStateChangeRunning, String::new());
    }

    fn emit(&mut self, kind: EventType, payload: String) {
        self.out.push(Output::Event(Event { kind, payload }));
    }

    fn log(&mut self, level: LogLevel, text: String) {
        self.out.log(level, text);
    }

    /// Takes everything queued since the last call, in order.
    pub fn drain_output(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out.items)
    }

    /// Sends every main-log line to `sink` as soon as it is decided instead of queueing it
    /// as [`Output::Log`].
    pub fn set_log_sink(&mut self, sink: LogSink) {
        self.out.sink = Some(sink);
    }

    /// The daemon mood (`getState`).
    pub fn mood(&self) -> SupervisorState {
        self.mood
    }

    /// True once a shutdown or restart has stopped every process; the loop then exits
    /// ([`SupervisorState::Shutdown`]) or reloads ([`SupervisorState::Restarting`]).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Begins a shutdown (RPC `shutdown`, SIGTERM).
    pub fn request_shutdown(&mut self) {
        self.idle.dirty = true;
        self.mood = SupervisorState::Shutdown;
    }

    /// Begins a restart (RPC `restart`, SIGHUP), unless a shutdown is already under way.
    pub fn request_restart(&mut self) {
        self.idle.dirty = true;
        if self.mood != SupervisorState::Shutdown {
            self.mood = SupervisorState::Restarting;
        }
    }

    /// Handles a signal the daemon received, with the reference's log lines.
    pub fn on_signal(&mut self, sig: i32) -> KillResult {
        self.idle.dirty = true;
        let name = signal_name(sig);
        match sig {
            libc_sig::SIGTERM | libc_sig::SIGINT | libc_sig::SIGQUIT => {
                self.log(
                    LogLevel::Warn,
                    format!("received {name} indicating exit request"),
                );
                self.mood = SupervisorState::Shutdown;
            }
            libc_sig::SIGHUP => {
                if self.mood == SupervisorState::Shutdown {
                    self.log(
                        LogLevel::Warn,
                        format!("ignored {name} indicating restart request (shutdown in progress)"),
                    );
                } else {
                    self.log(
                        LogLevel::Warn,
                        format!("received {name} indicating restart request"),
                    );
                    self.mood = SupervisorState::Restarting;
                }
            }
            libc_sig::SIGCHLD => {
                self.log(
                    LogLevel::Debug,
                    format!("received {name} indicating a child quit"),
                );
            }
            libc_sig::SIGUSR2 => {
                self.log(
                    LogLevel::Info,
                    format!("received {name} indicating log reopen request"),
                );
                self.log(LogLevel::Info, "supervisord logreopen".to_string());
                return KillResult::ReopenLogs;
            }
            _ => {
                self.log(
                    LogLevel::Blather,
                    format!("received {name} indicating nothing"),
                );
            }
        }
        KillResult::Nothing
    }

    // ---- groups ---------------------------------------------------------------------------

    /// Makes `config` an active group. Returns false (and does nothing) when a group of
    /// that name is already active.
    pub fn add_group(&mut self, config: GroupConfig) -> bool {
        let added = self.push_group(config);
        if added {
            self.rebuild_order();
        }
        added
    }

    /// [`add_group`](Supervisor::add_group) without the rebuild of the orderings (so
    /// loading many groups at once rebuilds them once).
    fn push_group(&mut self, config: GroupConfig) -> bool {
        if self.group_index.contains_key(&config.name) {
            return false;
        }
        self.idle.dirty = true;
        let mut keys = Vec::with_capacity(config.processes.len());
        for pc in &config.processes {
            let key = self.next_key;
            self.next_key += 1;
            let mut pc = pc.clone();
            pc.group.clone_from(&config.name);
            self.procs.insert(key, Process::new(key, pc));
            keys.push(key);
        }
        let name = config.name.clone();
        let by_name = config
            .processes
            .iter()
            .zip(&keys)
            .rev() // the first of a repeated name wins, as in a scan
            .map(|(pc, k)| (pc.name.clone(), *k))
            .collect();
        self.group_index.insert(name.clone(), self.groups.len());
        self.groups.push(ActiveGroup {
            config,
            keys: keys.clone(),
            by_name,
        });
        self.out.push(Output::GroupAdded {
            group: name.clone(),
            keys,
        });
        self.emit(EventType::ProcessGroupAdded, format!("groupname:{name}\n"));
        true
    }

    /// `addProcessGroup`: activates group `name` from the loaded config.
    /// Errors: `Err(true)` = already active (ALREADY_ADDED), `Err(false)` = not in the
    /// loaded config (BAD_NAME).
    pub fn add_loaded_group(&mut self, name: &str) -> Result<(), bool> {
        let Some(cfg) = self.loaded.iter().find(|g| g.name == name).cloned() else {
            return Err(false);
        };
        if self.add_group(cfg) {
            Ok(())
        } else {
            Err(true)
        }
    }

    /// `removeProcessGroup`. Errors: `Err(false)` = no such active group (BAD_NAME),
    /// `Err(true)` = a process is not in a stopped state (STILL_RUNNING).
    pub fn remove_group(&mut self, name: &str) -> Result<(), bool> {
        let Some(&idx) = self.group_index.get(name) else {
            return Err(false);
        };
        let running = self.groups[idx]
            .keys
            .iter()
            .any(|k| self.procs.get(k).is_some_and(|p| !p.state.is_stopped()));
        if running {
            return Err(true);
        }
        self.idle.dirty = true;
        let group = self.groups.remove(idx);
        self.rebuild_order();
        for k in &group.keys {
            if let Some(p) = self.procs.remove(k) {
                if p.pid != 0 {
                    self.pids.remove(&p.pid);
                }
            }
        }
        self.out.push(Output::GroupRemoved {
            group: name.to_string(),
            keys: group.keys,
        });
        self.emit(
            EventType::ProcessGroupRemoved,
            format!("groupname:{name}\n"),
        );
        Ok(())
    }

    /// Replaces the loaded config (`reloadConfig`); nothing running changes.
    pub fn set_loaded_config(&mut self, groups: Vec<GroupConfig>) {
        self.idle.dirty = true;
        self.loaded = groups;
    }

    /// The loaded config's groups.
    pub fn loaded_config(&self) -> &[GroupConfig] {
        &self.loaded
    }

    /// `(added, changed, removed)` group names of the loaded config against the active groups.
    pub fn diff_to_active(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let active: HashMap<&str, &GroupConfig> = self
            .groups
            .iter()
            .map(|g| (g.config.name.as_str(), &g.config))
            .collect();
        let added = self
            .loaded
            .iter()
            .filter(|g| !active.contains_key(g.name.as_str()))
            .map(|g| g.name.clone())
            .collect();
        let changed = self
            .loaded
            .iter()
            .filter(|g| active.get(g.name.as_str()).is_some_and(|a| *a != *g))
            .map(|g| g.name.clone())
            .collect();
        let removed = self
            .groups
            .iter()
            .filter(|a| !self.loaded.iter().any(|g| g.name == a.config.name))
            .map(|a| a.config.name.clone())
            .collect();
        (added, changed, removed)
    }

    /// True when group `name` is active.
    pub fn is_group_active(&self, name: &str) -> bool {
        self.group_index.contains_key(name)
    }

    /// The active group config named `name`.
    pub fn group_config(&self, name: &str) -> Option<&GroupConfig> {
        self.active_group(name).map(|g| &g.config)
    }

    fn active_group(&self, name: &str) -> Option<&ActiveGroup> {
        self.group_index.get(name).map(|&i| &self.groups[i])
    }

    /// Active groups in activation order.
    pub fn groups(&self) -> Vec<GroupInfo> {
        self.groups
            .iter()
            .map(|g| GroupInfo {
                name: g.config.name.clone(),
                priority: g.config.priority,
                keys: g.keys.clone(),
            })
            .collect()
    }

    /// Processes of group `name` in (priority, name) order.
    pub fn group_keys(&self, name: &str) -> Option<Vec<ProcKey>> {
        self.group_keys_ref(name).map(<[ProcKey]>::to_vec)
    }

    /// Processes of group `name` in (priority, name) order, borrowed.
    pub fn group_keys_ref(&self, name: &str) -> Option<&[ProcKey]> {
        self.active_group(name).map(|g| g.keys.as_slice())
    }

    /// Active groups' names and processes, ascending (stable) priority order, borrowed.
    pub fn groups_by_priority(&self) -> impl Iterator<Item = (&str, i32, &[ProcKey])> {
        self.order.iter().map(|&i| {
            let g = &self.groups[i];
            (g.config.name.as_str(), g.config.priority, g.keys.as_slice())
        })
    }

    /// Every process: groups in ascending priority, processes in (priority, name) order
    /// (the order of `startAllProcesses`/`stopAllProcesses`).
    pub fn all_keys(&self) -> Vec<ProcKey> {
        self.sorted_group_indices()
            .into_iter()
            .flat_map(|i| self.groups[i].keys.iter().copied())
            .collect()
    }

    /// Every process, lexical by group name then process name (`getAllProcessInfo`).
    pub fn all_keys_lexical(&self) -> Vec<ProcKey> {
        self.lexical.clone()
    }

    /// Every process, lexical by group name then process name, borrowed (kept sorted as
    /// groups come and go, so listing every process sorts nothing).
    pub fn keys_lexical(&self) -> &[ProcKey] {
        &self.lexical
    }

    fn sorted_group_indices(&self) -> Vec<usize> {
        self.order.clone()
    }

    fn rebuild_order(&mut self) {
        let mut idx: Vec<usize> = (0..self.groups.len()).collect();
        idx.sort_by_key(|&i| self.groups[i].config.priority);
        self.order = idx;
        self.group_index = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.config.name.clone(), i))
            .collect();
        let mut keys: Vec<(&str, &str, ProcKey)> = self
            .groups
            .iter()
            .flat_map(|g| g.keys.iter())
            .filter_map(|k| self.procs.get(k))
            .map(|p| (p.config.group.as_str(), p.config.name.as_str(), p.key))
            .collect();
        keys.sort();
        self.lexical = keys.into_iter().map(|(_, _, k)| k).collect();
    }

    /// Resolves a namespec (`name`, `group:name`, `group:`, `group:*`). `None` = BAD_NAME.
    pub fn lookup(&self, namespec: &str) -> Option<Target> {
        let (group, process) = match namespec.split_once(':') {
            Some((g, p)) if p.is_empty() || p == "*" => (g, None),
            Some((g, p)) => (g, Some(p)),
            None => (namespec, Some(namespec)),
        };
        let g = self.active_group(group)?;
        match process {
            None => Some(Target::Group(group.to_string())),
            Some(p) => g.by_name.get(p).copied().map(Target::Process),
        }
    }

    /// The key of process `name` of active group `group`.
    pub fn process_key(&self, group: &str, name: &str) -> Option<ProcKey> {
        self.active_group(group)?.by_name.get(name).copied()
    }

    /// The process with key `key`.
    pub fn process(&self, key: ProcKey) -> Option<&Process> {
        self.procs.get(&key)
    }

    /// The key of the process whose live pid is `pid`.
    pub fn key_for_pid(&self, pid: i32) -> Option<ProcKey> {
        self.pids.get(&pid).copied()
    }

    /// Records the resolved log paths of a process (AUTO names are chosen by the runtime).
    pub fn set_log_paths(&mut self, key: ProcKey, stdout: String, stderr: String) {
        if let Some(p) = self.procs.get_mut(&key) {
            p.stdout_logfile = stdout;
            p.stderr_logfile = stderr;
        }
    }

    /// `getProcessInfo` for `key` at `now`.
    pub fn process_info(&self, key: ProcKey, now: Now) -> Option<ProcessInfo> {
        let p = self.procs.get(&key)?;
        let start = p.laststart.map_or(0, |t| t.wall as i64);
        let stop = p.laststop_wall as i64;
        let now_s = now.wall as i64;
        let spawnerr = p.spawnerr.clone().unwrap_or_default();
        let description = match p.state {
            ProcessState::Running => {
                format!("pid {}, uptime {}", p.pid, timedelta_text(now_s - start))
            }
            ProcessState::Fatal | ProcessState::Backoff => {
                if spawnerr.is_empty() {
                    format!("unknown error (try \"tail {}\")", p.config.name)
                } else {
                    spawnerr.clone()
                }
            }
            ProcessState::Stopped | ProcessState::Exited => {
                if start != 0 {
                    short_local_time(p.laststop_wall, now.utc_offset)
                } else {
                    "Not started".to_string()
                }
            }
            _ => String::new(),
        };
        Some(ProcessInfo {
            name: p.config.name.clone(),
            group: p.config.group.clone(),
            start,
            stop,
            now: now_s,
            state: p.state,
            spawnerr,
            exitstatus: p.exitstatus.unwrap_or(0),
            stdout_logfile: p.stdout_logfile.clone(),
            stderr_logfile: p.stderr_logfile.clone(),
            pid: p.pid,
            description,
        })
    }

    // ---- driving --------------------------------------------------------------------------

    fn with_proc<R>(
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
        };
        let r = f(p, &mut ctx);
        self.restart_budget = ctx.restarts_left;
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
        let settled = self.transition_passes_at(now, host);
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
    fn summarize_timers(&self) -> IdleCache {
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
    fn tick_housekeeping(&mut self, now: Now, host: &mut dyn Host) {
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
    fn transition_passes_at(&mut self, now: Now, host: &mut dyn Host) -> bool {
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
                    self.emit(EventType::SupervisorStateChangeStopping, String::new());
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
    fn advance_shutdown(&mut self, now: Now, host: &mut dyn Host) -> bool {
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
    fn stop_group(&mut self, name: &str, now: Now, host: &mut dyn Host) -> bool {
        let Some(keys) = self.group_keys(name) else {
            return false;
        };
        let mut changed = false;
        for k in keys.into_iter().rev() {
            changed |= self
                .with_proc(k, now, host, |p, ctx| match p.state {
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
                .unwrap_or(false);
        }
        changed
    }

    /// Logs `waiting for a, b to die` (throttled to every 3 s). Returns whether any process
    /// is not yet stopped.
    fn shutdown_report(&mut self, now: Now) -> bool {
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
    fn shutdown_phase_2(&mut self) -> bool {
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

    fn poll_waiters(&mut self, now: Now, host: &mut dyn Host) {
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

    fn emit_ticks(&mut self, now: Now) {
        let Some(mut last) = self.ticks else { return };
        let w = now.wall.floor() as i64;
        for (i, (period, kind)) in TICKS.iter().enumerate() {
            let this = w - w.rem_euclid(*period);
            if this != last[i] {
                last[i] = this;
                self.emit(*kind, format!("when:{this}"));
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

/// Signal numbers the core interprets (Linux values; the same on every Linux arch we build).
mod libc_sig {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGQUIT: i32 = 3;
    pub const SIGUSR2: i32 = 12;
    pub const SIGTERM: i32 = 15;
    pub const SIGCHLD: i32 = 17;
}

impl ProcessInfo {
    /// The state's name (`statename`).
    pub fn statename(&self) -> &'static str {
        self.state.name()
    }
}
