//! Authentication of one server section: its `username=` (admin), its `users=` /
//! `users_file=` users with their roles, bearer tokens, and a verified TLS client
//! certificate's user.
//!
//! A failed login (wrong password, unknown user, unknown token) is answered only after
//! [`FAILED_LOGIN_DELAY`], slept on the connection's own task: other clients and the
//! event loop go on meanwhile. An argon2 check is slow on purpose (tens of ms): it runs
//! on tokio's blocking pool, at most [`ARGON2_AT_ONCE`] at a time, and a successful one is
//! remembered (a digest of user and password, [`CACHE_SIZE`] entries) so a client that
//! sends its password with every request pays it once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use supervisor_config::{Credentials, Role, ServerUser};
use supervisor_protocol::basic_auth::{self, BasicAuthError};

use super::passwords::{constant_time_eq, password_matches, scheme, Scheme};
use super::{tokens, Caller, CallerKind, Peer};

/// How long a failed login waits before its 401.
pub const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(300);
/// Most argon2 checks running at once.
pub const ARGON2_AT_ONCE: usize = 2;
/// Successful argon2 logins remembered.
pub const CACHE_SIZE: usize = 64;

/// The result of authenticating a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Who it is.
    Allowed(Caller),
    /// Missing or wrong credentials: 401.
    Unauthorized,
    /// `Basic` with a value that is not base64: 400.
    Malformed,
}

