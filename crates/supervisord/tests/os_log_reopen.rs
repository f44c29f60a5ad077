//! SIGUSR2 on the real binary when a log file cannot be reopened: one WARN line per file
//! (path and OS error) and the file already open stays in use.

mod util;

use std::path::Path;
use std::time::{Duration, Instant};
use util::Sd;

/// Waits (bounded) until `pred` holds for the text of `path`; returns that text.
fn wait_text(path: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if pred(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} in {}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn failed_reopen_is_logged_once_and_the_old_file_kept() {
    let mut sd = Sd::start(
        "[program:ticker]\ncommand=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done'\n\
startsecs=0\nstdout_logfile={dir}/out.log\nstderr_logfile=NONE\n",
    );
    sd.wait_for("success: ticker entered RUNNING state");
    let dir = sd.path().to_path_buf();
    let (main, out) = (dir.join("supervisord.log"), dir.join("out.log"));
    let (main_old, out_old) = (dir.join("supervisord.log.old"), dir.join("out.log.old"));
    wait_text(&out, "a first tick", |t| t.contains("tick 1\n"));
    // A directory where each log file was: opening it for writing fails with EISDIR,
    // whatever our privileges.
    std::fs::rename(&main, &main_old).unwrap();
    std::fs::rename(&out, &out_old).unwrap();
    std::fs::create_dir(&main).unwrap();
    std::fs::create_dir(&out).unwrap();

    sd.signal(libc::SIGUSR2);
    let main_warn = format!(
        "WARN could not reopen log file {}: Is a directory (os error 21)",
        main.display()
    );
    let out_warn = format!(
        "WARN could not reopen stdout log file {} of ticker: Is a directory (os error 21)",
        out.display()
    );
    // The warnings go to the main log file still open, now named .old.
    wait_text(&main_old, "both warnings", |t| {
        t.contains(&main_warn) && t.contains(&out_warn)
    });
    // The child's output keeps going to its old file: a tick written well after the signal.
    let ticks = std::fs::read_to_string(&out_old).unwrap();
    let last: u64 = ticks
        .lines()
        .filter_map(|l| l.strip_prefix("tick ")?.parse().ok())
        .max()
        .unwrap();
    let later = format!("tick {}\n", last + 5);
    wait_text(&out_old, &later, |t| t.contains(&later));

    // Later main-log lines still reach the old file, and each warning was written once
    // (not once per write that followed).
    assert!(sd.stop().success());
    let text = wait_text(&main_old, "the shutdown", |t| {
        t.contains("stopped: ticker (terminated by SIGTERM)")
    });
    assert_eq!(text.matches(&main_warn).count(), 1, "{text}");
    assert_eq!(text.matches(&out_warn).count(), 1, "{text}");
    assert_eq!(
        text.matches("received SIGUSR2 indicating log reopen request")
            .count(),
        1,
        "{text}"
    );
}
