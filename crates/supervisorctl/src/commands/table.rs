//! The one table of commands. Dispatch, `help`, `help <command>`, the shell's tab
//! completion and the shell completion scripts (`supervisorctl completions`) are all
//! read from [`TABLE`]; adding a command is adding a row.

use super::Controller;
use crate::error::CtlError;

/// Runs a command with the rest of its line (trimmed).
pub type Handler = fn(&mut Controller, &str) -> Result<(), CtlError>;

/// Where a command shows up besides dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// One of the reference's commands: in `help`'s "default commands" block and
    /// completed as a command name.
    Reference,
    /// `help` itself: completed as a command name (as in the reference), but not in
    /// `help`'s blocks.
    CompletedOnly,
    /// Ours, beyond the reference: in `help`'s "supervisor-rs commands" block, after the
    /// reference's block. Not completed as a command name (the completion vocabulary is
    /// the reference's).
    Extra,
}

/// What the words after a command complete to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Args {
    /// Nothing from the server.
    Nothing,
    /// Command names (`help <command>`).
    Commands,
    /// Group names.
    Groups,
    /// Process names: `name`, `group:name`, `group:*`.
    Processes,
}

/// One command.
#[derive(Clone, Copy, Debug)]
pub struct Command {
    /// The name typed.
    pub name: &'static str,
    /// Other names that run the same handler; never listed, completed or helped
    /// (`EOF`, what the shell runs at the end of input).
    pub aliases: &'static [&'static str],
    /// `help <name>`: the reference's text, byte for byte (printed with a newline).
    pub help: &'static str,
    /// A short description (zsh's completion menu).
    pub summary: &'static str,
    /// Where the command is listed and completed.
    pub listing: Listing,
    /// What its arguments complete to.
    pub args: Args,
    /// Literal arguments the completion scripts offer besides the names (`all`, `-f`);
    /// the interactive shell completes names only, as the reference's does.
    pub words: &'static [&'static str],
    /// Whether the shell stops after it (`quit`, `exit`, `EOF`).
    pub ends_shell: bool,
    /// What it does.
    pub run: Handler,
}

/// A row with the common defaults (`Reference`, no argument completion).
const fn row(
    name: &'static str,
    summary: &'static str,
    help: &'static str,
    run: Handler,
) -> Command {
    Command {
        name,
        aliases: &[],
        help,
        summary,
        listing: Listing::Reference,
        args: Args::Nothing,
        words: &[],
        ends_shell: false,
        run,
    }
}

impl Command {
    const fn args(mut self, args: Args) -> Command {
        self.args = args;
        self
    }

    const fn words(mut self, words: &'static [&'static str]) -> Command {
        self.words = words;
        self
    }

    const fn listing(mut self, listing: Listing) -> Command {
        self.listing = listing;
        self
    }

    const fn ends_shell(mut self, aliases: &'static [&'static str]) -> Command {
        self.ends_shell = true;
        self.aliases = aliases;
        self
    }

    /// Whether `word` runs this command.
    pub fn answers_to(&self, word: &str) -> bool {
        self.name == word || self.aliases.contains(&word)
    }

    /// Whether completion offers this command's name.
    pub fn completed(&self) -> bool {
        self.listing != Listing::Extra
    }
}

const ALL: &[&str] = &["all"];

