//! The event loop: one tokio current-thread runtime whose main task owns the
//! [`Supervisor`] and turns the outside world into core inputs.
//!
//! Inputs: signals (TERM/INT/QUIT shut down, HUP restarts, USR2 reopens logs, CHLD reaps),
//! the deadline the core asks for (no periodic wake-up), RPC requests from the HTTP
//! servers (answered at once or parked until their condition holds), and messages from the
//! pipe reader tasks. Child output never passes through the loop on its way to the log
//! file: each pipe has a reader task that writes straight into its channel's file.
//!
//! Reaping uses `waitpid(-1, WNOHANG)` until nothing is left, so re-parented orphans are
//! reaped too (PID 1 in a container). Unlike the reference, an unknown pid is logged at
//! DEBUG, not INFO (see docs/COMPATIBILITY.md).

mod backend;
mod io;
mod observe;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::core::{
    KillResult, LogLevel, Now, Output, ProcKey, Signals, Supervisor, SupervisorState,
};
use crate::logs::childlog::AutoLogFile;
use crate::logs::{Channel, ChannelLogger, MainLog};
use crate::rpc::{self, ControlRequest, Pending};
use supervisor_config::{Config, GroupKind};
use supervisor_events::{EventBus, PoolSpec};
use tokio::sync::Notify;

pub use io::{ProcIo, RealHost};

/// How a run of the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every process is stopped after a shutdown request: exit 0.
    Shutdown,
    /// Every process is stopped after a restart request: re-read the config and run again
    /// in the same process.
    Restart,
    /// The run ended by itself (a `critical` program went down, `exit_when_done`): every
    /// process is stopped, exit with this status (see docs/configuration.md).
    Status(i32),
}

/// A failure before the loop started (the daemon prints it like a usage error, exit 2).
#[derive(Debug)]
pub struct StartupError(pub String);

/// Produces a freshly parsed config (for `reloadConfig`); the error is the message text.
pub type ConfigLoader = Box<dyn Fn() -> Result<Config, String>>;

/// The clock the loop feeds the core.
#[derive(Debug)]
pub struct Clock {
    origin: Instant,
    /// (wall second, UTC offset) of the last local-time lookup: the offset is looked up
    /// at most once per wall-clock second (it can only change on a second boundary), so
    /// listing 1,000 processes does not consult the time zone 1,000 times.
    offset: std::cell::Cell<(i64, i32)>,
}

impl Clock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Clock {
        Clock {
            origin: Instant::now(),
            offset: std::cell::Cell::new((i64::MIN, 0)),
        }
    }

    /// The current time for the core.
    pub fn now(&self) -> Now {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let second = wall.floor() as i64;
        let (cached_second, cached_offset) = self.offset.get();
        let utc_offset = if cached_second == second {
            cached_offset
        } else {
            let o = chrono::Local::now().offset().local_minus_utc();
            self.offset.set((second, o));
            o
        };
        Now {
            mono: self.origin.elapsed().as_secs_f64(),
            wall,
            utc_offset,
        }
    }

    /// The instant corresponding to a monotonic core time, or `None` for a time so far
    /// ahead ([`NEVER_AFTER`] from the origin, or not a number) that it stands for
    /// "never": a `startsecs=9223372036854775807` deadline must not overflow `Instant`.
    pub fn instant(&self, mono: f64) -> Option<Instant> {
        if mono.is_nan() || mono >= NEVER_AFTER.as_secs_f64() {
            return None;
        }
        let offset = Duration::try_from_secs_f64(mono.max(0.0)).ok()?;
        self.origin.checked_add(offset)
    }
}

/// Deadlines further than this from the loop's start (about 100 years) are never reached:
/// the loop does not set a timer for them.
pub const NEVER_AFTER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Everything the loop owns. The RPC layer sees it through [`rpc::Backend`].
pub struct Daemon {
    /// The process table.
    sup: Supervisor,
    /// Spawns, kills and per-process I/O.
    host: RealHost,
    /// The config in force (from the last start or restart).
    config: Rc<Config>,
    /// The main log.
    mainlog: Rc<RefCell<MainLog>>,
    /// The clock.
    clock: Clock,
    /// Re-reads the config file.
    loader: ConfigLoader,
    /// The event bus: listener pools and `/events` subscribers. It lives as long as the
    /// daemon process (the global serial continues across restarts) and is shared with
    /// the pipe reader tasks, which publish output events and feed listener output.
    bus: Rc<RefCell<EventBus>>,
    /// Poked when something fed the bus outside the loop task (a pipe reader): the loop
    /// then dispatches and writes the bus's log lines.
    bus_wake: Rc<Notify>,
    /// Whether the core currently generates TICK events (someone subscribes to them).
    ticks_on: bool,
    /// The `/events` subscriptions made during this run (ended when the run ends, so
    /// their HTTP responses finish instead of holding the exit for the drain timeout).
    streams: Vec<supervisor_events::StreamId>,
    /// Set once the loop published SUPERVISOR_STATE_CHANGE_STOPPING itself (see
    /// [`Daemon::tick`]); the core's own copy of that event is then dropped.
    stopping_announced: bool,
    /// Until when (monotonic seconds) the shutdown waits for busy listeners to take the
    /// events queued for them (see [`Daemon::tick`]); `None` once it went ahead.
    stop_grace_until: Option<f64>,
    /// fcgi sockets that could not be created when their group was added.
    fcgi_errors: Vec<String>,
    /// Groups of the loaded config whose AUTO log names are known (instantiated from it).
    auto_resolved: std::collections::HashSet<String>,
    /// AUTO logs of the start-up config named but maybe not created yet, with their owner
    /// (see [`Daemon::start_auto_logs`]). Empty once all are resolved.
    auto_logs: Vec<(ProcKey, Channel, Arc<AutoLogFile>)>,
    /// True while [`Daemon::open_logs`] only names AUTO files (building the start-up
    /// process table).
    defer_auto: bool,
    /// Poked by the thread creating the AUTO logs when it is done.
    auto_logs_done: Arc<Notify>,
    /// Process state changes (and groups added/removed) published so far: parked calls
    /// are looked at again only when it moved (or a timer fired), never on a timer.
    state_changes: u64,
    /// The per-process stats' history (CPU % needs the previous sample); read only when
    /// a client asks (see `stats`).
    stats: crate::stats::Sampler,
    /// Memory/CPU guard sampling (crate::cgroup::guard).
    guards: crate::cgroup::guard::GuardRunner,
    /// Results of the probes (`ready=` checks), taken by the loop when it starts.
    probe_rx: Option<mpsc::UnboundedReceiver<crate::probe::ProbeMsg>>,
}

