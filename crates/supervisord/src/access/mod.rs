//! Access control of the HTTP servers (supervisor-rs, issue 13; docs/security.md): who a
//! request comes from ([`Caller`]), what its role lets it call ([`roles`]), the stored
//! passwords ([`passwords`]), bearer tokens ([`tokens`]), the audit log ([`audit`]) and
//! the per-server authentication ([`server`]).
//!
//! Flow: the HTTP layer authenticates a request into a [`Caller`] and sends the event loop
//! its calls wrapped in [`crate::rpc::ControlRequest::As`]; while the loop runs those calls
//! (and while it polls them when they wait) the caller is the [`current`] one, and
//! [`check`] (called by `rpc` for every method, each call of a multicall included) refuses
//! a method above the caller's role with [`denied_fault`]. Calls made with no caller (the
//! daemon's own, unit tests) are not checked. The loop is one thread, so "current" is a
//! thread-local.

pub mod audit;
pub mod checks;
pub mod passwords;
pub mod roles;
pub mod rpc;
pub mod server;
pub mod tokens;

use std::cell::RefCell;
use std::sync::Arc;

pub use supervisor_config::Role;
use supervisor_protocol::{Fault, FaultCode};

/// Where a connection comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PeerAddr {
    /// Not known (a connection served outside a listener, in tests).
    #[default]
    Unknown,
    /// The unix socket, with the peer's credentials from `SO_PEERCRED` when available.
    Unix {
        /// The peer's uid.
        uid: Option<u32>,
        /// The peer's pid.
        pid: Option<i32>,
    },
    /// A TCP client.
    Tcp(std::net::SocketAddr),
}

/// What is known about the other end of a connection, attached to each of its requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// Its address.
    pub addr: PeerAddr,
    /// The user a verified TLS client certificate maps to (set by the TLS layer, see
    /// [`server::ServerAccess::caller_for_certificate`]); `None` without mutual TLS.
    pub cert_user: Option<String>,
}

impl Peer {
    /// `unix` or the peer address, for the audit log.
    pub fn from_text(&self) -> String {
        match &self.addr {
            PeerAddr::Unknown => "unknown".into(),
            PeerAddr::Unix { .. } => "unix".into(),
            PeerAddr::Tcp(a) => a.to_string(),
        }
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// The server has no authentication at all (the reference's open server).
    Anonymous,
    /// HTTP Basic with a user of the section.
    User,
    /// A bearer token.
    Token,
    /// A verified TLS client certificate.
    Certificate,
}

/// The authenticated origin of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user or token name (empty when anonymous).
    pub name: String,
    /// How it authenticated.
    pub kind: CallerKind,
    /// Its role.
    pub role: Role,
    /// Where it connects from.
    pub peer: Peer,
}

impl Caller {
    /// Who, for the audit log: `user admin`, `token ci`, `anonymous`, and on the unix
    /// socket the peer's `uid`/`pid`.
    pub fn who(&self) -> String {
        let mut s = match self.kind {
            CallerKind::Anonymous => "anonymous".to_string(),
            CallerKind::User => format!("user {}", self.name),
            CallerKind::Token => format!("token {}", self.name),
            CallerKind::Certificate => format!("cert-user {}", self.name),
        };
        if let PeerAddr::Unix { uid, pid } = &self.peer.addr {
            if let Some(u) = uid {
                s.push_str(&format!(" uid {u}"));
            }
            if let Some(p) = pid {
                s.push_str(&format!(" pid {p}"));
            }
        }
        s
    }
}

/// The default tokens file: `supervisord.tokens` beside the pid file.
pub fn default_tokens_file(pidfile: &std::path::Path) -> std::path::PathBuf {
    pidfile.with_file_name("supervisord.tokens")
}

