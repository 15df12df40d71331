//! Generators for the hostile manifest files of issue 11: one function per
//! case, so a test says what it feeds `validate` and the file itself is never
//! committed (some are hundreds of megabytes).

use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use crate::support::{CANONICAL_HEADER, clean_line};

/// A canonical CSV manifest: the header, then `lines`.
pub fn manifest(lines: &[String]) -> String {
    let mut t = String::from(CANONICAL_HEADER);
    for l in lines {
        t.push('\n');
        t.push_str(l);
    }
    t.push('\n');
    t
}

/// A Parquet manifest of `rows` copies of one clean line, with `extra` more
/// text columns no job reads. Every column is one repeated value, so the
/// writer dictionary-encodes it: a few million rows take a few hundred KB on
/// disk and gigabytes once decoded (issue 11's 215 KB, 20 M-row file). Written
/// in batches, so the test itself never holds the rows.
pub fn dictionary_parquet(path: &Path, rows: usize, extra: usize) -> u64 {
    let clean = clean_line("H1");
    let values: Vec<&str> = clean.split(',').collect();
    let mut names: Vec<String> = CANONICAL_HEADER.split(',').map(str::to_owned).collect();
    let mut texts: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    for i in 0..extra {
        names.push(format!("unused_{i}"));
        texts.push(format!(
            "a value no job reads, long enough not to be inlined ({i})"
        ));
    }
    let batch_rows = 100_000.min(rows);
    let batch = DataFrame::new(
        batch_rows,
        names
            .iter()
            .zip(&texts)
            .map(|(n, v)| Column::new(n.as_str().into(), vec![v.as_str(); batch_rows]))
            .collect(),
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ParquetWriter::new(file).batched(batch.schema()).unwrap();
    let mut left = rows;
    while left > 0 {
        let n = left.min(batch_rows);
        writer.write_batch(&batch.slice(0, n)).unwrap();
        left -= n;
    }
    writer.finish().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// A windows-1252 CSV of about `mib` MiB whose every record is longer than
/// `record_bytes` and made of `é` (one byte on disk, two once decoded): each
/// record is F003, and none reaches the rules.
pub fn long_records_cp1252(path: &Path, mib: usize, record_bytes: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{CANONICAL_HEADER}").unwrap();
    let fill = vec![0xE9u8; record_bytes + 1024];
    let mut written = 0;
    let mut i = 0;
    while written < mib << 20 {
        let line = clean_line(&format!("L{i}"));
        let (head, tail) = line.split_once(",Cotton T-shirt,").unwrap();
        out.write_all(head.as_bytes()).unwrap();
        out.write_all(b",").unwrap();
        out.write_all(&fill).unwrap();
        out.write_all(b",").unwrap();
        out.write_all(tail.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        written += fill.len() + line.len();
        i += 1;
    }
    out.flush().unwrap();
}

/// A manifest whose `house_bill` header carries a byte order mark, as when a
/// BOM-prefixed file was glued onto a header cell.
pub fn bom_inside_header(lines: &[String]) -> String {
    manifest(lines).replacen(",house_bill,", ",\u{feff}house_bill,", 1)
}

/// A manifest that repeats `house_bill` at the end of the header, the second
/// copy holding `H9`.
pub fn repeated_header(hb: &str) -> String {
    format!("{CANONICAL_HEADER},house_bill\n{},H9\n", clean_line(hb))
}

/// One NDJSON line of a clean canonical record, `house_bill` repeated last
/// with `H9`.
pub fn repeated_key(hb: &str) -> String {
    let clean = clean_line(hb);
    let mut fields: Vec<String> = CANONICAL_HEADER
        .split(',')
        .zip(clean.split(','))
        .map(|(k, v)| format!("{k:?}: {v:?}"))
        .collect();
    fields.push("\"house_bill\": \"H9\"".into());
    format!("{{{}}}\n", fields.join(", "))
}

/// A clean line whose house bill holds `control` in its middle.
pub fn control_in_house_bill(hb: &str, control: char) -> String {
    let (a, b) = hb.split_at(1);
    clean_line(&format!("{a}{control}{b}"))
}

/// Peak resident set of a command, in KiB, read by `/usr/bin/time -f %M`.
pub fn peak_rss_kib(dir: &Path, args: &[&str]) -> (std::process::Output, u64) {
    let report = dir.join("peak-rss.txt");
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_s321d"))
        .args(args)
        .current_dir(dir)
        .env_remove("S321D_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("/usr/bin/time runs s321d");
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let kib = text
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {text:?}"));
    (out, kib)
}
