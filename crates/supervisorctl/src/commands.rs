//! The commands: the same outputs, error lines and exit statuses as the reference client.
//!
//! [`Controller::onecmd`] takes one command line (as typed in the shell, or the one-shot
//! arguments joined by spaces), runs it and records the exit status. Every command talks
//! to the server through the [`Rpc`] trait, so the logic is testable without a server.

use std::io::Write;

use supervisor_protocol::{FaultCode, ProcessState, Value, API_VERSION};

use crate::error::{py_repr, CtlError};
use crate::options::Settings;
use crate::rpc::{self, array, i, member, member_int, member_str, member_truthy, s, Rpc};
use crate::text;

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

/// Commands listed by `help` (the reference's default plugin, sorted).
pub const COMMANDS: &[&str] = &[
    "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
    "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
    "version",
];

/// Our commands beyond the reference's, listed by `help` after the reference's block.
pub const EXTRA_COMMANDS: &[&str] = &["completions"];

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

/// `reloadConfig`'s (added, changed, removed) group names.
type Changes = (Vec<String>, Vec<String>, Vec<String>);

/// One result of a group/all operation (or a fault turned into one).
struct OpResult {
    name: String,
    group: String,
    status: i32,
    description: String,
}

impl OpResult {
    fn from_value(v: &Value) -> Result<OpResult, CtlError> {
        Ok(OpResult {
            name: member_str(v, "name")?,
            group: member_str(v, "group")?,
            status: member_int(v, "status")? as i32,
            description: member(v, "description")
                .map(rpc::value_to_string)
                .unwrap_or_default(),
        })
    }

    fn from_fault(code: i32, string: &str, group: &str, process: &Option<String>) -> OpResult {
        OpResult {
            name: process.clone().unwrap_or_else(|| "None".into()),
            group: group.to_string(),
            status: code,
            description: string.to_string(),
        }
    }

    fn namespec(&self) -> String {
        make_namespec(&self.group, &self.name)
    }
}

/// `group:process`, or just `process` when both names are equal.
pub fn make_namespec(group: &str, process: &str) -> String {
    if group == process {
        process.to_string()
    } else {
        format!("{group}:{process}")
    }
}

/// `g:p` → (g, Some(p)); `g:` / `g:*` → (g, None); `p` → (p, Some(p)).
pub fn split_namespec(spec: &str) -> (String, Option<String>) {
    match spec.split_once(':') {
        Some((g, p)) => {
            let p = if p.is_empty() || p == "*" {
                None
            } else {
                Some(p.to_string())
            };
            (g.to_string(), p)
        }
        None => (spec.to_string(), Some(spec.to_string())),
    }
}

fn namespec_opt(group: &str, process: &Option<String>) -> String {
    make_namespec(group, process.as_deref().unwrap_or("None"))
}

/// Python's `int()` of a command argument (sign, digits, single underscores); a number
/// beyond `i64` saturates (it is then refused as beyond the XML-RPC limits).
pub fn py_int(text: &str) -> Option<i64> {
    supervisor_protocol::pyint::parse_saturating(text)
}

fn xmlrpc_int(n: i64) -> Result<Value, CtlError> {
    i32::try_from(n).map(i).map_err(|_| CtlError::Other {
        class: "OverflowError".into(),
        message: "int exceeds XML-RPC limits".into(),
    })
}

