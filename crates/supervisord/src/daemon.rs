//! Process-level set-up of the daemon itself: switching user, resource limits,
//! detaching from the terminal, the pidfile.
//!
//! Each step reports what the reference logs (returned as [`StartupMessage`]s for the
//! caller to put in the main log once it is open) or fails with the reference's usage
//! error text (print with `cli::usage_error_text`, exit 2).
//!
//! [`daemonize`] forks once, like the reference: the parent exits 0 and the child becomes
//! a session leader with `setsid`. No second fork: a session leader only acquires a
//! controlling terminal by opening a tty, which the daemon never does. It must run before
//! any thread is started (build the tokio runtime afterwards); sockets opened earlier
//! survive the fork.

use std::ffi::CString;
use std::io;
use std::path::Path;

use supervisor_config::LogLevel;

use crate::spawn::pyfmt::py_repr;

/// A message to write to the main log once it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupMessage {
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub text: String,
}

impl StartupMessage {
    fn new(level: LogLevel, text: impl Into<String>) -> Self {
        StartupMessage {
            level,
            text: text.into(),
        }
    }
}

/// The critical message logged when running as root without `user=`.
pub const RUNNING_AS_ROOT: &str = "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message.";

/// Resolves a user name or numeric uid like the reference's `name_to_uid`
/// (`Invalid user name <u>` / `Invalid user id <u>`).
pub fn resolve_user(name: &str) -> Result<u32, String> {
    supervisor_config::datatypes::name_to_uid(name)
}

/// Switches the whole daemon to `uid` like the reference's `drop_privileges`: nothing to
/// do if already that uid; otherwise only root may (supplementary groups from the group
/// database, then gid, then uid). The error is the reference's reason text.
pub fn drop_privileges(uid: u32) -> Result<(), String> {
    let entry = match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u,
        _ => return Err(format!("Can't find uid {uid}")),
    };
    let current = nix::unistd::getuid().as_raw();
    if current == uid {
        return Ok(());
    }
    if current != 0 {
        return Err("Can't drop privilege as nonroot user".into());
    }
    let mut groups = vec![entry.gid];
    if let Ok(name) = CString::new(entry.name.as_bytes()) {
        if let Ok(list) = nix::unistd::getgrouplist(&name, entry.gid) {
            groups.extend(list);
        }
    }
    nix::unistd::setgroups(&groups).map_err(|_| "Could not set groups of effective user")?;
    nix::unistd::setgid(entry.gid).map_err(|_| "Could not set group id of effective user")?;
    nix::unistd::setuid(entry.uid).map_err(|e| format!("Could not set user id: {e}"))?;
    Ok(())
}

/// Start-up step 2 (§3.2): with `user=` switch to it (info `Set uid to user <uid>
/// succeeded`, or the usage error); without it, warn (critical) when running as root.
pub fn set_uid(user: Option<&str>) -> Result<Vec<StartupMessage>, String> {
    match user {
        None => {
            if nix::unistd::getuid().is_root() {
                Ok(vec![StartupMessage::new(
                    LogLevel::Critical,
                    RUNNING_AS_ROOT,
                )])
            } else {
                Ok(Vec::new())
            }
        }
        Some(u) => {
            let uid = resolve_user(u)?;
            drop_privileges(uid)?;
            Ok(vec![StartupMessage::new(
                LogLevel::Info,
                format!("Set uid to user {uid} succeeded"),
            )])
        }
    }
}

fn nofile_message(min: u64, hard: u64) -> String {
    format!("The minimum number of file descriptors required to run this process is {min} as per the \"minfds\" command-line argument or config file setting. The current environment will only allow you to open {hard} file descriptors.  Either raise the number of usable file descriptors in your environment (see README.rst) or lower the minfds setting in the config file to allow the process to start.")
}

fn nproc_message(min: u64, hard: u64) -> String {
    format!("The minimum number of available processes required to run this program is {min} as per the \"minprocs\" command-line argument or config file setting. The current environment will only allow you to open {hard} processes.  Either raise the number of usable processes in your environment (see README.rst) or lower the minprocs setting in the config file to allow the program to start.")
}

/// The decision for one resource limit: `None` = nothing to do, else the (soft, hard)
/// to set. Pure, for tests; mirrors the reference (raise soft to `min`, and hard too when
/// it is lower; "unlimited" never needs raising).
pub fn plan_rlimit(soft: u64, hard: u64, min: u64) -> Option<(u64, u64)> {
    let inf = libc::RLIM_INFINITY;
    if soft < min && soft != inf {
        let hard = if hard < min && hard != inf { min } else { hard };
        Some((min, hard))
    } else {
        None
    }
}

