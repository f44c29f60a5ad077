//! Spawning one child process: the imperative edge of the daemon.
//!
//! [`resolve_command`] turns `command=` into an executable path and argv exactly like the
//! reference (shlex split, PATH search relative to the daemon's cwd, the same `spawnerr`
//! texts). [`spawn`] creates the pipes, forks and, in the child, follows the reference's
//! order: new process group, fds 0/1/2, close everything else, drop privileges, chdir,
//! umask, execve. Every allocation (argv, envp, messages, group list) happens in the parent
//! before `fork()`; the child only makes async-signal-safe system calls, so spawning is
//! safe from a multi-threaded daemon. A failure in the child is reported on its stderr pipe
//! in the reference's words and the child exits 127.
//!
//! This module does not track processes, reap them or decide anything: it returns a
//! [`Child`] (pid + parent pipe ends) or a [`SpawnError`] whose `Display` is the `spawnerr`.

pub mod pyfmt;

use std::ffi::{CString, OsString};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use supervisor_config::{split_command, Config, ProcessConfig};

use pyfmt::{errno_name, errno_static_name, py_repr};

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
    fn new(kind: SpawnErrorKind, message: String) -> Self {
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
    // SAFETY: `c` is a valid NUL-terminated string.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
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

/// Everything [`spawn`] needs to start one process.
#[derive(Debug, Clone, Copy)]
pub struct SpawnRequest<'a> {
    /// The process to start.
    pub process: &'a ProcessConfig,
    /// `[supervisord] environment=`, applied before the program's own `environment=`.
    pub supervisord_environment: &'a [(String, String)],
    /// `SUPERVISOR_SERVER_URL` for the child ([`server_url_for`]); `None` = not set.
    pub server_url: Option<&'a str>,
    /// For fcgi programs: the listening socket, given to the child as fd 0 (no stdin pipe).
    pub fcgi_socket: Option<BorrowedFd<'a>>,
}

/// A started child: its pid and the parent's ends of its pipes (non-blocking,
/// close-on-exec).
#[derive(Debug)]
pub struct Child {
    /// The child's pid (also its process group id).
    pub pid: i32,
    /// Write end of the child's stdin; `None` for fcgi programs.
    pub stdin: Option<OwnedFd>,
    /// Read end of the child's stdout (and stderr when `redirect_stderr`).
    pub stdout: OwnedFd,
    /// Read end of the child's stderr; `None` when `redirect_stderr`.
    pub stderr: Option<OwnedFd>,
}

/// The privilege change the child must make, decided in the parent.
enum UserPlan {
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

/// Everything the child needs, prepared before fork so the child never allocates.
struct ChildPlan {
    path: CString,
    argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    env: Vec<CString>,
    env_ptrs: Vec<*const libc::c_char>,
    directory: Option<CString>,
    chdir_failed: Vec<u8>,
    exec_failed: Vec<u8>,
    umask: Option<libc::mode_t>,
    user: UserPlan,
    stdin_fd: RawFd,
    stdout_fd: RawFd,
    stderr_fd: RawFd,
    max_fd: RawFd,
}

fn setuid_message(uid: impl fmt::Display, reason: &str) -> Vec<u8> {
    format!("supervisor: couldn't setuid to {uid}: {reason}\n").into_bytes()
}

/// Decides the privilege drop for `user=` like the reference's `drop_privileges`.
fn plan_user(process: &ProcessConfig) -> UserPlan {
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
    // SAFETY: getuid cannot fail.
    let current = unsafe { libc::getuid() };
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
    for (k, v) in req
        .supervisord_environment
        .iter()
        .chain(req.process.environment.iter())
    {
        set(k.into(), v.into());
    }
    env
}

fn cstring(bytes: Vec<u8>, what: &str, name: &str) -> Result<CString, SpawnError> {
    CString::new(bytes).map_err(|_| {
        SpawnError::new(
            SpawnErrorKind::Other,
            format!("embedded null byte in the {what} of '{name}'"),
        )
    })
}

/// A pipe whose ends are close-on-exec and numbered 3 or above (so dup2 onto 0/1/2 in the
/// child can never clobber another pipe end, even if the daemon's 0/1/2 were closed).
fn make_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh fds we now own.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((lift_fd(r)?, lift_fd(w)?))
}

fn lift_fd(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= 3 {
        return Ok(fd);
    }
    // SAFETY: fd is open; F_DUPFD_CLOEXEC returns a new fd we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Sets O_NONBLOCK on a parent pipe end.
pub fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: plain fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Starts the process described by `req` and returns its pid and pipes.
///
/// Parent-side failures (bad command, pipes, fork) are returned as [`SpawnError`]s with
/// the reference's `spawnerr` texts; child-side failures (user, chdir, exec) show up as a
/// quick exit 127 with the reason on the child's stderr.
pub fn spawn(req: &SpawnRequest<'_>) -> Result<Child, SpawnError> {
    spawn_with(req, Method::Auto, 0)
}

/// Like [`spawn`], keeping `extra` descriptors free on top of the [`fd_headroom`]: the
/// daemon passes the number of log files it has promised but not opened yet.
pub fn spawn_reserving(req: &SpawnRequest<'_>, extra: usize) -> Result<Child, SpawnError> {
    spawn_with(req, Method::Auto, extra)
}

/// The descriptors a spawn always leaves free for the daemon itself (accepting RPC
/// connections, opening and rotating log files, reading its config): 32, or a quarter of
/// the `RLIMIT_NOFILE` soft limit `limit` when that is less.
pub fn fd_headroom(limit: u64) -> u64 {
    (limit / 4).min(32)
}

/// The `RLIMIT_NOFILE` soft limit (`None` when it cannot be read or is unlimited).
fn nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid out pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(lim.rlim_cur)
}

