//! Findings about a config that loads but is probably not what its author meant: unknown
//! keys and sections (with "did you mean" suggestions from [`crate::keys`]), repeated
//! sections and keys, `[include]` patterns without a match, a header missing its `]`.
//!
//! The reference accepts all of these silently and so does the loader: a finding never
//! stops a config from loading. `supervisord --check-config` reports them (and adds its
//! own checks of paths, commands and users); a normal start logs the ones marked
//! [`Diagnostic::at_start`] as WARN lines in the main log.

use crate::ini::{Ini, Suspect};
use crate::keys::{self, SectionKind};
use crate::pyfmt::py_repr;
use std::path::{Path, PathBuf};

/// How bad a finding is. `--check-config` exits 1 when there are only warnings and 2
/// when there is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Probably a mistake, but the daemon can run.
    Warning,
    /// The config cannot work as written.
    Error,
}

impl Severity {
    /// `warning` / `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding, located by file, line, section and key where they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// A stable identifier for tools: `unknown-key`, `unknown-section`,
    /// `duplicate-section`, `duplicate-key`, `include-no-match`, `include-unreadable`,
    /// `nested-include`,
    /// `header-missing-bracket`, `indented-header`, or one of the checks of
    /// `--check-config` (`config-error`, `command`, `directory`, `log-directory`,
    /// `socket-directory`, `pidfile`).
    pub code: &'static str,
    /// What is wrong, in words (names the section and key; no file/line).
    pub message: String,
    /// The file the finding is in.
    pub file: Option<PathBuf>,
    /// The 1-based line.
    pub line: Option<usize>,
    /// The section.
    pub section: Option<String>,
    /// The key.
    pub key: Option<String>,
    /// A likely intended spelling (a key, or a section name for `unknown-section`).
    pub suggestion: Option<String>,
    /// True when a normal start logs it (at WARN) in the main log.
    pub at_start: bool,
}

impl Diagnostic {
    /// `did you mean '<x>'?` for the suggestion, if any.
    fn hint(&self) -> Option<String> {
        self.suggestion.as_ref().map(|s| {
            if self.code == "unknown-section" {
                format!("did you mean '[{s}]'?")
            } else {
                format!("did you mean '{s}'?")
            }
        })
    }

    /// The main-log text: `unknown key 'autorestrat' in section 'program:web' (file:
    /// '/etc/supervisord.conf', line 12); did you mean 'autorestart'?`.
    pub fn log_text(&self) -> String {
        let mut s = self.message.clone();
        match (&self.file, self.line) {
            (Some(f), Some(l)) => s.push_str(&format!(
                " (file: {}, line {l})",
                py_repr(&f.to_string_lossy())
            )),
            (Some(f), None) => s.push_str(&format!(" (file: {})", py_repr(&f.to_string_lossy()))),
            _ => {}
        }
        if let Some(h) = self.hint() {
            s.push_str("; ");
            s.push_str(&h);
        }
        s
    }

    /// The `--check-config` line: `<file>:<line>: warning: <message>; did you mean ...`.
    pub fn check_text(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.file {
            s.push_str(&f.to_string_lossy());
            if let Some(l) = self.line {
                s.push_str(&format!(":{l}"));
            }
            s.push_str(": ");
        }
        s.push_str(self.severity.as_str());
        s.push_str(": ");
        s.push_str(&self.message);
        if let Some(h) = self.hint() {
            s.push_str("; ");
            s.push_str(&h);
        }
        s
    }

    /// The `--check-config --json` object of this finding.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "severity": self.severity.as_str(),
            "code": self.code,
            "message": self.message,
            "file": self.file.as_ref().map(|f| f.to_string_lossy().into_owned()),
            "line": self.line,
            "section": self.section,
            "key": self.key,
            "suggestion": self.suggestion,
        })
    }
}

