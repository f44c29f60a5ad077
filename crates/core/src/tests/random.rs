//! Randomized operation sequences: the state machines' invariants hold after every step,
//! and skipping idle passes changes nothing.

use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Advance(u16),
    Exit(usize, u8, bool),
    Start(usize),
    Stop(usize),
    Signal(usize),
    ToDeadline,
    Shutdown,
    ToggleFail(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u16..3000).prop_map(Op::Advance),
        (0usize..3, 0u8..4, any::<bool>()).prop_map(|(i, c, s)| Op::Exit(i, c, s)),
        (0usize..3).prop_map(Op::Start),
        (0usize..3).prop_map(Op::Stop),
        (0usize..3).prop_map(Op::Signal),
        Just(Op::ToDeadline),
        Just(Op::ToDeadline),
        (0usize..3).prop_map(Op::ToggleFail),
        Just(Op::Shutdown),
    ]
}

fn configs() -> impl Strategy<Value = Vec<ProcessConfig>> {
    proptest::collection::vec((0u64..3, 0u32..3, 0u8..3, any::<bool>(), 1u64..4), 3).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (ss, sr, ar, autostart, sw))| {
                let mut c = pconf(&format!("p{i}"));
                c.startsecs = ss;
                c.startretries = sr;
                c.autorestart = [
                    AutoRestart::Never,
                    AutoRestart::Unexpected,
                    AutoRestart::Always,
                ][ar as usize];
                c.autostart = autostart;
                c.stopwaitsecs = sw;
                c
            })
            .collect()
    })
}

fn allowed(from: ProcessState, to: ProcessState) -> bool {
    use ProcessState::*;
    matches!(
        (from, to),
        (Stopped | Exited | Fatal | Backoff, Starting)
            | (Starting, Backoff | Running | Stopping | Unknown)
            | (Running, Exited | Stopping | Unknown)
            | (Backoff, Fatal | Stopped)
            | (Stopping, Stopped | Unknown)
            | (Unknown, Exited)
    )
}