/// The scheme `urllib.parse.urlparse` would find (lower-cased), or "".
pub fn url_scheme(url: &str) -> String {
    if let Some(colon) = url.find(':') {
        let scheme = &url[..colon];
        if scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return scheme.to_ascii_lowercase();
        }
    }
    String::new()
}

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
        if cmd.is_empty() || !is_command(cmd) {
            self.output(&format!("*** Unknown syntax: {line}"));
            self.exitstatus = exit::GENERIC;
            return false;
        }
        let (cmd, arg) = (cmd.to_string(), arg.to_string());
        self.hinted.clear();
        let mut asked = false;
        loop {
            match self.dispatch(&cmd, &arg) {
                Ok(stop) => return stop,
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
            Some(_) => self.exitstatus = exit::GENERIC,
            None => {
                self.output(&e.generic_line());
                self.exitstatus = exit::GENERIC;
            }
        }
    }

    fn dispatch(&mut self, cmd: &str, arg: &str) -> Result<bool, CtlError> {
        match cmd {
            "help" => self.do_help(arg),
            "EOF" | "quit" | "exit" => {
                self.output("");
                return Ok(true);
            }
            "add" => self.do_add(arg)?,
            "avail" => self.do_avail(arg)?,
            "clear" => self.do_clear(arg)?,
            "fg" => self.do_fg(arg)?,
            "maintail" => self.do_maintail(arg)?,
            "open" => self.do_open(arg)?,
            "pid" => self.do_pid(arg)?,
            "reload" => self.do_reload(arg)?,
            "remove" => self.do_remove(arg)?,
            "reread" => self.do_reread(arg)?,
            "restart" => self.do_restart(arg)?,
            "shutdown" => self.do_shutdown(arg)?,
            "signal" => self.do_signal(arg)?,
            "start" => self.do_start(arg)?,
            "status" => self.do_status(arg)?,
            "stop" => self.do_stop(arg)?,
            "tail" => self.do_tail(arg)?,
            "update" => self.do_update(arg)?,
            "version" => self.do_version(arg)?,
            "completions" => self.do_completions(arg),
            _ => unreachable!("is_command checked"),
        }
        Ok(false)
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
                None => {
                    self.exitstatus = exit::GENERIC;
                    Err(e)
                }
            },
            Err(e) => Err(e),
        }
    }

    // ---------------------------------------------------------------- help

    fn do_help(&mut self, arg: &str) {
        if arg.trim() == "help" {
            self.output("help\t\tPrint a list of available actions");
            self.output("help <action>\tPrint help for <action>");
            return;
        }
        if arg.is_empty() {
            self.output("");
            let header = "default commands (type help <topic>):";
            let mut text = format!("{header}\n{}\n", "=".repeat(header.len()));
            text.push_str(&text::columnize(COMMANDS, 79));
            text.push('\n');
            // ours, after the reference's block (which stays as it is)
            let header = "supervisor-rs commands (type help <topic>):";
            text.push_str(&format!("{header}\n{}\n", "=".repeat(header.len())));
            text.push_str(&text::columnize(EXTRA_COMMANDS, 79));
            text.push('\n');
            let _ = self.out.write_all(text.as_bytes());
            let _ = self.out.flush();
            return;
        }
        match text::help_text(arg) {
            Some(t) => self.output(t),
            None => self.output(&format!("*** No help on {arg}")),
        }
    }

    fn help(&mut self, cmd: &str) {
        if let Some(t) = text::help_text(cmd) {
            self.output(t);
        }
    }

    // ---------------------------------------------------------------- status

    fn do_status(&mut self, arg: &str) -> Result<(), CtlError> {
        let mut names: Vec<&str> = arg.split_whitespace().collect();
        let json = names.contains(&"--json");
        names.retain(|n| *n != "--json");
        if !self.upcheck()? {
            if self.exitstatus != exit::NO_PERMISSION {
                self.exitstatus = exit::STATUS_UNKNOWN;
            }
            return Ok(());
        }
        let all = array(self.call("supervisor.getAllProcessInfo", &[])?);
        // the names for group hints, without asking the server again
        self.complete_info = Some(
            all.iter()
                .filter_map(|v| Some((member_str(v, "group").ok()?, member_str(v, "name").ok()?)))
                .collect(),
        );
        let matching: Vec<&Value> = if names.is_empty() || names.contains(&"all") {
            all.iter().collect()
        } else {
            let mut m = Vec::new();
            for name in &names {
                let (g, p) = split_namespec(name);
                let mut bad = true;
                for info in &all {
                    let mut matched = member_str(info, "group")? == g;
                    if let Some(p) = &p {
                        matched = matched && member_str(info, "name")? == *p;
                    }
                    if matched {
                        bad = false;
                        m.push(info);
                    }
                }
                if bad {
                    let msg = match p {
                        None => format!("{g}: ERROR (no such group)"),
                        Some(_) => format!("{name}: ERROR (no such process)"),
                    };
                    if json {
                        eprintln!("{msg}");
                    } else {
                        self.output(&msg);
                    }
                    self.exitstatus = exit::STATUS_UNKNOWN;
                    if p.is_some() {
                        self.hint_if_group(name);
                    }
                }
            }
            m
        };
        if json {
            let list = matching
                .iter()
                .map(|v| text::process_json(v))
                .collect::<Result<Vec<_>, _>>()?;
            let doc = serde_json::to_string_pretty(&serde_json::Value::Array(list))
                .unwrap_or_else(|_| "[]".into());
            self.output(&doc);
        } else {
            let lines = text::status_lines(&matching, self.color)?;
            for l in lines {
                self.output(&l);
            }
        }
        for info in matching {
            let st = member_int(info, "state")? as i32;
            if ProcessState::from_code(st).is_some_and(|s| s.is_stopped()) {
                self.exitstatus = exit::STATUS_NOT_RUNNING;
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- pid

    fn do_pid(&mut self, arg: &str) -> Result<(), CtlError> {
        self.client()?;
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            let pid = self.call("supervisor.getPID", &[])?;
            self.output(&rpc::value_to_string(&pid));
        } else if names.contains(&"all") {
            for info in array(self.call("supervisor.getAllProcessInfo", &[])?) {
                let pid = rpc::value_to_string(member(&info, "pid")?);
                self.output(&pid);
            }
        } else {
            for name in names {
                match self.call("supervisor.getProcessInfo", &[s(name)]) {
                    Ok(info) => {
                        let pid = member_int(&info, "pid")?;
                        self.output(&rpc::value_to_string(member(&info, "pid")?));
                        if pid == 0 {
                            self.exitstatus = exit::NOT_RUNNING;
                        }
                    }
                    Err(CtlError::Fault(f)) => {
                        self.exitstatus = exit::GENERIC;
                        if f.code == FaultCode::BadName.code() {
                            self.output(&format!("No such process {name}"));
                            self.hint_if_group(name);
                        } else {
                            return Err(CtlError::Fault(f));
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- start / stop / signal

    fn start_result(&self, r: &OpResult) -> Result<String, CtlError> {
        let name = r.namespec();
        let why = match FaultCode::from_code(r.status) {
            Some(FaultCode::BadName) => "no such process",
            Some(FaultCode::NoFile) => "no such file",
            Some(FaultCode::NotExecutable) => "file is not executable",
            Some(FaultCode::AlreadyStarted) => "already started",
            Some(FaultCode::SpawnError) => "spawn error",
            Some(FaultCode::AbnormalTermination) => "abnormal termination",
            Some(FaultCode::Success) => return Ok(format!("{name}: started")),
            _ => {
                return Err(CtlError::value_error(format!(
                    "Unknown result code {} for {name}",
                    r.status
                )))
            }
        };
        Ok(format!("{name}: ERROR ({why})"))
    }

    fn signal_result(&self, r: &OpResult, success: &str) -> Result<String, CtlError> {
        let name = r.namespec();
        let why = match FaultCode::from_code(r.status) {
            Some(FaultCode::BadName) => "no such process",
            Some(FaultCode::BadSignal) => "bad signal name",
            Some(FaultCode::NotRunning) => "not running",
            Some(FaultCode::Success) => return Ok(format!("{name}: {success}")),
            Some(FaultCode::Failed) => return Ok(r.description.clone()),
            _ => {
                return Err(CtlError::value_error(format!(
                    "Unknown result code {} for {name}",
                    r.status
                )))
            }
        };
        Ok(format!("{name}: ERROR ({why})"))
    }

    fn print_results(
        &mut self,
        results: Value,
        kind: &str,
        ignored: Option<FaultCode>,
    ) -> Result<(), CtlError> {
        for v in array(results) {
            let r = OpResult::from_value(&v)?;
            let line = match kind {
                "start" => self.start_result(&r)?,
                "stop" => self.signal_result(&r, "stopped")?,
                "signal" => self.signal_result(&r, "signalled")?,
                _ => self.clear_result(&r)?,
            };
            self.output(&line);
            self.set_exitstatus_from_fault(r.status, ignored);
        }
        Ok(())
    }

    fn do_start(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        self.client()?;
        if names.is_empty() {
            self.output("Error: start requires a process name");
            self.exitstatus = exit::INVALID_ARGS;
            self.help("start");
            return Ok(());
        }
        let ignored = Some(FaultCode::AlreadyStarted);
        if names.contains(&"all") {
            let results = self.call("supervisor.startAllProcesses", &[])?;
            return self.print_results(results, "start", ignored);
        }
        for name in names {
            let (g, p) = split_namespec(name);
            match p {
                None => match self.call("supervisor.startProcessGroup", &[s(&g)]) {
                    Ok(results) => self.print_results(results, "start", ignored)?,
                    Err(CtlError::Fault(f)) if f.code == FaultCode::BadName.code() => {
                        self.output(&format!("{g}: ERROR (no such group)"));
                        self.exitstatus = exit::INVALID_ARGS;
                    }
                    Err(e) => {
                        if matches!(e, CtlError::Fault(_)) {
                            self.exitstatus = exit::GENERIC;
                        }
                        return Err(e);
                    }
                },
                Some(ref pn) => match self.call("supervisor.startProcess", &[s(name)]) {
                    Ok(_) => self.output(&format!("{}: started", make_namespec(&g, pn))),
                    Err(CtlError::Fault(f)) => {
                        let r = OpResult::from_fault(f.code, &f.string, &g, &p);
                        let line = self.start_result(&r)?;
                        self.output(&line);
                        if f.code == FaultCode::BadName.code() {
                            self.hint_if_group(name);
                        }
                        self.set_exitstatus_from_fault(r.status, ignored);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    fn do_stop(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        self.client()?;
        if names.is_empty() {
            self.output("Error: stop requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("stop");
            return Ok(());
        }
        let ignored = Some(FaultCode::NotRunning);
        if names.contains(&"all") {
            let results = self.call("supervisor.stopAllProcesses", &[])?;
            return self.print_results(results, "stop", ignored);
        }
        for name in names {
            let (g, p) = split_namespec(name);
            match p {
                None => match self.call("supervisor.stopProcessGroup", &[s(&g)]) {
                    Ok(results) => self.print_results(results, "stop", ignored)?,
                    Err(CtlError::Fault(f)) => {
                        self.exitstatus = exit::GENERIC;
                        if f.code == FaultCode::BadName.code() {
                            self.output(&format!("{g}: ERROR (no such group)"));
                        } else {
                            return Err(CtlError::Fault(f));
                        }
                    }
                    Err(e) => return Err(e),
                },
                Some(ref pn) => match self.call("supervisor.stopProcess", &[s(name)]) {
                    Ok(_) => self.output(&format!("{}: stopped", make_namespec(&g, pn))),
                    Err(CtlError::Fault(f)) => {
                        let r = OpResult::from_fault(f.code, &f.string, &g, &p);
                        let line = self.signal_result(&r, "stopped")?;
                        self.output(&line);
                        if f.code == FaultCode::BadName.code() {
                            self.hint_if_group(name);
                        }
                        self.set_exitstatus_from_fault(r.status, ignored);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    fn do_signal(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        if args.len() < 2 {
            self.output("Error: signal requires a signal name and a process name");
            self.help("signal");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let sig = args[0];
        let names = &args[1..];
        self.client()?;
        if names.contains(&"all") {
            let results = self.call("supervisor.signalAllProcesses", &[s(sig)])?;
            return self.print_results(results, "signal", None);
        }
        for name in names {
            let (g, p) = split_namespec(name);
            match p {
                None => match self.call("supervisor.signalProcessGroup", &[s(&g), s(sig)]) {
                    Ok(results) => self.print_results(results, "signal", None)?,
                    Err(CtlError::Fault(f)) if f.code == FaultCode::BadName.code() => {
                        self.output(&format!("{g}: ERROR (no such group)"));
                        self.exitstatus = exit::GENERIC;
                    }
                    Err(e) => return Err(e),
                },
                Some(ref pn) => match self.call("supervisor.signalProcess", &[s(name), s(sig)]) {
                    Ok(_) => self.output(&format!("{}: signalled", make_namespec(&g, pn))),
                    Err(CtlError::Fault(f)) => {
                        let r = OpResult::from_fault(f.code, &f.string, &g, &p);
                        let line = self.signal_result(&r, "signalled")?;
                        self.output(&line);
                        if f.code == FaultCode::BadName.code() {
                            self.hint_if_group(name);
                        }
                        self.set_exitstatus_from_fault(r.status, None);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    fn do_restart(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        if arg.split_whitespace().next().is_none() {
            self.output("Error: restart requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("restart");
            return Ok(());
        }
        self.do_stop(arg)?;
        self.do_start(arg)
    }

    // ---------------------------------------------------------------- clear

    fn clear_result(&self, r: &OpResult) -> Result<String, CtlError> {
        let name = r.namespec();
        match FaultCode::from_code(r.status) {
            Some(FaultCode::BadName) => Ok(format!("{name}: ERROR (no such process)")),
            Some(FaultCode::Failed) => Ok(format!("{name}: ERROR (failed)")),
            Some(FaultCode::Success) => Ok(format!("{name}: cleared")),
            _ => Err(CtlError::value_error(format!(
                "Unknown result code {} for {name}",
                r.status
            ))),
        }
    }

    fn do_clear(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: clear requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("clear");
            return Ok(());
        }
        self.client()?;
        if names.contains(&"all") {
            let results = self.call("supervisor.clearAllProcessLogs", &[])?;
            return self.print_results(results, "clear", None);
        }
        for name in names {
            let (g, p) = split_namespec(name);
            match self.call("supervisor.clearProcessLogs", &[s(name)]) {
                Ok(_) => self.output(&format!("{}: cleared", namespec_opt(&g, &p))),
                Err(CtlError::Fault(f)) => {
                    let r = OpResult::from_fault(f.code, &f.string, &g, &p);
                    let line = self.clear_result(&r)?;
                    self.output(&line);
                    if f.code == FaultCode::BadName.code() {
                        self.hint_if_group(name);
                    }
                    self.set_exitstatus_from_fault(r.status, None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- tail / maintail

    fn tailf(&mut self, path: &str) -> Result<(), CtlError> {
        self.output("==> Press Ctrl-C to exit <==");
        let settings = self.settings.clone();
        let mut streamer = std::mem::replace(&mut self.streamer, Box::new(|_, _, _| Ok(true)));
        let r = streamer(&settings, path, &mut *self.out);
        self.streamer = streamer;
        if !r? {
            // the server refused the stream (e.g. 404: no log file yet)
            self.exitstatus = exit::GENERIC;
        }
        Ok(())
    }

    fn do_tail(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut args: Vec<&str> = arg.split_whitespace().collect();
        if args.is_empty() {
            self.output("Error: too few arguments");
            self.exitstatus = exit::GENERIC;
            self.help("tail");
            return Ok(());
        }
        if args.len() > 3 {
            self.output("Error: too many arguments");
            self.exitstatus = exit::GENERIC;
            self.help("tail");
            return Ok(());
        }
        let modifier = if args[0].starts_with('-') {
            Some(args.remove(0))
        } else {
            None
        };
        let (name, channel) = if args.len() == 1 {
            (args[0].to_string(), "stdout".to_string())
        } else if !args.is_empty() {
            let channel = args[args.len() - 1].to_lowercase();
            if channel != "stderr" && channel != "stdout" {
                self.output(&format!("Error: bad channel {}", py_repr(&channel)));
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            (args[0].to_string(), channel)
        } else {
            self.output("Error: tail requires process name");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        };
        let mut bytes: Option<i64> = Some(1600);
        if let Some(m) = modifier {
            let what = &m[1..];
            if what == "f" {
                bytes = None;
            } else {
                match py_int(what) {
                    Some(n) => bytes = Some(n),
                    None => {
                        self.output(&format!("Error: bad argument {m}"));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            }
        }
        self.client()?;
        let Some(bytes) = bytes else {
            // the reference streams a 404 page's error and exits 0 for an unknown name;
            // ask first, so the answer is the usual line and status
            match self.call("supervisor.getProcessInfo", &[s(&name)]) {
                Ok(_) => {}
                Err(CtlError::Fault(f)) if f.code == FaultCode::BadName.code() => {
                    self.output(&format!("{name}: ERROR (no such process)"));
                    self.exitstatus = exit::GENERIC;
                    self.hint_if_group(&name);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
            return self.tailf(&format!("/logtail/{name}/{channel}"));
        };
        let method = if channel == "stdout" {
            "supervisor.readProcessStdoutLog"
        } else {
            "supervisor.readProcessStderrLog"
        };
        let offset = xmlrpc_int(-bytes)?;
        match self.call(method, &[s(&name), offset, i(0)]) {
            Ok(v) => self.output(&rpc::value_to_string(&v)),
            Err(CtlError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                let why = match FaultCode::from_code(f.code) {
                    Some(FaultCode::NoFile) => "no log file",
                    Some(FaultCode::Failed) => "unknown error reading log",
                    Some(FaultCode::BadName) => "no such process name",
                    _ => return Err(CtlError::Fault(f)),
                };
                self.output(&format!("{name}: ERROR ({why})"));
                if f.code == FaultCode::BadName.code() {
                    self.hint_if_group(&name);
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_maintail(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let bytes: i64 = if args.len() > 1 {
            self.output("Error: too many arguments");
            self.exitstatus = exit::GENERIC;
            self.help("maintail");
            return Ok(());
        } else if args.len() == 1 {
            match args[0].strip_prefix('-') {
                Some("f") => return self.tailf("/mainlogtail"),
                Some(what) => match py_int(what) {
                    Some(n) => n,
                    None => {
                        self.output(&format!("Error: bad argument {}", args[0]));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                },
                None => {
                    self.output(&format!("Error: bad argument {}", args[0]));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
            }
        } else {
            1600
        };
        self.client()?;
        let offset = xmlrpc_int(-bytes)?;
        match self.call("supervisor.readLog", &[offset, i(0)]) {
            Ok(v) => self.output(&rpc::value_to_string(&v)),
            Err(CtlError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                let why = match FaultCode::from_code(f.code) {
                    Some(FaultCode::NoFile) => "no log file",
                    Some(FaultCode::Failed) => "unknown error reading log",
                    _ => return Err(CtlError::Fault(f)),
                };
                self.output(&format!("supervisord: ERROR ({why})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    // ---------------------------------------------------------------- shutdown / reload

    fn confirm(&mut self, question: &str) -> Result<bool, CtlError> {
        if !self.settings.interactive {
            return Ok(true);
        }
        match self.input.raw_input(question) {
            Some(a) => Ok(a.to_lowercase().starts_with('y')),
            None => Err(eof_error()),
        }
    }

    fn do_shutdown(&mut self, arg: &str) -> Result<(), CtlError> {
        if !arg.is_empty() {
            self.output("Error: shutdown accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("shutdown");
            return Ok(());
        }
        if !self.confirm("Really shut the remote supervisord process down y/N? ")? {
            return Ok(());
        }
        match self.call("supervisor.shutdown", &[]) {
            Ok(_) => self.output("Shut down"),
            Err(CtlError::Fault(f)) => {
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                } else {
                    self.exitstatus = exit::GENERIC;
                    return Err(CtlError::Fault(f));
                }
            }
            Err(CtlError::Io(e)) => {
                self.exitstatus = exit::GENERIC;
                let url = self.settings.serverurl.clone();
                match e.raw_os_error() {
                    Some(libc::ECONNREFUSED) => self.output(&format!(
                        "ERROR: {url} refused connection (already shut down?)"
                    )),
                    Some(libc::ENOENT) => {
                        self.output(&format!("ERROR: {url} no such file (already shut down?)"))
                    }
                    _ => return Err(CtlError::Io(e)),
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_reload(&mut self, arg: &str) -> Result<(), CtlError> {
        if !arg.is_empty() {
            self.output("Error: reload accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("reload");
            return Ok(());
        }
        if !self.confirm("Really restart the remote supervisord process y/N? ")? {
            return Ok(());
        }
        match self.call("supervisor.restart", &[]) {
            Ok(_) => self.output("Restarted supervisord"),
            Err(CtlError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                } else {
                    return Err(CtlError::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    // ---------------------------------------------------------------- config commands

    fn do_avail(&mut self, arg: &str) -> Result<(), CtlError> {
        let json = arg == "--json";
        if !arg.is_empty() && !json {
            self.output("Error: avail accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("avail");
            return Ok(());
        }
        let infos = match self.call("supervisor.getAllConfigInfo", &[]) {
            Ok(v) => array(v),
            Err(CtlError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: supervisor shutting down");
                    return Ok(());
                }
                return Err(CtlError::Fault(f));
            }
            Err(e) => return Err(e),
        };
        if json {
            let list = infos
                .iter()
                .map(text::config_json)
                .collect::<Result<Vec<_>, _>>()?;
            let doc = serde_json::to_string_pretty(&serde_json::Value::Array(list))
                .unwrap_or_else(|_| "[]".into());
            self.output(&doc);
            return Ok(());
        }
        for info in &infos {
            let name = make_namespec(&member_str(info, "group")?, &member_str(info, "name")?);
            let inuse = if member_truthy(info, "inuse")? {
                "in use"
            } else {
                "avail"
            };
            let auto = if member_truthy(info, "autostart")? {
                "auto"
            } else {
                "manual"
            };
            let prio = format!(
                "{}:{}",
                member_str(info, "group_prio")?,
                member_str(info, "process_prio")?
            );
            self.output(&format!("{name:<32} {inuse:<9} {auto:<9} {prio}"));
        }
        Ok(())
    }

    fn reload_config(&mut self) -> Result<Changes, CtlError> {
        let v = self.call("supervisor.reloadConfig", &[])?;
        let first = array(v).into_iter().next().ok_or_else(|| CtlError::Other {
            class: "IndexError".into(),
            message: "list index out of range".into(),
        })?;
        let parts = array(first);
        if parts.len() != 3 {
            return Err(CtlError::value_error(format!(
                "not enough values to unpack (expected 3, got {})",
                parts.len()
            )));
        }
        let names = |v: &Value| -> Vec<String> {
            match v {
                Value::Array(a) => a.iter().map(rpc::value_to_string).collect(),
                _ => Vec::new(),
            }
        };
        Ok((names(&parts[0]), names(&parts[1]), names(&parts[2])))
    }

    fn do_reread(&mut self, arg: &str) -> Result<(), CtlError> {
        if !arg.is_empty() {
            self.output("Error: reread accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("reread");
            return Ok(());
        }
        let (added, changed, dropped) = match self.reload_config() {
            Ok(x) => x,
            Err(CtlError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: supervisor shutting down");
                } else if f.code == FaultCode::CantReread.code() {
                    self.output(&format!("ERROR: {}", f.string));
                } else {
                    return Err(CtlError::Fault(f));
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut changes = std::collections::BTreeMap::new();
        for (list, what) in [
            (added, "available"),
            (changed, "changed"),
            (dropped, "disappeared"),
        ] {
            for n in list {
                changes.insert(n, what);
            }
        }
        if changes.is_empty() {
            self.output("No config updates to processes");
        }
        for (n, what) in changes {
            self.output(&format!("{n}: {what}"));
        }
        Ok(())
    }

    fn do_add(&mut self, arg: &str) -> Result<(), CtlError> {
        self.client()?;
        for name in arg.split_whitespace() {
            match self.call("supervisor.addProcessGroup", &[s(name)]) {
                Ok(_) => self.output(&format!("{name}: added process group")),
                Err(CtlError::Fault(f)) => match FaultCode::from_code(f.code) {
                    Some(FaultCode::ShutdownState) => {
                        self.output("ERROR: shutting down");
                        self.exitstatus = exit::GENERIC;
                    }
                    Some(FaultCode::AlreadyAdded) => {
                        self.output("ERROR: process group already active")
                    }
                    Some(FaultCode::BadName) => {
                        self.output(&format!("ERROR: no such process/group: {name}"));
                        self.exitstatus = exit::GENERIC;
                    }
                    _ => {
                        self.exitstatus = exit::GENERIC;
                        return Err(CtlError::Fault(f));
                    }
                },
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn do_remove(&mut self, arg: &str) -> Result<(), CtlError> {
        self.client()?;
        for name in arg.split_whitespace() {
            match self.call("supervisor.removeProcessGroup", &[s(name)]) {
                Ok(_) => self.output(&format!("{name}: removed process group")),
                Err(CtlError::Fault(f)) => {
                    self.exitstatus = exit::GENERIC;
                    match FaultCode::from_code(f.code) {
                        Some(FaultCode::StillRunning) => {
                            self.output(&format!("ERROR: process/group still running: {name}"))
                        }
                        Some(FaultCode::BadName) => {
                            self.output(&format!("ERROR: no such process/group: {name}"))
                        }
                        _ => return Err(CtlError::Fault(f)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn do_update(&mut self, arg: &str) -> Result<(), CtlError> {
        let (added, changed, removed) = match self.reload_config() {
            Ok(x) => x,
            Err(CtlError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                    return Ok(());
                }
                return Err(CtlError::Fault(f));
            }
            Err(e) => return Err(e),
        };
        let mut valid: Vec<String> = Vec::new();
        for n in arg.split_whitespace() {
            if !valid.iter().any(|v| v == n) {
                valid.push(n.to_string());
            }
        }
        if valid.iter().any(|v| v == "all") {
            valid.clear();
        }
        if !valid.is_empty() {
            let mut groups: Vec<String> = Vec::new();
            for info in array(self.call("supervisor.getAllProcessInfo", &[])?) {
                groups.push(member_str(&info, "group")?);
            }
            groups.extend(added.iter().cloned());
            for g in &valid {
                if !groups.contains(g) {
                    self.output(&format!("ERROR: no such group: {g}"));
                    self.exitstatus = exit::GENERIC;
                }
            }
        }
        let wanted = |g: &String| valid.is_empty() || valid.contains(g);
        for g in removed.iter().filter(|g| wanted(g)) {
            let results = array(self.call("supervisor.stopProcessGroup", &[s(g)])?);
            self.output(&format!("{g}: stopped"));
            let mut fails = false;
            for r in &results {
                if member_int(r, "status")? as i32 == FaultCode::Failed.code() {
                    fails = true;
                }
            }
            if fails {
                self.output(&format!("{g}: has problems; not removing"));
                self.exitstatus = exit::GENERIC;
                continue;
            }
            self.call("supervisor.removeProcessGroup", &[s(g)])?;
            self.output(&format!("{g}: removed process group"));
        }
        for g in changed.iter().filter(|g| wanted(g)) {
            self.call("supervisor.stopProcessGroup", &[s(g)])?;
            self.output(&format!("{g}: stopped"));
            self.call("supervisor.removeProcessGroup", &[s(g)])?;
            self.call("supervisor.addProcessGroup", &[s(g)])?;
            self.output(&format!("{g}: updated process group"));
        }
        for g in added.iter().filter(|g| wanted(g)) {
            self.call("supervisor.addProcessGroup", &[s(g)])?;
            self.output(&format!("{g}: added process group"));
        }
        Ok(())
    }

    // ---------------------------------------------------------------- open / version / fg

    fn do_open(&mut self, arg: &str) -> Result<(), CtlError> {
        let url = arg.trim();
        let scheme = url_scheme(url);
        if scheme != "unix" && scheme != "http" {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.settings.serverurl = url.to_string();
        self.reset_client();
        let old = self.exitstatus;
        self.do_status("")?;
        self.exitstatus = old;
        Ok(())
    }

    fn do_version(&mut self, arg: &str) -> Result<(), CtlError> {
        if !arg.is_empty() {
            self.output("Error: version accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("version");
            return Ok(());
        }
        if !self.upcheck()? {
            return Ok(());
        }
        let v = self.call("supervisor.getSupervisorVersion", &[])?;
        self.output(&rpc::value_to_string(&v));
        Ok(())
    }

    fn do_fg(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("ERROR: no process name supplied");
            self.exitstatus = exit::GENERIC;
            self.help("fg");
            return Ok(());
        }
        if names.len() > 1 {
            self.output("ERROR: too many process names supplied");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let name = names[0].to_string();
        let info = match self.call("supervisor.getProcessInfo", &[s(&name)]) {
            Ok(v) => v,
            Err(CtlError::Fault(f)) => {
                if f.code == FaultCode::BadName.code() {
                    self.output("ERROR: bad process name supplied");
                    self.exitstatus = exit::GENERIC;
                    self.hint_if_group(&name);
                } else {
                    let e = CtlError::Fault(f);
                    self.output(&format!("ERROR: {}", e.py_str()));
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if member_int(&info, "state")? as i32 != ProcessState::Running.code() {
            self.output("ERROR: process not running");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.output("==> Press Ctrl-C to exit <==");
        match self.fg_runner.take() {
            Some(mut runner) => {
                let r = runner(self, &name);
                self.fg_runner = Some(runner);
                r
            }
            None => {
                for l in self.fg_lines(&name)? {
                    self.output(&l);
                }
                Ok(())
            }
        }
    }

    /// The input half of `fg`: forwards each line read to the process's stdin until end
    /// of input, an interrupt, or the process stops running. Returns the lines to print
    /// on leaving (the caller stops its output streams first, then prints them).
    pub fn fg_lines(&mut self, name: &str) -> Result<Vec<String>, CtlError> {
        let exiting = || vec!["Exiting foreground".to_string()];
        loop {
            if crate::signals::interrupted() {
                return Ok(exiting());
            }
            let Some(line) = self.input.raw_input("") else {
                return Ok(exiting());
            };
            if crate::signals::interrupted() {
                return Ok(exiting());
            }
            match self.call(
                "supervisor.sendProcessStdin",
                &[s(name), s(&format!("{line}\n"))],
            ) {
                Ok(_) => {}
                Err(CtlError::Fault(f)) => {
                    let first = if f.code == FaultCode::NotRunning.code() {
                        "Process got killed".to_string()
                    } else {
                        format!("ERROR: {}", CtlError::Fault(f).py_str())
                    };
                    return Ok(vec![first, "Exiting foreground".into()]);
                }
                Err(e) => return Err(e),
            }
            let info = self.call("supervisor.getProcessInfo", &[s(name)])?;
            if member_int(&info, "state")? as i32 != ProcessState::Running.code() {
                return Ok(vec![
                    "Process got killed".into(),
                    "Exiting foreground".into(),
                ]);
            }
        }
    }

    // ---------------------------------------------------------------- extras

    fn do_completions(&mut self, arg: &str) {
        match crate::completions::script(arg.trim()) {
            Some(text) => {
                let _ = self.out.write_all(text.as_bytes());
                let _ = self.out.flush();
            }
            None => {
                self.output("Error: completions requires one of: bash, zsh, fish");
                self.exitstatus = exit::INVALID_ARGS;
            }
        }
    }

    // ---------------------------------------------------------------- completion

    /// Completion candidates for the word `text` in `line` (each ends with a space).
    pub fn complete(&mut self, line: &str, text: &str) -> Vec<String> {
        let actions = |text: &str| -> Vec<String> {
            let mut v: Vec<String> = std::iter::once("help")
                .chain(COMMANDS.iter().copied())
                .filter(|a| a.starts_with(text))
                .map(|a| format!("{a} "))
                .collect();
            v.dedup();
            v
        };
        if line.trim().is_empty() {
            return actions(text);
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let action = words[0];
        if words.len() == 1 && !line.ends_with(' ') {
            return actions(text);
        }
        match action {
            "help" => actions(text),
            "add" | "remove" | "update" => {
                let mut groups: Vec<String> = Vec::new();
                for (g, _) in self.complete_info() {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
                groups
                    .into_iter()
                    .filter(|g| g.starts_with(text))
                    .map(|g| format!("{g} "))
                    .collect()
            }
            "clear" | "fg" | "pid" | "restart" | "signal" | "start" | "status" | "stop"
            | "tail" => {
                let mut procs: Vec<String> = Vec::new();
                for (g, n) in self.complete_info() {
                    if text.contains(':') || g != n {
                        procs.push(format!("{g}:{n}"));
                        let star = format!("{g}:*");
                        if !procs.contains(&star) {
                            procs.push(star);
                        }
                    } else {
                        procs.push(n);
                    }
                }
                procs
                    .into_iter()
                    .filter(|p| p.starts_with(text))
                    .map(|p| format!("{p} "))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn complete_info(&mut self) -> Vec<(String, String)> {
        if self.complete_info.is_none() {
            let mut v = Vec::new();
            if let Ok(all) = self.call("supervisor.getAllProcessInfo", &[]) {
                for info in array(all) {
                    if let (Ok(g), Ok(n)) = (member_str(&info, "group"), member_str(&info, "name"))
                    {
                        v.push((g, n));
                    }
                }
            }
            self.complete_info = Some(v);
        }
        self.complete_info.clone().unwrap_or_default()
    }
}

fn eof_error() -> CtlError {
    CtlError::Other {
        class: "EOFError".into(),
        message: "EOF when reading a line".into(),
    }
}

/// Whether `cmd` names a command (the hidden `completions` included).
pub fn is_command(cmd: &str) -> bool {
    cmd == "help" || cmd == "EOF" || cmd == "completions" || COMMANDS.contains(&cmd)
}

#[cfg(test)]
mod tests;