/// Sets up the token store and the audit log for one daemon run (at start and at every
/// restart). Returns the lines to log (a tokens file that cannot be read, an audit file
/// that cannot be opened: the audit lines then go to the main log).
pub fn setup(
    sd: &supervisor_config::SupervisordConfig,
    mainlog: std::rc::Rc<RefCell<crate::logs::MainLog>>,
) -> Vec<(supervisor_config::LogLevel, String)> {
    use supervisor_config::LogLevel;
    let mut lines = Vec::new();
    let tokens_file = sd
        .tokens_file
        .clone()
        .unwrap_or_else(|| default_tokens_file(&sd.pidfile));
    if let Err(e) = tokens::configure(tokens_file) {
        lines.push((LogLevel::Error, format!("bearer tokens: {e}")));
    }
    audit::to_main_log(mainlog);
    if let Some(path) = &sd.audit_logfile {
        match crate::logs::MainLog::open(&crate::logs::MainLogConfig {
            logfile: supervisor_config::LogFile::Path(path.clone()),
            maxbytes: sd.logfile_maxbytes,
            backups: sd.logfile_backups,
            level: LogLevel::Info,
            echo_stdout: false,
        }) {
            Ok(l) => audit::to_file(l),
            Err(e) => lines.push((
                LogLevel::Error,
                format!(
                    "cannot open audit_logfile {}: {e}; audit lines go to the main log",
                    path.display()
                ),
            )),
        }
    }
    lines
}

tokio::task_local! {
    static PEER: Peer;
}

/// Runs a connection's task with `peer` as its [`current_peer`].
pub async fn with_peer<F: std::future::Future>(peer: Peer, f: F) -> F::Output {
    PEER.scope(peer, f).await
}

/// The peer of the connection whose task runs now ([`Peer::default`] outside one).
pub fn current_peer() -> Peer {
    PEER.try_with(Peer::clone).unwrap_or_default()
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Caller>>> = const { RefCell::new(None) };
}

/// Makes `caller` the current one until the guard is dropped (then the previous one is
/// back).
pub fn enter(caller: Option<Arc<Caller>>) -> CurrentGuard {
    let previous = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), caller));
    CurrentGuard { previous }
}

/// Restores the previous caller when dropped (see [`enter`]).
pub struct CurrentGuard {
    previous: Option<Arc<Caller>>,
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let p = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = p);
    }
}

/// The caller of the calls being run now, if any.
pub fn current() -> Option<Arc<Caller>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The fault of a call above the caller's role: FAILED (30), whose text the reference's
/// `supervisorctl` prints as it is, `FAILED: not allowed for role read:
/// supervisor.stopProcess needs operate`.
pub fn denied_fault(role: Role, method: &str) -> Fault {
    Fault::new(
        FaultCode::Failed,
        format!(
            "not allowed for role {}: {method} needs {}",
            role.name(),
            roles::min_role(method).name()
        ),
    )
}

/// Refuses `method` when the current caller's role is below the method's.
pub fn check(method: &str) -> Result<(), Fault> {
    match current() {
        Some(c) if c.role < roles::min_role(method) => Err(denied_fault(c.role, method)),
        _ => Ok(()),
    }
}

