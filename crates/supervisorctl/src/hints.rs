//! Plain-words reports of why the client could not talk to the server.
//!
//! The reference prints Python exception reprs for most connection failures
//! (`error: <class 'PermissionError'>, [Errno 13] Permission denied: file: ... line: ...`).
//! We keep the stdout lines scripts may read (`<url> no such file`, `<url> refused
//! connection`, `Server requires authentication`), use the same style of line where the
//! reference only had a repr, and explain on stderr what to check, in lines starting with
//! `hint: ` (never parsed by anything; see docs/supervisorctl.md).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::transport::Endpoint;

/// Why a connection failed, as far as the client can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnProblem {
    /// The unix socket file does not exist (`ENOENT`).
    NoSuchFile,
    /// Nothing accepts connections: a left-over socket file or a closed TCP port.
    Refused,
    /// The socket file exists but this user may not connect to it (`EACCES`).
    PermissionDenied,
    /// An `https://` connection failed in TLS (see [`crate::tls::TlsProblem`]).
    Tls(crate::tls::TlsProblem),
}

impl ConnProblem {
    /// The problem an I/O error stands for, if it is one of the connection problems.
    pub fn of(e: &io::Error) -> Option<ConnProblem> {
        if let Some(t) = crate::tls::TlsProblem::of(e) {
            return Some(ConnProblem::Tls(t));
        }
        match e.raw_os_error() {
            Some(libc::ENOENT) => Some(ConnProblem::NoSuchFile),
            Some(libc::ECONNREFUSED) => Some(ConnProblem::Refused),
            Some(libc::EACCES) | Some(libc::EPERM) => Some(ConnProblem::PermissionDenied),
            _ => None,
        }
    }

    /// The stdout line: the reference's own words for the first two, the same shape for
    /// the third (where the reference prints a Python exception).
    pub fn line(&self, serverurl: &str) -> String {
        match self {
            ConnProblem::NoSuchFile => format!("{serverurl} no such file"),
            ConnProblem::Refused => format!("{serverurl} refused connection"),
            ConnProblem::PermissionDenied => format!("{serverurl} permission denied"),
            ConnProblem::Tls(t) => t.line(serverurl),
        }
    }

    /// What to check, for stderr (one line, starting with `hint: `).
    pub fn hint(&self, serverurl: &str, configfile: Option<&Path>) -> String {
        let from = match configfile {
            Some(c) => format!(
                " (the URL is -s, or serverurl= in [supervisorctl] of {})",
                c.display()
            ),
            None => " (the URL is -s, or serverurl= in [supervisorctl])".to_string(),
        };
        let endpoint = Endpoint::from_serverurl(serverurl).ok();
        match (self, endpoint) {
            (ConnProblem::NoSuchFile, Some(Endpoint::Unix(path))) => {
                match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(dir) if !dir.is_dir() => format!(
                        "hint: the directory {} does not exist, so no supervisord listens on {}; \
                         check [unix_http_server] file= in supervisord's config and the URL here{from}",
                        dir.display(),
                        path.display()
                    ),
                    _ => format!(
                        "hint: there is no socket {}: supervisord is not running, or it listens \
                         elsewhere; compare [unix_http_server] file= in its config with the URL here{from}",
                        path.display()
                    ),
                }
            }
            (ConnProblem::Refused, Some(Endpoint::Unix(path))) => format!(
                "hint: nothing listens on {}: supervisord is not running (the socket file was \
                 left behind); start it, or check the URL{from}",
                path.display()
            ),
            (ConnProblem::Tls(t), Some(Endpoint::Https { host, .. })) => t.hint(&host),
            (ConnProblem::Tls(t), _) => t.hint(serverurl),
            (
                ConnProblem::Refused,
                Some(Endpoint::Tcp { host, port } | Endpoint::Https { host, port }),
            ) => format!(
                "hint: nothing listens on {host}:{port}: supervisord is not running, or its \
                 [inet_http_server] port= is another one{from}"
            ),
            (ConnProblem::PermissionDenied, Some(Endpoint::Unix(path))) => {
                // SAFETY: getuid cannot fail and has no preconditions.
                let uid = unsafe { libc::getuid() };
                let owner = match std::fs::metadata(&path) {
                    Ok(m) => format!(
                        " (mode {:04o}, owner uid {}, group gid {})",
                        m.mode() & 0o7777,
                        m.uid(),
                        m.gid()
                    ),
                    Err(_) => String::new(),
                };
                format!(
                    "hint: this user (uid {uid}) may not connect to {}{owner}: run supervisorctl as \
                     its owner, or set chmod=/chown= in supervisord's [unix_http_server]",
                    path.display()
                )
            }
            (_, _) => format!("hint: cannot connect to {serverurl}{from}"),
        }
    }
}

