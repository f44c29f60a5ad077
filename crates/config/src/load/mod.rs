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

mod access;
pub mod deps;
mod group;
mod health;
mod healthcheck;
mod logopts;
mod program;
mod resources;
mod restart;
mod supervisord;
mod tls;

use group::read_groups;
pub use supervisord::load_ctl_with_context;
use supervisord::{read_rpcinterfaces, read_servers, read_supervisord};

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
            uid: crate::sys::getuid(),
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
    crate::sys::hostname()
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

/// What the readers of one section return: a [`Fail`] gets the section suffix later.
type SectionResult<T> = Result<T, Fail>;

fn conv<T>(v: &Val, f: impl FnOnce(&str) -> Result<T, String>) -> SectionResult<T> {
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
    /// A loader over the parsed document `ini` of the config file `configfile` (in the
    /// directory `here`), with the context's environment as the `ENV_*` names.
    fn new(ctx: &'a LoadContext, ini: Ini, here: String, configfile: String) -> Self {
        let mut environ = Expansions::new();
        for (k, v) in &ctx.environ {
            environ.set_str(format!("ENV_{k}"), v.clone());
        }
        Loader {
            ctx,
            ini,
            environ,
            here,
            configfile,
            section_file: Default::default(),
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

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
    ) -> SectionResult<Option<Val>> {
        if default.is_none() && self.ini.get(section, key).is_none() {
            return Ok(None);
        }
        let v = self.raw(section, key, default.unwrap_or_default());
        self.expand(section, v, extra).map(Some)
    }

    /// A looked-up value expanded with ENV_* plus `extra`.
    fn expand(&self, section: &str, v: Val, extra: &Expansions) -> SectionResult<Val> {
        let scope = Scope::two(&self.environ, extra);
        let value = expand(&v.value, &scope, &format!("{section}.{}", v.key))
            .map_err(|m| Fail::at(m, &v))?;
        Ok(Val { value, ..v })
    }

    /// `get` inside the per-process loop: ENV_* globals, then the section's names, then the
    /// program's own `environment=` as ENV_* (most specific wins).
    fn getp(
        &self,
        section: &str,
        key: &str,
        common: &Expansions,
        prog: &Expansions,
    ) -> SectionResult<Option<Val>> {
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
    fn get_d(
        &self,
        section: &str,
        key: &str,
        default: &str,
        extra: &Expansions,
    ) -> SectionResult<Val> {
        self.expand(section, self.raw(section, key, default), extra)
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
    ) -> SectionResult<i64> {
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

    let mut ld = Loader::new(ctx, ini, here.clone(), configfile.clone());

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
    deps::validate(&groups, &sources)?;
    let server_access = access::read_server_access(&ld)?;
    let health_open = health::read_health_open(&ld)?;

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
        server_access,
        health_open,
        groups,
        parse_messages,
        diagnostics: Vec::new(),
        sources,
    })
}

fn dt_kv(s: &str) -> Result<Vec<(String, String)>, String> {
    crate::shlex::parse_key_value_pairs(s)
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

#[cfg(test)]
mod tests;
