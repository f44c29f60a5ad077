//! The supervisor-rs daemon. See ARCHITECTURE.md for the code map.
pub mod spawn;

/// The pure state machines live in their own crate (no I/O can reach them); the old
/// `crate::core::...` paths keep working through this re-export.
pub use supervisor_core as core;

pub mod access;
pub mod cgroup;
pub mod cli;
pub mod daemon;
pub mod fcgi;
pub mod http;
pub mod logs;
pub mod notify;
pub mod pid1;
pub mod probe;
pub mod rpc;
pub mod runtime;
pub mod stats;
