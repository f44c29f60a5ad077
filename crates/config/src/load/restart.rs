//! The restart, resource-limit and env-file keys of one process (supervisor-rs, issue 15
//! items 3, 4 and 6; the values in `crate::restart`), and `[supervisord]
//! environment_file=`. Expanded like the other per-process keys; a bad value names file,
//! line, section and key.

use super::*;
use crate::restart as r;

/// A parse error of `v` with its line appended (the section and file come with the
/// suffix), so the daemon's own error names the line too, not only `--check-config`.
fn conv_line<T>(v: &Val, f: impl FnOnce(&str) -> Result<T, String>) -> SectionResult<T> {
    conv(v, |x| {
        f(x).map_err(|m| match &v.entry {
            Some((_, line)) => format!("{m} at line {line}"),
            None => m,
        })
    })
}

/// `[supervisord] environment_file=` (expanded with `%(here)s` only).
pub(super) fn read_supervisord_env_files(ld: &Loader<'_>) -> SectionResult<Vec<r::EnvFile>> {
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    match ld.get("supervisord", "environment_file", None, &here)? {
        Some(v) => conv_line(&v, |x| r::parse_environment_files(x, &ld.here)),
        None => Ok(Vec::new()),
    }
}

/// The restart policy, the resource limits and the env files (the daemon's first) of
/// section `s` for one process.
pub(super) fn read_restart(
    ld: &Loader<'_>,
    s: &str,
    (common, prog_env): (&Expansions, &Expansions),
) -> SectionResult<(r::RestartPolicy, Vec<r::Rlimit>, Vec<r::EnvFile>)> {
    let get = |key: &str| ld.getp(s, key, common, prog_env);
    let mut p = r::RestartPolicy::default();
    if let Some(v) = get("backoff")? {
        p.kind = conv_line(&v, r::parse_backoff_kind)?;
    }
    if let Some(v) = get("backoff_max")? {
        p.max = Some(conv_line(&v, |x| {
            r::parse_restart_seconds(x, "backoff_max", true)
        })?);
    }
    if let Some(v) = get("backoff_jitter")? {
        p.jitter = conv_line(&v, r::parse_jitter)?;
    }
    if let Some(v) = get("retry_forever")? {
        p.retry_forever = conv_line(&v, dt::parse_bool)?;
    }
    if let Some(v) = get("restart_delay")? {
        p.restart_delay = conv_line(&v, |x| r::parse_restart_seconds(x, "restart_delay", false))?;
    }
    if let Some(v) = get("backoff_reset")? {
        p.reset = conv_line(&v, |x| r::parse_restart_seconds(x, "backoff_reset", true))?;
    }
    let rlimits = match get("rlimits")? {
        Some(v) => conv_line(&v, r::parse_rlimits)?,
        None => Vec::new(),
    };
    let mut files = read_supervisord_env_files(ld)?;
    if let Some(v) = get("environment_file")? {
        files.extend(conv_line(&v, |x| r::parse_environment_files(x, &ld.here))?);
    }
    Ok((p, rlimits, files))
}
