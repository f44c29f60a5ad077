//! Reading `supervisord.conf` the way Supervisor 4.3's `ServerOptions.read_config` (plus
//! the path handling of `realize`) does, in the same order, so the first error reported
//! is the reference's first error.

use crate::datatypes::{self as dt, LogName};
use crate::ini::{Entry, Ini};
use crate::pyfmt::{expand, py_repr, py_strip, Expansions, PyVal, Scope};
use crate::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The one factory `[rpcinterface:x]` can name (we cannot import Python code).
pub const MAIN_RPCINTERFACE_FACTORY: &str = "supervisor.rpcinterface:make_main_rpcinterface";
/// The one `result_handler` an event listener can name.
pub const DEFAULT_RESULT_HANDLER: &str = "supervisor.dispatchers:default_handler";

/// Upper bound on `numprocs` (the reference has none; we refuse absurd counts instead of
/// allocating without bound).
pub const MAX_NUMPROCS: i64 = 100_000;

/// What the loader reads from the outside world (the process by default; fixed in tests).
#[derive(Debug, Clone)]
pub struct LoadContext {
    /// The environment (`ENV_*`, `HOME`, `TMPDIR`...), in order.
    pub environ: Vec<(String, String)>,
    /// `platform.node()`.
    pub hostname: String,
    /// The current directory (relative paths are resolved against it).
    pub cwd: PathBuf,
    /// Our uid (fcgi `socket_owner` defaulting).
    pub uid: u32,
}

impl LoadContext {
    /// The real process context.
    pub fn from_process() -> Self {
        LoadContext {
            environ: std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect(),
            hostname: hostname(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            uid: nix::unistd::getuid().as_raw(),
        }
    }

    fn home(&self) -> Option<&str> {
        self.environ
            .iter()
            .rev()
            .find(|(k, _)| k == "HOME")
            .map(|(_, v)| v.as_str())
    }
}

/// The host name as Python's `platform.node()` reports it.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A looked-up value and where it came from.
struct Val {
    value: String,
    key: String,
    entry: Option<(Arc<str>, usize)>,
}

/// A failure inside a section, before the section suffix is decided.
struct Fail {
    message: String,
    key: Option<String>,
    at: Option<(Arc<str>, usize)>,
}

impl Fail {
    fn msg(m: impl Into<String>) -> Self {
        Fail {
            message: m.into(),
            key: None,
            at: None,
        }
    }
    fn at(m: impl Into<String>, v: &Val) -> Self {
        Fail {
            message: m.into(),
            key: Some(v.key.clone()),
            at: v.entry.clone(),
        }
    }
    fn into_error(self, section: Option<&str>, suffix_file: Option<&str>) -> ConfigError {
        let message = match (section, suffix_file) {
            (Some(s), Some(f)) => format!(
                "{} in section {} (file: {})",
                self.message,
                py_repr(s),
                py_repr(f)
            ),
            _ => self.message,
        };
        ConfigError {
            file: self.at.as_ref().map(|(f, _)| PathBuf::from(f.as_ref())),
            line: self.at.as_ref().map(|(_, l)| *l),
            section: section.map(String::from),
            key: self.key,
            message,
        }
    }
}

type R<T> = Result<T, Fail>;

fn conv<T>(v: &Val, f: impl FnOnce(&str) -> Result<T, String>) -> R<T> {
    f(&v.value).map_err(|m| Fail::at(m, v))
}

struct Loader<'a> {
    ctx: &'a LoadContext,
    ini: Ini,
    /// `ENV_*` names (process environment, then `[supervisord] environment=`).
    environ: Expansions,
    here: String,
    /// The config file as given (used in the section suffix of errors).
    configfile: String,
    /// Sections first defined by an included file → that file.
    section_file: std::collections::HashMap<String, String>,
    warnings: Vec<String>,
    infos: Vec<String>,
}

impl<'a> Loader<'a> {
    fn home(&self) -> Option<&str> {
        self.ctx.home()
    }

    /// `saneget`: the raw value (or the default), expanded with ENV_* plus `extra`.
    fn get(
        &self,
        section: &str,
        key: &str,
        default: Option<&str>,
        extra: &Expansions,
    ) -> R<Option<Val>> {
        let (raw, entry) = match self.ini.get(section, key) {
            Some(Entry { value, file, line }) => (value.clone(), Some((file.clone(), *line))),
            None => match default {
                Some(d) => (d.to_string(), None),
                None => return Ok(None),
            },
        };
        let v = Val {
            value: raw,
            key: key.to_string(),
            entry,
        };
        let scope = Scope::two(&self.environ, extra);
        let value =
            expand(&v.value, &scope, &format!("{section}.{key}")).map_err(|m| Fail::at(m, &v))?;
        Ok(Some(Val { value, ..v }))
    }

    /// `get` for a key with a string default (never `None`).
    fn get_d(&self, section: &str, key: &str, default: &str, extra: &Expansions) -> R<Val> {
        Ok(self
            .get(section, key, Some(default), extra)?
            .expect("a default was given"))
    }

    /// The raw value without expansion.
    fn raw(&self, section: &str, key: &str, default: &str) -> Val {
        match self.ini.get(section, key) {
            Some(Entry { value, file, line }) => Val {
                value: value.clone(),
                key: key.to_string(),
                entry: Some((file.clone(), *line)),
            },
            None => Val {
                value: default.to_string(),
                key: key.to_string(),
                entry: None,
            },
        }
    }

