//! Checks of the pool-level keys of `[eventlistener:x]`, with the reference's messages.
//! The config engine may call these; each error names its section and key.

use std::fmt;

use supervisor_protocol::events::EventType;

/// The only `result_handler` supervisor-rs can honour (the reference's default).
pub const DEFAULT_RESULT_HANDLER: &str = "supervisor.dispatchers:default_handler";

/// A rejected `[eventlistener:x]` key. `Display` is the reference's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The section name as written, e.g. `eventlistener:mylistener`.
    pub section: String,
    /// The key at fault (`events`, `buffer_size`, `result_handler`, `redirect_stderr`).
    pub key: &'static str,
    /// The message.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValidationError {}

fn error(section: &str, key: &'static str, message: String) -> ValidationError {
    ValidationError {
        section: section.to_owned(),
        key,
        message,
    }
}

/// Parses `events=` as written (`None` when the key is absent): a comma-separated list of
/// type names, case-insensitive, duplicates ignored, order kept.
pub fn parse_events(section: &str, value: Option<&str>) -> Result<Vec<EventType>, ValidationError> {
    let value = value.unwrap_or("");
    let names: Vec<String> = if value.is_empty() {
        Vec::new()
    } else {
        value.split(',').map(|n| n.trim().to_uppercase()).collect()
    };
    event_types(section, &names)
}

/// Resolves already-split `events=` names (e.g. the config model's upper-cased list).
/// An empty list is the reference's missing-`events` error; the first unknown name (in
/// written order) is reported upper-cased.
pub fn event_types(section: &str, names: &[String]) -> Result<Vec<EventType>, ValidationError> {
    if names.is_empty() {
        return Err(error(
            section,
            "events",
            format!("[{section}] section requires an \"events\" line"),
        ));
    }
    let mut out = Vec::new();
    for name in names {
        let upper = name.trim().to_uppercase();
        let Some(t) = EventType::from_name(&upper).filter(|t| t.name() == upper) else {
            return Err(error(
                section,
                "events",
                format!("Unknown event type {upper} in [{section}] events"),
            ));
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Checks `buffer_size` (an integer already parsed by the config engine): at least 1.
pub fn check_buffer_size(section: &str, value: i64) -> Result<usize, ValidationError> {
    if value < 1 {
        return Err(error(
            section,
            "buffer_size",
            format!("[{section}] section sets invalid buffer_size ({value})"),
        ));
    }
    usize::try_from(value).map_err(|_| {
        error(
            section,
            "buffer_size",
            format!("[{section}] section sets invalid buffer_size ({value})"),
        )
    })
}

/// Checks `result_handler`: only the reference's default handler (spelled with optional
/// blanks around the colon) can be honoured; any other Python import spec is refused with
/// the reference's wording plus the reason.
pub fn check_result_handler(section: &str, spec: &str) -> Result<(), ValidationError> {
    let normalized: String = match spec.trim().split_once(':') {
        Some((module, attr)) => format!("{}:{}", module.trim(), attr.trim()),
        None => spec.trim().to_owned(),
    };
    if normalized == DEFAULT_RESULT_HANDLER {
        return Ok(());
    }
    Err(error(
        section,
        "result_handler",
        format!(
            "{spec} cannot be resolved within [{section}] (result_handler: supervisor-rs \
             cannot run Python code; only {DEFAULT_RESULT_HANDLER} is supported)"
        ),
    ))
}

/// Checks `redirect_stderr`, which must stay false for a listener.
pub fn check_redirect_stderr(section: &str, redirect_stderr: bool) -> Result<(), ValidationError> {
    if redirect_stderr {
        return Err(error(
            section,
            "redirect_stderr",
            format!(
                "[{section}] section sets redirect_stderr=true but this is not allowed because \
                 it will interfere with the eventlistener protocol"
            ),
        ));
    }
    Ok(())
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
        let e = parse_events(S, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[eventlistener:lis] section requires an \"events\" line"
        );
        assert_eq!(e.key, "events");
        assert_eq!(
            parse_events(S, Some("")).unwrap_err().to_string(),
            "[eventlistener:lis] section requires an \"events\" line"
        );
        assert_eq!(
            parse_events(S, Some("TICK_5, bogus_one, other"))
                .unwrap_err()
                .to_string(),
            "Unknown event type BOGUS_ONE in [eventlistener:lis] events"
        );
        assert_eq!(
            parse_events(S, Some("TICK_5,,")).unwrap_err().to_string(),
            "Unknown event type  in [eventlistener:lis] events"
        );
        assert!(event_types(S, &["EVENT".into()]).is_ok());
    }

    #[test]
    fn buffer_size_handler_and_redirect() {
        assert_eq!(check_buffer_size(S, 10), Ok(10));
        assert_eq!(
            check_buffer_size(S, 0).unwrap_err().to_string(),
            "[eventlistener:lis] section sets invalid buffer_size (0)"
        );
        assert_eq!(check_buffer_size(S, -3).unwrap_err().key, "buffer_size");
        assert!(check_result_handler(S, DEFAULT_RESULT_HANDLER).is_ok());
        assert!(check_result_handler(S, " supervisor.dispatchers : default_handler ").is_ok());
        let e = check_result_handler(S, "mymod:handler").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("mymod:handler cannot be resolved within [eventlistener:lis]"));
        assert_eq!(e.key, "result_handler");
        assert!(check_redirect_stderr(S, false).is_ok());
        assert_eq!(
            check_redirect_stderr(S, true).unwrap_err().to_string(),
            "[eventlistener:lis] section sets redirect_stderr=true but this is not allowed \
             because it will interfere with the eventlistener protocol"
        );
    }
}
