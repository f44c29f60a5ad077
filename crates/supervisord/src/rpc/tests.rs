use super::fake::FakeBackend;
use super::*;
use supervisor_protocol::{ProcessState, SupervisorState};

fn call(b: &mut FakeBackend, name: &str, params: Vec<Value>) -> Result<Value, Fault> {
    let mut pending = Pending::new();
    match dispatch(b, name, &params) {
        Outcome::Done(r) => r,
        Outcome::Wait(mut w) => {
            // Drive the fake until the waiter finishes (bounded).
            for _ in 0..100 {
                b.step();
                if let Some(r) = w.poll(b) {
                    return r;
                }
            }
            let _ = &mut pending;
            panic!("waiter never finished")
        }
    }
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn fault(code: FaultCode, detail: &str) -> Result<Value, Fault> {
    Err(Fault::new(code, detail))
}

fn bare(code: FaultCode) -> Result<Value, Fault> {
    Err(Fault::bare(code))
}

fn world() -> FakeBackend {
    FakeBackend::new(&[("cat", &["cat"]), ("grp", &["b", "a"]), ("zz", &["zz"])])
}

#[test]
fn unknown_method_rules() {
    let mut b = world();
    for name in [
        "getState",
        "supervisor",
        "supervisor.getState.x",
        "supervisor._update",
        "supervisor.__init__",
        "supervisor.nosuch",
        "nosuch.getState",
        "system._listMethods",
        "supervisor.supervisord.options.execve",
        "",
    ] {
        assert_eq!(
            call(&mut b, name, vec![]),
            bare(FaultCode::UnknownMethod),
            "{name}"
        );
    }
}

#[test]
fn arity_is_checked_before_state() {
    let mut b = world();
    b.state = SupervisorState::Shutdown;
    assert_eq!(
        call(&mut b, "supervisor.getState", vec![s("x")]),
        bare(FaultCode::IncorrectParameters)
    );
    assert_eq!(
        call(&mut b, "supervisor.getState", vec![]),
        bare(FaultCode::ShutdownState)
    );
    // Not refused while shutting down.
    assert_eq!(
        call(
            &mut b,
            "supervisor.sendRemoteCommEvent",
            vec![s("t"), s("d")]
        ),
        Ok(Value::Bool(true))
    );
    assert!(call(&mut b, "system.listMethods", vec![]).is_ok());
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![]),
        bare(FaultCode::IncorrectParameters)
    );
    assert_eq!(
        call(
            &mut b,
            "supervisor.startProcess",
            vec![s("a"), Value::Bool(true), s("x")]
        ),
        bare(FaultCode::IncorrectParameters)
    );
}

#[test]
fn list_methods_is_the_reference_list() {
    let mut b = world();
    let want = "addProcessGroup clearAllProcessLogs clearLog clearProcessLog clearProcessLogs \
getAPIVersion getAllConfigInfo getAllProcessInfo getIdentification getPID getProcessInfo getState \
getSupervisorVersion getVersion readLog readMainLog readProcessLog readProcessStderrLog \
readProcessStdoutLog reloadConfig removeProcessGroup restart sendProcessStdin sendRemoteCommEvent \
shutdown signalAllProcesses signalProcess signalProcessGroup startAllProcesses startProcess \
startProcessGroup stopAllProcesses stopProcess stopProcessGroup tailProcessLog tailProcessStderrLog \
tailProcessStdoutLog";
    let mut names: Vec<Value> = want
        .split_whitespace()
        .map(|n| Value::String(format!("supervisor.{n}")))
        .collect();
    for n in ["listMethods", "methodHelp", "methodSignature", "multicall"] {
        names.push(Value::String(format!("system.{n}")));
    }
    // The reference's methods, then (after `supervisor.*`, before `system.*` in the
    // sorted listing) the extensions of supervisor-rs, which the reference does not have.
    let Ok(Value::Array(listed)) = call(&mut b, "system.listMethods", vec![]) else {
        panic!("listMethods failed");
    };
    let (ext, reference): (Vec<Value>, Vec<Value>) = listed
        .into_iter()
        .partition(|n| n.as_str().is_some_and(|n| n.starts_with("supervisor_rs.")));
    assert_eq!(reference, names);
    for m in [
        "supervisor_rs.getProcessStats",
        "supervisor_rs.getAllProcessStats",
    ] {
        assert!(ext.contains(&Value::String(m.into())), "{m}");
    }
    // The table is sorted (lookup relies on it).
    assert!(methods::TABLE.windows(2).all(|w| w[0].name < w[1].name));
}

