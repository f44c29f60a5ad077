//! The resource figures of supervisor-rs's extension method
//! `supervisor_rs.getAllProcessStats`: `top` (a live view, or snapshots when stdout is not
//! a terminal), `status -l` (extra columns) and the `stats` member of `status --json`.
//!
//! A server without the extension (the Python reference) answers UNKNOWN_METHOD: these
//! commands then print one clear line and exit with [`exit::UNIMPLEMENTED_FEATURE`] (3),
//! the status the client already uses for a server lacking what it needs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use supervisor_protocol::{FaultCode, Value};

use super::{exit, Controller};
use crate::error::CtlError;
use crate::namespec::make_namespec;
use crate::rpc::{array, member, member_int, member_str};

/// The extension method all of this reads.
pub const STATS_METHOD: &str = "supervisor_rs.getAllProcessStats";

/// The line printed when the server does not know [`STATS_METHOD`].
pub const NO_STATS: &str = "Error: this supervisord does not provide process stats (supervisor_rs.getAllProcessStats is unknown: it is not supervisor-rs)";

/// The default refresh interval of `top`, seconds.
pub const DEFAULT_DELAY: f64 = 2.0;

/// How `top` orders its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// CPU % first (highest on top), then memory.
    Cpu,
    /// RSS first, then CPU %.
    Mem,
    /// By name (`getAllProcessInfo` order).
    Name,
}

impl SortKey {
    fn parse(s: &str) -> Option<SortKey> {
        match s {
            "cpu" | "c" => Some(SortKey::Cpu),
            "mem" | "memory" | "rss" | "m" => Some(SortKey::Mem),
            "name" | "n" => Some(SortKey::Name),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SortKey::Cpu => "cpu",
            SortKey::Mem => "mem",
            SortKey::Name => "name",
        }
    }
}

/// One process's figures as the client uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `group:name` (or `name` when they are equal).
    pub namespec: String,
    /// State name.
    pub statename: String,
    /// Pid (0 = none).
    pub pid: i64,
    /// CPU %.
    pub cpu_percent: f64,
    /// CPU seconds.
    pub cpu_seconds: f64,
    /// Resident memory, KiB.
    pub rss_kb: i64,
    /// Open descriptors.
    pub fds: i64,
    /// Threads.
    pub threads: i64,
    /// Restarts since the daemon started.
    pub restarts: i64,
    /// Seconds since the last start (0 without a pid).
    pub uptime: i64,
    /// Whether the figures were sampled (the process has a pid).
    pub available: bool,
    /// The struct as the server sent it.
    pub raw: Value,
}

impl Row {
    /// Reads one `getProcessStats` struct.
    pub fn from_value(v: &Value) -> Result<Row, CtlError> {
        let dbl = |k: &str| match member(v, k) {
            Ok(Value::Double(d)) => *d,
            Ok(Value::Int(i)) => *i as f64,
            _ => 0.0,
        };
        Ok(Row {
            namespec: make_namespec(&member_str(v, "group")?, &member_str(v, "name")?),
            statename: member_str(v, "statename")?,
            pid: member_int(v, "pid")?,
            cpu_percent: dbl("cpu_percent"),
            cpu_seconds: dbl("cpu_seconds"),
            rss_kb: member_int(v, "rss_kb").unwrap_or(0),
            fds: member_int(v, "fds").unwrap_or(0),
            threads: member_int(v, "threads").unwrap_or(0),
            restarts: member_int(v, "restarts").unwrap_or(0),
            uptime: member_int(v, "uptime").unwrap_or(0),
            available: member(v, "available").is_ok_and(crate::rpc::truthy),
            raw: v.clone(),
        })
    }
}

/// A size in KiB as `512K`, `3.1M`, `1.2G` (`-` when not sampled).
pub fn human_kb(kb: i64, available: bool) -> String {
    if !available {
        return "-".into();
    }
    let kb = kb.max(0) as f64;
    if kb < 1024.0 {
        format!("{kb:.0}K")
    } else if kb < 1024.0 * 1024.0 {
        format!("{:.1}M", kb / 1024.0)
    } else {
        format!("{:.1}G", kb / (1024.0 * 1024.0))
    }
}

