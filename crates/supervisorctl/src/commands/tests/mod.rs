//! Command logic against a scripted fake server (`agreement`: help, dispatch and
//! completion against the command table).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;

use supervisor_protocol::{Fault, Value};

use super::*;
use crate::namespec::split_namespec;
use crate::options::Settings;
use crate::rpc::{i, s};

type Calls = Rc<RefCell<Vec<(String, Vec<Value>)>>>;
type Answers = Rc<RefCell<VecDeque<(String, Result<Value, CtlError>)>>>;

struct Fake {
    calls: Calls,
    answers: Answers,
}

impl Rpc for Fake {
    fn call(&mut self, method: &str, params: &[Value]) -> Result<Value, CtlError> {
        self.calls
            .borrow_mut()
            .push((method.to_string(), params.to_vec()));
        let (m, a) = self
            .answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected call {method}"));
        assert_eq!(m, method);
        a
    }
}

#[derive(Clone, Default)]
struct Buf(Rc<RefCell<Vec<u8>>>);
impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct NoInput(VecDeque<String>);
impl Input for NoInput {
    fn raw_input(&mut self, _: &str) -> Option<String> {
        self.0.pop_front()
    }
    fn getpass(&mut self, _: &str) -> Option<String> {
        self.0.pop_front()
    }
}

fn settings(interactive: bool) -> Settings {
    Settings {
        progname: "supervisorctl".into(),
        configfile: None,
        interactive,
        interactive_flag: false,
        serverurl: "unix:///tmp/x.sock".into(),
        username: None,
        password: None,
        prompt: "supervisor".into(),
        history_file: None,
        args: vec![],
        tls: Default::default(),
    }
}

struct Harness {
    ctl: Controller,
    out: Buf,
    err: Buf,
    calls: Calls,
    answers: Answers,
}

fn harness(interactive: bool, input: &[&str]) -> Harness {
    let out = Buf::default();
    let calls: Calls = Rc::default();
    let answers: Answers = Rc::default();
    let (c2, a2) = (calls.clone(), answers.clone());
    let ctl = Controller::new(
        settings(interactive),
        Box::new(out.clone()),
        Box::new(NoInput(input.iter().map(|s| s.to_string()).collect())),
        Box::new(move |_| {
            Ok(Box::new(Fake {
                calls: c2.clone(),
                answers: a2.clone(),
            }) as Box<dyn Rpc>)
        }),
        Box::new(|_, path, out| {
            writeln!(out, "STREAM {path}").unwrap();
            // the process `nolog` plays one whose stream the server refuses
            Ok(!path.starts_with("/logtail/nolog/"))
        }),
    );
    let err = Buf::default();
    let mut ctl = ctl;
    ctl.set_err(Box::new(err.clone()));
    Harness {
        ctl,
        out,
        err,
        calls,
        answers,
    }
}

impl Harness {
    fn answer(&self, method: &str, v: Result<Value, CtlError>) -> &Self {
        self.answers
            .borrow_mut()
            .push_back((format!("supervisor.{method}"), v));
        self
    }
    fn up(&self) -> &Self {
        self.answer("getVersion", Ok(s("3.0")))
    }
    fn run(&mut self, line: &str) -> (String, i32) {
        self.ctl.exitstatus = 0;
        self.out.0.borrow_mut().clear();
        self.err.0.borrow_mut().clear();
        self.ctl.onecmd(line);
        assert!(self.answers.borrow().is_empty(), "unused answers");
        (
            String::from_utf8(self.out.0.borrow().clone()).unwrap(),
            self.ctl.exitstatus,
        )
    }
    fn stderr(&self) -> String {
        String::from_utf8(self.err.0.borrow().clone()).unwrap()
    }
}

fn fault(code: FaultCode, detail: &str) -> Result<Value, CtlError> {
    Err(CtlError::Fault(Fault::new(code, detail)))
}

fn proc_info(group: &str, name: &str, state: i32, statename: &str, desc: &str) -> Value {
    Value::Struct(vec![
        ("name".into(), s(name)),
        ("group".into(), s(group)),
        ("state".into(), i(state)),
        ("statename".into(), s(statename)),
        ("description".into(), s(desc)),
        ("pid".into(), i(if state == 20 { 42 } else { 0 })),
    ])
}

fn result(group: &str, name: &str, status: i32, desc: &str) -> Value {
    Value::Struct(vec![
        ("name".into(), s(name)),
        ("group".into(), s(group)),
        ("status".into(), i(status)),
        ("description".into(), s(desc)),
    ])
}