    /// A non-string default in Python (an int): not expanded when absent.
    fn get_int_default(
        &self,
        section: &str,
        key: &str,
        default: i64,
        extra: &Expansions,
    ) -> R<i64> {
        match self.get(section, key, None, extra)? {
            Some(v) => conv(&v, dt::parse_int),
            None => Ok(default),
        }
    }

    fn section_error(&self, f: Fail, section: &str) -> ConfigError {
        f.into_error(Some(section), None)
            .with_section_file(self.file_of(section))
    }

    fn file_of(&self, section: &str) -> String {
        self.section_file
            .get(section)
            .cloned()
            .unwrap_or_else(|| self.configfile.clone())
    }
}

impl ConfigError {
    fn with_section_file(mut self, file: String) -> Self {
        if self.file.is_none() {
            self.file = Some(PathBuf::from(file));
        }
        self
    }
}

fn read_text(path: &str, cwd: &Path) -> Result<String, ConfigError> {
    let p = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        cwd.join(path)
    };
    if std::fs::symlink_metadata(&p).is_err() || !p.exists() {
        return Err(ConfigError::msg(format!(
            "could not find config file {path}"
        )));
    }
    match std::fs::read(&p) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| ConfigError {
            file: Some(PathBuf::from(path)),
            ..ConfigError::msg(format!(
                "could not read config file {path} (it is not valid UTF-8)"
            ))
        }),
        Err(_) => Err(ConfigError::msg(format!(
            "could not read config file {path}"
        ))),
    }
}

fn parse_into(ini: &mut Ini, text: &str, fpname: &str) -> Result<(), ConfigError> {
    let text = crate::ini::normalize_newlines(text);
    ini.read_str(&text, fpname).map_err(|e| ConfigError {
        file: Some(PathBuf::from(&e.file)),
        line: Some(e.line),
        section: None,
        key: None,
        message: e.message,
    })
}

/// Loads and validates `path` with an explicit context (environment, host name, cwd).
pub fn load_with_context(path: &Path, ctx: &LoadContext) -> Result<Config, ConfigError> {
    let configfile = path.to_string_lossy().into_owned();
    let here = dt::dirname(&dt::abspath(&configfile, &ctx.cwd)).to_string();
    let text = read_text(&configfile, &ctx.cwd)?;
    let mut ini = Ini::new();
    parse_into(&mut ini, &text, &configfile)?;

    let mut environ = Expansions::new();
    for (k, v) in &ctx.environ {
        environ.set_str(format!("ENV_{k}"), v.clone());
    }
    let mut ld = Loader {
        ctx,
        ini,
        environ,
        here: here.clone(),
        configfile: configfile.clone(),
        section_file: Default::default(),
        warnings: Vec::new(),
        infos: Vec::new(),
    };

    // expansions for [include] files and [supervisord] environment
    let mut inc_exp = Expansions::new();
    inc_exp.set_str("here", here.clone());
    inc_exp.set_str("host_node_name", ctx.hostname.clone());
    inc_exp.update(&ld.environ);

    if ld.ini.has_section("include") {
        ld.ini.expand_here(&here);
        let Some(files) = ld.ini.get("include", "files").cloned() else {
            return Err(ConfigError {
                section: Some("include".into()),
                ..ConfigError::msg(".ini file has [include] section, but no files setting")
            });
        };
        let files = expand(&files.value, &Scope::one(&inc_exp), "include.files").map_err(|m| {
            ConfigError {
                file: Some(PathBuf::from(files.file.as_ref())),
                line: Some(files.line),
                section: Some("include".into()),
                key: Some("files".into()),
                message: m,
            }
        })?;
        let base = here.clone();
        for pattern in files.split(dt::is_py_space).filter(|p| !p.is_empty()) {
            let pattern = if pattern.starts_with('/') {
                pattern.to_string()
            } else if base.ends_with('/') {
                format!("{base}{pattern}")
            } else {
                format!("{base}/{pattern}")
            };
            let mut names = crate::glob::glob(&pattern);
            if names.is_empty() {
                ld.warnings
                    .push(format!("No file matches via include \"{pattern}\""));
                continue;
            }
            names.sort();
            for filename in names {
                ld.infos
                    .push(format!("Included extra file \"{filename}\" during parsing"));
                // like RawConfigParser.read: files that cannot be opened are skipped
                let Ok(bytes) = std::fs::read(&filename) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let before: std::collections::HashSet<String> =
                    ld.ini.section_names().map(String::from).collect();
                parse_into(&mut ld.ini, &text, &filename)?;
                let new: Vec<String> = ld
                    .ini
                    .section_names()
                    .filter(|s| !before.contains(*s))
                    .map(String::from)
                    .collect();
                for s in new {
                    ld.section_file.insert(s, filename.clone());
                }
                let inc_here = dt::dirname(&dt::abspath(&filename, &ctx.cwd)).to_string();
                ld.ini.expand_here(&inc_here);
            }
        }
    }

    if !ld.ini.has_section("supervisord") {
        return Err(ConfigError::msg(
            ".ini file does not include supervisord section",
        ));
    }

    let supervisord =
        read_supervisord(&mut ld, &inc_exp).map_err(|f| f.into_error(Some("supervisord"), None))?;
    let rpc_interfaces = read_rpcinterfaces(&ld)?;
    let groups = read_groups(&mut ld)?;
    let (unix_http_server, inet_http_servers) = read_servers(&ld)?;

    // realize(): the [supervisord] user must exist; paths made absolute
    if let Some(user) = &supervisord.user {
        dt::name_to_uid(user).map_err(|m| ConfigError {
            section: Some("supervisord".into()),
            key: Some("user".into()),
            ..ConfigError::msg(m)
        })?;
    }

    let mut parse_messages = Vec::new();
    for w in ld.warnings {
        parse_messages.push(ParseMessage {
            level: LogLevel::Warn,
            text: w,
        });
    }
    for i in ld.infos {
        parse_messages.push(ParseMessage {
            level: LogLevel::Info,
            text: i,
        });
    }

    Ok(Config {
        path: path.to_path_buf(),
        supervisord,
        unix_http_server,
        inet_http_servers,
        rpc_interfaces,
        groups,
        parse_messages,
    })
}

