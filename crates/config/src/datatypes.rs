//! Value types of `supervisord.conf` with the reference's conversion rules and error texts
//! (Supervisor's `datatypes` module). Every function returns the message Python's
//! `ValueError` would carry; callers add the section/file suffix.

use crate::pyfmt::{py_isspace, py_repr, py_strip};
use crate::LogLevel;
use std::path::{Path, PathBuf};
use supervisor_protocol::pyint::{self, IntError};

/// Python `int(s, radix)` (see [`supervisor_protocol::pyint`]); `None` when Python would
/// reject it or the value does not fit an `i64`.
fn py_int_radix(s: &str, radix: u32) -> Option<i64> {
    pyint::parse_radix(s, radix).ok()
}

/// Python `int(v)` with its error text `invalid literal for int() with base 10: '<v>'`
/// (`value '<v>' is out of the supported range` for a valid literal beyond `i64`).
pub fn parse_int(v: &str) -> Result<i64, String> {
    pyint::parse(v).map_err(|e| match e {
        IntError::OutOfRange { .. } => {
            format!("value {} is out of the supported range", py_repr(v))
        }
        IntError::Invalid => format!("invalid literal for int() with base 10: {}", py_repr(v)),
    })
}

/// Narrows a parsed integer to a field's type, with a clear message when out of range.
pub fn int_in<T: TryFrom<i64>>(v: i64, raw: &str) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("value {} is out of the supported range", py_repr(raw)))
}

/// A count/size that must not be negative in our model: negative values behave like 0 in
/// the reference, so they are clamped.
pub fn clamp_u64(v: i64) -> u64 {
    v.max(0) as u64
}

/// `true yes on 1` / `false no off 0`, any case → `not a valid boolean value: '<v>'`.
pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("not a valid boolean value: {}", py_repr(v))),
    }
}

/// `<int>`, `<int>KB|MB|GB` (1024-based, case-insensitive). Negative results are kept
/// (the caller decides).
pub fn parse_byte_size_signed(v: &str) -> Result<i64, String> {
    let lower = v.to_lowercase();
    for (suffix, mult) in [("kb", 1024i64), ("mb", 1 << 20), ("gb", 1 << 30)] {
        let tail: String = {
            let n = lower.chars().count();
            lower.chars().skip(n.saturating_sub(2)).collect()
        };
        if tail == suffix {
            let head: String = {
                let n = lower.chars().count();
                lower.chars().take(n.saturating_sub(2)).collect()
            };
            let n = parse_int(&head)?;
            return n
                .checked_mul(mult)
                .ok_or_else(|| format!("value {} is out of the supported range", py_repr(v)));
        }
    }
    parse_int(&lower)
}

/// Byte size as an unsigned count (negative → 0, which the reference treats alike).
pub fn parse_byte_size(v: &str) -> Result<u64, String> {
    parse_byte_size_signed(v).map(clamp_u64)
}

/// Python `int(v, 8)` → `<v> can not be converted to an octal type`.
pub fn parse_octal(v: &str) -> Result<u32, String> {
    py_int_radix(v, 8)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{v} can not be converted to an octal type"))
}

/// Signal names/numbers Python's `signal` module knows on Linux (every `SIG*` attribute).
const SIGNALS: &[(&str, i32)] = &[
    ("SIG_BLOCK", 0),
    ("SIG_DFL", 0),
    ("SIG_IGN", 1),
    ("SIGHUP", 1),
    ("SIG_UNBLOCK", 1),
    ("SIGINT", 2),
    ("SIG_SETMASK", 2),
    ("SIGQUIT", 3),
    ("SIGILL", 4),
    ("SIGTRAP", 5),
    ("SIGIOT", 6),
    ("SIGABRT", 6),
    ("SIGBUS", 7),
    ("SIGFPE", 8),
    ("SIGKILL", 9),
    ("SIGUSR1", 10),
    ("SIGSEGV", 11),
    ("SIGUSR2", 12),
    ("SIGPIPE", 13),
    ("SIGALRM", 14),
    ("SIGTERM", 15),
    ("SIGSTKFLT", 16),
    ("SIGCLD", 17),
    ("SIGCHLD", 17),
    ("SIGCONT", 18),
    ("SIGSTOP", 19),
    ("SIGTSTP", 20),
    ("SIGTTIN", 21),
    ("SIGTTOU", 22),
    ("SIGURG", 23),
    ("SIGXCPU", 24),
    ("SIGXFSZ", 25),
    ("SIGVTALRM", 26),
    ("SIGPROF", 27),
    ("SIGWINCH", 28),
    ("SIGIO", 29),
    ("SIGPOLL", 29),
    ("SIGPWR", 30),
    ("SIGSYS", 31),
    ("SIGRTMIN", 34),
    ("SIGRTMAX", 64),
];

