//! NDJSON manifests: one JSON object per line; blank lines are not records.
//!
//! Values keep their exact text: a JSON number `12.50` reads as `"12.50"`, never
//! through a float. A line that is not a JSON object is F003; a mapped key that
//! no record carries is F002; a file in which no line is a JSON object is F001.

use polars::prelude::PlHashMap;
use serde_json::value::RawValue;

use std::io::{BufRead, BufReader, Cursor};

use super::{ChunkBuilder, ColumnSource, FileIssues, Input, MalformedRow, columns, decode_1252, resolve_columns};
use crate::job::{Encoding, Format};
use crate::manifest::columns::CANONICAL;

/// The text a raw JSON value contributes to a canonical column.
fn value_text(raw: &RawValue) -> Result<std::borrow::Cow<'_, str>, serde_json::Error> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).map(std::borrow::Cow::Owned),
        _ if text == "null" => Ok("".into()),
        // Numbers and booleans keep their literal text; objects and arrays too.
        _ => Ok(text.into()),
    }
}

pub(super) fn read(
    format: &Format,
    input: Input<'_>,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    match input {
        Input::Bytes(b) => read_from(format, Cursor::new(b), builder, emit),
        Input::Path(p) => match std::fs::File::open(p) {
            Ok(f) => read_from(format, BufReader::with_capacity(1 << 20, f), builder, emit),
            Err(e) => Ok(FileIssues { unreadable: Some(format!("cannot open the file: {e}")), ..FileIssues::default() }),
        },
    }
}

fn read_from<R: BufRead>(
    format: &Format,
    mut source: R,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    let mut issues = FileIssues::default();

    // Which key feeds each canonical column: mapped name, else the column's own.
    let (sources, _) = resolve_columns(format, &[]);
    let wanted: Vec<Option<String>> = CANONICAL
        .iter()
        .zip(&sources)
        .map(|(canonical, source)| match source {
            ColumnSource::Constant(_) => None,
            _ => Some(format.columns.get(*canonical).cloned().unwrap_or_else(|| (*canonical).to_owned())),
        })
        .collect();
    let mut seen = vec![false; CANONICAL.len()];
    let mut parsed_any = false;

    let mut raw_line = Vec::with_capacity(4096);
    let mut first = true;
    loop {
        raw_line.clear();
        if source.read_until(b'\n', &mut raw_line)? == 0 {
            break;
        }
        let mut line: &[u8] = &raw_line;
        if first {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            first = false;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let decoded;
        let line: &[u8] = if format.encoding == Encoding::Windows1252 {
            decoded = decode_1252(line);
            &decoded
        } else {
            line
        };
        let mut owned: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(CANONICAL.len());
        issues.records += 1;
        let record = issues.records;
        // Keys borrow from the line unless they hold escapes (rare): then own them.
        let object: Object<'_> = match serde_json::from_slice::<PlHashMap<&str, &RawValue>>(line) {
            Ok(o) => Object::Borrowed(o),
            Err(_) => match serde_json::from_slice::<PlHashMap<String, &RawValue>>(line) {
                Ok(o) => Object::Owned(o),
                Err(e) => {
                    issues.malformed.push(MalformedRow { record, message: format!("is not a JSON object: {e}") });
                    continue;
                }
            },
        };
        parsed_any = true;
        let mut failed = None;
        for (i, key) in wanted.iter().enumerate() {
            let value = key.as_ref().and_then(|k| lookup(&object, k));
            match value {
                Some(v) => {
                    seen[i] = true;
                    match value_text(v) {
                        Ok(t) => owned.push(t),
                        Err(e) => {
                            failed = Some(format!("value of {:?} is not valid JSON: {e}", key.as_deref().unwrap_or("")));
                            break;
                        }
                    }
                }
                None => owned.push(match &sources[i] {
                    ColumnSource::Constant(c) => c.as_str().into(),
                    _ => "".into(),
                }),
            }
        }
        if let Some(message) = failed {
            issues.malformed.push(MalformedRow { record, message });
            continue;
        }
        let values: [&str; columns::N_CANONICAL] = std::array::from_fn(|i| owned[i].as_ref());
        builder.push(record, &values);
        if builder.is_full() {
            emit(builder)?;
        }
    }
    if !parsed_any {
        // Not an NDJSON file at all: F001 alone, not F001 and an F003 a line.
        return Ok(FileIssues {
            unreadable: Some("no line of the file is a JSON object".into()),
            records: issues.records,
            ..FileIssues::default()
        });
    }
    for (canonical, source) in &format.columns {
        let i = CANONICAL.iter().position(|c| c == canonical).expect("job columns are canonical");
        if !seen[i] {
            issues.missing_columns.push(super::MissingColumn { canonical: canonical.clone(), source: source.clone() });
        }
    }
    Ok(issues)
}

