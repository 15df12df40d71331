//! `s321d file --run RUN_ID`: file a finished run's entries by hand (the
//! same step a job with `[filing]` runs after each run), or
//! `s321d file --poll` to read ACE's responses and notifications.
//!
//! Exits 1 (`EXIT_FAILED`) when entries are still pending after the retries
//! (sent and unanswered, or not sendable because the gateway is down),
//! naming how many and the last transport error: a run with nothing filed
//! must never look like a success.

use std::path::Path;
use std::process::ExitCode;

use crate::job::FilingTransport;
use crate::state::ledger::FilingState;

pub fn run(
    config: Option<&Path>,
    run_id: Option<&str>,
    transport: Option<FilingTransport>,
    poll: bool,
) -> ExitCode {
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        let mut failure = None;
        if let Some(run_id) = run_id {
            let run = ctx.db(|s| s.run(run_id))?.ok_or_else(|| anyhow::anyhow!("no run {run_id} in the state store"))?;
            let job = ctx.job(&run.job).ok_or_else(|| anyhow::anyhow!("run {run_id} belongs to job {}, which is not loaded", run.job))?;
            let transport = transport.or(job.filing).unwrap_or(FilingTransport::Http);
            let report = crate::filing::file_run(&ctx, &job, run_id, transport).await?;
            println!(
                "s321d file: run {run_id}: {} entr(ies) filed over {}, {} already filed, {} adopted from ACE (adopted.csv), \
                 {} formal entr(ies) for a broker (formal_entries.csv), {} not filed (not_filed.csv), {} not answered yet",
                report.filed,
                transport.as_str(),
                report.already_filed,
                report.adopted,
                report.formal,
                report.not_filed,
                report.not_sent
            );
            failure = report.failure().map(|why| format!("run {run_id}: {why}"));
        } else if poll
            && let Some(why) = crate::filing::reconcile(&ctx).await? {
                let pending = ctx.db(|s| s.filings_in(&[FilingState::Pending]))?.len();
                failure = Some(format!("{pending} entr(ies) still pending after the retries: {why}"));
            }
        let counts = ctx.db(|s| s.filing_counts())?;
        let mut text: Vec<String> = counts.iter().map(|(s, n)| format!("{} {n}", s.as_str())).collect();
        let not_filed = ctx.db(|s| s.not_filed_count())?;
        if not_filed > 0 {
            text.push(format!("not filed {not_filed}"));
        }
        println!("  ledger: {}", if text.is_empty() { "empty".into() } else { text.join(", ") });
        anyhow::Ok(failure)
    });
    match result {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(why)) => {
            eprintln!("error: {why}");
            ExitCode::from(super::EXIT_FAILED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
