//! The table's readers besides dispatch: `help`, `help <command>`, the usage printed
//! after a bad argument, and the interactive shell's tab completion.

use std::io::Write;

use super::table::{self, Args, Listing};
use super::Controller;
use crate::rpc::{array, member_str};
use crate::text;

/// `help`'s block of `listing` commands: a header, its underline, the names in columns.
fn block(header: &str, listing: Listing) -> String {
    let mut text = format!("{header}\n{}\n", "=".repeat(header.len()));
    text.push_str(&text::columnize(&table::names(listing), 79));
    text.push('\n');
    text
}

impl Controller {
    /// `help [topic]` (`help help` included: its text is the table's row).
    pub(super) fn do_help(&mut self, arg: &str) {
        let topic = arg.trim();
        if topic.is_empty() {
            self.output("");
            let mut text = block("default commands (type help <topic>):", Listing::Reference);
            // ours, after the reference's block (which stays as it is)
            text.push_str(&block(
                "supervisor-rs commands (type help <topic>):",
                Listing::Extra,
            ));
            let _ = self.out.write_all(text.as_bytes());
            let _ = self.out.flush();
            return;
        }
        match table::help_text(topic) {
            Some(t) => self.output(t),
            None => self.output(&format!("*** No help on {topic}")),
        }
    }

    /// Prints the help of `cmd` (after a usage error).
    pub(super) fn help(&mut self, cmd: &str) {
        if let Some(t) = table::help_text(cmd) {
            self.output(t);
        }
    }

    /// Completion candidates for the word `text` in `line` (each ends with a space), as
    /// the reference's shell completes: command names, then per command group or process
    /// names from the server (cached until the next command).
    pub fn complete(&mut self, line: &str, text: &str) -> Vec<String> {
        // the reference's vocabulary: `help` first, then its commands
        let actions = |text: &str| -> Vec<String> {
            table::names(Listing::CompletedOnly)
                .into_iter()
                .chain(table::names(Listing::Reference))
                .filter(|a| a.starts_with(text))
                .map(|a| format!("{a} "))
                .collect()
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(action) = words.first() else {
            return actions(text);
        };
        if words.len() == 1 && !line.ends_with(' ') {
            return actions(text);
        }
        let args = table::find(action).map_or(Args::Nothing, |c| c.args);
        match args {
            Args::Commands => actions(text),
            Args::Groups => {
                let mut groups: Vec<String> = Vec::new();
                for (g, _) in self.complete_info() {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
                groups
                    .into_iter()
                    .filter(|g| g.starts_with(text))
                    .map(|g| format!("{g} "))
                    .collect()
            }
            Args::Processes => {
                let mut procs: Vec<String> = Vec::new();
                for (g, n) in self.complete_info() {
                    if text.contains(':') || g != n {
                        procs.push(format!("{g}:{n}"));
                        let star = format!("{g}:*");
                        if !procs.contains(&star) {
                            procs.push(star);
                        }
                    } else {
                        procs.push(n);
                    }
                }
                procs
                    .into_iter()
                    .filter(|p| p.starts_with(text))
                    .map(|p| format!("{p} "))
                    .collect()
            }
            Args::Nothing => Vec::new(),
        }
    }

    /// (group, name) of every process, asked once per command line.
    pub(super) fn complete_info(&mut self) -> Vec<(String, String)> {
        if self.complete_info.is_none() {
            let mut v = Vec::new();
            if let Ok(all) = self.call("supervisor.getAllProcessInfo", &[]) {
                for info in array(all) {
                    if let (Ok(g), Ok(n)) = (member_str(&info, "group"), member_str(&info, "name"))
                    {
                        v.push((g, n));
                    }
                }
            }
            self.complete_info = Some(v);
        }
        self.complete_info.clone().unwrap_or_default()
    }
}
