//! `healthcheck=` and its `healthcheck_*` keys (supervisor-rs liveness checks) of one
//! process, expanded like `command=` (so `%(process_num)d` can pick a port per process).

use super::*;
use crate::checks::{
    parse_health_check, parse_nonnegative_seconds, parse_positive_seconds, parse_retries,
    HealthAction, HealthConfig, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_RETRIES,
    DEFAULT_HEALTH_START_DELAY, DEFAULT_HEALTH_TIMEOUT,
};

/// The health check of process section `s`, or `None` without `healthcheck=`. The
/// timing keys are checked even without it, so a typo never waits for the day a check
/// is added.
pub(super) fn read_healthcheck(
    ld: &Loader<'_>,
    s: &str,
    (common, prog_env): (&Expansions, &Expansions),
) -> SectionResult<Option<HealthConfig>> {
    let get = |key: &str| ld.getp(s, key, common, prog_env);
    let seconds = |key: &str, default: f64, zero_ok: bool| -> SectionResult<f64> {
        match get(key)? {
            Some(v) if zero_ok => conv(&v, |x| parse_nonnegative_seconds(x, key)),
            Some(v) => conv(&v, |x| parse_positive_seconds(x, key)),
            None => Ok(default),
        }
    };
    let interval = seconds("healthcheck_interval", DEFAULT_HEALTH_INTERVAL, false)?;
    let timeout = seconds("healthcheck_timeout", DEFAULT_HEALTH_TIMEOUT, false)?;
    let start_delay = seconds("healthcheck_start_delay", DEFAULT_HEALTH_START_DELAY, true)?;
    let retries = match get("healthcheck_retries")? {
        Some(v) => conv(&v, |x| parse_retries(x, "healthcheck_retries"))?,
        None => DEFAULT_HEALTH_RETRIES,
    };
    let action = match get("healthcheck_action")? {
        Some(v) => conv(&v, |x| HealthAction::parse(x, "healthcheck_action"))?,
        None => HealthAction::Restart,
    };
    let Some(v) = get("healthcheck")? else {
        return Ok(None);
    };
    let check = conv(&v, |x| parse_health_check(x, "healthcheck"))?;
    Ok(Some(HealthConfig {
        check,
        interval,
        timeout,
        retries,
        start_delay,
        action,
    }))
}
