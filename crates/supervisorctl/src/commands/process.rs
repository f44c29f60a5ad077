//! Process control: `status`, `pid`, `start`, `stop`, `signal`, `restart`, `clear`.

use supervisor_protocol::{FaultCode, ProcessState, Value};

use super::{exit, Controller};
use crate::error::CtlError;
use crate::namespec::{make_namespec, split_namespec};
use crate::rpc::{array, member, member_int, member_str, s};
use crate::{rpc, text};

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

/// The namespec the reference prints for a `clear` of `group` / `group:process`
/// (`group:None` for a whole group).
fn namespec_opt(group: &str, process: &Option<String>) -> String {
    make_namespec(group, process.as_deref().unwrap_or("None"))
}

impl Controller {
    // ---------------------------------------------------------------- status

    pub(super) fn do_status(&mut self, arg: &str) -> Result<(), CtlError> {
        let mut names: Vec<&str> = arg.split_whitespace().collect();
        let json = names.contains(&"--json");
        let long = names.iter().any(|n| *n == "-l" || *n == "--long");
        names.retain(|n| !matches!(*n, "--json" | "-l" | "--long"));
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
        // `-l` needs the stats (a server without them: one clear line, exit 3); plain
        // `--json` adds them when the server has them, `null` otherwise.
        let stats = if long {
            match self.stats_by_namespec()? {
                Some(s) => Some(s),
                None => return Ok(()),
            }
        } else if json {
            match self.call(super::top::STATS_METHOD, &[]) {
                Ok(v) => Some(
                    array(v)
                        .iter()
                        .filter_map(|v| super::top::Row::from_value(v).ok())
                        .map(|r| (r.namespec.clone(), r))
                        .collect(),
                ),
                Err(CtlError::Fault(_)) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        if json {
            let list = matching
                .iter()
                .map(|v| {
                    let mut obj = text::process_json(v)?;
                    if let serde_json::Value::Object(m) = &mut obj {
                        let ns = m
                            .get("namespec")
                            .and_then(|n| n.as_str())
                            .unwrap_or_default()
                            .to_string();
                        let st = stats
                            .as_ref()
                            .and_then(|s| s.get(&ns))
                            .map(super::top::stats_json);
                        m.insert("stats".into(), st.unwrap_or(serde_json::Value::Null));
                    }
                    Ok(obj)
                })
                .collect::<Result<Vec<_>, CtlError>>()?;
            let doc = serde_json::to_string_pretty(&serde_json::Value::Array(list))
                .unwrap_or_else(|_| "[]".into());
            self.output(&doc);
        } else if let Some(stats) = stats.as_ref().filter(|_| long) {
            for l in super::top::status_long_lines(&matching, stats)? {
                self.output(&l);
            }
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

    pub(super) fn do_pid(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_start(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_stop(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_signal(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_restart(&mut self, arg: &str) -> Result<(), CtlError> {
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

    pub(super) fn do_clear(&mut self, arg: &str) -> Result<(), CtlError> {
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
}
