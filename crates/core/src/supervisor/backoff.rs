//! Restart backoff (issue 15 item 3): how long BACKOFF waits, when it gives up, and the
//! `restart_delay` wait after a process that reached RUNNING exits.
//!
//! * Retries after a failed start (spawn error, exit before `startsecs`): the n-th retry
//!   waits `n` seconds with `backoff = linear` (the reference's rule, exactly, when none
//!   of the keys is set) or `2^(n-1)` seconds with `backoff = exponential`, capped at
//!   `backoff_max` (default 60 for exponential; linear is only capped when `backoff_max`
//!   is set). `retry_forever = true` never gives up to FATAL.
//! * `restart_delay = S`: a process that exited after reaching RUNNING, and that
//!   `autorestart` restarts, first waits S seconds in BACKOFF (description `restarting in
//!   4s`; the backoff counter `tries` stays 0, so the wait never counts against
//!   `startretries`). With `backoff = exponential` the wait doubles on each consecutive
//!   such crash (capped like the retries) and starts over once a run stayed RUNNING for
//!   `backoff_reset` seconds.
//! * `backoff_jitter = J`: every wait is multiplied by `1 - J*u`, `u` uniform in [0, 1)
//!   from the host ([`Host::random_fraction`](crate::Host::random_fraction)): the core
//!   holds no random state of its own, so the tests replay any sequence. A wait thus
//!   always lies in `[base*(1-J), min(base, cap)]`.

use super::*;
use supervisor_config::{BackoffKind, RestartPolicy};

/// The per-process state of `restart_delay`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RestartWait {
    /// In BACKOFF because of `restart_delay` (not a failed start).
    pub waiting: bool,
    /// Consecutive exits after RUNNING (the exponent of the doubling).
    pub crashes: u32,
    /// Monotonic time the current run entered RUNNING.
    pub running_since: Option<f64>,
    /// Wall time of the delayed restart while waiting (for the description).
    pub due_wall: f64,
}

/// The exponential factor `2^n` without overflow (every `n` past 1023 is infinite).
fn pow2(n: u32) -> f64 {
    2f64.powi(n.min(1100) as i32)
}

/// Applies the cap and the jitter to `base` (`u` in [0, 1)).
fn shape(policy: &RestartPolicy, base: f64, u: f64) -> f64 {
    let capped = base.min(policy.cap());
    let u = if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.0
    };
    capped * (1.0 - policy.jitter * u)
}

/// The wait (seconds) before retry number `tries` (1 = the first retry) after a failed
/// start; `u` is the random fraction (unused when `backoff_jitter` is 0).
pub(crate) fn retry_delay(policy: &RestartPolicy, tries: u32, u: f64) -> f64 {
    let base = match policy.kind {
        BackoffKind::Linear => f64::from(tries),
        BackoffKind::Exponential => pow2(tries.saturating_sub(1)),
    };
    shape(policy, base, u)
}

/// The `restart_delay` wait after the `crashes`-th consecutive exit after RUNNING
/// (0 = the first).
pub(crate) fn restart_wait(policy: &RestartPolicy, crashes: u32, u: f64) -> f64 {
    let base = match policy.kind {
        BackoffKind::Linear => policy.restart_delay,
        BackoffKind::Exponential => policy.restart_delay * pow2(crashes),
    };
    shape(policy, base, u)
}

impl Process {
    /// Whether the BACKOFF retries are used up (never with `retry_forever`).
    pub(crate) fn retries_exhausted(&self) -> bool {
        !self.config.restart.retry_forever && self.backoff > self.config.startretries
    }

    /// A random fraction from the host, asked only when the policy has jitter.
    fn jitter_draw(&self, ctx: &mut Ctx<'_>) -> f64 {
        if self.config.restart.jitter > 0.0 {
            ctx.host.random_fraction()
        } else {
            0.0
        }
    }