fn read_supervisord(ld: &mut Loader<'_>, inc_exp: &Expansions) -> R<SupervisordConfig> {
    let s = "supervisord";
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    let cwd = ld.ctx.cwd.clone();
    let home = ld.home().map(String::from);
    let home = home.as_deref();

    let minfds = dt::clamp_u64(ld.get_int_default(s, "minfds", 1024, &here)?);
    let minprocs = dt::clamp_u64(ld.get_int_default(s, "minprocs", 200, &here)?);
    let directory = match ld.get(s, "directory", None, &here)? {
        Some(v) => Some(PathBuf::from(conv(&v, |x| {
            dt::existing_directory(x, &cwd, home)
        })?)),
        None => None,
    };
    let user = ld.get(s, "user", None, &here)?.map(|v| v.value);
    let v = ld.get_d(s, "umask", "022", &here)?;
    let umask = conv(&v, dt::parse_octal)?;
    let v = ld.get_d(s, "logfile", "supervisord.log", &here)?;
    let logfile = conv(&v, |x| dt::existing_dirpath(x, &cwd, home))?;
    let v = ld.get_d(s, "logfile_maxbytes", "50MB", &here)?;
    let logfile_maxbytes = conv(&v, dt::parse_byte_size)?;
    let v = ld.get_int_default(s, "logfile_backups", 10, &here)?;
    let logfile_backups = v.clamp(0, u32::MAX as i64) as u32;
    let v = ld.get_d(s, "loglevel", "info", &here)?;
    let loglevel = conv(&v, dt::parse_log_level)?;
    let v = ld.get_d(s, "pidfile", "supervisord.pid", &here)?;
    let pidfile = conv(&v, |x| dt::existing_dirpath(x, &cwd, home))?;
    let identifier = ld.get_d(s, "identifier", "supervisor", &here)?.value;
    let v = ld.get_d(s, "nodaemon", "false", &here)?;
    let nodaemon = conv(&v, dt::parse_bool)?;
    let v = ld.get_d(s, "silent", "false", &here)?;
    let silent = conv(&v, dt::parse_bool)?;
    let tempdir = dt::gettempdir(&ld.ctx.environ, &cwd);
    let v = ld.get_d(s, "childlogdir", &tempdir, &here)?;
    let childlogdir = conv(&v, |x| dt::existing_directory(x, &cwd, home))?;
    let v = ld.get_d(s, "nocleanup", "false", &here)?;
    let nocleanup = conv(&v, dt::parse_bool)?;
    let v = ld.get_d(s, "strip_ansi", "false", &here)?;
    let strip_ansi = conv(&v, dt::parse_bool)?;
    let v = ld.get_d(s, "environment", "", &here)?;
    let env_str =
        expand(&v.value, &Scope::one(inc_exp), "environment").map_err(|m| Fail::at(m, &v))?;
    let environment = dt_kv(&env_str).map_err(|m| Fail::at(m, &v))?;
    for (k, val) in &environment {
        ld.environ.set_str(format!("ENV_{k}"), val.clone());
    }

    // realize(): the main log and pid file become absolute (the log unless it is syslog)
    let logfile = if logfile == "syslog" {
        LogFile::Syslog
    } else {
        LogFile::Path(PathBuf::from(dt::normalize_path(&logfile, &cwd, home)))
    };
    let pidfile = PathBuf::from(dt::normalize_path(&pidfile, &cwd, home));

    Ok(SupervisordConfig {
        logfile,
        logfile_maxbytes,
        logfile_backups,
        loglevel,
        pidfile,
        umask,
        nodaemon,
        silent,
        minfds,
        minprocs,
        nocleanup,
        childlogdir: PathBuf::from(childlogdir),
        user,
        directory,
        strip_ansi,
        environment,
        identifier,
    })
}

fn dt_kv(s: &str) -> Result<Vec<(String, String)>, String> {
    crate::shlex::parse_key_value_pairs(s)
}

