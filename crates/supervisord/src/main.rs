//! `supervisord`: parse the command line and the config, set the process up (user,
//! rlimits, main log, servers, daemonizing, pidfile), then run the event loop; run it
//! again in the same process after a restart request (SIGHUP / `supervisor.restart`).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;

use supervisor_config::{Config, LogLevel};
use supervisord::cli::{self, Command, Options, USAGE_EXIT};
use supervisord::daemon::{self, StartupMessage};
use supervisord::logs::{MainLog, MainLogConfig};
use supervisord::runtime::{self, Exit, Servers};

fn main() {
    // Before anything else (no thread exists yet): the loop's signals stay pending until
    // its handlers are installed, and the notify variables are taken out of the
    // environment the children inherit (pid1.rs, notify.rs).
    supervisord::pid1::block_loop_signals();
    supervisord::notify::take_from_env();
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args
        .first()
        .cloned()
        .unwrap_or_else(|| "supervisord".to_string());
    let opts = match cli::parse(args.get(1..).unwrap_or(&[])) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            print!("{}", cli::help_text(&argv0));
            std::process::exit(0);
        }
        Ok(Command::Version) => {
            println!("{}", cli::VERSION);
            std::process::exit(0);
        }
        Ok(Command::HashPassword) => {
            std::process::exit(supervisord::access::passwords::hash_password_command())
        }
        Err(e) => usage_exit(&argv0, &e.message),
    };
    // Before any log file or socket is opened: the fast spawn path parks each child's pipe
    // ends on these descriptors and every child copies the fd table up to them.
    supervisord::spawn::reserve_fd_slots();
    // One event bus for the life of the process: the global event serial continues
    // across restarts, as in the reference.
    let bus = Rc::new(RefCell::new(supervisor_events::EventBus::new("supervisor")));
    let mut first = true;
    loop {
        let exit = run_once(&argv0, &opts, first, &bus);
        if !matches!(exit, Exit::Restart) {
            // Rotated logs still being compressed: a few seconds to finish them.
            supervisord::logs::compress::finish(std::time::Duration::from_secs(5));
        }
        match exit {
            Exit::Shutdown => std::process::exit(0),
            Exit::Status(code) => std::process::exit(code),
            Exit::Restart => first = false,
        }
    }
}

/// Prints the reference's usage error and exits 2.
fn usage_exit(argv0: &str, message: &str) -> ! {
    eprint!("{}", cli::usage_error_text(argv0, message));
    std::process::exit(USAGE_EXIT);
}

/// Why the config could not be used: the reference's message.
struct LoadError {
    message: String,
}

impl From<String> for LoadError {
    fn from(message: String) -> Self {
        LoadError { message }
    }
}

/// Reads the config named by the options (or found on the search path) and applies the
/// command-line overrides.
fn load_config(argv0: &str, opts: &Options) -> Result<Config, LoadError> {
    let path = match &opts.configuration {
        Some(p) => p.clone(),
        None => cli::find_config_file(argv0).map_err(|e| e.message)?,
    };
    let mut config = supervisor_config::load(&path).map_err(|e| e.to_string())?;
    cli::apply_overrides(&mut config, opts).map_err(|e| e.message)?;
    Ok(config)
}

