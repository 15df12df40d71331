//! CATAIR fixed-width records (ACE Cargo Release "SE" input, "SX" responses,
//! "SO" status notifications): 80-character lines, 1-indexed positions.
//!
//! Every record is built through [`Record::set`] against a declared
//! [`Layout`], which checks each value's width and character class: there is
//! no other way to produce a line, so no ad hoc formatting can slip a
//! misaligned field onto the wire. The same layouts parse lines back, for
//! reading responses and for the ACE simulator.
//!
//! Positions of SE10, SE15, SE16, SE20, SE30/SE50, SE35/SE55, SE36/SE56, SE40,
//! SE60 and SE90 follow the CATAIR transcription in domain.md section 3.4. The
//! batch envelope (A, B, Y, Z) and the SO records' positions are not in the
//! brief; their layouts here are s321d's own, shared with its simulator, and
//! marked as such.

pub mod cargo_release;
pub mod envelope;
pub mod key;
pub mod status;

use std::fmt;

/// Record length.
pub const WIDTH: usize = 80;

/// What a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Digits only, right-aligned and zero-padded.
    Numeric,
    /// Letters and spaces, left-aligned and space-padded.
    Alpha,
    /// Printable ASCII, left-aligned and space-padded.
    AlphaNumeric,
}

/// One field of a record: name, first position (1-based), length, kind.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub start: usize,
    pub len: usize,
    pub kind: Kind,
}

const fn f(name: &'static str, start: usize, len: usize, kind: Kind) -> Field {
    Field { name, start, len, kind }
}

use Kind::{Alpha as A, AlphaNumeric as AN, Numeric as N};

/// A record layout.
#[derive(Debug)]
pub struct Layout {
    pub id: &'static str,
    pub fields: &'static [Field],
}

/// Batch header (s321d's layout).
pub static A_REC: Layout = Layout { id: "A", fields: &[f("filer_code", 2, 3, AN), f("date", 5, 6, N), f("batch", 11, 6, N)] };
/// Block header: application `SE` (cargo release) (s321d's layout).
pub static B_REC: Layout = Layout { id: "B", fields: &[f("filer_code", 2, 3, AN), f("application", 5, 2, AN)] };
/// Block trailer: records in the block (s321d's layout).
pub static Y_REC: Layout = Layout { id: "Y", fields: &[f("records", 2, 6, N)] };
/// Batch trailer (s321d's layout).
pub static Z_REC: Layout = Layout { id: "Z", fields: &[f("filer_code", 2, 3, AN), f("date", 5, 6, N), f("batch", 11, 6, N), f("blocks", 17, 6, N)] };

pub static SE10: Layout = Layout {
    id: "SE10",
    fields: &[
        f("action", 5, 1, A),
        f("filer_code", 6, 3, AN),
        f("entry_number", 11, 8, N),
        f("entry_type", 20, 2, N),
        f("ior_type", 22, 3, AN),
        f("ior_number", 25, 12, AN),
        f("mode", 37, 2, N),
        f("bond_type", 39, 1, N),
        f("entry_value", 40, 10, N),
        f("port_of_entry", 50, 5, AN),
        f("split", 55, 1, AN),
        f("port_of_unlading", 56, 5, AN),
    ],
};
pub static SE15: Layout = Layout {
    id: "SE15",
    fields: &[f("bill_type", 5, 1, A), f("issuer", 6, 4, AN), f("bill", 10, 50, AN), f("quantity", 60, 8, N), f("non_ams", 73, 1, AN)],
};
pub static SE16: Layout = Layout {
    id: "SE16",
    fields: &[f("carrier", 5, 4, AN), f("voyage", 9, 5, AN), f("arrival_date", 14, 6, N), f("quantity", 20, 8, N)],
};
pub static SE20: Layout = Layout { id: "SE20", fields: &[f("qualifier", 5, 3, AN), f("value", 8, 50, AN)] };
const ENTITY: &[Field] = &[f("entity_code", 5, 3, AN), f("name", 8, 35, AN), f("id_qualifier", 43, 3, AN), f("id", 46, 20, AN)];
const ADDRESS: &[Field] = &[f("qualifier", 5, 2, AN), f("text", 7, 35, AN), f("qualifier2", 42, 2, AN), f("text2", 44, 35, AN)];
const GEO: &[Field] = &[f("city", 5, 35, AN), f("subdivision", 40, 3, AN), f("postal_code", 49, 15, AN), f("country", 64, 2, A)];
pub static SE30: Layout = Layout { id: "SE30", fields: ENTITY };
pub static SE35: Layout = Layout { id: "SE35", fields: ADDRESS };
pub static SE36: Layout = Layout { id: "SE36", fields: GEO };
pub static SE40: Layout = Layout { id: "SE40", fields: &[f("line", 5, 3, N), f("origin", 8, 2, A), f("description", 11, 70, AN)] };
pub static SE50: Layout = Layout { id: "SE50", fields: ENTITY };
pub static SE55: Layout = Layout { id: "SE55", fields: ADDRESS };
pub static SE56: Layout = Layout { id: "SE56", fields: GEO };
/// HTS number: 10AN, left-justified, so an 8-digit chapter 99 number
/// (`99030125`) keeps its place; callers put digits only.
pub static SE60: Layout = Layout { id: "SE60", fields: &[f("hts", 5, 10, AN), f("value", 15, 10, N)] };
/// Response message: type (01 rejected, 02 accepted, 03 accepted with
/// warnings, 04 human review; 11 record rejected, 13 record warning),
/// condition code, narrative.
pub static SE90: Layout = Layout { id: "SE90", fields: &[f("message_type", 5, 2, N), f("condition", 7, 3, AN), f("narrative", 10, 40, AN)] };
/// Status notification header (s321d's layout).
pub static SO10: Layout = Layout {
    id: "SO10",
    fields: &[
        f("port", 5, 4, AN),
        f("filer_code", 9, 3, AN),
        f("entry_number", 12, 8, N),
        f("entry_type", 20, 2, N),
        f("ior_number", 22, 12, AN),
        f("carrier", 34, 4, AN),
        f("eda", 38, 6, N),
    ],
};
/// Bill-match disposition (s321d's layout).
pub static SO50: Layout = Layout { id: "SO50", fields: &[f("code", 5, 2, AN), f("bill", 7, 50, AN)] };
/// Release disposition (s321d's layout): code, date and time, narrative.
pub static SO60: Layout = Layout {
    id: "SO60",
    fields: &[f("code", 5, 2, AN), f("date", 7, 6, N), f("time", 13, 6, N), f("narrative", 19, 40, AN)],
};

