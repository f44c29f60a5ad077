//! `token create NAME [--role ROLE]`, `token list`, `token revoke NAME`: the daemon's
//! bearer tokens (supervisor-rs, admin only; docs/security.md), through the extension
//! methods `supervisor_rs.createToken`, `listTokens` and `revokeToken`.

use supervisor_protocol::Value;

use super::{exit, Controller};
use crate::error::CtlError;
use crate::rpc::{self, array, member, member_str, s};

/// `help token`.
pub const HELP: &str = "token create <name> [--role read|operate|admin]\n\t\t\tCreate a bearer token (admin only; role read by default).\n\t\t\tThe token is printed once, on stdout; the daemon keeps only its hash.\n\t\t\tUse it as 'Authorization: Bearer <token>' (curl -H, dashboards, /metrics).\ntoken list\t\tList the tokens: name, role, creation time\ntoken revoke <name>\tRevoke a token (requests with it are refused at once)";

/// An epoch second as `YYYY-MM-DD HH:MM:SS UTC` (days to a civil date: the proleptic
/// Gregorian calendar, as chrono and Python's `datetime` count).
fn when(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The stderr hint after a call refused for the user's role (`FAILED: not allowed for role
/// read: supervisor.reloadConfig needs admin`).
pub fn role_hint(fault: &str) -> String {
    let needs = fault
        .rsplit_once(" needs ")
        .map(|(_, r)| r.trim())
        .unwrap_or("a higher role");
    format!(
        "hint: this user or token may not do that (it needs role {needs}); log in as a user \
         with that role (-u/-p) or ask an admin for one (docs/security.md)"
    )
}

impl Controller {
    fn token_usage(&mut self, problem: &str) -> Result<(), CtlError> {
        self.output(&format!("Error: {problem}"));
        self.exitstatus = exit::GENERIC;
        self.help("token");
        Ok(())
    }

    fn token_fault(&mut self, r: Result<Value, CtlError>) -> Result<Option<Value>, CtlError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(CtlError::Fault(f)) => {
                self.output(&format!("Error: {}", f.string));
                self.exitstatus = exit::GENERIC;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn do_token(&mut self, arg: &str) -> Result<(), CtlError> {
        let words: Vec<&str> = arg.split_whitespace().collect();
        let Some((&sub, rest)) = words.split_first() else {
            return self.token_usage("token requires a subcommand: create, list or revoke");
        };
        match sub {
            "create" => {
                let mut name = None;
                let mut role = "read".to_string();
                let mut i = 0;
                while i < rest.len() {
                    let w = rest[i];
                    if w == "--role" {
                        let Some(r) = rest.get(i + 1) else {
                            return self.token_usage("--role requires a value");
                        };
                        role = r.to_string();
                        i += 2;
                        continue;
                    }
                    if let Some(r) = w.strip_prefix("--role=") {
                        role = r.to_string();
                    } else if name.is_none() && !w.starts_with('-') {
                        name = Some(w.to_string());
                    } else {
                        return self.token_usage(&format!("unexpected argument {w:?}"));
                    }
                    i += 1;
                }
                let Some(name) = name else {
                    return self.token_usage("token create requires a name");
                };
                if !self.upcheck()? {
                    return Ok(());
                }
                let r = self.call("supervisor_rs.createToken", &[s(&name), s(&role)]);
                if let Some(v) = self.token_fault(r)? {
                    self.output(&rpc::value_to_string(&v));
                    self.hint(&format!(
                        "token {name:?} (role {role}) created: it is shown only this once"
                    ));
                }
                Ok(())
            }
            "list" => {
                if !rest.is_empty() {
                    return self.token_usage("token list accepts no arguments");
                }
                if !self.upcheck()? {
                    return Ok(());
                }
                let r = self.call("supervisor_rs.listTokens", &[]);
                let Some(v) = self.token_fault(r)? else {
                    return Ok(());
                };
                let rows = array(v);
                if rows.is_empty() {
                    self.output("no tokens");
                    return Ok(());
                }
                let mut lines = Vec::new();
                for row in &rows {
                    let name = member_str(row, "name")?;
                    let role = member_str(row, "role")?;
                    let created = rpc::value_to_int(member(row, "created")?);
                    lines.push((name, role, when(created)));
                }
                let w = lines.iter().map(|l| l.0.len()).max().unwrap_or(0).max(4);
                self.output(&format!("{:<w$}  {:<7}  CREATED", "NAME", "ROLE"));
                for (n, r, c) in lines {
                    self.output(&format!("{n:<w$}  {r:<7}  {c}"));
                }
                Ok(())
            }
            "revoke" => {
                let [name] = rest else {
                    return self.token_usage("token revoke requires exactly one name");
                };
                if !self.upcheck()? {
                    return Ok(());
                }
                let r = self.call("supervisor_rs.revokeToken", &[s(name)]);
                if self.token_fault(r)?.is_some() {
                    self.output(&format!("token {name} revoked"));
                }
                Ok(())
            }
            other => self.token_usage(&format!("unknown token subcommand {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_hint() {
        assert_eq!(
            super::role_hint("FAILED: not allowed for role read: supervisor.shutdown needs admin"),
            "hint: this user or token may not do that (it needs role admin); log in as a user \
             with that role (-u/-p) or ask an admin for one (docs/security.md)"
        );
    }

    #[test]
    fn when() {
        assert_eq!(super::when(0), "1970-01-01 00:00:00 UTC");
        // date -u -d @1796410800
        assert_eq!(super::when(1_796_410_800), "2026-12-04 19:00:00 UTC");
        assert_eq!(super::when(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
