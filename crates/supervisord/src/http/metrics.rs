//! `GET /metrics`: the daemon in the Prometheus/OpenMetrics text exposition format,
//! encoded by the `prometheus-client` crate.
//!
//! The page is built when it is asked for: the event loop gathers a [`MetricsInput`]
//! (the process table, a fresh stats sample, the log channels' and the event bus's
//! counters) and [`render`] encodes it together with the RPC call counters, which are the
//! only figures kept between scrapes ([`record_rpc`], called once per answered call).
//! Every metric, its type and labels are listed in docs/metrics.md.
//!
//! Authentication is the server's, as for `/RPC2` (the request is checked before it is
//! routed here).

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use supervisor_events::PoolStats;
use supervisor_protocol::events::EventType;
use supervisor_protocol::{ProcessState, SupervisorState};

use crate::stats::ProcessFigures;

/// The `Content-Type` of the page in the Prometheus text format (the default).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The `Content-Type` of the page in OpenMetrics text (when the scraper's `Accept` asks).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The byte and rotation counters of one process log channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCounters {
    /// Group name.
    pub group: String,
    /// Process name.
    pub name: String,
    /// `stdout` or `stderr`.
    pub channel: &'static str,
    /// Bytes written to the log file since it was opened.
    pub bytes: u64,
    /// Rotations of the log file since it was opened.
    pub rotations: u64,
    /// Of `bytes`, those moved pipe → file by splice(2) (`logs::splice`).
    pub spliced: u64,
}

/// Everything one scrape shows besides the RPC counters.
#[derive(Debug, Clone)]
pub struct MetricsInput {
    /// Every process, with its sample.
    pub processes: Vec<ProcessFigures>,
    /// For each of `processes` (same order): whether its `ready=` check passed (`None`:
    /// it has no such check).
    pub process_ready: Vec<Option<bool>>,
    /// For each of `processes` (same order): whether it passes its `healthcheck=` (`None`:
    /// no health check, or not RUNNING).
    pub process_healthy: Vec<Option<bool>>,
    /// Whether the daemon is ready as `GET /readyz` says (`None`: not known).
    pub daemon_ready: Option<bool>,
    /// Every process log channel that has a file.
    pub logs: Vec<LogCounters>,
    /// The listener pools' queues.
    pub pools: Vec<PoolStats>,
    /// Events published by type.
    pub events: Vec<(EventType, u64)>,
    /// The daemon's state.
    pub supervisor_state: SupervisorState,
}

/// Bounds of the RPC latency histogram, seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

type MethodOutcome = [(&'static str, &'static str); 2];
type MethodOnly = [(&'static str, &'static str); 1];

fn new_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.iter().copied())
}

/// The RPC counters, kept for the life of the daemon process.
struct RpcMetrics {
    calls: Family<MethodOutcome, Counter>,
    latency: Family<MethodOnly, Histogram, fn() -> Histogram>,
}

fn rpc_metrics() -> &'static RpcMetrics {
    static M: OnceLock<RpcMetrics> = OnceLock::new();
    M.get_or_init(|| RpcMetrics {
        calls: Family::default(),
        latency: Family::new_with_constructor(new_histogram as fn() -> Histogram),
    })
}

/// How one RPC call ended, for [`record_rpc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcOutcome {
    /// A value was returned.
    Ok,
    /// A fault was returned.
    Fault,
    /// No answer could be given (the loop is gone).
    Error,
}

/// Counts one answered call of `method` (names not in the method table are counted as
/// `unknown`, so clients cannot grow the label set) and its latency.
pub fn record_rpc(method: &str, outcome: RpcOutcome, latency: Duration) {
    let method = crate::rpc::methods::lookup(method)
        .map(|m| m.name)
        .unwrap_or("unknown");
    let outcome = match outcome {
        RpcOutcome::Ok => "ok",
        RpcOutcome::Fault => "fault",
        RpcOutcome::Error => "error",
    };
    let m = rpc_metrics();
    m.calls
        .get_or_create(&[("method", method), ("outcome", outcome)])
        .inc();
    m.latency
        .get_or_create(&[("method", method)])
        .observe(latency.as_secs_f64());
}

/// The per-scrape figures as a collector of the registry.
#[derive(Debug)]
struct Snapshot(MetricsInput);

