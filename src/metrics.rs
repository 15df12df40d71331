//! Daemon metrics in the Prometheus text format (`/metrics`), on the
//! `prometheus-client` registry and encoder.
//!
//! Every metric s321d exports is declared in [`METRICS`] with its kind and
//! help text and registered once at start, so the exposition always carries
//! `# HELP` and `# TYPE`; a family with no samples yet is left out. Labels are
//! dynamic (name, value) pairs, so each metric is a family keyed by
//! [`Labels`]. Counting happens once per run or file, never per row.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`] (Prometheus text 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Metric kinds as Prometheus names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric: name as exposed, kind, help.
pub const METRICS: &[(&str, Kind, &str)] = &[
    (
        "s321d_build_info",
        Kind::Gauge,
        "Always 1; the version label says which s321d is running.",
    ),
    (
        "s321d_runs_total",
        Kind::Counter,
        "Job runs finished, by job and status (succeeded, failed).",
    ),
    (
        "s321d_files_total",
        Kind::Counter,
        "Files taken, by job and outcome (processed, quarantined, duplicate).",
    ),
    (
        "s321d_lines_total",
        Kind::Counter,
        "Manifest lines evaluated, by job.",
    ),
    (
        "s321d_shipments_total",
        Kind::Counter,
        "Shipments routed, by job.",
    ),
    (
        "s321d_findings_total",
        Kind::Counter,
        "Findings, by job, rule and severity.",
    ),
    (
        "s321d_dispositions_total",
        Kind::Counter,
        "Shipments by job and disposition (hold, duplicate, 03, 01, 86, 11).",
    ),
    (
        "s321d_entries_total",
        Kind::Counter,
        "Customs entries built, by job and entry type (01, 03, 11).",
    ),
    (
        "s321d_run_duration_seconds",
        Kind::Histogram,
        "Duration of job runs in seconds, by job.",
    ),
    (
        "s321d_last_run_duration_seconds",
        Kind::Gauge,
        "Duration of the last run, by job.",
    ),
    (
        "s321d_last_success_timestamp_seconds",
        Kind::Gauge,
        "Unix time of the last successful run, by job.",
    ),
    (
        "s321d_last_failure_timestamp_seconds",
        Kind::Gauge,
        "Unix time of the last failed run, by job.",
    ),
    (
        "s321d_source_errors_total",
        Kind::Counter,
        "Source operations that failed after retries, by source.",
    ),
    (
        "s321d_job_up",
        Kind::Gauge,
        "1 when the job's last run succeeded, 0 when it failed.",
    ),
    (
        "s321d_filing_transitions_total",
        Kind::Counter,
        "Filing state changes applied from ACE responses, by new state.",
    ),
    (
        "s321d_entry_summary_transitions_total",
        Kind::Counter,
        "Entry summary state changes applied from ACE answers, by new state.",
    ),
    (
        "s321d_filings_sent_total",
        Kind::Counter,
        "Entries sent to ACE, by transport.",
    ),
    (
        "s321d_filings",
        Kind::Gauge,
        "Filings in the ledger, by state.",
    ),
    (
        "s321d_filing_gateway_up",
        Kind::Gauge,
        "1 when the ACE gateway answered the last request, 0 while it cannot be reached after retries.",
    ),
    (
        "s321d_emails_sent_total",
        Kind::Counter,
        "Report emails accepted by the SMTP server, by kind (dashboard, exceptions).",
    ),
    (
        "s321d_email_failures_total",
        Kind::Counter,
        "Failed delivery attempts of report emails (each stays queued), by kind.",
    ),
    (
        "s321d_email_queued",
        Kind::Gauge,
        "Report emails waiting in the outbox.",
    ),
    (
        "s321d_email_oldest_queued_seconds",
        Kind::Gauge,
        "Age of the oldest report email in the outbox (0 when empty).",
    ),
    (
        "s321d_reports_total",
        Kind::Counter,
        "Report job runs, by report and status (succeeded, failed).",
    ),
    (
        "s321d_lease_held",
        Kind::Gauge,
        "1 while this replica holds the cluster lease (job:NAME, report:NAME), else 0.",
    ),
    (
        "s321d_lease_skipped_total",
        Kind::Counter,
        "Runs this replica skipped because another replica held the lease, by lease.",
    ),
    (
        "s321d_store_errors_total",
        Kind::Counter,
        "State store errors, by kind (conflict, unavailable, corrupt, other).",
    ),
];