/// Every command, sorted by name (the order of `help`'s columns and of the completion
/// lists).
pub static TABLE: &[Command] = &[
    row("add", "activate updates in config for process/group",
        "add <name> [...]\tActivates any updates in config for process/group",
        |c, a| c.do_add(a)).args(Args::Groups),
    row("avail", "display all configured processes",
        "avail\t\t\tDisplay all configured processes\navail --json\t\tThe same as a JSON array",
        |c, a| c.do_avail(a)),
    row("clear", "clear process log files",
        "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files",
        |c, a| c.do_clear(a)).args(Args::Processes).words(ALL),
    row("completions", "print a shell completion script",
        "completions bash|zsh|fish\tPrint a shell completion script for supervisorctl\n\t\t\t\t(supervisorctl completions bash > /etc/bash_completion.d/supervisorctl)",
        |c, a| {
            c.do_completions(a);
            Ok(())
        }).listing(Listing::Extra),
    row("exit", "exit the supervisor shell", "exit\tExit the supervisor shell.", quit)
        .ends_shell(&[]),
    row("fg", "connect to a process in foreground mode",
        "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit",
        |c, a| c.do_fg(a)).args(Args::Processes),
    row("help", "print help",
        "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>",
        |c, a| {
            c.do_help(a);
            Ok(())
        }).listing(Listing::CompletedOnly).args(Args::Commands),
    row("maintail", "tail the supervisord main log",
        "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n",
        |c, a| c.do_maintail(a)).words(&["-f"]),
    row("open", "connect to a remote supervisord",
        "open <url>\tConnect to a remote supervisord process.\n\t\t(for UNIX domain socket, use unix:///socket/path)",
        |c, a| c.do_open(a)),
    row("pid", "get the PID of supervisord or a process",
        "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by name.\npid all\t\t\tGet the PID of every child process, one per line.",
        |c, a| c.do_pid(a)).args(Args::Processes).words(ALL),
    row("quit", "exit the supervisor shell", "quit\tExit the supervisor shell.", quit)
        .ends_shell(&["EOF"]),
    row("reload", "restart the remote supervisord",
        "reload \t\tRestart the remote supervisord.",
        |c, a| c.do_reload(a)),
    row("remove", "remove process/group from active config",
        "remove <name> [...]\tRemoves process/group from active config",
        |c, a| c.do_remove(a)).args(Args::Groups),
    row("reread", "reload config files without add/remove",
        "reread \t\t\tReload the daemon's configuration files without add/remove",
        |c, a| c.do_reread(a)),
    row("restart", "restart processes",
        "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\nNote: restart does not reread config files. For that, see reread and update.",
        |c, a| c.do_restart(a)).args(Args::Processes).words(ALL),
    row("rotate", "rotate process log files now",
        super::rotate::HELP,
        |c, a| c.do_rotate(a)).listing(Listing::Extra).args(Args::Processes).words(ALL),
    row("shutdown", "shut the remote supervisord down",
        "shutdown \tShut the remote supervisord down.",
        |c, a| c.do_shutdown(a)),
    row("signal", "signal processes",
        "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes",
        |c, a| c.do_signal(a)).args(Args::Processes).words(ALL),
    row("start", "start processes",
        "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes",
        |c, a| c.do_start(a)).args(Args::Processes).words(ALL),
    row("status", "get process status",
        "status <name>\t\tGet status for a single process\nstatus <gname>:*\tGet status for all processes in a group\nstatus <name> <name>\tGet status for multiple named processes\nstatus\t\t\tGet all process status info\nstatus --json [...]\tThe same as a JSON array (errors on stderr), with a stats object\n\t\t\tper process when the server has them\nstatus -l [...]\t\tWith CPU%, RSS, FDS, THREADS and RESTARTS columns\n\t\t\t(supervisor-rs only)",
        |c, a| c.do_status(a)).args(Args::Processes).words(ALL),
    row("stop", "stop processes",
        "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes",
        |c, a| c.do_stop(a)).args(Args::Processes).words(ALL),
    row("tail", "tail a process log",
        "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr",
        |c, a| c.do_tail(a)).args(Args::Processes).words(&["-f", "stdout", "stderr"]),
    row("token", "manage bearer tokens (create, list, revoke)",
        super::token::HELP,
        |c, a| c.do_token(a)).listing(Listing::Extra).words(&["create", "list", "revoke", "--role"]),
    row("top", "live CPU/memory view of the processes",
        "top\t\t\tLive view of every process's CPU %, memory, descriptors, threads and\n\t\t\trestarts, refreshed every 2 s (keys: q quit, c sort by CPU,\n\t\t\tm sort by memory, n sort by name)\ntop -d <seconds>\tRefresh every <seconds>\ntop -n <count>\t\tPrint <count> snapshots and exit (one when stdout is not a terminal)\ntop --sort cpu|mem|name\tInitial order\ntop <name> [...]\tOnly these processes or groups\n(supervisor-rs only: needs supervisor_rs.getAllProcessStats)",
        |c, a| c.do_top(a)).listing(Listing::Extra).args(Args::Processes),
    row("update", "reload config and add/remove as necessary",
        "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate all\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate <gname> [...]\tUpdate specific groups",
        |c, a| c.do_update(a)).args(Args::Groups),
    row("version", "show the remote supervisord version",
        "version\t\t\tShow the version of the remote supervisord process",
        |c, a| c.do_version(a)),
];

