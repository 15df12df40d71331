//! Parquet manifests. Typed columns are turned into the canonical text: dates
//! and timestamps are written with the job's `date_format` where it can print
//! them (else as ISO 8601), decimals as their exact digits, numbers and strings
//! as polars prints them. A typed `arrival_date` (`Date`, or a `Datetime`,
//! whose date is taken in its own time zone) is also handed on as a date, so
//! the rules never parse it back from text. A file polars cannot open is
//! F001, and so is a file whose mapped column has no text form (a list or a
//! struct); a binary value that is not UTF-8 is F003 for its row, and the
//! other rows still run.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::io::Cursor;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use polars::prelude::*;

use polars::io::mmap::MmapBytesReader;

use super::{
    ChunkBuilder, ColumnSource, FileIssues, Input, Limits, MalformedRow, columns, resolve_columns,
};
use crate::job::Format;

pub(super) fn read(
    format: &Format,
    input: Input<'_>,
    limits: &Limits,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    match input {
        Input::Bytes(b) => read_from(format, &|| Ok(Cursor::new(b)), limits, builder, emit),
        // Each slice opens the file again: polars maps it, so only the pages
        // of the slice's rows are touched, never the whole file at once.
        Input::Path(p) => read_from(format, &|| std::fs::File::open(p), limits, builder, emit),
    }
}

/// Reads a Parquet file a slice of rows at a time (the builder's chunk size,
/// from the file's metadata), only the columns the job maps: peak memory is a
/// slice of those columns, whatever the file's row count or how well its
/// dictionary pages compress. Rows over `limits.max_rows` are known from the
/// metadata before any row is read.
fn read_from<R: MmapBytesReader>(
    format: &Format,
    open: &dyn Fn() -> std::io::Result<R>,
    limits: &Limits,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    let mut issues = FileIssues::default();
    let not_parquet = |e: &dyn Display| FileIssues {
        unreadable: Some(format!("not a readable Parquet file: {e}")),
        ..FileIssues::default()
    };
    let mut file = match open() {
        Ok(r) => r,
        Err(e) => {
            return Ok(FileIssues {
                unreadable: Some(format!("cannot open the file: {e}")),
                ..FileIssues::default()
            });
        }
    };
    // The footer's counts are checked before polars sizes anything by them.
    if let Err(e) = super::parquet_footer::check(&mut file).and_then(|()| {
        file.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| e.to_string())
    }) {
        return Ok(not_parquet(&e));
    }
    let mut reader = ParquetReader::new(file);
    let (metadata, schema) = match reader
        .get_metadata()
        .cloned()
        .and_then(|m| reader.schema().map(|s| (m, s)))
    {
        Ok(x) => x,
        Err(e) => return Ok(not_parquet(&e)),
    };
    let height = metadata.num_rows;
    if height as u64 > limits.max_rows {
        return Ok(limits.stopped(limits.too_many_rows(), 0));
    }
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let (sources, missing) = resolve_columns(format, &names);
    issues.missing_columns = missing;
    // Only the mapped columns are read; `at[i]` is canonical column i's place in a slice.
    let mut projection: Vec<usize> = sources
        .iter()
        .filter_map(|s| {
            if let ColumnSource::Field(i) = s {
                Some(*i)
            } else {
                None
            }
        })
        .collect();
    projection.sort_unstable();
    projection.dedup();
    let at: Vec<Option<usize>> = sources
        .iter()
        .map(|s| {
            if let ColumnSource::Field(i) = s {
                projection.binary_search(i).ok()
            } else {
                None
            }
        })
        .collect();

    let slice_rows = builder.capacity().max(1);
    let mut decoded = 0u64;
    let mut offset = 0usize;
    let mut dated = false;
    while offset < height {
        let n = slice_rows.min(height - offset);
        let df = if projection.is_empty() {
            DataFrame::empty_with_height(n)
        } else {
            let mut slice = match open() {
                Ok(r) => ParquetReader::new(r),
                Err(e) => {
                    return Ok(FileIssues {
                        unreadable: Some(format!("cannot read the file: {e}")),
                        ..FileIssues::default()
                    });
                }
            };
            slice.set_metadata(metadata.clone());
            match slice
                .with_projection(Some(projection.clone()))
                .with_slice(Some((offset, n)))
                .read_parallel(ParallelStrategy::None)
                .finish()
            {
                Ok(df) => df,
                Err(e) => return Ok(not_parquet(&e)),
            }
        };
        // Rows (0-based in the slice) with a value that has no text, and the first such field.
        let mut bad_rows: BTreeMap<usize, String> = BTreeMap::new();
        let mut text_columns: Vec<Option<StringChunked>> = Vec::with_capacity(sources.len());
        let mut typed_dates: Option<Vec<Option<i32>>> = None;
        for (canonical, place) in columns::CANONICAL.iter().zip(&at) {
            let Some(place) = place else {
                text_columns.push(None);
                continue;
            };
            let column = &df.columns()[*place];
            let mut bad = |row: usize| {
                bad_rows.entry(row).or_insert_with(|| {
                    format!("field {:?} is not valid UTF-8", column.name().as_str())
                });
            };
            match as_text(column, &format.date_format, &mut bad) {
                Ok((text, dates)) => {
                    if *canonical == columns::ARRIVAL_DATE {
                        typed_dates = dates;
                    }
                    text_columns.push(Some(text));
                }
                Err(e) => {
                    return Ok(FileIssues {
                        unreadable: Some(format!(
                            "column {:?} holds {} values, which have no text form ({e})",
                            column.name().as_str(),
                            column.dtype()
                        )),
                        ..FileIssues::default()
                    });
                }
            }
        }
        drop(df);
        if typed_dates.is_some() && !dated {
            builder.with_typed_dates();
            dated = true;
        }
        let mut values: [&str; columns::N_CANONICAL] = [""; columns::N_CANONICAL];
        for row in 0..n {
            let record = u32::try_from(offset + row + 1).unwrap_or(u32::MAX);
            if let Some(message) = bad_rows.remove(&row) {
                issues.malformed.push(MalformedRow { record, message });
                continue;
            }
            for (i, source) in sources.iter().enumerate() {
                values[i] = match (source, &text_columns[i]) {
                    (ColumnSource::Constant(c), _) => c.as_str(),
                    (_, Some(col)) => col.get(row).unwrap_or(""),
                    _ => "",
                };
            }
            // The text a file decodes to is what a dictionary page hides: a
            // 200 KB file can hold gigabytes of it.
            decoded += values.iter().map(|v| v.len() as u64).sum::<u64>();
            if decoded > limits.max_decoded_bytes {
                return Ok(limits.stopped(limits.too_much_text(), record));
            }
            if let Some(bad) = super::nul_byte(&values, record) {
                issues.malformed.push(bad);
                continue;
            }
            builder.push_dated(record, &values, typed_dates.as_ref().and_then(|d| d[row]));
            if builder.is_full() {
                emit(builder)?;
            }
        }
        offset += n;
    }
    issues.records = u32::try_from(height).unwrap_or(u32::MAX);
    Ok(issues)
}

