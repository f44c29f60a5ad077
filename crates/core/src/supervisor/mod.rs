//! The table of active groups and processes, the daemon mood and the ordered shutdown.

use std::collections::{BTreeMap, HashMap};

use super::process::{Ctx, Process, TIMER_SLACK};
use super::text::{decode_wait_status, short_local_time, signal_name, timedelta_text};
use super::{Event, EventType, Host, LogLevel, LogSink, Now, Outbox, Output, ProcKey, Signals};
use supervisor_config::GroupConfig;
use supervisor_protocol::{ProcessState, SupervisorState};

mod backoff;
mod deps;
mod driving;
mod ending;
mod groups;
mod guard;
mod health;
mod ready;
mod timing;

pub use ending::{
    EndOfRun, EndReason, HealthReport, EXIT_CRITICAL, EXIT_DONE_OK, EXIT_DONE_UNEXPECTED,
};

pub use backoff::restart_countdown;
pub(crate) use backoff::RestartWait;
pub(crate) use deps::DepProc;
pub(crate) use guard::GuardProc;
pub use guard::{megabytes, sample_interval, GuardSample};
pub(crate) use health::Health;
pub(crate) use ready::Readiness;

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
    /// The platform's numbers for the signals the core acts on.
    signals: Signals,
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
    /// Dependencies (`depends_on=`): waits, reverse edges, held-back stops (deps.rs).
    deps: deps::DepState,
    /// `[supervisord] exit_when_done` (see `ending.rs`).
    exit_when_done: bool,
    /// The decision to end the run by itself, once made (see `ending.rs`).
    end: Option<EndOfRun>,
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
    /// `signals` are the platform's numbers for the signals the core acts on (the runtime
    /// takes them from libc).
    ///
    /// [`tick`]: Supervisor::tick
    pub fn new(groups: Vec<GroupConfig>, signals: Signals) -> Supervisor {
        let mut sup = Supervisor {
            signals,
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
            deps: Default::default(),
            exit_when_done: false,
            end: None,
        };
        for g in groups {
            sup.push_group(g);
        }
        sup.rebuild_order();
        sup
    }

    /// Emits SUPERVISOR_STATE_CHANGE_RUNNING (the loop calls this when it starts running).
    pub fn enter_running(&mut self) {
        self.emit(Event::SupervisorRunning);
    }

    fn emit(&mut self, event: Event) {
        self.out.push(Output::Event(event));
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
        let s = self.signals;
        match sig {
            _ if sig == s.term || sig == s.int || sig == s.quit => {
                self.log(
                    LogLevel::Warn,
                    format!("received {name} indicating exit request"),
                );
                self.mood = SupervisorState::Shutdown;
            }
            _ if sig == s.hup => {
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
            _ if sig == s.chld => {
                self.log(
                    LogLevel::Debug,
                    format!("received {name} indicating a child quit"),
                );
            }
            _ if sig == s.usr2 => {
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
}

impl ProcessInfo {
    /// The state's name (`statename`).
    pub fn statename(&self) -> &'static str {
        self.state.name()
    }
}