fn read_rpcinterfaces(ld: &Loader<'_>) -> Result<Vec<RpcInterfaceConfig>, ConfigError> {
    let key = "supervisor.rpcinterface_factory";
    let empty = Expansions::new();
    let mut out = Vec::new();
    let sections: Vec<String> = ld
        .ini
        .section_names()
        .filter(|s| s.starts_with("rpcinterface:"))
        .map(String::from)
        .collect();
    for section in sections {
        let err = |f: Fail| ld.section_error(f, &section);
        let name = section
            .split_once(':')
            .map(|x| x.1)
            .unwrap_or("")
            .to_string();
        let factory = match ld.get(&section, key, None, &empty).map_err(err)? {
            Some(v) => v.value,
            None => {
                return Err(err(Fail::msg(format!(
                    "section [{section}] does not specify a {key}"
                ))))
            }
        };
        if factory != MAIN_RPCINTERFACE_FACTORY {
            return Err(err(Fail::msg(format!(
                "{factory} cannot be resolved within [{section}]"
            ))));
        }
        let mut extra = Vec::new();
        for k in ld.ini.options(&section) {
            if k != key {
                let v = ld.get(&section, &k, None, &empty).map_err(err)?;
                extra.push((k, v.map(|v| v.value).unwrap_or_default()));
            }
        }
        out.push(RpcInterfaceConfig {
            name,
            factory,
            extra,
        });
    }
    Ok(out)
}

fn sections_with(ld: &Loader<'_>, prefix: &str) -> Vec<String> {
    ld.ini
        .section_names()
        .filter(|s| s.starts_with(prefix))
        .map(String::from)
        .collect()
}

