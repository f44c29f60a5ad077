//! The texts users and scripts read: exit descriptions, signal names, uptimes and the
//! `description` column, spelled exactly as the reference prints them.

/// The reference's name for a signal number (`SIGTERM`), or `signal <n>` when it has none.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        16 => "SIGSTKFLT",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        20 => "SIGTSTP",
        21 => "SIGTTIN",
        22 => "SIGTTOU",
        23 => "SIGURG",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        26 => "SIGVTALRM",
        27 => "SIGPROF",
        28 => "SIGWINCH",
        29 => "SIGPOLL",
        30 => "SIGPWR",
        31 => "SIGSYS",
        34 => "SIGRTMIN",
        64 => "SIGRTMAX",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// A decoded `waitpid` status: the exit status the reference records (`-1` for a signal
/// death or anything else) and the human text (`exit status 3`, `terminated by SIGKILL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit code, or -1 when the process did not exit normally.
    pub code: i32,
    /// `exit status N`, `terminated by SIGX[ (core dumped)]` or `unknown termination cause 0x....`.
    pub text: String,
}

/// Decodes a raw `waitpid` status word with the Linux bit layout (pure arithmetic).
pub fn decode_wait_status(status: i32) -> ExitStatus {
    let termsig = status & 0x7f;
    if termsig == 0 {
        let code = (status >> 8) & 0xff;
        ExitStatus {
            code,
            text: format!("exit status {code}"),
        }
    } else if termsig != 0x7f {
        let mut text = format!("terminated by {}", signal_name(termsig));
        if status & 0x80 != 0 {
            text.push_str(" (core dumped)");
        }
        ExitStatus { code: -1, text }
    } else {
        ExitStatus {
            code: -1,
            text: format!("unknown termination cause 0x{status:04x}"),
        }
    }
}

/// Builds the raw wait status of a normal exit (for tests and fakes).
pub const fn wait_status_exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// Builds the raw wait status of a death by signal (for tests and fakes).
pub const fn wait_status_signaled(sig: i32, core: bool) -> i32 {
    (sig & 0x7f) | if core { 0x80 } else { 0 }
}

/// Python's `str(timedelta(seconds=n))` for whole seconds: `0:01:02`, `1 day, 2:03:04`.
/// Negative values (clock set back) render as `0:00:00`, as the reference clamps them.
pub fn timedelta_text(seconds: i64) -> String {
    let mut out = String::with_capacity(24);
    push_timedelta(&mut out, seconds);
    out
}

/// Appends [`timedelta_text`] of `seconds` to `out` (no allocation of its own).
pub fn push_timedelta(out: &mut String, seconds: i64) {
    let s = seconds.max(0) as u64;
    let days = s / 86_400;
    let rest = s % 86_400;
    match days {
        0 => {}
        1 => out.push_str("1 day, "),
        d => {
            push_decimal(out, d);
            out.push_str(" days, ");
        }
    }
    push_decimal(out, rest / 3600);
    out.push(':');
    push_two_digits(out, (rest % 3600) / 60);
    out.push(':');
    push_two_digits(out, rest % 60);
}

/// Appends `n` in decimal (what `{}` writes, without the formatting machinery).
pub fn push_decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends `n` (0..=99) as two digits (`{:02}`).
fn push_two_digits(out: &mut String, n: u64) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `strftime('%b %d %I:%M %p')` of an epoch time shifted by `utc_offset` seconds
/// (C locale month names), e.g. `Nov 21 06:14 PM`.
pub fn short_local_time(epoch: f64, utc_offset: i32) -> String {
    let t = epoch.floor() as i64 + i64::from(utc_offset);
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (_, month, day) = civil_from_days(days);
    let hour = secs / 3600;
    let minute = (secs % 3600) / 60;
    let (h12, ampm) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!(
        "{} {:02} {:02}:{:02} {}",
        MONTHS[(month - 1) as usize],
        day,
        h12,
        minute,
        ampm
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_descriptions() {
        assert_eq!(
            decode_wait_status(wait_status_exited(0)).text,
            "exit status 0"
        );
        assert_eq!(decode_wait_status(wait_status_exited(3)).code, 3);
        let d = decode_wait_status(wait_status_signaled(15, false));
        assert_eq!((d.code, d.text.as_str()), (-1, "terminated by SIGTERM"));
        assert_eq!(
            decode_wait_status(wait_status_signaled(11, true)).text,
            "terminated by SIGSEGV (core dumped)"
        );
        assert_eq!(
            decode_wait_status(wait_status_signaled(40, false)).text,
            "terminated by signal 40"
        );
        // A stopped-process status is neither an exit nor a signal death.
        assert_eq!(
            decode_wait_status(0x137f).text,
            "unknown termination cause 0x137f"
        );
    }

    #[test]
    fn timedeltas_like_python() {
        assert_eq!(timedelta_text(0), "0:00:00");
        assert_eq!(timedelta_text(62), "0:01:02");
        assert_eq!(
            timedelta_text(86_400 + 2 * 3600 + 3 * 60 + 4),
            "1 day, 2:03:04"
        );
        assert_eq!(timedelta_text(3 * 86_400 + 9), "3 days, 0:00:09");
        assert_eq!(timedelta_text(-5), "0:00:00");
        assert_eq!(timedelta_text(36_000), "10:00:00");
        assert_eq!(
            timedelta_text(100_000 * 86_400 + 59),
            "100000 days, 0:00:59"
        );
        let mut s = String::from("x");
        push_decimal(&mut s, u64::MAX);
        assert_eq!(s, format!("x{}", u64::MAX));
    }

    #[test]
    fn short_times() {
        // 2026-11-21 18:14:30 UTC
        let t = 1_795_284_870.0;
        assert_eq!(short_local_time(t, 0), "Nov 21 06:14 PM");
        assert_eq!(short_local_time(t, 3600), "Nov 21 07:14 PM");
        assert_eq!(short_local_time(0.0, 0), "Jan 01 12:00 AM");
        assert_eq!(short_local_time(12.0 * 3600.0, 0), "Jan 01 12:00 PM");
        assert_eq!(short_local_time(951_782_400.0, 0), "Feb 29 12:00 AM");
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(32), "signal 32");
        assert_eq!(signal_name(64), "SIGRTMAX");
    }
}
