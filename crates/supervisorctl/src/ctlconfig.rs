//! Reading the `[supervisorctl]` section of a config file.
//!
//! Interim private reader until `supervisor_config::load_ctl` is available: it follows the
//! reference's rules for this one section (configparser syntax with inline `;`/`#`
//! comments, `[DEFAULT]` keys, continuation lines, `%(here)s` and `%(ENV_X)s` expansion,
//! unix socket path normalisation) and its error messages.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The resolved `[supervisorctl]` values (defaults when a key is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlSection {
    /// `serverurl`.
    pub serverurl: String,
    /// `username`.
    pub username: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `prompt`.
    pub prompt: String,
    /// `history_file`, normalised.
    pub history_file: Option<PathBuf>,
}

impl Default for CtlSection {
    fn default() -> Self {
        CtlSection {
            serverurl: "http://localhost:9001".into(),
            username: None,
            password: None,
            prompt: "supervisor".into(),
            history_file: None,
        }
    }
}

/// Reads `path`; the error is the reference's usage message.
pub fn read(path: &Path) -> Result<CtlSection, String> {
    let shown = path.to_string_lossy();
    if !path.exists() {
        return Err(format!("could not find config file {shown}"));
    }
    let text = std::fs::read(path).map_err(|_| format!("could not read config file {shown}"))?;
    let text = String::from_utf8_lossy(&text);
    let here = normalize_path(path)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    let sections = parse_ini(&text).map_err(|e| format!("{e} in {shown}"))?;
    let Some(sec) = sections.get("supervisorctl") else {
        return Err(".ini file does not include supervisorctl section".into());
    };
    let defaults = sections.get("DEFAULT").cloned().unwrap_or_default();
    let get = |key: &str| sec.get(key).or_else(|| defaults.get(key)).cloned();
    let env: BTreeMap<String, String> = std::env::vars()
        .map(|(k, v)| (format!("ENV_{k}"), v))
        .collect();
    let mut with_here = env.clone();
    with_here.insert("here".into(), here);

    let mut out = CtlSection::default();
    let serverurl = get("serverurl").unwrap_or_else(|| out.serverurl.clone());
    let serverurl = expand(&serverurl, &with_here, "supervisorctl.serverurl")?;
    out.serverurl = match serverurl.strip_prefix("unix://") {
        Some(p) => format!("unix://{}", normalize_path(Path::new(p)).display()),
        None => serverurl,
    };
    if let Some(p) = get("prompt") {
        out.prompt = expand(&p, &env, "supervisorctl.prompt")?;
    }
    if let Some(u) = get("username") {
        out.username = Some(expand(&u, &env, "supervisorctl.username")?);
    }
    if let Some(p) = get("password") {
        out.password = Some(expand(&p, &env, "supervisorctl.password")?);
    }
    if let Some(h) = get("history_file") {
        let h = expand(&h, &with_here, "supervisorctl.history_file")?;
        if !h.is_empty() {
            out.history_file = Some(normalize_path(Path::new(&h)));
        }
    }
    Ok(out)
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// A configparser-compatible reader (the subset the client needs).
fn parse_ini(text: &str) -> Result<Sections, String> {
    let mut sections: Sections = BTreeMap::new();
    let mut cur: Option<String> = None;
    let mut cur_key: Option<String> = None;
    let mut indent_level = 0usize;
    for (lineno, raw) in text.lines().enumerate() {
        let stripped_full = raw.trim();
        if stripped_full.starts_with(';') || stripped_full.starts_with('#') {
            continue;
        }
        let mut cut = raw.len();
        let bytes = raw.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if (b == b';' || b == b'#') && i > 0 && bytes[i - 1].is_ascii_whitespace() {
                cut = i;
                break;
            }
        }
        let value = raw[..cut].trim();
        if value.is_empty() {
            if let (Some(s), Some(k)) = (&cur, &cur_key) {
                if let Some(v) = sections.get_mut(s).and_then(|m| m.get_mut(k)) {
                    v.push('\n');
                }
            }
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if cur.is_some() && cur_key.is_some() && indent > indent_level {
            let (s, k) = (cur.clone().unwrap(), cur_key.clone().unwrap());
            if let Some(v) = sections.get_mut(&s).and_then(|m| m.get_mut(&k)) {
                v.push('\n');
                v.push_str(value);
            }
            continue;
        }
        indent_level = indent;
        if value.starts_with('[') && value.ends_with(']') && value.len() > 2 {
            let name = value[1..value.len() - 1].to_string();
            sections.entry(name.clone()).or_default();
            cur = Some(name);
            cur_key = None;
            continue;
        }
        let Some(section) = cur.clone() else {
            return Err(format!(
                "File contains no section headers (line {})",
                lineno + 1
            ));
        };
        let pos = value.find(['=', ':']);
        let Some(pos) = pos else {
            return Err(format!(
                "Source contains parsing errors: line {}",
                lineno + 1
            ));
        };
        let key = value[..pos].trim_end().to_lowercase();
        let val = value[pos + 1..].trim().to_string();
        sections
            .entry(section)
            .or_default()
            .insert(key.clone(), val);
        cur_key = Some(key);
    }
    for sec in sections.values_mut() {
        for v in sec.values_mut() {
            while v.ends_with('\n') {
                v.pop();
            }
        }
    }
    Ok(sections)
}

/// Python `%`-formatting with a mapping: `%(name)s` and `%%`.
pub fn expand(s: &str, names: &BTreeMap<String, String>, what: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        if let Some(t) = tail.strip_prefix('%') {
            out.push('%');
            rest = t;
        } else if let Some(t) = tail.strip_prefix('(') {
            let Some(close) = t.find(')') else {
                return Err(badly(s, what, "incomplete format key"));
            };
            let name = &t[..close];
            let after = &t[close + 1..];
            let Some(after) = after.strip_prefix('s') else {
                return Err(badly(s, what, "unsupported format character"));
            };
            match names.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    let avail: Vec<&str> = names.keys().map(|k| k.as_str()).collect();
                    return Err(format!(
                        "Format string {} for {} contains names ({}) which cannot be expanded. Available names: {}",
                        crate::error::py_repr(s),
                        crate::error::py_repr(what),
                        crate::error::py_repr(name),
                        avail.join(", ")
                    ));
                }
            }
            rest = after;
        } else {
            return Err(badly(s, what, "format requires a mapping"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn badly(s: &str, what: &str, why: &str) -> String {
    format!(
        "Format string {} for {} is badly formatted: {why}",
        crate::error::py_repr(s),
        crate::error::py_repr(what)
    )
}

/// `os.path.normpath(os.path.abspath(os.path.expanduser(p)))`.
pub fn normalize_path(p: &Path) -> PathBuf {
    let text = p.to_string_lossy();
    let expanded = if text == "~" || text.starts_with("~/") {
        match std::env::var("HOME") {
            Ok(home) => PathBuf::from(format!("{home}{}", &text[1..])),
            Err(_) => p.to_path_buf(),
        }
    } else {
        p.to_path_buf()
    };
    let abs = if expanded.is_absolute() {
        expanded
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(expanded)
    };
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_rules() {
        let s = parse_ini(
            "; c\n[DEFAULT]\nprompt=dflt\n[supervisorctl]\nServerURL = unix:///a/b.sock ; comment\nusername=me#notcomment\nmulti=a\n  b\n",
        )
        .unwrap();
        let c = &s["supervisorctl"];
        assert_eq!(c["serverurl"], "unix:///a/b.sock");
        assert_eq!(c["username"], "me#notcomment");
        assert_eq!(c["multi"], "a\nb");
        assert_eq!(s["DEFAULT"]["prompt"], "dflt");
        assert!(parse_ini("x=1\n").is_err());
    }

    #[test]
    fn expansions() {
        let mut m = BTreeMap::new();
        m.insert("here".to_string(), "/h".to_string());
        assert_eq!(expand("%(here)s/x%%", &m, "k").unwrap(), "/h/x%");
        let e = expand("%(nope)s", &m, "supervisorctl.serverurl").unwrap_err();
        assert!(e.contains("contains names ('nope')"), "{e}");
    }

    #[test]
    fn paths() {
        assert_eq!(
            normalize_path(Path::new("/a/./b/../c//d")),
            PathBuf::from("/a/c/d")
        );
    }

    #[test]
    fn missing_section() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.conf");
        std::fs::write(&f, "[supervisord]\n").unwrap();
        assert_eq!(
            read(&f).unwrap_err(),
            ".ini file does not include supervisorctl section"
        );
        std::fs::write(&f, "[supervisorctl]\nprompt=hi\nhistory_file=%(here)s/h\n").unwrap();
        let s = read(&f).unwrap();
        assert_eq!(s.prompt, "hi");
        assert_eq!(
            s.history_file.unwrap(),
            normalize_path(&dir.path().join("h"))
        );
        assert_eq!(s.serverurl, "http://localhost:9001");
    }
}
