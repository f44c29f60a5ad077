//! Bearer tokens: random secrets given to scripts and dashboards, each with a name and a
//! role, sent as `Authorization: Bearer TOKEN`.
//!
//! Only the SHA-256 of a token is kept (a token is 32 random bytes, so a fast hash is
//! enough: there is nothing to guess), in the daemon's tokens file (`[supervisord]
//! tokens_file`, default `supervisord.tokens` beside the pid file), mode 0600, one token
//! per line: `name:role:sha256-hex:created-unix-time`. The file is rewritten whole (a
//! temporary file renamed over it) on every change, so tokens survive restarts and a
//! crash never leaves half a file. The store is process-wide ([`store`]); the event loop
//! and the connection tasks share one thread, so its lock is never contended.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use supervisor_config::Role;

use super::passwords::constant_time_eq;

/// What tokens start with (so they are recognisable in a leaked file or log).
pub const TOKEN_PREFIX: &str = "srs_";

/// One stored token (its secret is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Its name (unique).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Lower-case hex SHA-256 of the token.
    pub hash: String,
    /// When it was created (seconds since the epoch).
    pub created: i64,
}

/// The tokens of the daemon and the file they live in.
#[derive(Debug, Default)]
pub struct TokenStore {
    path: Option<PathBuf>,
    entries: Vec<TokenEntry>,
}

/// Lower-case hex SHA-256 of `token`.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Whether `name` may name a token: 1 to 64 of `A-Z a-z 0-9 _ - .`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn parse(text: &str, path: &Path) -> Result<Vec<TokenEntry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = || format!("{}:{}: malformed token entry", path.display(), i + 1);
        let parts: Vec<&str> = l.split(':').collect();
        let [name, role, hash, created] = parts[..] else {
            return Err(bad());
        };
        let role = Role::from_name(role).ok_or_else(bad)?;
        let created = created.parse().map_err(|_| bad())?;
        if !valid_name(name) || hash.len() != 64 {
            return Err(bad());
        }
        out.push(TokenEntry {
            name: name.to_string(),
            role,
            hash: hash.to_string(),
            created,
        });
    }
    Ok(out)
}