#[test]
fn signatures_and_help() {
    let mut b = world();
    let sig = |b: &mut FakeBackend, m: &str| call(b, "system.methodSignature", vec![s(m)]);
    let arr = |v: &[&str]| Ok(Value::Array(v.iter().map(|t| s(t)).collect()));
    assert_eq!(
        sig(&mut b, "supervisor.startProcess"),
        arr(&["boolean", "string", "boolean"])
    );
    assert_eq!(
        sig(&mut b, "supervisor.tailProcessStdoutLog"),
        arr(&["array", "string", "int", "int"])
    );
    assert_eq!(sig(&mut b, "system.multicall"), arr(&["array", "array"]));
    assert_eq!(sig(&mut b, "supervisor.getState"), arr(&["struct"]));
    assert_eq!(sig(&mut b, "nosuch"), bare(FaultCode::SignatureUnsupported));
    assert_eq!(
        call(&mut b, "system.methodHelp", vec![s("nosuch.x")]),
        bare(FaultCode::SignatureUnsupported)
    );
    let help = call(&mut b, "system.methodHelp", vec![s("supervisor.getPID")]).unwrap();
    assert!(help.as_str().unwrap().contains("@return int"));
    // Every method's help carries its signature's types in @param/@return lines.
    for m in methods::TABLE {
        let returns = format!("@return {}", m.signature[0]);
        assert!(m.help.contains(&returns), "{}", m.name);
        assert_eq!(
            m.help.matches("@param").count(),
            m.signature.len() - 1,
            "{}",
            m.name
        );
    }
}

#[test]
fn info_methods() {
    let mut b = world();
    assert_eq!(
        call(&mut b, "supervisor.getAPIVersion", vec![]),
        Ok(s("3.0"))
    );
    assert_eq!(call(&mut b, "supervisor.getVersion", vec![]), Ok(s("3.0")));
    assert_eq!(
        call(&mut b, "supervisor.getSupervisorVersion", vec![]),
        Ok(s("4.3.0"))
    );
    assert_eq!(
        call(&mut b, "supervisor.getPID", vec![]),
        Ok(Value::Int(4242))
    );
    assert_eq!(
        call(&mut b, "supervisor.getState", vec![]),
        Ok(Value::structure([
            ("statecode", Value::Int(1)),
            ("statename", s("RUNNING"))
        ]))
    );
    let info = call(&mut b, "supervisor.getProcessInfo", vec![s("grp:a")]).unwrap();
    let keys: Vec<&str> = info
        .as_struct()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "group",
            "start",
            "stop",
            "now",
            "state",
            "statename",
            "spawnerr",
            "exitstatus",
            "logfile",
            "stdout_logfile",
            "stderr_logfile",
            "pid",
            "description"
        ]
    );
    assert_eq!(info.get("description"), Some(&s("Not started")));
    for bad in ["grp", "grp:", "grp:*", "nosuch", "grp:nosuch", "cat:"] {
        assert_eq!(
            call(&mut b, "supervisor.getProcessInfo", vec![s(bad)]),
            fault(FaultCode::BadName, bad),
            "{bad}"
        );
    }
    assert_eq!(
        call(&mut b, "supervisor.getProcessInfo", vec![Value::Int(1)]),
        bare(FaultCode::IncorrectParameters)
    );
    // Lexical order across groups and within them.
    let all = call(&mut b, "supervisor.getAllProcessInfo", vec![]).unwrap();
    let names: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                p.get("group").unwrap().as_str().unwrap(),
                p.get("name").unwrap().as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["cat:cat", "grp:a", "grp:b", "zz:zz"]);
}

#[test]
fn descriptions() {
    let mut p = world().process("cat", "cat").unwrap();
    p.state = ProcessState::Running;
    p.pid = 77;
    p.start = 1000.0;
    assert_eq!(
        methods::describe(&p, 1000.0 + 3723.0, 0),
        "pid 77, uptime 1:02:03"
    );
    assert_eq!(
        methods::describe(&p, 1000.0 + 2.0 * 86400.0 + 5.0, 0),
        "pid 77, uptime 2 days, 0:00:05"
    );
    p.state = ProcessState::Fatal;
    assert_eq!(
        methods::describe(&p, 0.0, 0),
        "unknown error (try \"tail cat\")"
    );
    p.spawnerr = "oops".into();
    assert_eq!(methods::describe(&p, 0.0, 0), "oops");
    p.state = ProcessState::Exited;
    p.stop = 1_700_000_000.0; // Tue Nov 14 22:13:20 2023 UTC
    assert_eq!(methods::describe(&p, 0.0, 0), "Nov 14 10:13 PM");
    p.state = ProcessState::Stopping;
    assert_eq!(methods::describe(&p, 0.0, 0), "");
}

#[test]
fn start_and_stop_one() {
    let mut b = world();
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![s("cat")]),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        b.process("cat", "cat").unwrap().state,
        ProcessState::Running
    );
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![s("cat")]),
        fault(FaultCode::AlreadyStarted, "cat")
    );
    assert_eq!(
        call(&mut b, "supervisor.stopProcess", vec![s("cat")]),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        b.process("cat", "cat").unwrap().state,
        ProcessState::Stopped
    );
    assert_eq!(
        call(&mut b, "supervisor.stopProcess", vec![s("cat")]),
        fault(FaultCode::NotRunning, "cat")
    );
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![s("nosuch")]),
        fault(FaultCode::BadName, "nosuch")
    );
    assert_eq!(
        call(&mut b, "supervisor.stopProcess", vec![s("grp:nosuch")]),
        fault(FaultCode::BadName, "grp:nosuch")
    );
    // Without waiting: true at once, still STARTING.
    assert_eq!(
        call(
            &mut b,
            "supervisor.startProcess",
            vec![s("grp:a"), Value::Bool(false)]
        ),
        Ok(Value::Bool(true))
    );
    assert_eq!(b.process("grp", "a").unwrap().state, ProcessState::Starting);
    // Faults of the start path.
    b.no_file.insert("zz:zz".into());
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![s("zz")]),
        fault(FaultCode::NoFile, "can't find command 'zz'")
    );
    b.no_file.clear();
    b.spawn_fails.insert("zz:zz".into());
    assert_eq!(
        call(
            &mut b,
            "supervisor.startProcess",
            vec![s("zz"), Value::Bool(false)]
        ),
        fault(FaultCode::SpawnError, "zz")
    );
    b.spawn_fails.clear();
    b.proc_mut("zz", "zz").unwrap().state = ProcessState::Exited;
    b.dies_on_start.insert("zz:zz".into());
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![s("zz")]),
        fault(FaultCode::SpawnError, "zz")
    );
    b.proc_mut("zz", "zz").unwrap().state = ProcessState::Unknown;
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![s("zz")]),
        fault(FaultCode::Failed, "zz is in an unknown process state")
    );
}

