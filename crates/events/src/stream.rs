//! The data side of the `/events` streaming endpoint (beyond the reference): what a
//! streaming subscriber receives and its Server-Sent Events text.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::event::{Event, FieldValue};

/// One event as seen by a streaming subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// The bus-wide sequence number of streamed events (1, 2, ...), used as the SSE `id:`.
    pub seq: u64,
    /// The global serial (the same one listeners see for this event).
    pub serial: u64,
    /// The event.
    pub event: Arc<Event>,
}

/// What a streaming subscriber's queue carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// An event.
    Event(Arc<StreamEvent>),
    /// This many events were dropped because the queue was full.
    Dropped(u64),
}

/// A comment line an SSE writer may send while idle to keep proxies from closing the
/// connection.
pub const SSE_KEEPALIVE: &str = ": keep-alive\n\n";

impl StreamEvent {
    /// The event as one JSON object:
    /// `{"eventname":"...","serial":n,"payload":{<header fields>,"data":<body>}}` where
    /// numeric fields (pid, tries, expected, when) are numbers and `data` is present only
    /// for payloads with a body (log, communication, remote and group events).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"eventname\":");
        out.push_str(&json_string(self.event.name()));
        let _ = write!(out, ",\"serial\":{},\"payload\":{{", self.serial);
        let mut first = true;
        for (key, value) in self.event.fields() {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&json_string(key));
            out.push(':');
            match value {
                FieldValue::Str(s) => out.push_str(&json_string(s)),
                FieldValue::Int(n) => {
                    let _ = write!(out, "{n}");
                }
            }
        }
        if let Some(body) = self.event.body() {
            if !first {
                out.push(',');
            }
            out.push_str("\"data\":");
            out.push_str(&json_string(body));
        }
        out.push_str("}}");
        out
    }
}

impl StreamItem {
    /// The SSE text of this item: for an event
    /// `id: <seq>\nevent: <EVENTNAME>\ndata: <json>\n\n`, for a drop notice
    /// `event: dropped\ndata: {"dropped":<n>}\n\n`.
    pub fn to_sse(&self) -> String {
        match self {
            StreamItem::Event(e) => format!(
                "id: {}\nevent: {}\ndata: {}\n\n",
                e.seq,
                e.event.name(),
                e.to_json()
            ),
            StreamItem::Dropped(n) => format!("event: dropped\ndata: {{\"dropped\":{n}}}\n\n"),
        }
    }
}

fn json_string(s: &str) -> String {
    // serde_json's string escaping: a well-tested encoder for the one thing we need.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Channel, ProcessStateChange};
    use supervisor_protocol::ProcessState;

    fn item(event: Event) -> StreamItem {
        StreamItem::Event(Arc::new(StreamEvent {
            seq: 3,
            serial: 17,
            event: Arc::new(event),
        }))
    }

    #[test]
    fn sse_of_a_state_event() {
        let e = Event::process_state(&ProcessStateChange {
            process: "cat",
            group: "cat",
            from: ProcessState::Starting,
            to: ProcessState::Running,
            pid: 42,
            tries: 0,
            expected: true,
        });
        assert_eq!(
            item(e).to_sse(),
            "id: 3\nevent: PROCESS_STATE_RUNNING\ndata: {\"eventname\":\"PROCESS_STATE_RUNNING\",\
             \"serial\":17,\"payload\":{\"processname\":\"cat\",\"groupname\":\"cat\",\
             \"from_state\":\"STARTING\",\"pid\":42}}\n\n"
        );
    }

    #[test]
    fn sse_data_is_one_line_and_valid_json() {
        let e = Event::process_log(Channel::Stderr, "p\"q", "g", 1, b"line 1\nline \xff\n");
        let sse = item(e).to_sse();
        let data = sse.lines().find(|l| l.starts_with("data: ")).unwrap();
        assert_eq!(sse.matches('\n').count(), 4);
        let v: serde_json::Value = serde_json::from_str(&data[6..]).unwrap();
        assert_eq!(v["payload"]["processname"], "p\"q");
        assert_eq!(v["payload"]["channel"], "stderr");
        assert_eq!(
            v["payload"]["data"],
            "Undecodable: b'line 1\\nline \\xff\\n'"
        );
        let e = Event::supervisor_running();
        let v: serde_json::Value =
            serde_json::from_str(&item(e).to_sse().lines().nth(2).unwrap()[6..]).unwrap();
        assert_eq!(v["payload"], serde_json::json!({}));
        assert_eq!(
            StreamItem::Dropped(5).to_sse(),
            "event: dropped\ndata: {\"dropped\":5}\n\n"
        );
    }
}