/// Whether the current caller (if any) may call `method`.
pub fn allowed(role: Role, method: &str) -> bool {
    role >= roles::min_role(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_uses_the_current_caller() {
        assert!(check("supervisor.shutdown").is_ok());
        let c = Arc::new(Caller {
            name: "v".into(),
            kind: CallerKind::User,
            role: Role::Read,
            peer: Peer::default(),
        });
        {
            let _g = enter(Some(c));
            assert!(check("supervisor.getState").is_ok());
            let f = check("supervisor.stopProcess").unwrap_err();
            assert_eq!(f.code, 30);
            assert_eq!(
                f.string,
                "FAILED: not allowed for role read: supervisor.stopProcess needs operate"
            );
        }
        assert!(check("supervisor.stopProcess").is_ok());
    }

    fn caller(name: &str, role: Role) -> Arc<Caller> {
        Arc::new(Caller {
            name: name.into(),
            kind: CallerKind::User,
            role,
            peer: Peer {
                addr: PeerAddr::Tcp("127.0.0.1:4000".parse().unwrap()),
                cert_user: None,
            },
        })
    }

    /// The loop's path: `ControlRequest::As` wraps a call; the role applies to each call of
    /// a multicall, also to those run later while the loop polls the parked multicall, and
    /// waiting calls are audited when they finish.
    #[test]
    fn roles_and_audit_through_the_loop() {
        use crate::rpc::{fake::FakeBackend, handle, ControlRequest, Pending};
        use supervisor_protocol::Value;
        use tokio::sync::oneshot;
        let lines = audit::capture();
        let mut b = FakeBackend::new(&[("cat", &["cat"]), ("dog", &["dog"])]);
        let mut pending = Pending::new();
        let call = |name: &str, params: Vec<Value>| {
            let (tx, rx) = oneshot::channel();
            (
                ControlRequest::Call {
                    name: name.into(),
                    params,
                    reply: tx,
                },
                rx,
            )
        };
        let call_struct = |m: &str, p: Vec<Value>| {
            Value::Struct(vec![
                ("methodName".into(), Value::from(m)),
                ("params".into(), Value::Array(p)),
            ])
        };
        // A read user: the state, then the fault, in one multicall.
        let (req, mut rx) = call(
            "system.multicall",
            vec![Value::Array(vec![
                call_struct("supervisor.getState", vec![]),
                call_struct("supervisor.startProcess", vec![Value::from("cat")]),
            ])],
        );
        handle(
            &mut b,
            &mut pending,
            ControlRequest::As {
                caller: caller("viewer", Role::Read),
                request: Box::new(req),
            },
        );
        let Ok(Value::Array(r)) = rx.try_recv().unwrap() else {
            panic!()
        };
        assert!(matches!(&r[1], Value::Struct(m) if m[0].1 == Value::Int(30)));
        assert!(
            lines.borrow()[0].ends_with(
                "audit: user viewer from 127.0.0.1:4000 called supervisor.startProcess('cat') \
                 -> denied: FAILED: not allowed for role read: supervisor.startProcess needs operate"
            ),
            "{:?}",
            lines.borrow()
        );
        // An operator: a waiting start, then shutdown (admin) run only once the start
        // finished, while the loop polls: still refused.
        let (req, mut rx) = call(
            "system.multicall",
            vec![Value::Array(vec![
                call_struct(
                    "supervisor.startProcess",
                    vec![Value::from("dog"), Value::Bool(true)],
                ),
                call_struct("supervisor.shutdown", vec![]),
            ])],
        );
        handle(
            &mut b,
            &mut pending,
            ControlRequest::As {
                caller: caller("deploy", Role::Operate),
                request: Box::new(req),
            },
        );
        assert_eq!(pending.len(), 1);
        assert_eq!(lines.borrow().len(), 1, "written before it finished");
        for _ in 0..50 {
            b.step();
            pending.poll(&mut b);
            if pending.is_empty() {
                break;
            }
        }
        let Ok(Value::Array(r)) = rx.try_recv().unwrap() else {
            panic!()
        };
        assert_eq!(r[0], Value::Bool(true));
        assert!(
            matches!(&r[1], Value::Struct(m) if m[0].1 == Value::Int(30)),
            "{r:?}"
        );
        assert_eq!(
            b.state,
            supervisor_protocol::SupervisorState::Running,
            "not shut down"
        );
        let l = lines.borrow();
        assert!(
            l[1].contains(
                "user deploy from 127.0.0.1:4000 called supervisor.startProcess('dog', True) -> ok"
            ),
            "{l:?}"
        );
        assert!(
            l[2].contains("supervisor.shutdown() -> denied: FAILED: not allowed for role operate"),
            "{l:?}"
        );
        drop(l);
        // Reads and calls without a caller are not written.
        let (req, _rx) = call("supervisor.stopProcess", vec![Value::from("dog")]);
        handle(&mut b, &mut pending, req);
        assert_eq!(lines.borrow().len(), 3);
    }

    #[test]
    fn who() {
        let c = Caller {
            name: "deploy".into(),
            kind: CallerKind::User,
            role: Role::Operate,
            peer: Peer {
                addr: PeerAddr::Unix {
                    uid: Some(1000),
                    pid: Some(42),
                },
                cert_user: None,
            },
        };
        assert_eq!(c.who(), "user deploy uid 1000 pid 42");
        assert_eq!(c.peer.from_text(), "unix");
    }
}