/// Seconds as `H:MM:SS` (days as `Nd H:MM:SS`), `-` for 0.
pub fn human_uptime(secs: i64) -> String {
    if secs <= 0 {
        return "-".into();
    }
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}")
    }
}

/// Sorts rows by `key` (ties by name).
pub fn sort_rows(rows: &mut [Row], key: SortKey) {
    rows.sort_by(|a, b| {
        let by = match key {
            SortKey::Cpu => b
                .cpu_percent
                .total_cmp(&a.cpu_percent)
                .then(b.rss_kb.cmp(&a.rss_kb)),
            SortKey::Mem => b
                .rss_kb
                .cmp(&a.rss_kb)
                .then(b.cpu_percent.total_cmp(&a.cpu_percent)),
            SortKey::Name => std::cmp::Ordering::Equal,
        };
        by.then_with(|| a.namespec.cmp(&b.namespec))
    });
}

/// Left-aligned text columns then right-aligned number columns, each as wide as its
/// widest cell, joined by two spaces; trailing spaces trimmed.
fn align(rows: &[Vec<String>], right_from: usize, last_free: bool) -> Vec<String> {
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; ncols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let w = widths[i];
                    if last_free && i + 1 == ncols {
                        c.clone()
                    } else if i >= right_from {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

fn cpu_cell(r: &Row) -> String {
    if r.available {
        format!("{:.1}", r.cpu_percent)
    } else {
        "-".into()
    }
}

fn num_cell(n: i64, available: bool) -> String {
    if available {
        n.to_string()
    } else {
        "-".into()
    }
}

/// The `top` table: a header and one line per row.
pub fn top_table(rows: &[Row]) -> Vec<String> {
    let mut cells = vec![[
        "NAME", "STATE", "PID", "CPU%", "CPU TIME", "RSS", "FDS", "THREADS", "RESTARTS", "UPTIME",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for r in rows {
        cells.push(vec![
            r.namespec.clone(),
            r.statename.clone(),
            if r.pid > 0 {
                r.pid.to_string()
            } else {
                "-".into()
            },
            cpu_cell(r),
            if r.available {
                format!("{:.2}", r.cpu_seconds)
            } else {
                "-".into()
            },
            human_kb(r.rss_kb, r.available),
            num_cell(r.fds, r.available),
            num_cell(r.threads, r.available),
            r.restarts.to_string(),
            human_uptime(r.uptime),
        ]);
    }
    align(&cells, 2, false)
}

/// The `status -l` lines: name, state, CPU%, RSS, FDS, THREADS, RESTARTS, then the
/// usual description; a header first.
pub fn status_long_lines(
    infos: &[&Value],
    stats: &HashMap<String, Row>,
) -> Result<Vec<String>, CtlError> {
    let mut cells = vec![[
        "NAME",
        "STATE",
        "CPU%",
        "RSS",
        "FDS",
        "THREADS",
        "RESTARTS",
        "DESCRIPTION",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for info in infos {
        let ns = make_namespec(&member_str(info, "group")?, &member_str(info, "name")?);
        let st = stats.get(&ns);
        let avail = st.is_some_and(|r| r.available);
        let r = st.cloned();
        cells.push(vec![
            ns,
            member_str(info, "statename")?,
            r.as_ref().map_or("-".into(), cpu_cell),
            human_kb(r.as_ref().map_or(0, |r| r.rss_kb), avail),
            num_cell(r.as_ref().map_or(0, |r| r.fds), avail),
            num_cell(r.as_ref().map_or(0, |r| r.threads), avail),
            r.as_ref().map_or("-".into(), |r| r.restarts.to_string()),
            member_str(info, "description")?,
        ]);
    }
    Ok(align(&cells, 2, true))
}

/// The `stats` object of `status --json` (numbers as numbers, RSS in bytes too).
pub fn stats_json(r: &Row) -> serde_json::Value {
    serde_json::json!({
        "available": r.available,
        "cpu_percent": r.cpu_percent,
        "cpu_seconds": r.cpu_seconds,
        "rss_kb": r.rss_kb,
        "rss_bytes": r.rss_kb * 1024,
        "fds": r.fds,
        "threads": r.threads,
        "processes": member_int(&r.raw, "processes").unwrap_or(0),
        "restarts": r.restarts,
        "uptime": r.uptime,
        "last_exitstatus": member_int(&r.raw, "exitstatus").unwrap_or(0),
        "cpu_source": member_str(&r.raw, "cpu_source").unwrap_or_default(),
    })
}

/// `top`'s options.
#[derive(Debug, Clone, PartialEq)]
pub struct TopOptions {
    /// Seconds between refreshes.
    pub delay: f64,
    /// Snapshots to print (`None`: live until `q` on a terminal, one otherwise).
    pub count: Option<u64>,
    /// Row order.
    pub sort: SortKey,
    /// Namespecs (or group names) to show; empty = all.
    pub names: Vec<String>,
}

/// Parses `top`'s arguments: `-d SECONDS`, `-n COUNT`, `--sort cpu|mem|name` (or
/// `-s`), names.
pub fn parse_top_args(arg: &str) -> Result<TopOptions, String> {
    let mut o = TopOptions {
        delay: DEFAULT_DELAY,
        count: None,
        sort: SortKey::Cpu,
        names: Vec::new(),
    };
    let mut words = arg.split_whitespace();
    while let Some(w) = words.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v)),
            _ => (w, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .map(str::to_string)
                .or_else(|| words.next().map(str::to_string))
                .ok_or_else(|| format!("Error: {flag} needs {what}"))
        };
        match flag {
            "-d" | "--delay" => {
                let v = value("a number of seconds")?;
                match v.parse::<f64>() {
                    Ok(d) if d.is_finite() && d >= 0.1 => o.delay = d,
                    _ => return Err(format!("Error: bad delay {v:?} (at least 0.1 seconds)")),
                }
            }
            "-n" | "--iterations" => {
                let v = value("a count")?;
                match v.parse::<u64>() {
                    Ok(n) if n > 0 => o.count = Some(n),
                    _ => return Err(format!("Error: bad count {v:?}")),
                }
            }
            "-s" | "--sort" => {
                let v = value("cpu, mem or name")?;
                o.sort = SortKey::parse(&v)
                    .ok_or_else(|| format!("Error: bad sort key {v:?} (cpu, mem or name)"))?;
            }
            _ if flag.starts_with('-') => return Err(format!("Error: unknown option {w}")),
            _ => o.names.push(w.to_string()),
        }
    }
    Ok(o)
}

/// Whether `row` is selected by `names` (`name`, `group:name`, `group:*`, `group`).
fn selected(row: &Row, names: &[String]) -> bool {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return true;
    }
    let group = member_str(&row.raw, "group").unwrap_or_default();
    let name = member_str(&row.raw, "name").unwrap_or_default();
    names.iter().any(|n| match n.split_once(':') {
        Some((g, "*")) => g == group,
        Some((g, p)) => g == group && p == name,
        None => n == &group || n == &name || *n == row.namespec,
    })
}

/// Restores the terminal's attributes (and shows the cursor) when dropped.
struct RawTerminal {
    old: libc::termios,
}

impl RawTerminal {
    /// Turns off line buffering, echo and signal keys on stdin (Ctrl-C arrives as a
    /// byte); `None` when stdin is not a terminal.
    fn enter() -> Option<RawTerminal> {
        // SAFETY: termios is plain old data, so all-zero is a valid value; tcgetattr fills
        // it and tcsetattr only reads it, through pointers to these live locals, on fd 0,
        // which stays open for the life of the process.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let old = t;
            t.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
            t.c_cc[libc::VMIN] = 0;
            t.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return None;
            }
            Some(RawTerminal { old })
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: tcsetattr only reads `self.old` (the attributes tcgetattr filled in) on
        // fd 0, still open.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.old);
        }
    }
}

