//! Events as values: the type, the parsed payload fields, and the payload text exactly as the
//! reference renders it (rendered once, when the event is created, as the reference does).

use std::fmt;

use supervisor_protocol::events::EventType;
use supervisor_protocol::ProcessState;

/// Which output channel of a process a log or communication event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

impl Channel {
    /// `stdout` or `stderr`, as written in payloads.
    pub const fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

/// The value of one `key:value` token of a payload header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A text value (names, states, channels).
    Str(String),
    /// A numeric value (pids, tries, `expected`, `when`).
    Int(i64),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Int(n) => write!(f, "{n}"),
        }
    }
}

/// The process a `PROCESS_STATE_*` event is about, kept so the bus can follow the
/// lifecycle of its own listener processes from the events the daemon publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSubject {
    /// The process name (`processname:`).
    pub process: String,
    /// The group name (`groupname:`); for a listener, its pool name.
    pub group: String,
    /// The state the process left.
    pub from: ProcessState,
    /// The state the process entered.
    pub to: ProcessState,
}

/// Everything the daemon knows about one process state transition, as the payload needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStateChange<'a> {
    /// Process name.
    pub process: &'a str,
    /// Group name (empty if none).
    pub group: &'a str,
    /// State left.
    pub from: ProcessState,
    /// State entered; selects the event type.
    pub to: ProcessState,
    /// The process's pid at the time of the change (the pid that just died for
    /// STOPPED/EXITED; 0 when there is none).
    pub pid: u32,
    /// The backoff counter (`tries:` of STARTING and BACKOFF).
    pub tries: u32,
    /// Whether the exit status was in `exitcodes` (`expected:` of EXITED).
    pub expected: bool,
}

/// One event: its type, its header fields, its optional body and its rendered payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    kind: EventType,
    fields: Vec<(&'static str, FieldValue)>,
    body: Option<String>,
    payload: String,
    subject: Option<StateSubject>,
}

