//! The command line: `s321d <command>`. Each command lives in `commands/`;
//! this module only declares the arguments (clap types); `commands::main`
//! parses and dispatches. Exit status: 0 ran,
//! 1 a file could not be read or a run failed, 2 bad arguments, config, job or
//! policy.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// File a finished run's entries (86 shipments, type 11 entries) with ACE, or read ACE's answers.
    ///
    /// Entries are numbered from the ledger and recorded before they are sent;
    /// a house bill is never on two entries. Type 01 and 03 entries are listed
    /// in the run's formal_entries.csv, type 11 entries that cannot be filed
    /// (no IOR number: V010) in not_filed.csv. `--poll` reconciles pending
    /// entries and reads acknowledgements and release notifications.
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
    /// Build a report by hand: the daily dashboard of a report job, or a run's
    /// exception reports; preview it in a folder or send it now.
    ///
    /// `--job NAME [--date DATE]` builds report job NAME's dashboard for DATE
    /// (default: the day it would cover now); `--run RUN_ID` builds the run's
    /// exception reports. With `--preview DIR` the email (HTML, text, images,
    /// attachments, .eml) is written to DIR and nothing is sent; without it
    /// the report is queued in the outbox and sent (exit 1 if it stays queued:
    /// the daemon retries it). `--flush` sends what the outbox holds.
    Report(ReportArgs),
    /// The audit trail: verify its hash chain, or export an evidence pack.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The filing ledger: CAPE refund request files, one entry's story.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// The state store: copy a single node's SQLite store into PostgreSQL.
    #[command(subcommand)]
    State(StateCommand),
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
pub struct ReportArgs {
    /// A report job's `name` (a dashboard).
    #[arg(long, conflicts_with = "run")]
    pub job: Option<String>,
    /// The day to report (YYYY-MM-DD, in the report job's time zone).
    #[arg(long, requires = "job")]
    pub date: Option<chrono::NaiveDate>,
    /// A run id (its exception reports).
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// Only this carrier's exception report.
    #[arg(long, requires = "run")]
    pub carrier: Option<String>,
    /// Write the email to DIR instead of sending it.
    #[arg(long, value_name = "DIR")]
    pub preview: Option<PathBuf>,
    /// Only send what is queued in the outbox.
    #[arg(long, conflicts_with_all = ["job", "run", "preview"])]
    pub flush: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy a SQLite store into an empty PostgreSQL store and verify the copy
    /// (row counts of every table, the audit head, the whole chain).
    ///
    /// Stop the daemon first. The password comes from `[state] password_file`
    /// or PGPASSWORD, never the URL. Exit 0 when the copy verified, 1 when not.
    Migrate {
        /// The SQLite store: sqlite:PATH.
        #[arg(long, value_name = "sqlite:PATH")]
        from: String,
        /// The PostgreSQL store: postgres://user@host:port/db.
        #[arg(long, value_name = "postgres://...")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain, recomputing every hash; name the first broken link.
    ///
    /// Exit 0 when the chain is whole (the head is printed), 1 when it is not.
    Verify {
        /// Also check that event SEQ still has HASH (as printed earlier or
        /// carried in a report email): catches a chain cut off after it.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
    /// Write an evidence pack: a house bill's, an entry's or a period's story.
    Export {
        /// The house bill to document.
        #[arg(long, conflicts_with_all = ["entry", "from"])]
        house_bill: Option<String>,
        /// Only this carrier's house bill.
        #[arg(long, requires = "house_bill")]
        carrier: Option<String>,
        /// An entry number (documents its house bill).
        #[arg(long, conflicts_with = "from")]
        entry: Option<String>,
        /// First day of a period (UTC, YYYY-MM-DD).
        #[arg(long, requires = "to")]
        from: Option<chrono::NaiveDate>,
        /// Last day of a period (UTC, inclusive).
        #[arg(long, requires = "from")]
        to: Option<chrono::NaiveDate>,
        /// Folder to write (or the zip file, with --zip).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Write one zip file instead of a folder.
        #[arg(long)]
        zip: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Write CBP CAPE refund request files: filed entries with a chapter 99 line
    /// under a heading, arriving in a period.
    ///
    /// Entries that ACE holds (accepted, released, held, detained) whose
    /// arrival (entry) date is in [--from, --to] and that have a line whose
    /// chapter 99 heading starts with one of the --heading values (9903.01
    /// covers 9903.01.25). One 11-character entry number per row under the
    /// header `Entry Number`, at most 9,999 rows per file: cape-001.csv,
    /// cape-002.csv, ... in --out (earlier cape-NNN.csv files there are
    /// replaced).
    Cape {
        /// A chapter 99 heading or prefix (repeatable), e.g. 9903.01.
        #[arg(long = "heading", value_name = "HEADING", required = true)]
        headings: Vec<String>,
        /// First arrival date (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last arrival date (YYYY-MM-DD, inclusive).
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Folder for the files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Only entries of this importer of record (CAPE declarations are per importer).
        #[arg(long, value_name = "IOR_NUMBER")]
        ior: Option<String>,
    },
    /// Print one filed entry's story: type, IOR, dates, house bills, lines,
    /// chapter 99 amounts, duty and fees, and every filing event.
    Show {
        /// The entry number (S32-0001000-5 or S3200010005).
        entry: String,
    },
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
