//! `system.*`: the method list, help and signatures from the table, and multicall (the
//! calls run in order within one answer budget, encoded as they come on `/RPC2`).

use supervisor_protocol::{xmlrpc, Fault, FaultCode, Value};

use super::super::budget::{self, encoded_len, SINGLE_ROOM};
use super::super::{Backend, Outcome, Waiter, XmlOutcome, XmlWaiter};
use super::args::{arg_str, bad_params, done, fail};
use super::TABLE;

pub(super) fn list_methods(_: &mut dyn Backend, _: &[Value]) -> Outcome {
    done(Value::Array(
        TABLE.iter().map(|m| Value::from(m.name)).collect(),
    ))
}

pub(super) fn method_help(_: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    match TABLE.iter().find(|m| m.name == name) {
        Some(m) => done(m.help),
        None => fail(Fault::bare(FaultCode::SignatureUnsupported)),
    }
}

pub(super) fn method_signature(_: &mut dyn Backend, params: &[Value]) -> Outcome {
    let name = tri!(arg_str(params, 0));
    match TABLE.iter().find(|m| m.name == name) {
        Some(m) => done(Value::Array(
            m.signature.iter().map(|t| Value::from(*t)).collect(),
        )),
        None => fail(Fault::bare(FaultCode::SignatureUnsupported)),
    }
}

fn fault_struct(f: Fault) -> Value {
    Value::Struct(vec![
        ("faultCode".into(), Value::Int(f.code)),
        ("faultString".into(), Value::String(f.string)),
    ])
}

/// Where a multicall's results go: kept as values (for [`Waiter`]) or encoded as they come
/// (for [`XmlWaiter`]: each value is dropped once written, so the answer is never held
/// twice).
trait Results: Send {
    fn add(&mut self, v: Value);
}

impl Results for Vec<Value> {
    fn add(&mut self, v: Value) {
        self.push(v);
    }
}

impl Results for Vec<u8> {
    fn add(&mut self, v: Value) {
        xmlrpc::write_value(self, &v);
    }
}

/// Runs the calls of a multicall one after the other; a waiting call holds up the rest.
/// The results share one answer of at most [`budget::MAX_ANSWER`] bytes: a result that
/// does not fit becomes a [`budget::too_large`] fault entry, and so does every later
/// call, which is then not run at all.
struct MultiWaiter<R> {
    calls: std::collections::VecDeque<Value>,
    current: Option<Box<dyn Waiter>>,
    results: R,
    /// Encoded bytes of the results so far.
    used: usize,
    /// Set once a result did not fit: the remaining calls are refused.
    full: bool,
    /// The encoded bytes all results may take ([`SINGLE_ROOM`] but in tests).
    limit: usize,
}

impl<R: Results> MultiWaiter<R> {
    fn new(calls: &[Value], results: R, limit: usize) -> Self {
        MultiWaiter {
            calls: calls.iter().cloned().collect(),
            current: None,
            results,
            used: 0,
            full: false,
            limit,
        }
    }

    /// The encoded bytes the next result may take.
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }

    fn push(&mut self, r: Result<Value, Fault>) {
        let v = match r {
            Err(f) if budget::is_too_large(&f) => {
                self.full = true;
                fault_struct(f)
            }
            r => r.unwrap_or_else(fault_struct),
        };
        let mut len = encoded_len(&v);
        let v = if self.full || len > self.room() {
            self.full = true;
            drop(v);
            let f = fault_struct(budget::too_large());
            len = encoded_len(&f);
            f
        } else {
            v
        };
        self.used += len;
        self.results.add(v);
    }

    /// Runs calls until one must wait (`false`) or all are done (`true`).
    fn run(&mut self, b: &mut dyn Backend) -> bool {
        loop {
            if let Some(w) = self.current.as_mut() {
                match w.poll(b) {
                    Some(r) => {
                        self.current = None;
                        self.push(r);
                    }
                    None => return false,
                }
            }
            let Some(call) = self.calls.pop_front() else {
                return true;
            };
            if self.full {
                self.push(Err(budget::too_large()));
                continue;
            }
            match one_of_multicall(b, &call, self.room()) {
                Outcome::Done(r) => self.push(r),
                Outcome::Wait(w) => self.current = Some(w),
            }
        }
    }
}

impl Waiter for MultiWaiter<Vec<Value>> {
    fn poll(&mut self, b: &mut dyn Backend) -> Option<Result<Value, Fault>> {
        self.run(b)
            .then(|| Ok(Value::Array(std::mem::take(&mut self.results))))
    }
}

impl XmlWaiter for MultiWaiter<Vec<u8>> {
    fn poll_xml(&mut self, b: &mut dyn Backend) -> Option<Result<Vec<u8>, Fault>> {
        if !self.run(b) {
            return None;
        }
        let mut out = std::mem::take(&mut self.results);
        xmlrpc::end_array(&mut out);
        xmlrpc::end_response(&mut out);
        Some(Ok(out))
    }
}

fn one_of_multicall(b: &mut dyn Backend, call: &Value, room: usize) -> Outcome {
    let Some(members) = call.as_struct() else {
        return fail(Fault::new(FaultCode::Failed, "a call must be a struct"));
    };
    let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let name = match get("methodName") {
        None => {
            return fail(Fault::new(FaultCode::IncorrectParameters, "No methodName"));
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return fail(Fault::new(FaultCode::Failed, "methodName must be a string"));
        }
    };
    if name == "system.multicall" {
        return fail(Fault::new(
            FaultCode::IncorrectParameters,
            "Recursive system.multicall forbidden",
        ));
    }
    let params = match get("params") {
        None => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return fail(Fault::bare(FaultCode::IncorrectParameters)),
    };
    super::super::dispatch_within(b, name, params, room)
}

pub(super) fn multicall(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    multicall_within(b, params, SINGLE_ROOM)
}

/// [`multicall`] whose results may take `limit` encoded bytes in all.
pub(in crate::rpc) fn multicall_within(
    b: &mut dyn Backend,
    params: &[Value],
    limit: usize,
) -> Outcome {
    let Some(calls) = params.first().and_then(Value::as_array) else {
        return fail(bad_params());
    };
    let mut m = MultiWaiter::new(calls, Vec::with_capacity(calls.len()), limit);
    match m.poll(b) {
        Some(r) => Outcome::Done(r),
        None => Outcome::Wait(Box::new(m)),
    }
}

/// `system.multicall` for `/RPC2`: the same calls and results as `multicall`, each
/// result encoded into the answer as soon as it is known.
pub fn multicall_xml(b: &mut dyn Backend, params: &[Value]) -> XmlOutcome {
    multicall_xml_within(b, params, SINGLE_ROOM)
}

/// [`multicall_xml`] whose results may take `limit` encoded bytes in all.
pub(in crate::rpc) fn multicall_xml_within(
    b: &mut dyn Backend,
    params: &[Value],
    limit: usize,
) -> XmlOutcome {
    let Some(calls) = params.first().and_then(Value::as_array) else {
        return XmlOutcome::Done(Err(bad_params()));
    };
    let mut out = Vec::with_capacity(1024);
    xmlrpc::begin_response(&mut out);
    xmlrpc::begin_array(&mut out);
    let mut m = MultiWaiter::new(calls, out, limit);
    match m.poll_xml(b) {
        Some(r) => XmlOutcome::Done(r),
        None => XmlOutcome::Wait(Box::new(m)),
    }
}
