//! Daemon and CLI configuration, layered with the `config` crate:
//! 1. built-in defaults (`config/default.toml`, embedded);
//! 2. `/etc/s321d/s321d.toml` if present, or the file given with `--config`;
//! 3. environment variables `S321D__SECTION__KEY` (double underscores, so keys
//!    with underscores survive: `S321D__PATHS__DATA_DIR`).
//!
//! The result deserialises into strict types (`deny_unknown_fields`), then
//! [`Config::validate`] reports every problem with its key path at once.
//! Secrets never live here: config names the file or variable that holds one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::policy::{Problem, Problems};

/// The embedded defaults.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../config/default.toml");

/// Where the system-wide file is looked for when `--config` is not given.
pub const SYSTEM_CONFIG: &str = "/etc/s321d/s321d.toml";

/// `[paths]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    /// State store, archive and outputs.
    pub data_dir: PathBuf,
    /// Folder of job files.
    pub jobs_dir: PathBuf,
    /// Policy file; empty for the shipped default.
    #[serde(default)]
    pub policy: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// `[daemon]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// IANA time zone of schedules that do not name their own.
    pub timezone: String,
    /// Health and metrics listener address.
    pub listen: String,
    /// Seconds the run in flight may take to finish after SIGTERM.
    pub graceful_shutdown_secs: u64,
    /// /readyz fails when a job's last success is older than this many periods.
    pub readiness_periods: u32,
    /// Attempts of a retriable source operation.
    pub retry_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter.
    pub retry_initial_ms: u64,
}

/// `[archive]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    pub source: String,
    pub path: String,
}

/// `[filing.http]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpFilingConfig {
    pub url: String,
    pub token_file: String,
    pub timeout_secs: u64,
    pub concurrency: usize,
    pub rate_per_sec: u32,
    pub retry_attempts: u32,
    pub retry_initial_ms: u64,
}

/// `[filing.catair]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CatairFilingConfig {
    pub outbound_source: String,
    pub outbound_path: String,
    pub inbound_source: String,
    pub inbound_path: String,
    pub block_size: usize,
}

/// `[filing]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FilingConfig {
    pub filer_code: String,
    pub first_serial: u64,
    pub ior_type: String,
    pub ior_number: String,
    pub mode_of_transport: String,
    pub http: HttpFilingConfig,
    pub catair: CatairFilingConfig,
}

/// The name of the implicit source rooted at the data folder.
pub const DATA_SOURCE: &str = "data";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub paths: PathsConfig,
    pub log: LogConfig,
    pub daemon: DaemonConfig,
    pub archive: ArchiveConfig,
    pub filing: FilingConfig,
    /// `[email]`: SMTP relay, sender, recipient groups, retries.
    #[serde(default)]
    pub email: crate::reports::EmailConfig,
    /// `[reports]`: privacy masking and exception reports.
    #[serde(default)]
    pub reports: crate::reports::ReportsConfig,
    /// Named sources; `data` is implicit.
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, crate::sources::SourceConfig>,
    /// Which file (if any) was layered over the defaults.
    #[serde(skip)]
    pub loaded_from: Option<PathBuf>,
}