/// Whether a spawn whose new descriptors reach number `highest` would leave fewer than the
/// headroom (plus `extra`) free. The kernel hands out the lowest free number, so every
/// descriptor below `highest` is in use: the ones at or above the line `limit - headroom -
/// extra` are then only ever taken by the daemon's own opens, which is what they are kept
/// for. `limit` is the soft limit.
pub fn breaks_headroom(highest: RawFd, limit: u64, extra: usize) -> bool {
    let keep = fd_headroom(limit).saturating_add(extra as u64);
    u64::try_from(highest).map_or(true, |h| h.saturating_add(1).saturating_add(keep) > limit)
}

fn spawn_with(
    req: &SpawnRequest<'_>,
    method: Method,
    extra_fds: usize,
) -> Result<Child, SpawnError> {
    let process = req.process;
    let name = process.name.as_str();
    let (path, argv) = resolve_command(process, req.supervisord_environment)?;

    let env = child_environment(std::env::vars_os(), req);
    let mut plan_env = Vec::with_capacity(env.len());
    for (k, v) in env {
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        plan_env.push(cstring(kv, "environment", name)?);
    }
    let mut plan_argv = Vec::with_capacity(argv.len());
    for a in &argv {
        plan_argv.push(cstring(a.clone().into_bytes(), "command", name)?);
    }
    let c_path = cstring(path.into_os_string().into_vec(), "command", name)?;
    let directory = match &process.directory {
        Some(d) => Some(cstring(d.clone().into_bytes(), "directory", name)?),
        None => None,
    };
    let user = plan_user(process);

    let pipe_error = |e: io::Error| {
        let code = e.raw_os_error().unwrap_or(0);
        let msg = if code == libc::EMFILE {
            format!("too many open files to spawn '{name}'")
        } else {
            format!(
                "unknown error making dispatchers for '{name}': {}",
                errno_name(code)
            )
        };
        SpawnError::new(SpawnErrorKind::Other, msg)
    };
    let stdin_pipe = if req.fcgi_socket.is_none() {
        Some(make_pipe().map_err(pipe_error)?)
    } else {
        None
    };
    let (stdout_r, stdout_w) = make_pipe().map_err(pipe_error)?;
    let stderr_pipe = if process.redirect_stderr {
        None
    } else {
        Some(make_pipe().map_err(pipe_error)?)
    };
    for fd in [
        stdin_pipe.as_ref().map(|p| &p.1),
        Some(&stdout_r),
        stderr_pipe.as_ref().map(|p| &p.0),
    ]
    .into_iter()
    .flatten()
    {
        set_nonblocking(fd).map_err(pipe_error)?;
    }
    // Never take the descriptors the daemon keeps for itself: refuse like the kernel
    // would (the reference's EMFILE text; every pipe made above is closed on return).
    let highest = [
        stdin_pipe
            .as_ref()
            .map(|p| p.0.as_raw_fd().max(p.1.as_raw_fd())),
        Some(stdout_r.as_raw_fd().max(stdout_w.as_raw_fd())),
        stderr_pipe
            .as_ref()
            .map(|p| p.0.as_raw_fd().max(p.1.as_raw_fd())),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    if let Some(limit) = nofile_limit() {
        if breaks_headroom(highest, limit, extra_fds) {
            return Err(pipe_error(io::Error::from_raw_os_error(libc::EMFILE)));
        }
    }

    let stdin_fd = match (&stdin_pipe, req.fcgi_socket) {
        (_, Some(sock)) => sock.as_raw_fd(),
        (Some(p), None) => p.0.as_raw_fd(),
        (None, None) => unreachable!("stdin pipe exists when there is no fcgi socket"),
    };
    let stdout_fd = stdout_w.as_raw_fd();
    let stderr_fd = stderr_pipe
        .as_ref()
        .map(|p| p.1.as_raw_fd())
        .unwrap_or(stdout_fd);

    let mut plan = ChildPlan {
        path: c_path,
        argv_ptrs: Vec::new(),
        argv: plan_argv,
        env_ptrs: Vec::new(),
        env: plan_env,
        directory,
        chdir_failed: format!(
            "supervisor: couldn't chdir to {}: ",
            process.directory.as_deref().unwrap_or("")
        )
        .into_bytes(),
        exec_failed: format!("supervisor: couldn't exec {}: ", argv[0]).into_bytes(),
        umask: process.umask.map(|m| m as libc::mode_t),
        user,
        stdin_fd,
        stdout_fd,
        stderr_fd,
        max_fd: max_fd(),
    };
    plan.argv_ptrs = plan.argv.iter().map(|c| c.as_ptr()).collect();
    plan.argv_ptrs.push(std::ptr::null());
    plan.env_ptrs = plan.env.iter().map(|c| c.as_ptr()).collect();
    plan.env_ptrs.push(std::ptr::null());

    let pid = match start_child_with(&plan, method) {
        Ok(pid) => pid,
        Err(code) => {
            let msg = if code == libc::EAGAIN {
                format!("Too many processes in process table to spawn '{name}'")
            } else {
                format!(
                    "unknown error during fork for '{name}': {}",
                    errno_name(code)
                )
            };
            return Err(SpawnError::new(SpawnErrorKind::Other, msg));
        }
    };
    // Parent: the child's ends are closed when dropped here.
    drop(stdout_w);
    Ok(Child {
        pid,
        stdin: stdin_pipe.map(|(child_end, parent_end)| {
            drop(child_end);
            parent_end
        }),
        stdout: stdout_r,
        stderr: stderr_pipe.map(|(parent_end, child_end)| {
            drop(child_end);
            parent_end
        }),
    })
}

/// How [`start_child_with`] creates the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// The fastest way that works here: `clone(CLONE_VM | CLONE_VFORK)` sharing the fd
    /// table (see [`FdSlots`]), else the same clone with a copied fd table, else `fork()`.
    Auto,
    /// `clone(CLONE_VM | CLONE_VFORK)` with a copied fd table, else `fork()`.
    #[cfg_attr(not(test), allow(dead_code))]
    Clone,
    /// Always `fork()` (the last fallback, kept reachable for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Fork,
}