#[test]
fn abnormal_termination_while_waiting() {
    let mut b = world();
    let Outcome::Wait(mut w) = dispatch(&mut b, "supervisor.startProcess", &[s("cat")]) else {
        panic!("should wait")
    };
    assert_eq!(w.poll(&mut b), None);
    // Someone else stops it before it is RUNNING.
    b.proc_mut("cat", "cat").unwrap().state = ProcessState::Stopped;
    assert_eq!(
        w.poll(&mut b),
        Some(fault(FaultCode::AbnormalTermination, "cat"))
    );
}

fn results(v: &Value) -> Vec<(String, i32, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}:{}",
                    r.get("group").unwrap().as_str().unwrap(),
                    r.get("name").unwrap().as_str().unwrap()
                ),
                r.get("status").unwrap().as_int().unwrap(),
                r.get("description").unwrap().as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn group_and_all_operations() {
    let mut b = world();
    b.no_file.insert("grp:a".into());
    // Synchronous failures first, then waited ones as they finish.
    let r = call(&mut b, "supervisor.startProcessGroup", vec![s("grp")]).unwrap();
    assert_eq!(
        results(&r),
        [
            ("grp:a".into(), 20, "NO_FILE: can't find command 'a'".into()),
            ("grp:b".into(), 80, "OK".into())
        ]
    );
    // group:* through startProcess gives the same shape; running ones are skipped.
    let r = call(&mut b, "supervisor.startProcess", vec![s("grp:*")]).unwrap();
    assert_eq!(
        results(&r),
        [("grp:a".into(), 20, "NO_FILE: can't find command 'a'".into())]
    );
    b.no_file.clear();
    let r = call(&mut b, "supervisor.startAllProcesses", vec![]).unwrap();
    assert_eq!(
        results(&r),
        [
            ("cat:cat".into(), 80, "OK".into()),
            ("grp:a".into(), 80, "OK".into()),
            ("zz:zz".into(), 80, "OK".into())
        ]
    );
    let r = call(&mut b, "supervisor.startAllProcesses", vec![]).unwrap();
    assert_eq!(r, Value::Array(vec![]));
    let r = call(
        &mut b,
        "supervisor.signalProcessGroup",
        vec![s("grp"), s("HUP")],
    )
    .unwrap();
    assert_eq!(results(&r).len(), 2);
    assert_eq!(
        b.signals,
        [("grp:b".to_string(), 1), ("grp:a".to_string(), 1)]
    );
    let r = call(&mut b, "supervisor.signalAllProcesses", vec![s("bogus")]).unwrap();
    assert_eq!(
        results(&r)[0],
        ("cat:cat".into(), 11, "BAD_SIGNAL: bogus".into())
    );
    let r = call(&mut b, "supervisor.stopProcess", vec![s("grp:")]).unwrap();
    assert_eq!(results(&r).len(), 2);
    let r = call(
        &mut b,
        "supervisor.stopAllProcesses",
        vec![Value::Bool(false)],
    )
    .unwrap();
    assert_eq!(results(&r).len(), 2);
    for op in [
        "supervisor.startProcessGroup",
        "supervisor.stopProcessGroup",
    ] {
        assert_eq!(
            call(&mut b, op, vec![s("nosuch")]),
            fault(FaultCode::BadName, "nosuch")
        );
    }
    assert_eq!(
        call(
            &mut b,
            "supervisor.signalProcessGroup",
            vec![s("nosuch"), s("HUP")]
        ),
        fault(FaultCode::BadName, "nosuch")
    );
    assert_eq!(
        call(&mut b, "supervisor.startProcess", vec![s("nosuch:*")]),
        fault(FaultCode::BadName, "nosuch:*")
    );
}