/// Waits up to `timeout` for a key on stdin; the byte read, if any.
fn read_key(timeout: Duration) -> Option<u8> {
    let mut pfd = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd that lives across the call, bounded timeout.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r <= 0 {
        return None;
    }
    let mut b = [0u8; 1];
    // SAFETY: reads at most one byte into a valid one-byte buffer.
    let n = unsafe { libc::read(0, b.as_mut_ptr().cast(), 1) };
    (n == 1).then_some(b[0])
}

/// The terminal's width and height (80x24 when unknown).
fn terminal_size() -> (usize, usize) {
    // SAFETY: winsize is plain old data; TIOCGWINSZ writes into this live local only.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0 {
            return (ws.ws_col as usize, ws.ws_row as usize);
        }
    }
    (80, 24)
}

fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

impl Controller {
    /// The rows of [`STATS_METHOD`], or `None` after printing [`NO_STATS`] (exit status
    /// 3) when the server does not have it.
    pub(super) fn fetch_stats(&mut self) -> Result<Option<Vec<Row>>, CtlError> {
        match self.call(STATS_METHOD, &[]) {
            Ok(v) => Ok(Some(
                array(v)
                    .iter()
                    .map(Row::from_value)
                    .collect::<Result<_, _>>()?,
            )),
            Err(CtlError::Fault(f)) if f.code == FaultCode::UnknownMethod.code() => {
                self.output(NO_STATS);
                self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The stats by namespec, for `status -l` / `--json`.
    pub(super) fn stats_by_namespec(&mut self) -> Result<Option<HashMap<String, Row>>, CtlError> {
        Ok(self
            .fetch_stats()?
            .map(|rows| rows.into_iter().map(|r| (r.namespec.clone(), r)).collect()))
    }

    fn top_frame(&mut self, o: &TopOptions, rows: &mut Vec<Row>) -> Vec<String> {
        rows.retain(|r| selected(r, &o.names));
        sort_rows(rows, o.sort);
        let running = rows.iter().filter(|r| r.statename == "RUNNING").count();
        let cpu: f64 = rows.iter().map(|r| r.cpu_percent).sum();
        let rss: i64 = rows.iter().map(|r| r.rss_kb).sum();
        let now = chrono_like_now();
        let mut lines = vec![format!(
            "supervisor-rs top - {now}  sort: {}  processes: {}, running: {running}  cpu: {cpu:.1}%  rss: {}  every {}s",
            o.sort.as_str(),
            rows.len(),
            human_kb(rss, true),
            o.delay
        )];
        lines.extend(top_table(rows));
        lines
    }

    /// `top [-d SECONDS] [-n COUNT] [--sort cpu|mem|name] [name ...]`.
    pub(super) fn do_top(&mut self, arg: &str) -> Result<(), CtlError> {
        let mut o = match parse_top_args(arg) {
            Ok(o) => o,
            Err(e) => {
                self.output(&e);
                self.exitstatus = exit::INVALID_ARGS;
                self.help("top");
                return Ok(());
            }
        };
        if !self.upcheck()? {
            return Ok(());
        }
        let live = o.count.is_none() && is_tty(1) && is_tty(0);
        if !live {
            let n = o.count.unwrap_or(1);
            for i in 0..n {
                if i > 0 {
                    std::thread::sleep(Duration::from_secs_f64(o.delay));
                    self.output("");
                }
                let Some(mut rows) = self.fetch_stats()? else {
                    return Ok(());
                };
                for l in self.top_frame(&o, &mut rows) {
                    self.output(&l);
                }
            }
            return Ok(());
        }
        // Live: first make sure the server has the method, before touching the terminal.
        let Some(mut rows) = self.fetch_stats()? else {
            return Ok(());
        };
        let Some(raw) = RawTerminal::enter() else {
            for l in self.top_frame(&o, &mut rows) {
                self.output(&l);
            }
            return Ok(());
        };
        // Alternate screen, cursor hidden; both undone below whatever happens.
        let _ = write!(self.out(), "\x1b[?1049h\x1b[?25l");
        let result = (|| -> Result<(), CtlError> {
            loop {
                let (cols, lines) = terminal_size();
                let mut frame = self.top_frame(&o, &mut rows);
                frame.truncate(lines.saturating_sub(1).max(1));
                let mut screen = String::from("\x1b[H\x1b[2J");
                for l in &frame {
                    let cut: String = l.chars().take(cols).collect();
                    screen.push_str(&cut);
                    screen.push_str("\r\n");
                }
                screen.push_str("q quit  c sort by CPU  m sort by memory  n sort by name");
                let out = self.out();
                let _ = out.write_all(screen.as_bytes());
                let _ = out.flush();
                let until = Instant::now() + Duration::from_secs_f64(o.delay);
                loop {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match read_key(left) {
                        Some(b'q') | Some(b'Q') | Some(0x03) | Some(0x04) => return Ok(()),
                        Some(b'c') | Some(b'C') => {
                            o.sort = SortKey::Cpu;
                            break;
                        }
                        Some(b'm') | Some(b'M') => {
                            o.sort = SortKey::Mem;
                            break;
                        }
                        Some(b'n') | Some(b'N') => {
                            o.sort = SortKey::Name;
                            break;
                        }
                        _ => {}
                    }
                }
                rows = match self.fetch_stats()? {
                    Some(r) => r,
                    None => return Ok(()),
                };
            }
        })();
        let _ = write!(self.out(), "\x1b[?25h\x1b[?1049l");
        let _ = self.out().flush();
        drop(raw);
        result
    }
}

/// The local time as `HH:MM:SS` (from the C library's localtime).
fn chrono_like_now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: tm is plain old data; localtime_r writes only into this live local and
    // reads only `t`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return "??:??:??".into();
        }
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ns: &str, cpu: f64, rss_kb: i64) -> Row {
        Row {
            namespec: ns.into(),
            statename: "RUNNING".into(),
            pid: 10,
            cpu_percent: cpu,
            cpu_seconds: 1.0,
            rss_kb,
            fds: 4,
            threads: 1,
            restarts: 0,
            uptime: 65,
            available: true,
            raw: Value::Struct(vec![]),
        }
    }

