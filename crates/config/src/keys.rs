//! The known sections and keys of `supervisord.conf`: the ONE table per section type.
//!
//! `--check-config` and the start-up warnings use these tables to report unknown keys
//! (with a "did you mean" suggestion) and unknown sections. The reference ignores both
//! silently, so nothing here ever makes a config fail to load.
//!
//! To add a key of a new feature, add it to the `EXT_*` table of its section type (keys
//! of supervisor-rs's own features) and describe it in `docs/configuration.md`; the
//! tables of the reference's keys (`REF_*`) list exactly what Supervisor 4.3 reads.

/// The kinds of section supervisord (or supervisorctl) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// `[DEFAULT]`: inherited by every section.
    Default,
    /// `[supervisord]`.
    Supervisord,
    /// `[supervisorctl]`.
    Supervisorctl,
    /// `[include]`.
    Include,
    /// `[unix_http_server]` (any section whose name starts with it).
    UnixHttpServer,
    /// `[inet_http_server]` (any section whose name starts with it).
    InetHttpServer,
    /// `[program:x]`.
    Program,
    /// `[eventlistener:x]`.
    EventListener,
    /// `[fcgi-program:x]`.
    FcgiProgram,
    /// `[group:x]`.
    Group,
    /// `[rpcinterface:x]`: free-form (the factory and its arguments).
    RpcInterface,
    /// `[ctlplugin:x]`: free-form (supervisorctl plugins; the factory and its arguments).
    CtlPlugin,
}

/// Keys the reference reads in every program-like section (`[program:x]`,
/// `[eventlistener:x]`, `[fcgi-program:x]`).
const REF_PROGRAM: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "autorestart",
    "startsecs",
    "startretries",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
];
/// Keys of supervisor-rs's own features in program-like sections.
const EXT_PROGRAM: &[&str] = &[
    // Readiness (docs/configuration.md, issue 14).
    "ready",
    "ready_timeout",
    "ready_interval",
    // Start order by dependencies (docs/configuration.md, issue 14).
    "depends_on",
    // Restart backoff, resource limits, env files (docs/configuration.md, issue 15).
    "backoff",
    "backoff_max",
    "backoff_jitter",
    "retry_forever",
    "restart_delay",
    "backoff_reset",
    "rlimits",
    "environment_file",
    // cgroups, kill_mode and memory/CPU guards (docs/configuration.md, issue 15).
    "memory_max",
    "memory_high",
    "cpu_max",
    "pids_max",
    "kill_mode",
    "max_memory",
    "max_cpu_percent",
    "guard_window",
    "guard_action",
    // End the daemon when this program is down for good (issue 17).
    "critical",
    // Container logging and time-based rotation (docs/configuration.md, issue 17).
    "stdout_log_prefix",
    "stdout_logfile_rotate",
    "stdout_logfile_compress",
    "stdout_logfile_maxage",
    "stderr_log_prefix",
    "stderr_logfile_rotate",
    "stderr_logfile_compress",
    "stderr_logfile_maxage",
    // Liveness health checks (docs/configuration.md, issue 15).
    "healthcheck",
    "healthcheck_interval",
    "healthcheck_timeout",
    "healthcheck_retries",
    "healthcheck_start_delay",
    "healthcheck_action",
];
/// `[eventlistener:x]` keys beyond the program keys.
const REF_EVENTLISTENER: &[&str] = &["events", "buffer_size", "result_handler"];
/// `[fcgi-program:x]` keys beyond the program keys.
const REF_FCGI: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];
/// `[group:x]`.
const REF_GROUP: &[&str] = &["programs", "priority"];
/// `[supervisord]`.
const REF_SUPERVISORD: &[&str] = &[
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "umask",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "nocleanup",
    "childlogdir",
    "user",
    "directory",
    "strip_ansi",
    "environment",
    "identifier",
];
/// Keys of supervisor-rs's own features in `[supervisord]`.
const EXT_SUPERVISORD: &[&str] = &[
    // PID 1 / container behaviour (docs/configuration.md, issue 17).
    "subreaper",
    "exit_when_done",
    "tokens_file",
    "audit_logfile",
    // Time-based rotation of the main log (docs/configuration.md, issue 17).
    "logfile_rotate",
    "logfile_compress",
    "logfile_maxage",
    // Env files for every program (docs/configuration.md, issue 15).
    "environment_file",
];
/// `[supervisorctl]`.
const REF_SUPERVISORCTL: &[&str] = &[
    "serverurl",
    "username",
    "password",
    "prompt",
    "history_file",
];
/// `[include]`.
const REF_INCLUDE: &[&str] = &["files"];
/// `[unix_http_server]`.
const REF_UNIX: &[&str] = &["file", "chmod", "chown", "username", "password"];
/// `[inet_http_server]`.
const REF_INET: &[&str] = &["port", "username", "password"];
/// Keys of supervisor-rs's own access control in both server sections (docs/security.md).
const EXT_SERVER_ACCESS: &[&str] = &["users", "roles", "users_file"];
/// `health_auth=` of both server sections (docs/configuration.md, issue 17).
const EXT_SERVER_HEALTH: &[&str] = &["health_auth"];
/// Keys of supervisor-rs's TLS on `[inet_http_server]` (docs/tls.md).
const EXT_INET_TLS: &[&str] = &["tls_cert", "tls_key", "tls_client_ca", "tls_client_cn_user"];
/// Keys of supervisor-rs's TLS client settings in `[supervisorctl]` (docs/tls.md).
const EXT_SUPERVISORCTL_TLS: &[&str] = &["tls_ca", "tls_cert", "tls_key"];