impl Daemon {
    /// Builds the process table from `config` (creating AUTO log files now) without
    /// spawning anything. `bus` is cleared (its pools are rebuilt from `config`).
    pub fn new(
        config: Config,
        mainlog: Rc<RefCell<MainLog>>,
        loader: ConfigLoader,
        bus: Rc<RefCell<EventBus>>,
    ) -> Daemon {
        {
            let mut b = bus.borrow_mut();
            b.clear();
            b.set_identifier(&config.supervisord.identifier);
            b.set_min_log_level(bus_level_for(mainlog.borrow().level()));
        }
        let bus_wake = Rc::new(Notify::new());
        let d_childlogdir_is_absolute = config.supervisord.childlogdir.is_absolute();
        let auto_resolved = config.groups.iter().map(|g| g.name.clone()).collect();
        let config = Rc::new(config);
        let mut sup = Supervisor::new(config.groups.clone(), platform_signals());
        sup.set_exit_when_done(config.supervisord.exit_when_done);
        let sink_log = mainlog.clone();
        sup.set_log_sink(Box::new(move |level, text| {
            sink_log.borrow_mut().log(level, text)
        }));
        let (probe_tx, probe_rx) = mpsc::unbounded_channel();
        let host = RealHost {
            probes: crate::probe::Probes::new(probe_tx),
            config: config.clone(),
            io: HashMap::new(),
            mainlog: mainlog.clone(),
            bus: bus.clone(),
            bus_wake: bus_wake.clone(),
            fcgi: HashMap::new(),
            unopened_logs: 0,
            spawn_time: Duration::ZERO,
            cgroups: Default::default(),
        };
        let mut d = Daemon {
            sup,
            host,
            config,
            mainlog,
            clock: Clock::new(),
            loader,
            bus,
            bus_wake,
            ticks_on: false,
            streams: Vec::new(),
            stopping_announced: false,
            stop_grace_until: None,
            fcgi_errors: Vec::new(),
            auto_resolved,
            auto_logs: Vec::new(),
            // The files are created after daemonizing (a thread would not survive the
            // fork), relative to the directory of the moment: only absolute ones wait.
            defer_auto: d_childlogdir_is_absolute,
            auto_logs_done: Arc::new(Notify::new()),
            state_changes: 0,
            stats: crate::stats::Sampler::new(),
            guards: Default::default(),
            probe_rx: Some(probe_rx),
        };
        d.apply_outputs();
        for (level, text) in d.host.cgroups.start(&d.config) {
            d.log(level, &text);
        }
        d.defer_auto = false;
        // Child log files live in a bounded cache of open files (logs::filecache): the
        // AUTO logs still to open never need more descriptors than it keeps open.
        d.host.unopened_logs = d
            .auto_logs
            .len()
            .min(crate::logs::filecache::FileCache::shared().capacity());
        d
    }

    /// Starts creating the AUTO logs named at start-up on another thread, while this one
    /// goes on to spawn the programs. [`Daemon::finish_auto_logs`] completes the job.
    pub fn start_auto_logs(&mut self) {
        if self.auto_logs.is_empty() {
            return;
        }
        let files = self.auto_logs.iter().map(|(_, _, f)| f.clone()).collect();
        let done = self.auto_logs_done.clone();
        crate::logs::childlog::create_in_background(files, move || done.notify_one());
    }

