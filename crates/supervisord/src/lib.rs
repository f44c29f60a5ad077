//! The supervisor-rs daemon. See ARCHITECTURE.md for the code map.
pub mod spawn;

pub mod core;
pub mod logs;
