//! Wall-clock text the pages show, computed from a time the caller passes in (this crate
//! reads no clock): `time.ctime()`-style stamps for action messages, and the uptime text of
//! RUNNING descriptions.

/// A moment as the caller's clock sees it: seconds since the Unix epoch and the local
/// offset from UTC in seconds (east positive) at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// Local offset from UTC in seconds (e.g. 3600 for UTC+1).
    pub utc_offset: i32,
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Broken-down local time: (year, month 1-12, day, hour, minute, second, weekday 0=Monday).
fn civil(t: LocalTime) -> (i64, u32, u32, u32, u32, u32, usize) {
    let local = t.unix + i64::from(t.utc_offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    // 1970-01-01 was a Thursday (index 3 when Monday is 0).
    let weekday = (days + 3).rem_euclid(7) as usize;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
        weekday,
    )
}

/// `time.ctime()` text, e.g. `Sat Nov 21 18:15:20 2026` (day of month padded with a space).
pub fn ctime(t: LocalTime) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(t);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[wd],
        MONTHS[(mo - 1) as usize],
        d,
        h,
        mi,
        s,
        y
    )
}

/// A short local stamp for the start/stop times of a row, e.g. `Nov 21 18:15:20`.
pub fn short_stamp(t: LocalTime) -> String {
    let (_, mo, d, h, mi, s, _) = civil(t);
    format!(
        "{} {:02} {:02}:{:02}:{:02}",
        MONTHS[(mo - 1) as usize],
        d,
        h,
        mi,
        s
    )
}

/// The local calendar year (for the page footer).
pub fn year(t: LocalTime) -> i64 {
    civil(t).0
}

/// Python `timedelta` text for a number of seconds, as RUNNING descriptions show uptime:
/// `0:01:02`, `1 day, 2:03:04`, `3 days, 0:00:09`. Negative input (clock set back) is 0.
pub fn uptime(seconds: i64) -> String {
    let s = seconds.max(0);
    let days = s / 86_400;
    let rest = s % 86_400;
    let hms = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => hms,
        1 => format!("1 day, {hms}"),
        n => format!("{n} days, {hms}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_python() {
        // time.ctime(1795284920) in UTC == 'Sat Nov 21 18:15:20 2026'
        let t = LocalTime {
            unix: 1_795_284_920,
            utc_offset: 0,
        };
        assert_eq!(ctime(t), "Sat Nov 21 18:15:20 2026");
        // Offsets move the wall clock, single-digit days are space padded.
        let t = LocalTime {
            unix: 1_793_491_200,
            utc_offset: 3600,
        }; // 2026-11-01T00:00Z
        assert_eq!(ctime(t), "Sun Nov  1 01:00:00 2026");
        assert_eq!(
            ctime(LocalTime {
                unix: 0,
                utc_offset: 0
            }),
            "Thu Jan  1 00:00:00 1970"
        );
        // Leap day.
        let t = LocalTime {
            unix: 1_709_208_000,
            utc_offset: 0,
        };
        assert_eq!(ctime(t), "Thu Feb 29 12:00:00 2024");
        assert_eq!(year(t), 2024);
    }

    #[test]
    fn uptime_matches_timedelta() {
        assert_eq!(uptime(62), "0:01:02");
        assert_eq!(uptime(86_400 + 2 * 3600 + 3 * 60 + 4), "1 day, 2:03:04");
        assert_eq!(uptime(3 * 86_400 + 9), "3 days, 0:00:09");
        assert_eq!(uptime(-5), "0:00:00");
    }
}