/// Where the child finds what becomes its fds 0, 1 and 2.
#[derive(Debug, Clone, Copy)]
struct ChildFds {
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    /// Set when the child starts on the daemon's own fd table (`CLONE_FILES`): it must
    /// first unshare it, keeping only the descriptors below this number.
    unshare_below: Option<u32>,
}

/// What a cloned child receives: the plan and where its fds are.
struct ChildStart<'a> {
    plan: &'a ChildPlan,
    fds: ChildFds,
}

/// `close_range` flag: give the caller a private fd table holding only the descriptors
/// below the range (Linux 5.9).
const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;

/// Three descriptors low in the fd table on which [`spawn`] parks the child's future
/// stdin/stdout/stderr, plus the `/dev/null` that fills them between spawns.
///
/// A child cloned with its own copy of the fd table costs the kernel a reference on every
/// open file of the daemon (three per program) and then as many closes in the child. With
/// the pipe ends parked low, the child is instead cloned on the daemon's table
/// (`CLONE_FILES`) and its first call, `close_range(n, ~0, CLOSE_RANGE_UNSHARE)`, gives
/// it a private table with only the descriptors below `n`.
struct FdSlots {
    slots: [RawFd; 3],
    filler: RawFd,
}

static FD_SLOTS: OnceLock<Option<Mutex<FdSlots>>> = OnceLock::new();

/// Reserves the descriptors the fast spawn path parks pipe ends on, if that path works on
/// this kernel. Spawning does this by itself on first use; a daemon can call it early,
/// before it opens its log files, so that the reserved numbers (and with them the part of
/// the fd table each child copies) stay small.
pub fn reserve_fd_slots() {
    fd_slots();
}

fn fd_slots() -> Option<&'static Mutex<FdSlots>> {
    FD_SLOTS
        .get_or_init(|| {
            if !unshare_works() {
                return None;
            }
            // SAFETY: plain open/fcntl/close on descriptors this function owns.
            unsafe {
                let filler = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if filler < 0 {
                    return None;
                }
                let mut slots = [-1; 3];
                for slot in slots.iter_mut() {
                    *slot = libc::fcntl(filler, libc::F_DUPFD_CLOEXEC, 3);
                    if *slot < 0 {
                        for fd in [filler, slots[0], slots[1], slots[2]] {
                            if fd >= 0 {
                                libc::close(fd);
                            }
                        }
                        return None;
                    }
                }
                Some(Mutex::new(FdSlots { slots, filler }))
            }
        })
        .as_ref()
}

/// Checks once that a `CLONE_VM | CLONE_VFORK | CLONE_FILES` child can unshare its fd
/// table with `close_range` (kernel support, no seccomp filter in the way).
fn unshare_works() -> bool {
    extern "C" fn probe(_: *mut libc::c_void) -> libc::c_int {
        // SAFETY: raw system calls only; the range is past every descriptor, so nothing
        // is closed, the table is just unshared.
        unsafe {
            let r = libc::syscall(
                libc::SYS_close_range,
                libc::c_uint::MAX,
                libc::c_uint::MAX,
                CLOSE_RANGE_UNSHARE,
            );
            libc::_exit(if r == 0 { 0 } else { 1 })
        }
    }
    // SAFETY: changing this thread's signal mask; restored below.
    let old_mask = unsafe { raw_sigmask(libc::SIG_SETMASK, ALL_SIGNALS) };
    let result = clone_on_stack(probe, std::ptr::null_mut(), libc::CLONE_FILES);
    // SAFETY: restores the mask saved above.
    unsafe { raw_sigmask(libc::SIG_SETMASK, old_mask) };
    let Ok(pid) = result else {
        return false;
    };
    let mut status = 0;
    // SAFETY: reaping the probe child we just created (it has already exited: vfork).
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

fn start_child_with(plan: &ChildPlan, method: Method) -> Result<libc::pid_t, i32> {
    let slots = if method == Method::Auto {
        fd_slots()
    } else {
        None
    };
    // Every signal is blocked while the child exists as a copy of the daemon, so that no
    // handler of the daemon ever runs in it (after clone it shares the daemon's memory);
    // the child puts every disposition back to the default before unblocking, and this
    // thread restores its own mask afterwards.
    // SAFETY: changing this thread's signal mask has no memory-safety preconditions.
    let old_mask = unsafe { raw_sigmask(libc::SIG_SETMASK, ALL_SIGNALS) };
    let result = start_child_blocked(plan, method, slots);
    // SAFETY: as above; restores the mask saved before.
    unsafe { raw_sigmask(libc::SIG_SETMASK, old_mask) };
    result
}

fn start_child_blocked(
    plan: &ChildPlan,
    method: Method,
    slots: Option<&Mutex<FdSlots>>,
) -> Result<libc::pid_t, i32> {
    if let Some(slots) = slots {
        let slots = slots.lock().unwrap_or_else(|e| e.into_inner());
        match clone_shared_table(plan, &slots) {
            Ok(pid) => return Ok(pid),
            Err(code) if code == libc::EAGAIN => return Err(code),
            Err(_) => {}
        }
    }
    if method != Method::Fork {
        let fds = ChildFds {
            stdin: plan.stdin_fd,
            stdout: plan.stdout_fd,
            stderr: plan.stderr_fd,
            unshare_below: None,
        };
        let start = ChildStart { plan, fds };
        match clone_vfork(&start, 0) {
            Ok(pid) => return Ok(pid),
            // Out of processes: fork would fail the same way.
            Err(code) if code == libc::EAGAIN => return Err(code),
            // ENOSYS, EINVAL, a seccomp filter, no memory for the stack...: use fork.
            Err(_) => {}
        }
    }
    // SAFETY: the child branch only makes async-signal-safe calls on data prepared
    // before the fork and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    if pid == 0 {
        let fds = ChildFds {
            stdin: plan.stdin_fd,
            stdout: plan.stdout_fd,
            stderr: plan.stderr_fd,
            unshare_below: None,
        };
        // SAFETY: we are the freshly forked child.
        unsafe { child_exec(plan, fds) }
    }
    Ok(pid)
}

