//! XLSX and CSV attachments. Every sheet has a bold, frozen header row and an
//! autofilter over its columns. Text is always written as a text cell, never
//! as a formula, so a value like `=HYPERLINK(...)`, `+1`, `-2` or `@SUM(...)`
//! from a carrier's file cannot run in the reader's spreadsheet (formula
//! injection). CSV attachments, which a spreadsheet opens too, get a leading
//! `'` on such values (the OWASP recommendation).

use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook};

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

/// One sheet.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub name: String,
    pub headers: Vec<String>,
    /// Column widths in characters (missing: 14).
    pub widths: Vec<f64>,
    pub rows: Vec<Vec<Value>>,
}

impl Sheet {
    pub fn new(name: &str, headers: &[&str], widths: &[f64]) -> Sheet {
        Sheet {
            name: name.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            widths: widths.to_vec(),
            rows: Vec::new(),
        }
    }
}

/// The workbook as bytes.
pub fn workbook(sheets: &[Sheet]) -> anyhow::Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xF0F4F8))
        .set_border_bottom(FormatBorder::Thin);
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&s.name)?;
        for (c, h) in s.headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &header)?;
            ws.set_column_width(c as u16, s.widths.get(c).copied().unwrap_or(14.0))?;
        }
        for (r, row) in s.rows.iter().enumerate() {
            let r = (r + 1) as u32;
            for (c, v) in row.iter().enumerate() {
                match v {
                    // write_string: always a text cell, never a formula.
                    Value::Text(t) => {
                        ws.write_string(r, c as u16, t)?;
                    }
                    Value::Number(n) => {
                        ws.write_number(r, c as u16, *n)?;
                    }
                    Value::Empty => {}
                }
            }
        }
        ws.set_freeze_panes(1, 0)?;
        let last_col = s.headers.len().saturating_sub(1) as u16;
        ws.autofilter(0, 0, s.rows.len() as u32, last_col)?;
    }
    Ok(wb.save_to_buffer()?)
}

/// Whether a spreadsheet would read this text as a formula.
pub fn looks_like_formula(t: &str) -> bool {
    t.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// CSV of a header and rows, with formula-looking text neutralised.
pub fn csv(headers: &[String], rows: &[Vec<Value>]) -> anyhow::Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(headers)?;
    for row in rows {
        w.write_record(row.iter().map(|v| match v {
            Value::Text(t) if looks_like_formula(t) => format!("'{t}"),
            Value::Text(t) => t.clone(),
            Value::Number(n) => format!("{n}"),
            Value::Empty => String::new(),
        }))?;
    }
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write CSV: {}", e.error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_looking_text_stays_text() {
        assert!(
            looks_like_formula("=1+1")
                && looks_like_formula("@SUM(A1)")
                && looks_like_formula("-2")
                && looks_like_formula("+3")
        );
        assert!(!looks_like_formula("DX1001"));
        let rows = vec![vec![
            Value::Text("=HYPERLINK(\"http://x\")".into()),
            Value::Number(7.0),
        ]];
        let out = String::from_utf8(csv(&["a".into(), "b".into()], &rows).unwrap()).unwrap();
        assert_eq!(out, "a,b\n\"'=HYPERLINK(\"\"http://x\"\")\",7\n");
        let mut s = Sheet::new("error", &["a", "b"], &[]);
        s.rows = rows;
        let bytes = workbook(&[s]).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }
}
