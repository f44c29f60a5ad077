//! Check URLs: the typed forms of `ready=` and `healthcheck=` values.
//!
//! A check is one of
//!
//! * `log:REGEX`: a line of the process's stdout or stderr matches REGEX (the `regex`
//!   crate's syntax, matched on the raw bytes of each line);
//! * `tcp://HOST:PORT`: a TCP connection to HOST:PORT succeeds;
//! * `http://HOST[:PORT][/PATH]`: an HTTP GET of PATH answers 2xx (no redirects followed);
//! * `exec:COMMAND ARGS`: the command, split like `command=`, exits 0;
//! * `notify`: the process says `READY=1` on `$NOTIFY_SOCKET` (the sd_notify protocol).
//!
//! [`Check::parse`] turns the text into a [`Check`] or a one-line error saying what is
//! wrong with it; the loader adds file, line, section and key. Nothing here performs I/O.

use std::fmt;

/// A compiled `log:` pattern. Two patterns are equal when their source text is.
#[derive(Debug, Clone)]
pub struct LogPattern {
    regex: regex::bytes::Regex,
}

impl LogPattern {
    /// Compiles `pattern` (the `regex` crate's syntax). The error is the crate's message.
    pub fn new(pattern: &str) -> Result<LogPattern, String> {
        regex::bytes::RegexBuilder::new(pattern)
            // A pattern from a config file must not be able to take the daemon's memory.
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            .map(|regex| LogPattern { regex })
            .map_err(|e| e.to_string())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// Whether `line` (one line of output, without its line ending) matches.
    pub fn is_match(&self, line: &[u8]) -> bool {
        self.regex.is_match(line)
    }
}

impl PartialEq for LogPattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for LogPattern {}

/// One check of a process: how the daemon tells that it is ready (or healthy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `log:REGEX`: a line of stdout or stderr matches.
    Log(LogPattern),
    /// `tcp://HOST:PORT`: a TCP connect succeeds.
    Tcp {
        /// Host name or address (IPv6 without the brackets).
        host: String,
        /// The port.
        port: u16,
    },
    /// `http://HOST[:PORT][/PATH]`: a GET answers 2xx.
    Http {
        /// Host name or address (IPv6 without the brackets).
        host: String,
        /// The port (80 when not written).
        port: u16,
        /// The request target: the path and query, starting with `/`.
        path: String,
    },
    /// `exec:COMMAND ARGS`: the command exits 0. The argv is split like `command=`.
    Exec(Vec<String>),
    /// `notify`: `READY=1` arrives on the process's `NOTIFY_SOCKET`.
    Notify,
}

/// The forms a check can take, for error messages.
const FORMS: &str =
    "log:REGEX, tcp://HOST:PORT, http://HOST:PORT/PATH, exec:COMMAND ARGS or notify";

impl Check {
    /// Parses a check URL (surrounding white space ignored). The error says what is wrong,
    /// quoting the value.
    pub fn parse(text: &str) -> Result<Check, String> {
        Check::parse_key(text, "check")
    }

    /// [`Check::parse`] for the value of config key `key`: errors read
    /// `invalid ready value "tcp://h": missing port (expected HOST:PORT)`.
    pub fn parse_key(text: &str, key: &str) -> Result<Check, String> {
        let t = text.trim();
        let bad = |why: &str| format!("invalid {key} value {t:?}: {why}");
        if t.is_empty() {
            return Err(bad(&format!("empty (expected {FORMS})")));
        }
        if t.eq_ignore_ascii_case("notify") {
            return Ok(Check::Notify);
        }
        if let Some(pattern) = strip_prefix_ci(t, "log:") {
            if pattern.is_empty() {
                return Err(bad("the regular expression after 'log:' is empty"));
            }
            return LogPattern::new(pattern)
                .map(Check::Log)
                .map_err(|e| bad(&format!("bad regular expression: {}", one_line(&e))));
        }
        if let Some(command) = strip_prefix_ci(t, "exec:") {
            let argv = crate::shlex::split_command(command)
                .map_err(|e| bad(&format!("cannot split the command: {e}")))?;
            if argv.is_empty() {
                return Err(bad("no command after 'exec:'"));
            }
            return Ok(Check::Exec(argv));
        }
        if let Some(rest) = strip_prefix_ci(t, "tcp://") {
            let (host, port) = host_port(rest, None).map_err(|e| bad(&e))?;
            return Ok(Check::Tcp { host, port });
        }
        if let Some(rest) = strip_prefix_ci(t, "http://") {
            let (authority, path) = match rest.find(['/', '?']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let path = if path.starts_with('?') {
                format!("/{path}")
            } else {
                path.to_string()
            };
            if path.contains('#') {
                return Err(bad("a fragment ('#') has no meaning in a check"));
            }
            if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(bad("the path contains spaces or control characters"));
            }
            if authority.contains('@') {
                return Err(bad("user information ('user@') is not supported"));
            }
            let (host, port) = host_port(authority, Some(80)).map_err(|e| bad(&e))?;
            return Ok(Check::Http { host, port, path });
        }
        if strip_prefix_ci(t, "https://").is_some() {
            return Err(bad(
                "https:// is not supported (use http:// or exec: with a client such as curl)",
            ));
        }
        Err(bad(&format!("unknown kind of check (expected {FORMS})")))
    }

