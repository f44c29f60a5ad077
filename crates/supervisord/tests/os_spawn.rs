//! Integration tests of `supervisord::spawn`: real children, real pipes.
//! Every child is waited for with a bounded wait and killed by pid on timeout.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use supervisor_config::{AutoRestart, LogChannelConfig, LogFile, ProcessConfig};
use supervisord::spawn::{spawn, Child, SpawnErrorKind, SpawnRequest};

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
        name: "proc".into(),
        group: "grp".into(),
        section: "program:proc".into(),
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

fn request(p: &ProcessConfig) -> SpawnRequest<'_> {
    SpawnRequest {
        process: p,
        supervisord_environment: &[],
        server_url: None,
        fcgi_socket: None,
    }
}

/// Reads both pipes to EOF and reaps the child, all within `limit`.
/// Returns (exit code or -signal, stdout, stderr).
fn collect(child: Child, limit: Duration) -> (i32, String, String) {
    let deadline = Instant::now() + limit;
    let mut outs: Vec<(OwnedFd, Vec<u8>, bool)> = vec![(child.stdout, Vec::new(), false)];
    if let Some(e) = child.stderr {
        outs.push((e, Vec::new(), false));
    }
    drop(child.stdin);
    while outs.iter().any(|o| !o.2) && Instant::now() < deadline {
        let mut pfds: Vec<libc::pollfd> = outs
            .iter()
            .filter(|o| !o.2)
            .map(|o| libc::pollfd {
                fd: o.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: poll reads and writes pfds.len() pollfds in `pfds`, a live Vec of exactly that
        // length.
        unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as _, 100) };
        for o in outs.iter_mut().filter(|o| !o.2) {
            let mut buf = [0u8; 65536];
            // SAFETY: read writes at most buf.len() bytes into `buf`, which is valid for that
            // length; the fd is owned by `o.0`.
            let n = unsafe { libc::read(o.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                o.1.extend_from_slice(&buf[..n as usize]);
            } else if n == 0 {
                o.2 = true;
            }
        }
    }
    // A pipe end still open in this process would keep EOF from ever arriving.
    assert!(
        outs.iter().all(|o| o.2),
        "no EOF on the child's pipes in time"
    );
    let status = wait_pid(child.pid, deadline);
    let text = |i: usize| {
        outs.get(i)
            .map(|o| String::from_utf8_lossy(&o.1).into_owned())
            .unwrap_or_default()
    };
    (status, text(0), text(1))
}

fn wait_pid(pid: i32, deadline: Instant) -> i32 {
    loop {
        let mut st = 0;
        // SAFETY: waitpid writes one int through a pointer to a live local; `pid` is our unreaped
        // child.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(st) {
                libc::WEXITSTATUS(st)
            } else {
                -libc::WTERMSIG(st)
            };
        }
        if Instant::now() > deadline {
            // SAFETY: kill takes plain integers; `pid` is our child, not yet reaped, so its pid
            // cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: waitpid writes one int through a pointer to a live local; `pid` is our child,
            // just killed.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            panic!("child {pid} did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn child_sees_environment_and_supervisor_variables() {
    let mut p = process("sh -c 'env'");
    p.environment = vec![
        ("FROM_PROGRAM".into(), "prog".into()),
        ("SHARED".into(), "program wins".into()),
    ];
    let sd_env = vec![
        ("FROM_SD".to_string(), "sd".to_string()),
        ("SHARED".to_string(), "sd".to_string()),
    ];
    let req = SpawnRequest {
        supervisord_environment: &sd_env,
        server_url: Some("http://localhost:9001"),
        ..request(&p)
    };
    let (code, out, err) = collect(spawn(&req).unwrap(), LIMIT);
    assert_eq!(code, 0, "stderr: {err}");
    for line in [
        "SUPERVISOR_ENABLED=1",
        "SUPERVISOR_PROCESS_NAME=proc",
        "SUPERVISOR_GROUP_NAME=grp",
        "SUPERVISOR_SERVER_URL=http://localhost:9001",
        "FROM_PROGRAM=prog",
        "FROM_SD=sd",
        "SHARED=program wins",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line} in {out}");
    }
    // The daemon's own environment is inherited.
    let path = std::env::var("PATH").unwrap();
    assert!(out.lines().any(|l| l == format!("PATH={path}")));
}

#[test]
fn directory_and_umask_apply_in_child() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = process("sh -c 'pwd; umask'");
    p.directory = Some(dir.path().to_str().unwrap().into());
    p.umask = Some(0o027);
    let (code, out, _) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    assert_eq!(code, 0);
    let real = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(out, format!("{}\n0027\n", real.display()));
}

#[test]
fn bad_directory_exits_127_with_reference_message() {
    let mut p = process("/bin/true");
    p.directory = Some("/nonexistent-dir-for-test".into());
    let (code, out, err) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    assert_eq!(code, 127);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "supervisor: couldn't chdir to /nonexistent-dir-for-test: ENOENT\n\
         supervisor: child process was not spawned\n"
    );
}

#[test]
fn path_search_uses_program_environment() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("my-test-prog");
    std::fs::write(&script, "#!/bin/sh\necho found \"$@\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut p = process("my-test-prog a 'b c'");
    p.environment = vec![(
        "PATH".into(),
        format!("/nonexistent:{}:/bin:/usr/bin", dir.path().display()),
    )];
    let (code, out, err) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "found a b c\n");

    let p = process("my-test-prog");
    let e = spawn(&request(&p)).unwrap_err();
    assert_eq!(e.to_string(), "can't find command 'my-test-prog'");
    assert_eq!(e.kind, SpawnErrorKind::NoFile);
}

