//! XML-RPC fault codes with the reference's numbers and names.

/// A fault code of the `supervisor.*` and `system.*` namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// 1, `UNKNOWN_METHOD`: no callable method of that name.
    UnknownMethod,
    /// 2, `INCORRECT_PARAMETERS`: the wrong number or types of parameters.
    IncorrectParameters,
    /// 3, `BAD_ARGUMENTS`: well-typed parameters with values the method refuses (a log
    /// offset or length out of range).
    BadArguments,
    /// 4, `SIGNATURE_UNSUPPORTED`: `system.methodSignature`/`methodHelp` of an unknown method.
    SignatureUnsupported,
    /// 6, `SHUTDOWN_STATE`: the daemon is shutting down and refuses the call.
    ShutdownState,
    /// 10, `BAD_NAME`: no process or group of that name.
    BadName,
    /// 11, `BAD_SIGNAL`: the signal name or number is not a signal.
    BadSignal,
    /// 20, `NO_FILE`: the command or log file does not exist.
    NoFile,
    /// 21, `NOT_EXECUTABLE`: the command exists but cannot be executed.
    NotExecutable,
    /// 30, `FAILED`: the operation failed (the fault string says why).
    Failed,
    /// 40, `ABNORMAL_TERMINATION`: a process waited on left STARTING for a state other than RUNNING.
    AbnormalTermination,
    /// 50, `SPAWN_ERROR`: the process could not be spawned.
    SpawnError,
    /// 60, `ALREADY_STARTED`: start of a process that is already running.
    AlreadyStarted,
    /// 70, `NOT_RUNNING`: stop, signal or stdin write to a process that is not running.
    NotRunning,
    /// 80, `SUCCESS`: the status of a successful entry in a group result list (never a fault).
    Success,
    /// 90, `ALREADY_ADDED`: `addProcessGroup` of a group that is already active.
    AlreadyAdded,
    /// 91, `STILL_RUNNING`: `removeProcessGroup` of a group with processes still running.
    StillRunning,
    /// 92, `CANT_REREAD`: `reloadConfig` could not read the configuration.
    CantReread,
}

impl FaultCode {
    /// Every code, in numeric order.
    pub const ALL: [FaultCode; 18] = [
        FaultCode::UnknownMethod,
        FaultCode::IncorrectParameters,
        FaultCode::BadArguments,
        FaultCode::SignatureUnsupported,
        FaultCode::ShutdownState,
        FaultCode::BadName,
        FaultCode::BadSignal,
        FaultCode::NoFile,
        FaultCode::NotExecutable,
        FaultCode::Failed,
        FaultCode::AbnormalTermination,
        FaultCode::SpawnError,
        FaultCode::AlreadyStarted,
        FaultCode::NotRunning,
        FaultCode::Success,
        FaultCode::AlreadyAdded,
        FaultCode::StillRunning,
        FaultCode::CantReread,
    ];

    /// The numeric `faultCode`.
    pub const fn code(self) -> i32 {
        match self {
            FaultCode::UnknownMethod => 1,
            FaultCode::IncorrectParameters => 2,
            FaultCode::BadArguments => 3,
            FaultCode::SignatureUnsupported => 4,
            FaultCode::ShutdownState => 6,
            FaultCode::BadName => 10,
            FaultCode::BadSignal => 11,
            FaultCode::NoFile => 20,
            FaultCode::NotExecutable => 21,
            FaultCode::Failed => 30,
            FaultCode::AbnormalTermination => 40,
            FaultCode::SpawnError => 50,
            FaultCode::AlreadyStarted => 60,
            FaultCode::NotRunning => 70,
            FaultCode::Success => 80,
            FaultCode::AlreadyAdded => 90,
            FaultCode::StillRunning => 91,
            FaultCode::CantReread => 92,
        }
    }

    /// The name that starts every `faultString`.
    pub const fn name(self) -> &'static str {
        match self {
            FaultCode::UnknownMethod => "UNKNOWN_METHOD",
            FaultCode::IncorrectParameters => "INCORRECT_PARAMETERS",
            FaultCode::BadArguments => "BAD_ARGUMENTS",
            FaultCode::SignatureUnsupported => "SIGNATURE_UNSUPPORTED",
            FaultCode::ShutdownState => "SHUTDOWN_STATE",
            FaultCode::BadName => "BAD_NAME",
            FaultCode::BadSignal => "BAD_SIGNAL",
            FaultCode::NoFile => "NO_FILE",
            FaultCode::NotExecutable => "NOT_EXECUTABLE",
            FaultCode::Failed => "FAILED",
            FaultCode::AbnormalTermination => "ABNORMAL_TERMINATION",
            FaultCode::SpawnError => "SPAWN_ERROR",
            FaultCode::AlreadyStarted => "ALREADY_STARTED",
            FaultCode::NotRunning => "NOT_RUNNING",
            FaultCode::Success => "SUCCESS",
            FaultCode::AlreadyAdded => "ALREADY_ADDED",
            FaultCode::StillRunning => "STILL_RUNNING",
            FaultCode::CantReread => "CANT_REREAD",
        }
    }

    /// Looks a code up by number.
    pub fn from_code(code: i32) -> Option<FaultCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// An XML-RPC fault: `faultCode` and `faultString`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The numeric `faultCode`; any integer a peer sent, not only the known
    /// [`FaultCode`]s.
    pub code: i32,
    /// The `faultString`: the code's name, then `: ` and a detail when there is one.
    pub string: String,
}

impl Fault {
    /// A fault whose string is the bare code name, e.g. `INCORRECT_PARAMETERS`.
    pub fn bare(code: FaultCode) -> Fault {
        Fault {
            code: code.code(),
            string: code.name().to_string(),
        }
    }

    /// A fault whose string is `NAME: detail`, e.g. `BAD_NAME: nosuch`.
    pub fn new(code: FaultCode, detail: impl std::fmt::Display) -> Fault {
        Fault {
            code: code.code(),
            string: format!("{}: {}", code.name(), detail),
        }
    }

    /// The known code, if this fault carries one.
    pub fn fault_code(&self) -> Option<FaultCode> {
        FaultCode::from_code(self.code)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Fault {}: '{}'>", self.code, self.string)
    }
}

impl std::error::Error for Fault {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(Fault::new(FaultCode::BadName, "x").string, "BAD_NAME: x");
        assert_eq!(Fault::bare(FaultCode::IncorrectParameters).code, 2);
        assert_eq!(FaultCode::from_code(5), None);
        for c in FaultCode::ALL {
            assert_eq!(FaultCode::from_code(c.code()), Some(c));
        }
    }
}