    /// The kind as a word (`log`, `tcp`, `http`, `exec`, `notify`).
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Log(_) => "log",
            Check::Tcp { .. } => "tcp",
            Check::Http { .. } => "http",
            Check::Exec(_) => "exec",
            Check::Notify => "notify",
        }
    }

    /// True for the checks the daemon tries again and again (tcp, http, exec), every
    /// interval; `log:` and `notify` wait for the process to say something.
    pub fn is_polled(&self) -> bool {
        matches!(
            self,
            Check::Tcp { .. } | Check::Http { .. } | Check::Exec(_)
        )
    }
}

impl fmt::Display for Check {
    /// The canonical text: what messages and `--check-config` show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        match self {
            Check::Log(p) => write!(f, "log:{}", p.as_str()),
            Check::Tcp { host: h, port } => write!(f, "tcp://{}:{port}", host(h)),
            Check::Http {
                host: h,
                port,
                path,
            } => write!(f, "http://{}:{port}{path}", host(h)),
            Check::Exec(argv) => write!(f, "exec:{}", join_argv(argv)),
            Check::Notify => f.write_str("notify"),
        }
    }
}

/// The `ready=` settings of one process.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyConfig {
    /// `ready=`.
    pub check: Check,
    /// `ready_timeout=` in seconds (default 60, positive).
    pub timeout: f64,
    /// `ready_interval=` in seconds between tries of tcp/http/exec checks (default 0.5,
    /// positive).
    pub interval: f64,
}

/// What the daemon does when a process's health check failed `healthcheck_retries`
/// times in a row (`healthcheck_action=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthAction {
    /// `restart` (the default): stop the process and start it again.
    Restart,
    /// `stop`: stop it and leave it STOPPED.
    Stop,
    /// `none`: only report (description, main log, events).
    None,
}

impl HealthAction {
    /// Parses `restart`, `stop` or `none` (case-insensitive) for key `key`.
    pub fn parse(text: &str, key: &str) -> Result<HealthAction, String> {
        let t = text.trim();
        match t.to_ascii_lowercase().as_str() {
            "restart" => Ok(HealthAction::Restart),
            "stop" => Ok(HealthAction::Stop),
            "none" => Ok(HealthAction::None),
            _ => Err(format!(
                "invalid {key} value {t:?}: expected restart, stop or none"
            )),
        }
    }

    /// The value as written in a config file.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthAction::Restart => "restart",
            HealthAction::Stop => "stop",
            HealthAction::None => "none",
        }
    }
}

/// The liveness health check of one process (`healthcheck=` and its timing keys).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// `healthcheck=`: a tcp, http or exec check.
    pub check: Check,
    /// `healthcheck_interval=` in seconds between two tries (default 10, positive).
    pub interval: f64,
    /// `healthcheck_timeout=` in seconds: the longest one try may take (default 3).
    pub timeout: f64,
    /// `healthcheck_retries=`: consecutive failures before the action (default 3, >= 1).
    pub retries: u32,
    /// `healthcheck_start_delay=` in seconds after RUNNING before the first try
    /// (default 0).
    pub start_delay: f64,
    /// `healthcheck_action=` (default restart).
    pub action: HealthAction,
}

/// `healthcheck_interval=`'s default.
pub const DEFAULT_HEALTH_INTERVAL: f64 = 10.0;
/// `healthcheck_timeout=`'s default.
pub const DEFAULT_HEALTH_TIMEOUT: f64 = 3.0;
/// `healthcheck_retries=`'s default.
pub const DEFAULT_HEALTH_RETRIES: u32 = 3;
/// `healthcheck_start_delay=`'s default.
pub const DEFAULT_HEALTH_START_DELAY: f64 = 0.0;
/// The largest `healthcheck_retries=` accepted.
pub const MAX_HEALTH_RETRIES: u32 = 1_000_000;