/// Builds a finding (`at_start` false, no suggestion).
pub fn diagnostic(
    severity: Severity,
    code: &'static str,
    message: String,
    at: Option<(&str, usize)>,
    section: Option<&str>,
    key: Option<&str>,
) -> Diagnostic {
    Diagnostic {
        severity,
        code,
        message,
        file: at.map(|(f, _)| PathBuf::from(f)),
        line: at.map(|(_, l)| l),
        section: section.map(String::from),
        key: key.map(String::from),
        suggestion: None,
        at_start: false,
    }
}

fn section_label(section: &Option<String>) -> String {
    py_repr(section.as_deref().unwrap_or("DEFAULT"))
}

/// The findings about what was read into `ini`: unknown sections and keys, repeats,
/// suspicious lines. `files` is the reading order of the files (for sorting).
pub fn from_ini(ini: &Ini, files: &[String]) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut bracket_keys: std::collections::HashSet<(Option<String>, String)> = Default::default();
    for s in ini.suspects() {
        match s {
            Suspect::MissingBracket {
                at,
                text,
                section,
                key,
            } => {
                bracket_keys.insert((section.clone(), key.clone()));
                let mut d = diagnostic(
                    Severity::Error,
                    "header-missing-bracket",
                    format!(
                        "{} looks like a section header without its closing ']'; it is read as key {} of section {}",
                        py_repr(text),
                        py_repr(key),
                        section_label(section)
                    ),
                    Some((&at.file, at.line)),
                    Some(section.as_deref().unwrap_or("DEFAULT")),
                    Some(key),
                );
                d.at_start = true;
                out.push(d);
            }
            Suspect::IndentedHeader {
                at,
                text,
                section,
                key,
            } => {
                let mut d = diagnostic(
                    Severity::Warning,
                    "indented-header",
                    format!(
                        "{} is indented, so it is read as a continuation of the value of key {} in section {}, not as a section header",
                        py_repr(text),
                        py_repr(key),
                        section_label(section)
                    ),
                    Some((&at.file, at.line)),
                    Some(section.as_deref().unwrap_or("DEFAULT")),
                    Some(key),
                );
                d.at_start = true;
                out.push(d);
            }
            Suspect::DuplicateKey {
                section,
                key,
                first,
                again,
            } => {
                // an included file's [include] is reported as a whole (nested-include)
                let nested = section.as_deref() == Some("include")
                    && files.first().is_some_and(|main| *main != *again.file);
                if nested {
                    continue;
                }
                let mut d = diagnostic(
                    Severity::Warning,
                    "duplicate-key",
                    format!(
                        "key {} is set twice in section {} (first in {}, line {}); the later value is used",
                        py_repr(key),
                        section_label(section),
                        py_repr(&first.file),
                        first.line
                    ),
                    Some((&again.file, again.line)),
                    Some(section.as_deref().unwrap_or("DEFAULT")),
                    Some(key),
                );
                d.at_start = true;
                out.push(d);
            }
        }
    }

    // repeated headers
    let mut seen: std::collections::HashMap<&str, &crate::ini::At> = Default::default();
    for h in ini.headers() {
        if h.name == "include" && files.first().is_some_and(|main| *main != *h.at.file) {
            let mut d = diagnostic(
                Severity::Warning,
                "nested-include",
                "an [include] section in an included file is ignored: only the main file's [include] is read".to_string(),
                Some((&h.at.file, h.at.line)),
                Some("include"),
                None,
            );
            d.at_start = true;
            out.push(d);
            continue;
        }
        match seen.get(h.name.as_str()) {
            Some(first) => {
                let mut d = diagnostic(
                    Severity::Warning,
                    "duplicate-section",
                    format!(
                        "section {} is defined twice (first in {}, line {}); the two are merged and a key set in both keeps the later value",
                        py_repr(&h.name),
                        py_repr(&first.file),
                        first.line
                    ),
                    Some((&h.at.file, h.at.line)),
                    Some(&h.name),
                    None,
                );
                d.at_start = true;
                out.push(d);
            }
            None => {
                seen.insert(&h.name, &h.at);
            }
        }
    }

    // unknown sections and keys
    let header_of = |name: &str| ini.headers().iter().find(|h| h.name == name);
    let mut found: Vec<Diagnostic> = Vec::new();
    let mut check_keys = |section: Option<&str>,
                          kind: SectionKind,
                          entries: &crate::ini::Entries| {
        for key in entries.keys() {
            if kind.knows(key) {
                continue;
            }
            let owned = (section.map(String::from), key.to_string());
            if bracket_keys.contains(&owned) {
                continue;
            }
            let Some(e) = entries.get(key) else { continue };
            let label = py_repr(section.unwrap_or("DEFAULT"));
            let mut message = format!("unknown key {} in section {label}", py_repr(key));
            let suggestion = keys::suggest_key(kind, key);
            if suggestion.is_none() {
                if let Some(other) = keys::kind_knowing(kind, key) {
                    message.push_str(&format!(" (it is read in [{}] sections)", other.display()));
                }
            }
            let mut d = diagnostic(
                Severity::Warning,
                "unknown-key",
                message,
                Some((&e.file, e.line)),
                Some(section.unwrap_or("DEFAULT")),
                Some(key),
            );
            d.suggestion = suggestion.map(String::from);
            d.at_start = true;
            found.push(d);
        }
    };
    check_keys(None, SectionKind::Default, &ini.defaults);
    for name in ini.section_names() {
        let Some(section) = ini.section(name) else {
            continue;
        };
        match SectionKind::of(name) {
            Some(kind) => check_keys(Some(name), kind, &section.entries),
            None => {
                let at = header_of(name);
                let mut d = diagnostic(
                    Severity::Warning,
                    "unknown-section",
                    format!("unknown section {}: supervisord ignores it", py_repr(name)),
                    at.map(|h| (h.at.file.as_ref(), h.at.line)),
                    Some(name),
                    None,
                );
                d.suggestion = keys::suggest_section(name);
                d.at_start = true;
                out.push(d);
            }
        }
    }
    out.extend(found);
    sort(&mut out, files);
    out
}

