//! Reading carrier manifests into canonical chunks (contract sections 1-2).
//!
//! A reader turns one file's bytes into polars chunks of at most `chunk_rows`
//! rows with the canonical columns (all strings, never null: a value the file
//! does not carry is `""`), the 1-based `record` number, a 128-bit hash of
//! the row's canonical values for the duplicate rules, and the arrival date
//! itself where the file has it typed (Parquet), so that no date has to go
//! through a text format and back. File-level trouble is not
//! an `Err`: it comes back as [`FileIssues`] (F001, F002, F003) so one bad row
//! or file never stops the rest. This module knows nothing about rules.

pub mod columns;
mod csv;
mod ndjson;
mod parquet;

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use crate::job::{Format, FormatKind};
use columns::CANONICAL;

/// Rows per chunk: big enough for polars to vectorise, small enough that a
/// 5M-line file never sits in memory whole.
pub const DEFAULT_CHUNK_ROWS: usize = 256 * 1024;

/// A mapped column absent from the file (F002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumn {
    /// The canonical column.
    pub canonical: String,
    /// The carrier's column name the job maps to it.
    pub source: String,
}

/// A row that could not be parsed (F003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedRow {
    pub record: u32,
    pub message: String,
}

/// What went wrong with a file while reading it, and how much was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileIssues {
    /// F001: the file could not be read or decoded at all.
    pub unreadable: Option<String>,
    /// F002.
    pub missing_columns: Vec<MissingColumn>,
    /// F003, in record order.
    pub malformed: Vec<MalformedRow>,
    /// Data records seen, malformed ones included.
    pub records: u32,
}

/// Where each canonical column's value comes from for one file.
#[derive(Debug, Clone)]
pub(crate) enum ColumnSource {
    /// The file's column at this position (header index or key).
    Field(usize),
    Constant(String),
    Absent,
}

/// Resolves every canonical column against the file's column names (a CSV
/// header, the keys of an NDJSON file, a Parquet schema). Exact name first, then
/// trimmed and case-insensitive. Returns the sources and the F002 list.
pub(crate) fn resolve_columns(format: &Format, names: &[String]) -> (Vec<ColumnSource>, Vec<MissingColumn>) {
    let find = |wanted: &str| {
        names.iter().position(|n| n == wanted).or_else(|| {
            let w = wanted.trim().to_lowercase();
            names.iter().position(|n| n.trim().to_lowercase() == w)
        })
    };
    let mut missing = Vec::new();
    let sources = CANONICAL
        .iter()
        .map(|&canonical| {
            if let Some(c) = format.constants.get(canonical) {
                ColumnSource::Constant(c.clone())
            } else if let Some(source) = format.columns.get(canonical) {
                find(source).map_or_else(
                    || {
                        missing.push(MissingColumn { canonical: canonical.into(), source: source.clone() });
                        ColumnSource::Absent
                    },
                    ColumnSource::Field,
                )
            } else {
                find(canonical).map_or(ColumnSource::Absent, ColumnSource::Field)
            }
        })
        .collect();
    (sources, missing)
}

/// Accumulates canonical rows and hands them out as polars chunks.
pub(crate) struct ChunkBuilder {
    file: u32,
    capacity: usize,
    records: Vec<u32>,
    hash_hi: Vec<u64>,
    hash_lo: Vec<u64>,
    columns: Vec<StringChunkedBuilder>,
    scratch: Vec<u8>,
    /// Typed arrival dates (days since 1970-01-01), for a file that has them.
    typed_dates: Option<Vec<Option<i32>>>,
}

impl ChunkBuilder {
    pub(crate) fn new(file: u32, capacity: usize) -> ChunkBuilder {
        ChunkBuilder {
            file,
            capacity,
            records: Vec::with_capacity(capacity),
            hash_hi: Vec::with_capacity(capacity),
            hash_lo: Vec::with_capacity(capacity),
            columns: Self::fresh_columns(capacity),
            scratch: Vec::with_capacity(512),
            typed_dates: None,
        }
    }

    /// Says that rows come with a typed arrival date ([`ChunkBuilder::push_dated`]).
    pub(crate) fn with_typed_dates(&mut self) {
        self.typed_dates = Some(Vec::with_capacity(self.capacity));
    }

