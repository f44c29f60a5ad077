//! Shell completion scripts printed by `supervisorctl completions bash|zsh|fish`.
//!
//! Each script is a template (`bash.in`, `zsh.in`, `fish.in` beside this file: the
//! option handling and the helpers that read process/group names from
//! `supervisorctl status`, run with the same `-c`/`-s`/`-u`/`-p` options) whose command
//! lists are filled in from the command table ([`crate::commands::table`]). The copies in
//! the repository's `completions/` directory are this output (a unit test keeps them
//! equal; regenerate with `supervisorctl completions <shell> > completions/supervisorctl.<shell>`).

use crate::commands::table::{completed_names, Args, Command, TABLE};

const BASH: &str = include_str!("bash.in");
const ZSH: &str = include_str!("zsh.in");
const FISH: &str = include_str!("fish.in");

/// The completion script for `shell`, if we have one.
pub fn script(shell: &str) -> Option<String> {
    Some(match shell {
        "bash" => BASH
            .replace("@COMMANDS@", &completed_names().join(" "))
            .replace("@ACTIONS@", &bash_actions()),
        "zsh" => ZSH
            .replace("@COMMANDS@", &zsh_commands())
            .replace("@ACTIONS@", &zsh_actions()),
        "fish" => FISH
            .replace("@COMMANDS@", &completed_names().join(" "))
            .replace("@ACTIONS@", &fish_actions()),
        _ => return None,
    })
}

/// The kinds of names an argument can complete to, in the order the scripts test them.
const NAME_KINDS: [Args; 3] = [Args::Commands, Args::Groups, Args::Processes];

fn rows_of(kind: Args) -> Vec<&'static Command> {
    TABLE.iter().filter(|c| c.args == kind).collect()
}

fn names_of(rows: &[&Command], sep: &str) -> String {
    rows.iter().map(|c| c.name).collect::<Vec<_>>().join(sep)
}

/// The rows that offer literal words, grouped by identical word lists (first appearance
/// first): (words, command names).
fn by_words(rows: &[&'static Command]) -> Vec<(&'static [&'static str], Vec<&'static str>)> {
    let mut groups: Vec<(&'static [&'static str], Vec<&'static str>)> = Vec::new();
    for c in rows.iter().filter(|c| !c.words.is_empty()) {
        match groups.iter_mut().find(|(w, _)| *w == c.words) {
            Some((_, names)) => names.push(c.name),
            None => groups.push((c.words, vec![c.name])),
        }
    }
    groups
}

/// Every row with arguments to complete: name kinds first (in [`NAME_KINDS`] order),
/// then the rows that offer only words.
fn rows_by_kind() -> Vec<&'static Command> {
    NAME_KINDS
        .iter()
        .chain(std::iter::once(&Args::Nothing))
        .flat_map(|k| rows_of(*k))
        .collect()
}

/// The shell word that reads the names of `kind` (`groups`/`processes`).
fn helper_arg(kind: Args) -> &'static str {
    match kind {
        Args::Groups => "groups",
        _ => "processes",
    }
}

fn bash_actions() -> String {
    let mut out = String::new();
    for kind in NAME_KINDS {
        let rows = rows_of(kind);
        if rows.is_empty() {
            continue;
        }
        let pat = names_of(&rows, "|");
        let expr = match kind {
            Args::Commands => "$commands".to_string(),
            _ => format!(
                "$(_supervisorctl_names {} \"${{opts[@]}}\")",
                helper_arg(kind)
            ),
        };
        let extra = by_words(&rows);
        if extra.is_empty() {
            out.push_str(&format!("        {pat}) words={expr} ;;\n"));
            continue;
        }
        out.push_str(&format!(
            "        {pat})\n            words=\"{expr}\"\n            case $action in\n"
        ));
        for (words, names) in extra {
            out.push_str(&format!(
                "                {}) words=\"$words {}\" ;;\n",
                names.join("|"),
                words.join(" ")
            ));
        }
        out.push_str("            esac ;;\n");
    }
    for (words, names) in by_words(&rows_of(Args::Nothing)) {
        out.push_str(&format!(
            "        {}) words=\"{}\" ;;\n",
            names.join("|"),
            words.join(" ")
        ));
    }
    out
}