/// Sorts findings by file (in reading order), then line; findings without a place last.
pub fn sort(diags: &mut [Diagnostic], files: &[String]) {
    let rank = |d: &Diagnostic| {
        let f = d
            .file
            .as_deref()
            .and_then(|f| files.iter().position(|x| Path::new(x) == f))
            .unwrap_or(usize::MAX);
        (f, d.line.unwrap_or(usize::MAX))
    };
    diags.sort_by_key(rank);
}

/// What `--check-config` concludes from its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No findings: exit 0.
    Valid,
    /// Only warnings: exit 1.
    ValidWithWarnings,
    /// At least one error: exit 2.
    Invalid,
}

impl Verdict {
    /// The verdict of a set of findings.
    pub fn of(diags: &[Diagnostic]) -> Verdict {
        if diags.iter().any(|d| d.severity == Severity::Error) {
            Verdict::Invalid
        } else if diags.is_empty() {
            Verdict::Valid
        } else {
            Verdict::ValidWithWarnings
        }
    }

    /// The exit status: 0, 1 or 2.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Valid => 0,
            Verdict::ValidWithWarnings => 1,
            Verdict::Invalid => 2,
        }
    }

    /// `valid`, `valid-with-warnings`, `invalid` (the JSON `status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::ValidWithWarnings => "valid-with-warnings",
            Verdict::Invalid => "invalid",
        }
    }
}

