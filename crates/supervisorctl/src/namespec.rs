//! Namespecs: `group:process`, `group:*` and bare names, as the reference writes and
//! reads them. A leaf module: the commands and the output formatting both use it.

pub use supervisor_protocol::namespec::make_namespec;

/// `g:p` → (g, Some(p)); `g:` / `g:*` → (g, None); `p` → (p, Some(p)): the shared
/// [`supervisor_protocol::namespec::split_namespec`], owned.
pub fn split_namespec(spec: &str) -> (String, Option<String>) {
    let (g, p) = supervisor_protocol::namespec::split_namespec(spec);
    (g.to_string(), p.map(str::to_string))
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