/// Every kind whose keys are a fixed list, in the order suggestions are searched.
const FIXED_KINDS: &[SectionKind] = &[
    SectionKind::Program,
    SectionKind::EventListener,
    SectionKind::FcgiProgram,
    SectionKind::Group,
    SectionKind::Supervisord,
    SectionKind::UnixHttpServer,
    SectionKind::InetHttpServer,
    SectionKind::Supervisorctl,
    SectionKind::Include,
];

/// Names a section must equal (exact kinds) or start with (prefix kinds), as the
/// reference matches them.
const EXACT: &[(&str, SectionKind)] = &[
    ("DEFAULT", SectionKind::Default),
    ("supervisord", SectionKind::Supervisord),
    ("supervisorctl", SectionKind::Supervisorctl),
    ("include", SectionKind::Include),
];
const PREFIX: &[(&str, SectionKind)] = &[
    ("unix_http_server", SectionKind::UnixHttpServer),
    ("inet_http_server", SectionKind::InetHttpServer),
    ("program:", SectionKind::Program),
    ("eventlistener:", SectionKind::EventListener),
    ("fcgi-program:", SectionKind::FcgiProgram),
    ("group:", SectionKind::Group),
    ("rpcinterface:", SectionKind::RpcInterface),
    ("ctlplugin:", SectionKind::CtlPlugin),
];

impl SectionKind {
    /// The kind of a section name, `None` when neither supervisord nor supervisorctl
    /// reads a section of that name.
    pub fn of(section: &str) -> Option<SectionKind> {
        if let Some((_, k)) = EXACT.iter().find(|(n, _)| *n == section) {
            return Some(*k);
        }
        PREFIX
            .iter()
            .find(|(p, _)| section.starts_with(p))
            .map(|(_, k)| *k)
    }

