//! The commands: the same outputs, error lines and exit statuses as the reference client.
//!
//! [`Controller::onecmd`] takes one command line (as typed in the shell, or the one-shot
//! arguments joined by spaces), runs it and records the exit status. Every command talks
//! to the server through the [`Rpc`] trait, so the logic is testable without a server.
//!
//! Every command is a row of [`table::TABLE`] (name, aliases, help text, completion,
//! handler); dispatch, `help` and completion read that table. The handlers live by
//! family: `process` (status, pid, start, stop, signal, restart, clear), `logs` (tail,
//! maintail, fg), `config` (avail, reread, add, remove, update), `daemon` (shutdown,
//! reload, version, open), `extras` (completions); `help` holds help and completion.

use std::io::Write;

use supervisor_protocol::{FaultCode, Value, API_VERSION};

use crate::error::CtlError;
use crate::options::Settings;
use crate::rpc::{self, Rpc};

mod config;
mod daemon;
mod extras;
mod help;
mod logs;
mod process;
mod rotate;
pub mod table;
mod token;
pub mod top;

pub use daemon::url_scheme;
pub use logs::py_int;

/// LSB init-script exit statuses the reference uses.
pub mod exit {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// Generic error.
    pub const GENERIC: i32 = 1;
    /// Invalid arguments.
    pub const INVALID_ARGS: i32 = 2;
    /// The server lacks the `supervisor` namespace.
    pub const UNIMPLEMENTED_FEATURE: i32 = 3;
    /// Connection refused.
    pub const INSUFFICIENT_PRIVILEGES: i32 = 4;
    /// API version mismatch.
    pub const NOT_INSTALLED: i32 = 5;
    /// Not running (also: socket file missing).
    pub const NOT_RUNNING: i32 = 7;
    /// Not allowed: the server rejected the credentials, or this user may not open the
    /// unix socket (`EX_NOPERM` of sysexits.h; the reference exits 1 for both).
    pub const NO_PERMISSION: i32 = 77;
    /// `status`: some listed process is stopped.
    pub const STATUS_NOT_RUNNING: i32 = 3;
    /// `status`: unknown name or server unreachable.
    pub const STATUS_UNKNOWN: i32 = 4;
}

/// Where interactive questions are read from (the reference's `raw_input`/`getpass`).
pub trait Input {
    /// Shows `prompt` and reads one line without its newline; `None` at end of input.
    fn raw_input(&mut self, prompt: &str) -> Option<String>;
    /// Like `raw_input` but without echo.
    fn getpass(&mut self, prompt: &str) -> Option<String>;
    /// The `Username:` question before a `getpass`: read so that a password typed right
    /// after it is left for `getpass` (never buffered away and run as a command).
    fn login_name(&mut self, prompt: &str) -> Option<String> {
        self.raw_input(prompt)
    }
}

/// Builds a client for the current settings (called again after `open` or a login).
pub type ClientFactory = Box<dyn Fn(&Settings) -> Result<Box<dyn Rpc>, CtlError>>;

/// Streams an HTTP log tail (`/logtail/...`, `/mainlogtail`) to the terminal. `Ok(false)`
/// when the server refused the stream (an HTTP status other than 200, already reported).
pub type Streamer = Box<dyn FnMut(&Settings, &str, &mut dyn Write) -> Result<bool, CtlError>>;

/// The command interpreter.
pub struct Controller {
    /// Current settings (`open` changes the URL; a login changes the credentials).
    pub settings: Settings,
    /// Exit status of what ran so far.
    pub exitstatus: i32,
    /// Colour state names in `status` (only set when stdout is a terminal).
    pub color: bool,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    hinted: Vec<String>,
    input: Box<dyn Input>,
    factory: ClientFactory,
    streamer: Streamer,
    client: Option<Box<dyn Rpc>>,
    complete_info: Option<Vec<(String, String)>>,
    fg_runner: Option<FgRunner>,
}

/// Runs the foreground mode of `fg` (terminal I/O, threads); replaceable in tests.
pub type FgRunner = Box<dyn FnMut(&mut Controller, &str) -> Result<(), CtlError>>;

