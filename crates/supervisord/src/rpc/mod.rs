//! The XML-RPC method layer: an explicit table of callable methods over a [`Backend`].
//!
//! Only the names in [`methods::TABLE`] can be called. A name is looked up verbatim in that
//! table, so there is no attribute traversal of any kind (the CVE-2017-11610 class of attack
//! cannot be expressed). Names that are not exactly `namespace.method`, or whose method part
//! starts with `_`, get UNKNOWN_METHOD like in the reference.
//!
//! Flow: the HTTP layer decodes a body into a [`MethodCall`](supervisor_protocol::xmlrpc::MethodCall)
//! and sends a [`ControlRequest`] to the event loop; the loop calls [`handle`], which either
//! answers at once or parks a [`Waiter`] in [`Pending`]; the loop calls [`Pending::poll`] after
//! every state change and the parked calls are answered when their condition holds.
//!
//! `/RPC2` sends [`ControlRequest::CallXml`] and gets the encoded `methodResponse` back
//! ([`dispatch_xml`]): methods with an [`XmlHandler`](methods::XmlHandler)
//! (`getProcessInfo`, `getAllProcessInfo`) write their XML straight from the process table,
//! the others are encoded from their [`Value`]. The web UI sends [`ControlRequest::Call`]
//! and gets the [`Value`]. Both forms are byte-identical on the wire (tested). A `/RPC2`
//! `system.multicall` encodes each result into the answer as soon as it is known
//! ([`XmlWaiter`]), and the size of every answer is capped ([`budget`]).
//!
//! What the event loop provides (the contract of [`Backend`]):
//! * `start` spawns and advances the state machine once before returning, so a failed
//!   spawn shows its `spawnerr` and a `startsecs=0` process is RUNNING on return (the
//!   reference's `spawn(); reap(); transition()`); otherwise results of `start all` come out
//!   in a different order than the reference's.
//! * `all_processes` answers in one pass (it bounds the `all` calls); `process` should be a
//!   map lookup, not a scan (waiters call it on every poll). `process_info_value`,
//!   `all_process_info_values`, `write_process_info` and `write_all_process_info` default to
//!   building from snapshots; the daemon answers them from its table without copies.
//! * `resolved_auto_log` gives the AUTO log names of activated config entries (shown by
//!   `getAllConfigInfo`), `subscribe_events` the `/events` queues, `stop_report` the
//!   `waiting for x to stop` line; their defaults are "none".

pub mod backend;
pub mod budget;
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
pub mod logread;
pub mod methods;

use std::path::PathBuf;

use tokio::sync::oneshot;

pub use backend::{Backend, ConfigDiff, PrecheckError, ProcessSnapshot, StdinError};
use supervisor_protocol::{xmlrpc, Fault, FaultCode, Value};

/// The result of calling a method.
pub enum Outcome {
    /// The answer is known now.
    Done(Result<Value, Fault>),
    /// The answer depends on future state changes: poll the waiter after each one.
    Wait(Box<dyn Waiter>),
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Done(r) => f.debug_tuple("Done").field(r).finish(),
            Outcome::Wait(_) => f.write_str("Wait(..)"),
        }
    }
}

/// A call that waits for the process table to reach some condition.
pub trait Waiter: Send {
    /// Re-examines the backend; `Some(result)` when the call is finished.
    fn poll(&mut self, backend: &mut dyn Backend) -> Option<Result<Value, Fault>>;
}

/// A parked `/RPC2` call: like [`Waiter`], but the answer is the encoded `methodResponse`
/// document (a multicall writes its results into it as they come).
pub trait XmlWaiter: Send {
    /// Re-examines the backend; `Some(result)` when the call is finished.
    fn poll_xml(&mut self, backend: &mut dyn Backend) -> Option<Result<Vec<u8>, Fault>>;
}

/// A [`Waiter`] whose value is encoded once it is known.
struct Encoded(Box<dyn Waiter>);

impl XmlWaiter for Encoded {
    fn poll_xml(&mut self, backend: &mut dyn Backend) -> Option<Result<Vec<u8>, Fault>> {
        self.0
            .poll(backend)
            .map(|r| r.map(|v| xmlrpc::write_response(&v)))
    }
}

/// Which log a `/logtail` or `/mainlogtail` request wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// The daemon's main log.
    Main,
    /// A process log: namespec (`name` or `group:name`) and channel (`stdout`/`stderr`, any
    /// other channel has no file).
    Process {
        /// The namespec as given in the URL (already percent-decoded).
        namespec: String,
        /// The channel name.
        channel: String,
    },
}

