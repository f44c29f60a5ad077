//! Ctrl-C while streaming: a SIGINT handler that only sets a flag.
//!
//! `tail -f`, `maintail -f` and `fg` install it for their duration (the reference turns
//! Ctrl-C into a return to the prompt there); everywhere else SIGINT keeps its default.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether SIGINT arrived since the guard was installed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The flag itself, for loops that poll it.
pub fn flag() -> &'static AtomicBool {
    &INTERRUPTED
}

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the flag-setting SIGINT handler; the previous disposition is restored on drop.
pub struct SigintGuard {
    old: libc::sigaction,
}

impl SigintGuard {
    /// Clears the flag and installs the handler (without `SA_RESTART`, so blocking
    /// reads return early).
    pub fn install() -> SigintGuard {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: sigaction with a handler that only stores to an atomic, which is
        // async-signal-safe; both structs are fully initialised by zeroed() + fields.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigint as *const () as usize;
            libc::sigemptyset(&mut new.sa_mask);
            new.sa_flags = 0;
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &new, &mut old);
            SigintGuard { old }
        }
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the disposition saved by install().
        unsafe {
            libc::sigaction(libc::SIGINT, &self.old, std::ptr::null_mut());
        }
        INTERRUPTED.store(false, Ordering::SeqCst);
    }
}

extern "C" fn on_sigint_exit(_: libc::c_int) {
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(1, b"\n".as_ptr().cast(), 1);
        libc::_exit(0);
    }
}

/// In the interactive shell, Ctrl-C while a command runs leaves the shell the way the
/// reference does: a newline and exit status 0. (`tail -f`/`fg` override this with
/// [`SigintGuard`] while they run.)
pub fn exit_on_sigint() {
    // SAFETY: installs a handler that only calls async-signal-safe functions.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = on_sigint_exit as *const () as usize;
        libc::sigemptyset(&mut new.sa_mask);
        new.sa_flags = 0;
        libc::sigaction(libc::SIGINT, &new, std::ptr::null_mut());
    }
}
