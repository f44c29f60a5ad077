//! Logging: rotating files, the main log, child log channels, AUTO names, ANSI stripping,
//! the capture-mode scanner and syslog. Everything here is synchronous and owned by the
//! event loop (or a channel's reader task); nothing here decides process state.

pub mod ansi;
pub mod capture;
pub mod childlog;
pub mod mainlog;
pub mod rotating;
pub mod syslog;

pub use ansi::{strip_ansi, AnsiStripper};
pub use capture::{OutputScanner, ScanOutput};
pub use childlog::{Channel, ChannelLogger};
pub use mainlog::{MainLog, MainLogConfig};
pub use rotating::RotatingFile;