/// The type of getrlimit's resource argument: glibc's own enum type, a plain int on musl
/// (the static build, scripts/build-static).
#[cfg(target_env = "gnu")]
type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type RlimitResource = libc::c_int;

fn raise_limit(
    resource: RlimitResource,
    name: &str,
    min: u64,
    message: fn(u64, u64) -> String,
) -> Result<Option<StartupMessage>, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through the pointer to `lim`, a live local of
    // that type; `resource` is one of the RLIMIT_* constants.
    if unsafe { libc::getrlimit(resource, &mut lim) } != 0 {
        return Ok(None);
    }
    let Some((soft, hard)) = plan_rlimit(lim.rlim_cur, lim.rlim_max, min) else {
        return Ok(None);
    };
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the rlimit behind the pointer to `new`, a live local.
    if unsafe { libc::setrlimit(resource, &new) } != 0 {
        // The reference reports the hard limit it tried to set.
        return Err(message(min, hard));
    }
    Ok(Some(StartupMessage::new(
        LogLevel::Info,
        format!("Increased {name} limit to {min}"),
    )))
}

/// Start-up step 3: raise RLIMIT_NOFILE to `minfds` and RLIMIT_NPROC to `minprocs`
/// (info `Increased RLIMIT_NOFILE limit to <n>`), or fail with the reference's refusal.
pub fn set_rlimits(minfds: u64, minprocs: u64) -> Result<Vec<StartupMessage>, String> {
    let mut out = Vec::new();
    if let Some(m) = raise_limit(libc::RLIMIT_NOFILE, "RLIMIT_NOFILE", minfds, nofile_message)? {
        out.push(m);
    }
    if let Some(m) = raise_limit(libc::RLIMIT_NPROC, "RLIMIT_NPROC", minprocs, nproc_message)? {
        out.push(m);
    }
    Ok(out)
}

/// Python's `str(OSError)` for a failed call on `path`: `[Errno 2] No such file or
/// directory: '/x'`.
pub fn py_os_error(err: &io::Error, path: &str) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let text = io::Error::from_raw_os_error(code).to_string();
            let text = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text)
                .to_string();
            format!("[Errno {code}] {text}: {}", py_repr(path))
        }
        None => err.to_string(),
    }
}

/// Detaches: fork (the parent exits 0 at once), then in the child: chdir to `directory`
/// (info `set current directory: '<d>'` or critical `can't chdir into '<d>': <err>`),
/// 0/1/2 onto /dev/null, `setsid()`, `umask(umask)`. Returns, in the child only, the
/// messages to log (the first is `daemonizing the supervisord process`).
///
/// Call before any thread exists (before building the tokio runtime).
pub fn daemonize(directory: Option<&Path>, umask: u32) -> io::Result<Vec<StartupMessage>> {
    // SAFETY: callers run this before any thread exists (see above), so the child's copy
    // of the process holds no lock or state of a thread that did not come along.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        // SAFETY: the parent leaves without running destructors or atexit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut msgs = vec![StartupMessage::new(
        LogLevel::Info,
        "daemonizing the supervisord process",
    )];
    if let Some(dir) = directory {
        let shown = dir.to_string_lossy();
        match std::env::set_current_dir(dir) {
            Ok(()) => msgs.push(StartupMessage::new(
                LogLevel::Info,
                format!("set current directory: {}", py_repr(&shown)),
            )),
            Err(e) => msgs.push(StartupMessage::new(
                LogLevel::Critical,
                format!(
                    "can't chdir into {}: {}",
                    py_repr(&shown),
                    py_os_error(&e, &shown)
                ),
            )),
        }
    }
    redirect_std_to_devnull()?;
    // SAFETY: setsid and umask take plain integers and touch no memory (setsid cannot fail
    // here: a forked child is never a process-group leader).
    unsafe {
        libc::setsid();
        libc::umask(umask as libc::mode_t);
    }
    Ok(msgs)
}