/// Parses a `healthcheck=` value: the tcp/http/exec forms of [`Check::parse`]; `log:`
/// and `notify` are refused (they report once that a process came up, they cannot say
/// again and again that it is still alive).
pub fn parse_health_check(text: &str, key: &str) -> Result<Check, String> {
    let t = text.trim();
    match Check::parse_key(t, key) {
        Ok(c) if c.is_polled() => Ok(c),
        Ok(c) => Err(format!(
            "invalid {key} value {t:?}: a {} check cannot be a health check (use tcp://HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND ARGS; {} belongs in ready=)",
            c.kind(),
            c.kind()
        )),
        Err(e) => Err(e.replace(FORMS, HEALTH_FORMS)),
    }
}

/// The forms a health check can take, for error messages.
const HEALTH_FORMS: &str = "tcp://HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND ARGS";

/// Parses a number of seconds that may be zero (`healthcheck_start_delay=`).
pub fn parse_nonnegative_seconds(text: &str, key: &str) -> Result<f64, String> {
    let t = text.trim();
    if t.parse::<f64>().is_ok_and(|v| v == 0.0) {
        return Ok(0.0);
    }
    parse_positive_seconds(t, key).map_err(|e| {
        e.replace(
            "must be a positive number of seconds",
            "must be 0 or a positive number of seconds",
        )
    })
}

/// Parses `healthcheck_retries=`: a whole number from 1 to [`MAX_HEALTH_RETRIES`].
pub fn parse_retries(text: &str, key: &str) -> Result<u32, String> {
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(n) if (1..=u64::from(MAX_HEALTH_RETRIES)).contains(&n) => Ok(n as u32),
        Ok(_) => Err(format!(
            "invalid {key} value {t:?}: must be from 1 to {MAX_HEALTH_RETRIES}"
        )),
        Err(_) => Err(format!(
            "invalid {key} value {t:?}: not a whole number of checks"
        )),
    }
}

/// `ready_timeout=`'s default.
pub const DEFAULT_READY_TIMEOUT: f64 = 60.0;
/// `ready_interval=`'s default.
pub const DEFAULT_READY_INTERVAL: f64 = 0.5;

/// The largest number of seconds a check timing key accepts (a year): beyond that a
/// deadline is "never" anyway, and a bounded value cannot overflow a `Duration`.
pub const MAX_CHECK_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Parses a positive number of seconds (`60`, `0.5`) for the timing key `key`.
pub fn parse_positive_seconds(text: &str, key: &str) -> Result<f64, String> {
    let t = text.trim();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("invalid {key} value {t:?}: not a number of seconds"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!(
            "invalid {key} value {t:?}: must be a positive number of seconds"
        ));
    }
    if v > MAX_CHECK_SECONDS {
        return Err(format!(
            "invalid {key} value {t:?}: at most {MAX_CHECK_SECONDS} seconds"
        ));
    }
    Ok(v)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `HOST:PORT` (or `[V6]:PORT`); the port may be left out only when `default` is given.
