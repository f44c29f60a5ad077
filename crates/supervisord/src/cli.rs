//! `supervisord`'s command line, parsed like the reference (Python `getopt`).
//!
//! Short options can be clustered (`-nc file`, `-cfile`), long options take `--opt=value`
//! or `--opt value` and may be abbreviated to any unique prefix, `--` ends the options and
//! the first non-option word stops parsing (it is then rejected as positional). Options
//! are processed in order: `-h`/`-v` act when reached, a value is validated before the
//! "given twice" check. Every error is reported as
//! `Error: <message>\nFor help, use <argv0> -h\n` on stderr with exit status 2
//! ([`UsageError`]).
//!
//! [`apply_overrides`] applies the options on top of a parsed config (CLI > config >
//! default). `--check-config` is our extension ([`check_config`]): load, run every check,
//! print the report ([`render_check_text`], or [`render_check_json`] with `--json`) and
//! exit 0 (valid), 1 (valid with warnings) or 2 (invalid).

use std::fmt;
use std::path::PathBuf;

use supervisor_config::{
    datatypes, Config, Diagnostic, GroupKind, LogFile, LogLevel, Severity, Verdict,
};

use crate::spawn::pyfmt::{py_list_repr, py_repr};

/// The version `-v` prints (the reference release we are compatible with).
pub const VERSION: &str = "4.3.0";

/// What we are, for humans: `supervisor-rs X.Y.Z (compatible with Supervisor 4.3.0)`
/// (the first main-log line of a start, the first line of `--check-config`).
pub fn banner() -> String {
    format!(
        "supervisor-rs {} (compatible with Supervisor {VERSION})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Options given on the command line; `None`/`false` = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-c/--configuration`.
    pub configuration: Option<PathBuf>,
    /// `-n/--nodaemon`.
    pub nodaemon: bool,
    /// `-s/--silent`.
    pub silent: bool,
    /// `-u/--user` as written (resolved by [`apply_overrides`]).
    pub user: Option<String>,
    /// `-m/--umask`.
    pub umask: Option<u32>,
    /// `-d/--directory` (checked to exist).
    pub directory: Option<PathBuf>,
    /// `-l/--logfile` (`syslog` or a path whose directory exists).
    pub logfile: Option<String>,
    /// `-y/--logfile_maxbytes`.
    pub logfile_maxbytes: Option<u64>,
    /// `-z/--logfile_backups`.
    pub logfile_backups: Option<u32>,
    /// `-e/--loglevel`.
    pub loglevel: Option<LogLevel>,
    /// `-j/--pidfile` (directory checked to exist).
    pub pidfile: Option<String>,
    /// `-i/--identifier`.
    pub identifier: Option<String>,
    /// `-q/--childlogdir` (checked to exist).
    pub childlogdir: Option<PathBuf>,
    /// `-k/--nocleanup`.
    pub nocleanup: bool,
    /// `-a/--minfds`.
    pub minfds: Option<u64>,
    /// `--minprocs`.
    pub minprocs: Option<u64>,
    /// `-t/--strip_ansi`.
    pub strip_ansi: bool,
    /// `--profile_options` (accepted and ignored: Python profiler only).
    pub profile_options: Option<String>,
    /// `--check-config` (our extension).
    pub check_config: bool,
    /// `--json` (our extension; only with `--check-config`).
    pub json: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the daemon with these options.
    Run(Box<Options>),
    /// Print [`help_text`] to stdout and exit 0.
    Help,
    /// Print [`VERSION`] and a newline to stdout and exit 0.
    Version,
    /// `--hash-password` (our extension): read a password from stdin, print its argon2id
    /// hash for `password=`/`users=`/`users_file=` and exit 0.
    HashPassword,
}

/// A command-line error; print [`UsageError::render`] to stderr and exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The message after `Error: `.
    pub message: String,
}

