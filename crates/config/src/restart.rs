//! The typed values and pure parsers of supervisor-rs's restart, resource-limit and
//! environment-file keys (issue 15): `backoff`, `backoff_max`, `backoff_jitter`,
//! `retry_forever`, `restart_delay`, `backoff_reset`, `rlimits` and `environment_file`.
//! The reference ignores every one of them; without them nothing changes.

use std::fmt;

/// How the wait between retries grows (`backoff=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BackoffKind {
    /// The reference's rule: the n-th retry waits n seconds (the default).
    #[default]
    Linear,
    /// 1, 2, 4, 8 ... seconds, up to `backoff_max`.
    Exponential,
}

impl BackoffKind {
    /// The name as written in config files.
    pub fn name(self) -> &'static str {
        match self {
            BackoffKind::Linear => "linear",
            BackoffKind::Exponential => "exponential",
        }
    }
}

/// The default `backoff_max` (seconds): the cap of exponential waits.
pub const DEFAULT_BACKOFF_MAX: f64 = 60.0;
/// The default `backoff_reset` (seconds).
pub const DEFAULT_BACKOFF_RESET: f64 = 60.0;
/// The largest number of seconds the timing keys accept (a year).
pub const MAX_RESTART_SECONDS: f64 = 31_536_000.0;

/// The restart policy of one process. `Default` is the reference's behaviour exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartPolicy {
    /// `backoff=`.
    pub kind: BackoffKind,
    /// `backoff_max=` as written (`None` = not set: exponential waits are capped at
    /// [`DEFAULT_BACKOFF_MAX`], linear waits are not capped, as in the reference).
    pub max: Option<f64>,
    /// `backoff_jitter=`: 0..=1, the fraction by which a wait may be shortened at random.
    pub jitter: f64,
    /// `retry_forever=`: never give up to FATAL.
    pub retry_forever: bool,
    /// `restart_delay=` (seconds, 0 = restart at once as the reference does).
    pub restart_delay: f64,
    /// `backoff_reset=` (seconds of RUNNING after which the crash count starts over).
    pub reset: f64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            kind: BackoffKind::Linear,
            max: None,
            jitter: 0.0,
            retry_forever: false,
            restart_delay: 0.0,
            reset: DEFAULT_BACKOFF_RESET,
        }
    }
}

impl RestartPolicy {
    /// The cap that applies to the waits: `backoff_max` when set, else
    /// [`DEFAULT_BACKOFF_MAX`] for exponential and none for linear.
    pub fn cap(&self) -> f64 {
        match (self.max, self.kind) {
            (Some(m), _) => m,
            (None, BackoffKind::Exponential) => DEFAULT_BACKOFF_MAX,
            (None, BackoffKind::Linear) => f64::INFINITY,
        }
    }
}

/// `backoff=`: `linear` or `exponential` (case-insensitive).
pub fn parse_backoff_kind(text: &str) -> Result<BackoffKind, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "linear" => Ok(BackoffKind::Linear),
        "exponential" => Ok(BackoffKind::Exponential),
        _ => Err(format!(
            "invalid backoff value {:?}: expected linear or exponential",
            text.trim()
        )),
    }
}

/// A number of seconds for `key`: `>= 0` (or `> 0` when `positive`), at most a year.
pub fn parse_restart_seconds(text: &str, key: &str, positive: bool) -> Result<f64, String> {
    let t = text.trim();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("invalid {key} value {t:?}: not a number of seconds"))?;
    if !v.is_finite() || v < 0.0 || (positive && v == 0.0) {
        let what = if positive { "positive" } else { "non-negative" };
        return Err(format!(
            "invalid {key} value {t:?}: must be a {what} number of seconds"
        ));
    }
    if v > MAX_RESTART_SECONDS {
        return Err(format!(
            "invalid {key} value {t:?}: at most {MAX_RESTART_SECONDS} seconds"
        ));
    }
    Ok(v)
}

/// `backoff_jitter=`: a fraction from 0 to 1.
pub fn parse_jitter(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "invalid backoff_jitter value {t:?}: must be a number from 0 to 1"
        )),
    }
}

/// The resources `rlimits=` knows, with their Linux numbers (`RLIMIT_*`).
pub const RLIMIT_NAMES: &[(&str, u32)] = &[
    ("CPU", 0),
    ("FSIZE", 1),
    ("DATA", 2),
    ("STACK", 3),
    ("CORE", 4),
    ("RSS", 5),
    ("NPROC", 6),
    ("NOFILE", 7),
    ("MEMLOCK", 8),
    ("AS", 9),
    ("LOCKS", 10),
    ("SIGPENDING", 11),
    ("MSGQUEUE", 12),
    ("NICE", 13),
    ("RTPRIO", 14),
    ("RTTIME", 15),
];

