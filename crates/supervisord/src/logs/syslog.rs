//! Sending lines to the system log through libc's `syslog(3)`.
//!
//! Like the reference: no `openlog`, so the ident is the program name, facility USER,
//! priority INFO for every message; a multi-line message becomes one entry per line.

use std::ffi::CString;

/// Sends each line of `message` (trailing newlines removed first) as `<prefix><line>`.
pub fn send_lines(prefix: &str, message: &[u8]) {
    let text = String::from_utf8_lossy(message);
    for line in text.trim_end_matches('\n').split('\n') {
        send(&format!("{prefix}{line}"));
    }
}

/// Sends one message at LOG_USER|LOG_INFO.
pub fn send(message: &str) {
    let bytes: Vec<u8> = message.bytes().filter(|&b| b != 0).collect();
    if let Ok(c) = CString::new(bytes) {
        // SAFETY: constant format string with one valid C string argument.
        unsafe { libc::syslog(libc::LOG_USER | libc::LOG_INFO, c"%s".as_ptr(), c.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sending_never_panics() {
        super::send_lines("prog ", b"line one\nline two\n");
        super::send("with\0nul");
    }
}
