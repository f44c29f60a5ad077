//! The parent side of a spawn: the pipes, the descriptor slots, the signal mask around
//! the start, and the start itself.
//!
//! The child is created with `clone(CLONE_VM | CLONE_VFORK)` on a private, guarded stack
//! (no page tables copied), first on the daemon's own fd table with the pipe ends parked
//! on [`FdSlots`], else with a copied table, else with `fork()`. Every signal is blocked
//! in the calling thread while the child exists as a copy of it. What runs in the child is
//! in `super::child`; this module only hands it a plan and waits for `execve`.

#![allow(unsafe_code)] // the parent side makes the raw clone, mmap and descriptor calls.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::resource::{getrlimit, Resource};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{sysconf, Pid, SysconfVar};

use super::child::{
    child_exec, clone_entry, raw_sigmask, unshare_probe, ChildFds, ChildPlan, ChildStart,
};

/// A pipe whose ends are close-on-exec and numbered 3 or above (so dup2 onto 0/1/2 in the
/// child can never clobber another pipe end, even if the daemon's 0/1/2 were closed).
pub(super) fn make_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    Ok((lift_fd(r)?, lift_fd(w)?))
}

/// `/dev/null` opened for writing, close-on-exec, numbered 3 or above (for a child's
/// output channel that nobody reads).
pub(super) fn open_dev_null() -> io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    lift_fd(OwnedFd::from(f))
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
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?;
    fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK),
    )?;
    Ok(())
}

/// The `RLIMIT_NOFILE` soft limit (`None` when it cannot be read or is unlimited).
pub(super) fn nofile_limit() -> Option<u64> {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) if soft != libc::RLIM_INFINITY => Some(soft),
        _ => None,
    }
}

/// How [`start_child_with`] creates the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
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

/// Three descriptors low in the fd table on which [`super::spawn`] parks the child's future
/// stdin/stdout/stderr, plus the `/dev/null` that fills them between spawns.
///
/// A child cloned with its own copy of the fd table costs the kernel a reference on every
/// open file of the daemon (three per program) and then as many closes in the child. With
/// the pipe ends parked low, the child is instead cloned on the daemon's table
/// (`CLONE_FILES`) and its first call, `close_range(n, ~0, CLOSE_RANGE_UNSHARE)`, gives
/// it a private table with only the descriptors below `n`.
pub(super) struct FdSlots {
    pub(super) slots: [RawFd; 3],
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

pub(super) fn fd_slots() -> Option<&'static Mutex<FdSlots>> {
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
pub(super) fn unshare_works() -> bool {
    // Every signal blocked while the probe child shares this thread's memory.
    let old_mask = raw_sigmask(libc::SIG_SETMASK, ALL_SIGNALS);
    // SAFETY: `unshare_probe` reads no memory (its `arg` is NULL), makes two raw system
    // calls and `_exit`s; every signal is blocked just above.
    let result = unsafe { clone_on_stack(unshare_probe, std::ptr::null_mut(), libc::CLONE_FILES) };
    raw_sigmask(libc::SIG_SETMASK, old_mask);
    let Ok(pid) = result else {
        return false;
    };
    // Reaping the probe child we just created (it has already exited: vfork).
    matches!(
        waitpid(Pid::from_raw(pid), None),
        Ok(WaitStatus::Exited(_, 0))
    )
}

pub(super) fn start_child_with(plan: &ChildPlan, method: Method) -> Result<libc::pid_t, i32> {
    let slots = if method == Method::Auto {
        fd_slots()
    } else {
        None
    };
    // Every signal is blocked while the child exists as a copy of the daemon, so that no
    // handler of the daemon ever runs in it (after clone it shares the daemon's memory);
    // the child puts every disposition back to the default before unblocking, and this
    // thread restores its own mask afterwards.
    let old_mask = raw_sigmask(libc::SIG_SETMASK, ALL_SIGNALS);
    let result = start_child_blocked(plan, method, slots);
    raw_sigmask(libc::SIG_SETMASK, old_mask);
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
        let start = ChildStart {
            plan,
            fds: plan.own_fds(),
        };
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
        // SAFETY: we are the freshly forked child, and `plan` is the sealed plan made
        // for it (its memory is our own copy of the parent's).
        unsafe { child_exec(plan, plan.own_fds()) }
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

/// Creates the child with `clone(CLONE_VM | CLONE_VFORK | SIGCHLD | extra)`: the child
/// borrows the daemon's address space (no page tables are copied, which is what makes
/// `fork()` expensive for a daemon with many children) and this thread sleeps until the
/// child has called `execve` or exited. The caller has blocked every signal.
fn clone_vfork(start: &ChildStart<'_>, extra: libc::c_int) -> Result<libc::pid_t, i32> {
    // SAFETY: `clone_entry` only reads `start`, which outlives the call because
    // CLONE_VFORK keeps this thread suspended until the child has exec'd or exited; the
    // child never returns into code of the daemon (it ends in execve or _exit) and makes
    // only async-signal-safe calls (`child_exec`); the caller has blocked every signal.
    unsafe {
        clone_on_stack(
            clone_entry,
            start as *const ChildStart<'_> as *mut libc::c_void,
            extra,
        )
    }
}

/// `clone(CLONE_VM | CLONE_VFORK | SIGCHLD | extra)` running `entry(arg)` on a freshly
/// mapped stack that is unmapped once the child has exec'd or exited.
///
/// # Safety
///
/// `entry` runs on this process's memory while this thread is suspended: it must never
/// return, must only make async-signal-safe calls, and may only use `arg` and memory that
/// stays valid and unchanged until it has called `execve` or `_exit`. The calling thread
/// must have blocked every signal, so that no handler of the daemon runs in the child.
unsafe fn clone_on_stack(
    entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
    extra: libc::c_int,
) -> Result<libc::pid_t, i32> {
    let page = match sysconf(SysconfVar::PAGE_SIZE) {
        Ok(Some(n)) if n > 0 => n as usize,
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
    // SAFETY: the caller upholds the `# Safety` contract for `entry` and `arg`; the
    // stack is ours, mapped above, and CLONE_VFORK keeps this thread (and with it `arg`
    // and the mapping) waiting for as long as the child runs on them.
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

/// The highest fd number to close in the child if `close_range` is unavailable.
pub(super) fn max_fd() -> RawFd {
    match sysconf(SysconfVar::OPEN_MAX) {
        Ok(Some(n)) if n > 0 => n.min(65536) as RawFd,
        _ => 4096,
    }
}
