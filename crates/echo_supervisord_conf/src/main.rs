//! `echo_supervisord_conf`: prints the sample `supervisord.conf` to stdout and exits 0.
//! Like the reference it takes no options (arguments are ignored).

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`echo_supervisord_conf | head`) is not an error worth a panic.
    let _ = out.write_all(supervisor_config::SAMPLE_CONF.as_bytes());
    let _ = out.flush();
}
