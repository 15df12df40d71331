//! NDJSON manifests: one JSON object per line; blank lines are not records.
//!
//! Values keep their exact text: a JSON number `12.50` reads as `"12.50"`, never
//! through a float. A line that is not a JSON object is F003; a mapped key that
//! no record carries is F002; a file in which no line is a JSON object is F001.

use polars::prelude::PlHashMap;
use serde_json::value::RawValue;

use std::io::{BufRead, BufReader, Cursor};

use super::{
    ChunkBuilder, ColumnSource, FileIssues, Input, Limits, MalformedRow, columns, decode_1252,
    resolve_columns,
};
use crate::columns::CANONICAL;
use crate::job::{Encoding, Format};

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
    limits: &Limits,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<FileIssues> {
    match input {
        Input::Bytes(b) => read_from(format, Cursor::new(b), builder, emit, limits),
        Input::Path(p) => match std::fs::File::open(p) {
            Ok(f) => read_from(
                format,
                BufReader::with_capacity(1 << 20, f),
                builder,
                emit,
                limits,
            ),
            Err(e) => Ok(FileIssues {
                unreadable: Some(format!("cannot open the file: {e}")),
                ..FileIssues::default()
            }),
        },
    }
}

fn read_from<R: BufRead>(
    format: &Format,
    mut source: R,
    builder: &mut ChunkBuilder,
    emit: &mut dyn FnMut(&mut ChunkBuilder) -> anyhow::Result<()>,
    limits: &Limits,
) -> anyhow::Result<FileIssues> {
    let max_record = limits.max_record_bytes;
    let mut issues = FileIssues::default();
    // Decoded bytes so far: a UTF-8 line is its own text; a windows-1252 one grows.
    let mut decoded_bytes = 0u64;

    // Which key feeds each canonical column: mapped name, else the column's own.
    let (sources, _) = resolve_columns(format, &[]);
    let wanted: Vec<Option<String>> = CANONICAL
        .iter()
        .zip(&sources)
        .map(|(canonical, source)| match source {
            ColumnSource::Constant(_) => None,
            _ => Some(
                format
                    .columns
                    .get(*canonical)
                    .cloned()
                    .unwrap_or_else(|| (*canonical).to_owned()),
            ),
        })
        .collect();
    let mut seen = vec![false; CANONICAL.len()];
    let mut parsed_any = false;

    let mut raw_line = Vec::with_capacity(4096);
    let mut first = true;
    loop {
        raw_line.clear();
        let (taken, too_long) = super::read_line_capped(&mut source, &mut raw_line, max_record)?;
        if taken == 0 {
            break;
        }
        decoded_bytes += taken as u64;
        if decoded_bytes > limits.max_decoded_bytes {
            return Ok(limits.stopped(limits.too_much_text(), issues.records));
        }
        if too_long {
            // A record, whatever it holds: F003, and the next line runs.
            first = false;
            issues.records += 1;
            if u64::from(issues.records) > limits.max_rows {
                return Ok(limits.stopped(limits.too_many_rows(), issues.records));
            }
            issues.malformed.push(MalformedRow {
                record: issues.records,
                message: super::too_long(max_record),
            });
            continue;
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
            decoded_bytes += (decoded.len() - line.len()) as u64;
            if decoded_bytes > limits.max_decoded_bytes {
                return Ok(limits.stopped(limits.too_much_text(), issues.records));
            }
            &decoded
        } else {
            line
        };
        let mut owned: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(CANONICAL.len());
        issues.records += 1;
        if u64::from(issues.records) > limits.max_rows {
            return Ok(limits.stopped(limits.too_many_rows(), issues.records));
        }
        let record = issues.records;
        // Keys borrow from the line unless they hold escapes (rare): then own them.
        let mut note_repeat = |key: &str, first: u32, again: u32| {
            if issues.duplicated_columns.len() < super::MAX_COLUMN_NOTES
                && !issues.duplicated_columns.iter().any(|n| n.field == key)
            {
                issues.duplicated_columns.push(super::ColumnNote {
                    field: key.to_owned(),
                    message: format!(
                        "key {} appears twice in record {record} (keys {first} and {again} of the object): the first is read",
                        super::escaped(key)
                    ),
                });
            }
        };
        let object: Object<'_> = match serde_json::from_slice::<FirstWins<&str>>(line) {
            Ok(o) => {
                if let Some((k, first, again)) = o.1 {
                    note_repeat(k, first, again);
                }
                Object::Borrowed(o.0)
            }
            Err(_) => match serde_json::from_slice::<FirstWins<String>>(line) {
                Ok(o) => {
                    if let Some((k, first, again)) = &o.1 {
                        note_repeat(k, *first, *again);
                    }
                    Object::Owned(o.0)
                }
                Err(e) => {
                    issues.malformed.push(MalformedRow {
                        record,
                        message: format!("is not a JSON object: {e}"),
                    });
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
                            failed = Some(format!(
                                "value of {:?} is not valid JSON: {e}",
                                key.as_deref().unwrap_or("")
                            ));
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
        if let Some(bad) = super::nul_byte(&values, record) {
            issues.malformed.push(bad);
            continue;
        }
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
        let i = CANONICAL
            .iter()
            .position(|c| c == canonical)
            .expect("job columns are canonical");
        if !seen[i] {
            issues.missing_columns.push(super::MissingColumn {
                canonical: canonical.clone(),
                source: source.clone(),
            });
        }
    }
    Ok(issues)
}

/// A JSON object whose repeated keys keep their FIRST value, as a CSV header's
/// repeated names do (serde's map keeps the last). Values carry their key's
/// 1-based place in the object; a repeat is noted (key, first place, place)
/// for F004.
struct FirstWins<'a, K>(PlHashMap<K, (u32, &'a RawValue)>, Option<(K, u32, u32)>);

