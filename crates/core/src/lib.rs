//! supervisor-core: the daemon's pure core — process state machines, groups, priorities
//! and the daemon mood of supervisor-rs.
//!
//! What it is for: deciding. Every entry point takes the current time as a [`Now`] and,
//! where a decision needs the outside world at once (a fork returning a pid, a `kill()`
//! failing), a [`Host`] that the runtime implements with real syscalls and the tests with a
//! fake. Everything else the core decides — main-log lines, events, groups appearing and
//! going away — is queued as [`Output`] and drained by the caller with
//! [`Supervisor::drain_output`]. [`Supervisor::next_deadline`] says when the core next
//! needs to be ticked, so the loop never polls.
//!
//! What it is not for: doing. It performs no system call, reads no clock, opens no file
//! and owns no socket; its dependencies (the config model and the protocol types) cannot
//! reach an async runtime or libc bindings either. OS facts come in through its types: the
//! signal numbers the daemon acts on through [`Signals`], pids and raw wait statuses
//! through [`Host`] and [`Supervisor::reaped`], the time through [`Now`]. The
//! runtime (the `supervisord` crate) owns the event loop, the pipes, the log files and the
//! RPC server.
//!
//! The behaviour follows Python Supervisor 4.3 (`process.py`, `supervisord.py`): same
//! transitions, same messages, same event payloads. Deliberate differences are listed on
//! the items that make them.

#![forbid(unsafe_code)]

mod process;
mod supervisor;
pub mod text;

#[cfg(test)]
mod tests;

pub use process::Process;
pub use supervisor::restart_countdown;
pub use supervisor::{megabytes, sample_interval, GuardSample};
pub use supervisor::{
    EndOfRun, EndReason, GroupInfo, HealthReport, KillResult, ProcessInfo, SignalError, StartError,
    StopError, Supervisor, Target, WaitCondition, WaitOutcome, WaiterId, EXIT_CRITICAL,
    EXIT_DONE_OK, EXIT_DONE_UNEXPECTED,
};
pub use supervisor_config::LogLevel;
pub use supervisor_protocol::events::EventType;
pub use supervisor_protocol::{ProcessState, SupervisorState};

/// A point in time as the core sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Now {
    /// Monotonic seconds (any origin): every timer and duration uses this, so a wall-clock
    /// jump never makes a process look like it exited too quickly or never started.
    pub mono: f64,
    /// Wall-clock seconds since the epoch: the `start`/`stop`/`now` fields and the
    /// descriptions use this.
    pub wall: f64,
    /// The local time zone's offset from UTC in seconds, for `Nov 21 06:14 PM`.
    pub utc_offset: i32,
}

impl Now {
    /// A time `secs` seconds later on both clocks.
    pub fn plus(self, secs: f64) -> Now {
        Now {
            mono: self.mono + secs,
            wall: self.wall + secs,
            utc_offset: self.utc_offset,
        }
    }
}

/// A stable identity of one process instance (stays valid until its group is removed;
/// never reused within one `Supervisor`).
pub type ProcKey = u64;

/// An event of Supervisor's event system as typed values. The core never renders payload
/// text: the runtime hands these fields to the events crate, which renders each payload
/// once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `PROCESS_STATE_<TO>`: a process changed state.
    ProcessState(StateChange),
    /// `SUPERVISOR_STATE_CHANGE_RUNNING`: the main loop starts running.
    SupervisorRunning,
    /// `SUPERVISOR_STATE_CHANGE_STOPPING`: a shutdown or restart begins.
    SupervisorStopping,
    /// `PROCESS_GROUP_ADDED` for the named group.
    GroupAdded(String),
    /// `PROCESS_GROUP_REMOVED` for the named group.
    GroupRemoved(String),
    /// `TICK_5`/`TICK_60`/`TICK_3600` for the period boundary `when` (epoch seconds).
    Tick {
        /// One of the three TICK types.
        kind: EventType,
        /// The boundary the tick is for.
        when: i64,
    },
    /// `PROCESS_HEALTH_UNHEALTHY` / `PROCESS_HEALTH_HEALTHY` (supervisor-rs): a process's
    /// health check verdict changed (see `supervisor/health.rs`).
    Health(HealthChange),
}

