//! The vocabulary every supervisor-rs component shares with Python Supervisor's clients.
//!
//! What is here: process states and their numeric codes, daemon and event-listener states,
//! XML-RPC fault codes, the event type hierarchy, namespecs ([`namespec`]), errno names ([`errno`]), main-log levels ([`loglevel`]),
//! HTTP Basic `Authorization` headers ([`basic_auth`]), Python's `int()` and `repr()` of text
//! ([`pyint`], [`pyrepr`]), and the XML-RPC value codec ([`xmlrpc`]). What is not here:
//! any I/O, any knowledge of configuration, any policy.
//! The daemon and `supervisorctl` both build on these types so that a code or a name
//! seen by a user is spelled in exactly one place.

#![forbid(unsafe_code)]

pub mod basic_auth;
pub mod errno;
pub mod events;
pub mod faults;
pub mod loglevel;
pub mod namespec;
pub mod pyint;
pub mod pyrepr;
pub mod states;
pub mod xmlrpc;

pub use faults::{Fault, FaultCode};
pub use loglevel::LogLevel;
pub use states::{ListenerState, ProcessState, SupervisorState};
pub use xmlrpc::Value;

/// The XML-RPC API version `supervisor.getAPIVersion` reports and `supervisorctl` expects.
pub const API_VERSION: &str = "3.0";

/// The Supervisor version we are compatible with, as reported by `getSupervisorVersion`
/// and `supervisord --version` (clients compare it).
pub const SUPERVISOR_VERSION: &str = "4.3.0";