    /// Makes sure every AUTO log named at start-up exists and is open (creating on this
    /// thread what the background thread has not reached), logs the ones that could not
    /// be created, and corrects the reported paths. Called when the background thread is
    /// done, before any control request is served, and at exit.
    pub fn finish_auto_logs(&mut self) {
        if self.auto_logs.is_empty() {
            return;
        }
        let mut touched = Vec::new();
        for (key, chan, auto) in std::mem::take(&mut self.auto_logs) {
            let Some(io) = self.host.io.get(&key) else {
                continue;
            };
            let logger = match chan {
                Channel::Stdout => Some(&io.stdout),
                Channel::Stderr => io.stderr.as_ref(),
            };
            let opened = logger.map(|l| l.borrow_mut().resolve());
            let name = || {
                self.sup
                    .process(key)
                    .map(|p| p.config().name.clone())
                    .unwrap_or_default()
            };
            if let Err(e) = auto.create() {
                let text = format!(
                    "could not create {} log for '{}': {e}",
                    chan.as_str(),
                    name()
                );
                self.log(LogLevel::Critical, &text);
            } else if let Some(Err(e)) = opened {
                // Created but not opened (out of descriptors, say): its output is lost,
                // which must not go unsaid.
                let text = format!("could not open {} log for '{}': {e}", chan.as_str(), name());
                self.log(LogLevel::Critical, &text);
            }
            if touched.last() != Some(&key) {
                touched.push(key);
            }
        }
        for key in touched {
            let Some(io) = self.host.io.get(&key) else {
                continue;
            };
            let show = |l: Option<&Rc<RefCell<ChannelLogger>>>| {
                l.and_then(|l| l.borrow().path().map(|p| p.display().to_string()))
                    .unwrap_or_default()
            };
            let (out, err) = (show(Some(&io.stdout)), show(io.stderr.as_ref()));
            self.sup.set_log_paths(key, out, err);
        }
        self.host.unopened_logs = 0;
    }

    /// Logs a main-log line.
    pub fn log(&self, level: LogLevel, text: &str) {
        self.mainlog.borrow_mut().log(level, text);
    }

    /// Carries out what the core queued, in order: log lines, events (to the bus), log
    /// files and listener pools of added/removed groups; then lets the bus dispatch.
    pub fn apply_outputs(&mut self) {
        for out in self.sup.drain_output() {
            if matches!(
                out,
                Output::Event(crate::core::Event::ProcessState(_))
                    | Output::GroupAdded { .. }
                    | Output::GroupRemoved { .. }
            ) {
                self.state_changes = self.state_changes.wrapping_add(1);
            }
            match out {
                Output::Log { level, text } => self.mainlog.borrow_mut().log(level, &text),
                // Logged by the core already; the loop reads `end_of_run` when it is done.
                Output::EndOfRun(_) => {}
                Output::Event(e) => {
                    if e == crate::core::Event::SupervisorStopping && self.stopping_announced {
                        continue;
                    }
                    if let Some(ev) = bus_event(&e) {
                        self.bus.borrow_mut().publish(ev);
                    }
                }
                Output::StartProbe { key, pid, kind } => self.start_probe(key, pid, kind),
                Output::StopProbe { key, pid, kind } => self.host.probes.stop(key, pid, kind),
                Output::GroupAdded { group, keys } => {
                    self.open_logs(&keys);
                    self.setup_fcgi(&group, &keys);
                    self.add_pool(&group, &keys);
                }
                Output::GroupRemoved { group, keys } => {
                    for k in keys {
                        self.host.io.remove(&k);
                        self.host.probes.forget(k);
                    }
                    self.host.fcgi.remove(&group);
                    self.bus.borrow_mut().remove_pool(&group);
                }
            }
        }
        self.flush_bus();
    }

    /// For an `[eventlistener:x]` group: creates its pool on the bus (before the core's
    /// PROCESS_GROUP_ADDED for it is published, so the pool receives its own) and marks
    /// its processes as listeners.
    fn add_pool(&mut self, group: &str, keys: &[ProcKey]) {
        let Some(g) = self.sup.group_config(group) else {
            return;
        };
        let GroupKind::EventListenerPool(p) = &g.kind else {
            return;
        };
        let spec = PoolSpec {
            name: group.to_string(),
            events: p.events.clone(),
            buffer_size: p.buffer_size,
            listeners: g.processes.iter().map(|c| c.name.clone()).collect(),
        };
        if let Err(e) = self.bus.borrow_mut().add_pool(spec) {
            self.log(LogLevel::Error, &e.to_string());
        }
        for k in keys {
            if let Some(io) = self.host.io.get_mut(k) {
                io.listener = true;
            }
        }
    }