/// One start (or restart) of the daemon, up to the end of its event loop.
fn run_once(
    argv0: &str,
    opts: &Options,
    first: bool,
    bus: &Rc<RefCell<supervisor_events::EventBus>>,
) -> Exit {
    if opts.check_config {
        check_exit(argv0, opts);
    }
    let config = match load_config(argv0, opts) {
        Ok(c) => c,
        // the plain start keeps the reference's two lines exactly: scripts match them
        Err(e) => usage_exit(argv0, &e.message),
    };
    let sd = config.supervisord.clone();

    // Start-up messages, flushed once the main log is open: criticals, warnings, infos.
    let mut messages: Vec<StartupMessage> = config
        .parse_messages
        .iter()
        .map(|m| StartupMessage {
            level: m.level,
            text: m.text.clone(),
        })
        .collect();
    match daemon::set_uid(sd.user.as_deref()) {
        Ok(m) => messages.extend(m),
        Err(e) => usage_exit(argv0, &e),
    }
    if first {
        match daemon::set_rlimits(sd.minfds, sd.minprocs) {
            Ok(m) => messages.extend(m),
            Err(e) => usage_exit(argv0, &e),
        }
    }
    messages.sort_by_key(|m| std::cmp::Reverse(level_rank(m.level)));

    // The servers first: binding takes the instance lock (`<socket>.lock`) or finds the
    // address in use, so a second daemon on the config of a running one stops here,
    // before it appends to the main log, clears AUTO child logs or writes the pid file:
    // the running daemon's files stay exactly as they were. (The reference clears the
    // AUTO logs first and then fails.) The listeners and the lock belong to this process
    // and pass to the daemonized child below.
    let (servers, server_lines) = match Servers::bind(&config) {
        Ok(s) => s,
        Err(e) => usage_exit(argv0, &e.0),
    };

    // No compression thread before the fork below: rotated main logs wait for it.
    supervisord::logs::compress::defer_thread();
    let mainlog = match MainLog::open_rotating(
        &MainLogConfig {
            logfile: sd.logfile.clone(),
            maxbytes: sd.logfile_maxbytes,
            backups: sd.logfile_backups,
            level: sd.loglevel,
            echo_stdout: sd.nodaemon && !sd.silent,
        },
        &sd.logfile_rotation,
    ) {
        Ok(l) => Rc::new(RefCell::new(l)),
        Err(e) => {
            // exit() runs no destructors: remove our socket and lock files first
            drop(servers);
            usage_exit(argv0, &format!("Cannot open the main log: {e}"))
        }
    };
    supervisord::logs::timer::register_main(&mainlog);
    let log = |level: LogLevel, text: &str| mainlog.borrow_mut().log(level, text);
    // Ours: what is running and from which file, before the reference's lines.
    log(LogLevel::Info, &cli::banner());
    log(
        LogLevel::Info,
        &format!("loaded config file {}", absolute(&config.path).display()),
    );
    for m in &messages {
        log(m.level, &m.text);
    }
    // Ours: findings the reference ignores silently (unknown keys and sections, repeats,
    // a header missing its ']'), one WARN line each; they never stop the start.
    for d in config.diagnostics.iter().filter(|d| d.at_start) {
        log(LogLevel::Warn, &d.log_text());
    }
    if !sd.nocleanup {
        for w in supervisord::logs::childlog::clean_auto_logs(&sd.childlogdir, &sd.identifier) {
            log(LogLevel::Warn, &w);
        }
    }

    // supervisor-rs access control: the bearer tokens and the audit log of this run.
    for (level, text) in supervisord::access::setup(&sd, mainlog.clone()) {
        log(level, &text);
    }

    let loader_argv0 = argv0.to_string();
    let loader_opts = opts.clone();
    let loader: runtime::ConfigLoader =
        Box::new(move || load_config(&loader_argv0, &loader_opts).map_err(|e| e.message));
    let listen = (
        config.unix_http_server.clone(),
        config.inet_http_servers.clone(),
    );
    let prepared = match runtime::prepare(config, mainlog.clone(), loader, bus.clone()) {
        Ok(p) => p,
        Err(e) => {
            drop(servers);
            eprintln!("Error: {}", e.0);
            std::process::exit(1);
        }
    };
    for (level, text) in &server_lines {
        log(*level, text);
    }
    for line in listen_lines(&listen) {
        log(LogLevel::Info, &line);
    }

    // As PID 1 (a container's first process) daemonizing would end the container: the
    // first process exits and the kernel kills everything else. Stay in the foreground.
    let pid1 = supervisord::pid1::is_pid1();
    if !sd.nodaemon && first && pid1 {
        log(
            LogLevel::Info,
            "running as PID 1: staying in the foreground instead of daemonizing",
        );
    }
    if !sd.nodaemon && first && !pid1 {
        match daemon::daemonize(sd.directory.as_deref(), sd.umask) {
            Ok(msgs) => {
                for m in msgs {
                    log(m.level, &m.text);
                }
            }
            Err(e) => {
                log(LogLevel::Critical, &format!("could not daemonize: {e}"));
                std::process::exit(1);
            }
        }
    }
    supervisord::logs::compress::start_thread();
    let (pidfile_written, msg) = daemon::write_pidfile(&sd.pidfile);
    log(msg.level, &msg.text);

    let exit = match runtime::run(prepared, servers) {
        Ok(e) => e,
        Err(e) => {
            log(LogLevel::Critical, &format!("event loop failed: {e}"));
            Exit::Status(1)
        }
    };
    if pidfile_written {
        daemon::remove_pidfile(&sd.pidfile);
    }
    exit
}

