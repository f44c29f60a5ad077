//! The runtime's side of each child: log channels, stdin, pipe reader tasks, and the
//! [`Host`] that performs spawns and kills for the core.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

use supervisor_events::EventBus;

use crate::core::{Host, KillError, ProcKey, SpawnFailure, SpawnFailureKind};
use crate::fcgi::{self, FcgiSocket};
use crate::logs::childlog::AutoLogFile;
use crate::logs::mainlog::child_output_message;
use crate::logs::{Channel, ChannelLogger, MainLog, ScanOutput};
use crate::spawn::{self, SpawnRequest};
use supervisor_config::{Config, FcgiSocketConfig, LogFile, LogLevel, ProcessConfig};

/// Size of one read from a child pipe (the reference reads up to 128 KiB).
const READ_SIZE: usize = 128 * 1024;
/// Bytes of `sendProcessStdin` data kept for a child that does not read its stdin.
const STDIN_BUFFER_LIMIT: usize = 1024 * 1024;

/// A child's stdin: the pipe and bytes still to write.
#[derive(Debug, Default)]
pub struct Stdin {
    fd: Option<Rc<AsyncFd<OwnedFd>>>,
    pending: Vec<u8>,
    writer_running: bool,
    broken: bool,
}

/// The I/O of one process: its log channels and, while it runs, its stdin.
#[derive(Debug)]
pub struct ProcIo {
    /// Process name (for main-log copies).
    pub name: String,
    /// Group name (for events).
    pub group: String,
    /// True for an event listener: its stdout is the protocol channel (fed to the bus,
    /// never scanned for capture tokens, no PROCESS_LOG events, no main-log copy).
    pub listener: bool,
    /// stdout channel (stdout+stderr with `redirect_stderr`).
    pub stdout: Rc<RefCell<ChannelLogger>>,
    /// stderr channel (`None` with `redirect_stderr`).
    pub stderr: Option<Rc<RefCell<ChannelLogger>>>,
    /// Whether PROCESS_LOG events are wanted per channel.
    pub events_enabled: (bool, bool),
    /// The live child's stdin.
    pub stdin: Rc<RefCell<Stdin>>,
    /// The live child's output pipes (drained and closed when it is reaped).
    pipes: RefCell<Vec<Pipe>>,
    /// For an fcgi program: its group, whose shared socket the child holds a reference to.
    pub fcgi_group: Option<String>,
    /// True while the live child holds a reference to the group's fcgi socket.
    fcgi_ref: std::cell::Cell<bool>,
}

/// One output pipe of a live child, shared by its reader task and the loop.
#[derive(Debug)]
struct Pipe {
    fd: PipeSlot,
    reader: Rc<Reader>,
    stop: Rc<Notify>,
}

/// The read end of a pipe. The loop empties the slot (closing the descriptor) the moment
/// the child is reaped; the reader task only borrows it while it is being polled, never
/// across an await, so a dead child's descriptors do not wait for its reader task to be
/// scheduled (with a crash loop that could take many loop turns, and descriptors piled up).
type PipeSlot = Rc<RefCell<Option<AsyncFd<OwnedFd>>>>;

