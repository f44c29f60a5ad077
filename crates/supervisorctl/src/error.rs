//! Errors of a command, named the way the reference client names them.
//!
//! The reference prints any unexpected exception inside a command as one line,
//! `error: <class 'Type'>, message: file: F line: N`. Scripts may grep the class and the
//! message, so [`CtlError`] carries both in the reference's spelling. The `file:`/`line:`
//! part points into our own sources and cannot match a Python traceback.

use std::io;

use supervisor_protocol::Fault;

/// Why an XML-RPC call or a command failed.
#[derive(Debug)]
pub enum CtlError {
    /// The server answered with an XML-RPC fault.
    Fault(Fault),
    /// The server answered with an HTTP status other than 200 (`ProtocolError`).
    Http {
        /// HTTP status code.
        status: u16,
        /// Reason phrase of the status line.
        reason: String,
    },
    /// A socket error (connect, read, write).
    Io(io::Error),
    /// Any other error, with the Python exception class the reference would raise.
    Other {
        /// Fully qualified class name as Python prints it, e.g. `ValueError`.
        class: String,
        /// The exception's `str()`.
        message: String,
    },
}

impl CtlError {
    /// A `ValueError` with this message.
    pub fn value_error(message: impl Into<String>) -> CtlError {
        CtlError::Other {
            class: "ValueError".into(),
            message: message.into(),
        }
    }

    /// A `KeyError` for a missing struct member (Python prints the key quoted).
    pub fn key_error(key: &str) -> CtlError {
        CtlError::Other {
            class: "KeyError".into(),
            message: py_repr(key),
        }
    }

    /// The errno of a socket error, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CtlError::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// The fault code, if the server answered with a fault.
    pub fn fault_code(&self) -> Option<i32> {
        match self {
            CtlError::Fault(f) => Some(f.code),
            _ => None,
        }
    }

    /// The Python class name the reference shows for this error.
    pub fn py_class(&self) -> String {
        match self {
            CtlError::Fault(_) => "xmlrpc.client.Fault".into(),
            CtlError::Http { .. } => "xmlrpc.client.ProtocolError".into(),
            CtlError::Io(e) => io_class(e).into(),
            CtlError::Other { class, .. } => class.clone(),
        }
    }

    /// The Python `str()` of the exception the reference would raise.
    pub fn py_str(&self) -> String {
        match self {
            CtlError::Fault(f) => format!("<Fault {}: {}>", f.code, py_repr(&f.string)),
            CtlError::Http { status, reason } => {
                format!("<ProtocolError for 127.0.0.1/RPC2: {status} {reason}>")
            }
            CtlError::Io(e) => io_str(e),
            CtlError::Other { message, .. } => message.clone(),
        }
    }

    /// The one-line report the reference prints for an unexpected exception.
    pub fn generic_line(&self) -> String {
        format!(
            "error: <class '{}'>, {}: file: {} line: {}",
            self.py_class(),
            self.py_str(),
            "supervisorctl",
            0
        )
    }
}

impl From<io::Error> for CtlError {
    fn from(e: io::Error) -> Self {
        CtlError::Io(e)
    }
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.py_class(), self.py_str())
    }
}

impl std::error::Error for CtlError {}

/// The Python exception class of an OS error (the subclasses `OSError` picks by errno).
fn io_class(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "ConnectionRefusedError",
        Some(libc::ENOENT) => "FileNotFoundError",
        Some(libc::EACCES) | Some(libc::EPERM) => "PermissionError",
        Some(libc::ECONNRESET) => "ConnectionResetError",
        Some(libc::ECONNABORTED) => "ConnectionAbortedError",
        Some(libc::EPIPE) => "BrokenPipeError",
        Some(libc::ETIMEDOUT) => "TimeoutError",
        Some(libc::ENOTDIR) => "NotADirectoryError",
        Some(libc::EISDIR) => "IsADirectoryError",
        Some(_) => "OSError",
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof => "http.client.RemoteDisconnected",
            io::ErrorKind::InvalidData => "http.client.HTTPException",
            io::ErrorKind::NotFound => "socket.gaierror",
            _ => "OSError",
        },
    }
}

/// Python's `str(OSError)`: `[Errno N] strerror`.
fn io_str(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let text = io::Error::from_raw_os_error(n).to_string();
            let suffix = format!(" (os error {n})");
            let text = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
            format!("[Errno {n}] {text}")
        }
        None => e.to_string(),
    }
}

pub use supervisor_protocol::pyrepr::str_repr as py_repr;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("x\ny"), "'x\\ny'");
    }

    #[test]
    fn generic_lines() {
        let e = CtlError::Io(io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.py_class(), "FileNotFoundError");
        assert_eq!(e.py_str(), "[Errno 2] No such file or directory");
        let e = CtlError::Http {
            status: 401,
            reason: "Unauthorized".into(),
        };
        assert!(e.generic_line().starts_with(
            "error: <class 'xmlrpc.client.ProtocolError'>, <ProtocolError for 127.0.0.1/RPC2: 401 Unauthorized>: file: "
        ));
        let e = CtlError::Fault(Fault {
            code: 30,
            string: "FAILED: x".into(),
        });
        assert_eq!(e.py_str(), "<Fault 30: 'FAILED: x'>");
    }
}