fn refused() -> Result<Value, CtlError> {
    Err(CtlError::Io(std::io::Error::from_raw_os_error(
        libc::ECONNREFUSED,
    )))
}

#[test]
fn status_exit_codes() {
    let mut h = harness(false, &[]);
    let all = Value::Array(vec![
        proc_info("a", "a", 20, "RUNNING", "pid 42, uptime 0:00:01"),
        proc_info("g", "x", 0, "STOPPED", "Not started"),
    ]);
    h.up().answer("getAllProcessInfo", Ok(all.clone()));
    let (out, code) = h.run("status");
    assert_eq!(
        out,
        "a                                RUNNING   pid 42, uptime 0:00:01\ng:x                              STOPPED   Not started\n"
    );
    assert_eq!(code, 3);
    h.up().answer("getAllProcessInfo", Ok(all.clone()));
    let (out, code) = h.run("status a nope g:* zz:*");
    assert_eq!(
        out,
        "nope: ERROR (no such process)\nzz: ERROR (no such group)\na                                RUNNING   pid 42, uptime 0:00:01\ng:x                              STOPPED   Not started\n"
    );
    assert_eq!(code, 3);
    h.up().answer("getAllProcessInfo", Ok(all));
    assert_eq!(h.run("status a nope").1, 4);
    h.answer("getVersion", refused());
    let (out, code) = h.run("status");
    assert_eq!(out, "unix:///tmp/x.sock refused connection\n");
    assert_eq!(code, 4);
}

#[test]
fn start_and_stop_lines() {
    let mut h = harness(false, &[]);
    h.up().answer("startProcess", Ok(Value::Bool(true)));
    assert_eq!(h.run("start a"), ("a: started\n".into(), 0));
    h.up()
        .answer("startProcess", fault(FaultCode::AlreadyStarted, "a"));
    assert_eq!(h.run("start a"), ("a: ERROR (already started)\n".into(), 0));
    h.up()
        .answer("startProcess", fault(FaultCode::SpawnError, "g:b"));
    assert_eq!(h.run("start g:b"), ("g:b: ERROR (spawn error)\n".into(), 7));
    h.up()
        .answer("startProcessGroup", fault(FaultCode::BadName, "zz"));
    assert_eq!(
        h.run("start zz:*"),
        ("zz: ERROR (no such group)\n".into(), 2)
    );
    h.up().answer(
        "startAllProcesses",
        Ok(Value::Array(vec![
            result("g", "b", 20, "NO_FILE: x"),
            result("a", "a", 80, "OK"),
        ])),
    );
    assert_eq!(
        h.run("start all"),
        ("g:b: ERROR (no such file)\na: started\n".into(), 1)
    );
    h.up().answer("startProcess", fault(FaultCode::Failed, "a"));
    let (out, code) = h.run("start a");
    assert!(
        out.starts_with("error: <class 'ValueError'>, Unknown result code 30 for a: file: "),
        "{out}"
    );
    assert_eq!(code, 1);
    h.up();
    let (out, code) = h.run("start");
    assert!(
        out.starts_with("Error: start requires a process name\nstart <name>\t\tStart a process\n")
    );
    assert_eq!(code, 2);
    h.up()
        .answer("stopProcess", fault(FaultCode::NotRunning, "a"));
    assert_eq!(h.run("stop a"), ("a: ERROR (not running)\n".into(), 0));
    h.up()
        .answer("stopProcess", fault(FaultCode::Failed, "a: boom"));
    assert_eq!(h.run("stop a"), ("FAILED: a: boom\n".into(), 1));
}

#[test]
fn restart_stops_then_starts() {
    let mut h = harness(false, &[]);
    h.up()
        .up()
        .answer("stopProcess", Ok(Value::Bool(true)))
        .up()
        .answer("startProcess", Ok(Value::Bool(true)));
    assert_eq!(h.run("restart a"), ("a: stopped\na: started\n".into(), 0));
}

#[test]
fn clear_with_group_spec_says_none() {
    let mut h = harness(false, &[]);
    h.up()
        .answer("clearProcessLogs", fault(FaultCode::BadName, "g:*"));
    assert_eq!(
        h.run("clear g:*"),
        ("g:None: ERROR (no such process)\n".into(), 1)
    );
}

