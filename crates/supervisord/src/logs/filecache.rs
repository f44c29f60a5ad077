//! A bounded cache of open child log files (issue 16 item 4): with thousands of programs
//! the daemon cannot keep two log descriptors open per program within a normal fd limit,
//! so child log files ([`super::RotatingFile`] in cached mode) keep their descriptor here,
//! at most [`DEFAULT_CAPACITY`] at a time, the least recently written one closed first.
//! A file closed this way is opened again by name, in append mode, at its next write
//! (its size is then read from the file, so an outside truncation is seen).
//!
//! The cache is a mutex that only the loop's thread takes (child logs are written on the
//! loop), so it is never contended; every operation is O(log n).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// How many child log files the daemon keeps open at most.
pub const DEFAULT_CAPACITY: usize = 256;

/// The cache: open files by id, and their last-use order.
#[derive(Debug)]
pub struct FileCache {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    next_id: u64,
    clock: u64,
    open: HashMap<u64, Entry>,
    /// Last use stamp -> id (the first entry is the least recently used).
    order: BTreeMap<u64, u64>,
    /// Files opened again after they were closed (for tests and `/metrics`).
    reopens: u64,
    /// Files closed to make room.
    evictions: u64,
}

#[derive(Debug)]
struct Entry {
    file: File,
    stamp: u64,
}

impl Inner {
    fn touch(&mut self, id: u64) {
        self.clock += 1;
        let stamp = self.clock;
        if let Some(e) = self.open.get_mut(&id) {
            self.order.remove(&e.stamp);
            e.stamp = stamp;
            self.order.insert(stamp, id);
        }
    }

    /// Closes the least recently used file; false when none is open.
    fn evict_one(&mut self) -> bool {
        let Some((_, id)) = self.order.pop_first() else {
            return false;
        };
        self.open.remove(&id);
        self.evictions += 1;
        true
    }

    fn insert(&mut self, id: u64, file: File) {
        self.remove(id);
        while self.open.len() >= self.capacity.max(1) && self.evict_one() {}
        self.clock += 1;
        self.order.insert(self.clock, id);
        self.open.insert(
            id,
            Entry {
                file,
                stamp: self.clock,
            },
        );
    }

