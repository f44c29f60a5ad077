//! Our commands beyond the reference's: `completions bash|zsh|fish`.

use std::io::Write;

use super::{exit, Controller};

impl Controller {
    /// `completions <shell>`: the completion script, or exit status 2 for another shell.
    pub(super) fn do_completions(&mut self, arg: &str) {
        match crate::completions::script(arg.trim()) {
            Some(text) => {
                let _ = self.out.write_all(text.as_bytes());
                let _ = self.out.flush();
            }
            None => {
                self.output("Error: completions requires one of: bash, zsh, fish");
                self.exitstatus = exit::INVALID_ARGS;
            }
        }
    }
}