fn read_groups(ld: &mut Loader<'_>) -> Result<Vec<GroupConfig>, ConfigError> {
    let mut groups: Vec<GroupConfig> = Vec::new();
    let mut exclude: std::collections::HashSet<String> = Default::default();
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    let all: std::collections::HashSet<String> = ld.ini.section_names().map(String::from).collect();

    for gsection in sections_with(ld, "group:") {
        let e = |f: Fail| f.into_error(Some(&gsection), None);
        let gname = dt::parse_name(gsection.split_once(':').map(|x| x.1).unwrap_or(""))
            .map_err(|m| e(Fail::msg(m)))?;
        let programs = match ld.get(&gsection, "programs", None, &here).map_err(e)? {
            Some(v) => dt::parse_list_of_strings(&v.value),
            None => Vec::new(),
        };
        let priority = ld
            .get_int_default(&gsection, "priority", 999, &here)
            .map_err(e)?;
        let priority: i32 =
            dt::int_in(priority, &priority.to_string()).map_err(|m| e(Fail::msg(m)))?;
        let mut processes = Vec::new();
        // Python reuses its loop variable: after the first member, messages name the
        // member's section instead of the group's.
        let mut shown = gsection.clone();
        for program in programs {
            let ps = format!("program:{program}");
            let fs = format!("fcgi-program:{program}");
            let (hp, hf) = (all.contains(&ps), all.contains(&fs));
            if !hp && !hf {
                return Err(e(Fail::msg(format!(
                    "[{shown}] names unknown program or fcgi-program {program}"
                ))));
            }
            if hp && hf {
                return Err(e(Fail::msg(format!(
                    "[{shown}] name {program} is ambiguous (exists as program and fcgi-program)"
                ))));
            }
            let member = if hp { ps } else { fs };
            exclude.insert(member.clone());
            processes.extend(processes_from_section(ld, &member, &gname)?);
            shown = member;
        }
        groups.push(GroupConfig {
            name: gname,
            priority,
            kind: GroupKind::Heterogeneous,
            processes,
        });
    }

    for section in sections_with(ld, "program:") {
        if exclude.contains(&section) {
            continue;
        }
        let e = |f: Fail| f.into_error(Some(&section), None);
        let name = dt::parse_name(section.split_once(':').map(|x| x.1).unwrap_or(""))
            .map_err(|m| e(Fail::msg(m)))?;
        let priority = ld
            .get_int_default(&section, "priority", 999, &here)
            .map_err(e)?;
        let priority: i32 =
            dt::int_in(priority, &priority.to_string()).map_err(|m| e(Fail::msg(m)))?;
        let processes = processes_from_section(ld, &section, &name)?;
        groups.push(GroupConfig {
            name,
            priority,
            kind: GroupKind::Program,
            processes,
        });
    }

    for section in sections_with(ld, "eventlistener:") {
        let e = |f: Fail| f.into_error(Some(&section), None);
        let pool = section
            .split_once(':')
            .map(|x| x.1)
            .unwrap_or("")
            .to_string();
        let priority = ld
            .get_int_default(&section, "priority", -1, &here)
            .map_err(e)?;
        let priority: i32 =
            dt::int_in(priority, &priority.to_string()).map_err(|m| e(Fail::msg(m)))?;
        let buffer_size = ld
            .get_int_default(&section, "buffer_size", 10, &here)
            .map_err(e)?;
        if buffer_size < 1 {
            return Err(e(Fail::msg(format!(
                "[{section}] section sets invalid buffer_size ({buffer_size})"
            ))));
        }
        let buffer_size: usize =
            dt::int_in(buffer_size, &buffer_size.to_string()).map_err(|m| e(Fail::msg(m)))?;
        let rh = ld
            .get_d(&section, "result_handler", DEFAULT_RESULT_HANDLER, &here)
            .map_err(e)?
            .value;
        if rh != DEFAULT_RESULT_HANDLER {
            return Err(e(Fail::msg(format!(
                "{rh} cannot be resolved within [{section}]"
            ))));
        }
        let ev = ld.get_d(&section, "events", "", &here).map_err(e)?;
        let mut events: Vec<String> = Vec::new();
        for name in dt::parse_list_of_strings(&ev.value) {
            let up = name.to_uppercase();
            if !events.contains(&up) {
                events.push(up);
            }
        }
        if events.is_empty() {
            return Err(e(Fail::msg(format!(
                "[{section}] section requires an \"events\" line"
            ))));
        }
        for name in &events {
            if supervisor_protocol::events::EventType::from_name(name).is_none() || name.is_empty()
            {
                return Err(e(Fail::at(
                    format!("Unknown event type {name} in [{section}] events"),
                    &ev,
                )));
            }
        }
        let v = ld
            .get_d(&section, "redirect_stderr", "false", &here)
            .map_err(e)?;
        if conv(&v, dt::parse_bool).map_err(e)? {
            return Err(e(Fail::at(format!("[{section}] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"), &v)));
        }
        let processes = processes_from_section(ld, &section, &pool)?;
        groups.push(GroupConfig {
            name: pool,
            priority,
            kind: GroupKind::EventListenerPool(EventListenerPoolConfig {
                events,
                buffer_size,
                result_handler: rh,
            }),
            processes,
        });
    }

    for section in sections_with(ld, "fcgi-program:") {
        if exclude.contains(&section) {
            continue;
        }
        let e = |f: Fail| f.into_error(Some(&section), None);
        let name = dt::parse_name(section.split_once(':').map(|x| x.1).unwrap_or(""))
            .map_err(|m| e(Fail::msg(m)))?;
        let priority = ld
            .get_int_default(&section, "priority", 999, &here)
            .map_err(e)?;
        let priority: i32 =
            dt::int_in(priority, &priority.to_string()).map_err(|m| e(Fail::msg(m)))?;
        let mut fcgi_exp = Expansions::new();
        fcgi_exp.set_str("program_name", name.clone());
        fcgi_exp.set_str("here", ld.here.clone());
        let proc_uid = match ld.get(&section, "user", None, &here).map_err(e)? {
            Some(v) => Some(conv(&v, dt::name_to_uid).map_err(e)?),
            None => None,
        };
        let backlog = match ld.get(&section, "socket_backlog", None, &here).map_err(e)? {
            Some(v) => {
                let n = conv(&v, dt::parse_int).map_err(e)?;
                if !(1..=65535).contains(&n) {
                    return Err(e(Fail::at(format!("Invalid socket_backlog value {n}"), &v)));
                }
                Some(n as u32)
            }
            None => None,
        };
        let owner = match ld.get(&section, "socket_owner", None, &here).map_err(e)? {
            Some(v) => Some(dt::parse_user_group(&v.value).map_err(|_| {
                e(Fail::at(
                    format!("Invalid socket_owner value {}", v.value),
                    &v,
                ))
            })?),
            None => None,
        };
        let mode = match ld.get(&section, "socket_mode", None, &here).map_err(e)? {
            Some(v) => Some(dt::parse_octal(&v.value).map_err(|_| {
                e(Fail::at(
                    format!("Invalid socket_mode value {}", v.value),
                    &v,
                ))
            })?),
            None => None,
        };
        let sock = ld.get(&section, "socket", None, &fcgi_exp).map_err(e)?;
        let sock = match sock {
            Some(v) if !v.value.is_empty() => v,
            _ => {
                return Err(e(Fail::msg(format!(
                    "[{section}] section requires a \"socket\" line"
                ))))
            }
        };
        let socket = parse_fcgi_socket(ld, &sock.value, proc_uid, owner, mode, backlog)
            .map_err(|m| e(Fail::at(format!("{m} in [{section}] socket"), &sock)))?;
        let processes = processes_from_section(ld, &section, &name)?;
        groups.push(GroupConfig {
            name,
            priority,
            kind: GroupKind::FcgiProgram(socket),
            processes,
        });
    }

    groups.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    Ok(groups)
}

fn parse_fcgi_socket(
    ld: &Loader<'_>,
    sock: &str,
    proc_uid: Option<u32>,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
    backlog: Option<u32>,
) -> Result<FcgiSocketConfig, String> {
    if let Some(path) = sock.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(format!(
                "('Unix socket path %s is not an absolute path', {})",
                py_repr(path)
            ));
        }
        let path = dt::normalize_path(path, &ld.ctx.cwd, ld.home());
        let owner = owner.or(match proc_uid {
            Some(u) if u != ld.ctx.uid => Some((u, dt::gid_for_uid(u))),
            _ => None,
        });
        return Ok(FcgiSocketConfig {
            url: format!("unix://{path}"),
            address: SocketAddress::Unix(PathBuf::from(path)),
            backlog,
            owner,
            mode: mode.unwrap_or(0o700),
        });
    }
    if owner.is_some() || mode.is_some() {
        return Err(
            "socket_owner and socket_mode params should only be used with a Unix domain socket"
                .into(),
        );
    }
    if let Some(rest) = sock.strip_prefix("tcp://") {
        if let Some((host, port)) = rest.rsplit_once(':') {
            let host_ok =
                !host.is_empty() && !host.contains(':') && !host.chars().any(dt::is_py_space);
            let port_ok = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
            if host_ok && port_ok {
                let n: i64 = port.parse().unwrap_or(i64::MAX);
                if n < 1 {
                    return Err(format!("{n} is below lower bound (1)"));
                }
                if n > 65535 {
                    return Err(format!("{n} is above upper bound (65535)"));
                }
                let host = host.to_lowercase();
                return Ok(FcgiSocketConfig {
                    url: format!("tcp://{host}:{n}"),
                    address: SocketAddress::Tcp {
                        host,
                        port: n as u16,
                    },
                    backlog,
                    owner: None,
                    mode: 0o700,
                });
            }
        }
    }
    Err(format!("('Bad socket format %s', {})", py_repr(sock)))
}