/// Reads `path` if it is a regular file of ours that nobody else may write.
fn read_trusted(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let meta = f.metadata()?;
    let euid = nix::unistd::geteuid().as_raw();
    let untrusted =
        |why: &str| std::io::Error::new(std::io::ErrorKind::PermissionDenied, why.to_string());
    if !meta.is_file() {
        return Err(untrusted("not a regular file"));
    }
    if meta.uid() != euid {
        return Err(untrusted(&format!(
            "owned by uid {}, not by the daemon's uid {euid}: refusing its tokens",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(
            "writable by group or others: refusing its tokens (chmod 600 it)",
        ));
    }
    let mut text = String::new();
    f.read_to_string(&mut text)?;
    Ok(text)
}

impl TokenStore {
    /// The store kept in `path`, loaded now (a missing file is an empty store).
    ///
    /// The file is trusted only when it is a regular file (not a link) owned by the
    /// daemon's user and writable by nobody else: in a shared directory (`/tmp`, where a
    /// pid file often is) another user could otherwise plant a token of their own.
    pub fn open(path: PathBuf) -> Result<TokenStore, String> {
        let entries = match read_trusted(&path) {
            Ok(text) => parse(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(TokenStore {
            path: Some(path),
            entries,
        })
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The token whose secret is `token`, if one is stored (every entry is compared, in
    /// constant time).
    pub fn verify(&self, token: &str) -> Option<&TokenEntry> {
        let h = token_hash(token);
        let mut found = None;
        for e in &self.entries {
            if constant_time_eq(e.hash.as_bytes(), h.as_bytes()) {
                found = Some(e);
            }
        }
        found
    }

    /// The stored tokens, by name.
    pub fn list(&self) -> Vec<TokenEntry> {
        let mut v = self.entries.clone();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Creates a token named `name` with `role`; returns its secret (shown only now).
    pub fn create(&mut self, name: &str, role: Role, now: i64) -> Result<String, String> {
        if !valid_name(name) {
            return Err(format!(
                "invalid token name {name:?} (1 to 64 letters, digits, '_', '-', '.')"
            ));
        }
        if self.entries.iter().any(|e| e.name == name) {
            return Err(format!("a token named {name:?} exists already"));
        }
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let token = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        self.entries.push(TokenEntry {
            name: name.to_string(),
            role,
            hash: token_hash(&token),
            created: now,
        });
        if let Err(e) = self.save() {
            self.entries.pop();
            return Err(e);
        }
        Ok(token)
    }

    /// Removes the token named `name`.
    pub fn revoke(&mut self, name: &str) -> Result<(), String> {
        let Some(i) = self.entries.iter().position(|e| e.name == name) else {
            return Err(format!("no token named {name:?}"));
        };
        let removed = self.entries.remove(i);
        if let Err(e) = self.save() {
            self.entries.insert(i, removed);
            return Err(e);
        }
        Ok(())
    }

    /// Writes the file: a new file (mode 0600, never following a link) renamed over the
    /// old one.
    fn save(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut text = String::from(
            "# supervisor-rs bearer tokens (name:role:sha256:created); managed by supervisorctl token\n",
        );
        for e in &self.entries {
            text.push_str(&format!(
                "{}:{}:{}:{}\n",
                e.name,
                e.role.name(),
                e.hash,
                e.created
            ));
        }
        let mut n = [0u8; 6];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut n);
        let tmp = path.with_file_name(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            n.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    }
}

static STORE: Mutex<Option<TokenStore>> = Mutex::new(None);

/// Runs `f` on the daemon's token store (an empty one until [`configure`] ran).
pub fn store<T>(f: impl FnOnce(&mut TokenStore) -> T) -> T {
    let mut g = STORE.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(TokenStore::default))
}

/// Loads the daemon's tokens from `path` (at every start and reload). On error the store
/// keeps no token and the message is returned for the log.
pub fn configure(path: PathBuf) -> Result<(), String> {
    let r = TokenStore::open(path.clone());
    let (store, err) = match r {
        Ok(s) => (s, None),
        Err(e) => (
            TokenStore {
                path: Some(path),
                entries: Vec::new(),
            },
            Some(e),
        ),
    };
    *STORE.lock().unwrap_or_else(|e| e.into_inner()) = Some(store);
    err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn lifecycle_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        let mut s = TokenStore::open(path.clone()).unwrap();
        assert!(s.list().is_empty());
        let t = s.create("ci", Role::Read, 100).unwrap();
        assert!(t.starts_with(TOKEN_PREFIX) && t.len() > 40, "{t}");
        let t2 = s.create("deploy", Role::Operate, 101).unwrap();
        assert_ne!(t, t2);
        assert!(s
            .create("ci", Role::Admin, 1)
            .unwrap_err()
            .contains("exists"));
        assert!(s.create("bad name", Role::Read, 1).is_err());
        assert_eq!(s.verify(&t).unwrap().name, "ci");
        assert_eq!(s.verify(&t2).unwrap().role, Role::Operate);
        assert!(s.verify("srs_nope").is_none());
        // Only hashes are on disk, mode 0600.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&t) && text.contains(&token_hash(&t)));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A new daemon run sees the same tokens.
        let mut s = TokenStore::open(path.clone()).unwrap();
        assert_eq!(s.list().len(), 2);
        assert_eq!(s.verify(&t).unwrap().name, "ci");
        s.revoke("ci").unwrap();
        assert!(s.verify(&t).is_none());
        assert!(s.revoke("ci").unwrap_err().contains("no token"));
        let s = TokenStore::open(path.clone()).unwrap();
        assert!(s.verify(&t).is_none());
        assert!(s.verify(&t2).is_some());
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn untrusted_files_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        let mut s = TokenStore::open(path.clone()).unwrap();
        s.create("ok", Role::Admin, 1).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o622)).unwrap();
        let e = TokenStore::open(path.clone()).unwrap_err();
        assert!(e.contains("writable by group or others"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(TokenStore::open(path.clone()).is_ok());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(TokenStore::open(link).is_err());
    }

    #[test]
    fn bad_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "x:read:abc\n").unwrap();
        let e = TokenStore::open(path).unwrap_err();
        assert!(e.contains(":1: malformed"), "{e}");
    }
}
