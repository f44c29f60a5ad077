//! The child side of a spawn: the async-signal-safe zone.
//!
//! Everything in this module runs in the new child between its creation and `execve`,
//! while it is either a `fork()` copy of one thread of the daemon or a
//! `clone(CLONE_VM | CLONE_VFORK)` child running on the daemon's own memory (its parent
//! thread suspended until `execve` or `_exit`). In both cases the rules are the same:
//!
//! * no allocation, no lock, no unwinding, no code of the daemon that may take a lock
//!   (another thread of the daemon may have held it at the moment of the clone);
//! * only raw system calls that are async-signal-safe, on memory the parent prepared in a
//!   [`ChildPlan`] before the child existed (C strings, NULL-terminated pointer arrays,
//!   ready-made messages, the group list);
//! * the child never returns into daemon code: it ends in `execve` or `_exit(127)`.
//!
//! The parent side (pipes, the signal mask, the clone itself) is in `super::parent`; the
//! pure decisions (what to exec, which user) are in `super::command`.

#![allow(unsafe_code)] // the child is raw system calls by nature.

use std::ffi::CString;
use std::os::fd::RawFd;

use super::command::UserPlan;
use super::pyfmt::errno_static_name;

/// Everything the child needs, prepared before fork so the child never allocates.
///
/// Invariant the child relies on: `argv_ptrs` and `env_ptrs` point at the buffers of
/// `argv` and `env` (which are not changed after the pointers are taken) and end with a
/// NULL pointer; see [`ChildPlan::seal`].
pub(super) struct ChildPlan {
    pub(super) path: CString,
    pub(super) argv: Vec<CString>,
    pub(super) argv_ptrs: Vec<*const libc::c_char>,
    pub(super) env: Vec<CString>,
    pub(super) env_ptrs: Vec<*const libc::c_char>,
    pub(super) directory: Option<CString>,
    pub(super) chdir_failed: Vec<u8>,
    pub(super) exec_failed: Vec<u8>,
    pub(super) umask: Option<libc::mode_t>,
    pub(super) user: UserPlan,
    pub(super) stdin_fd: RawFd,
    pub(super) stdout_fd: RawFd,
    pub(super) stderr_fd: RawFd,
    pub(super) max_fd: RawFd,
    /// `rlimits=`: the limits the child sets before dropping privileges (`super::rlimits`).
    pub(super) rlimits: Vec<super::rlimits::LimitPlan>,
    /// `cgroup.procs` files the child writes `0` to (joins) before exec (cgroup keys).
    pub(super) cgroup_join: Vec<CString>,
    /// The message before the errno when joining fails.
    pub(super) cgroup_failed: Vec<u8>,
}

impl ChildPlan {
    /// Takes the NULL-terminated pointer arrays `execve` reads from `argv` and `env`.
    /// Called once the plan is complete; moving the plan afterwards keeps the pointers
    /// valid (they point into the strings' heap buffers, not into the plan).
    pub(super) fn seal(&mut self) {
        self.argv_ptrs = self.argv.iter().map(|c| c.as_ptr()).collect();
        self.argv_ptrs.push(std::ptr::null());
        self.env_ptrs = self.env.iter().map(|c| c.as_ptr()).collect();
        self.env_ptrs.push(std::ptr::null());
    }

    /// The plan's own descriptors as the child's future 0, 1 and 2, on a copied fd table.
    pub(super) fn own_fds(&self) -> ChildFds {
        ChildFds {
            stdin: self.stdin_fd,
            stdout: self.stdout_fd,
            stderr: self.stderr_fd,
            unshare_below: None,
        }
    }
}

/// Where the child finds what becomes its fds 0, 1 and 2.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChildFds {
    pub(super) stdin: RawFd,
    pub(super) stdout: RawFd,
    pub(super) stderr: RawFd,
    /// Set when the child starts on the daemon's own fd table (`CLONE_FILES`): it must
    /// first unshare it, keeping only the descriptors below this number.
    pub(super) unshare_below: Option<u32>,
}

/// What a cloned child receives: the plan and where its fds are.
pub(super) struct ChildStart<'a> {
    pub(super) plan: &'a ChildPlan,
    pub(super) fds: ChildFds,
}

/// `close_range` flag: give the caller a private fd table holding only the descriptors
/// below the range (Linux 5.9).
const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;

/// Sets the calling thread's signal mask with the raw system call, so that glibc's
/// internal signals are covered too. Returns the previous mask. Async-signal-safe; used
/// by the parent around the start and by the child to empty its mask.
pub(super) fn raw_sigmask(how: libc::c_int, set: u64) -> u64 {
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask reads 8 bytes from `set` and writes 8 bytes to `old`, two
    // locals alive for the call, and the size passed is exactly theirs (the kernel's
    // sigset is 64 bits on Linux). Changing the mask has no memory-safety effect.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &set as *const u64,
            &mut old as *mut u64,
            std::mem::size_of::<u64>(),
        );
    }
    old
}