fn processes_from_section(
    ld: &mut Loader<'_>,
    section: &str,
    group_name: &str,
) -> Result<Vec<ProcessConfig>, ConfigError> {
    let file = ld.file_of(section);
    processes_inner(ld, section, group_name, &file).map_err(|f| {
        let mut e = f.into_error(Some(section), Some(&file));
        if e.file.is_none() {
            e.file = Some(PathBuf::from(&file));
        }
        e
    })
}

fn logname_to_logfile(n: LogName) -> LogFile {
    match n {
        LogName::None => LogFile::None,
        LogName::Auto => LogFile::Auto,
        LogName::Syslog => LogFile::Syslog,
        LogName::Path(p) => LogFile::Path(PathBuf::from(p)),
    }
}

fn processes_inner(
    ld: &mut Loader<'_>,
    section: &str,
    group_name: &str,
    file: &str,
) -> R<Vec<ProcessConfig>> {
    let program_name =
        dt::parse_name(section.split_once(':').map(|x| x.1).unwrap_or("")).map_err(Fail::msg)?;
    let cwd = ld.ctx.cwd.clone();
    let home = ld.home().map(String::from);
    let home = home.as_deref();
    let mut common = Expansions::new();
    common.set_str("here", ld.here.clone());
    common.set_str("program_name", program_name.clone());
    common.set_str("host_node_name", ld.ctx.hostname.clone());
    common.set_str("group_name", group_name.to_string());
    let s = section;

    let gi = |ld: &Loader<'_>, key: &str, d: i64, c: &Expansions| ld.get_int_default(s, key, d, c);
    let gb = |ld: &Loader<'_>, key: &str, d: &str, c: &Expansions| -> R<bool> {
        let v = ld.get_d(s, key, d, c)?;
        conv(&v, dt::parse_bool)
    };
    let narrow = |v: i64, key: &str| -> R<i32> {
        dt::int_in(v, &v.to_string()).map_err(|m| Fail {
            message: m,
            key: Some(key.to_string()),
            at: None,
        })
    };

    let priority = narrow(gi(ld, "priority", 999, &common)?, "priority")?;
    let autostart = gb(ld, "autostart", "true", &common)?;
    let v = ld.get_d(s, "autorestart", "unexpected", &common)?;
    let autorestart = conv(&v, |x| {
        let l = x.to_lowercase();
        match l.as_str() {
            "yes" | "true" | "on" | "1" => Ok(AutoRestart::Always),
            "no" | "false" | "off" | "0" => Ok(AutoRestart::Never),
            "unexpected" => Ok(AutoRestart::Unexpected),
            _ => Err(format!("invalid 'autorestart' value {}", py_repr(&l))),
        }
    })?;
    let startsecs = dt::clamp_u64(gi(ld, "startsecs", 1, &common)?);
    let startretries = gi(ld, "startretries", 3, &common)?.clamp(0, u32::MAX as i64) as u32;
    let v = ld.get_d(s, "stopsignal", "TERM", &common)?;
    let stopsignal = conv(&v, dt::parse_signal)?;
    let stopwaitsecs = dt::clamp_u64(gi(ld, "stopwaitsecs", 10, &common)?);
    let stopasgroup = gb(ld, "stopasgroup", "false", &common)?;
    let killasgroup = gb(
        ld,
        "killasgroup",
        if stopasgroup { "true" } else { "false" },
        &common,
    )?;
    let v = ld.get_d(s, "exitcodes", "0", &common)?;
    let exitcodes = conv(&v, dt::parse_exitcodes)?;
    let redirect_stderr = gb(ld, "redirect_stderr", "false", &common)?;
    let numprocs = gi(ld, "numprocs", 1, &common)?;
    let numprocs_start = gi(ld, "numprocs_start", 0, &common)?;
    let env_raw = ld.raw(s, "environment", "");
    let v = ld.get_d(s, "stdout_capture_maxbytes", "0", &common)?;
    let stdout_cmax = conv(&v, dt::parse_byte_size)?;
    let stdout_events = gb(ld, "stdout_events_enabled", "false", &common)?;
    let v = ld.get_d(s, "stderr_capture_maxbytes", "0", &common)?;
    let stderr_cmax = conv(&v, dt::parse_byte_size)?;
    let stderr_events = gb(ld, "stderr_events_enabled", "false", &common)?;
    let serverurl = ld.get(s, "serverurl", None, &common)?.map(|v| v.value);
    let serverurl = match serverurl {
        Some(u) if py_strip(&u).to_uppercase() == "AUTO" => None,
        other => other,
    };
    let user = ld.get(s, "user", None, &common)?;
    let uid = match &user {
        Some(v) => Some(conv(v, dt::name_to_uid)?),
        None => None,
    };
    let user = user.map(|v| v.value);
    let umask = match ld.get(s, "umask", None, &common)? {
        Some(v) => Some(conv(&v, dt::parse_octal)?),
        None => None,
    };
    let pn_raw = ld.raw(s, "process_name", "%(program_name)s");
    let process_name_raw = conv(&pn_raw, dt::parse_name)?;
    if numprocs > 1 && !process_name_raw.contains("%(process_num)") {
        return Err(Fail::at(
            "%(process_num) must be present within process_name when numprocs > 1",
            &pn_raw,
        ));
    }
    if stopasgroup && !killasgroup {
        return Err(Fail::msg(
            "Cannot set stopasgroup=true and killasgroup=false",
        ));
    }
    if numprocs > MAX_NUMPROCS {
        return Err(Fail::msg(format!(
            "numprocs {numprocs} is too large (at most {MAX_NUMPROCS})"
        )));
    }

    let mut out = Vec::new();
    let start = numprocs_start;
    let end = numprocs_start.saturating_add(numprocs.max(0));
    let mut process_num = start;
    while process_num < end {
        common.set("process_num", PyVal::Int(process_num));
        common.set("numprocs", PyVal::Int(numprocs));
        common.update(&ld.environ);
        let env_str = expand(&env_raw.value, &Scope::one(&common), "environment")
            .map_err(|m| Fail::at(m, &env_raw))?;
        let environment = dt_kv(&env_str).map_err(|m| Fail::at(m, &env_raw))?;
        for (k, v) in &environment {
            common.set_str(format!("ENV_{k}"), v.clone());
        }
        let directory = ld.get(s, "directory", None, &common)?.map(|v| v.value);

        let mut channels: Vec<LogChannelConfig> = Vec::new();
        for ch in ["stdout", "stderr"] {
            let lf_key = format!("{ch}_logfile");
            let logfile = match ld.get(s, &lf_key, None, &common)? {
                Some(v) => {
                    let twice = expand(&v.value, &Scope::one(&common), &lf_key)
                        .map_err(|m| Fail::at(m, &v))?;
                    conv(&Val { value: twice, ..v }, |x| {
                        dt::logfile_name(x, &cwd, home)
                    })?
                }
                None => LogName::Auto,
            };
            let backups = gi(ld, &format!("{ch}_logfile_backups"), 10, &common)?;
            let v = ld.get_d(s, &format!("{ch}_logfile_maxbytes"), "50MB", &common)?;
            let maxbytes_signed = conv(&v, dt::parse_byte_size_signed)?;
            let maxbytes = dt::clamp_u64(maxbytes_signed);
            let sy_key = format!("{ch}_syslog");
            let mut syslog = match ld.get(s, &sy_key, None, &common)? {
                Some(v) => conv(&v, dt::parse_bool)?,
                None => false,
            };
            let mut logfile = logname_to_logfile(logfile);
            if logfile == LogFile::Syslog {
                ld.warnings.push(format!(
                    "For [{s}], {lf_key}=syslog but this is deprecated and will be removed.  Use {sy_key}=true to enable syslog instead."
                ));
                logfile = LogFile::None;
                syslog = true;
            }
            if logfile == LogFile::Auto && maxbytes_signed == 0 {
                ld.warnings.push(format!(
                    "For [{s}], AUTO logging used for {lf_key} without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally"
                ));
            }
            let (cmax, events) = if ch == "stdout" {
                (stdout_cmax, stdout_events)
            } else {
                (stderr_cmax, stderr_events)
            };
            channels.push(LogChannelConfig {
                logfile,
                logfile_maxbytes: maxbytes,
                logfile_backups: backups.clamp(0, u32::MAX as i64) as u32,
                capture_maxbytes: cmax,
                events_enabled: events,
                syslog,
            });
        }
        let mut stderr = channels.pop().expect("two channels");
        let stdout = channels.pop().expect("two channels");
        if redirect_stderr {
            if matches!(stderr.logfile, LogFile::Path(_)) {
                ld.warnings.push(format!(
                    "For [{s}], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored"
                ));
            }
            stderr.logfile = LogFile::None;
        }
        let command = match ld.get(s, "command", None, &common)? {
            Some(v) => v.value,
            None => {
                return Err(Fail::msg(format!(
                    "program section {s} does not specify a command"
                )))
            }
        };
        let name = expand(&pn_raw.value, &Scope::one(&common), "process_name")
            .map_err(|m| Fail::at(m, &pn_raw))?;
        out.push(ProcessConfig {
            name,
            group: group_name.to_string(),
            section: s.to_string(),
            file: PathBuf::from(file),
            command,
            priority,
            autostart,
            autorestart,
            startsecs,
            startretries,
            exitcodes: exitcodes.clone(),
            stopsignal,
            stopwaitsecs,
            stopasgroup,
            killasgroup,
            user: user.clone(),
            uid,
            redirect_stderr,
            stdout,
            stderr,
            environment,
            directory,
            umask,
            serverurl: serverurl.clone(),
        });
        process_num += 1;
    }
    out.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    Ok(out)
}