fn gauge<S, V>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (S, V)>,
) -> Result<(), std::fmt::Error>
where
    S: prometheus_client::encoding::EncodeLabelSet,
    V: prometheus_client::encoding::EncodeGaugeValue + std::fmt::Debug + Send + Sync,
{
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter<S, V>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (S, V)>,
) -> Result<(), std::fmt::Error>
where
    S: prometheus_client::encoding::EncodeLabelSet,
    V: prometheus_client::encoding::EncodeCounterValue + std::fmt::Debug + Send + Sync,
{
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn pl(p: &ProcessFigures) -> [(&'static str, &str); 2] {
    [("group", p.group.as_str()), ("name", p.name.as_str())]
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let procs = &s.processes;
        // The daemon.
        {
            let mut m = e.encode_descriptor(
                "supervisor_build_info",
                "Build of this daemon: version, and the Supervisor version it is compatible with",
                None,
                MetricType::Gauge,
            )?;
            let labels = [
                ("version", env!("CARGO_PKG_VERSION")),
                ("supervisor_version", "4.3.0"),
                ("implementation", "supervisor-rs"),
            ];
            ConstGauge::new(1i64).encode(m.encode_family(&labels)?)?;
        }
        {
            let mut m = e.encode_descriptor(
                "supervisor_state",
                "State code of the daemon (1 RUNNING, 0 RESTARTING, -1 SHUTDOWN, 2 FATAL)",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(s.supervisor_state.code() as i64)
                .encode(m.encode_family(&[("state", s.supervisor_state.name())])?)?;
        }
        if let Some((cpu, rss)) = crate::stats::own_usage() {
            let m = e.encode_descriptor(
                "process_cpu_seconds",
                "CPU seconds (user + system) used by the daemon itself",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(cpu).encode(m)?;
            let m = e.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory of the daemon itself, bytes",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(rss as i64).encode(m)?;
        }
        // Processes.
        gauge(
            &mut e,
            "supervisor_process_state",
            "State code of the process (0 STOPPED, 10 STARTING, 20 RUNNING, 30 BACKOFF, 40 STOPPING, 100 EXITED, 200 FATAL, 1000 UNKNOWN)",
            procs.iter().map(|p| (pl(p), p.state.code() as i64)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_up",
            "1 while the process is RUNNING, else 0",
            procs
                .iter()
                .map(|p| (pl(p), i64::from(p.state == ProcessState::Running))),
        )?;
        gauge(
            &mut e,
            "supervisor_process_pid",
            "Pid of the process (0 when it has none)",
            procs.iter().map(|p| (pl(p), p.pid as i64)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_start_time_seconds",
            "Epoch seconds of the last start (0 = never started), as getProcessInfo's start",
            procs.iter().map(|p| (pl(p), p.start as i64)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_uptime_seconds",
            "Seconds since the last start while the process has a pid, else 0",
            procs.iter().map(|p| (pl(p), p.uptime)),
        )?;
        counter(
            &mut e,
            "supervisor_process_restarts",
            "Starts after the first since the daemon built its process table",
            procs.iter().map(|p| (pl(p), p.restarts)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_exit_status",
            "Exit code of the last run that ended (0 when none ended yet)",
            procs
                .iter()
                .map(|p| (pl(p), p.last_exit.unwrap_or(0) as i64)),
        )?;
        let sampled = || procs.iter().filter_map(|p| p.sample.map(|s| (p, s)));
        counter(
            &mut e,
            "supervisor_process_cpu_seconds",
            "CPU seconds used by the process and its descendants (processes with a pid)",
            sampled().map(|(p, s)| (pl(p), s.cpu_seconds)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_resident_memory_bytes",
            "Resident memory of the process and its live descendants, bytes",
            sampled().map(|(p, s)| (pl(p), s.rss_bytes as i64)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_open_fds",
            "Open file descriptors of the process and its live descendants",
            sampled().map(|(p, s)| (pl(p), s.fds as i64)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_threads",
            "Threads of the process and its live descendants",
            sampled().map(|(p, s)| (pl(p), s.threads as i64)),
        )?;
        gauge(
            &mut e,
            "supervisor_process_ready",
            "1 once the process's ready= check passed (it is RUNNING), else 0; only processes with a ready= check",
            procs
                .iter()
                .zip(&s.process_ready)
                .filter_map(|(p, r)| r.map(|r| (pl(p), i64::from(r)))),
        )?;
        gauge(
            &mut e,
            "supervisor_process_healthy",
            "1 while the RUNNING process passes its healthcheck= (fewer than healthcheck_retries failures in a row), 0 while it is unhealthy; only RUNNING processes with a health check",
            procs
                .iter()
                .zip(&s.process_healthy)
                .filter_map(|(p, r)| r.map(|r| (pl(p), i64::from(r)))),
        )?;
        if let Some(ready) = s.daemon_ready {
            let m = e.encode_descriptor(
                "supervisor_ready",
                "1 when GET /readyz answers 200: every autostart process RUNNING, no critical one down",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::from(ready)).encode(m)?;
        }
        // Log channels.
        fn ll(l: &LogCounters) -> [(&'static str, &str); 3] {
            [
                ("group", l.group.as_str()),
                ("name", l.name.as_str()),
                ("channel", l.channel),
            ]
        }
        counter(
            &mut e,
            "supervisor_log_bytes",
            "Bytes written to the process log file since it was opened",
            s.logs.iter().map(|l| (ll(l), l.bytes)),
        )?;
        counter(
            &mut e,
            "supervisor_log_rotations",
            "Rotations of the process log file since it was opened",
            s.logs.iter().map(|l| (ll(l), l.rotations)),
        )?;
        counter(
            &mut e,
            "supervisor_log_spliced_bytes",
            "Of the bytes written to the process log file, those moved pipe to file by splice(2) without a copy through the daemon",
            s.logs.iter().map(|l| (ll(l), l.spliced)),
        )?;
        // Event listener pools and events.
        fn pool(p: &PoolStats) -> [(&'static str, &str); 1] {
            [("pool", p.name.as_str())]
        }
        {
            let mut m = e.encode_descriptor(
                "supervisor_listener_queue_depth",
                "Events buffered for the pool's listeners",
                None,
                MetricType::Gauge,
            )?;
            for p in &s.pools {
                ConstGauge::new(p.queued as i64).encode(m.encode_family(&pool(p))?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "supervisor_listener_queue_capacity",
                "The pool's buffer_size",
                None,
                MetricType::Gauge,
            )?;
            for p in &s.pools {
                ConstGauge::new(p.capacity as i64).encode(m.encode_family(&pool(p))?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "supervisor_listener_overflows",
                "Events discarded because the pool's buffer was full",
                None,
                MetricType::Counter,
            )?;
            for p in &s.pools {
                ConstCounter::new(p.overflows).encode(m.encode_family(&pool(p))?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "supervisor_events",
                "Events published on the daemon's event bus, by type",
                None,
                MetricType::Counter,
            )?;
            for (t, n) in &s.events {
                ConstCounter::new(*n).encode(m.encode_family(&[("type", t.name())])?)?;
            }
        }
        Ok(())
    }
}

/// The page for `input`: the Prometheus text format (0.0.4), or OpenMetrics text (ends
/// with `# EOF`) when `openmetrics`.
pub fn render(input: MetricsInput, openmetrics: bool) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(input)));
    let rpc = rpc_metrics();
    registry.register(
        "supervisor_rpc_calls",
        "XML-RPC calls answered, by method and outcome (ok, fault, error)",
        rpc.calls.clone(),
    );
    registry.register(
        "supervisor_rpc_duration_seconds",
        "Time from receiving an XML-RPC call to having its answer, by method",
        rpc.latency.clone(),
    );
    // Sized after the previous page (plus some room for growth), so a large page is not
    // copied over and over while it grows.
    static LAST_SIZE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let last = LAST_SIZE.load(std::sync::atomic::Ordering::Relaxed);
    let mut out = String::with_capacity((last + last / 8).max(64 * 1024));
    // Writing into a String cannot fail.
    let _ = if openmetrics {
        prometheus_client::encoding::text::encode(&mut out, &registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
    };
    LAST_SIZE.store(out.len(), std::sync::atomic::Ordering::Relaxed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{CpuSource, Sample};

    fn figures(group: &str, name: &str, state: ProcessState, pid: i32) -> ProcessFigures {
        ProcessFigures {
            group: group.into(),
            name: name.into(),
            state,
            pid,
            start: 1_700_000_000.0,
            uptime: 12.5,
            restarts: 2,
            last_exit: Some(3),
            sample: (pid != 0).then_some(Sample {
                cpu_seconds: 1.5,
                cpu_percent: 10.0,
                rss_bytes: 4096 * 10,
                fds: 7,
                threads: 2,
                processes: 1,
                cpu_source: CpuSource::Proc,
            }),
        }
    }

    #[test]
    fn page_has_every_family_with_labels_and_ends_with_eof() {
        record_rpc(
            "supervisor.getState",
            RpcOutcome::Ok,
            Duration::from_micros(300),
        );
        record_rpc("no.such", RpcOutcome::Fault, Duration::from_micros(30));
        let input = MetricsInput {
            processes: vec![
                figures("web", "web_0", ProcessState::Running, 4242),
                figures("web", "idle \"x\"", ProcessState::Stopped, 0),
            ],
            process_ready: vec![Some(true), None],
            process_healthy: vec![Some(false), None],
            daemon_ready: Some(false),
            logs: vec![LogCounters {
                group: "web".into(),
                name: "web_0".into(),
                channel: "stdout",
                bytes: 123,
                rotations: 1,
                spliced: 100,
            }],
            pools: vec![PoolStats {
                name: "lis".into(),
                queued: 2,
                capacity: 10,
                overflows: 4,
            }],
            events: vec![(EventType::ProcessStateRunning, 5)],
            supervisor_state: SupervisorState::Running,
        };
        let page = render(input.clone(), true);
        for line in [
            "# TYPE supervisor_process_state gauge",
            "supervisor_process_state{group=\"web\",name=\"web_0\"} 20",
            "supervisor_process_up{group=\"web\",name=\"web_0\"} 1",
            "supervisor_process_up{group=\"web\",name=\"idle \\\"x\\\"\"} 0",
            "supervisor_process_pid{group=\"web\",name=\"web_0\"} 4242",
            "supervisor_process_start_time_seconds{group=\"web\",name=\"web_0\"} 1700000000",
            "supervisor_process_restarts_total{group=\"web\",name=\"web_0\"} 2",
            "supervisor_process_exit_status{group=\"web\",name=\"web_0\"} 3",
            "supervisor_process_cpu_seconds_total{group=\"web\",name=\"web_0\"} 1.5",
            "supervisor_process_resident_memory_bytes{group=\"web\",name=\"web_0\"} 40960",
            "supervisor_process_open_fds{group=\"web\",name=\"web_0\"} 7",
            "supervisor_log_bytes_total{group=\"web\",name=\"web_0\",channel=\"stdout\"} 123",
            "supervisor_log_rotations_total{group=\"web\",name=\"web_0\",channel=\"stdout\"} 1",
            "supervisor_log_spliced_bytes_total{group=\"web\",name=\"web_0\",channel=\"stdout\"} 100",
            "supervisor_listener_queue_depth{pool=\"lis\"} 2",
            "supervisor_listener_overflows_total{pool=\"lis\"} 4",
            "supervisor_events_total{type=\"PROCESS_STATE_RUNNING\"} 5",
            "supervisor_state{state=\"RUNNING\"} 1",
            "supervisor_process_ready{group=\"web\",name=\"web_0\"} 1",
            "supervisor_process_healthy{group=\"web\",name=\"web_0\"} 0",
            "supervisor_ready 0",
            "supervisor_rpc_calls_total{method=\"unknown\",outcome=\"fault\"} 1",
            "# TYPE supervisor_rpc_duration_seconds histogram",
        ] {
            assert!(page.lines().any(|l| l == line), "{line} missing in\n{page}");
        }
        assert!(page
            .contains("supervisor_rpc_calls_total{method=\"supervisor.getState\",outcome=\"ok\"}"));
        assert!(page.contains("supervisor_rpc_duration_seconds_bucket{le=\"0.0005\",method=\"supervisor.getState\"}")
            || page.contains("supervisor_rpc_duration_seconds_bucket{method=\"supervisor.getState\",le=\"0.0005\"}"));
        // A process without a pid has no sampled figures.
        assert!(!page.contains("supervisor_process_open_fds{group=\"web\",name=\"idle"));
        assert!(page.ends_with("# EOF\n"));
        // The Prometheus text format: the same samples, no EOF marker.
        let text = render(input, false);
        assert!(text
            .lines()
            .any(|l| l == "supervisor_process_restarts_total{group=\"web\",name=\"web_0\"} 2"));
        assert!(!text.contains("# EOF"));
    }
}
