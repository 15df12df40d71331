//! Daemon metrics in the Prometheus text format (`/metrics`).
//!
//! A small registry of counters and gauges keyed by name and labels; every
//! metric s321d exports is declared in [`METRICS`] with its help text, so the
//! exposition always carries `# HELP` and `# TYPE`. Counting happens once per
//! run or file, never per row.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Metric kinds as Prometheus names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// Every metric: name, kind, help.
pub const METRICS: &[(&str, Kind, &str)] = &[
    ("s321d_build_info", Kind::Gauge, "Always 1; the version label says which s321d is running."),
    ("s321d_runs_total", Kind::Counter, "Job runs finished, by job and status (succeeded, failed)."),
    ("s321d_files_total", Kind::Counter, "Files taken, by job and outcome (processed, quarantined, duplicate)."),
    ("s321d_lines_total", Kind::Counter, "Manifest lines evaluated, by job."),
    ("s321d_shipments_total", Kind::Counter, "Shipments routed, by job."),
    ("s321d_findings_total", Kind::Counter, "Findings, by job, rule and severity."),
    ("s321d_dispositions_total", Kind::Counter, "Shipments by job and disposition (hold, duplicate, 03, 01, 86, 11)."),
    ("s321d_entries_total", Kind::Counter, "Customs entries built, by job and entry type (01, 03, 11)."),
    ("s321d_run_duration_seconds_sum", Kind::Counter, "Total seconds spent in job runs, by job."),
    ("s321d_run_duration_seconds_count", Kind::Counter, "Job runs timed, by job."),
    ("s321d_last_run_duration_seconds", Kind::Gauge, "Duration of the last run, by job."),
    ("s321d_last_success_timestamp_seconds", Kind::Gauge, "Unix time of the last successful run, by job."),
    ("s321d_last_failure_timestamp_seconds", Kind::Gauge, "Unix time of the last failed run, by job."),
    ("s321d_source_errors_total", Kind::Counter, "Source operations that failed after retries, by source."),
    ("s321d_job_up", Kind::Gauge, "1 when the job's last run succeeded, 0 when it failed."),
    ("s321d_filing_transitions_total", Kind::Counter, "Filing state changes applied from ACE responses, by new state."),
    ("s321d_entry_summary_transitions_total", Kind::Counter, "Entry summary (AE) state changes applied from ACE's answers, by new state."),
    ("s321d_filings_sent_total", Kind::Counter, "Entries sent to ACE, by transport."),
    ("s321d_filings", Kind::Gauge, "Filings in the ledger, by state."),
    ("s321d_filing_gateway_up", Kind::Gauge, "1 when the ACE gateway answered the last request, 0 while it cannot be reached after retries."),
    ("s321d_emails_sent_total", Kind::Counter, "Report emails accepted by the SMTP server, by kind (dashboard, exceptions)."),
    ("s321d_email_failures_total", Kind::Counter, "Failed delivery attempts of report emails (each stays queued), by kind."),
    ("s321d_email_queued", Kind::Gauge, "Report emails waiting in the outbox."),
    ("s321d_email_oldest_queued_seconds", Kind::Gauge, "Age of the oldest report email in the outbox (0 when empty)."),
    ("s321d_reports_total", Kind::Counter, "Report job runs, by report and status (succeeded, failed)."),
];

/// Labels as ordered (name, value) pairs.
pub type Labels = Vec<(&'static str, String)>;

/// The registry.
#[derive(Debug, Default)]
pub struct Metrics {
    values: Mutex<BTreeMap<(&'static str, Labels), f64>>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics::default();
        m.set("s321d_build_info", vec![("version", env!("CARGO_PKG_VERSION").to_owned())], 1.0);
        m
    }

    fn check(name: &str) {
        debug_assert!(METRICS.iter().any(|(n, _, _)| *n == name), "undeclared metric {name}");
    }

    /// Adds to a counter.
    pub fn add(&self, name: &'static str, labels: Labels, by: f64) {
        Self::check(name);
        *self.values.lock().expect("metrics lock").entry((name, labels)).or_insert(0.0) += by;
    }

    pub fn inc(&self, name: &'static str, labels: Labels) {
        self.add(name, labels, 1.0);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, labels: Labels, value: f64) {
        Self::check(name);
        self.values.lock().expect("metrics lock").insert((name, labels), value);
    }

    /// A value, if recorded (tests, readiness).
    pub fn get(&self, name: &'static str, labels: &Labels) -> Option<f64> {
        self.values.lock().expect("metrics lock").get(&(name, labels.clone())).copied()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let values = self.values.lock().expect("metrics lock");
        let mut out = String::new();
        for (name, kind, help) in METRICS {
            let rows: Vec<_> = values.iter().filter(|((n, _), _)| n == name).collect();
            if rows.is_empty() {
                continue;
            }
            let family = name.trim_end_matches("_sum").trim_end_matches("_count");
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {}", if family != *name { "untyped" } else if *kind == Kind::Counter { "counter" } else { "gauge" });
            for ((_, labels), v) in rows {
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{}}} {v}", labels.join(","));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.inc("s321d_runs_total", vec![("job", "demo".into()), ("status", "succeeded".into())]);
        m.inc("s321d_runs_total", vec![("job", "demo".into()), ("status", "succeeded".into())]);
        m.add("s321d_lines_total", vec![("job", "de\"mo".into())], 37.0);
        let text = m.render();
        assert!(text.contains("# TYPE s321d_runs_total counter"));
        assert!(text.contains("s321d_runs_total{job=\"demo\",status=\"succeeded\"} 2"));
        assert!(text.contains("s321d_lines_total{job=\"de\\\"mo\"} 37"));
        assert!(text.contains("s321d_build_info{version="));
        assert!(!text.contains("s321d_files_total"), "families with no samples are left out");
    }
}
