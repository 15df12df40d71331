//! Dates and timestamps as the daemon stores and exchanges them: polars'
//! Date physical value (days since 1970-01-01) and the RFC 3339 UTC texts
//! written to the state store. It owns only these conversions.

use chrono::{DateTime, NaiveDate, Utc};

const EPOCH_DAYS_CE: i32 = 719_163; // NaiveDate(1970-01-01).num_days_from_ce()

/// Days since 1970-01-01 for a date (polars' Date physical value).
pub fn epoch_days(date: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&date) - EPOCH_DAYS_CE
}

/// The date of a polars Date physical value.
pub fn from_epoch_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_CE)
}

/// RFC 3339 UTC with milliseconds (`2026-11-25T14:30:05.123Z`): the intake
/// and run tables' timestamps.
pub fn ts_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// RFC 3339 UTC with microseconds: the summary and audit tables' timestamps.
pub fn ts_micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Reads an RFC 3339 timestamp back as UTC; `None` if it is not one.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_days_roundtrip() {
        let d = NaiveDate::from_ymd_opt(2025, 8, 29).unwrap();
        assert_eq!(from_epoch_days(epoch_days(d)), Some(d));
        assert_eq!(epoch_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
    }
}
