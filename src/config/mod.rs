//! Daemon and CLI configuration, layered with the `config` crate:
//! 1. built-in defaults (`config/default.toml`, embedded);
//! 2. `/etc/s321d/s321d.toml` if present, or the file given with `--config`;
//! 3. environment variables `S321D__SECTION__KEY` (double underscores, so keys
//!    with underscores survive: `S321D__PATHS__DATA_DIR`).
//!
//! The result deserialises into strict types (`deny_unknown_fields`), then
//! [`Config::validate`] reports every problem with its key path at once.
//! Secrets never live here: config names the file or variable that holds one.

pub mod email;
pub mod filing;
pub mod state;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::problem::{Problem, Problems};

/// The embedded defaults.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../config/default.toml");

/// Where the system-wide file is looked for when `--config` is not given.
pub const SYSTEM_CONFIG: &str = "/etc/s321d/s321d.toml";

/// The longest interval or timeout a config or job file may set, in
/// seconds (one day): longer ones are typing mistakes, and huge ones
/// overflow when turned into durations or timestamps.
pub const MAX_INTERVAL_SECS: u64 = 86_400;

/// The most attempts a retry setting may ask for.
pub const MAX_ATTEMPTS: u32 = 100;

/// The problem message for an interval over its bound.
pub fn too_long(value: u64, max: u64, unit: &str) -> String {
    format!("{value} {unit} is too long; at most {max} {unit} (one day)")
}

/// The problem message for a URL with `user:password@`; the URL itself is
/// never repeated, so the secret does not reach a terminal or a log.
const CREDENTIALS_IN_URL: &str = "holds credentials (user:password@ before the host); remove them and put the secret in a file named by a *_file key";

/// Whether a URL (`s3://KEY:SECRET@bucket`, `https://user@host/`) carries
/// userinfo: an `@` in its authority, between `://` and the path.
pub fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.contains('@') && url.contains("://")
}

/// The `S321D__...` variable a config error is about, if it is about one:
/// config-rs says "for key `a.b` in the environment" for a bad value, and
/// "unknown field `c` ... for key `a`" for a misspelt key, naming no source.
fn env_var_of(message: &str, vars: &[String]) -> Option<String> {
    let between = |start: &str| {
        message
            .split_once(start)
            .and_then(|(_, r)| r.split_once('`'))
            .map(|(k, _)| k.to_owned())
    };
    let key = between("for key `").unwrap_or_default();
    let full = match between("unknown field `") {
        Some(field) if key.is_empty() => field,
        Some(field) => format!("{key}.{field}"),
        None => key,
    };
    if full.is_empty() {
        return None;
    }
    let var = format!("S321D__{}", full.replace('.', "__").to_ascii_uppercase());
    vars.iter().find(|v| v.eq_ignore_ascii_case(&var)).cloned()
}

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
    /// Sender site code CBP assigned (A 2-5, 4 letters or digits).
    pub site: String,
    /// Sender id code CBP assigned (A 6-8, 3 letters or digits).
    pub id_code: String,
    /// Processing port (B 4-7, Schedule D, 4 digits); empty: each block
    /// takes its entries' port of entry.
    pub port: String,
    /// File holding the communication password (A 9-14, at most 6 letters
    /// or digits). Empty: the environment variable `S321D_ACE_PASSWORD`.
    /// Never the password itself.
    pub password_file: String,
}

/// `[filing] payment_type`: how an entry summary's duty and fees are paid
/// (AE 10 pos 51).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaymentType {
    /// 1: paid per entry summary, not on a statement.
    #[default]
    Individual,
    /// 2: daily statement, batched by filer.
    DailyByFiler,
    /// 3: daily statement, by full IOR number.
    DailyByIor,
    /// 5: daily statement, by IOR without suffix.
    DailyByIorWithoutSuffix,
    /// 6: periodic monthly statement, batched by filer.
    MonthlyByFiler,
    /// 7: periodic monthly statement, by full IOR number.
    MonthlyByIor,
    /// 8: periodic monthly statement, by IOR without suffix.
    MonthlyByIorWithoutSuffix,
}

