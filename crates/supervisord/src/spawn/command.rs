//! The pure half of spawning: everything decided before any descriptor is made.
//!
//! Command resolution (shlex split, `PATH` search, the reference's `spawnerr` texts), the
//! child's environment and `SUPERVISOR_SERVER_URL`, and the privilege drop `user=` asks for
//! ([`UserPlan`], with every message the child may need already formatted). Nothing here
//! touches the process table or a descriptor, and no code here is `unsafe`: the system
//! calls it needs (`access`, `getuid`, the passwd and group lookups) go through `nix`.

#![forbid(unsafe_code)]

use std::ffi::{CString, OsString};
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use supervisor_config::{split_command, Config, ProcessConfig};

use super::pyfmt::py_repr;
use super::SpawnRequest;

/// The directories searched when neither the program nor the daemon has a `PATH`.
pub const DEFAULT_PATH: &[&str] = &["/bin", "/usr/bin", "/usr/local/bin"];

/// How a spawn failure maps onto XML-RPC faults (`startProcess`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnErrorKind {
    /// The command was not found (fault `NO_FILE`).
    NoFile,
    /// The command cannot be parsed or run: empty, unparsable, a directory, no x bit,
    /// no permission (fault `NOT_EXECUTABLE`).
    NotExecutable,
    /// Pipes, fork or environment could not be set up (the process goes to BACKOFF).
    Other,
}

/// A parent-side spawn failure. `Display` is the reference's `spawnerr` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    /// Which fault the error becomes over RPC.
    pub kind: SpawnErrorKind,
    /// The `spawnerr` text, e.g. `can't find command 'foo'`.
    pub message: String,
}

