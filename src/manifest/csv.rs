//! CSV manifests: any one-byte delimiter, RFC 4180 quoting (delimiters, doubled
//! quotes and newlines inside quotes), a UTF-8 BOM, CRLF or LF endings.
//!
//! A record whose field count differs from the header's, or that is not valid
//! UTF-8, is F003 and the rest still runs.
//!
//! A broken quote makes the parser swallow the lines after it into one record,
//! whatever its field count. The parser cannot tell that from a quoted field
//! that legitimately holds a line break, so a record that may span lines (or
//! ends exactly at the end of the file) is checked again by a strict scan of
//! its raw bytes: its quotes are broken when a quoted field runs past a line
//! end and then either never closes (it ran to the end of the file) or closes
//! in the middle of a field. Such a record is F003 once, and parsing restarts
//! on the line after the broken quote, so one stray quote costs one record, not
//! the rest of the file. A record whose quotes are sound is the parser's record,
//! line breaks and all, even when its field count is wrong. Only such records
//! are re-read: ordinary one-line records never are.

use std::io::{Cursor, Read, Seek, SeekFrom};

use csv::{ByteRecord, Position, Reader, ReaderBuilder};

use super::cp1252::Cp1252;
use super::{ChunkBuilder, ColumnSource, FileIssues, Input, Limits, MalformedRow, resolve_columns};
use crate::columns;
use crate::job::{Encoding, Format};

pub(super) fn read(
    format: &Format,
    input: Input<'_>,
    limits: &Limits,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    // Both encodings stream from the file: windows-1252 through a decoder
    // that can seek, for the quote scan and resync.
    let cannot = |e: std::io::Error| {
        Ok(FileIssues {
            unreadable: Some(format!("cannot read the file: {e}")),
            ..FileIssues::default()
        })
    };
    match (format.encoding, input) {
        (Encoding::Utf8, Input::Bytes(b)) => {
            read_from(format, Cursor::new(b), builder, emit, limits)
        }
        (Encoding::Utf8, Input::Path(p)) => match std::fs::File::open(p) {
            Ok(f) => read_from(format, f, builder, emit, limits),
            Err(e) => Ok(FileIssues {
                unreadable: Some(format!("cannot open the file: {e}")),
                ..FileIssues::default()
            }),
        },
        (Encoding::Windows1252, Input::Bytes(b)) => match Cp1252::new(Cursor::new(b)) {
            Ok(d) => read_from(format, d, builder, emit, limits),
            Err(e) => cannot(e),
        },
        (Encoding::Windows1252, Input::Path(p)) => match std::fs::File::open(p)
            .and_then(|f| Cp1252::new(std::io::BufReader::with_capacity(1 << 16, f)))
        {
            Ok(d) => read_from(format, d, builder, emit, limits),
            Err(e) => cannot(e),
        },
    }
}

