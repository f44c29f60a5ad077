//! One supervised process: the reference's state machine, driven by calls from the
//! [`Supervisor`](super::Supervisor).

use super::text::{decode_wait_status, signal_name};
use super::{Event, Host, KillError, LogLevel, Now, Outbox, Output, ProcKey, StateChange};
use supervisor_config::{AutoRestart, ProcessConfig};
use supervisor_protocol::{ProcessState, SupervisorState};

/// The text recorded as `spawnerr` when a process dies before `startsecs`.
pub(crate) const EXITED_TOO_QUICKLY: &str = "Exited too quickly (process log may have details)";

/// A run shorter than this (seconds, start to exit) is a quick exit: after two in a row,
/// the automatic restart waits for [`MIN_RESPAWN_INTERVAL`].
pub(crate) const QUICK_EXIT: f64 = 0.25;

/// A process whose last two runs both ended quickly is restarted automatically
/// (`autorestart`) no sooner than this many seconds after its previous start, so a crash
/// loop costs at most one spawn per second per program. The first quick exit, and any exit
/// after a longer run, is restarted at once. Not in the reference (see
/// docs/COMPATIBILITY.md).
pub(crate) const MIN_RESPAWN_INTERVAL: f64 = 1.0;

/// What the process methods need from their caller: the time, the host and the outbox.
pub(crate) struct Ctx<'a> {
    pub now: Now,
    pub host: &'a mut dyn Host,
    pub out: &'a mut Outbox,
    /// Automatic (re)starts (autorestart, BACKOFF retries) this transition pass may still
    /// make; the rest wait for the next pass, so the loop serves its clients in between.
    pub restarts_left: u32,
    /// The platform's SIGKILL number (from [`Signals`](super::Signals)).
    pub sigkill: i32,
}

impl Ctx<'_> {
    fn log(&mut self, level: LogLevel, text: String) {
        self.out.log(level, text);
    }

    /// Takes one automatic (re)start from the pass's budget; false when none is left.
    fn take_restart(&mut self) -> bool {
        if self.restarts_left == 0 || !self.host.may_restart() {
            return false;
        }
        self.restarts_left -= 1;
        true
    }
}

/// One process instance and its state machine.
#[derive(Debug, Clone)]
pub struct Process {
    pub(crate) key: ProcKey,
    pub(crate) config: ProcessConfig,
    pub(crate) state: ProcessState,
    pub(crate) pid: i32,
    /// Monotonic and wall time of the last spawn attempt (`None` = never started).
    pub(crate) laststart: Option<Now>,
    /// Wall time of the last exit (0 = never).
    pub(crate) laststop_wall: f64,
    /// Monotonic deadline: startsecs while STARTING, retry time while BACKOFF, SIGKILL time
    /// while STOPPING.
    pub(crate) delay: f64,
    pub(crate) backoff: u32,
    pub(crate) killing: bool,
    pub(crate) spawnerr: Option<String>,
    pub(crate) exitstatus: Option<i32>,
    /// Monotonic time of the last `waiting for x to stop` line (None = not yet).
    pub(crate) laststopreport: Option<f64>,
    /// Monotonic time before which an automatic restart from EXITED must not happen
    /// (`-inf` = at once): set after a second quick exit, see [`MIN_RESPAWN_INTERVAL`].
    pub(crate) respawn_at: f64,
    /// How many runs in a row ended within [`QUICK_EXIT`] of their start.
    pub(crate) quick_exits: u32,
    /// Resolved log paths (AUTO names are chosen by the runtime).
    pub(crate) stdout_logfile: String,
    pub(crate) stderr_logfile: String,
    /// Children forked for this process since the table was built (for the stats).
    pub(crate) spawns: u64,
    /// The exit code of the last run that ended, kept across restarts (for the stats).
    pub(crate) last_exit: Option<i32>,
    /// The raw wait status of the last run that ended (for `critical`'s exit status).
    pub(crate) last_wait_status: Option<i32>,
    /// Readiness (`ready=`) of the current run (see `supervisor/ready.rs`).
    pub(crate) ready: crate::supervisor::Readiness,
    /// Liveness health check (`healthcheck=`) state (see `supervisor/health.rs`).
    pub(crate) health: crate::supervisor::Health,
    /// Dependencies (`depends_on=`): the wait and the `done` counter (see
    /// `supervisor/deps.rs`).
    pub(crate) deps: crate::supervisor::DepProc,
    /// `restart_delay=` bookkeeping (see `supervisor/backoff.rs`).
    pub(crate) restart_wait: crate::supervisor::RestartWait,
    /// Memory/CPU guards (`max_memory=`, `max_cpu_percent=`; see `supervisor/guard.rs`).
    pub(crate) guard: crate::supervisor::GuardProc,
}