/// One parsed line.
enum Object<'a> {
    Borrowed(PlHashMap<&'a str, &'a RawValue>),
    Owned(PlHashMap<String, &'a RawValue>),
}

/// Exact key first, then trimmed and case-insensitive (as for CSV headers).
fn lookup<'a>(object: &Object<'a>, key: &str) -> Option<&'a RawValue> {
    let loose = |name: &str| name.trim().to_lowercase() == key.trim().to_lowercase();
    match object {
        Object::Borrowed(o) => o.get(key).copied().or_else(|| o.iter().find(|(n, _)| loose(n)).map(|(_, v)| *v)),
        Object::Owned(o) => o.get(key).copied().or_else(|| o.iter().find(|(n, _)| loose(n)).map(|(_, v)| *v)),
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::test_support::{read_with, records, strings};

    const JOB: &str = "name = \"t\"\n[format]\nkind = \"ndjson\"\n[format.columns]\nhouse_bill = \"tracking\"\n[format.constants]\ncarrier = \"NDJX\"\n";

    #[test]
    fn reads_objects_with_exact_number_text() {
        let data = "{\"tracking\": \"T1\", \"declared_value\": 12.50, \"line_no\": 1, \"description\": \"a \\\"b\\\"\"}\n\
                    \n\
                    {\"tracking\": \"T2\", \"declared_value\": \"$1,234.50\", \"currency\": null}\r\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert!(issues.malformed.is_empty() && issues.missing_columns.is_empty());
        assert_eq!(strings(&df, "house_bill"), ["T1", "T2"]);
        assert_eq!(strings(&df, "declared_value"), ["12.50", "$1,234.50"]);
        assert_eq!(strings(&df, "line_no"), ["1", ""]);
        assert_eq!(strings(&df, "description"), ["a \"b\"", ""]);
        assert_eq!(strings(&df, "carrier"), ["NDJX", "NDJX"]);
        assert_eq!(records(&df), [1, 2]);
    }

    #[test]
    fn bad_lines_are_f003_and_missing_keys_f002() {
        let data = "{\"tracking\": \"T1\"}\n{not json\n[1,2]\n{\"tracking\": \"T4\"}\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(issues.malformed.iter().map(|m| m.record).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(records(&df), [1, 4]);
        let job = "name = \"t\"\n[format]\nkind = \"ndjson\"\n[format.columns]\nhts_code = \"hs\"\n";
        let (_, issues, _) = read_with(job, b"{\"a\": 1}\n", 10);
        assert_eq!(issues.missing_columns.len(), 1);
        assert_eq!(issues.missing_columns[0].canonical, "hts_code");
    }

    #[test]
    fn a_file_with_no_json_object_is_unreadable() {
        let (_, issues, _) = read_with(JOB, b"PK\x03\x04 this is a zip\nmore\n", 10);
        assert!(issues.unreadable.is_some());
        // JSON, but no object: F001 only, no F003 per line.
        let (_, issues, _) = read_with(JOB, b"[1]\n\"x\"\n", 10);
        assert!(issues.unreadable.is_some());
        assert_eq!(issues.malformed, vec![]);
    }
}