fn read_from<R: Read + Seek>(
    format: &Format,
    mut source: R,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
    limits: &Limits,
) -> anyhow::Result<FileIssues> {
    let max_record = limits.max_record_bytes;
    let mut issues = FileIssues::default();
    // A record that ends exactly at the end of the file may have got there
    // inside an unclosed quote: it is one the scan must see.
    let len = match source
        .seek(SeekFrom::End(0))
        .and_then(|len| source.rewind().map(|()| len))
    {
        Ok(len) => len,
        Err(e) => {
            issues.unreadable = Some(format!("cannot read the file: {e}"));
            return Ok(issues);
        }
    };
    // The decoded length is known before a row is read: a file over the cap
    // is stopped before any of it reaches the rules.
    if len > limits.max_decoded_bytes {
        return Ok(limits.stopped(limits.too_much_text(), 0));
    }
    let mut rdr = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(format.delimiter)
        .buffer_capacity(1 << 20)
        .from_reader(Capped::new(source, max_record as u64));

    // The header: the first record that is not a blank line.
    let mut record = ByteRecord::new();
    let header: Vec<String> = loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) if is_blank(&record) => continue,
            Ok(true) => {
                let fields: Result<Vec<String>, _> = record
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let f = if i == 0 {
                            f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
                        } else {
                            f
                        };
                        std::str::from_utf8(f).map(|s| s.trim().to_owned())
                    })
                    .collect();
                match fields {
                    Ok(f) => break f,
                    Err(_) => {
                        issues.unreadable = Some(match format.encoding {
                            Encoding::Utf8 => "the header is not valid UTF-8 (is the file windows-1252, or not a CSV file?)".into(),
                            Encoding::Windows1252 => "the header is not valid text".into(),
                        });
                        return Ok(issues);
                    }
                }
            }
            Ok(false) => {
                issues.unreadable = Some("the file has no header row".into());
                return Ok(issues);
            }
            Err(e) => {
                issues.unreadable = Some(format!("cannot read the header: {e}"));
                return Ok(issues);
            }
        }
    };
    let header = super::inspect_header(header, &mut issues);
    let (sources, missing) = resolve_columns(format, &header);
    issues.missing_columns = missing;
    let width = header.len();

    loop {
        if !rdr.read_byte_record(&mut record)? {
            break;
        }
        if is_blank(&record) {
            continue;
        }
        issues.records += 1;
        if u64::from(issues.records) > limits.max_rows {
            return Ok(limits.stopped(limits.too_many_rows(), issues.records));
        }
        let record_no = issues.records;
        let start = record.position().cloned().unwrap_or_else(Position::new);
        let end = rdr.position().clone();
        if rdr.get_mut().cut_before(end.byte()) {
            issues.malformed.push(MalformedRow {
                record: record_no,
                message: super::too_long(max_record),
            });
            continue;
        }
        // Which records may hide a broken quote, at the cost of two integer
        // compares for an ordinary one. A record that consumed two or more line
        // ends may span lines (or merely follow a blank line, or be an LF line
        // after a CRLF one: the scan clears those). The parser counts LFs, and
        // leaves a CRLF's LF to the next record, so the one runaway this misses
        // is a CRLF record after an LF one that swallowed exactly one line and
        // then closed its quote mid-field. A record with the wrong field count
        // is rare, so its fields are searched for a line break instead.
        let suspect = end.byte() == len
            || if record.len() == width {
                end.line() >= start.line() + 2
            } else {
                record.as_slice().iter().any(|b| matches!(b, b'\n' | b'\r'))
            };
        if suspect {
            let scan = scan_quotes(
                &mut rdr.get_mut().inner,
                start.byte(),
                end.byte(),
                format.delimiter,
            )?;
            if let Some(broken) = scan {
                let field = header.get(broken.field).map_or_else(
                    || format!("field {}", broken.field + 1),
                    |h| format!("field {h:?}"),
                );
                issues.malformed.push(MalformedRow {
                    record: record_no,
                    message: match broken.kind {
                        Break::Unclosed => format!("has a broken quote: {field} opens a quote that is never closed"),
                        Break::ClosedMidField => format!(
                            "has a broken quote: {field} opens a quote that runs past the end of its line and closes in the middle of a field"
                        ),
                    },
                });
                if let Some(restart) = broken.restart.filter(|r| *r < end.byte()) {
                    resync(&mut rdr, restart, &start)?;
                }
                continue;
            }
        }
        if record.len() != width {
            issues.malformed.push(MalformedRow {
                record: record_no,
                message: format!("has {} fields, the header has {width}", record.len()),
            });
            continue;
        }
        // Fields end at ASCII delimiters, so one check of the whole record
        // validates every field.
        let all = match std::str::from_utf8(record.as_slice()) {
            Ok(all) => all,
            Err(_) => {
                let bad = (0..record.len())
                    .find(|i| std::str::from_utf8(&record[*i]).is_err())
                    .unwrap_or(0);
                issues.malformed.push(MalformedRow {
                    record: record_no,
                    message: format!(
                        "field {:?} is not valid UTF-8 (is the file windows-1252?)",
                        header[bad]
                    ),
                });
                continue;
            }
        };
        let mut values: [&str; columns::N_CANONICAL] = [""; columns::N_CANONICAL];
        for (v, source) in values.iter_mut().zip(&sources) {
            *v = match source {
                ColumnSource::Field(i) => record.range(*i).map_or("", |r| &all[r]),
                ColumnSource::Constant(c) => c.as_str(),
                ColumnSource::Absent => "",
            };
        }
        if let Some(bad) = super::nul_byte(&values, record_no) {
            issues.malformed.push(bad);
            continue;
        }
        builder.push(record_no, &values);
        if builder.is_full() {
            emit(builder)?;
        }
    }
    Ok(issues)
}

