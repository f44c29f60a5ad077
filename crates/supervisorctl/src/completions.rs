//! Shell completion scripts printed by `supervisorctl completions bash|zsh|fish`.
//!
//! The scripts live in the repository's `completions/` directory and are embedded here.
//! They complete options, command names, and process/group names read from
//! `supervisorctl status` (run with the same `-c`/`-s`/`-u`/`-p` options).

/// The completion script for `shell`, if we have one.
pub fn script(shell: &str) -> Option<&'static str> {
    match shell {
        "bash" => Some(include_str!("../../../completions/supervisorctl.bash")),
        "zsh" => Some(include_str!("../../../completions/supervisorctl.zsh")),
        "fish" => Some(include_str!("../../../completions/supervisorctl.fish")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scripts_exist() {
        assert!(super::script("bash").unwrap().contains("complete -F"));
        assert!(super::script("zsh").unwrap().starts_with("#compdef"));
        assert!(super::script("fish")
            .unwrap()
            .contains("complete -c supervisorctl"));
        assert!(super::script("tcsh").is_none());
    }
}