    /// The known keys, as groups of lists; `None` for free-form sections and for
    /// `[DEFAULT]` (which knows the keys of every fixed kind).
    fn tables(self) -> Option<&'static [&'static [&'static str]]> {
        Some(match self {
            SectionKind::Program => &[REF_PROGRAM, EXT_PROGRAM],
            SectionKind::EventListener => &[REF_PROGRAM, EXT_PROGRAM, REF_EVENTLISTENER],
            SectionKind::FcgiProgram => &[REF_PROGRAM, EXT_PROGRAM, REF_FCGI],
            SectionKind::Group => &[REF_GROUP],
            SectionKind::Supervisord => &[REF_SUPERVISORD, EXT_SUPERVISORD],
            SectionKind::Supervisorctl => &[REF_SUPERVISORCTL, EXT_SUPERVISORCTL_TLS],
            SectionKind::Include => &[REF_INCLUDE],
            SectionKind::UnixHttpServer => &[REF_UNIX, EXT_SERVER_ACCESS, EXT_SERVER_HEALTH],
            SectionKind::InetHttpServer => {
                &[REF_INET, EXT_SERVER_ACCESS, EXT_INET_TLS, EXT_SERVER_HEALTH]
            }
            SectionKind::Default | SectionKind::RpcInterface | SectionKind::CtlPlugin => {
                return None
            }
        })
    }

    /// The known keys of this kind in table order (empty for free-form kinds).
    pub fn known_keys(self) -> Vec<&'static str> {
        let kinds: &[SectionKind] = if self == SectionKind::Default {
            FIXED_KINDS
        } else {
            std::slice::from_ref(&self)
        };
        let mut out: Vec<&'static str> = Vec::new();
        for kind in kinds {
            for t in kind.tables().unwrap_or_default() {
                for k in *t {
                    if !out.contains(k) {
                        out.push(k);
                    }
                }
            }
        }
        out
    }

    /// True when `key` (lower-cased, as the parser stores it) is read in this kind of
    /// section; always true for free-form kinds.
    pub fn knows(self, key: &str) -> bool {
        if self == SectionKind::Default {
            return FIXED_KINDS.iter().any(|k| k.knows(key));
        }
        match self.tables() {
            None => true,
            Some(t) => t.iter().any(|t| t.contains(&key)),
        }
    }

    /// How the kind is written in messages: `program:x`, `supervisord`, ...
    pub fn display(self) -> &'static str {
        match self {
            SectionKind::Default => "DEFAULT",
            SectionKind::Supervisord => "supervisord",
            SectionKind::Supervisorctl => "supervisorctl",
            SectionKind::Include => "include",
            SectionKind::UnixHttpServer => "unix_http_server",
            SectionKind::InetHttpServer => "inet_http_server",
            SectionKind::Program => "program:x",
            SectionKind::EventListener => "eventlistener:x",
            SectionKind::FcgiProgram => "fcgi-program:x",
            SectionKind::Group => "group:x",
            SectionKind::RpcInterface => "rpcinterface:x",
            SectionKind::CtlPlugin => "ctlplugin:x",
        }
    }
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo:
/// an edit distance (insertions, deletions, substitutions, swaps of neighbours) of at
/// most a third of the candidate's length (at least 1), and less than the word's length.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    let len = word.chars().count();
    for c in candidates {
        let limit = (c.chars().count() / 3).max(1);
        // the distance is at least the difference in length: skip the O(n*m) computation
        // (a pasted 100 KB "key" must stay cheap)
        if len.abs_diff(c.chars().count()) > limit {
            continue;
        }
        let d = strsim::osa_distance(word, c);
        if d == 0 || d > limit || d >= len {
            continue;
        }
        if !matches!(best, Some((bd, _)) if bd <= d) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// A suggestion for an unknown key of a `kind` section: the closest known key.
pub fn suggest_key(kind: SectionKind, key: &str) -> Option<&'static str> {
    did_you_mean(key, kind.known_keys())
}

/// Another fixed kind of section that reads `key`, when `kind` does not: the key was
/// probably put in the wrong section (`events=` in a `[program:x]`).
pub fn kind_knowing(kind: SectionKind, key: &str) -> Option<SectionKind> {
    FIXED_KINDS
        .iter()
        .copied()
        .find(|k| *k != kind && k.knows(key))
}