/// The `--check-config --json` document:
///
/// ```json
/// {"version": "supervisor-rs 0.1.0 (compatible with Supervisor 4.3.0)",
///  "config": "/etc/supervisord.conf", "status": "valid-with-warnings", "exit_code": 1,
///  "errors": 0, "warnings": 1,
///  "findings": [{"severity": "warning", "code": "unknown-key", "message": "...",
///                "file": "...", "line": 12, "section": "program:web",
///                "key": "autorestrat", "suggestion": "autorestart"}],
///  "groups": [{"name": "web", "kind": "program", "priority": 999,
///              "processes": [{"name": "web", "namespec": "web", "priority": 999,
///                             "autostart": true, "command": "/usr/bin/web"}]}]}
/// ```
///
/// `groups` is `null` when the config could not be loaded, `config` when no config file
/// was given or found.
pub fn report_json(
    version: &str,
    config_path: Option<&Path>,
    config: Option<&crate::Config>,
    diags: &[Diagnostic],
) -> String {
    use crate::GroupKind;
    let verdict = Verdict::of(diags);
    let count = |sev| diags.iter().filter(|d| d.severity == sev).count();
    let groups = config.map(|c| {
        c.groups
            .iter()
            .map(|g| {
                let kind = match &g.kind {
                    GroupKind::Program => "program",
                    GroupKind::Heterogeneous => "group",
                    GroupKind::FcgiProgram(_) => "fcgi-program",
                    GroupKind::EventListenerPool(_) => "eventlistener",
                };
                let processes: Vec<serde_json::Value> = g
                    .processes
                    .iter()
                    .map(|p| {
                        let namespec = if matches!(g.kind, GroupKind::Program) && p.name == g.name {
                            p.name.clone()
                        } else {
                            format!("{}:{}", g.name, p.name)
                        };
                        let depends_on: Vec<String> =
                            p.depends_on.iter().map(|d| d.to_string()).collect();
                        // ready= (supervisor-rs): null without a check
                        let ready = p.ready.as_ref().map(|r| {
                            serde_json::json!({
                                "check": r.check.to_string(), "timeout": r.timeout,
                                "interval": r.interval,
                            })
                        });
                        // healthcheck= (supervisor-rs): null without a check
                        let healthcheck = p.health.as_ref().map(|h| {
                            serde_json::json!({
                                "check": h.check.to_string(), "interval": h.interval,
                                "timeout": h.timeout, "retries": h.retries,
                                "start_delay": h.start_delay, "action": h.action.as_str(),
                            })
                        });
                        serde_json::json!({
                            "name": p.name, "namespec": namespec, "priority": p.priority,
                            "autostart": p.autostart, "command": p.command,
                            "depends_on": depends_on, "ready": ready,
                            "healthcheck": healthcheck,
                        })
                    })
                    .collect();
                serde_json::json!({
                    "name": g.name, "kind": kind, "priority": g.priority,
                    "processes": processes,
                })
            })
            .collect::<Vec<_>>()
    });
    let doc = serde_json::json!({
        "version": version,
        "config": config_path.map(|p| p.to_string_lossy().into_owned()),
        "status": verdict.as_str(),
        "exit_code": verdict.exit_code(),
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "findings": diags.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
        "groups": groups,
        // depends_on (supervisor-rs): the namespecs in the order they start
        "start_order": config.map(|c| {
            crate::load::deps::start_order(&c.groups)
                .into_iter()
                .map(|s| s.namespec)
                .collect::<Vec<_>>()
        }),
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diags(text: &str) -> Vec<Diagnostic> {
        let mut ini = Ini::new();
        ini.read_str(text, "/etc/s.conf").unwrap();
        from_ini(&ini, &["/etc/s.conf".to_string()])
    }

    fn texts(text: &str) -> Vec<String> {
        diags(text).iter().map(|d| d.check_text()).collect()
    }

    #[test]
    fn unknown_keys_with_suggestions() {
        let d =
            diags("[supervisord]\n[program:web]\ncommand=x\nautorestrat=true\nstdout_logfle=/x\n");
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].log_text(),
            "unknown key 'autorestrat' in section 'program:web' (file: '/etc/s.conf', line 4); did you mean 'autorestart'?"
        );
        assert_eq!(
            d[1].check_text(),
            "/etc/s.conf:5: warning: unknown key 'stdout_logfle' in section 'program:web'; did you mean 'stdout_logfile'?"
        );
        assert_eq!(
            (d[0].section.as_deref(), d[0].key.as_deref(), d[0].line),
            (Some("program:web"), Some("autorestrat"), Some(4))
        );
        assert_eq!(d[0].suggestion.as_deref(), Some("autorestart"));
        assert!(d
            .iter()
            .all(|d| d.at_start && d.severity == Severity::Warning));
    }

    #[test]
    fn misplaced_key_and_free_form_sections() {
        assert_eq!(
            texts("[program:web]\ncommand=x\nevents=TICK_5\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=x\nretries=1\n[ctlplugin:x]\nsupervisor.ctl_factory=y\n[DEFAULT]\nnosuchkey=1\nsocket=tcp://h:1\n"),
            vec![
                "/etc/s.conf:3: warning: unknown key 'events' in section 'program:web' (it is read in [eventlistener:x] sections)",
                "/etc/s.conf:10: warning: unknown key 'nosuchkey' in section 'DEFAULT'",
            ]
        );
    }

    #[test]
    fn unknown_sections() {
        assert_eq!(
            texts("[supervisord]\n[prgram:web]\ncommand=x\n[mysection]\n[program]\n"),
            vec![
                "/etc/s.conf:2: warning: unknown section 'prgram:web': supervisord ignores it; did you mean '[program:web]'?",
                "/etc/s.conf:4: warning: unknown section 'mysection': supervisord ignores it",
                "/etc/s.conf:5: warning: unknown section 'program': supervisord ignores it; did you mean '[program:NAME]'?",
            ]
        );
    }

    #[test]
    fn duplicates() {
        assert_eq!(
            texts("[program:a]\ncommand=x\n[program:a]\ncommand=y\n"),
            vec![
                "/etc/s.conf:3: warning: section 'program:a' is defined twice (first in '/etc/s.conf', line 1); the two are merged and a key set in both keeps the later value",
                "/etc/s.conf:4: warning: key 'command' is set twice in section 'program:a' (first in '/etc/s.conf', line 2); the later value is used",
            ]
        );
    }

    #[test]
    fn missing_bracket_is_an_error() {
        let d = diags("[supervisord]\n[program:web\ncommand=x\n");
        assert_eq!(
            d.iter().map(|d| d.check_text()).collect::<Vec<_>>(),
            vec![
                "/etc/s.conf:2: error: '[program:web' looks like a section header without its closing ']'; it is read as key '[program' of section 'supervisord'",
                "/etc/s.conf:3: warning: unknown key 'command' in section 'supervisord' (it is read in [program:x] sections)",
            ]
        );
        assert_eq!(Verdict::of(&d), Verdict::Invalid);
        assert_eq!(Verdict::of(&d[1..]).exit_code(), 1);
        assert_eq!(Verdict::of(&[]).exit_code(), 0);
    }

    #[test]
    fn nested_include() {
        let mut ini = Ini::new();
        ini.read_str("[supervisord]\n[include]\nfiles=a.ini\n", "/etc/s.conf")
            .unwrap();
        ini.read_str(
            "[program:a]\ncommand=x\n[include]\nfiles=b.ini\n",
            "/etc/a.ini",
        )
        .unwrap();
        let files = ["/etc/s.conf".to_string(), "/etc/a.ini".to_string()];
        let texts: Vec<String> = from_ini(&ini, &files)
            .iter()
            .map(|d| d.check_text())
            .collect();
        assert_eq!(
            texts,
            vec![
                "/etc/a.ini:3: warning: an [include] section in an included file is ignored: only the main file's [include] is read",
            ]
        );
    }

    #[test]
    fn indented_header() {
        assert_eq!(
            texts("[program:a]\ncommand=x\n  [program:b]\n"),
            vec!["/etc/s.conf:3: warning: '[program:b]' is indented, so it is read as a continuation of the value of key 'command' in section 'program:a', not as a section header"]
        );
    }

    #[test]
    fn the_sample_config_is_clean() {
        let mut ini = Ini::new();
        ini.read_str(crate::SAMPLE_CONF, "sample.conf").unwrap();
        assert_eq!(from_ini(&ini, &[]), vec![]);
    }

    #[test]
    fn json_shape() {
        let d = &diags("[program:web]\ncommand=x\nautorestrat=true\n")[0];
        assert_eq!(
            d.to_json(),
            serde_json::json!({
                "severity": "warning", "code": "unknown-key",
                "message": "unknown key 'autorestrat' in section 'program:web'",
                "file": "/etc/s.conf", "line": 3, "section": "program:web",
                "key": "autorestrat", "suggestion": "autorestart",
            })
        );
    }
}
