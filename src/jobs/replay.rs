//! A replay: archived files evaluated again as a new run (`s321d replay`),
//! under today's policy and job files. A replay never files and never
//! changes the files' state; its outputs are published like any run's.

use crate::app::App;
use crate::intake;
use crate::job::Job;
use crate::outputs::summary::Summary;
use crate::state::types::RunKind;

/// Re-evaluates archived files as a replay run (see `commands::replay`).
pub async fn replay(
    ctx: &App,
    job: &Job,
    run_id: &str,
    files: Vec<crate::state::intake::FileRecord>,
) -> anyhow::Result<Summary> {
    crate::audit::replay_requested(ctx, job, run_id, &files)?;
    let summary =
        intake::evaluate::evaluate_and_publish(ctx, job, RunKind::Replay, run_id, files).await?;
    let json = serde_json::to_string(&summary)?;
    ctx.db(|s| s.finish_run(run_id, crate::state::types::RunStatus::Succeeded, &json))?;
    Ok(summary)
}