    fn remove(&mut self, id: u64) {
        if let Some(e) = self.open.remove(&id) {
            self.order.remove(&e.stamp);
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

impl FileCache {
    /// A cache keeping at most `capacity` files open (at least one).
    pub fn new(capacity: usize) -> Arc<FileCache> {
        Arc::new(FileCache {
            inner: Mutex::new(Inner {
                capacity: capacity.max(1),
                next_id: 0,
                clock: 0,
                open: HashMap::new(),
                order: BTreeMap::new(),
                reopens: 0,
                evictions: 0,
            }),
        })
    }

    /// The daemon's cache of child log files ([`DEFAULT_CAPACITY`]).
    pub fn shared() -> &'static Arc<FileCache> {
        static SHARED: OnceLock<Arc<FileCache>> = OnceLock::new();
        SHARED.get_or_init(|| FileCache::new(DEFAULT_CAPACITY))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes an open file into the cache (closing the least recently used one if it is
    /// full) and returns its handle.
    pub fn adopt(self: &Arc<Self>, file: File) -> CachedFile {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.insert(id, file);
        CachedFile {
            cache: self.clone(),
            id,
        }
    }

    /// How many files are open now.
    pub fn open_count(&self) -> usize {
        self.lock().open.len()
    }

    /// The most files kept open.
    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// (files opened again after being closed, files closed to make room) so far.
    pub fn counters(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.reopens, inner.evictions)
    }
}

/// One file kept in a [`FileCache`]: open while it is among the most recently used ones,
/// opened again by name when needed. Dropping it closes the file.
#[derive(Debug)]
pub struct CachedFile {
    cache: Arc<FileCache>,
    id: u64,
}

impl CachedFile {
    /// Runs `f` on the open file, opening `path` again (append mode, created if missing)
    /// if the cache had closed it; then the size the file had when it was opened again is
    /// returned too (`None`: it was open). Out of descriptors (EMFILE/ENFILE), the cache
    /// closes its other files one by one and tries again.
    pub fn with<R>(
        &self,
        path: &Path,
        f: impl FnOnce(&mut File) -> R,
    ) -> io::Result<(R, Option<u64>)> {
        let mut inner = self.cache.lock();
        let mut reopened = None;
        if inner.open.contains_key(&self.id) {
            inner.touch(self.id);
        } else {
            while inner.open.len() >= inner.capacity && inner.evict_one() {}
            let file = loop {
                match open_append(path) {
                    Ok(file) => break file,
                    Err(e)
                        if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                            && inner.evict_one() => {}
                    Err(e) => return Err(e),
                }
            };
            reopened = Some(file.metadata().map(|m| m.len()).unwrap_or(0));
            inner.reopens += 1;
            inner.insert(self.id, file);
        }
        let entry = inner
            .open
            .get_mut(&self.id)
            .expect("the entry was just made present");
        Ok((f(&mut entry.file), reopened))
    }

    /// Puts `file` in place of this handle's file (after a rotation or a reopen): the
    /// old descriptor is closed.
    pub fn replace(&self, file: File) {
        self.cache.lock().insert(self.id, file);
    }

    /// Closes the file now (it is opened again at the next use).
    pub fn close(&self) {
        self.cache.lock().remove(self.id);
    }

    /// Whether the file is open now.
    pub fn is_open(&self) -> bool {
        self.cache.lock().open.contains_key(&self.id)
    }

    /// The descriptor of the file if it is open now (valid until the cache's next open).
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.cache
            .lock()
            .open
            .get(&self.id)
            .map(|e| e.file.as_raw_fd())
    }
}

impl Drop for CachedFile {
    fn drop(&mut self) {
        self.cache.lock().remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn keeps_at_most_capacity_open_and_evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(2);
        let paths: Vec<_> = (0..3)
            .map(|i| dir.path().join(format!("{i}.log")))
            .collect();
        let files: Vec<_> = paths
            .iter()
            .map(|p| cache.adopt(open_append(p).unwrap()))
            .collect();
        assert_eq!(cache.open_count(), 2);
        assert!(!files[0].is_open(), "the oldest was closed");
        assert!(files[1].is_open() && files[2].is_open());
        // Using 1 makes 2 the least recently used one.
        files[1]
            .with(&paths[1], |f| f.write_all(b"one\n"))
            .unwrap()
            .0
            .unwrap();
        let (w, reopened) = files[0]
            .with(&paths[0], |f| f.write_all(b"zero\n"))
            .unwrap();
        w.unwrap();
        assert_eq!(reopened, Some(0));
        assert!(files[0].is_open() && files[1].is_open() && !files[2].is_open());
        assert_eq!(cache.counters(), (1, 2));
        drop(files);
        assert_eq!(cache.open_count(), 0);
        assert_eq!(std::fs::read(&paths[0]).unwrap(), b"zero\n");
    }

    #[test]
    fn a_closed_file_is_reopened_in_append_mode_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let cache = FileCache::new(1);
        let a = cache.adopt(open_append(&p).unwrap());
        a.with(&p, |f| f.write_all(b"first\n")).unwrap().0.unwrap();
        a.close();
        assert!(!a.is_open());
        // Written by someone else meanwhile: appended after, never overwritten.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"other\n")
            .unwrap();
        let (w, size) = a.with(&p, |f| f.write_all(b"second\n")).unwrap();
        w.unwrap();
        assert_eq!(size, Some(12));
        assert_eq!(std::fs::read(&p).unwrap(), b"first\nother\nsecond\n");
    }

    use crate::logs::{Rotated, RotatingFile};

    fn cached(path: &Path, maxbytes: u64, backups: u32, cache: &Arc<FileCache>) -> RotatingFile {
        let mut f = RotatingFile::open(path, maxbytes, backups).unwrap();
        f.use_cache(cache);
        f
    }

    #[test]
    fn a_rotating_file_rotates_exactly_while_its_descriptor_comes_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(1);
        let (pa, pb) = (dir.path().join("a.log"), dir.path().join("b.log"));
        let mut a = cached(&pa, 10, 2, &cache);
        let mut b = cached(&pb, 10, 2, &cache);
        assert!(!a.is_open() && b.is_open());
        a.write(b"12345").unwrap();
        assert!(a.is_open() && !b.is_open());
        b.write(b"bb\n").unwrap();
        // Opened again with 5 bytes in it: 6 more reach 11 >= maxbytes and rotate.
        a.write(b"678901").unwrap();
        assert_eq!(
            std::fs::read(crate::logs::rotating::numbered(&pa, 1)).unwrap(),
            b"12345678901"
        );
        assert_eq!(std::fs::read(&pa).unwrap(), b"");
        b.write(b"cc\n").unwrap();
        a.write(b"x").unwrap();
        assert_eq!(std::fs::read(&pa).unwrap(), b"x");
        // Rotated on request while closed: the backups shift, an empty file starts.
        b.write(b"dd\n").unwrap();
        assert!(!a.is_open());
        assert_eq!(a.rotate_now().unwrap(), Rotated::Yes);
        assert_eq!(
            std::fs::read(crate::logs::rotating::numbered(&pa, 2)).unwrap(),
            b"12345678901"
        );
        assert_eq!(
            std::fs::read(crate::logs::rotating::numbered(&pa, 1)).unwrap(),
            b"x"
        );
        a.write(b"y").unwrap();
        assert_eq!(std::fs::read(&pa).unwrap(), b"y");
        assert_eq!(std::fs::read(&pb).unwrap(), b"bb\ncc\ndd\n");
        assert!(cache.open_count() <= 1);
    }

