//! The command line: `s321d <command>`. Each command lives in `commands/`;
//! this module only parses arguments and dispatches. Exit status: 0 ran,
//! 1 a file could not be read or a run failed, 2 bad arguments, config, job or
//! policy.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands;

/// s321d: Section 321 / low-value import compliance for US customs.
///
/// Reads carrier manifests, validates every line, catches duplicates and split
/// shipments, applies the de minimis rules in force on each arrival date and
/// routes every shipment to an entry type (86, 11, 01) or to hold/duplicate.
#[derive(Debug, Parser)]
#[command(name = "s321d", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file layered over the built-in defaults (default: /etc/s321d/s321d.toml if present).
    #[arg(long, global = true, value_name = "FILE", env = "S321D_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate manifest files and route every shipment, without filing anything.
    ///
    /// Each FILE is read with the first job whose `pattern` matches its name; all
    /// FILEs form one run, in the order given. Writes findings.csv,
    /// findings.parquet and dispositions.csv into --out. Exit status: 0 when it
    /// ran (findings are not failures), 1 when a file could not be read, 2 for
    /// bad arguments, job or policy.
    Validate(ValidateArgs),
    /// Run the daemon: scheduled jobs, health and metrics, systemd notifications.
    ///
    /// Jobs with a `schedule` run on it; SIGHUP reloads configuration, policy and
    /// jobs (keeping the old ones if the new are invalid); SIGTERM stops after the
    /// run in flight (within daemon.graceful_shutdown_secs).
    Run,
    /// Run one job once, through the same steps as a scheduled run, and exit.
    ///
    /// Takes every complete file from the job's inbox, archives it, evaluates,
    /// writes outputs, then moves each file to processed/ or quarantine/. Exit
    /// status 0 when all went well, 1 when any file or step failed.
    RunJob {
        /// Job names (each runs in turn).
        #[arg(required = true)]
        names: Vec<String>,
        /// First copy every file of DIR that a named job's pattern matches into
        /// that job's inbox (for demos and carrier onboarding).
        #[arg(long, value_name = "DIR")]
        seed: Option<PathBuf>,
    },
    /// Re-evaluate a job's archived files taken between two dates (UTC,
    /// inclusive), writing fresh outputs marked as a replay. Files nothing.
    Replay {
        /// The job's `name`.
        #[arg(long)]
        job: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        to: chrono::NaiveDate,
    },
    /// File a finished run's eligible shipments (86, 11) with ACE, or read ACE's answers.
    ///
    /// Entries are numbered from the ledger and recorded before they are sent;
    /// a shipment is never filed twice. 01 shipments are listed in the run's
    /// formal_entries.csv. `--poll` reconciles pending entries and reads
    /// acknowledgements and release notifications.
    File {
        /// The run to file.
        #[arg(long, value_name = "RUN_ID", required_unless_present = "poll")]
        run: Option<String>,
        /// Override the job's transport.
        #[arg(long, value_enum)]
        transport: Option<TransportArg>,
        /// Only reconcile and read responses.
        #[arg(long)]
        poll: bool,
    },
    /// Run the ACE simulator: the HTTP gateway and the CATAIR batch folders.
    AceSim {
        /// Simulator configuration (filer codes, folders, release shares, faults).
        #[arg(long, value_name = "SIM.toml")]
        config: PathBuf,
    },
    /// Check the configuration, the policy and every job file; list every problem.
    ///
    /// Exits 0 when all is well, 2 when anything is wrong (each problem names its
    /// file and key). Suitable as systemd's ExecStartPre.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A job file (repeatable); its [format] says how to read matching files.
    #[arg(long = "job", value_name = "JOB.toml", required = true)]
    pub jobs: Vec<PathBuf>,
    /// Policy file (default: paths.policy from config, else the shipped policy).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Neither consult nor update the history of earlier runs.
    #[arg(long)]
    pub no_history: bool,
    /// Folder for the output files.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Data folder holding the state store (default: paths.data_dir from config).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Rows per processing chunk (memory versus overhead; the default suits most runs).
    #[arg(long, value_name = "N", default_value_t = crate::manifest::DEFAULT_CHUNK_ROWS, hide = true)]
    pub chunk_rows: usize,
    /// Manifest files to validate.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy file to check instead of the configured one.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Job files to check instead of every *.toml in paths.jobs_dir.
    #[arg(long = "job", value_name = "JOB.toml")]
    pub jobs: Vec<PathBuf>,
}

/// Filing transports on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TransportArg {
    Http,
    Catair,
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => commands::validate::run(cli.config.as_deref(), args),
        Command::Check(args) => commands::check::run(cli.config.as_deref(), args),
        Command::Run => commands::run::run(cli.config.as_deref()),
        Command::RunJob { names, seed } => commands::run_job::run(cli.config.as_deref(), &names, seed.as_deref()),
        Command::Replay { job, from, to } => commands::replay::run(cli.config.as_deref(), &job, from, to),
        Command::File { run, transport, poll } => {
            let transport = transport.map(|t| match t {
                TransportArg::Http => crate::job::FilingTransport::Http,
                TransportArg::Catair => crate::job::FilingTransport::Catair,
            });
            commands::file::run(cli.config.as_deref(), run.as_deref(), transport, poll)
        }
        Command::AceSim { config } => commands::ace_sim::run(&config),
    }
}
