//! The resource keys of one process (supervisor-rs, issue 15 items 2 and 5): cgroup
//! limits, `kill_mode` and the memory/CPU guards (`crate::resources`). Expanded like the
//! other per-process keys; a bad value names file, line, section and key.

use super::*;
use crate::resources as r;

/// Reads the resource keys of section `s` for one process.
pub(super) fn read_resources(
    ld: &Loader<'_>,
    s: &str,
    (common, prog_env): (&Expansions, &Expansions),
) -> SectionResult<r::ResourceConfig> {
    let mut out = r::ResourceConfig::new();
    let get = |key: &str| ld.getp(s, key, common, prog_env);
    if let Some(v) = get("memory_max")? {
        out.memory_max = Some(conv(&v, |x| r::parse_positive_size(x, "memory_max"))?);
    }
    if let Some(v) = get("memory_high")? {
        out.memory_high = Some(conv(&v, |x| r::parse_positive_size(x, "memory_high"))?);
    }
    // Percentages are not expanded (`50%` as written; `50%%` is accepted too).
    let raw = |key: &str| {
        ld.ini.get(s, key).map(|_| {
            let mut v = ld.raw(s, key, "");
            v.value = v.value.replace("%%", "%");
            v
        })
    };
    if let Some(v) = raw("cpu_max") {
        out.cpu_max = Some(conv(&v, r::parse_cpu_max)?);
    }
    if let Some(v) = get("pids_max")? {
        out.pids_max = Some(conv(&v, r::parse_pids_max)?);
    }
    if let Some(v) = get("kill_mode")? {
        out.kill_mode = conv(&v, r::parse_kill_mode)?;
    }
    if let Some(v) = get("max_memory")? {
        out.max_memory = Some(conv(&v, |x| r::parse_positive_size(x, "max_memory"))?);
    }
    if let Some(v) = raw("max_cpu_percent") {
        out.max_cpu_percent = Some(conv(&v, r::parse_cpu_percent)?);
    }
    if let Some(v) = get("guard_window")? {
        out.guard_window = conv(&v, r::parse_guard_window)?;
    }
    if let Some(v) = get("guard_action")? {
        out.guard_action = conv(&v, r::parse_guard_action)?;
    }
    Ok(out)
}