/// One bound of a resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// `unlimited` (`RLIM_INFINITY`).
    Unlimited,
    /// A number (bytes for the size limits).
    Value(u64),
}

impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitValue::Unlimited => f.write_str("unlimited"),
            LimitValue::Value(v) => write!(f, "{v}"),
        }
    }
}

/// One entry of `rlimits=`: `NAME=soft[:hard]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    /// The canonical name without the prefix (`NOFILE`).
    pub name: &'static str,
    /// The Linux resource number.
    pub resource: u32,
    /// The soft limit.
    pub soft: LimitValue,
    /// The hard limit (the soft limit when one value was written).
    pub hard: LimitValue,
}

impl fmt::Display for Rlimit {
    /// `RLIMIT_NOFILE=65536:65536`, as `getAllConfigExtensions` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RLIMIT_{}={}:{}", self.name, self.soft, self.hard)
    }
}

fn parse_limit_value(text: &str, entry: &str) -> Result<LimitValue, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("infinity") {
        return Ok(LimitValue::Unlimited);
    }
    let lower = t.to_ascii_lowercase();
    let (digits, mult) = [("kb", 1u64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)]
        .iter()
        .find_map(|(sfx, m)| lower.strip_suffix(sfx).map(|d| (d.trim(), *m)))
        .unwrap_or((lower.as_str(), 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid rlimits entry {entry:?}: {t:?} is not a number, a size (KB, MB, GB) or unlimited"
        ));
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n < u64::MAX)
        .map(LimitValue::Value)
        .ok_or_else(|| format!("invalid rlimits entry {entry:?}: {t:?} is too large"))
}

/// `rlimits=`: comma-separated `NAME=soft[:hard]` entries. Names are case-insensitive
/// with an optional `RLIMIT_` prefix; values are numbers, sizes with KB/MB/GB (1024-based)
/// or `unlimited`; one value sets both limits. A name may appear once.
pub fn parse_rlimits(text: &str) -> Result<Vec<Rlimit>, String> {
    let mut out: Vec<Rlimit> = Vec::new();
    for entry in text.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((name, value)) = entry.split_once('=') else {
            return Err(format!(
                "invalid rlimits entry {entry:?}: expected NAME=soft[:hard]"
            ));
        };
        let upper = name.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("RLIMIT_").unwrap_or(&upper);
        let Some(&(cname, resource)) = RLIMIT_NAMES.iter().find(|(n, _)| *n == bare) else {
            let known: Vec<&str> = RLIMIT_NAMES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "invalid rlimits entry {entry:?}: unknown resource {:?} (known: {})",
                name.trim(),
                known.join(", ")
            ));
        };
        let (soft, hard) = match value.split_once(':') {
            Some((s, h)) => (parse_limit_value(s, entry)?, parse_limit_value(h, entry)?),
            None => {
                let v = parse_limit_value(value, entry)?;
                (v, v)
            }
        };
        let above = match (soft, hard) {
            (LimitValue::Unlimited, LimitValue::Value(_)) => true,
            (LimitValue::Value(s), LimitValue::Value(h)) => s > h,
            _ => false,
        };
        if above {
            return Err(format!(
                "invalid rlimits entry {entry:?}: the soft limit is above the hard limit"
            ));
        }
        if out.iter().any(|r| r.resource == resource) {
            return Err(format!(
                "invalid rlimits entry {entry:?}: RLIMIT_{cname} is given twice"
            ));
        }
        out.push(Rlimit {
            name: cname,
            resource,
            soft,
            hard,
        });
    }
    Ok(out)
}

/// One entry of `environment_file=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// The path (absolute: relative paths are taken from the config file's directory).
    pub path: String,
    /// Written with a leading `-`: a missing file is skipped.
    pub optional: bool,
}

impl fmt::Display for EnvFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.optional {
            f.write_str("-")?;
        }
        f.write_str(&self.path)
    }
}