/// Parks the child's pipe ends on the reserved slots, clones the child on the shared fd
/// table and puts `/dev/null` back on the slots. The caller holds the slots' lock.
fn clone_shared_table(plan: &ChildPlan, slots: &FdSlots) -> Result<libc::pid_t, i32> {
    let sources = [plan.stdin_fd, plan.stdout_fd, plan.stderr_fd];
    let mut result = Ok(0);
    for (slot, src) in slots.slots.iter().zip(sources) {
        // SAFETY: both descriptors are open; dup3 atomically replaces the filler.
        if unsafe { libc::dup3(src, *slot, libc::O_CLOEXEC) } < 0 {
            result = Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
            break;
        }
    }
    if result.is_ok() {
        let highest = slots.slots.iter().copied().max().unwrap_or(2);
        let fds = ChildFds {
            stdin: slots.slots[0],
            stdout: slots.slots[1],
            stderr: slots.slots[2],
            unshare_below: Some(highest as u32 + 1),
        };
        let start = ChildStart { plan, fds };
        result = clone_vfork(&start, libc::CLONE_FILES);
    }
    for slot in slots.slots {
        // SAFETY: as above; drops this table's reference to the child's pipe ends.
        unsafe { libc::dup3(slots.filler, slot, libc::O_CLOEXEC) };
    }
    result
}

/// Size of the child's private stack for [`clone_on_stack`], plus one guard page below it.
const CHILD_STACK: usize = 64 * 1024;

/// A signal set with every bit set, in the kernel's layout (64 signals on Linux).
const ALL_SIGNALS: u64 = !0;

/// Sets the calling thread's signal mask with the raw system call, so that glibc's
/// internal signals are covered too. Returns the previous mask.
unsafe fn raw_sigmask(how: libc::c_int, set: u64) -> u64 {
    // SAFETY: the caller upholds this function's contract (a raw, async-signal-safe
    // system call on descriptors and memory that are valid for its duration).
    unsafe {
        let mut old: u64 = 0;
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &set as *const u64,
            &mut old as *mut u64,
            std::mem::size_of::<u64>(),
        );
        old
    }
}

/// Creates the child with `clone(CLONE_VM | CLONE_VFORK | SIGCHLD | extra)`: the child
/// borrows the daemon's address space (no page tables are copied, which is what makes
/// `fork()` expensive for a daemon with many children) and this thread sleeps until the
/// child has called `execve` or exited. The caller has blocked every signal.
fn clone_vfork(start: &ChildStart<'_>, extra: libc::c_int) -> Result<libc::pid_t, i32> {
    // SAFETY: `clone_entry` only reads `start`, which outlives the call because
    // CLONE_VFORK keeps this thread suspended until the child has exec'd or exited; the
    // child never returns into code of the daemon (it ends in execve or _exit).
    clone_on_stack(
        clone_entry,
        start as *const ChildStart<'_> as *mut libc::c_void,
        extra,
    )
}

/// `clone(CLONE_VM | CLONE_VFORK | SIGCHLD | extra)` running `entry(arg)` on a freshly
/// mapped stack that is unmapped once the child has exec'd or exited. `entry` must never
/// return and must only make async-signal-safe calls.
fn clone_on_stack(
    entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
    extra: libc::c_int,
) -> Result<libc::pid_t, i32> {
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    };
    let len = CHILD_STACK + page;
    // SAFETY: a fresh anonymous private mapping; checked for MAP_FAILED below.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // The stack grows down: make its lowest page a guard so an overflow faults (and kills
    // the child) instead of writing into other memory of the daemon.
    // SAFETY: `base` is page aligned and the first page lies inside the mapping.
    unsafe { libc::mprotect(base, page, libc::PROT_NONE) };
    // SAFETY: the top of the mapping, 16-byte aligned since both sizes are page multiples.
    let top = unsafe { base.cast::<u8>().add(len) }.cast::<libc::c_void>();
    // SAFETY: see the function's contract; CLONE_VFORK keeps `arg` and the stack alive
    // for as long as the child runs on them.
    let pid = unsafe {
        libc::clone(
            entry,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD | extra,
            arg,
        )
    };
    let code = if pid < 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    // SAFETY: the child no longer uses the stack (it has exec'd into its own address
    // space or exited).
    unsafe { libc::munmap(base, len) };
    if pid < 0 {
        Err(code)
    } else {
        Ok(pid)
    }
}