/// The first function of the cloned child (the `clone` entry point).
///
/// `arg` must be the `*const ChildStart` given by `super::parent::clone_vfork`, which
/// keeps it alive: with `CLONE_VFORK` the parent thread stays suspended (its stack frame,
/// holding the `ChildStart` and the plan it borrows, untouched) until this child has
/// called `execve` or `_exit`.
pub(super) extern "C" fn clone_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is a valid, aligned `&ChildStart` for as long as the child runs (see
    // above), and we are the new child, as `child_exec` requires.
    unsafe {
        let start = &*(arg as *const ChildStart<'_>);
        child_exec(start.plan, start.fds)
    }
}

/// The child `super::parent::unshare_works` clones (on the daemon's fd table) to learn
/// whether `close_range(CLOSE_RANGE_UNSHARE)` works here: exits 0 when it does.
pub(super) extern "C" fn unshare_probe(_: *mut libc::c_void) -> libc::c_int {
    // SAFETY: two raw, async-signal-safe system calls with no pointers; the range starts
    // past every descriptor, so nothing is closed, the fd table is just unshared.
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

/// Writes all of `buf` to fd 2 (async-signal-safe).
fn write_stderr(buf: &[u8]) {
    write_fd(2, buf)
}

/// Writes all of `buf` to `fd` (async-signal-safe: `write` and errno only).
fn write_fd(fd: RawFd, buf: &[u8]) {
    let mut off = 0;
    while off < buf.len() {
        // SAFETY: write(2) reads at most `buf.len() - off` bytes starting at
        // `buf[off..]`, all inside the live slice; a bad descriptor only makes it fail.
        let n = unsafe { libc::write(fd, buf[off..].as_ptr().cast(), buf.len() - off) };
        if n < 0 {
            if errno() == libc::EINTR {
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

/// Writes the symbolic name of `errno` (or its number) followed by a newline.
fn write_errno_line(code: i32) {
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

/// The calling thread's `errno`.
fn errno() -> i32 {
    // SAFETY: `__errno_location` always returns a valid pointer to the calling thread's
    // errno. In a `CLONE_VM` child that is the suspended parent thread's errno, which
    // nothing else reads or writes until the child is gone.
    unsafe { *libc::__errno_location() }
}

/// Reports the generic failure line and leaves with 127 (never returns).
fn child_fail() -> ! {
    write_stderr(b"supervisor: child process was not spawned\n");
    // SAFETY: `_exit` ends the process at once without running atexit handlers or
    // flushing stdio buffers that belong to the daemon.
    unsafe { libc::_exit(127) }
}

#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
use libc::{SYS_setgid as SYS_SETGID, SYS_setgroups as SYS_SETGROUPS, SYS_setuid as SYS_SETUID};
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
use libc::{
    SYS_setgid32 as SYS_SETGID, SYS_setgroups32 as SYS_SETGROUPS, SYS_setuid32 as SYS_SETUID,
};

/// The child side of [`super::spawn`]: signals, fds 0/1/2, the fd table, user, directory,
/// umask, then `execve`. Only async-signal-safe calls from here on; never returns.
///
/// # Safety
///
/// Only to be called as the first thing in a new child: one made by `fork()`, or by
/// `clone(CLONE_VM | CLONE_VFORK)` from a thread that has blocked every signal and stays
/// suspended until this child has exec'd or exited. `plan` and `fds` must be what the
/// parent prepared for this child (`plan` sealed with [`ChildPlan::seal`]).
pub(super) unsafe fn child_exec(plan: &ChildPlan, fds: ChildFds) -> ! {
    // SAFETY: every call below is an async-signal-safe system call. The pointers passed
    // come from `plan`: NUL-terminated `CString`s and NULL-terminated pointer arrays into
    // them (the seal invariant), all owned by the parent's frame, which cannot change or
    // free them while we run (a fork child has its own copy; a vfork child's parent is
    // suspended). The descriptors are the parent's pipe ends or slots, open in our table.
    // Nothing here allocates, locks or unwinds, and every path ends in execve or _exit.
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

        // cgroup keys: join the process's cgroups (still with the daemon's privileges).
        for procs in &plan.cgroup_join {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                let code = errno();
                write_stderr(&plan.cgroup_failed);
                write_errno_line(code);
                child_fail();
            }
            libc::close(fd);
        }

        // rlimits=: set while still privileged, so a root daemon may raise hard limits.
        if let Some((msg, code)) = super::rlimits::apply_in_child(&plan.rlimits) {
            write_stderr(msg);
            write_errno_line(code);
            child_fail();
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
