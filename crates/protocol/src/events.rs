//! Event type names and their hierarchy, as used in `events=` and in the `eventname:` header.

/// One event type of Supervisor's hierarchy. Abstract types (e.g. [`EventType::ProcessState`])
/// are never emitted; subscribing to one delivers all of its descendants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Event,
    ProcessState,
    ProcessStateStopped,
    ProcessStateStarting,
    ProcessStateRunning,
    ProcessStateBackoff,
    ProcessStateStopping,
    ProcessStateExited,
    ProcessStateFatal,
    ProcessStateUnknown,
    ProcessLog,
    ProcessLogStdout,
    ProcessLogStderr,
    ProcessCommunication,
    ProcessCommunicationStdout,
    ProcessCommunicationStderr,
    RemoteCommunication,
    SupervisorStateChange,
    SupervisorStateChangeRunning,
    SupervisorStateChangeStopping,
    Tick,
    Tick5,
    Tick60,
    Tick3600,
    ProcessGroup,
    ProcessGroupAdded,
    ProcessGroupRemoved,
}

impl EventType {
    /// Every type, parents before children.
    pub const ALL: [EventType; 27] = [
        EventType::Event,
        EventType::ProcessState,
        EventType::ProcessStateStopped,
        EventType::ProcessStateStarting,
        EventType::ProcessStateRunning,
        EventType::ProcessStateBackoff,
        EventType::ProcessStateStopping,
        EventType::ProcessStateExited,
        EventType::ProcessStateFatal,
        EventType::ProcessStateUnknown,
        EventType::ProcessLog,
        EventType::ProcessLogStdout,
        EventType::ProcessLogStderr,
        EventType::ProcessCommunication,
        EventType::ProcessCommunicationStdout,
        EventType::ProcessCommunicationStderr,
        EventType::RemoteCommunication,
        EventType::SupervisorStateChange,
        EventType::SupervisorStateChangeRunning,
        EventType::SupervisorStateChangeStopping,
        EventType::Tick,
        EventType::Tick5,
        EventType::Tick60,
        EventType::Tick3600,
        EventType::ProcessGroup,
        EventType::ProcessGroupAdded,
        EventType::ProcessGroupRemoved,
    ];

    /// The name used in config files and envelopes.
    pub const fn name(self) -> &'static str {
        use EventType::*;
        match self {
            Event => "EVENT",
            ProcessState => "PROCESS_STATE",
            ProcessStateStopped => "PROCESS_STATE_STOPPED",
            ProcessStateStarting => "PROCESS_STATE_STARTING",
            ProcessStateRunning => "PROCESS_STATE_RUNNING",
            ProcessStateBackoff => "PROCESS_STATE_BACKOFF",
            ProcessStateStopping => "PROCESS_STATE_STOPPING",
            ProcessStateExited => "PROCESS_STATE_EXITED",
            ProcessStateFatal => "PROCESS_STATE_FATAL",
            ProcessStateUnknown => "PROCESS_STATE_UNKNOWN",
            ProcessLog => "PROCESS_LOG",
            ProcessLogStdout => "PROCESS_LOG_STDOUT",
            ProcessLogStderr => "PROCESS_LOG_STDERR",
            ProcessCommunication => "PROCESS_COMMUNICATION",
            ProcessCommunicationStdout => "PROCESS_COMMUNICATION_STDOUT",
            ProcessCommunicationStderr => "PROCESS_COMMUNICATION_STDERR",
            RemoteCommunication => "REMOTE_COMMUNICATION",
            SupervisorStateChange => "SUPERVISOR_STATE_CHANGE",
            SupervisorStateChangeRunning => "SUPERVISOR_STATE_CHANGE_RUNNING",
            SupervisorStateChangeStopping => "SUPERVISOR_STATE_CHANGE_STOPPING",
            Tick => "TICK",
            Tick5 => "TICK_5",
            Tick60 => "TICK_60",
            Tick3600 => "TICK_3600",
            ProcessGroup => "PROCESS_GROUP",
            ProcessGroupAdded => "PROCESS_GROUP_ADDED",
            ProcessGroupRemoved => "PROCESS_GROUP_REMOVED",
        }
    }

    /// The parent type, `None` for the root `EVENT`.
    pub const fn parent(self) -> Option<EventType> {
        use EventType::*;
        match self {
            Event => None,
            ProcessState
            | ProcessLog
            | ProcessCommunication
            | RemoteCommunication
            | SupervisorStateChange
            | Tick
            | ProcessGroup => Some(Event),
            ProcessStateStopped | ProcessStateStarting | ProcessStateRunning
            | ProcessStateBackoff | ProcessStateStopping | ProcessStateExited
            | ProcessStateFatal | ProcessStateUnknown => Some(ProcessState),
            ProcessLogStdout | ProcessLogStderr => Some(ProcessLog),
            ProcessCommunicationStdout | ProcessCommunicationStderr => Some(ProcessCommunication),
            SupervisorStateChangeRunning | SupervisorStateChangeStopping => {
                Some(SupervisorStateChange)
            }
            Tick5 | Tick60 | Tick3600 => Some(Tick),
            ProcessGroupAdded | ProcessGroupRemoved => Some(ProcessGroup),
        }
    }

    /// Parses a name as written in `events=` (case-insensitive, surrounding blanks ignored).
    pub fn from_name(name: &str) -> Option<EventType> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// True when an event of type `self` is delivered to a subscriber of `subscribed`.
    pub fn is_a(self, subscribed: EventType) -> bool {
        let mut t = Some(self);
        while let Some(cur) = t {
            if cur == subscribed {
                return true;
            }
            t = cur.parent();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy() {
        assert!(EventType::ProcessStateExited.is_a(EventType::ProcessState));
        assert!(EventType::Tick5.is_a(EventType::Event));
        assert!(!EventType::Tick5.is_a(EventType::ProcessState));
        assert_eq!(EventType::from_name("tick_60"), Some(EventType::Tick60));
        assert_eq!(EventType::from_name("FOO"), None);
        for t in EventType::ALL {
            assert!(t.is_a(EventType::Event));
        }
    }
}