/// A change of a process's health verdict, with what its payload carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// Process name.
    pub process: String,
    /// Group name.
    pub group: String,
    /// The child the verdict is about.
    pub pid: i32,
    /// True for HEALTHY (recovered), false for UNHEALTHY.
    pub healthy: bool,
    /// Consecutive failed checks (UNHEALTHY).
    pub failures: u32,
    /// What the daemon does about it: `restart`, `stop` or `none` (UNHEALTHY).
    pub action: &'static str,
    /// The last failure's reason (UNHEALTHY; `HTTP 503`, `connection refused`).
    pub reason: String,
}

impl Event {
    /// The concrete event type (`PROCESS_STATE_RUNNING`, ...).
    pub fn kind(&self) -> EventType {
        match self {
            Event::ProcessState(c) => match c.to {
                ProcessState::Stopped => EventType::ProcessStateStopped,
                ProcessState::Starting => EventType::ProcessStateStarting,
                ProcessState::Running => EventType::ProcessStateRunning,
                ProcessState::Backoff => EventType::ProcessStateBackoff,
                ProcessState::Stopping => EventType::ProcessStateStopping,
                ProcessState::Exited => EventType::ProcessStateExited,
                ProcessState::Fatal => EventType::ProcessStateFatal,
                ProcessState::Unknown => EventType::ProcessStateUnknown,
            },
            Event::SupervisorRunning => EventType::SupervisorStateChangeRunning,
            Event::SupervisorStopping => EventType::SupervisorStateChangeStopping,
            Event::GroupAdded(_) => EventType::ProcessGroupAdded,
            Event::GroupRemoved(_) => EventType::ProcessGroupRemoved,
            Event::Tick { kind, .. } => *kind,
            Event::Health(h) if h.healthy => EventType::ProcessHealthHealthy,
            Event::Health(_) => EventType::ProcessHealthUnhealthy,
        }
    }
}

/// One process state transition, with every value a `PROCESS_STATE_*` payload can carry
/// (which of them the payload shows depends on `to`; the events crate knows the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// Process name (`processname:`).
    pub process: String,
    /// Group name (`groupname:`).
    pub group: String,
    /// The state left (`from_state:`).
    pub from: ProcessState,
    /// The state entered; selects the event type.
    pub to: ProcessState,
    /// The backoff counter (`tries:`).
    pub tries: u32,
    /// Whether the exit status was one of `exitcodes` (`expected:`).
    pub expected: bool,
    /// The process's pid at the change (the pid that just died for EXITED/STOPPED; 0 when
    /// there is none).
    pub pid: i32,
}

/// Something the core decided that the runtime must carry out or publish.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A main-log line (the logger adds the timestamp and level tag).
    Log {
        /// Level of the line.
        level: LogLevel,
        /// Message text, exactly as the reference words it.
        text: String,
    },
    /// An event to hand to the event system.
    Event(Event),
    /// A group became active: open its processes' log files.
    GroupAdded {
        /// Group name.
        group: String,
        /// Its processes, in (priority, name) order.
        keys: Vec<ProcKey>,
    },
    /// A group was removed: close its processes' log files and forget their keys.
    GroupRemoved {
        /// Group name.
        group: String,
        /// Its processes.
        keys: Vec<ProcKey>,
    },
    /// The run ends by itself (`critical`, `exit_when_done`): the ordered shutdown has
    /// begun and the daemon exits with this status after it (see
    /// [`Supervisor::end_of_run`]).
    EndOfRun(EndOfRun),
    /// Start probing process `key`'s child `pid` with its check of `kind` (the runtime
    /// reports results with [`Supervisor::probe_report`] until it passes or is stopped).
    StartProbe {
        /// The process.
        key: ProcKey,
        /// Its child the probe is for.
        pid: i32,
        /// Which of its checks.
        kind: ProbeKind,
    },
    /// Stop the probe of `kind` for process `key`'s child `pid` (the wait ended).
    StopProbe {
        /// The process.
        key: ProcKey,
        /// Its child the probe was for.
        pid: i32,
        /// Which of its checks.
        kind: ProbeKind,
    },
}

/// Which check of a process a probe performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// `ready=`: STARTING → RUNNING when it passes.
    Ready,
    /// `healthcheck=`: tried every `healthcheck_interval` while RUNNING; every failure and
    /// the first pass after failures (or the first try) are reported, the core counts.
    Health,
}

