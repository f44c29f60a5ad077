//! What the pages show: a snapshot of every process, taken by the HTTP layer from the
//! event loop (the same data as `supervisor.getAllProcessInfo`), plus a few daemon facts.

use serde::Serialize;
use supervisor_protocol::{ProcessState, Value};

/// One process as the status page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    /// Group name.
    pub group: String,
    /// Process name within the group.
    pub name: String,
    /// Current state.
    pub state: ProcessState,
    /// The `description` field (§2.7): `pid 42, uptime 0:01:02`, `Not started`, ...
    pub description: String,
    /// Pid when running, else 0.
    pub pid: i64,
    /// Unix time of the last start (0 if never started).
    pub start: i64,
    /// Unix time of the last stop (0 if never stopped).
    pub stop: i64,
    /// Last exit status (`exitstatus`).
    pub exitstatus: i64,
    /// How the last run ended, from the daemon's main log (`exit status 1`, `terminated by
    /// SIGKILL`), for FATAL and BACKOFF processes, whose `exitstatus` is not kept.
    pub last_exit: Option<String>,
    /// Resource figures (`supervisor_rs.getAllProcessStats`), when the daemon has them.
    pub stats: Option<RowStats>,
}

/// The resource figures the status page shows for one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowStats {
    /// Whether the figures were sampled (the process has a pid).
    pub available: bool,
    /// CPU % times ten (one decimal, kept integral so rows compare exactly).
    pub cpu_tenths: i64,
    /// Resident memory, KiB.
    pub rss_kb: i64,
    /// Restarts since the daemon started.
    pub restarts: i64,
}

impl RowStats {
    /// Reads a `getProcessStats` struct; `None` when it lacks the figures.
    pub fn from_value(v: &Value) -> Option<RowStats> {
        let Value::Struct(members) = v else {
            return None;
        };
        let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let int = |k: &str| get(k).and_then(Value::as_int).map(i64::from);
        let cpu = match get("cpu_percent")? {
            Value::Double(d) => (d * 10.0).round() as i64,
            Value::Int(i) => i64::from(*i) * 10,
            _ => 0,
        };
        Some(RowStats {
            available: matches!(get("available"), Some(Value::Bool(true))),
            cpu_tenths: cpu,
            rss_kb: int("rss_kb")?,
            restarts: int("restarts")?,
        })
    }

    /// `12.5%`, `-` when not sampled.
    pub fn cpu_text(&self) -> String {
        if self.available {
            format!("{}.{}%", self.cpu_tenths / 10, self.cpu_tenths % 10)
        } else {
            "-".into()
        }
    }

    /// `512 KiB`, `3.1 MiB`, `1.2 GiB`, `-` when not sampled.
    pub fn memory_text(&self) -> String {
        if !self.available {
            return "-".into();
        }
        let kb = self.rss_kb.max(0) as f64;
        if kb < 1024.0 {
            format!("{kb:.0} KiB")
        } else if kb < 1024.0 * 1024.0 {
            format!("{:.1} MiB", kb / 1024.0)
        } else {
            format!("{:.1} GiB", kb / (1024.0 * 1024.0))
        }
    }
}

impl ProcessRow {
    /// The namespec: `name` when group and name are equal, else `group:name`.
    pub fn namespec(&self) -> String {
        namespec(&self.group, &self.name)
    }

    /// Builds a row from a `getProcessInfo`/`getAllProcessInfo` struct. `None` when the
    /// struct lacks `name`, `group` or a known `state`.
    pub fn from_process_info(info: &Value) -> Option<ProcessRow> {
        let Value::Struct(members) = info else {
            return None;
        };
        let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let text = |k: &str| get(k).and_then(Value::as_str).map(str::to_string);
        let int = |k: &str| get(k).and_then(Value::as_int).map(i64::from).unwrap_or(0);
        Some(ProcessRow {
            group: text("group")?,
            name: text("name")?,
            state: ProcessState::from_code(get("state").and_then(Value::as_int)?)?,
            description: text("description").unwrap_or_default(),
            pid: int("pid"),
            start: int("start"),
            stop: int("stop"),
            exitstatus: int("exitstatus"),
            last_exit: None,
            stats: None,
        })
    }
}

