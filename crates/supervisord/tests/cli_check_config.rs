//! `supervisord --check-config` (ours, like `nginx -t`): the program list and every finding
//! (unknown keys and sections with suggestions, repeated sections, include patterns without
//! a match, a header missing its `]`, paths, commands and users that cannot work), exit 0
//! (valid), 1 (valid with warnings) or 2 (invalid); `--json` for tools. A plain start keeps
//! the reference's two error lines exactly, and logs the findings as WARN lines.
//!
//! The reference has no `--check-config`; it accepts every warning case here silently
//! (tests/interop/test_check_config.py shows it loading such a config).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `supervisord <args>` in `cwd`.
fn run(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn check(cwd: &Path, conf: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["-c", conf.to_str().unwrap(), "--check-config"];
    args.extend_from_slice(extra);
    run(cwd, &args)
}

fn banner() -> String {
    format!(
        "supervisor-rs {} (compatible with Supervisor 4.3.0)",
        env!("CARGO_PKG_VERSION")
    )
}

#[test]
fn valid_config_lists_programs_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "ok.conf",
        "[supervisord]\n[program:web]\ncommand=/bin/sleep 5\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n",
    );
    let out = check(dir.path(), &conf, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], banner());
    assert!(stdout.contains("web:web_0"), "{stdout}");
    assert!(stdout.contains("web:web_1"), "{stdout}");
    assert_eq!(lines.last(), Some(&"check: config is valid"));
}

#[test]
fn bad_config_names_file_line_section_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "bad.conf",
        "[supervisord]\n[program:web]\ncommand=/bin/true\nautostart=maybe\n",
    );
    let check = check(dir.path(), &conf, &[]);
    assert_eq!(check.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains(&format!(
            "{}:4: error: not a valid boolean value: 'maybe' in section 'program:web'",
            conf.display()
        )),
        "{stdout}"
    );
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("bad.conf:4 [program:web] autostart"),
        "location missing: {err}"
    );
    assert!(err.contains("Error: not a valid boolean value: 'maybe' in section 'program:web'"));

    // A plain start prints only the reference's lines and starts nothing.
    let start = run(dir.path(), &["-n", "-c", conf.to_str().unwrap()]);
    assert_eq!(start.status.code(), Some(2));
    let err = String::from_utf8_lossy(&start.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("Error: not a valid boolean value: 'maybe'"));
    assert!(lines[1].starts_with("For help, use "));
}

/// One fixture of tests/fixtures/check: its expected exit status and report lines.
struct Fixture {
    path: PathBuf,
    exit: i32,
    expect: Vec<String>,
    needs_unwritable_proc_sys: bool,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/check")
        .canonicalize()
        .unwrap()
}

fn read_fixture(path: PathBuf) -> Fixture {
    let text = std::fs::read_to_string(&path).unwrap();
    let dir = path.parent().unwrap().to_string_lossy().into_owned();
    let file = path.to_string_lossy().into_owned();
    let mut exit = None;
    let mut expect = Vec::new();
    let mut needs = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("; expect-exit: ") {
            exit = Some(v.trim().parse().unwrap());
        } else if let Some(v) = line.strip_prefix("; expect: ") {
            expect.push(v.replace("{file}", &file).replace("{dir}", &dir));
        } else if line.starts_with("; needs: /proc/sys not writable") {
            needs = true;
        }
    }
    Fixture {
        exit: exit.unwrap_or_else(|| panic!("{} has no expect-exit", path.display())),
        path,
        expect,
        needs_unwritable_proc_sys: needs,
    }
}

#[test]
fn fixture_table() {
    let cwd = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 15, "fixtures missing: {paths:?}");
    let proc_sys_writable =
        nix::unistd::access("/proc/sys", nix::unistd::AccessFlags::W_OK).is_ok();
    let mut exits = std::collections::BTreeSet::new();
    for path in paths {
        let f = read_fixture(path);
        if f.needs_unwritable_proc_sys && proc_sys_writable {
            eprintln!("skipped {}: /proc/sys is writable here", f.path.display());
            continue;
        }
        assert!(!f.expect.is_empty(), "{} expects nothing", f.path.display());
        let out = check(cwd.path(), &f.path, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(f.exit),
            "{}:\n{stdout}",
            f.path.display()
        );
        exits.insert(f.exit);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], banner());
        // every expected line, in the order given
        let mut from = 0;
        for want in &f.expect {
            match lines[from..].iter().position(|l| l == want) {
                Some(i) => from += i + 1,
                None => panic!(
                    "{}: line not found (in order):\n{want}\nreport:\n{stdout}",
                    f.path.display()
                ),
            }
        }
        // the JSON report agrees on the status and the number of findings
        let json = check(cwd.path(), &f.path, &["--json"]);
        assert_eq!(json.status.code(), Some(f.exit));
        let json = String::from_utf8_lossy(&json.stdout);
        assert!(
            json.contains(&format!("\"exit_code\": {}", f.exit)),
            "{json}"
        );
        let findings = lines
            .iter()
            .filter(|l| l.contains(": warning: ") || l.contains(": error: "))
            .count();
        assert_eq!(json.matches("\"severity\": ").count(), findings, "{json}");
    }
    assert_eq!(exits.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
}