    fn fresh_columns(capacity: usize) -> Vec<StringChunkedBuilder> {
        CANONICAL.iter().map(|c| StringChunkedBuilder::new((*c).into(), capacity)).collect()
    }

    /// Adds one row; `values` are in canonical order.
    pub(crate) fn push(&mut self, record: u32, values: &[&str; columns::N_CANONICAL]) {
        // Length-prefixed, so ("ab","c") and ("a","bc") hash differently. The
        // line number is hashed as the integer it is (`01` is `1`, as in D002).
        self.scratch.clear();
        for (i, (builder, v)) in self.columns.iter_mut().zip(values).enumerate() {
            builder.append_value(v);
            let (sign, v) = if i == columns::LINE_NO_AT { columns::line_no_parts(v) } else { ("", *v) };
            self.scratch.extend_from_slice(&((sign.len() + v.len()) as u32).to_le_bytes());
            self.scratch.extend_from_slice(sign.as_bytes());
            self.scratch.extend_from_slice(v.as_bytes());
        }
        let h = xxh3_128(&self.scratch);
        self.hash_hi.push((h >> 64) as u64);
        self.hash_lo.push(h as u64);
        self.records.push(record);
    }

    /// [`ChunkBuilder::push`], with the row's typed arrival date.
    pub(crate) fn push_dated(&mut self, record: u32, values: &[&str; columns::N_CANONICAL], date: Option<i32>) {
        self.push(record, values);
        if let Some(dates) = self.typed_dates.as_mut() {
            dates.push(date);
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.records.len() >= self.capacity
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Takes the rows so far as a chunk and starts afresh.
    pub(crate) fn take(&mut self) -> DataFrame {
        let height = self.records.len();
        let builders = std::mem::replace(&mut self.columns, Self::fresh_columns(self.capacity));
        let mut cols: Vec<Column> = Vec::with_capacity(CANONICAL.len() + 4);
        cols.push(Column::new_scalar(columns::FILE.into(), Scalar::from(self.file), height));
        cols.push(Column::new(columns::RECORD.into(), std::mem::take(&mut self.records)));
        cols.extend(builders.into_iter().map(|b| b.finish().into_column()));
        cols.push(Column::new(columns::ROW_HASH_HI.into(), std::mem::take(&mut self.hash_hi)));
        cols.push(Column::new(columns::ROW_HASH_LO.into(), std::mem::take(&mut self.hash_lo)));
        cols.push(match self.typed_dates.as_mut() {
            Some(dates) => Int32Chunked::from_iter_options(columns::TYPED_DATE.into(), dates.drain(..))
                .into_date()
                .into_column(),
            None => Column::new_scalar(columns::TYPED_DATE.into(), Scalar::null(DataType::Date), height),
        });
        DataFrame::new(height, cols).expect("chunk columns have one length")
    }
}

/// Where a manifest's bytes come from.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A file on disk, streamed: a 5M-line file never sits in memory whole.
    Path(&'a std::path::Path),
    /// Bytes already in memory (tests, small objects).
    Bytes(&'a [u8]),
}

/// Whether the input holds nothing but white space (F001), peeking at most a
/// few kilobytes.
fn is_blank(input: Input<'_>) -> std::io::Result<bool> {
    const PEEK: usize = 64 * 1024;
    match input {
        Input::Bytes(b) => Ok(b.iter().all(u8::is_ascii_whitespace)),
        Input::Path(p) => {
            use std::io::Read;
            let mut f = std::fs::File::open(p)?;
            let mut buf = vec![0; PEEK];
            let mut filled = 0;
            while filled < PEEK {
                let n = f.read(&mut buf[filled..])?;
                if n == 0 {
                    return Ok(buf[..filled].iter().all(u8::is_ascii_whitespace));
                }
                filled += n;
            }
            Ok(false)
        }
    }
}

/// All of a file's bytes (for formats that need them at once).
fn all_bytes(input: Input<'_>) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
    match input {
        Input::Bytes(b) => Ok(std::borrow::Cow::Borrowed(b)),
        Input::Path(p) => Ok(std::borrow::Cow::Owned(std::fs::read(p)?)),
    }
}

/// Reads one file, calling `sink` with each chunk in record order.
///
/// Anything wrong with the file's content is in the returned [`FileIssues`]; a
/// file that cannot be opened is F001. `Err` means the run itself must stop: the
/// sink (the engine) failed, or the file failed mid-read after chunks went out.
pub fn read(
    format: &Format,
    input: Input<'_>,
    file: u32,
    chunk_rows: usize,
    sink: &mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    match is_blank(input) {
        Ok(true) => return Ok(FileIssues { unreadable: Some("the file is empty".into()), ..FileIssues::default() }),
        Ok(false) => {}
        Err(e) => return Ok(FileIssues { unreadable: Some(format!("cannot open the file: {e}")), ..FileIssues::default() }),
    }
    let mut builder = ChunkBuilder::new(file, chunk_rows);
    let mut emit = |b: &mut ChunkBuilder| -> anyhow::Result<()> {
        if !b.is_empty() {
            sink(b.take())?;
        }
        Ok(())
    };
    // A reader that panics (a dependency meeting data it does not expect) costs
    // this file, not the run: the file is F001 and the caller goes on with the
    // next one. Chunks sent before the panic stay sent; F001 holds them all.
    let read_file = std::panic::AssertUnwindSafe(|| match format.kind {
        FormatKind::Csv => csv::read(format, input, &mut builder, &mut emit),
        FormatKind::Ndjson => ndjson::read(format, input, &mut builder, &mut emit),
        FormatKind::Parquet => match all_bytes(input) {
            Ok(bytes) => parquet::read(format, &bytes, &mut builder, &mut emit),
            Err(e) => Ok(FileIssues { unreadable: Some(format!("cannot read the file: {e}")), ..FileIssues::default() }),
        },
    });
    let issues = match std::panic::catch_unwind(read_file) {
        Ok(result) => result?,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no reason given".into());
            return Ok(FileIssues {
                unreadable: Some(format!("the reader failed on this file ({what})")),
                ..FileIssues::default()
            });
        }
    };
    if issues.unreadable.is_none() {
        emit(&mut builder)?;
    }
    Ok(issues)
}

/// Decodes Windows-1252 to UTF-8 (every byte maps to a character).
pub(crate) fn decode_1252(bytes: &[u8]) -> Vec<u8> {
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    text.into_owned().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Job;

    #[test]
    fn a_panic_while_reading_a_file_makes_it_unreadable() {
        let job = Job::from_toml("name = \"t\"\n[format]\nkind = \"csv\"\n", std::path::Path::new("t.toml")).unwrap();
        let issues = read(&job.format, Input::Bytes(b"house_bill\nH1\nH2\n"), 0, 1, &mut |_| panic!("boom")).unwrap();
        let reason = issues.unreadable.expect("F001");
        assert!(reason.contains("boom"), "{reason}");
        assert!(issues.malformed.is_empty());
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::job::Job;
    use std::path::Path;

    /// Reads `bytes` with a job written as TOML; returns the chunks joined and the issues.
    pub fn read_with(job_toml: &str, bytes: &[u8], chunk_rows: usize) -> (DataFrame, FileIssues, usize) {
        let job = Job::from_toml(job_toml, Path::new("t.toml")).unwrap();
        let mut chunks = Vec::new();
        let issues = read(&job.format, Input::Bytes(bytes), 0, chunk_rows, &mut |df| {
            chunks.push(df);
            Ok(())
        })
        .unwrap();
        let n = chunks.len();
        let mut all = chunks.into_iter().reduce(|mut a, b| {
            a.vstack_mut(&b).unwrap();
            a
        });
        let df = all.take().unwrap_or_else(DataFrame::empty);
        (df, issues, n)
    }

    /// A column of the result as strings.
    pub fn strings(df: &DataFrame, name: &str) -> Vec<String> {
        df.column(name).unwrap().str().unwrap().iter().map(|v| v.unwrap_or("<null>").to_owned()).collect()
    }

    pub fn records(df: &DataFrame) -> Vec<u32> {
        df.column(columns::RECORD).unwrap().u32().unwrap().into_no_null_iter().collect()
    }
}