impl Event {
    fn build(
        kind: EventType,
        fields: Vec<(&'static str, FieldValue)>,
        body: Option<String>,
        subject: Option<StateSubject>,
    ) -> Event {
        let mut payload = String::new();
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                payload.push(' ');
            }
            payload.push_str(key);
            payload.push(':');
            payload.push_str(&value.to_string());
        }
        if let Some(body) = &body {
            payload.push('\n');
            payload.push_str(body);
        }
        Event {
            kind,
            fields,
            body,
            payload,
            subject,
        }
    }

    /// A `PROCESS_STATE_<TO>` event. The extra fields follow the reference: `tries` for
    /// STARTING and BACKOFF, `expected` and `pid` for EXITED, `pid` for RUNNING, STOPPING and
    /// STOPPED, nothing more for FATAL and UNKNOWN.
    pub fn process_state(change: &ProcessStateChange<'_>) -> Event {
        let kind = process_state_event_type(change.to);
        let mut fields = vec![
            ("processname", FieldValue::Str(change.process.to_owned())),
            ("groupname", FieldValue::Str(change.group.to_owned())),
            ("from_state", FieldValue::Str(change.from.name().to_owned())),
        ];
        match change.to {
            ProcessState::Starting | ProcessState::Backoff => {
                fields.push(("tries", FieldValue::Int(i64::from(change.tries))));
            }
            ProcessState::Exited => {
                fields.push(("expected", FieldValue::Int(i64::from(change.expected))));
                fields.push(("pid", FieldValue::Int(i64::from(change.pid))));
            }
            ProcessState::Running | ProcessState::Stopping | ProcessState::Stopped => {
                fields.push(("pid", FieldValue::Int(i64::from(change.pid))));
            }
            ProcessState::Fatal | ProcessState::Unknown => {}
        }
        let subject = StateSubject {
            process: change.process.to_owned(),
            group: change.group.to_owned(),
            from: change.from,
            to: change.to,
        };
        Event::build(kind, fields, None, Some(subject))
    }

    /// `PROCESS_LOG_STDOUT`/`_STDERR`: one chunk of output read from a child whose
    /// `<channel>_events_enabled` is true.
    pub fn process_log(
        channel: Channel,
        process: &str,
        group: &str,
        pid: u32,
        data: &[u8],
    ) -> Event {
        let kind = match channel {
            Channel::Stdout => EventType::ProcessLogStdout,
            Channel::Stderr => EventType::ProcessLogStderr,
        };
        let fields = vec![
            ("processname", FieldValue::Str(process.to_owned())),
            ("groupname", FieldValue::Str(group.to_owned())),
            ("pid", FieldValue::Int(i64::from(pid))),
            ("channel", FieldValue::Str(channel.name().to_owned())),
        ];
        Event::build(kind, fields, Some(decode_output(data)), None)
    }

    /// `PROCESS_COMMUNICATION_STDOUT`/`_STDERR`: the bytes captured between the
    /// `<!--XSUPERVISOR:BEGIN-->` and `<!--XSUPERVISOR:END-->` tokens.
    pub fn process_communication(
        channel: Channel,
        process: &str,
        group: &str,
        pid: u32,
        data: &[u8],
    ) -> Event {
        let kind = match channel {
            Channel::Stdout => EventType::ProcessCommunicationStdout,
            Channel::Stderr => EventType::ProcessCommunicationStderr,
        };
        let fields = vec![
            ("processname", FieldValue::Str(process.to_owned())),
            ("groupname", FieldValue::Str(group.to_owned())),
            ("pid", FieldValue::Int(i64::from(pid))),
        ];
        Event::build(kind, fields, Some(decode_output(data)), None)
    }

    /// `REMOTE_COMMUNICATION`, from the `supervisor.sendRemoteCommEvent(type, data)` RPC.
    pub fn remote_communication(type_: &str, data: &str) -> Event {
        let fields = vec![("type", FieldValue::Str(type_.to_owned()))];
        Event::build(
            EventType::RemoteCommunication,
            fields,
            Some(data.to_owned()),
            None,
        )
    }

    /// `SUPERVISOR_STATE_CHANGE_RUNNING`: the main loop starts (each start and restart).
    pub fn supervisor_running() -> Event {
        Event::build(EventType::SupervisorStateChangeRunning, vec![], None, None)
    }

    /// `SUPERVISOR_STATE_CHANGE_STOPPING`: shutdown or restart begins.
    pub fn supervisor_stopping() -> Event {
        Event::build(EventType::SupervisorStateChangeStopping, vec![], None, None)
    }

    /// A `TICK_5`/`TICK_60`/`TICK_3600` event for the boundary `when` (epoch seconds).
    /// Returns `None` for any other type.
    pub fn tick(kind: EventType, when: u64) -> Option<Event> {
        if !matches!(
            kind,
            EventType::Tick5 | EventType::Tick60 | EventType::Tick3600
        ) {
            return None;
        }
        let when = i64::try_from(when).unwrap_or(i64::MAX);
        Some(Event::build(
            kind,
            vec![("when", FieldValue::Int(when))],
            None,
            None,
        ))
    }

    /// `PROCESS_GROUP_ADDED` (payload `groupname:<g>\n`).
    pub fn group_added(group: &str) -> Event {
        Event::build(
            EventType::ProcessGroupAdded,
            vec![("groupname", FieldValue::Str(group.to_owned()))],
            Some(String::new()),
            None,
        )
    }

    /// `PROCESS_GROUP_REMOVED` (payload `groupname:<g>\n`).
    pub fn group_removed(group: &str) -> Event {
        Event::build(
            EventType::ProcessGroupRemoved,
            vec![("groupname", FieldValue::Str(group.to_owned()))],
            Some(String::new()),
            None,
        )
    }

    /// `PROCESS_HEALTH_UNHEALTHY` (supervisor-rs): process `process` (pid `pid`) failed
    /// its health check `failures` times in a row; `action` is what the daemon does
    /// (`restart`, `stop`, `none`). Payload
    /// `processname:web groupname:web pid:42 failures:3 action:restart\nHTTP 503`: the
    /// body is the last failure's reason.
    pub fn process_health_unhealthy(
        process: &str,
        group: &str,
        pid: u32,
        failures: u32,
        action: &str,
        reason: &str,
    ) -> Event {
        let fields = vec![
            ("processname", FieldValue::Str(process.to_owned())),
            ("groupname", FieldValue::Str(group.to_owned())),
            ("pid", FieldValue::Int(i64::from(pid))),
            ("failures", FieldValue::Int(i64::from(failures))),
            ("action", FieldValue::Str(action.to_owned())),
        ];
        Event::build(
            EventType::ProcessHealthUnhealthy,
            fields,
            Some(reason.to_owned()),
            None,
        )
    }

    /// `PROCESS_HEALTH_HEALTHY` (supervisor-rs): the unhealthy process `process` passed
    /// its check again (pid `pid`, a new one after a restart). Payload
    /// `processname:web groupname:web pid:43\n`.
    pub fn process_health_healthy(process: &str, group: &str, pid: u32) -> Event {
        let fields = vec![
            ("processname", FieldValue::Str(process.to_owned())),
            ("groupname", FieldValue::Str(group.to_owned())),
            ("pid", FieldValue::Int(i64::from(pid))),
        ];
        Event::build(
            EventType::ProcessHealthHealthy,
            fields,
            Some(String::new()),
            None,
        )
    }

    /// The event's type (never an abstract one).
    pub fn kind(&self) -> EventType {
        self.kind
    }

    /// The `eventname:` of the envelope.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The header tokens of the payload, in order.
    pub fn fields(&self) -> &[(&'static str, FieldValue)] {
        &self.fields
    }

    /// The text after the first newline of the payload (log data, comm data, ...), if the
    /// payload has one.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The payload text exactly as the reference writes it.
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// For `PROCESS_STATE_*` events, the process and transition they describe.
    pub fn state_subject(&self) -> Option<&StateSubject> {
        self.subject.as_ref()
    }
}

