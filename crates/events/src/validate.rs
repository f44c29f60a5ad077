//! The `events=TYPE,...` filter of the daemon's `/events` stream, read with the same
//! lookup and messages as `[eventlistener:x] events=` (which the config loader validates
//! once, storing typed [`EventType`]s: nothing here re-checks a loaded config).

use supervisor_protocol::events::EventType;

/// Parses a comma-separated list of event type names as written (`None` when absent):
/// blanks around each name ignored, case-insensitive, repeats dropped, order kept. The
/// error is the reference's message for the pseudo-section `section`.
pub fn parse_events(section: &str, value: Option<&str>) -> Result<Vec<EventType>, String> {
    let value = value.unwrap_or("");
    let names: Vec<&str> = if value.is_empty() {
        Vec::new()
    } else {
        value.split(',').map(str::trim).collect()
    };
    EventType::parse_list(names).map_err(|e| e.message(section))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "eventlistener:lis";

    #[test]
    fn events_lists() {
        assert_eq!(
            parse_events(S, Some("process_state, TICK_5,PROCESS_STATE")).unwrap(),
            vec![EventType::ProcessState, EventType::Tick5]
        );
        assert_eq!(
            parse_events(S, None).unwrap_err(),
            "[eventlistener:lis] section requires an \"events\" line"
        );
        assert_eq!(
            parse_events(S, Some("")).unwrap_err(),
            "[eventlistener:lis] section requires an \"events\" line"
        );
        assert_eq!(
            parse_events(S, Some("TICK_5, bogus_one, other")).unwrap_err(),
            "Unknown event type BOGUS_ONE in [eventlistener:lis] events"
        );
        assert_eq!(
            parse_events(S, Some("TICK_5,,")).unwrap_err(),
            "Unknown event type  in [eventlistener:lis] events"
        );
        assert_eq!(parse_events(S, Some("EVENT")), Ok(vec![EventType::Event]));
    }
}