fn read_servers(
    ld: &Loader<'_>,
) -> Result<(Option<UnixHttpServerConfig>, Vec<InetHttpServerConfig>), ConfigError> {
    let empty = Expansions::new();
    let mut inet = Vec::new();
    let creds = |section: &str| -> Result<Option<Credentials>, ConfigError> {
        let e = |f: Fail| f.into_error(Some(section), None);
        let u = ld.get(section, "username", None, &empty).map_err(e)?;
        let p = ld.get(section, "password", None, &empty).map_err(e)?;
        match (u, p) {
            (None, None) => Ok(None),
            (Some(u), Some(p)) => Ok(Some(Credentials {
                username: u.value,
                password: p.value,
            })),
            _ => Err(e(Fail::msg(format!("Section [{section}] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified")))),
        }
    };
    for section in sections_with(ld, "inet_http_server") {
        let e = |f: Fail| f.into_error(Some(&section), None);
        let credentials = creds(&section)?;
        let port = match ld.get(&section, "port", None, &empty).map_err(e)? {
            Some(v) => v,
            None => {
                return Err(e(Fail::msg(format!(
                    "section [{section}] has no port value"
                ))))
            }
        };
        let (host, port) = conv(&port, dt::parse_inet_address).map_err(e)?;
        inet.push(InetHttpServerConfig {
            section: section.clone(),
            host,
            port,
            credentials,
        });
    }
    let mut unix = Vec::new();
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    for section in sections_with(ld, "unix_http_server") {
        let e = |f: Fail| f.into_error(Some(&section), None);
        let file = match ld.get(&section, "file", None, &here).map_err(e)? {
            Some(v) => v,
            None => {
                return Err(e(Fail::msg(format!(
                    "section [{section}] has no file value"
                ))))
            }
        };
        let file = dt::normalize_path(py_strip(&file.value), &ld.ctx.cwd, ld.home());
        let credentials = creds(&section)?;
        let chown = match ld.get(&section, "chown", None, &empty).map_err(e)? {
            Some(v) => Some(
                dt::parse_user_group(&v.value)
                    .map_err(|_| e(Fail::at(format!("Invalid sockchown value {}", v.value), &v)))?,
            ),
            None => None,
        };
        let chmod = match ld.get(&section, "chmod", None, &empty).map_err(e)? {
            Some(v) => dt::parse_octal(&v.value)
                .map_err(|_| e(Fail::at(format!("Invalid chmod value {}", v.value), &v)))?,
            None => 0o700,
        };
        unix.push(UnixHttpServerConfig {
            section: section.clone(),
            file: PathBuf::from(file),
            chmod,
            chown,
            credentials,
        });
    }
    Ok((unix.into_iter().next(), inet))
}

