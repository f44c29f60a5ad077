//! Process, daemon and event-listener states with the reference's numeric codes.

/// The state of one supervised process (`statename`/`state` in `getProcessInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProcessState {
    /// 0, `STOPPED`: not running, stopped on purpose or never started.
    Stopped,
    /// 10, `STARTING`: spawned, not yet up for `startsecs`.
    Starting,
    /// 20, `RUNNING`: up for at least `startsecs`.
    Running,
    /// 30, `BACKOFF`: exited while STARTING; waits before the next try.
    Backoff,
    /// 40, `STOPPING`: sent its stop signal, not yet reaped.
    Stopping,
    /// 100, `EXITED`: exited from RUNNING (expectedly or not).
    Exited,
    /// 200, `FATAL`: could not be started after `startretries` tries.
    Fatal,
    /// 1000, `UNKNOWN`: signalling the process failed in an unexpected way; its state is
    /// not known.
    Unknown,
}

impl ProcessState {
    /// All states, in code order.
    pub const ALL: [ProcessState; 8] = [
        ProcessState::Stopped,
        ProcessState::Starting,
        ProcessState::Running,
        ProcessState::Backoff,
        ProcessState::Stopping,
        ProcessState::Exited,
        ProcessState::Fatal,
        ProcessState::Unknown,
    ];

    /// The numeric code used on the wire.
    pub const fn code(self) -> i32 {
        match self {
            ProcessState::Stopped => 0,
            ProcessState::Starting => 10,
            ProcessState::Running => 20,
            ProcessState::Backoff => 30,
            ProcessState::Stopping => 40,
            ProcessState::Exited => 100,
            ProcessState::Fatal => 200,
            ProcessState::Unknown => 1000,
        }
    }

    /// The upper-case name used on the wire, in logs and in `supervisorctl status`.
    pub const fn name(self) -> &'static str {
        match self {
            ProcessState::Stopped => "STOPPED",
            ProcessState::Starting => "STARTING",
            ProcessState::Running => "RUNNING",
            ProcessState::Backoff => "BACKOFF",
            ProcessState::Stopping => "STOPPING",
            ProcessState::Exited => "EXITED",
            ProcessState::Fatal => "FATAL",
            ProcessState::Unknown => "UNKNOWN",
        }
    }

    /// Looks a state up by its numeric code.
    pub fn from_code(code: i32) -> Option<ProcessState> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Looks a state up by its name (exact, upper case).
    pub fn from_name(name: &str) -> Option<ProcessState> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// `STOPPED_STATES`: STOPPED, EXITED, FATAL, UNKNOWN.
    pub const fn is_stopped(self) -> bool {
        matches!(
            self,
            ProcessState::Stopped
                | ProcessState::Exited
                | ProcessState::Fatal
                | ProcessState::Unknown
        )
    }

    /// `RUNNING_STATES`: RUNNING, BACKOFF, STARTING.
    pub const fn is_running(self) -> bool {
        matches!(
            self,
            ProcessState::Running | ProcessState::Backoff | ProcessState::Starting
        )
    }

    /// `SIGNALLABLE_STATES`: RUNNING, STARTING, STOPPING.
    pub const fn is_signallable(self) -> bool {
        matches!(
            self,
            ProcessState::Running | ProcessState::Starting | ProcessState::Stopping
        )
    }
}

impl std::fmt::Display for ProcessState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The daemon's own state (`supervisor.getState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorState {
    /// 2, `FATAL`: the daemon hit an unrecoverable error.
    Fatal,
    /// 1, `RUNNING`: the normal state.
    Running,
    /// 0, `RESTARTING`: a restart was requested (SIGHUP, `supervisor.restart`).
    Restarting,
    /// -1, `SHUTDOWN`: shutting down (SIGTERM, `supervisor.shutdown`).
    Shutdown,
}

impl SupervisorState {
    /// The numeric code used on the wire.
    pub const fn code(self) -> i32 {
        match self {
            SupervisorState::Fatal => 2,
            SupervisorState::Running => 1,
            SupervisorState::Restarting => 0,
            SupervisorState::Shutdown => -1,
        }
    }

    /// The upper-case name used on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            SupervisorState::Fatal => "FATAL",
            SupervisorState::Running => "RUNNING",
            SupervisorState::Restarting => "RESTARTING",
            SupervisorState::Shutdown => "SHUTDOWN",
        }
    }
}

/// The protocol state of one event-listener process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    /// 10, `READY`: sent `READY`; may be sent the next event.
    Ready,
    /// 20, `BUSY`: has an event and owes a `RESULT`.
    Busy,
    /// 30, `ACKNOWLEDGED`: started, has not sent `READY` yet (or just sent a result).
    Acknowledged,
    /// 40, `UNKNOWN`: sent something the protocol does not allow; gets no events.
    Unknown,
}

impl ListenerState {
    /// The numeric code.
    pub const fn code(self) -> i32 {
        match self {
            ListenerState::Ready => 10,
            ListenerState::Busy => 20,
            ListenerState::Acknowledged => 30,
            ListenerState::Unknown => 40,
        }
    }

    /// The upper-case name used in log lines (`ACKNOWLEDGED -> READY`).
    pub const fn name(self) -> &'static str {
        match self {
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Unknown => "UNKNOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for s in ProcessState::ALL {
            assert_eq!(ProcessState::from_code(s.code()), Some(s));
            assert_eq!(ProcessState::from_name(s.name()), Some(s));
        }
        assert_eq!(ProcessState::from_code(5), None);
    }

    #[test]
    fn state_groups_match_reference() {
        use ProcessState::*;
        let stopped: Vec<_> = ProcessState::ALL
            .into_iter()
            .filter(|s| s.is_stopped())
            .collect();
        assert_eq!(stopped, vec![Stopped, Exited, Fatal, Unknown]);
        let running: Vec<_> = ProcessState::ALL
            .into_iter()
            .filter(|s| s.is_running())
            .collect();
        assert_eq!(running, vec![Starting, Running, Backoff]);
        let sig: Vec<_> = ProcessState::ALL
            .into_iter()
            .filter(|s| s.is_signallable())
            .collect();
        assert_eq!(sig, vec![Starting, Running, Stopping]);
    }
}