/// Every layout by control identifier.
pub fn layout(id: &str) -> Option<&'static Layout> {
    [
        &A_REC, &B_REC, &Y_REC, &Z_REC, &SE10, &SE15, &SE16, &SE20, &SE30, &SE35, &SE36, &SE40, &SE50, &SE55, &SE56, &SE60, &SE90,
        &SO10, &SO50, &SO60,
    ]
    .into_iter()
    .find(|l| l.id == id)
}

/// The control identifier a line starts with (`SE10`, `A`, ...).
pub fn record_id(line: &str) -> Option<&'static str> {
    for id in ["SE10", "SE15", "SE16", "SE20", "SE30", "SE35", "SE36", "SE40", "SE50", "SE55", "SE56", "SE60", "SE90", "SO10", "SO50", "SO60"] {
        if line.starts_with(id) {
            return Some(id);
        }
    }
    match line.as_bytes().first() {
        Some(b'A') => Some("A"),
        Some(b'B') => Some("B"),
        Some(b'Y') => Some("Y"),
        Some(b'Z') => Some("Z"),
        _ => None,
    }
}

/// A field value that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatairError {
    #[error("{record}.{field}: {value:?} is longer than {len} characters")]
    TooLong { record: &'static str, field: &'static str, value: String, len: usize },
    #[error("{record}.{field}: {value:?} is not {kind}")]
    Kind { record: &'static str, field: &'static str, value: String, kind: &'static str },
    #[error("{record} has no field {field}")]
    NoField { record: &'static str, field: &'static str },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
}

/// One record being built or read.
#[derive(Clone)]
pub struct Record {
    layout: &'static Layout,
    buf: [u8; WIDTH],
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.layout.id == other.layout.id && self.buf == other.buf
    }
}

impl Eq for Record {}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.line())
    }
}

/// Text made printable ASCII: accents dropped to their base letter where
/// possible, anything else as `?` (ACE takes ASCII).
pub fn ascii(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else if c.is_whitespace() { ' ' } else { '?' })
        .collect()
}

impl Record {
    /// A blank record of `layout` (its identifier in place, spaces elsewhere).
    pub fn new(layout: &'static Layout) -> Record {
        let mut buf = [b' '; WIDTH];
        buf[..layout.id.len()].copy_from_slice(layout.id.as_bytes());
        Record { layout, buf }
    }

    fn field(&self, name: &'static str) -> Result<Field, CatairError> {
        self.layout.fields.iter().copied().find(|f| f.name == name).ok_or(CatairError::NoField { record: self.layout.id, field: name })
    }

