//! Event type names and their hierarchy, as used in `events=` and in the `eventname:` header.

/// One event type of Supervisor's hierarchy. Abstract types (e.g. [`EventType::ProcessState`])
/// are never emitted; subscribing to one delivers all of its descendants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `EVENT`: the root; subscribing to it delivers every event.
    Event,
    /// `PROCESS_STATE`: abstract parent of the process state changes.
    ProcessState,
    /// `PROCESS_STATE_STOPPED`: a process entered STOPPED.
    ProcessStateStopped,
    /// `PROCESS_STATE_STARTING`: a process entered STARTING.
    ProcessStateStarting,
    /// `PROCESS_STATE_RUNNING`: a process entered RUNNING.
    ProcessStateRunning,
    /// `PROCESS_STATE_BACKOFF`: a process entered BACKOFF.
    ProcessStateBackoff,
    /// `PROCESS_STATE_STOPPING`: a process entered STOPPING.
    ProcessStateStopping,
    /// `PROCESS_STATE_EXITED`: a process entered EXITED.
    ProcessStateExited,
    /// `PROCESS_STATE_FATAL`: a process entered FATAL.
    ProcessStateFatal,
    /// `PROCESS_STATE_UNKNOWN`: a process entered UNKNOWN.
    ProcessStateUnknown,
    /// `PROCESS_LOG`: abstract parent of the captured output events.
    ProcessLog,
    /// `PROCESS_LOG_STDOUT`: a process wrote to stdout (`stdout_events_enabled`).
    ProcessLogStdout,
    /// `PROCESS_LOG_STDERR`: a process wrote to stderr (`stderr_events_enabled`).
    ProcessLogStderr,
    /// `PROCESS_COMMUNICATION`: abstract parent of the capture-mode events.
    ProcessCommunication,
    /// `PROCESS_COMMUNICATION_STDOUT`: a capture-mode block read from stdout.
    ProcessCommunicationStdout,
    /// `PROCESS_COMMUNICATION_STDERR`: a capture-mode block read from stderr.
    ProcessCommunicationStderr,
    /// `REMOTE_COMMUNICATION`: sent by `supervisor.sendRemoteCommEvent`.
    RemoteCommunication,
    /// `SUPERVISOR_STATE_CHANGE`: abstract parent of the daemon state changes.
    SupervisorStateChange,
    /// `SUPERVISOR_STATE_CHANGE_RUNNING`: the daemon is up and running.
    SupervisorStateChangeRunning,
    /// `SUPERVISOR_STATE_CHANGE_STOPPING`: the daemon is shutting down.
    SupervisorStateChangeStopping,
    /// `TICK`: abstract parent of the periodic ticks.
    Tick,
    /// `TICK_5`: at each multiple of 5 seconds of the wall clock.
    Tick5,
    /// `TICK_60`: at each multiple of 60 seconds of the wall clock.
    Tick60,
    /// `TICK_3600`: at each multiple of 3600 seconds of the wall clock.
    Tick3600,
    /// `PROCESS_GROUP`: abstract parent of the group changes.
    ProcessGroup,
    /// `PROCESS_GROUP_ADDED`: a group was added (start, `addProcessGroup`, `update`).
    ProcessGroupAdded,
    /// `PROCESS_GROUP_REMOVED`: a group was removed (`removeProcessGroup`, `update`).
    ProcessGroupRemoved,
    /// `PROCESS_HEALTH` (supervisor-rs): abstract parent of the health check events. It is
    /// a root of its own, not a child of `EVENT`: listeners written for the reference,
    /// subscribed to `EVENT`, never receive a type they do not know.
    ProcessHealth,
    /// `PROCESS_HEALTH_UNHEALTHY` (supervisor-rs): a process failed its health check
    /// `healthcheck_retries` times in a row.
    ProcessHealthUnhealthy,
    /// `PROCESS_HEALTH_HEALTHY` (supervisor-rs): an unhealthy process passed its check again.
    ProcessHealthHealthy,
}