impl Process {
    pub(crate) fn new(key: ProcKey, config: ProcessConfig) -> Process {
        Process {
            key,
            config,
            state: ProcessState::Stopped,
            pid: 0,
            laststart: None,
            laststop_wall: 0.0,
            delay: 0.0,
            backoff: 0,
            killing: false,
            spawnerr: None,
            exitstatus: None,
            laststopreport: None,
            respawn_at: f64::NEG_INFINITY,
            quick_exits: 0,
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
            ready: Default::default(),
            health: Default::default(),
            deps: Default::default(),
            restart_wait: Default::default(),
            guard: Default::default(),
            spawns: 0,
            last_exit: None,
            last_wait_status: None,
        }
    }

    /// The stable key of this process.
    pub fn key(&self) -> ProcKey {
        self.key
    }
    /// Its configuration.
    pub fn config(&self) -> &ProcessConfig {
        &self.config
    }
    /// Process name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
    /// Group name.
    pub fn group(&self) -> &str {
        &self.config.group
    }
    /// Current state.
    pub fn state(&self) -> ProcessState {
        self.state
    }
    /// The live pid, 0 when none.
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// The current backoff counter (`tries` in events).
    pub fn backoff(&self) -> u32 {
        self.backoff
    }
    /// The recorded spawn error, if any.
    pub fn spawnerr(&self) -> Option<&str> {
        self.spawnerr.as_deref()
    }
    /// The last exit status (None when cleared).
    pub fn exitstatus(&self) -> Option<i32> {
        self.exitstatus
    }
    /// True while a stop/kill signal has been sent and the exit is awaited.
    pub fn is_killing(&self) -> bool {
        self.killing
    }
    /// Wall-clock epoch seconds of the last spawn attempt (0 = never started).
    pub fn start_wall(&self) -> f64 {
        self.laststart.map_or(0.0, |t| t.wall)
    }
    /// Wall-clock epoch seconds of the last exit (0 = never).
    pub fn stop_wall(&self) -> f64 {
        self.laststop_wall
    }
    /// The resolved stdout log path ('' when not logged).
    pub fn stdout_logfile(&self) -> &str {
        &self.stdout_logfile
    }
    /// The resolved stderr log path ('' when not logged).
    pub fn stderr_logfile(&self) -> &str {
        &self.stderr_logfile
    }
    /// How many times a child was forked again after the first one since the daemon built
    /// its process table (automatic and requested restarts alike; 0 before the first
    /// start and after it).
    pub fn restarts(&self) -> u64 {
        self.spawns.saturating_sub(1)
    }
    /// The exit code of the last run that ended (`None` = none ended yet). Unlike
    /// [`Process::exitstatus`] it is not cleared when the process starts again.
    pub fn last_exit(&self) -> Option<i32> {
        self.last_exit
    }

    fn event(&self, to: ProcessState, from: ProcessState, expected: bool) -> Event {
        Event::ProcessState(StateChange {
            process: self.config.name.clone(),
            group: self.config.group.clone(),
            from,
            to,
            tries: self.backoff,
            expected,
            pid: self.pid,
        })
    }

