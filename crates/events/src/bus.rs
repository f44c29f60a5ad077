//! The event bus: listener pools with their buffers and serials, dispatch to ready
//! listeners, TICK generation, and the streaming subscribers. One value, owned by the
//! daemon's event loop; every method is synchronous and does no I/O.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use supervisor_protocol::events::EventType;
use supervisor_protocol::{ListenerState, ProcessState};

use crate::event::{python_bytes_repr, python_str_repr, Event, StateSubject};
use crate::listener::{ListenerProtocol, ProtocolEffect};
use crate::stream::{StreamEvent, StreamItem};

/// The largest serial before the counters wrap to 0 (Python's `sys.maxsize`).
pub const MAX_SERIAL: u64 = i64::MAX as u64;

/// The TICK types with their periods in seconds.
pub const TICKS: [(EventType, u64); 3] = [
    (EventType::Tick5, 5),
    (EventType::Tick60, 60),
    (EventType::Tick3600, 3600),
];

/// Main-log severity of a [`LogLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `DEBG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`.
    Warn,
    /// `ERRO`.
    Error,
}

impl Level {
    /// The 4-letter tag of the main log.
    pub const fn tag(self) -> &'static str {
        match self {
            Level::Debug => "DEBG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERRO",
        }
    }
}

/// One line for the daemon's main log, with the reference's exact text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Severity.
    pub level: Level,
    /// The message (without timestamp or level tag).
    pub text: String,
}

/// The pending main-log lines, with the level below which lines are not even formatted.
#[derive(Debug)]
struct LogBuf {
    min: Level,
    lines: Vec<LogLine>,
}

impl LogBuf {
    fn push(&mut self, level: Level, text: impl FnOnce() -> String) {
        if level >= self.min {
            self.lines.push(LogLine {
                level,
                text: text(),
            });
        }
    }
}

/// How the `len:` header counts the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LenUnit {
    /// Unicode code points, as the reference (Python `len(str)`) does. The default:
    /// listeners that read stdin as text (superlance, `childutils`) read this many characters.
    #[default]
    Chars,
    /// UTF-8 bytes (what a listener reading a byte stream would need). Identical to
    /// `Chars` for ASCII payloads.
    Bytes,
}

/// A pool to create: one `[eventlistener:x]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    /// The pool (group) name.
    pub name: String,
    /// The subscribed types (abstract types subscribe to all their descendants).
    pub events: Vec<EventType>,
    /// Buffer capacity (`buffer_size`, at least 1; 0 is treated as 1).
    pub buffer_size: usize,
    /// The listener process names, in the pool's process order (dispatch prefers earlier ones).
    pub listeners: Vec<String>,
}

/// Bytes the daemon must write to a listener's stdin (one envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The pool (group) name.
    pub pool: String,
    /// The listener process name.
    pub listener: String,
    /// The global serial of the event (for logs and tests).
    pub serial: u64,
    /// The envelope: header line plus the UTF-8 payload.
    pub bytes: Vec<u8>,
}

/// Identifies a streaming subscriber (see [`EventBus::subscribe_stream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId(u64);

/// A pool the bus already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatePool(pub String);

impl std::fmt::Display for DuplicatePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event listener pool {} already exists", self.0)
    }
}

impl std::error::Error for DuplicatePool {}

#[derive(Debug, Clone)]
struct Queued {
    event: Arc<Event>,
    serial: u64,
    pool_serial: u64,
}

#[derive(Debug)]
struct Listener {
    name: String,
    process_state: ProcessState,
    protocol: ListenerProtocol,
    in_flight: Option<Queued>,
    /// Set when a write failed; cleared by the next spawn.
    stdin_closed: bool,
    /// False once the process is gone (until the next spawn): late output is ignored, as
    /// the reference drops a process's pipes when it reaps it.
    alive: bool,
}

impl Listener {
    fn can_take_event(&self) -> bool {
        self.process_state == ProcessState::Running
            && self.protocol.state() == ListenerState::Ready
            && !self.stdin_closed
    }
}

#[derive(Debug)]
struct Pool {
    name: String,
    events: Vec<EventType>,
    buffer_size: usize,
    serial: Option<u64>,
    buffer: VecDeque<Queued>,
    listeners: Vec<Listener>,
    /// Events discarded because the buffer was full (for `/metrics`).
    overflows: u64,
}

impl Pool {
    fn subscribes(&self, kind: EventType) -> bool {
        self.events.iter().any(|&s| kind.is_a(s))
    }

    /// Adds an event to the buffer; `head` for events coming back (they keep their
    /// serials), dropping the oldest buffered event when full.
    fn accept(&mut self, queued: Queued, head: bool, log: &mut LogBuf) {
        if head {
            log.push(Level::Debug, || {
                format!(
                    "rebuffering event {} for pool {} (buf size={}, max={})",
                    queued.serial,
                    self.name,
                    self.buffer.len(),
                    self.buffer_size
                )
            });
        }
        if self.buffer.len() >= self.buffer_size {
            if let Some(dropped) = self.buffer.pop_front() {
                self.overflows += 1;
                log.push(Level::Error, || {
                    format!(
                        "pool {} event buffer overflowed, discarding event {}",
                        self.name, dropped.serial
                    )
                });
            }
        }
        if head {
            self.buffer.push_front(queued);
        } else {
            self.buffer.push_back(queued);
        }
    }

    fn listener_mut(&mut self, name: &str) -> Option<&mut Listener> {
        self.listeners.iter_mut().find(|l| l.name == name)
    }
}

#[derive(Debug)]
struct Stream {
    id: StreamId,
    events: Vec<EventType>,
    sender: tokio::sync::mpsc::Sender<StreamItem>,
    dropped: u64,
}

