//! The fork/exec floor of this machine: a plain `posix_spawn` loop starting N copies of a
//! command (a measuring tool for `scripts/bench-spawn.py`, not a test).
//!
//! Each child gets `/dev/null` on stdin, stdout and stderr; with `--pipes` it gets a
//! pipe on stdout and stderr instead, whose read ends the tool keeps open (like a
//! supervisor): then every spawn copies the tool's growing fd table (posix_spawn clones
//! without `CLONE_FILES`), so the loop gets slower with N. Children are never waited
//! for until all are started. The tool prints one JSON line (`{"n": N, "spawn_s": .., "cpu_s": ..}`: wall
//! time of the loop and the tool's own CPU time), then kills and reaps every child.
//!
//! ```text
//! cargo run --release -p supervisord --example spawn_floor -- 1000 /bin/sleep 100000
//! ```

use std::ffi::CString;
use std::time::Instant;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let pipes = args.first().is_some_and(|a| a == "--pipes");
    if pipes {
        args.remove(0);
    }
    if args.len() < 2 {
        eprintln!("usage: spawn_floor [--pipes] N COMMAND [ARGS...]");
        std::process::exit(2);
    }
    let n: usize = args[0].parse().unwrap_or_else(|_| {
        eprintln!("N must be a number");
        std::process::exit(2)
    });
    let argv: Vec<CString> = args[1..]
        .iter()
        .map(|a| CString::new(a.as_bytes()).expect("no NUL in arguments"))
        .collect();
    let mut argv_ptrs: Vec<*mut libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr() as *mut libc::c_char)
        .collect();
    argv_ptrs.push(std::ptr::null_mut());
    let env: Vec<CString> = std::env::vars()
        .map(|(k, v)| CString::new(format!("{k}={v}")).expect("no NUL in the environment"))
        .collect();
    let mut env_ptrs: Vec<*mut libc::c_char> = env
        .iter()
        .map(|a| a.as_ptr() as *mut libc::c_char)
        .collect();
    env_ptrs.push(std::ptr::null_mut());

    let mut pids = Vec::with_capacity(n);
    let mut parent_ends = Vec::with_capacity(2 * n);
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    for _ in 0..n {
        let mut out = [-1; 2];
        let mut err = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into each array.
        unsafe {
            if pipes && libc::pipe2(out.as_mut_ptr(), libc::O_CLOEXEC) != 0
                || libc::pipe2(err.as_mut_ptr(), libc::O_CLOEXEC) != 0
            {
                eprintln!("pipe2: {}", std::io::Error::last_os_error());
                break;
            }
        }
        // SAFETY: the file actions and attributes are initialised before use and
        // destroyed after; the argument vectors are NULL-terminated and outlive the call.
        unsafe {
            let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
            libc::posix_spawn_file_actions_init(&mut fa);
            libc::posix_spawn_file_actions_addopen(
                &mut fa,
                0,
                c"/dev/null".as_ptr(),
                libc::O_RDONLY,
                0,
            );
            if pipes {
                libc::posix_spawn_file_actions_adddup2(&mut fa, out[1], 1);
                libc::posix_spawn_file_actions_adddup2(&mut fa, err[1], 2);
            } else {
                for fd in [1, 2] {
                    libc::posix_spawn_file_actions_addopen(
                        &mut fa,
                        fd,
                        c"/dev/null".as_ptr(),
                        libc::O_WRONLY,
                        0,
                    );
                }
            }
            let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
            libc::posix_spawnattr_init(&mut attr);
            let mut pid = 0;
            let rc = libc::posix_spawn(
                &mut pid,
                argv[0].as_ptr(),
                &fa,
                &attr,
                argv_ptrs.as_ptr(),
                env_ptrs.as_ptr(),
            );
            libc::posix_spawn_file_actions_destroy(&mut fa);
            libc::posix_spawnattr_destroy(&mut attr);
            if pipes {
                libc::close(out[1]);
                libc::close(err[1]);
                parent_ends.push(out[0]);
                parent_ends.push(err[0]);
            }
            if rc != 0 {
                eprintln!("posix_spawn: {}", std::io::Error::from_raw_os_error(rc));
                break;
            }
            pids.push(pid);
        }
    }
    let spawn_s = t0.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds() - cpu0;
    println!(
        "{{\"n\": {}, \"spawn_s\": {:.6}, \"cpu_s\": {:.6}}}",
        pids.len(),
        spawn_s,
        cpu_s
    );
    for pid in &pids {
        // SAFETY: kill and waitpid on children this process started.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    for pid in &pids {
        let mut status = 0;
        // SAFETY: as above.
        unsafe {
            libc::waitpid(*pid, &mut status, 0);
        }
    }
    for fd in parent_ends {
        // SAFETY: descriptors this process opened.
        unsafe { libc::close(fd) };
    }
}
