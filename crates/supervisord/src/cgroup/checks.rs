//! `--check-config` findings about cgroup keys: a process whose `memory_max`,
//! `memory_high`, `cpu_max`, `pids_max` or `kill_mode = cgroup` could not be applied on
//! this machine (no writable cgroup v2, no writable controller) is reported as a warning
//! naming the key, since the daemon would refuse to spawn it. Nothing is created.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use supervisor_config::diagnostics::{diagnostic, Diagnostic, Severity};
use supervisor_config::Config;

use super::Layout;

/// Whether the calling process may write into directory `d` (mkdir there).
fn writable(d: &Path) -> bool {
    let Ok(c) = CString::new(d.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads the NUL-terminated path, which lives for the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The layout the daemon would find, without creating its directories.
pub fn inspect() -> Layout {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let pc = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    Layout::inspect(&mi, &pc, writable)
}

/// The findings of `config`: one warning per process whose cgroup keys cannot be applied.
pub fn findings(config: &Config) -> Vec<Diagnostic> {
    let procs: Vec<_> = config
        .groups
        .iter()
        .flat_map(|g| g.processes.iter())
        .filter(|p| p.resources.wants_cgroup())
        .collect();
    if procs.is_empty() {
        return Vec::new();
    }
    let layout = inspect();
    let mut out = Vec::new();
    for p in procs {
        if let Some(m) = layout.refusal(&p.name, &p.resources) {
            let key = p
                .resources
                .cgroup_keys()
                .first()
                .copied()
                .unwrap_or("kill_mode");
            out.push(diagnostic(
                Severity::Warning,
                "cgroup-unavailable",
                format!("{m}; the daemon will refuse to spawn it (docs/configuration.md, cgroups)"),
                config.sources.locate(&p.section, key),
                Some(&p.section),
                Some(key),
            ));
        }
    }
    out
}
