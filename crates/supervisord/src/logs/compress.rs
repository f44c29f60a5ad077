//! The numbered backups of a log file beyond plain size rotation: gzip compression on a
//! worker thread (`*_logfile_compress`) and deletion by age (`*_logfile_maxage`).
//!
//! With compression, a rotation on the loop only renames the live file to a staging
//! name (`<f>.rotating-<pid>-<n>`, one rename) and starts a new live file; the
//! compression thread then, one job after the other in rotation order, writes
//! `<f>.1.gz.part`, shifts `<f>.i.gz` to `<f>.i+1.gz` (and stray plain `<f>.i` to
//! `<f>.i+1`) for `i < backups`, renames the part to `<f>.1.gz`, removes the staging
//! file and deletes backups older than `maxage`. Only the thread touches the numbered
//! names of a compressed log, so a shift never races a compression. A job whose file
//! would be pushed out by the jobs queued after it is deleted without compressing (a
//! writer faster than gzip cannot pile up more than `backups` files). A gzip that fails
//! keeps the data uncompressed as `<f>.1`; nothing is lost or written twice. The thread
//! shares only the jobs and a per-file [`Jobs`] (a counter and an error list).

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use super::rotating::{listed_backups, numbered};

/// `<path>.<n>.gz`.
pub fn numbered_gz(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}.gz"));
    PathBuf::from(s)
}

