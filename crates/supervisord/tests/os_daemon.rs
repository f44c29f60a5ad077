//! Integration test of `daemon::daemonize` + pidfile: a forked helper detaches and
//! reports what the detached process sees. One test in this binary, so the fork happens
//! with no other test thread running.

use std::path::Path;
use std::time::{Duration, Instant};

use supervisord::daemon;

fn wait_for(path: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if s.ends_with("END\n") {
                return s;
            }
        }
        assert!(Instant::now() < deadline, "daemon never reported");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn daemonize_detaches_chdirs_sets_umask_and_writes_pidfile() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let pidfile = dir.path().join("sd.pid");
    let workdir = dir.path().join("work");
    std::fs::create_dir(&workdir).unwrap();

    // SAFETY: the child only runs daemonize and simple file writes, then _exits.
    let helper = unsafe { libc::fork() };
    assert!(helper >= 0);
    if helper == 0 {
        let result = std::panic::catch_unwind(|| {
            let msgs = daemon::daemonize(Some(&workdir), 0o027).unwrap();
            let (_, started) = daemon::write_pidfile(&pidfile);
            // SAFETY: umask only swaps the process's file mode mask (read, then put back); no
            // memory is involved.
            let umask = unsafe {
                let m = libc::umask(0);
                libc::umask(m);
                m
            };
            let text = format!(
                "pid={}\nsid={}\numask={:o}\ncwd={}\nstdin={}\nmsgs={}\nstarted={}\nEND\n",
                std::process::id(),
                // SAFETY: getsid(0) asks for this process's session id; no memory is involved.
                unsafe { libc::getsid(0) },
                umask,
                std::env::current_dir().unwrap().display(),
                std::fs::read_link("/proc/self/fd/0").unwrap().display(),
                msgs.iter()
                    .map(|m| m.text.clone())
                    .collect::<Vec<_>>()
                    .join("|"),
                started.text,
            );
            std::fs::write(&report, text).unwrap();
        });
        // SAFETY: _exit ends the forked child at once, without running destructors or exit handlers
        // on state copied from the test process.
        unsafe { libc::_exit(if result.is_ok() { 0 } else { 1 }) };
    }
    // The helper is the "parent" half of daemonize: it must exit 0 right away.
    let mut st = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // SAFETY: waitpid writes one int through a pointer to a live local; `helper` is our
        // unreaped child.
        if unsafe { libc::waitpid(helper, &mut st, libc::WNOHANG) } == helper {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: kill takes plain integers; `helper` is our child, not yet reaped, so its pid
            // cannot have been reused.
            unsafe { libc::kill(helper, libc::SIGKILL) };
            panic!("daemonize parent did not exit");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);

    let text = wait_for(&report, Duration::from_secs(10));
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    let pid: i32 = get("pid").parse().unwrap();
    assert_ne!(pid, helper);
    assert_eq!(
        get("sid"),
        pid.to_string(),
        "daemon must lead its own session"
    );
    assert_eq!(get("umask"), "27");
    assert_eq!(get("cwd"), workdir.display().to_string());
    assert_eq!(get("stdin"), "/dev/null");
    assert_eq!(
        get("msgs"),
        format!(
            "daemonizing the supervisord process|set current directory: '{}'",
            workdir.display()
        )
    );
    assert_eq!(
        get("started"),
        format!("supervisord started with pid {pid}")
    );
    assert_eq!(daemon::read_pidfile(&pidfile), Some(pid));
    // The detached process exits on its own right after reporting; make sure by pid.
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon::pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if daemon::pid_alive(pid) {
        // SAFETY: kill takes plain integers; `pid` is the detached daemon this test started, seen
        // alive just above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