/// Points fds 0, 1 and 2 at /dev/null.
pub fn redirect_std_to_devnull() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    use std::os::fd::AsRawFd;
    for fd in 0..3 {
        // SAFETY: dup2 takes plain descriptors: `null` stays open for the whole loop and
        // `fd` is 0, 1 or 2, replaced atomically.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes `<pid>\n` to `path` (replacing any stale pidfile atomically). Returns the
/// message to log: info `supervisord started with pid <pid>` on success, critical
/// `could not write pidfile <path>` on failure (the daemon carries on). The bool says
/// whether the file was written (and so must be removed at exit).
pub fn write_pidfile(path: &Path) -> (bool, StartupMessage) {
    let pid = std::process::id();
    let tmp = {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".{pid}.tmp"));
        std::path::PathBuf::from(s)
    };
    let ok =
        std::fs::write(&tmp, format!("{pid}\n")).is_ok() && std::fs::rename(&tmp, path).is_ok();
    if ok {
        (
            true,
            StartupMessage::new(
                LogLevel::Info,
                format!("supervisord started with pid {pid}"),
            ),
        )
    } else {
        let _ = std::fs::remove_file(&tmp);
        (
            false,
            StartupMessage::new(
                LogLevel::Critical,
                format!("could not write pidfile {}", path.display()),
            ),
        )
    }
}

/// Removes the pidfile at exit (only call if [`write_pidfile`] wrote it); errors ignored.
pub fn remove_pidfile(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// The pid recorded in a pidfile, if it holds one.
pub fn read_pidfile(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True if a process with this pid exists (a pidfile naming a dead pid is stale).
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_resolution_messages() {
        assert_eq!(resolve_user("root"), Ok(0));
        assert_eq!(resolve_user("0"), Ok(0));
        assert_eq!(
            resolve_user("no-such-user-xyz"),
            Err("Invalid user name no-such-user-xyz".into())
        );
        assert_eq!(resolve_user("54321"), Err("Invalid user id 54321".into()));
    }

    #[test]
    fn uid_step() {
        let me = nix::unistd::getuid().as_raw();
        assert_eq!(
            set_uid(Some(&me.to_string())).unwrap(),
            vec![StartupMessage::new(
                LogLevel::Info,
                format!("Set uid to user {me} succeeded")
            )]
        );
        let none = set_uid(None).unwrap();
        if me == 0 {
            assert_eq!(none[0].text, RUNNING_AS_ROOT);
            assert_eq!(none[0].level, LogLevel::Critical);
        } else {
            assert!(none.is_empty());
            assert_eq!(
                set_uid(Some("root")).unwrap_err(),
                "Can't drop privilege as nonroot user"
            );
        }
        assert_eq!(
            set_uid(Some("no-such-user-xyz")).unwrap_err(),
            "Invalid user name no-such-user-xyz"
        );
    }

    #[test]
    fn rlimit_plan() {
        let inf = libc::RLIM_INFINITY;
        assert_eq!(plan_rlimit(1024, 4096, 1024), None);
        assert_eq!(plan_rlimit(256, 4096, 1024), Some((1024, 4096)));
        assert_eq!(plan_rlimit(256, 512, 1024), Some((1024, 1024)));
        assert_eq!(plan_rlimit(inf, inf, 1024), None);
        assert_eq!(plan_rlimit(256, inf, 1024), Some((1024, inf)));
    }

    #[test]
    fn rlimits_current_values_are_fine() {
        // The defaults (1024 fds, 200 procs) are satisfiable in the test environment or
        // raised; either way no error and only "Increased" messages.
        let msgs = set_rlimits(64, 1).unwrap();
        assert!(msgs.iter().all(|m| m.text.starts_with("Increased ")));
    }

    #[test]
    fn refusal_text() {
        assert!(nofile_message(100000, 4096).starts_with("The minimum number of file descriptors required to run this process is 100000 as per the \"minfds\" command-line argument or config file setting. The current environment will only allow you to open 4096 file descriptors.  Either raise"));
        assert!(nproc_message(5, 4).contains("will only allow you to open 4 processes."));
    }

    #[test]
    fn pidfile_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sd.pid");
        std::fs::write(&p, "999999\n").unwrap(); // stale
        let (ok, msg) = write_pidfile(&p);
        assert!(ok);
        assert_eq!(
            msg.text,
            format!("supervisord started with pid {}", std::process::id())
        );
        assert_eq!(read_pidfile(&p), Some(std::process::id() as i32));
        assert!(pid_alive(std::process::id() as i32));
        remove_pidfile(&p);
        assert!(!p.exists());
        let bad = dir.path().join("nodir").join("sd.pid");
        let (ok, msg) = write_pidfile(&bad);
        assert!(!ok);
        assert_eq!(msg.level, LogLevel::Critical);
        assert_eq!(
            msg.text,
            format!("could not write pidfile {}", bad.display())
        );
    }

    #[test]
    fn os_error_text() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            py_os_error(&e, "/x"),
            "[Errno 2] No such file or directory: '/x'"
        );
    }
}
