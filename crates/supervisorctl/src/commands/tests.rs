//! Command logic against a scripted fake server.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;

use supervisor_protocol::{Fault, Value};

use super::*;
use crate::options::Settings;

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
    }
}

struct Harness {
    ctl: Controller,
    out: Buf,
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
            Ok(())
        }),
    );
    Harness {
        ctl,
        out,
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
        self.ctl.onecmd(line);
        assert!(self.answers.borrow().is_empty(), "unused answers");
        (
            String::from_utf8(self.out.0.borrow().clone()).unwrap(),
            self.ctl.exitstatus,
        )
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
    h.up();
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

#[test]
fn unauthorized_runs_twice_when_not_interactive() {
    let mut h = harness(false, &[]);
    let e401 = || {
        Err(CtlError::Http {
            status: 401,
            reason: "Unauthorized".into(),
        })
    };
    h.answer("getVersion", e401()).answer("getVersion", e401());
    let (out, code) = h.run("status");
    assert!(out.starts_with("Server requires authentication\nerror: <class 'xmlrpc.client.ProtocolError'>, <ProtocolError for 127.0.0.1/RPC2: 401 Unauthorized>: file: "));
    assert_eq!(code, 1);
    let mut h = harness(true, &["user", "pw"]);
    h.answer("getVersion", e401())
        .up()
        .answer("getPID", Ok(i(7)));
    let (out, _) = h.run("pid");
    assert_eq!(out, "Server requires authentication\n\n7\n");
    assert_eq!(h.ctl.settings.username.as_deref(), Some("user"));
}

#[test]
fn help_and_syntax() {
    let mut h = harness(false, &[]);
    assert_eq!(h.run("help"), ("\ndefault commands (type help <topic>):\n=====================================\nadd    exit      open  reload  restart   start   tail   \navail  fg        pid   remove  shutdown  status  update \nclear  maintail  quit  reread  signal    stop    version\n\n".into(), 0));
    assert_eq!(h.run("help foo").0, "*** No help on foo\n");
    assert_eq!(
        h.run("? help").0,
        "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>\n"
    );
    assert_eq!(
        h.run("bogus x"),
        ("*** Unknown syntax: bogus x\n".into(), 1)
    );
    assert_eq!(h.run("-x"), ("*** Unknown syntax: -x\n".into(), 1));
    assert_eq!(h.run("help maintail").0, "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n\n");
    assert!(h.ctl.onecmd("quit"));
}

#[test]
fn pid_and_signal() {
    let mut h = harness(false, &[]);
    h.up()
        .answer("getProcessInfo", Ok(proc_info("a", "a", 0, "STOPPED", "")))
        .answer("getProcessInfo", fault(FaultCode::BadName, "b"));
    assert_eq!(h.run("pid a b"), ("0\nNo such process b\n".into(), 1));
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
fn completion() {
    let mut h = harness(true, &[]);
    assert_eq!(h.ctl.complete("sta", "sta"), vec!["start ", "status "]);
    h.answer(
        "getAllProcessInfo",
        Ok(Value::Array(vec![
            proc_info("web", "web", 20, "RUNNING", ""),
            proc_info("grp", "a", 20, "RUNNING", ""),
        ])),
    );
    assert_eq!(
        h.ctl.complete("start ", ""),
        vec!["web ", "grp:a ", "grp:* "]
    );
    // cached until the next command
    assert_eq!(h.ctl.complete("add g", "g"), vec!["grp "]);
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