/// The file's bytes as the parser sees them, with every record capped at `cap`
/// bytes: past the cap, the rest of the record (to its line end outside
/// quotes) reaches the parser as CRs, after a quote that closes an open quoted
/// field, so the parser ends the record there and holds none of the rest; a CR
/// alone is a blank line to it. Offsets stay those of the file, so positions,
/// the quote scan and resync work unchanged. Where each cut began is kept, for
/// [`Capped::cut_before`] to name the record F003.
struct Capped<R> {
    inner: R,
    cap: u64,
    /// Bytes of the current record so far.
    in_record: u64,
    /// Inside a quoted field, by quote parity (RFC 4180's `""` toggles twice).
    quoted: bool,
    /// Cutting the current record; `Some(true)` until the closing quote is out.
    cutting: Option<bool>,
    /// Offsets where cuts began, oldest first.
    cuts: std::collections::VecDeque<u64>,
    pos: u64,
}

impl<R> Capped<R> {
    fn new(inner: R, cap: u64) -> Capped<R> {
        Capped {
            inner,
            cap,
            in_record: 0,
            quoted: false,
            cutting: None,
            cuts: Default::default(),
            pos: 0,
        }
    }

    /// Whether a cut began before `end` (the end of the record just read),
    /// forgetting it: that record is the one over the cap.
    fn cut_before(&mut self, end: u64) -> bool {
        let mut cut = false;
        while self.cuts.front().is_some_and(|&at| at < end) {
            self.cuts.pop_front();
            cut = true;
        }
        cut
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for b in &mut buf[..n] {
            let raw = *b;
            let was_quoted = self.quoted;
            if raw == b'"' {
                self.quoted = !self.quoted;
            }
            if raw == b'\n' && !was_quoted {
                self.in_record = 0;
                self.cutting = None;
            } else {
                self.in_record += 1;
                if self.cutting.is_none() && self.in_record > self.cap {
                    self.cuts.push_back(self.pos);
                    self.cutting = Some(was_quoted);
                }
                match self.cutting {
                    Some(true) => {
                        *b = b'"';
                        self.cutting = Some(false);
                    }
                    Some(false) => *b = b'\r',
                    None => {}
                }
            }
            self.pos += 1;
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Capped<R> {
    /// Only to a record's start (the parser's resync, the length probe).
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        self.in_record = 0;
        self.quoted = false;
        self.cutting = None;
        self.cuts.retain(|&at| at < self.pos);
        Ok(self.pos)
    }
}

/// How a record's quotes are broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    /// A quoted field that runs past a line end and never closes: the parser
    /// took everything up to the end of the file into it.
    Unclosed,
    /// A quoted field that runs past a line end and then "closes" with a quote
    /// followed by neither a delimiter nor a line end: the quote was stray, and
    /// a later field's opening quote closed it.
    ClosedMidField,
}

/// A broken quote found by [`scan_quotes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Broken {
    kind: Break,
    /// 0-based field where the broken quote opens.
    field: usize,
    /// Byte offset just after the first line end inside the broken quote:
    /// where the records it swallowed begin. `None` if it has none.
    restart: Option<u64>,
}

