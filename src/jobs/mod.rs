//! Run orchestration: what one run of a job does from start to end, on top
//! of the steps of `intake`, `filing` and `reports`. Job *definitions* are
//! `job`'s; the daemon's schedule and the commands start runs from here.
//!
//! - [`run`]: one run of an intake job (`run_job`) and its report.
//! - [`replay`]: archived files evaluated again as a replay run.
//! - [`report`]: one run of a report job (the dashboard), and building it.

pub mod replay;
pub mod report;
pub mod run;