/// A signal by name (with or without `SIG`, any case) or number →
/// `value '<v>' is not a valid signal name` / `... number`.
pub fn parse_signal(v: &str) -> Result<i32, String> {
    let num = match py_int_radix(v, 10) {
        Some(n) => n,
        None => {
            let mut name = py_strip(v).to_uppercase();
            if !name.starts_with("SIG") {
                name = format!("SIG{name}");
            }
            match SIGNALS.iter().find(|(n, _)| *n == name) {
                Some((_, n)) => *n as i64,
                None => return Err(format!("value {} is not a valid signal name", py_repr(v))),
            }
        }
    };
    if SIGNALS.iter().any(|(_, n)| *n as i64 == num) {
        Ok(num as i32)
    } else {
        Err(format!("value {} is not a valid signal number", py_repr(v)))
    }
}

/// The conventional name of a signal number (`SIGTERM`), for messages.
pub fn signal_name(num: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .filter(|(n, _)| !n.starts_with("SIG_") && !matches!(*n, "SIGIOT" | "SIGCLD" | "SIGPOLL"))
        .find(|(_, v)| *v == num)
        .map(|(n, _)| *n)
}

/// Comma list of ints 0..=255 → `not a valid list of exit codes: '<v>'`.
pub fn parse_exitcodes(v: &str) -> Result<Vec<i32>, String> {
    let err = || format!("not a valid list of exit codes: {}", py_repr(v));
    if v.is_empty() {
        return Ok(Vec::new());
    }
    v.split(',')
        .map(|p| match py_int_radix(p, 10) {
            Some(n) if (0..=255).contains(&n) => Ok(n as i32),
            _ => Err(err()),
        })
        .collect()
}

/// Comma list, items stripped; empty → empty list.
pub fn parse_list_of_strings(v: &str) -> Vec<String> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split(',').map(|x| py_strip(x).to_string()).collect()
}

/// `critical error warn info debug trace blather` (any case) → `bad logging level name '<v>'`.
pub fn parse_log_level(v: &str) -> Result<LogLevel, String> {
    LogLevel::from_name(v).ok_or_else(|| format!("bad logging level name {}", py_repr(v)))
}

/// A process or group name: stripped, no space, `:` or `/` →
/// `Invalid name: '<v>' because of character: '<c>'`.
pub fn parse_name(v: &str) -> Result<String, String> {
    let s = py_strip(v);
    for c in [' ', ':', '/'] {
        if s.contains(c) {
            return Err(format!(
                "Invalid name: {} because of character: {}",
                py_repr(v),
                py_repr(&c.to_string())
            ));
        }
    }
    Ok(s.to_string())
}

fn port_number(v: &str) -> Result<u16, String> {
    let n = parse_int(v)?;
    if n < 1 {
        return Err(format!("{n} is below lower bound (1)"));
    }
    if n > 65535 {
        return Err(format!("{n} is above upper bound (65535)"));
    }
    Ok(n as u16)
}

/// `port`, `host:port`, `:port`, `*:port` → (lower-cased host or empty, port).
pub fn parse_inet_address(s: &str) -> Result<(String, u16), String> {
    if let Some((host, port)) = s.rsplit_once(':') {
        if port.is_empty() {
            return Err(format!("no port number specified in {}", py_repr(port)));
        }
        let port = port_number(port)?;
        let host = host.to_lowercase();
        let host = if host == "*" { String::new() } else { host };
        Ok((host, port))
    } else {
        let port =
            port_number(s).map_err(|_| format!("not a valid port number: {} ", py_repr(s)))?;
        Ok((String::new(), port))
    }
}

/// `url` datatype (supervisorctl `-s`): a scheme and a netloc or path →
/// `value '<v>' is not a URL`.
pub fn parse_url(v: &str) -> Result<String, String> {
    let err = || format!("value {} is not a URL", py_repr(v));
    let t = v.trim_start_matches(|c: char| (c as u32) <= 0x20);
    let t: String = t
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let Some(colon) = t.find(':') else {
        return Err(err());
    };
    let scheme = &t[..colon];
    let first_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(err());
    }
    let rest = &t[colon + 1..];
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        },
        None => ("", rest),
    };
    if netloc.is_empty() && path.is_empty() {
        return Err(err());
    }
    Ok(v.to_string())
}