impl Controller {
    /// A controller writing to `out`.
    pub fn new(
        settings: Settings,
        out: Box<dyn Write>,
        input: Box<dyn Input>,
        factory: ClientFactory,
        streamer: Streamer,
    ) -> Controller {
        Controller {
            settings,
            exitstatus: exit::SUCCESS,
            color: false,
            out,
            err: Box::new(std::io::stderr()),
            hinted: Vec::new(),
            input,
            factory,
            streamer,
            client: None,
            complete_info: None,
            fg_runner: None,
        }
    }

    /// Replaces where hints go (stderr by default).
    pub fn set_err(&mut self, err: Box<dyn Write>) {
        self.err = err;
    }

    /// Writes one human-only line to the hint stream (stderr).
    fn hint(&mut self, line: &str) {
        let _ = self.err.write_all(line.as_bytes());
        let _ = self.err.write_all(b"\n");
        let _ = self.err.flush();
    }

    /// After a "no such process" answer for `spec`: if it names a group, hint at
    /// `spec:*` (once per command line).
    fn hint_if_group(&mut self, spec: &str) {
        if spec.contains(':') || self.hinted.iter().any(|h| h == spec) {
            return;
        }
        if self.complete_info().iter().any(|(g, _)| g == spec) {
            self.hinted.push(spec.to_string());
            self.hint(&crate::hints::group_hint(spec));
        }
    }

    /// The plain report of a connection problem: the stdout line and the stderr hint.
    /// `None` (and nothing printed) when `e` is not one.
    fn report_connection(&mut self, e: &CtlError) -> Option<crate::hints::ConnProblem> {
        let CtlError::Io(io) = e else {
            return None;
        };
        let problem = crate::hints::ConnProblem::of(io)?;
        let url = self.settings.serverurl.clone();
        self.output(&problem.line(&url));
        let hint = problem.hint(&url, self.settings.configfile.as_deref());
        self.hint(&hint);
        Some(problem)
    }

    /// Replaces where questions (`y/N?`, `Username:`) and `fg` input are read from.
    pub fn set_input(&mut self, input: Box<dyn Input>) {
        self.input = input;
    }

    /// Installs the `fg` foreground loop.
    pub fn set_fg_runner(&mut self, f: FgRunner) {
        self.fg_runner = Some(f);
    }

    /// Writes one line (the reference's `output`).
    pub fn output(&mut self, line: &str) {
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.write_all(b"\n");
        let _ = self.out.flush();
    }

    /// The output stream.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// Reads a line from the user (for `fg`), `None` at end of input.
    pub fn raw_input(&mut self, prompt: &str) -> Option<String> {
        self.input.raw_input(prompt)
    }

    /// The XML-RPC client, created on first use.
    pub fn client(&mut self) -> Result<&mut dyn Rpc, CtlError> {
        if self.client.is_none() {
            self.client = Some((self.factory)(&self.settings)?);
        }
        Ok(self.client.as_deref_mut().expect("just set"))
    }

    /// Calls a method on the server.
    pub fn call(&mut self, method: &str, params: &[Value]) -> Result<Value, CtlError> {
        let r = self.client()?.call(method, params);
        if matches!(r, Err(CtlError::Io(_)) | Err(CtlError::Http { .. })) {
            self.client = None;
        }
        r
    }

    fn reset_client(&mut self) {
        self.client = None;
    }

    fn set_exitstatus_from_fault(&mut self, code: i32, ignored: Option<FaultCode>) {
        if Some(code) == ignored.map(|c| c.code()) || code == FaultCode::Success.code() {
            return;
        }
        if code == FaultCode::SpawnError.code()
            || code == FaultCode::AbnormalTermination.code()
            || code == FaultCode::NotRunning.code()
        {
            self.exitstatus = exit::NOT_RUNNING;
        } else {
            self.exitstatus = exit::GENERIC;
        }
    }

    // ---------------------------------------------------------------- dispatch