/// `quit`, `exit`, `EOF`: an empty line, then the shell stops (`ends_shell`).
fn quit(ctl: &mut Controller, _arg: &str) -> Result<(), CtlError> {
    ctl.output("");
    Ok(())
}

/// The command that `word` runs (a name or an alias).
pub fn find(word: &str) -> Option<&'static Command> {
    TABLE.iter().find(|c| c.answers_to(word))
}

/// The `help <topic>` text of `topic` (a command name; aliases have none).
pub fn help_text(topic: &str) -> Option<&'static str> {
    TABLE.iter().find(|c| c.name == topic).map(|c| c.help)
}

/// The names of the commands listed as `listing`, in table order.
pub fn names(listing: Listing) -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|c| c.listing == listing)
        .map(|c| c.name)
        .collect()
}

/// The command names completion offers, in table order.
pub fn completed_names() -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|c| c.completed())
        .map(|c| c.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_names_and_aliases() {
        let mut words: Vec<&str> = TABLE.iter().map(|c| c.name).collect();
        assert!(
            words.windows(2).all(|w| w[0] < w[1]),
            "TABLE is sorted by name"
        );
        words.extend(TABLE.iter().flat_map(|c| c.aliases.iter().copied()));
        let mut unique = words.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), words.len(), "a word names one command");
        for c in TABLE {
            // onecmd splits the command word at the first character outside [A-Za-z0-9_]
            for w in std::iter::once(&c.name).chain(c.aliases) {
                assert!(
                    !w.is_empty() && w.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                );
            }
        }
    }

    #[test]
    fn every_command_is_found_and_has_help() {
        for c in TABLE {
            assert!(std::ptr::eq(find(c.name).unwrap(), c));
            assert_eq!(help_text(c.name), Some(c.help));
            assert!(
                c.help.starts_with(c.name),
                "help of {} names it first",
                c.name
            );
            assert!(!c.summary.is_empty() && !c.summary.contains('\''));
            for a in c.aliases {
                assert!(std::ptr::eq(find(a).unwrap(), c));
                assert_eq!(help_text(a), None, "aliases have no help of their own");
            }
        }
        assert!(find("bogus").is_none());
        assert!(find("").is_none());
    }

    /// The reference's command set and help listing, as the lists kept by hand had them.
    #[test]
    fn reference_listing() {
        assert_eq!(
            names(Listing::Reference),
            [
                "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload",
                "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop",
                "tail", "update", "version"
            ]
        );
        assert_eq!(
            names(Listing::Extra),
            ["completions", "rotate", "token", "top"]
        );
        assert_eq!(names(Listing::CompletedOnly), ["help"]);
        let ends: Vec<&str> = TABLE
            .iter()
            .filter(|c| c.ends_shell)
            .map(|c| c.name)
            .collect();
        assert_eq!(ends, ["exit", "quit"]);
        assert!(find("EOF").unwrap().ends_shell);
        // what the reference's shell completes after each command
        let of = |a: Args| -> Vec<&str> {
            TABLE
                .iter()
                .filter(|c| c.args == a && c.listing != Listing::Extra)
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(of(Args::Commands), ["help"]);
        assert_eq!(of(Args::Groups), ["add", "remove", "update"]);
        assert_eq!(
            of(Args::Processes),
            ["clear", "fg", "pid", "restart", "signal", "start", "status", "stop", "tail"]
        );
        // `help <command>` completes command names only: no literal words there
        assert!(TABLE
            .iter()
            .all(|c| c.args != Args::Commands || c.words.is_empty()));
    }
}