/// Fills `last_exit` of the FATAL and BACKOFF rows from the tail of the daemon's main log:
/// the last `exited: <name> (<how>; ...)` line of each. Only for process names that are
/// unique among `rows` (the log line names the process, not its group).
pub fn add_last_exits(rows: &mut [ProcessRow], main_log: &str) {
    // One pass over the log: process name -> how its last run ended (names hold no spaces).
    let mut last: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for line in main_log.lines() {
        let Some(at) = line.find(" exited: ") else {
            continue;
        };
        let rest = &line[at + " exited: ".len()..];
        let Some((name, rest)) = rest.split_once(" (") else {
            continue;
        };
        let Some((how, _)) = rest.split_once(';') else {
            continue;
        };
        if how.starts_with("exit status ") || how.starts_with("terminated by ") {
            last.insert(name, how);
        }
    }
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for r in rows.iter() {
        *count.entry(r.name.as_str()).or_default() += 1;
    }
    let found: Vec<Option<String>> = rows
        .iter()
        .map(|r| {
            let wanted = matches!(r.state, ProcessState::Fatal | ProcessState::Backoff);
            let unique = count.get(r.name.as_str()) == Some(&1);
            (wanted && unique)
                .then(|| last.get(r.name.as_str()).map(|h| h.to_string()))
                .flatten()
        })
        .collect();
    for (r, f) in rows.iter_mut().zip(found) {
        r.last_exit = f;
    }
}

/// `name` when `group == name`, else `group:name` (the reference's `make_namespec`).
pub use supervisor_protocol::namespec::make_namespec as namespec;

/// Everything the status page and its JSON need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// Supervisor version shown in the footer (`supervisor_protocol::SUPERVISOR_VERSION`).
    pub version: String,
    /// `[supervisord] identifier` (shown in the header and the title of the live view).
    pub identification: String,
    /// Server Unix time when the snapshot was taken (the page ticks uptimes from it).
    pub now: i64,
    /// The daemon's local offset from UTC in seconds (start/stop times are shown in the
    /// daemon's local time, as its own descriptions are).
    pub utc_offset: i32,
    /// The local calendar year (footer).
    pub year: i64,
    /// Every process, in any order (pages sort by group, then name).
    pub processes: Vec<ProcessRow>,
    /// The viewer may only look (role `read`): the pages show no action buttons.
    pub read_only: bool,
}

impl StatusSnapshot {
    /// The rows sorted as the reference sorts them: by (group, process name).
    pub fn sorted_rows(&self) -> Vec<&ProcessRow> {
        let mut rows: Vec<&ProcessRow> = self.processes.iter().collect();
        rows.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        rows
    }
}

#[derive(Serialize)]
struct JsonProcess<'a> {
    group: &'a str,
    name: &'a str,
    namespec: String,
    state: i32,
    statename: &'static str,
    description: &'a str,
    pid: i64,
    start: i64,
    stop: i64,
    exitstatus: i64,
    last_exit: Option<&'a str>,
    stats: Option<JsonStats>,
}

#[derive(Serialize)]
struct JsonStats {
    available: bool,
    cpu: String,
    memory: String,
    rss_kb: i64,
    restarts: i64,
}

#[derive(Serialize)]
struct JsonSnapshot<'a> {
    version: &'a str,
    identification: &'a str,
    now: i64,
    utc_offset: i32,
    csrf_token: &'a str,
    processes: Vec<JsonProcess<'a>>,
}

