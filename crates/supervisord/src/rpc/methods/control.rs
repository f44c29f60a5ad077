//! The control methods: the daemon's mood (shutdown, restart, reloadConfig), groups,
//! stdin and remote-communication events, and start/stop/signal of one process, a group
//! or all, with the waiters that answer once the process table reaches the wanted state.

use supervisor_protocol::{Fault, FaultCode, ProcessState, Value};

use super::super::{
    make_namespec, split_namespec, Backend, Outcome, PrecheckError, ProcessSnapshot, StdinError,
    Waiter,
};
use super::args::{
    all_processes, arg_str, arg_wait, done, fail, python_repr, resolve, result_struct, scalar_text,
};

pub(super) fn shutdown(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    b.shutdown();
    done(true)
}

pub(super) fn restart(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    b.restart();
    done(true)
}

pub(super) fn reload_config(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    match b.reload_config() {
        Ok(d) => {
            let names = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
            done(Value::Array(vec![Value::Array(vec![
                names(d.added),
                names(d.changed),
                names(d.removed),
            ])]))
        }
        Err(msg) => fail(Fault::new(FaultCode::CantReread, msg)),
    }
}

pub(super) fn add_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    if !b.config_groups().iter().any(|g| g.name == name) {
        return fail(Fault::new(FaultCode::BadName, name));
    }
    if b.add_group(name) {
        done(true)
    } else {
        fail(Fault::new(FaultCode::AlreadyAdded, name))
    }
}

pub(super) fn remove_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    if !b.has_group(name) {
        return fail(Fault::new(FaultCode::BadName, name));
    }
    if b.remove_group(name) {
        done(true)
    } else {
        fail(Fault::new(FaultCode::StillRunning, name))
    }
}

pub(super) fn send_process_stdin(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let chars = match &params[1] {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Base64(d) => d.clone(),
        other => {
            return fail(Fault::new(
                FaultCode::IncorrectParameters,
                python_repr(other),
            ))
        }
    };
    let p = tri!(resolve(b, spec));
    if p.pid == 0 || p.killing {
        return fail(Fault::new(FaultCode::NotRunning, spec));
    }
    match b.write_stdin(&p.group, &p.name, &chars) {
        Ok(()) => done(true),
        Err(StdinError::NotRunning) => fail(Fault::new(FaultCode::NotRunning, spec)),
        Err(StdinError::NoFile) => fail(Fault::new(FaultCode::NoFile, spec)),
        Err(StdinError::Failed(msg)) => fail(Fault::new(FaultCode::Failed, msg)),
    }
}

pub(super) fn send_remote_comm_event(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let kind = tri!(scalar_text(&params[0]));
    let data = tri!(scalar_text(&params[1]));
    b.remote_comm_event(&kind, &data);
    done(true)
}

/// Waits for a started process to reach RUNNING.
struct StartWaiter {
    group: String,
    name: String,
    spec: String,
}

impl Waiter for StartWaiter {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        let Some(p) = b.process(&self.group, &self.name) else {
            return Some(Err(Fault::new(FaultCode::AbnormalTermination, &self.spec)));
        };
        if !p.spawnerr.is_empty() {
            return Some(Err(Fault::new(FaultCode::SpawnError, &self.spec)));
        }
        match p.state {
            ProcessState::Running => Some(Ok(Value::Bool(true))),
            ProcessState::Starting => None,
            _ => Some(Err(Fault::new(FaultCode::AbnormalTermination, &self.spec))),
        }
    }
}

/// Waits for a stopping process to reach a stopped state.
struct StopWaiter {
    group: String,
    name: String,
}

impl Waiter for StopWaiter {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        match b.process_state(&self.group, &self.name) {
            Some(state) if !state.is_stopped() => {
                b.stop_report(&self.group, &self.name);
                None
            }
            _ => Some(Ok(Value::Bool(true))),
        }
    }
}

/// The fault of a failed exec pre-check, with the reference's code and detail.
fn precheck_fault(e: PrecheckError, group: &str, name: &str) -> Fault {
    match e {
        PrecheckError::NoSuchProcess => Fault::new(FaultCode::BadName, format!("{group}:{name}")),
        PrecheckError::NoFile(detail) => Fault::new(FaultCode::NoFile, detail),
        PrecheckError::NotExecutable(detail) => Fault::new(FaultCode::NotExecutable, detail),
    }
}