/// Run duration buckets, in seconds: 0.1 s to 1 h, roughly ×2.5 apart (a
/// run of a few files takes well under a second, a large manifest minutes).
const RUN_DURATION_BUCKETS: [f64; 13] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Labels as ordered (name, value) pairs.
pub type Labels = Vec<(&'static str, String)>;

fn run_duration_histogram() -> Histogram {
    Histogram::new(RUN_DURATION_BUCKETS)
}

/// One registered family; the registry holds a clone of the same handle.
#[derive(Debug)]
enum Series {
    /// Counters count things (runs, files, lines): whole numbers.
    Counter(Family<Labels, Counter>),
    Gauge(Family<Labels, Gauge<f64, AtomicU64>>),
    Histogram(Family<Labels, Histogram, fn() -> Histogram>),
}

impl Series {
    fn kind(&self) -> Kind {
        match self {
            Series::Counter(_) => Kind::Counter,
            Series::Gauge(_) => Kind::Gauge,
            Series::Histogram(_) => Kind::Histogram,
        }
    }
}

/// The registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    series: HashMap<&'static str, Series>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let mut series = HashMap::new();
        for &(name, kind, help) in METRICS {
            // The encoder adds the final full stop to help texts and `_total` to counter names.
            let help = help.strip_suffix('.').unwrap_or(help);
            let s = match kind {
                Kind::Counter => {
                    let f = Family::<Labels, Counter>::default();
                    let bare = name
                        .strip_suffix("_total")
                        .expect("counter names end in _total");
                    registry.register(bare, help, f.clone());
                    Series::Counter(f)
                }
                Kind::Gauge => {
                    let f = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                    registry.register(name, help, f.clone());
                    Series::Gauge(f)
                }
                Kind::Histogram => {
                    let f = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
                        run_duration_histogram,
                    );
                    registry.register(name, help, f.clone());
                    Series::Histogram(f)
                }
            };
            series.insert(name, s);
        }
        Metrics { registry, series }
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics::default();
        m.set(
            "s321d_build_info",
            vec![("version", env!("CARGO_PKG_VERSION").to_owned())],
            1.0,
        );
        m
    }

    /// The family of a declared metric. A name missing from [`METRICS`] or
    /// used as the wrong kind is a programming error: tests fail on it, a
    /// release build drops the sample rather than stop a run over a metric.
    fn series(&self, name: &str, kind: Kind) -> Option<&Series> {
        let found = self.series.get(name).filter(|s| s.kind() == kind);
        debug_assert!(found.is_some(), "{name} is not a declared {kind:?}");
        found
    }

    /// Adds to a counter (a whole, non-negative number).
    pub fn add(&self, name: &'static str, labels: Labels, by: f64) {
        debug_assert!(
            by >= 0.0 && by.fract() == 0.0,
            "counter {name} takes whole numbers, not {by}"
        );
        if let Some(Series::Counter(f)) = self.series(name, Kind::Counter) {
            f.get_or_create(&labels).inc_by(by as u64);
        }
    }

    pub fn inc(&self, name: &'static str, labels: Labels) {
        self.add(name, labels, 1.0);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, labels: Labels, value: f64) {
        if let Some(Series::Gauge(f)) = self.series(name, Kind::Gauge) {
            f.get_or_create(&labels).set(value);
        }
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, name: &'static str, labels: Labels, value: f64) {
        if let Some(Series::Histogram(f)) = self.series(name, Kind::Histogram) {
            f.get_or_create(&labels).observe(value);
        }
    }

    /// A counter's or gauge's value, if recorded (tests, readiness).
    /// Histograms are read through [`Metrics::render`]: prometheus-client
    /// exposes their count and sum only to its own tests.
    pub fn get(&self, name: &'static str, labels: &Labels) -> Option<f64> {
        match self.series.get(name)? {
            Series::Counter(f) => f.get(labels).map(|c| c.get() as f64),
            Series::Gauge(f) => f.get(labels).map(|g| g.get()),
            Series::Histogram(_) => None,
        }
    }

    /// The Prometheus text exposition, served as [`CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.inc(
            "s321d_runs_total",
            vec![("job", "demo".into()), ("status", "succeeded".into())],
        );
        m.inc(
            "s321d_runs_total",
            vec![("job", "demo".into()), ("status", "succeeded".into())],
        );
        m.add("s321d_lines_total", vec![("job", "de\"mo".into())], 37.0);
        m.set("s321d_email_queued", vec![], 2.0);
        let text = m.render();
        let lines: Vec<&str> = text.lines().collect();
        for line in [
            "# HELP s321d_runs_total Job runs finished, by job and status (succeeded, failed).",
            "# TYPE s321d_runs_total counter",
            "s321d_runs_total{job=\"demo\",status=\"succeeded\"} 2",
            "s321d_lines_total{job=\"de\\\"mo\"} 37",
            "# TYPE s321d_email_queued gauge",
            "s321d_email_queued 2.0",
        ] {
            assert!(lines.contains(&line), "missing {line:?} in:\n{text}");
        }
        assert!(
            text.contains(&format!(
                "s321d_build_info{{version=\"{}\"}} 1.0\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        assert!(
            !text.contains("s321d_files_total"),
            "families with no samples are left out"
        );
        assert!(!text.contains("_total_total"), "{text}");
        assert!(!text.contains("# EOF"), "Prometheus text, not OpenMetrics");
        assert_eq!(
            m.get(
                "s321d_runs_total",
                &vec![("job", "demo".into()), ("status", "succeeded".into())]
            ),
            Some(2.0)
        );
        assert_eq!(
            m.get(
                "s321d_runs_total",
                &vec![("job", "other".into()), ("status", "succeeded".into())]
            ),
            None
        );
    }

    #[test]
    fn run_duration_is_a_histogram() {
        let m = Metrics::new();
        let job = || vec![("job", "demo".to_owned())];
        m.observe("s321d_run_duration_seconds", job(), 0.0625);
        m.observe("s321d_run_duration_seconds", job(), 3.0);
        m.observe("s321d_run_duration_seconds", job(), 7200.0);
        let text = m.render();
        let lines: Vec<&str> = text.lines().collect();
        for line in [
            "# TYPE s321d_run_duration_seconds histogram",
            "s321d_run_duration_seconds_bucket{job=\"demo\",le=\"0.1\"} 1",
            "s321d_run_duration_seconds_bucket{job=\"demo\",le=\"2.5\"} 1",
            "s321d_run_duration_seconds_bucket{job=\"demo\",le=\"5\"} 2",
            "s321d_run_duration_seconds_bucket{job=\"demo\",le=\"3600\"} 2",
            "s321d_run_duration_seconds_bucket{job=\"demo\",le=\"+Inf\"} 3",
            "s321d_run_duration_seconds_sum{job=\"demo\"} 7203.0625",
            "s321d_run_duration_seconds_count{job=\"demo\"} 3",
        ] {
            assert!(lines.contains(&line), "missing {line:?} in:\n{text}");
        }
    }

    #[test]
    fn every_declared_metric_registers() {
        let m = Metrics::new();
        for &(name, kind, _) in METRICS {
            match kind {
                Kind::Counter => m.inc(name, vec![("k", "v".into())]),
                Kind::Gauge => m.set(name, vec![("k", "v".into())], 0.5),
                Kind::Histogram => m.observe(name, vec![("k", "v".into())], 0.5),
            }
            let exposed = if kind == Kind::Histogram {
                format!("{name}_count{{")
            } else {
                format!("{name}{{")
            };
            assert!(
                m.render().lines().any(|l| l.starts_with(&exposed)),
                "{name} is exposed under its declared name"
            );
        }
    }
}