    /// Moves to `new`, bumping the backoff counter on BACKOFF and emitting the state event.
    pub(crate) fn change_state(&mut self, ctx: &mut Ctx<'_>, new: ProcessState, expected: bool) {
        let old = self.state;
        if new == old {
            return;
        }
        self.state = new;
        self.restart_state_changed(ctx.now.mono, new);
        if new == ProcessState::Backoff {
            // the counter and the retry time (supervisor/backoff.rs)
            self.enter_backoff(ctx);
        }
        self.ready_state_changed(ctx, old, new);
        self.health_state_changed(ctx, old, new);
        let ev = self.event(new, old, expected);
        ctx.out.push(Output::Event(ev));
    }

    /// Starts the process (STOPPED/EXITED/FATAL/BACKOFF → STARTING, then BACKOFF on a spawn
    /// error). Returns the new pid if a child was forked.
    pub(crate) fn spawn(&mut self, ctx: &mut Ctx<'_>) -> Option<i32> {
        if self.pid != 0 {
            ctx.log(
                LogLevel::Warn,
                format!("process '{}' already running", self.config.name),
            );
            return None;
        }
        if self.dependency_gate(ctx) {
            // depends_on=: STARTING with pid 0 until the dependencies are up (deps.rs).
            return None;
        }
        self.killing = false;
        self.spawnerr = None;
        self.exitstatus = None;
        self.laststart = Some(ctx.now);
        self.respawn_at = f64::NEG_INFINITY;
        self.change_state(ctx, ProcessState::Starting, true);
        match ctx.host.spawn(self.key, &self.config) {
            Err(failure) => {
                let msg = failure.message;
                ctx.log(LogLevel::Info, format!("spawnerr: {msg}"));
                self.spawnerr = Some(msg);
                self.change_state(ctx, ProcessState::Backoff, true);
                None
            }
            Ok(pid) => {
                self.pid = pid;
                self.spawns = self.spawns.saturating_add(1);
                ctx.log(
                    LogLevel::Info,
                    format!("spawned: '{}' with pid {}", self.config.name, pid),
                );
                self.spawnerr = None;
                self.delay = ctx.now.mono + self.config.startsecs as f64;
                self.ready_spawned(ctx);
                Some(pid)
            }
        }
    }

    /// One pass of the reference's `transition()`. `mood` gates every automatic (re)start.
    /// Returns true when the state changed.
    pub(crate) fn transition(&mut self, ctx: &mut Ctx<'_>, mood: SupervisorState) -> bool {
        if self.deps.wait.is_some() {
            return false; // waiting for dependencies: the supervisor decides (deps.rs)
        }
        let before = self.state;
        let state = self.state;
        let now = ctx.now.mono;
        if mood == SupervisorState::Running {
            match state {
                ProcessState::Exited
                    if self.autorestarts() && now >= self.respawn_at && ctx.take_restart() =>
                {
                    self.spawn(ctx);
                }
                ProcessState::Stopped if self.laststart.is_none() && self.config.autostart => {
                    self.spawn(ctx);
                }
                // Stopped by `healthcheck_action = restart` (supervisor/health.rs).
                ProcessState::Stopped if self.health_restart_pending() && ctx.take_restart() => {
                    self.health_cancel_restart();
                    self.spawn(ctx);
                }
                ProcessState::Backoff
                    if !self.retries_exhausted() && now > self.delay && ctx.take_restart() =>
                {
                    self.spawn(ctx);
                }
                _ => {}
            }
        }
        if state == ProcessState::Running && self.has_health_check() {
            // `healthcheck_start_delay` (supervisor/health.rs).
            self.health_transition(ctx);
        }
        if state == ProcessState::Starting && self.has_ready_check() {
            // `ready=`: RUNNING comes from the check (supervisor/ready.rs), not startsecs.
            self.ready_transition(ctx);
        } else if state == ProcessState::Starting {
            let started = self.laststart.map_or(now, |t| t.mono);
            if now - started > self.config.startsecs as f64 {
                self.delay = 0.0;
                self.backoff = 0;
                self.change_state(ctx, ProcessState::Running, true);
                ctx.log(
                    LogLevel::Info,
                    format!(
                        "success: {} entered RUNNING state, process has stayed up for > than {} seconds (startsecs)",
                        self.config.name, self.config.startsecs
                    ),
                );
            }
        }
        if state == ProcessState::Backoff {
            if self.retries_exhausted() {
                self.give_up(ctx);
                ctx.log(
                    LogLevel::Info,
                    format!(
                        "gave up: {} entered FATAL state, too many start retries too quickly",
                        self.config.name
                    ),
                );
            }
        } else if state == ProcessState::Stopping && self.delay - now <= 0.0 {
            ctx.log(
                LogLevel::Warn,
                format!("killing '{}' ({}) with SIGKILL", self.config.name, self.pid),
            );
            let sigkill = ctx.sigkill;
            self.kill(ctx, sigkill);
        }
        self.state != before
    }

