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

mod cp1252;
mod csv;
mod ndjson;
mod parquet;
mod parquet_footer;

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use crate::columns::{self, CANONICAL};
use crate::job::{Format, FormatKind};

/// Rows per chunk: big enough for polars to vectorise, small enough that a
/// 5M-line file never sits in memory whole.
pub const DEFAULT_CHUNK_ROWS: usize = 256 * 1024;

/// The longest record a text manifest may hold (CSV, NDJSON): a longer one is
/// F003 for that record, skipped to its line end without being held in
/// memory, and the records after it still run.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Per-file caps (config `[limits]`, docs/limits.md): what
/// one file may cost, whatever its shape. The keys are named in the messages,
/// so an operator knows which setting quarantined a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `limits.max_record_bytes`: a longer text record is F003 for that record.
    pub max_record_bytes: usize,
    /// `limits.max_rows_per_file`: a file with more records is F001.
    pub max_rows: u64,
    /// `limits.max_decoded_bytes_per_file`: a file with more text (after
    /// windows-1252 decoding, or the text of a Parquet file's values) is F001.
    pub max_decoded_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_record_bytes: MAX_RECORD_BYTES,
            max_rows: 50_000_000,
            max_decoded_bytes: 16 << 30,
        }
    }
}

impl Limits {
    /// F001's reason for a file with more than `max_rows` records.
    pub(crate) fn too_many_rows(&self) -> String {
        format!(
            "has more than {} records (limits.max_rows_per_file = {})",
            self.max_rows, self.max_rows
        )
    }

    /// F001's reason for a file with more than `max_decoded_bytes` of text.
    pub(crate) fn too_much_text(&self) -> String {
        format!(
            "has more than {} bytes of text (limits.max_decoded_bytes_per_file = {})",
            self.max_decoded_bytes, self.max_decoded_bytes
        )
    }

    /// Issues for a file stopped at a cap: F001 alone. Its rows never reach
    /// the outputs (the engine drops what it already had of an unreadable file).
    pub(crate) fn stopped(&self, why: String, records: u32) -> FileIssues {
        FileIssues {
            unreadable: Some(why),
            records,
            ..FileIssues::default()
        }
    }
}

/// F003 for a record with a NUL byte in a value: the binary peek sees only a
/// file's first 64 KiB, and a JSON `\u0000` or a Parquet string carries one
/// past any peek. No output may hold the raw byte, and the file's other
/// records still run.
pub(crate) fn nul_byte(values: &[&str; columns::N_CANONICAL], record: u32) -> Option<MalformedRow> {
    let column = values.iter().position(|v| v.as_bytes().contains(&0))?;
    Some(MalformedRow {
        record,
        message: format!("holds a NUL byte in {}", columns::CANONICAL[column]),
    })
}

/// F003's message for a record over `cap` bytes ("is longer than 1 MiB").
pub(crate) fn too_long(cap: usize) -> String {
    if cap >= 1 << 20 && cap.is_multiple_of(1 << 20) {
        format!("is longer than {} MiB", cap >> 20)
    } else {
        format!("is longer than {cap} bytes")
    }
}

/// Reads one line (up to and with its `\n`) into `buf`, keeping at most `cap + 1`
/// bytes of it: past that the rest of the line is read and dropped. Returns
/// the bytes the line took in the input (0 at the end) and whether it was
/// longer than `cap` (its `\n` not counted).
pub(crate) fn read_line_capped<R: std::io::BufRead>(
    source: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<(usize, bool)> {
    let mut total = 0;
    let mut over = false;
    loop {
        let available = match source.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((total, over));
        }
        let (used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let content = if done { used - 1 } else { used };
        let room = (cap + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&available[..content.min(room)]);
        if buf.len() > cap {
            over = true;
        } else if done {
            buf.push(b'\n');
        }
        source.consume(used);
        total += used;
        if done {
            return Ok((total, over));
        }
    }
}

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

/// A file-level note about one column: its canonical (or the file's) name and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnNote {
    pub field: String,
    pub message: String,
}

/// At most this many [`ColumnNote`]s of one kind per file: a hostile file
/// cannot grow them without bound.
pub const MAX_COLUMN_NOTES: usize = 100;

