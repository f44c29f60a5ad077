//! Probes: the runtime side of process checks (`ready=` and `healthcheck=`).
//!
//! The core decides when a check is wanted ([`Output::StartProbe`]) and when it is not any
//! more ([`Output::StopProbe`]); this module performs it and reports what it finds as
//! [`ProbeMsg`]s on a channel the loop reads, which the loop feeds back to the core with
//! [`Supervisor::probe_report`](crate::core::Supervisor::probe_report). Nothing here
//! blocks the loop and nothing runs while no check is pending:
//!
//! * tcp, http and exec checks are tokio tasks ([`poll_check`]) that try once every
//!   interval, each try bounded by a timeout, and report a failure only when its reason
//!   changes (so a process that stays unready costs one wake-up per interval, not one
//!   per report); they end when the check passes or the core stops them;
//! * `log:` checks are matched by the pipe readers themselves, line by line, while a
//!   [`log::LogWatch`] is armed for the child ([`log`]);
//! * `notify` checks listen on a unix datagram socket per process ([`notify`]), whose
//!   path the child gets as `NOTIFY_SOCKET`.
//!
//! Each kind of check is a [`ProbeKind`]: [`CheckSpec::of`] maps it onto the process's
//! keys, and the same tries serve every kind; the core decides what a result means for
//! that kind. Health checks ([`ProbeKind::Health`], tcp/http/exec only) are polled by
//! [`health::poll_health`], which never ends by itself and reports every try.
//!
//! Exec probes are children of the daemon: the loop's `waitpid(-1)` reaps them and hands
//! their status here ([`Probes::reaped`]), so they are never logged as unknown pids.
//!
//! [`Output::StartProbe`]: crate::core::Output::StartProbe
//! [`Output::StopProbe`]: crate::core::Output::StopProbe

#![forbid(unsafe_code)]

pub mod exec;
pub mod health;
pub mod log;
pub mod net;
pub mod notify;

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::core::{ProbeKind, ProbeReport, ProcKey};
use supervisor_config::{Check, Config, ProcessConfig};

/// One result of a probe, for the loop to hand to the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeMsg {
    /// The process.
    pub key: ProcKey,
    /// The child the result is about.
    pub pid: i32,
    /// Which check.
    pub kind: ProbeKind,
    /// What was found.
    pub report: ProbeReport,
}

/// Where probes send their results.
pub type ProbeTx = mpsc::UnboundedSender<ProbeMsg>;

/// The longest a single try of a tcp/http/exec readiness check may take (80% of
/// `ready_timeout` when that is shorter): a try that runs longer counts as failed
/// (`timed out after 5s`) and an exec probe is killed.
pub const READY_TRY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every probe of the daemon: running poll tasks, log watches, notify sockets and exec
/// children.
pub struct Probes {
    tx: ProbeTx,
    /// Running poll tasks (tcp/http/exec), by process and kind.
    tasks: HashMap<(ProcKey, ProbeKind), JoinHandle<()>>,
    /// The `log:` watch of each process with one (shared with its pipe readers).
    logs: HashMap<ProcKey, Rc<log::LogWatch>>,
    /// Notify sockets, by process.
    notify: notify::NotifySockets,
    /// Exec probe children waiting for their exit status.
    exec: exec::ExecChildren,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("tasks", &self.tasks.len())
            .field("logs", &self.logs.len())
            .finish_non_exhaustive()
    }
}

impl Probes {
    /// No probes yet; results go to `tx`.
    pub fn new(tx: ProbeTx) -> Probes {
        Probes {
            tx,
            tasks: HashMap::new(),
            logs: HashMap::new(),
            notify: notify::NotifySockets::default(),
            exec: exec::ExecChildren::default(),
        }
    }

    /// How many poll tasks run now (tests and the idle-CPU claim: none without a check).
    pub fn running_tasks(&self) -> usize {
        self.tasks.values().filter(|t| !t.is_finished()).count()
    }