fn state_of_event(kind: EventType) -> Option<ProcessState> {
    Some(match kind {
        EventType::ProcessStateStopped => ProcessState::Stopped,
        EventType::ProcessStateStarting => ProcessState::Starting,
        EventType::ProcessStateRunning => ProcessState::Running,
        EventType::ProcessStateBackoff => ProcessState::Backoff,
        EventType::ProcessStateStopping => ProcessState::Stopping,
        EventType::ProcessStateExited => ProcessState::Exited,
        EventType::ProcessStateFatal => ProcessState::Fatal,
        EventType::ProcessStateUnknown => ProcessState::Unknown,
        _ => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
    #[test]
    fn invariants_hold(cfgs in configs(), ops in proptest::collection::vec(op(), 1..60)) {
        let names: Vec<String> = cfgs.iter().map(|c| c.name.clone()).collect();
        let retries: Vec<u32> = cfgs.iter().map(|c| c.startretries).collect();
        let mut w = World::new(vec![group("g", 1, cfgs)]);
        let keys: Vec<ProcKey> = names.iter().map(|n| w.key(&format!("g:{n}"))).collect();
        w.tick();
        // consecutive failed starts per process since the last success/FATAL/manual start
        let mut states = [ProcessState::Stopped; 3];
        let mut failures = [0u32; 3];
        let mut seen = 0usize;
        for op in ops {
            match op {
                Op::Advance(ms) => w.advance(f64::from(ms) / 1000.0),
                Op::ToDeadline => {
                    if let Some(d) = w.sup.next_deadline(w.now) {
                        if d > w.now.mono { w.now = w.now.plus(d - w.now.mono); }
                    }
                    w.tick();
                }
                Op::Exit(i, code, sig) => {
                    let pid = w.sup.process(keys[i]).unwrap().pid();
                    if pid != 0 {
                        let st = if sig { wait_status_signaled(9, false) } else { wait_status_exited(i32::from(code)) };
                        w.host.alive.remove(&pid);
                        w.sup.reaped(pid, st, w.now, &mut w.host);
                        w.drain();
                        w.tick();
                    }
                }
                Op::Start(i) => {
                    if w.sup.mood() == SupervisorState::Running {
                        let _ = w.sup.start_process(keys[i], w.now, &mut w.host);
                        w.drain();
                        w.tick();
                    }
                }
                Op::Stop(i) if w.sup.mood() == SupervisorState::Running => {
                    let _ = w.sup.stop_process(keys[i], w.now, &mut w.host);
                    w.drain();
                    w.tick();
                }
                Op::Signal(i) => {
                    let _ = w.sup.signal_process(keys[i], 1, w.now, &mut w.host);
                    w.drain();
                    w.tick();
                }
                Op::Stop(_) => {}
                Op::Shutdown => { w.sup.request_shutdown(); w.tick(); }
                Op::ToggleFail(i) => {
                    if !w.host.fail.remove(&names[i]) { w.host.fail.insert(names[i].clone()); }
                }
            }
            // every state event is a transition the reference makes, from the state we saw
            for e in &w.events[seen..] {
                let Event::ProcessState(change) = e else {
                    prop_assert_eq!(state_of_event(e.kind()), None);
                    continue;
                };
                let to = change.to;
                prop_assert_eq!(state_of_event(e.kind()), Some(to));
                let i = names.iter().position(|n| *n == change.process).unwrap();
                let from = change.from;
                prop_assert_eq!(from, states[i], "event {:?}", e);
                prop_assert!(allowed(from, to), "{:?} -> {:?}", from, to);
                if to == ProcessState::Starting {
                    let tries = change.tries;
                    prop_assert_eq!(tries, failures[i]);
                    prop_assert!(tries <= retries[i]);
                }
                match to {
                    ProcessState::Backoff => failures[i] += 1,
                    ProcessState::Running | ProcessState::Exited => failures[i] = 0,
                    ProcessState::Fatal => {
                        // from BACKOFF either by giving up (startretries+1 failures) or at shutdown
                        if w.sup.mood() == SupervisorState::Running {
                            prop_assert_eq!(failures[i], retries[i] + 1);
                        } else {
                            prop_assert!(failures[i] <= retries[i] + 1);
                        }
                        failures[i] = 0;
                    }
                    _ => {}
                }
                states[i] = to;
            }
            seen = w.events.len();
            // at most one live pid per process; pid table consistent
            let mut pids = HashSet::new();
            for (i, k) in keys.iter().enumerate() {
                let p = w.sup.process(*k).unwrap();
                prop_assert_eq!(p.state(), states[i]);
                if p.pid() != 0 {
                    prop_assert!(pids.insert(p.pid()));
                    prop_assert!(w.host.alive.contains(&p.pid()));
                    prop_assert_eq!(w.sup.key_for_pid(p.pid()), Some(*k));
                    prop_assert!(matches!(p.state(), ProcessState::Starting | ProcessState::Running | ProcessState::Stopping | ProcessState::Unknown));
                } else {
                    prop_assert!(!matches!(p.state(), ProcessState::Starting | ProcessState::Running | ProcessState::Stopping));
                }
                if w.sup.mood() != SupervisorState::Running && w.sup.is_finished() {
                    prop_assert!(p.state().is_stopped());
                }
            }
            // every live child the host knows about belongs to a process
            for pid in &w.host.alive {
                prop_assert!(w.sup.key_for_pid(*pid).is_some());
            }
            // the deadline never lies in the past after a tick
            if let Some(d) = w.sup.next_deadline(w.now) {
                prop_assert!(d > w.now.mono, "deadline {} not after now {}", d, w.now.mono);
            }
        }
    }

    #[test]
    fn skipping_idle_passes_changes_nothing(cfgs in configs(), ops in proptest::collection::vec(op(), 1..60)) {
        let names: Vec<String> = cfgs.iter().map(|c| c.name.clone()).collect();
        let mut a = World::new(vec![group("g", 1, cfgs.clone())]);
        let mut b = World::new(vec![group("g", 1, cfgs)]);
        b.force_passes = true;
        let keys: Vec<ProcKey> = names.iter().map(|n| a.key(&format!("g:{n}"))).collect();
        for w in [&mut a, &mut b] {
            w.tick();
        }
        for op in ops {
            for w in [&mut a, &mut b] {
                apply(w, &op, &keys, &names);
            }
            prop_assert_eq!(&a.logs, &b.logs);
            prop_assert_eq!(&a.events, &b.events);
            prop_assert_eq!(a.now, b.now);
            prop_assert_eq!(a.sup.next_deadline(a.now), b.sup.next_deadline(b.now));
            for k in &keys {
                prop_assert_eq!(a.sup.process_info(*k, a.now), b.sup.process_info(*k, b.now));
            }
        }
    }
}

/// One randomized operation, as `invariants_hold` performs it.
fn apply(w: &mut World, op: &Op, keys: &[ProcKey], names: &[String]) {
    match *op {
        Op::Advance(ms) => w.advance(f64::from(ms) / 1000.0),
        Op::ToDeadline => {
            if let Some(d) = w.sup.next_deadline(w.now) {
                if d > w.now.mono {
                    w.now = w.now.plus(d - w.now.mono);
                }
            }
            w.tick();
        }
        Op::Exit(i, code, sig) => {
            let pid = w.sup.process(keys[i]).unwrap().pid();
            if pid != 0 {
                let st = if sig {
                    wait_status_signaled(9, false)
                } else {
                    wait_status_exited(i32::from(code))
                };
                w.host.alive.remove(&pid);
                w.sup.reaped(pid, st, w.now, &mut w.host);
                w.drain();
                w.tick();
            }
        }
        Op::Start(i) => {
            if w.sup.mood() == SupervisorState::Running {
                let _ = w.sup.start_process(keys[i], w.now, &mut w.host);
                w.drain();
                w.tick();
            }
        }
        Op::Stop(i) => {
            if w.sup.mood() == SupervisorState::Running {
                let _ = w.sup.stop_process(keys[i], w.now, &mut w.host);
                w.drain();
                w.tick();
            }
        }
        Op::Signal(i) => {
            let _ = w.sup.signal_process(keys[i], 1, w.now, &mut w.host);
            w.drain();
            w.tick();
        }
        Op::Shutdown => {
            w.sup.request_shutdown();
            w.tick();
        }
        Op::ToggleFail(i) => {
            if !w.host.fail.remove(&names[i]) {
                w.host.fail.insert(names[i].clone());
            }
        }
    }
}