/// What went wrong with a file while reading it, and how much was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileIssues {
    /// F001: the file could not be read or decoded at all.
    pub unreadable: Option<String>,
    /// F002.
    pub missing_columns: Vec<MissingColumn>,
    /// F002 too: a header name with a byte order mark inside it (read
    /// without the mark, but the header must be fixed).
    pub marked_columns: Vec<ColumnNote>,
    /// F004: a CSV header name or an NDJSON key that appears twice (the
    /// first is read).
    pub duplicated_columns: Vec<ColumnNote>,
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

/// A name from a file as it appears, with control and format characters (a
/// BOM, zero-width spaces, bidi marks) escaped as `\u{..}`, so a finding
/// shows what is really there.
pub(crate) fn escaped(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for ch in name.chars() {
        let format = matches!(ch, '\u{AD}' | '\u{600}'..='\u{605}' | '\u{61C}' | '\u{6DD}' | '\u{70F}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}');
        if ch.is_control() || format || ch == '"' || ch == '\\' {
            if ch == '"' || ch == '\\' {
                out.push('\\');
                out.push(ch);
            } else {
                out.extend(ch.escape_unicode());
            }
        } else {
            out.push(ch);
        }
    }
    out.push('"');
    out
}

/// Cleans a CSV header: a byte order mark inside a name (a file glued to
/// another, or a BOM written per column) is removed so the column is read, and
/// is F002 naming the header as it appears; a name that appears twice (as
/// [`resolve_columns`] compares them) is F004, and the first is read.
pub(crate) fn inspect_header(names: Vec<String>, issues: &mut FileIssues) -> Vec<String> {
    let names: Vec<String> = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            if !name.contains('\u{FEFF}') {
                return name;
            }
            let clean = name.replace('\u{FEFF}', "").trim().to_owned();
            if issues.marked_columns.len() < MAX_COLUMN_NOTES {
                issues.marked_columns.push(ColumnNote {
                    field: clean.clone(),
                    message: format!(
                        "column {} (column {}) has a byte order mark (U+FEFF) inside its name: it is read as {clean:?}, but the header must be fixed",
                        escaped(&name),
                        i + 1
                    ),
                });
            }
            clean
        })
        .collect();
    let loose: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
    for (later, name) in loose.iter().enumerate() {
        let Some(first) = loose[..later].iter().position(|n| n == name) else {
            continue;
        };
        if issues.duplicated_columns.len() < MAX_COLUMN_NOTES {
            issues.duplicated_columns.push(ColumnNote {
                field: names[first].clone(),
                message: format!(
                    "column {} appears twice in the header (columns {} and {}): the first (column {}) is read",
                    escaped(&names[first]),
                    first + 1,
                    later + 1,
                    first + 1
                ),
            });
        }
    }
    names
}

