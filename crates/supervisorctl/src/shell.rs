//! The interactive shell: `status` on entry, then one command per line until EOF,
//! `quit`/`exit` or Ctrl-C at the prompt.
//!
//! On a terminal it uses rustyline (line editing, history file, tab completion of
//! commands and of process/group names fetched from the server). When stdin is not a
//! terminal it prompts on stdout and reads plain lines, as the reference does.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
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

type ShellEditor = Editor<ShellHelper, DefaultHistory>;

/// Lines of one editor result still to run (a bracketed paste can hold several), shared
/// by the shell loop and the questions commands ask.
type Pending = Rc<RefCell<VecDeque<String>>>;

/// Splits what the line editor returned into the command lines it holds: a bracketed
/// paste arrives as one result with embedded newlines (`\r\n`, `\n` or `\r`).
pub fn split_lines(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(str::to_string)
        .collect()
}

/// Questions asked by commands on a terminal (`y/N?`, `Username:`): answered from the
/// rest of a paste first, then read through the same line editor as commands, so that
/// keys typed ahead and buffered by the editor are not lost.
struct EditorInput {
    editor: Rc<RefCell<ShellEditor>>,
    pending: Pending,
    fallback: StdInput,
}

impl EditorInput {
    fn take_pending(&self, prompt: &str, echo: bool) -> Option<String> {
        let line = self.pending.borrow_mut().pop_front()?;
        let mut out = std::io::stdout();
        let shown = if echo { line.as_str() } else { "" };
        let _ = writeln!(out, "{prompt}{shown}");
        let _ = out.flush();
        Some(line)
    }
}

impl Input for EditorInput {
    fn raw_input(&mut self, prompt: &str) -> Option<String> {
        if let Some(line) = self.take_pending(prompt, true) {
            return Some(line);
        }
        if prompt.is_empty() {
            // `fg`: its output threads write while it reads, which needs the terminal
            // in its normal mode
            return self.fallback.raw_input(prompt);
        }
        let Ok(mut editor) = self.editor.try_borrow_mut() else {
            return self.fallback.raw_input(prompt);
        };
        match editor.readline(prompt) {
            Ok(text) => {
                let mut lines = split_lines(&text).into_iter();
                let first = lines.next().unwrap_or_default();
                self.pending
                    .borrow_mut()
                    .extend(lines.filter(|l| !l.trim().is_empty()));
                Some(first)
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C while a command runs leaves the shell, as the reference does
                // (the history was saved before the command ran)
                println!();
                std::process::exit(0);
            }
            Err(_) => None,
        }
    }

    fn getpass(&mut self, prompt: &str) -> Option<String> {
        if let Some(line) = self.take_pending(prompt, false) {
            return Some(line);
        }
        self.fallback.getpass(prompt)
    }

    fn login_name(&mut self, prompt: &str) -> Option<String> {
        if let Some(line) = self.take_pending(prompt, true) {
            return Some(line);
        }
        // byte by byte from the terminal, not through the editor (which reads ahead): a
        // password typed or pasted right after the name stays for the no-echo read
        self.fallback.raw_input(prompt)
    }
}

/// Runs the shell until the user leaves. The exit status is always 0 (as the reference).
pub fn run(ctl: Controller) {
    let prompt = format!("{}> ", ctl.settings.prompt);
    let history_file = ctl.settings.history_file.clone();
    let ctl = Rc::new(RefCell::new(ctl));
    crate::signals::exit_on_sigint();
    ctl.borrow_mut().onecmd("status");
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !tty {
        // one byte at a time from fd 0: lines typed ahead stay in the pipe for the next
        // read, whoever reads it (a command's question or the next prompt)
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
    let editor: ShellEditor = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot start the line editor: {e}");
            return;
        }
    };
    let editor = Rc::new(RefCell::new(editor));
    let pending: Pending = Rc::new(RefCell::new(VecDeque::new()));
    {
        let mut ed = editor.borrow_mut();
        ed.set_helper(Some(ShellHelper { ctl: ctl.clone() }));
        if let Some(h) = &history_file {
            let _ = ed.load_history(h);
        }
    }
    ctl.borrow_mut().set_input(Box::new(EditorInput {
        editor: editor.clone(),
        pending: pending.clone(),
        fallback: StdInput,
    }));
    loop {
        let queued = pending.borrow_mut().pop_front();
        let line = match queued {
            Some(line) => {
                // the next line of a paste: show it after the prompt, as if typed
                let mut out = std::io::stdout();
                let _ = writeln!(out, "{prompt}{line}");
                let _ = out.flush();
                line
            }
            None => {
                let r = editor.borrow_mut().readline(&prompt);
                match r {
                    Ok(text) => {
                        let mut lines = split_lines(&text).into_iter();
                        let first = lines.next().unwrap_or_default();
                        pending
                            .borrow_mut()
                            .extend(lines.filter(|l| !l.trim().is_empty()));
                        first
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
        };
        if !line.trim().is_empty() {
            let mut ed = editor.borrow_mut();
            let _ = ed.add_history_entry(line.as_str());
            // saved at once: Ctrl-C during a command exits without unwinding
            if let Some(h) = &history_file {
                let _ = ed.save_history(h);
            }
        }
        if ctl.borrow_mut().onecmd(&line) {
            break;
        }
    }
    if let Some(h) = &history_file {
        let _ = editor.borrow_mut().save_history(h);
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

    #[test]
    fn pasted_text_splits_into_lines() {
        assert_eq!(split_lines("status"), vec!["status"]);
        assert_eq!(split_lines("version\npid x"), vec!["version", "pid x"]);
        assert_eq!(split_lines("a\r\nb\rc\n"), vec!["a", "b", "c", ""]);
    }
}
