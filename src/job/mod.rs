//! Job files (`jobs/NAME.toml`): which files a job reads and how (the contract's
//! `[format]` table, section 2). The daemon's scheduling and delivery keys join
//! this struct as they are built; `validate` needs only `name`, `pattern` and
//! `[format]`.
//!
//! - [`report`]: report jobs, job files with a `[report]` table.
//! - [`files`]: finding every job file of the jobs folder and loading them.

pub mod files;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::format::{Item, StrftimeItems};
use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use crate::columns;
use crate::problem::{Problem, Problems};

/// Manifest encodings a job may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8; a BOM is accepted.
    Utf8,
    /// Windows-1252 (the WHATWG definition, which maps every byte).
    Windows1252,
}

/// Manifest file kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatKind {
    Csv,
    Ndjson,
    Parquet,
}

/// `[format]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFormat {
    pub kind: FormatKind,
    /// CSV only; one character, default `,`.
    pub delimiter: Option<String>,
    /// chrono/strftime format of `arrival_date`; default `%Y-%m-%d`.
    pub date_format: Option<String>,
    /// `utf-8` (default) or `windows-1252`.
    pub encoding: Option<String>,
    /// canonical column = the carrier's column name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// canonical column = a constant for columns the carrier does not send.
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
}

/// `[source]`: where the daemon takes this job's files from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntake {
    /// A `[sources.NAME]` from the configuration (`data` is the data folder).
    pub name: String,
    /// Folder (under the source root) files are dropped into.
    #[serde(default = "default_inbox")]
    pub inbox: String,
    /// Where taken files are moved once their outputs are written.
    #[serde(default = "default_processed")]
    pub processed: String,
    /// Where unreadable files go, with an error note beside them.
    #[serde(default = "default_quarantine")]
    pub quarantine: String,
    /// A file is complete once unmodified for this long.
    #[serde(default = "default_settle")]
    pub settle_secs: u64,
    /// Take a file only when `NAME.done` sits beside it (then no settle wait).
    #[serde(default)]
    pub done_marker: bool,
    /// Delete taken files from the source instead of moving them to `processed`
    /// (for SFTP drop boxes that forbid renames).
    #[serde(default)]
    pub delete_processed: bool,
}

fn default_inbox() -> String {
    "inbox".into()
}
fn default_processed() -> String {
    "processed".into()
}
fn default_quarantine() -> String {
    "quarantine".into()
}
fn default_settle() -> u64 {
    5
}

/// `[output]`: where a run's findings, dispositions and summary go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// A `[sources.NAME]`; default `data` (the data folder).
    #[serde(default = "default_output_source")]
    pub source: String,
    /// Folder under the source; default `runs/JOB`.
    pub path: Option<String>,
}

fn default_output_source() -> String {
    "data".into()
}

/// A job file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub name: String,
    /// Glob on the file name; default `*`.
    pub pattern: Option<String>,
    /// Cron schedule for the daemon: six fields with seconds
    /// (`0 */5 * * * *`) or five without (`*/5 * * * *`).
    pub schedule: Option<String>,
    /// IANA time zone of the schedule; default `[daemon] timezone`.
    pub timezone: Option<String>,
    pub source: Option<RawIntake>,
    pub output: Option<RawOutput>,
    /// `[filing]`: file this job's eligible shipments with ACE after each run.
    pub filing: Option<RawJobFiling>,
    pub format: RawFormat,
}

/// `[filing]` of a job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobFiling {
    /// `http` (the ACE gateway) or `catair` (batch files).
    pub transport: FilingTransport,
}

/// How entries travel to ACE.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FilingTransport {
    Http,
    Catair,
}

impl FilingTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            FilingTransport::Http => "http",
            FilingTransport::Catair => "catair",
        }
    }
}

/// A checked `[source]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub source: String,
    pub inbox: String,
    pub processed: String,
    pub quarantine: String,
    pub settle_secs: u64,
    pub done_marker: bool,
    pub delete_processed: bool,
}

