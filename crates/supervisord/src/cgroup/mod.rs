//! cgroups for processes (supervisor-rs, issue 15 item 5): each process whose config has a
//! cgroup key (`memory_max`, `memory_high`, `cpu_max`, `pids_max`, `kill_mode = cgroup`)
//! runs in a cgroup of its own under the daemon's.
//!
//! The layout is read from `/proc/self/mountinfo` and `/proc/self/cgroup`, never assumed:
//!
//! * pure cgroup v2 (`/sys/fs/cgroup` is cgroup2 with controllers): the daemon makes
//!   `<its cgroup>/supervisord-<pid>/` and enables `+memory +pids +cpu` in the
//!   `cgroup.subtree_control` files on the way (when the daemon's own cgroup holds
//!   processes, "no internal processes" forbids that: the daemon moves itself into the
//!   leaf `<its cgroup>/supervisord-<pid>.daemon` first). Limits are `memory.max`,
//!   `memory.high`, `cpu.max`, `pids.max`.
//! * hybrid (a v2 hierarchy without controllers, often at `/sys/fs/cgroup/unified`, and
//!   the controllers on v1 mounts): v2 groups the processes (listing, `cgroup.kill`), and
//!   the v1 `memory`, `pids` and `cpu` hierarchies get a `supervisord-<pid>/<process>`
//!   directory of their own for the limits: `memory.limit_in_bytes`,
//!   `memory.soft_limit_in_bytes` (for `memory_high`: a reclaim target under pressure,
//!   not a throttle as in v2), `cpu.cfs_quota_us`/`cpu.cfs_period_us`, `pids.max`.
//!
//! A key whose controller is not writable is refused at spawn (a spawnerr naming the key),
//! never ignored. The child joins its cgroups itself before `execve` (it writes `0` to
//! each `cgroup.procs`, see `spawn::spawn_joining`), so nothing it forks escapes. The
//! directory is removed after the process is reaped (retried while it is busy).

pub mod checks;
pub mod guard;

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use supervisor_config::resources::{KillMode, ResourceConfig};

/// The v1 controllers used for limits.
const V1_CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

/// One mounted cgroup hierarchy: its mount point and the path of the mount's root inside
/// the hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    point: PathBuf,
    root: String,
    /// v1: the controllers of the mount (`memory`, `cpu`, ...); empty for v2.
    controllers: Vec<String>,
}

/// Parses `/proc/self/mountinfo`: the cgroup2 mount and the v1 mounts.
fn parse_mountinfo(text: &str) -> (Option<Mount>, Vec<Mount>) {
    let mut v2 = None;
    let mut v1 = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if f.len() < 5 || r.len() < 3 {
            continue;
        }
        let point = PathBuf::from(unescape(f[4]));
        let root = unescape(f[3]);
        match r[0] {
            "cgroup2" if v2.is_none() => {
                v2 = Some(Mount {
                    point,
                    root,
                    controllers: Vec::new(),
                })
            }
            "cgroup" => {
                let controllers = r[2]
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o) || *o == "cpuacct")
                    .map(String::from)
                    .collect();
                v1.push(Mount {
                    point,
                    root,
                    controllers,
                });
            }
            _ => {}
        }
    }
    (v2, v1)
}

