//! Per-process resource figures, sampled only when someone asks.
//!
//! Nothing here runs on a timer: a figure is read from `/proc` (or the process's own
//! cgroup) at the moment a client calls `supervisor_rs.getProcessStats`,
//! `supervisor_rs.getAllProcessStats` or scrapes `/metrics`. With nobody asking the cost is
//! zero. The only state kept between two requests is, per live process instance, the CPU
//! time and the instant of its previous sample (for CPU %), dropped when the process is
//! gone.
//!
//! What one sample covers: the process and its live descendants (walked through the
//! `children` files of `/proc/<pid>/task/<tid>/`, bounded by [`MAX_TREE`] processes). CPU
//! seconds are user + system time of every live member, plus the CPU time of the children
//! they already reaped; when the process sits in a cgroup (v2) of its own (not the
//! daemon's), the cgroup's `cpu.stat` `usage_usec` is used instead, which also counts
//! descendants that are gone. RSS, threads and open descriptors are summed over the tree.
//!
//! CPU % is the CPU seconds used since the previous sample of the same process instance,
//! divided by the wall time between the two samples, times 100 (100 % = one core busy, a
//! multi-threaded process can show more). The first sample of a process instance measures
//! from its start. Two samples closer than [`MIN_INTERVAL`] share the first one's figure
//! (a `/metrics` scrape and a `top` refresh at the same moment do not make each other's
//! figure noisy).
//!
//! Cost, per process: a read of `stat`, of its `children` file, a `stat` call on its `fd`
//! directory (Linux 6.2 and later count descriptors there), and the same for each
//! descendant; a read of `cgroup` the first time a process instance is sampled. Requests
//! about every process keep the supervised processes' three files open (descriptors
//! permitting, see [`Sampler::begin_full_request`]), so from the second such request on
//! each is one `pread` or `fstat`, without the path lookup, open and close that cost the
//! kernel more than the text itself.

pub mod procfs;
pub mod rpc;

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

use supervisor_protocol::ProcessState;

use procfs::ProcPath;

/// Most processes (the process itself and its descendants) one sample walks.
pub const MAX_TREE: usize = 256;

/// Samples of one process closer than this (seconds) reuse the previous CPU %.
pub const MIN_INTERVAL: f64 = 0.25;

/// Most process instances remembered between requests. Full requests forget the gone
/// ones; this bounds the history when a client only ever asks about single processes
/// that keep restarting (new pids): past it, instances not seen in the last 16 requests
/// are forgotten.
pub const MAX_REMEMBERED: usize = 16 * 1024;

/// A process found in the daemon's cgroup during its first seconds (a start script that
/// moves itself into a cgroup of its own) has its cgroup looked up again at each sample
/// until it is this old (seconds).
pub const CGROUP_SETTLE: f64 = 5.0;

/// Most supervised processes whose `/proc` files are kept open between requests (three
/// descriptors each at most).
pub const MAX_KEPT: usize = 4096;

/// Where the CPU seconds of a sample come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSource {
    /// The process's own cgroup (`cpu.stat`).
    Cgroup,
    /// `/proc/<pid>/stat` of the process and its descendants.
    Proc,
}

impl CpuSource {
    /// `cgroup` or `proc`.
    pub fn as_str(self) -> &'static str {
        match self {
            CpuSource::Cgroup => "cgroup",
            CpuSource::Proc => "proc",
        }
    }
}

/// The resource figures of one running process (and its descendants).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// CPU seconds used (user + system) since the process started.
    pub cpu_seconds: f64,
    /// CPU % over the time since the previous sample (see the module doc).
    pub cpu_percent: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Threads.
    pub threads: u64,
    /// Processes counted (1 + live descendants, at most [`MAX_TREE`]).
    pub processes: u64,
    /// Where the CPU figure came from.
    pub cpu_source: CpuSource,
}