impl UsageError {
    fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
        }
    }

    /// `Error: <message>\nFor help, use <argv0> -h\n`.
    pub fn render(&self, argv0: &str) -> String {
        usage_error_text(argv0, &self.message)
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// The reference's usage-error text: `Error: <msg>\nFor help, use <argv0> -h\n`.
pub fn usage_error_text(argv0: &str, message: &str) -> String {
    format!("Error: {message}\nFor help, use {argv0} -h\n")
}

/// The exit status of a usage error.
pub const USAGE_EXIT: i32 = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Opt {
    Help,
    Version,
    Configuration,
    Nodaemon,
    Silent,
    User,
    Umask,
    Directory,
    Logfile,
    LogfileMaxbytes,
    LogfileBackups,
    Loglevel,
    Pidfile,
    Identifier,
    Childlogdir,
    Nocleanup,
    Minfds,
    Minprocs,
    StripAnsi,
    ProfileOptions,
    CheckConfig,
    Json,
    HashPassword,
}

/// (short letter, long name, takes an argument, option).
const TABLE: &[(Option<char>, Option<&str>, bool, Opt)] = &[
    (Some('h'), Some("help"), false, Opt::Help),
    (Some('?'), None, false, Opt::Help),
    (Some('c'), Some("configuration"), true, Opt::Configuration),
    (Some('v'), Some("version"), false, Opt::Version),
    (None, Some("hash-password"), false, Opt::HashPassword),
    (Some('n'), Some("nodaemon"), false, Opt::Nodaemon),
    (Some('u'), Some("user"), true, Opt::User),
    (Some('m'), Some("umask"), true, Opt::Umask),
    (Some('d'), Some("directory"), true, Opt::Directory),
    (Some('l'), Some("logfile"), true, Opt::Logfile),
    (
        Some('y'),
        Some("logfile_maxbytes"),
        true,
        Opt::LogfileMaxbytes,
    ),
    (
        Some('z'),
        Some("logfile_backups"),
        true,
        Opt::LogfileBackups,
    ),
    (Some('e'), Some("loglevel"), true, Opt::Loglevel),
    (Some('j'), Some("pidfile"), true, Opt::Pidfile),
    (Some('i'), Some("identifier"), true, Opt::Identifier),
    (Some('q'), Some("childlogdir"), true, Opt::Childlogdir),
    (Some('a'), Some("minfds"), true, Opt::Minfds),
    (None, Some("minprocs"), true, Opt::Minprocs),
    (Some('k'), Some("nocleanup"), false, Opt::Nocleanup),
    (Some('t'), Some("strip_ansi"), false, Opt::StripAnsi),
    (None, Some("profile_options"), true, Opt::ProfileOptions),
    (Some('s'), Some("silent"), false, Opt::Silent),
    (None, Some("check-config"), false, Opt::CheckConfig),
    (None, Some("json"), false, Opt::Json),
];

/// Splits `args` (without argv0) like Python's `getopt.getopt`: returns the
/// (canonical option spelling, option, argument) list and the remaining words.
/// One parsed option: (spelling as given, canonical option, its argument or "").
type ParsedOpt = (String, Opt, String);

fn getopt(args: &[String]) -> Result<(Vec<ParsedOpt>, Vec<String>), UsageError> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        i += 1;
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.find('=') {
                Some(eq) => (&long[..eq], Some(long[eq + 1..].to_string())),
                None => (long, None),
            };
            let candidates: Vec<_> = TABLE
                .iter()
                .filter(|(_, l, _, _)| l.is_some_and(|l| l.starts_with(name)))
                .collect();
            let entry = match candidates.iter().find(|(_, l, _, _)| *l == Some(name)) {
                Some(e) => *e,
                None if candidates.is_empty() => {
                    return Err(UsageError::new(format!("option --{name} not recognized")))
                }
                None if candidates.len() > 1 => {
                    return Err(UsageError::new(format!(
                        "option --{name} not a unique prefix"
                    )))
                }
                None => candidates[0],
            };
            let full = entry.1.unwrap_or(name);
            let value = if entry.2 {
                match inline {
                    Some(v) => v,
                    None => {
                        if i >= args.len() {
                            return Err(UsageError::new(format!(
                                "option --{full} requires argument"
                            )));
                        }
                        i += 1;
                        args[i - 1].clone()
                    }
                }
            } else {
                if inline.is_some() {
                    return Err(UsageError::new(format!(
                        "option --{full} must not have an argument"
                    )));
                }
                String::new()
            };
            opts.push((format!("--{full}"), entry.3, value));
        } else {
            let cluster: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < cluster.len() {
                let c = cluster[j];
                j += 1;
                let Some(entry) = TABLE.iter().find(|(s, _, _, _)| *s == Some(c)) else {
                    return Err(UsageError::new(format!("option -{c} not recognized")));
                };
                let value = if entry.2 {
                    if j < cluster.len() {
                        let v: String = cluster[j..].iter().collect();
                        j = cluster.len();
                        v
                    } else {
                        if i >= args.len() {
                            return Err(UsageError::new(format!("option -{c} requires argument")));
                        }
                        i += 1;
                        args[i - 1].clone()
                    }
                } else {
                    String::new()
                };
                opts.push((format!("-{c}"), entry.3, value));
            }
        }
    }
    Ok((opts, args[i..].to_vec()))
}

/// Parses the command line (without argv0).
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let (opts, rest) = getopt(args)?;
    if !rest.is_empty() {
        return Err(UsageError::new(format!(
            "positional arguments are not supported: {}",
            py_list_repr(&rest)
        )));
    }
    let mut o = Options::default();
    for (spelling, opt, value) in opts {
        let invalid = |msg: String| {
            UsageError::new(format!(
                "invalid value for {spelling} {}: {msg}",
                py_repr(&value)
            ))
        };
        let conflict = || {
            UsageError::new(format!(
                "conflicting command line option {}",
                py_repr(&spelling)
            ))
        };
        macro_rules! set {
            ($field:expr, $val:expr) => {{
                let v = $val;
                if $field.is_some() {
                    return Err(conflict());
                }
                $field = Some(v);
            }};
        }
        macro_rules! flag {
            ($field:expr) => {{
                if $field {
                    return Err(conflict());
                }
                $field = true;
            }};
        }
        match opt {
            Opt::Help => return Ok(Command::Help),
            Opt::Version => return Ok(Command::Version),
            Opt::HashPassword => return Ok(Command::HashPassword),
            Opt::Configuration => set!(o.configuration, PathBuf::from(&value)),
            Opt::Nodaemon => flag!(o.nodaemon),
            Opt::Silent => flag!(o.silent),
            Opt::Nocleanup => flag!(o.nocleanup),
            Opt::StripAnsi => flag!(o.strip_ansi),
            Opt::CheckConfig => flag!(o.check_config),
            Opt::Json => flag!(o.json),
            Opt::User => set!(o.user, value.clone()),
            Opt::Identifier => set!(o.identifier, value.clone()),
            Opt::ProfileOptions => set!(o.profile_options, value.clone()),
            Opt::Umask => set!(o.umask, parse_octal(&value).map_err(invalid)?),
            Opt::Directory => set!(o.directory, existing_directory(&value).map_err(invalid)?),
            Opt::Childlogdir => set!(o.childlogdir, existing_directory(&value).map_err(invalid)?),
            Opt::Logfile => set!(o.logfile, existing_dirpath(&value).map_err(invalid)?),
            Opt::Pidfile => set!(o.pidfile, existing_dirpath(&value).map_err(invalid)?),
            Opt::LogfileMaxbytes => {
                let n = parse_byte_size(&value).map_err(invalid)?;
                set!(o.logfile_maxbytes, n)
            }
            Opt::LogfileBackups => {
                let n = parse_int(&value).map_err(invalid)?;
                set!(o.logfile_backups, n.clamp(0, u32::MAX as i64) as u32)
            }
            Opt::Loglevel => set!(
                o.loglevel,
                datatypes::parse_log_level(&value).map_err(invalid)?
            ),
            Opt::Minfds => {
                let n = parse_int(&value).map_err(invalid)?;
                set!(o.minfds, n.max(0) as u64)
            }
            Opt::Minprocs => {
                let n = parse_int(&value).map_err(invalid)?;
                set!(o.minprocs, n.max(0) as u64)
            }
        }
    }
    if o.json && !o.check_config {
        // only an addition to --check-config: a plain start rejects it as the reference does
        return Err(UsageError::new("option --json not recognized"));
    }
    Ok(Command::Run(Box::new(o)))
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