    /// BACKOFF → FATAL (no log line of its own: callers add `gave up` when appropriate).
    pub(crate) fn give_up(&mut self, ctx: &mut Ctx<'_>) {
        self.delay = 0.0;
        self.backoff = 0;
        self.change_state(ctx, ProcessState::Fatal, true);
    }

    /// Administrative stop: the configured stop signal.
    pub(crate) fn stop(&mut self, ctx: &mut Ctx<'_>) -> Option<String> {
        self.laststopreport = None;
        self.health_cancel_restart();
        let sig = self.config.stopsignal;
        self.kill(ctx, sig)
    }

    /// Logs `waiting for x to stop` at most every 2 seconds while STOPPING.
    pub(crate) fn stop_report(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == ProcessState::Stopping {
            let now = ctx.now.mono;
            if self.laststopreport.is_none_or(|t| now > t + 2.0) {
                ctx.log(
                    LogLevel::Info,
                    format!("waiting for {} to stop", self.config.name),
                );
                self.laststopreport = Some(now);
            }
        }
    }

    /// Sends `sig` intending the process to exit. Returns an error text when the process
    /// was not running or the signal could not be sent.
    pub(crate) fn kill(&mut self, ctx: &mut Ctx<'_>, sig: i32) -> Option<String> {
        let name = self.config.name.clone();
        if self.state == ProcessState::Backoff {
            ctx.log(
                LogLevel::Debug,
                format!("Attempted to kill {name}, which is in BACKOFF state."),
            );
            self.change_state(ctx, ProcessState::Stopped, true);
            return None;
        }
        if self.deps.wait.is_some() {
            self.cancel_dependency_wait(ctx);
            return None;
        }
        if self.pid == 0 {
            let msg = format!(
                "attempted to kill {name} with sig {} but it wasn't running",
                signal_name(sig)
            );
            ctx.log(LogLevel::Debug, msg.clone());
            return Some(msg);
        }
        let as_group = if self.state == ProcessState::Stopping {
            self.config.killasgroup
        } else {
            self.config.stopasgroup
        };
        ctx.log(
            LogLevel::Debug,
            format!(
                "killing {name} (pid {}) {}with signal {}",
                self.pid,
                if as_group { "process group " } else { "" },
                signal_name(sig)
            ),
        );
        self.killing = true;
        self.delay = ctx.now.mono + self.config.stopwaitsecs as f64;
        self.change_state(ctx, ProcessState::Stopping, true);
        let target = if as_group { -self.pid } else { self.pid };
        match ctx.host.kill(target, sig) {
            Ok(()) => None,
            Err(KillError::NoSuchProcess(e)) => {
                ctx.log(
                    LogLevel::Debug,
                    format!(
                        "unable to signal {name} (pid {}), it probably just exited on its own: {e}",
                        self.pid
                    ),
                );
                None
            }
            Err(KillError::Other(e)) => {
                let msg = format!("unknown problem killing {name} ({}):{e}", self.pid);
                ctx.log(LogLevel::Critical, msg.clone());
                self.change_state(ctx, ProcessState::Unknown, true);
                self.killing = false;
                self.delay = 0.0;
                Some(msg)
            }
        }
    }