/// Scans the raw bytes `from..to` of one record, as the parser delimited it,
/// with strict RFC 4180 quoting: `None` if its quotes are sound.
///
/// The CSV reader buffers ahead, so the bytes are read from the underlying
/// stream directly, and the stream is put back where the buffer left it.
fn scan_quotes<R: Read + Seek>(
    inner: &mut R,
    from: u64,
    to: u64,
    delimiter: u8,
) -> std::io::Result<Option<Broken>> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        /// Line ends before the record (a CRLF's LF, blank lines): the parser skips them.
        Lead,
        FieldStart,
        Unquoted,
        Quoted,
        /// A quote inside a quoted field: an escaped quote or the closing one.
        QuoteInQuoted,
        /// The record's own line end.
        Done,
    }
    let resume = inner.stream_position()?;
    inner.seek(SeekFrom::Start(from))?;
    let mut state = State::Lead;
    let mut field = 0usize;
    let mut open_field = 0usize;
    // Just after the first line end inside the current quoted field.
    let mut restart: Option<u64> = None;
    let mut broken = None;
    let mut pos = from;
    let mut buf = [0u8; 8192];
    'scan: while pos < to {
        let want = usize::try_from(to - pos).map_or(buf.len(), |n| n.min(buf.len()));
        let n = inner.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            pos += 1;
            let line_end = b == b'\n' || b == b'\r';
            state = match state {
                State::Lead if line_end => State::Lead,
                State::Lead | State::FieldStart if b == b'"' => {
                    open_field = field;
                    restart = None;
                    State::Quoted
                }
                State::Lead | State::FieldStart | State::Unquoted if b == delimiter => {
                    field += 1;
                    State::FieldStart
                }
                State::Lead | State::FieldStart | State::Unquoted if line_end => State::Done,
                State::Lead | State::FieldStart | State::Unquoted => State::Unquoted,
                State::Quoted if b == b'"' => State::QuoteInQuoted,
                State::Quoted => {
                    // After a CR, a LF is part of the same line end.
                    if (b == b'\n' && restart == Some(pos - 1)) || (line_end && restart.is_none()) {
                        restart = Some(pos);
                    }
                    State::Quoted
                }
                State::QuoteInQuoted if b == b'"' => State::Quoted,
                State::QuoteInQuoted if b == delimiter => {
                    field += 1;
                    State::FieldStart
                }
                State::QuoteInQuoted if line_end => State::Done,
                // Text after a closing quote: harmless on one line (the parser
                // keeps it), a swallowed record when the quote spanned lines.
                State::QuoteInQuoted if restart.is_some() => {
                    broken = Some(Broken {
                        kind: Break::ClosedMidField,
                        field: open_field,
                        restart,
                    });
                    break 'scan;
                }
                State::QuoteInQuoted => State::Unquoted,
                State::Done => break 'scan,
            };
            if state == State::Done {
                break 'scan;
            }
        }
    }
    // The parser only ends a record inside quotes at the end of the file.
    if broken.is_none() && state == State::Quoted {
        broken = Some(Broken {
            kind: Break::Unclosed,
            field: open_field,
            restart,
        });
    }
    inner.seek(SeekFrom::Start(resume))?;
    Ok(broken)
}

/// Restarts parsing at byte `offset`: the line after a broken quote.
fn resync<R: Read + Seek>(rdr: &mut Reader<R>, offset: u64, start: &Position) -> csv::Result<()> {
    let mut pos = Position::new();
    // Line numbers only serve to compare a record's start and end.
    pos.set_byte(offset)
        .set_line(start.line() + 1)
        .set_record(start.record() + 1);
    rdr.seek_raw(SeekFrom::Start(offset), pos)
}

/// A blank line: no fields, or one empty field.
fn is_blank(record: &ByteRecord) -> bool {
    record.is_empty()
        || record.len() == 1 && record[0].iter().all(|b| matches!(b, b'\r' | b' ' | b'\t'))
}

#[cfg(test)]
mod tests {
    use crate::manifest::test_support::{read_with, records, strings};

    const JOB: &str = "name = \"t\"\n[format]\nkind = \"csv\"\n";

