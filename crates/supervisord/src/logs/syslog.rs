//! Sending lines to the system log through libc's `syslog(3)`.
//!
//! Like the reference: no `openlog`, so the ident is the program name, facility USER,
//! priority INFO for every message; a multi-line message becomes one entry per line.
//! What reaches `/dev/log` from the real binary is checked by `tests/os_syslog.rs`.

use std::ffi::{CStr, CString};

/// Sends each line of `message` (trailing newlines removed first) as `<prefix><line>`.
pub fn send_lines(prefix: &str, message: &[u8]) {
    for entry in line_entries(prefix, message) {
        send_entry(&entry);
    }
}

/// Sends one message at LOG_USER|LOG_INFO.
pub fn send(message: &str) {
    send_entry(&entry(message));
}

/// The entries [`send_lines`] sends: one per line, each prefixed.
fn line_entries(prefix: &str, message: &[u8]) -> Vec<CString> {
    let text = String::from_utf8_lossy(message);
    text.trim_end_matches('\n')
        .split('\n')
        .map(|line| entry(&format!("{prefix}{line}")))
        .collect()
}

/// `message` as a C string: NUL bytes (which would cut the entry short) are left out.
fn entry(message: &str) -> CString {
    let bytes: Vec<u8> = message.bytes().filter(|&b| b != 0).collect();
    // No NUL is left, so this cannot fail; an empty entry would be the harmless fallback.
    CString::new(bytes).unwrap_or_default()
}

fn send_entry(entry: &CStr) {
    // SAFETY: constant format string with one valid C string argument.
    unsafe {
        libc::syslog(
            libc::LOG_USER | libc::LOG_INFO,
            c"%s".as_ptr(),
            entry.as_ptr(),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_prefixed_entry_per_line_without_nul() {
        let got: Vec<CString> = line_entries("prog ", b"line one\nline two\n\n");
        assert_eq!(got, [c"prog line one", c"prog line two"]);
        assert_eq!(line_entries("p ", b"a\n\nb"), [c"p a", c"p ", c"p b"]);
        assert_eq!(line_entries("p ", b""), [c"p "]);
        assert_eq!(entry("with\0nul"), c"withnul".to_owned());
        assert_eq!(line_entries("p ", b"\xff\n"), [c"p \xef\xbf\xbd"]);
    }
}