#[test]
fn signals() {
    let mut b = world();
    assert_eq!(
        call(&mut b, "supervisor.signalProcess", vec![s("cat"), s("HUP")]),
        fault(FaultCode::NotRunning, "cat")
    );
    b.proc_mut("cat", "cat").unwrap().state = ProcessState::Running;
    for (sig, n) in [
        (s("HUP"), 1),
        (s("sigterm"), 15),
        (s(" kill "), 9),
        (s("9"), 9),
        (Value::Int(15), 15),
        (s("RTMIN"), 34),
        (s("0"), 0),
        (Value::Double(9.5), 9),
    ] {
        b.signals.clear();
        assert_eq!(
            call(
                &mut b,
                "supervisor.signalProcess",
                vec![s("cat"), sig.clone()]
            ),
            Ok(Value::Bool(true)),
            "{sig:?}"
        );
        assert_eq!(b.signals, [("cat:cat".to_string(), n)]);
    }
    for bad in ["FOO", "32", "-1", ""] {
        assert_eq!(
            call(&mut b, "supervisor.signalProcess", vec![s("cat"), s(bad)]),
            fault(FaultCode::BadSignal, bad)
        );
    }
    assert_eq!(
        call(
            &mut b,
            "supervisor.signalProcess",
            vec![s("cat"), Value::Int(99)]
        ),
        fault(FaultCode::BadSignal, "99")
    );
}

#[test]
fn multicall_rules() {
    let mut b = world();
    let c = |name: Option<&str>, params: Vec<Value>| {
        let mut m = vec![];
        if let Some(n) = name {
            m.push(("methodName".to_string(), s(n)));
        }
        m.push(("params".to_string(), Value::Array(params)));
        Value::Struct(m)
    };
    let calls = Value::Array(vec![
        c(Some("supervisor.getAPIVersion"), vec![]),
        c(Some("system.multicall"), vec![Value::Array(vec![])]),
        c(None, vec![]),
        c(Some("supervisor.startProcess"), vec![s("cat")]),
        c(Some("supervisor.getProcessInfo"), vec![s("nosuch")]),
        c(Some("supervisor.nosuch"), vec![]),
        c(Some("supervisor.getPID"), vec![s("extra")]),
    ]);
    let r = call(&mut b, "system.multicall", vec![calls]).unwrap();
    let f = |code: i32, text: &str| {
        Value::structure([("faultCode", Value::Int(code)), ("faultString", s(text))])
    };
    assert_eq!(
        r,
        Value::Array(vec![
            s("3.0"),
            f(
                2,
                "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"
            ),
            f(2, "INCORRECT_PARAMETERS: No methodName"),
            Value::Bool(true),
            f(10, "BAD_NAME: nosuch"),
            f(1, "UNKNOWN_METHOD"),
            f(2, "INCORRECT_PARAMETERS"),
        ])
    );
    assert_eq!(
        call(&mut b, "system.multicall", vec![s("x")]),
        bare(FaultCode::IncorrectParameters)
    );
    // The later call sees the effect of the waited one.
    assert_eq!(
        b.process("cat", "cat").unwrap().state,
        ProcessState::Running
    );
}

#[test]
fn logs() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.log");
    let out = dir.path().join("cat.out");
    let mut b = world();
    assert_eq!(
        call(
            &mut b,
            "supervisor.readLog",
            vec![Value::Int(0), Value::Int(0)]
        ),
        bare(FaultCode::NoFile)
    );
    b.main_log = Some(main.clone());
    assert_eq!(
        call(
            &mut b,
            "supervisor.readLog",
            vec![Value::Int(0), Value::Int(0)]
        ),
        fault(FaultCode::NoFile, &main.display().to_string())
    );
    std::fs::write(&main, "0123456789").unwrap();
    assert_eq!(
        call(
            &mut b,
            "supervisor.readLog",
            vec![Value::Int(-4), Value::Int(0)]
        ),
        Ok(s("6789"))
    );
    assert_eq!(
        call(
            &mut b,
            "supervisor.readMainLog",
            vec![Value::Int(2), Value::Int(3)]
        ),
        Ok(s("234"))
    );
    assert_eq!(
        call(
            &mut b,
            "supervisor.readLog",
            vec![Value::Int(-4), Value::Int(1)]
        ),
        bare(FaultCode::BadArguments)
    );
    assert_eq!(
        call(&mut b, "supervisor.readLog", vec![Value::Int(0), s("x")]),
        bare(FaultCode::IncorrectParameters)
    );
    assert_eq!(
        call(&mut b, "supervisor.clearLog", vec![]),
        Ok(Value::Bool(true))
    );
    assert_eq!(b.reopened, 1);
    assert_eq!(std::fs::read(&main).unwrap(), b"");

    // Process logs.
    let read = |b: &mut FakeBackend, m: &str, n: &str| {
        call(b, m, vec![s(n), Value::Int(0), Value::Int(0)])
    };
    assert_eq!(
        read(&mut b, "supervisor.readProcessStdoutLog", "cat"),
        bare(FaultCode::NoFile)
    );
    b.proc_mut("cat", "cat").unwrap().stdout_logfile = Some(out.clone());
    assert_eq!(
        read(&mut b, "supervisor.readProcessLog", "cat"),
        fault(FaultCode::NoFile, &out.display().to_string())
    );
    let tail = |b: &mut FakeBackend, off: i32, len: i32| {
        call(
            b,
            "supervisor.tailProcessStdoutLog",
            vec![s("cat"), Value::Int(off), Value::Int(len)],
        )
    };
    let t =
        |d: &str, o: i32, ov: bool| Ok(Value::Array(vec![s(d), Value::Int(o), Value::Bool(ov)]));
    assert_eq!(tail(&mut b, 0, 100), t("", 0, false));
    std::fs::write(&out, b"hello\n\xffworld\n").unwrap();
    assert_eq!(
        read(&mut b, "supervisor.readProcessStdoutLog", "cat"),
        Ok(s("hello\n\u{fffd}world\n"))
    );
    assert_eq!(tail(&mut b, 0, 100), t("hello\n\u{fffd}world\n", 13, false));
    assert_eq!(tail(&mut b, 0, 3), t("ld\n", 13, true));
    assert_eq!(tail(&mut b, 13, 3), t("", 13, false));
    assert_eq!(
        read(&mut b, "supervisor.readProcessStderrLog", "cat"),
        bare(FaultCode::NoFile)
    );
    assert_eq!(
        call(
            &mut b,
            "supervisor.tailProcessStderrLog",
            vec![s("cat"), Value::Int(0), Value::Int(5)]
        ),
        t("", 0, false)
    );
    assert_eq!(
        read(&mut b, "supervisor.readProcessStdoutLog", "grp:*"),
        fault(FaultCode::BadName, "grp:*")
    );
    assert_eq!(
        call(&mut b, "supervisor.clearProcessLogs", vec![s("grp:a")]),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        call(&mut b, "supervisor.clearProcessLog", vec![s("grp")]),
        fault(FaultCode::BadName, "grp")
    );
    let r = call(&mut b, "supervisor.clearAllProcessLogs", vec![]).unwrap();
    assert_eq!(results(&r).len(), 4);
    assert_eq!(b.cleared.len(), 5);
}

