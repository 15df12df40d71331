//! Where a run's outputs are published (`<output.path>/<run id>/` on the
//! job's output source) and whether they are complete: a run folder with a
//! `summary.json` is complete, and that summary is read back from there.

use anyhow::Context as _;

use super::summary::Summary;
use crate::app::App;
use crate::job::Job;
use crate::paths;
use crate::retry::retry;

/// The output folder of a run, relative to the output source.
pub fn run_folder(job: &Job, run_id: &str) -> String {
    paths::join(&[&job.output.path, run_id])
}

/// Whether a run's outputs are complete (its `summary.json` is published).
pub async fn outputs_complete(ctx: &App, job: &Job, run_id: &str) -> anyhow::Result<bool> {
    let out = ctx.source(&job.output.source)?;
    let path = paths::join(&[&run_folder(job, run_id), "summary.json"]);
    Ok(retry(ctx.retry, "checking run outputs", || out.exists(&path)).await?)
}

/// Reads a published run summary.
pub async fn read_summary(ctx: &App, job: &Job, run_id: &str) -> anyhow::Result<Summary> {
    let out = ctx.source(&job.output.source)?;
    let path = paths::join(&[&run_folder(job, run_id), "summary.json"]);
    let bytes = retry(ctx.retry, "reading a run summary", || out.get(&path)).await?;
    serde_json::from_slice(&bytes).with_context(|| format!("{path} is not a run summary"))
}