    /// Entering BACKOFF: a `restart_delay` wait keeps its deadline (set by
    /// [`delay_restart`](Process::delay_restart)); a failed start bumps the counter and
    /// sets the retry time.
    pub(crate) fn enter_backoff(&mut self, ctx: &mut Ctx<'_>) {
        if self.restart_wait.waiting {
            return;
        }
        self.backoff = self.backoff.saturating_add(1);
        let u = self.jitter_draw(ctx);
        self.delay = ctx.now.mono + retry_delay(&self.config.restart, self.backoff, u);
    }

    /// Keeps the `restart_delay` bookkeeping in step with a state change.
    pub(crate) fn restart_state_changed(&mut self, now: f64, new: ProcessState) {
        if new != ProcessState::Backoff {
            self.restart_wait.waiting = false;
        }
        if new == ProcessState::Running {
            self.restart_wait.running_since = Some(now);
        }
    }

    /// Called when a run that reached RUNNING has ended (now EXITED): with
    /// `restart_delay` set and `autorestart` asking for a restart, waits in BACKOFF
    /// instead of restarting at once. Returns true when it did.
    pub(crate) fn delay_restart(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let policy = self.config.restart;
        if policy.restart_delay <= 0.0 || !self.autorestarts() {
            return false;
        }
        let now = ctx.now.mono;
        let stayed = self
            .restart_wait
            .running_since
            .take()
            .map_or(0.0, |t| now - t);
        if stayed >= policy.reset {
            self.restart_wait.crashes = 0;
        }
        let u = self.jitter_draw(ctx);
        let wait = restart_wait(&policy, self.restart_wait.crashes, u);
        self.restart_wait.crashes = self.restart_wait.crashes.saturating_add(1);
        self.restart_wait.waiting = true;
        self.restart_wait.due_wall = ctx.now.wall + wait;
        self.delay = now + wait;
        self.change_state(ctx, ProcessState::Backoff, true);
        ctx.out.log(
            LogLevel::Info,
            format!(
                "delaying restart of {} by {} (restart_delay)",
                self.config.name,
                seconds_text(wait)
            ),
        );
        true
    }

    /// The description of a process waiting for its `restart_delay`: `restarting in 4s`
    /// (`None` when it is not waiting).
    pub fn restart_note(&self, now_mono: f64) -> Option<String> {
        if self.state != ProcessState::Backoff || !self.restart_wait.waiting {
            return None;
        }
        Some(restart_countdown(self.delay, now_mono))
    }

    /// Wall time of the delayed restart while waiting for `restart_delay`, else 0 (the
    /// runtime's description shows `restarting in 4s` from it).
    pub fn restart_due_wall(&self) -> f64 {
        if self.state == ProcessState::Backoff && self.restart_wait.waiting {
            self.restart_wait.due_wall
        } else {
            0.0
        }
    }
}

/// `restarting in 4s`: the whole seconds (rounded up) from `now` to `due`.
pub fn restart_countdown(due: f64, now: f64) -> String {
    let left = (due - now).max(0.0).ceil();
    format!("restarting in {}s", left as u64)
}

