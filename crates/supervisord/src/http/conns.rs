//! Bookkeeping of one server's open connections, so that anonymous clients cannot lock
//! the operator out:
//!
//! * a cap per server ([`connection_cap`], derived from the descriptor limit): past it, the
//!   oldest connection that has not sent a complete request head within
//!   [`Limits::evict_after`](super::Limits::evict_after) (or
//!   [`Limits::evict_starved_after`](super::Limits::evict_starved_after) once the server has
//!   read everything it sent) is closed to make room (then the longest-idle keep-alive
//!   connection); a connection with a request in flight (an RPC
//!   being answered, a `tail -f` or `/events` stream) is never closed for room;
//! * a reserve of descriptors ([`Reserve`], on `/dev/null`): when `accept` fails because
//!   the process is out of descriptors, one is closed and the accept retried at once, so a
//!   client still gets in and gets an answer even while children or spawns hold every
//!   other descriptor.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Descriptors each server keeps open on `/dev/null` to accept with when the process has
/// none left.
pub const FD_RESERVE: usize = 2;

/// The per-server connection cap for a process allowed `nofile` descriptors: a quarter of
/// them (so two servers full of clients leave half to the programs), at least 8, at most
/// 4,096.
pub fn connection_cap(nofile: u64) -> usize {
    (nofile / 4).clamp(8, 4096) as usize
}

/// The soft `RLIMIT_NOFILE` of this process (1,024 when it cannot be read).
pub fn nofile_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    r.rlim_cur
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spare descriptors, given up one at a time when `accept` reports `EMFILE`/`ENFILE`.
pub struct Reserve {
    fds: Mutex<Vec<std::fs::File>>,
}

impl Reserve {
    /// Opens the reserve (as much of it as the process can).
    pub fn new() -> Reserve {
        let r = Reserve {
            fds: Mutex::new(Vec::with_capacity(FD_RESERVE)),
        };
        r.refill();
        r
    }

    /// Reopens spare descriptors up to [`FD_RESERVE`] (as many as can be opened now).
    pub fn refill(&self) {
        let mut fds = locked(&self.fds);
        while fds.len() < FD_RESERVE {
            // std opens with O_CLOEXEC: no program inherits these.
            match std::fs::File::open("/dev/null") {
                Ok(f) => fds.push(f),
                Err(_) => break,
            }
        }
    }

    /// Closes one spare descriptor; false when none is left.
    pub fn release_one(&self) -> bool {
        locked(&self.fds).pop().is_some()
    }

    /// How many spare descriptors are open.
    pub fn len(&self) -> usize {
        locked(&self.fds).len()
    }

    /// Whether no spare descriptor is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Reserve {
    fn default() -> Reserve {
        Reserve::new()
    }
}

/// Whether an accept error means the process (or system) is out of descriptors.
pub fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Whether an accept error concerns only the connection being accepted (it was reset or
/// aborted on its way in), so the next one can be accepted at once.
pub fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::ECONNRESET) | Some(libc::EPROTO) | Some(libc::EINTR)
    )
}

/// The state of one connection, shared by its task and the server's [`Registry`].
pub struct Conn {
    accepted: Instant,
    head_seen: AtomicBool,
    /// Set once a read found nothing more to read: the server is waiting for the client.
    starved: AtomicBool,
    inflight: AtomicUsize,
    idle_since: Mutex<Instant>,
    /// Notified when the server closes this connection to make room.
    pub evict: Notify,
    changed: Arc<Notify>,
}

impl Conn {
    /// A connection accepted now, not registered anywhere (for a lone connection).
    pub fn standalone() -> Arc<Conn> {
        Arc::new(Conn::new(Arc::new(Notify::new())))
    }

    fn new(changed: Arc<Notify>) -> Conn {
        let now = Instant::now();
        Conn {
            accepted: now,
            head_seen: AtomicBool::new(false),
            starved: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            idle_since: Mutex::new(now),
            evict: Notify::new(),
            changed,
        }
    }

    /// When the connection was accepted.
    pub fn accepted(&self) -> Instant {
        self.accepted
    }

    /// Whether a complete request head has been received on it.
    pub fn head_seen(&self) -> bool {
        self.head_seen.load(Ordering::Relaxed)
    }

    /// Notes that a read on the connection found no data waiting (the head so far is all
    /// the client has sent).
    pub fn note_starved(&self) {
        self.starved.store(true, Ordering::Relaxed);
    }

    /// Marks a request as begun (its head is complete); the returned guard marks it done
    /// when dropped (with the response body, i.e. once the response is written).
    pub fn begin(self: &Arc<Conn>) -> Busy {
        self.head_seen.store(true, Ordering::Relaxed);
        self.inflight.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    fn idle_for(&self, now: Instant) -> Option<Duration> {
        if !self.head_seen() || self.inflight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        Some(now.saturating_duration_since(*locked(&self.idle_since)))
    }
}

/// A request in flight on a [`Conn`] (see [`Conn::begin`]).
pub struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        *locked(&self.0.idle_since) = Instant::now();
        if self.0.inflight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.changed.notify_one();
        }
    }
}

#[derive(Default)]
struct Inner {
    next: u64,
    live: HashMap<u64, Arc<Conn>>,
    /// Ids in accept order, pruned lazily: the candidates without a complete head.
    fresh: VecDeque<u64>,
}

