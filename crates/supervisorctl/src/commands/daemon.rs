//! The daemon as a whole: `shutdown`, `reload`, `version`, and `open` (another server).

use supervisor_protocol::FaultCode;

use super::{exit, Controller};
use crate::error::CtlError;
use crate::rpc;

/// The scheme `urllib.parse.urlparse` would find (lower-cased), or "".
pub fn url_scheme(url: &str) -> String {
    if let Some(colon) = url.find(':') {
        let scheme = &url[..colon];
        if scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return scheme.to_ascii_lowercase();
        }
    }
    String::new()
}

/// What the reference raises when a `y/N?` question meets the end of input.
fn eof_error() -> CtlError {
    CtlError::Other {
        class: "EOFError".into(),
        message: "EOF when reading a line".into(),
    }
}

impl Controller {
    // ---------------------------------------------------------------- shutdown / reload

    fn confirm(&mut self, question: &str) -> Result<bool, CtlError> {
        if !self.settings.interactive {
            return Ok(true);
        }
        match self.input.raw_input(question) {
            Some(a) => Ok(a.to_lowercase().starts_with('y')),
            None => Err(eof_error()),
        }
    }

    pub(super) fn do_shutdown(&mut self, arg: &str) -> Result<(), CtlError> {
        if !arg.is_empty() {
            self.output("Error: shutdown accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("shutdown");
            return Ok(());
        }
        if !self.confirm("Really shut the remote supervisord process down y/N? ")? {
            return Ok(());
        }
        match self.call("supervisor.shutdown", &[]) {
            Ok(_) => self.output("Shut down"),
            Err(CtlError::Fault(f)) => {
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                } else {
                    self.exitstatus = exit::GENERIC;
                    return Err(CtlError::Fault(f));
                }
            }
            Err(CtlError::Io(e)) => {
                self.exitstatus = exit::GENERIC;
                let url = self.settings.serverurl.clone();
                match e.raw_os_error() {
                    Some(libc::ECONNREFUSED) => self.output(&format!(
                        "ERROR: {url} refused connection (already shut down?)"
                    )),
                    Some(libc::ENOENT) => {
                        self.output(&format!("ERROR: {url} no such file (already shut down?)"))
                    }
                    _ => return Err(CtlError::Io(e)),
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    pub(super) fn do_reload(&mut self, arg: &str) -> Result<(), CtlError> {
        if !arg.is_empty() {
            self.output("Error: reload accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("reload");
            return Ok(());
        }
        if !self.confirm("Really restart the remote supervisord process y/N? ")? {
            return Ok(());
        }
        match self.call("supervisor.restart", &[]) {
            Ok(_) => self.output("Restarted supervisord"),
            Err(CtlError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                } else {
                    return Err(CtlError::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    // ---------------------------------------------------------------- open / version / fg

    pub(super) fn do_open(&mut self, arg: &str) -> Result<(), CtlError> {
        let url = arg.trim();
        let scheme = url_scheme(url);
        // https:// is ours (see crate::tls); the refusal keeps the reference's words.
        if scheme != "unix" && scheme != "http" && scheme != "https" {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.settings.serverurl = url.to_string();
        self.reset_client();
        let old = self.exitstatus;
        self.do_status("")?;
        self.exitstatus = old;
        Ok(())
    }

    pub(super) fn do_version(&mut self, arg: &str) -> Result<(), CtlError> {
        if !arg.is_empty() {
            self.output("Error: version accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("version");
            return Ok(());
        }
        if !self.upcheck()? {
            return Ok(());
        }
        let v = self.call("supervisor.getSupervisorVersion", &[])?;
        self.output(&rpc::value_to_string(&v));
        Ok(())
    }
}