impl EventType {
    /// Every type, parents before children.
    pub const ALL: [EventType; 30] = [
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
        EventType::ProcessHealth,
        EventType::ProcessHealthUnhealthy,
        EventType::ProcessHealthHealthy,
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
            ProcessHealth => "PROCESS_HEALTH",
            ProcessHealthUnhealthy => "PROCESS_HEALTH_UNHEALTHY",
            ProcessHealthHealthy => "PROCESS_HEALTH_HEALTHY",
        }
    }

    /// The parent type, `None` for the root `EVENT`.
    pub const fn parent(self) -> Option<EventType> {
        use EventType::*;
        match self {
            // PROCESS_HEALTH is a second root (see its doc).
            Event | ProcessHealth => None,
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
            ProcessHealthUnhealthy | ProcessHealthHealthy => Some(ProcessHealth),
        }
    }

    /// Parses a name as written in `events=` (case-insensitive, surrounding blanks ignored).
    pub fn from_name(name: &str) -> Option<EventType> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The type named exactly `name` (upper case, no blanks): how an `events=` entry is
    /// looked up once it has been upper-cased, as the reference does.
    pub fn from_exact_name(name: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Resolves the entries of an `events=` list, already split and stripped: each is
    /// upper-cased (Unicode rules, like Python's `str.upper`) and must then name a type
    /// exactly; repeats are dropped and the written order kept. An empty list is
    /// [`EventListError::Missing`]; the first entry that names no type is
    /// [`EventListError::Unknown`] (upper-cased).
    pub fn parse_list<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<EventType>, EventListError> {
        let upper: Vec<String> = names.into_iter().map(str::to_uppercase).collect();
        if upper.is_empty() {
            return Err(EventListError::Missing);
        }
        let mut out = Vec::new();
        for name in upper {
            let Some(t) = Self::from_exact_name(&name) else {
                return Err(EventListError::Unknown(name));
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
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

/// Why an `events=` list was refused (see [`EventType::parse_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventListError {
    /// The list names no type at all.
    Missing,
    /// The first entry, upper-cased, that names no type (possibly empty).
    Unknown(String),
}

impl EventListError {
    /// The reference's message for the `events=` of section `section`
    /// (e.g. `eventlistener:x`).
    pub fn message(&self, section: &str) -> String {
        match self {
            EventListError::Missing => format!("[{section}] section requires an \"events\" line"),
            EventListError::Unknown(name) => {
                format!("Unknown event type {name} in [{section}] events")
            }
        }
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
            // Every type of the reference is an EVENT; the health types are not.
            assert_eq!(
                t.is_a(EventType::Event),
                !t.is_a(EventType::ProcessHealth),
                "{t:?}"
            );
        }
        assert!(EventType::ProcessHealthUnhealthy.is_a(EventType::ProcessHealth));
        assert!(!EventType::ProcessHealthHealthy.is_a(EventType::Event));
        assert_eq!(
            EventType::parse_list(["process_health_unhealthy", "PROCESS_HEALTH"]),
            Ok(vec![
                EventType::ProcessHealthUnhealthy,
                EventType::ProcessHealth
            ])
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            EventType::parse_list(["process_state", "TICK_5", "PROCESS_STATE", "Tick_5"]),
            Ok(vec![EventType::ProcessState, EventType::Tick5])
        );
        assert_eq!(EventType::parse_list([]), Err(EventListError::Missing));
        assert_eq!(
            EventType::parse_list(["TICK_5", "bogus_one", "other"]),
            Err(EventListError::Unknown("BOGUS_ONE".into()))
        );
        // looked up exactly once upper-cased: no blanks, no empty entry
        assert_eq!(
            EventType::parse_list(["TICK_5", ""]),
            Err(EventListError::Unknown(String::new()))
        );
        assert_eq!(
            EventType::parse_list([" TICK_5"]),
            Err(EventListError::Unknown(" TICK_5".into()))
        );
        // Unicode upper-casing, as Python's str.upper: dotless i becomes I
        assert_eq!(
            EventType::parse_list(["t\u{131}ck_5"]),
            Ok(vec![EventType::Tick5])
        );
        assert_eq!(
            EventListError::Missing.message("eventlistener:lis"),
            "[eventlistener:lis] section requires an \"events\" line"
        );
        assert_eq!(
            EventListError::Unknown(String::new()).message("eventlistener:lis"),
            "Unknown event type  in [eventlistener:lis] events"
        );
    }
}