/// The first function of the cloned child.
extern "C" fn clone_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&ChildStart` passed by `clone_vfork`, alive while it waits.
    unsafe {
        let start = &*(arg as *const ChildStart<'_>);
        child_exec(start.plan, start.fds)
    }
}

/// The highest fd number to close in the child if `close_range` is unavailable.
fn max_fd() -> RawFd {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    if n <= 0 {
        4096
    } else {
        n.min(65536) as RawFd
    }
}

/// Writes all of `buf` to fd 2 (async-signal-safe).
unsafe fn write_stderr(buf: &[u8]) {
    // SAFETY: the caller upholds this function's contract (a raw, async-signal-safe
    // system call on descriptors and memory that are valid for its duration).
    unsafe { write_fd(2, buf) }
}

/// Writes all of `buf` to `fd` (async-signal-safe).
unsafe fn write_fd(fd: RawFd, buf: &[u8]) {
    // SAFETY: the caller upholds this function's contract (a raw, async-signal-safe
    // system call on descriptors and memory that are valid for its duration).
    unsafe {
        let mut off = 0;
        while off < buf.len() {
            let n = libc::write(fd, buf[off..].as_ptr().cast(), buf.len() - off);
            if n < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                return;
            }
            if n == 0 {
                return;
            }
            off += n as usize;
        }
    }
}

/// Writes the symbolic name of `errno` (or its number) followed by a newline.
unsafe fn write_errno_line(code: i32) {
    // SAFETY: the caller upholds this function's contract (a raw, async-signal-safe
    // system call on descriptors and memory that are valid for its duration).
    unsafe {
        match errno_static_name(code) {
            Some(name) => write_stderr(name.as_bytes()),
            None => {
                let mut digits = [0u8; 12];
                let mut i = digits.len();
                let mut v = code.unsigned_abs();
                loop {
                    i -= 1;
                    digits[i] = b'0' + (v % 10) as u8;
                    v /= 10;
                    if v == 0 {
                        break;
                    }
                }
                if code < 0 {
                    i -= 1;
                    digits[i] = b'-';
                }
                write_stderr(&digits[i..]);
            }
        }
        write_stderr(b"\n");
    }
}

unsafe fn errno() -> i32 {
    // SAFETY: the caller upholds this function's contract (a raw, async-signal-safe
    // system call on descriptors and memory that are valid for its duration).
    unsafe { *libc::__errno_location() }
}

unsafe fn child_fail() -> ! {
    // SAFETY: the caller upholds this function's contract (a raw, async-signal-safe
    // system call on descriptors and memory that are valid for its duration).
    unsafe {
        write_stderr(b"supervisor: child process was not spawned\n");
        libc::_exit(127)
    }
}

#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
use libc::{SYS_setgid as SYS_SETGID, SYS_setgroups as SYS_SETGROUPS, SYS_setuid as SYS_SETUID};
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
use libc::{
    SYS_setgid32 as SYS_SETGID, SYS_setgroups32 as SYS_SETGROUPS, SYS_setuid32 as SYS_SETUID,
};

/// The child side of [`spawn`]. Only async-signal-safe calls from here on.
unsafe fn child_exec(plan: &ChildPlan, fds: ChildFds) -> ! {
    // SAFETY: the caller upholds this function's contract (a raw, async-signal-safe
    // system call on descriptors and memory that are valid for its duration).
    unsafe {
        // Start from a clean signal state: the daemon blocks and ignores signals (SIGPIPE in
        // particular) that a program expects at their defaults. Dispositions go back to the
        // default while every signal is still blocked (after clone the child shares the
        // daemon's memory, so none of the daemon's handlers may run here), then the mask is
        // emptied.
        for sig in 1..65 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        raw_sigmask(libc::SIG_SETMASK, 0);

        if let Some(below) = fds.unshare_below {
            // Started on the daemon's fd table: take a private one holding only the low
            // descriptors (ours are parked there) before touching any descriptor.
            if libc::syscall(
                libc::SYS_close_range,
                below,
                libc::c_uint::MAX,
                CLOSE_RANGE_UNSHARE,
            ) != 0
            {
                // Still sharing: only write to our own stderr pipe, then leave.
                write_fd(fds.stderr, b"supervisor: child process was not spawned\n");
                libc::_exit(127);
            }
        }

        libc::setpgid(0, 0);

        libc::dup2(fds.stdin, 0);
        libc::dup2(fds.stdout, 1);
        libc::dup2(fds.stderr, 2);
        for fd in 0..3 {
            libc::fcntl(fd, libc::F_SETFD, 0);
        }
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..plan.max_fd {
                libc::close(fd);
            }
        }

        match &plan.user {
            UserPlan::Keep => {}
            UserPlan::Fail(msg) => {
                write_stderr(msg);
                child_fail();
            }
            UserPlan::Switch {
                uid,
                gid,
                groups,
                groups_failed,
                gid_failed,
                uid_failed,
            } => {
                // Raw system calls: glibc's wrappers would try to change the credentials of
                // every thread of the daemon, whose memory a cloned child shares.
                if libc::syscall(SYS_SETGROUPS, groups.len(), groups.as_ptr()) != 0 {
                    write_stderr(groups_failed);
                    child_fail();
                }
                if libc::syscall(SYS_SETGID, *gid) != 0 {
                    write_stderr(gid_failed);
                    child_fail();
                }
                if libc::syscall(SYS_SETUID, *uid) != 0 {
                    let code = errno();
                    write_stderr(uid_failed);
                    write_errno_line(code);
                    child_fail();
                }
            }
        }

        if let Some(dir) = &plan.directory {
            if libc::chdir(dir.as_ptr()) != 0 {
                let code = errno();
                write_stderr(&plan.chdir_failed);
                write_errno_line(code);
                child_fail();
            }
        }
        if let Some(mask) = plan.umask {
            libc::umask(mask);
        }
        libc::execve(
            plan.path.as_ptr(),
            plan.argv_ptrs.as_ptr(),
            plan.env_ptrs.as_ptr(),
        );
        let code = errno();
        write_stderr(&plan.exec_failed);
        write_errno_line(code);
        child_fail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_config::{AutoRestart, LogChannelConfig, LogFile};

    pub(crate) fn process(command: &str) -> ProcessConfig {
        let chan = LogChannelConfig {
            logfile: LogFile::None,
            logfile_maxbytes: 0,
            logfile_backups: 0,
            capture_maxbytes: 0,
            events_enabled: false,
            syslog: false,
        };
        ProcessConfig {
            name: "p".into(),
            group: "g".into(),
            section: "program:p".into(),
            file: PathBuf::from("/dev/null"),
            command: command.into(),
            priority: 999,
            autostart: true,
            autorestart: AutoRestart::Unexpected,
            startsecs: 1,
            startretries: 3,
            exitcodes: vec![0],
            stopsignal: 15,
            stopwaitsecs: 10,
            stopasgroup: false,
            killasgroup: false,
            user: None,
            uid: None,
            redirect_stderr: false,
            stdout: chan.clone(),
            stderr: chan,
            environment: vec![],
            directory: None,
            umask: None,
            serverurl: None,
        }
    }

    /// Runs `p` with `method`, reads both pipes to EOF and reaps the child, all bounded.
    /// Returns (exit code or -signal, stdout, stderr).
    fn run(p: &ProcessConfig, method: Method) -> (i32, String, String) {
        let req = SpawnRequest {
            process: p,
            supervisord_environment: &[],
            server_url: None,
            fcgi_socket: None,
        };
        let child = spawn_with(&req, method, 0).unwrap();
        collect(child)
    }

    fn collect(child: Child) -> (i32, String, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut outs = vec![(child.stdout, Vec::new(), false)];
        if let Some(e) = child.stderr {
            outs.push((e, Vec::new(), false));
        }
        drop(child.stdin);
        while outs.iter().any(|o| !o.2) && std::time::Instant::now() < deadline {
            let mut pfds: Vec<libc::pollfd> = outs
                .iter()
                .filter(|o| !o.2)
                .map(|o| libc::pollfd {
                    fd: o.0.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: pfds is a valid array of pollfd.
            unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as _, 100) };
            for o in outs.iter_mut().filter(|o| !o.2) {
                let mut buf = [0u8; 4096];
                // SAFETY: reading into a local buffer from an fd we own.
                let n = unsafe { libc::read(o.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    o.1.extend_from_slice(&buf[..n as usize]);
                } else if n == 0 {
                    o.2 = true;
                }
            }
        }
        // A pipe end left open in the daemon (e.g. on a spawn fd slot) would show here.
        assert!(
            outs.iter().all(|o| o.2),
            "no EOF on the child's pipes in time"
        );
        let mut st = 0;
        let status = loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(child.pid, &mut st, libc::WNOHANG) };
            if r == child.pid {
                break if libc::WIFEXITED(st) {
                    libc::WEXITSTATUS(st)
                } else {
                    -libc::WTERMSIG(st)
                };
            }
            if std::time::Instant::now() > deadline {
                // SAFETY: killing and reaping our own child by pid.
                unsafe {
                    libc::kill(child.pid, libc::SIGKILL);
                    libc::waitpid(child.pid, &mut st, 0);
                }
                panic!("child {} did not exit in time", child.pid);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        let text = |i: usize| {
            outs.get(i)
                .map(|o| String::from_utf8_lossy(&o.1).into_owned())
                .unwrap_or_default()
        };
        (status, text(0), text(1))
    }

    const METHODS: [Method; 3] = [Method::Auto, Method::Clone, Method::Fork];

    #[test]
    fn both_methods_run_the_command_with_env_dir_and_umask() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        for m in METHODS {
            let mut p = process("sh -c 'pwd; umask; echo $SUPERVISOR_PROCESS_NAME; echo e >&2'");
            p.directory = Some(dir.path().to_str().unwrap().into());
            p.umask = Some(0o027);
            let (code, out, err) = run(&p, m);
            assert_eq!(code, 0, "{m:?}: {err}");
            assert_eq!(out, format!("{}\n0027\np\n", real.display()), "{m:?}");
            assert_eq!(err, "e\n", "{m:?}");
        }
    }

    #[test]
    fn both_methods_report_bad_directory() {
        for m in METHODS {
            let mut p = process("/bin/true");
            p.directory = Some("/nonexistent-spawn-unit-dir".into());
            let (code, out, err) = run(&p, m);
            assert_eq!((code, out.as_str()), (127, ""), "{m:?}");
            assert_eq!(
                err,
                "supervisor: couldn't chdir to /nonexistent-spawn-unit-dir: ENOENT\n\
                 supervisor: child process was not spawned\n",
                "{m:?}"
            );
        }
    }

    #[test]
    fn both_methods_report_exec_failure() {
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("bogus");
        std::fs::write(&bogus, [0u8, 1, 2, 3]).unwrap();
        std::fs::set_permissions(&bogus, std::fs::Permissions::from_mode(0o755)).unwrap();
        for m in METHODS {
            let p = process(&format!("{} arg", bogus.display()));
            let (code, _, err) = run(&p, m);
            assert_eq!(code, 127, "{m:?}");
            assert_eq!(
                err,
                format!(
                    "supervisor: couldn't exec {}: ENOEXEC\n\
                     supervisor: child process was not spawned\n",
                    bogus.display()
                ),
                "{m:?}"
            );
        }
    }

    #[test]
    fn both_methods_drop_privileges_without_touching_the_parent() {
        // SAFETY: getuid/geteuid cannot fail.
        let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
        // A second thread: glibc's set*id wrappers would change its credentials too if
        // the child used them while sharing our memory.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            rx.recv().unwrap();
            // SAFETY: as above.
            unsafe { (libc::getuid(), libc::geteuid()) }
        });
        for m in METHODS {
            let mut p = process("sh -c 'id -u; id -g'");
            p.user = Some("nobody".into());
            p.uid = Some(65534);
            let (code, out, err) = run(&p, m);
            if uid == 0 {
                assert_eq!(code, 0, "{m:?}: {err}");
                let nobody = nix::unistd::User::from_uid(65534.into()).unwrap().unwrap();
                assert_eq!(out, format!("65534\n{}\n", nobody.gid), "{m:?}");
            } else {
                assert_eq!(code, 127, "{m:?}");
                assert_eq!(
                    err,
                    "supervisor: couldn't setuid to 65534: Can't drop privilege as nonroot user\n\
                     supervisor: child process was not spawned\n"
                );
            }
            // SAFETY: as above.
            assert_eq!(unsafe { (libc::getuid(), libc::geteuid()) }, (uid, euid));
        }
        tx.send(()).unwrap();
        assert_eq!(other.join().unwrap(), (uid, euid));
    }

    #[test]
    fn both_methods_reset_signals_and_keep_the_parent_mask() {
        // Block SIGUSR2 in this thread: the child must still start with an empty mask and
        // this thread must get exactly its own mask back.
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(nix::sys::signal::Signal::SIGUSR2);
        let mut before = nix::sys::signal::SigSet::empty();
        nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_BLOCK,
            Some(&set),
            Some(&mut before),
        )
        .unwrap();
        let mut blocked = before;
        blocked.add(nix::sys::signal::Signal::SIGUSR2);
        for m in METHODS {
            // grep reads its own status: the child's mask and dispositions as exec'd.
            let p = process("grep -E \"^Sig(Blk|Ign)\" /proc/self/status");
            let (code, out, err) = run(&p, m);
            assert_eq!(code, 0, "{m:?}: {err}");
            assert!(out.contains("SigBlk:\t0000000000000000\n"), "{m:?}: {out}");
            // glibc refuses to touch its reserved signals 32 and 33.
            let ign = out
                .lines()
                .find_map(|l| l.strip_prefix("SigIgn:\t"))
                .map(|v| u64::from_str_radix(v, 16).unwrap())
                .unwrap();
            assert_eq!(ign & !0x1_8000_0000, 0, "{m:?}: {out}");
            // Only 0, 1, 2 are inherited (3 is the directory ls itself opens).
            let (code, out, _) = run(&process("ls /proc/self/fd"), m);
            assert_eq!((code, out.as_str()), (0, "0\n1\n2\n3\n"), "{m:?}");
            let mut now = nix::sys::signal::SigSet::empty();
            nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_BLOCK,
                None,
                Some(&mut now),
            )
            .unwrap();
            assert_eq!(now, blocked, "{m:?}");
        }
        nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&before),
            None,
        )
        .unwrap();
    }

    #[test]
    fn shared_table_path_is_used_and_puts_dev_null_back_on_the_slots() {
        reserve_fd_slots();
        let Some(slots) = fd_slots() else {
            // Kernels before 5.9 (or a seccomp filter) leave only the copied-table paths.
            assert!(!unshare_works());
            return;
        };
        let (code, out, _) = run(&process("sh -c 'echo ok'"), Method::Auto);
        assert_eq!((code, out.as_str()), (0, "ok\n"));
        // Other tests spawn concurrently: look at the slots between two spawns.
        let guard = slots.lock().unwrap_or_else(|e| e.into_inner());
        for fd in guard.slots {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
            assert_eq!(target, PathBuf::from("/dev/null"), "slot {fd}");
        }
    }

    #[test]
    fn clone_path_survives_concurrent_spawns_from_many_threads() {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let p = process(&format!("sh -c 'echo {t}-{i}'"));
                        let (code, out, err) = run(&p, Method::Auto);
                        assert_eq!((code, out), (0, format!("{t}-{i}\n")), "{err}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    fn dirs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headroom_is_kept_free() {
        assert_eq!(fd_headroom(1024), 32);
        assert_eq!(fd_headroom(128), 32);
        assert_eq!(fd_headroom(64), 16);
        assert_eq!(fd_headroom(0), 0);
        // With a 128 limit and 32 kept, descriptors 0..=95 may go to a spawn.
        assert!(!breaks_headroom(95, 128, 0));
        assert!(breaks_headroom(96, 128, 0));
        // Promised log files are kept on top.
        assert!(breaks_headroom(95, 128, 1));
        assert!(!breaks_headroom(85, 128, 10));
        assert!(breaks_headroom(10, 128, usize::MAX));
        assert!(breaks_headroom(-1, 128, 0));
    }

    #[test]
    fn resolve_messages() {
        let d = dirs(&["/bin", "/usr/bin"]);
        let e = resolve_command_in("", &d).unwrap_err();
        assert_eq!(e.to_string(), "command is empty");
        assert_eq!(e.kind, SpawnErrorKind::NotExecutable);
        let e = resolve_command_in("a 'b", &d).unwrap_err();
        assert_eq!(
            e.to_string(),
            "can't parse command \"a 'b\": No closing quotation"
        );
        let e = resolve_command_in("/no/such/cmd x", &d).unwrap_err();
        assert_eq!(e.to_string(), "can't find command '/no/such/cmd'");
        assert_eq!(e.kind, SpawnErrorKind::NoFile);
        let e = resolve_command_in("nosuchcommand-xyz", &d).unwrap_err();
        assert_eq!(e.to_string(), "can't find command 'nosuchcommand-xyz'");
        let e = resolve_command_in("/tmp", &d).unwrap_err();
        assert_eq!(e.to_string(), "command at '/tmp' is a directory");
        assert_eq!(e.kind, SpawnErrorKind::NotExecutable);
        let e = resolve_command_in("/etc/passwd", &d).unwrap_err();
        assert_eq!(e.to_string(), "command at '/etc/passwd' is not executable");
        let (p, argv) = resolve_command_in("sh -c 'echo hi'", &d).unwrap();
        assert_eq!(p, PathBuf::from("/bin/sh"));
        assert_eq!(argv, dirs(&["sh", "-c", "echo hi"]));
        // The first directory where the name stats wins, even if it is not executable.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("sh"), "").unwrap();
        let first = tmp.path().to_str().unwrap().to_string();
        let e = resolve_command_in("sh", &[first.clone(), "/bin".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("command at '{first}/sh' is not executable")
        );
    }

    #[test]
    fn search_path_precedence() {
        let mut p = process("x");
        let sd = vec![("PATH".to_string(), "/sd".to_string())];
        assert_eq!(search_path(&p, &[], Some("/a:/b")), dirs(&["/a", "/b"]));
        assert_eq!(search_path(&p, &[], Some("")), dirs(DEFAULT_PATH));
        assert_eq!(search_path(&p, &[], None), dirs(DEFAULT_PATH));
        assert_eq!(search_path(&p, &sd, Some("/a")), dirs(&["/sd"]));
        p.environment = vec![("PATH".into(), "/prog:".into())];
        assert_eq!(search_path(&p, &sd, Some("/a")), dirs(&["/prog", ""]));
    }

    #[test]
    fn environment_order_and_override() {
        let mut p = process("x");
        p.environment = vec![("B".into(), "prog".into()), ("NEW".into(), "1".into())];
        let sd = vec![
            ("A".to_string(), "sd".to_string()),
            ("B".into(), "sd".into()),
        ];
        let req = SpawnRequest {
            process: &p,
            supervisord_environment: &sd,
            server_url: Some("unix:///tmp/s.sock"),
            fcgi_socket: None,
        };
        let daemon = vec![
            (OsString::from("A"), OsString::from("daemon")),
            ("SUPERVISOR_ENABLED".into(), "0".into()),
        ];
        let env = child_environment(daemon, &req);
        let get = |k: &str| {
            env.iter()
                .find(|(ek, _)| ek == k)
                .map(|(_, v)| v.to_str().unwrap().to_string())
        };
        assert_eq!(get("A").as_deref(), Some("sd"));
        assert_eq!(get("B").as_deref(), Some("prog"));
        assert_eq!(get("NEW").as_deref(), Some("1"));
        assert_eq!(get("SUPERVISOR_ENABLED").as_deref(), Some("1"));
        assert_eq!(get("SUPERVISOR_PROCESS_NAME").as_deref(), Some("p"));
        assert_eq!(get("SUPERVISOR_GROUP_NAME").as_deref(), Some("g"));
        assert_eq!(
            get("SUPERVISOR_SERVER_URL").as_deref(),
            Some("unix:///tmp/s.sock")
        );
        assert_eq!(env.iter().filter(|(k, _)| k == "A").count(), 1);
        let req = SpawnRequest {
            server_url: None,
            ..req
        };
        let env = child_environment(Vec::new(), &req);
        assert!(!env.iter().any(|(k, _)| k == "SUPERVISOR_SERVER_URL"));
    }

    fn load(body: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, body.replace("HERE", dir.path().to_str().unwrap())).unwrap();
        supervisor_config::load(&path).unwrap()
    }

    #[test]
    fn server_url_rules() {
        let base = "[supervisord]\nlogfile=HERE/sd.log\npidfile=HERE/sd.pid\n[program:p]\ncommand=/bin/true\n";
        let c = load(base);
        assert_eq!(daemon_server_url(&c), None);
        let c = load(&format!(
            "{base}[inet_http_server]\nport=127.0.0.1:9001\n[inet_http_server:two]\nport=:9002\n"
        ));
        assert_eq!(
            daemon_server_url(&c).as_deref(),
            Some("http://localhost:9002")
        );
        let c = load(&format!(
            "{base}[inet_http_server]\nport=127.0.0.1:9001\n[unix_http_server]\nfile=HERE/s.sock\n"
        ));
        let url = daemon_server_url(&c).unwrap();
        assert!(
            url.starts_with("unix:///") && url.ends_with("/s.sock"),
            "{url}"
        );
        let mut p = process("x");
        assert_eq!(server_url_for(&p, &c), Some(url.clone()));
        p.serverurl = Some("AUTO".into());
        assert_eq!(server_url_for(&p, &c), Some(url));
        p.serverurl = Some("http://elsewhere:1".into());
        assert_eq!(
            server_url_for(&p, &c).as_deref(),
            Some("http://elsewhere:1")
        );
    }
}
