//! systemd's notify protocol, spoken by the daemon itself (`Type=notify`, issue 17).
//!
//! When `NOTIFY_SOCKET` is set (a path, or `@name` for an abstract socket), the daemon
//! sends datagrams to it:
//!
//! * `READY=1` (with `STATUS=` and, after daemonizing, `MAINPID=`) once every autostart
//!   program has reached RUNNING or ended ([`HealthReport::settled`]); again after each
//!   restart (`SIGHUP`, `supervisorctl reload`);
//! * `STATUS=<counts>` (`12 running, 1 fatal`) whenever the counts change;
//! * `RELOADING=1` with `MONOTONIC_USEC=` when a restart begins (what `Type=notify-reload`
//!   wants), then `READY=1` once the new run has settled;
//! * `STOPPING=1` when a shutdown begins (with the reason as `STATUS=` when the run ended
//!   by itself: a critical program, `exit_when_done`);
//! * `WATCHDOG=1` every `WATCHDOG_USEC / 2` from the event loop, when `WATCHDOG_USEC` is
//!   set and `WATCHDOG_PID` is unset or names this process.
//!
//! [`take_from_env`] reads the three variables once, at the top of `main`, and removes
//! them from the environment: children never inherit the daemon's socket (a program with
//! `ready=notify` gets a socket of its own; `environment=NOTIFY_SOCKET=...` still passes
//! one explicitly). Sends never block the loop (the socket is non-blocking; a datagram
//! the receiver cannot take is dropped, as `sd_notify` does).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::core::{HealthReport, Supervisor, SupervisorState};

/// Where the notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A socket file.
    Path(PathBuf),
    /// An abstract socket (`@name` in the variable; the name without the `@`).
    Abstract(Vec<u8>),
}

/// What the environment said at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotifyEnv {
    /// `NOTIFY_SOCKET`.
    pub target: Option<Target>,
    /// Half of `WATCHDOG_USEC` (when it applies to this process).
    pub watchdog: Option<Duration>,
    /// The pid at start-up (before daemonizing).
    pub start_pid: u32,
}

static ENV: OnceLock<NotifyEnv> = OnceLock::new();

/// Parses `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` (pure; `pid` is ours).
pub fn parse_env(
    socket: Option<&str>,
    watchdog_usec: Option<&str>,
    watchdog_pid: Option<&str>,
    pid: u32,
) -> NotifyEnv {
    let target = socket.and_then(|s| {
        if let Some(name) = s.strip_prefix('@') {
            (!name.is_empty()).then(|| Target::Abstract(name.as_bytes().to_vec()))
        } else if s.starts_with('/') {
            Some(Target::Path(PathBuf::from(s)))
        } else {
            None
        }
    });
    let pid_ok = watchdog_pid.is_none_or(|p| p.trim().parse::<u32>().ok() == Some(pid));
    let watchdog = watchdog_usec
        .and_then(|u| u.trim().parse::<u64>().ok())
        .filter(|u| *u > 0 && pid_ok && target.is_some())
        .map(|u| Duration::from_micros(u / 2).max(Duration::from_millis(1)));
    NotifyEnv {
        target,
        watchdog,
        start_pid: pid,
    }
}

/// Reads the notify variables once and removes them from the environment (call it at
/// the top of `main`, before any thread exists). Later calls return the first answer.
pub fn take_from_env() -> &'static NotifyEnv {
    ENV.get_or_init(|| {
        let get = |k: &str| std::env::var(k).ok();
        let env = parse_env(
            get("NOTIFY_SOCKET").as_deref(),
            get("WATCHDOG_USEC").as_deref(),
            get("WATCHDOG_PID").as_deref(),
            std::process::id(),
        );
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(k);
        }
        env
    })
}

/// The state of the notifications for one run of the loop.
pub struct Notifier {
    sock: UnixDatagram,
    target: Target,
    start_pid: u32,
    watchdog: Option<Duration>,
    next_ping: Option<Instant>,
    ready_sent: bool,
    stop_sent: bool,
    last_status: String,
    /// The core's pass counter at the last look (nothing can change without a pass).
    seen_passes: Option<u64>,
}

impl Notifier {
    /// A notifier for this run, when `NOTIFY_SOCKET` was set at start-up.
    pub fn for_run() -> Option<Notifier> {
        let env = ENV.get()?;
        let target = env.target.clone()?;
        let sock = UnixDatagram::unbound().ok()?;
        let _ = sock.set_nonblocking(true);
        Some(Notifier {
            sock,
            target,
            start_pid: env.start_pid,
            watchdog: env.watchdog,
            next_ping: env.watchdog.map(|d| Instant::now() + d),
            ready_sent: false,
            stop_sent: false,
            last_status: String::new(),
            seen_passes: None,
        })
    }