/// The open connections of one server.
pub struct Registry {
    inner: Mutex<Inner>,
    changed: Arc<Notify>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry {
            inner: Mutex::new(Inner::default()),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Registers a connection accepted now.
    pub fn add(&self) -> (u64, Arc<Conn>) {
        let mut g = locked(&self.inner);
        let inner = &mut *g;
        let id = inner.next;
        inner.next += 1;
        let conn = Arc::new(Conn::new(self.changed.clone()));
        inner.live.insert(id, conn.clone());
        inner.fresh.push_back(id);
        // Keep the queue proportional to the live set.
        if inner.fresh.len() > 2 * inner.live.len() + 16 {
            let live = &inner.live;
            inner
                .fresh
                .retain(|i| live.get(i).is_some_and(|c| !c.head_seen()));
        }
        (id, conn)
    }

    /// Forgets a connection that has closed.
    pub fn remove(&self, id: u64) {
        if locked(&self.inner).live.remove(&id).is_some() {
            self.changed.notify_one();
        }
    }

    /// How many connections are open (and not being closed for room).
    pub fn len(&self) -> usize {
        locked(&self.inner).live.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes one connection to make room: the oldest one without a complete request head
    /// that is at least `min_age` old, or `starved_age` old if the server has already
    /// read all it sent (so it is not just waiting for its task to run), else the
    /// longest-idle keep-alive one idle for at least `min_age`. `Err(wait)` when none may
    /// be closed: `wait` is when one may be at the earliest, unless something else
    /// changes first (`None`: not before a change).
    pub fn evict_one(
        &self,
        min_age: Duration,
        starved_age: Duration,
    ) -> Result<(), Option<Duration>> {
        let now = Instant::now();
        let mut g = locked(&self.inner);
        let inner = &mut *g;
        let mut wait: Option<Duration> = None;
        while let Some(&id) = inner.fresh.front() {
            let Some(c) = inner.live.get(&id) else {
                inner.fresh.pop_front();
                continue;
            };
            if c.head_seen() {
                inner.fresh.pop_front();
                continue;
            }
            let age = now.saturating_duration_since(c.accepted);
            let needed = if c.starved.load(Ordering::Relaxed) {
                starved_age.min(min_age)
            } else {
                min_age
            };
            if age >= needed {
                inner.fresh.pop_front();
                if let Some(c) = inner.live.remove(&id) {
                    c.evict.notify_one();
                }
                return Ok(());
            }
            wait = Some(needed - age);
            break;
        }
        let idlest = inner
            .live
            .iter()
            .filter_map(|(id, c)| c.idle_for(now).map(|d| (*id, d)))
            .max_by_key(|&(_, d)| d);
        if let Some((id, idle)) = idlest {
            if idle >= min_age {
                if let Some(c) = inner.live.remove(&id) {
                    c.evict.notify_one();
                }
                return Ok(());
            }
            let w = min_age - idle;
            wait = Some(wait.map_or(w, |x| x.min(w)));
        }
        Err(wait)
    }

    /// Resolves when a connection closes or becomes idle (or already did since the last
    /// call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps() {
        assert_eq!(connection_cap(16), 8);
        assert_eq!(connection_cap(1024), 256);
        assert_eq!(connection_cap(1 << 20), 4096);
    }

    #[test]
    fn eviction_order() {
        let r = Registry::new();
        let (_a, a) = r.add();
        let (_b, b) = r.add();
        let (_c, c) = r.add();
        // Too young: nothing may be closed yet.
        assert!(r
            .evict_one(Duration::from_secs(60), Duration::from_secs(60))
            .is_err());
        // `a` has sent a head and is answering: never a candidate.
        let busy = a.begin();
        assert_eq!(r.evict_one(Duration::ZERO, Duration::ZERO), Ok(()));
        // b was the oldest without a head.
        assert_eq!(r.len(), 2);
        assert!(!c.head_seen());
        let _ = b;
        assert_eq!(r.evict_one(Duration::ZERO, Duration::ZERO), Ok(()));
        // Only `a` is left, busy: nothing to close.
        assert_eq!(r.evict_one(Duration::ZERO, Duration::ZERO), Err(None));
        drop(busy);
        // Idle now: it may go.
        assert_eq!(r.evict_one(Duration::ZERO, Duration::ZERO), Ok(()));
        assert!(r.is_empty());
    }

    #[test]
    fn starved_connections_go_sooner() {
        let r = Registry::new();
        let (_a, a) = r.add();
        let long = Duration::from_secs(60);
        assert!(r.evict_one(long, Duration::ZERO).is_err());
        a.note_starved();
        assert_eq!(r.evict_one(long, Duration::ZERO), Ok(()));
    }

    #[test]
    fn fresh_queue_stays_bounded() {
        let r = Registry::new();
        for _ in 0..10_000 {
            let (id, c) = r.add();
            drop(c.begin());
            r.remove(id);
        }
        assert!(locked(&r.inner).fresh.len() <= 32);
    }

    #[test]
    fn reserve_releases_and_refills() {
        let r = Reserve::new();
        assert_eq!(r.len(), FD_RESERVE);
        assert!(r.release_one());
        assert_eq!(r.len(), FD_RESERVE - 1);
        r.refill();
        assert_eq!(r.len(), FD_RESERVE);
    }
}
