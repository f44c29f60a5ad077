//! The expanded configuration model shared by the daemon and `supervisorctl`.
//!
//! OWNER: the config engine. Field names follow Supervisor's keys. Every type derives
//! `PartialEq` because `reloadConfig` decides "changed" groups by comparing them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use supervisor_protocol::events::EventType;

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
    /// The extra users (`users=`, `roles=`, `users_file=`) of the server sections that
    /// have any (supervisor-rs access control; empty = only `username=`, as the reference).
    pub server_access: Vec<ServerAccessConfig>,
    /// The server sections with `health_auth = false` (supervisor-rs): their `/livez` and
    /// `/readyz` answer without credentials. Empty = every section asks as for `/ok.html`.
    pub health_open: Vec<String>,
    /// Process groups sorted by (priority, name).
    pub groups: Vec<GroupConfig>,
    /// Messages the reference logs once the main log is open, in order (criticals first,
    /// then warnings, then infos, as the reference flushes them).
    pub parse_messages: Vec<ParseMessage>,
    /// Our findings about the config (unknown keys, repeated sections...; see
    /// [`crate::diagnostics`]), sorted by file and line. The reference has none.
    pub diagnostics: Vec<crate::Diagnostic>,
    /// Where each key was written, for messages about values.
    pub sources: SourceMap,
}

/// Where each `key = value` of the config was written: `(section, key)` -> file and line,
/// with `[DEFAULT]` keys as the fallback of every section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    sections: HashMap<String, HashMap<String, (Arc<str>, usize)>>,
    defaults: HashMap<String, (Arc<str>, usize)>,
}

impl SourceMap {
    /// Records a key of a section (`None` = `[DEFAULT]`).
    pub fn insert(&mut self, section: Option<&str>, key: &str, file: Arc<str>, line: usize) {
        let m = match section {
            Some(s) => self.sections.entry(s.to_string()).or_default(),
            None => &mut self.defaults,
        };
        m.insert(key.to_string(), (file, line));
    }

    /// The file and line of `key` in `section` (or inherited from `[DEFAULT]`).
    pub fn locate(&self, section: &str, key: &str) -> Option<(&str, usize)> {
        self.sections
            .get(section)
            .and_then(|m| m.get(key))
            .or_else(|| self.defaults.get(key))
            .map(|(f, l)| (f.as_ref(), *l))
    }
}

/// A message produced while parsing, logged at startup (e.g. `Included extra file ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMessage {
    /// How important the message is.
    pub level: LogLevel,
    /// The message text.
    pub text: String,
}

/// Main-log levels with the reference's numbers (the shared [`supervisor_protocol::LogLevel`]).
pub use supervisor_protocol::LogLevel;

/// Where a main or child log goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LogFile {
    /// `NONE`/`OFF`: not logged.
    #[default]
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
    /// `logfile=` (main log) / `*_logfile=` (child channel).
    pub logfile: LogFile,
    /// `logfile_maxbytes=` in bytes; 0 = never rotate.
    pub logfile_maxbytes: u64,
    /// `logfile_backups=`; 0 = no backups.
    pub logfile_backups: u32,
    /// `logfile_rotate=`, `logfile_compress=`, `logfile_maxage=` of the main log.
    pub logfile_rotation: LogRotation,
    /// `loglevel=`.
    pub loglevel: LogLevel,
    /// `pidfile=`, absolute.
    pub pidfile: PathBuf,
    /// `umask=`.
    pub umask: u32,
    /// `nodaemon=`.
    pub nodaemon: bool,
    /// `silent=`.
    pub silent: bool,
    /// `minfds=`.
    pub minfds: u64,
    /// `minprocs=`.
    pub minprocs: u64,
    /// `nocleanup=`.
    pub nocleanup: bool,
    /// `childlogdir=` (default: the temp dir).
    pub childlogdir: PathBuf,
    /// `user=` as written (name or uid); resolved by the daemon.
    pub user: Option<String>,
    /// `directory=`.
    pub directory: Option<PathBuf>,
    /// `strip_ansi=`.
    pub strip_ansi: bool,
    /// `environment=` pairs in order.
    pub environment: Vec<(String, String)>,
    /// `identifier=`.
    pub identifier: String,
    /// `subreaper=` (supervisor-rs): become the child subreaper of every descendant when
    /// not PID 1 (`PR_SET_CHILD_SUBREAPER`), so orphans are reaped here.
    pub subreaper: bool,
    /// `exit_when_done=` (supervisor-rs): end the daemon once no process is running or will
    /// be restarted (exit 0 when every program ended as expected, 1 otherwise).
    pub exit_when_done: bool,
    /// `environment_file=` (supervisor-rs): env files read at every spawn of every program,
    /// before the programs' own files (issue 15).
    pub environment_files: Vec<crate::restart::EnvFile>,
    /// `tokens_file=` (supervisor-rs): where bearer tokens are kept, hashed; `None` = the
    /// default, `supervisord.tokens` beside the pid file (docs/security.md).
    pub tokens_file: Option<PathBuf>,
    /// `audit_logfile=` (supervisor-rs): where audit lines go; `None` = the main log.
    pub audit_logfile: Option<PathBuf>,
}