    #[test]
    fn reads_quotes_bom_crlf_and_embedded_newlines() {
        let data = "\u{feff}house_bill,description,declared_value\r\n\
                    HB1,\"Shirt, cotton\",10\r\n\
                    HB2,\"He said \"\"hi\"\"\",20\r\n\
                    HB3,\"two\r\nlines\",30\r\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(issues.malformed, vec![]);
        assert_eq!(strings(&df, "house_bill"), ["HB1", "HB2", "HB3"]);
        assert_eq!(
            strings(&df, "description"),
            ["Shirt, cotton", "He said \"hi\"", "two\r\nlines"]
        );
        assert_eq!(records(&df), [1, 2, 3]);
        // Unmapped canonical columns not in the file are empty, never null.
        assert_eq!(strings(&df, "seller_name"), ["", "", ""]);
    }

    #[test]
    fn wrong_field_counts_are_f003_and_the_rest_runs() {
        let data = "house_bill,description\nHB1,a\nHB2,b,extra\nHB3\nHB4,d\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(issues.records, 4);
        let bad: Vec<u32> = issues.malformed.iter().map(|m| m.record).collect();
        assert_eq!(bad, [2, 3]);
        assert_eq!(strings(&df, "house_bill"), ["HB1", "HB4"]);
        assert_eq!(records(&df), [1, 4]);
    }

    #[test]
    fn an_unclosed_quote_costs_one_record() {
        // The stray quote runs to the end of the file: one 2-field record.
        let data = "house_bill,description,value\nHB1,a,1\nHB2,\"broken,2\nHB3,c,3\nHB4,d,4\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(strings(&df, "house_bill"), ["HB1", "HB3", "HB4"]);
        assert_eq!(records(&df), [1, 3, 4]);
    }

    #[test]
    fn an_unclosed_quote_in_the_last_column_costs_one_record() {
        // The parser takes the rest of the file into the last field, so the
        // record has the header's field count: only the quote scan sees it.
        for end in ["\n", ""] {
            let data =
                format!("house_bill,description,value\nHB1,a,1\nHB2,b,\"2\nHB3,c,3\nHB4,d,4{end}");
            let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
            assert_eq!(
                issues
                    .malformed
                    .iter()
                    .map(|m| m.record)
                    .collect::<Vec<_>>(),
                [2],
                "{end:?}"
            );
            assert!(
                issues.malformed[0]
                    .message
                    .contains("\"value\" opens a quote that is never closed"),
                "{:?}",
                issues.malformed
            );
            assert_eq!(strings(&df, "house_bill"), ["HB1", "HB3", "HB4"]);
            assert_eq!(records(&df), [1, 3, 4]);
            assert_eq!(issues.records, 4);
        }
        // The last line alone, unclosed: F003, nothing after it to recover.
        let (df, issues, _) =
            read_with(JOB, b"house_bill,description,value\nHB1,a,1\nHB2,b,\"2", 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(strings(&df, "house_bill"), ["HB1"]);
    }

    #[test]
    fn an_unclosed_quote_in_a_crlf_file_costs_one_record() {
        let data = "house_bill,description,declared_value\r\nHB1,a,1\r\nHB2,\"broken,2\r\nHB3,c,3\r\nHB4,d,4\r\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(strings(&df, "house_bill"), ["HB1", "HB3", "HB4"]);
        assert_eq!(strings(&df, "declared_value"), ["1", "3", "4"]);
        assert_eq!(records(&df), [1, 3, 4]);
    }

    #[test]
    fn a_stray_quote_closed_by_a_later_fields_quote_costs_one_record() {
        // HB2's stray quote is "closed" by HB3's opening one: a record with the
        // right field count that swallowed HB3.
        let data = "house_bill,description,value\nHB1,a,1\nHB2,\"broken,2\nHB3,\"c\",3\nHB4,d,4\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2]
        );
        assert!(
            issues.malformed[0]
                .message
                .contains("\"description\" opens a quote that runs past the end of its line")
        );
        assert_eq!(strings(&df, "house_bill"), ["HB1", "HB3", "HB4"]);
        assert_eq!(strings(&df, "description"), ["a", "c", "d"]);
        assert_eq!(records(&df), [1, 3, 4]);
    }

