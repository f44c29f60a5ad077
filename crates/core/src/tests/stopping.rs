//! Stopping and signalling: stop signals, stopwaitsecs and SIGKILL, kill failures,
//! the start/stop RPC semantics and waiters.

use super::*;

#[test]
fn stop_with_term_then_stopped_logs() {
    let mut w = World::one(pconf("p"));
    w.tick();
    w.advance(2.0);
    let pid = w.pid("p");
    w.take_logs();
    let k = w.key("p");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("p"), ProcessState::Stopping);
    assert_eq!(w.host.kills, vec![(pid, 15)]);
    assert_eq!(
        w.take_logs(),
        vec![format!("DEBG killing p (pid {pid}) with signal SIGTERM")]
    );
    w.exit("p", wait_status_signaled(15, false));
    assert_eq!(w.state("p"), ProcessState::Stopped);
    assert_eq!(
        w.take_logs(),
        vec!["WARN stopped: p (terminated by SIGTERM)"]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateStopped),
        vec![format!(
            "processname:p groupname:p from_state:STOPPING pid:{pid}"
        )]
    );
    // an administratively stopped process is not restarted, whatever autorestart says
    w.advance(50.0);
    assert_eq!(w.state("p"), ProcessState::Stopped);
    assert_eq!(w.info("p").description, "Nov 21 06:14 PM");
}

#[test]
fn stop_with_exit_0_logs_info() {
    let mut w = World::one(pconf("p"));
    w.tick();
    let k = w.key("p");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.take_logs();
    w.exit("p", wait_status_exited(0));
    assert_eq!(w.take_logs(), vec!["INFO stopped: p (exit status 0)"]);
}

#[test]
fn stopwaitsecs_escalates_to_sigkill_and_rearms() {
    let mut c = pconf("stubborn");
    c.stopwaitsecs = 3;
    c.stopasgroup = true;
    c.killasgroup = true;
    let mut w = World::one(c);
    w.tick();
    w.advance(2.0);
    let pid = w.pid("stubborn");
    let k = w.key("stubborn");
    w.take_logs();
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.host.kills, vec![(-pid, 15)]);
    assert_eq!(
        w.take_logs(),
        vec![format!(
            "DEBG killing stubborn (pid {pid}) process group with signal SIGTERM"
        )]
    );
    let d = w.sup.next_deadline(w.now).unwrap();
    assert!((d - w.now.mono - 3.0).abs() < 1e-9);
    w.run_to_deadline();
    assert_eq!(w.host.kills, vec![(-pid, 15), (-pid, 9)]);
    assert_eq!(
        w.take_logs(),
        vec![
            format!("WARN killing 'stubborn' ({pid}) with SIGKILL"),
            format!("DEBG killing stubborn (pid {pid}) process group with signal SIGKILL"),
        ]
    );
    // still alive: SIGKILL again every stopwaitsecs
    w.run_to_deadline();
    assert_eq!(w.host.kills.len(), 3);
    assert_eq!(w.payloads(EventType::ProcessStateStopping).len(), 1);
}

#[test]
fn killasgroup_only_for_sigkill() {
    let mut c = pconf("p");
    c.stopwaitsecs = 1;
    c.killasgroup = true;
    let mut w = World::one(c);
    w.tick();
    let pid = w.pid("p");
    let k = w.key("p");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.run_to_deadline();
    assert_eq!(w.host.kills, vec![(pid, 15), (-pid, 9)]);
}

#[test]
fn stop_in_backoff_goes_stopped_without_signal() {
    let mut w = World::one(pconf("q"));
    w.tick();
    w.exit("q", wait_status_exited(1));
    assert_eq!(w.state("q"), ProcessState::Backoff);
    w.take_logs();
    let k = w.key("q");
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("q"), ProcessState::Stopped);
    assert!(w.host.kills.is_empty());
    assert_eq!(
        w.take_logs(),
        vec!["DEBG Attempted to kill q, which is in BACKOFF state."]
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateStopped),
        vec!["processname:q groupname:q from_state:BACKOFF pid:0"]
    );
    w.advance(10.0);
    assert_eq!(w.state("q"), ProcessState::Stopped);
}

#[test]
fn stop_errors() {
    let mut c = pconf("p");
    c.autostart = false;
    let mut w = World::one(c);
    w.tick();
    let k = w.key("p");
    assert_eq!(
        w.sup.stop_process(k, w.now, &mut w.host),
        Err(StopError::NotRunning)
    );
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    // STOPPING is not a RUNNING state
    assert_eq!(
        w.sup.stop_process(k, w.now, &mut w.host),
        Err(StopError::NotRunning)
    );
}

