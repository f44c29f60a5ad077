//! The log methods: read, tail and clear the main log and the process logs, within the
//! room the answer has left ([`budget`](super::super::budget)).

use supervisor_protocol::{Fault, FaultCode, Value};

use super::super::budget::{self, encoded_len, SINGLE_ROOM};
use super::super::logread::{self, ReadError};
use super::super::{make_namespec, Backend, Outcome, ProcessSnapshot};
use super::args::{all_processes, arg_int, arg_str, done, fail, resolve, result_struct};
use super::BoundedHandler;

fn read_error_fault(e: ReadError) -> Fault {
    match e {
        ReadError::BadArguments => Fault::bare(FaultCode::BadArguments),
        ReadError::Failed => Fault::bare(FaultCode::Failed),
        ReadError::TooLarge => budget::too_large(),
    }
}

/// Runs a [`BoundedHandler`] as a call of its own: with the room of a whole answer, and a
/// value whose encoding (escapes included) would not fit is the [`budget::too_large`]
/// fault.
fn single(b: &mut dyn Backend, params: &[Value], within: BoundedHandler) -> Outcome {
    match within(b, params, SINGLE_ROOM) {
        Outcome::Done(Ok(v)) if encoded_len(&v) > SINGLE_ROOM => fail(budget::too_large()),
        other => other,
    }
}

/// The room a log read's bytes have when its value takes `room` encoded bytes: the markup
/// around them (a string value, or a tail's array) comes off first.
fn byte_room(room: usize) -> u64 {
    room.saturating_sub(256) as u64
}

pub(super) fn read_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, read_log_within)
}

pub(super) fn read_log_within(b: &mut dyn Backend, params: &[Value], room: usize) -> Outcome {
    let offset = tri!(arg_int(params, 0));
    let length = tri!(arg_int(params, 1));
    let Some(path) = b.main_logfile() else {
        return fail(Fault::bare(FaultCode::NoFile));
    };
    if !path.exists() {
        return fail(Fault::new(FaultCode::NoFile, path.display()));
    }
    match logread::read_file(&path, offset, length, byte_room(room)) {
        Ok(data) => done(logread::bytes_to_string(data)),
        Err(e) => fail(read_error_fault(e)),
    }
}

pub(super) fn clear_log(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let Some(path) = b.main_logfile() else {
        return fail(Fault::bare(FaultCode::NoFile));
    };
    if !path.exists() {
        return fail(Fault::bare(FaultCode::NoFile));
    }
    if std::fs::remove_file(&path).is_err() {
        return fail(Fault::bare(FaultCode::Failed));
    }
    b.reopen_main_log();
    done(true)
}

fn channel_path(p: &ProcessSnapshot, stderr: bool) -> Option<std::path::PathBuf> {
    if stderr {
        p.stderr_logfile.clone()
    } else {
        p.stdout_logfile.clone()
    }
}

fn read_process_log(b: &mut dyn Backend, params: &[Value], stderr: bool, room: usize) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let offset = tri!(arg_int(params, 1));
    let length = tri!(arg_int(params, 2));
    let p = tri!(resolve(b, spec));
    let Some(path) = channel_path(&p, stderr) else {
        return fail(Fault::bare(FaultCode::NoFile));
    };
    if !path.exists() {
        return fail(Fault::new(FaultCode::NoFile, path.display()));
    }
    match logread::read_file(&path, offset, length, byte_room(room)) {
        Ok(data) => done(logread::bytes_to_string(data)),
        Err(e) => fail(read_error_fault(e)),
    }
}

pub(super) fn read_process_stdout_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, read_process_stdout_log_within)
}

pub(super) fn read_process_stdout_log_within(
    b: &mut dyn Backend,
    params: &[Value],
    room: usize,
) -> Outcome {
    read_process_log(b, params, false, room)
}

pub(super) fn read_process_stderr_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, read_process_stderr_log_within)
}

pub(super) fn read_process_stderr_log_within(
    b: &mut dyn Backend,
    params: &[Value],
    room: usize,
) -> Outcome {
    read_process_log(b, params, true, room)
}

fn tail_process_log(b: &mut dyn Backend, params: &[Value], stderr: bool, room: usize) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let offset = tri!(arg_int(params, 1));
    let length = tri!(arg_int(params, 2));
    let p = tri!(resolve(b, spec));
    let empty = || {
        done(Value::Array(vec![
            Value::from(""),
            Value::Int(0),
            Value::Bool(false),
        ]))
    };
    let Some(path) = channel_path(&p, stderr) else {
        return empty();
    };
    if !path.exists() {
        return empty();
    }
    let t =
        tri!(logread::tail_file(&path, offset, length, byte_room(room)).map_err(read_error_fault));
    done(Value::Array(vec![
        Value::String(logread::bytes_to_string(t.data)),
        Value::Int(i32::try_from(t.offset).unwrap_or(i32::MAX)),
        Value::Bool(t.overflow),
    ]))
}

pub(super) fn tail_process_stdout_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, tail_process_stdout_log_within)
}

pub(super) fn tail_process_stdout_log_within(
    b: &mut dyn Backend,
    params: &[Value],
    room: usize,
) -> Outcome {
    tail_process_log(b, params, false, room)
}

pub(super) fn tail_process_stderr_log(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    single(b, params, tail_process_stderr_log_within)
}

pub(super) fn tail_process_stderr_log_within(
    b: &mut dyn Backend,
    params: &[Value],
    room: usize,
) -> Outcome {
    tail_process_log(b, params, true, room)
}

pub(super) fn clear_process_logs(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let spec = tri!(arg_str(params, 0));
    let p = tri!(resolve(b, spec));
    match b.clear_process_logs(&p.group, &p.name) {
        Ok(()) => done(true),
        Err(_) => fail(Fault::new(FaultCode::Failed, spec)),
    }
}

pub(super) fn clear_all_process_logs(b: &mut dyn Backend, _: &[Value]) -> Outcome {
    let mut out = Vec::new();
    for p in all_processes(b) {
        let r = match b.clear_process_logs(&p.group, &p.name) {
            Ok(()) => Ok(Value::Bool(true)),
            Err(_) => Err(Fault::new(
                FaultCode::Failed,
                make_namespec(&p.group, &p.name),
            )),
        };
        out.push(result_struct(&p.group, &p.name, &r));
    }
    done(Value::Array(out))
}
