//! HTTP Basic authentication against a server section's `username`/`password` alone, for
//! servers built without [`crate::access`] (the tests' servers). The daemon's servers use
//! [`crate::access::server::ServerAccess`] (users, roles, tokens, the failed-login delay).
//!
//! The password may be stored in clear, as `{SHA}<hex of SHA-1>` or as an argon2 hash
//! ([`crate::access::passwords`]). Comparisons take the same time whatever the input (the
//! reference compares with `==`).

use supervisor_config::Credentials;
use supervisor_protocol::basic_auth::{self, BasicAuthError};

pub use crate::access::passwords::{constant_time_eq, password_matches};

/// What the `Authorization` header says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthResult {
    /// Credentials match (or none are configured).
    Allowed,
    /// Missing header, unknown scheme, or wrong credentials: 401.
    Unauthorized,
    /// `Basic` with a token that is not base64: 400.
    Malformed,
}

/// Checks the value of an `Authorization` header (`None` when absent).
pub fn check(credentials: Option<&Credentials>, header: Option<&[u8]>) -> AuthResult {
    let Some(creds) = credentials else {
        return AuthResult::Allowed;
    };
    let Some(header) = header else {
        return AuthResult::Unauthorized;
    };
    let given = match basic_auth::parse(header) {
        Ok(given) => given,
        Err(BasicAuthError::Malformed) => return AuthResult::Malformed,
        Err(BasicAuthError::NotBasic | BasicAuthError::NoColon) => return AuthResult::Unauthorized,
    };
    // Evaluate both comparisons so the time does not tell which one failed.
    let user_ok = constant_time_eq(creds.username.as_bytes(), given.username.as_bytes());
    let pass_ok = password_matches(&creds.password, &given.password);
    if user_ok & pass_ok {
        AuthResult::Allowed
    } else {
        AuthResult::Unauthorized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(p: &str) -> Credentials {
        Credentials {
            username: "user".into(),
            password: p.into(),
        }
    }

    fn basic(s: &str) -> Vec<u8> {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
        .into_bytes()
    }

    #[test]
    fn plain_and_sha() {
        let c = creds("123");
        assert_eq!(
            check(Some(&c), Some(&basic("user:123"))),
            AuthResult::Allowed
        );
        assert_eq!(
            check(Some(&c), Some(&basic("user:124"))),
            AuthResult::Unauthorized
        );
        assert_eq!(
            check(Some(&c), Some(&basic("usr:123"))),
            AuthResult::Unauthorized
        );
        assert_eq!(
            check(Some(&c), Some(&basic("user123"))),
            AuthResult::Unauthorized
        );
        // sha1("123") = 40bd001563085fc35165329ea1ff5c5ecbdbbeef
        let c = creds("{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef");
        assert_eq!(
            check(Some(&c), Some(&basic("user:123"))),
            AuthResult::Allowed
        );
        assert_eq!(
            check(Some(&c), Some(&basic("user:1234"))),
            AuthResult::Unauthorized
        );
        // The hash text itself is not a valid password.
        assert_eq!(
            check(
                Some(&c),
                Some(&basic("user:{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef"))
            ),
            AuthResult::Unauthorized
        );
        // Passwords may contain colons.
        let c = creds("a:b");
        assert_eq!(
            check(Some(&c), Some(&basic("user:a:b"))),
            AuthResult::Allowed
        );
    }

    #[test]
    fn headers() {
        let c = creds("p");
        assert_eq!(check(None, None), AuthResult::Allowed);
        assert_eq!(check(Some(&c), None), AuthResult::Unauthorized);
        assert_eq!(check(Some(&c), Some(b"Digest x")), AuthResult::Unauthorized);
        assert_eq!(check(Some(&c), Some(b"Basic")), AuthResult::Unauthorized);
        assert_eq!(check(Some(&c), Some(b"Basic %%%")), AuthResult::Malformed);
        assert_eq!(
            check(Some(&c), Some(b"basic dXNlcjpw")),
            AuthResult::Allowed
        );
    }

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