    #[test]
    fn args() {
        let o = parse_top_args("-d 0.5 -n 3 --sort mem web").unwrap();
        assert_eq!(o.delay, 0.5);
        assert_eq!(o.count, Some(3));
        assert_eq!(o.sort, SortKey::Mem);
        assert_eq!(o.names, vec!["web".to_string()]);
        assert_eq!(parse_top_args("--sort=cpu").unwrap().sort, SortKey::Cpu);
        assert_eq!(parse_top_args("").unwrap().delay, DEFAULT_DELAY);
        assert!(parse_top_args("-d 0").is_err());
        assert!(parse_top_args("-d").is_err());
        assert!(parse_top_args("-n x").is_err());
        assert!(parse_top_args("--sort disk").is_err());
        assert!(parse_top_args("-x").is_err());
    }

    #[test]
    fn sorting_by_cpu_and_by_memory() {
        let mut rows = vec![row("a", 1.0, 900), row("b", 50.0, 10), row("c", 5.0, 5000)];
        sort_rows(&mut rows, SortKey::Cpu);
        let names = |r: &[Row]| r.iter().map(|r| r.namespec.clone()).collect::<Vec<_>>();
        assert_eq!(names(&rows), ["b", "c", "a"]);
        sort_rows(&mut rows, SortKey::Mem);
        assert_eq!(names(&rows), ["c", "a", "b"]);
        sort_rows(&mut rows, SortKey::Name);
        assert_eq!(names(&rows), ["a", "b", "c"]);
    }

    #[test]
    fn table_columns_are_aligned() {
        let t = top_table(&[row("web:web_0", 12.5, 2048), row("x", 100.0, 300)]);
        assert_eq!(t.len(), 3);
        assert!(t[0].starts_with("NAME       STATE    PID   CPU%"), "{t:?}");
        // Right-aligned numbers end in the same column.
        let end = |l: &str, s: &str| l.find(s).unwrap() + s.len();
        assert_eq!(end(&t[1], "12.5"), end(&t[2], "100.0"));
        assert!(t[1].contains("2.0M") && t[2].contains("300K"));
        assert!(t[1].ends_with("0:01:05"));
    }

    #[test]
    fn human_units() {
        assert_eq!(human_kb(512, true), "512K");
        assert_eq!(human_kb(3 * 1024 + 100, true), "3.1M");
        assert_eq!(human_kb(2 * 1024 * 1024, true), "2.0G");
        assert_eq!(human_kb(5, false), "-");
        assert_eq!(human_uptime(0), "-");
        assert_eq!(human_uptime(3725), "1:02:05");
        assert_eq!(human_uptime(90000), "1d 1:00:00");
    }
}
