//! supervisorctl: the command-line client of supervisor-rs.
//!
//! A drop-in replacement for Python Supervisor 4.3's `supervisorctl`: the same options,
//! config lookup, commands, output lines and exit statuses (see `docs/supervisorctl.md`),
//! plus a few opt-in extras (`status --json`, `avail --json`, state colours on a
//! terminal, `completions bash|zsh|fish`).

pub mod commands;
pub mod completions;
pub mod error;
pub mod hints;
pub mod input;
pub mod namespec;
pub mod options;
pub mod rpc;
pub mod shell;
pub mod signals;
pub mod text;
pub mod tls;
pub mod transport;

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use commands::Controller;
use error::CtlError;
use options::{Parsed, Settings};
use transport::{basic_auth, Endpoint, StreamEnd};

/// What this client is, for humans: `supervisor-rs X.Y.Z (compatible with Supervisor 4.3.0)`
/// (`supervisorctl --version`). Scripts read `supervisorctl version`, which prints the
/// daemon's `4.3.0`.
pub fn about() -> String {
    format!(
        "supervisor-rs {} (compatible with Supervisor {})",
        env!("CARGO_PKG_VERSION"),
        supervisor_protocol::SUPERVISOR_VERSION
    )
}

/// Runs supervisorctl with these arguments (`argv[0]` first); returns the exit status.
pub fn run(argv: Vec<String>) -> i32 {
    let progname = argv
        .first()
        .cloned()
        .unwrap_or_else(|| "supervisorctl".into());
    let settings = match options::parse(&progname, &argv[1.min(argv.len())..]) {
        Parsed::Run(s) => *s,
        Parsed::Help(text) => {
            print!("{text}");
            let _ = std::io::stdout().flush();
            return 0;
        }
        Parsed::Usage(msg) => {
            eprintln!("Error: {msg}");
            eprintln!("For help, use {progname} -h");
            return 2;
        }
    };
    tls::configure(settings.tls.clone());
    let mut ctl = controller(settings);
    ctl.color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if !ctl.settings.args.is_empty() {
        let line = ctl.settings.args.join(" ");
        ctl.onecmd(&line);
        return ctl.exitstatus;
    }
    shell::run(ctl);
    0
}

/// A controller wired to the real transport, stdin/stdout and terminal.
pub fn controller(settings: Settings) -> Controller {
    let mut ctl = Controller::new(
        settings,
        Box::new(std::io::stdout()),
        Box::new(input::StdInput),
        Box::new(|s: &Settings| {
            let c =
                rpc::XmlRpcClient::new(&s.serverurl, s.username.as_deref(), s.password.as_deref())?;
            Ok(Box::new(c) as Box<dyn rpc::Rpc>)
        }),
        Box::new(tail_follow),
    );
    ctl.set_fg_runner(Box::new(fg_foreground));
    ctl
}

/// The `Authorization` header the reference's streaming client sends: only when a
/// password is set (the user name may then be missing and is sent as `None`).
fn stream_auth(s: &Settings) -> Option<String> {
    match s.password.as_deref() {
        Some(p) if !p.is_empty() => Some(basic_auth(s.username.as_deref().unwrap_or("None"), p)),
        _ => None,
    }
}

/// Streams one log tail until Ctrl-C or the end of the body, writing to `out`.
/// Errors are reported the way the reference's asyncore client does.
fn stream_one(
    settings: &Settings,
    path: &str,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<StreamEnd, CtlError> {
    let url = format!("{}{}", settings.serverurl, path);
    let endpoint = Endpoint::from_serverurl(&settings.serverurl).map_err(|_| CtlError::Other {
        class: "NotImplementedError".into(),
        message: String::new(),
    })?;
    let auth = stream_auth(settings);
    let r = transport::stream_get(&endpoint, path, auth.as_deref(), stop, &mut |data| {
        // a closed stdout (e.g. piped into `head`) ends the stream
        out.write_all(data).and_then(|_| out.flush()).is_ok()
    });
    match r {
        Ok(StreamEnd::Status(code)) => {
            eprintln!("{url} Cannot read, status code {code}");
            Ok(StreamEnd::Status(code))
        }
        Ok(end) => Ok(end),
        // TLS failures are connection problems reported in plain words.
        Err(e) if crate::tls::TlsProblem::of(&e).is_some() => Err(CtlError::Io(e)),
        Err(e) => match (&endpoint, e.raw_os_error()) {
            // the daemon went away (or the socket changed) after the first check: reported
            // in plain words like any other connection problem
            (Endpoint::Unix(_), Some(n))
                if n == libc::ENOENT || n == libc::ECONNREFUSED || n == libc::EACCES =>
            {
                Err(CtlError::Io(e))
            }
            _ => {
                let err = CtlError::Io(e);
                eprintln!(
                    "{url} Cannot connect, error: <class '{}'> ({})",
                    err.py_class(),
                    err.py_str()
                );
                Ok(StreamEnd::Finished)
            }
        },
    }
}

/// `tail -f` / `maintail -f`: stream until Ctrl-C, then print a newline. `Ok(false)` when
/// the server answered with an error status (reported on stderr as the reference does).
fn tail_follow(settings: &Settings, path: &str, out: &mut dyn Write) -> Result<bool, CtlError> {
    let _guard = signals::SigintGuard::install();
    match stream_one(settings, path, signals::flag(), out)? {
        StreamEnd::Stopped => {
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            Ok(true)
        }
        StreamEnd::Status(_) => Ok(false),
        // the server ended the stream; the reference returns quietly
        _ => Ok(true),
    }
}

/// `fg`: stream the process's stdout and stderr in two threads while stdin lines go to
/// the process, until Ctrl-C, end of input, or the process stops.
fn fg_foreground(ctl: &mut Controller, name: &str) -> Result<(), CtlError> {
    let _guard = signals::SigintGuard::install();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for channel in ["stdout", "stderr"] {
        let settings = ctl.settings.clone();
        let stop = stop.clone();
        let path = format!("/logtail/{name}/{channel}");
        threads.push(std::thread::spawn(move || {
            let mut out = std::io::stdout();
            if let Err(e) = stream_one(&settings, &path, &stop, &mut out) {
                match &e {
                    CtlError::Io(io) => match hints::ConnProblem::of(io) {
                        Some(p) => eprintln!("{}", p.line(&settings.serverurl)),
                        None => eprintln!("{}", e.generic_line()),
                    },
                    _ => eprintln!("{}", e.generic_line()),
                }
            }
        }));
    }
    let r = ctl.fg_lines(name);
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    for line in r? {
        ctl.output(&line);
    }
    Ok(())
}
