//! The real binary in daemon mode: the command returns 0 once the daemon is detached,
//! the pidfile names the daemon, and SIGTERM to that pid stops every child and removes
//! the pidfile and the unix socket file.

mod util;

use std::process::Command;
use std::time::{Duration, Instant};
use util::{alive, wait_file, wait_gone};

#[test]
fn daemon_mode_detaches_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let conf = dir.path().join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[unix_http_server]\nfile={d}/s.sock\n\n[supervisord]\nlogfile={d}/sd.log\npidfile={d}/sd.pid\n\
childlogdir={d}\nloglevel=debug\n\n[rpcinterface:supervisor]\n\
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
[program:a]\ncommand=sleep 300\nstartsecs=0\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let st = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("-c")
        .arg(&conf)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid: i32 = wait_file(&dir.path().join("sd.pid"), util::WAIT)
        .trim()
        .parse()
        .unwrap();
    // from here on the daemon must be stopped whatever happens
    struct Stop(i32);
    impl Drop for Stop {
        fn drop(&mut self) {
            if alive(self.0) {
                // SAFETY: kill(2) on the daemon pid read from its own pidfile.
                unsafe { libc::kill(self.0, libc::SIGTERM) };
                wait_gone(self.0, Duration::from_secs(15));
            }
        }
    }
    let guard = Stop(pid);
    assert!(alive(pid));
    // detached: no longer a child of the command we ran
    assert_ne!(util::parent_of(pid), Some(std::process::id() as i32));
    let log_path = dir.path().join("sd.log");
    let deadline = Instant::now() + util::WAIT;
    while !std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains("success: a")
    {
        assert!(Instant::now() < deadline, "a never became RUNNING");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("INFO daemonizing the supervisord process"),
        "{log}"
    );
    assert!(
        log.contains(&format!("INFO supervisord started with pid {pid}")),
        "{log}"
    );
    let child: i32 = log
        .lines()
        .find_map(|l| {
            l.split_once("spawned: 'a' with pid ")
                .map(|(_, p)| p.trim().parse().unwrap())
        })
        .unwrap();
    assert_eq!(util::parent_of(child), Some(pid));
    assert!(dir.path().join("s.sock").exists());
    // SAFETY: kill(2) on the daemon pid read from its pidfile.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(
        wait_gone(pid, Duration::from_secs(15)),
        "daemon did not exit"
    );
    drop(guard);
    assert!(!alive(child));
    assert!(!dir.path().join("sd.pid").exists());
    assert!(!dir.path().join("s.sock").exists());
}