/// A column as text, and for a date or timestamp column its dates (days since
/// 1970-01-01). `bad` hears of each row whose value has no text (binary that is
/// not UTF-8: null here). `Err` if the column's type has no text form at all
/// (a list, a struct).
fn as_text(
    column: &Column,
    date_format: &str,
    bad: &mut dyn FnMut(usize),
) -> PolarsResult<(StringChunked, Option<Vec<Option<i32>>>)> {
    let series = column.as_materialized_series();
    let plain = |text: StringChunked| Ok((text, None));
    match series.dtype() {
        DataType::Date => {
            let days = series.to_physical_repr().into_owned();
            let days = days.i32()?;
            let mut out = StringChunkedBuilder::new(series.name().clone(), days.len());
            let mut buf = String::new();
            for d in days.iter() {
                match d.and_then(date_of_days) {
                    Some(date) => {
                        // At midnight, so that a format with time fields can print it.
                        let at = date.and_time(NaiveTime::MIN);
                        out.append_value(format_or(
                            &mut buf,
                            at.format(date_format),
                            date.format("%Y-%m-%d"),
                        ));
                    }
                    None => out.append_null(),
                }
            }
            Ok((
                out.finish(),
                Some(
                    days.iter()
                        .map(|d| d.filter(|d| date_of_days(*d).is_some()))
                        .collect(),
                ),
            ))
        }
        DataType::Datetime(unit, tz) => {
            let zone = match tz {
                None => Zone::Naive,
                Some(tz) => match Zone::parse(tz.as_str()) {
                    Some(zone) => zone,
                    // A zone chrono does not know: no date from it; its text as polars prints it.
                    None => return plain(series.cast(&DataType::String)?.str()?.clone()),
                },
            };
            let values = series.to_physical_repr().into_owned();
            let values = values.i64()?;
            let mut out = StringChunkedBuilder::new(series.name().clone(), values.len());
            let mut dates = Vec::with_capacity(values.len());
            let mut buf = String::new();
            for v in values.iter() {
                let utc = v.and_then(|v| match unit {
                    TimeUnit::Nanoseconds => Some(DateTime::from_timestamp_nanos(v)),
                    TimeUnit::Microseconds => DateTime::from_timestamp_micros(v),
                    TimeUnit::Milliseconds => DateTime::from_timestamp_millis(v),
                });
                let Some(utc) = utc else {
                    out.append_null();
                    dates.push(None);
                    continue;
                };
                let (date, text) = match zone.local(utc) {
                    Err(naive) => (
                        naive.date(),
                        format_or(
                            &mut buf,
                            naive.format(date_format),
                            naive.format("%Y-%m-%dT%H:%M:%S%.f"),
                        ),
                    ),
                    Ok(aware) => (
                        aware.date_naive(),
                        format_or(
                            &mut buf,
                            aware.format(date_format),
                            aware.format("%Y-%m-%dT%H:%M:%S%.f%:z"),
                        ),
                    ),
                };
                out.append_value(text);
                dates.push(Some(days_of_date(date)));
            }
            Ok((out.finish(), Some(dates)))
        }
        // Exact text from the unscaled integer: never through a float.
        DataType::Decimal(_, scale) => {
            let scale = *scale;
            let units = series.to_physical_repr().into_owned();
            let text = units
                .i128()?
                .iter()
                .map(|v| v.map(|v| decimal_text(v, scale)))
                .collect::<StringChunked>()
                .with_name(series.name().clone());
            plain(text)
        }
        DataType::String => plain(series.str()?.clone()),
        DataType::Binary => plain(binary_text(series.binary()?, bad)),
        DataType::BinaryOffset => {
            plain(binary_text(series.cast(&DataType::Binary)?.binary()?, bad))
        }
        _ => plain(series.cast(&DataType::String)?.str()?.clone()),
    }
}

