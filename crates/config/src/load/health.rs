//! `health_auth=` of the server sections (supervisor-rs, issue 17): whether `GET /livez`
//! and `GET /readyz` ask for the section's credentials like every other path (the
//! default, `true`: the same rule as `/ok.html`) or answer anyone (`false`, for
//! Kubernetes/Nomad probes that carry no password). The reference ignores the key.

use super::*;

/// The names of the server sections (`inet_http_server`, `unix_http_server`, ...) whose
/// health endpoints answer without credentials (`health_auth = false`), in file order.
pub(super) fn read_health_open(ld: &Loader<'_>) -> Result<Vec<String>, ConfigError> {
    let empty = Expansions::new();
    let mut out = Vec::new();
    let sections: Vec<String> = ld
        .ini
        .section_names()
        .filter(|s| s.starts_with("inet_http_server") || s.starts_with("unix_http_server"))
        .map(String::from)
        .collect();
    for section in sections {
        let e = |f: Fail| f.into_error(Some(&section), None);
        let Some(v) = ld.get(&section, "health_auth", None, &empty).map_err(e)? else {
            continue;
        };
        let auth = conv(&v, dt::parse_bool).map_err(e)?;
        if !auth {
            out.push(section.clone());
        }
    }
    Ok(out)
}