#[test]
fn stdin_events_and_groups() {
    let mut b = world();
    assert_eq!(
        call(
            &mut b,
            "supervisor.sendProcessStdin",
            vec![s("cat"), s("x")]
        ),
        fault(FaultCode::NotRunning, "cat")
    );
    assert_eq!(
        call(
            &mut b,
            "supervisor.sendProcessStdin",
            vec![s("cat"), Value::Int(5)]
        ),
        fault(FaultCode::IncorrectParameters, "5")
    );
    call(&mut b, "supervisor.startProcess", vec![s("cat")]).unwrap();
    assert_eq!(
        call(
            &mut b,
            "supervisor.sendProcessStdin",
            vec![s("cat"), s("h\u{e9}\n")]
        ),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        b.stdin,
        [("cat:cat".to_string(), "h\u{e9}\n".as_bytes().to_vec())]
    );
    assert_eq!(
        call(
            &mut b,
            "supervisor.sendRemoteCommEvent",
            vec![s("t"), s("d")]
        ),
        Ok(Value::Bool(true))
    );
    assert_eq!(b.events, [("t".to_string(), "d".to_string())]);

    // Groups.
    assert_eq!(
        call(&mut b, "supervisor.removeProcessGroup", vec![s("cat")]),
        fault(FaultCode::StillRunning, "cat")
    );
    assert_eq!(
        call(&mut b, "supervisor.removeProcessGroup", vec![s("nosuch")]),
        fault(FaultCode::BadName, "nosuch")
    );
    assert_eq!(
        call(&mut b, "supervisor.removeProcessGroup", vec![s("zz")]),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        call(&mut b, "supervisor.addProcessGroup", vec![s("zz")]),
        fault(FaultCode::BadName, "zz")
    );
    b.config.push(supervisor_config::GroupConfig {
        name: "zz".into(),
        priority: 999,
        kind: supervisor_config::GroupKind::Program,
        processes: vec![],
    });
    assert_eq!(
        call(&mut b, "supervisor.addProcessGroup", vec![s("zz")]),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        call(&mut b, "supervisor.addProcessGroup", vec![s("zz")]),
        fault(FaultCode::AlreadyAdded, "zz")
    );
    b.reload = Ok(ConfigDiff {
        added: vec!["new".into()],
        changed: vec![],
        removed: vec!["old".into(), "older".into()],
    });
    let arr = |v: &[&str]| Value::Array(v.iter().map(|x| s(x)).collect());
    assert_eq!(
        call(&mut b, "supervisor.reloadConfig", vec![]),
        Ok(Value::Array(vec![Value::Array(vec![
            arr(&["new"]),
            arr(&[]),
            arr(&["old", "older"])
        ])]))
    );
    b.reload = Err("bad config".into());
    assert_eq!(
        call(&mut b, "supervisor.reloadConfig", vec![]),
        fault(FaultCode::CantReread, "bad config")
    );
    assert_eq!(
        call(&mut b, "supervisor.shutdown", vec![]),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        call(&mut b, "supervisor.restart", vec![]),
        bare(FaultCode::ShutdownState)
    );
}

#[test]
fn pending_answers_and_drops_gone_clients() {
    let mut b = world();
    let mut pending = Pending::new();
    let (tx, mut rx) = oneshot::channel();
    handle(
        &mut b,
        &mut pending,
        ControlRequest::Call {
            name: "supervisor.startProcess".into(),
            params: vec![s("cat")],
            reply: tx,
        },
    );
    assert_eq!(pending.len(), 1);
    pending.poll(&mut b);
    assert!(rx.try_recv().is_err());
    b.step();
    pending.poll(&mut b);
    assert_eq!(rx.try_recv().unwrap(), Ok(Value::Bool(true)));
    assert!(pending.is_empty());
    // A client that went away is forgotten.
    let (tx, rx) = oneshot::channel();
    handle(
        &mut b,
        &mut pending,
        ControlRequest::Call {
            name: "supervisor.startProcess".into(),
            params: vec![s("zz")],
            reply: tx,
        },
    );
    drop(rx);
    pending.poll(&mut b);
    assert!(pending.is_empty());
}

