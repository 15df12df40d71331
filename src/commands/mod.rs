//! One module per CLI command; each returns the process exit code.

pub mod ace_sim;
pub mod audit;
pub mod check;
pub mod file;
pub mod ledger;
pub mod replay;
pub mod report;
pub mod run;
pub mod run_job;
pub mod validate;

use std::process::ExitCode;

use crate::problem::Problems;

/// Exit status for bad arguments, config, job or policy.
pub const EXIT_USAGE: u8 = 2;
/// Exit status when a file could not be read or a run failed.
pub const EXIT_FAILED: u8 = 1;

/// Loads the configuration, starts logging and loads the run context (policy,
/// jobs, sources, state store): the start of every command that works on
/// the data folder. On a problem, the exit code to return.
pub fn load_context(config: Option<&std::path::Path>) -> Result<crate::intake::Context, ExitCode> {
    let cfg = crate::config::Config::load(config).map_err(|p| report_problems(&p))?;
    crate::telemetry::init(cfg.log.format, &cfg.log.level);
    crate::intake::Context::load(cfg).map_err(|p| report_problems(&p))
}

/// Prints problems to stderr and returns the usage exit code.
pub fn report_problems(problems: &Problems) -> ExitCode {
    for p in &problems.0 {
        eprintln!("error: {p}");
    }
    ExitCode::from(EXIT_USAGE)
}