/// `--check-config [--json]`: runs every check, prints the report, exits 0 (valid), 1
/// (valid with warnings) or 2 (invalid). A config that does not load also gets the
/// reference's `Error:` lines on stderr (with its location first), as before.
fn check_exit(argv0: &str, opts: &Options) -> ! {
    let path = match &opts.configuration {
        Some(p) => p.clone(),
        None => match cli::find_config_file(argv0) {
            Ok(p) => p,
            Err(e) if opts.json => {
                let d = supervisor_config::diagnostics::diagnostic(
                    supervisor_config::Severity::Error,
                    "config-error",
                    e.message,
                    None,
                    None,
                    None,
                );
                print!(
                    "{}",
                    supervisor_config::diagnostics::report_json(&cli::banner(), None, None, &[d])
                );
                std::process::exit(2);
            }
            Err(e) => usage_exit(argv0, &e.message),
        },
    };
    let report = cli::check_config(path, opts);
    if opts.json {
        print!("{}", cli::render_check_json(&report));
    } else {
        print!("{}", cli::render_check_text(&report));
        if report.config.is_none() {
            if let Some(d) = report.diagnostics.iter().find(|d| d.code == "config-error") {
                let e = supervisor_config::ConfigError {
                    file: d.file.clone(),
                    line: d.line,
                    section: d.section.clone(),
                    key: d.key.clone(),
                    message: d.message.clone(),
                };
                let location = e.location();
                if !location.is_empty() {
                    eprintln!("{argv0}: config error at {location}");
                }
                eprint!("{}", cli::usage_error_text(argv0, &e.message));
            }
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(report.exit_code());
}

/// `path` made absolute against the current directory (for the start-up line).
fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cli::normalize_path(&path.to_string_lossy())
    }
}

/// `unix_http_server listening on /path/s.sock`, `inet_http_server listening on
/// 127.0.0.1:9001` (`*:9001` for every interface).
fn listen_lines(
    servers: &(
        Option<supervisor_config::UnixHttpServerConfig>,
        Vec<supervisor_config::InetHttpServerConfig>,
    ),
) -> Vec<String> {
    let mut out = Vec::new();
    for inet in &servers.1 {
        let host = if inet.host.is_empty() || inet.host == "*" {
            "*"
        } else {
            inet.host.as_str()
        };
        let addr = if host.contains(':') {
            format!("[{host}]:{}", inet.port)
        } else {
            format!("{host}:{}", inet.port)
        };
        out.push(format!("{} listening on {addr}", inet.section));
    }
    if let Some(u) = &servers.0 {
        out.push(format!("{} listening on {}", u.section, u.file.display()));
    }
    out
}

/// Orders start-up messages the way the reference flushes them.
fn level_rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Critical | LogLevel::Error => 3,
        LogLevel::Warn => 2,
        _ => 1,
    }
}