fn host_port(s: &str, default: Option<u16>) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err("missing ']' after an IPv6 address".into());
        };
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected {after:?} after the address")),
        };
        (host, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("write an IPv6 address in brackets: [::1]:PORT".into())
            }
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("missing host".into());
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(format!("bad host {host:?}"));
    }
    let port = match port {
        None => default.ok_or_else(|| "missing port (expected HOST:PORT)".to_string())?,
        Some("") => return Err("missing port (expected HOST:PORT)".into()),
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("bad port {p:?} (expected 1-65535)")),
            Ok(n) => n,
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// The argv as one shell-like line (words with white space or quotes are quoted).
fn join_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || "'\"\\$`".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\"'\"'"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        assert_eq!(Check::parse(" notify ").unwrap(), Check::Notify);
        assert_eq!(
            Check::parse("tcp://127.0.0.1:5432").unwrap(),
            Check::Tcp {
                host: "127.0.0.1".into(),
                port: 5432
            }
        );
        assert_eq!(
            Check::parse("tcp://[::1]:80").unwrap(),
            Check::Tcp {
                host: "::1".into(),
                port: 80
            }
        );
        assert_eq!(
            Check::parse("http://LocalHost:8080/healthz?full=1").unwrap(),
            Check::Http {
                host: "localhost".into(),
                port: 8080,
                path: "/healthz?full=1".into()
            }
        );
        assert_eq!(
            Check::parse("http://localhost").unwrap(),
            Check::Http {
                host: "localhost".into(),
                port: 80,
                path: "/".into()
            }
        );
        assert_eq!(
            Check::parse("exec:pg_isready -h 'my host'").unwrap(),
            Check::Exec(vec!["pg_isready".into(), "-h".into(), "my host".into()])
        );
        let Check::Log(p) = Check::parse("log:ready to accept \\d+").unwrap() else {
            panic!("not a log check")
        };
        assert!(p.is_match(b"db: ready to accept 5 connections"));
        assert!(!p.is_match(b"db: starting"));
    }

    #[test]
    fn display_is_canonical_and_parses_back() {
        for t in [
            "tcp://127.0.0.1:5432",
            "tcp://[::1]:80",
            "http://localhost:80/",
            "http://h:1/a?b=c",
            "exec:sh -c 'exit 0'",
            "log:^ready$",
            "notify",
        ] {
            let c = Check::parse(t).unwrap();
            assert_eq!(c.to_string(), t);
            assert_eq!(Check::parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let err = |t: &str| Check::parse(t).unwrap_err();
        assert_eq!(
            Check::parse_key("tcp://h", "ready").unwrap_err(),
            "invalid ready value \"tcp://h\": missing port (expected HOST:PORT)"
        );
        assert!(
            err("tcp://localhost").contains("missing port"),
            "{}",
            err("tcp://localhost")
        );
        assert!(err("tcp://:80").contains("missing host"));
        assert!(err("tcp://h:0").contains("bad port \"0\""));
        assert!(err("tcp://h:99999").contains("bad port"));
        assert!(err("tcp://h:").contains("missing port"));
        assert!(err("tcp://::1:80").contains("brackets"));
        assert!(err("log:(unclosed").contains("bad regular expression"));
        assert!(err("log:").contains("empty"));
        assert!(err("exec:").contains("no command"));
        assert!(err("exec:'open").contains("No closing quotation"));
        assert!(err("https://h/").contains("not supported"));
        assert!(err("ftp://h:1").contains("unknown kind of check"));
        assert!(err("").contains("empty"));
        assert!(err("http://h:80/a b").contains("spaces"));
        assert!(err("http://u@h:80/").contains("user information"));
    }

    fn load(text: &str) -> Result<crate::Config, crate::ConfigError> {
        let dir = std::env::temp_dir();
        let ctx = crate::LoadContext {
            environ: vec![],
            hostname: "box".into(),
            cwd: dir.clone(),
            uid: 0,
        };
        let text = format!("[supervisord]\n{text}");
        crate::load::load_from_str(&dir.join("r.conf"), &text, &ctx)
    }

    #[test]
    fn the_loader_reads_ready_keys_per_process() {
        let c = load(
            "[program:db]\ncommand=/bin/true\nnumprocs=2\n\
             process_name=db%(process_num)d\nready = tcp://127.0.0.1:54%(process_num)02d\n\
             ready_timeout = 5\nready_interval=0.25\n\
             [program:plain]\ncommand=/bin/true\n",
        )
        .unwrap();
        let procs: Vec<_> = c.groups.iter().flat_map(|g| &g.processes).collect();
        let db1 = procs.iter().find(|p| p.name == "db1").unwrap();
        let r = db1.ready.as_ref().unwrap();
        assert_eq!(r.check.to_string(), "tcp://127.0.0.1:5401");
        assert_eq!((r.timeout, r.interval), (5.0, 0.25));
        let plain = procs.iter().find(|p| p.name == "plain").unwrap();
        assert_eq!(plain.ready, None);
        // Defaults.
        let c = load("[program:w]\ncommand=/bin/true\nready=notify\n").unwrap();
        let r = c.groups[0].processes[0].ready.clone().unwrap();
        assert_eq!((r.check, r.timeout, r.interval), (Check::Notify, 60.0, 0.5));
        // No "unknown key" finding for the new keys.
        assert!(
            !c.diagnostics
                .iter()
                .any(|d| format!("{d:?}").contains("ready")),
            "{:?}",
            c.diagnostics
        );
    }

    #[test]
    fn loader_errors_name_file_line_section_and_key() {
        for (text, key, line, what) in [
            ("[program:w]\ncommand=/bin/true\nready=tcp://h\n", "ready", 4, "missing port"),
            ("[program:w]\ncommand=/bin/true\n\nready=log:(x\n", "ready", 5, "bad regular expression"),
            ("[program:w]\ncommand=/bin/true\nready_timeout=0\n", "ready_timeout", 4, "positive"),
            ("[fcgi-program:f]\ncommand=/bin/true\nsocket=tcp://127.0.0.1:9\nready_interval=-1\n", "ready_interval", 5, "positive"),
        ] {
            let e = load(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{e:?}");
            assert_eq!(e.line, Some(line), "{e:?}");
            assert!(e.section.as_deref().is_some_and(|s| s.ends_with(":w") || s.ends_with(":f")), "{e:?}");
            assert!(e.file.as_ref().is_some_and(|f| f.ends_with("r.conf")), "{e:?}");
            assert!(e.message.contains(what), "{e:?}");
        }
    }

    #[test]
    fn the_loader_reads_health_keys_with_defaults() {
        let c = load(
            "[program:web]\ncommand=/bin/true\nnumprocs=2\n\
             process_name=web%(process_num)d\n\
             healthcheck = http://127.0.0.1:80%(process_num)02d/healthz\n\
             healthcheck_interval=2\nhealthcheck_timeout=0.5\nhealthcheck_retries=5\n\
             healthcheck_start_delay=0\nhealthcheck_action=NONE\n\
             [program:plain]\ncommand=/bin/true\n\
             [program:d]\ncommand=/bin/true\nhealthcheck=exec:/bin/true\n",
        )
        .unwrap();
        let procs: Vec<_> = c.groups.iter().flat_map(|g| &g.processes).collect();
        let web1 = procs.iter().find(|p| p.name == "web1").unwrap();
        let h = web1.health.as_ref().unwrap();
        assert_eq!(h.check.to_string(), "http://127.0.0.1:8001/healthz");
        assert_eq!(
            (h.interval, h.timeout, h.retries, h.start_delay, h.action),
            (2.0, 0.5, 5, 0.0, HealthAction::None)
        );
        let plain = procs.iter().find(|p| p.name == "plain").unwrap();
        assert_eq!(plain.health, None);
        let d = procs.iter().find(|p| p.name == "d").unwrap();
        let h = d.health.as_ref().unwrap();
        assert_eq!(
            (h.interval, h.timeout, h.retries, h.start_delay, h.action),
            (10.0, 3.0, 3, 0.0, HealthAction::Restart)
        );
        assert!(
            !c.diagnostics
                .iter()
                .any(|d| format!("{d:?}").contains("healthcheck")),
            "{:?}",
            c.diagnostics
        );
    }

    #[test]
    fn health_errors_name_file_line_section_and_key() {
        for (text, key, line, what) in [
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck=log:ready\n",
                "healthcheck",
                4,
                "a log check cannot be a health check",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck=notify\n",
                "healthcheck",
                4,
                "a notify check cannot be a health check",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck=ftp://x\n",
                "healthcheck",
                4,
                "expected tcp://HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND ARGS",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck=tcp://h\n",
                "healthcheck",
                4,
                "missing port",
            ),
            (
                "[program:w]\ncommand=/bin/true\n\nhealthcheck_interval=0\n",
                "healthcheck_interval",
                5,
                "positive",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck_timeout=x\n",
                "healthcheck_timeout",
                4,
                "not a number",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck_retries=0\n",
                "healthcheck_retries",
                4,
                "from 1 to",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck_retries=2.5\n",
                "healthcheck_retries",
                4,
                "whole number",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck_start_delay=-1\n",
                "healthcheck_start_delay",
                4,
                "0 or a positive",
            ),
            (
                "[program:w]\ncommand=/bin/true\nhealthcheck_action=reboot\n",
                "healthcheck_action",
                4,
                "restart, stop or none",
            ),
        ] {
            let e = load(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{e:?}");
            assert_eq!(e.line, Some(line), "{e:?}");
            assert_eq!(e.section.as_deref(), Some("program:w"), "{e:?}");
            assert!(
                e.file.as_ref().is_some_and(|f| f.ends_with("r.conf")),
                "{e:?}"
            );
            assert!(e.message.contains(what), "{e:?}");
        }
    }

    #[test]
    fn seconds_must_be_positive() {
        assert_eq!(parse_positive_seconds("60", "ready_timeout"), Ok(60.0));
        assert_eq!(parse_positive_seconds(" 0.5 ", "ready_interval"), Ok(0.5));
        for bad in ["0", "-1", "abc", "nan", "inf", "1e99", ""] {
            let e = parse_positive_seconds(bad, "ready_timeout").unwrap_err();
            assert!(e.starts_with("invalid ready_timeout value"), "{e}");
        }
    }
}