/// HTTP Basic credentials of a server section. `password` may be `{SHA}<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username=`.
    pub username: String,
    /// `password=`.
    pub password: String,
}

/// The role of a user or token of a server (supervisor-rs access control): what it may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Every read method, log tails, `/metrics`, `/events`, the web UI read-only.
    Read,
    /// `Read` plus start/stop/restart/signal/stdin/clear logs.
    Operate,
    /// Everything (the `username=` user of a section).
    Admin,
}

impl Role {
    /// The role named `name` (`read`, `operate`, `admin`; lower case only).
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "read" => Some(Role::Read),
            "operate" => Some(Role::Operate),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The role's name as written in config files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operate => "operate",
            Role::Admin => "admin",
        }
    }
}

/// One user of a server section beyond `username=`, from `users=`/`roles=` or `users_file=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUser {
    /// The login name.
    pub name: String,
    /// The password: clear text, `{SHA}<hex>`, or an argon2 PHC string (`$argon2id$...`,
    /// optionally written `{ARGON2}$argon2id$...`).
    pub password: String,
    /// Its role.
    pub role: Role,
}

/// The extra users of one server section (supervisor-rs access control).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerAccessConfig {
    /// The section name as written (`inet_http_server`, `unix_http_server`).
    pub section: String,
    /// The users of `users=` and `users_file=` (the section's `username=` is not here).
    pub users: Vec<ServerUser>,
    /// `users_file=`, absolute.
    pub users_file: Option<PathBuf>,
}

/// `[unix_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixHttpServerConfig {
    /// The section name as written (`unix_http_server` or `unix_http_server:foo`).
    pub section: String,
    /// The socket path (absolute) / the file a section came from.
    pub file: PathBuf,
    /// `chmod=` (default 0700).
    pub chmod: u32,
    /// `chown=` resolved to (uid, gid); `None` = do not change; gid `u32::MAX` (= -1) when
    /// only a user was given.
    pub chown: Option<(u32, u32)>,
    /// `username=`/`password=`, when set.
    pub credentials: Option<Credentials>,
}

/// `[inet_http_server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetHttpServerConfig {
    /// The section name as written (`inet_http_server`), for messages.
    pub section: String,
    /// Lower-cased host; empty = all interfaces.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// `username=`/`password=`, when set.
    pub credentials: Option<Credentials>,
    /// `tls_cert=`/`tls_key=` (and `tls_client_ca=`): serve HTTPS instead of HTTP
    /// (supervisor-rs; `None` = plain HTTP, as the reference).
    pub tls: Option<InetTlsConfig>,
}

/// A file named by a `tls_*` key, with where it was named (for errors that point at it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFile {
    /// The key (`tls_cert`, ...).
    pub key: String,
    /// The file, absolute (relative values are taken from the current directory,
    /// `%(here)s` is the config file's directory).
    pub path: PathBuf,
    /// `[section] key (file: 'F', line N)`: where the value was written.
    pub origin: String,
}

