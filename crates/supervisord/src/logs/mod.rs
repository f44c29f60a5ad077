//! Logging: rotating files (by size, day or hour; gzip and age limits of the backups on
//! the compression thread), stream targets (`/dev/stdout`, pipes, sockets), line
//! prefixes, the main log, child log channels, AUTO names, ANSI stripping, the
//! capture-mode scanner and syslog. Everything here is synchronous and owned by the
//! event loop (or a channel's reader task); nothing here decides process state.

pub mod ansi;
pub mod capture;
pub mod childlog;
pub mod compress;
pub mod filecache;
pub mod follow;
pub mod framer;
pub mod mainlog;
pub mod rotating;
pub mod rpc;
pub mod schedule;
pub mod splice;
pub mod stream;
pub mod syslog;
pub mod timer;

pub use ansi::{strip_ansi, AnsiStripper};
pub use capture::{OutputScanner, ScanOutput};
pub use childlog::{Channel, ChannelLogger};
pub use mainlog::{MainLog, MainLogConfig};
pub use rotating::{RotateOptions, Rotated, RotatingFile};
