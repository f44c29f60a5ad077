//! supervisor-config: `supervisord.conf` → a typed, validated, expanded model.
//!
//! This crate reads files and nothing else: it never spawns, binds or opens logs. It
//! reproduces the observable behaviour of Python Supervisor 4.3's option parsing (the INI
//! dialect of `RawConfigParser`, `%(name)s` expansions, `[include]`, every section's keys,
//! defaults, value types and validation messages) and produces a [`model::Config`] in which
//! programs are already expanded into process configs and groups.
//!
//! Errors are [`ConfigError`]s whose `Display` is the reference's message (what a script
//! may grep), with the file, line, section and key kept as fields for richer reporting.

pub mod model;

pub use model::*;