/// `primary` as text, or `fallback` if `primary` cannot be printed (a job
/// format asking for a field the value does not have, e.g. `%z` of a naive time).
fn format_or(buf: &mut String, primary: impl Display, fallback: impl Display) -> &str {
    buf.clear();
    if write!(buf, "{primary}").is_err() {
        buf.clear();
        let _ = write!(buf, "{fallback}");
    }
    buf.as_str()
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

fn date_of_days(days: i32) -> Option<NaiveDate> {
    EPOCH.checked_add_signed(chrono::Duration::days(i64::from(days)))
}

fn days_of_date(date: NaiveDate) -> i32 {
    (date - EPOCH).num_days() as i32
}

/// The time zone of a `Datetime` column.
enum Zone {
    /// No zone: the wall-clock time as written.
    Naive,
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Zone {
    fn parse(name: &str) -> Option<Zone> {
        name.parse::<chrono_tz::Tz>()
            .ok()
            .map(Zone::Named)
            .or_else(|| name.parse::<FixedOffset>().ok().map(Zone::Fixed))
    }

    /// The local time of an instant: naive (`Err`) or with its offset (`Ok`).
    fn local(&self, utc: DateTime<chrono::Utc>) -> Result<DateTime<FixedOffset>, NaiveDateTime> {
        match self {
            Zone::Naive => Err(utc.naive_utc()),
            Zone::Named(tz) => Ok(utc.with_timezone(tz).fixed_offset()),
            Zone::Fixed(offset) => Ok(utc.with_timezone(offset)),
        }
    }
}

/// Binary values as UTF-8 text; a value that is not UTF-8 is null and reported.
fn binary_text(values: &BinaryChunked, bad: &mut dyn FnMut(usize)) -> StringChunked {
    values
        .iter()
        .enumerate()
        .map(|(row, v)| {
            let v = v?;
            let text = std::str::from_utf8(v).ok();
            if text.is_none() {
                bad(row);
            }
            text
        })
        .collect::<StringChunked>()
        .with_name(values.name().clone())
}

/// An unscaled decimal as exact text: `(1250, 2)` is `12.50`, `(-5, 3)` is `-0.005`.
fn decimal_text(units: i128, scale: usize) -> String {
    let digits = units.unsigned_abs().to_string();
    let sign = if units < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::test_support::{read_with, records, strings};

    #[test]
    fn reads_typed_columns_as_canonical_text() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let day = (NaiveDate::from_ymd_opt(2026, 11, 2).unwrap() - epoch).num_days() as i32;
        let mut df = df! {
            "hawb" => ["P1", "P2"],
            "line_no" => [1i64, 2],
            "declared_value" => ["12.50", "3"],
        }
        .unwrap();
        let dates = Series::new("arrival_date".into(), [day, day])
            .cast(&DataType::Date)
            .unwrap();
        df.with_column(dates.into_column()).unwrap();
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        let job = "name = \"t\"\n[format]\nkind = \"parquet\"\ndate_format = \"%m/%d/%Y\"\n[format.columns]\nhouse_bill = \"hawb\"\nhts_code = \"hts\"\n";
        let (out, issues, _) = read_with(job, &buf, 10);
        assert_eq!(strings(&out, "house_bill"), ["P1", "P2"]);
        assert_eq!(strings(&out, "line_no"), ["1", "2"]);
        assert_eq!(strings(&out, "arrival_date"), ["11/02/2026", "11/02/2026"]);
        assert_eq!(records(&out), [1, 2]);
        assert_eq!(issues.missing_columns.len(), 1, "hts is mapped but absent");
    }

    #[test]
    fn decimals_read_as_their_exact_text() {
        assert_eq!(decimal_text(1250, 2), "12.50");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(0, 2), "0.00");
        assert_eq!(decimal_text(42, 0), "42");
        assert_eq!(decimal_text(i128::MIN + 1, 2).len(), 41);
        let values = Int128Chunked::from_iter_options(
            "declared_value".into(),
            [Some(80_000_000_000_000_001i128), Some(1250), None].into_iter(),
        )
        .into_decimal(38, 14)
        .unwrap()
        .into_series();
        let mut df = df! { "hawb" => ["P1", "P2", "P3"] }.unwrap();
        df.with_column(values.into_column()).unwrap();
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        let job =
            "name = \"t\"\n[format]\nkind = \"parquet\"\n[format.columns]\nhouse_bill = \"hawb\"\n";
        let (out, issues, _) = read_with(job, &buf, 10);
        assert!(issues.unreadable.is_none(), "{issues:?}");
        assert_eq!(
            strings(&out, "declared_value"),
            ["800.00000000000001", "0.00000000001250", ""]
        );
    }

    fn parquet(mut df: DataFrame) -> Vec<u8> {
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        buf
    }

    fn typed_dates(df: &DataFrame) -> Vec<Option<i32>> {
        let d = df
            .column(columns::TYPED_DATE)
            .unwrap()
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        d.i32().unwrap().iter().collect()
    }

    const JOB: &str = "name = \"t\"\n[format]\nkind = \"parquet\"\ndate_format = \"%Y-%m-%dT%H:%M:%S\"\n[format.columns]\nhouse_bill = \"hawb\"\n";

    #[test]
    fn typed_dates_need_no_round_trip_through_the_date_format() {
        let day = days_of_date(NaiveDate::from_ymd_opt(2025, 5, 1).unwrap());
        let mut df = df! { "hawb" => ["P1", "P2"] }.unwrap();
        let dates =
            Int32Chunked::from_iter_options("arrival_date".into(), [Some(day), None].into_iter())
                .into_date();
        df.with_column(dates.into_column()).unwrap();
        let (out, issues, _) = read_with(JOB, &parquet(df), 10);
        assert!(issues.unreadable.is_none(), "{issues:?}");
        assert_eq!(strings(&out, "arrival_date"), ["2025-05-01T00:00:00", ""]);
        assert_eq!(typed_dates(&out), [Some(day), None]);
        // A format that cannot print a date at all still gives its day.
        let job = JOB.replace("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %z");
        let mut df = df! { "hawb" => ["P1"] }.unwrap();
        df.with_column(
            Int32Chunked::new("arrival_date".into(), &[day])
                .into_date()
                .into_column(),
        )
        .unwrap();
        let (out, _, _) = read_with(&job, &parquet(df), 10);
        assert_eq!(strings(&out, "arrival_date"), ["2025-05-01"]);
        assert_eq!(typed_dates(&out), [Some(day)]);
        // Text dates are the rules' to parse: no typed date.
        let df = df! { "hawb" => ["P1"], "arrival_date" => ["2025-05-01"] }.unwrap();
        let (out, _, _) = read_with(JOB, &parquet(df), 10);
        assert_eq!(typed_dates(&out), [None]);
    }

    #[test]
    fn a_timestamp_gives_its_date_in_its_own_time_zone() {
        // 2025-05-02T02:30:00Z is still May 1st in New York.
        let instant = DateTime::parse_from_rfc3339("2025-05-02T02:30:00Z")
            .unwrap()
            .timestamp_millis();
        let may = |d| Some(days_of_date(NaiveDate::from_ymd_opt(2025, 5, d).unwrap()));
        for (tz, text, day) in [
            (None, "2025-05-02T02:30:00", may(2)),
            (Some("America/New_York"), "2025-05-01T22:30:00", may(1)),
            (Some("+09:00"), "2025-05-02T11:30:00", may(2)),
        ] {
            let ts = Int64Chunked::new("arrival_date".into(), &[instant])
                .into_datetime(TimeUnit::Milliseconds, TimeZone::opt_try_new(tz).unwrap());
            let mut df = df! { "hawb" => ["P1"] }.unwrap();
            df.with_column(ts.into_column()).unwrap();
            let (out, issues, _) = read_with(JOB, &parquet(df), 10);
            assert!(issues.unreadable.is_none(), "{tz:?}: {issues:?}");
            assert_eq!(strings(&out, "arrival_date"), [text], "{tz:?}");
            assert_eq!(typed_dates(&out), [day], "{tz:?}");
        }
    }

    #[test]
    fn a_column_with_no_text_form_makes_the_file_unreadable() {
        let list = Series::new(
            "description".into(),
            &[Series::new("".into(), &["cotton", "shirt"])],
        );
        let mut df = df! { "hawb" => ["P1"] }.unwrap();
        df.with_column(list.into_column()).unwrap();
        let (out, issues, _) = read_with(JOB, &parquet(df), 10);
        let reason = issues.unreadable.expect("F001");
        assert!(reason.contains("column \"description\""), "{reason}");
        assert_eq!(out.height(), 0);
    }

    #[test]
    fn a_binary_value_that_is_not_utf8_costs_its_row() {
        let values: [&[u8]; 3] = [b"Shirt", b"\xff\xfe", b"Mug"];
        let mut df = df! { "hawb" => ["P1", "P2", "P3"] }.unwrap();
        df.with_column(Series::new("description".into(), &values).into_column())
            .unwrap();
        let (out, issues, _) = read_with(JOB, &parquet(df), 10);
        assert!(issues.unreadable.is_none(), "{issues:?}");
        assert_eq!(
            issues.malformed,
            [MalformedRow {
                record: 2,
                message: "field \"description\" is not valid UTF-8".into()
            }]
        );
        assert_eq!(strings(&out, "description"), ["Shirt", "Mug"]);
        assert_eq!(records(&out), [1, 3]);
        assert_eq!(issues.records, 3);
    }

    #[test]
    fn a_file_is_read_a_slice_at_a_time_and_its_row_cap_comes_from_the_metadata() {
        let n = 25;
        let hawb: Vec<String> = (1..=n).map(|i| format!("P{i}")).collect();
        let df = df! { "hawb" => hawb.clone(), "unused" => vec![7i64; n] }.unwrap();
        let bytes = parquet(df);
        let job = crate::job::Job::from_toml(JOB, std::path::Path::new("t.toml")).unwrap();
        let mut heights = Vec::new();
        let mut all = Vec::new();
        let issues = crate::manifest::read(
            &job.format,
            crate::manifest::Input::Bytes(&bytes),
            0,
            10,
            &mut |df| {
                heights.push(df.height());
                all.extend(strings(&df, "house_bill"));
                Ok(())
            },
        )
        .unwrap();
        assert!(issues.unreadable.is_none(), "{issues:?}");
        assert_eq!(heights, [10, 10, 5]);
        assert_eq!(all, hawb);
        assert_eq!(issues.records, 25);
        let limits = crate::manifest::Limits {
            max_rows: 24,
            ..Default::default()
        };
        let mut sent = 0;
        let issues = crate::manifest::read_limited(
            &job.format,
            crate::manifest::Input::Bytes(&bytes),
            0,
            10,
            &limits,
            &mut |df| {
                sent += df.height();
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            issues.unreadable.as_deref(),
            Some("has more than 24 records (limits.max_rows_per_file = 24)")
        );
        assert_eq!(sent, 0, "known from the metadata before any row is read");
        // Text: the decoded values count, not the file's size.
        let limits = crate::manifest::Limits {
            max_decoded_bytes: 30,
            ..Default::default()
        };
        let issues = crate::manifest::read_limited(
            &job.format,
            crate::manifest::Input::Bytes(&bytes),
            0,
            10,
            &limits,
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(
            issues.unreadable.as_deref(),
            Some("has more than 30 bytes of text (limits.max_decoded_bytes_per_file = 30)")
        );
    }

    #[test]
    fn garbage_is_unreadable() {
        let (_, issues, _) = read_with(
            "name = \"t\"\n[format]\nkind = \"parquet\"\n",
            b"PAR1 not really",
            10,
        );
        assert!(issues.unreadable.is_some());
    }
}