/// The users of one server section.
pub struct ServerAccess {
    admin: Option<Credentials>,
    users: Vec<ServerUser>,
    /// Digests of (user, password) pairs whose argon2 check succeeded, newest last.
    verified: Mutex<Vec<[u8; 32]>>,
    argon2_slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for ServerAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAccess")
            .field("admin", &self.admin.as_ref().map(|c| &c.username))
            .field(
                "users",
                &self.users.iter().map(|u| &u.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn digest(user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    h.finalize().into()
}

impl ServerAccess {
    /// The access of a section with `admin` (`username=`/`password=`) and `users`.
    pub fn new(admin: Option<Credentials>, users: Vec<ServerUser>) -> ServerAccess {
        ServerAccess {
            admin,
            users,
            verified: Mutex::new(Vec::new()),
            argon2_slots: Arc::new(tokio::sync::Semaphore::new(ARGON2_AT_ONCE)),
        }
    }

    /// Whether requests must authenticate (any user configured).
    pub fn requires_auth(&self) -> bool {
        self.admin.is_some() || !self.users.is_empty()
    }

    /// The role of user `name` (`admin` for the section's `username=`).
    pub fn role_of_user(&self, name: &str) -> Option<Role> {
        if self.admin.as_ref().is_some_and(|a| a.username == name) {
            return Some(Role::Admin);
        }
        self.users.iter().find(|u| u.name == name).map(|u| u.role)
    }

    /// The caller of a request whose TLS client certificate was verified and maps to user
    /// `user` (the TLS layer's way in: it sets [`Peer::cert_user`], or calls this). `None`
    /// when the section has no such user. On a server without authentication, the
    /// certificate user is admin.
    pub fn caller_for_certificate(&self, user: &str, peer: &Peer) -> Option<Caller> {
        let role = if self.requires_auth() {
            self.role_of_user(user)?
        } else {
            Role::Admin
        };
        Some(Caller {
            name: user.to_string(),
            kind: CallerKind::Certificate,
            role,
            peer: peer.clone(),
        })
    }

    async fn matches(&self, user: &str, stored: &str, given: &str) -> bool {
        if scheme(stored).0 != Scheme::Argon2 {
            return password_matches(stored, given);
        }
        let d = digest(user, given);
        {
            let seen = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if seen.iter().any(|x| constant_time_eq(x, &d)) {
                return true;
            }
        }
        let Ok(_permit) = self.argon2_slots.clone().acquire_owned().await else {
            return false;
        };
        let (s, g) = (stored.to_string(), given.to_string());
        let ok = tokio::task::spawn_blocking(move || password_matches(&s, &g))
            .await
            .unwrap_or(false);
        if ok {
            let mut seen = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() >= CACHE_SIZE {
                seen.remove(0);
            }
            seen.push(d);
        }
        ok
    }

    /// Authenticates a request from its `Authorization` header (`None` when absent) and
    /// its connection. Wrong credentials wait [`FAILED_LOGIN_DELAY`] before answering.
    pub async fn authenticate(&self, header: Option<&[u8]>, peer: &Peer) -> AuthOutcome {
        let caller = |name: &str, kind, role| Caller {
            name: name.to_string(),
            kind,
            role,
            peer: peer.clone(),
        };
        if !self.requires_auth() {
            return AuthOutcome::Allowed(caller("", CallerKind::Anonymous, Role::Admin));
        }
        let Some(header) = header else {
            if let Some(c) = peer
                .cert_user
                .as_deref()
                .and_then(|u| self.caller_for_certificate(u, peer))
            {
                return AuthOutcome::Allowed(c);
            }
            return AuthOutcome::Unauthorized;
        };
        let text = String::from_utf8_lossy(header);
        let trimmed = text.trim_start();
        if trimmed.len() > 7 && trimmed[..7].eq_ignore_ascii_case("bearer ") {
            let token = trimmed[7..].trim();
            let found = tokens::store(|s| s.verify(token).map(|e| (e.name.clone(), e.role)));
            return match found {
                Some((name, role)) => AuthOutcome::Allowed(caller(&name, CallerKind::Token, role)),
                None => {
                    tokio::time::sleep(FAILED_LOGIN_DELAY).await;
                    AuthOutcome::Unauthorized
                }
            };
        }
        let given = match basic_auth::parse(header) {
            Ok(given) => given,
            Err(BasicAuthError::Malformed) => return AuthOutcome::Malformed,
            Err(BasicAuthError::NotBasic | BasicAuthError::NoColon) => {
                return AuthOutcome::Unauthorized
            }
        };
        if let Some(admin) = &self.admin {
            // Both comparisons run so the time does not tell which one failed.
            let user_ok = constant_time_eq(admin.username.as_bytes(), given.username.as_bytes());
            if user_ok {
                if self
                    .matches(&admin.username, &admin.password, &given.password)
                    .await
                {
                    return AuthOutcome::Allowed(caller(
                        &admin.username,
                        CallerKind::User,
                        Role::Admin,
                    ));
                }
                tokio::time::sleep(FAILED_LOGIN_DELAY).await;
                return AuthOutcome::Unauthorized;
            }
        }
        let user = self
            .users
            .iter()
            .find(|u| constant_time_eq(u.name.as_bytes(), given.username.as_bytes()));
        if let Some(u) = user {
            if self.matches(&u.name, &u.password, &given.password).await {
                return AuthOutcome::Allowed(caller(&u.name, CallerKind::User, u.role));
            }
        }
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        AuthOutcome::Unauthorized
    }
}

/// The access of server section `section` of `config`: its `username=` (`admin`) and
/// the users of its `users=`/`users_file=`.
pub fn for_section(
    config: &supervisor_config::Config,
    section: &str,
    admin: &Option<Credentials>,
) -> ServerAccess {
    let users = config
        .server_access
        .iter()
        .find(|a| a.section == section)
        .map(|a| a.users.clone())
        .unwrap_or_default();
    ServerAccess::new(admin.clone(), users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn basic(s: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
        .into_bytes()
    }

    fn access() -> ServerAccess {
        ServerAccess::new(
            Some(Credentials {
                username: "admin".into(),
                password: "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef".into(),
            }),
            vec![
                ServerUser {
                    name: "viewer".into(),
                    password: "look".into(),
                    role: Role::Read,
                },
                ServerUser {
                    name: "deploy".into(),
                    password: super::super::passwords::hash_password("ship").unwrap(),
                    role: Role::Operate,
                },
            ],
        )
    }

    fn role(o: AuthOutcome) -> Option<Role> {
        match o {
            AuthOutcome::Allowed(c) => Some(c.role),
            _ => None,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn users_and_roles() {
        let a = access();
        let p = Peer::default();
        assert_eq!(
            role(a.authenticate(Some(&basic("admin:123")), &p).await),
            Some(Role::Admin)
        );
        assert_eq!(
            role(a.authenticate(Some(&basic("viewer:look")), &p).await),
            Some(Role::Read)
        );
        assert_eq!(
            role(a.authenticate(Some(&basic("deploy:ship")), &p).await),
            Some(Role::Operate)
        );
        // Cached the second time (same answer).
        assert_eq!(
            role(a.authenticate(Some(&basic("deploy:ship")), &p).await),
            Some(Role::Operate)
        );
        for bad in ["admin:1234", "viewer:123", "deploy:look", "nobody:x"] {
            assert_eq!(
                a.authenticate(Some(&basic(bad)), &p).await,
                AuthOutcome::Unauthorized,
                "{bad}"
            );
        }
        assert_eq!(a.authenticate(None, &p).await, AuthOutcome::Unauthorized);
        assert_eq!(
            a.authenticate(Some(b"Basic %%%"), &p).await,
            AuthOutcome::Malformed
        );
        // A certificate user gets its role; an unknown one nothing.
        let cert = Peer {
            cert_user: Some("viewer".into()),
            ..Peer::default()
        };
        assert_eq!(role(a.authenticate(None, &cert).await), Some(Role::Read));
        assert!(a.caller_for_certificate("stranger", &p).is_none());
        // No users at all: everyone is admin, as in the reference.
        let open = ServerAccess::new(None, vec![]);
        assert_eq!(role(open.authenticate(None, &p).await), Some(Role::Admin));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failed_login_waits() {
        let a = access();
        let p = Peer::default();
        let t = tokio::time::Instant::now();
        assert_eq!(
            a.authenticate(Some(&basic("admin:x")), &p).await,
            AuthOutcome::Unauthorized
        );
        assert!(t.elapsed() >= FAILED_LOGIN_DELAY);
        let t = tokio::time::Instant::now();
        assert_eq!(
            a.authenticate(Some(b"Bearer srs_nope"), &p).await,
            AuthOutcome::Unauthorized
        );
        assert!(t.elapsed() >= FAILED_LOGIN_DELAY);
        let t = tokio::time::Instant::now();
        assert!(role(a.authenticate(Some(&basic("admin:123")), &p).await).is_some());
        assert!(t.elapsed() < FAILED_LOGIN_DELAY);
    }
}
