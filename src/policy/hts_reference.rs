//! The optional HTS reference list that turns on V002's reference check.
//!
//! Two inputs are accepted: a one-column CSV of 10-digit codes (dots allowed, a
//! header line allowed), or the USITC HTS JSON export (an array of rows with
//! `htsno` and `indent`), of which only 10-digit leaf rows count: a row whose
//! next row is indented deeper has children and is not a valid entry number.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::normalize;

/// A set of valid 10-digit HTS numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtsReference {
    pub codes: HashSet<String>,
}

#[derive(Deserialize)]
struct UsitcRow {
    #[serde(default)]
    htsno: String,
    #[serde(default)]
    indent: serde_json::Value,
}

fn indent_of(v: &serde_json::Value) -> i64 {
    match v {
        serde_json::Value::Number(n) => n.as_i64().unwrap_or(0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

impl HtsReference {
    pub fn load(path: &Path) -> Result<HtsReference, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        let reference = if trimmed.starts_with('[') {
            Self::from_usitc_json(trimmed)?
        } else {
            Self::from_csv(trimmed)?
        };
        if reference.codes.is_empty() {
            return Err("holds no 10-digit HTS numbers".into());
        }
        Ok(reference)
    }

    /// USITC JSON export: 10-digit leaf rows.
    pub fn from_usitc_json(text: &str) -> Result<HtsReference, String> {
        let rows: Vec<UsitcRow> =
            serde_json::from_str(text).map_err(|e| format!("not a USITC HTS JSON export: {e}"))?;
        let mut codes = HashSet::new();
        for (i, row) in rows.iter().enumerate() {
            let code = normalize::hts(&row.htsno);
            if !normalize::hts_is_ten_digits(&code) {
                continue;
            }
            let has_children = rows
                .get(i + 1)
                .is_some_and(|next| indent_of(&next.indent) > indent_of(&row.indent));
            if !has_children {
                codes.insert(code);
            }
        }
        Ok(HtsReference { codes })
    }

    /// One code per line; the first line may be a header.
    pub fn from_csv(text: &str) -> Result<HtsReference, String> {
        let mut codes = HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let field = line
                .split(',')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            if field.is_empty() {
                continue;
            }
            let code = normalize::hts(field);
            if normalize::hts_is_ten_digits(&code) {
                codes.insert(code);
            } else if i > 0 {
                return Err(format!(
                    "line {}: {field:?} is not a 10-digit HTS number",
                    i + 1
                ));
            }
        }
        Ok(HtsReference { codes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header_and_dots() {
        let r = HtsReference::from_csv("hts\n6109.10.0012\n6109100040\n").unwrap();
        assert!(r.codes.contains("6109100012") && r.codes.contains("6109100040"));
        assert!(HtsReference::from_csv("hts\n6109.10\n").is_err());
    }

    #[test]
    fn usitc_json_keeps_only_leaf_ten_digit_rows() {
        let json = r#"[
            {"htsno": "6109", "indent": "0", "description": "T-shirts"},
            {"htsno": "6109.10.00", "indent": "1"},
            {"htsno": "6109.10.00.12", "indent": "2"},
            {"htsno": "6109.10.00.14", "indent": "2"},
            {"htsno": "", "indent": "3", "description": "header row"},
            {"htsno": "3213.10.00.00", "indent": 1}
        ]"#;
        let r = HtsReference::from_usitc_json(json).unwrap();
        let mut codes: Vec<_> = r.codes.into_iter().collect();
        codes.sort();
        // 6109100014 is followed by a deeper (header) row, so it has children.
        assert_eq!(codes, ["3213100000", "6109100012"]);
    }
}
