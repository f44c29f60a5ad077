//! Resource keys of a process (supervisor-rs, issue 15 items 2 and 5): cgroup limits
//! (`memory_max`, `memory_high`, `cpu_max`, `pids_max`), `kill_mode`, and the memory/CPU
//! guards (`max_memory`, `max_cpu_percent`, `guard_window`, `guard_action`). The reference
//! ignores every one of them; without them nothing changes.

/// How a stop reaches the process's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KillMode {
    /// `process` (the default): signals go to the pid (or its group with
    /// `stopasgroup`/`killasgroup`), as in the reference.
    #[default]
    Process,
    /// `cgroup`: the stop signal goes to every process of the process's cgroup and the
    /// final kill is `cgroup.kill` (descendants that called `setsid` included).
    Cgroup,
}

impl KillMode {
    /// The key's value as written in a config.
    pub fn as_str(self) -> &'static str {
        match self {
            KillMode::Process => "process",
            KillMode::Cgroup => "cgroup",
        }
    }
}

/// What a tripped guard does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardAction {
    /// `restart` (the default): stop the process, then start it again.
    #[default]
    Restart,
    /// `stop`: stop it and leave it STOPPED.
    Stop,
    /// `none`: only report (main log, description).
    None,
}

impl GuardAction {
    /// The key's value as written in a config.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Restart => "restart",
            GuardAction::Stop => "stop",
            GuardAction::None => "none",
        }
    }
}

/// `cpu_max=`: a CPU bandwidth limit, `quota` microseconds of CPU per `period`
/// microseconds (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax {
    /// CPU time allowed per period, in microseconds.
    pub quota_us: u64,
    /// The period, in microseconds.
    pub period_us: u64,
}

/// The period `cpu_max = N%` uses (the kernel's default, 100 ms).
pub const DEFAULT_CPU_PERIOD_US: u64 = 100_000;

/// The default `guard_window=` in seconds.
pub const DEFAULT_GUARD_WINDOW: u64 = 60;

/// The resource keys of one process.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceConfig {
    /// `memory_max=` in bytes (cgroup `memory.max` / v1 `memory.limit_in_bytes`).
    pub memory_max: Option<u64>,
    /// `memory_high=` in bytes (cgroup `memory.high` / v1 `memory.soft_limit_in_bytes`).
    pub memory_high: Option<u64>,
    /// `cpu_max=`.
    pub cpu_max: Option<CpuMax>,
    /// `pids_max=` (cgroup `pids.max`).
    pub pids_max: Option<u64>,
    /// `kill_mode=`.
    pub kill_mode: KillMode,
    /// `max_memory=` in bytes: the memory guard (RSS of the process and its descendants).
    pub max_memory: Option<u64>,
    /// `max_cpu_percent=`: the CPU guard (100 = one core), averaged over `guard_window`.
    pub max_cpu_percent: Option<f64>,
    /// `guard_window=` in seconds (default [`DEFAULT_GUARD_WINDOW`]).
    pub guard_window: u64,
    /// `guard_action=`.
    pub guard_action: GuardAction,
}

impl Default for ResourceConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ResourceConfig {
    /// Defaults: no limit, no guard, `kill_mode = process`.
    pub fn new() -> Self {
        ResourceConfig {
            memory_max: None,
            memory_high: None,
            cpu_max: None,
            pids_max: None,
            kill_mode: KillMode::Process,
            max_memory: None,
            max_cpu_percent: None,
            guard_window: DEFAULT_GUARD_WINDOW,
            guard_action: GuardAction::Restart,
        }
    }

    /// Whether the process needs a cgroup of its own (a limit or `kill_mode = cgroup`).
    pub fn wants_cgroup(&self) -> bool {
        self.has_limits() || self.kill_mode == KillMode::Cgroup
    }

    /// Whether any cgroup limit key is set.
    pub fn has_limits(&self) -> bool {
        self.memory_max.is_some()
            || self.memory_high.is_some()
            || self.cpu_max.is_some()
            || self.pids_max.is_some()
    }

    /// Whether a guard is set (only then is the process sampled).
    pub fn has_guard(&self) -> bool {
        self.max_memory.is_some() || self.max_cpu_percent.is_some()
    }

    /// The keys of this config that need a cgroup, as written (for error texts).
    pub fn cgroup_keys(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.memory_max.is_some() {
            v.push("memory_max");
        }
        if self.memory_high.is_some() {
            v.push("memory_high");
        }
        if self.cpu_max.is_some() {
            v.push("cpu_max");
        }
        if self.pids_max.is_some() {
            v.push("pids_max");
        }
        if self.kill_mode == KillMode::Cgroup {
            v.push("kill_mode");
        }
        v
    }
}

/// Parses `kill_mode=`.
pub fn parse_kill_mode(v: &str) -> Result<KillMode, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "process" => Ok(KillMode::Process),
        "cgroup" => Ok(KillMode::Cgroup),
        _ => Err(format!(
            "invalid kill_mode value '{}' (expected process or cgroup)",
            v.trim()
        )),
    }
}

/// Parses `guard_action=`.
pub fn parse_guard_action(v: &str) -> Result<GuardAction, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "restart" => Ok(GuardAction::Restart),
        "stop" => Ok(GuardAction::Stop),
        "none" => Ok(GuardAction::None),
        _ => Err(format!(
            "invalid guard_action value '{}' (expected restart, stop or none)",
            v.trim()
        )),
    }
}