/// The concrete event type announcing that a process entered `state`.
pub const fn process_state_event_type(state: ProcessState) -> EventType {
    match state {
        ProcessState::Stopped => EventType::ProcessStateStopped,
        ProcessState::Starting => EventType::ProcessStateStarting,
        ProcessState::Running => EventType::ProcessStateRunning,
        ProcessState::Backoff => EventType::ProcessStateBackoff,
        ProcessState::Stopping => EventType::ProcessStateStopping,
        ProcessState::Exited => EventType::ProcessStateExited,
        ProcessState::Fatal => EventType::ProcessStateFatal,
        ProcessState::Unknown => EventType::ProcessStateUnknown,
    }
}

/// The process state a `PROCESS_STATE_*` type announces.
pub const fn process_state_from_event_type(kind: EventType) -> Option<ProcessState> {
    Some(match kind {
        EventType::ProcessStateStopped => ProcessState::Stopped,
        EventType::ProcessStateStarting => ProcessState::Starting,
        EventType::ProcessStateRunning => ProcessState::Running,
        EventType::ProcessStateBackoff => ProcessState::Backoff,
        EventType::ProcessStateStopping => ProcessState::Stopping,
        EventType::ProcessStateExited => ProcessState::Exited,
        EventType::ProcessStateFatal => ProcessState::Fatal,
        EventType::ProcessStateUnknown => ProcessState::Unknown,
        _ => return None,
    })
}

/// Child output as payload text: the UTF-8 text when the bytes are valid UTF-8, else the
/// reference's `Undecodable: b'...'` rendering.
pub fn decode_output(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("Undecodable: {}", python_bytes_repr(data)),
    }
}

pub use supervisor_protocol::pyrepr::bytes_repr as python_bytes_repr;