/// Resolves every canonical column against the file's column names (a CSV
/// header, the keys of an NDJSON file, a Parquet schema). Exact name first, then
/// trimmed and case-insensitive. Returns the sources and the F002 list.
pub(crate) fn resolve_columns(
    format: &Format,
    names: &[String],
) -> (Vec<ColumnSource>, Vec<MissingColumn>) {
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
                        missing.push(MissingColumn {
                            canonical: canonical.into(),
                            source: source.clone(),
                        });
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
        CANONICAL
            .iter()
            .map(|c| StringChunkedBuilder::new((*c).into(), capacity))
            .collect()
    }

    /// Adds one row; `values` are in canonical order.
    pub(crate) fn push(&mut self, record: u32, values: &[&str; columns::N_CANONICAL]) {
        // Length-prefixed, so ("ab","c") and ("a","bc") hash differently. The
        // line number is hashed as the integer it is (`01` is `1`, as in D002).
        self.scratch.clear();
        for (i, (builder, v)) in self.columns.iter_mut().zip(values).enumerate() {
            builder.append_value(v);
            let (sign, v) = if i == columns::LINE_NO_AT {
                columns::line_no_parts(v)
            } else {
                ("", *v)
            };
            self.scratch
                .extend_from_slice(&((sign.len() + v.len()) as u32).to_le_bytes());
            self.scratch.extend_from_slice(sign.as_bytes());
            self.scratch.extend_from_slice(v.as_bytes());
        }
        let h = xxh3_128(&self.scratch);
        self.hash_hi.push((h >> 64) as u64);
        self.hash_lo.push(h as u64);
        self.records.push(record);
    }

    /// [`ChunkBuilder::push`], with the row's typed arrival date.
    pub(crate) fn push_dated(
        &mut self,
        record: u32,
        values: &[&str; columns::N_CANONICAL],
        date: Option<i32>,
    ) {
        self.push(record, values);
        if let Some(dates) = self.typed_dates.as_mut() {
            dates.push(date);
        }
    }

    /// Rows per chunk.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
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
        cols.push(Column::new_scalar(
            columns::FILE.into(),
            Scalar::from(self.file),
            height,
        ));
        cols.push(Column::new(
            columns::RECORD.into(),
            std::mem::take(&mut self.records),
        ));
        cols.extend(builders.into_iter().map(|b| b.finish().into_column()));
        cols.push(Column::new(
            columns::ROW_HASH_HI.into(),
            std::mem::take(&mut self.hash_hi),
        ));
        cols.push(Column::new(
            columns::ROW_HASH_LO.into(),
            std::mem::take(&mut self.hash_lo),
        ));
        cols.push(match self.typed_dates.as_mut() {
            Some(dates) => {
                Int32Chunked::from_iter_options(columns::TYPED_DATE.into(), dates.drain(..))
                    .into_date()
                    .into_column()
            }
            None => Column::new_scalar(
                columns::TYPED_DATE.into(),
                Scalar::null(DataType::Date),
                height,
            ),
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

/// How many bytes of a file are looked at before it is parsed: enough to tell
/// an empty or binary file without reading a 2 GiB one whole.
pub const PEEK_BYTES: usize = 64 * 1024;

/// The first [`PEEK_BYTES`] of the input (fewer when the file is shorter).
fn peek(input: Input<'_>) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
    match input {
        Input::Bytes(b) => Ok(std::borrow::Cow::Borrowed(&b[..b.len().min(PEEK_BYTES)])),
        Input::Path(p) => {
            use std::io::Read;
            let mut buf = Vec::with_capacity(PEEK_BYTES);
            std::fs::File::open(p)?
                .take(PEEK_BYTES as u64)
                .read_to_end(&mut buf)?;
            Ok(std::borrow::Cow::Owned(buf))
        }
    }
}

/// Whether the peeked bytes are all white space and the file ends within them
/// (F001 "the file is empty").
fn is_blank(peeked: &[u8]) -> bool {
    peeked.len() < PEEK_BYTES && peeked.iter().all(u8::is_ascii_whitespace)
}

/// Why a text manifest (CSV, NDJSON) is binary, from a peek at its first
/// bytes (F001): a NUL byte anywhere in the peek, or a control byte other than
/// tab, CR and LF in its header (the first line that is not blank). Text
/// manifests never hold either; a UTF-16 file, an archive or a file of zeros
/// does. Control bytes in the data lines are left to the rules.
fn binary_reason(peeked: &[u8]) -> Option<String> {
    if let Some(at) = peeked.iter().position(|&b| b == 0) {
        return Some(format!("the file is binary (NUL byte at offset {at})"));
    }
    let mut start = 0;
    for line in peeked.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            start += line.len() + 1;
            continue;
        }
        let bad = line
            .iter()
            .position(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\r')) || b == 0x7F);
        return bad.map(|i| {
            format!(
                "the file is binary (control byte 0x{:02X} at offset {})",
                line[i],
                start + i
            )
        });
    }
    None
}

/// Reads one file with the default [`Limits`]; see [`read_limited`].
pub fn read(
    format: &Format,
    input: Input<'_>,
    file: u32,
    chunk_rows: usize,
    sink: &mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    read_limited(format, input, file, chunk_rows, &Limits::default(), sink)
}

/// Reads one file, calling `sink` with each chunk in record order.
///
/// Anything wrong with the file's content is in the returned [`FileIssues`]; a
/// file that cannot be opened is F001, and so is a file over one of `limits`'
/// per-file caps (reading stops there: the caller must drop the chunks it
/// already had of a file that comes back unreadable). `Err` means the run
/// itself must stop: the sink (the engine) failed, or the file failed mid-read
/// after chunks went out.
pub fn read_limited(
    format: &Format,
    input: Input<'_>,
    file: u32,
    chunk_rows: usize,
    limits: &Limits,
    sink: &mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    let unreadable = |why: String| {
        Ok(FileIssues {
            unreadable: Some(why),
            ..FileIssues::default()
        })
    };
    match peek(input) {
        Ok(p) if is_blank(&p) => return unreadable("the file is empty".into()),
        Ok(p) if format.kind != FormatKind::Parquet => {
            if let Some(why) = binary_reason(&p) {
                return unreadable(why);
            }
        }
        Ok(_) => {}
        Err(e) => return unreadable(format!("cannot open the file: {e}")),
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
    // next one. The engine drops the chunks it already had of a file that comes
    // back unreadable.
    let read_file = std::panic::AssertUnwindSafe(|| match format.kind {
        FormatKind::Csv => csv::read(format, input, limits, &mut builder, &mut emit),
        FormatKind::Ndjson => ndjson::read(format, input, limits, &mut builder, &mut emit),
        FormatKind::Parquet => parquet::read(format, input, limits, &mut builder, &mut emit),
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
        let job = Job::from_toml(
            "name = \"t\"\n[format]\nkind = \"csv\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let issues = read(
            &job.format,
            Input::Bytes(b"house_bill\nH1\nH2\n"),
            0,
            1,
            &mut |_| panic!("boom"),
        )
        .unwrap();
        let reason = issues.unreadable.expect("F001");
        assert!(reason.contains("boom"), "{reason}");
        assert!(issues.malformed.is_empty());
    }

    fn unreadable_of(kind: &str, bytes: &[u8]) -> Option<String> {
        let toml = format!("name = \"t\"\n[format]\nkind = \"{kind}\"\n");
        let job = Job::from_toml(&toml, std::path::Path::new("t.toml")).unwrap();
        read(&job.format, Input::Bytes(bytes), 0, 8, &mut |_| Ok(()))
            .unwrap()
            .unreadable
    }

    #[test]
    fn a_nul_byte_in_a_text_manifest_makes_it_binary() {
        for kind in ["csv", "ndjson"] {
            assert_eq!(
                unreadable_of(kind, &[0; 100]).as_deref(),
                Some("the file is binary (NUL byte at offset 0)")
            );
            assert_eq!(
                unreadable_of(kind, b"house_bill\nH1\nH\x002\n").as_deref(),
                Some("the file is binary (NUL byte at offset 15)")
            );
        }
        // UTF-16 text is binary to a UTF-8 or windows-1252 reader.
        let utf16: Vec<u8> = "house_bill\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(
            unreadable_of("csv", &utf16)
                .unwrap()
                .contains("NUL byte at offset 1")
        );
    }

    #[test]
    fn a_control_byte_in_the_header_makes_it_binary_but_tab_and_crlf_do_not() {
        assert_eq!(
            unreadable_of("csv", b"\n\nhouse\x1b[31m_bill\nH1\n").as_deref(),
            Some("the file is binary (control byte 0x1B at offset 7)")
        );
        assert_eq!(
            unreadable_of("csv", b"house_bill\x7f\nH1\n").as_deref(),
            Some("the file is binary (control byte 0x7F at offset 10)")
        );
        assert_eq!(
            unreadable_of("csv", b"house_bill\tcarrier\r\nH1\tC\r\n"),
            None
        );
        // A control byte in a data line is not the header's: left to the rules.
        assert_eq!(unreadable_of("csv", b"house_bill\nH\x071\n"), None);
    }

    #[test]
    fn a_sparse_file_of_nuls_is_binary_without_being_read_whole() {
        let dir = std::env::temp_dir().join(format!("s321d-sparse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("zeros.csv");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        let job = Job::from_toml(
            "name = \"t\"\n[format]\nkind = \"csv\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let issues = read(&job.format, Input::Path(&path), 0, 8, &mut |_| Ok(())).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            issues.unreadable.as_deref(),
            Some("the file is binary (NUL byte at offset 0)")
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::job::Job;
    use std::path::Path;

    /// Reads `bytes` with a job written as TOML; returns the chunks joined and the issues.
    pub fn read_with(
        job_toml: &str,
        bytes: &[u8],
        chunk_rows: usize,
    ) -> (DataFrame, FileIssues, usize) {
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
        df.column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("<null>").to_owned())
            .collect()
    }

    pub fn records(df: &DataFrame) -> Vec<u32> {
        df.column(columns::RECORD)
            .unwrap()
            .u32()
            .unwrap()
            .into_no_null_iter()
            .collect()
    }
}
