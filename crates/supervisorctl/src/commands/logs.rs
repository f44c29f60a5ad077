//! Log commands: `tail` (one-shot and `-f`), `maintail`, and `fg` (the foreground mode).

use supervisor_protocol::{FaultCode, ProcessState, Value};

use super::{exit, Controller};
use crate::error::{py_repr, CtlError};
use crate::rpc::{self, i, member_int, s};

/// Python's `int()` of a command argument (sign, digits, single underscores); a number
/// beyond `i64` saturates (it is then refused as beyond the XML-RPC limits).
pub fn py_int(text: &str) -> Option<i64> {
    supervisor_protocol::pyint::parse_saturating(text)
}

/// `n` as an XML-RPC int, or the reference's `OverflowError` when it does not fit.
fn xmlrpc_int(n: i64) -> Result<Value, CtlError> {
    i32::try_from(n).map(i).map_err(|_| CtlError::Other {
        class: "OverflowError".into(),
        message: "int exceeds XML-RPC limits".into(),
    })
}

impl Controller {
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

    pub(super) fn do_tail(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_maintail(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_fg(&mut self, arg: &str) -> Result<(), CtlError> {
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
}