/// A request from an HTTP connection task to the event loop.
pub enum ControlRequest {
    /// `request` made by an authenticated caller: its calls are checked against the
    /// caller's role and audited ([`crate::access`]).
    As {
        /// Who makes the request.
        caller: std::sync::Arc<crate::access::Caller>,
        /// The request itself.
        request: Box<ControlRequest>,
    },
    /// An XML-RPC call; the reply is sent when the call finishes.
    Call {
        /// Method name, verbatim from the request.
        name: String,
        /// Decoded params.
        params: Vec<Value>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Value, Fault>>,
    },
    /// An XML-RPC call from the `/RPC2` endpoint: the answer is wanted as a complete
    /// `methodResponse` document (methods with an [`XmlHandler`](methods::XmlHandler)
    /// encode straight from the process table; a fault is left to the caller to encode).
    CallXml {
        /// Method name, verbatim from the request.
        name: String,
        /// Decoded params.
        params: Vec<Value>,
        /// Where the encoded answer goes.
        reply: XmlReply,
    },
    /// The path of a log file to stream (`None` = 404).
    LogPath {
        /// Which log.
        target: LogTarget,
        /// Where the answer goes.
        reply: oneshot::Sender<Option<PathBuf>>,
    },
    /// A subscription of an `/events` client (`None` = no event stream here, 404).
    SubscribeEvents {
        /// The event types wanted (a type includes its descendants).
        types: Vec<supervisor_protocol::events::EventType>,
        /// Where the subscriber's queue goes.
        reply: oneshot::Sender<Option<tokio::sync::mpsc::Receiver<supervisor_events::StreamItem>>>,
    },
    /// The `/metrics` page (`None` = this daemon has none, 404).
    Metrics {
        /// OpenMetrics text instead of the Prometheus text format (0.0.4).
        openmetrics: bool,
        /// Where the page goes.
        reply: oneshot::Sender<Option<String>>,
    },
    /// `/livez` and `/readyz` (http/health.rs): the loop's health report (`None` = this
    /// daemon has none).
    Health {
        /// Where the report goes.
        reply: oneshot::Sender<Option<crate::core::HealthReport>>,
    },
}

/// Where the answer to one call goes.
pub type Reply = oneshot::Sender<Result<Value, Fault>>;

/// Where the encoded answer (a whole `methodResponse` document) to one call goes.
pub type XmlReply = oneshot::Sender<Result<Vec<u8>, Fault>>;

/// A parked call and where its answer goes, in the form its caller wants (the reply is
/// taken when it is sent).
enum Parked {
    Value(Box<dyn Waiter>, Option<Reply>),
    Xml(Box<dyn XmlWaiter>, Option<XmlReply>),
}

impl Parked {
    fn is_closed(&self) -> bool {
        match self {
            Parked::Value(_, r) => r.as_ref().is_none_or(|r| r.is_closed()),
            Parked::Xml(_, r) => r.as_ref().is_none_or(|r| r.is_closed()),
        }
    }

    /// Polls the call; when it is finished, sends the answer and returns true.
    fn poll_and_answer(&mut self, backend: &mut dyn Backend) -> bool {
        match self {
            Parked::Value(w, reply) => w.poll(backend).map(|r| {
                if let Some(tx) = reply.take() {
                    let _ = tx.send(r);
                }
            }),
            Parked::Xml(w, reply) => w.poll_xml(backend).map(|r| {
                if let Some(tx) = reply.take() {
                    let _ = tx.send(r);
                }
            }),
        }
        .is_some()
    }
}

/// The calls parked until their condition holds, owned by the event loop, each with the
/// caller that made it (the current caller while it is polled).
#[derive(Default)]
pub struct Pending {
    items: Vec<Parked>,
    callers: Vec<Option<std::sync::Arc<crate::access::Caller>>>,
}

impl Pending {
    /// An empty set.
    pub fn new() -> Pending {
        Pending::default()
    }

    /// Number of parked calls.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is parked.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Parks a waiter whose answer goes to `reply`.
    pub fn park(&mut self, waiter: Box<dyn Waiter>, reply: oneshot::Sender<Result<Value, Fault>>) {
        self.items.push(Parked::Value(waiter, Some(reply)));
        self.callers.push(crate::access::current());
    }

    /// Parks a waiter whose answer goes, encoded, to `reply`.
    pub fn park_xml(&mut self, waiter: Box<dyn XmlWaiter>, reply: XmlReply) {
        self.items.push(Parked::Xml(waiter, Some(reply)));
        self.callers.push(crate::access::current());
    }