    /// Sets a field, checking width and kind.
    pub fn set(&mut self, name: &'static str, value: &str) -> Result<&mut Record, CatairError> {
        let field = self.field(name)?;
        let id = self.layout.id;
        if value.len() > field.len {
            return Err(CatairError::TooLong { record: id, field: name, value: value.into(), len: field.len });
        }
        let ok = match field.kind {
            Kind::Numeric => value.bytes().all(|b| b.is_ascii_digit()),
            Kind::Alpha => value.bytes().all(|b| b.is_ascii_alphabetic() || b == b' '),
            Kind::AlphaNumeric => value.bytes().all(|b| (0x20..0x7f).contains(&b)),
        };
        if !ok {
            let kind = match field.kind {
                Kind::Numeric => "digits",
                Kind::Alpha => "letters",
                Kind::AlphaNumeric => "printable ASCII",
            };
            return Err(CatairError::Kind { record: id, field: name, value: value.into(), kind });
        }
        let slot = &mut self.buf[field.start - 1..field.start - 1 + field.len];
        match field.kind {
            Kind::Numeric => {
                slot.fill(b'0');
                slot[field.len - value.len()..].copy_from_slice(value.as_bytes());
            }
            _ => {
                slot.fill(b' ');
                slot[..value.len()].copy_from_slice(value.as_bytes());
            }
        }
        Ok(self)
    }

    /// Sets free text: made ASCII and cut to the field's width.
    pub fn text(&mut self, name: &'static str, value: &str) -> Result<&mut Record, CatairError> {
        let len = self.field(name)?.len;
        let clean: String = ascii(value).trim().chars().take(len).collect();
        self.set(name, &clean)
    }

    /// Sets a numeric field from a number.
    pub fn num(&mut self, name: &'static str, value: u64) -> Result<&mut Record, CatairError> {
        self.set(name, &value.to_string())
    }

    /// A field's value, trimmed (numeric fields keep their leading zeros).
    pub fn get(&self, name: &'static str) -> &str {
        match self.field(name) {
            Ok(f) => {
                let raw = std::str::from_utf8(&self.buf[f.start - 1..f.start - 1 + f.len]).unwrap_or("");
                if f.kind == Kind::Numeric { raw } else { raw.trim_end() }
            }
            Err(_) => "",
        }
    }

    pub fn id(&self) -> &'static str {
        self.layout.id
    }

    /// The 80-character line.
    pub fn line(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Reads one line: exactly 80 ASCII characters of a known record.
    pub fn parse(line: &str, number: usize) -> Result<Record, CatairError> {
        let err = |message: String| CatairError::Line { line: number, message };
        if line.len() != WIDTH || !line.is_ascii() {
            return Err(err(format!("is {} characters, not {WIDTH}", line.chars().count())));
        }
        let id = record_id(line).ok_or_else(|| err(format!("unknown record {:?}", &line[..4.min(line.len())])))?;
        let layout = layout(id).expect("every id has a layout");
        let mut buf = [b' '; WIDTH];
        buf.copy_from_slice(line.as_bytes());
        Ok(Record { layout, buf })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_eighty_characters_with_fields_in_place() {
        let mut r = Record::new(&SE10);
        r.set("action", "A").unwrap().set("filer_code", "ABC").unwrap().set("entry_number", "12345676").unwrap();
        r.set("entry_type", "86").unwrap().num("entry_value", 799).unwrap().set("port_of_entry", "4701").unwrap();
        let line = r.line();
        assert_eq!(line.len(), 80);
        assert_eq!(&line[0..4], "SE10");
        assert_eq!(&line[4..5], "A");
        assert_eq!(&line[5..8], "ABC");
        assert_eq!(&line[10..18], "12345676");
        assert_eq!(&line[19..21], "86");
        assert_eq!(&line[39..49], "0000000799");
        assert_eq!(&line[49..54], "4701 ", "4-digit port space-padded to 5");
        let back = Record::parse(&line, 1).unwrap();
        assert_eq!(back.get("entry_number"), "12345676");
        assert_eq!(back.get("port_of_entry"), "4701");
        assert_eq!(back, r);
    }

    #[test]
    fn widths_and_kinds_are_enforced() {
        let mut r = Record::new(&SE60);
        assert!(matches!(r.set("hts", "61091000120"), Err(CatairError::TooLong { .. })));
        assert!(matches!(r.set("value", "45.00"), Err(CatairError::Kind { .. })));
        assert!(matches!(r.set("nope", "1"), Err(CatairError::NoField { .. })));
        let mut r = Record::new(&SE40);
        assert!(matches!(r.set("origin", "C1"), Err(CatairError::Kind { .. })));
        r.text("description", &"Très long description ".repeat(10)).unwrap();
        assert_eq!(r.get("description").len(), 70);
        assert!(r.get("description").starts_with("Tres long"), "accents fold to ASCII");
    }

    #[test]
    fn lines_that_are_not_records_are_refused() {
        assert!(Record::parse("SE10 short", 3).unwrap_err().to_string().contains("line 3"));
        assert!(Record::parse(&format!("XX99{}", " ".repeat(76)), 1).is_err());
        assert!(Record::parse(&format!("SE10{}é", " ".repeat(75)), 1).is_err());
    }
}
