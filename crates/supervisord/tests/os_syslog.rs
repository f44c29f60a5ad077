//! What the real binary sends to the system log (`logfile=syslog`, `stdout_syslog=true`).
//!
//! libc's `syslog(3)` always writes to `/dev/log`, so the daemon runs in a private mount
//! namespace (`unshare --mount`) whose `/dev` is a temp dir holding `null` and a datagram
//! socket this test reads. Needs the right to make mount namespaces (root in a container
//! is enough); without it the test says so and passes, except under `CI=...` where it
//! fails.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn can_unshare_mounts() -> bool {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn main_log_and_child_output_reach_dev_log() {
    if !can_unshare_mounts() {
        let why = "cannot run `unshare --mount` here (needs CAP_SYS_ADMIN)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED main_log_and_child_output_reach_dev_log: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let dev = t.join("dev");
    std::fs::create_dir(&dev).unwrap();
    std::fs::write(dev.join("null"), "").unwrap();
    let sock = UnixDatagram::bind(dev.join("log")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let conf = t.join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nlogfile=syslog\npidfile={d}/sd.pid\nnodaemon=true\nsilent=true\n\
             childlogdir={d}\n\n[program:hello]\n\
             command=/bin/sh -c 'printf \"line one\\nline two\\n\"; exec sleep 1000'\n\
             startsecs=0\nstdout_logfile={d}/out.log\nstdout_syslog=true\n",
            d = t.display()
        ),
    )
    .unwrap();
    // `unshare` and `sh` exec, so the child's pid is the daemon's.
    let script = "mount --bind /dev/null \"$1/dev/null\" && mount --bind \"$1/dev\" /dev && \
                  exec \"$2\" -c \"$3\"";
    let mut child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(t)
        .arg(env!("CARGO_BIN_EXE_supervisord"))
        .arg(&conf)
        .current_dir(t)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let mut got: Vec<String> = Vec::new();
    let wanted = |got: &[String]| {
        let has = |s: &str| got.iter().any(|g| g.ends_with(s));
        has(" supervisord: hello line one")
            && has(" supervisord: hello line two")
            && got
                .iter()
                .any(|g| g.contains("INFO success: hello entered RUNNING state"))
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 4096];
    while !wanted(&got) && Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("supervisord exited ({st}); syslog so far: {got:#?}");
        }
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stop = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > stop {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            panic!("supervisord did not stop; syslog: {got:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(wanted(&got), "missing syslog entries: {got:#?}");
    // glibc's datagram: `<PRI>Mmm dd hh:mm:ss ident: message`, PRI 14 = USER|INFO.
    for entry in &got {
        assert!(entry.starts_with("<14>"), "{entry:?} in {got:#?}");
        assert!(entry.contains(" supervisord: "), "{entry:?} in {got:#?}");
    }
    // Each output line is one entry of its own.
    let child_entries: Vec<&String> = got
        .iter()
        .filter(|g| g.contains(" supervisord: hello "))
        .collect();
    assert_eq!(child_entries.len(), 2, "{got:#?}");
    assert!(status.success(), "{status}");
}
