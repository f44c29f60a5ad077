//! When a `daily` or `hourly` log rotates next: the first instant after `t` at which the
//! local calendar day (or local hour) is a different one. Pure functions of an instant
//! and a time zone, so the tests run them on a fake clock across real DST changes.
//!
//! The rule is "the local period changed", not "the wall clock shows 00:00": a day whose
//! midnight does not exist (clocks jump from 23:59:59 to 01:00, as in Chile or Cuba)
//! starts at the jump; an hour that is repeated when clocks go back is a new hour (the
//! UTC offset is part of an hour's identity); a half-hour DST change (Lord Howe Island)
//! starts a new hour at the jump. Time zone offsets and DST changes fall on whole
//! minutes, but the search below does not rely on it: it steps in 15-minute UTC marks
//! and then narrows the change down to the second.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, TimeZone, Timelike, Utc};
use supervisor_config::RotateWhen;

/// The identity of the local period that contains `t`.
#[derive(Debug, PartialEq, Eq)]
enum Period {
    Day(NaiveDate),
    Hour(NaiveDate, u32, FixedOffset),
}

fn period<Tz: TimeZone>(when: RotateWhen, tz: &Tz, t: DateTime<Utc>) -> Option<Period> {
    let local = tz.from_utc_datetime(&t.naive_utc());
    match when {
        RotateWhen::Size => None,
        RotateWhen::Daily => Some(Period::Day(local.date_naive())),
        RotateWhen::Hourly => Some(Period::Hour(
            local.date_naive(),
            local.hour(),
            local.offset().fix(),
        )),
    }
}

/// The first instant after `t` (to the second) that lies in another local day (`Daily`)
/// or another local hour (`Hourly`) of `tz` than `t`. `None` for `Size`.
pub fn next_boundary<Tz: TimeZone>(
    when: RotateWhen,
    tz: &Tz,
    t: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let here = period(when, tz, t)?;
    const STEP: i64 = 15 * 60;
    let secs = t.timestamp();
    // The next 15-minute mark strictly after t, then on in steps of 15 minutes: a day
    // has at most 25 hours and an hour (with its offset) at most 2, so this ends within
    // ~100 steps for any real zone; the cap only guards against a broken zone database.
    let mut mark = (secs.div_euclid(STEP) + 1) * STEP;
    let mut before = secs;
    for _ in 0..(30 * 24 * 4) {
        let at = DateTime::<Utc>::from_timestamp(mark, 0)?;
        if period(when, tz, at).as_ref() != Some(&here) {
            // The change happened in (before, mark]: find its first second.
            let (mut lo, mut hi) = (before, mark);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let m = DateTime::<Utc>::from_timestamp(mid, 0)?;
                if period(when, tz, m).as_ref() == Some(&here) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return DateTime::<Utc>::from_timestamp(hi, 0);
        }
        before = mark;
        mark += STEP;
    }
    None
}

/// [`next_boundary`] in the system's local time zone (`TZ`, `/etc/localtime`).
pub fn next_local_boundary(when: RotateWhen, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_boundary(when, &chrono::Local, t)
}