/// `os.path.expanduser`: `~` → `$HOME` (or the password database), `~user` → that user's
/// home; unchanged when unknown.
pub fn expanduser(v: &str, home: Option<&str>) -> String {
    let Some(rest) = v.strip_prefix('~') else {
        return v.to_string();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let dir = if user.is_empty() {
        match home {
            Some(h) => Some(h.to_string()),
            None => crate::sys::user_by_uid(crate::sys::getuid()).map(|u| u.dir),
        }
    } else {
        crate::sys::user_by_name(user).map(|u| u.dir)
    };
    match dir {
        Some(d) => {
            let d = if d != "/" {
                d.trim_end_matches('/')
            } else {
                "/"
            };
            if d == "/" && tail.starts_with('/') {
                tail.to_string()
            } else {
                format!("{d}{tail}")
            }
        }
        None => v.to_string(),
    }
}

/// `os.path.normpath` on POSIX.
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && parts.is_empty()) || parts.last() == Some(&"..") {
            parts.push(comp);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let mut out = "/".repeat(initial);
    out.push_str(&parts.join("/"));
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

/// `os.path.abspath` relative to `cwd`.
pub fn abspath(p: &str, cwd: &Path) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        normpath(&format!("{}/{}", cwd.to_string_lossy(), p))
    }
}

/// Supervisor's `normalize_path`: expanduser, abspath, normpath.
pub fn normalize_path(v: &str, cwd: &Path, home: Option<&str>) -> String {
    abspath(&expanduser(v, home), cwd)
}

/// `os.path.dirname`.
pub fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            if head.chars().all(|c| c == '/') {
                head
            } else {
                head.trim_end_matches('/')
            }
        }
        None => "",
    }
}

fn is_dir(p: &str, cwd: &Path) -> bool {
    let path = Path::new(p);
    if path.is_absolute() {
        path.is_dir()
    } else {
        cwd.join(path).is_dir()
    }
}

/// A path whose directory part must exist →
/// `The directory named as part of the path <v> does not exist`.
pub fn existing_dirpath(v: &str, cwd: &Path, home: Option<&str>) -> Result<String, String> {
    let nv = expanduser(v, home);
    let dir = dirname(&nv);
    if dir.is_empty() || is_dir(dir, cwd) {
        Ok(nv)
    } else {
        Err(format!(
            "The directory named as part of the path {v} does not exist"
        ))
    }
}

/// An existing directory → `<v> is not an existing directory`.
pub fn existing_directory(v: &str, cwd: &Path, home: Option<&str>) -> Result<String, String> {
    let nv = expanduser(v, home);
    if is_dir(&nv, cwd) {
        Ok(nv)
    } else {
        Err(format!("{v} is not an existing directory"))
    }
}

/// What a child log name means before a path is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogName {
    /// `NONE` / `OFF`.
    None,
    /// `AUTO`.
    Auto,
    /// `syslog` (deprecated).
    Syslog,
    /// A path whose directory exists (`~` expanded, not made absolute).
    Path(String),
}

/// `logfile_name`: `none`/`off` → None, `auto` → Auto, `syslog` → Syslog, else a path.
pub fn logfile_name(v: &str, cwd: &Path, home: Option<&str>) -> Result<LogName, String> {
    Ok(match v.to_lowercase().as_str() {
        "none" | "off" => LogName::None,
        "auto" => LogName::Auto,
        "syslog" => LogName::Syslog,
        _ => LogName::Path(existing_dirpath(v, cwd, home)?),
    })
}

/// A user name or numeric uid that exists → `Invalid user name <v>` / `Invalid user id <v>`.
pub fn name_to_uid(name: &str) -> Result<u32, String> {
    match py_int_radix(name, 10) {
        Some(n) => match u32::try_from(n).ok().and_then(crate::sys::user_by_uid) {
            Some(u) => Ok(u.uid),
            None => Err(format!(
                "Invalid user id {name}{}",
                crate::sys::LOOKUP_UNAVAILABLE
            )),
        },
        None => match crate::sys::user_by_name(name) {
            Some(u) => Ok(u.uid),
            None => Err(format!(
                "Invalid user name {name}{}",
                crate::sys::LOOKUP_UNAVAILABLE
            )),
        },
    }
}

/// A group name or numeric gid that exists → `Invalid group name <v>` / `Invalid group id <v>`.
pub fn name_to_gid(name: &str) -> Result<u32, String> {
    match py_int_radix(name, 10) {
        Some(n) => match u32::try_from(n).ok().and_then(crate::sys::group_by_gid) {
            Some(g) => Ok(g),
            None => Err(format!(
                "Invalid group id {name}{}",
                crate::sys::LOOKUP_UNAVAILABLE
            )),
        },
        None => match crate::sys::group_by_name(name) {
            Some(g) => Ok(g),
            None => Err(format!(
                "Invalid group name {name}{}",
                crate::sys::LOOKUP_UNAVAILABLE
            )),
        },
    }
}