fn start_one(b: &mut dyn Backend, p: &ProcessSnapshot, spec: &str, wait: bool) -> Outcome {
    tri!(b
        .precheck_command(&p.group, &p.name)
        .map_err(|e| precheck_fault(e, &p.group, &p.name)));
    if p.state.is_running() {
        return fail(Fault::new(FaultCode::AlreadyStarted, spec));
    }
    if p.state == ProcessState::Unknown {
        return fail(Fault::new(
            FaultCode::Failed,
            format!("{spec} is in an unknown process state"),
        ));
    }
    b.start(&p.group, &p.name);
    let after = b.process(&p.group, &p.name);
    if after.as_ref().is_some_and(|a| !a.spawnerr.is_empty()) {
        return fail(Fault::new(FaultCode::SpawnError, spec));
    }
    if wait && after.is_some_and(|a| a.state != ProcessState::Running) {
        return Outcome::Wait(Box::new(StartWaiter {
            group: p.group.clone(),
            name: p.name.clone(),
            spec: spec.to_string(),
        }));
    }
    done(true)
}

fn stop_one(b: &mut dyn Backend, p: &ProcessSnapshot, spec: &str, wait: bool) -> Outcome {
    stop_one_with(b, p, spec, wait, false)
}

/// `stop_one`; with `after_dependents` (stopAllProcesses) the signal waits until the
/// process's dependents (`depends_on=`) have stopped.
fn stop_one_with(
    b: &mut dyn Backend,
    p: &ProcessSnapshot,
    spec: &str,
    wait: bool,
    after_dependents: bool,
) -> Outcome {
    if !p.state.is_running() {
        return fail(Fault::new(FaultCode::NotRunning, spec));
    }
    let stopped = if after_dependents {
        b.stop_after_dependents(&p.group, &p.name)
    } else {
        b.stop(&p.group, &p.name)
    };
    if let Err(msg) = stopped {
        return fail(Fault::new(FaultCode::Failed, msg));
    }
    if wait
        && b.process(&p.group, &p.name)
            .is_some_and(|a| !a.state.is_stopped())
    {
        return Outcome::Wait(Box::new(StopWaiter {
            group: p.group.clone(),
            name: p.name.clone(),
        }));
    }
    done(true)
}

/// Parses a signal as the reference does: a number (0-31, 34, 64) or a name with or
/// without `SIG`, any case, surrounding blanks ignored.
fn signal_number(v: &Value) -> Option<i32> {
    const VALID: fn(i64) -> bool = |n| (0..=31).contains(&n) || n == 34 || n == 64;
    let text = match v {
        Value::Int(i) => return VALID(i64::from(*i)).then_some(*i),
        Value::Bool(b) => return Some(i32::from(*b)),
        // Python's int() truncates a float.
        Value::Double(d) if d.is_finite() => {
            let n = d.trunc() as i64;
            return VALID(n).then_some(n as i32);
        }
        Value::String(s) => s,
        _ => return None,
    };
    if let Ok(n) = text.trim().parse::<i64>() {
        return VALID(n).then_some(n as i32);
    }
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" | "CLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        "RTMIN" => 34,
        "RTMAX" => 64,
        // Python's signal module also exposes these constants under SIG* names.
        "_DFL" | "_BLOCK" => 0,
        "_IGN" | "_UNBLOCK" => 1,
        "_SETMASK" => 2,
        _ => return None,
    };
    Some(n)
}

fn signal_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn signal_one(b: &mut dyn Backend, p: &ProcessSnapshot, spec: &str, sig: &Value) -> Outcome {
    let Some(n) = signal_number(sig) else {
        return fail(Fault::new(FaultCode::BadSignal, signal_text(sig)));
    };
    if !p.state.is_signallable() {
        return fail(Fault::new(FaultCode::NotRunning, spec));
    }
    match b.signal(&p.group, &p.name, n) {
        Ok(()) => done(true),
        Err(msg) => fail(Fault::new(FaultCode::Failed, msg)),
    }
}

/// Runs an operation over several processes, the reference's way: synchronous results
/// first (in process order), then waited ones in the order they finish.
struct ManyWaiter {
    results: Vec<Value>,
    waiting: Vec<(String, String, Box<dyn Waiter>)>,
}

impl Waiter for ManyWaiter {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        // One pass, order kept, no shifting per finished item (a stop of thousands).
        let waiting = std::mem::take(&mut self.waiting);
        for (g, n, mut w) in waiting {
            match w.poll(b) {
                Some(r) => self.results.push(result_struct(&g, &n, &r)),
                None => self.waiting.push((g, n, w)),
            }
        }
        if self.waiting.is_empty() {
            Some(Ok(Value::Array(std::mem::take(&mut self.results))))
        } else {
            None
        }
    }
}