#[test]
fn kill_failure_goes_unknown_and_esrch_is_ignored() {
    let mut w = World::one(pconf("p"));
    w.tick();
    let k = w.key("p");
    w.host.kill_error = Some(KillError::NoSuchProcess("[Errno 3] No such process".into()));
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    w.drain();
    assert_eq!(w.state("p"), ProcessState::Stopping);
    assert!(w.logs.last().unwrap().starts_with(
        "DEBG unable to signal p (pid 101), it probably just exited on its own: [Errno 3]"
    ));

    let mut w = World::one(pconf("p"));
    w.tick();
    let k = w.key("p");
    w.host.kill_error = Some(KillError::Other("EPERM".into()));
    let err = w.sup.stop_process(k, w.now, &mut w.host).unwrap_err();
    w.drain();
    assert_eq!(
        err,
        StopError::Failed("unknown problem killing p (101):EPERM".into())
    );
    assert_eq!(w.state("p"), ProcessState::Unknown);
    assert_eq!(
        w.sup.start_process(k, w.now, &mut w.host),
        Err(StartError::UnknownState)
    );
    assert_eq!(
        w.payloads(EventType::ProcessStateUnknown),
        vec!["processname:p groupname:p from_state:STOPPING"]
    );
    // the child eventually dies: reaped into EXITED rather than an internal error
    w.host.kill_error = None;
    w.exit("p", wait_status_exited(0));
    assert_eq!(w.state("p"), ProcessState::Exited);
}

#[test]
fn start_process_rpc_semantics() {
    let mut c = pconf("p");
    c.autostart = false;
    let mut bad = pconf("bad");
    bad.autostart = false;
    let mut w = World::new(vec![group("p", 1, vec![c]), group("bad", 2, vec![bad])]);
    w.host.fail.insert("bad".into());
    let k = w.key("p");
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    assert_eq!(
        w.sup.start_process(k, w.now, &mut w.host),
        Err(StartError::AlreadyStarted)
    );
    let kb = w.key("bad");
    assert_eq!(
        w.sup.start_process(kb, w.now, &mut w.host),
        Err(StartError::SpawnError)
    );
    // BACKOFF is a RUNNING state: a second start is refused
    assert_eq!(
        w.sup.start_process(kb, w.now, &mut w.host),
        Err(StartError::AlreadyStarted)
    );
    // startsecs=0: RUNNING when the call returns
    let mut z = pconf("zero");
    z.startsecs = 0;
    z.autostart = false;
    let mut wz = World::one(z);
    let kz = wz.key("zero");
    wz.sup.start_process(kz, wz.now, &mut wz.host).unwrap();
    assert_eq!(wz.state("zero"), ProcessState::Running);
    // waiter: until RUNNING
    let id = w.sup.add_waiter(WaitCondition::Running(k));
    w.tick();
    assert!(w.sup.take_completed_waiters().is_empty());
    w.run_to_deadline();
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::Done)]
    );
}

#[test]
fn waiter_outcomes() {
    let mut c = pconf("p");
    c.autostart = false;
    c.autorestart = AutoRestart::Never;
    let mut w = World::one(c);
    let k = w.key("p");
    w.sup.start_process(k, w.now, &mut w.host).unwrap();
    let id = w.sup.add_waiter(WaitCondition::Running(k));
    w.exit("p", wait_status_exited(0));
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::SpawnError)]
    );
    // stop waiter logs 'waiting for p to stop' at most every 2 s
    w.advance(5.0); // BACKOFF retry
    w.advance(2.0);
    assert_eq!(w.state("p"), ProcessState::Running);
    w.sup.stop_process(k, w.now, &mut w.host).unwrap();
    let id = w.sup.add_waiter(WaitCondition::Stopped(k));
    w.take_logs();
    w.tick();
    w.advance(1.0);
    w.run_to_deadline();
    let waits: Vec<_> = w
        .take_logs()
        .into_iter()
        .filter(|l| l == "INFO waiting for p to stop")
        .collect();
    assert_eq!(waits.len(), 2);
    w.exit("p", wait_status_exited(0));
    assert_eq!(
        w.sup.take_completed_waiters(),
        vec![(id, WaitOutcome::Done)]
    );
}
