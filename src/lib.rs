//! s321d: a daemon and CLI that keeps US low-value e-commerce imports compliant
//! with customs (Section 321 / de minimis and what replaced it).
//!
//! # Layout
//! Layered bottom to top; docs/ARCHITECTURE.md draws the graph and
//! tests/layers.rs enforces it.
//! - Leaves: [`money`] (exact decimal money), [`paths`] (safe names, escaped
//!   log fields, source paths), [`metrics`] (the Prometheus registry),
//!   [`problem`] (problems with a file, with key paths), [`normalize`] (the
//!   contract's normalisations, ISO countries), [`dates`] (date and timestamp
//!   conversions), [`columns`] (every column name), [`fsutil`] (atomic writes,
//!   scratch space), [`faults`] (test fault injection), [`entry_number`].
//! - [`sources`]: local folders, object stores, SFTP; [`retry`]: backoff.
//! - [`config`]: layered daemon configuration (defaults, file, environment).
//! - [`telemetry`]: tracing setup.
//! - [`state`]: the state store: history, intake bookkeeping, the filing
//!   ledger, the audit trail; SQLite.
//! - [`job`]: job files, the contract's `[format]` table, report jobs.
//! - [`manifest`]: reading CSV/NDJSON/Parquet manifests into canonical chunks.
//! - [`duty`]: HTS revisions, rate texts, chapter 99 layers, fees.
//! - [`policy`]: the effective-dated policy file: regimes, thresholds, lists.
//! - [`entries`]: grouping shipments into customs entries (141.51).
//! - [`engine`]: the rules and routing of the data contract, in polars.
//! - [`app`]: `App`, what every command and run needs, loaded at once.
//! - [`outputs`]: a run's published outputs: the summary, where, reading them.
//! - [`audit`]: audit-trail events outside the store, evidence packs.
//! - [`intake`]: the steps of a file's life: take, archive, evaluate, publish, finish.
//! - [`filing`]: filing with ACE: entries, CATAIR records, both transports.
//! - [`reports`]: the daily dashboard, exception reports, the outbox.
//! - [`jobs`]: run orchestration: a job run, a replay, a report job run.
//! - [`acesim`]: the ACE simulator (`s321d ace-sim`).
//! - [`daemon`]: the service: schedules, signals, sd_notify, health and metrics.
//! - [`cli`], [`commands`]: argument types and one module per command.

pub mod acesim;
pub mod app;
pub mod audit;
pub mod cli;
pub mod columns;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dates;
pub mod duty;
pub mod engine;
pub mod entries;
pub mod entry_number;
pub mod faults;
pub mod filing;
pub mod fsutil;
pub mod intake;
pub mod job;
pub mod jobs;
pub mod manifest;
pub mod metrics;
pub mod money;
pub mod normalize;
pub mod outputs;
pub mod paths;
pub mod policy;
pub mod problem;
pub mod reports;
pub mod retry;
pub mod sources;
pub mod state;
pub mod telemetry;