fn for_many(
    b: &mut dyn Backend,
    procs: Vec<ProcessSnapshot>,
    select: fn(ProcessState) -> bool,
    mut op: impl FnMut(&mut dyn Backend, &ProcessSnapshot, &str) -> Outcome,
) -> Outcome {
    let mut many = ManyWaiter {
        results: Vec::new(),
        waiting: Vec::new(),
    };
    for p in procs {
        // Each process is looked at when its turn comes (earlier operations may change it).
        let Some(p) = b.process(&p.group, &p.name) else {
            continue;
        };
        if !select(p.state) {
            continue;
        }
        let spec = make_namespec(&p.group, &p.name);
        match op(b, &p, &spec) {
            Outcome::Done(r) => many.results.push(result_struct(&p.group, &p.name, &r)),
            Outcome::Wait(w) => many.waiting.push((p.group.clone(), p.name.clone(), w)),
        }
    }
    Outcome::Wait(Box::new(many))
}

fn group_procs(b: &dyn Backend, group: &str) -> Result<Vec<ProcessSnapshot>, Fault> {
    b.group_processes(group)
        .ok_or_else(|| Fault::new(FaultCode::BadName, group))
}

fn not_running(s: ProcessState) -> bool {
    !s.is_running()
}

pub(super) fn start_process(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    let (group, name) = split_namespec(spec);
    if !b.has_group(group) {
        return fail(Fault::new(FaultCode::BadName, spec));
    }
    match name {
        None => start_group(b, group, wait),
        Some(_) => {
            let p = tri!(resolve(b, spec));
            start_one(b, &p, spec, wait)
        }
    }
}

fn start_group(b: &mut dyn Backend, group: &str, wait: bool) -> Outcome {
    let procs = tri!(group_procs(b, group));
    start_many(b, procs, wait)
}

/// Starts each of `procs` that is not running when the call begins. One that an earlier
/// start of the same call started as its dependency (`depends_on=`) is reported like the
/// others (waited for with `wait`), not skipped; without dependencies nothing starts
/// another process, so this is the reference's loop.
fn start_many(b: &mut dyn Backend, procs: Vec<ProcessSnapshot>, wait: bool) -> Outcome {
    let procs = procs.into_iter().filter(|p| not_running(p.state)).collect();
    for_many(b, procs, every, |b, p, spec| {
        if !p.state.is_running() {
            return start_one(b, p, spec, wait);
        }
        if wait && p.state != ProcessState::Running {
            return Outcome::Wait(Box::new(StartWaiter {
                group: p.group.clone(),
                name: p.name.clone(),
                spec: spec.to_string(),
            }));
        }
        done(true)
    })
}

fn every(_: ProcessState) -> bool {
    true
}

pub(super) fn start_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let group = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    start_group(b, group, wait)
}

pub(super) fn start_all_processes(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let wait = tri!(arg_wait(params, 0));
    let procs = all_processes(b);
    start_many(b, procs, wait)
}

pub(super) fn stop_process(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    let (group, name) = split_namespec(spec);
    if !b.has_group(group) {
        return fail(Fault::new(FaultCode::BadName, spec));
    }
    match name {
        None => stop_group(b, group, wait),
        Some(_) => {
            let p = tri!(resolve(b, spec));
            stop_one(b, &p, spec, wait)
        }
    }
}

fn stop_group(b: &mut dyn Backend, group: &str, wait: bool) -> Outcome {
    let procs = tri!(group_procs(b, group));
    for_many(b, procs, ProcessState::is_running, |b, p, spec| {
        stop_one(b, p, spec, wait)
    })
}

pub(super) fn stop_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let group = tri!(arg_str(params, 0));
    let wait = tri!(arg_wait(params, 1));
    stop_group(b, group, wait)
}

pub(super) fn stop_all_processes(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let wait = tri!(arg_wait(params, 0));
    let procs = all_processes(b);
    for_many(b, procs, ProcessState::is_running, |b, p, spec| {
        stop_one_with(b, p, spec, wait, true)
    })
}

pub(super) fn signal_process(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let sig = &params[1];
    let (group, name) = split_namespec(spec);
    if !b.has_group(group) {
        return fail(Fault::new(FaultCode::BadName, spec));
    }
    match name {
        None => signal_group(b, group, sig),
        Some(_) => {
            let p = tri!(resolve(b, spec));
            signal_one(b, &p, spec, sig)
        }
    }
}

fn signal_group(b: &mut dyn Backend, group: &str, sig: &Value) -> Outcome {
    let procs = tri!(group_procs(b, group));
    for_many(b, procs, ProcessState::is_signallable, |b, p, spec| {
        signal_one(b, p, spec, sig)
    })
}

pub(super) fn signal_process_group(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let group = tri!(arg_str(params, 0));
    signal_group(b, group, &params[1])
}

pub(super) fn signal_all_processes(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let sig = &params[0];
    let procs = all_processes(b);
    for_many(b, procs, ProcessState::is_signallable, |b, p, spec| {
        signal_one(b, p, spec, sig)
    })
}