/// A suggestion for an unknown section name: the known name it most likely misspells
/// (`[prgram:web]` -> `program:web`, `[supervisor]` -> `supervisord`, `[program]` ->
/// `program:NAME`).
pub fn suggest_section(section: &str) -> Option<String> {
    let exact = EXACT
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| *n != "DEFAULT")
        .chain(["unix_http_server", "inet_http_server"]);
    if let Some((kind, name)) = section.split_once(':') {
        let prefixes = PREFIX
            .iter()
            .filter_map(|(p, _)| p.strip_suffix(':'))
            .collect::<Vec<_>>();
        if let Some(p) = did_you_mean(kind, prefixes) {
            return Some(format!("{p}:{name}"));
        }
        return None;
    }
    if let Some(p) = PREFIX
        .iter()
        .filter_map(|(p, _)| p.strip_suffix(':'))
        .find(|p| *p == section)
    {
        return Some(format!("{p}:NAME"));
    }
    did_you_mean(section, exact).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_reference_matching() {
        assert_eq!(
            SectionKind::of("supervisord"),
            Some(SectionKind::Supervisord)
        );
        assert_eq!(SectionKind::of("program:web"), Some(SectionKind::Program));
        assert_eq!(
            SectionKind::of("inet_http_server2"),
            Some(SectionKind::InetHttpServer)
        );
        assert_eq!(
            SectionKind::of("rpcinterface:x"),
            Some(SectionKind::RpcInterface)
        );
        assert_eq!(SectionKind::of("ctlplugin:x"), Some(SectionKind::CtlPlugin));
        assert_eq!(SectionKind::of("program"), None);
        assert_eq!(SectionKind::of("programs:web"), None);
        assert_eq!(SectionKind::of("Supervisord"), None);
    }

    #[test]
    fn known_keys() {
        assert!(SectionKind::Program.knows("autorestart"));
        assert!(!SectionKind::Program.knows("events"));
        assert!(SectionKind::EventListener.knows("events"));
        assert!(SectionKind::EventListener.knows("command"));
        assert!(SectionKind::FcgiProgram.knows("socket_mode"));
        assert!(SectionKind::RpcInterface.knows("anything"));
        assert!(SectionKind::Default.knows("socket"));
        assert!(SectionKind::Default.knows("port"));
        assert!(!SectionKind::Default.knows("autorestrat"));
        assert!(!SectionKind::Group.knows("command"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest_key(SectionKind::Program, "autorestrat"),
            Some("autorestart")
        );
        assert_eq!(
            suggest_key(SectionKind::Program, "stdout_logfle"),
            Some("stdout_logfile")
        );
        assert_eq!(
            suggest_key(SectionKind::Program, "stdout-logfile"),
            Some("stdout_logfile")
        );
        assert_eq!(suggest_key(SectionKind::Program, "comand"), Some("command"));
        assert_eq!(
            suggest_key(SectionKind::Supervisord, "loglevl"),
            Some("loglevel")
        );
        assert_eq!(suggest_key(SectionKind::Program, "zzzz"), None);
        assert_eq!(suggest_key(SectionKind::Program, "x"), None);
        assert_eq!(
            kind_knowing(SectionKind::Program, "events"),
            Some(SectionKind::EventListener)
        );
        assert_eq!(kind_knowing(SectionKind::Program, "nosuch"), None);
        assert_eq!(
            suggest_section("prgram:web").as_deref(),
            Some("program:web")
        );
        assert_eq!(
            suggest_section("programs:web").as_deref(),
            Some("program:web")
        );
        assert_eq!(
            suggest_section("supervisor").as_deref(),
            Some("supervisord")
        );
        assert_eq!(suggest_section("program").as_deref(), Some("program:NAME"));
        assert_eq!(
            suggest_section("unix_http_sever").as_deref(),
            Some("unix_http_server")
        );
        assert_eq!(suggest_section("mysection"), None);
        let long = "a".repeat(200_000);
        let t = std::time::Instant::now();
        assert_eq!(suggest_key(SectionKind::Program, &long), None);
        assert_eq!(suggest_section(&long), None);
        assert!(t.elapsed().as_secs() < 2, "{:?}", t.elapsed());
    }
}