impl PaymentType {
    /// The AE 10 pos 51 code.
    pub fn code(self) -> &'static str {
        match self {
            PaymentType::Individual => "1",
            PaymentType::DailyByFiler => "2",
            PaymentType::DailyByIor => "3",
            PaymentType::DailyByIorWithoutSuffix => "5",
            PaymentType::MonthlyByFiler => "6",
            PaymentType::MonthlyByIor => "7",
            PaymentType::MonthlyByIorWithoutSuffix => "8",
        }
    }
}

/// `[filing] entry_summary`: when a type 11, 01 or 03 entry gets its entry
/// summary (AE).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum EntrySummaryMode {
    /// After ACE accepted its cargo release (SE), one AE per entry.
    #[default]
    AfterRelease,
    /// One step: the AE certified for cargo release (10 pos 40 `A`), no SE.
    Certified,
    /// No entry summary (a broker files it).
    Off,
}

impl EntrySummaryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EntrySummaryMode::AfterRelease => "after_release",
            EntrySummaryMode::Certified => "certified",
            EntrySummaryMode::Off => "off",
        }
    }
}

/// `[filing] formal_entries`: what becomes of a run's type 01 entries.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FormalEntries {
    /// Listed in `formal_entries.csv` for a broker.
    #[default]
    List,
    /// Filed like a type 11 (with an IOR number and a bond): cargo release
    /// and entry summary. Type 03 stays listed (its AD/CVD case is unknown).
    File,
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
    /// Bond on type 11 and 01 entries (SE10 39): `8` continuous, `9` single
    /// transaction; `0` none (type 86 needs none and always gets `0`).
    pub bond_type: String,
    /// Surety code of the bond (3 characters; SE20 `V1` for a type 9 bond).
    pub surety_code: String,
    /// Single transaction bond amount, whole USD (SE20 `AMT`, type 9 only).
    pub bond_amount_usd: u64,
    /// SE13 contact name and phone (printed M on every SE transaction).
    pub contact_name: String,
    pub contact_phone: String,
    /// CSV of seller and manufacturer addresses (`name,country,address,city,
    /// postal_code,subdivision`), which manifests do not carry; empty: none.
    pub parties_file: String,
    /// How entry summaries pay (AE 10 pos 51).
    pub payment_type: PaymentType,
    /// When type 11, 01 and 03 entries get their entry summary (AE).
    pub entry_summary: EntrySummaryMode,
    /// Whether type 01 entries are filed (release and summary) or listed in
    /// `formal_entries.csv` for a broker.
    pub formal_entries: FormalEntries,
    pub http: HttpFilingConfig,
    pub catair: CatairFilingConfig,
}

/// `[limits]`: per-file caps that keep one hostile file from costing the
/// machine or the run (docs/limits.md).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// A longer text record (CSV, NDJSON line) is F003 for that record.
    pub max_record_bytes: u64,
    /// A file with more records is quarantined, the cap named.
    pub max_rows_per_file: u64,
    /// A file whose decoded text (after windows-1252 or Parquet decoding)
    /// exceeds this is quarantined, the cap named.
    pub max_decoded_bytes_per_file: u64,
    /// Rows of one rule listed for one file; the rest are counted in one
    /// summary finding.
    pub max_findings_per_rule: u64,
    /// A file the process died evaluating this many times (taken, never
    /// finished) is quarantined as a poison file instead of retried.
    pub poison_after_deaths: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_record_bytes: 1 << 20,
            max_rows_per_file: 2_000_000,
            max_decoded_bytes_per_file: 16 << 30,
            max_findings_per_rule: 10_000,
            poison_after_deaths: 2,
        }
    }
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
    /// `[limits]`: per-file caps.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[state]`: SQLite file or PostgreSQL URL.
    #[serde(default)]
    pub state: state::StateConfig,
    /// `[email]`: SMTP relay, sender, recipient groups, retries.
    #[serde(default)]
    pub email: email::EmailConfig,
    /// `[reports]`: privacy masking and exception reports.
    #[serde(default)]
    pub reports: email::ReportsConfig,
    /// Named sources; `data` is implicit.
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, crate::sources::SourceConfig>,
    /// Which file (if any) was layered over the defaults.
    #[serde(skip)]
    pub loaded_from: Option<PathBuf>,
}

