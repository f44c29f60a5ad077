//! The role table: the least role that may call each XML-RPC method.
//!
//! `read` gets every method that only looks; `operate` adds what changes the state of
//! processes (start, stop, restart through stop+start, signals, stdin, clearing logs);
//! `admin` gets everything, including what changes the daemon itself or its
//! configuration (reread, update, add, remove, reload, shutdown) and the token methods.
//! A name missing here (a method added to the table without a role) is `admin`, and the
//! table test below fails for it.

use supervisor_config::Role;

/// The least role allowed to call `method` (a full `namespace.method` name).
pub fn min_role(method: &str) -> Role {
    role_of(method).unwrap_or(Role::Admin)
}

/// The role listed for `method`, `None` when the table has no row for it.
pub fn role_of(method: &str) -> Option<Role> {
    use Role::*;
    Some(match method {
        // Looking at the daemon and its processes.
        "supervisor.getAPIVersion"
        | "supervisor.getVersion"
        | "supervisor.getSupervisorVersion"
        | "supervisor.getIdentification"
        | "supervisor.getState"
        | "supervisor.getPID"
        | "supervisor.getProcessInfo"
        | "supervisor.getAllProcessInfo"
        | "supervisor.getAllConfigInfo"
        | "supervisor.readLog"
        | "supervisor.readMainLog"
        | "supervisor.readProcessLog"
        | "supervisor.readProcessStdoutLog"
        | "supervisor.readProcessStderrLog"
        | "supervisor.tailProcessLog"
        | "supervisor.tailProcessStdoutLog"
        | "supervisor.tailProcessStderrLog"
        | "system.listMethods"
        | "system.methodHelp"
        | "system.methodSignature"
        // Each call inside is checked on its own.
        | "system.multicall" => Read,
        // Driving processes.
        "supervisor.startProcess"
        | "supervisor.startProcessGroup"
        | "supervisor.startAllProcesses"
        | "supervisor.stopProcess"
        | "supervisor.stopProcessGroup"
        | "supervisor.stopAllProcesses"
        | "supervisor.signalProcess"
        | "supervisor.signalProcessGroup"
        | "supervisor.signalAllProcesses"
        | "supervisor.sendProcessStdin"
        | "supervisor.sendRemoteCommEvent"
        | "supervisor.clearLog"
        | "supervisor.clearProcessLog"
        | "supervisor.clearProcessLogs"
        | "supervisor.clearAllProcessLogs"
        | "supervisor_rs.rotateLogs" => Operate,
        // The daemon itself, its configuration and its credentials.
        "supervisor.reloadConfig"
        | "supervisor.addProcessGroup"
        | "supervisor.removeProcessGroup"
        | "supervisor.restart"
        | "supervisor.shutdown"
        | "supervisor_rs.createToken"
        | "supervisor_rs.listTokens"
        | "supervisor_rs.revokeToken" => Admin,
        // Extension reads of other features (stats, metrics).
        m if m.starts_with("supervisor_rs.get") => Read,
        _ => return None,
    })
}

/// Whether `method` changes state (and so is written to the audit log): everything that
/// needs more than `read`.
pub fn is_state_changing(method: &str) -> bool {
    min_role(method) > Role::Read
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::methods::TABLE;

    /// Every method of the RPC table, with the least role the issue gives it. A method
    /// added to the table without a row here fails this test.
    #[test]
    fn every_method_has_its_role() {
        let expected: &[(&str, Role)] = &[
            ("supervisor.addProcessGroup", Role::Admin),
            ("supervisor.clearAllProcessLogs", Role::Operate),
            ("supervisor_rs.rotateLogs", Role::Operate),
            ("supervisor.clearLog", Role::Operate),
            ("supervisor.clearProcessLog", Role::Operate),
            ("supervisor.clearProcessLogs", Role::Operate),
            ("supervisor.getAPIVersion", Role::Read),
            ("supervisor.getAllConfigInfo", Role::Read),
            ("supervisor.getAllProcessInfo", Role::Read),
            ("supervisor.getIdentification", Role::Read),
            ("supervisor.getPID", Role::Read),
            ("supervisor.getProcessInfo", Role::Read),
            ("supervisor.getState", Role::Read),
            ("supervisor.getSupervisorVersion", Role::Read),
            ("supervisor.getVersion", Role::Read),
            ("supervisor.readLog", Role::Read),
            ("supervisor.readMainLog", Role::Read),
            ("supervisor.readProcessLog", Role::Read),
            ("supervisor.readProcessStderrLog", Role::Read),
            ("supervisor.readProcessStdoutLog", Role::Read),
            ("supervisor.reloadConfig", Role::Admin),
            ("supervisor.removeProcessGroup", Role::Admin),
            ("supervisor.restart", Role::Admin),
            ("supervisor.sendProcessStdin", Role::Operate),
            ("supervisor.sendRemoteCommEvent", Role::Operate),
            ("supervisor.shutdown", Role::Admin),
            ("supervisor.signalAllProcesses", Role::Operate),
            ("supervisor.signalProcess", Role::Operate),
            ("supervisor.signalProcessGroup", Role::Operate),
            ("supervisor.startAllProcesses", Role::Operate),
            ("supervisor.startProcess", Role::Operate),
            ("supervisor.startProcessGroup", Role::Operate),
            ("supervisor.stopAllProcesses", Role::Operate),
            ("supervisor.stopProcess", Role::Operate),
            ("supervisor.stopProcessGroup", Role::Operate),
            ("supervisor.tailProcessLog", Role::Read),
            ("supervisor.tailProcessStderrLog", Role::Read),
            ("supervisor.tailProcessStdoutLog", Role::Read),
            ("supervisor_rs.createToken", Role::Admin),
            ("supervisor_rs.listTokens", Role::Admin),
            ("supervisor_rs.revokeToken", Role::Admin),
            ("supervisor_rs.rotateLogs", Role::Operate),
            ("system.listMethods", Role::Read),
            ("system.methodHelp", Role::Read),
            ("system.methodSignature", Role::Read),
            ("system.multicall", Role::Read),
        ];
        for m in TABLE {
            let role = role_of(m.name)
                .unwrap_or_else(|| panic!("method {} has no role in access::roles", m.name));
            if let Some((_, want)) = expected.iter().find(|(n, _)| *n == m.name) {
                assert_eq!(role, *want, "{}", m.name);
            } else {
                // Extension methods of other features: reads only.
                assert!(
                    m.name.starts_with("supervisor_rs.get"),
                    "{} not in the expected table",
                    m.name
                );
                assert_eq!(role, Role::Read, "{}", m.name);
            }
        }
        for (name, _) in expected {
            assert!(
                TABLE.iter().any(|m| m.name == *name),
                "{name} is not callable"
            );
        }
        assert_eq!(min_role("supervisor.nosuch"), Role::Admin);
        assert!(is_state_changing("supervisor.stopProcess"));
        assert!(!is_state_changing("supervisor.getState"));
    }
}