/// `environment_file=`: comma-separated paths, each optionally prefixed with `-`.
/// Relative paths are resolved against `here` (the directory of the config file).
pub fn parse_environment_files(text: &str, here: &str) -> Result<Vec<EnvFile>, String> {
    let mut out = Vec::new();
    for entry in text.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (optional, path) = match entry.strip_prefix('-') {
            Some(p) => (true, p.trim()),
            None => (false, entry),
        };
        if path.is_empty() {
            return Err(format!(
                "invalid environment_file entry {entry:?}: no path after '-'"
            ));
        }
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{}", here.trim_end_matches('/'), path)
        };
        out.push(EnvFile { path, optional });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimits_forms() {
        let r =
            parse_rlimits("NOFILE=65536, core=unlimited, RLIMIT_NPROC=512:1024, AS=2GB").unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].name, "NOFILE");
        assert_eq!(r[0].resource, 7);
        assert_eq!(r[0].soft, LimitValue::Value(65536));
        assert_eq!(r[0].hard, LimitValue::Value(65536));
        assert_eq!(r[1].name, "CORE");
        assert_eq!(r[1].soft, LimitValue::Unlimited);
        assert_eq!(r[2].soft, LimitValue::Value(512));
        assert_eq!(r[2].hard, LimitValue::Value(1024));
        assert_eq!(r[3].soft, LimitValue::Value(2 << 30));
        assert_eq!(r[3].to_string(), "RLIMIT_AS=2147483648:2147483648");
        assert_eq!(
            parse_rlimits("stack=8mb:unlimited").unwrap()[0].to_string(),
            "RLIMIT_STACK=8388608:unlimited"
        );
        assert_eq!(parse_rlimits(" ").unwrap(), vec![]);
        assert_eq!(
            parse_rlimits("memlock=64KB").unwrap()[0].soft,
            LimitValue::Value(65536)
        );
    }

    #[test]
    fn rlimits_errors_name_the_entry() {
        for (bad, part) in [
            ("NOFILE", "expected NAME=soft[:hard]"),
            ("FILES=10", "unknown resource \"FILES\""),
            ("NOFILE=lots", "is not a number"),
            ("NOFILE=-1", "is not a number"),
            ("NOFILE=10:5", "soft limit is above the hard limit"),
            ("NOFILE=unlimited:5", "soft limit is above the hard limit"),
            ("NOFILE=1,nofile=2", "given twice"),
            ("AS=99999999999999999999GB", "too large"),
            ("NOFILE=", "is not a number"),
        ] {
            let e = parse_rlimits(bad).unwrap_err();
            assert!(e.contains(part), "{bad}: {e}");
            assert!(e.starts_with("invalid rlimits entry"), "{e}");
        }
    }

    #[test]
    fn timing_values() {
        assert_eq!(
            parse_backoff_kind(" Exponential "),
            Ok(BackoffKind::Exponential)
        );
        assert!(parse_backoff_kind("fibonacci").is_err());
        assert_eq!(
            parse_restart_seconds("2.5", "restart_delay", false),
            Ok(2.5)
        );
        assert_eq!(parse_restart_seconds("0", "restart_delay", false), Ok(0.0));
        assert!(parse_restart_seconds("0", "backoff_max", true).is_err());
        for bad in ["-1", "x", "inf", "nan", "1e12"] {
            assert!(
                parse_restart_seconds(bad, "backoff_max", true).is_err(),
                "{bad}"
            );
        }
        assert_eq!(parse_jitter("0.25"), Ok(0.25));
        assert_eq!(parse_jitter("1"), Ok(1.0));
        for bad in ["1.5", "-0.1", "half", "nan"] {
            assert!(parse_jitter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_policy_is_the_reference() {
        let p = RestartPolicy::default();
        assert_eq!(p.kind, BackoffKind::Linear);
        assert_eq!(p.cap(), f64::INFINITY);
        let e = RestartPolicy {
            kind: BackoffKind::Exponential,
            ..p
        };
        assert_eq!(e.cap(), 60.0);
    }

    #[test]
    fn env_file_list() {
        let f =
            parse_environment_files("/etc/app.env, -/etc/app/local.env, rel.env", "/cfg").unwrap();
        assert_eq!(
            f,
            vec![
                EnvFile {
                    path: "/etc/app.env".into(),
                    optional: false
                },
                EnvFile {
                    path: "/etc/app/local.env".into(),
                    optional: true
                },
                EnvFile {
                    path: "/cfg/rel.env".into(),
                    optional: false
                },
            ]
        );
        assert_eq!(f[1].to_string(), "-/etc/app/local.env");
        assert!(parse_environment_files("-", "/").is_err());
    }
}
