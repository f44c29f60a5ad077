//! Stored passwords: clear text, `{SHA}<hex of SHA-1>` (the reference's form) and argon2
//! (`$argon2id$...` PHC strings, optionally written `{ARGON2}$argon2id$...`), checked with
//! the RustCrypto `argon2` crate. Every comparison takes a time that does not depend on
//! where the given password differs.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha1::{Digest, Sha1};

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    // Walk the longer one fully so the time does not reveal the common prefix.
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    // Keep the optimizer from cutting the loop short.
    std::hint::black_box(diff) == 0
}

/// The form a stored password is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Clear text.
    Plain,
    /// `{SHA}` + 40 hex digits of SHA-1.
    Sha1,
    /// An argon2 PHC string.
    Argon2,
}

/// The scheme of a stored password, and the part to check against.
pub fn scheme(stored: &str) -> (Scheme, &str) {
    if let Some(hex) = stored.strip_prefix("{SHA}") {
        return (Scheme::Sha1, hex);
    }
    if let Some(phc) = stored.strip_prefix("{ARGON2}") {
        return (Scheme::Argon2, phc);
    }
    if stored.starts_with("$argon2") {
        return (Scheme::Argon2, stored);
    }
    (Scheme::Plain, stored)
}

/// Lower-case hex of SHA-1 of `s`.
pub fn sha1_hex(s: &str) -> String {
    let digest = Sha1::digest(s.as_bytes());
    let mut text = String::with_capacity(40);
    for b in digest {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

/// True when `given` is the password `stored` (any [`Scheme`]). An argon2 check costs
/// tens of milliseconds by design: callers run it off the event loop
/// ([`crate::access::server`]).
pub fn password_matches(stored: &str, given: &str) -> bool {
    match scheme(stored) {
        (Scheme::Sha1, hex) => constant_time_eq(
            hex.to_ascii_lowercase().as_bytes(),
            sha1_hex(given).as_bytes(),
        ),
        (Scheme::Argon2, phc) => match PasswordHash::new(phc) {
            // The crate compares the derived key in constant time.
            Ok(hash) => Argon2::default()
                .verify_password(given.as_bytes(), &hash)
                .is_ok(),
            Err(_) => false,
        },
        (Scheme::Plain, text) => constant_time_eq(text.as_bytes(), given.as_bytes()),
    }
}

/// An argon2id hash of `password` with a fresh random salt, as written in config files
/// (`{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$...`; `supervisord --hash-password`).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| format!("cannot make a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| format!("{{ARGON2}}{h}"))
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// `supervisord --hash-password`: reads one line (the password, without its newline)
/// from stdin, prints its [`hash_password`] on stdout; returns the exit status (2 when
/// nothing or an empty password was read).
pub fn hash_password_command() -> i32 {
    use std::io::{BufRead as _, IsTerminal as _};
    if std::io::stdin().is_terminal() {
        eprint!("Password (echoed): ");
    }
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        eprintln!("Error: cannot read the password from stdin");
        return 2;
    }
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        eprintln!("Error: empty password (give it on stdin, e.g. echo 'secret' | supervisord --hash-password)");
        return 2;
    }
    match hash_password(pw) {
        Ok(h) => {
            println!("{h}");
            0
        }
        Err(e) => {
            eprintln!("Error: {e}");
            2
        }
    }
}

/// Whether a stored password is well formed (an argon2 string that does not parse can
/// never match: reported at start-up).
pub fn is_well_formed(stored: &str) -> bool {
    match scheme(stored) {
        (Scheme::Argon2, phc) => {
            PasswordHash::new(phc).is_ok_and(|h| h.hash.is_some() && h.salt.is_some())
        }
        (Scheme::Sha1, hex) => hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        (Scheme::Plain, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sha_and_argon2() {
        assert!(password_matches("123", "123"));
        assert!(!password_matches("123", "1234"));
        // sha1("123")
        let sha = "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef";
        assert!(password_matches(sha, "123"));
        assert!(password_matches(&sha.to_uppercase(), "123"));
        assert!(!password_matches(sha, "124"));
        assert!(!password_matches(sha, sha));
        let h = hash_password("s3cret, with: punctuation").unwrap();
        assert!(h.starts_with("{ARGON2}$argon2id$"), "{h}");
        assert!(password_matches(&h, "s3cret, with: punctuation"));
        assert!(!password_matches(&h, "s3cret"));
        // The bare PHC string works too; a broken one never matches.
        assert!(password_matches(
            &h["{ARGON2}".len()..],
            "s3cret, with: punctuation"
        ));
        assert!(!password_matches("$argon2id$broken", ""));
        assert!(is_well_formed(&h));
        assert!(!is_well_formed("$argon2id$broken"));
        assert!(!is_well_formed("{SHA}12"));
        // Two hashes of one password differ (fresh salts).
        assert_ne!(h, hash_password("s3cret, with: punctuation").unwrap());
    }

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    /// The comparison does not stop at the first difference: a mismatch in the first
    /// byte and one in the last take about the same time (loose bound, a timing test on
    /// a shared machine can only catch an early exit, which costs ~100x here).
    #[test]
    fn ct_eq_time_does_not_depend_on_the_position() {
        let a = vec![b'x'; 1 << 16];
        let mut first = a.clone();
        first[0] = b'y';
        let mut last = a.clone();
        *last.last_mut().unwrap() = b'y';
        let time = |b: &[u8]| {
            let mut best = std::time::Duration::MAX;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                assert!(!constant_time_eq(&a, b));
                best = best.min(t.elapsed());
            }
            best
        };
        let (tf, tl) = (time(&first), time(&last));
        assert!(tf * 10 > tl && tl * 10 > tf, "first {tf:?} last {tl:?}");
    }
}
