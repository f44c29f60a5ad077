//! Namespecs: how a process is named to users and clients. `group:process`, `group:*` (or
//! `group:`) for a whole group, and a bare `name` for a process alone in a group of the same
//! name. The daemon, `supervisorctl` and the web UI all write and read them here.

/// `name` when the process is alone in a group of the same name, else `group:name`.
pub fn make_namespec(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        let mut s = String::with_capacity(group.len() + 1 + name.len());
        s.push_str(group);
        s.push(':');
        s.push_str(name);
        s
    }
}

/// `g:p` → (g, Some(p)); `g:` or `g:*` → (g, None) (the whole group); `p` → (p, Some(p)).
/// Only the first `:` splits: `g:a:b` → (g, Some("a:b")).
pub fn split_namespec(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((g, "")) | Some((g, "*")) => (g, None),
        Some((g, p)) => (g, Some(p)),
        None => (spec, Some(spec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make() {
        assert_eq!(make_namespec("g", "g"), "g");
        assert_eq!(make_namespec("g", "p"), "g:p");
        assert_eq!(make_namespec("", ""), "");
        assert_eq!(make_namespec("", "p"), ":p");
    }

    #[test]
    fn split() {
        assert_eq!(split_namespec("g:p"), ("g", Some("p")));
        assert_eq!(split_namespec("g:*"), ("g", None));
        assert_eq!(split_namespec("g:"), ("g", None));
        assert_eq!(split_namespec("p"), ("p", Some("p")));
        assert_eq!(split_namespec("g:a:b"), ("g", Some("a:b")));
        assert_eq!(split_namespec(""), ("", Some("")));
        assert_eq!(split_namespec(":p"), ("", Some("p")));
    }
}
