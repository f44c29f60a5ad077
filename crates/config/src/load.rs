//! Reading `supervisord.conf` the way Supervisor 4.3's `ServerOptions.read_config` (plus
//! the path handling of `realize`) does, in the same order, so the first error reported
//! is the reference's first error.

use crate::datatypes::{self as dt, LogName};
use crate::diagnostics::{self, Diagnostic, Severity};
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

    /// `get` inside the per-process loop: ENV_* globals, then the section's names, then the
    /// program's own `environment=` as ENV_* (most specific wins).
    fn getp(
        &self,
        section: &str,
        key: &str,
        common: &Expansions,
        prog: &Expansions,
    ) -> R<Option<Val>> {
        let Some(Entry { value, file, line }) = self.ini.get(section, key) else {
            return Ok(None);
        };
        let v = Val {
            value: value.clone(),
            key: key.to_string(),
            entry: Some((file.clone(), *line)),
        };
        if !v.value.contains('%') {
            return Ok(Some(v));
        }
        let scope = Scope::three(&self.environ, common, prog);
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

    /// A group's `priority=`: a Python int that must also fit 32 bits, `default` when absent.
    fn group_priority(
        &self,
        section: &str,
        default: i64,
        extra: &Expansions,
    ) -> Result<i32, ConfigError> {
        let e = |f: Fail| f.into_error(Some(section), None);
        let priority = self
            .get_int_default(section, "priority", default, extra)
            .map_err(e)?;
        dt::int_in(priority, &priority.to_string()).map_err(|m| e(Fail::msg(m)))
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
    check_with_context(path, ctx).0
}

/// [`load_with_context`], also returning the findings of the load (unknown keys and
/// sections, repeats, include patterns without a match...) even when it fails.
pub fn check_with_context(
    path: &Path,
    ctx: &LoadContext,
) -> (Result<Config, ConfigError>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let result = load_inner(path, ctx, &mut diags).map(|mut c| {
        c.diagnostics = diags.clone();
        c
    });
    (result, diags)
}

/// Every key of the document with its place, for messages about values.
fn source_map(ini: &Ini) -> SourceMap {
    let mut m = SourceMap::default();
    for k in ini.defaults.keys() {
        if let Some(e) = ini.defaults.get(k) {
            m.insert(None, k, e.file.clone(), e.line);
        }
    }
    for name in ini.section_names() {
        if let Some(sec) = ini.section(name) {
            for k in sec.entries.keys() {
                if let Some(e) = sec.entries.get(k) {
                    m.insert(Some(name), k, e.file.clone(), e.line);
                }
            }
        }
    }
    m
}

fn load_inner(
    path: &Path,
    ctx: &LoadContext,
    diags: &mut Vec<Diagnostic>,
) -> Result<Config, ConfigError> {
    let configfile = path.to_string_lossy().into_owned();
    let text = read_text(&configfile, &ctx.cwd)?;
    load_text(path, &text, ctx, true, diags)
}

/// Loads and validates `text` as if it were the content of the file `path`, which is
/// never read (`%(here)s` and relative paths still derive from it). `[include]` is
/// refused in the sense that its patterns match no file: each one gives the usual
/// `No file matches via include` warning. Reads no file (fuzzing, tests); like the
/// file loader it still checks that directories named in paths exist and asks the user
/// database for `user=`.
pub fn load_from_str(path: &Path, text: &str, ctx: &LoadContext) -> Result<Config, ConfigError> {
    let mut diags = Vec::new();
    load_text(path, text, ctx, false, &mut diags).map(|mut c| {
        c.diagnostics = diags;
        c
    })
}

fn load_text(
    path: &Path,
    text: &str,
    ctx: &LoadContext,
    read_includes: bool,
    diags: &mut Vec<Diagnostic>,
) -> Result<Config, ConfigError> {
    let configfile = path.to_string_lossy().into_owned();
    let here = dt::dirname(&dt::abspath(&configfile, &ctx.cwd)).to_string();
    let mut ini = Ini::new();
    parse_into(&mut ini, text, &configfile)?;

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

    let mut read_files: Vec<String> = vec![configfile.clone()];
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
        let files_at = ld
            .ini
            .get("include", "files")
            .map(|e| (e.file.to_string(), e.line));
        let include_diag = |code: &'static str, message: String, at_start: bool| {
            let mut d = diagnostics::diagnostic(
                Severity::Warning,
                code,
                message,
                files_at.as_ref().map(|(f, l)| (f.as_str(), *l)),
                Some("include"),
                Some("files"),
            );
            d.at_start = at_start;
            d
        };
        for pattern in files.split(dt::is_py_space).filter(|p| !p.is_empty()) {
            let pattern = if pattern.starts_with('/') {
                pattern.to_string()
            } else if base.ends_with('/') {
                format!("{base}{pattern}")
            } else {
                format!("{base}/{pattern}")
            };
            let mut names = if read_includes {
                crate::glob::glob(&pattern)
            } else {
                Vec::new()
            };
            if names.is_empty() {
                ld.warnings
                    .push(format!("No file matches via include \"{pattern}\""));
                // the start-up log already has the reference's line for it
                diags.push(include_diag(
                    "include-no-match",
                    format!(
                        "[include] files pattern {} matches no file",
                        py_repr(&pattern)
                    ),
                    false,
                ));
                continue;
            }
            names.sort();
            for filename in names {
                ld.infos
                    .push(format!("Included extra file \"{filename}\" during parsing"));
                // like RawConfigParser.read: files that cannot be opened are skipped
                let Ok(bytes) = std::fs::read(&filename) else {
                    diags.push(include_diag(
                        "include-unreadable",
                        format!(
                            "included file {} cannot be read and is skipped",
                            py_repr(&filename)
                        ),
                        true,
                    ));
                    continue;
                };
                read_files.push(filename.clone());
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
                ld.ini.expand_here_last_read(&inc_here);
            }
        }
    }

    diags.extend(diagnostics::from_ini(&ld.ini, &read_files));
    diagnostics::sort(diags, &read_files);
    let sources = source_map(&ld.ini);

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
        dt::name_to_uid(user).map_err(|m| {
            let at = sources.locate("supervisord", "user");
            ConfigError {
                file: at.map(|(f, _)| PathBuf::from(f)),
                line: at.map(|(_, l)| l),
                section: Some("supervisord".into()),
                key: Some("user".into()),
                message: m,
            }
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
        diagnostics: Vec::new(),
        sources,
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
        let name = section_suffix(&section).to_string();
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

/// The name after the first `:` of a section header (`program:web` -> `web`).
fn section_suffix(section: &str) -> &str {
    section.split_once(':').map(|x| x.1).unwrap_or("")
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
        let gname = dt::parse_name(section_suffix(&gsection)).map_err(|m| e(Fail::msg(m)))?;
        let programs = match ld.get(&gsection, "programs", None, &here).map_err(e)? {
            Some(v) => dt::parse_list_of_strings(&v.value),
            None => Vec::new(),
        };
        let priority = ld.group_priority(&gsection, 999, &here)?;
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
        let name = dt::parse_name(section_suffix(&section)).map_err(|m| e(Fail::msg(m)))?;
        let priority = ld.group_priority(&section, 999, &here)?;
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
        let pool = section_suffix(&section).to_string();
        let priority = ld.group_priority(&section, -1, &here)?;
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
        let name = dt::parse_name(section_suffix(&section)).map_err(|m| e(Fail::msg(m)))?;
        let priority = ld.group_priority(&section, 999, &here)?;
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
        // an empty path logs nothing in the reference (it only logs to truthy names)
        LogName::Path(p) if p.is_empty() => LogFile::None,
        LogName::Path(p) => LogFile::Path(PathBuf::from(p)),
    }
}

fn processes_inner(
    ld: &mut Loader<'_>,
    section: &str,
    group_name: &str,
    file: &str,
) -> R<Vec<ProcessConfig>> {
    let program_name = dt::parse_name(section_suffix(section)).map_err(Fail::msg)?;
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
    // Python keeps one dict for the whole loop: process_num/numprocs, then the global
    // ENV_* (re-applied each round), then this program's environment= as ENV_* (which
    // stays visible to later rounds). `prog_env` is that last layer; entries that shadow a
    // global are reset to the global value at the start of each round.
    let mut prog_env = Expansions::new();
    while process_num < end {
        common.set("process_num", PyVal::Int(process_num));
        common.set("numprocs", PyVal::Int(numprocs));
        let resets: Vec<(String, PyVal)> = prog_env
            .iter()
            .filter_map(|(k, _)| ld.environ.get(k).map(|g| (k.to_string(), g.clone())))
            .collect();
        for (k, g) in resets {
            prog_env.set(k, g);
        }
        let env_str = expand(
            &env_raw.value,
            &Scope::three(&common, &ld.environ, &prog_env),
            "environment",
        )
        .map_err(|m| Fail::at(m, &env_raw))?;
        let environment = dt_kv(&env_str).map_err(|m| Fail::at(m, &env_raw))?;
        for (k, v) in &environment {
            prog_env.set_str(format!("ENV_{k}"), v.clone());
        }
        let directory = ld
            .getp(s, "directory", &common, &prog_env)?
            .map(|v| v.value);

        let mut channels: Vec<LogChannelConfig> = Vec::new();
        let mut stderr_named = false;
        for ch in ["stdout", "stderr"] {
            let lf_key = format!("{ch}_logfile");
            let logfile = match ld.getp(s, &lf_key, &common, &prog_env)? {
                Some(v) => {
                    let twice = expand(
                        &v.value,
                        &Scope::three(&common, &ld.environ, &prog_env),
                        &lf_key,
                    )
                    .map_err(|m| Fail::at(m, &v))?;
                    conv(&Val { value: twice, ..v }, |x| {
                        dt::logfile_name(x, &cwd, home)
                    })?
                }
                None => LogName::Auto,
            };
            let backups = match ld.getp(s, &format!("{ch}_logfile_backups"), &common, &prog_env)? {
                Some(v) => conv(&v, dt::parse_int)?,
                None => 10,
            };
            let mb_key = format!("{ch}_logfile_maxbytes");
            let v = match ld.getp(s, &mb_key, &common, &prog_env)? {
                Some(v) => v,
                None => Val {
                    value: "50MB".into(),
                    key: mb_key.clone(),
                    entry: None,
                },
            };
            let maxbytes_signed = conv(&v, dt::parse_byte_size_signed)?;
            let maxbytes = dt::clamp_u64(maxbytes_signed);
            let sy_key = format!("{ch}_syslog");
            let mut syslog = match ld.getp(s, &sy_key, &common, &prog_env)? {
                Some(v) => conv(&v, dt::parse_bool)?,
                None => false,
            };
            if ch == "stderr" {
                stderr_named = matches!(logfile, LogName::Path(_));
            }
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
            if stderr_named {
                ld.warnings.push(format!(
                    "For [{s}], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored"
                ));
            }
            stderr.logfile = LogFile::None;
        }
        let command = match ld.getp(s, "command", &common, &prog_env)? {
            Some(v) => v.value,
            None => {
                return Err(Fail::msg(format!(
                    "program section {s} does not specify a command"
                )))
            }
        };
        let name = expand(
            &pn_raw.value,
            &Scope::three(&common, &ld.environ, &prog_env),
            "process_name",
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    struct T {
        dir: tempfile::TempDir,
    }

    impl T {
        fn new() -> Self {
            T {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn ctx(&self) -> LoadContext {
            LoadContext {
                environ: vec![
                    ("HOME".into(), "/home/u".into()),
                    (
                        "TMPDIR".into(),
                        self.dir.path().to_string_lossy().into_owned(),
                    ),
                    ("FOO".into(), "foo".into()),
                ],
                hostname: "box".into(),
                cwd: self.dir.path().to_path_buf(),
                uid: 0,
            }
        }
        fn load(&self, text: &str) -> Result<Config, ConfigError> {
            let p = self.dir.path().join("s.conf");
            std::fs::write(&p, text).unwrap();
            load_with_context(Path::new("s.conf"), &self.ctx())
        }
        fn here(&self) -> String {
            self.dir.path().to_string_lossy().into_owned()
        }
    }

    fn err(text: &str) -> String {
        T::new().load(text).unwrap_err().message
    }

    const SD: &str = "[supervisord]\n";

    #[test]
    fn load_from_str_matches_the_file_loader_and_refuses_includes() {
        let t = T::new();
        std::fs::write(
            t.dir.path().join("inc.conf"),
            "[program:fromfile]\ncommand=/bin/cat\n",
        )
        .unwrap();
        let text = "[supervisord]\nlogfile=%(here)s/x.log\n[program:cat]\ncommand=/bin/cat\n\
                    [include]\nfiles=inc.conf\n";
        // The pseudo path is never read: its directory exists, the file does not.
        std::fs::create_dir(t.dir.path().join("virtual")).unwrap();
        let c = load_from_str(Path::new("virtual/s.conf"), text, &t.ctx()).unwrap();
        let here = t.dir.path().join("virtual").to_string_lossy().into_owned();
        assert_eq!(
            c.supervisord.logfile,
            LogFile::Path(format!("{here}/x.log").into())
        );
        let names: Vec<&str> = c.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["cat"], "the include matched nothing");
        assert!(c
            .parse_messages
            .iter()
            .any(|m| m.text == format!("No file matches via include \"{here}/inc.conf\"")));
        // The file loader reads the include.
        let f = t.load(text).unwrap();
        assert_eq!(f.groups.len(), 2);
        let e = load_from_str(Path::new("s.conf"), "[supervisord]\nminfds=x\n", &t.ctx());
        assert_eq!(e.unwrap_err().message, err("[supervisord]\nminfds=x\n"));
    }

    #[test]
    fn supervisord_defaults() {
        let t = T::new();
        let c = t.load(SD).unwrap();
        let s = &c.supervisord;
        let here = t.here();
        assert_eq!(
            s.logfile,
            LogFile::Path(format!("{here}/supervisord.log").into())
        );
        assert_eq!(s.logfile_maxbytes, 50 * 1024 * 1024);
        assert_eq!(s.logfile_backups, 10);
        assert_eq!(s.loglevel, LogLevel::Info);
        assert_eq!(s.pidfile, PathBuf::from(format!("{here}/supervisord.pid")));
        assert_eq!(s.umask, 0o22);
        assert!(!s.nodaemon && !s.silent && !s.nocleanup && !s.strip_ansi);
        assert_eq!((s.minfds, s.minprocs), (1024, 200));
        assert_eq!(s.childlogdir, PathBuf::from(&here));
        assert_eq!(s.user, None);
        assert_eq!(s.directory, None);
        assert!(s.environment.is_empty());
        assert_eq!(s.identifier, "supervisor");
        assert!(c.unix_http_server.is_none());
        assert!(c.inet_http_servers.is_empty() && c.rpc_interfaces.is_empty());
        assert!(c.groups.is_empty() && c.parse_messages.is_empty());
    }

    #[test]
    fn supervisord_values() {
        let t = T::new();
        let c = t
            .load("[supervisord]\nlogfile=syslog\nlogfile_maxbytes=1KB\nlogfile_backups=3\nloglevel=DEBUG\numask=077\nnodaemon=yes\nsilent=on\nminfds=10\nminprocs=20\nnocleanup=1\nchildlogdir=/\nuser=root\ndirectory=%(here)s\nstrip_ansi=true\nenvironment=A=\"1\",B=%(ENV_FOO)s\nidentifier=id-%(ENV_FOO)s\n")
            .unwrap();
        let s = &c.supervisord;
        assert_eq!(s.logfile, LogFile::Syslog);
        assert_eq!((s.logfile_maxbytes, s.logfile_backups), (1024, 3));
        assert_eq!(s.loglevel, LogLevel::Debug);
        assert_eq!(s.umask, 0o77);
        assert!(s.nodaemon && s.silent && s.nocleanup && s.strip_ansi);
        assert_eq!((s.minfds, s.minprocs), (10, 20));
        assert_eq!(s.childlogdir, PathBuf::from("/"));
        assert_eq!(s.user.as_deref(), Some("root"));
        assert_eq!(s.directory, Some(PathBuf::from(t.here())));
        assert_eq!(
            s.environment,
            vec![("A".into(), "1".into()), ("B".into(), "foo".into())]
        );
        assert_eq!(s.identifier, "id-foo");
    }

    #[test]
    fn supervisord_validation_messages() {
        let cases = [
            ("minfds=x", "invalid literal for int() with base 10: 'x'"),
            ("minprocs=1.5", "invalid literal for int() with base 10: '1.5'"),
            ("directory=/nonexistent-xyz", "/nonexistent-xyz is not an existing directory"),
            ("umask=9", "9 can not be converted to an octal type"),
            ("logfile=/nonexistent-xyz/l", "The directory named as part of the path /nonexistent-xyz/l does not exist"),
            ("logfile_maxbytes=1XB", "invalid literal for int() with base 10: '1xb'"),
            ("logfile_backups=b", "invalid literal for int() with base 10: 'b'"),
            ("loglevel=warning", "bad logging level name 'warning'"),
            ("pidfile=/nonexistent-xyz/p", "The directory named as part of the path /nonexistent-xyz/p does not exist"),
            ("nodaemon=maybe", "not a valid boolean value: 'maybe'"),
            ("silent=2", "not a valid boolean value: '2'"),
            ("childlogdir=/nonexistent-xyz", "/nonexistent-xyz is not an existing directory"),
            ("nocleanup=x", "not a valid boolean value: 'x'"),
            ("strip_ansi=x", "not a valid boolean value: 'x'"),
            ("environment=A=1,B", "Unexpected end of key/value pairs in value 'A=1,B'"),
            ("user=nosuchuserxyz", "Invalid user name nosuchuserxyz"),
            ("identifier=%(nope)s", "Format string '%(nope)s' for 'supervisord.identifier' contains names ('nope') which cannot be expanded. Available names: ENV_FOO, ENV_HOME, ENV_TMPDIR, here"),
        ];
        for (line, want) in cases {
            assert_eq!(err(&format!("[supervisord]\n{line}\n")), want, "{line}");
        }
        assert_eq!(
            err("[program:a]\ncommand=a\n"),
            ".ini file does not include supervisord section"
        );
        assert_eq!(
            err("[supervisord]\n[include]\n"),
            ".ini file has [include] section, but no files setting"
        );
    }

    #[test]
    fn program_defaults() {
        let t = T::new();
        let c = t
            .load("[supervisord]\n[program:a]\ncommand=/bin/a\n")
            .unwrap();
        assert_eq!(c.groups.len(), 1);
        let g = &c.groups[0];
        assert_eq!(
            (g.name.as_str(), g.priority, &g.kind),
            ("a", 999, &GroupKind::Program)
        );
        let p = &g.processes[0];
        assert_eq!(p.name, "a");
        assert_eq!(p.group, "a");
        assert_eq!(p.section, "program:a");
        assert_eq!(p.file, PathBuf::from("s.conf"));
        assert_eq!(p.command, "/bin/a");
        assert_eq!(p.priority, 999);
        assert!(p.autostart);
        assert_eq!(p.autorestart, AutoRestart::Unexpected);
        assert_eq!((p.startsecs, p.startretries), (1, 3));
        assert_eq!(p.exitcodes, vec![0]);
        assert_eq!(p.stopsignal, 15);
        assert_eq!(p.stopwaitsecs, 10);
        assert!(!p.stopasgroup && !p.killasgroup && !p.redirect_stderr);
        assert_eq!((p.user.as_ref(), p.uid), (None, None));
        for ch in [&p.stdout, &p.stderr] {
            assert_eq!(ch.logfile, LogFile::Auto);
            assert_eq!(ch.logfile_maxbytes, 50 << 20);
            assert_eq!(ch.logfile_backups, 10);
            assert_eq!(ch.capture_maxbytes, 0);
            assert!(!ch.events_enabled && !ch.syslog);
        }
        assert!(p.environment.is_empty());
        assert_eq!(
            (p.directory.as_ref(), p.umask, p.serverurl.as_ref()),
            (None, None, None)
        );
    }

    #[test]
    fn program_values() {
        let t = T::new();
        let c = t
            .load("[supervisord]\n[program:a]\ncommand=run %(program_name)s %(process_num)02d/%(numprocs)d %(group_name)s %(host_node_name)s %(ENV_FOO)s %(ENV_X)s %%\nprocess_name=%(program_name)s-%(process_num)d\nnumprocs=2\nnumprocs_start=3\npriority=5\nautostart=false\nautorestart=true\nstartsecs=0\nstartretries=7\nexitcodes=0,2\nstopsignal=kill\nstopwaitsecs=1\nstopasgroup=true\nuser=root\nredirect_stderr=true\nstdout_logfile=%(here)s/o-%(process_num)d.log\nstdout_logfile_maxbytes=1MB\nstdout_logfile_backups=0\nstdout_capture_maxbytes=1KB\nstdout_events_enabled=true\nstdout_syslog=true\nenvironment=X=\"%(process_num)d\"\ndirectory=/d/%(ENV_X)s\numask=002\nserverurl=http://h:1\n")
            .unwrap();
        let g = &c.groups[0];
        assert_eq!(g.priority, 5);
        let names: Vec<&str> = g.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["a-3", "a-4"]);
        let p = &g.processes[1];
        assert_eq!(p.command, "run a 04/2 a box foo 4 %");
        assert!(!p.autostart);
        assert_eq!(p.autorestart, AutoRestart::Always);
        assert_eq!((p.startsecs, p.startretries, p.stopwaitsecs), (0, 7, 1));
        assert_eq!(p.exitcodes, vec![0, 2]);
        assert_eq!(p.stopsignal, 9);
        assert!(p.stopasgroup && p.killasgroup && p.redirect_stderr);
        assert_eq!(p.uid, Some(0));
        assert_eq!(
            p.stdout.logfile,
            LogFile::Path(format!("{}/o-4.log", t.here()).into())
        );
        assert_eq!(p.stdout.logfile_maxbytes, 1 << 20);
        assert_eq!(p.stdout.logfile_backups, 0);
        assert_eq!(p.stdout.capture_maxbytes, 1024);
        assert!(p.stdout.events_enabled && p.stdout.syslog);
        assert_eq!(p.stderr.logfile, LogFile::None);
        assert_eq!(p.environment, vec![("X".to_string(), "4".to_string())]);
        assert_eq!(p.directory.as_deref(), Some("/d/4"));
        assert_eq!(p.umask, Some(0o2));
        assert_eq!(p.serverurl.as_deref(), Some("http://h:1"));
    }

    #[test]
    fn program_validation_messages() {
        let suffix = " in section 'program:a' (file: 's.conf')";
        let cases = [
            ("autostart=x", "not a valid boolean value: 'x'"),
            ("autorestart=Sometimes", "invalid 'autorestart' value 'sometimes'"),
            ("startsecs=x", "invalid literal for int() with base 10: 'x'"),
            ("startretries=x", "invalid literal for int() with base 10: 'x'"),
            ("stopsignal=FOO", "value 'FOO' is not a valid signal name"),
            ("stopsignal=99", "value '99' is not a valid signal number"),
            ("stopwaitsecs=x", "invalid literal for int() with base 10: 'x'"),
            ("stopasgroup=x", "not a valid boolean value: 'x'"),
            ("killasgroup=x", "not a valid boolean value: 'x'"),
            ("exitcodes=300", "not a valid list of exit codes: '300'"),
            ("redirect_stderr=x", "not a valid boolean value: 'x'"),
            ("numprocs=x", "invalid literal for int() with base 10: 'x'"),
            ("numprocs=2", "%(process_num) must be present within process_name when numprocs > 1"),
            ("numprocs_start=x", "invalid literal for int() with base 10: 'x'"),
            ("environment=A", "Unexpected end of key/value pairs in value 'A'"),
            ("stdout_capture_maxbytes=x", "invalid literal for int() with base 10: 'x'"),
            ("stdout_events_enabled=x", "not a valid boolean value: 'x'"),
            ("stderr_capture_maxbytes=x", "invalid literal for int() with base 10: 'x'"),
            ("stderr_events_enabled=x", "not a valid boolean value: 'x'"),
            ("user=nosuchuserxyz", "Invalid user name nosuchuserxyz"),
            ("umask=x", "x can not be converted to an octal type"),
            ("process_name=a b", "Invalid name: 'a b' because of character: ' '"),
            ("stopasgroup=true\nkillasgroup=false", "Cannot set stopasgroup=true and killasgroup=false"),
            ("stdout_logfile=/nonexistent-xyz/o", "The directory named as part of the path /nonexistent-xyz/o does not exist"),
            ("stdout_logfile_backups=x", "invalid literal for int() with base 10: 'x'"),
            ("stdout_logfile_maxbytes=x", "invalid literal for int() with base 10: 'x'"),
            ("stdout_syslog=x", "not a valid boolean value: 'x'"),
            ("stderr_logfile=/nonexistent-xyz/e", "The directory named as part of the path /nonexistent-xyz/e does not exist"),
            ("command=%(process_num)", "Format string '%(process_num)' for 'program:a.command' is badly formatted: incomplete format"),
            ("startsecs=%(process_num)d", "Format string '%(process_num)d' for 'program:a.startsecs' contains names ('process_num') which cannot be expanded. Available names: ENV_FOO, ENV_HOME, ENV_TMPDIR, group_name, here, host_node_name, program_name"),
            ("stdout_logfile=a%%b", "Format string 'a%b' for 'stdout_logfile' is badly formatted: unsupported format character 'b' (0x62) at index 2"),
        ];
        for (line, want) in cases {
            let text = format!("[supervisord]\n[program:a]\ncommand=c\n{line}\n");
            assert_eq!(err(&text), format!("{want}{suffix}"), "{line}");
        }
        assert_eq!(
            err("[supervisord]\n[program:a]\n"),
            format!("program section program:a does not specify a command{suffix}")
        );
        // the group-level priority is read before the section is expanded: no suffix
        assert_eq!(
            err("[supervisord]\n[program:a]\ncommand=c\npriority=x\n"),
            "invalid literal for int() with base 10: 'x'"
        );
        assert_eq!(
            err("[supervisord]\n[program:a]\ncommand=c\npriority=%(program_name)s\n"),
            "Format string '%(program_name)s' for 'program:a.priority' contains names ('program_name') which cannot be expanded. Available names: ENV_FOO, ENV_HOME, ENV_TMPDIR, here"
        );
        assert_eq!(
            err("[supervisord]\n[program:a:b]\ncommand=c\n"),
            "Invalid name: 'a:b' because of character: ':'"
        );
    }

    #[test]
    fn program_error_carries_location() {
        let e = T::new()
            .load("[supervisord]\n[program:a]\ncommand=c\n\nstartsecs=x\n")
            .unwrap_err();
        assert_eq!(e.line, Some(5));
        assert_eq!(e.section.as_deref(), Some("program:a"));
        assert_eq!(e.key.as_deref(), Some("startsecs"));
        assert_eq!(e.file, Some(PathBuf::from("s.conf")));
        assert_eq!(e.location(), "s.conf:5 [program:a] startsecs");
    }

    #[test]
    fn program_parse_warnings() {
        let t = T::new();
        let c = t
            .load("[supervisord]\n[program:a]\ncommand=c\nstdout_logfile_maxbytes=0\nstderr_logfile=syslog\n[program:b]\ncommand=c\nredirect_stderr=true\nstderr_logfile=/tmp/x\n")
            .unwrap();
        let texts: Vec<&str> = c.parse_messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, vec![
            "For [program:a], AUTO logging used for stdout_logfile without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally",
            "For [program:a], stderr_logfile=syslog but this is deprecated and will be removed.  Use stderr_syslog=true to enable syslog instead.",
            "For [program:b], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored",
        ]);
        assert!(c.parse_messages.iter().all(|m| m.level == LogLevel::Warn));
        let a = &c.groups[0].processes[0];
        assert_eq!(a.stderr.logfile, LogFile::None);
        assert!(a.stderr.syslog);
    }

    #[test]
    fn groups_listeners_fcgi() {
        let t = T::new();
        let c = t
            .load("[supervisord]\n[program:w]\ncommand=w %(group_name)s\npriority=2\n[program:v]\ncommand=v\npriority=1\n[group:g]\nprograms=w,v\npriority=10\n[eventlistener:l]\ncommand=l\nevents=tick_5,PROCESS_STATE\n[fcgi-program:f]\ncommand=f\nsocket=unix://%(here)s/%(program_name)s.sock\n")
            .unwrap();
        let order: Vec<(&str, i32)> = c
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.priority))
            .collect();
        assert_eq!(order, vec![("l", -1), ("g", 10), ("f", 999)]);
        let GroupKind::EventListenerPool(pool) = &c.groups[0].kind else {
            panic!()
        };
        assert_eq!(
            pool.events,
            vec!["TICK_5".to_string(), "PROCESS_STATE".to_string()]
        );
        assert_eq!(pool.buffer_size, 10);
        assert_eq!(pool.result_handler, DEFAULT_RESULT_HANDLER);
        assert_eq!(c.groups[0].processes[0].priority, 999);
        let g = &c.groups[1];
        assert_eq!(g.kind, GroupKind::Heterogeneous);
        assert_eq!(g.processes[0].command, "w g");
        let GroupKind::FcgiProgram(sock) = &c.groups[2].kind else {
            panic!()
        };
        let path = format!("{}/f.sock", t.here());
        assert_eq!(sock.url, format!("unix://{path}"));
        assert_eq!(sock.address, SocketAddress::Unix(path.into()));
        assert_eq!((sock.backlog, sock.owner, sock.mode), (None, None, 0o700));
    }

    #[test]
    fn group_listener_fcgi_messages() {
        let cases = [
            ("[group:g]\nprograms=x\n", "[group:g] names unknown program or fcgi-program x"),
            ("[program:a]\ncommand=a\n[group:g]\nprograms=a,x\n", "[program:a] names unknown program or fcgi-program x"),
            ("[program:a]\ncommand=a\n[fcgi-program:a]\ncommand=a\nsocket=tcp://h:1\n[group:g]\nprograms=a\n", "[group:g] name a is ambiguous (exists as program and fcgi-program)"),
            ("[group:g]\npriority=x\n", "invalid literal for int() with base 10: 'x'"),
            ("[eventlistener:l]\ncommand=l\n", "[eventlistener:l] section requires an \"events\" line"),
            ("[eventlistener:l]\ncommand=l\nevents=FOO\n", "Unknown event type FOO in [eventlistener:l] events"),
            ("[eventlistener:l]\ncommand=l\nevents=TICK_5\nbuffer_size=0\n", "[eventlistener:l] section sets invalid buffer_size (0)"),
            ("[eventlistener:l]\ncommand=l\nevents=TICK_5\nresult_handler=a:b\n", "a:b cannot be resolved within [eventlistener:l]"),
            ("[eventlistener:l]\ncommand=l\nevents=TICK_5\nredirect_stderr=true\n", "[eventlistener:l] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"),
            ("[fcgi-program:f]\ncommand=f\n", "[fcgi-program:f] section requires a \"socket\" line"),
            ("[fcgi-program:f]\ncommand=f\nsocket=foo\n", "('Bad socket format %s', 'foo') in [fcgi-program:f] socket"),
            ("[fcgi-program:f]\ncommand=f\nsocket=unix://x.sock\n", "('Unix socket path %s is not an absolute path', 'x.sock') in [fcgi-program:f] socket"),
            ("[fcgi-program:f]\ncommand=f\nsocket=tcp://h:1\nsocket_mode=0700\n", "socket_owner and socket_mode params should only be used with a Unix domain socket in [fcgi-program:f] socket"),
            ("[fcgi-program:f]\ncommand=f\nsocket=tcp://h:70000\n", "70000 is above upper bound (65535) in [fcgi-program:f] socket"),
            ("[fcgi-program:f]\ncommand=f\nsocket=tcp://h:1\nsocket_backlog=0\n", "Invalid socket_backlog value 0"),
            ("[fcgi-program:f]\ncommand=f\nsocket=unix:///s\nsocket_owner=nosuchuserxyz\n", "Invalid socket_owner value nosuchuserxyz"),
            ("[fcgi-program:f]\ncommand=f\nsocket=unix:///s\nsocket_mode=x\n", "Invalid socket_mode value x"),
            ("[rpcinterface:x]\n", "section [rpcinterface:x] does not specify a supervisor.rpcinterface_factory"),
            ("[rpcinterface:x]\nsupervisor.rpcinterface_factory=a:b\n", "a:b cannot be resolved within [rpcinterface:x]"),
        ];
        for (body, want) in cases {
            assert_eq!(err(&format!("{SD}{body}")), want, "{body}");
        }
    }

    #[test]
    fn fcgi_tcp_and_defaults() {
        let c = T::new()
            .load("[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=tcp://LocalHost:0900\nsocket_backlog=5\n")
            .unwrap();
        let GroupKind::FcgiProgram(sock) = &c.groups[0].kind else {
            panic!()
        };
        assert_eq!(sock.url, "tcp://localhost:900");
        assert_eq!(
            sock.address,
            SocketAddress::Tcp {
                host: "localhost".into(),
                port: 900
            }
        );
        assert_eq!(sock.backlog, Some(5));
    }

    #[test]
    fn servers() {
        let t = T::new();
        let c = t
            .load("[supervisord]\n[unix_http_server]\nfile=%(here)s/s.sock\n[inet_http_server]\nport=*:9001\nusername=u\npassword={SHA}abc\n")
            .unwrap();
        let u = c.unix_http_server.unwrap();
        assert_eq!(u.file, PathBuf::from(format!("{}/s.sock", t.here())));
        assert_eq!((u.chmod, u.chown, u.credentials), (0o700, None, None));
        let i = &c.inet_http_servers[0];
        assert_eq!((i.host.as_str(), i.port), ("", 9001));
        assert_eq!(i.credentials.as_ref().unwrap().password, "{SHA}abc");
        let cases = [
            ("[inet_http_server]\n", "section [inet_http_server] has no port value"),
            ("[inet_http_server]\nport=abc\n", "not a valid port number: 'abc' "),
            ("[inet_http_server]\nport=9001\nusername=u\n", "Section [inet_http_server] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified"),
            ("[unix_http_server]\n", "section [unix_http_server] has no file value"),
            ("[unix_http_server]\nfile=/s\nchmod=x\n", "Invalid chmod value x"),
            ("[unix_http_server]\nfile=/s\nchown=nosuchuserxyz\n", "Invalid sockchown value nosuchuserxyz"),
        ];
        for (body, want) in cases {
            assert_eq!(err(&format!("{SD}{body}")), want, "{body}");
        }
    }

    #[test]
    fn ctl_section() {
        let t = T::new();
        let p = t.dir.path().join("c.conf");
        std::fs::write(&p, "[supervisorctl]\n").unwrap();
        let c = load_ctl_with_context(&p, &t.ctx()).unwrap();
        assert_eq!(c, CtlConfig::default());
        std::fs::write(&p, "[supervisorctl]\nserverurl=unix://%(here)s/../x/s.sock\nusername=u\npassword=p\nprompt=box\nhistory_file=~/.h\n").unwrap();
        let c = load_ctl_with_context(&p, &t.ctx()).unwrap();
        let parent = t
            .dir
            .path()
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(c.serverurl, format!("unix://{parent}/x/s.sock"));
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref()),
            (Some("u"), Some("p"))
        );
        assert_eq!(c.prompt, "box");
        assert_eq!(c.history_file, Some(PathBuf::from("/home/u/.h")));
        std::fs::write(&p, "[supervisord]\n").unwrap();
        assert_eq!(
            load_ctl_with_context(&p, &t.ctx()).unwrap_err().message,
            ".ini file does not include supervisorctl section"
        );
        assert_eq!(
            load_ctl_with_context(Path::new("/nonexistent-xyz.conf"), &t.ctx())
                .unwrap_err()
                .message,
            "could not find config file /nonexistent-xyz.conf"
        );
    }

    #[test]
    fn include_files_and_messages() {
        let t = T::new();
        std::fs::create_dir(t.dir.path().join("conf.d")).unwrap();
        std::fs::write(
            t.dir.path().join("conf.d/b.ini"),
            "[program:b]\ncommand=b %(here)s\n",
        )
        .unwrap();
        std::fs::write(
            t.dir.path().join("conf.d/a.ini"),
            "[program:a]\ncommand=a\n[include]\nfiles=nested/*.ini\n",
        )
        .unwrap();
        let c = t
            .load("[supervisord]\n[include]\nfiles=conf.d/*.ini none/*.ini\n")
            .unwrap();
        let here = t.here();
        let texts: Vec<(LogLevel, &str)> = c
            .parse_messages
            .iter()
            .map(|m| (m.level, m.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            vec![
                (
                    LogLevel::Warn,
                    format!("No file matches via include \"{here}/none/*.ini\"").as_str()
                ),
                (
                    LogLevel::Info,
                    format!("Included extra file \"{here}/conf.d/a.ini\" during parsing").as_str()
                ),
                (
                    LogLevel::Info,
                    format!("Included extra file \"{here}/conf.d/b.ini\" during parsing").as_str()
                ),
            ]
        );
        assert_eq!(c.groups[1].processes[0].command, format!("b {here}/conf.d"));
        assert_eq!(
            c.groups[1].processes[0].file,
            PathBuf::from(format!("{here}/conf.d/b.ini"))
        );
    }

    #[test]
    fn parse_errors_name_the_file_and_line() {
        let e = T::new().load("[supervisord]\nnonsense\n").unwrap_err();
        assert_eq!(
            e.message,
            "Source contains parsing errors: 's.conf'\n\t[line  2]: 'nonsense\\n'"
        );
        assert_eq!(e.line, Some(2));
        assert_eq!(
            load_with_context(Path::new("/nonexistent-xyz.conf"), &T::new().ctx())
                .unwrap_err()
                .message,
            "could not find config file /nonexistent-xyz.conf"
        );
    }

    #[test]
    fn thousand_included_files_are_fast() {
        let t = T::new();
        std::fs::create_dir(t.dir.path().join("d")).unwrap();
        for i in 0..1000 {
            std::fs::write(
                t.dir.path().join(format!("d/p{i:04}.ini")),
                format!("[program:p{i}]\ncommand=run %(here)s\nstdout_logfile=%(here)s/p{i}.log\n"),
            )
            .unwrap();
        }
        let start = std::time::Instant::now();
        let c = t.load("[supervisord]\n[include]\nfiles=d/*.ini\n").unwrap();
        let took = start.elapsed();
        assert_eq!(c.groups.len(), 1000);
        assert_eq!(
            c.groups[0].processes[0].command,
            format!("run {}/d", t.here())
        );
        assert!(took.as_secs_f64() < 5.0, "took {took:?}");
        eprintln!("1000 included files parsed in {took:?}");
    }

    #[test]
    fn thousand_programs_are_fast() {
        let mut text = String::from("[supervisord]\n");
        for i in 0..1000 {
            text.push_str(&format!(
                "[program:p{i}]\ncommand=/bin/sleep %(process_num)d {i}\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\nenvironment=A=\"{i}\",B=%(ENV_FOO)s\nstdout_logfile=%(here)s/p{i}.log\n"
            ));
        }
        let t = T::new();
        let start = std::time::Instant::now();
        let c = t.load(&text).unwrap();
        let took = start.elapsed();
        assert_eq!(c.groups.len(), 1000);
        assert_eq!(
            c.groups.iter().map(|g| g.processes.len()).sum::<usize>(),
            2000
        );
        // generous for an unoptimised build on a busy 2-core machine; typically ~20 ms
        assert!(took.as_secs_f64() < 5.0, "took {took:?}");
        eprintln!("1000 programs / 2000 processes parsed in {took:?}");
    }
}
