//! Unit tests of the spawn module: every start method against real children, the fd slots,
//! the headroom, command resolution, the environment and the server URL.

#![allow(unsafe_code)] // the tests poll, read and reap real children.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::parent::{fd_slots, unshare_works, Method};
use super::*;
use supervisor_config::{AutoRestart, Config, LogChannelConfig, LogFile};

pub(crate) fn process(command: &str) -> ProcessConfig {
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
    let base =
        "[supervisord]\nlogfile=HERE/sd.log\npidfile=HERE/sd.pid\n[program:p]\ncommand=/bin/true\n";
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
