//! The command line and the `[supervisorctl]` section, resolved the way the reference does:
//! getopt-style options (clustered short options, unique prefixes of long options), the
//! config file search path, and the precedence command line > config file > default.

use std::path::{Path, PathBuf};

use supervisor_config::CtlConfig;

/// The usage text of `-h` (`%s` is replaced by `argv[0]`).
pub const USAGE: &str =
    "supervisorctl -- control applications run by supervisord from the cmd line.

Usage: %s [options] [action [arguments]]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-h/--help -- print usage message and exit
-i/--interactive -- start an interactive shell after executing commands
-s/--serverurl URL -- URL on which supervisord server is listening
     (default \"http://localhost:9001\").
-u/--username USERNAME -- username to use for authentication with server
-p/--password PASSWORD -- password to use for authentication with server
-r/--history-file -- keep a readline history (if readline is available)

action [arguments] -- see below

Actions are commands like \"tail\" or \"stop\".  If -i is specified or no action is
specified on the command line, a \"shell\" interpreting actions typed
interactively is started.  Use the action \"help\" to find out about available
actions.
";

/// Everything `supervisorctl` needs to run after option processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `argv[0]`, used in messages.
    pub progname: String,
    /// The config file that was read, if any.
    pub configfile: Option<PathBuf>,
    /// Interactive mode (no action given, or `-i`).
    pub interactive: bool,
    /// `-i` was given (the 4.3 quirk: an action still runs one-shot).
    pub interactive_flag: bool,
    /// Server URL.
    pub serverurl: String,
    /// User name for HTTP Basic auth.
    pub username: Option<String>,
    /// Password for HTTP Basic auth.
    pub password: Option<String>,
    /// Prompt word (the shell shows `<prompt>> `).
    pub prompt: String,
    /// Readline history file: `-r` (which the reference accepts but ignores; we honour
    /// it) or the config file's `history_file`.
    pub history_file: Option<PathBuf>,
    /// The action words, if any.
    pub args: Vec<String>,
    /// `https://` settings: `tls_ca`/`tls_cert`/`tls_key` of `[supervisorctl]` and
    /// `--insecure` (see [`crate::tls`]).
    pub tls: crate::tls::TlsOptions,
}

/// What option processing decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run with these settings.
    Run(Box<Settings>),
    /// Print this to stdout and exit 0 (`-h`, `--version`).
    Help(String),
    /// Usage error: print `Error: <msg>` and the help hint to stderr, exit 2.
    Usage(String),
}

const SHORT: &[(char, bool)] = &[
    ('h', false),
    ('?', false),
    ('c', true),
    ('i', false),
    ('s', true),
    ('u', true),
    ('p', true),
    ('r', true),
];
const LONG: &[(&str, bool)] = &[
    ("help", false),
    ("configuration", true),
    ("interactive", false),
    ("serverurl", true),
    ("username", true),
    ("password", true),
    ("history_file", true),
    ("version", false),
    ("insecure", false),
];

/// Long options of ours (not the reference's): a prefix that also matches one of the
/// reference's options means the reference's (`--in` stays `--interactive`).
const EXT_LONG: &[&str] = &["version", "insecure"];

/// Options (name, value) in command-line order, and the remaining arguments.
pub type Getopt = (Vec<(String, String)>, Vec<String>);

/// Python `getopt.getopt`: returns (option, value) pairs with long options expanded to
/// their full name, and the remaining arguments. Stops at the first non-option.
pub fn getopt(args: &[String]) -> Result<Getopt, String> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let (full, has_arg) = long_has_args(name)?;
            let value = if has_arg {
                match value {
                    Some(v) => v,
                    None => {
                        i += 1;
                        match args.get(i) {
                            Some(v) => v.clone(),
                            None => return Err(format!("option --{full} requires argument")),
                        }
                    }
                }
            } else {
                if value.is_some() {
                    return Err(format!("option --{full} must not have an argument"));
                }
                String::new()
            };
            opts.push((format!("--{full}"), value));
        } else {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                let has_arg = match SHORT.iter().find(|(s, _)| *s == c) {
                    Some((_, h)) => *h,
                    None => return Err(format!("option -{c} not recognized")),
                };
                if has_arg {
                    let rest: String = chars[j + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        i += 1;
                        match args.get(i) {
                            Some(v) => v.clone(),
                            None => return Err(format!("option -{c} requires argument")),
                        }
                    } else {
                        rest
                    };
                    opts.push((format!("-{c}"), value));
                    break;
                }
                opts.push((format!("-{c}"), String::new()));
                j += 1;
            }
        }
        i += 1;
    }
    Ok((opts, args[i.min(args.len())..].to_vec()))
}