#[test]
fn tail_arguments() {
    let mut h = harness(false, &[]);
    h.up();
    assert_eq!(h.run("tail a foo").0, "Error: bad channel 'foo'\n");
    h.up();
    assert_eq!(h.run("tail -x a").0, "Error: bad argument -x\n");
    h.up();
    assert_eq!(h.run("tail -f").0, "Error: tail requires process name\n");
    h.up().answer("readProcessStderrLog", Ok(s("hello\n")));
    assert_eq!(h.run("tail -100 a STDERR"), ("hello\n\n".into(), 0));
    let c = h.calls.borrow().last().unwrap().1.clone();
    assert_eq!(c, vec![s("a"), i(-100), i(0)]);
    h.up()
        .answer("getProcessInfo", Ok(proc_info("a", "a", 20, "RUNNING", "")));
    assert_eq!(
        h.run("tail -f a"),
        (
            "==> Press Ctrl-C to exit <==\nSTREAM /logtail/a/stdout\n".into(),
            0
        )
    );
    h.up()
        .answer("readProcessStdoutLog", fault(FaultCode::NoFile, "x"));
    assert_eq!(h.run("tail a"), ("a: ERROR (no log file)\n".into(), 1));
    h.up().answer("readLog", Ok(s("log")));
    assert_eq!(h.run("maintail -5"), ("log\n".into(), 0));
    h.up();
    assert_eq!(h.run("maintail 5").0, "Error: bad argument 5\n");
}

#[test]
fn reread_update_add_remove() {
    let mut h = harness(false, &[]);
    let changes = |a: &[&str], c: &[&str], r: &[&str]| {
        let arr = |v: &[&str]| Value::Array(v.iter().map(|x| s(x)).collect());
        Ok(Value::Array(vec![Value::Array(vec![
            arr(a),
            arr(c),
            arr(r),
        ])]))
    };
    h.answer("reloadConfig", changes(&["new"], &["chg"], &["old"]));
    assert_eq!(
        h.run("reread").0,
        "chg: changed\nnew: available\nold: disappeared\n"
    );
    h.answer("reloadConfig", changes(&[], &[], &[]));
    assert_eq!(h.run("reread").0, "No config updates to processes\n");
    h.answer("reloadConfig", fault(FaultCode::CantReread, "bad"));
    assert_eq!(h.run("reread"), ("ERROR: CANT_REREAD: bad\n".into(), 1));
    h.answer("reloadConfig", changes(&["new"], &["chg"], &["old"]))
        .answer("stopProcessGroup", Ok(Value::Array(vec![])))
        .answer("removeProcessGroup", Ok(Value::Bool(true)))
        .answer("stopProcessGroup", Ok(Value::Array(vec![])))
        .answer("removeProcessGroup", Ok(Value::Bool(true)))
        .answer("addProcessGroup", Ok(Value::Bool(true)))
        .answer("addProcessGroup", Ok(Value::Bool(true)));
    assert_eq!(
        h.run("update").0,
        "old: stopped\nold: removed process group\nchg: stopped\nchg: updated process group\nnew: added process group\n"
    );
    h.answer("reloadConfig", changes(&[], &[], &[]))
        .answer("getAllProcessInfo", Ok(Value::Array(vec![])));
    assert_eq!(
        h.run("update nope"),
        ("ERROR: no such group: nope\n".into(), 1)
    );
    h.answer("addProcessGroup", fault(FaultCode::AlreadyAdded, "x"))
        .answer("addProcessGroup", fault(FaultCode::BadName, "y"));
    assert_eq!(
        h.run("add x y"),
        (
            "ERROR: process group already active\nERROR: no such process/group: y\n".into(),
            1
        )
    );
    h.answer("removeProcessGroup", fault(FaultCode::StillRunning, "x"));
    assert_eq!(
        h.run("remove x"),
        ("ERROR: process/group still running: x\n".into(), 1)
    );
}

#[test]
fn shutdown_confirmation_and_errors() {
    let mut h = harness(true, &["n", "yes"]);
    assert_eq!(h.run("shutdown"), (String::new(), 0));
    h.answer("shutdown", Ok(Value::Bool(true)));
    assert_eq!(h.run("shutdown"), ("Shut down\n".into(), 0));
    let mut h = harness(false, &[]);
    h.answer("shutdown", refused());
    assert_eq!(
        h.run("shutdown"),
        (
            "ERROR: unix:///tmp/x.sock refused connection (already shut down?)\n".into(),
            1
        )
    );
    assert_eq!(
        h.run("shutdown now").0,
        "Error: shutdown accepts no arguments\nshutdown \tShut the remote supervisord down.\n"
    );
}

fn e401() -> Result<Value, CtlError> {
    Err(CtlError::Http {
        status: 401,
        reason: "Unauthorized".into(),
    })
}