fn home() -> Option<String> {
    std::env::var("HOME").ok()
}

/// Python `int(v)` with its error text (shared with the config crate).
pub fn parse_int(v: &str) -> Result<i64, String> {
    datatypes::parse_int(v)
}

/// The reference's `octal_type`; error `<v> can not be converted to an octal type`.
pub fn parse_octal(v: &str) -> Result<u32, String> {
    datatypes::parse_octal(v)
}

/// The reference's `byte_size` (`KB`/`MB`/`GB` suffixes, 1024-based).
pub fn parse_byte_size(v: &str) -> Result<u64, String> {
    datatypes::parse_byte_size(v)
}

/// The reference's `existing_directory`: `~` expanded, must be a directory.
pub fn existing_directory(v: &str) -> Result<PathBuf, String> {
    datatypes::existing_directory(v, &cwd(), home().as_deref()).map(PathBuf::from)
}

/// The reference's `existing_dirpath`: `~` expanded; a bare name is fine, otherwise its
/// directory must exist.
pub fn existing_dirpath(v: &str) -> Result<String, String> {
    datatypes::existing_dirpath(v, &cwd(), home().as_deref())
}

/// The reference's `normalize_path`: `~` expanded, absolute against the cwd, `.`/`..`
/// folded.
pub fn normalize_path(p: &str) -> PathBuf {
    PathBuf::from(datatypes::normalize_path(p, &cwd(), home().as_deref()))
}

/// The config file search when `-c` is not given, in the reference's order:
/// `<dir of dir of argv0>/etc/supervisord.conf`, `<that>/supervisord.conf`,
/// `supervisord.conf`, `etc/supervisord.conf`, `/etc/supervisord.conf`,
/// `/etc/supervisor/supervisord.conf`. The error text is the reference's.
pub fn find_config_file(argv0: &str) -> Result<PathBuf, UsageError> {
    supervisor_config::find_config(argv0)
        .ok_or_else(|| UsageError::new(supervisor_config::no_config_found_message(argv0)))
}

/// Applies command-line options over the config's `[supervisord]` values (CLI wins;
/// boolean flags can only turn a setting on). Fails with the reference's text for an
/// unknown `-u` user (`Invalid user name <u>` / `Invalid user id <u>`).
pub fn apply_overrides(config: &mut Config, options: &Options) -> Result<(), UsageError> {
    let sd = &mut config.supervisord;
    sd.nodaemon |= options.nodaemon;
    sd.silent |= options.silent;
    sd.nocleanup |= options.nocleanup;
    sd.strip_ansi |= options.strip_ansi;
    if let Some(user) = &options.user {
        crate::daemon::resolve_user(user).map_err(UsageError::new)?;
        sd.user = Some(user.clone());
    }
    if let Some(v) = options.umask {
        sd.umask = v;
    }
    if let Some(v) = &options.directory {
        sd.directory = Some(v.clone());
    }
    if let Some(v) = &options.logfile {
        sd.logfile = if v == "syslog" {
            LogFile::Syslog
        } else {
            LogFile::Path(normalize_path(v))
        };
    }
    if let Some(v) = options.logfile_maxbytes {
        sd.logfile_maxbytes = v;
    }
    if let Some(v) = options.logfile_backups {
        sd.logfile_backups = v;
    }
    if let Some(v) = options.loglevel {
        sd.loglevel = v;
    }
    if let Some(v) = &options.pidfile {
        sd.pidfile = normalize_path(v);
    }
    if let Some(v) = &options.identifier {
        sd.identifier = v.clone();
    }
    if let Some(v) = &options.childlogdir {
        sd.childlogdir = v.clone();
    }
    if let Some(v) = options.minfds {
        sd.minfds = v;
    }
    if let Some(v) = options.minprocs {
        sd.minprocs = v;
    }
    Ok(())
}

