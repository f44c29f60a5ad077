//! `environment_file=` (supervisor-rs, issue 15 item 6): env files read in the parent at
//! every spawn, before the child exists, so a changed file applies on the next start
//! without `update`.
//!
//! The format is the dotenv one (what docker compose, systemd users and the dotenv
//! libraries write):
//!
//! * `KEY=VALUE` lines; blank lines and lines starting with `#` are skipped; an `export `
//!   prefix is allowed; spaces around `=` are allowed;
//! * unquoted values end at the end of the line or at a ` #` comment, trailing blanks
//!   dropped, taken literally otherwise;
//! * `'single quoted'` values are literal (no escapes) and may span lines;
//! * `"double quoted"` values know `\n`, `\t`, `\r`, `\"`, `\\` and `\$` (any other
//!   backslash stays as written) and may span lines;
//! * after a closing quote only blanks or a `# comment` may follow;
//! * no `$VAR`/`${VAR}` expansion: a `$` is an ordinary character (like systemd's
//!   `EnvironmentFile=`), so a value never depends on the daemon's environment.
//!
//! `dotenvy` was evaluated and not used: it always expands `$VAR` in unquoted and
//! double-quoted values and its errors give the offset in the text, not the line.
//!
//! A file listed with a leading `-` may be missing; any other problem (a missing
//! required file, an unreadable or oversized file, a bad line) is a spawn error naming
//! the file and the line.

use std::io::Read;

use supervisor_config::EnvFile;

/// The largest env file read (bytes); a bigger one is refused, never read whole.
pub(super) const MAX_ENV_FILE: u64 = 1 << 20;

/// One problem with an env file, as the spawnerr shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFileError(pub String);