    /// Writes what the bus wants delivered to its listeners' stdin (without blocking:
    /// what a pipe does not take now is queued), reports failed writes, writes the bus's
    /// main-log lines, and switches the core's TICK events on or off as subscriptions
    /// come and go. Cheap when there are no pools and no subscribers.
    pub fn flush_bus(&mut self) {
        loop {
            let deliveries = self.bus.borrow_mut().dispatch();
            if deliveries.is_empty() {
                break;
            }
            let mut requeued = false;
            for d in deliveries {
                let written = self
                    .key_of(&d.pool, &d.listener)
                    .and_then(|k| self.host.io.get(&k))
                    .is_some_and(|io| io::write_stdin(&io.stdin, &d.bytes).is_ok());
                if !written {
                    requeued |= self.bus.borrow_mut().delivery_failed(&d.pool, &d.listener);
                }
            }
            // A requeued event may go to another listener of its pool; each failure takes
            // a listener out of dispatch, so this ends.
            if !requeued {
                break;
            }
        }
        let lines = self.bus.borrow_mut().take_log();
        if !lines.is_empty() {
            let mut ml = self.mainlog.borrow_mut();
            for line in lines {
                let level = match line.level {
                    supervisor_events::Level::Debug => LogLevel::Debug,
                    supervisor_events::Level::Info => LogLevel::Info,
                    supervisor_events::Level::Warn => LogLevel::Warn,
                    supervisor_events::Level::Error => LogLevel::Error,
                };
                ml.log(level, &line.text);
            }
        }
        let want = self.bus.borrow().wants_ticks();
        if want != self.ticks_on {
            self.ticks_on = want;
            let now = self.clock.now();
            self.sup.set_tick_events(want, now);
        }
    }

    fn open_logs(&mut self, keys: &[ProcKey]) {
        let mut warnings = Vec::new();
        for &k in keys {
            let Some(p) = self.sup.process(k) else {
                continue;
            };
            let pc = p.config().clone();
            let mut queued = Vec::new();
            let defer = self.defer_auto.then_some(&mut queued);
            let (io, out, err) = ProcIo::open(&pc, &self.config, &mut warnings, defer);
            self.auto_logs
                .extend(queued.into_iter().map(|(chan, auto)| (k, chan, auto)));
            self.host.io.insert(k, io);
            let show = |p: Option<PathBuf>| p.map(|p| p.display().to_string()).unwrap_or_default();
            self.sup.set_log_paths(k, show(out), show(err));
        }
        for w in warnings {
            self.log(LogLevel::Critical, &w);
        }
    }

    /// For an `[fcgi-program:x]` group: checks the socket can be created now (the
    /// reference opens and, holding no reference, at once closes it at group creation),
    /// then lets spawns reference-count it. A failure is recorded in `fcgi_errors`.
    fn setup_fcgi(&mut self, group: &str, keys: &[ProcKey]) {
        let Some(cfg) = self.sup.group_config(group).and_then(|g| match &g.kind {
            supervisor_config::GroupKind::FcgiProgram(c) => Some(c.clone()),
            _ => None,
        }) else {
            return;
        };
        for k in keys {
            if let Some(io) = self.host.io.get_mut(k) {
                io.fcgi_group = Some(group.to_string());
            }
        }
        self.host.fcgi.insert(
            group.to_string(),
            io::FcgiShared {
                config: cfg.clone(),
                socket: None,
                refs: 0,
            },
        );
        self.log(LogLevel::Info, &crate::fcgi::creating_message(&cfg));
        match crate::fcgi::create(&cfg) {
            Ok(sock) => {
                self.log(LogLevel::Info, &crate::fcgi::closing_message(&cfg));
                sock.close();
            }
            Err(e) => self.fcgi_errors.push(e),
        }
    }

    /// Reaps every child that has exited (ours and orphans alike).
    pub fn reap(&mut self) -> bool {
        self.reap_which(-1)
    }

    /// Reaps `pid` only, if it has exited: right after a start or a stop, where the loop
    /// reaps the rest on SIGCHLD. `waitpid(pid)` costs the kernel O(1), whereas each
    /// `waitpid(-1)` looks at every child: after each of a thousand kills it made a mass
    /// stop quadratic.
    pub fn reap_pid(&mut self, pid: i32) -> bool {
        pid > 0 && self.reap_which(pid)
    }