/// `4s`, `1.5s`, `2m 5s`, `1h 0m 3s`: a short human text of a number of seconds.
pub(crate) fn seconds_text(secs: f64) -> String {
    if secs < 60.0 {
        let r = (secs * 10.0).round() / 10.0;
        if r.fract() == 0.0 {
            format!("{}s", r as u64)
        } else {
            format!("{r:.1}s")
        }
    } else {
        let s = secs.round() as u64;
        if s < 3600 {
            format!("{}m {}s", s / 60, s % 60)
        } else {
            format!("{}h {}m {}s", s / 3600, (s % 3600) / 60, s % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exp(max: Option<f64>, jitter: f64) -> RestartPolicy {
        RestartPolicy {
            kind: BackoffKind::Exponential,
            max,
            jitter,
            ..RestartPolicy::default()
        }
    }

    #[test]
    fn linear_default_is_the_reference() {
        let p = RestartPolicy::default();
        for n in 1..200 {
            assert_eq!(retry_delay(&p, n, 0.7), f64::from(n));
        }
    }

    #[test]
    fn linear_with_a_cap() {
        let p = RestartPolicy {
            max: Some(5.0),
            ..RestartPolicy::default()
        };
        let d: Vec<f64> = (1..=8).map(|n| retry_delay(&p, n, 0.0)).collect();
        assert_eq!(d, [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0]);
    }

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let d: Vec<f64> = (1..=9)
            .map(|n| retry_delay(&exp(None, 0.0), n, 0.0))
            .collect();
        assert_eq!(d, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]);
        let d: Vec<f64> = (1..=5)
            .map(|n| retry_delay(&exp(Some(10.0), 0.0), n, 0.0))
            .collect();
        assert_eq!(d, [1.0, 2.0, 4.0, 8.0, 10.0]);
        assert_eq!(retry_delay(&exp(None, 0.0), u32::MAX, 0.0), 60.0);
    }

    #[test]
    fn restart_wait_doubles_with_exponential_only() {
        let lin = RestartPolicy {
            restart_delay: 3.0,
            ..RestartPolicy::default()
        };
        assert_eq!(restart_wait(&lin, 0, 0.0), 3.0);
        assert_eq!(restart_wait(&lin, 5, 0.0), 3.0);
        let e = RestartPolicy {
            restart_delay: 2.0,
            max: Some(20.0),
            ..exp(None, 0.0)
        };
        let d: Vec<f64> = (0..6).map(|c| restart_wait(&e, c, 0.0)).collect();
        assert_eq!(d, [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]);
    }

    #[test]
    fn jitter_spreads_downwards() {
        let p = exp(None, 0.5);
        assert_eq!(retry_delay(&p, 3, 0.0), 4.0);
        assert_eq!(retry_delay(&p, 3, 0.5), 3.0);
        assert!((retry_delay(&p, 3, 0.999_999) - 2.0).abs() < 1e-5);
        // a broken source never escapes the bounds
        assert_eq!(retry_delay(&p, 3, f64::NAN), 4.0);
        assert_eq!(retry_delay(&p, 3, 7.0), 2.0);
    }

    #[test]
    fn seconds_texts() {
        assert_eq!(seconds_text(4.0), "4s");
        assert_eq!(seconds_text(1.25), "1.3s");
        assert_eq!(seconds_text(125.0), "2m 5s");
        assert_eq!(seconds_text(3603.0), "1h 0m 3s");
        assert_eq!(restart_countdown(10.0, 6.5), "restarting in 4s");
        assert_eq!(restart_countdown(10.0, 11.0), "restarting in 0s");
        assert_eq!(restart_countdown(200.0, 0.0), "restarting in 200s");
    }

    proptest! {
        #[test]
        fn delays_stay_within_bounds(
            tries in 1u32..2000,
            crashes in 0u32..2000,
            jitter in 0.0f64..=1.0,
            u in 0.0f64..1.0,
            max in proptest::option::of(0.5f64..1000.0),
            delay in 0.0f64..100.0,
            exponential in any::<bool>(),
        ) {
            let p = RestartPolicy {
                kind: if exponential { BackoffKind::Exponential } else { BackoffKind::Linear },
                max,
                jitter,
                restart_delay: delay,
                ..RestartPolicy::default()
            };
            let cap = p.cap();
            let base = if exponential { 2f64.powi(tries as i32 - 1) } else { f64::from(tries) };
            let d = retry_delay(&p, tries, u);
            prop_assert!(d <= cap && d <= base, "{d} > {cap}");
            prop_assert!(d >= base.min(cap) * (1.0 - jitter) - 1e-9);
            prop_assert!(d >= 0.0);
            let base = if exponential { delay * 2f64.powi(crashes.min(1100) as i32) } else { delay };
            let w = restart_wait(&p, crashes, u);
            prop_assert!(w <= cap && w <= base);
            prop_assert!(w >= base.min(cap) * (1.0 - jitter) - 1e-9);
        }
    }
}