    /// The `log:` watch the pipe readers of `key`'s next child must feed, if its check is
    /// a `log:` one (created on first use, kept for the process's life).
    pub fn log_watch(&mut self, key: ProcKey, pc: &ProcessConfig) -> Option<Rc<log::LogWatch>> {
        let Some(Check::Log(pattern)) = pc.ready.as_ref().map(|r| &r.check) else {
            return None;
        };
        let w = self.logs.entry(key).or_insert_with(|| {
            Rc::new(log::LogWatch::new(
                key,
                ProbeKind::Ready,
                pattern.clone(),
                self.tx.clone(),
            ))
        });
        Some(w.clone())
    }

    /// `NOTIFY_SOCKET` for `key`'s next child when its check is `notify` (the socket is
    /// made on first use and kept for the process's life). `Err` is a spawn error text.
    pub fn notify_env(
        &mut self,
        key: ProcKey,
        pc: &ProcessConfig,
    ) -> Result<Option<(String, String)>, String> {
        if !matches!(pc.ready.as_ref().map(|r| &r.check), Some(Check::Notify)) {
            return Ok(None);
        }
        let path = self.notify.ensure(key, pc.uid, &self.tx)?;
        Ok(Some(("NOTIFY_SOCKET".to_string(), path)))
    }

    /// Starts the probe of `kind` for `key`'s child `pid` (the core's `StartProbe`).
    pub fn start(
        &mut self,
        key: ProcKey,
        pid: i32,
        kind: ProbeKind,
        pc: &ProcessConfig,
        config: &Config,
    ) {
        self.stop(key, pid, kind);
        let Some(spec) = CheckSpec::of(kind, pc) else {
            return;
        };
        match &spec.check {
            Check::Log(pattern) => {
                let w = self.logs.entry(key).or_insert_with(|| {
                    Rc::new(log::LogWatch::new(
                        key,
                        kind,
                        pattern.clone(),
                        self.tx.clone(),
                    ))
                });
                w.arm(pid);
            }
            Check::Notify => self.notify.arm(key, pid),
            Check::Tcp { .. } | Check::Http { .. } | Check::Exec(_) => {
                let target = match &spec.check {
                    Check::Exec(argv) => Target::Exec(exec::ExecSpec::new(argv, pc, config)),
                    other => Target::Net(other.clone()),
                };
                let tx = self.tx.clone();
                let report = move |report| {
                    let _ = tx.send(ProbeMsg {
                        key,
                        pid,
                        kind,
                        report,
                    });
                };
                let task = match kind {
                    ProbeKind::Ready => tokio::task::spawn_local(poll_check(
                        target,
                        self.exec.clone(),
                        spec.interval,
                        spec.try_timeout,
                        report,
                    )),
                    ProbeKind::Health => tokio::task::spawn_local(health::poll_health(
                        target,
                        self.exec.clone(),
                        spec.interval,
                        spec.try_timeout,
                        report,
                    )),
                };
                self.tasks.insert((key, kind), task);
            }
        }
    }

    /// Stops the probe of `kind` for `key` (the core's `StopProbe`, or a new start).
    pub fn stop(&mut self, key: ProcKey, _pid: i32, kind: ProbeKind) {
        if let Some(t) = self.tasks.remove(&(key, kind)) {
            t.abort();
        }
        // log: and notify are readiness checks only.
        if kind == ProbeKind::Ready {
            if let Some(w) = self.logs.get(&key) {
                w.disarm();
            }
            self.notify.disarm(key);
        }
    }

    /// The process `key` is gone (its group was removed): stop everything of it and
    /// remove its notify socket.
    pub fn forget(&mut self, key: ProcKey) {
        self.stop(key, 0, ProbeKind::Ready);
        self.stop(key, 0, ProbeKind::Health);
        self.logs.remove(&key);
        self.notify.remove(key);
    }

    /// The loop reaped `pid` with raw wait `status`: true when it was an exec probe's
    /// child (its status goes to the probe; the loop must not treat it as a process).
    pub fn reaped(&mut self, pid: i32, status: i32) -> bool {
        self.exec.reaped(pid, status)
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        for (_, t) in self.tasks.drain() {
            t.abort();
        }
    }
}

/// One check of a process as a probe performs it: what, how often, how long a try.
/// Each [`ProbeKind`] maps a process config onto one (the `ready=` keys for
/// [`ProbeKind::Ready`], the `healthcheck*` keys for [`ProbeKind::Health`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// The check.
    pub check: Check,
    /// Time between two tries of a polled check.
    pub interval: Duration,
    /// The longest one try may take.
    pub try_timeout: Duration,
}