/// Reads the `[supervisorctl]` section (ctl ignores `[include]`).
pub fn load_ctl_with_context(path: &Path, ctx: &LoadContext) -> Result<CtlConfig, ConfigError> {
    let configfile = path.to_string_lossy().into_owned();
    let home = ctx.home();
    let here = dt::dirname(&dt::normalize_path(&configfile, &ctx.cwd, home)).to_string();
    let text = read_text(&configfile, &ctx.cwd)?;
    let mut ini = Ini::new();
    parse_into(&mut ini, &text, &configfile)?;
    if !ini.has_section("supervisorctl") {
        return Err(ConfigError::msg(
            ".ini file does not include supervisorctl section",
        ));
    }
    let mut environ = Expansions::new();
    for (k, v) in &ctx.environ {
        environ.set_str(format!("ENV_{k}"), v.clone());
    }
    let ld = Loader {
        ctx,
        ini,
        environ,
        here: here.clone(),
        configfile,
        section_file: Default::default(),
        warnings: vec![],
        infos: vec![],
    };
    let s = "supervisorctl";
    let e = |f: Fail| f.into_error(Some(s), None);
    let mut hx = Expansions::new();
    hx.set_str("here", here);
    let empty = Expansions::new();
    let mut serverurl = ld
        .get_d(s, "serverurl", "http://localhost:9001", &hx)
        .map_err(e)?
        .value;
    if let Some(p) = serverurl.strip_prefix("unix://") {
        serverurl = format!("unix://{}", dt::normalize_path(p, &ctx.cwd, home));
    }
    let prompt = ld
        .get_d(s, "prompt", "supervisor", &empty)
        .map_err(e)?
        .value;
    let username = ld
        .get(s, "username", None, &empty)
        .map_err(e)?
        .map(|v| v.value);
    let password = ld
        .get(s, "password", None, &empty)
        .map_err(e)?
        .map(|v| v.value);
    let history_file = ld
        .get(s, "history_file", None, &hx)
        .map_err(e)?
        .map(|v| v.value)
        .filter(|v| !v.is_empty())
        .map(|v| PathBuf::from(dt::normalize_path(&v, &ctx.cwd, home)));
    Ok(CtlConfig {
        serverurl,
        username,
        password,
        prompt,
        history_file,
    })
}