fn zsh_commands() -> String {
    TABLE
        .iter()
        .filter(|c| c.completed())
        .map(|c| format!("        '{}:{}'\n", c.name, c.summary))
        .collect()
}

fn zsh_actions() -> String {
    let mut out = String::new();
    for kind in NAME_KINDS {
        let rows = rows_of(kind);
        if rows.is_empty() {
            continue;
        }
        let pat = names_of(&rows, "|");
        if kind == Args::Commands {
            out.push_str(&format!(
                "        {pat}) _describe -t commands 'command' commands ;;\n"
            ));
            continue;
        }
        out.push_str(&format!(
            "        {pat})\n            names=(${{(f)\"$(_supervisorctl_names {} $opts)\"}})\n",
            helper_arg(kind)
        ));
        for (words, names) in by_words(&rows) {
            let test = match names.as_slice() {
                [one] => one.to_string(),
                many => format!("({})", many.join("|")),
            };
            out.push_str(&format!(
                "            [[ $action == {test} ]] && names+=({})\n",
                words.join(" ")
            ));
        }
        out.push_str("            compadd -a names ;;\n");
    }
    for (words, names) in by_words(&rows_of(Args::Nothing)) {
        out.push_str(&format!(
            "        {}) compadd -- {} ;;\n",
            names.join("|"),
            words.join(" ")
        ));
    }
    out
}

/// A fish `-a` argument: plain words before options; quoted unless one plain word.
fn fish_words(words: &[&str]) -> String {
    let (opts, plain): (Vec<&str>, Vec<&str>) = words.iter().partition(|w| w.starts_with('-'));
    let list = plain.into_iter().chain(opts).collect::<Vec<_>>().join(" ");
    if list.contains(' ') || list.starts_with('-') {
        format!("'{list}'")
    } else {
        list
    }
}

fn fish_actions() -> String {
    let mut out = String::new();
    let line = |names: &str, arg: &str| {
        format!("complete -c supervisorctl -n '__fish_seen_subcommand_from {names}' -a {arg}\n")
    };
    for kind in NAME_KINDS {
        let rows = rows_of(kind);
        if rows.is_empty() {
            continue;
        }
        let arg = match kind {
            Args::Commands => "\"$__supervisorctl_cmds\"".to_string(),
            _ => format!("'(__supervisorctl_names {})'", helper_arg(kind)),
        };
        out.push_str(&line(&names_of(&rows, " "), &arg));
    }
    for (words, names) in by_words(&rows_by_kind()) {
        out.push_str(&line(&names.join(" "), &fish_words(words)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_exist() {
        assert!(script("bash").unwrap().contains("complete -F"));
        assert!(script("zsh").unwrap().starts_with("#compdef"));
        assert!(script("fish")
            .unwrap()
            .contains("complete -c supervisorctl"));
        assert!(script("tcsh").is_none());
        for shell in ["bash", "zsh", "fish"] {
            let text = script(shell).unwrap();
            assert!(!text.contains("@COMMANDS@") && !text.contains("@ACTIONS@"));
        }
    }

    /// The scripts in the repository's `completions/` are what the table produces.
    #[test]
    fn checked_in_scripts_are_current() {
        let tree = [
            (
                "bash",
                include_str!("../../../../completions/supervisorctl.bash"),
            ),
            (
                "zsh",
                include_str!("../../../../completions/supervisorctl.zsh"),
            ),
            (
                "fish",
                include_str!("../../../../completions/supervisorctl.fish"),
            ),
        ];
        for (shell, text) in tree {
            assert_eq!(
                script(shell).unwrap(),
                text,
                "completions/supervisorctl.{shell} is stale: regenerate it with \
                 `supervisorctl completions {shell} > completions/supervisorctl.{shell}`"
            );
        }
    }
}