#[test]
fn redirect_stderr_merges_into_stdout() {
    let mut p = process("sh -c 'echo out; echo err >&2'");
    p.redirect_stderr = true;
    let child = spawn(&request(&p)).unwrap();
    assert!(child.stderr.is_none());
    let (code, out, _) = collect(child, LIMIT);
    assert_eq!(code, 0);
    assert_eq!(out, "out\nerr\n");

    let p = process("sh -c 'echo out; echo err >&2'");
    let (_, out, err) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
}

#[test]
fn stdin_pipe_reaches_child() {
    let p = process("head -n 1");
    let mut child = spawn(&request(&p)).unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut f = std::fs::File::from(stdin);
    f.write_all(b"hello child\n").unwrap();
    drop(f);
    let (code, out, _) = collect(child, LIMIT);
    assert_eq!(code, 0);
    assert_eq!(out, "hello child\n");
}

#[test]
fn child_has_own_process_group_clean_fds_and_default_signals() {
    let p = process("sh -c 'exec sleep 5'");
    // Leak an fd without CLOEXEC in the parent: the child must not inherit it.
    // SAFETY: dup takes and returns plain descriptors; fd 0 is open for the whole test run.
    let leaked = unsafe { libc::dup(0) };
    let child = spawn(&request(&p)).unwrap();
    // SAFETY: closes the descriptor `dup` returned above; nothing else owns or uses it.
    unsafe { libc::close(leaked) };
    let pid = child.pid;
    let deadline = Instant::now() + LIMIT;
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n" {
        assert!(Instant::now() < deadline, "child never exec'd sleep");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    fds.sort();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // SAFETY: kill takes plain integers; `pid` is our running child, reaped only by `collect`
    // below.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let (code, _, _) = collect(child, LIMIT);
    assert_eq!(code, -libc::SIGKILL);
    assert_eq!(fds, ["0", "1", "2"]);
    // Signals 32 and 33 are reserved by glibc (its signal() refuses them); all others
    // must be back at their default disposition, SIGPIPE in particular.
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:\t"))
        .map(|v| u64::from_str_radix(v, 16).unwrap())
        .unwrap();
    assert_eq!(ignored & !0x1_8000_0000, 0, "{status}");
    assert!(
        status.lines().any(|l| l == "SigBlk:\t0000000000000000"),
        "{status}"
    );
    // Field 5 of /proc/<pid>/stat (after the parenthesised comm) is the pgid.
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let pgid: i32 = after_comm.split(' ').nth(2).unwrap().parse().unwrap();
    assert_eq!(pgid, pid, "pgid must equal pid");
}

#[test]
fn missing_uid_is_reported_by_the_child() {
    let mut p = process("/bin/true");
    p.user = Some("54321".into());
    p.uid = Some(54321);
    let (code, _, err) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    assert_eq!(code, 127);
    assert_eq!(
        err,
        "supervisor: couldn't setuid to 54321: Can't find uid 54321\n\
         supervisor: child process was not spawned\n"
    );
}

#[test]
fn user_switch_or_nonroot_refusal() {
    let mut p = process("id -u");
    p.user = Some("nobody".into());
    p.uid = Some(65534);
    let (code, out, err) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    // SAFETY: getuid cannot fail and touches no memory.
    if unsafe { libc::getuid() } == 0 {
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, "65534\n");
    } else {
        assert_eq!(code, 127);
        assert_eq!(
            err,
            "supervisor: couldn't setuid to 65534: Can't drop privilege as nonroot user\n\
             supervisor: child process was not spawned\n"
        );
    }
    // Asking for the current uid is always fine.
    // SAFETY: getuid cannot fail and touches no memory.
    let me = unsafe { libc::getuid() };
    let mut p = process("id -u");
    p.user = Some(me.to_string());
    p.uid = Some(me);
    let (code, out, _) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    assert_eq!((code, out), (0, format!("{me}\n")));
}

#[test]
fn exec_failure_reports_errno_name() {
    let dir = tempfile::tempdir().unwrap();
    // Executable bit set, but not a valid binary or script: execve fails with ENOEXEC.
    let bogus = dir.path().join("bogus");
    std::fs::write(&bogus, [0u8, 1, 2, 3]).unwrap();
    std::fs::set_permissions(&bogus, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let p = process(bogus.to_str().unwrap());
    let (code, _, err) = collect(spawn(&request(&p)).unwrap(), LIMIT);
    assert_eq!(code, 127);
    assert_eq!(
        err,
        format!(
            "supervisor: couldn't exec {}: ENOEXEC\nsupervisor: child process was not spawned\n",
            bogus.display()
        )
    );
}

#[test]
fn fcgi_socket_is_fd_zero() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = process("sh -c 'readlink /proc/$$/fd/0'");
    let req = SpawnRequest {
        fcgi_socket: Some(listener.as_fd()),
        ..request(&p)
    };
    let child = spawn(&req).unwrap();
    assert!(child.stdin.is_none());
    let (code, out, _) = collect(child, LIMIT);
    assert_eq!(code, 0);
    let ino = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd()))
            .unwrap()
            .ino()
    };
    assert_eq!(out.trim(), format!("socket:[{ino}]"));
}

#[test]
fn daemon_environment_is_inherited_not_replaced() {
    // Sanity: the helper that builds the env starts from the given daemon env.
    let p = process("x");
    let req = request(&p);
    let env = supervisord::spawn::child_environment(
        vec![(OsString::from("ONLY_DAEMON"), OsString::from("1"))],
        &req,
    );
    assert_eq!(env[0], (OsString::from("ONLY_DAEMON"), OsString::from("1")));
}
