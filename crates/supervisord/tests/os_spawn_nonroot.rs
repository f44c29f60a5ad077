//! `user=` from a non-root daemon: the child must refuse with the reference's message.
//! When the test runs as root, a forked helper first drops to `nobody` to play the
//! non-root daemon. One test in this binary, so the fork happens with no other test
//! thread running.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use supervisor_config::{AutoRestart, LogChannelConfig, LogFile, ProcessConfig};
use supervisord::spawn::{spawn, SpawnRequest};

fn process(command: &str) -> ProcessConfig {
    let chan = LogChannelConfig {
        logfile: LogFile::None,
        logfile_maxbytes: 0,
        logfile_backups: 0,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
        ..Default::default()
    };
    ProcessConfig {
        name: "p".into(),
        group: "p".into(),
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
        user: Some("root".into()),
        uid: Some(0),
        redirect_stderr: false,
        stdout: chan.clone(),
        stderr: chan,
        environment: vec![],
        directory: None,
        umask: None,
        serverurl: None,
        critical: false,
        ready: None,
        resources: Default::default(),
        health: None,
        depends_on: Vec::new(),
        restart: Default::default(),
        rlimits: Vec::new(),
        environment_files: Vec::new(),
    }
}

/// Runs in the (possibly demoted) helper: spawn with user=root, return (status, stderr).
fn spawn_as_root_user() -> (i32, String) {
    let p = process("/bin/true");
    let child = spawn(&SpawnRequest {
        process: &p,
        supervisord_environment: &[],
        server_url: None,
        fcgi_socket: None,
    })
    .unwrap();
    let err_fd = child.stderr.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut err = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        // SAFETY: read writes at most buf.len() bytes into `buf`, which is valid for that length;
        // the fd is owned by `err_fd`.
        let n = unsafe { libc::read(err_fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            err.extend_from_slice(&buf[..n as usize]);
        } else if n == 0 || Instant::now() > deadline {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut st = 0;
    // SAFETY: waitpid writes one int through a pointer to a live local; `child.pid` is our unreaped
    // child.
    unsafe { libc::waitpid(child.pid, &mut st, 0) };
    (
        libc::WEXITSTATUS(st),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[test]
fn nonroot_daemon_cannot_switch_user() {
    let expected = "supervisor: couldn't setuid to 0: Can't drop privilege as nonroot user\n\
                    supervisor: child process was not spawned\n";
    // SAFETY: getuid cannot fail and touches no memory.
    if unsafe { libc::getuid() } != 0 {
        assert_eq!(spawn_as_root_user(), (127, expected.to_string()));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // SAFETY: the helper drops privileges, spawns, writes a file and _exits.
    let helper = unsafe { libc::fork() };
    assert!(helper >= 0);
    if helper == 0 {
        // SAFETY: in the forked helper: setgid/setuid take plain integers and change only its own
        // credentials.
        let ok = unsafe { libc::setgid(65534) == 0 && libc::setuid(65534) == 0 };
        let code = if ok {
            let (status, err) = spawn_as_root_user();
            std::fs::write(&report, format!("{status}\n{err}")).map_or(1, |_| 0)
        } else {
            2
        };
        // SAFETY: _exit ends the forked helper at once, without running destructors or exit
        // handlers on state copied from the test process.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut st = 0;
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
            // SAFETY: waitpid writes one int through a pointer to a live local; `helper` is our
            // child, just killed.
            unsafe { libc::waitpid(helper, &mut st, 0) };
            panic!("helper did not finish");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(libc::WEXITSTATUS(st), 0, "helper failed");
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text, format!("127\n{expected}"));
}