/// What the stats report for one process of the table: its bookkeeping plus, while it
/// has a live pid that could be read, a [`Sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFigures {
    /// Group name.
    pub group: String,
    /// Process name.
    pub name: String,
    /// Current state.
    pub state: ProcessState,
    /// Live pid (0 = none).
    pub pid: i32,
    /// Wall-clock epoch seconds of the last start (0 = never).
    pub start: f64,
    /// Seconds since the last start while it has a pid, else 0.
    pub uptime: f64,
    /// Starts after the first since the daemon built its process table.
    pub restarts: u64,
    /// Exit code of the last run that ended (`None` = none ended yet).
    pub last_exit: Option<i32>,
    /// The figures read now; `None` without a pid or when `/proc` could not be read.
    pub sample: Option<Sample>,
}

/// The previous sample of one process instance.
#[derive(Debug, Clone)]
struct Prev {
    cpu_seconds: f64,
    at: Instant,
    percent: f64,
    /// The process's own cgroup directory (looked up once per instance).
    cgroup: Option<PathBuf>,
    /// False while the process may still move itself into a cgroup of its own (no own
    /// cgroup found yet in its first [`CGROUP_SETTLE`] seconds): looked up again.
    cgroup_settled: bool,
    /// The last request that saw this instance (for dropping the gone ones).
    seen: u64,
}

/// Reads samples and remembers what CPU % needs. Owned by the event loop.
#[derive(Debug)]
pub struct Sampler {
    prev: HashMap<(i32, u64), Prev>,
    path: ProcPath,
    buf: Vec<u8>,
    tree: Vec<i32>,
    ticks: f64,
    page: u64,
    /// Where the cgroup v2 hierarchy is mounted (`None`: no cgroup v2).
    cgroup_root: Option<PathBuf>,
    /// The daemon's own cgroup directory, read at the start of each request.
    own_cgroup: Option<PathBuf>,
    request: u64,
    /// For a request about many processes: every process's `stat`, read in one pass over
    /// `/proc`, and the children of each (see [`Sampler::begin_full_request`]).
    scan: Option<Scan>,
    /// The `/proc` files of supervised processes kept open between full requests, by pid.
    kept: HashMap<i32, Kept>,
    /// Descriptors held by `kept`.
    kept_fds: usize,
    /// Whether this request may open more kept files (a full request with descriptors to
    /// spare).
    keep: bool,
}

/// The `/proc/<pid>` files of one supervised process, kept open so that a sample reads
/// them with one `pread`/`fstat` each instead of a path lookup, open and close: the
/// kernel's path walk and open of a `/proc` file cost more than generating its text.
/// A kept file names one process instance: once that process is gone (even when its pid
/// is reused) reading it fails and the entry is dropped.
#[derive(Debug)]
struct Kept {
    stat: File,
    /// `/proc/<pid>/fd`, whose size is the descriptor count (Linux 6.2 and later).
    fd_dir: Option<File>,
    /// `/proc/<pid>/task/<pid>/children` (the main thread's).
    children: Option<File>,
    /// The last request that read it.
    seen: u64,
}

impl Kept {
    fn fds(&self) -> usize {
        1 + usize::from(self.fd_dir.is_some()) + usize::from(self.children.is_some())
    }
}

/// One pass over `/proc`: the `stat` of every process and who is whose child.
#[derive(Debug, Default)]
struct Scan {
    stats: HashMap<i32, procfs::Stat>,
    kids: HashMap<i32, Vec<i32>>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

impl Sampler {
    /// A sampler with no history.
    pub fn new() -> Sampler {
        Sampler {
            prev: HashMap::new(),
            path: ProcPath::default(),
            buf: Vec::with_capacity(1024),
            tree: Vec::new(),
            ticks: procfs::clock_ticks(),
            page: procfs::page_size(),
            cgroup_root: procfs::cgroup2_mount(),
            own_cgroup: None,
            request: 0,
            scan: None,
            kept: HashMap::new(),
            kept_fds: 0,
            keep: false,
        }
    }

