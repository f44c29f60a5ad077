//! Configuration commands: `avail`, `reread`, `add`, `remove`, `update`.

use supervisor_protocol::{FaultCode, Value};

use super::{exit, Controller};
use crate::error::CtlError;
use crate::namespec::make_namespec;
use crate::rpc::{self, array, member_int, member_str, member_truthy, s};
use crate::text;

/// `reloadConfig`'s (added, changed, removed) group names.
type Changes = (Vec<String>, Vec<String>, Vec<String>);

impl Controller {
    // ---------------------------------------------------------------- config commands

    pub(super) fn do_avail(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_reread(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_add(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_remove(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_update(&mut self, arg: &str) -> Result<(), CtlError> {
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
}