impl Config {
    /// Where the state store is (checked by [`Config::validate`]).
    pub fn state_location(&self) -> Result<state::StateLocation, Problem> {
        self.state
            .location(&self.paths.data_dir)
            .map_err(|(key, message)| Problem {
                file: self
                    .loaded_from
                    .as_ref()
                    .map_or("built-in defaults".to_owned(), |p| p.display().to_string()),
                key: key.into(),
                message,
            })
    }

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
        let problem = |message: String| {
            Problems(vec![Problem {
                file: name.clone(),
                key: String::new(),
                message,
            }])
        };
        if required && !file.exists() {
            return Err(problem("the configuration file does not exist".into()));
        }
        let present = file.exists();
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_CONFIG_TOML,
            config::FileFormat::Toml,
        ));
        if present {
            builder = builder.add_source(
                config::File::from(file.clone())
                    .format(config::FileFormat::Toml)
                    .required(required),
            );
        }
        builder = builder.add_source(
            config::Environment::with_prefix("S321D")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let shown = if present {
            name.clone()
        } else {
            "built-in defaults".to_owned()
        };
        let located = |e: config::ConfigError| {
            let message = e.to_string();
            let vars: Vec<String> = std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .collect();
            match env_var_of(&message, &vars) {
                Some(var) => Problems(vec![Problem {
                    file: format!("environment variable {var}"),
                    key: String::new(),
                    message,
                }]),
                None => Problems(vec![Problem {
                    file: shown.clone(),
                    key: String::new(),
                    message,
                }]),
            }
        };
        let raw = builder.build().map_err(located)?;
        let mut cfg: Config = raw.try_deserialize().map_err(located)?;
        cfg.loaded_from = present.then_some(file);
        Ok(cfg)
    }

    /// Checks what serde cannot, reporting every problem.
    pub fn validate(&self) -> Result<(), Problems> {
        let file = self
            .loaded_from
            .as_ref()
            .map_or("built-in defaults".to_owned(), |p| p.display().to_string());
        let mut problems = Vec::new();
        if self.paths.data_dir.as_os_str().is_empty() {
            problems.push(Problem {
                file: file.clone(),
                key: "paths.data_dir".into(),
                message: "must not be empty".into(),
            });
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problems.push(Problem {
                file: file.clone(),
                key: "log.level".into(),
                message: format!("is not a log filter: {e}"),
            });
        }
        let mut report = |key: &str, message: String| {
            problems.push(Problem {
                file: file.clone(),
                key: key.into(),
                message,
            })
        };
        if let Err((key, message)) = self.state.location(&self.paths.data_dir) {
            report(key, message);
        }
        if self.daemon.timezone.parse::<chrono_tz::Tz>().is_err() {
            report(
                "daemon.timezone",
                format!("{:?} is not an IANA time zone", self.daemon.timezone),
            );
        }
        if self.daemon.listen.parse::<std::net::SocketAddr>().is_err() {
            report(
                "daemon.listen",
                format!("{:?} is not an address:port", self.daemon.listen),
            );
        }
        if self.daemon.readiness_periods == 0 {
            report("daemon.readiness_periods", "must be at least 1".into());
        }
        let d = &self.daemon;
        let h = &self.filing.http;
        for (key, value, max, unit) in [
            (
                "daemon.graceful_shutdown_secs",
                d.graceful_shutdown_secs,
                MAX_INTERVAL_SECS,
                "seconds",
            ),
            (
                "daemon.retry_initial_ms",
                d.retry_initial_ms,
                MAX_INTERVAL_SECS * 1000,
                "ms",
            ),
            (
                "filing.http.timeout_secs",
                h.timeout_secs,
                MAX_INTERVAL_SECS,
                "seconds",
            ),
            (
                "filing.http.retry_initial_ms",
                h.retry_initial_ms,
                MAX_INTERVAL_SECS * 1000,
                "ms",
            ),
        ] {
            if value > max {
                report(key, too_long(value, max, unit));
            }
        }
        for (key, value) in [
            ("daemon.retry_attempts", d.retry_attempts),
            ("filing.http.retry_attempts", h.retry_attempts),
        ] {
            if value > MAX_ATTEMPTS {
                report(key, format!("{value} is too many; at most {MAX_ATTEMPTS}"));
            }
        }
        for (key, path) in [
            ("archive.path", &self.archive.path),
            (
                "filing.catair.outbound_path",
                &self.filing.catair.outbound_path,
            ),
            (
                "filing.catair.inbound_path",
                &self.filing.catair.inbound_path,
            ),
        ] {
            if let Some(why) = crate::paths::relative_problem(path) {
                report(key, why);
            }
        }
        if self.sources.contains_key(DATA_SOURCE) {
            report(
                &format!("sources.{DATA_SOURCE}"),
                "is the data folder; choose another name".into(),
            );
        }
        if !self.source_names().any(|n| n == self.archive.source) {
            report(
                "archive.source",
                format!("{:?} is not a configured source", self.archive.source),
            );
        }
        let f = &self.filing;
        if !f.filer_code.is_empty() && crate::entry_number::check_digit(&f.filer_code, 0).is_err() {
            report(
                "filing.filer_code",
                format!("{:?} is not three letters or digits", f.filer_code),
            );
        }
        if f.first_serial > 9_999_999 {
            report("filing.first_serial", "must fit seven digits".into());
        }
        if f.mode_of_transport.len() != 2
            || !f.mode_of_transport.bytes().all(|b| b.is_ascii_digit())
        {
            report(
                "filing.mode_of_transport",
                format!(
                    "{:?} is not a 2-digit ACE mode of transport",
                    f.mode_of_transport
                ),
            );
        }
        for (key, source) in [
            ("filing.catair.outbound_source", &f.catair.outbound_source),
            ("filing.catair.inbound_source", &f.catair.inbound_source),
        ] {
            if !self.source_names().any(|n| n == source) {
                report(key, format!("{source:?} is not a configured source"));
            }
        }
        if f.catair.block_size == 0 || f.catair.block_size > 999 {
            report("filing.catair.block_size", "must be 1 to 999".into());
        }
        for problem in filing::problems(f) {
            report(problem.key, problem.why);
        }
        if f.http.concurrency == 0 {
            report("filing.http.concurrency", "must be at least 1".into());
        }
        for (name, source) in &self.sources {
            if let crate::sources::SourceConfig::Sftp {
                private_key_file: None,
                password_file: None,
                ..
            } = source
            {
                report(
                    &format!("sources.{name}"),
                    "set private_key_file or password_file".into(),
                );
            }
            match source {
                crate::sources::SourceConfig::S3 { endpoint, .. } if has_userinfo(endpoint) => {
                    report(
                        &format!("sources.{name}.endpoint"),
                        CREDENTIALS_IN_URL.into(),
                    );
                }
                crate::sources::SourceConfig::Url { url, .. } if has_userinfo(url) => {
                    report(&format!("sources.{name}.url"), CREDENTIALS_IN_URL.into());
                }
                crate::sources::SourceConfig::Sftp { host, .. }
                    if host.contains('@') || has_userinfo(host) =>
                {
                    report(&format!("sources.{name}.host"), "holds a user or password (user@host); set sources.NAME.user and password_file".into());
                }
                crate::sources::SourceConfig::Sftp { timeout_secs, .. }
                    if *timeout_secs > MAX_INTERVAL_SECS =>
                {
                    report(
                        &format!("sources.{name}.timeout_secs"),
                        too_long(*timeout_secs, MAX_INTERVAL_SECS, "seconds"),
                    );
                }
                _ => {}
            }
        }
        if has_userinfo(&self.filing.http.url) {
            report("filing.http.url", CREDENTIALS_IN_URL.into());
        }
        let l = &self.limits;
        for (key, value, min, max) in [
            (
                "limits.max_record_bytes",
                l.max_record_bytes,
                1024,
                64 << 20,
            ),
            // Record numbers are u32.
            (
                "limits.max_rows_per_file",
                l.max_rows_per_file,
                1,
                u32::MAX as u64,
            ),
            (
                "limits.max_decoded_bytes_per_file",
                l.max_decoded_bytes_per_file,
                1 << 20,
                1 << 40,
            ),
            (
                "limits.max_findings_per_rule",
                l.max_findings_per_rule,
                1,
                1 << 32,
            ),
        ] {
            if value < min || value > max {
                report(key, format!("{value} is out of bounds; {min} to {max}"));
            }
        }
        if !(1..=MAX_ATTEMPTS).contains(&l.poison_after_deaths) {
            report(
                "limits.poison_after_deaths",
                format!(
                    "{} is out of bounds; 1 to {MAX_ATTEMPTS}",
                    l.poison_after_deaths
                ),
            );
        }
        email::validate(&self.email, &self.reports, &file, &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(problems))
        }
    }

    /// Every source name, `data` included.
    pub fn source_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(DATA_SOURCE).chain(self.sources.keys().map(String::as_str))
    }

    /// The configuration of a source, `data` included.
    pub fn source(&self, name: &str) -> Option<crate::sources::SourceConfig> {
        if name == DATA_SOURCE {
            Some(crate::sources::SourceConfig::Local {
                root: self.paths.data_dir.clone(),
            })
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
            .add_source(config::File::from_str(
                DEFAULT_CONFIG_TOML,
                config::FileFormat::Toml,
            ))
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
        std::fs::write(
            &path,
            "[paths]\ndata_dir = \"/srv/s321d\"\n[log]\nformat = \"json\"\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&path)).unwrap();
        assert_eq!(cfg.paths.data_dir, PathBuf::from("/srv/s321d"));
        assert_eq!(
            cfg.paths.jobs_dir,
            PathBuf::from("jobs"),
            "unset keys keep the default"
        );
        assert_eq!(cfg.log.format, LogFormat::Json);

        std::fs::write(&path, "[paths]\ndata_dri = \"/x\"\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("data_dri"), "{err}");
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
    }

    #[test]
    fn issue_11_intervals_paths_and_urls_with_credentials_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s321d.toml");
        std::fs::write(
            &path,
            "[daemon]\ngraceful_shutdown_secs = 1000000000000\nretry_initial_ms = 86400001\n\
             [archive]\npath = \"../../etc\"\n[filing.http]\nurl = \"https://ace:hunter2@ace.example/\"\n\
             [sources.s3]\nkind = \"url\"\nurl = \"s3://AKIAXXX:SECRETXYZ@bucket/prefix\"\n",
        )
        .unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        for key in [
            "daemon.graceful_shutdown_secs",
            "daemon.retry_initial_ms",
            "archive.path",
            "filing.http.url",
            "sources.s3.url",
        ] {
            assert!(
                err.contains(&format!("{}: {key}", path.display())),
                "{key}: {err}"
            );
        }
        assert!(
            !err.contains("SECRETXYZ") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn userinfo_is_found_only_in_the_authority() {
        assert!(has_userinfo("s3://KEY:SECRET@bucket/x"));
        assert!(has_userinfo("sftp://user:pass@host"));
        assert!(has_userinfo("https://user@host/"));
        assert!(!has_userinfo("https://host/a@b"));
        assert!(!has_userinfo("s3://bucket/prefix"));
        assert!(!has_userinfo(""));
    }

    #[test]
    fn env_errors_name_the_variable() {
        let vars = vec![
            "S321D__DAEMON__RETRY_ATTEMPTS".to_owned(),
            "S321D__DAEMON__LISTENN".to_owned(),
        ];
        let bad = "invalid type: string \"abc\", expected an integer for key `daemon.retry_attempts` in the environment";
        assert_eq!(
            env_var_of(bad, &vars).as_deref(),
            Some("S321D__DAEMON__RETRY_ATTEMPTS")
        );
        let unknown = "unknown field `listenn`, expected one of `timezone` for key `daemon`";
        assert_eq!(
            env_var_of(unknown, &vars).as_deref(),
            Some("S321D__DAEMON__LISTENN")
        );
        assert_eq!(
            env_var_of("unknown field `x` for key `paths`", &vars),
            None,
            "from the file"
        );
    }
}