#[test]
fn unauthorized_is_said_once_with_a_hint_and_exit_77() {
    let mut h = harness(false, &[]);
    h.answer("getVersion", e401());
    let (out, code) = h.run("status");
    assert_eq!(out, "Server requires authentication\n");
    assert_eq!(code, 77);
    assert!(
        h.stderr()
            .starts_with("hint: the server wants a user name and password: give them with -u"),
        "{}",
        h.stderr()
    );
    h.ctl.settings.username = Some("bob".into());
    h.ctl.settings.password = Some("nope".into());
    h.answer("getAllConfigInfo", e401());
    assert_eq!(
        h.run("avail"),
        ("Server requires authentication\n".into(), 77)
    );
    assert!(
        h.stderr().contains("rejected user \"bob\""),
        "{}",
        h.stderr()
    );
}

#[test]
fn the_shell_asks_for_credentials_once_per_command() {
    let mut h = harness(true, &["user", "pw"]);
    h.answer("getVersion", e401())
        .up()
        .answer("getPID", Ok(i(7)));
    let (out, _) = h.run("pid");
    assert_eq!(out, "Server requires authentication\n\n7\n");
    assert_eq!(h.ctl.settings.username.as_deref(), Some("user"));
    // wrong twice: asked once, then reported (no endless Username: loop)
    let mut h = harness(true, &["user", "bad", "never-read"]);
    h.answer("getVersion", e401()).answer("getVersion", e401());
    let (out, code) = h.run("pid");
    assert_eq!(
        out,
        "Server requires authentication\n\nServer requires authentication\n"
    );
    assert_eq!(code, 77);
    assert!(h.stderr().contains("rejected user \"user\""));
    // end of input at the question
    let mut h = harness(true, &[]);
    h.answer("getVersion", e401());
    assert_eq!(
        h.run("version"),
        ("Server requires authentication\n\n".into(), 77)
    );
    assert_eq!(h.stderr(), "hint: no user name given (end of input)\n");
}

fn io_err(n: i32) -> Result<Value, CtlError> {
    Err(CtlError::Io(std::io::Error::from_raw_os_error(n)))
}

#[test]
fn connection_problems_in_plain_words() {
    let mut h = harness(false, &[]);
    // commands that check the server first: the reference's line and exit status
    h.answer("getVersion", io_err(libc::ENOENT));
    assert_eq!(
        h.run("start a"),
        ("unix:///tmp/x.sock no such file\n".into(), 7)
    );
    assert!(h.stderr().starts_with("hint: "), "{}", h.stderr());
    h.answer("getVersion", io_err(libc::ENOENT));
    assert_eq!(
        h.run("status"),
        ("unix:///tmp/x.sock no such file\n".into(), 4)
    );
    // the others printed a Python exception line: now the same plain line, exit 1 kept
    h.answer("reloadConfig", io_err(libc::ENOENT));
    assert_eq!(
        h.run("reread"),
        ("unix:///tmp/x.sock no such file\n".into(), 1)
    );
    h.answer("getAllConfigInfo", refused());
    assert_eq!(
        h.run("avail"),
        ("unix:///tmp/x.sock refused connection\n".into(), 1)
    );
    assert!(h
        .stderr()
        .starts_with("hint: nothing listens on /tmp/x.sock"));
    // permission denied on the socket: exit 77 everywhere
    for (line, method) in [("status", "getVersion"), ("reread", "reloadConfig")] {
        h.answer(method, io_err(libc::EACCES));
        assert_eq!(
            h.run(line),
            ("unix:///tmp/x.sock permission denied\n".into(), 77),
            "{line}"
        );
        assert!(
            h.stderr().starts_with("hint: this user (uid "),
            "{}",
            h.stderr()
        );
    }
    // other socket errors keep the generic line
    h.answer("getVersion", io_err(libc::ECONNRESET));
    let (out, code) = h.run("version");
    assert!(
        out.starts_with("error: <class 'ConnectionResetError'>"),
        "{out}"
    );
    assert_eq!(code, 1);
}

fn worker_group() -> Result<Value, CtlError> {
    Ok(Value::Array(vec![
        proc_info("worker", "worker_0", 20, "RUNNING", ""),
        proc_info("worker", "worker_1", 20, "RUNNING", ""),
        proc_info("solo", "solo", 20, "RUNNING", ""),
    ]))
}

