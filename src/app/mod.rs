//! The application environment: [`App`] holds what every command, job run
//! and report needs (configuration, policy, job and report job definitions,
//! sources, the state store, metrics, in-memory status, the retry policy),
//! loaded and checked at once. Shared by the daemon, `run-job`, `replay` and
//! the other commands; it runs nothing itself.
//!
//! - [`status`]: job and source status in memory, for readiness.

pub mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tracing::warn;

use crate::config::Config;
use crate::fsutil::scratch;
use crate::job::Job;
use crate::metrics::Metrics;
use crate::paths::Escaped;
use crate::policy::Policy;
use crate::problem::{Problem, Problems};
use crate::retry::RetryPolicy;
use crate::sources::{Source, SourceError};
use crate::state::StateStore;

/// Everything a job run needs; shared by the daemon, `run-job` and `replay`.
pub struct App {
    pub config: Config,
    pub policy: Arc<Policy>,
    pub jobs: Vec<Arc<Job>>,
    /// Report jobs (job files with a `[report]` table).
    pub reports: Vec<Arc<crate::job::report::ReportJob>>,
    pub sources: BTreeMap<String, Arc<Source>>,
    /// The bookkeeping connection (engine runs open their own).
    pub store: Arc<Mutex<Box<dyn StateStore>>>,
    /// Where the store is (engine runs open their own connection to it).
    pub state: crate::config::state::StateLocation,
    pub metrics: Arc<Metrics>,
    /// Job and source status in memory, for readiness (shared across reloads).
    pub status: Arc<status::Status>,
    pub retry: RetryPolicy,
}

impl App {
    /// Loads the policy, every job in `paths.jobs_dir`, the sources and the
    /// state store, reporting every configuration problem at once.
    pub fn load(config: Config) -> Result<App, Problems> {
        let mut problems = Vec::new();
        let policy = match config.policy_path() {
            Some(p) => Policy::load(&p),
            None => Ok(Policy::builtin()),
        };
        let policy = policy.map_err(|p| problems.extend(p.0)).ok();
        let jobs = crate::job::files::load_jobs(&config, &mut problems);
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        let reports = crate::job::files::load_report_jobs(&config, &names, &mut problems);
        let mut sources = BTreeMap::new();
        for name in config.source_names() {
            let cfg = config.source(name).expect("listed");
            match Source::from_config(name, &cfg) {
                Ok(s) => {
                    sources.insert(name.to_owned(), Arc::new(s));
                }
                Err(e) => problems.push(Problem {
                    file: "config".into(),
                    key: format!("sources.{name}"),
                    message: e.to_string(),
                }),
            }
        }
        let state = config.state_location().map_err(|p| problems.push(p)).ok();
        let store = state
            .as_ref()
            .and_then(|loc| match crate::state::open(loc) {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.push(Problem {
                        file: "config".into(),
                        key: if loc.is_postgres() {
                            "state.url"
                        } else {
                            "paths.data_dir"
                        }
                        .into(),
                        message: e.to_string(),
                    });
                    None
                }
            });
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        let retry = RetryPolicy {
            attempts: config.daemon.retry_attempts.max(1),
            initial: Duration::from_millis(config.daemon.retry_initial_ms),
        };
        Ok(App {
            policy: Arc::new(policy.expect("checked")),
            jobs,
            reports,
            sources,
            store: Arc::new(Mutex::new(store.expect("checked"))),
            state: state.expect("checked"),
            metrics: Arc::new(Metrics::new()),
            status: Arc::new(status::Status::default()),
            retry,
            config,
        })
    }

    pub fn job(&self, name: &str) -> Option<Arc<Job>> {
        self.jobs.iter().find(|j| j.name == name).cloned()
    }

    pub fn source(&self, name: &str) -> anyhow::Result<Arc<Source>> {
        self.sources
            .get(name)
            .cloned()
            .with_context(|| format!("no source named {name:?}"))
    }

    /// Runs `f` on the bookkeeping store.
    pub fn db<T>(
        &self,
        f: impl FnOnce(&mut dyn StateStore) -> Result<T, crate::state::StoreError>,
    ) -> anyhow::Result<T> {
        let mut store = self
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("state store lock poisoned"))?;
        f(store.as_mut()).map_err(|e| {
            let kind = match e.kind() {
                crate::state::ErrorKind::Conflict => "conflict",
                crate::state::ErrorKind::Unavailable => "unavailable",
                crate::state::ErrorKind::Corrupt => "corrupt",
                crate::state::ErrorKind::Other => "other",
            };
            self.metrics
                .inc("s321d_store_errors_total", vec![("kind", kind.into())]);
            e.into()
        })
    }

    /// Local scratch space for copies and run outputs before they are
    /// published: this process's own folder (see `scratch`).
    pub fn staging(&self) -> PathBuf {
        scratch::process_dir(&self.config.paths.data_dir)
    }

    pub(crate) fn note_source_error(&self, e: &SourceError) {
        let source = match e {
            SourceError::NotFound { source_name, .. }
            | SourceError::Transient { source_name, .. }
            | SourceError::Permanent { source_name, .. } => source_name.clone(),
        };
        if let SourceError::Permanent { message, path, .. } = e {
            // Retrying cannot fix it: readiness names it until the source answers again.
            let why = if path.is_empty() {
                message.clone()
            } else {
                format!("{path}: {message}")
            };
            if self.status.refused().iter().all(|(n, _, _)| *n != source) {
                warn!(source = %source, "Source {source} refused an operation; retrying will not help: {}", Escaped(&why));
            }
            self.status.source_refused(&source, &why);
        }
        self.metrics
            .inc("s321d_source_errors_total", vec![("source", source)]);
    }
}
