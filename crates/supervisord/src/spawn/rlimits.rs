//! `rlimits=` (supervisor-rs, issue 15 item 4): resource limits set in the child before
//! it drops privileges and execs.
//!
//! The parent prepares everything ([`plan_rlimits`]): the numbers and the failure
//! message of each limit, and it refuses up front what the kernel would refuse (a hard
//! limit above the current one without `CAP_SYS_RESOURCE`, `NOFILE` above
//! `fs.nr_open`), so such a limit is a spawn error with its own spawnerr:
//! `couldn't set RLIMIT_NOFILE to 65536:65536: Operation not permitted`. The child then
//! only calls `setrlimit` ([`apply_in_child`], async-signal-safe); if the kernel still
//! says no, the child reports `supervisor: couldn't set RLIMIT_NOFILE to ...: EPERM` on
//! its stderr and exits 127, like the reference's other child-side failures.

#![allow(unsafe_code)] // getrlimit/setrlimit on plain structs.

use supervisor_config::{LimitValue, Rlimit};

use super::command::{SpawnError, SpawnErrorKind};

/// One prepared limit.
pub(super) struct LimitPlan {
    resource: libc::c_int,
    lim: libc::rlimit,
    /// `supervisor: couldn't set RLIMIT_X to S:H: ` (the child adds the errno name).
    failed: Vec<u8>,
}

fn raw(v: LimitValue) -> libc::rlim_t {
    match v {
        LimitValue::Unlimited => libc::RLIM_INFINITY,
        LimitValue::Value(n) => n as libc::rlim_t,
    }
}

/// Whether the daemon has `CAP_SYS_RESOURCE` in its effective set.
fn has_sys_resource() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Prepares `limits` for the child, or the spawn error of the first limit the kernel
/// would refuse.
pub(super) fn plan_rlimits(limits: &[Rlimit]) -> Result<Vec<LimitPlan>, SpawnError> {
    let mut out = Vec::with_capacity(limits.len());
    let mut privileged = None;
    for l in limits {
        let text = format!("RLIMIT_{} to {}:{}", l.name, l.soft, l.hard);
        let refuse = |why: &str| {
            SpawnError::new(SpawnErrorKind::Other, format!("couldn't set {text}: {why}"))
        };
        let resource = l.resource as libc::c_int;
        let lim = libc::rlimit {
            rlim_cur: raw(l.soft),
            rlim_max: raw(l.hard),
        };
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` into `cur`, a live local.
        if unsafe { libc::getrlimit(resource as _, &mut cur) } != 0 {
            return Err(refuse(&std::io::Error::last_os_error().to_string()));
        }
        if lim.rlim_max > cur.rlim_max && !*privileged.get_or_insert_with(has_sys_resource) {
            return Err(refuse("Operation not permitted"));
        }
        if resource == libc::RLIMIT_NOFILE as libc::c_int {
            if let Some(max) = nr_open() {
                if lim.rlim_max > max as libc::rlim_t {
                    return Err(refuse("Operation not permitted"));
                }
            }
        }
        out.push(LimitPlan {
            resource,
            lim,
            failed: format!("supervisor: couldn't set {text}: ").into_bytes(),
        });
    }
    Ok(out)
}

/// Sets every limit of `plans` in the calling (child) process. On the first failure
/// returns its message prefix and the errno, for the child to report. Only
/// `setrlimit` and errno: async-signal-safe, no allocation.
pub(super) fn apply_in_child(plans: &[LimitPlan]) -> Option<(&[u8], i32)> {
    for p in plans {
        // SAFETY: setrlimit reads one `rlimit` from the plan, which outlives the call.
        if unsafe { libc::setrlimit(p.resource as _, &p.lim) } != 0 {
            // SAFETY: `__errno_location` always returns the calling thread's errno.
            let code = unsafe { *libc::__errno_location() };
            return Some((&p.failed, code));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_config::restart::parse_rlimits;

    #[test]
    fn plans_what_can_be_set() {
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) }, 0);
        let text = format!("NOFILE=64:{}, core=0", cur.rlim_max);
        let plans = plan_rlimits(&parse_rlimits(&text).unwrap()).unwrap();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].lim.rlim_cur, 64);
        assert_eq!(
            String::from_utf8_lossy(&plans[1].failed),
            "supervisor: couldn't set RLIMIT_CORE to 0:0: "
        );
    }

    #[test]
    fn refuses_what_the_kernel_would() {
        let max = nr_open().unwrap_or(1 << 20) + 1;
        let limits = parse_rlimits(&format!("nofile={max}")).unwrap();
        let e = plan_rlimits(&limits).err().expect("refused");
        assert_eq!(
            e.to_string(),
            format!("couldn't set RLIMIT_NOFILE to {max}:{max}: Operation not permitted")
        );
    }
}
