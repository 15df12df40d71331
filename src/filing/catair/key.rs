//! The CATAIR record layout key (catair.md section 1) as data, and the one
//! way to build or read a record against it.
//!
//! A [`Layout`] lists every field of a record, fillers included, with its
//! position, length, class ([`Class`]), designation ([`Usage`]) and, where
//! the chapter prints one, its code list. [`Record::set`] refuses a value of
//! the wrong class, length or code; [`Record::text`] first makes free text
//! sendable (transliteration, upper case, the class's characters, a cut at a
//! word boundary that it reports). [`Record::missing`] names the M fields
//! left blank, so a writer can refuse rather than send them.

use std::fmt;

/// Record length.
pub const WIDTH: usize = 80;

/// What a field may hold (catair.md section 1, "Record layout key").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Spaces only (filler).
    S,
    /// A-Z, upper case; left-justified, space-filled.
    A,
    /// Digits; right-justified, zero-filled (an unused one stays spaces).
    N,
    /// Digits with leading spaces (amounts, counts); right-justified.
    SN,
    /// A-Z, 0-9 and space; left-justified.
    AN,
    /// A date MMDDYY (or six spaces when unused).
    D,
    /// A-Z, 0-9, space and the keyboard specials; left-justified.
    X,
}

/// Designation: required, conditional, optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    M,
    C,
    O,
}

/// One field: positions are 1-based and inclusive, as CATAIR prints them.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub start: usize,
    pub len: usize,
    pub class: Class,
    pub usage: Usage,
    /// The codes the chapter allows; empty: any value of the class.
    pub codes: &'static [&'static str],
}

impl Field {
    /// Last position (inclusive).
    pub const fn end(&self) -> usize {
        self.start + self.len - 1
    }
}

/// A field without a code list.
pub const fn f(name: &'static str, start: usize, len: usize, class: Class, usage: Usage) -> Field {
    Field {
        name,
        start,
        len,
        class,
        usage,
        codes: &[],
    }
}

/// A field with a code list.
pub const fn coded(
    name: &'static str,
    start: usize,
    len: usize,
    class: Class,
    usage: Usage,
    codes: &'static [&'static str],
) -> Field {
    Field {
        name,
        start,
        len,
        class,
        usage,
        codes,
    }
}

/// A filler.
pub const fn filler(start: usize, len: usize) -> Field {
    Field {
        name: "filler",
        start,
        len,
        class: Class::S,
        usage: Usage::M,
        codes: &[],
    }
}

/// A record layout: its control identifier (positions 1..id.len()) and
/// every other field, in position order.
#[derive(Debug)]
pub struct Layout {
    pub id: &'static str,
    /// The chapter and page it was read from (catair.md section 0 tags).
    pub source: &'static str,
    pub fields: &'static [Field],
}

impl Layout {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The keyboard specials an X field takes besides A-Z, 0-9 and space
/// (catair.md section 1; the cent sign is not ASCII and never sent).
pub const X_SPECIALS: &str = "!@#$%^&*()-_=+[{]}\\|;:'\",<.>/?~`";

/// Whether `c` may appear in a field of `class`.
pub fn allowed(class: Class, c: char) -> bool {
    match class {
        Class::S => c == ' ',
        Class::A => c.is_ascii_uppercase() || c == ' ',
        Class::N | Class::D => c.is_ascii_digit(),
        Class::SN => c.is_ascii_digit() || c == ' ',
        Class::AN => c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ',
        Class::X => {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ' || X_SPECIALS.contains(c)
        }
    }
}

/// Letters that do not decompose under NFKD, and punctuation with an ASCII
/// twin (catair.md section 1, this project's convention).
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "SS",
        'ẞ' => "SS",
        'Æ' | 'æ' => "AE",
        'Œ' | 'œ' => "OE",
        'Ø' | 'ø' => "O",
        'Ł' | 'ł' => "L",
        'Đ' | 'đ' | 'Ð' | 'ð' => "D",
        'Þ' | 'þ' => "TH",
        'ı' => "I",
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' => "-",
        '\u{00A0}' | '\u{2007}' | '\u{202F}' => " ",
        _ => return None,
    })
}

