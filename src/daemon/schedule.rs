//! Schedule arithmetic the daemon needs beyond firing jobs: each job's time
//! zone, its period (for readiness), whether a run was missed while the daemon
//! was down, and the UTC offset its cron job was built with.
//!
//! Why the offset: tokio-cron-scheduler computes every tick after the first
//! with the zone's UTC offset as it was when the job was created, so across a
//! daylight-saving change a schedule would drift by an hour. The daemon
//! re-creates the cron jobs whenever a zone's offset changes.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::job::Job;

/// The time zone a job's schedule runs in.
pub fn zone(job: &Job, default: Tz) -> Tz {
    job.schedule
        .as_ref()
        .and_then(|s| s.timezone)
        .unwrap_or(default)
}

/// The zone's UTC offset now, in seconds.
pub fn offset_now(tz: Tz) -> i32 {
    tz.offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc()
}

/// The time between the next two scheduled runs (a job's period).
pub fn period(job: &Job, tz: Tz, now: DateTime<Utc>) -> Option<chrono::Duration> {
    let s = job.schedule.as_ref()?;
    let next = s
        .parsed
        .find_next_occurrence(&now.with_timezone(&tz), false)
        .ok()?;
    let after = s.parsed.find_next_occurrence(&next, false).ok()?;
    Some(after - next)
}

/// Whether a scheduled run was missed: the last scheduled time before `now`
/// is later than the job's last start (or the job never started).
pub fn missed(job: &Job, tz: Tz, last_started: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    let Some(s) = job.schedule.as_ref() else {
        return false;
    };
    let Ok(previous) = s
        .parsed
        .find_previous_occurrence(&now.with_timezone(&tz), false)
    else {
        return false;
    };
    match last_started {
        None => true,
        Some(last) => last < previous.with_timezone(&Utc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn job(schedule: &str, tz: &str) -> Job {
        Job::from_toml(
            &format!("name = \"j\"\nschedule = \"{schedule}\"\ntimezone = \"{tz}\"\n[format]\nkind = \"csv\"\n"),
            Path::new("j.toml"),
        )
        .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_and_missed_runs_in_the_job_zone() {
        // Daily at 06:00 New York time.
        let j = job("0 6 * * *", "America/New_York");
        let tz = zone(&j, chrono_tz::UTC);
        assert_eq!(
            period(&j, tz, at("2026-11-25T12:00:00Z")),
            Some(chrono::Duration::hours(24))
        );
        // 06:00 EST is 11:00 UTC: at 10:59 UTC the last run due was yesterday's.
        assert!(!missed(
            &j,
            tz,
            Some(at("2026-11-24T11:00:00Z")),
            at("2026-11-25T10:59:00Z")
        ));
        assert!(missed(
            &j,
            tz,
            Some(at("2026-11-24T11:00:00Z")),
            at("2026-11-25T11:01:00Z")
        ));
        assert!(missed(&j, tz, None, at("2026-11-25T11:01:00Z")));
        // Across the DST change the cron time stays 06:00 local: 10:00 UTC in summer.
        assert!(missed(
            &j,
            tz,
            Some(at("2026-07-01T09:00:00Z")),
            at("2026-07-01T10:01:00Z")
        ));
        let every_five = job("*/5 * * * * *", "UTC");
        assert_eq!(
            period(&every_five, chrono_tz::UTC, at("2026-11-25T12:00:02Z")),
            Some(chrono::Duration::seconds(5))
        );
        // A run started at a tick covers it until the next tick, not after.
        assert!(!missed(
            &every_five,
            chrono_tz::UTC,
            Some(at("2026-11-25T12:00:00Z")),
            at("2026-11-25T12:00:04Z")
        ));
        assert!(missed(
            &every_five,
            chrono_tz::UTC,
            Some(at("2026-11-25T12:00:00Z")),
            at("2026-11-25T12:00:06Z")
        ));
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let winter = ny
            .offset_from_utc_datetime(&at("2026-01-15T12:00:00Z").naive_utc())
            .fix()
            .local_minus_utc();
        let summer = ny
            .offset_from_utc_datetime(&at("2026-07-15T12:00:00Z").naive_utc())
            .fix()
            .local_minus_utc();
        assert_eq!((winter, summer), (-5 * 3600, -4 * 3600));
    }
}