fn long_has_args(opt: &str) -> Result<(&'static str, bool), String> {
    let poss: Vec<&(&str, bool)> = LONG.iter().filter(|(n, _)| n.starts_with(opt)).collect();
    if poss.is_empty() {
        return Err(format!("option --{opt} not recognized"));
    }
    if let Some((n, h)) = poss.iter().find(|(n, _)| *n == opt) {
        return Ok((n, *h));
    }
    if poss.len() > 1 {
        let reference: Vec<_> = poss.iter().filter(|(n, _)| !EXT_LONG.contains(n)).collect();
        if let [only] = reference.as_slice() {
            return Ok((only.0, only.1));
        }
        return Err(format!("option --{opt} not a unique prefix"));
    }
    Ok((poss[0].0, poss[0].1))
}

/// The reference's URL check for `-s`: a scheme and a netloc or a path.
pub fn is_url(value: &str) -> bool {
    let Some(colon) = value.find(':') else {
        return false;
    };
    let scheme = &value[..colon];
    let valid_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return false;
    }
    let rest = &value[colon + 1..];
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    if let Some(after) = rest.strip_prefix("//") {
        // netloc then path: either non-empty is enough
        !after.is_empty()
    } else {
        !rest.is_empty()
    }
}

/// Resolves argv (without `argv[0]`) into settings, a help request or a usage error.
pub fn parse(progname: &str, args: &[String]) -> Parsed {
    let (opts, rest) = match getopt(args) {
        Ok(x) => x,
        Err(msg) => return Parsed::Usage(msg),
    };
    let mut configfile: Option<String> = None;
    let mut interactive: Option<bool> = None;
    let mut serverurl: Option<String> = None;
    let mut username: Option<String> = None;
    let mut password: Option<String> = None;
    let mut history: Option<String> = None;
    let mut insecure = false;
    for (opt, value) in opts {
        let slot: &mut Option<String> = match opt.as_str() {
            "-h" | "-?" | "--help" => {
                return Parsed::Help(USAGE.replace("%s", progname) + "\n");
            }
            // not in the reference (which rejects it); `version` asks the daemon
            "--version" => return Parsed::Help(format!("{}\n", crate::about())),
            "-i" | "--interactive" => {
                if interactive.is_some() {
                    return Parsed::Usage(format!("conflicting command line option '{opt}'"));
                }
                interactive = Some(true);
                continue;
            }
            "--insecure" => {
                insecure = true;
                continue;
            }
            "-c" | "--configuration" => &mut configfile,
            "-s" | "--serverurl" => {
                if !is_url(&value) {
                    return Parsed::Usage(format!(
                        "invalid value for {opt} {}: value {} is not a URL",
                        crate::error::py_repr(&value),
                        crate::error::py_repr(&value)
                    ));
                }
                &mut serverurl
            }
            "-u" | "--username" => &mut username,
            "-p" | "--password" => &mut password,
            _ => &mut history,
        };
        if slot.is_some() {
            return Parsed::Usage(format!("conflicting command line option '{opt}'"));
        }
        *slot = Some(value);
    }
    let configfile = match configfile {
        Some(c) => Some(c),
        None => supervisor_config::find_config(progname).map(|p| p.to_string_lossy().into_owned()),
    };
    let mut section = CtlConfig::default();
    let mut used_config = None;
    if let Some(cf) = configfile.as_deref().filter(|c| !c.is_empty()) {
        match supervisor_config::load_ctl(Path::new(cf)) {
            Ok(s) => section = s,
            Err(e) => return Parsed::Usage(e.to_string()),
        }
        used_config = Some(PathBuf::from(cf));
    }
    let interactive_flag = interactive.unwrap_or(false);
    Parsed::Run(Box::new(Settings {
        progname: progname.to_string(),
        configfile: used_config,
        interactive: interactive_flag || rest.is_empty(),
        interactive_flag,
        serverurl: serverurl.unwrap_or(section.serverurl),
        username: username.or(section.username),
        password: password.or(section.password),
        prompt: section.prompt,
        history_file: history
            .filter(|h| !h.is_empty())
            .map(|h| expand_user_abs(&h))
            .or(section.history_file),
        args: rest,
        tls: crate::tls::TlsOptions {
            ca: section.tls_ca,
            cert: section.tls_cert,
            key: section.tls_key,
            insecure,
        },
    }))
}

