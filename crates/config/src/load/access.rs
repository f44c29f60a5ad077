//! supervisor-rs access control keys of the server sections: `users=`, `roles=` and
//! `users_file=` (docs/security.md). The reference ignores these keys; without them nothing
//! changes (the section's `username=`/`password=` stay the one, admin, user).
//!
//! * `users = viewer:{SHA}..., deploy:secret`: `name:password` entries separated by
//!   commas. A password may itself contain commas (argon2 strings do: `m=19456,t=2,p=1`):
//!   a comma-separated piece without a `:` belongs to the entry before it.
//! * `roles = viewer=read, deploy=operate`: a user listed in `users` without a role here
//!   gets `read`.
//! * `users_file = /etc/supervisor/users`: `name:password:role` lines (blank lines and `#`
//!   comments skipped), in addition to `users=`.
//!
//! Every error names the file, the line, the section and the key (for `users_file=`, the
//! line of that file).

use super::*;
use crate::model::{Role, ServerAccessConfig, ServerUser};

/// The text of an error located at `file:line`, `[section] key`.
fn located(file: Option<&str>, line: Option<usize>, section: &str, key: &str, m: &str) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{f}:{l}: [{section}] {key}: {m}"),
        (Some(f), None) => format!("{f}: [{section}] {key}: {m}"),
        _ => format!("[{section}] {key}: {m}"),
    }
}

fn error_at(v: &Val, section: &str, m: &str) -> ConfigError {
    let file = v.entry.as_ref().map(|(f, _)| f.to_string());
    let line = v.entry.as_ref().map(|(_, l)| *l);
    ConfigError {
        file: file.as_ref().map(PathBuf::from),
        line,
        section: Some(section.to_string()),
        key: Some(v.key.clone()),
        message: located(file.as_deref(), line, section, &v.key, m),
    }
}

/// Splits `users=` into `(name, password)` entries (see the module doc).
pub(crate) fn split_users(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut entries: Vec<String> = Vec::new();
    for piece in value.split(',') {
        match entries.last_mut() {
            Some(last) if !piece.contains(':') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => entries.push(piece.to_string()),
        }
    }
    let mut out = Vec::new();
    for e in entries {
        let e = e.trim();
        if e.is_empty() {
            continue;
        }
        let Some((name, password)) = e.split_once(':') else {
            return Err(format!("malformed entry {e:?} (expected name:password)"));
        };
        let name = name.trim();
        if name.is_empty() || password.is_empty() {
            return Err(format!("malformed entry {e:?} (expected name:password)"));
        }
        out.push((name.to_string(), password.to_string()));
    }
    Ok(out)
}

/// Splits `roles=` into `(name, role)` pairs.
pub(crate) fn split_roles(value: &str) -> Result<Vec<(String, Role)>, String> {
    let mut out = Vec::new();
    for e in value.split(',') {
        let e = e.trim();
        if e.is_empty() {
            continue;
        }
        let Some((name, role)) = e.split_once('=') else {
            return Err(format!("malformed entry {e:?} (expected name=role)"));
        };
        let (name, role) = (name.trim(), role.trim());
        if name.is_empty() {
            return Err(format!("malformed entry {e:?} (expected name=role)"));
        }
        let Some(r) = Role::from_name(role) else {
            return Err(format!(
                "unknown role {role:?} for user {name:?} (expected read, operate or admin)"
            ));
        };
        out.push((name.to_string(), r));
    }
    Ok(out)
}