#[test]
fn a_group_name_given_as_a_process_gets_a_hint() {
    let mut h = harness(false, &[]);
    h.up()
        .up()
        .answer("stopProcess", fault(FaultCode::BadName, "worker"))
        .answer("getAllProcessInfo", worker_group())
        .up()
        .answer("startProcess", fault(FaultCode::BadName, "worker"));
    let (out, code) = h.run("restart worker");
    assert_eq!(
        out,
        "worker: ERROR (no such process)\nworker: ERROR (no such process)\n"
    );
    assert_eq!(code, 1);
    // once for the two lines
    assert_eq!(
        h.stderr(),
        "hint: worker is a group: did you mean 'worker:*'?\n"
    );
    h.up().answer("getAllProcessInfo", worker_group());
    let (out, code) = h.run("status worker");
    assert_eq!(out, "worker: ERROR (no such process)\n");
    assert_eq!(code, 4);
    assert_eq!(
        h.stderr(),
        "hint: worker is a group: did you mean 'worker:*'?\n"
    );
    // a name that is not a group: no hint
    h.up()
        .answer("stopProcess", fault(FaultCode::BadName, "nosuch"))
        .answer("getAllProcessInfo", worker_group());
    assert_eq!(
        h.run("stop nosuch"),
        ("nosuch: ERROR (no such process)\n".into(), 1)
    );
    assert_eq!(h.stderr(), "");
}

#[test]
fn tail_follow_of_an_unknown_name_is_an_error() {
    let mut h = harness(false, &[]);
    h.up()
        .answer("getProcessInfo", fault(FaultCode::BadName, "nosuch"))
        .answer("getAllProcessInfo", worker_group());
    assert_eq!(
        h.run("tail -f nosuch"),
        ("nosuch: ERROR (no such process)\n".into(), 1)
    );
    h.up()
        .answer("getProcessInfo", fault(FaultCode::BadName, "worker"))
        .answer("getAllProcessInfo", worker_group());
    assert_eq!(
        h.run("tail -f worker stderr"),
        ("worker: ERROR (no such process)\n".into(), 1)
    );
    assert_eq!(
        h.stderr(),
        "hint: worker is a group: did you mean 'worker:*'?\n"
    );
    // a stream the server refuses (no log file yet): the reference's stderr line, exit 1
    h.up().answer(
        "getProcessInfo",
        Ok(proc_info("nolog", "nolog", 20, "RUNNING", "")),
    );
    assert_eq!(h.run("tail -f nolog").1, 1);
}

#[test]
fn pid_and_signal() {
    let mut h = harness(false, &[]);
    h.up()
        .answer("getProcessInfo", Ok(proc_info("a", "a", 0, "STOPPED", "")))
        .answer("getProcessInfo", fault(FaultCode::BadName, "b"))
        .answer("getAllProcessInfo", Ok(Value::Array(vec![])));
    assert_eq!(h.run("pid a b"), ("0\nNo such process b\n".into(), 1));
    assert_eq!(h.stderr(), "");
    h.up();
    assert_eq!(h.run("signal HUP").1, 1);
    h.up()
        .answer("signalProcess", fault(FaultCode::BadSignal, "FOO"));
    assert_eq!(
        h.run("signal FOO a"),
        ("a: ERROR (bad signal name)\n".into(), 1)
    );
}

#[test]
fn fg_without_terminal_forwards_lines() {
    let mut h = harness(false, &["hello"]);
    h.up()
        .answer("getProcessInfo", Ok(proc_info("a", "a", 20, "RUNNING", "")))
        .answer("sendProcessStdin", Ok(Value::Bool(true)))
        .answer("getProcessInfo", Ok(proc_info("a", "a", 20, "RUNNING", "")));
    assert_eq!(
        h.run("fg a").0,
        "==> Press Ctrl-C to exit <==\nExiting foreground\n"
    );
    let calls = h.calls.borrow();
    assert_eq!(calls[2].1, vec![s("a"), s("hello\n")]);
}

#[test]
fn numbers_like_python() {
    assert_eq!(py_int("100"), Some(100));
    assert_eq!(py_int("-5"), Some(-5));
    assert_eq!(py_int("1_0"), Some(10));
    assert_eq!(py_int("1__0"), None);
    assert_eq!(py_int("x"), None);
    assert_eq!(py_int(""), None);
    assert_eq!(split_namespec("g:*"), ("g".into(), None));
    assert_eq!(split_namespec("g:"), ("g".into(), None));
    assert_eq!(split_namespec("p"), ("p".into(), Some("p".into())));
    assert_eq!(url_scheme("HTTP://x"), "http");
    assert_eq!(url_scheme("/tmp"), "");
}

mod agreement;