impl ProcIo {
    /// Opens the log channels of `pc`. AUTO files are created in `childlogdir` now, like
    /// the reference does at group creation. Returns the channel I/O and the resolved
    /// (stdout, stderr) paths; open failures are returned as log lines and leave the
    /// channel without a file.
    ///
    /// With `defer`, AUTO files are only named: they are queued there for
    /// [`create_in_background`](crate::logs::childlog::create_in_background) and created
    /// on first use at the latest.
    pub fn open(
        pc: &ProcessConfig,
        config: &Config,
        warnings: &mut Vec<String>,
        mut defer: Option<&mut Vec<(Channel, Arc<AutoLogFile>)>>,
    ) -> (ProcIo, Option<PathBuf>, Option<PathBuf>) {
        let sd = &config.supervisord;
        let mut open = |chan: Channel,
                        cc: &supervisor_config::LogChannelConfig,
                        warnings: &mut Vec<String>| {
            if let (LogFile::Auto, Some(queue)) = (&cc.logfile, defer.as_deref_mut()) {
                let auto = AutoLogFile::reserve(&sd.childlogdir, &pc.name, chan, &sd.identifier);
                let path = auto.path().to_path_buf();
                queue.push((chan, auto.clone()));
                let logger = ChannelLogger::open_pending(&pc.name, chan, cc, auto, sd.strip_ansi);
                return (Rc::new(RefCell::new(logger)), Some(path));
            }
            let path = match crate::logs::childlog::resolve_log_path(
                cc,
                &sd.childlogdir,
                &pc.name,
                chan,
                &sd.identifier,
            ) {
                Ok(p) => p,
                Err(e) => {
                    warnings.push(format!(
                        "could not create {} log for '{}': {e}",
                        chan.as_str(),
                        pc.name
                    ));
                    None
                }
            };
            let logger =
                match ChannelLogger::open(&pc.name, chan, cc, path.as_deref(), sd.strip_ansi) {
                    Ok(l) => l,
                    Err(e) => {
                        warnings.push(format!(
                            "could not open {} log for '{}': {e}",
                            chan.as_str(),
                            pc.name
                        ));
                        ChannelLogger::open(&pc.name, chan, cc, None, sd.strip_ansi)
                            .expect("a channel without a file always opens")
                    }
                };
            let path = logger.path().map(PathBuf::from);
            (Rc::new(RefCell::new(logger)), path)
        };
        let (stdout, out_path) = open(Channel::Stdout, &pc.stdout, warnings);
        let (stderr, err_path) = if pc.redirect_stderr {
            (None, None)
        } else {
            let (l, p) = open(Channel::Stderr, &pc.stderr, warnings);
            (Some(l), p)
        };
        // daily/hourly logs rotate at their boundary even when nothing is written then.
        for l in std::iter::once(&stdout).chain(stderr.as_ref()) {
            crate::logs::timer::register_channel(l);
        }
        (
            ProcIo {
                name: pc.name.clone(),
                group: pc.group.clone(),
                listener: false,
                stdout,
                stderr,
                events_enabled: (pc.stdout.events_enabled, pc.stderr.events_enabled),
                stdin: Rc::new(RefCell::new(Stdin::default())),
                pipes: RefCell::new(Vec::new()),
                fcgi_group: None,
                fcgi_ref: std::cell::Cell::new(false),
            },
            out_path,
            err_path,
        )
    }

    /// Reopens both log files (SIGUSR2). Returns one main-log warning per file that could
    /// not be reopened (its channel keeps writing to the file it had open).
    pub fn reopen(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for ch in std::iter::once(&self.stdout).chain(self.stderr.as_ref()) {
            let mut ch = ch.borrow_mut();
            if let Err(e) = ch.reopen() {
                let path = ch.path().map(|p| p.display().to_string());
                failed.push(format!(
                    "could not reopen {} log file {} of {}: {e}",
                    ch.channel().as_str(),
                    path.as_deref().unwrap_or("(none)"),
                    self.name
                ));
            }
        }
        failed
    }

    /// Rotates both log files now (`supervisor_rs.rotateLogs`), described for the answer.
    pub fn rotate_now(&self) -> Result<String, String> {
        let mut results = vec![("stdout", self.stdout.borrow_mut().rotate_now())];
        if let Some(e) = &self.stderr {
            results.push(("stderr", e.borrow_mut().rotate_now()));
        }
        crate::logs::rpc::describe(&results)
    }

    /// Removes and reopens both log files (`clearProcessLogs`).
    pub fn clear(&self) -> io::Result<()> {
        self.stdout.borrow_mut().clear()?;
        if let Some(e) = &self.stderr {
            e.borrow_mut().clear()?;
        }
        Ok(())
    }