/// Parses the text of a `users_file`: `(line, user)` per entry, or `(line, message)`.
pub(crate) fn parse_users_file(text: &str) -> Result<Vec<(usize, ServerUser)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        // name:password:role, the password may contain ':' (the role is after the last).
        let (Some((name, rest)), true) = (l.split_once(':'), l.matches(':').count() >= 2) else {
            return Err((
                line,
                "malformed entry (expected name:password:role)".to_string(),
            ));
        };
        let (password, role) = rest.rsplit_once(':').unwrap_or((rest, ""));
        let name = name.trim();
        if name.is_empty() || password.is_empty() {
            return Err((
                line,
                "malformed entry (expected name:password:role)".to_string(),
            ));
        }
        let role = role.trim();
        let Some(role) = Role::from_name(role) else {
            return Err((
                line,
                format!(
                    "unknown role {role:?} for user {name:?} (expected read, operate or admin)"
                ),
            ));
        };
        out.push((
            line,
            ServerUser {
                name: name.to_string(),
                password: password.to_string(),
                role,
            },
        ));
    }
    Ok(out)
}

/// The access keys of every server section that has any.
pub(super) fn read_server_access(ld: &Loader<'_>) -> Result<Vec<ServerAccessConfig>, ConfigError> {
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
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
        let users_v = ld.get(&section, "users", None, &empty).map_err(e)?;
        let roles_v = ld.get(&section, "roles", None, &empty).map_err(e)?;
        let file_v = ld.get(&section, "users_file", None, &here).map_err(e)?;
        if users_v.is_none() && roles_v.is_none() && file_v.is_none() {
            continue;
        }
        let admin = ld
            .get(&section, "username", None, &empty)
            .map_err(e)?
            .map(|v| v.value);
        let mut users: Vec<ServerUser> = Vec::new();
        let duplicate = |users: &[ServerUser], name: &str| {
            users.iter().any(|u| u.name == name) || admin.as_deref() == Some(name)
        };
        if let Some(v) = &users_v {
            let entries = split_users(&v.value).map_err(|m| error_at(v, &section, &m))?;
            for (name, password) in entries {
                if duplicate(&users, &name) {
                    return Err(error_at(v, &section, &format!("duplicate user {name:?}")));
                }
                users.push(ServerUser {
                    name,
                    password,
                    role: Role::Read,
                });
            }
        }
        if let Some(v) = &roles_v {
            let roles = split_roles(&v.value).map_err(|m| error_at(v, &section, &m))?;
            for (name, role) in roles {
                match users.iter_mut().find(|u| u.name == name) {
                    Some(u) => u.role = role,
                    None => {
                        return Err(error_at(
                            v,
                            &section,
                            &format!("role for unknown user {name:?} (not in users=)"),
                        ))
                    }
                }
            }
        }
        let mut users_file = None;
        if let Some(v) = &file_v {
            let path = dt::normalize_path(py_strip(&v.value), &ld.ctx.cwd, ld.home());
            let text = std::fs::read_to_string(&path).map_err(|err| {
                error_at(
                    v,
                    &section,
                    &format!("cannot read users file {path:?}: {err}"),
                )
            })?;
            let entries = parse_users_file(&text).map_err(|(line, m)| ConfigError {
                file: Some(PathBuf::from(&path)),
                line: Some(line),
                section: Some(section.clone()),
                key: Some("users_file".into()),
                message: located(Some(&path), Some(line), &section, "users_file", &m),
            })?;
            for (line, u) in entries {
                if duplicate(&users, &u.name) {
                    return Err(ConfigError {
                        file: Some(PathBuf::from(&path)),
                        line: Some(line),
                        section: Some(section.clone()),
                        key: Some("users_file".into()),
                        message: located(
                            Some(&path),
                            Some(line),
                            &section,
                            "users_file",
                            &format!("duplicate user {:?}", u.name),
                        ),
                    });
                }
                users.push(u);
            }
            users_file = Some(PathBuf::from(path));
        }
        out.push(ServerAccessConfig {
            section: section.clone(),
            users,
            users_file,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_split_keeps_commas_of_argon2_strings() {
        let u = split_users(
            "viewer:{SHA}abc, deploy:secret,a:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        )
        .unwrap();
        assert_eq!(u[0], ("viewer".into(), "{SHA}abc".into()));
        assert_eq!(u[1], ("deploy".into(), "secret".into()));
        assert_eq!(
            u[2],
            (
                "a".into(),
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()
            )
        );
        assert!(split_users(":x").is_err());
        assert!(split_users("name:").is_err());
        assert!(split_users("").unwrap().is_empty());
    }

    #[test]
    fn roles_split() {
        let r = split_roles("viewer=read, deploy=operate,boss=admin").unwrap();
        assert_eq!(r[1], ("deploy".into(), Role::Operate));
        assert_eq!(r[2], ("boss".into(), Role::Admin));
        let e = split_roles("viewer=root").unwrap_err();
        assert!(e.contains("unknown role \"root\""), "{e}");
        assert!(split_roles("viewer").unwrap_err().contains("malformed"));
    }

    fn load(text: &str) -> Result<crate::Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let ctx = LoadContext {
            environ: vec![("TMPDIR".into(), dir.path().to_string_lossy().into_owned())],
            hostname: "box".into(),
            cwd: dir.path().to_path_buf(),
            uid: 0,
        };
        std::fs::write(
            dir.path().join("users"),
            "ops:{SHA}ab:operate\nadmin:x:read\n",
        )
        .unwrap();
        let text = text.replace("DIR", &dir.path().to_string_lossy());
        crate::load::load_from_str(&dir.path().join("s.conf"), &text, &ctx)
    }

    #[test]
    fn loads_users_and_roles_and_locates_errors() {
        let c = load(
            "[supervisord]\n[inet_http_server]\nport=127.0.0.1:9001\nusername=root\npassword=p\n\
             users = viewer:{SHA}x, deploy:secret\nroles = deploy=operate\n",
        )
        .unwrap();
        let a = &c.server_access[0];
        assert_eq!(a.section, "inet_http_server");
        assert_eq!(a.users.len(), 2);
        assert_eq!(a.users[0].role, Role::Read);
        assert_eq!(a.users[1].role, Role::Operate);
        // Without the keys: nothing (the reference's single user).
        let c = load("[supervisord]\n[inet_http_server]\nport=9001\n").unwrap();
        assert!(c.server_access.is_empty());
        // An error names file, line, section and key.
        let e = load(
            "[supervisord]\n[unix_http_server]\nfile=/tmp/s.sock\nusers = a:x\nroles = a=god\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(5));
        assert_eq!(e.section.as_deref(), Some("unix_http_server"));
        assert_eq!(e.key.as_deref(), Some("roles"));
        assert!(e.message.ends_with(":5: [unix_http_server] roles: unknown role \"god\" for user \"a\" (expected read, operate or admin)"), "{}", e.message);
        // users_file: its own file and line; a duplicate of the admin user.
        let e = load(
            "[supervisord]\n[unix_http_server]\nfile=/tmp/s.sock\nusername=admin\npassword=p\nusers_file=DIR/users\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("users_file"));
        assert!(
            e.message
                .contains("users:2: [unix_http_server] users_file: duplicate user \"admin\""),
            "{}",
            e.message
        );
        let e = load("[supervisord]\n[unix_http_server]\nfile=/tmp/s.sock\nusers_file=DIR/nope\n")
            .unwrap_err();
        assert!(
            e.message.contains("cannot read users file"),
            "{}",
            e.message
        );
    }

    #[test]
    fn users_file_lines() {
        let u = parse_users_file("# c\n\nbob:pa:ss:operate\nann:{SHA}ab:read\n").unwrap();
        assert_eq!(u[0].0, 3);
        assert_eq!(u[0].1.password, "pa:ss");
        assert_eq!(u[0].1.role, Role::Operate);
        assert_eq!(parse_users_file("x\n").unwrap_err().0, 1);
        let (line, m) = parse_users_file("ok:p:read\nbad:p:god\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(m.contains("unknown role"), "{m}");
    }
}