/// Where outputs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub source: String,
    pub path: String,
}

/// A checked schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Six-field cron text (seconds first), as tokio-cron-scheduler takes it.
    pub cron: String,
    pub timezone: Option<chrono_tz::Tz>,
    pub parsed: croner::Cron,
}

/// Parses a cron schedule of five or six fields into six-field form.
pub fn parse_schedule(text: &str) -> Result<(String, croner::Cron), String> {
    let fields = text.split_whitespace().count();
    let six = match fields {
        5 => format!("0 {}", text.trim()),
        6 => text.trim().to_owned(),
        _ => {
            return Err(format!(
                "{text:?} has {fields} fields; a cron schedule has 5, or 6 with seconds first"
            ));
        }
    };
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(&six)
        .map_err(|e| format!("{text:?} is not a cron schedule: {e}"))?;
    Ok((six, parsed))
}

/// A checked `[format]`.
#[derive(Debug, Clone)]
pub struct Format {
    pub kind: FormatKind,
    pub delimiter: u8,
    pub date_format: String,
    pub encoding: Encoding,
    pub columns: BTreeMap<String, String>,
    pub constants: BTreeMap<String, String>,
}

/// A checked job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub pattern: String,
    matcher: GlobMatcher,
    pub format: Format,
    /// When the daemon runs it (none: only `run-job`).
    pub schedule: Option<Schedule>,
    /// Where the daemon takes files from (none: `validate` only).
    pub intake: Option<Intake>,
    pub output: Output,
    /// Whether and how the daemon files this job's runs.
    pub filing: Option<FilingTransport>,
    /// Where the job was loaded from.
    pub path: PathBuf,
    /// SHA-256 of the job file: the mapping's version in summaries and audits.
    pub digest: String,
}

/// The sample date `check` prints with a job's `date_format` and parses back.
const SAMPLE_DATE: (i32, u32, u32) = (2026, 12, 3);

/// Whether `format` can print a date that manifests then parse back to the
/// same day (as the engine reads `arrival_date`): a format with no year,
/// or one chrono cannot print or parse, would make every date V-invalid.
fn date_format_round_trips(format: &str) -> Result<(), String> {
    use std::fmt::Write;
    let (y, m, d) = SAMPLE_DATE;
    let day = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let at = day
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .fixed_offset();
    let mut text = String::new();
    if write!(text, "{}", at.format(format)).is_err() {
        return Err(format!("{format:?} cannot print a date"));
    }
    match chrono::NaiveDate::parse_from_str(&text, format) {
        Ok(back) if back == day => Ok(()),
        Ok(back) => Err(format!(
            "{format:?} prints {day} as {text:?}, which reads back as {back}"
        )),
        Err(e) => Err(format!(
            "{format:?} prints {day} as {text:?}, which it cannot read back ({e})"
        )),
    }
}