#[test]
fn log_paths_for_tail() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    std::fs::write(&out, b"x").unwrap();
    let mut b = world();
    b.proc_mut("grp", "a").unwrap().stdout_logfile = Some(out.clone());
    let t = |ns: &str, ch: &str| LogTarget::Process {
        namespec: ns.into(),
        channel: ch.into(),
    };
    assert_eq!(log_path(&b, &t("grp:a", "stdout")), Some(out.clone()));
    assert_eq!(log_path(&b, &t("grp:a", "stderr")), None);
    assert_eq!(log_path(&b, &t("grp:a", "other")), None);
    assert_eq!(log_path(&b, &t("a", "stdout")), None);
    assert_eq!(log_path(&b, &t("grp:*", "stdout")), None);
    assert_eq!(log_path(&b, &LogTarget::Main), None);
}

#[test]
fn config_info_rows() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nlogfile={0}/l\npidfile={0}/p\nchildlogdir={0}\n\n\
[program:b]\ncommand=/bin/cat\nstdout_logfile=NONE\n\n[program:a]\ncommand=/bin/cat\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let cfg = supervisor_config::load(&conf).unwrap();
    let mut b = world();
    b.config = cfg.groups;
    b.groups.push(("b".into(), vec![]));
    let rows = call(&mut b, "supervisor.getAllConfigInfo", vec![]).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let keys: Vec<&str> = rows[0]
        .as_struct()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys.join(" "),
        "autostart directory uid command exitcodes group group_prio inuse killasgroup name \
process_prio redirect_stderr startretries startsecs stdout_capture_maxbytes \
stdout_events_enabled stdout_logfile stdout_logfile_backups stdout_logfile_maxbytes \
stdout_syslog stopsignal stopwaitsecs stderr_capture_maxbytes stderr_events_enabled \
stderr_logfile stderr_logfile_backups stderr_logfile_maxbytes stderr_syslog serverurl"
    );
    // Sorted by name; inuse follows the active groups; AUTO/None rendered as words.
    assert_eq!(rows[0].get("name"), Some(&s("a")));
    assert_eq!(rows[0].get("inuse"), Some(&Value::Bool(false)));
    assert_eq!(rows[0].get("stdout_logfile"), Some(&s("auto")));
    assert_eq!(rows[0].get("directory"), Some(&s("none")));
    assert_eq!(rows[0].get("serverurl"), Some(&s("none")));
    assert_eq!(
        rows[0].get("exitcodes"),
        Some(&Value::Array(vec![Value::Int(0)]))
    );
    assert_eq!(rows[1].get("inuse"), Some(&Value::Bool(true)));
    assert_eq!(rows[1].get("stdout_logfile"), Some(&s("none")));
}

/// What the `/RPC2` path gets for one call: the encoded document or the fault.
fn call_xml(b: &mut FakeBackend, name: &str, params: Vec<Value>) -> Result<Vec<u8>, Fault> {
    match dispatch_xml(b, name, &params) {
        XmlOutcome::Done(r) => r,
        XmlOutcome::Wait(mut w) => {
            for _ in 0..100 {
                b.step();
                if let Some(r) = w.poll_xml(b) {
                    return r;
                }
            }
            panic!("waiter never finished")
        }
    }
}

#[test]
fn encoded_dispatch_matches_value_dispatch() {
    let calls: Vec<(&str, Vec<Value>)> = vec![
        ("supervisor.getAllProcessInfo", vec![]),
        ("supervisor.getAllProcessInfo", vec![s("x")]),
        ("supervisor.getProcessInfo", vec![s("grp:a")]),
        ("supervisor.getProcessInfo", vec![s("cat")]),
        ("supervisor.getProcessInfo", vec![s("grp:")]),
        ("supervisor.getProcessInfo", vec![s("grp:nosuch")]),
        ("supervisor.getProcessInfo", vec![Value::Int(1)]),
        ("supervisor.getProcessInfo", vec![]),
        ("supervisor.getState", vec![]),
        ("supervisor.nosuch", vec![]),
        ("system.listMethods", vec![]),
        ("supervisor.startProcess", vec![s("cat")]),
        ("supervisor.getAllProcessInfo", vec![]),
        ("supervisor.stopProcess", vec![s("cat"), Value::Bool(false)]),
        ("supervisor.getProcessInfo", vec![s("cat")]),
    ];
    let mut a = world();
    let mut b = world();
    // Odd states and texts that need escaping.
    for w in [&mut a, &mut b] {
        let p = w.proc_mut("grp", "a").unwrap();
        p.state = ProcessState::Fatal;
        p.spawnerr = "can't find <cmd> & co".into();
        p.start = 1_700_000_000.0;
        p.stdout_logfile = Some("/tmp/a&b<c>.log".into());
    }
    for (name, params) in calls {
        let want = call(&mut a, name, params.clone()).map(|v| xmlrpc::write_response(&v));
        assert_eq!(call_xml(&mut b, name, params), want, "{name}");
    }
    b.state = SupervisorState::Shutdown;
    assert_eq!(
        call_xml(&mut b, "supervisor.getAllProcessInfo", vec![]),
        Err(Fault::bare(FaultCode::ShutdownState))
    );
}

