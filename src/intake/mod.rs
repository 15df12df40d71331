//! The life of a file: the steps of one run of one job, from the inbox to
//! the outputs. Each step is a submodule; `jobs::run` runs them in this
//! order, then the filing step and the exception reports.
//!
//! 1. **Recover** whatever an earlier run left unfinished (see `recover`).
//! 2. **Take** complete files from the job's inbox (temporary names ignored;
//!    settled for `settle_secs`, or a `.done` marker beside them), recording
//!    each by name, size and SHA-256; the same bytes under any name are a
//!    duplicate, skipped and reported.
//! 3. **Archive** each taken file to `raw/YYYY/MM/DD/` and verify the copy by
//!    re-reading it, before anything else happens to it.
//! 4. **Evaluate** the archived files as one engine run and **publish**
//!    findings, dispositions and `summary.json` (last) under the job's output
//!    location, in a folder named by the run id.
//! 5. **Finish**: only then move each file out of the inbox, to `processed/`
//!    (or delete it), or to `quarantine/` with an error note when it could not
//!    be read at all.
//!
//! Every step is recorded in the state store before the next one starts, and
//! every write is atomic, so a crash at any point is repaired by the next run:
//! nothing is lost and nothing is processed twice.

pub mod evaluate;
pub mod finish;
pub mod recover;
pub mod take;

use chrono::Utc;

use crate::outputs::summary::Summary;
use crate::state::types::RunKind;

/// What the steps of a job run did to its files; `jobs::run` adds the
/// filing step's outcome to make a `JobRunReport`.
#[derive(Debug, Default, Clone)]
pub struct StepReport {
    /// Runs evaluated (a recovered run plus a new one, at most).
    pub runs: Vec<Summary>,
    /// Files found duplicating earlier ones, by name.
    pub duplicates: Vec<String>,
    /// Files left for a later run (still changing, or an operation failed).
    pub deferred: Vec<String>,
    /// Problems that did not stop the run, one line each.
    pub errors: Vec<String>,
}

/// A sortable, readable run id: `20261125T143005Z-3f9a1c`.
pub fn new_run_id(kind: RunKind) -> String {
    let rand = uuid::Uuid::now_v7().simple().to_string();
    let prefix = if kind == RunKind::Replay {
        "replay-"
    } else {
        ""
    };
    format!(
        "{prefix}{}-{}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        &rand[rand.len() - 6..]
    )
}
