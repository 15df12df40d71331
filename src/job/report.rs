//! Report jobs: job files (in the jobs folder, beside the intake jobs) with a
//! `[report]` table instead of `[format]`. The daemon runs them on their own
//! schedule; `s321d report --job NAME` runs one by hand.
//!
//! ```toml
//! name = "daily-dashboard"
//! schedule = "0 0 7 * * *"          # 07:00 every day
//! timezone = "America/New_York"     # the zone of the schedule and of "the day"
//! [report]
//! kind = "dashboard"
//! recipients = ["compliance"]       # groups from [email.groups]
//! jobs = []                         # intake jobs to cover; empty: all
//! day = "yesterday"                 # or "today"
//! trend_days = 14
//! top = 10                          # rows in the "top" tables
//! ```

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{Schedule, parse_schedule};
use crate::problem::{Problem, Problems};

/// What a report job sends.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// The daily compliance dashboard.
    Dashboard,
}

/// Which day a scheduled report covers.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DayChoice {
    #[default]
    Yesterday,
    Today,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    kind: ReportKind,
    recipients: Vec<String>,
    #[serde(default)]
    jobs: Vec<String>,
    #[serde(default)]
    day: DayChoice,
    #[serde(default = "default_trend_days")]
    trend_days: u32,
    #[serde(default = "default_top")]
    top: usize,
}

fn default_trend_days() -> u32 {
    14
}
fn default_top() -> usize {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReportJob {
    name: String,
    schedule: Option<String>,
    timezone: Option<String>,
    report: RawReport,
}

/// A checked report job.
#[derive(Debug, Clone)]
pub struct ReportJob {
    pub name: String,
    pub kind: ReportKind,
    pub schedule: Option<Schedule>,
    /// The zone of the schedule and of the report's day (default `[daemon] timezone`).
    pub timezone: Option<Tz>,
    /// Recipient groups.
    pub recipients: Vec<String>,
    /// Intake jobs covered; empty for all.
    pub jobs: Vec<String>,
    pub day: DayChoice,
    pub trend_days: u32,
    pub top: usize,
    pub path: PathBuf,
    pub digest: String,
}

impl ReportJob {
    /// The zone of its day.
    pub fn zone(&self, default: Tz) -> Tz {
        self.timezone.unwrap_or(default)
    }

    /// The day a run at `now` covers.
    pub fn day_at(&self, now: chrono::DateTime<Utc>, default: Tz) -> NaiveDate {
        let today = now.with_timezone(&self.zone(default)).date_naive();
        match self.day {
            DayChoice::Today => today,
            DayChoice::Yesterday => today.pred_opt().unwrap_or(today),
        }
    }

    /// Whether a scheduled run was missed (the last scheduled time before
    /// `now` is after the last start).
    pub fn missed(
        &self,
        default: Tz,
        last_started: Option<chrono::DateTime<Utc>>,
        now: chrono::DateTime<Utc>,
    ) -> bool {
        let Some(s) = &self.schedule else {
            return false;
        };
        let Ok(previous) = s
            .parsed
            .find_previous_occurrence(&now.with_timezone(&self.zone(default)), false)
        else {
            return false;
        };
        last_started.is_none_or(|l| l < previous.with_timezone(&Utc))
    }
}

/// Whether a job file is a report job (has a `[report]` table).
pub fn is_report_job_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("report"))
}

/// Parses and checks a report job file.
pub fn load(path: &Path, intake_jobs: &[&str], groups: &[&str]) -> Result<ReportJob, Problems> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            file: file.clone(),
            key: String::new(),
            message: format!("cannot read: {e}"),
        }])
    })?;
    from_toml(&text, path, intake_jobs, groups)
}