    /// Re-examines every parked call, answering the finished ones (and dropping those whose
    /// client went away). Call after every change of process state.
    pub fn poll(&mut self, backend: &mut dyn Backend) {
        let mut i = 0;
        while i < self.items.len() {
            let _caller = crate::access::enter(self.callers[i].clone());
            if self.items[i].is_closed() {
                self.items.swap_remove(i);
                self.callers.swap_remove(i);
                continue;
            }
            if self.items[i].poll_and_answer(backend) {
                self.items.swap_remove(i);
                self.callers.swap_remove(i);
                continue;
            }
            i += 1;
        }
    }
}

/// Serves one [`ControlRequest`] on the event loop: calls are dispatched (and parked in
/// `pending` when they must wait), log paths are resolved.
pub fn handle(backend: &mut dyn Backend, pending: &mut Pending, request: ControlRequest) {
    match request {
        ControlRequest::As { caller, request } => {
            let _caller = crate::access::enter(Some(caller));
            handle(backend, pending, *request);
        }
        ControlRequest::Call {
            name,
            params,
            reply,
        } => match dispatch(backend, &name, &params) {
            Outcome::Done(result) => {
                let _ = reply.send(result);
            }
            Outcome::Wait(waiter) => pending.park(waiter, reply),
        },
        ControlRequest::CallXml {
            name,
            params,
            reply,
        } => match dispatch_xml(backend, &name, &params) {
            XmlOutcome::Done(result) => {
                let _ = reply.send(result);
            }
            XmlOutcome::Wait(waiter) => pending.park_xml(waiter, reply),
        },
        ControlRequest::LogPath { target, reply } => {
            let _ = reply.send(log_path(backend, &target));
        }
        ControlRequest::SubscribeEvents { types, reply } => {
            let _ = reply.send(backend.subscribe_events(&types));
        }
        ControlRequest::Metrics { openmetrics, reply } => {
            let _ = reply.send(backend.metrics_text(openmetrics));
        }
        ControlRequest::Health { reply } => {
            let _ = reply.send(backend.health());
        }
    }
}

/// Sends one call to the event loop and waits for its [`Value`] answer (the web UI's way
/// in; `/RPC2` sends [`ControlRequest::CallXml`]). When the loop is gone, or drops the call
/// unanswered, the answer is FAILED `the daemon is shutting down`.
pub async fn call(
    control: &tokio::sync::mpsc::Sender<ControlRequest>,
    name: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    call_as(control, None, name, params).await
}

/// [`call`] made by `caller` (checked against its role and audited, see
/// [`crate::access`]); `None` is the daemon's own call.
pub async fn call_as(
    control: &tokio::sync::mpsc::Sender<ControlRequest>,
    caller: Option<std::sync::Arc<crate::access::Caller>>,
    name: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    let gone = || Fault::new(FaultCode::Failed, "the daemon is shutting down");
    let (reply, answer) = oneshot::channel();
    let mut request = ControlRequest::Call {
        name: name.to_string(),
        params,
        reply,
    };
    if let Some(caller) = caller {
        request = ControlRequest::As {
            caller,
            request: Box::new(request),
        };
    }
    let asked = std::time::Instant::now();
    if control.send(request).await.is_err() {
        return Err(gone());
    }
    let answer = answer.await;
    use crate::http::metrics::{record_rpc, RpcOutcome};
    let outcome = match &answer {
        Ok(Ok(_)) => RpcOutcome::Ok,
        Ok(Err(_)) => RpcOutcome::Fault,
        Err(_) => RpcOutcome::Error,
    };
    record_rpc(name, outcome, asked.elapsed());
    answer.unwrap_or_else(|_| Err(gone()))
}

/// The fault for a well-formed request body that is over one of the XML-RPC reader's
/// limits (depth, elements, members ...): INCORRECT_PARAMETERS naming the limit. The
/// reference has no such limits; a malformed body is the HTTP layer's 400 instead.
pub fn over_limit_fault(e: &xmlrpc::ParseError) -> Fault {
    Fault::new(
        FaultCode::IncorrectParameters,
        format!("request over a limit: {e}"),
    )
}

