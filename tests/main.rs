//! The integration test binary: every end-to-end test, run against the real
//! `s321d` binary and (from the daemon on) real servers on loopback.

mod support;

// The CLI contract: exit status, argument and config errors, `check`.
mod cli;
// `validate` end to end over data-samples/, with the exact expected outputs.
mod samples;
// Bugs found by the differential review against the oracle, end to end.
mod regression;
// The source conformance suite and the life of a file, on local, SFTP and S3.
mod sources;
// SIGKILL at every step: exactly once, nothing lost, nothing half-written.
mod crash;
// The daemon process: health, readiness, metrics, signals, schedules, systemd.
mod daemon;
// ACE filing through both transports against the real simulator; faults and crashes.
mod filing;
// SIGKILLs of the CLI filer and the daemon, both transports, the simulator's faults on.
mod filing_kill;
// Reports through a real SMTP server: exceptions, the dashboard, previews, the outbox.
mod reports;
// The audit trail: the hash chain, tampering, evidence packs.
mod audit;
// Hostile names and paths: preview folders, check bounds, log hygiene, inbox names.
mod hostile_paths;
// Hostile manifest files: binary and NUL input, long records, findings caps, duplicated names.
mod hostile;
// Hostile operations: poison files, sweeps, restarts, readiness, refused credentials.
mod hostile_ops;
// Fuzz regressions: the committed fuzz corpus replayed through every parser.
mod fuzz_corpus;
// The ACE simulator alone: hand-built CATAIR batches and ACE's answers.
mod acesim;
// The layering of src/: allowed imports between top-level modules, no cycle.
mod layers;
// The state store conformance suite: each guarantee against a real store, from several threads.
mod state;
// The real binary on PostgreSQL: the main job, state migrate, leases.
mod postgres;
// Three daemons on one PostgreSQL store and one bucket, killed at random.
mod replicas;
