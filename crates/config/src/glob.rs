//! Python's `glob.glob` (non-recursive) and `fnmatch` on POSIX, for `[include] files=`.
//! `*` and `?` do not match a leading `.` unless the pattern component starts with one.

use std::path::Path;

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `fnmatch.fnmatchcase(name, pat)`.
pub fn fnmatch(name: &str, pat: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    // iterative wildcard matching with backtracking on the last '*'
    let (mut ni, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    ni += 1;
                    pi += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, n[ni]) {
                        if matched {
                            ni += 1;
                            pi = next;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        ni += 1;
                        pi += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        ni += 1;
                        pi += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Matches `c` against the class starting at `p[start] == '['`. `None` when the class is
/// not closed (then `[` is literal); else (matched, index after `]`).
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && p[i] == '!';
    if negate {
        i += 1;
    }
    if i < p.len() && p[i] == ']' {
        i += 1;
    }
    while i < p.len() && p[i] != ']' {
        i += 1;
    }
    if i >= p.len() {
        return None;
    }
    let end = i;
    let mut j = start + 1 + usize::from(negate);
    let mut hit = false;
    while j < end {
        let lo = p[j];
        if j + 2 < end && p[j + 1] == '-' {
            let hi = p[j + 2];
            if lo <= c && c <= hi {
                hit = true;
            }
            j += 3;
        } else {
            if lo == c {
                hit = true;
            }
            j += 1;
        }
    }
    Some((hit != negate, end + 1))
}

/// `glob.glob(pattern)` (unsorted, like Python; callers sort).
pub fn glob(pattern: &str) -> Vec<String> {
    if !has_magic(pattern) {
        return if std::fs::symlink_metadata(pattern).is_ok() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let (dir, base) = match pattern.rfind('/') {
        Some(i) => (&pattern[..i], &pattern[i + 1..]),
        None => ("", pattern),
    };
    let dirs: Vec<String> = if dir.is_empty() {
        vec![String::new()]
    } else if dir.chars().all(|c| c == '/') {
        vec![dir.to_string()]
    } else if has_magic(dir) {
        glob(dir)
    } else {
        vec![dir.to_string()]
    };
    let mut out = Vec::new();
    for d in dirs {
        let names: Vec<String> = if has_magic(base) {
            glob1(&d, base)
        } else if base.is_empty() {
            if Path::new(if d.is_empty() { "." } else { &d }).is_dir() {
                vec![String::new()]
            } else {
                vec![]
            }
        } else {
            let full = join(&d, base);
            if std::fs::symlink_metadata(&full).is_ok() {
                vec![base.to_string()]
            } else {
                vec![]
            }
        };
        for n in names {
            out.push(join(&d, &n));
        }
    }
    out
}

fn join(d: &str, n: &str) -> String {
    if d.is_empty() {
        n.to_string()
    } else if d.ends_with('/') {
        format!("{d}{n}")
    } else {
        format!("{d}/{n}")
    }
}

fn glob1(dir: &str, pat: &str) -> Vec<String> {
    let rd = match std::fs::read_dir(if dir.is_empty() { "." } else { dir }) {
        Ok(rd) => rd,
        Err(_) => return Vec::new(),
    };
    let hidden_ok = pat.starts_with('.');
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !hidden_ok && name.starts_with('.') {
            continue;
        }
        if fnmatch(&name, pat) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_like_python() {
        assert!(fnmatch("a.conf", "*.conf"));
        assert!(!fnmatch("a.ini", "*.conf"));
        assert!(fnmatch("abc", "a?c"));
        assert!(fnmatch("abc", "[a-c]bc"));
        assert!(!fnmatch("dbc", "[a-c]bc"));
        assert!(fnmatch("dbc", "[!a-c]bc"));
        assert!(fnmatch("[x", "[x"));
        assert!(fnmatch("]", "[]]"));
        assert!(fnmatch("", "*"));
        assert!(fnmatch("aXbXc", "a*b*c"));
    }

    #[test]
    fn glob_lists_files() {
        let d = tempfile::tempdir().unwrap();
        for n in ["b.conf", "a.conf", ".h.conf", "c.ini"] {
            std::fs::write(d.path().join(n), "").unwrap();
        }
        let base = d.path().to_string_lossy().into_owned();
        let mut got = glob(&format!("{base}/*.conf"));
        got.sort();
        assert_eq!(
            got,
            vec![format!("{base}/a.conf"), format!("{base}/b.conf")]
        );
        assert_eq!(glob(&format!("{base}/c.ini")).len(), 1);
        assert!(glob(&format!("{base}/nope")).is_empty());
    }
}
