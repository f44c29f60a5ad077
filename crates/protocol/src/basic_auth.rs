//! HTTP Basic authentication headers (`Authorization: Basic <base64 of user:password>`):
//! the one reader (the daemon's HTTP server, the web UI's CSRF binding) and the one writer
//! (`supervisorctl`).

use base64::Engine as _;

/// The user name and password a `Basic` header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// Everything before the first `:` of the decoded token.
    pub username: String,
    /// Everything after it (may contain further `:`).
    pub password: String,
}

/// Why an `Authorization` value gives no credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasicAuthError {
    /// Not a `Basic` header: not UTF-8, no space after the scheme, or another scheme.
    NotBasic,
    /// `Basic`, but the token is not base64 of UTF-8 text.
    Malformed,
    /// `Basic` with valid base64 of UTF-8 text that has no `:`.
    NoColon,
}

/// Reads an `Authorization` header value. The scheme is matched without regard to case,
/// blanks before it are skipped, and ASCII whitespace inside the token is ignored.
pub fn parse(header: &[u8]) -> Result<BasicCredentials, BasicAuthError> {
    let header = std::str::from_utf8(header).map_err(|_| BasicAuthError::NotBasic)?;
    let (scheme, token) = header
        .trim_start()
        .split_once(' ')
        .ok_or(BasicAuthError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicAuthError::NotBasic);
    }
    let token: Vec<u8> = token.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| BasicAuthError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| BasicAuthError::Malformed)?;
    let (username, password) = decoded.split_once(':').ok_or(BasicAuthError::NoColon)?;
    Ok(BasicCredentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// The `Authorization` header value for these credentials (`Basic <base64>`).
pub fn header_value(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Result<BasicCredentials, BasicAuthError> {
        Ok(BasicCredentials {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn round_trip() {
        assert_eq!(header_value("user", "123"), "Basic dXNlcjoxMjM=");
        assert_eq!(
            parse(header_value("user", "123").as_bytes()),
            creds("user", "123")
        );
        assert_eq!(
            parse(header_value("u", "p:w").as_bytes()),
            creds("u", "p:w")
        );
        assert_eq!(parse(header_value("", "").as_bytes()), creds("", ""));
        assert_eq!(parse(header_value("é", "ü").as_bytes()), creds("é", "ü"));
    }

    #[test]
    fn lenient_spelling() {
        assert_eq!(parse(b"basic dXNlcjoxMjM="), creds("user", "123"));
        assert_eq!(parse(b"  BASIC dXNl cjox\tMjM= "), creds("user", "123"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b""), Err(BasicAuthError::NotBasic));
        assert_eq!(parse(b"Basic"), Err(BasicAuthError::NotBasic));
        assert_eq!(parse(b"Bearer x"), Err(BasicAuthError::NotBasic));
        assert_eq!(parse(b"Basic \xff"), Err(BasicAuthError::NotBasic));
        assert_eq!(parse(b"Basic %%%"), Err(BasicAuthError::Malformed));
        assert_eq!(parse(b"Basic !!!"), Err(BasicAuthError::Malformed));
        // base64 of the bytes ff fe: not UTF-8.
        assert_eq!(parse(b"Basic //4="), Err(BasicAuthError::Malformed));
        // base64 of "user": no colon.
        assert_eq!(parse(b"Basic dXNlcg=="), Err(BasicAuthError::NoColon));
    }
}