#[test]
fn json_report_shape() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "s.conf",
        "[supervisord]\n[program:web]\ncommand=/bin/sleep 5\nautorestrat=true\n",
    );
    let out = check(dir.path(), &conf, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        format!("\"version\": \"{}\"", banner()),
        format!("\"config\": \"{}\"", conf.display()),
        "\"status\": \"valid-with-warnings\"".to_string(),
        "\"errors\": 0".to_string(),
        "\"warnings\": 1".to_string(),
        "\"code\": \"unknown-key\"".to_string(),
        "\"line\": 4".to_string(),
        "\"section\": \"program:web\"".to_string(),
        "\"key\": \"autorestrat\"".to_string(),
        "\"suggestion\": \"autorestart\"".to_string(),
        "\"namespec\": \"web\"".to_string(),
        "\"command\": \"/bin/sleep 5\"".to_string(),
    ] {
        assert!(text.contains(&want), "{want} missing:\n{text}");
    }
    assert!(text.trim_start().starts_with('{') && text.trim_end().ends_with('}'));
    // nothing but the JSON on stdout, nothing on stderr
    assert!(out.stderr.is_empty(), "{out:?}");

    // a config that does not load: groups null, the reference's message as an error
    let bad = write(dir.path(), "bad.conf", "[supervisord]\nnonsense\n");
    let out = check(dir.path(), &bad, &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"groups\": null"), "{text}");
    assert!(text.contains("\"code\": \"config-error\""), "{text}");
    assert!(text.contains("Source contains parsing errors"), "{text}");
}

#[test]
fn json_needs_check_config_and_version_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("Error: option --json not recognized\n")
    );
    for flag in ["-v", "--version"] {
        let out = run(dir.path(), &[flag]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "4.3.0\n");
    }
}

/// Starts `supervisord -n -c conf` in `dir`, waits (bounded) until the main log says it
/// started, stops it by pid, returns the main log.
fn start_and_read_log(dir: &Path, conf: &Path, log: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .args(["-n", "-c", conf.to_str().unwrap()])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("supervisord started with pid") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("supervisord exited {status}: {text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(text.contains("supervisord started with pid"), "{text}");
    text
}

#[test]
fn normal_start_logs_banner_config_listeners_and_unknown_key_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conf = write(
        dir.path(),
        "supervisord.conf",
        &format!(
            "[unix_http_server]\nfile={d}/s.sock\n[inet_http_server]\nport=127.0.0.1:{port}\n[supervisord]\nlogfile={d}/main.log\npidfile={d}/sd.pid\nchildlogdir={d}\n[program:web]\ncommand=/bin/sleep 30\nautorestrat=true\nautostart=false\n[prgram:x]\ncommand=y\n"
        ),
    );
    let log = start_and_read_log(dir.path(), &conf, &dir.path().join("main.log"));
    let lines: Vec<&str> = log.lines().collect();
    let msg = |l: &str| l.splitn(4, ' ').nth(3).unwrap_or("").to_string();
    let level = |l: &str| l.split(' ').nth(2).unwrap_or("").to_string();
    assert_eq!(msg(lines[0]), banner(), "{log}");
    assert_eq!(level(lines[0]), "INFO");
    assert_eq!(
        msg(lines[1]),
        format!("loaded config file {}", conf.display())
    );
    let conf_s = conf.display().to_string();
    for want in [
        format!("WARN unknown key 'autorestrat' in section 'program:web' (file: '{conf_s}', line 11); did you mean 'autorestart'?"),
        format!("WARN unknown section 'prgram:x': supervisord ignores it (file: '{conf_s}', line 13); did you mean '[program:x]'?"),
        format!("INFO inet_http_server listening on 127.0.0.1:{port}"),
        format!("INFO unix_http_server listening on {d}/s.sock"),
    ] {
        assert!(
            lines.iter().any(|l| l.ends_with(&format!(" {want}"))),
            "{want} missing:\n{log}"
        );
    }
    // the unknown key did not stop the start; each finding is logged once
    assert_eq!(log.matches("unknown key").count(), 1, "{log}");
}
