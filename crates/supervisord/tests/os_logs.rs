//! Integration tests of the log pieces with real children and real files, plus a
//! throughput measurement (`cargo test --release -p supervisord --test os_logs -- --ignored
//! --nocapture`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use supervisor_config::{AutoRestart, LogChannelConfig, LogFile, ProcessConfig};
use supervisord::logs::rotating::numbered;
use supervisord::logs::{Channel, ChannelLogger, RotatingFile};
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
        name: "writer".into(),
        group: "writer".into(),
        section: "program:writer".into(),
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
        redirect_stderr: true,
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

/// Pumps the child's stdout into `sink` (poll + 128 KiB reads, like the daemon) until
/// EOF, then reaps the child. Bounded by `limit`.
fn pump(pid: i32, stdout: OwnedFd, limit: Duration, mut sink: impl FnMut(&[u8])) {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 128 * 1024];
    'outer: loop {
        assert!(
            Instant::now() < deadline,
            "child output did not end in time"
        );
        // Drain until the pipe is empty (as the daemon's edge-triggered readers do), then
        // wait for readiness.
        loop {
            // SAFETY: read writes at most buf.len() bytes into `buf`, which is valid for that
            // length; the pipe end is owned by `stdout`.
            let n = unsafe { libc::read(stdout.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                sink(&buf[..n as usize]);
            } else if n == 0 {
                break 'outer;
            } else {
                break;
            }
        }
        let mut pfd = libc::pollfd {
            fd: stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes the one pollfd `pfd` points to, a live local.
        unsafe { libc::poll(&mut pfd, 1, 100) };
    }
    let mut st = 0;
    loop {
        // SAFETY: waitpid writes one int through a pointer to a live local; `pid` is our unreaped
        // child.
        if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: kill takes plain integers; `pid` is our child, not yet reaped, so its pid
            // cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: waitpid writes one int through a pointer to a live local; `pid` is our child,
            // just killed.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            panic!("child did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);
}

fn concat_backups(path: &Path) -> Vec<u8> {
    let mut n = 1;
    while numbered(path, n).exists() {
        n += 1;
    }
    let mut all = Vec::new();
    for i in (1..n).rev() {
        all.extend(std::fs::read(numbered(path, i)).unwrap());
    }
    all.extend(std::fs::read(path).unwrap());
    all
}

#[test]
fn rotation_keeps_every_line_of_a_numbered_stream() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("writer.log");
    let cfg = LogChannelConfig {
        logfile: LogFile::Path(log.clone()),
        logfile_maxbytes: 4096,
        logfile_backups: 1000,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
        ..Default::default()
    };
    let mut channel =
        ChannelLogger::open("writer", Channel::Stdout, &cfg, Some(&log), false).unwrap();
    let p = process("seq 1 50000");
    let child = spawn(&SpawnRequest {
        process: &p,
        supervisord_environment: &[],
        server_url: None,
        fcgi_socket: None,
    })
    .unwrap();
    let mut out = Vec::new();
    pump(child.pid, child.stdout, Duration::from_secs(20), |d| {
        out.clear();
        channel.feed(d, &mut out).unwrap();
    });
    let all = String::from_utf8(concat_backups(&log)).unwrap();
    let expected: String = (1..=50000).map(|i| format!("{i}\n")).collect();
    assert!(numbered(&log, 2).exists(), "expected several rotations");
    assert_eq!(all.len(), expected.len());
    assert!(all == expected, "stream differs after rotation");
}

#[test]
fn backups_are_capped_and_oldest_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("capped.log");
    let mut f = RotatingFile::open(&log, 100, 3).unwrap();
    for i in 0..20 {
        f.write(format!("{i:0>100}").as_bytes()).unwrap();
    }
    assert!(numbered(&log, 3).exists());
    assert!(!numbered(&log, 4).exists());
    assert_eq!(std::fs::read(&log).unwrap().len(), 0);
    assert_eq!(
        std::fs::read_to_string(numbered(&log, 1)).unwrap(),
        format!("{:0>100}", 19)
    );
}

fn throughput_mb_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

/// Compares a child writing as fast as it can through spawn + pipe + RotatingFile
/// against `cat > file` fed by the same producer. Runs alternate (best of 3 each) so a
/// busy machine penalises both sides alike.
#[test]
#[ignore = "benchmark: run explicitly with --ignored --nocapture, preferably --release"]
fn log_throughput_vs_cat() {
    let dir = tempfile::tempdir().unwrap();
    let total: u64 = 512 << 20;
    let producer = format!("head -c {total} /dev/zero");
    let mut best_cat = Duration::MAX;
    let mut best_ours = Duration::MAX;
    for _ in 0..3 {
        // Baseline: the shell pipes the producer into `cat > file`.
        let plain = dir.path().join("cat.out");
        let t = Instant::now();
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!("{producer} | cat > {}", plain.display()))
            .status()
            .unwrap();
        best_cat = best_cat.min(t.elapsed());
        assert!(st.success());
        assert_eq!(std::fs::metadata(&plain).unwrap().len(), total);
        std::fs::remove_file(&plain).unwrap();

        // Ours: spawn the producer, read its pipe, write through RotatingFile (rotating at
        // 50 MB with 10 backups, the defaults).
        let log = dir.path().join("ours.log");
        let mut f = RotatingFile::open(&log, 50 * 1024 * 1024, 10).unwrap();
        let p = process(&producer);
        let t = Instant::now();
        let child = spawn(&SpawnRequest {
            process: &p,
            supervisord_environment: &[],
            server_url: None,
            fcgi_socket: None,
        })
        .unwrap();
        let mut written = 0u64;
        pump(child.pid, child.stdout, Duration::from_secs(120), |d| {
            written += d.len() as u64;
            f.write(d).unwrap();
        });
        best_ours = best_ours.min(t.elapsed());
        assert_eq!(written, total);
        for i in 0..=10 {
            let _ = std::fs::remove_file(if i == 0 {
                log.clone()
            } else {
                numbered(&log, i)
            });
        }
    }
    let cat = throughput_mb_s(total, best_cat);
    let ours = throughput_mb_s(total, best_ours);
    println!(
        "best of 3, 512 MiB: cat > file: {cat:.0} MB/s; spawn+pipe+RotatingFile: {ours:.0} MB/s; ratio {:.0}%",
        100.0 * ours / cat
    );
}
