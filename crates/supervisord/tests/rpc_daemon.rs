//! The real `supervisord` binary answering XML-RPC on its unix socket, driven with our own
//! codec: the control plane wired to the event loop end to end.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use supervisor_protocol::xmlrpc::{parse_method_response, write_method_call};
use supervisor_protocol::{Fault, Value};

struct Daemon {
    child: Child,
    sock: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Already exited (and reaped by a test): its pid may belong to someone else now.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // Stop by pid, bounded: SIGTERM, then SIGKILL after 10 s.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(programs: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sock = d.join("s.sock");
    let conf = d.join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[unix_http_server]\nfile={sock}\n\n[supervisord]\nlogfile={d}/sd.log\n\
pidfile={d}/sd.pid\nchildlogdir={d}\nnodaemon=true\n\n[rpcinterface:supervisor]\n\
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n{programs}",
            sock = sock.display(),
            d = d.display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .args(["-n", "-c"])
        .arg(&conf)
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon {
        child,
        sock,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(v) = try_call(&daemon.sock, "supervisor.getState", &[]) {
            if v.ok().and_then(|s| s.get("statename").cloned()) == Some(Value::from("RUNNING")) {
                return daemon;
            }
        }
        assert!(Instant::now() < deadline, "daemon not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn try_call(sock: &Path, name: &str, params: &[Value]) -> std::io::Result<Result<Value, Fault>> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = write_method_call(name, params);
    let mut req = format!(
        "POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    s.write_all(&req)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&resp[..split]);
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(head.to_string()));
    }
    parse_method_response(&resp[split + 4..]).map_err(|e| std::io::Error::other(e.0))
}

fn call(d: &Daemon, name: &str, params: &[Value]) -> Result<Value, Fault> {
    try_call(&d.sock, name, params).unwrap()
}

fn s(v: &str) -> Value {
    Value::from(v)
}

#[test]
fn methods_over_the_real_loop() {
    let d = start(
        "[program:cat]\ncommand=/bin/cat\nstartsecs=0\nautostart=false\n\n\
[program:nofile]\ncommand=/nonexistent/x\nautostart=false\n",
    );
    assert_eq!(call(&d, "supervisor.getAPIVersion", &[]), Ok(s("3.0")));
    assert_eq!(
        call(&d, "supervisor.getPID", &[]),
        Ok(Value::Int(d.child.id() as i32))
    );
    let f = call(&d, "supervisor.startProcess", &[s("nofile")]).unwrap_err();
    assert_eq!(f.code, 20);
    assert_eq!(
        call(&d, "supervisor.startProcess", &[s("cat")]),
        Ok(Value::Bool(true))
    );
    let info = call(&d, "supervisor.getProcessInfo", &[s("cat")]).unwrap();
    assert_eq!(info.get("statename"), Some(&s("RUNNING")));
    assert_eq!(
        call(&d, "supervisor.sendProcessStdin", &[s("cat"), s("ping\n")]),
        Ok(Value::Bool(true))
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = call(
            &d,
            "supervisor.tailProcessStdoutLog",
            &[s("cat"), Value::Int(0), Value::Int(100)],
        )
        .unwrap();
        if r.as_array().unwrap()[0] == s("ping\n") {
            break;
        }
        assert!(Instant::now() < deadline, "no echo: {r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        call(&d, "supervisor.stopProcess", &[s("cat")]),
        Ok(Value::Bool(true))
    );
    let info = call(&d, "supervisor.getProcessInfo", &[s("cat")]).unwrap();
    assert_eq!(info.get("statename"), Some(&s("STOPPED")));
    let f = call(&d, "supervisor.nosuch", &[]).unwrap_err();
    assert_eq!((f.code, f.string.as_str()), (1, "UNKNOWN_METHOD"));
}

#[test]
fn a_waiting_start_leaves_the_loop_free() {
    let d = start("[program:slow]\ncommand=/bin/sleep 1000\nstartsecs=2\nautostart=false\n");
    let sock = d.sock.clone();
    let t0 = Instant::now();
    let waiter =
        std::thread::spawn(move || try_call(&sock, "supervisor.startProcess", &[s("slow")]));
    // The waiting call has reached the daemon once the process left STOPPED (no fixed
    // sleep: the checks below must run while that call is parked).
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let info = call(&d, "supervisor.getProcessInfo", &[s("slow")]).unwrap();
        if info.get("statename") != Some(&s("STOPPED")) {
            break;
        }
        assert!(Instant::now() < deadline, "startProcess never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..20 {
        let info = call(&d, "supervisor.getProcessInfo", &[s("slow")]).unwrap();
        assert_eq!(info.get("statename"), Some(&s("STARTING")));
    }
    assert!(t0.elapsed() < Duration::from_millis(1900));
    assert_eq!(waiter.join().unwrap().unwrap(), Ok(Value::Bool(true)));
    assert!(t0.elapsed() >= Duration::from_secs(2));
}

/// Waits (bounded) for the daemon to exit; returns its status.
fn wait_exit(d: &mut Daemon, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = d.child.try_wait().unwrap() {
            return st;
        }
        assert!(Instant::now() < deadline, "daemon did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_is_answered_even_when_the_daemon_exits_at_once() {
    // No process to stop: the loop finishes right after the call, and the servers must
    // still finish writing the answer.
    for _ in 0..3 {
        let mut d = start("");
        assert_eq!(call(&d, "supervisor.shutdown", &[]), Ok(Value::Bool(true)));
        assert!(wait_exit(&mut d, Duration::from_secs(15)).success());
    }
}

#[test]
fn a_listener_gets_events_through_the_loop() {
    // A listener in sh: READY, then for each envelope read exactly len: bytes, record the
    // header and the body (newlines as `/`), answer OK and become READY again.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.txt");
    let script = dir.path().join("listener.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf 'READY\\n'\nwhile read -r header; do\n  len=${{header##*len:}}\n  \
body=$(dd bs=1 count=\"$len\" 2>/dev/null | tr '\\n' /)\n  printf '%s|%s\\n' \"$header\" \"$body\" >> {out}\n  \
printf 'RESULT 2\\nOKREADY\\n'\ndone\n",
            out = out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = start(&format!(
        "[eventlistener:lis]\ncommand={}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\n",
        script.display()
    ));
    let running = |d: &Daemon| {
        call(d, "supervisor.getProcessInfo", &[s("lis:lis")])
            .ok()
            .and_then(|i| i.get("statename").cloned())
            == Some(s("RUNNING"))
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !running(&d) {
        assert!(Instant::now() < deadline, "listener not running");
        std::thread::sleep(Duration::from_millis(50));
    }
    for (i, data) in ["first", "second"].iter().enumerate() {
        assert_eq!(
            call(&d, "supervisor.sendRemoteCommEvent", &[s("t"), s(data)]),
            Ok(Value::Bool(true))
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() > i {
                let line = lines[i];
                assert!(
                    line.starts_with("ver:3.0 server:supervisor serial:"),
                    "{line}"
                );
                assert!(
                    line.contains(&format!("pool:lis poolserial:{i} ")),
                    "{line}"
                );
                assert!(
                    line.contains("eventname:REMOTE_COMMUNICATION len:"),
                    "{line}"
                );
                assert!(line.ends_with(&format!("|type:t/{data}")), "{line}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "event {i} not received: {text:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