#[test]
fn encoded_calls_are_parked_and_answered_encoded() {
    let mut b = world();
    let mut pending = Pending::new();
    let (tx, mut rx) = oneshot::channel();
    handle(
        &mut b,
        &mut pending,
        ControlRequest::CallXml {
            name: "supervisor.startProcess".into(),
            params: vec![s("cat")],
            reply: tx,
        },
    );
    assert_eq!(pending.len(), 1);
    b.step();
    pending.poll(&mut b);
    assert_eq!(
        rx.try_recv().unwrap(),
        Ok(xmlrpc::write_response(&Value::Bool(true)))
    );
    let (tx, mut rx) = oneshot::channel();
    handle(
        &mut b,
        &mut pending,
        ControlRequest::CallXml {
            name: "supervisor.getProcessInfo".into(),
            params: vec![s("nosuch")],
            reply: tx,
        },
    );
    assert_eq!(
        rx.try_recv().unwrap(),
        Err(Fault::new(FaultCode::BadName, "nosuch"))
    );
}

#[test]
fn direct_process_info_writer_matches_the_value() {
    let base = methods::InfoFields {
        name: "web",
        group: "g",
        state: ProcessState::Running,
        start: 1_700_000_000.0,
        stop: 0.0,
        pid: 4321,
        exitstatus: 0,
        spawnerr: "",
        stdout_logfile: "/var/log/web.out",
        stderr_logfile: "",
        note: "",
        restart_at: 0.0,
    };
    let variants = [
        base,
        methods::InfoFields {
            state: ProcessState::Fatal,
            spawnerr: "can't find command '<x>' & more",
            name: "a&b",
            group: "<g>",
            ..base
        },
        methods::InfoFields {
            state: ProcessState::Backoff,
            ..base
        },
        methods::InfoFields {
            state: ProcessState::Exited,
            stop: 1_700_000_100.0,
            exitstatus: 3,
            ..base
        },
        methods::InfoFields {
            state: ProcessState::Stopped,
            start: 0.0,
            ..base
        },
        methods::InfoFields {
            state: ProcessState::Stopping,
            start: 3e12,
            stderr_logfile: "/very/long/path/that/needs/the/vectorized/escape&search.err",
            ..base
        },
    ];
    let mut scratch = String::from("left over");
    for f in variants {
        for (now, off) in [(1_700_090_061.0, 0), (1_700_000_000.0, 3600)] {
            let mut want = Vec::new();
            xmlrpc::write_value(&mut want, &methods::process_info_of(&f, now, off));
            let mut out = Vec::new();
            methods::write_process_info(&mut out, &mut scratch, &f, now, off);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(want).unwrap()
            );
            assert!(methods::process_info_size_hint(&f) > 600);
        }
    }
}

fn multicall_entry(name: &str, params: Vec<Value>) -> Value {
    Value::structure([("methodName", s(name)), ("params", Value::Array(params))])
}

#[test]
fn encoded_multicall_matches_value_multicall() {
    let calls = Value::Array(vec![
        multicall_entry("supervisor.getAPIVersion", vec![]),
        multicall_entry("system.multicall", vec![Value::Array(vec![])]),
        Value::structure([("params", Value::Array(vec![]))]),
        Value::from("not a struct"),
        multicall_entry("supervisor.startProcess", vec![s("cat")]),
        multicall_entry("supervisor.getProcessInfo", vec![s("nosuch")]),
        multicall_entry("supervisor.getPID", vec![s("extra")]),
        multicall_entry("supervisor.getAllProcessInfo", vec![]),
        multicall_entry("supervisor.stopProcess", vec![s("cat"), Value::Bool(false)]),
    ]);
    let mut a = world();
    let mut b = world();
    let want = call(&mut a, "system.multicall", vec![calls.clone()]);
    assert!(want.is_ok());
    assert_eq!(
        call_xml(&mut b, "system.multicall", vec![calls]),
        want.map(|v| xmlrpc::write_response(&v))
    );
    assert_eq!(
        call_xml(&mut b, "system.multicall", vec![s("x")]),
        Err(Fault::bare(FaultCode::IncorrectParameters))
    );
    // Parked on the loop and answered encoded.
    let mut pending = Pending::new();
    let (tx, mut rx) = oneshot::channel();
    let calls = Value::Array(vec![
        multicall_entry("supervisor.startProcess", vec![s("zz")]),
        multicall_entry("supervisor.getAPIVersion", vec![]),
    ]);
    handle(
        &mut b,
        &mut pending,
        ControlRequest::CallXml {
            name: "system.multicall".into(),
            params: vec![calls],
            reply: tx,
        },
    );
    assert_eq!(pending.len(), 1);
    b.step();
    pending.poll(&mut b);
    assert!(pending.is_empty());
    assert_eq!(
        rx.try_recv().unwrap(),
        Ok(xmlrpc::write_response(&Value::Array(vec![
            Value::Bool(true),
            s("3.0")
        ])))
    );
}

