//! Reading answers and `fg` input from the terminal or a pipe.

use std::io::Write;

use crate::commands::Input;
use crate::signals;

/// Prompts on stdout and reads lines from fd 0 (interruptible by the SIGINT flag).
pub struct StdInput;

/// Reads one line from fd 0, polling so that a SIGINT (flag) ends the wait.
/// `None` at end of input or when interrupted.
pub fn read_line_fd0() -> Option<String> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if signals::interrupted() {
            return None;
        }
        let mut pfd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, bounded timeout.
        let r = unsafe { libc::poll(&mut pfd, 1, 100) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        if r == 0 {
            continue;
        }
        let mut byte = [0u8; 1];
        // SAFETY: reads at most one byte into a valid buffer.
        let n = unsafe { libc::read(0, byte.as_mut_ptr().cast(), 1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        if n == 0 {
            if buf.is_empty() {
                return None;
            }
            break;
        }
        if byte[0] == b'\n' {
            break;
        }
        if buf.len() < 1024 * 1024 {
            buf.push(byte[0]);
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

impl Input for StdInput {
    fn raw_input(&mut self, prompt: &str) -> Option<String> {
        if !prompt.is_empty() {
            let mut out = std::io::stdout();
            let _ = out.write_all(prompt.as_bytes());
            let _ = out.flush();
        }
        read_line_fd0()
    }

    fn getpass(&mut self, prompt: &str) -> Option<String> {
        use std::fs::OpenOptions;
        use std::io::{BufRead, BufReader};
        use std::os::unix::io::AsRawFd;
        match OpenOptions::new().read(true).write(true).open("/dev/tty") {
            Ok(tty) => {
                let fd = tty.as_raw_fd();
                let mut w = &tty;
                // echo goes off before the prompt is shown, so nothing typed after the
                // prompt can be echoed or flushed away
                // SAFETY: termios is plain old data, so all-zero is a valid value; tcgetattr
                // fills it and tcsetattr only reads it, both through pointers to this live
                // local, on `fd`, which `tty` keeps open for the whole block.
                let old = unsafe {
                    let mut t: libc::termios = std::mem::zeroed();
                    if libc::tcgetattr(fd, &mut t) != 0 {
                        None
                    } else {
                        let old = t;
                        t.c_lflag &= !libc::ECHO;
                        libc::tcsetattr(fd, libc::TCSAFLUSH, &t);
                        Some(old)
                    }
                };
                let _ = w.write_all(prompt.as_bytes());
                let _ = w.flush();
                let mut line = String::new();
                let n = BufReader::new(&tty).read_line(&mut line);
                if let Some(old) = old {
                    // SAFETY: tcsetattr only reads `old` (the attributes tcgetattr filled in),
                    // on `fd`, still open through `tty`.
                    unsafe {
                        libc::tcsetattr(fd, libc::TCSAFLUSH, &old);
                    }
                }
                let _ = w.write_all(b"\n");
                match n {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
                }
            }
            Err(_) => {
                eprintln!("Warning: Password input may be echoed.");
                eprint!("{prompt}");
                read_line_fd0()
            }
        }
    }
}
