//! Namespecs: `group:process`, `group:*` and bare names, as the reference writes and
//! reads them. A leaf module: the commands and the output formatting both use it.

/// `group:process`, or just `process` when both names are equal.
pub fn make_namespec(group: &str, process: &str) -> String {
    if group == process {
        process.to_string()
    } else {
        format!("{group}:{process}")
    }
}

/// `g:p` → (g, Some(p)); `g:` / `g:*` → (g, None); `p` → (p, Some(p)).
pub fn split_namespec(spec: &str) -> (String, Option<String>) {
    match spec.split_once(':') {
        Some((g, p)) => {
            let p = if p.is_empty() || p == "*" {
                None
            } else {
                Some(p.to_string())
            };
            (g.to_string(), p)
        }
        None => (spec.to_string(), Some(spec.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespecs() {
        assert_eq!(make_namespec("g", "g"), "g");
        assert_eq!(make_namespec("g", "p"), "g:p");
        assert_eq!(split_namespec("g:p"), ("g".into(), Some("p".into())));
        assert_eq!(split_namespec("g:*"), ("g".into(), None));
        assert_eq!(split_namespec("g:"), ("g".into(), None));
        assert_eq!(split_namespec("p"), ("p".into(), Some("p".into())));
    }
}