#[test]
fn multicall_answers_are_capped() {
    // The cap scaled down: 1 MiB of results, reads of 64 KiB.
    const LIMIT: usize = 1024 * 1024;
    const READ: usize = 64 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cat.out");
    std::fs::write(&out, "abc<efg\n".repeat(READ / 8)).unwrap();
    let read = multicall_entry(
        "supervisor.readProcessStdoutLog",
        vec![s("cat"), Value::Int(0), Value::Int(READ as i32)],
    );
    let mut calls = vec![read; 30];
    calls.push(multicall_entry("supervisor.startProcess", vec![s("cat")]));
    calls.push(multicall_entry("supervisor.getAPIVersion", vec![]));
    let params = vec![Value::Array(calls)];
    let mut a = world();
    let mut b = world();
    for w in [&mut a, &mut b] {
        w.proc_mut("cat", "cat").unwrap().stdout_logfile = Some(out.clone());
    }
    let Outcome::Done(Ok(r)) = methods::multicall_within(&mut a, &params, LIMIT) else {
        panic!("multicall did not finish");
    };
    let items = r.as_array().unwrap();
    assert_eq!(items.len(), 32);
    // Each answer is 64 KiB + 24 KiB of escapes (+ markup): 11 fit in 1 MiB. The 12th is
    // read (its raw bytes fit) but its encoding does not; no later call is run, not even a
    // small one.
    let too_large = Value::structure([
        ("faultCode", Value::Int(30)),
        ("faultString", Value::String(budget::too_large().string)),
    ]);
    for (i, v) in items.iter().enumerate() {
        if i < 11 {
            assert_eq!(v.as_str().map(str::len), Some(READ), "{i}");
        } else {
            assert_eq!(v, &too_large, "{i}");
        }
    }
    assert_eq!(
        a.process("cat", "cat").unwrap().state,
        ProcessState::Stopped
    );
    // The encoded answer is the same, within the cap.
    let XmlOutcome::Done(Ok(doc)) = methods::multicall_xml_within(&mut b, &params, LIMIT) else {
        panic!("multicall did not finish");
    };
    assert!(doc.len() <= LIMIT + budget::ENVELOPE, "{}", doc.len());
    assert!(doc == xmlrpc::write_response(&r), "encoded answers differ");
    assert_eq!(
        b.process("cat", "cat").unwrap().state,
        ProcessState::Stopped
    );

    // Without escapes, a read whose bytes cannot fit is refused before reading.
    std::fs::write(&out, "abcdefg\n".repeat(READ / 8)).unwrap();
    let Outcome::Done(Ok(r)) = methods::multicall_within(&mut a, &params, LIMIT) else {
        panic!("multicall did not finish");
    };
    let items = r.as_array().unwrap();
    let ok = items.iter().take_while(|v| v.as_str().is_some()).count();
    assert_eq!(ok, 15);
    assert!(items[ok..].iter().all(|v| v == &too_large));
    // The real cap lets all 32 of these through.
    let r = call(&mut a, "system.multicall", params).unwrap();
    assert!(r.as_array().unwrap()[..30]
        .iter()
        .all(|v| v.as_str().is_some()));
    assert_eq!(r.as_array().unwrap()[30], Value::Bool(true));
}

#[test]
fn a_single_read_whose_escapes_do_not_fit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cat.out");
    // 20 MiB of `&` become 100 MiB of `&amp;`.
    std::fs::write(&out, vec![b'&'; 20 * 1024 * 1024]).unwrap();
    let mut b = world();
    b.proc_mut("cat", "cat").unwrap().stdout_logfile = Some(out.clone());
    for m in [
        "supervisor.readProcessStdoutLog",
        "supervisor.tailProcessStdoutLog",
    ] {
        let params = vec![s("cat"), Value::Int(0), Value::Int(30 * 1024 * 1024)];
        assert_eq!(
            call(&mut b, m, params.clone()),
            Err(budget::too_large()),
            "{m}"
        );
        assert_eq!(call_xml(&mut b, m, params), Err(budget::too_large()), "{m}");
    }
    // Without escapes the same size is answered.
    std::fs::write(&out, vec![b'a'; 20 * 1024 * 1024]).unwrap();
    let r = call(
        &mut b,
        "supervisor.readProcessStdoutLog",
        vec![s("cat"), Value::Int(0), Value::Int(0)],
    );
    assert_eq!(r.unwrap().as_str().map(str::len), Some(20 * 1024 * 1024));
}

#[test]
fn control_bytes_in_logs_are_answered_as_well_formed_xml() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cat.out");
    std::fs::write(&out, b"a\x00b\x1b[0m\xff\xef\xbf\xbe\tz\n").unwrap();
    let mut b = world();
    b.proc_mut("cat", "cat").unwrap().stdout_logfile = Some(out.clone());
    let doc = call_xml(
        &mut b,
        "supervisor.tailProcessStdoutLog",
        vec![s("cat"), Value::Int(0), Value::Int(100)],
    )
    .unwrap();
    let text = String::from_utf8(doc).unwrap();
    assert!(
        text.contains("<value><string>a\u{2400}b\u{241b}[0m\u{fffd}\u{fffd}\tz\n</string></value>"),
        "{text}"
    );
    // The offset is the file's byte size, not a count of characters.
    assert!(text.contains("<value><int>14</int></value>"), "{text}");
}
