//! `--check-config` findings about access control: an inet server that anyone on the
//! network can reach without credentials (the reference only logs CRIT at start), and
//! stored passwords that can never match.

use supervisor_config::diagnostics::{diagnostic, Diagnostic, Severity};
use supervisor_config::Config;

use super::passwords;

/// Whether an `[inet_http_server]` host binds beyond the loopback interface (empty =
/// every interface; names other than `localhost` may resolve anywhere).
pub fn is_exposed(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.is_empty() || h == "*" {
        return true;
    }
    if h.eq_ignore_ascii_case("localhost") {
        return false;
    }
    match h.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => true,
    }
}

/// The findings (warnings) of `config`.
pub fn findings(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for inet in &config.inet_http_servers {
        let users = config
            .server_access
            .iter()
            .any(|a| a.section == inet.section && !a.users.is_empty());
        let place = config.sources.locate(&inet.section, "port");
        if inet.credentials.is_none() && !users && is_exposed(&inet.host) {
            let host = if inet.host.is_empty() {
                "*"
            } else {
                &inet.host
            };
            out.push(diagnostic(
                Severity::Warning,
                "inet-without-auth",
                format!(
                    "[{}] port={host}:{} listens beyond the loopback interface without any HTTP \
                     authentication: anyone who can reach it controls every process; set \
                     username/password (or users=), or bind to 127.0.0.1 (docs/security.md)",
                    inet.section, inet.port
                ),
                place,
                Some(&inet.section),
                Some("port"),
            ));
        }
    }
    let sections = config
        .inet_http_servers
        .iter()
        .map(|i| (i.section.clone(), i.credentials.clone()))
        .chain(
            config
                .unix_http_server
                .iter()
                .map(|u| (u.section.clone(), u.credentials.clone())),
        );
    for (section, creds) in sections {
        let mut stored: Vec<(String, String, &'static str)> = Vec::new();
        if let Some(c) = creds {
            stored.push((c.username, c.password, "password"));
        }
        if let Some(a) = config.server_access.iter().find(|a| a.section == section) {
            for u in &a.users {
                stored.push((u.name.clone(), u.password.clone(), "users"));
            }
        }
        for (user, pw, key) in stored {
            if !passwords::is_well_formed(&pw) {
                let place = config.sources.locate(&section, key);
                out.push(diagnostic(
                    Severity::Warning,
                    "bad-password-hash",
                    format!(
                        "[{section}] the stored password of user {user:?} is not a valid {{SHA}} \
                         or argon2 hash: no password can match it"
                    ),
                    place,
                    Some(&section),
                    Some(key),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_hosts() {
        for h in [
            "",
            "*",
            "0.0.0.0",
            "192.168.1.4",
            "::",
            "example.com",
            "[::]",
        ] {
            assert!(is_exposed(h), "{h}");
        }
        for h in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] {
            assert!(!is_exposed(h), "{h}");
        }
    }
}