/// Text as CATAIR takes it: every letter mapped to ASCII (NFKD without
/// combining marks, then the table above), upper case, anything else that is
/// not printable ASCII a space. Never `?` for a letter it cannot map.
pub fn transliterate(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(s) = fold(c) {
            out.push_str(s);
            continue;
        }
        for d in std::iter::once(c).nfkd() {
            if unicode_normalization::char::is_combining_mark(d) {
                continue;
            }
            if let Some(s) = fold(d) {
                out.push_str(s);
            } else if d.is_ascii_graphic() || d == ' ' {
                out.push(d.to_ascii_uppercase());
            } else {
                out.push(' ');
            }
        }
    }
    out
}

/// Free text made to fit `class`: transliterated, characters the class does
/// not take turned into spaces, runs of spaces collapsed, trimmed.
pub fn clean(text: &str, class: Class) -> String {
    let t: String = transliterate(text)
        .chars()
        .map(|c| if allowed(class, c) { c } else { ' ' })
        .collect();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `len` characters at a word boundary where there is
/// one; the bool says whether anything was dropped.
pub fn cut(text: &str, len: usize) -> (String, bool) {
    if text.len() <= len {
        return (text.to_owned(), false);
    }
    let head = &text[..len];
    // A boundary: the character after the cut is a space, or a space inside.
    if text.as_bytes()[len] == b' ' {
        return (head.trim_end().to_owned(), true);
    }
    match head.rfind(' ') {
        Some(p) if p > 0 => (head[..p].trim_end().to_owned(), true),
        _ => (head.to_owned(), true),
    }
}

/// Splits `text` into components of at most `len` characters each, at word
/// boundaries, at most `parts` of them; the bool says whether text was left
/// over (and so cut).
pub fn components(text: &str, len: usize, parts: usize) -> (Vec<String>, bool) {
    let mut rest = text.trim();
    let mut out = Vec::new();
    while !rest.is_empty() && out.len() < parts {
        let (part, _) = cut(rest, len);
        rest = rest[part.len()..].trim_start();
        out.push(part);
    }
    (out, !rest.is_empty())
}

/// Why a value cannot go in a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error(
        "{record} {field} (positions {start}-{end}): {value:?} is longer than {len} characters"
    )]
    TooLong {
        record: &'static str,
        field: &'static str,
        start: usize,
        end: usize,
        value: String,
        len: usize,
    },
    #[error(
        "{record} {field} (positions {start}-{end}): {value:?} has a character class {class:?} does not allow"
    )]
    Class {
        record: &'static str,
        field: &'static str,
        start: usize,
        end: usize,
        value: String,
        class: Class,
    },
    #[error("{record} {field} (positions {start}-{end}): {value:?} is not one of {codes:?}")]
    Code {
        record: &'static str,
        field: &'static str,
        start: usize,
        end: usize,
        value: String,
        codes: &'static [&'static str],
    },
    #[error("{record} has no field {field}")]
    NoField {
        record: &'static str,
        field: &'static str,
    },
}

/// A line that is not a record of the layouts it was read against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// One 80-character record of a known layout.
#[derive(Clone)]
pub struct Record {
    layout: &'static Layout,
    buf: [u8; WIDTH],
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        std::ptr::eq(self.layout, other.layout) && self.buf == other.buf
    }
}

impl Eq for Record {}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.line())
    }
}

impl Record {
    /// A blank record: its identifier in place, spaces elsewhere.
    pub fn new(layout: &'static Layout) -> Record {
        let mut buf = [b' '; WIDTH];
        buf[..layout.id.len()].copy_from_slice(layout.id.as_bytes());
        Record { layout, buf }
    }