/// Reads every file of `files` in order and returns their `(key, value)` pairs in order
/// (later entries win when the caller applies them).
pub fn read_env_files(files: &[EnvFile]) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut out = Vec::new();
    for f in files {
        match read_file(&f.path) {
            Ok(Some(text)) => out.extend(parse_env(&text, &f.path)?),
            Ok(None) if f.optional => {}
            Ok(None) => {
                return Err(EnvFileError(format!(
                    "couldn't read environment file {}: No such file or directory",
                    f.path
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The file's text, `None` when it does not exist.
fn read_file(path: &str) -> Result<Option<String>, EnvFileError> {
    let fail = |why: String| EnvFileError(format!("couldn't read environment file {path}: {why}"));
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(os_text(&e))),
    };
    let mut bytes = Vec::new();
    file.take(MAX_ENV_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(os_text(&e)))?;
    if bytes.len() as u64 > MAX_ENV_FILE {
        return Err(fail(format!("larger than {MAX_ENV_FILE} bytes")));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| fail("not UTF-8 text".to_string()))
}

/// The OS error text without Rust's ` (os error N)` suffix.
fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Parses the dotenv text of `path` (named in errors with the line number).
pub fn parse_env(text: &str, path: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let err = |why: String| EnvFileError(format!("{path}, line {lineno}: {why}"));
        let line = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
        i += 1;
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let t = match t.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => t,
        };
        let Some(eq) = t.find('=') else {
            return Err(err(format!(
                "expected KEY=VALUE, found {:?}",
                truncate(line.trim())
            )));
        };
        let key = t[..eq].trim_end();
        if !valid_key(key) {
            return Err(err(format!("invalid variable name {:?}", truncate(key))));
        }
        let raw = t[eq + 1..].trim_start();
        let value = match raw.chars().next() {
            Some(q @ ('\'' | '"')) => {
                // a quoted value may continue on the following lines
                let mut body = raw[1..].to_string();
                let close = loop {
                    if let Some(end) = closing_quote(&body, q) {
                        break end;
                    }
                    if i >= lines.len() {
                        return Err(err(format!("unterminated {q}quoted{q} value of {key}")));
                    }
                    body.push('\n');
                    body.push_str(lines[i].strip_suffix('\r').unwrap_or(lines[i]));
                    i += 1;
                };
                let rest = body[close + 1..].trim();
                if !(rest.is_empty() || rest.starts_with('#')) {
                    return Err(err(format!(
                        "unexpected text after the quoted value of {key}: {:?}",
                        truncate(rest)
                    )));
                }
                let inner = &body[..close];
                if q == '"' {
                    unescape(inner)
                } else {
                    inner.to_string()
                }
            }
            _ => {
                let end = raw
                    .char_indices()
                    .find(|&(j, c)| c == '#' && j > 0 && raw[..j].ends_with([' ', '\t']))
                    .map_or(raw.len(), |(j, _)| j);
                raw[..end].trim_end().to_string()
            }
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// The byte index of the closing quote `q` in `body` (a `\"` does not close a double
/// quoted value; single quotes have no escapes).
fn closing_quote(body: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (j, c) in body.char_indices() {
        if q == '"' && escaped {
            escaped = false;
            continue;
        }
        if q == '"' && c == '\\' {
            escaped = true;
        } else if c == q {
            return Some(j);
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(e @ ('"' | '\\' | '$')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn valid_key(k: &str) -> bool {
    let mut b = k.bytes();
    matches!(b.next(), Some(c) if c == b'_' || c.is_ascii_alphabetic())
        && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 60 {
        let head: String = s.chars().take(60).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

/// `--check-config`'s findings about `environment_file=` and `rlimits=`: each required env
/// file that is missing or has a bad line, each optional one that exists but does not
/// parse, and each limit the kernel would refuse at spawn (errors: the spawn would fail).
/// The `[supervisord]` files are reported once, under `[supervisord]`.
pub fn check_findings(config: &supervisor_config::Config) -> Vec<supervisor_config::Diagnostic> {
    use supervisor_config::{Diagnostic, Severity};
    let mut out = Vec::new();
    let diag = |file: &std::path::Path, section: &str, key: &str, code, message| {
        let (f, line) = match config.sources.locate(section, key) {
            Some((f, l)) => (std::path::PathBuf::from(f), Some(l)),
            None => (file.to_path_buf(), None),
        };
        Diagnostic {
            severity: Severity::Error,
            code,
            message,
            file: Some(f),
            line,
            section: Some(section.to_string()),
            key: Some(key.to_string()),
            suggestion: None,
            at_start: false,
        }
    };
    let global = &config.supervisord.environment_files;
    let mut seen = std::collections::HashSet::new();
    for f in global {
        if seen.insert(f.path.clone()) {
            if let Err(e) = read_env_files(std::slice::from_ref(f)) {
                let main = config.sources.locate("supervisord", "environment_file");
                let file = std::path::PathBuf::from(main.map_or("", |(p, _)| p));
                out.push(diag(
                    &file,
                    "supervisord",
                    "environment_file",
                    "environment-file",
                    format!("environment_file of section 'supervisord': {}", e.0),
                ));
            }
        }
    }
    for g in &config.groups {
        for p in &g.processes {
            for f in p.environment_files.iter().filter(|f| !global.contains(f)) {
                if !seen.insert(format!("{}\0{}", p.section, f.path)) {
                    continue;
                }
                if let Err(e) = read_env_files(std::slice::from_ref(f)) {
                    out.push(diag(
                        &p.file,
                        &p.section,
                        "environment_file",
                        "environment-file",
                        format!("environment_file of section '{}': {}", p.section, e.0),
                    ));
                }
            }
            if !p.rlimits.is_empty() && seen.insert(format!("{}\0rlimits", p.section)) {
                if let Err(e) = super::rlimits::plan_rlimits(&p.rlimits) {
                    out.push(diag(
                        &p.file,
                        &p.section,
                        "rlimits",
                        "rlimits",
                        format!("rlimits of section '{}': {e}", p.section),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse_env(text, "/x.env").unwrap()
    }
    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_usual_forms() {
        let text = "# a comment\n\
                    \n\
                    PLAIN=value\n\
                    export EXPORTED=yes\n\
                    SPACED = around  \n\
                    EMPTY=\n\
                    \x20 # indented comment\n\
                    SINGLE='lit $HOME \\n \"x\"'\n\
                    DOUBLE=\"a\\nb\\t\\\"q\\\" \\\\ \\$HOME \\x\"\n\
                    TRAIL=word # comment\n\
                    HASH=a#b\n\
                    URL=http://h/p?q=1&r=2\n\
                    CRLF=dos\r\n\
                    QC=\"v\" # after\n\
                    exportX=1\n";
        assert_eq!(
            ok(text),
            kv(&[
                ("PLAIN", "value"),
                ("EXPORTED", "yes"),
                ("SPACED", "around"),
                ("EMPTY", ""),
                ("SINGLE", "lit $HOME \\n \"x\""),
                ("DOUBLE", "a\nb\t\"q\" \\ $HOME \\x"),
                ("TRAIL", "word"),
                ("HASH", "a#b"),
                ("URL", "http://h/p?q=1&r=2"),
                ("CRLF", "dos"),
                ("QC", "v"),
                ("exportX", "1"),
            ])
        );
    }

    #[test]
    fn quoted_values_span_lines() {
        assert_eq!(
            ok("KEY='line1\nline2'\nNEXT=\"a\nb\"\nLAST=1"),
            kv(&[("KEY", "line1\nline2"), ("NEXT", "a\nb"), ("LAST", "1")])
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, line, part) in [
            ("A=1\njust words\n", 2, "expected KEY=VALUE"),
            ("A=1\n\n1BAD=x\n", 3, "invalid variable name \"1BAD\""),
            ("A-B=x", 1, "invalid variable name"),
            ("=x", 1, "invalid variable name"),
            ("A=1\nB='open\nstill", 2, "unterminated"),
            (
                "Q=\"x\" trailing",
                1,
                "unexpected text after the quoted value of Q",
            ),
            ("export", 1, "expected KEY=VALUE"),
        ] {
            let e = parse_env(text, "/etc/app.env").unwrap_err().0;
            assert!(
                e.starts_with(&format!("/etc/app.env, line {line}: ")),
                "{text:?}: {e}"
            );
            assert!(e.contains(part), "{text:?}: {e}");
        }
    }

    #[test]
    fn files_required_optional_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.env");
        std::fs::write(&a, "A=1\nB=2\n").unwrap();
        let b = dir.path().join("b.env");
        std::fs::write(&b, "B=3\n").unwrap();
        let missing = dir.path().join("missing.env");
        let f = |p: &std::path::Path, optional| EnvFile {
            path: p.to_str().unwrap().to_string(),
            optional,
        };
        assert_eq!(
            read_env_files(&[f(&a, false), f(&missing, true), f(&b, false)]).unwrap(),
            kv(&[("A", "1"), ("B", "2"), ("B", "3")])
        );
        let e = read_env_files(&[f(&missing, false)]).unwrap_err().0;
        assert_eq!(
            e,
            format!(
                "couldn't read environment file {}: No such file or directory",
                missing.display()
            )
        );
        let big = dir.path().join("big.env");
        std::fs::write(&big, vec![b'#'; (MAX_ENV_FILE + 1) as usize]).unwrap();
        assert!(read_env_files(&[f(&big, false)])
            .unwrap_err()
            .0
            .contains("larger than"));
        // a directory is an error even when optional (only "missing" is forgiven)
        let e = read_env_files(&[f(dir.path(), true)]).unwrap_err().0;
        assert!(e.starts_with("couldn't read environment file"), "{e}");
    }
}