    #[test]
    fn reopen_and_clear_of_a_closed_file_follow_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(1);
        let (pa, pb) = (dir.path().join("a.log"), dir.path().join("b.log"));
        let mut a = cached(&pa, 0, 0, &cache);
        let mut b = cached(&pb, 0, 0, &cache);
        a.write(b"old\n").unwrap();
        b.write(b"b\n").unwrap();
        // logrotate moved it, then SIGUSR2: the next lines go to a new file at the name.
        std::fs::rename(&pa, dir.path().join("a.log.moved")).unwrap();
        a.reopen().unwrap();
        a.write(b"new\n").unwrap();
        assert_eq!(std::fs::read(&pa).unwrap(), b"new\n");
        assert_eq!(
            std::fs::read(dir.path().join("a.log.moved")).unwrap(),
            b"old\n"
        );
        b.write(b"b\n").unwrap();
        a.clear().unwrap();
        assert_eq!(std::fs::read(&pa).unwrap(), b"");
        b.write(b"b\n").unwrap();
        a.write(b"after\n").unwrap();
        assert_eq!(std::fs::read(&pa).unwrap(), b"after\n");
        assert_eq!(a.bytes_written(), 14);
    }

    #[test]
    fn maxbytes_counts_from_what_a_reopened_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(1);
        let (pa, pb) = (dir.path().join("a.log"), dir.path().join("b.log"));
        let mut a = cached(&pa, 8, 1, &cache);
        let mut b = cached(&pb, 0, 0, &cache);
        a.write(b"123456").unwrap();
        b.write(b"b").unwrap();
        // Truncated by someone else while closed: 6 more bytes do not reach maxbytes.
        std::fs::write(&pa, b"").unwrap();
        a.write(b"abcdef").unwrap();
        assert_eq!(std::fs::read(&pa).unwrap(), b"abcdef");
        assert!(!crate::logs::rotating::numbered(&pa, 1).exists());
    }

    #[test]
    fn a_file_removed_while_closed_is_created_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gone.log");
        let cache = FileCache::new(4);
        let a = cache.adopt(open_append(&p).unwrap());
        a.close();
        std::fs::remove_file(&p).unwrap();
        let (w, size) = a.with(&p, |f| f.write_all(b"x\n")).unwrap();
        w.unwrap();
        assert_eq!(size, Some(0));
        assert_eq!(std::fs::read(&p).unwrap(), b"x\n");
    }
}