/// The primary gid of a uid (0 when unknown).
pub fn gid_for_uid(uid: u32) -> u32 {
    crate::sys::user_by_uid(uid).map_or(0, |u| u.gid)
}

/// `user` or `user:group` → (uid, gid); gid `u32::MAX` (= -1, "unchanged") when no group.
/// Error: `Invalid user:group definition <v>`.
pub fn parse_user_group(v: &str) -> Result<(u32, u32), String> {
    let err = || {
        format!(
            "Invalid user:group definition {v}{}",
            crate::sys::LOOKUP_UNAVAILABLE
        )
    };
    match v.split_once(':') {
        None => Ok((name_to_uid(v).map_err(|_| err())?, u32::MAX)),
        Some((u, g)) => Ok((
            name_to_uid(u).map_err(|_| err())?,
            name_to_gid(g).map_err(|_| err())?,
        )),
    }
}

/// Python's `tempfile.gettempdir()` candidates: `$TMPDIR`, `$TEMP`, `$TMP`, then
/// `/tmp`, `/var/tmp`, `/usr/tmp`, then the current directory.
pub fn gettempdir(env: &[(String, String)], cwd: &Path) -> String {
    for var in ["TMPDIR", "TEMP", "TMP"] {
        if let Some((_, v)) = env.iter().rev().find(|(k, _)| k == var) {
            if !v.is_empty() && is_dir(v, cwd) {
                return abspath(v, cwd);
            }
        }
    }
    for d in ["/tmp", "/var/tmp", "/usr/tmp"] {
        if Path::new(d).is_dir() {
            return d.to_string();
        }
    }
    cwd.to_string_lossy().into_owned()
}

/// Makes a `PathBuf` from a string.
pub fn pb(s: &str) -> PathBuf {
    PathBuf::from(s)
}

