//! The run summary (`summary.json`), written last into a run's output folder:
//! its presence marks the outputs complete. It records what was read, what
//! became of every file, the counts, and the versions that produced them
//! (s321d, the policy, the job's mapping), for audits and replays.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::rules::Severity;
use crate::engine::{EntrySummary, RunSummary};

/// What became of one file in a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileOutcome {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    /// `processed`, `quarantined` or `duplicate`.
    pub status: String,
    pub records: u64,
    pub archive: Option<String>,
    /// Why it was quarantined, or what it duplicates.
    pub note: Option<String>,
}

/// The summary of one run, as written to `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub run_id: String,
    pub job: String,
    /// `scheduled`, `manual` or `replay` (a replay never files anything).
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub s321d_version: String,
    pub policy_source: String,
    pub policy_sha256: String,
    pub job_file_sha256: String,
    pub files: Vec<FileOutcome>,
    pub lines: u64,
    pub shipments: u64,
    pub findings_by_severity: BTreeMap<String, u64>,
    pub findings_by_rule: BTreeMap<String, u64>,
    pub dispositions: BTreeMap<String, u64>,
    /// v2: the run's entries and estimated duty and fees (absent in older summaries).
    #[serde(default)]
    pub entries: EntrySummary,
    pub duration_ms: u64,
}

impl Summary {
    /// Builds the summary of an engine run.
    pub fn new(
        run: &RunSummary,
        job: &crate::job::Job,
        kind: &str,
        started_at: DateTime<Utc>,
        policy_source: &str,
        files: Vec<FileOutcome>,
    ) -> Summary {
        let mut by_severity = BTreeMap::new();
        for sev in [Severity::Error, Severity::Warning, Severity::Info] {
            by_severity.insert(sev.as_str().to_owned(), run.count(sev));
        }
        Summary {
            run_id: run.run_id.clone(),
            job: job.name.clone(),
            kind: kind.into(),
            started_at,
            finished_at: Utc::now(),
            s321d_version: env!("CARGO_PKG_VERSION").into(),
            policy_source: policy_source.into(),
            policy_sha256: run.policy_digest.clone(),
            job_file_sha256: job.digest.clone(),
            files,
            lines: run.lines,
            shipments: run.shipments,
            findings_by_severity: by_severity,
            findings_by_rule: run
                .findings_by_rule
                .iter()
                .map(|(r, n)| (r.code().to_owned(), *n))
                .collect(),
            dispositions: run.dispositions.clone(),
            entries: run.entries.clone(),
            duration_ms: run.duration_ms as u64,
        }
    }
}