/// TLS of one `[inet_http_server]` (supervisor-rs; see docs/tls.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetTlsConfig {
    /// `tls_cert=`: the server's certificate chain (PEM, leaf first).
    pub cert: TlsFile,
    /// `tls_key=`: the private key of that certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: TlsFile,
    /// `tls_client_ca=`: CA certificates (PEM) that client certificates must chain to;
    /// when set, a client without a verified certificate is refused in the handshake.
    pub client_ca: Option<TlsFile>,
    /// `tls_client_cn_user=` (default false): a verified client certificate's subject CN
    /// authenticates its requests as the user of that name.
    pub client_cn_user: bool,
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
    /// `serverurl=`.
    pub serverurl: String,
    /// `username=`.
    pub username: Option<String>,
    /// `password=`.
    pub password: Option<String>,
    /// `prompt=`.
    pub prompt: String,
    /// `history_file=`, absolute.
    pub history_file: Option<PathBuf>,
    /// `tls_ca=`: CA certificates (PEM) to verify an `https://` server with, instead of
    /// the system's trusted roots (supervisor-rs).
    pub tls_ca: Option<PathBuf>,
    /// `tls_cert=`: a client certificate chain (PEM) for servers that require one.
    pub tls_cert: Option<PathBuf>,
    /// `tls_key=`: the private key of `tls_cert` (PEM).
    pub tls_key: Option<PathBuf>,
}

impl Default for CtlConfig {
    fn default() -> Self {
        CtlConfig {
            serverurl: "http://localhost:9001".into(),
            username: None,
            password: None,
            prompt: "supervisor".into(),
            history_file: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `autorestart=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    /// `false`: never restart.
    Never,
    /// `unexpected`: restart when the exit code is not in `exitcodes`.
    Unexpected,
    /// `true`: always restart.
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
    /// Where to bind, parsed from `url`.
    pub address: SocketAddress,
    /// `socket_backlog=`; `None` = the system default.
    pub backlog: Option<u32>,
    /// `socket_owner=` resolved to (uid, gid) (gid `u32::MAX` = -1 when only a user was
    /// given); unix sockets only.
    pub owner: Option<(u32, u32)>,
    /// `socket_mode=` (unix sockets; 0o700 by default).
    pub mode: u32,
}

/// An fcgi socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddress {
    /// `tcp://host:port` (host lower-cased).
    Tcp {
        /// The host to bind.
        host: String,
        /// The port to bind.
        port: u16,
    },
    /// `unix:///path` (path normalised).
    Unix(PathBuf),
}

/// The pool-level keys of an `[eventlistener:x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventListenerPoolConfig {
    /// The subscribed event types, in the order written, without repeats (validated at
    /// load with the reference's messages: nothing downstream parses names again).
    pub events: Vec<EventType>,
    /// `buffer_size=`.
    pub buffer_size: usize,
    /// `result_handler=`.
    pub result_handler: String,
}

impl EventListenerPoolConfig {
    /// The subscribed types' names (`PROCESS_STATE`, `TICK_5`...), in [`Self::events`] order.
    pub fn event_names(&self) -> Vec<&'static str> {
        self.events.iter().map(|t| t.name()).collect()
    }
}

/// A process group: what `addProcessGroup`/`reloadConfig` work on.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// The name.
    pub name: String,
    /// `priority=`.
    pub priority: i32,
    /// What kind of section made the group.
    pub kind: GroupKind,
    /// Processes: each program's processes sorted by (priority, name); a heterogeneous
    /// group lists its programs in `programs=` order (as the reference does).
    pub processes: Vec<ProcessConfig>,
}

/// When a log file rotates besides reaching its size (`*logfile_rotate=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RotateWhen {
    /// `size` (the default): only when `*logfile_maxbytes` is reached, as the reference.
    #[default]
    Size,
    /// `daily`: also at every local midnight.
    Daily,
    /// `hourly`: also at the start of every local hour.
    Hourly,
}

/// The rotation extras of one log file: `*logfile_rotate=`, `*logfile_compress=`,
/// `*logfile_maxage=` (supervisor-rs keys; the defaults change nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRotation {
    /// `*logfile_rotate=`.
    pub when: RotateWhen,
    /// `*logfile_compress=`: gzip the rotated files (`<f>.1.gz` ...).
    pub compress: bool,
    /// `*logfile_maxage=` in seconds: rotated files older than this are deleted (`None`
    /// or 0: kept until `*logfile_backups` pushes them out).
    pub maxage_secs: Option<u64>,
}

