//! Intake bookkeeping: the life of every file a job takes, the runs, and each
//! job's last start and success.
//!
//! A file moves through `taken → archived → evaluating(run) → evaluated →
//! done | quarantined`, or through `duplicate-pending → duplicate` when it
//! holds the same bytes (SHA-256) as an earlier file. Each step is recorded before the next begins, so after a crash
//! the daemon knows exactly what to redo (see `intake::recover`): a `taken`
//! file is forgotten and taken again, an `archived` one is evaluated, an
//! `evaluating` one is evaluated again under the same run id unless its
//! outputs are complete, an `evaluated` one is moved out of the inbox.

use super::types::{RunKind, RunStatus};
use chrono::{DateTime, Utc};

use super::StoreError;

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Taken,
    Archived,
    Evaluating,
    Evaluated,
    Done,
    Quarantined,
    /// Recorded as a duplicate, not yet moved out of the inbox.
    DuplicatePending,
    Duplicate,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Taken => "taken",
            FileState::Archived => "archived",
            FileState::Evaluating => "evaluating",
            FileState::Evaluated => "evaluated",
            FileState::Done => "done",
            FileState::Quarantined => "quarantined",
            FileState::DuplicatePending => "duplicate-pending",
            FileState::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Option<FileState> {
        Some(match s {
            "taken" => FileState::Taken,
            "archived" => FileState::Archived,
            "evaluating" => FileState::Evaluating,
            "evaluated" => FileState::Evaluated,
            "done" => FileState::Done,
            "quarantined" => FileState::Quarantined,
            "duplicate-pending" => FileState::DuplicatePending,
            "duplicate" => FileState::Duplicate,
            _ => return None,
        })
    }
}

/// One file a job has taken.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    pub id: i64,
    pub job: String,
    pub source: String,
    /// Path in the source when taken (in the inbox).
    pub path: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub state: FileState,
    /// Local copy made while taking it.
    pub staging: Option<String>,
    /// Path in the archive.
    pub archive: Option<String>,
    pub run_id: Option<String>,
    pub duplicate_of: Option<i64>,
    pub note: Option<String>,
    pub taken_at: DateTime<Utc>,
    /// The file's modification time in the source when taken: with `size`, how
    /// finishing tells "still the file we took" from a new upload of the name.
    pub modified: Option<DateTime<Utc>>,
    /// Engine runs this file was handed to that never returned: the process
    /// died while evaluating it (see `intake::recover`, poison files).
    pub engine_attempts: u32,
}

/// What taking a file found.
#[derive(Debug, Clone, PartialEq)]
// One value per file taken: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Take {
    /// A new file, recorded as `taken` under this id.
    New(i64),
    /// The same bytes were taken before (under any name): recorded as
    /// `duplicate-pending` under `id`; `of` is the earlier record.
    Duplicate { id: i64, of: FileRecord },
}

/// A job's schedule bookkeeping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobState {
    pub last_started: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A run as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub job: String,
    pub kind: RunKind,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where its outputs are (`source:path`).
    pub output: Option<String>,
    /// The run summary (JSON).
    pub summary: Option<String>,
}

/// Intake bookkeeping, behind a trait like the history.
pub trait IntakeStore: Send {
    /// Records a file as taken, unless the same bytes were already taken by
    /// this job (then records it as a duplicate of that file).
    #[allow(clippy::too_many_arguments)] // the columns of one files row
    fn take_file(
        &mut self,
        job: &str,
        source: &str,
        path: &str,
        size: u64,
        modified: Option<DateTime<Utc>>,
        sha256: &str,
        staging: &str,
    ) -> Result<Take, StoreError>;

    /// Moves a file to a new state, setting the fields given.
    fn set_file_state(
        &mut self,
        id: i64,
        state: FileState,
        archive: Option<&str>,
        run_id: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Forgets a file (a `taken` file whose copy was lost in a crash).
    fn forget_file(&mut self, id: i64) -> Result<(), StoreError>;

    /// Counts one more engine run for each file, before the engine starts.
    fn engine_started(&mut self, ids: &[i64]) -> Result<(), StoreError>;

    /// Clears the count once the engine returned (whatever it found).
    fn engine_returned(&mut self, ids: &[i64]) -> Result<(), StoreError>;

    /// A job's files in any of these states, oldest first.
    fn files_in(&mut self, job: &str, states: &[FileState]) -> Result<Vec<FileRecord>, StoreError>;

    /// One file by id.
    fn file(&mut self, id: i64) -> Result<Option<FileRecord>, StoreError>;

    /// Files of a run.
    fn files_of_run(&mut self, run_id: &str) -> Result<Vec<FileRecord>, StoreError>;

    /// A job's archived files taken between two instants (for replay).
    fn archived_between(
        &mut self,
        job: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FileRecord>, StoreError>;

    fn start_run(
        &mut self,
        run_id: &str,
        job: &str,
        kind: RunKind,
        output: &str,
    ) -> Result<(), StoreError>;

    fn finish_run(
        &mut self,
        run_id: &str,
        status: RunStatus,
        summary: &str,
    ) -> Result<(), StoreError>;

    fn run(&mut self, run_id: &str) -> Result<Option<RunRecord>, StoreError>;

    fn job_state(&mut self, job: &str) -> Result<JobState, StoreError>;

    fn job_started(&mut self, job: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    fn job_finished(
        &mut self,
        job: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// A cheap query proving the store answers (readiness checks).
    fn ping(&mut self) -> Result<(), StoreError>;
}
