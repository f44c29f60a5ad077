//! Anti-CSRF tokens for the state-changing requests of the web UI.
//!
//! A token is `<issued unix seconds, hex>.<HMAC-SHA256 hex>` over the issue time and the
//! authenticated user name, keyed by a secret the daemon draws at start-up (32 random bytes,
//! never written anywhere). Pages embed a fresh token; a POST must send it back in the form
//! field [`FORM_FIELD`] or the header [`HEADER`]. A token is accepted for [`TOKEN_LIFETIME`]
//! seconds, and a daemon restart (new secret) invalidates all of them. No server-side state.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Name of the hidden form field carrying the token.
pub const FORM_FIELD: &str = "csrf_token";
/// Name of the request header carrying the token (used by the page's scripts).
pub const HEADER: &str = "x-csrf-token";
/// How long a token stays valid, in seconds (a page left open longer gets a fresh token
/// with every live refresh of its status data).
pub const TOKEN_LIFETIME: i64 = 24 * 3600;
/// Tolerated clock skew for tokens issued "in the future" (clock stepped back), in seconds.
const FUTURE_SKEW: i64 = 300;

/// The per-daemon secret tokens are derived from.
#[derive(Clone)]
pub struct CsrfKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl CsrfKey {
    /// Wraps a secret. Pass at least 32 bytes from the OS random source (`getrandom`);
    /// shorter secrets are accepted but weaken the tokens.
    pub fn new(secret: &[u8]) -> CsrfKey {
        CsrfKey {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, user: &str, issued: i64) -> HmacSha256 {
        // HMAC takes keys of any length; new_from_slice cannot fail for HMAC.
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(b"supervisor-rs web csrf v1\0");
        mac.update(user.as_bytes());
        mac.update(b"\0");
        mac.update(&issued.to_be_bytes());
        mac
    }

    /// A token for `user` (the Basic-auth user name, empty when the server has no auth),
    /// issued at `now` (Unix seconds).
    pub fn token(&self, user: &str, now: i64) -> String {
        let tag = self.mac(user, now).finalize().into_bytes();
        let mut out = format!("{now:x}.");
        for b in tag {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Whether `token` was issued by this key for `user`, no more than [`TOKEN_LIFETIME`]
    /// seconds before `now`. The MAC comparison is constant-time.
    pub fn verify(&self, token: &str, user: &str, now: i64) -> bool {
        let Some((issued_hex, tag_hex)) = token.split_once('.') else {
            return false;
        };
        if issued_hex.is_empty() || issued_hex.len() > 16 || tag_hex.len() != 64 {
            return false;
        }
        let Ok(issued) = i64::from_str_radix(issued_hex, 16) else {
            return false;
        };
        if issued > now.saturating_add(FUTURE_SKEW) || now.saturating_sub(issued) > TOKEN_LIFETIME {
            return false;
        }
        let Some(tag) = decode_hex(tag_hex) else {
            return false;
        };
        self.mac(user, issued).verify_slice(&tag).is_ok()
    }
}

/// The user name of a `Basic` `Authorization` header value (what tokens are bound to);
/// empty when there is no such header or it gives no credentials (servers without auth).
pub fn basic_auth_user(authorization: Option<&[u8]>) -> String {
    authorization
        .and_then(|value| supervisor_protocol::basic_auth::parse(value).ok())
        .map(|c| c.username)
        .unwrap_or_default()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_284_920;

    #[test]
    fn a_fresh_token_verifies() {
        let key = CsrfKey::new(&[7; 32]);
        let t = key.token("admin", NOW);
        assert!(key.verify(&t, "admin", NOW));
        assert!(key.verify(&t, "admin", NOW + TOKEN_LIFETIME));
    }

    #[test]
    fn wrong_user_key_age_or_shape_is_refused() {
        let key = CsrfKey::new(&[7; 32]);
        let t = key.token("admin", NOW);
        assert!(!key.verify(&t, "other", NOW));
        assert!(!CsrfKey::new(&[8; 32]).verify(&t, "admin", NOW));
        assert!(!key.verify(&t, "admin", NOW + TOKEN_LIFETIME + 1));
        assert!(!key.verify(&t, "admin", NOW - FUTURE_SKEW - 1));
        for bad in ["", ".", "x.y", &t[..t.len() - 1], &format!("{t}0"), "zz.00"] {
            assert!(!key.verify(bad, "admin", NOW), "{bad:?} accepted");
        }
        // A tampered issue time breaks the MAC.
        let (_, tag) = t.split_once('.').unwrap();
        let forged = format!("{:x}.{tag}", NOW + 1);
        assert!(!key.verify(&forged, "admin", NOW + 1));
        // One flipped hex digit in the tag.
        let mut flipped = t.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert!(!key.verify(std::str::from_utf8(&flipped).unwrap(), "admin", NOW));
    }

    #[test]
    fn basic_auth_user_reads_the_name() {
        assert_eq!(basic_auth_user(Some(b"Basic dXNlcjpwOnc=")), "user"); // user:p:w
        assert_eq!(basic_auth_user(Some(b"Basic !!!")), "");
        assert_eq!(basic_auth_user(Some(b"Bearer x")), "");
        assert_eq!(basic_auth_user(None), "");
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        assert_eq!(format!("{:?}", CsrfKey::new(b"secret")), "CsrfKey(..)");
    }
}
