//! Reading and parsing the few `/proc` (and cgroup v2) files the stats need.
//!
//! Parsing is pure (`parse_*` take the file's bytes) so it is unit-tested on fixed texts;
//! the `read_*` functions only open and read. Each read goes into a caller's buffer, so a
//! sample of many processes allocates almost nothing.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The fields of `/proc/<pid>/stat` the stats use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// Parent pid (field 4).
    pub ppid: i32,
    /// User-mode CPU time, clock ticks (field 14).
    pub utime: u64,
    /// Kernel-mode CPU time, clock ticks (field 15).
    pub stime: u64,
    /// CPU time of waited-for (reaped) children, user mode, clock ticks (field 16).
    pub cutime: u64,
    /// The same in kernel mode (field 17).
    pub cstime: u64,
    /// Threads (field 20).
    pub threads: u64,
    /// Start time after boot, clock ticks (field 22): with the pid, it names one process
    /// instance (a reused pid has another start time).
    pub starttime: u64,
    /// Resident set size, pages (field 24).
    pub rss_pages: u64,
}

/// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in parentheses
/// and may itself contain spaces and parentheses, so the fields are counted from the
/// last `)`.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    // rest starts with " S ppid ...": field 3 is the first word.
    let mut f = rest.split_ascii_whitespace();
    let mut nth = |n: usize| -> Option<&str> { f.nth(n) };
    // Field numbers are 1-based; after ')' the first word is field 3.
    let _state = nth(0)?; // 3
    let ppid = nth(0)?.parse().ok()?; // 4
    let utime = nth(9)?.parse().ok()?; // 14
    let stime = nth(0)?.parse().ok()?; // 15
    let cutime: i64 = nth(0)?.parse().ok()?; // 16
    let cstime: i64 = nth(0)?.parse().ok()?; // 17
    let threads: i64 = nth(2)?.parse().ok()?; // 20
    let starttime = nth(1)?.parse().ok()?; // 22
    let rss: i64 = nth(1)?.parse().ok()?; // 24
    Some(Stat {
        ppid,
        utime,
        stime,
        cutime: cutime.max(0) as u64,
        cstime: cstime.max(0) as u64,
        threads: threads.max(0) as u64,
        starttime,
        rss_pages: rss.max(0) as u64,
    })
}

/// Parses a `children` file (`/proc/<pid>/task/<tid>/children`): pids separated by
/// spaces. Appends them to `out`.
pub fn parse_children(text: &[u8], out: &mut Vec<i32>) {
    let Ok(s) = std::str::from_utf8(text) else {
        return;
    };
    out.extend(
        s.split_ascii_whitespace()
            .filter_map(|w| w.parse::<i32>().ok()),
    );
}

/// The cgroup v2 path of a `/proc/<pid>/cgroup` text (the `0::/path` line), if any.
pub fn parse_cgroup(text: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(text).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim_end)
        .filter(|p| p.starts_with('/'))
}

