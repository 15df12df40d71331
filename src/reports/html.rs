//! Small helpers for mail-client-safe HTML (inline CSS, tables, no scripts)
//! and its plain-text twin: escaping, number and money formatting, tables.

use crate::money;

pub const FONT: &str = "font-family:'DejaVu Sans',Arial,Helvetica,sans-serif";
pub const INK: &str = "#1f2933";
pub const MUTED: &str = "#52606d";
pub const LINE: &str = "#d9e2ec";
pub const HEAD_BG: &str = "#f0f4f8";
pub const RED: &str = "#c0392b";
pub const AMBER: &str = "#b7791f";
pub const GREEN: &str = "#2f855a";

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An integer with thousands separators: `1,234,567`.
pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fixed-point amount as dollars and cents, rounded half up: `$1,234.56`.
pub fn usd(units: i128) -> String {
    let cent = money::ONE / 100;
    let neg = units < 0;
    let cents = (units.abs() + cent / 2) / cent;
    let dollars = (cents / 100) as u64;
    format!(
        "{}${}.{:02}",
        if neg { "-" } else { "" },
        int(dollars),
        cents % 100
    )
}

/// `part` of `whole` as a percentage with one decimal (`12.5%`), or `-`.
pub fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table rendered both as HTML and as plain text.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<Cell>>,
}

/// A cell: text, optionally coloured (HTML only).
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub color: Option<&'static str>,
    pub bold: bool,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            color: None,
            bold: false,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell {
            text: text.to_owned(),
            color: None,
            bold: false,
        }
    }
}

/// A coloured cell.
pub fn colored(text: impl Into<String>, color: &'static str) -> Cell {
    Cell {
        text: text.into(),
        color: Some(color),
        bold: true,
    }
}

/// A bold cell.
pub fn bold(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        color: None,
        bold: true,
    }
}

impl Table {
    pub fn new(headers: &[&str], aligns: &[Align]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            aligns: aligns.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn with_headers(headers: Vec<String>, aligns: Vec<Align>) -> Table {
        Table {
            headers,
            aligns,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) -> &mut Table {
        self.rows.push(cells);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn align(&self, i: usize) -> Align {
        self.aligns.get(i).copied().unwrap_or(Align::Left)
    }

    /// The table as HTML with inline styles.
    pub fn html(&self) -> String {
        let mut out = format!(
            "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" width=\"100%\" style=\"border-collapse:collapse;{FONT};font-size:13px;color:{INK};margin:6px 0 14px 0\">\n<tr>"
        );
        for (i, h) in self.headers.iter().enumerate() {
            let align = if self.align(i) == Align::Right {
                "right"
            } else {
                "left"
            };
            out.push_str(&format!(
                "<th align=\"{align}\" style=\"background:{HEAD_BG};border-bottom:1px solid {LINE};padding:6px 8px;font-weight:bold;text-align:{align}\">{}</th>",
                esc(h)
            ));
        }
        out.push_str("</tr>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let align = if self.align(i) == Align::Right {
                    "right"
                } else {
                    "left"
                };
                let color = c.color.map(|c| format!("color:{c};")).unwrap_or_default();
                let weight = if c.bold { "font-weight:bold;" } else { "" };
                out.push_str(&format!(
                    "<td align=\"{align}\" style=\"border-bottom:1px solid {LINE};padding:5px 8px;text-align:{align};{color}{weight}\">{}</td>",
                    esc(&c.text)
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        out
    }

    /// The table as aligned plain text.
    pub fn text(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.text.chars().count().min(60));
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let mut s = String::new();
            for (i, t) in cells.iter().enumerate().take(n) {
                let t: String = t.chars().take(60).collect();
                let pad = widths[i].saturating_sub(t.chars().count());
                if i > 0 {
                    s.push_str("  ");
                }
                if self.align(i) == Align::Right {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(&t);
                } else {
                    s.push_str(&t);
                    if i + 1 < n {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            s.trim_end().to_owned() + "\n"
        };
        let mut out = line(self.headers.iter().map(String::as_str).collect());
        out.push_str(&line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect(),
        ));
        for row in &self.rows {
            out.push_str(&line(row.iter().map(|c| c.text.as_str()).collect()));
        }
        out
    }
}

/// A section heading.
pub fn h2(title: &str) -> String {
    format!(
        "<h2 style=\"{FONT};font-size:16px;color:{INK};margin:22px 0 4px 0;padding:0\">{}</h2>\n",
        esc(title)
    )
}

/// A sub-heading inside a section.
pub fn h3(title: &str) -> String {
    format!(
        "<h3 style=\"{FONT};font-size:14px;color:{INK};margin:14px 0 2px 0;padding:0\">{}</h3>\n",
        esc(title)
    )
}

/// A paragraph of muted text.
pub fn note(text: &str) -> String {
    format!(
        "<p style=\"{FONT};font-size:12px;color:{MUTED};margin:2px 0 8px 0\">{}</p>\n",
        esc(text)
    )
}

/// A paragraph.
pub fn para(text: &str) -> String {
    format!(
        "<p style=\"{FONT};font-size:13px;color:{INK};margin:4px 0 8px 0\">{}</p>\n",
        esc(text)
    )
}

/// An inline chart image.
pub fn image(cid: &str, alt: &str, width: u32, height: u32) -> String {
    format!(
        "<img src=\"cid:{}\" alt=\"{}\" width=\"{width}\" height=\"{height}\" style=\"display:block;border:0;max-width:100%;height:auto;margin:6px 0 10px 0\">\n",
        esc(cid),
        esc(alt)
    )
}

/// Wraps a body into a whole HTML document, 680px wide, centred.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\n\
         <body style=\"margin:0;padding:0;background:#ffffff\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"background:#ffffff\"><tr><td align=\"center\">\n\
         <table role=\"presentation\" width=\"680\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"width:680px;max-width:100%\"><tr><td style=\"padding:16px 18px;{FONT};color:{INK}\">\n\
         {body}\
         </td></tr></table>\n</td></tr></table>\n</body></html>\n",
        esc(title)
    )
}

/// A row of headline figures (label above, figure below).
pub fn tiles(items: &[(&str, String, Option<&'static str>)]) -> String {
    let mut out = String::from(
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"border-collapse:separate;border-spacing:6px 0;margin:8px 0 10px 0\"><tr>",
    );
    let w = 100 / items.len().max(1);
    for (label, value, color) in items {
        let color = color.unwrap_or(INK);
        out.push_str(&format!(
            "<td width=\"{w}%\" style=\"background:{HEAD_BG};border:1px solid {LINE};padding:10px 10px;{FONT}\">\
             <div style=\"font-size:11px;color:{MUTED};text-transform:uppercase;letter-spacing:0.5px\">{}</div>\
             <div style=\"font-size:20px;font-weight:bold;color:{color};margin-top:3px\">{}</div></td>",
            esc(label),
            esc(value)
        ));
    }
    out.push_str("</tr></table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_money_and_tables() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(usd(money::parse_decimal("1234.565").unwrap()), "$1,234.57");
        assert_eq!(usd(money::parse_decimal("0.004").unwrap()), "$0.00");
        assert_eq!(pct(1, 8), "12.5%");
        assert_eq!(
            esc("<a href='x'>&</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
        );
        let mut t = Table::new(&["rule", "n"], &[Align::Left, Align::Right]);
        t.row(vec!["V002".into(), "1,200".into()]);
        assert_eq!(t.text(), "rule      n\n----  -----\nV002  1,200\n");
        assert!(t.html().contains("<td align=\"right\""));
    }
}