    pub fn id(&self) -> &'static str {
        self.layout.id
    }

    pub fn layout(&self) -> &'static Layout {
        self.layout
    }

    fn field(&self, name: &'static str) -> Result<Field, FieldError> {
        self.layout.field(name).copied().ok_or(FieldError::NoField {
            record: self.layout.id,
            field: name,
        })
    }

    /// Sets a field to an exact value: its length, class and code list are
    /// checked; N and SN values are right-justified (N zero-filled), the
    /// others left-justified. An empty value leaves the field blank.
    pub fn set(&mut self, name: &'static str, value: &str) -> Result<&mut Record, FieldError> {
        let fd = self.field(name)?;
        let (record, start, end) = (self.layout.id, fd.start, fd.end());
        if value.len() > fd.len {
            return Err(FieldError::TooLong {
                record,
                field: name,
                start,
                end,
                value: value.into(),
                len: fd.len,
            });
        }
        if !value.chars().all(|c| allowed(fd.class, c))
            || (fd.class == Class::D && !value.is_empty() && value.len() != 6)
        {
            return Err(FieldError::Class {
                record,
                field: name,
                start,
                end,
                value: value.into(),
                class: fd.class,
            });
        }
        if !value.is_empty() && !fd.codes.is_empty() && !fd.codes.contains(&value.trim_end()) {
            return Err(FieldError::Code {
                record,
                field: name,
                start,
                end,
                value: value.into(),
                codes: fd.codes,
            });
        }
        let slot = &mut self.buf[fd.start - 1..fd.end()];
        slot.fill(b' ');
        if value.is_empty() {
            return Ok(self);
        }
        match fd.class {
            Class::N => {
                slot.fill(b'0');
                slot[fd.len - value.len()..].copy_from_slice(value.as_bytes());
            }
            Class::SN => slot[fd.len - value.len()..].copy_from_slice(value.as_bytes()),
            _ => slot[..value.len()].copy_from_slice(value.as_bytes()),
        }
        Ok(self)
    }

    /// Sets a numeric field from a number.
    pub fn num(&mut self, name: &'static str, value: u64) -> Result<&mut Record, FieldError> {
        self.set(name, &value.to_string())
    }

    /// Sets free text: [`clean`]ed for the field's class and [`cut`] to its
    /// length. Returns whether the text had to be cut.
    pub fn text(&mut self, name: &'static str, value: &str) -> Result<bool, FieldError> {
        let fd = self.field(name)?;
        let (value, was_cut) = cut(&clean(value, fd.class), fd.len);
        self.set(name, &value)?;
        Ok(was_cut)
    }

    /// A field as sent (N/SN/D keep their padding; text is trimmed at the end).
    pub fn get(&self, name: &str) -> &str {
        let Some(fd) = self.layout.field(name) else {
            return "";
        };
        let raw = std::str::from_utf8(&self.buf[fd.start - 1..fd.end()]).unwrap_or("");
        match fd.class {
            Class::N | Class::SN | Class::D => raw,
            _ => raw.trim_end(),
        }
    }

    /// The M fields (fillers aside) that are blank.
    pub fn missing(&self) -> Vec<&'static str> {
        self.layout
            .fields
            .iter()
            .filter(|fd| {
                fd.usage == Usage::M
                    && fd.class != Class::S
                    && self.buf[fd.start - 1..fd.end()].iter().all(|&b| b == b' ')
            })
            .map(|fd| fd.name)
            .collect()
    }

    /// The 80-character line.
    pub fn line(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Reads a line against `layouts` (the records one kind of batch may
    /// hold): exactly 80 ASCII characters whose identifier is one of them,
    /// the longest identifier winning (`SE10` before `S`).
    pub fn parse(
        line: &str,
        number: usize,
        layouts: &[&'static Layout],
    ) -> Result<Record, LineError> {
        let err = |message: String| LineError {
            line: number,
            message,
        };
        if !line.is_ascii() {
            return Err(err("holds characters that are not ASCII".into()));
        }
        if line.len() != WIDTH {
            return Err(err(format!("is {} characters, not {WIDTH}", line.len())));
        }
        let layout = layouts
            .iter()
            .filter(|l| line.starts_with(l.id))
            .max_by_key(|l| l.id.len())
            .ok_or_else(|| {
                err(format!(
                    "{:?} is not a record this batch may hold",
                    &line[..4]
                ))
            })?;
        let mut buf = [b' '; WIDTH];
        buf.copy_from_slice(line.as_bytes());
        Ok(Record { layout, buf })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks that a layout's fields tile positions id.len()+1..=80 in order,
    /// without gap or overlap.
    pub fn assert_tiles(layout: &Layout) {
        let mut next = layout.id.len() + 1;
        for fd in layout.fields {
            assert_eq!(
                fd.start, next,
                "{} {}: starts at {}, expected {next}",
                layout.id, fd.name, fd.start
            );
            next = fd.end() + 1;
        }
        assert_eq!(next, WIDTH + 1, "{}: fields end at {}", layout.id, next - 1);
    }

    /// Asserts a field's position and length, from the document.
    pub fn at(layout: &Layout, name: &str, start: usize, end: usize, class: Class, usage: Usage) {
        let fd = layout
            .field(name)
            .unwrap_or_else(|| panic!("{} has no {name}", layout.id));
        assert_eq!(
            (fd.start, fd.end(), fd.class, fd.usage),
            (start, end, class, usage),
            "{} {name}",
            layout.id
        );
    }

    #[test]
    fn letters_are_transliterated_never_questioned() {
        assert_eq!(
            transliterate("José Müller-Østergaard"),
            "JOSE MULLER-OSTERGAARD"
        );
        assert_eq!(transliterate("Straße"), "STRASSE");
        assert_eq!(
            transliterate("Æbeltoft Œuvre Łódź Đak Þór ıs"),
            "AEBELTOFT OEUVRE LODZ DAK THOR IS"
        );
        assert_eq!(
            transliterate("“Quote” ‘a’ – b\u{00A0}c"),
            "\"QUOTE\" 'A' - B C"
        );
        assert_eq!(transliterate("Café ñandú"), "CAFE NANDU");
        // No letter becomes '?': CJK and emoji become spaces.
        let t = transliterate("北京 Trading 😀");
        assert!(!t.contains('?'), "{t}");
        assert_eq!(clean("北京 Trading 😀", Class::X), "TRADING");
        assert_eq!(clean("O'Brien & Sons, Ltd.", Class::AN), "O BRIEN SONS LTD");
        assert_eq!(
            clean("O'Brien & Sons, Ltd.", Class::X),
            "O'BRIEN & SONS, LTD."
        );
    }

    #[test]
    fn long_text_is_cut_at_a_word_boundary_and_says_so() {
        assert_eq!(cut("SHORT", 35), ("SHORT".into(), false));
        assert_eq!(cut("ALPHA BETA GAMMA", 12), ("ALPHA BETA".into(), true));
        assert_eq!(cut("ALPHA BETA GAMMA", 10), ("ALPHA BETA".into(), true));
        assert_eq!(cut("ABCDEFGHIJKL", 5), ("ABCDE".into(), true));
        let (parts, left) = components(
            "1200 PENNSYLVANIA AVENUE NORTHWEST SUITE 4000 BUILDING C",
            20,
            6,
        );
        assert_eq!(
            parts,
            [
                "1200 PENNSYLVANIA",
                "AVENUE NORTHWEST",
                "SUITE 4000 BUILDING",
                "C"
            ]
        );
        assert!(!left);
        let (parts, left) = components("A B C D", 1, 2);
        assert_eq!((parts.len(), left), (2, true));
    }

    static T: Layout = Layout {
        id: "TT",
        source: "test",
        fields: &[
            coded("code", 3, 2, Class::AN, Usage::M, &["01", "02"]),
            f("n", 5, 5, Class::N, Usage::M),
            f("sn", 10, 5, Class::SN, Usage::C),
            f("x", 15, 10, Class::X, Usage::O),
            f("d", 25, 6, Class::D, Usage::O),
            filler(31, 50),
        ],
    };

    #[test]
    fn values_are_checked_against_the_layout() {
        assert_tiles(&T);
        let mut r = Record::new(&T);
        assert_eq!(r.missing(), ["code", "n"]);
        r.set("code", "01")
            .unwrap()
            .num("n", 42)
            .unwrap()
            .set("sn", "7")
            .unwrap();
        assert!(r.missing().is_empty());
        let line = r.line();
        assert_eq!(&line[..14], "TT0100042    7");
        assert!(matches!(r.set("code", "03"), Err(FieldError::Code { .. })));
        assert!(matches!(r.set("n", "4.2"), Err(FieldError::Class { .. })));
        assert!(matches!(r.set("x", "lower"), Err(FieldError::Class { .. })));
        assert!(matches!(
            r.set("x", "ABCDEFGHIJK"),
            Err(FieldError::TooLong { .. })
        ));
        assert!(matches!(r.set("d", "0101"), Err(FieldError::Class { .. })));
        assert!(r.text("x", "Ünïcode wörds here").unwrap(), "cut reported");
        assert_eq!(r.get("x"), "UNICODE");
        let err = r.set("n", "123456").unwrap_err().to_string();
        assert!(err.contains("TT n (positions 5-9)"), "{err}");
        let back = Record::parse(&r.line(), 3, &[&T]).unwrap();
        assert_eq!(back, r);
        assert!(
            Record::parse("TT", 4, &[&T])
                .unwrap_err()
                .to_string()
                .starts_with("line 4")
        );
        assert!(Record::parse(&format!("QQ{}", " ".repeat(78)), 1, &[&T]).is_err());
    }
}