impl<'de: 'a, 'a, K: serde::Deserialize<'de> + Eq + std::hash::Hash + Clone> serde::Deserialize<'de>
    for FirstWins<'a, K>
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a, K>(std::marker::PhantomData<(K, &'a ())>);
        impl<'de: 'a, 'a, K: serde::Deserialize<'de> + Eq + std::hash::Hash + Clone>
            serde::de::Visitor<'de> for Visit<'a, K>
        {
            type Value = FirstWins<'a, K>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut out: PlHashMap<K, (u32, &'a RawValue)> =
                    PlHashMap::with_capacity_and_hasher(
                        map.size_hint().unwrap_or(32),
                        Default::default(),
                    );
                let mut repeat = None;
                let mut place = 0u32;
                while let Some((k, v)) = map.next_entry::<K, &'de RawValue>()? {
                    place += 1;
                    match out.get(&k) {
                        Some(first) => {
                            if repeat.is_none() {
                                repeat = Some((k, first.0, place));
                            }
                        }
                        None => {
                            out.insert(k, (place, v));
                        }
                    }
                }
                Ok(FirstWins(out, repeat))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// One parsed line.
enum Object<'a> {
    Borrowed(PlHashMap<&'a str, (u32, &'a RawValue)>),
    Owned(PlHashMap<String, (u32, &'a RawValue)>),
}

/// Exact key first, then trimmed and case-insensitive (as for CSV headers).
fn lookup<'a>(object: &Object<'a>, key: &str) -> Option<&'a RawValue> {
    let loose = |name: &str| name.trim().to_lowercase() == key.trim().to_lowercase();
    match object {
        Object::Borrowed(o) => o
            .get(key)
            .or_else(|| o.iter().find(|(n, _)| loose(n)).map(|(_, v)| v))
            .map(|v| v.1),
        Object::Owned(o) => o
            .get(key)
            .or_else(|| o.iter().find(|(n, _)| loose(n)).map(|(_, v)| v))
            .map(|v| v.1),
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
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| m.record)
                .collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(records(&df), [1, 4]);
        let job =
            "name = \"t\"\n[format]\nkind = \"ndjson\"\n[format.columns]\nhts_code = \"hs\"\n";
        let (_, issues, _) = read_with(job, b"{\"a\": 1}\n", 10);
        assert_eq!(issues.missing_columns.len(), 1);
        assert_eq!(issues.missing_columns[0].canonical, "hts_code");
    }

    #[test]
    fn an_escaped_nul_in_a_value_is_f003_for_that_record_only() {
        let data = "{\"tracking\": \"T1\"}\n{\"tracking\": \"T2\", \"description\": \"a\\u0000b\"}\n{\"tracking\": \"T3\"}\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(
            issues
                .malformed
                .iter()
                .map(|m| (m.record, m.message.as_str()))
                .collect::<Vec<_>>(),
            [(2, "holds a NUL byte in description")]
        );
        assert_eq!(records(&df), [1, 3]);
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

    #[test]
    fn a_repeated_key_keeps_its_first_value_as_a_csv_header_does() {
        let data = "{\"tracking\": \"T1\", \"tracking\": \"T9\", \"d\\u0065scription\": \"a\", \"description\": \"b\"}\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(issues.malformed, vec![]);
        assert_eq!(strings(&df, "house_bill"), ["T1"]);
        // Escaped keys take the owned path: still the first.
        assert_eq!(strings(&df, "description"), ["a"]);
        let (df, _, _) = read_with(
            "name = \"t\"\n[format]\nkind = \"csv\"\n",
            b"house_bill,house_bill\nH1,H9\n",
            10,
        );
        assert_eq!(strings(&df, "house_bill"), ["H1"]);
    }

    const LIMIT_64: crate::manifest::Limits = crate::manifest::Limits {
        max_record_bytes: 64,
        max_rows: u64::MAX,
        max_decoded_bytes: u64::MAX,
    };

    #[test]
    fn a_repeated_key_is_f004_naming_the_key_and_both_places_once_per_file() {
        let data = "{\"tracking\": \"T1\"}\n{\"a\": 1, \"tracking\": \"T2\", \"tracking\": \"T9\"}\n{\"tracking\": \"T3\", \"tracking\": \"T8\"}\n";
        let (df, issues, _) = read_with(JOB, data.as_bytes(), 10);
        assert_eq!(strings(&df, "house_bill"), ["T1", "T2", "T3"]);
        assert_eq!(issues.duplicated_columns.len(), 1, "{issues:?}");
        assert_eq!(issues.duplicated_columns[0].field, "tracking");
        assert_eq!(
            issues.duplicated_columns[0].message,
            "key \"tracking\" appears twice in record 2 (keys 2 and 3 of the object): the first is read"
        );
    }

    #[test]
    fn a_file_over_the_row_cap_is_unreadable() {
        let job = crate::job::Job::from_toml(JOB, std::path::Path::new("t.toml")).unwrap();
        let limits = crate::manifest::Limits {
            max_rows: 2,
            ..Default::default()
        };
        let data = b"{\"tracking\": \"T1\"}\n{\"tracking\": \"T2\"}\n{\"tracking\": \"T3\"}\n";
        let issues = crate::manifest::read_limited(
            &job.format,
            crate::manifest::Input::Bytes(data),
            0,
            10,
            &limits,
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(
            issues.unreadable.as_deref(),
            Some("has more than 2 records (limits.max_rows_per_file = 2)")
        );
    }

    #[test]
    fn a_line_over_the_cap_is_f003_and_the_next_lines_run() {
        use crate::manifest::{ChunkBuilder, MalformedRow};
        let job = crate::job::Job::from_toml(JOB, std::path::Path::new("t.toml")).unwrap();
        let long = format!("{{\"tracking\": \"{}\"}}", "x".repeat(100));
        let data = format!("{{\"tracking\": \"T1\"}}\n{long}\n{{\"tracking\": \"T3\"}}\n{long}");
        let mut builder = ChunkBuilder::new(0, 10);
        let issues = super::read_from(
            &job.format,
            std::io::Cursor::new(data),
            &mut builder,
            &mut |_| Ok(()),
            &LIMIT_64,
        )
        .unwrap();
        let f003 = |record| MalformedRow {
            record,
            message: "is longer than 64 bytes".into(),
        };
        assert_eq!(issues.malformed, [f003(2), f003(4)]);
        assert_eq!(issues.records, 4);
        let df = builder.take();
        assert_eq!(strings(&df, "house_bill"), ["T1", "T3"]);
        assert_eq!(records(&df), [1, 3]);
        // A line of exactly the cap is read.
        let exact = format!("{{\"tracking\": \"{}\"}}", "y".repeat(64 - 16));
        assert_eq!(exact.len(), 64);
        let mut builder = ChunkBuilder::new(0, 10);
        let issues = super::read_from(
            &job.format,
            std::io::Cursor::new(format!("{exact}\n")),
            &mut builder,
            &mut |_| Ok(()),
            &LIMIT_64,
        )
        .unwrap();
        assert_eq!(issues.malformed, vec![]);
        assert_eq!(records(&builder.take()), [1]);
    }
}