/// The body of `GET /api/status.json` (send with `Content-Type: application/json` and the
/// no-cache headers). `csrf_token` is a fresh token so a page left open keeps a valid one.
pub fn render_status_json(snapshot: &StatusSnapshot, csrf_token: &str) -> String {
    let body = JsonSnapshot {
        version: &snapshot.version,
        identification: &snapshot.identification,
        now: snapshot.now,
        utc_offset: snapshot.utc_offset,
        csrf_token,
        processes: snapshot
            .sorted_rows()
            .into_iter()
            .map(|p| JsonProcess {
                group: &p.group,
                name: &p.name,
                namespec: p.namespec(),
                state: p.state.code(),
                statename: p.state.name(),
                description: &p.description,
                pid: p.pid,
                start: p.start,
                stop: p.stop,
                exitstatus: p.exitstatus,
                last_exit: p.last_exit.as_deref(),
                stats: p.stats.map(|s| JsonStats {
                    available: s.available,
                    cpu: s.cpu_text(),
                    memory: s.memory_text(),
                    rss_kb: s.rss_kb,
                    restarts: s.restarts,
                }),
            })
            .collect(),
    };
    crate::escape::json_for_html(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn row(group: &str, name: &str, state: ProcessState) -> ProcessRow {
        ProcessRow {
            group: group.into(),
            name: name.into(),
            state,
            description: String::new(),
            pid: 0,
            start: 0,
            stop: 0,
            exitstatus: 0,
            last_exit: None,
            stats: None,
        }
    }

    #[test]
    fn from_process_info_reads_the_rpc_struct() {
        let v = Value::Struct(vec![
            ("name".into(), Value::String("a".into())),
            ("group".into(), Value::String("g".into())),
            ("start".into(), Value::Int(100)),
            ("stop".into(), Value::Int(0)),
            ("now".into(), Value::Int(160)),
            ("state".into(), Value::Int(20)),
            ("statename".into(), Value::String("RUNNING".into())),
            ("spawnerr".into(), Value::String(String::new())),
            ("exitstatus".into(), Value::Int(0)),
            ("pid".into(), Value::Int(42)),
            (
                "description".into(),
                Value::String("pid 42, uptime 0:01:00".into()),
            ),
        ]);
        let r = ProcessRow::from_process_info(&v).unwrap();
        assert_eq!(r.namespec(), "g:a");
        assert_eq!(r.state, ProcessState::Running);
        assert_eq!((r.pid, r.start), (42, 100));
        assert_eq!(ProcessRow::from_process_info(&Value::Int(1)), None);
        assert_eq!(ProcessRow::from_process_info(&Value::Struct(vec![])), None);
    }

    #[test]
    fn last_exits_come_from_the_main_log() {
        let log = "2026-12-04 03:04:57,001 INFO spawned: 'sync' with pid 7\n\
                   2026-12-04 03:04:57,010 WARN exited: sync (exit status 1; not expected)\n\
                   2026-12-04 03:04:58,010 WARN exited: sync (exit status 2; not expected)\n\
                   2026-12-04 03:04:58,020 WARN exited: crash (terminated by SIGSEGV (core dumped); not expected)\n\
                   2026-12-04 03:04:58,030 WARN exited: a (exit status 9; not expected)\n";
        let mut rows = vec![
            row("sync", "sync", ProcessState::Fatal),
            row("crash", "crash", ProcessState::Backoff),
            row("g1", "a", ProcessState::Fatal),
            row("g2", "a", ProcessState::Fatal),
            row("up", "up", ProcessState::Running),
        ];
        rows[4].name = "sync2".into();
        add_last_exits(&mut rows, log);
        assert_eq!(rows[0].last_exit.as_deref(), Some("exit status 2"));
        assert_eq!(
            rows[1].last_exit.as_deref(),
            Some("terminated by SIGSEGV (core dumped)")
        );
        // The same process name in two groups: the log cannot tell them apart.
        assert_eq!(
            (rows[2].last_exit.clone(), rows[3].last_exit.clone()),
            (None, None)
        );
        assert_eq!(rows[4].last_exit, None);
    }

    #[test]
    fn json_is_sorted_and_escaped() {
        let snap = StatusSnapshot {
            version: "4.3.0".into(),
            identification: "supervisor".into(),
            now: 5,
            utc_offset: 0,
            year: 2026,
            processes: vec![
                row("b", "b", ProcessState::Stopped),
                row("a", "</script><img>", ProcessState::Fatal),
            ],
            read_only: false,
        };
        let json = render_status_json(&snap, "tok");
        assert!(!json.contains("</script>"));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["processes"][0]["namespec"], "a:</script><img>");
        assert_eq!(v["processes"][0]["statename"], "FATAL");
        assert_eq!(v["processes"][1]["namespec"], "b");
        assert_eq!(v["csrf_token"], "tok");
        assert_eq!(namespec("x", "x"), "x");
    }
}