    /// Sends an arbitrary signal without changing state (`signalProcess`).
    pub(crate) fn signal(&mut self, ctx: &mut Ctx<'_>, sig: i32) -> Option<String> {
        let name = self.config.name.clone();
        if self.pid == 0 {
            let msg = format!(
                "attempted to send {name} sig {} but it wasn't running",
                signal_name(sig)
            );
            ctx.log(LogLevel::Debug, msg.clone());
            return Some(msg);
        }
        ctx.log(
            LogLevel::Debug,
            format!("sending {name} (pid {}) sig {}", self.pid, signal_name(sig)),
        );
        match ctx.host.kill(self.pid, sig) {
            Ok(()) => None,
            Err(KillError::NoSuchProcess(e)) => {
                ctx.log(
                    LogLevel::Debug,
                    format!(
                        "unable to signal {name} (pid {}), it probably just now exited on its own: {e}",
                        self.pid
                    ),
                );
                None
            }
            Err(KillError::Other(e)) => {
                let msg = format!("unknown problem sending sig {name} ({}):{e}", self.pid);
                ctx.log(LogLevel::Critical, msg.clone());
                self.change_state(ctx, ProcessState::Unknown, true);
                Some(msg)
            }
        }
    }

    /// The process was reaped with raw wait `status`.
    ///
    /// Difference from the reference: a reaped process in UNKNOWN state (a failed `kill()`)
    /// goes to EXITED instead of tripping an internal assertion.
    pub(crate) fn finish(&mut self, ctx: &mut Ctx<'_>, status: i32) {
        let exit = decode_wait_status(status);
        let now = ctx.now;
        self.laststop_wall = now.wall;
        self.last_exit = Some(exit.code);
        self.last_wait_status = Some(status);
        let name = self.config.name.clone();
        let started = self.laststart.map_or(now.mono, |t| t.mono);
        let ran_for = now.mono - started;
        let too_quickly = ran_for < self.config.startsecs as f64;
        self.quick_exits = if ran_for < QUICK_EXIT {
            self.quick_exits.saturating_add(1)
        } else {
            0
        };
        self.respawn_at = if self.quick_exits >= 2 {
            started + MIN_RESPAWN_INTERVAL
        } else {
            f64::NEG_INFINITY
        };
        let expected = self.config.exitcodes.contains(&exit.code);
        if self.ready_exit(ctx, &exit) {
            // A `ready=` process that died before it was ready: BACKOFF (ready.rs).
        } else if self.killing {
            self.killing = false;
            self.delay = 0.0;
            self.exitstatus = Some(exit.code);
            self.change_state(ctx, ProcessState::Stopped, true);
            let level = if expected {
                LogLevel::Info
            } else {
                LogLevel::Warn
            };
            ctx.log(level, format!("stopped: {name} ({})", exit.text));
        } else if too_quickly && self.state == ProcessState::Starting {
            self.exitstatus = None;
            self.spawnerr = Some(EXITED_TOO_QUICKLY.to_string());
            self.change_state(ctx, ProcessState::Backoff, true);
            ctx.log(
                LogLevel::Warn,
                format!("exited: {name} ({}; not expected)", exit.text),
            );
        } else {
            self.delay = 0.0;
            self.backoff = 0;
            self.exitstatus = Some(exit.code);
            if self.state == ProcessState::Starting {
                self.change_state(ctx, ProcessState::Running, true);
            }
            if expected {
                self.count_done_run(exit.code);
                self.change_state(ctx, ProcessState::Exited, true);
                ctx.log(
                    LogLevel::Info,
                    format!("exited: {name} ({}; expected)", exit.text),
                );
            } else {
                self.spawnerr = Some(format!("Bad exit code {}", exit.code));
                self.change_state(ctx, ProcessState::Exited, false);
                ctx.log(
                    LogLevel::Warn,
                    format!("exited: {name} ({}; not expected)", exit.text),
                );
            }
            // `restart_delay` (supervisor-rs): wait in BACKOFF before the autorestart.
            self.delay_restart(ctx);
        }
        self.pid = 0;
    }