    /// The child was reaped: log what it wrote before dying (like the reference, before
    /// its exit line), then close its pipes and stdin. A grandchild that inherited the
    /// pipes gets EPIPE from then on, as under the reference, and no fd leaks per restart.
    pub fn child_gone(&self) {
        for pipe in self.pipes.borrow_mut().drain(..) {
            // An empty slot: the reader saw EOF and finished the channel itself.
            let fd = pipe.fd.borrow_mut().take();
            if let Some(fd) = fd {
                let mut items = Vec::new();
                drain(&fd, &pipe.reader, &mut items);
                pipe.reader.finish(&mut items);
            }
            pipe.stop.notify_one();
        }
        let mut s = self.stdin.borrow_mut();
        s.fd = None;
        s.pending.clear();
        s.broken = false;
    }
}

/// Why writing to stdin failed.
#[derive(Debug, PartialEq, Eq)]
pub enum StdinWriteError {
    /// No pipe (not running, or an fcgi program).
    NoPipe,
    /// The pipe is closed (EPIPE) or its buffer is full beyond our limit.
    Closed,
    /// Another I/O error.
    Other(String),
}

/// Writes `data` to the child's stdin without blocking the loop: what the pipe does not
/// take now is queued (bounded) and written by a task as the child reads.
pub fn write_stdin(stdin: &Rc<RefCell<Stdin>>, data: &[u8]) -> Result<(), StdinWriteError> {
    let mut s = stdin.borrow_mut();
    let Some(fd) = s.fd.clone() else {
        return Err(StdinWriteError::NoPipe);
    };
    if s.broken {
        return Err(StdinWriteError::Closed);
    }
    if !s.pending.is_empty() {
        if s.pending.len() + data.len() > STDIN_BUFFER_LIMIT {
            return Err(StdinWriteError::Other("stdin buffer full".into()));
        }
        s.pending.extend_from_slice(data);
        return Ok(());
    }
    let mut off = 0;
    while off < data.len() {
        match raw_write(fd.get_ref(), &data[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                s.broken = true;
                return Err(StdinWriteError::Closed);
            }
            Err(e) => return Err(StdinWriteError::Other(e.to_string())),
        }
    }
    if off < data.len() {
        if data.len() - off > STDIN_BUFFER_LIMIT {
            return Err(StdinWriteError::Other("stdin buffer full".into()));
        }
        s.pending.extend_from_slice(&data[off..]);
        if !s.writer_running {
            s.writer_running = true;
            tokio::task::spawn_local(stdin_writer(stdin.clone(), fd));
        }
    }
    Ok(())
}

async fn stdin_writer(stdin: Rc<RefCell<Stdin>>, fd: Rc<AsyncFd<OwnedFd>>) {
    loop {
        let Ok(mut guard) = fd.writable().await else {
            break;
        };
        let mut s = stdin.borrow_mut();
        if s.pending.is_empty() || s.fd.as_ref().is_none_or(|f| !Rc::ptr_eq(f, &fd)) {
            break;
        }
        match raw_write(fd.get_ref(), &s.pending) {
            Ok(n) => {
                s.pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                s.broken = true;
                s.pending.clear();
                break;
            }
        }
    }
    stdin.borrow_mut().writer_running = false;
}

/// Registers an owned pipe end with the reactor.
fn async_fd(fd: OwnedFd, interest: Interest) -> Option<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd is a valid open descriptor that stays open (and the same) for as
    // long as the AsyncFd owns it.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.ok()
}