impl Job {
    /// Loads and checks a job file, reporting every problem at once.
    pub fn load(path: &Path) -> Result<Job, Problems> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problems(vec![Problem {
                file: name.clone(),
                key: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Job::from_toml(&text, path)
    }

    /// Parses and checks job text; `path` names it in problems.
    pub fn from_toml(text: &str, path: &Path) -> Result<Job, Problems> {
        Job::check_toml(text, path).map_err(Problems::escaped)
    }

    fn check_toml(text: &str, path: &Path) -> Result<Job, Problems> {
        let file = path.display().to_string();
        let raw: RawJob = parse_toml(text, &file)?;
        let mut problems = Vec::new();
        let mut report = |key: &str, message: String| {
            problems.push(Problem {
                file: file.clone(),
                key: key.into(),
                message,
            })
        };

        if let Some(why) = crate::paths::name_problem(&raw.name) {
            report("name", why);
        }
        let pattern = raw.pattern.unwrap_or_else(|| "*".into());
        let matcher = match Glob::new(&pattern) {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                report(
                    "pattern",
                    format!("{pattern:?} is not a glob: {}", e.kind()),
                );
                None
            }
        };
        let f = raw.format;
        let delimiter = match f.delimiter.as_deref() {
            None => b',',
            Some(d) if d.len() == 1 && !matches!(d.as_bytes()[0], b'"' | b'\n' | b'\r') => {
                d.as_bytes()[0]
            }
            Some("\\t") => b'\t',
            Some(d) => {
                report(
                    "format.delimiter",
                    format!("{d:?} must be one ASCII character other than a quote or newline"),
                );
                b','
            }
        };
        if f.delimiter.is_some() && f.kind != FormatKind::Csv {
            report("format.delimiter", "applies to kind = \"csv\" only".into());
        }
        let date_format = f.date_format.unwrap_or_else(|| "%Y-%m-%d".into());
        if date_format.is_empty()
            || StrftimeItems::new(&date_format).any(|i| matches!(i, Item::Error))
        {
            report(
                "format.date_format",
                format!("{date_format:?} is not a chrono/strftime format"),
            );
        } else if let Err(why) = date_format_round_trips(&date_format) {
            report("format.date_format", why);
        }
        let encoding = match f.encoding.as_deref().map(|e| e.trim().to_ascii_lowercase()) {
            None => Encoding::Utf8,
            Some(e) if matches!(e.as_str(), "utf-8" | "utf8") => Encoding::Utf8,
            Some(e) if matches!(e.as_str(), "windows-1252" | "cp1252" | "win1252") => {
                Encoding::Windows1252
            }
            Some(e) => {
                report(
                    "format.encoding",
                    format!("{e:?} is not supported (utf-8 or windows-1252)"),
                );
                Encoding::Utf8
            }
        };
        for (canonical, source) in &f.columns {
            if !columns::is_canonical(canonical) {
                report(
                    &format!("format.columns.{canonical}"),
                    "is not a canonical manifest column (contract section 1)".into(),
                );
            }
            if source.trim().is_empty() {
                report(
                    &format!("format.columns.{canonical}"),
                    "names an empty column".into(),
                );
            }
        }
        for canonical in f.constants.keys() {
            if !columns::is_canonical(canonical) {
                report(
                    &format!("format.constants.{canonical}"),
                    "is not a canonical manifest column (contract section 1)".into(),
                );
            }
            if f.columns.contains_key(canonical) {
                report(
                    &format!("format.constants.{canonical}"),
                    "is also mapped in [format.columns]: choose one".into(),
                );
            }
        }
        let schedule = match &raw.schedule {
            None => None,
            Some(text) => match parse_schedule(text) {
                Ok((cron, parsed)) => Some(Schedule {
                    cron,
                    timezone: None,
                    parsed,
                }),
                Err(e) => {
                    report("schedule", e);
                    None
                }
            },
        };
        let timezone = raw.timezone.as_ref().and_then(|tz| {
            tz.parse::<chrono_tz::Tz>()
                .map_err(|_| report("timezone", format!("{tz:?} is not an IANA time zone")))
                .ok()
        });
        let schedule = schedule.map(|s| Schedule { timezone, ..s });
        let intake = raw.source.map(|s| {
            for (key, v) in [
                ("source.inbox", &s.inbox),
                ("source.processed", &s.processed),
                ("source.quarantine", &s.quarantine),
            ] {
                if let Some(why) = crate::paths::relative_problem(v) {
                    report(key, why);
                }
            }
            if s.settle_secs > crate::config::MAX_INTERVAL_SECS {
                report(
                    "source.settle_secs",
                    crate::config::too_long(
                        s.settle_secs,
                        crate::config::MAX_INTERVAL_SECS,
                        "seconds",
                    ),
                );
            }
            if s.inbox.trim_matches('/') == s.processed.trim_matches('/')
                || s.inbox.trim_matches('/') == s.quarantine.trim_matches('/')
            {
                report(
                    "source.inbox",
                    "must differ from source.processed and source.quarantine".into(),
                );
            }
            Intake {
                source: s.name,
                inbox: s.inbox,
                processed: s.processed,
                quarantine: s.quarantine,
                settle_secs: s.settle_secs,
                done_marker: s.done_marker,
                delete_processed: s.delete_processed,
            }
        });
        if let Some(why) = raw
            .output
            .as_ref()
            .and_then(|o| o.path.as_deref())
            .and_then(crate::paths::relative_problem)
        {
            report("output.path", why);
        }
        let output = raw.output.map_or_else(
            || Output {
                source: default_output_source(),
                path: format!("runs/{}", raw.name),
            },
            |o| Output {
                path: o.path.unwrap_or_else(|| format!("runs/{}", raw.name)),
                source: o.source,
            },
        );
        let digest = {
            use sha2::{Digest, Sha256};
            hex::encode(Sha256::digest(text.as_bytes()))
        };
        match (problems.is_empty(), matcher) {
            (true, Some(matcher)) => Ok(Job {
                name: raw.name,
                pattern,
                matcher,
                format: Format {
                    kind: f.kind,
                    delimiter,
                    date_format,
                    encoding,
                    columns: f.columns,
                    constants: f.constants,
                },
                schedule,
                intake,
                output,
                filing: raw.filing.map(|f| f.transport),
                path: path.to_owned(),
                digest,
            }),
            _ => Err(Problems(problems)),
        }
    }

    /// Whether this job reads a file of this name.
    pub fn matches(&self, file_name: &str) -> bool {
        self.matcher.is_match(file_name)
    }
}

/// The first job whose pattern matches the file name (contract section 7).
pub fn job_for<'a>(jobs: &'a [Job], file_name: &str) -> Option<&'a Job> {
    jobs.iter().find(|j| j.matches(file_name))
}