/// Parses a positive byte size (`512MB`, `1GB`, `65536`; 1024-based like
/// `logfile_maxbytes`) for `key`.
pub fn parse_positive_size(v: &str, key: &str) -> Result<u64, String> {
    let n = crate::datatypes::parse_byte_size_signed(v.trim()).map_err(|_| {
        format!(
            "invalid {key} value '{}' (expected a size like 512MB)",
            v.trim()
        )
    })?;
    if n <= 0 {
        return Err(format!("{key} must be greater than 0, not '{}'", v.trim()));
    }
    Ok(n as u64)
}

/// Parses `pids_max=` (a positive count).
pub fn parse_pids_max(v: &str) -> Result<u64, String> {
    match v.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "invalid pids_max value '{}' (expected a positive number)",
            v.trim()
        )),
    }
}

/// Parses `cpu_max=`: `50%` (of one CPU, over a 100 ms period; `200%` = two CPUs) or
/// `QUOTA/PERIOD` in microseconds (`50000/100000`).
pub fn parse_cpu_max(v: &str) -> Result<CpuMax, String> {
    let t = v.trim();
    let bad = || {
        format!("invalid cpu_max value '{t}' (expected a percentage like 50% or QUOTA/PERIOD in microseconds)")
    };
    if let Some(p) = t.strip_suffix('%') {
        let pct: f64 = p.trim().parse().map_err(|_| bad())?;
        if !pct.is_finite() || pct <= 0.0 || pct > 100_000.0 {
            return Err(bad());
        }
        let quota = (pct / 100.0 * DEFAULT_CPU_PERIOD_US as f64).round() as u64;
        return Ok(CpuMax {
            quota_us: quota.max(1000),
            period_us: DEFAULT_CPU_PERIOD_US,
        });
    }
    let (q, p) = t.split_once('/').ok_or_else(bad)?;
    let quota: u64 = q.trim().parse().map_err(|_| bad())?;
    let period: u64 = p.trim().parse().map_err(|_| bad())?;
    // The kernel's own bounds: period 1 ms .. 1 s, quota at least 1 ms.
    if !(1000..=1_000_000).contains(&period) || quota < 1000 {
        return Err(format!(
            "invalid cpu_max value '{t}' (the period must be 1000..1000000 us and the quota at least 1000 us)"
        ));
    }
    Ok(CpuMax {
        quota_us: quota,
        period_us: period,
    })
}

/// Parses `max_cpu_percent=` (a positive number; 100 = one core).
pub fn parse_cpu_percent(v: &str) -> Result<f64, String> {
    let t = v.trim().trim_end_matches('%');
    match t.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!(
            "invalid max_cpu_percent value '{}' (expected a positive number, 100 = one core)",
            v.trim()
        )),
    }
}

/// Parses `guard_window=` (whole seconds, at least 1).
pub fn parse_guard_window(v: &str) -> Result<u64, String> {
    match v.trim().parse::<u64>() {
        Ok(n) if (1..=86_400).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid guard_window value '{}' (expected seconds, 1..86400)",
            v.trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_forms() {
        assert_eq!(
            parse_cpu_max("50%").unwrap(),
            CpuMax {
                quota_us: 50_000,
                period_us: 100_000
            }
        );
        assert_eq!(
            parse_cpu_max("200%").unwrap(),
            CpuMax {
                quota_us: 200_000,
                period_us: 100_000
            }
        );
        assert_eq!(
            parse_cpu_max("25000/50000").unwrap(),
            CpuMax {
                quota_us: 25_000,
                period_us: 50_000
            }
        );
        assert!(parse_cpu_max("fast").is_err());
        assert!(parse_cpu_max("0%").is_err());
        assert!(parse_cpu_max("10/100").is_err());
    }

    #[test]
    fn sizes_modes_and_counts() {
        assert_eq!(
            parse_positive_size("512MB", "max_memory").unwrap(),
            512 << 20
        );
        assert!(parse_positive_size("0", "max_memory").is_err());
        assert!(parse_positive_size("lots", "memory_max")
            .unwrap_err()
            .contains("memory_max"));
        assert_eq!(parse_kill_mode("CGROUP").unwrap(), KillMode::Cgroup);
        assert!(parse_kill_mode("tree").is_err());
        assert_eq!(parse_guard_action("none").unwrap(), GuardAction::None);
        assert!(parse_guard_action("explode").is_err());
        assert_eq!(parse_pids_max("64").unwrap(), 64);
        assert!(parse_pids_max("0").is_err());
        assert_eq!(parse_cpu_percent("80").unwrap(), 80.0);
        assert!(parse_cpu_percent("-1").is_err());
        assert_eq!(parse_guard_window("5").unwrap(), 5);
        assert!(parse_guard_window("0").is_err());
    }

    #[test]
    fn wants() {
        let mut r = ResourceConfig::new();
        assert!(!r.wants_cgroup() && !r.has_guard());
        r.kill_mode = KillMode::Cgroup;
        assert!(r.wants_cgroup());
        assert_eq!(r.cgroup_keys(), vec!["kill_mode"]);
        r.max_memory = Some(1);
        assert!(r.has_guard());
    }
}