/// `~` expansion and an absolute path (relative to the current directory).
fn expand_user_abs(p: &str) -> PathBuf {
    let expanded = match (p.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => p.to_string(),
    };
    std::path::absolute(&expanded).unwrap_or_else(|_| PathBuf::from(expanded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_flag_and_reference_prefixes() {
        let Parsed::Run(s) = parse("ctl", &v(&["-c", "", "--insecure", "status"])) else {
            panic!()
        };
        assert!(s.tls.insecure);
        // `--in` is the reference's --interactive, not our --insecure.
        let Parsed::Run(s) = parse("ctl", &v(&["-c", "", "--in", "status"])) else {
            panic!()
        };
        assert!(s.interactive_flag && !s.tls.insecure);
        assert_eq!(
            parse("ctl", &v(&["--insecure=1"])),
            Parsed::Usage("option --insecure must not have an argument".into())
        );
    }

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn getopt_like_python() {
        let (o, r) = getopt(&v(&["-is", "http://x", "status", "-c"])).unwrap();
        assert_eq!(
            o,
            vec![
                ("-i".to_string(), String::new()),
                ("-s".to_string(), "http://x".to_string())
            ]
        );
        assert_eq!(r, v(&["status", "-c"]));
        let (o, _) = getopt(&v(&["--serv=u:x", "--conf", "f"])).unwrap();
        assert_eq!(o[0], ("--serverurl".to_string(), "u:x".to_string()));
        assert_eq!(o[1], ("--configuration".to_string(), "f".to_string()));
        assert_eq!(getopt(&v(&["-x"])).unwrap_err(), "option -x not recognized");
        assert_eq!(
            getopt(&v(&["-s"])).unwrap_err(),
            "option -s requires argument"
        );
        assert_eq!(
            getopt(&v(&["--h"])).unwrap_err(),
            "option --h not a unique prefix"
        );
        assert_eq!(
            getopt(&v(&["--he=1"])).unwrap_err(),
            "option --help must not have an argument"
        );
        assert_eq!(
            getopt(&v(&["--conf"])).unwrap_err(),
            "option --configuration requires argument"
        );
        assert_eq!(
            getopt(&v(&["--nope"])).unwrap_err(),
            "option --nope not recognized"
        );
        let (o, r) = getopt(&v(&["--", "-x"])).unwrap();
        assert!(o.is_empty());
        assert_eq!(r, v(&["-x"]));
    }

    #[test]
    fn urls() {
        assert!(is_url("http://localhost:9001"));
        assert!(is_url("unix:///tmp/x"));
        assert!(is_url("localhost:9001"));
        assert!(!is_url("bogus"));
        assert!(!is_url("http://"));
        assert!(!is_url("1http://x"));
    }

    #[test]
    fn option_errors() {
        let p = parse("ctl", &v(&["-c", "/x", "-s", "bogus"]));
        assert_eq!(
            p,
            Parsed::Usage("invalid value for -s 'bogus': value 'bogus' is not a URL".into())
        );
        let p = parse("ctl", &v(&["-s", "http://a", "-s", "http://b"]));
        assert_eq!(
            p,
            Parsed::Usage("conflicting command line option '-s'".into())
        );
        assert!(matches!(parse("ctl", &v(&["-?"])), Parsed::Help(_)));
        let p = parse("ctl", &v(&["-c", "/nonexistent/x.conf", "status"]));
        assert_eq!(
            p,
            Parsed::Usage("could not find config file /nonexistent/x.conf".into())
        );
    }

    #[test]
    fn precedence() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(
            &conf,
            "[supervisorctl]\nserverurl=unix://%(here)s/../x.sock\nusername=u\nprompt=p\n",
        )
        .unwrap();
        let c = conf.to_string_lossy().into_owned();
        let Parsed::Run(s) = parse("ctl", &v(&["-c", &c, "-p", "pw", "status", "x"])) else {
            panic!()
        };
        let parent = dir.path().parent().unwrap().to_string_lossy().into_owned();
        assert_eq!(s.serverurl, format!("unix://{parent}/x.sock"));
        assert_eq!(s.username.as_deref(), Some("u"));
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert_eq!(s.prompt, "p");
        assert!(!s.interactive);
        assert_eq!(s.args, v(&["status", "x"]));
        let Parsed::Run(s) = parse("ctl", &v(&["-c", &c, "-s", "http://h:1"])) else {
            panic!()
        };
        assert_eq!(s.serverurl, "http://h:1");
        assert!(s.interactive);
    }
}