/// True when `c` is Python whitespace (re-exported for callers splitting values).
pub fn is_py_space(c: char) -> bool {
    py_isspace(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_like_python() {
        assert_eq!(parse_int(" 7 ").unwrap(), 7);
        assert_eq!(parse_int("+5").unwrap(), 5);
        assert_eq!(parse_int("-1").unwrap(), -1);
        assert_eq!(parse_int("1_000").unwrap(), 1000);
        assert_eq!(
            parse_int("1.5").unwrap_err(),
            "invalid literal for int() with base 10: '1.5'"
        );
        assert!(parse_int("_1").is_err());
        assert!(parse_int("").is_err());
        assert_eq!(
            parse_int("99999999999999999999").unwrap_err(),
            "value '99999999999999999999' is out of the supported range"
        );
        // int() skips Unicode White_Space around the digits but not U+001C..U+001F, which
        // str.isspace() (and so the INI reader's strip) counts as blanks
        assert_eq!(parse_int("\u{a0}7\u{2003}").unwrap(), 7);
        assert_eq!(
            parse_int("\u{1c}7").unwrap_err(),
            "invalid literal for int() with base 10: '\\x1c7'"
        );
        assert_eq!(parse_octal("0o_22"), Ok(0o22));
        assert_eq!(parse_exitcodes(" 1, 2 ,3"), Ok(vec![1, 2, 3]));
    }

    #[test]
    fn bools() {
        for t in ["true", "YES", "On", "1"] {
            assert!(parse_bool(t).unwrap());
        }
        for f in ["false", "no", "OFF", "0"] {
            assert!(!parse_bool(f).unwrap());
        }
        assert_eq!(
            parse_bool("maybe").unwrap_err(),
            "not a valid boolean value: 'maybe'"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("50MB").unwrap(), 50 * 1024 * 1024);
        assert_eq!(parse_byte_size("1kb").unwrap(), 1024);
        assert_eq!(parse_byte_size("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_byte_size("10 MB").unwrap(), 10 << 20);
        assert_eq!(parse_byte_size("0").unwrap(), 0);
        assert_eq!(
            parse_byte_size("10XB").unwrap_err(),
            "invalid literal for int() with base 10: '10xb'"
        );
        assert_eq!(
            parse_byte_size("1.5MB").unwrap_err(),
            "invalid literal for int() with base 10: '1.5'"
        );
        assert_eq!(
            parse_byte_size("KB").unwrap_err(),
            "invalid literal for int() with base 10: ''"
        );
    }

    #[test]
    fn octals() {
        assert_eq!(parse_octal("022").unwrap(), 0o22);
        assert_eq!(parse_octal("0o22").unwrap(), 0o22);
        assert_eq!(parse_octal("777").unwrap(), 0o777);
        assert_eq!(
            parse_octal("8").unwrap_err(),
            "8 can not be converted to an octal type"
        );
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM").unwrap(), 15);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGHUP").unwrap(), 1);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert_eq!(
            parse_signal("FOO").unwrap_err(),
            "value 'FOO' is not a valid signal name"
        );
        assert_eq!(
            parse_signal("99").unwrap_err(),
            "value '99' is not a valid signal number"
        );
        assert_eq!(signal_name(15), Some("SIGTERM"));
    }

    #[test]
    fn exitcodes() {
        assert_eq!(parse_exitcodes("0,2").unwrap(), vec![0, 2]);
        assert_eq!(parse_exitcodes("").unwrap(), Vec::<i32>::new());
        assert_eq!(
            parse_exitcodes("0,256").unwrap_err(),
            "not a valid list of exit codes: '0,256'"
        );
        assert!(parse_exitcodes("a").is_err());
    }

    #[test]
    fn levels_and_names() {
        assert_eq!(parse_log_level("WARN").unwrap(), LogLevel::Warn);
        assert_eq!(parse_log_level("blather").unwrap(), LogLevel::Blather);
        assert_eq!(
            parse_log_level("warning").unwrap_err(),
            "bad logging level name 'warning'"
        );
        assert_eq!(parse_name(" ok ").unwrap(), "ok");
        assert_eq!(
            parse_name("a b").unwrap_err(),
            "Invalid name: 'a b' because of character: ' '"
        );
    }

    #[test]
    fn inet_addresses() {
        assert_eq!(parse_inet_address("9001").unwrap(), (String::new(), 9001));
        assert_eq!(
            parse_inet_address("LocalHost:9001").unwrap(),
            ("localhost".into(), 9001)
        );
        assert_eq!(parse_inet_address("*:1").unwrap(), (String::new(), 1));
        assert_eq!(
            parse_inet_address("abc").unwrap_err(),
            "not a valid port number: 'abc' "
        );
        assert_eq!(
            parse_inet_address("h:").unwrap_err(),
            "no port number specified in ''"
        );
        assert_eq!(
            parse_inet_address("h:0").unwrap_err(),
            "0 is below lower bound (1)"
        );
        assert_eq!(
            parse_inet_address("h:65536").unwrap_err(),
            "65536 is above upper bound (65535)"
        );
    }

    #[test]
    fn urls() {
        assert!(parse_url("http://localhost:9001").is_ok());
        assert!(parse_url("unix:///tmp/s.sock").is_ok());
        assert_eq!(parse_url("foo").unwrap_err(), "value 'foo' is not a URL");
        assert!(parse_url("http://").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(normpath("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(normpath("//a"), "//a");
        assert_eq!(normpath("///a"), "/a");
        assert_eq!(normpath("../x"), "../x");
        assert_eq!(abspath("x/y", Path::new("/c")), "/c/x/y");
        assert_eq!(expanduser("~/x", Some("/home/u")), "/home/u/x");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("b"), "");
        assert_eq!(dirname("/b"), "/");
        let cwd = Path::new("/");
        assert!(existing_dirpath("/nonexistent-dir-xyz/f", cwd, None).is_err());
        assert_eq!(existing_dirpath("f.log", cwd, None).unwrap(), "f.log");
        assert_eq!(
            existing_directory("/nonexistent-dir-xyz", cwd, None).unwrap_err(),
            "/nonexistent-dir-xyz is not an existing directory"
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "os"),
        ignore = "needs the user/group lookups of the `os` feature"
    )]
    fn users() {
        assert_eq!(name_to_uid("root").unwrap(), 0);
        assert_eq!(name_to_uid("0").unwrap(), 0);
        assert_eq!(
            name_to_uid("no-such-user-xyz").unwrap_err(),
            "Invalid user name no-such-user-xyz"
        );
        assert_eq!(name_to_uid("999999").unwrap_err(), "Invalid user id 999999");
        assert_eq!(parse_user_group("root:root").unwrap(), (0, 0));
        assert_eq!(parse_user_group("root").unwrap(), (0, u32::MAX));
        assert_eq!(
            parse_user_group("root:nogroupxyz").unwrap_err(),
            "Invalid user:group definition root:nogroupxyz"
        );
    }
}