    /// The monotonic time at which this process next needs a transition, if any.
    pub(crate) fn deadline(&self, mood: SupervisorState) -> Option<f64> {
        match self.state {
            ProcessState::Starting if self.pid != 0 && self.has_ready_check() => {
                self.ready_due().map(|t| t + TIMER_SLACK)
            }
            ProcessState::Starting if self.pid != 0 => {
                let started = self.laststart.map_or(0.0, |t| t.mono);
                // `>` is strict: wake just after the boundary.
                Some(started + self.config.startsecs as f64 + TIMER_SLACK)
            }
            ProcessState::Backoff => {
                if self.retries_exhausted() {
                    Some(f64::NEG_INFINITY)
                } else if mood == SupervisorState::Running {
                    Some(self.delay + TIMER_SLACK)
                } else {
                    None
                }
            }
            ProcessState::Stopping => Some(self.delay),
            ProcessState::Running => self.health_due().map(|t| t + TIMER_SLACK),
            ProcessState::Stopped
                if mood == SupervisorState::Running && self.health_restart_pending() =>
            {
                Some(f64::NEG_INFINITY)
            }
            // A restart held back after a quick exit (`-inf` = at once).
            ProcessState::Exited if mood == SupervisorState::Running && self.autorestarts() => {
                Some(self.respawn_at + TIMER_SLACK)
            }
            _ => None,
        }
    }

    /// The earliest monotonic time at which a transition pass in the RUNNING mood could
    /// change this process without an outside input, or `None` when only an input can.
    /// A lower bound of what [`transition`](Process::transition) tests (an early pass does
    /// nothing; a missed one would be a bug).
    pub(crate) fn due_at(&self) -> Option<f64> {
        if self.wants_immediate_start() {
            return Some(f64::NEG_INFINITY);
        }
        match self.state {
            // Waiting for dependencies: only another process's change can end it.
            ProcessState::Starting if self.deps.wait.is_some() => None,
            // `now - started > startsecs`: a microsecond early, so rounding of the sum
            // can never make it late.
            ProcessState::Starting if self.has_ready_check() => self.ready_due(),
            ProcessState::Starting => Some(self.laststart.map_or(f64::NEG_INFINITY, |t| {
                t.mono + self.config.startsecs as f64 - 1e-6
            })),
            ProcessState::Backoff if self.retries_exhausted() => Some(f64::NEG_INFINITY),
            // Retry when `now > delay`; SIGKILL when `delay - now <= 0`.
            ProcessState::Backoff | ProcessState::Stopping => Some(self.delay),
            ProcessState::Exited if self.autorestarts() => Some(self.respawn_at),
            ProcessState::Running => self.health_due(),
            _ => None,
        }
    }

    /// True when the process would be (re)started by the next transition pass right now.
    /// A restart held back after a quick exit is not immediate: its time is in
    /// [`deadline`](Process::deadline) and [`due_at`](Process::due_at).
    pub(crate) fn wants_immediate_start(&self) -> bool {
        match self.state {
            ProcessState::Exited => self.autorestarts() && self.respawn_at == f64::NEG_INFINITY,
            ProcessState::Stopped => {
                (self.laststart.is_none() && self.config.autostart) || self.health_restart_pending()
            }
            _ => false,
        }
    }

    /// Whether `autorestart` asks for a restart after the last exit (in EXITED).
    pub(crate) fn autorestarts(&self) -> bool {
        match self.config.autorestart {
            AutoRestart::Always => true,
            AutoRestart::Unexpected => !self
                .exitstatus
                .is_some_and(|es| self.config.exitcodes.contains(&es)),
            AutoRestart::Never => false,
        }
    }
}

/// How far past a strict `>` boundary the loop wakes (one millisecond).
pub(crate) const TIMER_SLACK: f64 = 0.001;
