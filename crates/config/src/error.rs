//! The config engine's error type.

use std::fmt;
use std::path::PathBuf;

/// A configuration error. `Display` is exactly the reference's message (the text after
/// `Error: ` on supervisord's stderr, or after `CANT_REREAD: ` in a fault); the other
/// fields locate the problem for richer reporting (`--check-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the offending value came from, when known.
    pub file: Option<PathBuf>,
    /// 1-based line of the offending key (or of the first bad line of a parse error).
    pub line: Option<usize>,
    /// The section, when the error concerns one.
    pub section: Option<String>,
    /// The key, when the error concerns one value.
    pub key: Option<String>,
    /// The reference's message.
    pub message: String,
}

impl ConfigError {
    /// An error with only a message.
    pub fn msg(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: None,
            section: None,
            key: None,
            message: message.into(),
        }
    }

    /// A human-oriented location like `/etc/supervisord.conf:12 [program:x] command`
    /// (empty when nothing is known).
    pub fn location(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.file {
            s.push_str(&f.to_string_lossy());
            if let Some(l) = self.line {
                s.push_str(&format!(":{l}"));
            }
        }
        if let Some(sec) = &self.section {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!("[{sec}]"));
        }
        if let Some(k) = &self.key {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(k);
        }
        s
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