/// Parses and checks report job text; `path` names it in problems.
pub fn from_toml(
    text: &str,
    path: &Path,
    intake_jobs: &[&str],
    groups: &[&str],
) -> Result<ReportJob, Problems> {
    let file = path.display().to_string();
    let raw: RawReportJob = super::parse_toml(text, &file)?;
    let mut problems = Vec::new();
    let mut report = |key: &str, message: String| {
        problems.push(Problem {
            file: file.clone(),
            key: key.into(),
            message,
        })
    };
    // A report job's name becomes a folder (previews, state keys), as a job's does.
    if let Some(why) = crate::paths::name_problem(&raw.name) {
        report("name", why);
    }
    let timezone = raw.timezone.as_ref().and_then(|tz| {
        tz.parse::<Tz>()
            .map_err(|_| report("timezone", format!("{tz:?} is not an IANA time zone")))
            .ok()
    });
    let schedule = raw
        .schedule
        .as_ref()
        .and_then(|text| match parse_schedule(text) {
            Ok((cron, parsed)) => Some(Schedule {
                cron,
                timezone,
                parsed,
            }),
            Err(e) => {
                report("schedule", e);
                None
            }
        });
    let r = raw.report;
    if r.recipients.is_empty() {
        report("report.recipients", "names no group".into());
    }
    for (i, g) in r.recipients.iter().enumerate() {
        if !groups.contains(&g.as_str()) {
            report(
                &format!("report.recipients[{i}]"),
                format!("{g:?} is not a group in [email.groups]"),
            );
        }
    }
    for (i, j) in r.jobs.iter().enumerate() {
        if !intake_jobs.contains(&j.as_str()) {
            report(
                &format!("report.jobs[{i}]"),
                format!("{j:?} is not a job in the jobs folder"),
            );
        }
    }
    if r.trend_days == 0 || r.trend_days > 366 {
        report("report.trend_days", "must be 1 to 366".into());
    }
    if r.top == 0 {
        report("report.top", "must be at least 1".into());
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    use sha2::{Digest, Sha256};
    Ok(ReportJob {
        name: raw.name,
        kind: r.kind,
        schedule,
        timezone,
        recipients: r.recipients,
        jobs: r.jobs,
        day: r.day,
        trend_days: r.trend_days,
        top: r.top,
        path: path.to_owned(),
        digest: hex::encode(Sha256::digest(text.as_bytes())),
    })
}

/// The UTC instants bounding a local day: [start, end).
pub fn day_bounds(day: NaiveDate, tz: Tz) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let at = |d: NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight");
        tz.from_local_datetime(&midnight).earliest().map_or_else(
            || Utc.from_utc_datetime(&midnight),
            |t| t.with_timezone(&Utc),
        )
    };
    (at(day), at(day.succ_opt().unwrap_or(day)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_job_names_follow_the_job_name_rules() {
        for bad in ["../../evil", "a/b", "", "..", "x\ny", &"n".repeat(81)] {
            let text = format!(
                "name = {bad:?}\n[report]\nkind = \"dashboard\"\nrecipients = [\"compliance\"]\n"
            );
            let err = from_toml(&text, Path::new("r.toml"), &[], &["compliance"])
                .unwrap_err()
                .to_string();
            assert!(err.contains("r.toml: name:"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn report_jobs_are_checked_and_know_their_day() {
        let text = "name = \"daily\"\nschedule = \"0 7 * * *\"\ntimezone = \"America/New_York\"\n[report]\nkind = \"dashboard\"\nrecipients = [\"compliance\"]\n";
        let j = from_toml(text, Path::new("daily.toml"), &["a"], &["compliance"]).unwrap();
        assert_eq!(j.trend_days, 14);
        // 02:00 UTC on the 25th is still the 24th in New York: yesterday is the 23rd.
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            j.day_at(now, chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        let (start, end) = day_bounds(
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            "America/New_York".parse().unwrap(),
        );
        assert_eq!(start.to_rfc3339(), "2026-11-23T05:00:00+00:00");
        assert_eq!((end - start).num_hours(), 24);

        let bad = "name = \"daily\"\n[report]\nkind = \"dashboard\"\nrecipients = [\"nobody\"]\njobs = [\"zz\"]\ntop = 0\n";
        let err = from_toml(bad, Path::new("bad.toml"), &["a"], &["compliance"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("report.recipients[0]")
                && err.contains("report.jobs[0]")
                && err.contains("report.top"),
            "{err}"
        );
        let unknown = "name = \"d\"\n[report]\nkind = \"dashboard\"\nrecipients = [\"compliance\"]\ncolour = \"red\"\n";
        assert!(
            from_toml(unknown, Path::new("u.toml"), &[], &["compliance"])
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
    }
}