    /// Starts a request about one process: call before its [`Sampler::sample`] call (a
    /// request about every process starts with [`Sampler::begin_full_request`] and ends
    /// with [`Sampler::end_full_request`]).
    pub fn begin_request(&mut self) {
        self.request += 1;
        self.scan = None;
        self.keep = false;
        let me = std::process::id() as i32;
        self.own_cgroup = match &self.cgroup_root {
            Some(root) => procfs::cgroup_dir(me, root, &mut self.path, &mut self.buf),
            None => None,
        };
    }

    /// Starts a request that samples every process of the table (`live` of them have a
    /// pid).
    ///
    /// The supervised processes' `stat`, `fd` and `children` files are kept open across
    /// full requests (see `Kept`) while the daemon has descriptors to spare: its open
    /// descriptors plus the kept ones stay under half its `RLIMIT_NOFILE`, and at most
    /// [`MAX_KEPT`] processes. Without kept files (the first request, or no descriptors to
    /// spare), when the supervised processes are most of the machine's (the threads on the
    /// machine, an upper bound of its processes, are at most 1.5 times `live`), one pass
    /// over `/proc` reads every `stat` once and finds the descendants from the parent pids,
    /// which costs less than a `children` file per process; otherwise each process's tree is
    /// walked through its `children` files.
    pub fn begin_full_request(&mut self, live: usize) {
        self.begin_request();
        if live == 0 {
            return;
        }
        let limit = procfs::nofile_limit() as usize;
        let own =
            procfs::count_fds(std::process::id() as i32, &mut self.path).unwrap_or(0) as usize;
        if own > limit / 2 {
            // Descriptors are getting scarce: give the kept ones back.
            self.kept.clear();
            self.kept_fds = 0;
        }
        self.keep = own + 3 <= limit / 2 && self.kept.len() < MAX_KEPT;
        if self.keep && self.kept.len() * 2 >= live {
            // Most processes are read through kept files: no pass over /proc.
            return;
        }
        if procfs::machine_threads().is_some_and(|t| t.saturating_mul(2) > live.saturating_mul(3)) {
            return;
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        let pids: Vec<i32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        let mut scan = Scan {
            stats: HashMap::with_capacity(pids.len()),
            kids: HashMap::new(),
        };
        for pid in pids {
            if let Some(s) = procfs::read_stat(pid, &mut self.path, &mut self.buf) {
                if s.ppid > 0 {
                    scan.kids.entry(s.ppid).or_default().push(pid);
                }
                scan.stats.insert(pid, s);
            }
        }
        self.scan = Some(scan);
    }

    /// Ends a request that sampled every process of the table: instances not seen in it
    /// are forgotten. (After a single-process request nothing is dropped.)
    pub fn end_full_request(&mut self) {
        let r = self.request;
        self.prev.retain(|_, p| p.seen == r);
        self.kept.retain(|_, k| k.seen == r);
        self.kept_fds = self.kept.values().map(Kept::fds).sum();
        self.scan = None;
        self.keep = false;
    }

    /// Supervised processes whose `/proc` files are kept open (for tests and bounds).
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    /// `stat` of a supervised process `pid`: through its kept file, else (opening the kept
    /// files when this request may) from the scan or read now.
    fn root_stat(&mut self, pid: i32) -> Option<procfs::Stat> {
        if let Some(k) = self.kept.get_mut(&pid) {
            if procfs::read_open_into(&k.stat, &mut self.buf) {
                if let Some(s) = procfs::parse_stat(&self.buf) {
                    k.seen = self.request;
                    return Some(s);
                }
            }
            // That process is gone: forget its files.
            if let Some(k) = self.kept.remove(&pid) {
                self.kept_fds -= k.fds();
            }
        }
        if !self.keep || self.kept.len() >= MAX_KEPT {
            return self.stat_of(pid);
        }
        // The stat file first, read through the descriptor kept: the other two files are
        // opened after it, so they cannot belong to another process than the figures.
        let stat = procfs::open_kept(self.path.of(pid, "stat"))?;
        if !procfs::read_open_into(&stat, &mut self.buf) {
            return None;
        }
        let s = procfs::parse_stat(&self.buf)?;
        let k = Kept {
            stat,
            fd_dir: procfs::open_kept(self.path.of(pid, "fd")),
            children: procfs::open_kept(self.path.children(pid, pid)),
            seen: self.request,
        };
        self.kept_fds += k.fds();
        self.kept.insert(pid, k);
        Some(s)
    }

    /// `stat` of `pid`: from this request's scan, else read now.
    fn stat_of(&mut self, pid: i32) -> Option<procfs::Stat> {
        match &self.scan {
            Some(scan) => scan.stats.get(&pid).copied(),
            None => procfs::read_stat(pid, &mut self.path, &mut self.buf),
        }
    }

    /// Appends the live children of `pid` to `self.tree`.
    fn children_of(&mut self, pid: i32, threads: u64) {
        match &self.scan {
            Some(scan) => {
                if let Some(k) = scan.kids.get(&pid) {
                    self.tree.extend_from_slice(k);
                }
            }
            None => {
                procfs::read_children(pid, threads, &mut self.path, &mut self.buf, &mut self.tree)
            }
        }
    }

    /// Instances remembered (for tests and bounds).
    pub fn remembered(&self) -> usize {
        self.prev.len()
    }

    /// Samples process `pid`, started at wall time `start_wall`. `now_wall` is the wall
    /// clock now (epoch seconds), `now` the monotonic one. `None` when `/proc/<pid>` cannot
    /// be read (the process just exited, or /proc is not mounted).
    pub fn sample(
        &mut self,
        pid: i32,
        start_wall: f64,
        now_wall: f64,
        now: Instant,
    ) -> Option<Sample> {
        if pid <= 0 {
            return None;
        }
        let root = self.root_stat(pid)?;
        let key = (pid, root.starttime);
        // One cgroup lookup per process instance (more while a young one has none).
        let cgroup = match self.prev.get(&key) {
            Some(p) if p.cgroup_settled => p.cgroup.clone(),
            _ => match &self.cgroup_root {
                Some(root) => procfs::cgroup_dir(pid, root, &mut self.path, &mut self.buf)
                    .filter(|c| Some(c) != self.own_cgroup.as_ref()),
                None => None,
            },
        };
        let cgroup_settled = cgroup.is_some() || now_wall - start_wall >= CGROUP_SETTLE;
        let mut ticks = root.utime + root.stime + root.cutime + root.cstime;
        let mut rss = root.rss_pages;
        let mut threads = root.threads;
        let kept = self.kept.get(&pid);
        let mut fds = match kept.and_then(|k| k.fd_dir.as_ref()) {
            Some(dir) => procfs::count_fds_open(dir, pid, &mut self.path),
            None => procfs::count_fds(pid, &mut self.path),
        }
        .unwrap_or(0);
        let mut processes = 1u64;
        // The descendants, breadth first, bounded.
        self.tree.clear();
        match kept.and_then(|k| k.children.as_ref()) {
            Some(children) if root.threads <= 1 && self.scan.is_none() => {
                if procfs::read_open_into(children, &mut self.buf) {
                    procfs::parse_children(&self.buf, &mut self.tree);
                }
            }
            _ => self.children_of(pid, root.threads),
        }
        let mut i = 0;
        while i < self.tree.len() && (processes as usize) < MAX_TREE {
            let child = self.tree[i];
            i += 1;
            let Some(s) = self.stat_of(child) else {
                continue;
            };
            processes += 1;
            ticks += s.utime + s.stime + s.cutime + s.cstime;
            rss += s.rss_pages;
            threads += s.threads;
            fds += procfs::count_fds(child, &mut self.path).unwrap_or(0);
            if self.tree.len() < MAX_TREE * 4 {
                self.children_of(child, s.threads);
            }
        }
        let (cpu_seconds, cpu_source) = match cgroup
            .as_deref()
            .and_then(|c| procfs::cgroup_cpu_seconds(c, &mut self.buf))
        {
            Some(secs) => (secs, CpuSource::Cgroup),
            None => (ticks as f64 / self.ticks, CpuSource::Proc),
        };
        let since_start = (now_wall - start_wall).max(0.0);
        let cpu_percent = match self.prev.get_mut(&key) {
            Some(p) => {
                let dt = now.saturating_duration_since(p.at).as_secs_f64();
                if dt >= MIN_INTERVAL {
                    p.percent = cpu_percent(cpu_seconds - p.cpu_seconds, dt);
                    p.cpu_seconds = cpu_seconds;
                    p.at = now;
                }
                p.seen = self.request;
                if !p.cgroup_settled {
                    p.cgroup.clone_from(&cgroup);
                    p.cgroup_settled = cgroup_settled;
                }
                p.percent
            }
            None => {
                let percent = cpu_percent(cpu_seconds, since_start);
                if self.prev.len() >= MAX_REMEMBERED {
                    let recent = self.request.saturating_sub(16);
                    self.prev.retain(|_, p| p.seen >= recent);
                    if self.prev.len() >= MAX_REMEMBERED {
                        self.prev.clear();
                    }
                }
                self.prev.insert(
                    key,
                    Prev {
                        cpu_seconds,
                        at: now,
                        percent,
                        cgroup,
                        cgroup_settled,
                        seen: self.request,
                    },
                );
                percent
            }
        };
        Some(Sample {
            cpu_seconds,
            cpu_percent,
            rss_bytes: rss.saturating_mul(self.page),
            fds,
            threads,
            processes,
            cpu_source,
        })
    }
}

/// CPU % of `used` CPU seconds over `elapsed` wall seconds: 0 for no elapsed time, never
/// negative (a descendant that exited unreaped takes its CPU time with it), rounded to
/// 0.1.
pub fn cpu_percent(used: f64, elapsed: f64) -> f64 {
    if elapsed <= 0.0 || !used.is_finite() || !elapsed.is_finite() {
        return 0.0;
    }
    let p = (used.max(0.0) / elapsed) * 100.0;
    (p * 10.0).round() / 10.0
}

/// The daemon's own CPU seconds (user + system) and resident bytes.
pub fn own_usage() -> Option<(f64, u64)> {
    let mut path = ProcPath::default();
    let mut buf = Vec::with_capacity(512);
    let s = procfs::read_stat(std::process::id() as i32, &mut path, &mut buf)?;
    Some((
        (s.utime + s.stime) as f64 / procfs::clock_ticks(),
        s.rss_pages.saturating_mul(procfs::page_size()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_math() {
        assert_eq!(cpu_percent(0.5, 1.0), 50.0);
        assert_eq!(cpu_percent(2.0, 1.0), 200.0);
        assert_eq!(cpu_percent(1.0, 3.0), 33.3);
        assert_eq!(cpu_percent(-1.0, 1.0), 0.0);
        assert_eq!(cpu_percent(1.0, 0.0), 0.0);
        assert_eq!(cpu_percent(f64::NAN, 1.0), 0.0);
    }

    /// Keeps this thread on the CPU for `secs`.
    fn spin(secs: f64) {
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed().as_secs_f64() < secs {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
    }

    #[test]
    fn first_sample_measures_from_the_start_later_ones_from_the_previous_sample() {
        spin(0.05);
        let mut s = Sampler::new();
        s.begin_request();
        let me = std::process::id() as i32;
        let t0 = Instant::now();
        // Started "1000 s ago": this test process used far less than 1000 CPU seconds.
        let first = s.sample(me, 1000.0, 2000.0, t0).unwrap();
        assert!(first.cpu_seconds > 0.0);
        assert!(first.cpu_percent < 100.0, "{first:?}");
        assert!(first.rss_bytes > 0 && first.threads >= 1 && first.fds >= 3);
        // (Other tests of this binary may have children running: they count too.)
        assert!(first.processes >= 1);
        // Within MIN_INTERVAL: the figure is kept.
        let again = s.sample(me, 1000.0, 2000.0, t0).unwrap();
        assert_eq!(again.cpu_percent, first.cpu_percent);
        // Burn 0.2 CPU seconds (however long a loaded machine takes to give them): the
        // next figure is the CPU used since the first sample over the time since it.
        let cpu0 = own_usage().unwrap().0;
        let give_up = Instant::now() + std::time::Duration::from_secs(20);
        // (and at least MIN_INTERVAL of wall time, or the first figure is kept).
        while (own_usage().unwrap().0 < cpu0 + 0.2 || t0.elapsed().as_secs_f64() < 0.3)
            && Instant::now() < give_up
        {
            spin(0.01);
        }
        let at = Instant::now();
        let later = s.sample(me, 1000.0, 2000.3, at).unwrap();
        let used = later.cpu_seconds - first.cpu_seconds;
        assert!(used >= 0.19, "{later:?}");
        let want = cpu_percent(used, at.duration_since(t0).as_secs_f64());
        assert!((later.cpu_percent - want).abs() < 0.11, "{later:?} {want}");
        assert!(later.cpu_percent > first.cpu_percent);
        s.end_full_request();
        assert_eq!(s.remembered(), 1);
        // A request that no longer sees the process forgets it.
        s.begin_request();
        s.end_full_request();
        assert_eq!(s.remembered(), 0);
    }

    #[test]
    fn no_pid_or_a_gone_pid_has_no_sample() {
        let mut s = Sampler::new();
        s.begin_request();
        assert_eq!(s.sample(0, 0.0, 1.0, Instant::now()), None);
        // Above the kernel's pid_max (4194304): never a live process.
        assert_eq!(s.sample(999_999_999, 0.0, 1.0, Instant::now()), None);
    }

    #[test]
    fn full_requests_keep_the_proc_files_of_live_processes_only() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Let it get past the dynamic loader (which opens and closes libraries).
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut s = Sampler::new();
        let now = Instant::now();
        // A single-process request opens nothing to keep.
        s.begin_request();
        let single = s.sample(pid, 0.0, 1.0, now).unwrap();
        assert_eq!(s.kept(), 0);
        // A full request keeps the files; the next one reads through them, same figures.
        s.begin_full_request(1);
        let first = s.sample(pid, 0.0, 1.0, now).unwrap();
        s.end_full_request();
        assert_eq!(s.kept(), 1);
        assert_eq!(s.kept_fds, 3);
        s.begin_full_request(1);
        let second = s.sample(pid, 0.0, 1.0, now).unwrap();
        s.end_full_request();
        assert_eq!(s.kept(), 1);
        for x in [first, second] {
            assert_eq!((x.processes, x.threads), (1, 1));
            assert_eq!(x.fds, single.fds);
            assert!(x.fds >= 3);
        }
        // Once the process is gone its kept stat cannot be read: no sample, files dropped.
        let _ = child.kill();
        let _ = child.wait();
        s.begin_full_request(1);
        assert_eq!(s.sample(pid, 0.0, 1.0, Instant::now()), None);
        s.end_full_request();
        assert_eq!((s.kept(), s.kept_fds), (0, 0));
    }

    #[test]
    fn descendants_are_counted() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut s = Sampler::new();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut seen = 0;
        while Instant::now() < deadline {
            s.begin_request();
            seen = s.sample(pid, 0.0, 1.0, Instant::now()).unwrap().processes;
            if seen == 3 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The same tree found through one pass over /proc (parent pids).
        s.begin_full_request(usize::MAX);
        let scanned = s.sample(pid, 0.0, 1.0, Instant::now()).unwrap();
        s.end_full_request();
        // And through the kept `children` file of the shell (the second full request
        // reads the files the first one kept).
        let mut through_kept = vec![];
        for _ in 0..2 {
            s.begin_full_request(1);
            through_kept.push(s.sample(pid, 0.0, 1.0, Instant::now()).unwrap().processes);
            s.end_full_request();
        }
        // Stop the two sleeps by their pids, then the shell.
        let mut kids = vec![];
        procfs::read_children(pid, 1, &mut ProcPath::default(), &mut vec![], &mut kids);
        for k in kids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(k),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(seen, 3);
        assert_eq!(scanned.processes, 3);
        assert_eq!(through_kept, vec![3, 3]);
    }
}