    /// Runs one command line. Returns true when the shell should stop (EOF, quit, exit).
    pub fn onecmd(&mut self, line: &str) -> bool {
        let line = line.trim();
        if line.is_empty() {
            return false;
        }
        let line = match line.strip_prefix('?') {
            Some(rest) => format!("help {rest}"),
            None => line.to_string(),
        };
        let split = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        let (cmd, arg) = (&line[..split], line[split..].trim());
        self.complete_info = None;
        self.reset_client();
        let Some(command) = table::find(cmd) else {
            self.output(&format!("*** Unknown syntax: {line}"));
            self.exitstatus = exit::GENERIC;
            return false;
        };
        let arg = arg.to_string();
        self.hinted.clear();
        let mut asked = false;
        loop {
            match (command.run)(self, &arg) {
                Ok(()) => return command.ends_shell,
                Err(CtlError::Http { status: 401, .. }) => {
                    self.output("Server requires authentication");
                    // the shell asks once per command line; a second refusal (or a
                    // one-shot command) is reported, not asked again
                    if self.settings.interactive && !asked {
                        asked = true;
                        let Some(user) = self.input.login_name("Username:") else {
                            self.output("");
                            self.hint("hint: no user name given (end of input)");
                            self.exitstatus = exit::NO_PERMISSION;
                            return false;
                        };
                        let Some(pass) = self.input.getpass("Password:") else {
                            self.output("");
                            self.hint("hint: no password given (end of input)");
                            self.exitstatus = exit::NO_PERMISSION;
                            return false;
                        };
                        self.output("");
                        self.settings.username = Some(user);
                        self.settings.password = Some(pass);
                        self.reset_client();
                        self.complete_info = None;
                        continue;
                    }
                    let hint = crate::hints::unauthorized_hint(
                        self.settings.username.as_deref(),
                        self.settings.password.as_deref(),
                    );
                    self.hint(&hint);
                    self.exitstatus = exit::NO_PERMISSION;
                    return false;
                }
                Err(e) => {
                    self.report(&e);
                    return false;
                }
            }
        }
    }

    fn report(&mut self, e: &CtlError) {
        match self.report_connection(e) {
            // the reference exits 1 here (after a Python exception line)
            Some(crate::hints::ConnProblem::PermissionDenied) => {
                self.exitstatus = exit::NO_PERMISSION
            }
            Some(crate::hints::ConnProblem::Tls(t)) => self.exitstatus = t.exit_status(),
            Some(_) => self.exitstatus = exit::GENERIC,
            None => {
                self.output(&e.generic_line());
                self.exitstatus = exit::GENERIC;
                // supervisor-rs roles (docs/security.md): say what to do, on stderr.
                if let CtlError::Fault(f) = e {
                    if f.string.contains("not allowed for role") {
                        self.hint(&token::role_hint(&f.string));
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- upcheck

    /// Checks that the server speaks our API version; prints the reference's messages.
    pub fn upcheck(&mut self) -> Result<bool, CtlError> {
        match self.call("supervisor.getVersion", &[]) {
            Ok(v) => {
                let api = rpc::value_to_string(&v);
                if api != API_VERSION {
                    self.output(&format!(
                        "Sorry, this version of supervisorctl expects to talk to a server with API version {API_VERSION}, but the remote version is {api}."
                    ));
                    self.exitstatus = exit::NOT_INSTALLED;
                    return Ok(false);
                }
                Ok(true)
            }
            Err(CtlError::Fault(f)) => {
                if f.code == FaultCode::UnknownMethod.code() {
                    self.output("Sorry, supervisord responded but did not recognize the supervisor namespace commands that supervisorctl uses to control it.  Please check that the [rpcinterface:supervisor] section is enabled in the configuration file (see sample.conf).");
                    self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                    return Ok(false);
                }
                self.exitstatus = exit::GENERIC;
                Err(CtlError::Fault(f))
            }
            Err(e @ CtlError::Io(_)) => match self.report_connection(&e) {
                Some(crate::hints::ConnProblem::Refused) => {
                    self.exitstatus = exit::INSUFFICIENT_PRIVILEGES;
                    Ok(false)
                }
                Some(crate::hints::ConnProblem::NoSuchFile) => {
                    self.exitstatus = exit::NOT_RUNNING;
                    Ok(false)
                }
                Some(crate::hints::ConnProblem::PermissionDenied) => {
                    self.exitstatus = exit::NO_PERMISSION;
                    Ok(false)
                }
                Some(crate::hints::ConnProblem::Tls(t)) => {
                    self.exitstatus = t.exit_status();
                    Ok(false)
                }
                None => {
                    self.exitstatus = exit::GENERIC;
                    Err(e)
                }
            },
            Err(e) => Err(e),
        }
    }
}

/// Whether `cmd` names a command (an alias such as `EOF` included).
pub fn is_command(cmd: &str) -> bool {
    table::find(cmd).is_some()
}

#[cfg(test)]
mod tests;