fn raw_write(fd: &OwnedFd, data: &[u8]) -> io::Result<usize> {
    // SAFETY: write(2) on an fd we own, with a valid buffer.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn raw_read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: read(2) into a buffer we own, on an fd we own.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

thread_local! {
    /// One read buffer shared by every reader task (they run on one thread and never hold
    /// it across an await), so 1,000 children do not cost 1,000 buffers.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; READ_SIZE]);
}

/// What a reader task needs to know about its channel.
#[derive(Debug)]
struct Reader {
    pid: i32,
    name: String,
    group: String,
    channel: Channel,
    logger: Rc<RefCell<ChannelLogger>>,
    mainlog: Rc<RefCell<MainLog>>,
    events_enabled: bool,
    /// True for a listener's stdout (the protocol channel).
    listener: bool,
    bus: Rc<RefCell<EventBus>>,
    /// Poked after feeding the bus: the loop must dispatch and write its log lines.
    bus_wake: Rc<Notify>,
    /// The `log:` readiness check's view of this channel (crate::probe::log).
    log_feed: Option<crate::probe::log::LineFeed>,
    /// The kernel refused splice(2) for this pipe and file: read/write only.
    splice_refused: std::cell::Cell<bool>,
    /// The pipe was grown already (or that was tried).
    pipe_grown: std::cell::Cell<bool>,
}

impl Reader {
    /// True when nothing needs to see this channel's bytes now, so they may go pipe →
    /// file by splice(2) (`logs::splice`; the logger adds its own conditions): not a
    /// listener's protocol channel, no PROCESS_LOG subscriber for an events-enabled
    /// channel, no main-log debug copy, no armed `log:` readiness pattern. Asked at each
    /// wake-up, so a subscriber that appears turns the channel back to reading.
    fn may_splice(&self) -> bool {
        if self.listener || self.splice_refused.get() || !crate::logs::splice::enabled() {
            return false;
        }
        if self.log_feed.as_ref().is_some_and(|f| f.armed()) {
            return false;
        }
        if self.events_enabled {
            let kind = match self.channel {
                Channel::Stdout => supervisor_events::EventType::ProcessLogStdout,
                Channel::Stderr => supervisor_events::EventType::ProcessLogStderr,
            };
            if self.bus.borrow().has_subscriber(kind) {
                return false;
            }
        }
        !self.mainlog.borrow().enabled(LogLevel::Debug)
    }

    /// A wake-up moved `bytes`: a pipe that filled up is grown once (bounded, see
    /// `logs::splice::grow_pipe`), so a busy child needs fewer wake-ups.
    fn busy(&self, fd: &AsyncFd<OwnedFd>, bytes: u64) {
        if bytes >= crate::logs::splice::GROW_AFTER as u64 && !self.pipe_grown.replace(true) {
            crate::logs::splice::grow_pipe(fd.get_ref().as_raw_fd());
        }
    }

    /// One read of output: a listener's stdout goes to its log file and the bus's
    /// protocol; anything else through the channel logger (file, capture scanner) and
    /// then to the main-log copy and events.
    fn feed(&self, data: &[u8], items: &mut Vec<ScanOutput>) {
        if let Some(f) = &self.log_feed {
            f.feed(data);
        }
        // A log write error (disk full) must not stop the reading: the child would block
        // on a full pipe. The logger counts what it drops and says so once per outage.
        let _ = self.logger.borrow_mut().feed(data, items);
        self.log_notices();
        if self.listener {
            items.clear();
            self.bus
                .borrow_mut()
                .listener_output(&self.group, &self.name, data);
            self.bus_wake.notify_one();
        } else {
            self.deliver(items);
        }
    }

    /// At EOF or when the child was reaped: what the capture scanner still held.
    fn finish(&self, items: &mut Vec<ScanOutput>) {
        let _ = self.logger.borrow_mut().finish(items);
        self.log_notices();
        if self.listener {
            items.clear();
        } else {
            self.deliver(items);
        }
    }

    /// The child was quiet for a while: write the partial line held back for a stream.
    fn flush_partial(&self) {
        let _ = self.logger.borrow_mut().flush_partial();
        self.log_notices();
    }

    /// Writes the channel's queued notices (its log file failing / working again) to
    /// the main log.
    fn log_notices(&self) {
        let notices = self.logger.borrow_mut().take_notices();
        if !notices.is_empty() {
            let mut ml = self.mainlog.borrow_mut();
            for (level, msg) in notices {
                ml.log(level, &msg);
            }
        }
    }

    fn events_channel(&self) -> supervisor_events::Channel {
        match self.channel {
            Channel::Stdout => supervisor_events::Channel::Stdout,
            Channel::Stderr => supervisor_events::Channel::Stderr,
        }
    }

    fn publish(&self, event: supervisor_events::Event) {
        self.bus.borrow_mut().publish(event);
        self.bus_wake.notify_one();
    }

    fn deliver(&self, items: &mut Vec<ScanOutput>) {
        let pid = u32::try_from(self.pid).unwrap_or(0);
        for item in items.drain(..) {
            match item {
                ScanOutput::Output { data, .. } => {
                    {
                        let mut ml = self.mainlog.borrow_mut();
                        if ml.enabled(LogLevel::Debug) {
                            let msg =
                                child_output_message(&self.name, self.channel.as_str(), &data);
                            ml.debug(&msg);
                        }
                    }
                    if self.events_enabled {
                        self.publish(supervisor_events::Event::process_log(
                            self.events_channel(),
                            &self.name,
                            &self.group,
                            pid,
                            &data,
                        ));
                    }
                }
                ScanOutput::Communication(data) => {
                    self.mainlog.borrow_mut().debug(&format!(
                        "'{}' {} emitted a comm event",
                        self.name,
                        self.channel.as_str()
                    ));
                    self.publish(supervisor_events::Event::process_communication(
                        self.events_channel(),
                        &self.name,
                        &self.group,
                        pid,
                        &data,
                    ));
                }
            }
        }
    }
}

/// Reads what is available on `fd` now (until EAGAIN or EOF) into the channel. Returns
/// true at EOF or on a read error.
fn drain(fd: &AsyncFd<OwnedFd>, r: &Reader, items: &mut Vec<ScanOutput>) -> bool {
    use crate::logs::splice::Pumped;
    let mut moved = 0u64;
    if r.may_splice() {
        let pumped = r
            .logger
            .borrow_mut()
            .splice_from(fd.get_ref().as_raw_fd(), &mut moved);
        if moved > 0 {
            r.log_notices();
        }
        match pumped {
            Some(Pumped::Drained) => {
                r.busy(fd, moved);
                return false;
            }
            Some(Pumped::Eof) => return true,
            Some(Pumped::Refused) => r.splice_refused.set(true),
            Some(Pumped::Fallback) | None => {}
        }
    }
    READ_BUF.with(|b| {
        let mut buf = b.borrow_mut();
        loop {
            match raw_read(fd.get_ref(), &mut buf) {
                Ok(0) => return true,
                Ok(n) => {
                    moved += n as u64;
                    r.feed(&buf[..n], items);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    r.busy(fd, moved);
                    return false;
                }
                Err(_) => return true,
            }
        }
    })
}

/// Reads one pipe until EOF or until the loop closes it (the child was reaped), writing
/// straight into the channel's log file. At EOF it finishes the channel and closes the
/// descriptor itself.
async fn read_pipe(slot: PipeSlot, r: Rc<Reader>, stop: Rc<Notify>) {
    let items = RefCell::new(Vec::new());
    // Ready(Some(true)) at EOF or a read error, Ready(Some(false)) when the loop took the
    // descriptor, Ready(None) after a read that left a partial line held back (a stream
    // log target waits for its newline, see `logs::framer`).
    let poll_once = || {
        std::future::poll_fn(|cx| loop {
            let held = slot.borrow();
            let Some(fd) = held.as_ref() else {
                return std::task::Poll::Ready(Some(false));
            };
            match fd.poll_read_ready(cx) {
                std::task::Poll::Pending => return std::task::Poll::Pending,
                std::task::Poll::Ready(Err(_)) => return std::task::Poll::Ready(Some(true)),
                std::task::Poll::Ready(Ok(mut guard)) => {
                    if drain(fd, &r, &mut items.borrow_mut()) {
                        return std::task::Poll::Ready(Some(true));
                    }
                    guard.clear_ready();
                    if r.logger.borrow().has_partial() {
                        return std::task::Poll::Ready(None);
                    }
                }
            }
        })
    };
    // A held partial line is written on a line of its own once the child is quiet for
    // PARTIAL_LINE_TIMEOUT.
    let eof = async {
        loop {
            let outcome = if r.logger.borrow().has_partial() {
                match tokio::time::timeout(crate::logs::childlog::PARTIAL_LINE_TIMEOUT, poll_once())
                    .await
                {
                    Ok(o) => o,
                    Err(_) => {
                        r.flush_partial();
                        None
                    }
                }
            } else {
                poll_once().await
            };
            if let Some(eof) = outcome {
                return eof;
            }
        }
    };
    let at_eof = tokio::select! {
        biased;
        () = stop.notified() => false,
        eof = eof => eof,
    };
    if at_eof {
        let fd = slot.borrow_mut().take();
        if fd.is_some() {
            r.finish(&mut items.borrow_mut());
        }
    }
}

/// The real [`Host`]: fork/exec through `spawn.rs`, `kill(2)`.
pub struct RealHost {
    /// The config the children are spawned from (environment, server URL).
    pub config: Rc<Config>,
    /// Per-process I/O.
    pub io: HashMap<ProcKey, ProcIo>,
    /// The main log (for debug copies of child output).
    pub mainlog: Rc<RefCell<MainLog>>,
    /// The event bus the reader tasks publish output events and listener output to.
    pub bus: Rc<RefCell<EventBus>>,
    /// Poked by reader tasks after they fed the bus.
    pub bus_wake: Rc<Notify>,
    /// The shared sockets of fcgi groups, by group name.
    pub fcgi: HashMap<String, FcgiShared>,
    /// Log files named but not opened yet (the start-up AUTO logs): spawns keep this many
    /// descriptors free on top of [`spawn::fd_headroom`], so the files can still be opened.
    pub unopened_logs: usize,
    /// Time spent spawning since the loop's last tick began (see [`Host::may_restart`]).
    pub spawn_time: std::time::Duration,
    /// The probes of `ready=` checks (notify sockets, log watches, poll tasks).
    pub probes: crate::probe::Probes,
    /// The processes' cgroups (cgroup keys, `kill_mode = cgroup`; crate::cgroup).
    pub cgroups: crate::cgroup::Cgroups,
}

/// How long one tick may spend spawning before it leaves the remaining automatic restarts
/// to the next tick (a spawn waits for the child's exec, which on a saturated machine
/// can take many milliseconds).
pub const SPAWN_TIME_PER_TICK: std::time::Duration = std::time::Duration::from_millis(5);

/// The reference-counted socket of one `[fcgi-program:x]` group: created when a child is
/// about to be spawned and none is open, closed when the last child holding it is gone.
#[derive(Debug)]
pub struct FcgiShared {
    /// Its config.
    pub config: FcgiSocketConfig,
    /// The open socket, if any child holds it.
    pub socket: Option<FcgiSocket>,
    /// How many live children hold it.
    pub refs: usize,
}

impl RealHost {
    /// Takes a reference to the group's socket, creating it if needed (logs
    /// `Creating socket <url>`).
    fn fcgi_acquire(&mut self, group: &str) -> Result<(), String> {
        let Some(f) = self.fcgi.get_mut(group) else {
            return Ok(());
        };
        if f.socket.is_none() {
            self.mainlog
                .borrow_mut()
                .info(&fcgi::creating_message(&f.config));
            f.socket = Some(fcgi::create(&f.config)?);
        }
        f.refs += 1;
        Ok(())
    }

    /// Drops a reference; the last one closes the socket (logs `Closing socket <url>`).
    pub fn fcgi_release(&mut self, group: &str) {
        let Some(f) = self.fcgi.get_mut(group) else {
            return;
        };
        f.refs = f.refs.saturating_sub(1);
        if f.refs == 0 {
            if let Some(sock) = f.socket.take() {
                self.mainlog
                    .borrow_mut()
                    .info(&fcgi::closing_message(&f.config));
                sock.close();
            }
        }
    }

    /// A child of `key` was reaped: release its fcgi socket reference.
    pub fn child_reaped(&mut self, key: ProcKey) {
        self.cgroups.reaped(key);
        let group = match self.io.get(&key) {
            Some(io) if io.fcgi_ref.replace(false) => io.fcgi_group.clone(),
            _ => None,
        };
        if let Some(g) = group {
            self.fcgi_release(&g);
        }
    }
}

impl RealHost {
    /// [`Host::spawn`] without the time accounting.
    fn spawn_now(&mut self, key: ProcKey, pc: &ProcessConfig) -> Result<i32, SpawnFailure> {
        // `ready = notify`: the child gets its NOTIFY_SOCKET (crate::probe::notify).
        let with_notify;
        let pc = match self.probes.notify_env(key, pc) {
            Ok(Some(kv)) => {
                let mut c = pc.clone();
                c.environment.push(kv);
                with_notify = c;
                &with_notify
            }
            Ok(None) => pc,
            Err(m) => return Err(SpawnFailure::new(SpawnFailureKind::Other, m)),
        };
        let log_watch = self.probes.log_watch(key, pc);
        let server_url = spawn::server_url_for(pc, &self.config);
        let fcgi_group = self.io.get(&key).and_then(|io| io.fcgi_group.clone());
        if let Some(g) = &fcgi_group {
            self.fcgi_acquire(g)
                .map_err(|m| SpawnFailure::new(SpawnFailureKind::Other, m))?;
        }
        let fcgi_fd = fcgi_group
            .as_ref()
            .and_then(|g| self.fcgi.get(g))
            .and_then(|f| f.socket.as_ref())
            .map(|s| s.as_fd());
        let req = SpawnRequest {
            process: pc,
            supervisord_environment: &self.config.supervisord.environment,
            server_url: server_url.as_deref(),
            fcgi_socket: fcgi_fd,
        };
        let null = self.null_output(key, pc, log_watch.is_some());
        // cgroup keys: the process's cgroup is made (limits written) before the fork.
        let cgroup = match self.cgroups.prepare(pc) {
            Ok(c) => c,
            Err(m) => {
                if let Some(g) = &fcgi_group {
                    self.fcgi_release(g);
                }
                return Err(SpawnFailure::new(SpawnFailureKind::Other, m));
            }
        };
        let join = cgroup.as_ref().map(|c| c.procs_files()).unwrap_or_default();
        let child = match spawn::spawn_io(&req, self.unopened_logs, null, &join) {
            Ok(c) => c,
            Err(e) => {
                if let Some(g) = &fcgi_group {
                    self.fcgi_release(g);
                }
                return Err(spawn_failure(e));
            }
        };
        if let (Some(io), Some(_)) = (self.io.get(&key), &fcgi_group) {
            io.fcgi_ref.set(true);
        }
        let pid = child.pid;
        if let Some(cg) = cgroup {
            self.cgroups.started(key, pid, cg);
        }
        if let Some(io) = self.io.get(&key) {
            {
                let mut s = io.stdin.borrow_mut();
                s.fd = child
                    .stdin
                    .and_then(|fd| async_fd(fd, Interest::WRITABLE))
                    .map(Rc::new);
                s.pending.clear();
                s.broken = false;
            }
            let reader = |fd: OwnedFd, channel: Channel, logger: &Rc<RefCell<ChannelLogger>>| {
                let Some(fd) = async_fd(fd, Interest::READABLE) else {
                    return;
                };
                let fd: PipeSlot = Rc::new(RefCell::new(Some(fd)));
                let r = Rc::new(Reader {
                    pid,
                    name: io.name.clone(),
                    group: io.group.clone(),
                    channel,
                    logger: logger.clone(),
                    mainlog: self.mainlog.clone(),
                    events_enabled: match channel {
                        Channel::Stdout => io.events_enabled.0,
                        Channel::Stderr => io.events_enabled.1,
                    },
                    listener: io.listener && channel == Channel::Stdout,
                    bus: self.bus.clone(),
                    bus_wake: self.bus_wake.clone(),
                    log_feed: log_watch
                        .clone()
                        .map(|w| crate::probe::log::LineFeed::new(w, pid)),
                    splice_refused: std::cell::Cell::new(false),
                    pipe_grown: std::cell::Cell::new(false),
                });
                let stop = Rc::new(Notify::new());
                io.pipes.borrow_mut().push(Pipe {
                    fd: fd.clone(),
                    reader: r.clone(),
                    stop: stop.clone(),
                });
                tokio::task::spawn_local(read_pipe(fd, r, stop));
            };
            if let Some(fd) = child.stdout {
                reader(fd, Channel::Stdout, &io.stdout);
            }
            if let (Some(fd), Some(l)) = (child.stderr, io.stderr.as_ref()) {
                reader(fd, Channel::Stderr, l);
            }
        }
        Ok(pid)
    }
}

impl RealHost {
    /// Which of the child's output channels get `/dev/null` instead of a pipe: those whose
    /// bytes nobody needs (see [`needs_no_pipe`]). An event listener's stdout is its
    /// protocol channel and always gets a pipe; at `debug` the main log copies output.
    fn null_output(&self, key: ProcKey, pc: &ProcessConfig, log_watch: bool) -> spawn::NullOutput {
        let listener = self.io.get(&key).is_some_and(|io| io.listener);
        if listener || log_watch || self.mainlog.borrow().enabled(LogLevel::Debug) {
            return spawn::NullOutput::default();
        }
        spawn::NullOutput {
            stdout: needs_no_pipe(&pc.stdout),
            stderr: !pc.redirect_stderr && needs_no_pipe(&pc.stderr),
        }
    }
}

/// A channel whose bytes nobody needs: no log file (`NONE`), no syslog copy, no capture
/// mode, no PROCESS_LOG events. Such a child writes to `/dev/null` (one descriptor less
/// for as long as it runs). PROCESS_LOG events need `*_events_enabled`, so a listener
/// subscribing later never misses bytes of such a channel.
pub fn needs_no_pipe(c: &supervisor_config::LogChannelConfig) -> bool {
    c.logfile == LogFile::None && !c.syslog && c.capture_maxbytes == 0 && !c.events_enabled
}

/// The core's view of a parent-side spawn error: same kind, same `spawnerr` text.
fn spawn_failure(e: spawn::SpawnError) -> SpawnFailure {
    let kind = match e.kind {
        spawn::SpawnErrorKind::NoFile => SpawnFailureKind::NoFile,
        spawn::SpawnErrorKind::NotExecutable => SpawnFailureKind::NotExecutable,
        spawn::SpawnErrorKind::Other => SpawnFailureKind::Other,
    };
    SpawnFailure::new(kind, e.message)
}

impl Host for RealHost {
    fn spawn(&mut self, key: ProcKey, pc: &ProcessConfig) -> Result<i32, SpawnFailure> {
        let began = std::time::Instant::now();
        let result = self.spawn_now(key, pc);
        self.spawn_time += began.elapsed();
        result
    }

    fn may_restart(&self) -> bool {
        self.spawn_time < SPAWN_TIME_PER_TICK
    }

    fn random_fraction(&mut self) -> f64 {
        // backoff_jitter=: the thread's generator (seeded by the OS), asked only when
        // a process has jitter.
        rand::random::<f64>()
    }

    fn kill(&mut self, pid: i32, signal: i32) -> Result<(), KillError> {
        // kill_mode = cgroup: the whole cgroup (crate::cgroup); an empty one is gone.
        if let Some(n) = self.cgroups.kill(pid, signal) {
            if n > 0 {
                return Ok(());
            }
        }
        // SAFETY: kill(2) has no memory-safety preconditions.
        let rc = unsafe { libc::kill(pid, signal) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        let code = e.raw_os_error().unwrap_or(0);
        let text = format!(
            "[Errno {code}] {}",
            match code {
                libc::ESRCH => "No such process".to_string(),
                libc::EPERM => "Operation not permitted".to_string(),
                _ => e.to_string(),
            }
        );
        if code == libc::ESRCH {
            Err(KillError::NoSuchProcess(text))
        } else {
            Err(KillError::Other(text))
        }
    }
}