/// The `--check-config` listing: every group in start order with its processes.
pub fn render_program_list(config: &Config) -> String {
    let mut out = String::new();
    out.push_str(&format!("config: {}\n", config.path.display()));
    for g in &config.groups {
        let kind = match &g.kind {
            GroupKind::Program => "program".to_string(),
            GroupKind::Heterogeneous => "group".to_string(),
            GroupKind::FcgiProgram(s) => format!("fcgi-program, socket {}", s.url),
            GroupKind::EventListenerPool(p) => {
                format!("eventlistener, events {}", p.event_names().join(","))
            }
        };
        out.push_str(&format!(
            "{} (priority {}, {}, {} process{})\n",
            g.name,
            g.priority,
            kind,
            g.processes.len(),
            if g.processes.len() == 1 { "" } else { "es" }
        ));
        for p in &g.processes {
            let namespec = if matches!(g.kind, GroupKind::Program) && p.name == g.name {
                p.name.clone()
            } else {
                format!("{}:{}", g.name, p.name)
            };
            // supervisor-rs keys shown per process: one push per feature
            let mut extras = Vec::new();
            if !p.depends_on.is_empty() {
                let deps: Vec<String> = p.depends_on.iter().map(|d| d.to_string()).collect();
                extras.push(format!("depends_on {}", deps.join(" ")));
            }
            if let Some(r) = &p.ready {
                extras.push(format!(
                    "ready {} (timeout {}s, interval {}s)",
                    r.check, r.timeout, r.interval
                ));
            }
            if let Some(h) = &p.health {
                extras.push(format!(
                    "healthcheck {} (interval {}s, timeout {}s, retries {}, start delay {}s, action {})",
                    h.check, h.interval, h.timeout, h.retries, h.start_delay, h.action.as_str()
                ));
            }
            let extras: String = extras.iter().map(|e| format!(", {e}")).collect();
            out.push_str(&format!(
                "  {namespec} (priority {}, autostart {}{extras}): {}\n",
                p.priority, p.autostart, p.command
            ));
        }
    }
    out.push_str(&render_start_order(config));
    out
}

/// The `--check-config` start order (supervisor-rs): every process in the order it
/// starts, dependencies (`depends_on=`) first, priority breaking ties; empty when no
/// process has dependencies (the order is then the priority order listed above).
pub fn render_start_order(config: &Config) -> String {
    let any = config
        .groups
        .iter()
        .any(|g| g.processes.iter().any(|p| !p.depends_on.is_empty()));
    if !any {
        return String::new();
    }
    let mut out = String::from("start order (dependencies first, then priority):\n");
    for (i, step) in supervisor_config::load::deps::start_order(&config.groups)
        .iter()
        .enumerate()
    {
        out.push_str(&format!("  {}. {}", i + 1, step.namespec));
        if !step.after.is_empty() {
            out.push_str(&format!(" (after {})", step.after.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// What `--check-config` found: the config (when it loaded) and every finding, in the
/// order they are reported.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The config file checked (as given or found).
    pub path: PathBuf,
    /// The loaded config, with the command-line overrides applied; `None` if it failed.
    pub config: Option<Config>,
    /// Findings of the load, then of the checks of paths, commands and users.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckReport {
    /// 0 valid, 1 valid with warnings, 2 invalid.
    pub fn exit_code(&self) -> i32 {
        Verdict::of(&self.diagnostics).exit_code()
    }
}

/// Runs every check of `--check-config` on the config at `path`: the load itself (an
/// error there is an `error` finding with the reference's message and its location),
/// the load's findings (unknown keys and sections, repeats, include patterns without a
/// match, headers missing `]`), then [`environment_checks`].
pub fn check_config(path: PathBuf, options: &Options) -> CheckReport {
    let (result, mut diagnostics) = supervisor_config::check(&path);
    let config = match result {
        Ok(mut c) => match apply_overrides(&mut c, options) {
            Ok(()) => Some(c),
            Err(e) => {
                diagnostics.push(supervisor_config::diagnostics::diagnostic(
                    Severity::Error,
                    "config-error",
                    e.message,
                    None,
                    None,
                    None,
                ));
                None
            }
        },
        Err(e) => {
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                code: "config-error",
                message: e.message.clone(),
                file: e.file.clone(),
                line: e.line,
                section: e.section.clone(),
                key: e.key.clone(),
                suggestion: None,
                at_start: false,
            });
            None
        }
    };
    if let Some(c) = &config {
        diagnostics.extend(environment_checks(c));
        diagnostics.extend(crate::spawn::check_findings(c));
        diagnostics.extend(crate::access::checks::findings(c));
        diagnostics.extend(crate::cgroup::checks::findings(c));
    }
    // by place: the main file first, then the others by name, each by line
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            (
                d.file.as_deref() != Some(path.as_path()),
                d.file.clone(),
                d.line,
            )
        };
        key(a).cmp(&key(b))
    });
    CheckReport {
        path,
        config,
        diagnostics,
    }
}

/// A place for a finding about `key` of `section`: where it was written, else the
/// section's file (the key has its default value).
fn place(
    config: &Config,
    file: &std::path::Path,
    section: &str,
    key: &str,
) -> (String, Option<usize>) {
    match config.sources.locate(section, key) {
        Some((f, l)) => (f.to_string(), Some(l)),
        None => (file.to_string_lossy().into_owned(), None),
    }
}

fn finding(
    config: &Config,
    file: &std::path::Path,
    code: &'static str,
    section: &str,
    key: &str,
    message: String,
) -> Diagnostic {
    let (f, line) = place(config, file, section, key);
    Diagnostic {
        severity: Severity::Error,
        code,
        message,
        file: Some(PathBuf::from(f)),
        line,
        section: Some(section.to_string()),
        key: Some(key.to_string()),
        suggestion: None,
        at_start: false,
    }
}

/// Why a file cannot be created or written at `path`, if it cannot (an existing file must
/// be writable; otherwise its directory must exist and be writable). Checked as the
/// user running the check.
fn unwritable(path: &std::path::Path) -> Option<String> {
    use nix::unistd::{access, AccessFlags};
    let shown = |p: &std::path::Path| py_repr(&p.to_string_lossy());
    if path.exists() {
        if path.is_dir() {
            return Some(format!("{} is a directory", shown(path)));
        }
        return access(path, AccessFlags::W_OK)
            .err()
            .map(|_| format!("{} is not writable", shown(path)));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Some(format!("the directory {} does not exist", shown(dir)));
    }
    access(dir, AccessFlags::W_OK | AccessFlags::X_OK)
        .err()
        .map(|_| format!("the directory {} is not writable", shown(dir)))
}