    #[test]
    fn a_quoted_line_break_in_a_row_with_the_wrong_field_count_is_one_record() {
        // The quotes are sound: the parser's record stands, and nothing inside
        // it is read again as a row of its own.
        let data = "house_bill,description,declared_value\nA,\"xx\nx\",1,9\nC,ddd,1\nD,eee,2\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [1]
        );
        assert!(
            issues.malformed[0].message.contains("has 4 fields"),
            "{:?}",
            issues.malformed
        );
        assert_eq!(strings(&df, "house_bill"), ["C", "D"]);
        assert_eq!(records(&df), [2, 3]);
        let data =
            "house_bill,description,declared_value\nA,a,1\nB,\"two\r\nlines\",2,extra\r\nC,c,x\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(strings(&df, "house_bill"), ["A", "C"]);
        assert_eq!(records(&df), [1, 3]);
    }

    #[test]
    fn mixed_line_endings_report_a_bad_row_once() {
        let data = b"house_bill,description,declared_value\nA,xxx,1\r\nB,y\nC,ddd,1\nD,eee,2\n";
        let (df, issues, _) = read_with(JOB, data, 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(strings(&df, "house_bill"), ["A", "C", "D"]);
        assert_eq!(records(&df), [1, 3, 4]);
        // Quoted line breaks and blank lines in a mixed file are still just that.
        let data =
            b"house_bill,description,declared_value\r\nA,\"x\ny\",1\n\nB,\"z\r\nw\",2\r\n\r\nC,c,3";
        let (df, issues, _) = read_with(JOB, data, 10);
        assert!(issues.malformed.is_empty(), "{:?}", issues.malformed);
        assert_eq!(strings(&df, "description"), ["x\ny", "z\r\nw", "c"]);
        assert_eq!(records(&df), [1, 2, 3]);
    }

    fn read_limited(
        job: &str,
        data: &[u8],
        limits: crate::manifest::Limits,
    ) -> (usize, crate::manifest::FileIssues) {
        let job = crate::job::Job::from_toml(job, std::path::Path::new("t.toml")).unwrap();
        let mut rows = 0;
        let issues = crate::manifest::read_limited(
            &job.format,
            crate::manifest::Input::Bytes(data),
            0,
            2,
            &limits,
            &mut |df| {
                rows += df.height();
                Ok(())
            },
        )
        .unwrap();
        (rows, issues)
    }

    #[test]
    fn a_file_over_the_row_or_text_cap_is_unreadable_and_stops_there() {
        let data = "house_bill\nH1\nH2\nH3\nH4\nH5\n";
        let rows = |n| crate::manifest::Limits {
            max_rows: n,
            ..Default::default()
        };
        for kind in ["", "encoding = \"windows-1252\"\n"] {
            let job = format!("{JOB}{kind}");
            let (sent, issues) = read_limited(&job, data.as_bytes(), rows(3));
            assert_eq!(
                issues.unreadable.as_deref(),
                Some("has more than 3 records (limits.max_rows_per_file = 3)")
            );
            assert!(sent <= 2, "reading stops at the cap: {sent} rows went out");
            assert_eq!(issues.records, 4);
            let (sent, issues) = read_limited(&job, data.as_bytes(), rows(5));
            assert_eq!((sent, issues.unreadable), (5, None));
        }
        // Decoded text: the UTF-8 file is its own length; windows-1252 grows (é is 2 bytes).
        let text = |n| crate::manifest::Limits {
            max_decoded_bytes: n,
            ..Default::default()
        };
        let (sent, issues) = read_limited(JOB, data.as_bytes(), text(data.len() as u64 - 1));
        assert_eq!(sent, 0);
        assert_eq!(
            issues.unreadable.as_deref(),
            Some(&*format!(
                "has more than {0} bytes of text (limits.max_decoded_bytes_per_file = {0})",
                data.len() - 1
            ))
        );
        assert!(
            read_limited(JOB, data.as_bytes(), text(data.len() as u64))
                .1
                .unreadable
                .is_none()
        );
        let job = format!("{JOB}encoding = \"windows-1252\"\n");
        let latin = b"consignee_name\nJos\xe9\n";
        assert!(
            read_limited(&job, latin, text(latin.len() as u64))
                .1
                .unreadable
                .is_some()
        );
        assert!(
            read_limited(&job, latin, text(latin.len() as u64 + 1))
                .1
                .unreadable
                .is_none()
        );
    }

    #[test]
    fn a_repeated_header_name_keeps_the_first_and_says_so() {
        let (df, issues, _) = read_with(JOB, b"house_bill,description,House_Bill \nH1,a,H9\n", 10);
        assert_eq!(strings(&df, "house_bill"), ["H1"]);
        assert_eq!(issues.duplicated_columns.len(), 1);
        assert_eq!(issues.duplicated_columns[0].field, "house_bill");
        assert_eq!(
            issues.duplicated_columns[0].message,
            "column \"house_bill\" appears twice in the header (columns 1 and 3): the first (column 1) is read"
        );
        let (_, issues, _) = read_with(JOB, b"house_bill,description\nH1,a\n", 10);
        assert_eq!(issues.duplicated_columns, vec![]);
    }

    #[test]
    fn a_bom_inside_the_header_is_f002_naming_the_header_and_the_column_is_read() {
        let data = "carrier,\u{feff}house_bill,description\nDHLX,H1,a\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(strings(&df, "house_bill"), ["H1"]);
        assert_eq!(issues.marked_columns.len(), 1, "{issues:?}");
        assert_eq!(issues.marked_columns[0].field, "house_bill");
        assert!(
            issues.marked_columns[0].message.starts_with(
                "column \"\\u{feff}house_bill\" (column 2) has a byte order mark (U+FEFF)"
            ),
            "{}",
            issues.marked_columns[0].message
        );
        // The file's own BOM, at the very start, is no finding.
        let (_, issues, _) = read_with(JOB, "\u{feff}carrier,house_bill\nDHLX,H1\n".as_bytes(), 10);
        assert_eq!(issues.marked_columns, vec![]);
    }

    #[test]
    fn windows_1252_streams_through_the_quote_scan_and_resync() {
        // A broken quote after non-ASCII text: the scan and resync seek in the
        // decoded stream, where offsets differ from the file's.
        let job = format!("{JOB}encoding = \"windows-1252\"\n");
        let data = b"house_bill,description,value\nH\xe91,caf\xe9,1\nH2,\"bro\xefken,2\nH3,\xfc,3\nH4,d,4\n";
        let (df, issues, _) = read_with(&job, data, 2);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(strings(&df, "house_bill"), ["Hé1", "H3", "H4"]);
        assert_eq!(strings(&df, "description"), ["café", "ü", "d"]);
    }

    #[test]
    fn blank_lines_are_not_records() {
        let data = "house_bill\n\nHB1\n\n\nHB2\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(issues.records, 2);
        assert_eq!(records(&df), [1, 2]);
    }

    #[test]
    fn mapping_constants_and_missing_columns() {
        let job = "name = \"t\"\n[format]\nkind = \"csv\"\ndelimiter = \";\"\n\
                   [format.columns]\nhouse_bill = \"HAWB\"\nconsignee_name = \"Consignee Name\"\nhts_code = \"Tariff\"\n\
                   [format.constants]\ncarrier = \"PCLX\"\n";
        let data = "HAWB; consignee name ;description\nH1;Ann;x\n";
        let (df, issues, _) = read_with(job, data.as_bytes(), 10);
        assert_eq!(strings(&df, "carrier"), ["PCLX"]);
        assert_eq!(
            strings(&df, "consignee_name"),
            ["Ann"],
            "header match is trimmed and case-insensitive"
        );
        assert_eq!(
            strings(&df, "description"),
            ["x"],
            "unmapped columns are read by their own name"
        );
        assert_eq!(issues.missing_columns.len(), 1);
        assert_eq!(issues.missing_columns[0].canonical, "hts_code");
        assert_eq!(issues.missing_columns[0].source, "Tariff");
    }

    #[test]
    fn windows_1252_is_decoded_and_bad_utf8_is_f003() {
        let job = "name = \"t\"\n[format]\nkind = \"csv\"\nencoding = \"windows-1252\"\n";
        let data = b"consignee_name\nJos\xe9 M\xfcller\n";
        let (df, issues, _) = read_with(job, data, 10);
        assert!(issues.malformed.is_empty());
        assert_eq!(strings(&df, "consignee_name"), ["José Müller"]);
        let (df, issues, _) = read_with(JOB, b"consignee_name\nJos\xe9\nAnn\n", 10);
        assert_eq!(issues.malformed.len(), 1);
        assert_eq!(issues.malformed[0].record, 1);
        assert_eq!(strings(&df, "consignee_name"), ["Ann"]);
    }

    #[test]
    fn empty_and_headerless_files_are_unreadable() {
        let (_, issues, _) = read_with(JOB, b"", 10);
        assert!(issues.unreadable.is_some());
        let (_, issues, _) = read_with(JOB, b"\n\n", 10);
        assert!(issues.unreadable.is_some());
        let (_, issues, _) = read_with(JOB, b"\xff\xfe\x00binary\n", 10);
        assert!(issues.unreadable.is_some());
    }

    #[test]
    fn chunks_split_at_the_configured_size() {
        let mut data = String::from("house_bill\n");
        for i in 0..25 {
            data.push_str(&format!("HB{i}\n"));
        }
        let (df, _, chunks) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(chunks, 3);
        assert_eq!(df.height(), 25);
        assert_eq!(records(&df), (1..=25).collect::<Vec<_>>());
    }

    #[test]
    fn identical_rows_hash_alike_and_different_rows_do_not() {
        let data = "house_bill,description\nHB1,a\nHB1,a\nHB1,b\n";
        let (df, _, _) = read_with(JOB, data.as_bytes(), 10);
        let hi: Vec<u64> = df
            .column("row_hash_hi")
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let lo: Vec<u64> = df
            .column("row_hash_lo")
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!((hi[0], lo[0]), (hi[1], lo[1]));
        assert_ne!((hi[0], lo[0]), (hi[2], lo[2]));
    }

    #[test]
    fn a_record_over_the_cap_is_f003_and_the_records_after_it_run() {
        use crate::manifest::{ChunkBuilder, MalformedRow};
        let long = "x".repeat(100);
        let data = format!(
            "house_bill,description\nH1,a\nH2,{long}\nH3,b\nH4,\"{long}\nstill \"\"quoted\"\" {long}\"\r\nH5,\"c\nd\"\nH6,{long}"
        );
        let f003 = |record| MalformedRow {
            record,
            message: "is longer than 64 bytes".into(),
        };
        for kind in ["", "encoding = \"windows-1252\"\n"] {
            let job = crate::job::Job::from_toml(
                &format!("name = \"t\"\n[format]\nkind = \"csv\"\n{kind}"),
                std::path::Path::new("t.toml"),
            )
            .unwrap();
            let mut builder = ChunkBuilder::new(0, 10);
            let limits = crate::manifest::Limits {
                max_record_bytes: 64,
                ..Default::default()
            };
            let issues = if kind.is_empty() {
                super::read_from(
                    &job.format,
                    std::io::Cursor::new(data.clone()),
                    &mut builder,
                    &mut |_| Ok(()),
                    &limits,
                )
            } else {
                let bytes = encoding_rs::WINDOWS_1252.encode(&data).0.into_owned();
                super::read_from(
                    &job.format,
                    super::Cp1252::new(std::io::Cursor::new(bytes)).unwrap(),
                    &mut builder,
                    &mut |_| Ok(()),
                    &limits,
                )
            }
            .unwrap();
            assert_eq!(issues.malformed, [f003(2), f003(4), f003(6)]);
            assert_eq!(issues.records, 6);
            let df = builder.take();
            assert_eq!(strings(&df, "house_bill"), ["H1", "H3", "H5"]);
            assert_eq!(strings(&df, "description"), ["a", "b", "c\nd"]);
            assert_eq!(records(&df), [1, 3, 5]);
        }
        // The public reader uses MAX_RECORD_BYTES: these records are far under it.
        let (_, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(issues.malformed, vec![]);
    }
}
