//! Spawning one child process: the imperative edge of the daemon.
//!
//! [`resolve_command`] turns `command=` into an executable path and argv exactly like the
//! reference (shlex split, PATH search relative to the daemon's cwd, the same `spawnerr`
//! texts). [`spawn`] creates the pipes, starts the child (`clone(CLONE_VM | CLONE_VFORK)`,
//! `fork()` as the last fallback) and, in the child, follows the reference's order: new
//! process group, fds 0/1/2, close everything else, drop privileges, chdir, umask, execve.
//! Every allocation (argv, envp, messages, group list) happens in the parent before the
//! child exists; the child only makes async-signal-safe system calls, so spawning is safe
//! from a multi-threaded daemon. A failure in the child is reported on its stderr pipe
//! in the reference's words and the child exits 127.
//!
//! This module does not track processes, reap them or decide anything: it returns a
//! [`Child`] (pid + parent pipe ends) or a [`SpawnError`] whose `Display` is the `spawnerr`.
//!
//! The code is split along its safety boundaries:
//!
//! * `command` (pure, `forbid(unsafe_code)`): command resolution, the child's environment,
//!   `SUPERVISOR_SERVER_URL`, the `user=` plan and the [`SpawnError`] texts.
//! * this module (no `unsafe` either): the public API, the order of the steps, the
//!   descriptor headroom and the child's plan.
//! * `parent`: the parent side (pipes, the descriptor slots, the signal mask around the
//!   start, `clone(CLONE_VM | CLONE_VFORK)` on a private stack with its fallbacks).
//! * `child`: the async-signal-safe child, from its first instruction to `execve`: raw
//!   system calls on memory prepared by the parent, nothing else.
//!
//! `unsafe` is denied for the whole module; `parent`, `child` and `tests` opt back in.

#![deny(unsafe_code)]

pub mod pyfmt;

mod child;
mod command;
mod envfile;
mod parent;
mod rlimits;
#[cfg(test)]
mod tests;

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use supervisor_config::ProcessConfig;

use child::ChildPlan;
use command::{cstring, plan_user};
use parent::{make_pipe, max_fd, nofile_limit, open_dev_null, start_child_with, Method};
use pyfmt::errno_name;

pub use command::child_environment_with;
pub use command::{
    child_environment, daemon_server_url, resolve_command, resolve_command_in, search_path,
    server_url_for, SpawnError, SpawnErrorKind, DEFAULT_PATH,
};
pub use envfile::{check_findings, parse_env, read_env_files, EnvFileError};
pub use parent::{reserve_fd_slots, set_nonblocking};

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

/// Which output channels of a child get `/dev/null` instead of a pipe (their bytes are
/// needed by nobody: see [`spawn_io`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NullOutput {
    /// stdout (and stderr with `redirect_stderr`) goes to `/dev/null`.
    pub stdout: bool,
    /// stderr goes to `/dev/null` (ignored with `redirect_stderr`).
    pub stderr: bool,
}

/// A started child whose output channels may have no pipe ([`spawn_io`]).
#[derive(Debug)]
pub struct ChildIo {
    /// The child's pid (also its process group id).
    pub pid: i32,
    /// Write end of the child's stdin; `None` for fcgi programs.
    pub stdin: Option<OwnedFd>,
    /// Read end of the child's stdout; `None` when it writes to `/dev/null`.
    pub stdout: Option<OwnedFd>,
    /// Read end of the child's stderr; `None` with `redirect_stderr` or `/dev/null`.
    pub stderr: Option<OwnedFd>,
}

/// The [`Child`] of a spawn that made every pipe.
fn with_pipes(c: ChildIo) -> Child {
    Child {
        pid: c.pid,
        stdin: c.stdin,
        stdout: c
            .stdout
            .expect("a stdout pipe is made unless /dev/null is asked for"),
        stderr: c.stderr,
    }
}

/// Like [`spawn_reserving`], with `/dev/null` instead of a pipe for the channels `null`
/// names: the daemon passes a channel whose log is `NONE` and whose bytes nothing else
/// needs, which saves a descriptor per such channel for as long as the child runs.
/// `join`: the `cgroup.procs` files of the process's cgroups (cgroup keys); the child
/// writes `0` to each before dropping privileges and exec'ing, so nothing it starts
/// escapes them (a failure is a quick exit 127 naming the process).
pub fn spawn_io(
    req: &SpawnRequest<'_>,
    extra: usize,
    null: NullOutput,
    join: &[std::ffi::CString],
) -> Result<ChildIo, SpawnError> {
    spawn_outputs(req, Method::Auto, extra, null, join)
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
    spawn_outputs(req, method, extra_fds, NullOutput::default(), &[]).map(with_pipes)
}

fn spawn_outputs(
    req: &SpawnRequest<'_>,
    method: Method,
    extra_fds: usize,
    null: NullOutput,
    join: &[std::ffi::CString],
) -> Result<ChildIo, SpawnError> {
    let process = req.process;
    let name = process.name.as_str();
    let (path, argv) = resolve_command(process, req.supervisord_environment)?;

    // environment_file= (read at every spawn) and rlimits=, prepared before the fork
    let file_env = envfile::read_env_files(&process.environment_files)
        .map_err(|e| SpawnError::new(SpawnErrorKind::Other, e.0))?;
    let rlimits = rlimits::plan_rlimits(&process.rlimits)?;
    let env = command::child_environment_with(std::env::vars_os(), &file_env, req);
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
    // A channel nobody reads gets /dev/null (opened for this child, closed below).
    let null_out = if null.stdout || (null.stderr && !process.redirect_stderr) {
        Some(open_dev_null().map_err(pipe_error)?)
    } else {
        None
    };
    let (stdout_r, stdout_w) = if null.stdout {
        (None, None)
    } else {
        let (r, w) = make_pipe().map_err(pipe_error)?;
        (Some(r), Some(w))
    };
    let stderr_pipe = if process.redirect_stderr || null.stderr {
        None
    } else {
        Some(make_pipe().map_err(pipe_error)?)
    };
    for fd in [
        stdin_pipe.as_ref().map(|p| &p.1),
        stdout_r.as_ref(),
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
        stdout_r
            .as_ref()
            .zip(stdout_w.as_ref())
            .map(|(r, w)| r.as_raw_fd().max(w.as_raw_fd())),
        null_out.as_ref().map(|n| n.as_raw_fd()),
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
    let null_fd = null_out.as_ref().map(|n| n.as_raw_fd());
    let stdout_fd = match (&stdout_w, null_fd) {
        (Some(w), _) => w.as_raw_fd(),
        (None, Some(n)) => n,
        (None, None) => unreachable!("/dev/null is open when stdout has no pipe"),
    };
    let stderr_fd = match (&stderr_pipe, null_fd) {
        (Some(p), _) => p.1.as_raw_fd(),
        (None, Some(n)) if null.stderr && !process.redirect_stderr => n,
        (None, _) => stdout_fd,
    };

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
        rlimits,
        cgroup_join: join.to_vec(),
        cgroup_failed: format!("supervisor: couldn't join the cgroup of {name}: ").into_bytes(),
    };
    plan.seal();

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
    drop(null_out);
    Ok(ChildIo {
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
