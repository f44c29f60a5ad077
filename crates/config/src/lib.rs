//! supervisor-config: `supervisord.conf` → a typed, validated, expanded model.
//!
//! This crate reads files and nothing else: it never spawns, binds or opens logs. It
//! reproduces the observable behaviour of Python Supervisor 4.3's option parsing (the INI
//! dialect of `RawConfigParser`, `%(name)s` expansions, `[include]`, every section's keys,
//! defaults, value types and validation messages) and produces a [`model::Config`] in which
//! programs are already expanded into process configs and groups.
//!
//! Errors are [`ConfigError`]s whose `Display` is the reference's message (what a script
//! may grep), with the file, line, section and key kept as fields for richer reporting.
//!
//! Entry points: [`load()`], [`load_with_env`], [`load_ctl`], [`find_config`],
//! [`split_command`] and the value parsers re-exported from [`datatypes`].

#![forbid(unsafe_code)]

pub mod checks;
pub mod datatypes;
pub mod diagnostics;
pub mod error;
pub mod glob;
pub mod ini;
pub mod keys;
pub mod load;
pub mod model;
pub mod pyfmt;
pub mod resources;
pub mod restart;
pub mod sample;
pub mod shlex;
pub mod sys;

pub use checks::{Check, HealthAction, HealthConfig, LogPattern, ReadyConfig};
pub use datatypes::{
    parse_bool, parse_byte_size, parse_exitcodes, parse_inet_address, parse_int, parse_log_level,
    parse_name, parse_octal, parse_signal, parse_url, signal_name,
};
pub use diagnostics::{Diagnostic, Severity, Verdict};
pub use error::ConfigError;
pub use load::LoadContext;
pub use model::*;
pub use restart::{BackoffKind, EnvFile, LimitValue, RestartPolicy, Rlimit};
pub use sample::SAMPLE_CONF;
pub use shlex::split_command;

use std::path::{Path, PathBuf};

/// Loads `path` as supervisord does, using the process environment for `ENV_*`, the real
/// host name and the current directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load::load_with_context(path, &LoadContext::from_process())
}

/// Loads `path` with a given environment and host name (cwd and uid from the process).
pub fn load_with_env(
    path: &Path,
    env: &[(String, String)],
    hostname: &str,
) -> Result<Config, ConfigError> {
    let mut ctx = LoadContext::from_process();
    ctx.environ = env.to_vec();
    ctx.hostname = hostname.to_string();
    load::load_with_context(path, &ctx)
}

/// Loads `path` as [`load()`] does and also returns the findings of the load even when it
/// fails (what `--check-config` reports): `(result, findings)`. On success the findings
/// are the same as [`Config::diagnostics`].
pub fn check(path: &Path) -> (Result<Config, ConfigError>, Vec<Diagnostic>) {
    load::check_with_context(path, &LoadContext::from_process())
}

/// Reads supervisorctl's `[supervisorctl]` section from `path` (required when a file is
/// given: `.ini file does not include supervisorctl section`).
pub fn load_ctl(path: &Path) -> Result<CtlConfig, ConfigError> {
    load::load_ctl_with_context(path, &LoadContext::from_process())
}

/// The default config locations, in search order, for an executable invoked as `argv0`.
pub fn search_paths(argv0: &str) -> Vec<PathBuf> {
    let here = datatypes::dirname(datatypes::dirname(argv0));
    let join = |tail: &str| {
        if here.is_empty() {
            PathBuf::from(tail)
        } else if here.ends_with('/') {
            PathBuf::from(format!("{here}{tail}"))
        } else {
            PathBuf::from(format!("{here}/{tail}"))
        }
    };
    vec![
        join("etc/supervisord.conf"),
        join("supervisord.conf"),
        PathBuf::from("supervisord.conf"),
        PathBuf::from("etc/supervisord.conf"),
        PathBuf::from("/etc/supervisord.conf"),
        PathBuf::from("/etc/supervisor/supervisord.conf"),
    ]
}

/// The first existing default config file, if any.
pub fn find_config(argv0: &str) -> Option<PathBuf> {
    search_paths(argv0).into_iter().find(|p| p.exists())
}

/// `No config file found at default paths (<p1>, <p2>, ...); use the -c option to specify
/// a config file at a different path` (the text after `Error: `).
pub fn no_config_found_message(argv0: &str) -> String {
    let paths: Vec<String> = search_paths(argv0)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    format!(
        "No config file found at default paths ({}); use the -c option to specify a config file at a different path",
        paths.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_paths_like_reference() {
        let p = search_paths("/usr/local/bin/supervisord");
        assert_eq!(p[0], PathBuf::from("/usr/local/etc/supervisord.conf"));
        assert_eq!(p[1], PathBuf::from("/usr/local/supervisord.conf"));
        assert_eq!(p[2], PathBuf::from("supervisord.conf"));
        assert_eq!(p[5], PathBuf::from("/etc/supervisor/supervisord.conf"));
        let p = search_paths("supervisord");
        assert_eq!(p[0], PathBuf::from("etc/supervisord.conf"));
        assert_eq!(
            no_config_found_message("supervisord"),
            "No config file found at default paths (etc/supervisord.conf, supervisord.conf, supervisord.conf, etc/supervisord.conf, /etc/supervisord.conf, /etc/supervisor/supervisord.conf); use the -c option to specify a config file at a different path"
        );
    }
}