/// Statistics of one streaming subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Events not queued because the subscriber's queue was full, not yet reported to it.
    pub pending_dropped: u64,
    /// Events dropped over the subscriber's lifetime.
    pub total_dropped: u64,
}

fn next_serial(counter: &mut Option<u64>) -> u64 {
    let next = match *counter {
        None => 0,
        Some(n) if n >= MAX_SERIAL => 0,
        Some(n) => n + 1,
    };
    *counter = Some(next);
    next
}

/// The whole event system of one daemon. See the crate documentation for the order in
/// which the daemon calls it.
#[derive(Debug)]
pub struct EventBus {
    identifier: String,
    len_unit: LenUnit,
    serial: Option<u64>,
    pools: Vec<Pool>,
    streams: Vec<Stream>,
    stream_totals: Vec<(StreamId, u64)>,
    next_stream_id: u64,
    stream_seq: u64,
    ticks: [Option<u64>; 3],
    log: LogBuf,
    /// Events published so far, by type (for `/metrics`; a few dozen types at most).
    published: Vec<(EventType, u64)>,
}

/// The queue of one listener pool, as `/metrics` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// The pool's name (its `[eventlistener:x]` group).
    pub name: String,
    /// Events buffered now, waiting for a listener.
    pub queued: usize,
    /// The pool's `buffer_size`.
    pub capacity: usize,
    /// Events discarded so far because the buffer was full.
    pub overflows: u64,
}

impl EventBus {
    /// An empty bus; `identifier` is `[supervisord] identifier` (the envelope's `server:`).
    pub fn new(identifier: &str) -> EventBus {
        EventBus {
            identifier: identifier.to_owned(),
            len_unit: LenUnit::default(),
            serial: None,
            pools: Vec::new(),
            streams: Vec::new(),
            stream_totals: Vec::new(),
            next_stream_id: 0,
            stream_seq: 0,
            ticks: [None; 3],
            log: LogBuf {
                min: Level::Debug,
                lines: Vec::new(),
            },
            published: Vec::new(),
        }
    }

    /// How many events of each type were published since the bus was created (types
    /// never published are absent), in first-published order.
    pub fn published_counts(&self) -> &[(EventType, u64)] {
        &self.published
    }