/// Deserialises a job-like TOML file strictly; a syntax or type error
/// becomes one problem naming the file and the line.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T, Problems> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        Problems(vec![Problem {
            file: file.to_owned(),
            key: line.map(|l| format!("line {l}")).unwrap_or_default(),
            message: e.message().trim().to_owned(),
        }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Result<Job, Problems> {
        Job::from_toml(text, Path::new("jobs/t.toml"))
    }

    #[test]
    fn problems_never_carry_raw_control_characters_from_the_file() {
        let err = job("name = \"t\"\n\"\\u001b[31mX\" = 1\n[format]\nkind = \"csv\"\n[format.columns]\n\"\\u001b[2J\" = \"a\"\n").unwrap_err();
        for p in &err.0 {
            assert!(
                !p.key.contains('\u{1b}') && !p.message.contains('\u{1b}'),
                "{p:?}"
            );
        }
        assert!(
            err.to_string().contains("\\u{1b}"),
            "the escape is shown: {err}"
        );
    }

    #[test]
    fn minimal_job_takes_defaults() {
        let j = job("name = \"x\"\n[format]\nkind = \"csv\"\n").unwrap();
        assert_eq!(j.pattern, "*");
        assert_eq!(j.format.delimiter, b',');
        assert_eq!(j.format.date_format, "%Y-%m-%d");
        assert_eq!(j.format.encoding, Encoding::Utf8);
        assert!(j.matches("anything.csv"));
    }

    #[test]
    fn contract_example_loads() {
        let j = job(r#"
name = "pclx-intake"
pattern = "PCLX_*.txt"
[format]
kind = "csv"
delimiter = ";"
date_format = "%m/%d/%Y"
encoding = "windows-1252"
[format.columns]
house_bill = "HAWB"
consignee_name = "Consignee Name"
[format.constants]
carrier = "PCLX"
"#)
        .unwrap();
        assert_eq!(j.format.delimiter, b';');
        assert_eq!(j.format.encoding, Encoding::Windows1252);
        assert!(j.matches("PCLX_20261101.txt"));
        assert!(!j.matches("DHLX_20261101.txt"));
        assert_eq!(j.format.constants["carrier"], "PCLX");
    }

    #[test]
    fn problems_are_all_reported_with_keys() {
        let err = job(r#"
name = ""
pattern = "[x"
[format]
kind = "ndjson"
delimiter = ";;"
date_format = "%Q"
encoding = "latin-9"
[format.columns]
house_bil = "HAWB"
carrier = "SCAC"
[format.constants]
carrier = "PCLX"
"#)
        .unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        for k in [
            "name",
            "pattern",
            "format.delimiter",
            "format.date_format",
            "format.encoding",
            "format.columns.house_bil",
            "format.constants.carrier",
        ] {
            assert!(keys.contains(&k), "missing {k}: {err}");
        }
    }

    #[test]
    fn daemon_keys_are_checked() {
        let j = job("name = \"d\"\nschedule = \"*/5 * * * *\"\ntimezone = \"Europe/Paris\"\n[source]\nname = \"sftp\"\n[format]\nkind = \"csv\"\n").unwrap();
        let s = j.schedule.unwrap();
        assert_eq!(s.cron, "0 */5 * * * *");
        assert_eq!(s.timezone, Some(chrono_tz::Europe::Paris));
        let intake = j.intake.unwrap();
        assert_eq!(
            (
                intake.inbox.as_str(),
                intake.processed.as_str(),
                intake.settle_secs
            ),
            ("inbox", "processed", 5)
        );
        assert_eq!(
            j.output,
            Output {
                source: "data".into(),
                path: "runs/d".into()
            }
        );
        let err = job("name = \"d\"\nschedule = \"every minute\"\ntimezone = \"Mars/Olympus\"\n[source]\nname = \"x\"\ninbox = \"a\"\nprocessed = \"a\"\n[format]\nkind = \"csv\"\n").unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        for k in ["schedule", "timezone", "source.inbox"] {
            assert!(keys.contains(&k), "missing {k}: {err}");
        }
    }

    #[test]
    fn unknown_kind_and_keys_are_refused() {
        assert!(job("name = \"x\"\n[format]\nkind = \"xlsx\"\n").is_err());
        assert!(job("name = \"x\"\n[format]\nkind = \"csv\"\nquote = \"'\"\n").is_err());
    }

    #[test]
    fn issue_11_bounds_paths_names_and_date_formats() {
        let text = "name = \"../x\"\n[source]\nname = \"data\"\ninbox = \"/etc\"\nsettle_secs = 18446744073709551615\n\
                    [output]\npath = \"runs/../../..\"\n[format]\nkind = \"csv\"\ndate_format = \"%H:%M\"\n";
        let err = job(text).unwrap_err().to_string();
        for key in [
            "name",
            "source.inbox",
            "source.settle_secs",
            "output.path",
            "format.date_format",
        ] {
            assert!(
                err.contains(&format!("jobs/t.toml: {key}:")),
                "{key}: {err}"
            );
        }
        assert!(job("name = \"x\"\n[source]\nname = \"data\"\nsettle_secs = 86400\n[format]\nkind = \"csv\"\n").is_ok());
        assert!(job("name = \"x\"\n[source]\nname = \"data\"\nsettle_secs = 86401\n[format]\nkind = \"csv\"\n").is_err());
        for ok in [
            "%Y-%m-%d",
            "%m/%d/%Y",
            "%d.%m.%y",
            "%Y-%m-%dT%H:%M:%S",
            "%Y%m%d",
            "%b %d %Y",
        ] {
            assert_eq!(date_format_round_trips(ok), Ok(()), "{ok}");
        }
        for bad in ["%H:%M", "%Y", "%m/%d", "x"] {
            assert!(date_format_round_trips(bad).is_err(), "{bad}");
        }
    }
}