/// mountinfo escapes spaces and the like as `\040`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let d = |k: usize| u32::from(b[i + k] - b'0');
            out.push((d(1) * 64 + d(2) * 8 + d(3)) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/cgroup`: the v2 path (`0::/x`) and the v1 path per controller.
fn parse_proc_cgroup(text: &str) -> (Option<String>, HashMap<String, String>) {
    let mut v2 = None;
    let mut v1 = HashMap::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if id == "0" && ctrl.is_empty() {
            v2 = Some(path.to_string());
        } else {
            for c in ctrl.split(',') {
                v1.insert(c.to_string(), path.to_string());
            }
        }
    }
    (v2, v1)
}

/// The directory of cgroup `path` (from /proc/self/cgroup) under mount `m`.
fn dir_in(m: &Mount, path: &str) -> Option<PathBuf> {
    let rel = if m.root == "/" {
        path
    } else {
        path.strip_prefix(m.root.as_str())?
    };
    let rel = rel.trim_start_matches('/');
    Some(if rel.is_empty() {
        m.point.clone()
    } else {
        m.point.join(rel)
    })
}

/// A cgroup directory name for `group:process`: letters, digits, `-`, `_` and `.` kept,
/// anything else as `%XX`; never `.`/`..`, never a `cgroup.`/controller-like prefix clash.
pub fn escape_name(group: &str, name: &str) -> String {
    let full = if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    };
    let mut out = String::from("p.");
    for b in full.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
            out.push(b as char);
        } else if b == b':' {
            out.push('@');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The daemon's cgroup layout, prepared for per-process cgroups.
#[derive(Debug, Default)]
pub struct Layout {
    /// The v2 directory under which process cgroups are made (created), if writable.
    v2_base: Option<PathBuf>,
    /// v2 controllers enabled for the process cgroups.
    v2_controllers: Vec<String>,
    /// v1 base directories (created) by controller, for those not on v2.
    v1_base: HashMap<String, PathBuf>,
    /// Why there is no writable cgroup v2 (the WARN at start), if so.
    pub problem: Option<String>,
    /// What the layout is, for the main log (`cgroup v2 at ...`).
    pub summary: String,
}

fn write_file(p: &Path, text: &str) -> io::Result<()> {
    std::fs::write(p, text.as_bytes())
}

impl Layout {
    /// Reads the layout and prepares the daemon's base directories (`supervisord-<pid>`).
    pub fn detect() -> Layout {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let pc = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Self::prepare(&mi, &pc, std::process::id())
    }

    fn prepare(mountinfo: &str, proc_cgroup: &str, pid: u32) -> Layout {
        let (v2m, v1m) = parse_mountinfo(mountinfo);
        let (v2p, v1p) = parse_proc_cgroup(proc_cgroup);
        let mut l = Layout::default();
        let base_name = format!("supervisord-{pid}");
        let mut notes = Vec::new();
        match (v2m, v2p) {
            (Some(m), Some(p)) => match dir_in(&m, &p) {
                Some(own) => match prepare_v2(&own, &base_name) {
                    Ok((base, ctrls)) => {
                        notes.push(format!(
                            "cgroup v2 at {} (controllers: {})",
                            base.display(),
                            if ctrls.is_empty() {
                                "none".to_string()
                            } else {
                                ctrls.join(" ")
                            }
                        ));
                        l.v2_base = Some(base);
                        l.v2_controllers = ctrls;
                    }
                    Err(e) => {
                        l.problem = Some(format!(
                            "cannot write the daemon's cgroup {}: {e}",
                            own.display()
                        ))
                    }
                },
                None => l.problem = Some("the daemon's cgroup v2 is outside the mount".into()),
            },
            _ => l.problem = Some("no cgroup v2 hierarchy is mounted".into()),
        }
        for c in V1_CONTROLLERS {
            if l.v2_controllers.iter().any(|x| x == c) {
                continue;
            }
            let Some(m) = v1m.iter().find(|m| m.controllers.iter().any(|x| x == c)) else {
                continue;
            };
            let Some(path) = v1p.get(c) else { continue };
            let Some(own) = dir_in(m, path) else { continue };
            let base = own.join(&base_name);
            if std::fs::create_dir(&base).is_ok() || base.is_dir() {
                notes.push(format!("v1 {c} at {}", base.display()));
                l.v1_base.insert(c.to_string(), base);
            }
        }
        l.summary = notes.join(", ");
        l
    }

    /// The layout as it would be prepared, without creating anything: a hierarchy counts
    /// when `writable` says the daemon's directory in it is (for `--check-config`).
    pub fn inspect(mountinfo: &str, proc_cgroup: &str, writable: impl Fn(&Path) -> bool) -> Layout {
        let (v2m, v1m) = parse_mountinfo(mountinfo);
        let (v2p, v1p) = parse_proc_cgroup(proc_cgroup);
        let mut l = Layout::default();
        match (v2m, v2p) {
            (Some(m), Some(p)) => match dir_in(&m, &p) {
                Some(own) if writable(&own) => {
                    let avail =
                        std::fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
                    l.v2_controllers = V1_CONTROLLERS
                        .iter()
                        .filter(|c| avail.split_whitespace().any(|a| a == **c))
                        .map(|c| c.to_string())
                        .collect();
                    l.v2_base = Some(own);
                }
                Some(own) => {
                    l.problem = Some(format!(
                        "the daemon's cgroup {} is not writable",
                        own.display()
                    ))
                }
                None => l.problem = Some("the daemon's cgroup v2 is outside the mount".into()),
            },
            _ => l.problem = Some("no cgroup v2 hierarchy is mounted".into()),
        }
        for c in V1_CONTROLLERS {
            if l.v2_controllers.iter().any(|x| x == c) {
                continue;
            }
            let dir = v1m
                .iter()
                .find(|m| m.controllers.iter().any(|x| x == c))
                .and_then(|m| dir_in(m, v1p.get(c)?));
            if let Some(d) = dir.filter(|d| writable(d)) {
                l.v1_base.insert(c.to_string(), d);
            }
        }
        l
    }

    /// Whether processes can get a v2 cgroup (grouping, `kill_mode = cgroup`).
    pub fn has_v2(&self) -> bool {
        self.v2_base.is_some()
    }

    /// Where controller `c` is available: `Some(true)` v2, `Some(false)` v1, `None` none.
    fn controller(&self, c: &str) -> Option<bool> {
        if self.v2_base.is_some() && self.v2_controllers.iter().any(|x| x == c) {
            Some(true)
        } else if self.v1_base.contains_key(c) {
            Some(false)
        } else {
            None
        }
    }

    /// Why `r` cannot be applied here (the spawnerr), if it cannot.
    pub fn refusal(&self, name: &str, r: &ResourceConfig) -> Option<String> {
        let mut missing = Vec::new();
        if r.kill_mode == KillMode::Cgroup && !self.has_v2() {
            missing.push("kill_mode=cgroup (needs a writable cgroup v2)");
        }
        for (set, key, c) in [
            (r.memory_max.is_some(), "memory_max", "memory"),
            (r.memory_high.is_some(), "memory_high", "memory"),
            (r.cpu_max.is_some(), "cpu_max", "cpu"),
            (r.pids_max.is_some(), "pids_max", "pids"),
        ] {
            if set && self.controller(c).is_none() {
                missing.push(match key {
                    "memory_max" => "memory_max (no writable memory controller)",
                    "memory_high" => "memory_high (no writable memory controller)",
                    "cpu_max" => "cpu_max (no writable cpu controller)",
                    _ => "pids_max (no writable pids controller)",
                });
            }
        }
        let keys = r.cgroup_keys().join(", ");
        if r.wants_cgroup() && !self.has_v2() && self.v1_base.is_empty() {
            if let Some(p) = &self.problem {
                return Some(format!(
                    "cgroup keys of '{name}' ({keys}) cannot be applied: {p}"
                ));
            }
        }
        if missing.is_empty() {
            None
        } else {
            Some(format!(
                "cgroup keys of '{name}' ({keys}) cannot be applied: {}",
                missing.join(", ")
            ))
        }
    }

    /// Creates (or reuses) the cgroup of process `dirname` and writes its limits.
    pub fn create(
        &self,
        name: &str,
        dirname: &str,
        r: &ResourceConfig,
    ) -> Result<ProcCgroup, String> {
        if let Some(m) = self.refusal(name, r) {
            return Err(m);
        }
        let fail = |what: &Path, e: io::Error| {
            format!(
                "couldn't set up the cgroup of '{name}': {}: {e}",
                what.display()
            )
        };
        let mut cg = ProcCgroup {
            v2: None,
            v1: Vec::new(),
            kill_mode: r.kill_mode,
            memory: None,
        };
        if let Some(base) = &self.v2_base {
            let d = base.join(dirname);
            mkdir(&d).map_err(|e| fail(&d, e))?;
            cg.v2 = Some(d);
        }
        let dir_for = |c: &str, cg: &mut ProcCgroup| -> Result<PathBuf, String> {
            match self.controller(c) {
                Some(true) => Ok(cg.v2.clone().expect("v2 controller means a v2 dir")),
                _ => {
                    let d = self.v1_base[c].join(dirname);
                    if !cg.v1.contains(&d) {
                        mkdir(&d).map_err(|e| fail(&d, e))?;
                        cg.v1.push(d.clone());
                    }
                    Ok(d)
                }
            }
        };
        let set = |c: &str,
                   v2file: &str,
                   v1file: &str,
                   value: String,
                   cg: &mut ProcCgroup|
         -> Result<(), String> {
            let v2 = self.controller(c) == Some(true);
            let d = dir_for(c, cg)?;
            let f = d.join(if v2 { v2file } else { v1file });
            write_file(&f, &value).map_err(|e| fail(&f, e))
        };
        if let Some(m) = r.memory_max {
            set(
                "memory",
                "memory.max",
                "memory.limit_in_bytes",
                m.to_string(),
                &mut cg,
            )?;
        }
        if let Some(m) = r.memory_high {
            set(
                "memory",
                "memory.high",
                "memory.soft_limit_in_bytes",
                m.to_string(),
                &mut cg,
            )?;
        }
        if let Some(c) = r.cpu_max {
            if self.controller("cpu") == Some(true) {
                set(
                    "cpu",
                    "cpu.max",
                    "",
                    format!("{} {}", c.quota_us, c.period_us),
                    &mut cg,
                )?;
            } else {
                set(
                    "cpu",
                    "",
                    "cpu.cfs_period_us",
                    c.period_us.to_string(),
                    &mut cg,
                )?;
                set(
                    "cpu",
                    "",
                    "cpu.cfs_quota_us",
                    c.quota_us.to_string(),
                    &mut cg,
                )?;
            }
        }
        if let Some(p) = r.pids_max {
            set("pids", "pids.max", "pids.max", p.to_string(), &mut cg)?;
        }
        // Where the memory figure of a guard comes from.
        cg.memory = match self.controller("memory") {
            Some(true) => cg.v2.as_ref().map(|d| (d.join("memory.current"), true)),
            Some(false) => cg
                .v1
                .iter()
                .find(|d| d.starts_with(&self.v1_base["memory"]))
                .map(|d| (d.join("memory.stat"), false)),
            None => None,
        };
        Ok(cg)
    }

    /// Removes the daemon's base directories (at exit; what is still busy stays).
    pub fn remove_bases(&self) {
        for d in self.v2_base.iter().chain(self.v1_base.values()) {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn mkdir(d: &Path) -> io::Result<()> {
    match std::fs::create_dir(d) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        r => r,
    }
}

/// Makes `<own>/<base_name>` and enables what controllers it can for its children.
fn prepare_v2(own: &Path, base_name: &str) -> io::Result<(PathBuf, Vec<String>)> {
    let base = own.join(base_name);
    mkdir(&base)?;
    let available = std::fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<String> = V1_CONTROLLERS
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .map(|c| c.to_string())
        .collect();
    let mut enabled = Vec::new();
    if !wanted.is_empty() {
        let enable =
            |dir: &Path, c: &str| write_file(&dir.join("cgroup.subtree_control"), &format!("+{c}"));
        let mut moved = false;
        for c in &wanted {
            let mut r = enable(own, c);
            if matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EBUSY)) && !moved {
                // "No internal processes": the daemon leaves for a leaf of its own.
                let leaf = own.join(format!("{base_name}.daemon"));
                mkdir(&leaf)?;
                write_file(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
                moved = true;
                r = enable(own, c);
            }
            if r.is_ok() && enable(&base, c).is_ok() {
                enabled.push(c.clone());
            }
        }
    }
    Ok((base, enabled))
}

/// The cgroup(s) of one process.
#[derive(Debug, Clone)]
pub struct ProcCgroup {
    v2: Option<PathBuf>,
    v1: Vec<PathBuf>,
    /// The process's `kill_mode=`.
    pub kill_mode: KillMode,
    /// Where its memory figure is read: (file, is v2 `memory.current`).
    memory: Option<(PathBuf, bool)>,
}

impl ProcCgroup {
    /// The `cgroup.procs` files the child writes `0` to before `execve`.
    pub fn procs_files(&self) -> Vec<CString> {
        self.v2
            .iter()
            .chain(self.v1.iter())
            .filter_map(|d| CString::new(d.join("cgroup.procs").as_os_str().as_bytes()).ok())
            .collect()
    }

    /// The v2 directory, if any.
    pub fn v2_dir(&self) -> Option<&Path> {
        self.v2.as_deref()
    }

    /// The pids in the cgroup now.
    pub fn pids(&self) -> Vec<i32> {
        let Some(d) = self.v2.as_ref().or(self.v1.first()) else {
            return Vec::new();
        };
        std::fs::read_to_string(d.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Sends `sig` to every process of the cgroup; SIGKILL goes through `cgroup.kill`
    /// when the kernel has it. Returns how many processes were signalled (or 1 for
    /// `cgroup.kill`).
    pub fn signal_all(&self, sig: i32) -> usize {
        if sig == libc::SIGKILL {
            if let Some(d) = &self.v2 {
                if write_file(&d.join("cgroup.kill"), "1").is_ok() {
                    return 1;
                }
            }
        }
        let mut n = 0;
        for pid in self.pids() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            if pid > 0 && unsafe { libc::kill(pid, sig) } == 0 {
                n += 1;
            }
        }
        n
    }

    /// The memory of the cgroup in bytes (v2 `memory.current`, v1 `total_rss` of
    /// `memory.stat`), when a memory controller accounts it.
    pub fn memory_bytes(&self) -> Option<u64> {
        let (f, v2) = self.memory.as_ref()?;
        let text = std::fs::read_to_string(f).ok()?;
        if *v2 {
            text.trim().parse().ok()
        } else {
            text.lines()
                .find_map(|l| l.strip_prefix("total_rss "))
                .and_then(|v| v.trim().parse().ok())
        }
    }

    /// Tries to remove the directories; true when all are gone.
    pub fn try_remove(&self) -> bool {
        let mut all = true;
        for d in self.v2.iter().chain(self.v1.iter()) {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(_) => all = false,
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_mountinfo() {
        let (v2, v1) = parse_mountinfo(HYBRID);
        assert_eq!(v2.unwrap().point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(v1.len(), 3);
        assert!(v1.iter().any(|m| m.controllers == ["memory"]));
        let (p2, p1) = parse_proc_cgroup("4:memory:/process_api/x\n1:cpu:/\n0::/\n");
        assert_eq!(p2.as_deref(), Some("/"));
        assert_eq!(p1["memory"], "/process_api/x");
        let m = Mount {
            point: "/sys/fs/cgroup/memory".into(),
            root: "/".into(),
            controllers: vec![],
        };
        assert_eq!(
            dir_in(&m, "/process_api/x").unwrap(),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/x")
        );
    }

    #[test]
    fn pure_v2_and_container_roots() {
        let (v2, v1) =
            parse_mountinfo("30 1 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let m = v2.unwrap();
        assert!(v1.is_empty());
        assert_eq!(
            dir_in(&m, "/docker/abc").unwrap(),
            PathBuf::from("/sys/fs/cgroup")
        );
        assert_eq!(
            dir_in(&m, "/docker/abc/sub").unwrap(),
            PathBuf::from("/sys/fs/cgroup/sub")
        );
        assert_eq!(dir_in(&m, "/other"), None);
        assert_eq!(unescape("/a\\040b"), "/a b");
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape_name("web", "web"), "p.web");
        assert_eq!(escape_name("g", "w_01"), "p.g@w_01");
        assert_eq!(escape_name("g", "a/b c"), "p.g@a%2Fb%20c");
        assert_eq!(escape_name("..", ".."), "p...");
    }

    #[test]
    fn pure_v2_writes_the_v2_files() {
        // A directory standing in for a cgroup2 mount whose root offers every controller
        // (regular files accept the writes a kernel would check).
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let mi = format!("30 1 0:26 / {} rw - cgroup2 cgroup2 rw\n", root.display());
        let l = Layout::prepare(&mi, "0::/\n", 77);
        assert!(l.problem.is_none(), "{:?}", l.problem);
        assert_eq!(l.v2_controllers, ["memory", "pids", "cpu"]);
        assert!(l.v1_base.is_empty());
        let base = root.join("supervisord-77");
        assert_eq!(
            std::fs::read_to_string(base.join("cgroup.subtree_control")).unwrap(),
            "+cpu"
        );
        let mut r = ResourceConfig::new();
        r.memory_max = Some(64 << 20);
        r.memory_high = Some(48 << 20);
        r.cpu_max = Some(supervisor_config::resources::CpuMax {
            quota_us: 50_000,
            period_us: 100_000,
        });
        r.pids_max = Some(6);
        r.kill_mode = KillMode::Cgroup;
        let cg = l.create("web", "p.web", &r).unwrap();
        let d = base.join("p.web");
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("memory.high"), (48u64 << 20).to_string());
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("pids.max"), "6");
        assert_eq!(cg.v2_dir(), Some(d.as_path()));
        assert_eq!(cg.procs_files().len(), 1);
        std::fs::write(d.join("memory.current"), "123456\n").unwrap();
        assert_eq!(cg.memory_bytes(), Some(123456));
        assert!(l.refusal("web", &r).is_none());
    }

    #[test]
    fn no_cgroup_refuses_the_keys() {
        let l = Layout::prepare("", "", 1);
        assert!(l.problem.is_some());
        let mut r = ResourceConfig::new();
        assert!(l.refusal("web", &r).is_none());
        r.pids_max = Some(10);
        let m = l.refusal("web", &r).unwrap();
        assert!(m.contains("web") && m.contains("cgroup v2"), "{m}");
    }
}

/// The cgroups of the daemon's processes, kept by the real host.
#[derive(Debug, Default)]
pub struct Cgroups {
    /// The layout, read when a process first needs a cgroup (or at start, see
    /// [`Cgroups::start`]).
    layout: Option<Layout>,
    /// The cgroup of each live child, by pid.
    by_pid: HashMap<i32, ProcCgroup>,
    /// pid of each process key's live child with a cgroup.
    by_key: HashMap<supervisor_core::ProcKey, i32>,
    /// Directories not removed yet (still busy at reap): retried on the host's timer.
    leftovers: Vec<(ProcCgroup, u32)>,
    /// Set around `signalProcess`: a signal an operator sends goes to the process (or
    /// its group) as usual, only stops reach the whole cgroup.
    direct: bool,
}

/// How many times a busy cgroup directory is retried (every [`RETRY_EVERY`]).
pub const RETRIES: u32 = 100;
/// How long the end of a run waits for busy cgroups to empty before leaving them.
pub const FINISH_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The pause between removal tries of a busy cgroup.
pub const RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Cgroups {
    /// Reads the layout when any process of `config` has a cgroup key, and returns the
    /// lines for the main log: INFO with the layout, or one WARN when the daemon cannot
    /// write its cgroup (the processes with cgroup keys are then refused at spawn).
    pub fn start(
        &mut self,
        config: &supervisor_config::Config,
    ) -> Vec<(supervisor_config::LogLevel, String)> {
        let wants = config
            .groups
            .iter()
            .flat_map(|g| g.processes.iter())
            .any(|p| p.resources.wants_cgroup());
        if !wants {
            return Vec::new();
        }
        let l = self.layout();
        let mut out = Vec::new();
        if let Some(p) = &l.problem {
            out.push((
                supervisor_config::LogLevel::Warn,
                format!("cgroups unavailable: {p}; programs with cgroup keys (memory_max, memory_high, cpu_max, pids_max, kill_mode=cgroup) will not be spawned"),
            ));
        }
        if !l.summary.is_empty() {
            out.push((
                supervisor_config::LogLevel::Info,
                format!("cgroups: {}", l.summary),
            ));
        }
        out
    }

    fn layout(&mut self) -> &Layout {
        self.layout.get_or_insert_with(Layout::detect)
    }

    /// Before spawning `key`: its cgroup (created, limits written), or the spawnerr.
    /// `Ok(None)` when the process has no cgroup key.
    pub fn prepare(
        &mut self,
        pc: &supervisor_config::ProcessConfig,
    ) -> Result<Option<ProcCgroup>, String> {
        if !pc.resources.wants_cgroup() {
            return Ok(None);
        }
        let dir = escape_name(&pc.group, &pc.name);
        self.layout()
            .create(&pc.name, &dir, &pc.resources)
            .map(Some)
    }

    /// The child of `key` was started as `pid` in `cg`.
    pub fn started(&mut self, key: supervisor_core::ProcKey, pid: i32, cg: ProcCgroup) {
        self.by_key.insert(key, pid);
        self.by_pid.insert(pid, cg);
    }

    /// The cgroup of the live child `pid`, if it has one.
    pub fn of_pid(&self, pid: i32) -> Option<&ProcCgroup> {
        self.by_pid.get(&pid)
    }

    /// The cgroup of `key`'s live child, if it has one.
    pub fn of_key(&self, key: supervisor_core::ProcKey) -> Option<&ProcCgroup> {
        self.by_key.get(&key).and_then(|p| self.by_pid.get(p))
    }

    /// `kill_mode = cgroup`: sends `sig` to the whole cgroup of `pid` (a negative pid is
    /// its group). `None` when `pid` has no such cgroup (kill it the usual way).
    pub fn kill(&self, pid: i32, sig: i32) -> Option<usize> {
        if self.direct {
            return None;
        }
        let cg = self.by_pid.get(&pid.abs())?;
        (cg.kill_mode == KillMode::Cgroup).then(|| cg.signal_all(sig))
    }

    /// While `on`, [`Cgroups::kill`] leaves every signal to the usual path
    /// (`supervisorctl signal`: a reload signal is for the main process, not its workers).
    pub fn direct_signals(&mut self, on: bool) {
        self.direct = on;
    }

    /// `key`'s child was reaped: with `kill_mode = cgroup` what is left of its tree is
    /// killed; the directory is removed (or kept for a retry when still busy). Returns
    /// true when a retry is pending.
    pub fn reaped(&mut self, key: supervisor_core::ProcKey) -> bool {
        let Some(pid) = self.by_key.remove(&key) else {
            return !self.leftovers.is_empty();
        };
        let Some(cg) = self.by_pid.remove(&pid) else {
            return !self.leftovers.is_empty();
        };
        if cg.kill_mode == KillMode::Cgroup && !cg.pids().is_empty() {
            cg.signal_all(libc::SIGKILL);
        }
        if !cg.try_remove() {
            self.leftovers.push((cg, 0));
        }
        !self.leftovers.is_empty()
    }

    /// Retries the busy removals; returns lines to log for those given up, and whether
    /// retries remain.
    pub fn retry_removals(&mut self) -> (Vec<String>, bool) {
        let mut gave_up = Vec::new();
        self.leftovers.retain_mut(|(cg, tries)| {
            if cg.try_remove() {
                return false;
            }
            *tries += 1;
            if *tries >= RETRIES {
                gave_up.push(format!(
                    "cgroup {} is still in use (processes left: {}); not removed",
                    cg.v2
                        .as_ref()
                        .or(cg.v1.first())
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                    cg.pids().len()
                ));
                return false;
            }
            true
        });
        (gave_up, !self.leftovers.is_empty())
    }

    /// At the end of the run: the daemon's base directories go (when empty).
    pub fn finish(&mut self) {
        // What was killed a moment ago (kill_mode = cgroup at shutdown) needs a few
        // milliseconds to exit: wait for it a little, never more than FINISH_WAIT.
        let until = std::time::Instant::now() + FINISH_WAIT;
        loop {
            self.leftovers.retain(|(cg, _)| !cg.try_remove());
            if self.leftovers.is_empty() || std::time::Instant::now() >= until {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if let Some(l) = &self.layout {
            l.remove_bases();
        }
    }
}