    /// Sends one datagram (errors are ignored, like `sd_notify`'s callers do).
    pub fn send(&self, text: &str) {
        let _ = match &self.target {
            Target::Path(p) => self.sock.send_to(text.as_bytes(), p),
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                match std::os::unix::net::SocketAddr::from_abstract_name(name) {
                    Ok(addr) => self.sock.send_to_addr(text.as_bytes(), &addr),
                    Err(e) => Err(e),
                }
            }
        };
    }

    /// Looks at the process table after a loop turn and sends what changed. Cheap when
    /// nothing did (one comparison).
    pub fn update(&mut self, sup: &Supervisor) {
        let mood = sup.mood();
        if mood != SupervisorState::Running {
            if !self.stop_sent {
                self.stop_sent = true;
                if mood == SupervisorState::Restarting {
                    self.send(&format!(
                        "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=restarting",
                        monotonic_usec()
                    ));
                } else {
                    let why = sup
                        .end_of_run()
                        .map(|e| e.text.clone())
                        .unwrap_or_else(|| "shutting down".to_string());
                    self.send(&format!("STOPPING=1\nSTATUS={}", one_line(&why)));
                }
            }
            return;
        }
        let passes = sup.transition_passes();
        if self.seen_passes == Some(passes) {
            return;
        }
        self.seen_passes = Some(passes);
        let health = sup.health();
        self.report(&health);
    }

    fn report(&mut self, health: &HealthReport) {
        let status = health.counts_text();
        if !self.ready_sent && health.settled {
            self.ready_sent = true;
            let mut msg = format!("READY=1\nSTATUS={status}");
            if std::process::id() != self.start_pid {
                msg.push_str(&format!("\nMAINPID={}", std::process::id()));
            }
            self.send(&msg);
            self.last_status = status;
        } else if status != self.last_status {
            self.send(&format!("STATUS={status}"));
            self.last_status = status;
        }
    }

    /// When the next watchdog ping is due (`None` = no watchdog).
    pub fn next_ping(&self) -> Option<Instant> {
        self.next_ping
    }

    /// Sends `WATCHDOG=1` when it is due and schedules the next one.
    pub fn ping_if_due(&mut self, now: Instant) {
        let (Some(at), Some(every)) = (self.next_ping, self.watchdog) else {
            return;
        };
        if now >= at {
            self.send("WATCHDOG=1");
            self.next_ping = Some(now + every);
        }
    }
}

/// `CLOCK_MONOTONIC` in microseconds (what `MONOTONIC_USEC=` carries).
fn monotonic_usec() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a pointer to a live local.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    if r != 0 {
        return 0;
    }
    (t.tv_sec as u64) * 1_000_000 + (t.tv_nsec as u64) / 1_000
}

/// A `STATUS=` value must stay on one line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_parsing() {
        let e = parse_env(Some("/run/systemd/notify"), None, None, 10);
        assert_eq!(e.target, Some(Target::Path("/run/systemd/notify".into())));
        assert_eq!(e.watchdog, None);
        let e = parse_env(Some("@sd-notify"), Some("3000000"), None, 10);
        assert_eq!(e.target, Some(Target::Abstract(b"sd-notify".to_vec())));
        assert_eq!(e.watchdog, Some(Duration::from_millis(1500)));
        // WATCHDOG_PID must name us
        let e = parse_env(Some("/s"), Some("3000000"), Some("11"), 10);
        assert_eq!(e.watchdog, None);
        let e = parse_env(Some("/s"), Some("3000000"), Some("10"), 10);
        assert_eq!(e.watchdog, Some(Duration::from_millis(1500)));
        // nonsense is ignored
        assert_eq!(parse_env(Some("relative"), None, None, 1).target, None);
        assert_eq!(parse_env(Some("@"), None, None, 1).target, None);
        assert_eq!(parse_env(None, Some("100"), None, 1).watchdog, None);
        assert_eq!(parse_env(Some("/s"), Some("x"), None, 1).watchdog, None);
        assert_eq!(parse_env(Some("/s"), Some("0"), None, 1).watchdog, None);
    }

    #[test]
    fn sends_to_a_path_and_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        let mut n = Notifier {
            sock: UnixDatagram::unbound().unwrap(),
            target: Target::Path(path.clone()),
            start_pid: std::process::id(),
            watchdog: Some(Duration::from_millis(10)),
            next_ping: Some(Instant::now()),
            ready_sent: false,
            stop_sent: false,
            last_status: String::new(),
            seen_passes: None,
        };
        n.send("READY=1");
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        n.ping_if_due(Instant::now());
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        assert!(n.next_ping().unwrap() > Instant::now());

        use std::os::linux::net::SocketAddrExt;
        let name = format!("supervisor-rs-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        n.target = Target::Abstract(name.into_bytes());
        n.send("STOPPING=1");
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");
    }
}
