//! `supervisord --check-config` (ours, like `nginx -t`): exit 0 with the program list for a
//! valid config; exit 2 with the reference's error text plus the location for a bad one,
//! while a plain start keeps the reference's two error lines exactly.

use std::process::Command;

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn valid_config_lists_programs_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "ok.conf",
        "[supervisord]\n[program:web]\ncommand=/bin/sleep 5\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .args(["-c", conf.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("web:web_0"), "{stdout}");
    assert!(stdout.contains("web:web_1"), "{stdout}");
}

#[test]
fn bad_config_names_file_line_section_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "bad.conf",
        "[supervisord]\n[program:web]\ncommand=/bin/true\nautostart=maybe\n",
    );
    let check = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .args(["-c", conf.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("bad.conf:4 [program:web] autostart"),
        "location missing: {err}"
    );
    assert!(err.contains("Error: not a valid boolean value: 'maybe' in section 'program:web'"));

    // A plain start prints only the reference's lines and starts nothing.
    let start = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .args(["-n", "-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(start.status.code(), Some(2));
    let err = String::from_utf8_lossy(&start.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("Error: not a valid boolean value: 'maybe'"));
    assert!(lines[1].starts_with("For help, use "));
}