/// One log channel (stdout or stderr) of a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogChannelConfig {
    /// `logfile=` (main log) / `*_logfile=` (child channel).
    pub logfile: LogFile,
    /// `logfile_maxbytes=` in bytes; 0 = never rotate.
    pub logfile_maxbytes: u64,
    /// `logfile_backups=`; 0 = no backups.
    pub logfile_backups: u32,
    /// `*_capture_maxbytes=`; 0 = no capture mode.
    pub capture_maxbytes: u64,
    /// `*_events_enabled=`.
    pub events_enabled: bool,
    /// `*_syslog=` (also set by the deprecated `*_logfile=syslog`).
    pub syslog: bool,
    /// `*_log_prefix=` after expansion: written before every line of the log file
    /// (empty: nothing, the default).
    pub prefix: String,
    /// `*_logfile_rotate=`, `*_logfile_compress=`, `*_logfile_maxage=`.
    pub rotation: LogRotation,
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
    /// `priority=`.
    pub priority: i32,
    /// `autostart=`.
    pub autostart: bool,
    /// `autorestart=`.
    pub autorestart: AutoRestart,
    /// `startsecs=` (negative = 0).
    pub startsecs: u64,
    /// `startretries=`.
    pub startretries: u32,
    /// `exitcodes=`.
    pub exitcodes: Vec<i32>,
    /// Signal number.
    pub stopsignal: i32,
    /// `stopwaitsecs=`.
    pub stopwaitsecs: u64,
    /// `stopasgroup=`.
    pub stopasgroup: bool,
    /// `killasgroup=`.
    pub killasgroup: bool,
    /// `user=` as written; `uid` is its resolved value.
    pub user: Option<String>,
    /// The resolved uid of `user=`.
    pub uid: Option<u32>,
    /// `redirect_stderr=`.
    pub redirect_stderr: bool,
    /// The stdout channel.
    pub stdout: LogChannelConfig,
    /// The stderr channel (`logfile` is None when redirected).
    pub stderr: LogChannelConfig,
    /// The program's `environment=` pairs (not merged with `[supervisord]`'s).
    pub environment: Vec<(String, String)>,
    /// `directory=`.
    pub directory: Option<String>,
    /// `umask=`.
    pub umask: Option<u32>,
    /// `serverurl=`; `None` = AUTO.
    pub serverurl: Option<String>,
    /// `critical=` (supervisor-rs): when this process goes FATAL, or exits and will not be
    /// restarted, the daemon shuts down and exits non-zero (docs/configuration.md).
    pub critical: bool,
    /// `ready=` with `ready_timeout=`/`ready_interval=` (supervisor-rs): `None` = RUNNING
    /// after `startsecs`, as in the reference.
    pub ready: Option<crate::checks::ReadyConfig>,
    /// `healthcheck=` with its `healthcheck_*` keys (supervisor-rs): `None` = no liveness
    /// check, as in the reference.
    pub health: Option<crate::checks::HealthConfig>,
    /// `depends_on=` (supervisor-rs): what must be up (or done) before this process is
    /// spawned, in the order written, without repeats; empty = none (docs/configuration.md).
    pub depends_on: Vec<Dependency>,
    /// cgroup limits, `kill_mode` and the memory/CPU guards (supervisor-rs, issue 15).
    pub resources: crate::resources::ResourceConfig,
    /// `backoff=`, `backoff_max=`, `backoff_jitter=`, `retry_forever=`, `restart_delay=`,
    /// `backoff_reset=` (supervisor-rs, issue 15); the default is the reference's rule.
    pub restart: crate::restart::RestartPolicy,
    /// `rlimits=` (supervisor-rs): set in the child before exec; empty = inherited.
    pub rlimits: Vec<crate::restart::Rlimit>,
    /// The env files read at every spawn: `[supervisord] environment_file=` then this
    /// program's `environment_file=` (supervisor-rs); applied before `environment=`.
    pub environment_files: Vec<crate::restart::EnvFile>,
}

/// One entry of `depends_on=` (supervisor-rs): a program, a group or `group:process`, and
/// the condition it must meet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dependency {
    /// The name as written: `db` (a program or a group) or `group:process`.
    pub name: String,
    /// What the dependency must reach.
    pub condition: DependencyCondition,
}

/// The condition of a [`Dependency`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DependencyCondition {
    /// `ready` (the default): the dependency is RUNNING (ready, when it has a readiness check).
    Ready,
    /// `done`: the dependency exited with one of its `exitcodes` (one-shot jobs).
    Done,
}

impl DependencyCondition {
    /// The condition's name as written in config files.
    pub fn name(self) -> &'static str {
        match self {
            DependencyCondition::Ready => "ready",
            DependencyCondition::Done => "done",
        }
    }
}

impl std::fmt::Display for Dependency {
    /// `name:condition`, as `getAllConfigExtensions` and `--check-config` show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.condition.name())
    }
}