/// The stderr hint after a 401: which credentials were sent and where to set them.
pub fn unauthorized_hint(username: Option<&str>, password: Option<&str>) -> String {
    match (username, password) {
        (_, None) => "hint: the server wants a user name and password: give them with -u USER -p \
                      PASS or username=/password= in [supervisorctl]"
            .to_string(),
        (Some(u), Some(_)) => format!(
            "hint: the server rejected user {u:?} with the password given: check -u/-p or \
             username=/password= in [supervisorctl] against supervisord's [unix_http_server] \
             or [inet_http_server]"
        ),
        (None, Some(_)) => "hint: a password was given without a user name: add -u USER or \
                            username= in [supervisorctl]"
            .to_string(),
    }
}

/// The stderr hint when a name given as a process is the name of a group.
pub fn group_hint(name: &str) -> String {
    format!("hint: {name} is a group: did you mean '{name}:*'?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_from_errno() {
        let of = |n| ConnProblem::of(&io::Error::from_raw_os_error(n));
        assert_eq!(of(libc::ENOENT), Some(ConnProblem::NoSuchFile));
        assert_eq!(of(libc::ECONNREFUSED), Some(ConnProblem::Refused));
        assert_eq!(of(libc::EACCES), Some(ConnProblem::PermissionDenied));
        assert_eq!(of(libc::ECONNRESET), None);
        assert_eq!(ConnProblem::of(&io::Error::other("x")), None);
    }

    #[test]
    fn lines_keep_the_reference_words() {
        let url = "unix:///run/s.sock";
        assert_eq!(
            ConnProblem::NoSuchFile.line(url),
            "unix:///run/s.sock no such file"
        );
        assert_eq!(
            ConnProblem::Refused.line("http://127.0.0.1:9001"),
            "http://127.0.0.1:9001 refused connection"
        );
        assert_eq!(
            ConnProblem::PermissionDenied.line(url),
            "unix:///run/s.sock permission denied"
        );
    }

    #[test]
    fn hints_name_the_path_and_what_to_check() {
        let dir = tempfile::tempdir().unwrap();
        let missing_dir = format!("unix://{}/nodir/s.sock", dir.path().display());
        let h = ConnProblem::NoSuchFile.hint(&missing_dir, None);
        assert!(
            h.starts_with(&format!(
                "hint: the directory {}/nodir does not exist",
                dir.path().display()
            )),
            "{h}"
        );
        let missing_sock = format!("unix://{}/s.sock", dir.path().display());
        let h = ConnProblem::NoSuchFile.hint(&missing_sock, Some(Path::new("/etc/s.conf")));
        assert!(h.starts_with("hint: there is no socket "), "{h}");
        assert!(
            h.ends_with("(the URL is -s, or serverurl= in [supervisorctl] of /etc/s.conf)"),
            "{h}"
        );
        let h = ConnProblem::Refused.hint("http://127.0.0.1:1", None);
        assert!(
            h.starts_with("hint: nothing listens on 127.0.0.1:1:"),
            "{h}"
        );
        let sock = dir.path().join("x.sock");
        std::fs::write(&sock, b"").unwrap();
        std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        let h = ConnProblem::PermissionDenied.hint(&format!("unix://{}", sock.display()), None);
        assert!(h.contains("(mode 0640, owner uid"), "{h}");
        assert!(h.contains("chmod=/chown="), "{h}");
    }

    #[test]
    fn credential_hints() {
        assert!(unauthorized_hint(None, None).contains("-u USER -p PASS"));
        assert!(unauthorized_hint(Some("bob"), Some("x")).contains("rejected user \"bob\""));
        assert!(unauthorized_hint(None, Some("x")).contains("without a user name"));
        assert_eq!(
            group_hint("worker"),
            "hint: worker is a group: did you mean 'worker:*'?"
        );
    }
}
