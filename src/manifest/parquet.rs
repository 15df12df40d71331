//! Parquet manifests. Typed columns are turned into the canonical text: dates
//! are written with the job's `date_format` (so `arrival_date` parses back to
//! the same day), decimals as their exact digits, numbers and strings as
//! polars prints them. A file polars cannot open is F001, and so is a file
//! whose mapped column has no text form (a list or a struct); a binary value
//! that is not UTF-8 is F003 for its row, and the other rows still run.

use std::collections::BTreeMap;
use std::io::Cursor;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{ChunkBuilder, ColumnSource, FileIssues, MalformedRow, resolve_columns};
use crate::job::Format;

pub(super) fn read(
    format: &Format,
    raw: &[u8],
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    let mut issues = FileIssues::default();
    let df = match ParquetReader::new(Cursor::new(raw)).finish() {
        Ok(df) => df,
        Err(e) => {
            issues.unreadable = Some(format!("not a readable Parquet file: {e}"));
            return Ok(issues);
        }
    };
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    let (sources, missing) = resolve_columns(format, &names);
    issues.missing_columns = missing;

    // Rows (0-based) with a value that has no text, and the first such field.
    let mut bad_rows: BTreeMap<usize, String> = BTreeMap::new();
    let mut text_columns: Vec<Option<StringChunked>> = Vec::with_capacity(sources.len());
    for source in &sources {
        text_columns.push(match source {
            ColumnSource::Field(i) => {
                let column = &df.columns()[*i];
                let mut bad = |row: usize| {
                    bad_rows.entry(row).or_insert_with(|| format!("field {:?} is not valid UTF-8", column.name().as_str()));
                };
                match as_text(column, &format.date_format, &mut bad) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        issues.unreadable = Some(format!(
                            "column {:?} holds {} values, which have no text form ({e})",
                            column.name().as_str(),
                            column.dtype()
                        ));
                        return Ok(issues);
                    }
                }
            }
            _ => None,
        });
    }
    let height = df.height();
    drop(df);
    let mut values: [&str; 21] = [""; 21];
    for row in 0..height {
        let record = u32::try_from(row + 1).unwrap_or(u32::MAX);
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
        builder.push(record, &values);
        if builder.is_full() {
            emit(builder)?;
        }
    }
    issues.records = u32::try_from(height).unwrap_or(u32::MAX);
    Ok(issues)
}

/// A column as text; dates in the job's format. `bad` hears of each row whose
/// value has no text (binary that is not UTF-8: null here). `Err` if the
/// column's type has no text form at all (a list, a struct).
fn as_text(column: &Column, date_format: &str, bad: &mut dyn FnMut(usize)) -> PolarsResult<StringChunked> {
    let series = column.as_materialized_series();
    match series.dtype() {
        DataType::Date => {
            let days = series.to_physical_repr().into_owned();
            let days = days.i32()?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            Ok(days
                .iter()
                .map(|d| {
                    d.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(i64::from(d))))
                        .map(|date| date.format(date_format).to_string())
                })
                .collect::<StringChunked>()
                .with_name(series.name().clone()))
        }
        // Exact text from the unscaled integer: never through a float.
        DataType::Decimal(_, scale) => {
            let scale = *scale;
            let units = series.to_physical_repr().into_owned();
            Ok(units
                .i128()?
                .iter()
                .map(|v| v.map(|v| decimal_text(v, scale)))
                .collect::<StringChunked>()
                .with_name(series.name().clone()))
        }
        DataType::String => Ok(series.str()?.clone()),
        DataType::Binary => Ok(binary_text(series.binary()?, bad)),
        DataType::BinaryOffset => Ok(binary_text(series.cast(&DataType::Binary)?.binary()?, bad)),
        _ => Ok(series.cast(&DataType::String)?.str()?.clone()),
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
        let dates = Series::new("arrival_date".into(), [day, day]).cast(&DataType::Date).unwrap();
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
        let job = "name = \"t\"\n[format]\nkind = \"parquet\"\n[format.columns]\nhouse_bill = \"hawb\"\n";
        let (out, issues, _) = read_with(job, &buf, 10);
        assert!(issues.unreadable.is_none(), "{issues:?}");
        assert_eq!(strings(&out, "declared_value"), ["800.00000000000001", "0.00000000001250", ""]);
    }

    fn parquet(mut df: DataFrame) -> Vec<u8> {
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        buf
    }

    const JOB: &str = "name = \"t\"\n[format]\nkind = \"parquet\"\ndate_format = \"%Y-%m-%dT%H:%M:%S\"\n[format.columns]\nhouse_bill = \"hawb\"\n";

    #[test]
    fn a_column_with_no_text_form_makes_the_file_unreadable() {
        let list = Series::new("description".into(), &[Series::new("".into(), &["cotton", "shirt"])]);
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
        df.with_column(Series::new("description".into(), &values).into_column()).unwrap();
        let (out, issues, _) = read_with(JOB, &parquet(df), 10);
        assert!(issues.unreadable.is_none(), "{issues:?}");
        assert_eq!(issues.malformed, [MalformedRow { record: 2, message: "field \"description\" is not valid UTF-8".into() }]);
        assert_eq!(strings(&out, "description"), ["Shirt", "Mug"]);
        assert_eq!(records(&out), [1, 3]);
        assert_eq!(issues.records, 3);
    }

    #[test]
    fn garbage_is_unreadable() {
        let (_, issues, _) = read_with("name = \"t\"\n[format]\nkind = \"parquet\"\n", b"PAR1 not really", 10);
        assert!(issues.unreadable.is_some());
    }
}
