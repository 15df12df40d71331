//! s321d: a daemon and CLI that keeps US low-value e-commerce imports compliant
//! with customs (Section 321 / de minimis and what replaced it).
//!
//! # Layout
//! - [`cli`], [`commands`]: argument parsing and one module per command.
//! - [`config`]: layered daemon configuration (defaults, file, environment).
//! - [`policy`]: the effective-dated policy file: regimes, thresholds, lists.
//! - [`job`]: job files and the contract's `[format]` table.
//! - [`manifest`]: reading CSV/NDJSON/Parquet manifests into canonical chunks.
//! - [`engine`]: the rules and routing of the data contract, in polars.
//! - [`entries`]: grouping shipments into customs entries (141.51).
//! - [`duty`]: HTS revisions, rate texts, chapter 99 layers, fees.
//! - [`daemon`]: the service: schedules, signals, sd_notify, health and metrics.
//! - [`intake`]: the life of a file: take, archive, evaluate, publish, finish.
//! - [`sources`]: local folders, object stores, SFTP.
//! - [`state`]: the state store: history, intake bookkeeping, the filing
//!   ledger, the audit trail; SQLite.
//! - [`filing`]: filing with ACE: entries, CATAIR records, both transports.
//! - [`acesim`]: the ACE simulator (`s321d ace-sim`).
//! - [`money`]: exact fixed-point decimal money.
//! - [`metrics`], [`telemetry`]: the Prometheus registry, tracing setup.
//! - [`reports`]: the daily dashboard, exception reports, the outbox.
//! - [`audit`]: audit-trail events outside the store, evidence packs.

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