/// The per-file side of the compression jobs: how many are queued or running, and the
/// errors the thread met, for the loop to log.
#[derive(Debug, Default)]
pub struct Jobs {
    pending: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

/// At most this many errors are kept per file until the loop takes them.
const MAX_ERRORS: usize = 8;

impl Jobs {
    /// Jobs queued or running.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// The errors since the last call.
    pub fn take_errors(&self) -> Vec<String> {
        std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn error(&self, msg: String) {
        let mut e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if e.len() < MAX_ERRORS {
            e.push(msg);
        }
    }

    /// Waits (bounded) until no job of this file is queued or running. True if idle.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        while self.pending() > 0 {
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// One rotated file to compress into the backups of `base`.
#[derive(Debug)]
struct Job {
    staging: PathBuf,
    base: PathBuf,
    backups: u32,
    maxage: Option<u64>,
    jobs: Arc<Jobs>,
}

static STAGING_SEQ: AtomicU64 = AtomicU64::new(0);

/// Jobs queued or running, of every file.
static TOTAL: AtomicUsize = AtomicUsize::new(0);

/// At exit: lets the thread finish the queued jobs, waiting at most `timeout`. True if
/// none is left (what is left is finished by the next start, see [`leftover_staging`]).
pub fn finish(timeout: Duration) -> bool {
    start_thread();
    let end = std::time::Instant::now() + timeout;
    while TOTAL.load(Ordering::SeqCst) > 0 {
        if std::time::Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// A fresh staging name for the rotated `base`.
pub fn staging_name(base: &Path) -> PathBuf {
    let n = STAGING_SEQ.fetch_add(1, Ordering::Relaxed);
    let mut s = base.as_os_str().to_owned();
    s.push(format!(".rotating-{}-{n}", std::process::id()));
    PathBuf::from(s)
}

/// Staging files of `base` left behind by a daemon that died before compressing them,
/// oldest first.
pub fn leftover_staging(base: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (base.parent(), base.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut prefix = name.as_encoded_bytes().to_vec();
    prefix.extend_from_slice(b".rotating-");
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().as_encoded_bytes().starts_with(&prefix))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            m.is_file()
                .then(|| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Where jobs go.
enum Queue {
    /// No thread yet: the first job starts it.
    Lazy,
    /// The daemon has not daemonized yet (a fork must not find a thread): jobs wait
    /// here until [`start_thread`].
    Deferred(Vec<Job>),
    /// The thread runs.
    Running(Sender<Job>),
}

fn queue() -> &'static Mutex<Queue> {
    static QUEUE: OnceLock<Mutex<Queue>> = OnceLock::new();
    QUEUE.get_or_init(|| Mutex::new(Queue::Lazy))
}

/// Until [`start_thread`], jobs are queued instead of starting the thread (the daemon
/// calls this before it opens its main log, which may rotate before it forks).
pub fn defer_thread() {
    let mut q = queue().lock().unwrap_or_else(|e| e.into_inner());
    if matches!(*q, Queue::Lazy) {
        *q = Queue::Deferred(Vec::new());
    }
}

/// Starts the thread if jobs were deferred (after daemonizing), and hands them over.
pub fn start_thread() {
    let mut q = queue().lock().unwrap_or_else(|e| e.into_inner());
    if let Queue::Deferred(jobs) = std::mem::replace(&mut *q, Queue::Lazy) {
        for job in jobs {
            send(&mut q, job);
        }
    }
}

/// Hands the rotated file `staging` to the compression thread (started on first use;
/// if no thread can be started the job runs here).
pub fn submit(staging: PathBuf, base: &Path, backups: u32, maxage: Option<u64>, jobs: &Arc<Jobs>) {
    jobs.pending.fetch_add(1, Ordering::SeqCst);
    TOTAL.fetch_add(1, Ordering::SeqCst);
    let job = Job {
        staging,
        base: base.to_path_buf(),
        backups,
        maxage,
        jobs: jobs.clone(),
    };
    let mut q = queue().lock().unwrap_or_else(|e| e.into_inner());
    send(&mut q, job);
}

fn send(q: &mut std::sync::MutexGuard<'_, Queue>, job: Job) {
    let job = match &mut **q {
        Queue::Deferred(list) => {
            list.push(job);
            return;
        }
        Queue::Running(tx) => match tx.send(job) {
            Ok(()) => return,
            Err(mpsc::SendError(job)) => job,
        },
        Queue::Lazy => job,
    };
    let (tx, rx) = mpsc::channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name("logcompress".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                run(job);
            }
        });
    match spawned {
        Ok(_) => {
            let _ = tx.send(job);
            **q = Queue::Running(tx);
        }
        Err(_) => run(job),
    }
}

fn run(job: Job) {
    if let Err(e) = process(&job) {
        job.jobs.error(format!(
            "compressing rotated log {} failed: {e}",
            job.base.display()
        ));
    }
    job.jobs.pending.fetch_sub(1, Ordering::SeqCst);
    TOTAL.fetch_sub(1, Ordering::SeqCst);
}

fn process(job: &Job) -> io::Result<()> {
    // Jobs queued after this one each push it one place down: if they alone fill the
    // backups, its file would be deleted anyway.
    if job.jobs.pending().saturating_sub(1) >= job.backups as usize {
        return remove_if_exists(&job.staging);
    }
    let mut part = numbered_gz(&job.base, 1).into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    let compressed = gzip(&job.staging, &part);
    shift(&job.base, job.backups)?;
    match compressed {
        Ok(()) => {
            fs::rename(&part, numbered_gz(&job.base, 1))?;
            remove_if_exists(&job.staging)?;
        }
        Err(e) => {
            let _ = fs::remove_file(&part);
            // Keep the data: uncompressed, as the newest backup.
            fs::rename(&job.staging, numbered(&job.base, 1))?;
            return Err(e);
        }
    }
    if let Some(age) = job.maxage {
        expire(&job.base, job.backups, age, SystemTime::now());
    }
    Ok(())
}

fn gzip(src: &Path, dst: &Path) -> io::Result<()> {
    let input = File::open(src)?;
    let mtime = input.metadata()?.modified().ok();
    let out = File::create(dst)?;
    let mut enc =
        flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::default());
    io::copy(&mut BufReader::new(input), &mut enc)?;
    let mut out = enc.finish()?;
    out.flush()?;
    let out = out.into_inner().map_err(|e| e.into_error())?;
    // The backup's age (maxage) is the age of its newest line, not of the gzip run.
    if let Some(t) = mtime {
        let _ = out.set_modified(t);
    }
    out.sync_all()
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn rename_if_exists(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::rename(src, dst) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Shifts `<f>.i.gz` → `<f>.i+1.gz` and `<f>.i` → `<f>.i+1` for the existing `i` in
/// `1..backups`, highest first (the one at `backups` is replaced).
pub fn shift(base: &Path, backups: u32) -> io::Result<()> {
    for i in existing_indices(base, backups.saturating_sub(1))
        .into_iter()
        .rev()
    {
        rename_if_exists(&numbered_gz(base, i), &numbered_gz(base, i + 1))?;
        rename_if_exists(&numbered(base, i), &numbered(base, i + 1))?;
    }
    Ok(())
}

/// Deletes the backups `<f>.i` and `<f>.i.gz` (`i` in `1..=backups`) last written more
/// than `maxage` seconds before `now`. Returns the paths deleted.
pub fn expire(base: &Path, backups: u32, maxage: u64, now: SystemTime) -> Vec<PathBuf> {
    let Some(limit) = now.checked_sub(Duration::from_secs(maxage)) else {
        return Vec::new();
    };
    let mut gone = Vec::new();
    for i in existing_indices(base, backups) {
        for p in [numbered(base, i), numbered_gz(base, i)] {
            let old = fs::metadata(&p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < limit);
            if old && fs::remove_file(&p).is_ok() {
                gone.push(p);
            }
        }
    }
    gone
}

/// Up to this many backups the names are probed; past it, one directory listing.
const PROBE_UP_TO: u32 = 64;

/// The `i` in `1..=max` for which `<f>.i` or `<f>.i.gz` exists, lowest first.
fn existing_indices(base: &Path, max: u32) -> Vec<u32> {
    if max <= PROBE_UP_TO {
        return (1..=max)
            .filter(|&i| numbered(base, i).exists() || numbered_gz(base, i).exists())
            .collect();
    }
    let mut found: Vec<u32> = listed_backups(base, true)
        .into_iter()
        .filter(|&i| i <= max)
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(p: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(File::open(p).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn jobs_compress_and_shift_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("a.log");
        let jobs = Arc::new(Jobs::default());
        for i in 0..5 {
            let s = staging_name(&base);
            fs::write(&s, format!("part {i}\n")).unwrap();
            submit(s, &base, 3, None, &jobs);
        }
        assert!(jobs.wait_idle(Duration::from_secs(20)));
        assert!(jobs.take_errors().is_empty());
        assert_eq!(gunzip(&numbered_gz(&base, 1)), b"part 4\n");
        assert_eq!(gunzip(&numbered_gz(&base, 2)), b"part 3\n");
        assert_eq!(gunzip(&numbered_gz(&base, 3)), b"part 2\n");
        assert!(!numbered_gz(&base, 4).exists());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 3, "no staging or part file left: {names:?}");
    }

    #[test]
    fn a_failed_gzip_keeps_the_data_uncompressed() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("b.log");
        let jobs = Arc::new(Jobs::default());
        // The part file cannot be created: a directory is in its way.
        let mut part = numbered_gz(&base, 1).into_os_string();
        part.push(".part");
        fs::create_dir(&part).unwrap();
        let s = staging_name(&base);
        fs::write(&s, b"keep me\n").unwrap();
        submit(s, &base, 3, None, &jobs);
        assert!(jobs.wait_idle(Duration::from_secs(20)));
        let errors = jobs.take_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("compressing rotated log "),
            "{errors:?}"
        );
        assert_eq!(fs::read(numbered(&base, 1)).unwrap(), b"keep me\n");
    }

    #[test]
    fn expire_by_age_and_indices() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("c.log");
        let now = SystemTime::now();
        for (i, age_h) in [(1u32, 1u64), (2, 30), (3, 50)] {
            let p = if i == 2 {
                numbered(&base, i)
            } else {
                numbered_gz(&base, i)
            };
            let f = File::create(&p).unwrap();
            f.set_modified(now - Duration::from_secs(age_h * 3600))
                .unwrap();
        }
        fs::write(&base, b"live").unwrap();
        let gone = expire(&base, 10, 24 * 3600, now);
        assert_eq!(gone, [numbered(&base, 2), numbered_gz(&base, 3)]);
        assert!(numbered_gz(&base, 1).exists());
        assert!(base.exists());
        assert_eq!(existing_indices(&base, 1000), [1]);
    }

    #[test]
    fn leftovers_are_found_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("d.log");
        let a = dir.path().join("d.log.rotating-1-0");
        let b = dir.path().join("d.log.rotating-9-3");
        fs::write(&b, b"b").unwrap();
        File::open(&b)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(60))
            .unwrap();
        fs::write(&a, b"a").unwrap();
        fs::write(dir.path().join("dd.log.rotating-1-0"), b"x").unwrap();
        assert_eq!(leftover_staging(&base), [b, a]);
    }
}