impl Config {
    /// Loads the layers and checks them. `explicit` replaces the system file
    /// and must exist.
    pub fn load(explicit: Option<&Path>) -> Result<Config, Problems> {
        let cfg = Config::load_unchecked(explicit)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Loads the layers into the typed config without [`Config::validate`]
    /// (for `check`, which reports everything at once).
    pub fn load_unchecked(explicit: Option<&Path>) -> Result<Config, Problems> {
        let (file, required) = match explicit {
            Some(p) => (p.to_owned(), true),
            None => (PathBuf::from(SYSTEM_CONFIG), false),
        };
        let name = file.display().to_string();
        let problem = |message: String| Problems(vec![Problem { file: name.clone(), key: String::new(), message }]);
        if required && !file.exists() {
            return Err(problem("the configuration file does not exist".into()));
        }
        let present = file.exists();
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT_CONFIG_TOML, config::FileFormat::Toml));
        if present {
            builder = builder.add_source(config::File::from(file.clone()).format(config::FileFormat::Toml).required(required));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("S321D").prefix_separator("__").separator("__").try_parsing(true),
        );
        let raw = builder.build().map_err(|e| problem(e.to_string()))?;
        let mut cfg: Config = raw.try_deserialize().map_err(|e| problem(e.to_string()))?;
        cfg.loaded_from = present.then_some(file);
        Ok(cfg)
    }

    /// Checks what serde cannot, reporting every problem.
    pub fn validate(&self) -> Result<(), Problems> {
        let file = self.loaded_from.as_ref().map_or("built-in defaults".to_owned(), |p| p.display().to_string());
        let mut problems = Vec::new();
        if self.paths.data_dir.as_os_str().is_empty() {
            problems.push(Problem { file: file.clone(), key: "paths.data_dir".into(), message: "must not be empty".into() });
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problems.push(Problem { file: file.clone(), key: "log.level".into(), message: format!("is not a log filter: {e}") });
        }
        let mut report = |key: &str, message: String| problems.push(Problem { file: file.clone(), key: key.into(), message });
        if self.daemon.timezone.parse::<chrono_tz::Tz>().is_err() {
            report("daemon.timezone", format!("{:?} is not an IANA time zone", self.daemon.timezone));
        }
        if self.daemon.listen.parse::<std::net::SocketAddr>().is_err() {
            report("daemon.listen", format!("{:?} is not an address:port", self.daemon.listen));
        }
        if self.daemon.readiness_periods == 0 {
            report("daemon.readiness_periods", "must be at least 1".into());
        }
        if self.sources.contains_key(DATA_SOURCE) {
            report(&format!("sources.{DATA_SOURCE}"), "is the data folder; choose another name".into());
        }
        if !self.source_names().any(|n| n == self.archive.source) {
            report("archive.source", format!("{:?} is not a configured source", self.archive.source));
        }
        let f = &self.filing;
        if !f.filer_code.is_empty() && crate::filing::entry_number::check_digit(&f.filer_code, 0).is_err() {
            report("filing.filer_code", format!("{:?} is not three letters or digits", f.filer_code));
        }
        if f.first_serial > 9_999_999 {
            report("filing.first_serial", "must fit seven digits".into());
        }
        if f.mode_of_transport.len() != 2 || !f.mode_of_transport.bytes().all(|b| b.is_ascii_digit()) {
            report("filing.mode_of_transport", format!("{:?} is not a 2-digit ACE mode of transport", f.mode_of_transport));
        }
        for (key, source) in [("filing.catair.outbound_source", &f.catair.outbound_source), ("filing.catair.inbound_source", &f.catair.inbound_source)] {
            if !self.source_names().any(|n| n == source) {
                report(key, format!("{source:?} is not a configured source"));
            }
        }
        if f.catair.block_size == 0 || f.catair.block_size > 999 {
            report("filing.catair.block_size", "must be 1 to 999".into());
        }
        if f.http.concurrency == 0 {
            report("filing.http.concurrency", "must be at least 1".into());
        }
        for (name, source) in &self.sources {
            if let crate::sources::SourceConfig::Sftp { private_key_file: None, password_file: None, .. } = source {
                report(&format!("sources.{name}"), "set private_key_file or password_file".into());
            }
        }
        crate::reports::settings::validate(&self.email, &self.reports, &file, &mut problems);
        if problems.is_empty() { Ok(()) } else { Err(Problems(problems)) }
    }

    /// Every source name, `data` included.
    pub fn source_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(DATA_SOURCE).chain(self.sources.keys().map(String::as_str))
    }

    /// The configuration of a source, `data` included.
    pub fn source(&self, name: &str) -> Option<crate::sources::SourceConfig> {
        if name == DATA_SOURCE {
            Some(crate::sources::SourceConfig::Local { root: self.paths.data_dir.clone() })
        } else {
            self.sources.get(name).cloned()
        }
    }

    /// The policy file to load, if not the shipped default.
    pub fn policy_path(&self) -> Option<PathBuf> {
        (!self.paths.policy.trim().is_empty()).then(|| PathBuf::from(self.paths.policy.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_local_profile() {
        let raw = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT_CONFIG_TOML, config::FileFormat::Toml))
            .build()
            .unwrap();
        let cfg: Config = raw.try_deserialize().unwrap();
        assert_eq!(cfg.paths.data_dir, PathBuf::from("var"));
        assert_eq!(cfg.paths.jobs_dir, PathBuf::from("jobs"));
        assert_eq!(cfg.log.format, LogFormat::Text);
        assert!(cfg.policy_path().is_none());
        cfg.validate().unwrap();
    }

    #[test]
    fn a_file_overrides_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s321d.toml");
        std::fs::write(&path, "[paths]\ndata_dir = \"/srv/s321d\"\n[log]\nformat = \"json\"\n").unwrap();
        let cfg = Config::load(Some(&path)).unwrap();
        assert_eq!(cfg.paths.data_dir, PathBuf::from("/srv/s321d"));
        assert_eq!(cfg.paths.jobs_dir, PathBuf::from("jobs"), "unset keys keep the default");
        assert_eq!(cfg.log.format, LogFormat::Json);

        std::fs::write(&path, "[paths]\ndata_dri = \"/x\"\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("data_dri"), "{err}");
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
