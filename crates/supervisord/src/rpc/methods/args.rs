//! Argument parsing and the small pieces every handler family shares: params by position
//! with the reference's coercions, namespec resolution, the per-process result struct.

use supervisor_protocol::{Fault, FaultCode, Value};

use super::super::{split_namespec, Backend, Outcome, ProcessSnapshot};

pub(super) fn bad_params() -> Fault {
    Fault::bare(FaultCode::IncorrectParameters)
}

pub(super) fn done(v: impl Into<Value>) -> Outcome {
    Outcome::Done(Ok(v.into()))
}

pub(super) fn fail(f: Fault) -> Outcome {
    Outcome::Done(Err(f))
}

pub(super) fn arg_str(params: &[Value], i: usize) -> Result<&str, Fault> {
    params.get(i).and_then(Value::as_str).ok_or_else(bad_params)
}

/// An int param; like the reference's `int()`, a decimal string is accepted too.
pub(super) fn arg_int(params: &[Value], i: usize) -> Result<i64, Fault> {
    match params.get(i) {
        Some(Value::Int(v)) => Ok(i64::from(*v)),
        Some(Value::Bool(b)) => Ok(i64::from(*b)),
        Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| bad_params()),
        _ => Err(bad_params()),
    }
}

/// An optional boolean param (`wait`), default true; truthiness as in the reference.
pub(super) fn arg_wait(params: &[Value], i: usize) -> Result<bool, Fault> {
    match params.get(i) {
        None => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Int(v)) => Ok(*v != 0),
        Some(Value::String(s)) => Ok(!s.is_empty()),
        Some(_) => Err(bad_params()),
    }
}

/// Clamps an epoch time to the XML-RPC int range (the reference's `capped_int`).
pub(super) fn capped(t: f64) -> i32 {
    if t >= f64::from(i32::MAX) {
        i32::MAX
    } else if t <= f64::from(i32::MIN) {
        i32::MIN
    } else {
        t as i32
    }
}

pub(super) fn capped_u64(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Resolves a process namespec; a group-only spec or an unknown name is BAD_NAME.
pub(super) fn resolve(b: &dyn Backend, spec: &str) -> Result<ProcessSnapshot, Fault> {
    let (group, name) = split_namespec(spec);
    let bad = || Fault::new(FaultCode::BadName, spec);
    let name = name.ok_or_else(bad)?;
    b.process(group, name).ok_or_else(bad)
}

pub(super) fn result_struct(group: &str, name: &str, r: &Result<Value, Fault>) -> Value {
    let (status, description) = match r {
        Ok(_) => (FaultCode::Success.code(), "OK".to_string()),
        Err(f) => (f.code, f.string.clone()),
    };
    Value::Struct(vec![
        ("name".into(), Value::from(name)),
        ("group".into(), Value::from(group)),
        ("status".into(), Value::Int(status)),
        ("description".into(), Value::String(description)),
    ])
}

pub(super) fn all_processes(b: &dyn Backend) -> Vec<ProcessSnapshot> {
    b.all_processes()
}

/// How Python prints a non-string param in a fault detail (close enough for ints/bools).
pub(super) fn python_repr(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Double(d) => supervisor_protocol::xmlrpc::python_float_repr(*d),
        _ => format!("{v:?}"),
    }
}

/// A scalar param as the text Python's `%s` would give (the reference formats whatever it
/// is given into the event).
pub(super) fn scalar_text(v: &Value) -> Result<String, Fault> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Int(_) | Value::Bool(_) | Value::Double(_) => Ok(python_repr(v)),
        Value::Base64(d) => Ok(String::from_utf8_lossy(d).into_owned()),
        _ => Err(bad_params()),
    }
}
