//! The supervisor-rs daemon. See ARCHITECTURE.md for the code map.
pub mod spawn;

pub mod core;

pub mod cli;
pub mod daemon;
pub mod fcgi;
pub mod http;
pub mod logs;
pub mod rpc;
pub mod runtime;