/// The file behind a log target, if it is configured and exists now.
pub fn log_path(backend: &dyn Backend, target: &LogTarget) -> Option<PathBuf> {
    let path = match target {
        LogTarget::Main => backend.main_logfile()?,
        LogTarget::Process { namespec, channel } => {
            let (group, name) = split_namespec(namespec);
            let p = backend.process(group, name?)?;
            match channel.as_str() {
                "stdout" => p.stdout_logfile?,
                "stderr" => p.stderr_logfile?,
                _ => return None,
            }
        }
    };
    path.exists().then_some(path)
}

pub use supervisor_protocol::namespec::{make_namespec, split_namespec};

/// The method `name`, if it may be called with `params` now: UNKNOWN_METHOD for unknown
/// names, INCORRECT_PARAMETERS for a wrong number of params, SHUTDOWN_STATE while
/// shutting down.
fn callable(
    backend: &dyn Backend,
    name: &str,
    params: &[Value],
) -> Result<&'static methods::Method, Fault> {
    let m = methods::lookup(name)?;
    crate::access::check(m.name)?;
    if params.len() < m.min_args || params.len() > m.max_args {
        return Err(Fault::bare(FaultCode::IncorrectParameters));
    }
    if m.checks_state && refuses_calls(backend) {
        return Err(Fault::bare(FaultCode::ShutdownState));
    }
    Ok(m)
}

/// The result of [`dispatch_xml`].
pub enum XmlOutcome {
    /// The encoded `methodResponse` document, or the fault, is known now.
    Done(Result<Vec<u8>, Fault>),
    /// The answer depends on future state changes.
    Wait(Box<dyn XmlWaiter>),
}

/// [`dispatch`], with the answer encoded as a whole `methodResponse` document: byte for
/// byte `write_response` of what [`dispatch`] answers, but methods with an
/// [`XmlHandler`](methods::XmlHandler) write it without building a value tree.
pub fn dispatch_xml(backend: &mut dyn Backend, name: &str, params: &[Value]) -> XmlOutcome {
    if let Ok(m) = callable(backend, name, params) {
        if let Some(xml) = m.xml {
            let mut out = Vec::with_capacity(1024);
            xmlrpc::begin_response(&mut out);
            return XmlOutcome::Done(xml(backend, params, &mut out).map(|()| {
                xmlrpc::end_response(&mut out);
                out
            }));
        }
        if m.name == "system.multicall" {
            return methods::multicall_xml(backend, params);
        }
    }
    match dispatch(backend, name, params) {
        Outcome::Done(r) => XmlOutcome::Done(r.map(|v| xmlrpc::write_response(&v))),
        Outcome::Wait(w) => XmlOutcome::Wait(Box::new(Encoded(w))),
    }
}

/// Calls method `name` with `params`. Unknown names give UNKNOWN_METHOD, a wrong number of
/// params INCORRECT_PARAMETERS.
pub fn dispatch(backend: &mut dyn Backend, name: &str, params: &[Value]) -> Outcome {
    run(backend, name, params, None)
}

/// [`dispatch`] for one call of a multicall whose answer has `room` encoded bytes left:
/// methods with a [`BoundedHandler`](methods::BoundedHandler) get that room.
pub fn dispatch_within(
    backend: &mut dyn Backend,
    name: &str,
    params: &[Value],
    room: usize,
) -> Outcome {
    run(backend, name, params, Some(room))
}

fn run(backend: &mut dyn Backend, name: &str, params: &[Value], room: Option<usize>) -> Outcome {
    match callable(backend, name, params) {
        Ok(m) => {
            let outcome = match (m.bounded, room) {
                (Some(within), Some(room)) => within(backend, params, room),
                _ => (m.handler)(backend, params),
            };
            // Audited (state-changing calls of a caller) once the outcome is known.
            let outcome = crate::access::audit::wrap(m.name, params, outcome);
            // Give a waiter its first look at once: it may be finished already.
            match outcome {
                Outcome::Wait(mut w) => match w.poll(backend) {
                    Some(r) => Outcome::Done(r),
                    None => Outcome::Wait(w),
                },
                done => done,
            }
        }
        Err(f) => {
            if let (Some(c), Ok(m)) = (crate::access::current(), methods::lookup(name)) {
                if !crate::access::allowed(c.role, m.name) {
                    crate::access::audit::denied(&c, m.name, params, &f);
                }
            }
            Outcome::Done(Err(f))
        }
    }
}

/// True while the daemon is shutting down or restarting.
fn refuses_calls(backend: &dyn Backend) -> bool {
    use supervisor_protocol::SupervisorState as S;
    matches!(backend.supervisor_state(), S::Restarting | S::Shutdown)
}

#[cfg(test)]
mod tests;
