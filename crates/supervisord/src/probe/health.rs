//! Health-check polling (`healthcheck=`): the same tries as readiness checks
//! ([`super::net`], [`super::exec`]), but the task never ends by itself: it tries once
//! every `healthcheck_interval` while the process is RUNNING and reports every failure,
//! and the first pass after a failure (or the first try), for the core to count
//! (`supervisor/health.rs` in the core). The core
//! stops it ([`super::Probes::stop`]) when the process leaves RUNNING.
//!
//! Cost: one task wake-up per try, i.e. per interval (10 s by default) per checked
//! process, and a message to the loop only for a failure or a recovery; nothing at all
//! for processes without a check.

use std::time::Duration;

use crate::core::ProbeReport;

use super::{exec, net, secs, Target};

/// One try of `target`, bounded by `try_timeout`: `Ok` when the check passes, else why not.
pub async fn try_target(
    target: &Target,
    children: &exec::ExecChildren,
    try_timeout: Duration,
) -> Result<(), String> {
    match target {
        Target::Net(check) => {
            match tokio::time::timeout(try_timeout, net::try_once(check, try_timeout)).await {
                Ok(r) => r,
                Err(_) => Err(format!("timed out after {}", secs(try_timeout))),
            }
        }
        Target::Exec(spec) => exec::try_once(spec, children, try_timeout).await,
    }
}

/// Tries `target` every `interval` (the first try at once), each bounded by
/// `try_timeout`; reports each failure and the first pass of a run of passes. Runs until
/// it is aborted.
pub async fn poll_health(
    target: Target,
    children: exec::ExecChildren,
    interval: Duration,
    try_timeout: Duration,
    report: impl Fn(ProbeReport),
) {
    // Tries start on a fixed cadence: a slow try does not push the next ones back, and
    // a try that overruns the interval is followed by the next at once (never two at
    // the same time).
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A pass after a pass tells the core nothing (the count of failures is already 0):
    // only the first pass of a run of passes is reported, every failure is.
    let mut passing = false;
    loop {
        ticker.tick().await;
        match try_target(&target, &children, try_timeout).await {
            Ok(()) => {
                if !passing {
                    report(ProbeReport::Passed);
                }
                passing = true;
            }
            Err(reason) => {
                passing = false;
                report(ProbeReport::Failed(reason));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use supervisor_config::Check;

    #[test]
    fn failures_and_recoveries_are_reported_until_aborted() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let seen = Rc::new(RefCell::new(Vec::new()));
            let s2 = seen.clone();
            let task = tokio::task::spawn_local(poll_health(
                Target::Net(Check::Tcp {
                    host: "127.0.0.1".into(),
                    port,
                }),
                exec::ExecChildren::default(),
                Duration::from_millis(20),
                Duration::from_secs(1),
                move |r| s2.borrow_mut().push(r),
            ));
            tokio::time::sleep(Duration::from_millis(110)).await;
            // Several passing tries, one report.
            assert_eq!(*seen.borrow(), vec![ProbeReport::Passed]);
            drop(l);
            tokio::time::sleep(Duration::from_millis(110)).await;
            let failures = seen
                .borrow()
                .iter()
                .filter(|r| **r == ProbeReport::Failed("connection refused".into()))
                .count();
            assert!(
                failures >= 3,
                "each failed try is reported: {:?}",
                seen.borrow()
            );
            // A pass after failures is reported again, once.
            let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
            tokio::time::sleep(Duration::from_millis(110)).await;
            assert_eq!(seen.borrow().last(), Some(&ProbeReport::Passed));
            let passes = seen
                .borrow()
                .iter()
                .filter(|r| **r == ProbeReport::Passed)
                .count();
            assert_eq!(passes, 2, "{:?}", seen.borrow());
            drop(l);
            task.abort();
            let n = seen.borrow().len();
            tokio::time::sleep(Duration::from_millis(60)).await;
            assert_eq!(seen.borrow().len(), n, "nothing after the abort");
        });
    }
}
