//! The rotation timer: `daily`/`hourly` logs are rotated at their boundary even when
//! nothing is written then (a write after the boundary rotates first anyway, see
//! [`RotatingFile`](super::RotatingFile)), so yesterday's lines leave the live file at
//! midnight, as with logrotate, and compression and `maxage` run on time.
//!
//! One task on the loop's thread sleeps until the earliest boundary of the registered
//! logs (at most [`MAX_SLEEP`], so a wall-clock change or a suspend is noticed), then
//! lets each log whose period is over rotate. Logs register when they are opened; the
//! registry holds weak references only, so a removed group's logs simply drop out. With
//! no time-rotated log the task waits for a registration and never wakes.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::childlog::ChannelLogger;
use super::mainlog::MainLog;

/// The longest sleep between two looks at the clock.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Registry {
    channels: Vec<Weak<RefCell<ChannelLogger>>>,
    main: Option<Weak<RefCell<MainLog>>>,
    wake: Rc<Notify>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// Registers a child log channel (only if it rotates by time).
pub fn register_channel(logger: &Rc<RefCell<ChannelLogger>>) {
    if !logger.borrow().time_rotated() {
        return;
    }
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.channels.retain(|w| w.strong_count() > 0);
        r.channels.push(Rc::downgrade(logger));
        r.wake.notify_one();
    });
}

/// Registers the main log (only if it rotates by time).
pub fn register_main(log: &Rc<RefCell<MainLog>>) {
    if log.borrow().next_rotation().is_none() {
        return;
    }
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.main = Some(Rc::downgrade(log));
        r.wake.notify_one();
    });
}

/// The earliest boundary among the registered logs that are still alive, and whether
/// any is registered at all (an AUTO file not created yet has no boundary yet).
fn earliest() -> (Option<DateTime<Utc>>, bool) {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.channels.retain(|w| w.strong_count() > 0);
        let any = !r.channels.is_empty() || r.main.as_ref().is_some_and(|w| w.strong_count() > 0);
        let channels = r
            .channels
            .iter()
            .filter_map(Weak::upgrade)
            .filter_map(|c| c.borrow().next_rotation());
        let main = r
            .main
            .as_ref()
            .and_then(Weak::upgrade)
            .and_then(|m| m.borrow().next_rotation());
        (channels.chain(main).min(), any)
    })
}

/// Lets every registered log whose period is over rotate.
fn rotate_due() {
    let (channels, main) = REGISTRY.with(|r| {
        let r = r.borrow();
        let channels: Vec<_> = r.channels.iter().filter_map(Weak::upgrade).collect();
        (channels, r.main.as_ref().and_then(Weak::upgrade))
    });
    for c in channels {
        // A reader task holds the channel only while feeding it, never across an await.
        if let Ok(mut c) = c.try_borrow_mut() {
            c.rotate_if_due();
        }
    }
    if let Some(m) = main {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.rotate_if_due();
        }
    }
}

/// The shortest sleep: a boundary is met at most this late (a write in between rotates
/// by itself), and a log that could not rotate is not retried in a busy loop.
pub const MIN_SLEEP: Duration = Duration::from_secs(1);

/// How long to sleep before the boundary `next` (between [`MIN_SLEEP`] and
/// [`MAX_SLEEP`]).
pub fn sleep_for(next: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (next - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .clamp(MIN_SLEEP, MAX_SLEEP)
}

/// The timer task (spawned once per run of the loop).
pub async fn run() {
    let wake = REGISTRY.with(|r| r.borrow().wake.clone());
    loop {
        let pause = match earliest() {
            (None, false) => {
                wake.notified().await;
                continue;
            }
            (None, true) => MAX_SLEEP,
            (Some(next), _) => sleep_for(next, Utc::now()),
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => rotate_due(),
            () = wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_are_bounded() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let soon = DateTime::from_timestamp(1_000_010, 0).unwrap();
        let far = DateTime::from_timestamp(1_100_000, 0).unwrap();
        let past = DateTime::from_timestamp(999_000, 0).unwrap();
        assert_eq!(sleep_for(soon, now), Duration::from_secs(10));
        assert_eq!(sleep_for(far, now), MAX_SLEEP);
        assert_eq!(sleep_for(past, now), MIN_SLEEP);
    }

    thread_local! {
        static FAKE: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
    }
    fn fake_now() -> DateTime<Utc> {
        DateTime::from_timestamp(FAKE.with(|c| c.get()), 0).unwrap()
    }
    /// Every hour on the hour (UTC), whatever the schedule says.
    fn every_hour(_: supervisor_config::RotateWhen, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp((t.timestamp() / 3600 + 1) * 3600, 0)
    }

    /// A quiet hourly log is rotated by the timer once its hour is over (fake clock),
    /// not before; a log that is dropped leaves the registry.
    #[test]
    fn a_quiet_log_rotates_at_its_boundary() {
        use super::super::rotating::{numbered, RotateOptions, RotatingFile};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.log");
        FAKE.with(|c| c.set(1_700_000_000)); // 22:13:20 UTC
        let opts = RotateOptions {
            maxbytes: 0,
            backups: 5,
            rotation: supervisor_config::LogRotation {
                when: supervisor_config::RotateWhen::Hourly,
                ..Default::default()
            },
        };
        let file = RotatingFile::open_clocked(&p, &opts, fake_now, every_hour).unwrap();
        let logger = Rc::new(RefCell::new(ChannelLogger::for_file("q", file, true)));
        let mut out = Vec::new();
        logger.borrow_mut().feed(b"before\n", &mut out).unwrap();
        register_channel(&logger);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let task = tokio::task::spawn_local(run());
            tokio::time::sleep(MIN_SLEEP + Duration::from_millis(300)).await;
            assert!(!numbered(&p, 1).exists(), "the hour is not over");
            FAKE.with(|c| c.set(1_700_000_000 + 3600));
            let end = std::time::Instant::now() + Duration::from_secs(10);
            while !numbered(&p, 1).exists() {
                assert!(std::time::Instant::now() < end, "not rotated");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            task.abort();
        });
        assert_eq!(std::fs::read(numbered(&p, 1)).unwrap(), b"before\n");
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        drop(logger);
        assert_eq!(earliest(), (None, false));
    }
}