/// Checks of what the config points at, as the user running the check sees it: the
/// directory of each unix socket (the HTTP server's and fcgi-programs'), the main log,
/// child logs and `childlogdir` (writable), each program's `command` (found and
/// executable, searched like the daemon does before spawning) and `directory` (exists);
/// the pid file (writable; a warning, since the daemon starts without it). Every finding
/// names the file, line, section and key; all but the pid file's are errors. (Users that do
/// not exist, and log directories that do not exist, already fail the load.)
pub fn environment_checks(config: &Config) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let main_file = config.path.clone();
    let sd = &config.supervisord;
    let mut push = |d: Diagnostic| {
        if !out.contains(&d) {
            out.push(d);
        }
    };
    if let Some(u) = &config.unix_http_server {
        if let Some(why) = unwritable(&u.file) {
            push(finding(
                config,
                &main_file,
                "socket-directory",
                &u.section,
                "file",
                format!(
                    "the unix socket {} of section {} cannot be created: {why}",
                    py_repr(&u.file.to_string_lossy()),
                    py_repr(&u.section)
                ),
            ));
        }
    }
    // TLS files of the inet servers (read and checked as the daemon would at start).
    for inet in &config.inet_http_servers {
        if let Some(Err(e)) = inet.tls.as_ref().map(crate::http::tls::load) {
            push(finding(
                config,
                &main_file,
                "tls",
                &inet.section,
                &e.key,
                e.message,
            ));
        }
    }
    if let LogFile::Path(p) = &sd.logfile {
        if let Some(why) = unwritable(p) {
            push(finding(
                config,
                &main_file,
                "log-directory",
                "supervisord",
                "logfile",
                format!(
                    "the main log {} cannot be written: {why}",
                    py_repr(&p.to_string_lossy())
                ),
            ));
        }
    }
    if let Some(why) = unwritable(&sd.pidfile) {
        // the reference starts anyway and logs `could not write pidfile`: a warning
        let mut d = finding(
            config,
            &main_file,
            "pidfile",
            "supervisord",
            "pidfile",
            format!(
                "the pid file {} cannot be written: {why} (supervisord starts without it)",
                py_repr(&sd.pidfile.to_string_lossy())
            ),
        );
        d.severity = Severity::Warning;
        push(d);
    }
    let any_auto = config
        .groups
        .iter()
        .flat_map(|g| &g.processes)
        .any(|p| p.stdout.logfile == LogFile::Auto || p.stderr.logfile == LogFile::Auto);
    if any_auto {
        use nix::unistd::{access, AccessFlags};
        if access(&sd.childlogdir, AccessFlags::W_OK | AccessFlags::X_OK).is_err() {
            push(finding(
                config,
                &main_file,
                "log-directory",
                "supervisord",
                "childlogdir",
                format!(
                    "the directory {} for AUTO child logs is not writable",
                    py_repr(&sd.childlogdir.to_string_lossy())
                ),
            ));
        }
    }
    for g in &config.groups {
        if let GroupKind::FcgiProgram(sock) = &g.kind {
            if let supervisor_config::SocketAddress::Unix(path) = &sock.address {
                if let Some(p) = g.processes.first() {
                    if let Some(why) = unwritable(path) {
                        push(finding(
                            config,
                            &p.file,
                            "socket-directory",
                            &p.section,
                            "socket",
                            format!(
                                "the unix socket {} of section {} cannot be created: {why}",
                                py_repr(&path.to_string_lossy()),
                                py_repr(&p.section)
                            ),
                        ));
                    }
                }
            }
        }
        for p in &g.processes {
            for (key, ch) in [("stdout_logfile", &p.stdout), ("stderr_logfile", &p.stderr)] {
                if let LogFile::Path(path) = &ch.logfile {
                    if let Some(why) = unwritable(path) {
                        push(finding(
                            config,
                            &p.file,
                            "log-directory",
                            &p.section,
                            key,
                            format!(
                                "the log file {} of section {} cannot be written: {why}",
                                py_repr(&path.to_string_lossy()),
                                py_repr(&p.section)
                            ),
                        ));
                    }
                }
            }
            if let Err(e) = crate::spawn::resolve_command(p, &sd.environment) {
                push(finding(
                    config,
                    &p.file,
                    "command",
                    &p.section,
                    "command",
                    format!(
                        "the command of section {} cannot be run: {e}",
                        py_repr(&p.section)
                    ),
                ));
            }
            if let Some(dir) = &p.directory {
                let path = std::path::Path::new(dir);
                if !path.is_dir() {
                    let what = if path.exists() {
                        "is not a directory"
                    } else {
                        "does not exist"
                    };
                    push(finding(
                        config,
                        &p.file,
                        "directory",
                        &p.section,
                        "directory",
                        format!(
                            "the directory {} of section {} {what}",
                            py_repr(dir),
                            py_repr(&p.section)
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// The `--check-config` report for humans (stdout): the banner, the program list when
/// the config loaded, one line per finding, and the verdict.
pub fn render_check_text(report: &CheckReport) -> String {
    let mut out = String::new();
    out.push_str(&banner());
    out.push('\n');
    match &report.config {
        Some(c) => out.push_str(&render_program_list(c)),
        None => out.push_str(&format!("config: {}\n", report.path.display())),
    }
    for d in &report.diagnostics {
        out.push_str(&d.check_text());
        out.push('\n');
    }
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = report.diagnostics.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let verdict = match Verdict::of(&report.diagnostics) {
        Verdict::Valid => "check: config is valid".to_string(),
        Verdict::ValidWithWarnings => {
            format!(
                "check: config is valid, with {}",
                plural(warnings, "warning")
            )
        }
        Verdict::Invalid => format!(
            "check: config is invalid: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    };
    out.push_str(&verdict);
    out.push('\n');
    out
}

/// The `--check-config --json` report (see `supervisor_config::diagnostics::report_json`).
pub fn render_check_json(report: &CheckReport) -> String {
    supervisor_config::diagnostics::report_json(
        &banner(),
        Some(&report.path),
        report.config.as_ref(),
        &report.diagnostics,
    )
}

/// The `-h` text (our wording; every option of the reference plus `--check-config`).
pub fn help_text(argv0: &str) -> String {
    format!(
        "supervisord -- start, watch and restart a set of programs.

Usage: {argv0} [options]

Options (a value given here beats the [supervisord] section of the config file):
-c/--configuration FILE  read this config file instead of searching the usual places
-n/--nodaemon            stay in the foreground (config: nodaemon=true)
-s/--silent              in the foreground, do not copy the main log to stdout
                         (config: silent=true)
-h/-?/--help             show this text and exit
-v/--version             show the version and exit
-u/--user USER           switch to this user name or numeric uid after starting
-m/--umask UMASK         octal umask of the daemon when it detaches (default 022)
-d/--directory DIR       change to this directory when detaching
-l/--logfile FILE        main log file (or 'syslog')
-y/--logfile_maxbytes N  rotate the main log when it reaches N bytes (KB/MB/GB ok)
-z/--logfile_backups N   how many rotated main logs to keep
-e/--loglevel LEVEL      critical, error, warn, info, debug, trace or blather
-j/--pidfile FILE        where to write the daemon's pid
-i/--identifier STR      name of this supervisord instance (RPC, events, log names)
-q/--childlogdir DIR     directory for AUTO child log files
-k/--nocleanup           keep old AUTO child log files at start
-a/--minfds N            refuse to start unless N file descriptors can be opened
-t/--strip_ansi          remove ANSI escape sequences from child output in logs
--minprocs N             refuse to start unless N processes can be created
--profile_options LIST   accepted for compatibility, ignored (Python profiler only)
--check-config           check the config (unknown keys, paths, commands, users...),
                         list the programs and exit: status 0 if valid, 1 if valid
                         with warnings, 2 if invalid
--json                   with --check-config: print the report as JSON
--hash-password          read a password from stdin (one line), print its argon2id
                         hash for password=, users= or users_file= and exit
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn err(s: &str) -> String {
        parse(&args(s)).unwrap_err().message
    }

    fn run(s: &str) -> Options {
        match parse(&args(s)).unwrap() {
            Command::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reference_error_messages() {
        assert_eq!(err("--bogus"), "option --bogus not recognized");
        assert_eq!(err("-x"), "option -x not recognized");
        assert_eq!(err("-c"), "option -c requires argument");
        assert_eq!(err("--conf"), "option --configuration requires argument");
        assert_eq!(
            err("--nodaemon=1"),
            "option --nodaemon must not have an argument"
        );
        assert_eq!(err("--l"), "option --l not a unique prefix");
        assert_eq!(err("--s"), "option --s not a unique prefix");
        assert_eq!(err("-n -n"), "conflicting command line option '-n'");
        assert_eq!(
            err("-n --nodaemon"),
            "conflicting command line option '--nodaemon'"
        );
        assert_eq!(err("-c a -c b"), "conflicting command line option '-c'");
        assert_eq!(err("x"), "positional arguments are not supported: ['x']");
        assert_eq!(
            err("-n x -c"),
            "positional arguments are not supported: ['x', '-c']"
        );
        assert_eq!(err("-- x"), "positional arguments are not supported: ['x']");
        assert_eq!(err("-nc"), "option -c requires argument");
        assert_eq!(
            err("-m 9"),
            "invalid value for -m '9': 9 can not be converted to an octal type"
        );
        assert_eq!(
            err("--umask=9"),
            "invalid value for --umask '9': 9 can not be converted to an octal type"
        );
        assert_eq!(
            err("-a x"),
            "invalid value for -a 'x': invalid literal for int() with base 10: 'x'"
        );
        assert_eq!(
            err("-y 1x"),
            "invalid value for -y '1x': invalid literal for int() with base 10: '1x'"
        );
        assert_eq!(
            err("-y 1.5MB"),
            "invalid value for -y '1.5MB': invalid literal for int() with base 10: '1.5'"
        );
        assert_eq!(
            err("-z 1.5"),
            "invalid value for -z '1.5': invalid literal for int() with base 10: '1.5'"
        );
        assert_eq!(
            err("-e warning"),
            "invalid value for -e 'warning': bad logging level name 'warning'"
        );
        assert_eq!(
            err("-d /nonexist"),
            "invalid value for -d '/nonexist': /nonexist is not an existing directory"
        );
        assert_eq!(
            err("-l /no/x"),
            "invalid value for -l '/no/x': The directory named as part of the path /no/x does not exist"
        );
        // The value is checked before the repeat.
        assert_eq!(
            err("-m 022 -m bad"),
            "invalid value for -m 'bad': bad can not be converted to an octal type"
        );
    }

    #[test]
    fn unwritable_pidfile_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(
            &conf,
            format!(
                "[supervisord]\nlogfile={d}/l.log\npidfile=/proc/sys/sd.pid\n",
                d = dir.path().display()
            ),
        )
        .unwrap();
        let config = supervisor_config::load(&conf).unwrap();
        let found = environment_checks(&config);
        if nix::unistd::access("/proc/sys", nix::unistd::AccessFlags::W_OK).is_ok() {
            eprintln!("skipped: /proc/sys is writable here");
            return;
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(
            (found[0].line, found[0].key.as_deref()),
            (Some(3), Some("pidfile"))
        );
        assert_eq!(
            found[0].message,
            "the pid file '/proc/sys/sd.pid' cannot be written: the directory '/proc/sys' is not writable (supervisord starts without it)"
        );
    }

    #[test]
    fn json_only_with_check_config() {
        assert_eq!(err("--json"), "option --json not recognized");
        assert_eq!(err("-n --json"), "option --json not recognized");
        let o = run("--json --check-config");
        assert!(o.json && o.check_config);
        assert_eq!(
            err("--json --json --check-config"),
            "conflicting command line option '--json'"
        );
        assert!(banner().ends_with(" (compatible with Supervisor 4.3.0)"));
        assert!(banner().starts_with(&format!("supervisor-rs {} ", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn environment_checks_name_file_line_section_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let conf = dir.path().join("s.conf");
        std::fs::write(
            &conf,
            format!("[supervisord]\nlogfile={d}/main.log\nchildlogdir={d}\n[unix_http_server]\nfile={d}/no/s.sock\n[program:a]\ncommand=/bin/sleep 1\ndirectory={d}/gone\nstdout_logfile={d}/a.log\n[program:b]\nenvironment=PATH=\"{d}\"\ncommand=sleep 1\n[fcgi-program:f]\ncommand=/bin/sleep 1\nsocket=unix://{d}/none/f.sock\n"),
        )
        .unwrap();
        let config = supervisor_config::load(&conf).unwrap();
        let checks = environment_checks(&config);
        assert!(checks.iter().all(|x| x.severity == Severity::Error));
        type Row = (
            String,
            Option<usize>,
            Option<String>,
            Option<String>,
            &'static str,
        );
        let found: Vec<Row> = checks
            .iter()
            .map(|x| {
                (
                    x.message.clone(),
                    x.line,
                    x.section.clone(),
                    x.key.clone(),
                    x.severity.as_str(),
                )
            })
            .collect();
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            found,
            vec![
                (format!("the unix socket '{d}/no/s.sock' of section 'unix_http_server' cannot be created: the directory '{d}/no' does not exist"), Some(5), s("unix_http_server"), s("file"), "error"),
                (format!("the directory '{d}/gone' of section 'program:a' does not exist"), Some(8), s("program:a"), s("directory"), "error"),
                // PATH from the program's environment=, as the daemon searches it
                ("the command of section 'program:b' cannot be run: can't find command 'sleep'".to_string(), Some(12), s("program:b"), s("command"), "error"),
                (format!("the unix socket '{d}/none/f.sock' of section 'fcgi-program:f' cannot be created: the directory '{d}/none' does not exist"), Some(15), s("fcgi-program:f"), s("socket"), "error"),
            ]
        );
    }

    #[test]
    fn help_and_version_act_in_order() {
        assert_eq!(parse(&args("-v -n -n")).unwrap(), Command::Version);
        assert_eq!(parse(&args("-n -v")).unwrap(), Command::Version);
        assert_eq!(parse(&args("-?")).unwrap(), Command::Help);
        assert_eq!(parse(&args("--he")).unwrap(), Command::Help);
        assert_eq!(err("-n -n -v"), "conflicting command line option '-n'");
        assert_eq!(err("-v x"), "positional arguments are not supported: ['x']");
    }

    #[test]
    fn values_and_forms() {
        let o = run("-nkt -c/etc/x.conf --logfile_max=1MB -z 3 -e DEBUG -m 0o27 -a 2048 --minprocs 300 -i me --check-config --profile_options=cumulative");
        assert!(o.nodaemon && o.nocleanup && o.strip_ansi && o.check_config);
        assert_eq!(o.configuration, Some(PathBuf::from("/etc/x.conf")));
        assert_eq!(o.logfile_maxbytes, Some(1024 * 1024));
        assert_eq!(o.logfile_backups, Some(3));
        assert_eq!(o.loglevel, Some(LogLevel::Debug));
        assert_eq!(o.umask, Some(0o27));
        assert_eq!(o.minfds, Some(2048));
        assert_eq!(o.minprocs, Some(300));
        assert_eq!(o.identifier.as_deref(), Some("me"));
        let o = run("--configuration /x -l syslog -j sd.pid -d /tmp -q /tmp -u root -s");
        assert_eq!(o.logfile.as_deref(), Some("syslog"));
        assert_eq!(o.pidfile.as_deref(), Some("sd.pid"));
        assert_eq!(o.directory, Some(PathBuf::from("/tmp")));
        assert!(o.silent);
        assert_eq!(run(""), Options::default());
    }

    #[test]
    fn python_int_rules() {
        assert_eq!(parse_int(" 7 "), Ok(7));
        assert_eq!(parse_int("+5"), Ok(5));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("010"), Ok(10));
        assert!(parse_int("1__0").is_err());
        assert!(parse_int("").is_err());
        assert_eq!(parse_octal("022"), Ok(0o22));
        assert_eq!(parse_octal("22"), Ok(0o22));
        assert_eq!(parse_byte_size("10 MB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("5kb"), Ok(5 * 1024));
        assert_eq!(
            parse_byte_size("10xb"),
            Err("invalid literal for int() with base 10: '10xb'".into())
        );
    }

    #[test]
    fn paths() {
        assert_eq!(normalize_path("/a/b/../c/./d"), PathBuf::from("/a/c/d"));
        assert!(normalize_path("x.log").is_absolute());
        assert_eq!(existing_dirpath("bare"), Ok("bare".into()));
        assert_eq!(existing_dirpath("/tmp/x"), Ok("/tmp/x".into()));
    }

    #[test]
    fn usage_text() {
        assert_eq!(
            UsageError::new("option --bogus not recognized").render("supervisord"),
            "Error: option --bogus not recognized\nFor help, use supervisord -h\n"
        );
        let h = help_text("/usr/bin/supervisord");
        for o in [
            "-c/",
            "-n/",
            "-s/",
            "-h/",
            "-v/",
            "-u/",
            "-m/",
            "-d/",
            "-l/",
            "-y/",
            "-z/",
            "-e/",
            "-j/",
            "-i/",
            "-q/",
            "-k/",
            "-a/",
            "-t/",
            "--minprocs",
            "--profile_options",
            "--check-config",
        ] {
            assert!(h.contains(o), "help lacks {o}");
        }
        assert!(h.contains("Usage: /usr/bin/supervisord [options]"));
    }

    /// Python side of the differential test: the reference's own option machinery with
    /// config reading switched off; prints one outcome line per JSON case.
    const PY_DRIVER: &str = r#"
import json, sys
from supervisor import options
class Stop(Exception):
    pass
def usage(self, msg):
    raise Stop('ERR:' + str(msg))
def help_(self, dummy):
    raise Stop('HELP')
def version(self, dummy):
    raise Stop('VERSION')
options.Options.usage = usage
options.Options.help = help_
options.ServerOptions.version = version
options.Options.process_config = lambda self, do_usage=True: None
options.ServerOptions.process_config = lambda self, do_usage=True: None
options.Options.default_configfile = lambda self: None
options.ServerOptions.default_configfile = lambda self: None
for line in sys.stdin:
    args = json.loads(line)
    o = options.ServerOptions()
    try:
        options.Options.realize(o, args=args, doc='', progname='supervisord')
        print('OK')
    except Stop as e:
        print(e.args[0])
"#;

    fn outcome(a: &[String]) -> String {
        match parse(a) {
            Ok(Command::Help) => "HELP".into(),
            Ok(Command::Version) => "VERSION".into(),
            Ok(Command::HashPassword) => "HASH-PASSWORD".into(),
            Ok(Command::Run(_)) => "OK".into(),
            Err(e) => format!("ERR:{}", e.message),
        }
    }

    #[test]
    fn differential_against_the_reference_option_parser() {
        // The reference must be there (as in config/tests/differential.rs): a missing venv
        // fails the test instead of passing it without a single comparison.
        let python = std::env::var_os("SUPERVISOR_RS_VENV")
            .map(|v| std::path::PathBuf::from(v).join("bin/python"))
            .unwrap_or_else(|| {
                std::path::PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../.venv/bin/python"
                ))
            });
        assert!(
            python.exists(),
            "the Python reference is missing: {} does not exist. Run scripts/setup-venv (or \
             scripts/test) or set SUPERVISOR_RS_VENV to a venv with supervisor==4.3.0",
            python.display()
        );
        const POOL: &[&str] = &[
            "-n",
            "-c",
            "x.conf",
            "--conf",
            "--configuration=a",
            "-nc",
            "-ck",
            "--nodaemon",
            "--nodaemon=1",
            "-m",
            "022",
            "9",
            "-m9",
            "--umask=0o7",
            "-y",
            "1MB",
            "1x",
            "--log",
            "--logfile_b=3",
            "-z",
            "1.5",
            "-e",
            "debug",
            "WARN",
            "warning",
            "-?",
            "-h",
            "--he",
            "-v",
            "--ver",
            "x",
            "--",
            "-",
            "-a",
            "10",
            "--minprocs",
            "-q",
            "/tmp",
            "/nonexistent",
            "-d",
            "-l",
            "/no/x",
            "-t",
            "-k",
            "-s",
            "--s",
            "--silent",
            "--bogus",
            "-x",
            "-u",
            "root",
            "--profile_options=calls",
            "-i",
            "id",
            "-j",
            "sd.pid",
            "-tk",
            "--strip",
            "--min",
            "-a1_0",
            "-y 5kb",
        ];
        // A fixed-seed generator keeps the case list reproducible.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let cases: Vec<Vec<String>> = (0..400)
            .map(|_| {
                let len = next(6);
                (0..len)
                    .map(|_| POOL[next(POOL.len())].to_string())
                    .collect()
            })
            .collect();
        let input: String = cases
            .iter()
            .map(|c| {
                let items: Vec<String> = c
                    .iter()
                    .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
                    .collect();
                format!("[{}]\n", items.join(","))
            })
            .collect();
        let mut child = std::process::Command::new(python)
            .arg("-c")
            .arg(PY_DRIVER)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let theirs: Vec<&str> = text.lines().collect();
        assert_eq!(theirs.len(), cases.len(), "python driver failed");
        let mut distinct = std::collections::BTreeSet::new();
        for (case, expected) in cases.iter().zip(theirs) {
            assert_eq!(outcome(case), expected, "args {case:?}");
            distinct.insert(expected);
        }
        // The pool must exercise many different paths, not one error over and over.
        assert!(
            distinct.len() >= 15,
            "only {} outcomes: {distinct:?}",
            distinct.len()
        );
        assert!(distinct.contains("OK") && distinct.contains("HELP"));
    }
}