impl CheckSpec {
    /// The check of `kind` configured for `pc`, if any.
    pub fn of(kind: ProbeKind, pc: &ProcessConfig) -> Option<CheckSpec> {
        match kind {
            ProbeKind::Ready => {
                let rc = pc.ready.as_ref()?;
                Some(CheckSpec {
                    check: rc.check.clone(),
                    interval: Duration::from_secs_f64(rc.interval),
                    // A try ends (and says why) before the wait itself gives up.
                    try_timeout: READY_TRY_TIMEOUT
                        .min(Duration::from_secs_f64((rc.timeout * 0.8).max(0.001))),
                })
            }
            ProbeKind::Health => {
                let hc = pc.health.as_ref()?;
                Some(CheckSpec {
                    check: hc.check.clone(),
                    interval: Duration::from_secs_f64(hc.interval),
                    try_timeout: Duration::from_secs_f64(hc.timeout),
                })
            }
        }
    }
}

/// What a poll task tries.
#[derive(Debug)]
pub enum Target {
    /// A tcp:// or http:// check.
    Net(Check),
    /// An exec: check, ready to run.
    Exec(exec::ExecSpec),
}

/// Tries `target` until it passes: one try per `interval`, each bounded by
/// `try_timeout`. Reports each new failure reason once, and the pass; then ends.
pub async fn poll_check(
    target: Target,
    children: exec::ExecChildren,
    interval: Duration,
    try_timeout: Duration,
    report: impl Fn(ProbeReport),
) {
    let mut last: Option<String> = None;
    loop {
        let result = health::try_target(&target, &children, try_timeout).await;
        match result {
            Ok(()) => {
                report(ProbeReport::Passed);
                return;
            }
            Err(reason) => {
                if last.as_deref() != Some(reason.as_str()) {
                    report(ProbeReport::Failed(reason.clone()));
                    last = Some(reason);
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// `5s`, `0.5s`.
pub(crate) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn a_poll_reports_each_new_failure_once_then_the_pass_and_ends() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            drop(l);
            let seen = Rc::new(RefCell::new(Vec::new()));
            let s2 = seen.clone();
            let task = tokio::task::spawn_local(poll_check(
                Target::Net(Check::Tcp {
                    host: "127.0.0.1".into(),
                    port,
                }),
                exec::ExecChildren::default(),
                Duration::from_millis(10),
                Duration::from_secs(1),
                move |r| s2.borrow_mut().push(r),
            ));
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert_eq!(
                *seen.borrow(),
                vec![ProbeReport::Failed("connection refused".into())],
                "many tries, one report"
            );
            let _l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("the poll ends after the pass")
                .unwrap();
            assert_eq!(seen.borrow().last(), Some(&ProbeReport::Passed));
        });
    }

    #[test]
    fn exec_tries_see_the_exit_status_through_the_reaper() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let children = exec::ExecChildren::default();
            // The loop's reaper, in small (by pid: other tests of this process have
            // children of their own): statuses are handed to the probes.
            let reaper_children = children.clone();
            let reaper = tokio::task::spawn_local(async move {
                loop {
                    for pid in reaper_children.pids() {
                        if let Ok(nix::sys::wait::WaitStatus::Exited(_, code)) =
                            nix::sys::wait::waitpid(
                                nix::unistd::Pid::from_raw(pid),
                                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
                            )
                        {
                            reaper_children.reaped(pid, (code & 0xff) << 8);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            let env: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os().collect();
            let spec = |argv: &[&str]| {
                exec::ExecSpec::from_parts(
                    argv.iter().map(|s| s.to_string()).collect(),
                    env.clone(),
                )
            };
            let t = Duration::from_secs(5);
            assert_eq!(exec::try_once(&spec(&["true"]), &children, t).await, Ok(()));
            assert_eq!(
                exec::try_once(&spec(&["sh", "-c", "exit 3"]), &children, t).await,
                Err("exit status 3".into())
            );
            assert!(exec::try_once(&spec(&["/nonexistent/x"]), &children, t)
                .await
                .unwrap_err()
                .starts_with("can't run \"/nonexistent/x\""));
            assert_eq!(children.alive(), 0);
            reaper.abort();
        });
    }
}