pub use supervisor_protocol::pyrepr::str_repr as python_str_repr;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_payloads() {
        let e = Event::process_health_unhealthy("web", "grp", 42, 3, "restart", "HTTP 503");
        assert_eq!(e.kind(), EventType::ProcessHealthUnhealthy);
        assert_eq!(
            e.payload(),
            "processname:web groupname:grp pid:42 failures:3 action:restart\nHTTP 503"
        );
        let e = Event::process_health_healthy("web", "grp", 43);
        assert_eq!(e.name(), "PROCESS_HEALTH_HEALTHY");
        assert_eq!(e.payload(), "processname:web groupname:grp pid:43\n");
    }

    fn change(to: ProcessState, from: ProcessState) -> ProcessStateChange<'static> {
        ProcessStateChange {
            process: "exiter",
            group: "exiter",
            from,
            to,
            pid: 4540,
            tries: 1,
            expected: false,
        }
    }

    #[test]
    fn process_state_payloads_match_the_reference() {
        let e = Event::process_state(&change(ProcessState::Exited, ProcessState::Running));
        assert_eq!(e.name(), "PROCESS_STATE_EXITED");
        assert_eq!(
            e.payload(),
            "processname:exiter groupname:exiter from_state:RUNNING expected:0 pid:4540"
        );
        assert_eq!(e.payload().len(), 74);
        let e = Event::process_state(&ProcessStateChange {
            process: "quick",
            group: "quick",
            ..change(ProcessState::Backoff, ProcessState::Starting)
        });
        assert_eq!(
            e.payload(),
            "processname:quick groupname:quick from_state:STARTING tries:1"
        );
        assert_eq!(e.payload().len(), 61);
        let cases = [
            (ProcessState::Starting, ProcessState::Stopped, " tries:1"),
            (ProcessState::Running, ProcessState::Starting, " pid:4540"),
            (ProcessState::Stopping, ProcessState::Running, " pid:4540"),
            (ProcessState::Stopped, ProcessState::Stopping, " pid:4540"),
            (ProcessState::Fatal, ProcessState::Backoff, ""),
            (ProcessState::Unknown, ProcessState::Running, ""),
        ];
        for (to, from, tail) in cases {
            let e = Event::process_state(&change(to, from));
            assert_eq!(e.name(), format!("PROCESS_STATE_{}", to.name()));
            assert_eq!(
                e.payload(),
                format!(
                    "processname:exiter groupname:exiter from_state:{}{tail}",
                    from.name()
                )
            );
            let subject = e.state_subject().unwrap();
            assert_eq!((subject.from, subject.to), (from, to));
        }
        let e = Event::process_state(&ProcessStateChange {
            expected: true,
            ..change(ProcessState::Exited, ProcessState::Running)
        });
        assert!(e.payload().contains(" expected:1 "));
    }

    #[test]
    fn log_and_communication_payloads() {
        let e = Event::process_log(Channel::Stdout, "comm", "comm", 19562, b"plain line\n");
        assert_eq!(e.name(), "PROCESS_LOG_STDOUT");
        assert_eq!(
            e.payload(),
            "processname:comm groupname:comm pid:19562 channel:stdout\nplain line\n"
        );
        assert_eq!(e.payload().len(), 68);
        assert_eq!(e.body(), Some("plain line\n"));
        let e = Event::process_log(Channel::Stderr, "a", "g", 1, b"x");
        assert_eq!(e.name(), "PROCESS_LOG_STDERR");
        assert_eq!(
            e.payload(),
            "processname:a groupname:g pid:1 channel:stderr\nx"
        );
        let e =
            Event::process_communication(Channel::Stdout, "comm", "comm", 19562, b"captured data");
        assert_eq!(e.name(), "PROCESS_COMMUNICATION_STDOUT");
        assert_eq!(
            e.payload(),
            "processname:comm groupname:comm pid:19562\ncaptured data"
        );
        assert_eq!(e.payload().len(), 55);
        let e = Event::process_communication(Channel::Stderr, "p", "", 7, b"");
        assert_eq!(e.name(), "PROCESS_COMMUNICATION_STDERR");
        assert_eq!(e.payload(), "processname:p groupname: pid:7\n");
    }

    #[test]
    fn other_payloads() {
        let e = Event::remote_communication("mytype", "mydata");
        assert_eq!(e.payload(), "type:mytype\nmydata");
        assert_eq!(e.payload().len(), 18);
        assert_eq!(Event::supervisor_running().payload(), "");
        assert_eq!(
            Event::supervisor_stopping().name(),
            "SUPERVISOR_STATE_CHANGE_STOPPING"
        );
        let e = Event::tick(EventType::Tick5, 1795284880).unwrap();
        assert_eq!((e.name(), e.payload()), ("TICK_5", "when:1795284880"));
        assert!(Event::tick(EventType::Tick, 5).is_none());
        let e = Event::group_added("lis");
        assert_eq!(
            (e.name(), e.payload()),
            ("PROCESS_GROUP_ADDED", "groupname:lis\n")
        );
        assert_eq!(Event::group_removed("x").payload(), "groupname:x\n");
    }

    #[test]
    fn undecodable_output_uses_python_repr() {
        assert_eq!(decode_output("é\n".as_bytes()), "é\n");
        assert_eq!(
            decode_output(b"a\xff\n'\\\x00\x7f"),
            "Undecodable: b\"a\\xff\\n'\\\\\\x00\\x7f\""
        );
        assert_eq!(python_bytes_repr(b"a'b\""), "b'a\\'b\"'");
        assert_eq!(python_bytes_repr(b"\t\r"), "b'\\t\\r'");
        assert_eq!(python_str_repr("rec"), "'rec'");
        assert_eq!(python_str_repr("it's"), "\"it's\"");
        assert_eq!(python_str_repr("a'\"\n\u{1}é"), "'a\\'\"\\n\\x01é'");
        // A multi-byte character cut by a read boundary is undecodable, as in the reference.
        assert_eq!(decode_output(&"é".as_bytes()[..1]), "Undecodable: b'\\xc3'");
    }
}
