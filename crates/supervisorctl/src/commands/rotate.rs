//! `rotate <name>...|all`: rotate log files now (supervisor-rs), through the extension
//! method `supervisor_rs.rotateLogs`.

use supervisor_protocol::namespec::make_namespec;
use supervisor_protocol::FaultCode;

use super::{exit, Controller};
use crate::error::CtlError;
use crate::rpc::{array, member, member_str, s};

/// `help rotate`.
pub const HELP: &str = "rotate <name>\t\tRotate a process' log files now\nrotate <gname>:*\tRotate the log files of every process in a group\nrotate <name> <name>\tRotate the log files of several processes\nrotate all\t\tRotate every process' log files and the main log\n\t\t\t(empty files and /dev/stdout-like targets are left alone)";

impl Controller {
    pub(super) fn do_rotate(&mut self, arg: &str) -> Result<(), CtlError> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: rotate requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("rotate");
            return Ok(());
        }
        self.client()?;
        let names = if names.contains(&"all") {
            vec!["all"]
        } else {
            names
        };
        for name in names {
            match self.call("supervisor_rs.rotateLogs", &[s(name)]) {
                Ok(v) => {
                    for r in array(v) {
                        let group = member_str(&r, "group")?;
                        let pname = member_str(&r, "name")?;
                        let status = match member(&r, "status")? {
                            supervisor_protocol::Value::Int(i) => *i,
                            _ => FaultCode::Failed.code(),
                        };
                        let text = member_str(&r, "description")?;
                        let who = if group.is_empty() {
                            pname
                        } else {
                            make_namespec(&group, &pname)
                        };
                        if status == FaultCode::Success.code() {
                            self.output(&format!("{who}: {text}"));
                        } else {
                            self.output(&format!("{who}: ERROR ({text})"));
                            self.set_exitstatus_from_fault(status, None);
                        }
                    }
                }
                Err(CtlError::Fault(f)) if f.code == FaultCode::BadName.code() => {
                    self.output(&format!("{name}: ERROR (no such process)"));
                    self.hint_if_group(name);
                    self.set_exitstatus_from_fault(f.code, None);
                }
                Err(CtlError::Fault(f)) if f.code == FaultCode::UnknownMethod.code() => {
                    self.output("Error: the daemon has no log rotation (supervisor_rs.rotateLogs)");
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
