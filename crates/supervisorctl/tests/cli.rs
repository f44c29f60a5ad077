//! The real binary without a daemon: option errors, help, connection errors, extras.

use std::process::{Command, Output, Stdio};

fn ctl(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_supervisorctl"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run supervisorctl")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn option_errors_exit_2_with_the_reference_text() {
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_supervisorctl");
    let o = ctl(&["-x"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        format!("Error: option -x not recognized\nFor help, use {exe} -h\n")
    );
    let o = ctl(&["-s", "bogus", "status"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr)
        .starts_with("Error: invalid value for -s 'bogus': value 'bogus' is not a URL\n"));
    let o = ctl(&["-h"], dir.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains(&format!("Usage: {exe} [options] [action [arguments]]")));
}

#[test]
fn unreachable_servers() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(&conf, "[supervisorctl]\n").unwrap();
    let c = conf.to_str().unwrap();
    let sock = dir.path().join("none.sock");
    let url = format!("unix://{}", sock.display());
    let o = ctl(&["-c", c, "-s", &url, "status"], dir.path());
    assert_eq!(o.status.code(), Some(4)); // status turns every upcheck failure into 4
    assert_eq!(text(&o.stdout), format!("{url} no such file\n"));
    let o = ctl(&["-c", c, "-s", &url, "version"], dir.path());
    assert_eq!(o.status.code(), Some(7));
    let o = ctl(&["-c", c, "-s", &url, "shutdown"], dir.path());
    assert_eq!(
        text(&o.stdout),
        format!("ERROR: {url} no such file (already shut down?)\n")
    );
    let o = ctl(&["-c", c, "-s", &url, "reread"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    // the reference prints a Python exception here; we print the plain line
    assert_eq!(text(&o.stdout), format!("{url} no such file\n"));
    assert!(text(&o.stderr).starts_with(&format!("hint: there is no socket {}", sock.display())));
    // a port nobody listens on
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let url = format!("http://127.0.0.1:{port}");
    let o = ctl(&["-c", c, "-s", &url, "pid"], dir.path());
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(text(&o.stdout), format!("{url} refused connection\n"));
}

#[test]
fn extras() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = ctl(&["completions", shell], dir.path());
        assert_eq!(o.status.code(), Some(0));
        assert!(text(&o.stdout).contains("supervisorctl"));
    }
    let o = ctl(&["help"], dir.path());
    assert!(text(&o.stdout).contains("\nsupervisor-rs commands (type help <topic>):\n"));
    assert!(text(&o.stdout).contains("\ncompletions  "));
    // --version is ours (the reference has none); `version` stays the daemon's 4.3.0
    let o = ctl(&["--version"], dir.path());
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o.stdout),
        format!(
            "supervisor-rs {} (compatible with Supervisor 4.3.0)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}