/// A short label of the period containing `t` in `tz`, for messages and tests:
/// `2026-03-29` or `2026-03-29T02+02:00`.
pub fn period_label<Tz: TimeZone>(when: RotateWhen, tz: &Tz, t: DateTime<Utc>) -> String {
    match period(when, tz, t) {
        None => String::new(),
        Some(Period::Day(d)) => format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
        Some(Period::Hour(d, h, o)) => {
            format!("{:04}-{:02}-{:02}T{h:02}{o}", d.year(), d.month(), d.day())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local<T: TimeZone>(tz: &T, t: DateTime<Utc>) -> String
    where
        T::Offset: std::fmt::Display,
    {
        tz.from_utc_datetime(&t.naive_utc())
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string()
    }

    /// The boundaries after `start`, one after the other, as local times.
    fn chain(when: RotateWhen, tz: &Tz, start: &str, n: usize) -> Vec<String> {
        let mut t = utc(start);
        let mut out = Vec::new();
        for _ in 0..n {
            let b = next_boundary(when, tz, t).unwrap();
            assert!(b > t);
            out.push(local(tz, b));
            t = b;
        }
        out
    }

    #[test]
    fn size_has_no_boundary() {
        assert_eq!(
            next_boundary(RotateWhen::Size, &Utc, utc("2026-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn utc_days_and_hours() {
        let t = utc("2026-12-31T23:59:59Z");
        assert_eq!(
            next_boundary(RotateWhen::Daily, &Utc, t),
            Some(utc("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            next_boundary(RotateWhen::Hourly, &Utc, t),
            Some(utc("2027-01-01T00:00:00Z"))
        );
        // Exactly on a boundary: the next one, not the same instant.
        let t = utc("2027-01-01T00:00:00Z");
        assert_eq!(
            next_boundary(RotateWhen::Daily, &Utc, t),
            Some(utc("2027-01-02T00:00:00Z"))
        );
        assert_eq!(
            next_boundary(RotateWhen::Hourly, &Utc, t),
            Some(utc("2027-01-01T01:00:00Z"))
        );
        // Leap day.
        assert_eq!(
            next_boundary(RotateWhen::Daily, &Utc, utc("2028-02-28T12:00:00Z")),
            Some(utc("2028-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn fixed_offsets_that_are_not_whole_hours() {
        let india = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        assert_eq!(
            next_boundary(RotateWhen::Daily, &india, utc("2026-06-01T10:00:00Z")),
            Some(utc("2026-06-01T18:30:00Z"))
        );
        assert_eq!(
            next_boundary(RotateWhen::Hourly, &india, utc("2026-06-01T10:00:00Z")),
            Some(utc("2026-06-01T10:30:00Z"))
        );
        // An offset with seconds (historic local mean time): found to the second.
        let odd = FixedOffset::east_opt(17 * 60 + 30).unwrap();
        assert_eq!(
            next_boundary(RotateWhen::Hourly, &odd, utc("2026-06-01T10:00:00Z")),
            Some(utc("2026-06-01T10:42:30Z"))
        );
    }

    #[test]
    fn new_york_spring_forward_and_fall_back() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08 02:00 EST -> 03:00 EDT: the 02:00 hour does not exist.
        assert_eq!(
            chain(RotateWhen::Hourly, &ny, "2026-03-08T05:30:00Z", 3),
            [
                "2026-03-08 01:00:00 -05:00",
                "2026-03-08 03:00:00 -04:00",
                "2026-03-08 04:00:00 -04:00"
            ]
        );
        // 2026-11-01 02:00 EDT -> 01:00 EST: 01:00 comes twice, both are new hours.
        assert_eq!(
            chain(RotateWhen::Hourly, &ny, "2026-11-01T04:30:00Z", 3),
            [
                "2026-11-01 01:00:00 -04:00",
                "2026-11-01 01:00:00 -05:00",
                "2026-11-01 02:00:00 -05:00"
            ]
        );
        // Days around both changes are 23 and 25 hours long; midnight stays midnight.
        assert_eq!(
            chain(RotateWhen::Daily, &ny, "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08 00:00:00 -05:00",
                "2026-03-09 00:00:00 -04:00",
                "2026-03-10 00:00:00 -04:00"
            ]
        );
        let d1 = next_boundary(RotateWhen::Daily, &ny, utc("2026-03-08T12:00:00Z")).unwrap();
        let d0 = next_boundary(RotateWhen::Daily, &ny, utc("2026-03-07T12:00:00Z")).unwrap();
        assert_eq!((d1 - d0).num_hours(), 23);
        let e1 = next_boundary(RotateWhen::Daily, &ny, utc("2026-11-01T12:00:00Z")).unwrap();
        let e0 = next_boundary(RotateWhen::Daily, &ny, utc("2026-10-31T12:00:00Z")).unwrap();
        assert_eq!((e1 - e0).num_hours(), 25);
    }

    #[test]
    fn berlin_daily_is_local_midnight_in_winter_and_summer() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            chain(RotateWhen::Daily, &berlin, "2026-03-28T10:00:00Z", 3),
            [
                "2026-03-29 00:00:00 +01:00",
                "2026-03-30 00:00:00 +02:00",
                "2026-03-31 00:00:00 +02:00"
            ]
        );
        // The hourly chain through the change: 01:00, then 03:00 (02:00 never happens).
        assert_eq!(
            chain(RotateWhen::Hourly, &berlin, "2026-03-29T00:10:00Z", 2),
            ["2026-03-29 03:00:00 +02:00", "2026-03-29 04:00:00 +02:00"]
        );
    }

    #[test]
    fn chile_midnight_that_does_not_exist() {
        // America/Santiago, 2022-09-11: clocks jump from 23:59:59 -04 to 01:00:00 -03, so
        // the 11th starts at 01:00 local; 2023-04-02 they go back from 00:00 -03 to
        // 23:00 -04 on the 1st (its 23:00 hour comes twice), so the 2nd starts at the
        // one midnight there is, 00:00 -04.
        let cl: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(
            chain(RotateWhen::Daily, &cl, "2022-09-10T12:00:00Z", 2),
            ["2022-09-11 01:00:00 -03:00", "2022-09-12 00:00:00 -03:00"]
        );
        assert_eq!(
            chain(RotateWhen::Daily, &cl, "2023-04-01T12:00:00Z", 2),
            ["2023-04-02 00:00:00 -04:00", "2023-04-03 00:00:00 -04:00"]
        );
        // The hour repeated after going back is a new hour; the day is not new again.
        assert_eq!(
            chain(RotateWhen::Hourly, &cl, "2023-04-02T02:30:00Z", 2),
            ["2023-04-01 23:00:00 -04:00", "2023-04-02 00:00:00 -04:00"]
        );
    }

    #[test]
    fn lord_howe_half_hour_change() {
        // Australia/Lord_Howe, 2026-10-04 02:00 +10:30 -> 02:30 +11:00.
        let lh: Tz = "Australia/Lord_Howe".parse().unwrap();
        assert_eq!(
            chain(RotateWhen::Hourly, &lh, "2026-10-03T15:00:00Z", 3),
            [
                "2026-10-04 02:30:00 +11:00",
                "2026-10-04 03:00:00 +11:00",
                "2026-10-04 04:00:00 +11:00"
            ]
        );
        // 2026-04-05 02:00 +11:00 -> 01:30 +10:30: the 01:30 restart is a new hour.
        assert_eq!(
            chain(RotateWhen::Hourly, &lh, "2026-04-04T13:50:00Z", 3),
            [
                "2026-04-05 01:00:00 +11:00",
                "2026-04-05 01:30:00 +10:30",
                "2026-04-05 02:00:00 +10:30"
            ]
        );
    }

    #[test]
    fn every_boundary_of_a_year_is_a_period_change() {
        // A year of hourly and daily boundaries in a few zones: each boundary is in a
        // different period than the second before it, and nothing in between changes.
        for name in [
            "Europe/London",
            "America/Sao_Paulo",
            "Asia/Kolkata",
            "Pacific/Chatham",
        ] {
            let tz: Tz = name.parse().unwrap();
            for when in [RotateWhen::Hourly, RotateWhen::Daily] {
                let mut t = utc("2026-01-01T00:00:00Z");
                let end = utc("2027-01-01T00:00:00Z");
                let mut count = 0;
                while t < end {
                    let b = next_boundary(when, &tz, t).unwrap();
                    let before = b - chrono::Duration::seconds(1);
                    assert_eq!(period(when, &tz, t), period(when, &tz, before), "{name}");
                    assert_ne!(period(when, &tz, before), period(when, &tz, b), "{name}");
                    t = b;
                    count += 1;
                }
                let (lo, hi) = match when {
                    RotateWhen::Daily => (365, 366),
                    // Chatham's DST changes at 02:45 local jump over a :00 mark, which
                    // starts an hour at the jump and another 15 minutes later.
                    _ => (8759, 8763),
                };
                assert!((lo..=hi).contains(&count), "{name} {when:?}: {count}");
            }
        }
    }

    #[test]
    fn labels() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let t = utc("2026-03-29T01:30:00Z");
        assert_eq!(period_label(RotateWhen::Daily, &berlin, t), "2026-03-29");
        assert_eq!(
            period_label(RotateWhen::Hourly, &berlin, t),
            "2026-03-29T03+02:00"
        );
        assert_eq!(period_label(RotateWhen::Size, &berlin, t), "");
    }
}
