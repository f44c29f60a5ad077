//! The interactive shell: `status` on entry, then one command per line until EOF,
//! `quit`/`exit` or Ctrl-C at the prompt.
//!
//! On a terminal it uses rustyline (line editing, history file, tab completion of
//! commands and of process/group names fetched from the server). When stdin is not a
//! terminal it prompts on stdout and reads plain lines, as the reference does.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::commands::Controller;
use crate::commands::Input;
use crate::input::StdInput;

/// Characters that end a word for completion: readline's defaults minus `:`, `*`, `-`
/// (so `group:name`, `group:*` and dashed names complete as one word).
const DELIMS: &str = " \t\n`~!@#$%^&()=+[{]}\\|;'\",<>/?";

/// Start of the word ending at `pos`.
pub fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .find(|(_, c)| DELIMS.contains(*c))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0)
}

struct ShellHelper {
    ctl: Rc<RefCell<Controller>>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = word_start(line, pos);
        let text = &line[start..pos];
        let matches = match self.ctl.try_borrow_mut() {
            Ok(mut ctl) => ctl.complete(line, text),
            Err(_) => Vec::new(),
        };
        Ok((
            start,
            matches
                .into_iter()
                .map(|m| Pair {
                    display: m.trim_end().to_string(),
                    replacement: m,
                })
                .collect(),
        ))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

/// Runs the shell until the user leaves. The exit status is always 0 (as the reference).
pub fn run(ctl: Controller) {
    let prompt = format!("{}> ", ctl.settings.prompt);
    let history_file = ctl.settings.history_file.clone();
    let ctl = Rc::new(RefCell::new(ctl));
    crate::signals::exit_on_sigint();
    ctl.borrow_mut().onecmd("status");
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !tty {
        let mut input = StdInput;
        loop {
            match input.raw_input(&prompt) {
                Some(line) => {
                    if ctl.borrow_mut().onecmd(&line) {
                        break;
                    }
                }
                None => {
                    ctl.borrow_mut().onecmd("EOF");
                    break;
                }
            }
        }
        return;
    }
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<ShellHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot start the line editor: {e}");
            return;
        }
    };
    editor.set_helper(Some(ShellHelper { ctl: ctl.clone() }));
    if let Some(h) = &history_file {
        let _ = editor.load_history(h);
    }
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    // saved at once: Ctrl-C during a command exits without unwinding
                    if let Some(h) = &history_file {
                        let _ = editor.save_history(h);
                    }
                }
                if ctl.borrow_mut().onecmd(&line) {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                ctl.borrow_mut().output("");
                break;
            }
            Err(ReadlineError::Eof) => {
                ctl.borrow_mut().onecmd("EOF");
                break;
            }
            Err(e) => {
                eprintln!("{e}");
                break;
            }
        }
    }
    if let Some(h) = &history_file {
        let _ = editor.save_history(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(word_start("start grp:g", 11), 6);
        assert_eq!(word_start("sta", 3), 0);
        assert_eq!(word_start("tail -f my-prog", 15), 8);
        assert_eq!(word_start("status ", 7), 7);
    }
}