    /// Queue depth, capacity and overflow count of every pool, in subscription order.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        self.pools
            .iter()
            .map(|p| PoolStats {
                name: p.name.clone(),
                queued: p.buffer.len(),
                capacity: p.buffer_size,
                overflows: p.overflows,
            })
            .collect()
    }

    /// Changes the `server:` identifier (after a config reload).
    pub fn set_identifier(&mut self, identifier: &str) {
        identifier.clone_into(&mut self.identifier);
    }

    /// Chooses how `len:` counts (default [`LenUnit::Chars`], as the reference).
    pub fn set_len_unit(&mut self, unit: LenUnit) {
        self.len_unit = unit;
    }

    /// Lines below `level` are not produced at all (set it to the main log's level so a
    /// busy pool does not format DEBG lines nobody writes). Default: everything.
    pub fn set_min_log_level(&mut self, level: Level) {
        self.log.min = level;
    }

    /// Creates a pool. Call it before publishing the pool's own `PROCESS_GROUP_ADDED` so
    /// the pool receives it, as in the reference. Pools receive events in creation order.
    pub fn add_pool(&mut self, spec: PoolSpec) -> Result<(), DuplicatePool> {
        if self.pools.iter().any(|p| p.name == spec.name) {
            return Err(DuplicatePool(spec.name));
        }
        let mut events = Vec::new();
        for t in spec.events {
            if !events.contains(&t) {
                events.push(t);
            }
        }
        self.pools.push(Pool {
            name: spec.name,
            events,
            buffer_size: spec.buffer_size.max(1),
            serial: None,
            buffer: VecDeque::new(),
            overflows: 0,
            listeners: spec
                .listeners
                .into_iter()
                .map(|name| Listener {
                    name,
                    process_state: ProcessState::Stopped,
                    protocol: ListenerProtocol::new(),
                    in_flight: None,
                    stdin_closed: false,
                    alive: false,
                })
                .collect(),
        });
        Ok(())
    }

    /// Removes a pool (its group was removed); its buffered events are discarded. Call it
    /// before publishing `PROCESS_GROUP_REMOVED`. Returns false if there was no such pool.
    pub fn remove_pool(&mut self, name: &str) -> bool {
        let before = self.pools.len();
        self.pools.retain(|p| p.name != name);
        self.pools.len() != before
    }

    /// Forgets all pools and the TICK clock, as the reference does when it restarts
    /// (SIGHUP). The global serial continues; streaming subscribers stay connected.
    pub fn clear(&mut self) {
        self.pools.clear();
        self.ticks = [None; 3];
    }

    /// The names of the pools, in subscription order.
    pub fn pool_names(&self) -> impl Iterator<Item = &str> {
        self.pools.iter().map(|p| p.name.as_str())
    }

    /// Publishes one event: every pool subscribed to its type buffers it (the global serial
    /// is assigned by the first acceptance), then every matching stream gets a copy. A
    /// `PROCESS_STATE_*` event about a listener also updates that listener: STARTING means
    /// a fresh spawn (protocol back to ACKNOWLEDGED), and a process that is gone (BACKOFF,
    /// EXITED, STOPPED, FATAL) gives its event in flight back to its pool's head.
    pub fn publish(&mut self, event: Event) {
        let event = Arc::new(event);
        let kind = event.kind();
        match self.published.iter_mut().find(|(t, _)| *t == kind) {
            Some((_, n)) => *n += 1,
            None => self.published.push((kind, 1)),
        }
        let mut serial: Option<u64> = None;
        for pool in &mut self.pools {
            if !pool.subscribes(kind) {
                continue;
            }
            let s = *serial.get_or_insert_with(|| next_serial(&mut self.serial));
            let pool_serial = next_serial(&mut pool.serial);
            let queued = Queued {
                event: Arc::clone(&event),
                serial: s,
                pool_serial,
            };
            pool.accept(queued, false, &mut self.log);
        }
        self.publish_to_streams(&event, &mut serial);
        if let Some(subject) = event.state_subject() {
            self.track_listener(subject);
        }
    }

    fn publish_to_streams(&mut self, event: &Arc<Event>, serial: &mut Option<u64>) {
        let kind = event.kind();
        let mut item: Option<Arc<StreamEvent>> = None;
        let mut closed = Vec::new();
        for stream in &mut self.streams {
            if !stream.events.iter().any(|&s| kind.is_a(s)) {
                continue;
            }
            let shared = item.get_or_insert_with(|| {
                let s = *serial.get_or_insert_with(|| next_serial(&mut self.serial));
                self.stream_seq += 1;
                Arc::new(StreamEvent {
                    seq: self.stream_seq,
                    serial: s,
                    event: Arc::clone(event),
                })
            });
            if stream.dropped > 0 {
                match stream.sender.try_send(StreamItem::Dropped(stream.dropped)) {
                    Ok(()) => stream.dropped = 0,
                    Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                        stream.dropped += 1;
                        bump_total(&mut self.stream_totals, stream.id);
                        continue;
                    }
                    Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                        closed.push(stream.id);
                        continue;
                    }
                }
            }
            match stream
                .sender
                .try_send(StreamItem::Event(Arc::clone(shared)))
            {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                    stream.dropped += 1;
                    bump_total(&mut self.stream_totals, stream.id);
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => closed.push(stream.id),
            }
        }
        for id in closed {
            self.unsubscribe_stream(id);
        }
    }

    fn track_listener(&mut self, subject: &StateSubject) {
        let Some(pool) = self.pools.iter_mut().find(|p| p.name == subject.group) else {
            return;
        };
        let Some(index) = pool
            .listeners
            .iter()
            .position(|l| l.name == subject.process)
        else {
            return;
        };
        let listener = &mut pool.listeners[index];
        listener.process_state = subject.to;
        let gone = matches!(
            subject.to,
            ProcessState::Starting
                | ProcessState::Backoff
                | ProcessState::Exited
                | ProcessState::Stopped
                | ProcessState::Fatal
        );
        if !gone {
            return;
        }
        let returned = listener.in_flight.take();
        listener.alive = subject.to == ProcessState::Starting;
        if listener.alive {
            listener.protocol.reset();
            listener.stdin_closed = false;
        }
        if let Some(queued) = returned {
            pool.accept(queued, true, &mut self.log);
        }
    }

    /// Bytes read from a listener's stdout. Drives its protocol; a finished event is
    /// dropped from flight, a rejected one goes back to the head of the pool. Also logs the
    /// reference's DEBG copy of the output (`'<name>' stdout output:` + the bytes' repr), so
    /// the daemon must not log listener stdout to the main log itself (it still writes it to
    /// the listener's `stdout_logfile`). Output arriving after the process was reported gone
    /// (BACKOFF, EXITED, STOPPED, FATAL) is ignored until it is spawned again. Returns false
    /// if the bus has no such listener.
    pub fn listener_output(&mut self, pool: &str, listener: &str, data: &[u8]) -> bool {
        let Some(p) = self.pools.iter_mut().find(|p| p.name == pool) else {
            return false;
        };
        let Some(l) = p.listener_mut(listener) else {
            return false;
        };
        if !l.alive {
            return true;
        }
        if !data.is_empty() {
            self.log.push(Level::Debug, || {
                format!(
                    "{} stdout output:\n{}",
                    python_str_repr(&l.name),
                    python_bytes_repr(data)
                )
            });
        }
        let mut effects = Vec::new();
        l.protocol.feed(data, &mut effects);
        let mut returned = None;
        for effect in effects {
            match effect {
                ProtocolEffect::StateChanged { from, to } => {
                    self.log.push(Level::Debug, || {
                        format!("{}: {} -> {}", l.name, from.name(), to.name())
                    });
                    if to == ListenerState::Unknown {
                        self.log.push(Level::Warn, || {
                            format!(
                                "{}: has entered the UNKNOWN state and will no longer receive \
                                 events, this usually indicates the process violated the \
                                 eventlistener protocol",
                                l.name
                            )
                        });
                    }
                }
                ProtocolEffect::BadResultLine(line) => self.log.push(Level::Warn, || {
                    format!("{}: bad result line: '{}'", l.name, line)
                }),
                ProtocolEffect::Processed => {
                    l.in_flight = None;
                    self.log
                        .push(Level::Debug, || format!("{}: event was processed", l.name));
                }
                ProtocolEffect::Rejected => self
                    .log
                    .push(Level::Warn, || format!("{}: event was rejected", l.name)),
                ProtocolEffect::ReturnEvent => {
                    if let Some(q) = l.in_flight.take() {
                        returned = Some(q);
                    }
                }
            }
        }
        if let Some(q) = returned {
            p.accept(q, true, &mut self.log);
        }
        true
    }

    /// The envelope written to a listener could not be written (its stdin is closed): the
    /// event goes back to the head of the pool and the listener gets no more events until
    /// it is spawned again. Returns false if that listener had no event in flight.
    pub fn delivery_failed(&mut self, pool: &str, listener: &str) -> bool {
        let Some(p) = self.pools.iter_mut().find(|p| p.name == pool) else {
            return false;
        };
        let Some(l) = p.listener_mut(listener) else {
            return false;
        };
        l.stdin_closed = true;
        let Some(q) = l.in_flight.take() else {
            return false;
        };
        l.protocol.event_undelivered();
        self.log.push(Level::Debug, || {
            format!(
                "epipe occurred while sending event {} to listener {}, listener state unchanged",
                q.serial, l.name
            )
        });
        p.accept(q, true, &mut self.log);
        true
    }

    /// Sends buffered events, oldest first, to listeners that are RUNNING and READY (the
    /// first such listener of the pool each time), until the buffers are empty or no
    /// listener is free. Call it once per loop turn, after feeding everything else. Each
    /// returned [`Delivery`] must be written to that listener's stdin.
    pub fn dispatch(&mut self) -> Vec<Delivery> {
        let mut out = Vec::new();
        for pool in &mut self.pools {
            if !pool.listeners.iter().any(Listener::can_take_event) {
                continue;
            }
            while let Some(queued) = pool.buffer.pop_front() {
                let Some(listener) = pool.listeners.iter_mut().find(|l| l.can_take_event()) else {
                    pool.accept(queued, true, &mut self.log);
                    break;
                };
                let bytes = envelope(
                    &self.identifier,
                    self.len_unit,
                    &pool.name,
                    queued.serial,
                    queued.pool_serial,
                    &queued.event,
                );
                listener.protocol.event_sent();
                self.log.push(Level::Debug, || {
                    format!("event {} sent to listener {}", queued.serial, listener.name)
                });
                out.push(Delivery {
                    pool: pool.name.clone(),
                    listener: listener.name.clone(),
                    serial: queued.serial,
                    bytes,
                });
                listener.in_flight = Some(queued);
            }
        }
        out
    }

    /// Takes the main-log lines produced since the last call, oldest first.
    pub fn take_log(&mut self) -> Vec<LogLine> {
        std::mem::take(&mut self.log.lines)
    }

    /// Generates TICK events for the wall-clock time `now`: for each period, an event
    /// when `now` is in a later period slice than at the previous call (one event per
    /// crossing, for the latest boundary; no catch-up). The first call only records the
    /// current slices. Call it on every loop turn.
    pub fn tick(&mut self, now: SystemTime) {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for (i, (kind, period)) in TICKS.into_iter().enumerate() {
            let slice = secs - secs % period;
            match self.ticks[i] {
                None => self.ticks[i] = Some(slice),
                Some(last) if last != slice => {
                    self.ticks[i] = Some(slice);
                    if let Some(event) = Event::tick(kind, slice) {
                        self.publish(event);
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// True when some pool or stream would receive events of type `kind`.
    pub fn has_subscriber(&self, kind: EventType) -> bool {
        self.pools.iter().any(|p| p.subscribes(kind))
            || self
                .streams
                .iter()
                .any(|s| s.events.iter().any(|&t| kind.is_a(t)))
    }

    /// True when some pool or stream subscribes to a TICK type (directly or through
    /// `TICK`/`EVENT`): the daemon needs TICK events (and their timer) only then.
    pub fn wants_ticks(&self) -> bool {
        TICKS.iter().any(|(kind, _)| self.has_subscriber(*kind))
    }

    /// When the next TICK event is due, if anyone subscribes to one (else `None`: the loop
    /// needs no timer for ticks). `None` too before the first [`EventBus::tick`] call.
    pub fn next_tick_deadline(&self) -> Option<SystemTime> {
        TICKS
            .into_iter()
            .enumerate()
            .filter(|(_, (kind, _))| self.has_subscriber(*kind))
            .filter_map(|(i, (_, period))| self.ticks[i].map(|last| last + period))
            .min()
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Registers a streaming subscriber for `events` (abstract types include their
    /// descendants) with a queue of `capacity` items (at least 1). The bus never waits
    /// for it: when the queue is full the event is dropped and counted, and a
    /// [`StreamItem::Dropped`] is queued before the next event that fits. Dropping the
    /// receiver unsubscribes (noticed at the next matching event).
    pub fn subscribe_stream(
        &mut self,
        events: &[EventType],
        capacity: usize,
    ) -> (StreamId, tokio::sync::mpsc::Receiver<StreamItem>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
        let id = StreamId(self.next_stream_id);
        self.next_stream_id += 1;
        self.streams.push(Stream {
            id,
            events: events.to_vec(),
            sender,
            dropped: 0,
        });
        self.stream_totals.push((id, 0));
        (id, receiver)
    }

    /// Removes a streaming subscriber; returns false if it was not subscribed.
    pub fn unsubscribe_stream(&mut self, id: StreamId) -> bool {
        let before = self.streams.len();
        self.streams.retain(|s| s.id != id);
        self.stream_totals.retain(|(s, _)| *s != id);
        self.streams.len() != before
    }

    /// Drop counters of a streaming subscriber.
    pub fn stream_stats(&self, id: StreamId) -> Option<StreamStats> {
        let stream = self.streams.iter().find(|s| s.id == id)?;
        let total = self
            .stream_totals
            .iter()
            .find(|(s, _)| *s == id)
            .map_or(0, |(_, n)| *n);
        Some(StreamStats {
            pending_dropped: stream.dropped,
            total_dropped: total,
        })
    }

    /// The number of streaming subscribers.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Whether some pool holds buffered events while one of its RUNNING listeners is
    /// still working on an earlier one (BUSY or ACKNOWLEDGED): those events will go out
    /// as soon as that listener reports READY. The daemon asks this before it stops
    /// listeners at shutdown, so they receive SUPERVISOR_STATE_CHANGE_STOPPING.
    pub fn awaiting_ready_listener(&self) -> bool {
        self.pools.iter().any(|p| {
            !p.buffer.is_empty()
                && p.listeners.iter().any(|l| {
                    l.process_state == ProcessState::Running
                        && l.alive
                        && !l.stdin_closed
                        && matches!(
                            l.protocol.state(),
                            ListenerState::Busy | ListenerState::Acknowledged
                        )
                })
        })
    }

    /// The serials of the events buffered in a pool, oldest first.
    pub fn buffered_serials(&self, pool: &str) -> Option<Vec<u64>> {
        let p = self.pools.iter().find(|p| p.name == pool)?;
        Some(p.buffer.iter().map(|q| q.serial).collect())
    }

    /// A listener's protocol state.
    pub fn listener_state(&self, pool: &str, listener: &str) -> Option<ListenerState> {
        let p = self.pools.iter().find(|p| p.name == pool)?;
        let l = p.listeners.iter().find(|l| l.name == listener)?;
        Some(l.protocol.state())
    }

    /// The serial of the event a listener is processing, if any.
    pub fn in_flight(&self, pool: &str, listener: &str) -> Option<u64> {
        let p = self.pools.iter().find(|p| p.name == pool)?;
        let l = p.listeners.iter().find(|l| l.name == listener)?;
        l.in_flight.as_ref().map(|q| q.serial)
    }
}

fn bump_total(totals: &mut [(StreamId, u64)], id: StreamId) {
    if let Some((_, n)) = totals.iter_mut().find(|(s, _)| *s == id) {
        *n += 1;
    }
}

/// Renders the envelope the reference writes to a listener's stdin:
/// `ver:3.0 server:<id> serial:<n> pool:<pool> poolserial:<n> eventname:<NAME> len:<n>\n<payload>`.
pub fn envelope(
    identifier: &str,
    len_unit: LenUnit,
    pool: &str,
    serial: u64,
    pool_serial: u64,
    event: &Event,
) -> Vec<u8> {
    let payload = event.payload();
    let len = match len_unit {
        LenUnit::Chars => payload.chars().count(),
        LenUnit::Bytes => payload.len(),
    };
    let mut out = format!(
        "ver:3.0 server:{identifier} serial:{serial} pool:{pool} poolserial:{pool_serial} \
         eventname:{} len:{len}\n",
        event.name()
    )
    .into_bytes();
    out.extend_from_slice(payload.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Channel, ProcessStateChange};

    fn pool(name: &str, events: &[EventType], size: usize, listeners: &[&str]) -> PoolSpec {
        PoolSpec {
            name: name.into(),
            events: events.to_vec(),
            buffer_size: size,
            listeners: listeners.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn state(process: &str, group: &str, from: ProcessState, to: ProcessState) -> Event {
        Event::process_state(&ProcessStateChange {
            process,
            group,
            from,
            to,
            pid: 100,
            tries: 0,
            expected: false,
        })
    }

    /// Spawns a listener and makes it RUNNING and READY.
    fn start(bus: &mut EventBus, pool: &str, name: &str) {
        bus.publish(state(
            name,
            pool,
            ProcessState::Stopped,
            ProcessState::Starting,
        ));
        bus.publish(state(
            name,
            pool,
            ProcessState::Starting,
            ProcessState::Running,
        ));
        assert!(bus.listener_output(pool, name, b"READY\n"));
    }

    fn text(d: &Delivery) -> String {
        String::from_utf8(d.bytes.clone()).unwrap()
    }

    fn lines(bus: &mut EventBus) -> Vec<String> {
        bus.take_log()
            .into_iter()
            .map(|l| format!("{} {}", l.level.tag(), l.text))
            .collect()
    }

    #[test]
    fn envelope_and_serials_match_the_reference_sample() {
        let mut bus = EventBus::new("supervisor");
        bus.add_pool(pool("lis", &[EventType::Event], 10, &["lis"]))
            .unwrap();
        bus.publish(Event::group_added("lis"));
        assert!(bus.dispatch().is_empty(), "not running yet");
        start(&mut bus, "lis", "lis");
        let d = bus.dispatch();
        assert_eq!(d.len(), 1);
        assert_eq!(
            text(&d[0]),
            "ver:3.0 server:supervisor serial:0 pool:lis poolserial:0 \
             eventname:PROCESS_GROUP_ADDED len:14\ngroupname:lis\n"
        );
        assert_eq!((d[0].pool.as_str(), d[0].listener.as_str()), ("lis", "lis"));
        assert_eq!(bus.listener_state("lis", "lis"), Some(ListenerState::Busy));
        assert_eq!(bus.in_flight("lis", "lis"), Some(0));
        assert!(
            bus.dispatch().is_empty(),
            "one event in flight per listener"
        );
        assert_eq!(bus.buffered_serials("lis").unwrap(), vec![1, 2]);
        let log = lines(&mut bus);
        assert!(log.contains(&"DEBG lis: ACKNOWLEDGED -> READY".to_string()));
        assert!(log.contains(&"DEBG event 0 sent to listener lis".to_string()));
        bus.listener_output("lis", "lis", b"RESULT 2\nOKREADY\n");
        assert_eq!(
            lines(&mut bus),
            vec![
                "DEBG 'lis' stdout output:\nb'RESULT 2\\nOKREADY\\n'",
                "DEBG lis: event was processed",
                "DEBG lis: BUSY -> ACKNOWLEDGED",
                "DEBG lis: ACKNOWLEDGED -> READY"
            ]
        );
        assert_eq!(bus.in_flight("lis", "lis"), None);
        let d = bus.dispatch();
        assert!(text(&d[0]).starts_with(
            "ver:3.0 server:supervisor serial:1 pool:lis poolserial:1 eventname:PROCESS_STATE_STARTING len:"
        ));
    }

    #[test]
    fn global_serial_only_counts_accepted_events() {
        let mut bus = EventBus::new("id");
        bus.add_pool(pool("a", &[EventType::Tick], 10, &["a"]))
            .unwrap();
        bus.add_pool(pool(
            "b",
            &[EventType::ProcessGroup, EventType::Tick5],
            10,
            &["b"],
        ))
        .unwrap();
        bus.publish(Event::supervisor_running()); // nobody subscribes
        bus.publish(Event::group_added("x")); // b only
        bus.publish(Event::tick(EventType::Tick5, 5).unwrap()); // both
        bus.publish(Event::tick(EventType::Tick60, 60).unwrap()); // a only
        assert_eq!(bus.buffered_serials("a").unwrap(), vec![1, 2]);
        assert_eq!(bus.buffered_serials("b").unwrap(), vec![0, 1]);
        start(&mut bus, "a", "a");
        start(&mut bus, "b", "b");
        let d = bus.dispatch();
        assert!(text(&d[0]).contains("serial:1 pool:a poolserial:0 eventname:TICK_5 len:6\nwhen:5"));
        assert!(text(&d[1]).contains("serial:0 pool:b poolserial:0 eventname:PROCESS_GROUP_ADDED"));
    }

    #[test]
    fn overflow_drops_the_oldest_with_the_reference_line() {
        let mut bus = EventBus::new("supervisor");
        bus.add_pool(pool("lis", &[EventType::RemoteCommunication], 2, &["l"]))
            .unwrap();
        for i in 0..3 {
            bus.publish(Event::remote_communication("t", &i.to_string()));
        }
        assert_eq!(bus.buffered_serials("lis").unwrap(), vec![1, 2]);
        assert_eq!(
            lines(&mut bus),
            vec!["ERRO pool lis event buffer overflowed, discarding event 0"]
        );
        // The /metrics figures: one overflow, two queued, three events of the type.
        assert_eq!(
            bus.pool_stats(),
            vec![PoolStats {
                name: "lis".into(),
                queued: 2,
                capacity: 2,
                overflows: 1
            }]
        );
        assert_eq!(
            bus.published_counts(),
            &[(EventType::RemoteCommunication, 3)]
        );
    }

    #[test]
    fn rejected_event_goes_back_to_the_head_with_its_serials() {
        let mut bus = EventBus::new("supervisor");
        bus.add_pool(pool("lis", &[EventType::RemoteCommunication], 10, &["l"]))
            .unwrap();
        bus.publish(Event::remote_communication("a", "1"));
        bus.publish(Event::remote_communication("b", "2"));
        start(&mut bus, "lis", "l");
        let first = bus.dispatch();
        lines(&mut bus);
        bus.listener_output("lis", "l", b"RESULT 4\nFAIL");
        assert_eq!(
            lines(&mut bus),
            vec![
                "DEBG 'l' stdout output:\nb'RESULT 4\\nFAIL'",
                "WARN l: event was rejected",
                "DEBG l: BUSY -> ACKNOWLEDGED",
                "DEBG rebuffering event 0 for pool lis (buf size=1, max=10)"
            ]
        );
        assert_eq!(bus.buffered_serials("lis").unwrap(), vec![0, 1]);
        bus.listener_output("lis", "l", b"READY\n");
        let again = bus.dispatch();
        assert_eq!(first, again, "same envelope, same serials");
    }

    #[test]
    fn bad_result_line_makes_the_listener_unknown_until_respawn() {
        let mut bus = EventBus::new("supervisor");
        bus.add_pool(pool("lis", &[EventType::RemoteCommunication], 10, &["l"]))
            .unwrap();
        bus.publish(Event::remote_communication("a", "1"));
        start(&mut bus, "lis", "l");
        bus.dispatch();
        lines(&mut bus);
        bus.listener_output("lis", "l", b"garbage\n");
        assert_eq!(
            lines(&mut bus),
            vec![
                "DEBG 'l' stdout output:\nb'garbage\\n'",
                "WARN l: bad result line: 'garbage'",
                "DEBG l: BUSY -> UNKNOWN",
                "WARN l: has entered the UNKNOWN state and will no longer receive events, this \
                 usually indicates the process violated the eventlistener protocol",
                "DEBG rebuffering event 0 for pool lis (buf size=0, max=10)"
            ]
        );
        bus.listener_output("lis", "l", b"READY\n");
        assert!(bus.dispatch().is_empty());
        assert_eq!(bus.listener_state("lis", "l"), Some(ListenerState::Unknown));
        // The reference keeps a misbehaving listener running; a restart revives it.
        bus.publish(state(
            "l",
            "lis",
            ProcessState::Running,
            ProcessState::Stopping,
        ));
        bus.publish(state(
            "l",
            "lis",
            ProcessState::Stopping,
            ProcessState::Stopped,
        ));
        start(&mut bus, "lis", "l");
        assert_eq!(bus.dispatch().len(), 1);
    }

    #[test]
    fn listener_dying_while_busy_loses_nothing() {
        let mut bus = EventBus::new("supervisor");
        bus.add_pool(pool("lis", &[EventType::Event], 10, &["l"]))
            .unwrap();
        bus.publish(Event::remote_communication("a", "1"));
        start(&mut bus, "lis", "l");
        // the two state events of the start are buffered too (serials 1, 2)
        let d = bus.dispatch();
        assert_eq!(d[0].serial, 0);
        bus.publish(state(
            "l",
            "lis",
            ProcessState::Running,
            ProcessState::Exited,
        ));
        assert_eq!(bus.buffered_serials("lis").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(bus.in_flight("lis", "lis"), None);
        bus.publish(state(
            "l",
            "lis",
            ProcessState::Exited,
            ProcessState::Starting,
        ));
        assert_eq!(
            bus.listener_state("lis", "l"),
            Some(ListenerState::Acknowledged)
        );
        assert!(bus.dispatch().is_empty(), "STARTING listeners get nothing");
        bus.listener_output("lis", "l", b"READY\n");
        assert!(bus.dispatch().is_empty(), "still STARTING");
        bus.publish(state(
            "l",
            "lis",
            ProcessState::Starting,
            ProcessState::Running,
        ));
        assert_eq!(bus.dispatch()[0].serial, 0);
    }

    #[test]
    fn output_after_death_is_ignored() {
        let mut bus = EventBus::new("s");
        bus.add_pool(pool("p", &[EventType::RemoteCommunication], 10, &["l"]))
            .unwrap();
        bus.publish(Event::remote_communication("t", "x"));
        start(&mut bus, "p", "l");
        bus.dispatch();
        bus.publish(state("l", "p", ProcessState::Running, ProcessState::Exited));
        lines(&mut bus);
        // The answer was read only after the exit was reported: the event stays buffered.
        bus.listener_output("p", "l", b"RESULT 2\nOK");
        assert!(lines(&mut bus).is_empty());
        assert_eq!(bus.buffered_serials("p").unwrap(), vec![0]);
        start(&mut bus, "p", "l");
        assert_eq!(bus.dispatch()[0].serial, 0);
    }

    #[test]
    fn dispatch_prefers_earlier_listeners_and_rebuffers_the_rest() {
        let mut bus = EventBus::new("s");
        bus.add_pool(pool(
            "p",
            &[EventType::RemoteCommunication],
            10,
            &["p0", "p1"],
        ))
        .unwrap();
        start(&mut bus, "p", "p1");
        start(&mut bus, "p", "p0");
        for i in 0..3 {
            bus.publish(Event::remote_communication("t", &i.to_string()));
        }
        lines(&mut bus);
        let d = bus.dispatch();
        let to: Vec<_> = d.iter().map(|d| (d.listener.as_str(), d.serial)).collect();
        assert_eq!(to, vec![("p0", 0), ("p1", 1)]);
        assert_eq!(
            lines(&mut bus),
            vec![
                "DEBG event 0 sent to listener p0",
                "DEBG event 1 sent to listener p1",
                "DEBG rebuffering event 2 for pool p (buf size=0, max=10)"
            ]
        );
    }

    #[test]
    fn awaiting_ready_listener_only_while_a_busy_listener_has_events_queued() {
        let mut bus = EventBus::new("s");
        bus.add_pool(pool("p", &[EventType::RemoteCommunication], 10, &["l"]))
            .unwrap();
        assert!(!bus.awaiting_ready_listener(), "nothing queued");
        bus.publish(Event::remote_communication("t", "0"));
        assert!(!bus.awaiting_ready_listener(), "listener not running");
        start(&mut bus, "p", "l");
        assert_eq!(bus.dispatch().len(), 1);
        assert!(!bus.awaiting_ready_listener(), "busy, but nothing queued");
        bus.publish(Event::remote_communication("t", "1"));
        assert!(bus.awaiting_ready_listener(), "busy with event 1 queued");
        bus.listener_output("p", "l", b"RESULT 2\nOKREADY\n");
        assert!(
            !bus.awaiting_ready_listener(),
            "ready: dispatch can send it"
        );
        assert_eq!(bus.dispatch().len(), 1);
        assert!(!bus.awaiting_ready_listener());
    }

    #[test]
    fn delivery_failure_requeues_and_skips_the_listener() {
        let mut bus = EventBus::new("s");
        bus.add_pool(pool(
            "p",
            &[EventType::RemoteCommunication],
            10,
            &["p0", "p1"],
        ))
        .unwrap();
        start(&mut bus, "p", "p0");
        bus.publish(Event::remote_communication("t", "x"));
        assert_eq!(bus.dispatch()[0].listener, "p0");
        assert!(bus.delivery_failed("p", "p0"));
        assert!(!bus.delivery_failed("p", "p0"));
        assert_eq!(bus.listener_state("p", "p0"), Some(ListenerState::Ready));
        assert!(bus.dispatch().is_empty());
        start(&mut bus, "p", "p1");
        assert_eq!(bus.dispatch()[0].listener, "p1");
    }

    #[test]
    fn len_counts_characters_by_default() {
        let mut bus = EventBus::new("s");
        bus.add_pool(pool("p", &[EventType::ProcessLog], 10, &["l"]))
            .unwrap();
        bus.publish(Event::process_log(
            Channel::Stdout,
            "a",
            "a",
            1,
            "é\n".as_bytes(),
        ));
        bus.publish(Event::process_log(
            Channel::Stdout,
            "a",
            "a",
            1,
            "é\n".as_bytes(),
        ));
        start(&mut bus, "p", "l");
        let d = bus.dispatch();
        let header = "processname:a groupname:a pid:1 channel:stdout\n";
        assert!(text(&d[0]).contains(&format!("len:{}\n", header.len() + 2)));
        bus.listener_output("p", "l", b"RESULT 2\nOKREADY\n");
        bus.set_len_unit(LenUnit::Bytes);
        let d = bus.dispatch();
        assert!(text(&d[0]).contains(&format!("len:{}\n", header.len() + 3)));
    }

    #[test]
    fn ticks_at_boundaries_without_catch_up() {
        let at = |s: u64| UNIX_EPOCH + Duration::from_millis(s);
        let mut bus = EventBus::new("s");
        bus.tick(at(1_000_002_000));
        assert_eq!(bus.next_tick_deadline(), None, "no subscriber, no timer");
        bus.add_pool(pool("p", &[EventType::Tick5], 10, &["l"]))
            .unwrap();
        assert_eq!(bus.next_tick_deadline(), Some(at(1_000_005_000)));
        bus.tick(at(1_000_004_999));
        assert_eq!(bus.buffered_serials("p").unwrap().len(), 0);
        bus.tick(at(1_000_005_000));
        bus.tick(at(1_000_032_500)); // several boundaries at once: one event
        start(&mut bus, "p", "l");
        let d = bus.dispatch();
        assert!(text(&d[0]).ends_with("eventname:TICK_5 len:12\nwhen:1000005"));
        bus.listener_output("p", "l", b"RESULT 2\nOKREADY\n");
        assert!(text(&bus.dispatch()[0]).ends_with("when:1000030"));
        assert_eq!(bus.next_tick_deadline(), Some(at(1_000_035_000)));
        bus.add_pool(pool("q", &[EventType::Event], 10, &[]))
            .unwrap();
        // 60 s and 3600 s slices were recorded at the first call.
        assert_eq!(bus.next_tick_deadline(), Some(at(1_000_035_000)));
        bus.remove_pool("p");
        bus.remove_pool("q");
        assert_eq!(bus.next_tick_deadline(), None);
        bus.add_pool(pool("h", &[EventType::Tick3600], 10, &[]))
            .unwrap();
        assert_eq!(bus.next_tick_deadline(), Some(at(1_000_800_000)));
        bus.clear();
        assert_eq!(bus.pool_names().count(), 0);
        assert_eq!(bus.next_tick_deadline(), None);
    }

    #[test]
    fn duplicate_pools_and_unknown_listeners() {
        let mut bus = EventBus::new("s");
        bus.add_pool(pool("p", &[EventType::Event], 1, &["l"]))
            .unwrap();
        let err = bus
            .add_pool(pool("p", &[EventType::Event], 1, &[]))
            .unwrap_err();
        assert_eq!(err.to_string(), "event listener pool p already exists");
        assert!(!bus.listener_output("p", "nope", b"READY\n"));
        assert!(!bus.listener_output("nope", "l", b"READY\n"));
        assert!(!bus.delivery_failed("nope", "l"));
        assert!(bus.remove_pool("p"));
        assert!(!bus.remove_pool("p"));
    }

    #[test]
    fn lines_below_the_minimum_level_are_not_produced() {
        let mut bus = EventBus::new("s");
        bus.set_min_log_level(Level::Warn);
        bus.add_pool(pool("p", &[EventType::RemoteCommunication], 1, &["l"]))
            .unwrap();
        start(&mut bus, "p", "l");
        bus.publish(Event::remote_communication("t", "1"));
        bus.publish(Event::remote_communication("t", "2"));
        bus.dispatch();
        bus.listener_output("p", "l", b"RESULT 4\nFAIL");
        assert_eq!(
            lines(&mut bus),
            vec![
                "ERRO pool p event buffer overflowed, discarding event 0",
                "WARN l: event was rejected"
            ]
        );
    }

    #[test]
    fn overlapping_subscriptions_deliver_once() {
        // The reference buffers the event once per matching subscription (a duplicate with
        // the same serial); we deliberately deliver it once (docs/events.md).
        let mut bus = EventBus::new("s");
        let events = [
            EventType::Event,
            EventType::RemoteCommunication,
            EventType::Event,
        ];
        bus.add_pool(pool("p", &events, 10, &["l"])).unwrap();
        bus.publish(Event::remote_communication("t", "x"));
        assert_eq!(bus.buffered_serials("p").unwrap(), vec![0]);
    }

    #[test]
    fn serials_wrap_like_the_reference() {
        let mut c = Some(MAX_SERIAL - 1);
        assert_eq!(next_serial(&mut c), MAX_SERIAL);
        assert_eq!(next_serial(&mut c), 0);
    }

    #[test]
    fn streams_filter_count_drops_and_go_away() {
        let mut bus = EventBus::new("s");
        let (id, mut rx) = bus.subscribe_stream(&[EventType::ProcessGroup], 2);
        bus.publish(Event::supervisor_running());
        for g in ["a", "b", "c", "d"] {
            bus.publish(Event::group_added(g));
        }
        assert_eq!(
            bus.stream_stats(id),
            Some(StreamStats {
                pending_dropped: 2,
                total_dropped: 2
            })
        );
        let first = rx.try_recv().unwrap();
        let StreamItem::Event(e) = &first else {
            panic!()
        };
        assert_eq!(
            (e.seq, e.serial, e.event.payload()),
            (1, 0, "groupname:a\n")
        );
        rx.try_recv().unwrap();
        assert!(rx.try_recv().is_err());
        bus.publish(Event::group_removed("a"));
        assert_eq!(rx.try_recv().unwrap(), StreamItem::Dropped(2));
        let StreamItem::Event(e) = rx.try_recv().unwrap() else {
            panic!()
        };
        assert_eq!(
            (e.seq, e.serial, e.event.name()),
            (5, 4, "PROCESS_GROUP_REMOVED")
        );
        assert_eq!(bus.stream_stats(id).unwrap().pending_dropped, 0);
        assert!(bus.has_subscriber(EventType::ProcessGroupAdded));
        drop(rx);
        bus.publish(Event::group_removed("b"));
        assert_eq!(bus.stream_count(), 0);
        let (id, _rx) = bus.subscribe_stream(&[EventType::Tick], 1);
        bus.tick(UNIX_EPOCH + Duration::from_secs(7));
        assert_eq!(
            bus.next_tick_deadline(),
            Some(UNIX_EPOCH + Duration::from_secs(10))
        );
        assert!(bus.unsubscribe_stream(id));
        assert!(!bus.unsubscribe_stream(id));
    }
}
