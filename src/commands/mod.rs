//! One module per CLI command; each returns the process exit code. [`main`]
//! parses the command line (`cli`) and dispatches to them.

pub mod ace_sim;
pub mod audit;
pub mod check;
pub mod file;
pub mod ledger;
pub mod replay;
pub mod report;
pub mod run;
pub mod run_job;
pub mod state;
pub mod validate;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{AuditCommand, Cli, Command, LedgerCommand, StateCommand, TransportArg};
use crate::problem::Problems;

/// Exit status for bad arguments, config, job or policy.
pub const EXIT_USAGE: u8 = 2;
/// Exit status when a file could not be read or a run failed.
pub const EXIT_FAILED: u8 = 1;

/// Loads the configuration, starts logging and loads the run context (policy,
/// jobs, sources, state store): the start of every command that works on
/// the data folder. On a problem, the exit code to return.
pub fn load_context(config: Option<&std::path::Path>) -> Result<crate::app::App, ExitCode> {
    let cfg = crate::config::Config::load(config).map_err(|p| report_problems(&p))?;
    crate::telemetry::init(cfg.log.format, &cfg.log.level);
    crate::app::App::load(cfg).map_err(|p| report_problems(&p))
}

/// Prints problems to stderr and returns the usage exit code.
pub fn report_problems(problems: &Problems) -> ExitCode {
    for p in &problems.0 {
        eprintln!("error: {p}");
    }
    ExitCode::from(EXIT_USAGE)
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    dispatch(Cli::parse())
}

/// Runs the command `cli` names.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate(args) => validate::run(cli.config.as_deref(), args),
        Command::Check(args) => check::run(cli.config.as_deref(), args),
        Command::Run => run::run(cli.config.as_deref()),
        Command::RunJob { names, seed } => {
            run_job::run(cli.config.as_deref(), &names, seed.as_deref())
        }
        Command::Replay { job, from, to } => replay::run(cli.config.as_deref(), &job, from, to),
        Command::File {
            run,
            transport,
            poll,
        } => {
            let transport = transport.map(|t| match t {
                TransportArg::Http => crate::job::FilingTransport::Http,
                TransportArg::Catair => crate::job::FilingTransport::Catair,
            });
            file::run(cli.config.as_deref(), run.as_deref(), transport, poll)
        }
        Command::AceSim { config } => ace_sim::run(&config),
        Command::Report(a) => report::run(
            cli.config.as_deref(),
            report::ReportArgs {
                job: a.job,
                date: a.date,
                run: a.run,
                carrier: a.carrier,
                preview: a.preview,
                flush: a.flush,
            },
        ),
        Command::Ledger(LedgerCommand::Cape {
            headings,
            from,
            to,
            out,
            ior,
        }) => ledger::cape(
            cli.config.as_deref(),
            ledger::CapeArgs {
                headings,
                from,
                to,
                out,
                ior,
            },
        ),
        Command::State(StateCommand::Migrate { from, to }) => {
            state::migrate(cli.config.as_deref(), &from, &to)
        }
        Command::Ledger(LedgerCommand::Show { entry }) => {
            ledger::show(cli.config.as_deref(), &entry)
        }
        Command::Audit(AuditCommand::Verify { head }) => {
            audit::verify(cli.config.as_deref(), audit::VerifyArgs { head })
        }
        Command::Audit(AuditCommand::Export {
            house_bill,
            carrier,
            entry,
            from,
            to,
            out,
            zip,
        }) => audit::export(
            cli.config.as_deref(),
            audit::ExportArgs {
                house_bill,
                carrier,
                entry,
                from,
                to,
                out,
                zip,
            },
        ),
    }
}