/// What a probe found, fed back to the core with [`Supervisor::probe_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeReport {
    /// The check passed (the probe ended).
    Passed,
    /// A try failed, with the reason (`connection refused`, `HTTP 503`, `exit status 1`);
    /// the probe goes on trying.
    Failed(String),
    /// A `STATUS=` text from the process's notify socket.
    Status(String),
}

/// Where a main-log line goes the moment the core decides it (so its timestamp is the
/// time of the decision, not the end of a long transition pass).
pub type LogSink = Box<dyn FnMut(LogLevel, &str)>;

/// The queue of outputs, plus the optional immediate log sink.
#[derive(Default)]
pub(crate) struct Outbox {
    pub items: Vec<Output>,
    pub sink: Option<LogSink>,
}

impl Outbox {
    pub fn log(&mut self, level: LogLevel, text: String) {
        match &mut self.sink {
            Some(sink) => sink(level, &text),
            None => self.items.push(Output::Log { level, text }),
        }
    }

    pub fn push(&mut self, out: Output) {
        self.items.push(out);
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("items", &self.items)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// Why a `kill()` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillError {
    /// ESRCH: the process is already gone; its exit will be reaped. The text is the
    /// error as shown in the log (`[Errno 3] No such process`).
    NoSuchProcess(String),
    /// Anything else; the process goes to UNKNOWN with this text in a CRIT line.
    Other(String),
}

/// What kind of failure a `spawn()` was (how it maps onto XML-RPC faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnFailureKind {
    /// The command was not found (fault `NO_FILE`).
    NoFile,
    /// The command cannot be parsed or run (fault `NOT_EXECUTABLE`).
    NotExecutable,
    /// Pipes, fork, sockets or environment could not be set up.
    Other,
}

/// Why a `spawn()` failed. `message` is the reference's `spawnerr` text
/// (`can't find command 'x'`, ...), logged and recorded as is; `Display` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnFailure {
    /// Which kind of failure it was.
    pub kind: SpawnFailureKind,
    /// The `spawnerr` text.
    pub message: String,
}

impl SpawnFailure {
    /// A failure of `kind` with the `spawnerr` text `message`.
    pub fn new(kind: SpawnFailureKind, message: impl Into<String>) -> Self {
        SpawnFailure {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnFailure {}

/// The side of the outside world the state machine needs answers from at once.
pub trait Host {
    /// Forks and execs the process `key` with `config`. Returns the child's pid, or
    /// why it failed (its `message` is the reference's `spawnerr` text).
    fn spawn(
        &mut self,
        key: ProcKey,
        config: &supervisor_config::ProcessConfig,
    ) -> Result<i32, SpawnFailure>;
    /// Sends `signal` to `pid` (a negative pid addresses the process group).
    fn kill(&mut self, pid: i32, signal: i32) -> Result<(), KillError>;
    /// Whether the current tick may still make automatic restarts (autorestart, BACKOFF
    /// retries): the runtime bounds the time one tick spends spawning, so that a crash
    /// loop on a busy machine cannot keep the loop from its clients. Those not made stay
    /// due for the next tick. The default has no bound.
    fn may_restart(&self) -> bool {
        true
    }
    /// A uniform random number in [0, 1) for `backoff_jitter` (asked only when a process
    /// has jitter). The core holds no random state: the runtime draws from its generator,
    /// a test host replays a fixed sequence. The default (no generator) is 0.5.
    fn random_fraction(&mut self) -> f64 {
        0.5
    }
}

/// The signal numbers the core acts on, as the platform defines them. The runtime fills
/// this from libc; the core never hand-codes a number, so it is right on any unix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// SIGHUP: restart request.
    pub hup: i32,
    /// SIGINT: exit request.
    pub int: i32,
    /// SIGQUIT: exit request.
    pub quit: i32,
    /// SIGTERM: exit request.
    pub term: i32,
    /// SIGCHLD: a child quit (logged only; reaping is the runtime's job).
    pub chld: i32,
    /// SIGUSR2: reopen the log files.
    pub usr2: i32,
    /// SIGKILL: what a process gets when `stopwaitsecs` runs out.
    pub kill: i32,
}