    fn reap_which(&mut self, which: libc::pid_t) -> bool {
        let mut any = false;
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: waitpid with a valid status pointer.
            let pid = unsafe { libc::waitpid(which, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            any = true;
            // An exec probe's child: its status goes to the probe (crate::probe::exec).
            if self.host.probes.reaped(pid, status) {
                continue;
            }
            // Log the child's last output before its exit line, then close its pipes.
            if let Some(io) = self.sup.key_for_pid(pid).and_then(|k| self.host.io.get(&k)) {
                io.child_gone();
            }
            let now = self.clock.now();
            if let Some(key) = self.sup.reaped(pid, status, now, &mut self.host) {
                self.host.child_reaped(key);
            }
            // Publish this exit before the next child's last output reaches the bus.
            self.apply_outputs();
        }
        any
    }

    /// Starts a probe the core asked for, with the process's config.
    fn start_probe(&mut self, key: ProcKey, pid: i32, kind: crate::core::ProbeKind) {
        if let Some(p) = self.sup.process(key) {
            self.host
                .probes
                .start(key, pid, kind, p.config(), &self.config);
        }
    }

    /// A probe's result, handed to the core at once (a pass makes the process RUNNING).
    pub fn probe_result(&mut self, m: crate::probe::ProbeMsg) {
        let now = self.clock.now();
        self.sup
            .probe_report(m.key, m.pid, m.kind, m.report, now, &mut self.host);
        self.apply_outputs();
    }

    /// Runs the core's due transitions and publishes what they produced.
    ///
    /// When a shutdown or restart was requested, SUPERVISOR_STATE_CHANGE_STOPPING is
    /// published and dispatched before the core's first shutdown pass: that pass may stop
    /// every group at once, listeners included, whereas the reference stops one group per
    /// main-loop iteration and dispatches in between, so its running listeners receive
    /// the event before they are asked to stop. A listener still busy with an earlier
    /// event gets up to `LISTENER_DRAIN_GRACE` (1 s) to report READY and take what is queued
    /// for it before the shutdown goes ahead.
    pub fn tick(&mut self) {
        let now = self.clock.now();
        if self.sup.mood() != SupervisorState::Running && !self.stopping_announced {
            self.stopping_announced = true;
            self.stop_grace_until = Some(now.mono + LISTENER_DRAIN_GRACE.as_secs_f64());
            self.bus
                .borrow_mut()
                .publish(supervisor_events::Event::supervisor_stopping());
            self.flush_bus();
        }
        if let Some(until) = self.stop_grace_until {
            if now.mono < until && self.bus.borrow().awaiting_ready_listener() {
                return;
            }
            self.stop_grace_until = None;
        }
        self.host.spawn_time = Duration::ZERO;
        self.sup.tick(now, &mut self.host);
        // Memory/CPU guards, guard restarts, busy cgroup removals (crate::cgroup).
        let warns = self.guards.run(&mut self.sup, now, &mut self.host);
        for w in warns {
            self.log(supervisor_config::LogLevel::Warn, &w);
        }
        self.apply_outputs();
    }

    /// When the loop must run [`Daemon::tick`] next (monotonic seconds), if ever.
    pub fn next_deadline(&self, now: Now) -> Option<f64> {
        if let Some(until) = self.stop_grace_until {
            return Some(until);
        }
        match (self.sup.next_deadline(now), self.guards.next_deadline(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Reopens the main log and every child log (SIGUSR2).
    /// A file that cannot be reopened is reported once (WARN, path and OS error) and the
    /// file already open stays in use.
    pub fn reopen_logs(&mut self) {
        crate::access::audit::reopen();
        let main = self.mainlog.borrow_mut().reopen();
        if let Err(e) = main {
            let path = self
                .mainlog
                .borrow()
                .path()
                .map(|p| p.display().to_string());
            let path = path.unwrap_or_default();
            self.log(
                LogLevel::Warn,
                &format!("could not reopen log file {path}: {e}"),
            );
        }
        let failed: Vec<String> = self.host.io.values().flat_map(|io| io.reopen()).collect();
        for text in failed {
            self.log(LogLevel::Warn, &text);
        }
    }

    fn handle_signal(&mut self, sig: i32) {
        if self.sup.on_signal(sig) == KillResult::ReopenLogs {
            self.apply_outputs();
            self.reopen_logs();
        }
        self.apply_outputs();
    }
}

/// How long a shutdown waits for busy event listeners to become READY and take the
/// events queued for them (SUPERVISOR_STATE_CHANGE_STOPPING among them).
const LISTENER_DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How long the servers get at exit to finish the responses in flight.
const SERVER_DRAIN: Duration = Duration::from_secs(1);

/// The bus's lowest useful log level for a main log at `level` (DEBG lines are not even
/// formatted when the main log would drop them).
fn bus_level_for(level: LogLevel) -> supervisor_events::Level {
    match level {
        LogLevel::Blather | LogLevel::Trace | LogLevel::Debug => supervisor_events::Level::Debug,
        LogLevel::Info => supervisor_events::Level::Info,
        LogLevel::Warn => supervisor_events::Level::Warn,
        LogLevel::Error | LogLevel::Critical => supervisor_events::Level::Error,
    }
}

/// The HTTP servers opened for one run, with their socket files.
pub struct Servers {
    listeners: Vec<(ServerKind, Option<supervisor_config::Credentials>)>,
    /// The users, roles and tokens of each listener, in the same order.
    access: Vec<Arc<crate::access::server::ServerAccess>>,
    /// `health_auth = false` of each listener's section, in the same order.
    health_open: Vec<bool>,
    socket_files: Vec<crate::http::bind::SocketFile>,
}

enum ServerKind {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
    Tls(std::net::TcpListener, Arc<crate::http::tls::ServerTls>),
}

impl Servers {
    /// Binds every configured server (before daemonizing, so errors reach the terminal).
    /// Returns the lines to log once the main log is open.
    pub fn bind(config: &Config) -> Result<(Servers, Vec<(LogLevel, String)>), StartupError> {
        let mut s = Servers {
            listeners: Vec::new(),
            access: Vec::new(),
            health_open: Vec::new(),
            socket_files: Vec::new(),
        };
        let mut lines = Vec::new();
        let has_rpc = config.rpc_interfaces.iter().any(|r| r.name == "supervisor");
        let mut announce = |section: &str, creds: bool| {
            if has_rpc {
                lines.push((
                    LogLevel::Info,
                    "RPC interface 'supervisor' initialized".to_string(),
                ));
            }
            if !creds {
                lines.push((
                    LogLevel::Critical,
                    format!("Server '{section}' running without any HTTP authentication checking"),
                ));
            }
        };
        let mut tls_lines = Vec::new();
        for inet in &config.inet_http_servers {
            // TLS files first: a bad one stops the start before anything is bound.
            let tls = match &inet.tls {
                Some(t) => Some(Arc::new(
                    crate::http::tls::load(t).map_err(|e| StartupError(e.to_string()))?,
                )),
                None => None,
            };
            if let Some(t) = &tls {
                tls_lines.extend(t.log_lines(&inet.section, std::time::SystemTime::now()));
            }
            let l = crate::http::bind::bind_inet(inet).map_err(|e| StartupError(e.to_string()))?;
            let access =
                crate::access::server::for_section(config, &inet.section, &inet.credentials);
            announce("inet_http_server", access.requires_auth());
            s.access.push(Arc::new(access));
            s.health_open
                .push(config.health_open.contains(&inet.section));
            let kind = match tls {
                Some(t) => ServerKind::Tls(l, t),
                None => ServerKind::Tcp(l),
            };
            s.listeners.push((kind, inet.credentials.clone()));
        }
        if let Some(unix) = &config.unix_http_server {
            // The reference's line first (scripts match it), then ours naming the path.
            let (l, f) = crate::http::bind::bind_unix(unix).map_err(|e| {
                match crate::http::bind::unix_bind_hint(unix, &e) {
                    Some(hint) => StartupError(format!("{e}\n{hint}")),
                    None => StartupError(e.to_string()),
                }
            })?;
            let access =
                crate::access::server::for_section(config, &unix.section, &unix.credentials);
            announce("unix_http_server", access.requires_auth());
            s.access.push(Arc::new(access));
            s.health_open
                .push(config.health_open.contains(&unix.section));
            s.listeners
                .push((ServerKind::Unix(l), unix.credentials.clone()));
            s.socket_files.push(f);
        }
        lines.extend(tls_lines);
        Ok((s, lines))
    }
}

/// The process table built before the loop starts (AUTO log files created, fcgi sockets
/// checked), so start-up errors surface before servers open and the daemon detaches.
pub struct Prepared {
    daemon: Daemon,
}

/// Builds the process table from `config`. Fails (with the reference's text) when an
/// fcgi socket cannot be created. `bus` is the daemon's one event bus (created once per
/// process, cleared here on every restart as the reference does).
pub fn prepare(
    config: Config,
    mainlog: Rc<RefCell<MainLog>>,
    loader: ConfigLoader,
    bus: Rc<RefCell<EventBus>>,
) -> Result<Prepared, StartupError> {
    let daemon = Daemon::new(config, mainlog, loader, bus);
    if let Some(e) = daemon.fcgi_errors.first().cloned() {
        daemon.log(LogLevel::Critical, &e);
        return Err(StartupError(e));
    }
    Ok(Prepared { daemon })
}

/// Runs the loop until every process is stopped after a shutdown or restart request.
///
/// `prepared` comes from [`prepare`]; `servers` were bound by the caller.
pub fn run(prepared: Prepared, servers: Servers) -> std::io::Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let exit = local.block_on(&rt, run_loop(prepared, servers));
    drop(local);
    drop(rt);
    exit
}

/// Serves every control request already queued, without waiting for more.
fn serve_queued(
    d: &mut Daemon,
    pending: &mut Pending,
    control_rx: &mut mpsc::Receiver<ControlRequest>,
) {
    let Ok(first) = control_rx.try_recv() else {
        return;
    };
    // Answers read and report log files: they must all exist by now.
    d.finish_auto_logs();
    rpc::handle(d, pending, first);
    d.apply_outputs();
    while let Ok(req) = control_rx.try_recv() {
        rpc::handle(d, pending, req);
        d.apply_outputs();
    }
}

async fn run_loop(prepared: Prepared, mut servers: Servers) -> std::io::Result<Exit> {
    let Prepared { daemon: mut d } = prepared;
    let bus_wake = d.bus_wake.clone();
    let mut probe_rx = d
        .probe_rx
        .take()
        .unwrap_or_else(|| mpsc::unbounded_channel().1);
    // Signal handlers first: no child may exit unnoticed.
    let mut sig_chld = signal(SignalKind::child())?;
    let mut sig_term = signal(SignalKind::terminate())?;
    let mut sig_int = signal(SignalKind::interrupt())?;
    let mut sig_quit = signal(SignalKind::quit())?;
    let mut sig_hup = signal(SignalKind::hangup())?;
    let mut sig_usr2 = signal(SignalKind::user_defined2())?;
    // Blocked since the top of `main` (or the end of the previous run): what arrived
    // meanwhile is delivered now, to the handlers above (pid1.rs).
    crate::pid1::unblock_loop_signals();
    if let Some((level, text)) = crate::pid1::set_subreaper(d.config.supervisord.subreaper) {
        d.log(level, &text);
    }
    // systemd's notify socket, when NOTIFY_SOCKET was set (notify.rs).
    let mut notifier = crate::notify::Notifier::for_run();
    // daily/hourly log rotation at the boundary, for logs nobody writes then (logs/timer.rs).
    let rotation_timer = tokio::task::spawn_local(crate::logs::timer::run());

    let (control_tx, mut control_rx) = mpsc::channel::<ControlRequest>(1024);
    let (log_tx, mut log_rx) = mpsc::unbounded_channel::<(LogLevel, String)>();

    // HTTP servers.
    let log_fn: crate::http::LogFn = Arc::new(move |level, text| {
        let _ = log_tx.send((level, text));
    });
    let mut server_tasks = Vec::new();
    // Turned true at exit: the servers stop accepting and finish the responses in flight
    // (the answer to `supervisor.shutdown` / `restart` among them).
    let (stop_servers, servers_stop_rx) = tokio::sync::watch::channel(false);
    let web: Arc<dyn crate::http::WebUi> = crate::http::web::SupervisorWebUi::new();
    let accesses = std::mem::take(&mut servers.access);
    let mut health_open = std::mem::take(&mut servers.health_open).into_iter();
    for ((kind, credentials), access) in servers.listeners.drain(..).zip(accesses) {
        let health_open = health_open.next().unwrap_or(false);
        let listener = match kind {
            ServerKind::Unix(l) => crate::http::Listener::from_std_unix(l)?,
            ServerKind::Tcp(l) => crate::http::Listener::from_std_tcp(l)?,
            ServerKind::Tls(l, t) => crate::http::Listener::from_std_tls(l, t)?,
        };
        let ctx = Arc::new(crate::http::ServerContext {
            credentials,
            access: Some(access),
            control: control_tx.clone(),
            web: web.clone(),
            limits: crate::http::Limits::default(),
            log: Some(log_fn.clone()),
            log_level: d.mainlog.borrow().level(),
            health_open,
        });
        server_tasks.push(tokio::spawn(crate::http::serve_until(
            listener,
            ctx,
            servers_stop_rx.clone(),
        )));
    }
    drop(control_tx);

    let mut pending = Pending::new();
    // Parked calls are looked at when a process changed state since the last look, or a
    // timer of the core fired (the `waiting for x to stop` cadence): a stop is answered
    // in the loop turn after its last reap, and a parked call costs no wake-up.
    let mut polled_changes = d.state_changes;
    let mut timer_fired = false;
    let auto_logs_done = d.auto_logs_done.clone();
    d.start_auto_logs();
    d.sup.enter_running();
    d.apply_outputs();

    let exit = loop {
        d.tick();
        d.apply_outputs();
        if !pending.is_empty() && (d.state_changes != polled_changes || timer_fired) {
            pending.poll(&mut d);
        }
        polled_changes = d.state_changes;
        timer_fired = false;
        d.apply_outputs();
        if let Some(n) = notifier.as_mut() {
            n.update(&d.sup);
        }
        if d.sup.is_finished() {
            // Last answers to parked calls before the servers drain.
            pending.poll(&mut d);
            break if d.sup.mood() == SupervisorState::Restarting {
                Exit::Restart
            } else if let Some(end) = d.sup.end_of_run() {
                Exit::Status(end.status)
            } else {
                Exit::Shutdown
            };
        }
        let now = d.clock.now();
        let deadline = d.next_deadline(now).and_then(|t| d.clock.instant(t));
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        let ping_at = notifier.as_ref().and_then(|n| n.next_ping());
        let watchdog = async {
            match ping_at {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            Some(()) = sig_chld.recv() => {
                d.handle_signal(libc::SIGCHLD);
                d.reap();
            }
            Some(()) = sig_term.recv() => d.handle_signal(libc::SIGTERM),
            Some(()) = sig_int.recv() => d.handle_signal(libc::SIGINT),
            Some(()) = sig_quit.recv() => d.handle_signal(libc::SIGQUIT),
            Some(()) = sig_hup.recv() => d.handle_signal(libc::SIGHUP),
            Some(()) = sig_usr2.recv() => d.handle_signal(libc::SIGUSR2),
            Some(req) = control_rx.recv() => {
                // Answers read and report log files: they must all exist by now.
                d.finish_auto_logs();
                rpc::handle(&mut d, &mut pending, req);
                d.apply_outputs();
                // Serve whatever else is queued before the next transition pass.
                while let Ok(req) = control_rx.try_recv() {
                    rpc::handle(&mut d, &mut pending, req);
                    d.apply_outputs();
                }
            }
            () = bus_wake.notified() => d.flush_bus(),
            Some(m) = probe_rx.recv() => {
                d.probe_result(m);
                while let Ok(m) = probe_rx.try_recv() {
                    d.probe_result(m);
                }
            }
            () = auto_logs_done.notified() => d.finish_auto_logs(),
            Some((level, text)) = log_rx.recv() => {
                d.log(level, &text);
                while let Ok((level, text)) = log_rx.try_recv() {
                    d.log(level, &text);
                }
            }
            () = sleep => timer_fired = true,
            () = watchdog => {
                if let Some(n) = notifier.as_mut() {
                    n.ping_if_due(Instant::now());
                }
            }
        }
        // Requests that arrived while this turn reaped or ran a timer are served before
        // the next transition pass: in a crash loop a SIGCHLD is pending at every turn,
        // and the biased select alone would starve the clients.
        serve_queued(&mut d, &mut pending, &mut control_rx);
        // Let the connection tasks, the pipe readers and the I/O driver run before the next
        // turn: in a crash loop some branch above is ready at every turn (a SIGCHLD, a due
        // restart), and the loop would otherwise keep the thread for hundreds of turns.
        tokio::task::yield_now().await;
        // What the connections handed over meanwhile is answered now, not after the next
        // transition pass (whose spawns may take milliseconds).
        serve_queued(&mut d, &mut pending, &mut control_rx);
    };
    // Signals stay pending until the next run's handlers exist (pid1.rs).
    crate::pid1::block_loop_signals();
    // An exit request that reached the handlers after the last turn (while the restart
    // finished) is acted on, not dropped with the streams: the restart becomes a shutdown.
    let mut exit = exit;
    if exit == Exit::Restart {
        tokio::task::yield_now().await;
        for (stream, sig) in [
            (&mut sig_term, libc::SIGTERM),
            (&mut sig_int, libc::SIGINT),
            (&mut sig_quit, libc::SIGQUIT),
        ] {
            if crate::pid1::signal_pending(stream).await {
                d.handle_signal(sig);
                exit = Exit::Shutdown;
            }
        }
    }
    // As PID 1 or subreaper, orphans still around at the end get SIGTERM, then SIGKILL.
    if exit != Exit::Restart {
        for (level, text) in crate::pid1::end_orphans(d.config.supervisord.subreaper) {
            d.log(level, &text);
        }
    }
    // No AUTO log may be left half-made for the next run's clean-up to race with.
    d.finish_auto_logs();
    // The daemon's cgroup directories (crate::cgroup) go with the run.
    d.host.cgroups.finish();
    // End the `/events` streams of this run: their responses then complete.
    for id in d.streams.drain(..) {
        d.bus.borrow_mut().unsubscribe_stream(id);
    }
    // Let in-flight responses finish, for a bounded time (a `tail -f` or `/events` stream
    // never finishes by itself), then drop whatever is left.
    let _ = stop_servers.send(true);
    let _ = tokio::time::timeout(SERVER_DRAIN, async {
        for t in &mut server_tasks {
            let _ = t.await;
        }
    })
    .await;
    for t in server_tasks {
        t.abort();
    }
    rotation_timer.abort();
    for f in &mut servers.socket_files {
        // SocketFile only removes the file in the process that bound it; after
        // daemonizing we are its child, so remove what is left ourselves.
        let path = f.path().to_path_buf();
        f.remove();
        if !path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(exit)
}

/// The events crate's event for one the core decided: the payload is rendered here, once,
/// from the typed values (`None` only for a TICK type the bus does not know).
fn bus_event(e: &crate::core::Event) -> Option<supervisor_events::Event> {
    use crate::core::Event as Core;
    use supervisor_events::{Event, ProcessStateChange};
    Some(match e {
        Core::ProcessState(c) => Event::process_state(&ProcessStateChange {
            process: &c.process,
            group: &c.group,
            from: c.from,
            to: c.to,
            // A pid is never negative; 0 already means "none".
            pid: u32::try_from(c.pid).unwrap_or(0),
            tries: c.tries,
            expected: c.expected,
        }),
        Core::SupervisorRunning => Event::supervisor_running(),
        Core::SupervisorStopping => Event::supervisor_stopping(),
        Core::GroupAdded(g) => Event::group_added(g),
        Core::GroupRemoved(g) => Event::group_removed(g),
        // An epoch second before 1970 (a clock set far back) is ticked as 0.
        Core::Tick { kind, when } => Event::tick(*kind, u64::try_from(*when).unwrap_or(0))?,
        Core::Health(h) if h.healthy => {
            Event::process_health_healthy(&h.process, &h.group, u32::try_from(h.pid).unwrap_or(0))
        }
        Core::Health(h) => Event::process_health_unhealthy(
            &h.process,
            &h.group,
            u32::try_from(h.pid).unwrap_or(0),
            h.failures,
            h.action,
            &h.reason,
        ),
    })
}

/// The platform's numbers for the signals the core acts on (the core crate has no libc).
fn platform_signals() -> Signals {
    Signals {
        hup: libc::SIGHUP,
        int: libc::SIGINT,
        quit: libc::SIGQUIT,
        term: libc::SIGTERM,
        chld: libc::SIGCHLD,
        usr2: libc::SIGUSR2,
        kill: libc::SIGKILL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_deadlines_are_never_instead_of_overflowing() {
        let clock = Clock::new();
        // startsecs=9223372036854775807 gives a deadline of about 9.2e18 s.
        assert_eq!(clock.instant(9_223_372_036_854_775_807.0), None);
        assert_eq!(clock.instant(f64::INFINITY), None);
        assert_eq!(clock.instant(f64::NAN), None);
        assert_eq!(clock.instant(NEVER_AFTER.as_secs_f64()), None);
        let soon = clock.instant(1.5).expect("a near deadline");
        assert_eq!(soon - clock.origin, Duration::from_millis(1500));
        // Times before the origin (or -inf: "now") are the origin itself.
        assert_eq!(clock.instant(f64::NEG_INFINITY), Some(clock.origin));
        assert_eq!(clock.instant(-3.0), Some(clock.origin));
        let decades = clock.instant(50.0 * 365.0 * 24.0 * 3600.0);
        assert!(decades.is_some());
    }
}