/// `usage_usec` of a cgroup's `cpu.stat`, in microseconds.
pub fn parse_cpu_stat_usage(text: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(text).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

/// Reads a whole small file into `buf` (cleared first). False when it cannot be read.
///
/// Three system calls (open, read, close) for a file shorter than 4 KiB: the files read
/// here are generated in one piece by the kernel, so a short read is the whole file.
/// (`read_to_end` would also `fstat` and `lseek` the file for a size hint, and read once
/// more to see the end: twice the calls, for 1,000 processes per scrape.)
pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return true,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if n < chunk.len() || buf.len() > 1024 * 1024 {
                    return true;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Reads a whole small file that is already open (`pread` at offset 0: one system call,
/// the kernel generates the text afresh) into `buf` (cleared first). False when it cannot
/// be read (for a `/proc/<pid>` file: the process is gone).
pub fn read_open_into(file: &File, buf: &mut Vec<u8>) -> bool {
    use std::os::unix::fs::FileExt;
    buf.clear();
    let mut chunk = [0u8; 4096];
    let mut at = 0u64;
    loop {
        match file.read_at(&mut chunk, at) {
            Ok(0) => return true,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                at += n as u64;
                if n < chunk.len() || buf.len() > 1024 * 1024 {
                    return true;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Opens a `/proc` file (or directory) to keep: read-only, close-on-exec (spawned
/// children never inherit it).
pub fn open_kept(path: &Path) -> Option<File> {
    File::open(path).ok()
}

/// Open descriptors of `pid` through its `/proc/<pid>/fd` directory kept open as `dir`
/// (one `fstat`); `None` when the process is gone. On kernels older than 6.2 (size 0)
/// the directory is listed through `path`.
pub fn count_fds_open(dir: &File, pid: i32, path: &mut ProcPath) -> Option<u64> {
    let size = dir.metadata().ok()?.len();
    if size > 0 {
        return Some(size);
    }
    count_fds(pid, path)
}

/// Threads on the machine (`sysinfo(2)`'s `procs`): an upper bound of its processes, one
/// system call where listing `/proc` costs about a microsecond per process.
pub fn machine_threads() -> Option<usize> {
    // SAFETY: sysinfo fills the struct it is given and touches nothing else.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable sysinfo struct.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return None;
    }
    Some(info.procs as usize)
}

/// The soft limit of open descriptors of this process (`RLIMIT_NOFILE`).
pub fn nofile_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    r.rlim_cur
}

/// A reusable path buffer for `/proc/<pid>/...` names.
#[derive(Debug, Default)]
pub struct ProcPath(String);

impl ProcPath {
    /// `/proc/<pid>/<rest>` (rest may be empty for the directory itself).
    pub fn of(&mut self, pid: i32, rest: &str) -> &Path {
        use std::fmt::Write;
        self.0.clear();
        let _ = write!(self.0, "/proc/{pid}");
        if !rest.is_empty() {
            self.0.push('/');
            self.0.push_str(rest);
        }
        Path::new(&self.0)
    }

    /// `/proc/<pid>/task/<tid>/children`.
    pub fn children(&mut self, pid: i32, tid: i32) -> &Path {
        use std::fmt::Write;
        self.0.clear();
        let _ = write!(self.0, "/proc/{pid}/task/{tid}/children");
        Path::new(&self.0)
    }
}

/// `/proc/<pid>/stat`, parsed.
pub fn read_stat(pid: i32, path: &mut ProcPath, buf: &mut Vec<u8>) -> Option<Stat> {
    if !read_into(path.of(pid, "stat"), buf) {
        return None;
    }
    parse_stat(buf)
}

/// Open descriptors of `pid`. Linux 6.2 and later report the count as the size of
/// `/proc/<pid>/fd` (one `stat` call); older kernels report 0 there, and the directory is
/// listed instead.
pub fn count_fds(pid: i32, path: &mut ProcPath) -> Option<u64> {
    let dir = path.of(pid, "fd");
    let size = std::fs::metadata(dir).ok()?.len();
    if size > 0 {
        return Some(size);
    }
    Some(std::fs::read_dir(dir).ok()?.filter(|e| e.is_ok()).count() as u64)
}

/// Appends the live children of `pid` to `out`: the `children` file of every thread
/// (only the main thread's when it has one thread: one read).
pub fn read_children(
    pid: i32,
    threads: u64,
    path: &mut ProcPath,
    buf: &mut Vec<u8>,
    out: &mut Vec<i32>,
) {
    if threads <= 1 {
        if read_into(path.children(pid, pid), buf) {
            parse_children(buf, out);
        }
        return;
    }
    let Ok(tasks) = std::fs::read_dir(path.of(pid, "task")) else {
        return;
    };
    let tids: Vec<i32> = tasks
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for tid in tids {
        if read_into(path.children(pid, tid), buf) {
            parse_children(buf, out);
        }
    }
}

/// Where the cgroup v2 hierarchy is mounted, from a `/proc/self/mountinfo` text:
/// `/sys/fs/cgroup` on a unified system, `/sys/fs/cgroup/unified` on a hybrid one.
pub fn parse_cgroup2_mount(mountinfo: &[u8]) -> Option<PathBuf> {
    let s = std::str::from_utf8(mountinfo).ok()?;
    s.lines().find_map(|l| {
        let (mount, fs) = l.split_once(" - ")?;
        if fs.split_ascii_whitespace().next()? != "cgroup2" {
            return None;
        }
        mount.split_ascii_whitespace().nth(4).map(PathBuf::from)
    })
}

/// The mount point of the cgroup v2 hierarchy, if there is one.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mut buf = Vec::new();
    if !read_into(Path::new("/proc/self/mountinfo"), &mut buf) {
        return None;
    }
    parse_cgroup2_mount(&buf)
}

/// The cgroup v2 directory of `pid` under the hierarchy mounted at `root`, if it has one.
pub fn cgroup_dir(
    pid: i32,
    root: &Path,
    path: &mut ProcPath,
    buf: &mut Vec<u8>,
) -> Option<PathBuf> {
    if !read_into(path.of(pid, "cgroup"), buf) {
        return None;
    }
    let rel = parse_cgroup(buf)?;
    Some(root.join(rel.trim_start_matches('/')))
}

/// The CPU time of every process of a cgroup, dead or alive, in seconds.
pub fn cgroup_cpu_seconds(dir: &Path, buf: &mut Vec<u8>) -> Option<f64> {
    if !read_into(&dir.join("cpu.stat"), buf) {
        return None;
    }
    parse_cpu_stat_usage(buf).map(|us| us as f64 / 1e6)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant; it has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The page size in bytes (`sysconf(_SC_PAGESIZE)`).
pub fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant; it has no memory effects.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &[u8] = b"4242 (my (odd) prog) S 4000 4242 4242 0 -1 4194560 1234 0 0 0 \
250 75 12 3 20 0 3 0 987654 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(
            s,
            Stat {
                ppid: 4000,
                utime: 250,
                stime: 75,
                cutime: 12,
                cstime: 3,
                threads: 3,
                starttime: 987654,
                rss_pages: 2048,
            }
        );
    }

    #[test]
    fn stat_of_garbage_or_truncated_text_is_none() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 (x) S 1 2 3"), None);
        assert_eq!(parse_stat(b"no parenthesis at all 1 2 3 4 5 6 7 8"), None);
        assert_eq!(parse_stat(&STAT[..60]), None);
    }

    #[test]
    fn the_real_stat_of_this_process_parses() {
        let mut p = ProcPath::default();
        let mut buf = Vec::new();
        let s = read_stat(std::process::id() as i32, &mut p, &mut buf).unwrap();
        assert!(s.threads >= 1);
        assert!(s.rss_pages > 0);
        assert!(count_fds(std::process::id() as i32, &mut p).unwrap() >= 3);
    }

    #[test]
    fn children_and_cgroup_lines() {
        let mut out = vec![];
        parse_children(b"12 34 56 \n", &mut out);
        parse_children(b"", &mut out);
        assert_eq!(out, vec![12, 34, 56]);
        assert_eq!(
            parse_cgroup(b"0::/system.slice/web.service\n"),
            Some("/system.slice/web.service")
        );
        assert_eq!(
            parse_cgroup(b"12:cpu,cpuacct:/x\n1:name=systemd:/y\n"),
            None
        );
        assert_eq!(
            parse_cpu_stat_usage(b"usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"),
            Some(2_500_000)
        );
        assert_eq!(parse_cpu_stat_usage(b"nr_periods 0\n"), None);
        let hybrid = b"25 1 0:22 / /sys rw - sysfs sysfs rw\n\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            parse_cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let v1_only = b"35 31 0:30 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(parse_cgroup2_mount(v1_only), None);
    }
}
