//! The expanded configuration model shared by the daemon and `supervisorctl`.
//!
//! OWNER: the config engine. Field names follow Supervisor's keys. Every type derives
//! `PartialEq` because `reloadConfig` decides "changed" groups by comparing them.

use std::path::PathBuf;

/// A whole parsed `supervisord.conf` (plus its includes), as the daemon needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The main config file path as given with `-c` (or found on the search path).
    pub path: PathBuf,
    /// `[supervisord]`.
    pub supervisord: SupervisordConfig,
    /// `[unix_http_server]`, if present.
    pub unix_http_server: Option<UnixHttpServerConfig>,
    /// Every `[inet_http_server*]` section, in file order.
    pub inet_http_servers: Vec<InetHttpServerConfig>,
    /// Every `[rpcinterface:x]` section.
    pub rpc_interfaces: Vec<RpcInterfaceConfig>,
    /// Process groups sorted by (priority, name).
    pub groups: Vec<GroupConfig>,
    /// Messages the reference logs once the main log is open, in order (criticals first,
    /// then warnings, then infos, as the reference flushes them).
    pub parse_messages: Vec<ParseMessage>,
}

/// A message produced while parsing, logged at startup (e.g. `Included extra file ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMessage {
    pub level: LogLevel,
    pub text: String,
}

/// Main-log levels with the reference's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Blather = 3,
    Trace = 5,
    Debug = 10,
    Info = 20,
    Warn = 30,
    Error = 40,
    Critical = 50,
}

impl LogLevel {
    /// The 4-letter tag printed in the main log (`INFO`, `DEBG`, ...).
    pub const fn tag(self) -> &'static str {
        match self {
            LogLevel::Blather => "BLAT",
            LogLevel::Trace => "TRAC",
            LogLevel::Debug => "DEBG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERRO",
            LogLevel::Critical => "CRIT",
        }
    }
}

/// Where a main or child log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFile {
    /// `NONE`/`OFF`: not logged.
    None,
    /// `AUTO`: a generated file in `childlogdir` (child logs only). Compares equal to any other AUTO.
    Auto,
    /// `syslog` (deprecated spelling).
    Syslog,
    /// A path (absolute after normalisation).
    Path(PathBuf),
}

/// `[supervisord]`, with command-line overrides applied by the daemon, not here.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisordConfig {
    pub logfile: LogFile,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    pub loglevel: LogLevel,
    pub pidfile: PathBuf,
    pub umask: u32,
    pub nodaemon: bool,
    pub silent: bool,
    pub minfds: u64,
    pub minprocs: u64,
    pub nocleanup: bool,
    pub childlogdir: PathBuf,
    /// `user=` as written (name or uid); resolved by the daemon.
    pub user: Option<String>,
    pub directory: Option<PathBuf>,
    pub strip_ansi: bool,
    /// `environment=` pairs in order.
    pub environment: Vec<(String, String)>,
    pub identifier: String,
}

/// HTTP Basic credentials of a server section. `password` may be `{SHA}<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// `[unix_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixHttpServerConfig {
    /// The section name as written (`unix_http_server` or `unix_http_server:foo`).
    pub section: String,
    pub file: PathBuf,
    pub chmod: u32,
    /// `chown=` resolved to (uid, gid); `None` = do not change.
    pub chown: Option<(u32, u32)>,
    pub credentials: Option<Credentials>,
}

/// `[inet_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetHttpServerConfig {
    pub section: String,
    /// Lower-cased host; empty = all interfaces.
    pub host: String,
    pub port: u16,
    pub credentials: Option<Credentials>,
}

/// `[rpcinterface:x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcInterfaceConfig {
    /// `x`, the namespace name.
    pub name: String,
    /// `supervisor.rpcinterface_factory`.
    pub factory: String,
    /// Any other keys, passed to the factory by the reference.
    pub extra: Vec<(String, String)>,
}

/// `[supervisorctl]` (read by `supervisorctl` only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlConfig {
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub prompt: String,
    pub history_file: Option<PathBuf>,
}

impl Default for CtlConfig {
    fn default() -> Self {
        CtlConfig {
            serverurl: "http://localhost:9001".into(),
            username: None,
            password: None,
            prompt: "supervisor".into(),
            history_file: None,
        }
    }
}

/// `autorestart=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    Never,
    Unexpected,
    Always,
}

/// What kind of section a group came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKind {
    /// `[program:x]` (homogeneous group named x).
    Program,
    /// `[group:g]` collecting programs.
    Heterogeneous,
    /// `[fcgi-program:x]` with its shared socket.
    FcgiProgram(FcgiSocketConfig),
    /// `[eventlistener:x]`, a listener pool.
    EventListenerPool(EventListenerPoolConfig),
}

/// The socket of an `[fcgi-program:x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcgiSocketConfig {
    /// The expanded `socket=` URL as written (`tcp://h:p` or `unix:///path`), used in log lines.
    pub url: String,
    pub address: SocketAddress,
    pub backlog: Option<u32>,
    /// `socket_owner=` resolved to (uid, gid); unix sockets only.
    pub owner: Option<(u32, u32)>,
    pub mode: u32,
}

/// An fcgi socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddress {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// The pool-level keys of an `[eventlistener:x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventListenerPoolConfig {
    /// Subscribed event type names, upper-cased, in the order written.
    pub events: Vec<String>,
    pub buffer_size: usize,
    pub result_handler: String,
}

/// A process group: what `addProcessGroup`/`reloadConfig` work on.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    pub name: String,
    pub priority: i32,
    pub kind: GroupKind,
    /// Processes sorted by (priority, name).
    pub processes: Vec<ProcessConfig>,
}

/// One log channel (stdout or stderr) of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChannelConfig {
    pub logfile: LogFile,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    pub capture_maxbytes: u64,
    pub events_enabled: bool,
    pub syslog: bool,
}

/// One process (after `numprocs` expansion).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConfig {
    /// `process_name` after expansion.
    pub name: String,
    /// The group it belongs to.
    pub group: String,
    /// The program section name (`program:x`, `eventlistener:x`, ...), for messages.
    pub section: String,
    /// The file the section came from (for messages).
    pub file: PathBuf,
    /// `command=` after expansion; split with POSIX shlex rules at spawn time.
    pub command: String,
    pub priority: i32,
    pub autostart: bool,
    pub autorestart: AutoRestart,
    pub startsecs: u64,
    pub startretries: u32,
    pub exitcodes: Vec<i32>,
    /// Signal number.
    pub stopsignal: i32,
    pub stopwaitsecs: u64,
    pub stopasgroup: bool,
    pub killasgroup: bool,
    /// `user=` as written; `uid` is its resolved value.
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub redirect_stderr: bool,
    pub stdout: LogChannelConfig,
    pub stderr: LogChannelConfig,
    /// The program's `environment=` pairs (not merged with `[supervisord]`'s).
    pub environment: Vec<(String, String)>,
    pub directory: Option<String>,
    pub umask: Option<u32>,
    /// `serverurl=`; `None` = AUTO.
    pub serverurl: Option<String>,
}
