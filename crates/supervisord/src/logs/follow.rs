//! Write notices for log followers: whoever appends to a log file the daemon writes bumps
//! that path's [`Written`] counter, and followers (`/logtail`, `/mainlogtail`, parked log
//! reads) await it instead of looking at the file on a timer. While nothing is written a
//! follower does not wake up at all.
//!
//! One [`Written`] per path, shared by every writer of that path (stdout and stderr may
//! share a file) and every follower: [`for_path`] hands out the same one while anyone
//! holds it. A writer keeps its `Arc<Written>` and calls [`Written::bump`] after each
//! write that reached the file, after a rotation (the path names a new file) and after
//! a clear or reopen. Bumping with no follower attached costs one atomic load.
//!
//! The splice path (logs/splice.rs) and any other writer that bypasses
//! [`RotatingFile::write`](super::RotatingFile::write) must bump too:
//! [`RotatingFile::written`](super::RotatingFile::written) gives the file's counter.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

/// The write counter of one log path.
#[derive(Debug)]
pub struct Written {
    tx: watch::Sender<u64>,
    /// How many of the holders are followers ([`Watch`]es); the others are writers.
    watchers: AtomicUsize,
}

impl Written {
    /// Tells the followers of this path that it changed (bytes appended, rotated, cleared).
    pub fn bump(&self) {
        if self.tx.receiver_count() > 0 {
            self.tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// A follower's end: [`Watch::changed`] returns after the next bump.
    pub fn watch(self: &Arc<Self>) -> Watch {
        self.watchers.fetch_add(1, Ordering::SeqCst);
        Watch {
            rx: self.tx.subscribe(),
            _keep: self.clone(),
        }
    }
}

/// A follower's subscription to one path's writes.
#[derive(Debug)]
pub struct Watch {
    rx: watch::Receiver<u64>,
    /// Keeps the counter registered while the follower exists (a writer opened later
    /// finds the same one).
    _keep: Arc<Written>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self._keep.watchers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Watch {
    /// True while some writer of this daemon has the path open (a channel or the main
    /// log); false for a file only others write (a log of a removed group, a fake
    /// backend's file), which a follower then looks at on a slow timer.
    pub fn has_writer(&self) -> bool {
        Arc::strong_count(&self._keep) > self._keep.watchers.load(Ordering::SeqCst)
    }

    /// Marks every bump so far as seen: call it before looking at the file, so a write
    /// that lands after the look wakes the next [`changed`](Watch::changed).
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Waits for a bump not yet marked seen.
    pub async fn changed(&mut self) {
        // The sender lives in `_keep`, so this never reports a closed channel; if it
        // ever did, waiting forever is what "nothing more is written" means.
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The registry: one entry per path somebody writes or follows (dead entries are swept
/// when the map has doubled since the last sweep, so it stays proportional to the live
/// ones).
struct Registry {
    map: HashMap<PathBuf, Weak<Written>>,
    sweep_at: usize,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// The counter of `path` (created when nobody holds one).
pub fn for_path(path: &Path) -> Arc<Written> {
    let mut guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let reg = guard.get_or_insert_with(|| Registry {
        map: HashMap::new(),
        sweep_at: 64,
    });
    if let Some(w) = reg.map.get(path).and_then(Weak::upgrade) {
        return w;
    }
    if reg.map.len() >= reg.sweep_at {
        reg.map.retain(|_, w| w.strong_count() > 0);
        reg.sweep_at = (reg.map.len() * 2).max(64);
    }
    let (tx, _) = watch::channel(0);
    let w = Arc::new(Written {
        tx,
        watchers: AtomicUsize::new(0),
    });
    reg.map.insert(path.to_path_buf(), Arc::downgrade(&w));
    w
}

/// A follower's subscription to `path` (see [`Watch`]).
pub fn watch(path: &Path) -> Watch {
    for_path(path).watch()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn same_path_same_counter_and_sweep() {
        let a = for_path(Path::new("/tmp/follow-test-a"));
        let b = for_path(Path::new("/tmp/follow-test-a"));
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b));
        // Many dead entries are swept, not kept.
        for i in 0..1000 {
            drop(for_path(Path::new(&format!("/tmp/follow-test-x{i}"))));
        }
        let n = REGISTRY.lock().unwrap().as_ref().unwrap().map.len();
        assert!(n < 600, "{n} entries kept");
    }

    #[tokio::test]
    async fn bump_wakes_follower_and_only_then() {
        let mut f = watch(Path::new("/tmp/follow-test-b"));
        assert!(!f.has_writer());
        let w = for_path(Path::new("/tmp/follow-test-b"));
        assert!(f.has_writer());
        f.mark_seen();
        // Nothing written: no wake-up.
        let idle = tokio::time::timeout(Duration::from_millis(30), f.changed()).await;
        assert!(idle.is_err());
        w.bump();
        tokio::time::timeout(Duration::from_secs(5), f.changed())
            .await
            .expect("woken by the bump");
        // A bump between the look and the wait is not lost.
        f.mark_seen();
        w.bump();
        tokio::time::timeout(Duration::from_secs(5), f.changed())
            .await
            .expect("earlier bump still seen");
    }
}