impl SpawnError {
    pub(super) fn new(kind: SpawnErrorKind, message: String) -> Self {
        SpawnError { kind, message }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnError {}

/// The directories searched for a bare command name: the program's `environment=` PATH,
/// else `[supervisord] environment=` PATH, else `daemon_path` (the daemon's own `$PATH`)
/// when set and non-empty, else [`DEFAULT_PATH`].
pub fn search_path(
    process: &ProcessConfig,
    supervisord_environment: &[(String, String)],
    daemon_path: Option<&str>,
) -> Vec<String> {
    let configured = process
        .environment
        .iter()
        .rev()
        .chain(supervisord_environment.iter().rev())
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    if let Some(p) = configured {
        return p.split(':').map(str::to_string).collect();
    }
    match daemon_path {
        Some(p) if !p.is_empty() => p.split(':').map(str::to_string).collect(),
        _ => DEFAULT_PATH.iter().map(|s| s.to_string()).collect(),
    }
}

/// Resolves `command=` to (executable path, argv) like the reference does before forking.
///
/// The daemon's `PATH` is read from its environment. Relative paths are checked against
/// the daemon's current directory (not the program's `directory=`).
pub fn resolve_command(
    process: &ProcessConfig,
    supervisord_environment: &[(String, String)],
) -> Result<(PathBuf, Vec<String>), SpawnError> {
    let daemon_path = std::env::var("PATH").ok();
    let dirs = search_path(process, supervisord_environment, daemon_path.as_deref());
    resolve_command_in(&process.command, &dirs)
}

/// [`resolve_command`] with an explicit list of search directories.
pub fn resolve_command_in(
    command: &str,
    dirs: &[String],
) -> Result<(PathBuf, Vec<String>), SpawnError> {
    let argv = split_command(command).map_err(|e| {
        SpawnError::new(
            SpawnErrorKind::NotExecutable,
            format!("can't parse command {}: {}", py_repr(command), e),
        )
    })?;
    let Some(program) = argv.first() else {
        return Err(SpawnError::new(
            SpawnErrorKind::NotExecutable,
            "command is empty".into(),
        ));
    };
    let (filename, meta) = if program.contains('/') {
        (program.clone(), std::fs::metadata(program).ok())
    } else {
        let mut found = None;
        for dir in dirs {
            let candidate = join_path(dir, program);
            if let Ok(m) = std::fs::metadata(&candidate) {
                found = Some((candidate, m));
                break;
            }
        }
        match found {
            Some((f, m)) => (f, Some(m)),
            None => (program.clone(), None),
        }
    };
    let Some(meta) = meta else {
        return Err(SpawnError::new(
            SpawnErrorKind::NoFile,
            format!("can't find command {}", py_repr(&filename)),
        ));
    };
    if meta.is_dir() {
        return Err(SpawnError::new(
            SpawnErrorKind::NotExecutable,
            format!("command at {} is a directory", py_repr(&filename)),
        ));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(SpawnError::new(
            SpawnErrorKind::NotExecutable,
            format!("command at {} is not executable", py_repr(&filename)),
        ));
    }
    let c = CString::new(filename.as_bytes()).map_err(|_| {
        SpawnError::new(
            SpawnErrorKind::NotExecutable,
            format!("no permission to run command {}", py_repr(&filename)),
        )
    })?;
    if nix::unistd::access(c.as_c_str(), nix::unistd::AccessFlags::X_OK).is_err() {
        return Err(SpawnError::new(
            SpawnErrorKind::NotExecutable,
            format!("no permission to run command {}", py_repr(&filename)),
        ));
    }
    Ok((PathBuf::from(filename), argv))
}

/// `os.path.join(dir, name)` for a name without a slash.
fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The daemon-wide `SUPERVISOR_SERVER_URL` (§4.11): the first `[unix_http_server]` as
/// `unix://<path>`, else the last `[inet_http_server*]` as `http://<host|localhost>:<port>`,
/// else `None`.
pub fn daemon_server_url(config: &Config) -> Option<String> {
    if let Some(unix) = &config.unix_http_server {
        return Some(format!("unix://{}", unix.file.display()));
    }
    config.inet_http_servers.last().map(|inet| {
        let host = if inet.host.is_empty() {
            "localhost"
        } else {
            inet.host.as_str()
        };
        format!("http://{}:{}", host, inet.port)
    })
}

/// The `SUPERVISOR_SERVER_URL` a process sees: its own `serverurl=` unless AUTO, else
/// [`daemon_server_url`].
pub fn server_url_for(process: &ProcessConfig, config: &Config) -> Option<String> {
    match &process.serverurl {
        Some(url) if !url.eq_ignore_ascii_case("auto") => Some(url.clone()),
        _ => daemon_server_url(config),
    }
}

/// The privilege change the child must make, decided in the parent.
pub(super) enum UserPlan {
    /// Nothing to do (no `user=`, or already that uid).
    Keep,
    /// The child must report this message and exit 127.
    Fail(Vec<u8>),
    /// setgroups + setgid + setuid.
    Switch {
        uid: libc::uid_t,
        gid: libc::gid_t,
        groups: Vec<libc::gid_t>,
        groups_failed: Vec<u8>,
        gid_failed: Vec<u8>,
        uid_failed: Vec<u8>,
    },
}

fn setuid_message(uid: impl fmt::Display, reason: &str) -> Vec<u8> {
    format!("supervisor: couldn't setuid to {uid}: {reason}\n").into_bytes()
}

/// Decides the privilege drop for `user=` like the reference's `drop_privileges`.
pub(super) fn plan_user(process: &ProcessConfig) -> UserPlan {
    let uid = match (process.uid, &process.user) {
        (Some(uid), _) => uid,
        (None, None) => return UserPlan::Keep,
        (None, Some(user)) => match user.trim().parse::<u32>() {
            Ok(uid) => uid,
            Err(_) => match nix::unistd::User::from_name(user) {
                Ok(Some(u)) => u.uid.as_raw(),
                _ => {
                    return UserPlan::Fail(setuid_message(
                        user,
                        &format!("Can't find username {}", py_repr(user)),
                    ))
                }
            },
        },
    };
    let entry = match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u,
        _ => return UserPlan::Fail(setuid_message(uid, &format!("Can't find uid {uid}"))),
    };
    let current = nix::unistd::getuid().as_raw();
    if current == uid {
        return UserPlan::Keep;
    }
    if current != 0 {
        return UserPlan::Fail(setuid_message(uid, "Can't drop privilege as nonroot user"));
    }
    let gid = entry.gid.as_raw();
    let mut groups = vec![gid];
    if let Ok(name) = CString::new(entry.name.as_bytes()) {
        if let Ok(list) = nix::unistd::getgrouplist(&name, entry.gid) {
            groups.extend(list.into_iter().map(|g| g.as_raw()));
        }
    }
    UserPlan::Switch {
        uid,
        gid,
        groups,
        groups_failed: setuid_message(uid, "Could not set groups of effective user"),
        gid_failed: setuid_message(uid, "Could not set group id of effective user"),
        uid_failed: format!("supervisor: couldn't setuid to {uid}: ").into_bytes(),
    }
}

/// The child's environment (§1.8): the daemon's environment, then `SUPERVISOR_ENABLED`,
/// `SUPERVISOR_SERVER_URL` (when known), `SUPERVISOR_PROCESS_NAME`, `SUPERVISOR_GROUP_NAME`,
/// then `[supervisord] environment=`, then the program's `environment=`; later entries
/// replace earlier ones with the same key, keeping the first position.
pub fn child_environment(
    daemon_env: impl IntoIterator<Item = (OsString, OsString)>,
    req: &SpawnRequest<'_>,
) -> Vec<(OsString, OsString)> {
    child_environment_with(daemon_env, &[], req)
}

/// [`child_environment`] with the pairs of the `environment_file=` files (already read,
/// in order) applied after the daemon's environment and the `SUPERVISOR_*` names and
/// before both `environment=` keys.
pub fn child_environment_with(
    daemon_env: impl IntoIterator<Item = (OsString, OsString)>,
    file_env: &[(String, String)],
    req: &SpawnRequest<'_>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut set = |k: OsString, v: OsString| {
        if let Some(slot) = env.iter_mut().find(|(ek, _)| *ek == k) {
            slot.1 = v;
        } else {
            env.push((k, v));
        }
    };
    for (k, v) in daemon_env {
        set(k, v);
    }
    set("SUPERVISOR_ENABLED".into(), "1".into());
    if let Some(url) = req.server_url {
        set("SUPERVISOR_SERVER_URL".into(), url.into());
    }
    set(
        "SUPERVISOR_PROCESS_NAME".into(),
        req.process.name.clone().into(),
    );
    set(
        "SUPERVISOR_GROUP_NAME".into(),
        req.process.group.clone().into(),
    );
    for (k, v) in file_env
        .iter()
        .chain(req.supervisord_environment.iter())
        .chain(req.process.environment.iter())
    {
        set(k.into(), v.into());
    }
    env
}

pub(super) fn cstring(bytes: Vec<u8>, what: &str, name: &str) -> Result<CString, SpawnError> {
    CString::new(bytes).map_err(|_| {
        SpawnError::new(
            SpawnErrorKind::Other,
            format!("embedded null byte in the {what} of '{name}'"),
        )
    })
}
