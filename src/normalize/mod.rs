//! The normalisations of contract section 4, as plain functions on one value.
//!
//! The line rules apply these to whole columns through polars UDF kernels (see
//! `line_rules`); keeping the per-value logic here makes it testable by itself
//! and guarantees one definition for every caller (rules, history, filing,
//! the policy file, duty, the simulator). [`countries`] holds the ISO 3166
//! codes the country check accepts.
//!
//! A leaf module: it imports nothing from the project.

pub mod countries;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Whole-word abbreviations applied by [`norm`], in contract order.
const ABBREVIATIONS: [(&str, &str); 12] = [
    ("street", "st"),
    ("avenue", "ave"),
    ("road", "rd"),
    ("boulevard", "blvd"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("apartment", "apt"),
    ("suite", "ste"),
    ("north", "n"),
    ("south", "s"),
    ("east", "e"),
    ("west", "w"),
];

/// Alphanumeric as Unicode general categories L* and N* (what Python's
/// `str.isalnum` means): Rust's `is_alphabetic` also admits combining marks.
fn is_alnum(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    c.is_numeric() || (c.is_alphabetic() && !is_combining_mark(c))
}

/// Unicode general category Cf (format characters: soft hyphen, zero-width
/// space and joiners, bidi marks, BOM, tags), as of Unicode 16.0. Contract v2
/// strips them before `norm`: a zero-width space inside a name must not split
/// one person into two consignee keys.
const FORMAT_CHARS: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is a Unicode format character (general category Cf).
pub fn is_format_char(c: char) -> bool {
    FORMAT_CHARS.iter().any(|&(lo, hi)| lo <= c && c <= hi)
}

/// `norm` of contract section 4: drop format characters (Cf), NFKC, case-fold, every run of non-alphanumeric
/// characters becomes one space, trim, then whole-word abbreviations.
pub fn norm(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    norm_into(text, &mut out);
    out
}

/// [`norm`] into a reused buffer (cleared first).
pub fn norm_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        norm_ascii(text.as_bytes(), out);
        return;
    }
    let nfkc: String = text
        .chars()
        .filter(|c| !is_format_char(*c))
        .nfkc()
        .collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    let mut word_start = 0;
    let mut pending_space = false;
    for c in folded.chars() {
        if is_alnum(c) {
            if pending_space && !out.is_empty() {
                abbreviate_last_word(out, word_start);
                out.push(' ');
                word_start = out.len();
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    abbreviate_last_word(out, word_start);
}

/// The ASCII fast path of [`norm`]: NFKC is the identity on ASCII and case
/// folding is lower-casing, so this works on bytes.
fn norm_ascii(bytes: &[u8], out: &mut String) {
    let mut buf = std::mem::take(out).into_bytes();
    let mut word_start = 0;
    let mut pending_space = false;
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            if pending_space && !buf.is_empty() {
                abbreviate_last_word_bytes(&mut buf, word_start);
                buf.push(b' ');
                word_start = buf.len();
            }
            pending_space = false;
            buf.push(b.to_ascii_lowercase());
        } else {
            pending_space = true;
        }
    }
    abbreviate_last_word_bytes(&mut buf, word_start);
    *out = String::from_utf8(buf).expect("ASCII in, ASCII out");
}

fn abbreviate_last_word_bytes(buf: &mut Vec<u8>, word_start: usize) {
    let word = &buf[word_start..];
    if word.len() < 4 {
        return;
    }
    if let Some((_, short)) = ABBREVIATIONS
        .iter()
        .find(|(long, _)| long.as_bytes() == word)
    {
        buf.truncate(word_start);
        buf.extend_from_slice(short.as_bytes());
    }
}

fn abbreviate_last_word(out: &mut String, word_start: usize) {
    let word = &out[word_start..];
    if word.len() < 4 {
        return;
    }
    if let Some((_, short)) = ABBREVIATIONS.iter().find(|(long, _)| *long == word) {
        out.truncate(word_start);
        out.push_str(short);
    }
}

/// Whether an identifier holds a control character (Unicode Cc: C0, DEL,
/// C1) inside it: leading and trailing white space (tab, CR, LF) is trimmed
/// before any key is made, so only what is left counts (V011).
pub fn has_control(raw: &str) -> bool {
    raw.trim().chars().any(char::is_control)
}

/// An identifier as outputs may carry it: unchanged unless it holds a
/// control character (V011); then trimmed, with every control character
/// written as `\u{..}`, so no output or log receives the raw byte and two
/// different values never become one.
pub fn escape_controls_into(raw: &str, out: &mut String) {
    out.clear();
    if !has_control(raw) {
        out.push_str(raw);
        return;
    }
    for ch in raw.trim().chars() {
        if ch.is_control() {
            out.extend(ch.escape_unicode());
        } else {
            out.push(ch);
        }
    }
}

/// HTS normalisation: drop `.`, spaces and `-` (and surrounding white space).
pub fn hts(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    hts_into(raw, &mut out);
    out
}

/// [`hts`] into a reused buffer (cleared first).
pub fn hts_into(raw: &str, out: &mut String) {
    out.clear();
    out.extend(raw.trim().chars().filter(|c| !matches!(c, '.' | ' ' | '-')));
}

/// Whether a normalised HTS is exactly ten ASCII digits.
pub fn hts_is_ten_digits(normalised: &str) -> bool {
    normalised.len() == 10 && normalised.bytes().all(|b| b.is_ascii_digit())
}

/// Country code normalisation: trim, upper-case.
pub fn country(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    upper_trim_into(raw, &mut out);
    out
}

/// Trim and upper-case into a reused buffer (ASCII fast path).
pub fn upper_trim_into(raw: &str, out: &mut String) {
    out.clear();
    let t = raw.trim();
    if t.is_ascii() {
        out.push_str(t);
        out.make_ascii_uppercase();
    } else {
        out.push_str(&t.to_uppercase());
    }
}

/// Currency normalisation: trim, upper-case, empty means USD.
pub fn currency(raw: &str) -> String {
    let c = raw.trim().to_uppercase();
    if c.is_empty() { "USD".to_owned() } else { c }
}

/// The first five digits of a ZIP code (fewer if it has fewer).
pub fn zip5(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_digit).take(5).collect()
}

/// V009: a ZIP is 5 digits, 9 digits, or 5 digits, `-`, 4 digits.
pub fn zip_is_valid(raw: &str) -> bool {
    let z = raw.trim().as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match z.len() {
        5 | 9 => digits(z),
        10 => z[5] == b'-' && digits(&z[..5]) && digits(&z[6..]),
        _ => false,
    }
}

/// `consignee_key` = norm(name) `|` norm(address) `|` first 5 digits of the zip.
pub fn consignee_key(name: &str, address: &str, zip: &str) -> String {
    format!("{}|{}|{}", norm(name), norm(address), zip5(zip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_identifiers_are_escaped_and_white_space_at_the_ends_is_not_one() {
        let mut out = String::new();
        for (raw, want, control) in [
            ("H1", "H1", false),
            (" H1\t\r\n", " H1\t\r\n", false),
            ("H\u{0}1", "H\\u{0}1", true),
            (" H\t1 ", "H\\u{9}1", true),
            ("H\u{1b}[31m1", "H\\u{1b}[31m1", true),
            ("H\u{85}1", "H\\u{85}1", true),
            ("H\u{7f}", "H\\u{7f}", true),
        ] {
            assert_eq!(has_control(raw), control, "{raw:?}");
            escape_controls_into(raw, &mut out);
            assert_eq!(out, want, "{raw:?}");
            assert!(!control || !out.chars().any(char::is_control), "{out:?}");
        }
    }

    #[test]
    fn norm_drops_format_characters_before_anything_else() {
        // A zero-width space, a joiner, a BOM and a bidi mark inside words.
        assert_eq!(norm("Jo\u{200B}hn Sm\u{200D}ith"), "john smith");
        assert_eq!(norm("\u{FEFF}Maria\u{202E} Garcia"), "maria garcia");
        assert_eq!(norm("soft\u{00AD}ware"), "software");
        assert_eq!(norm("Ana\u{E0041}"), "ana");
        // Not format characters: a no-break space still separates words.
        assert_eq!(norm("Ana\u{00A0}Silva"), "ana silva");
        assert!(!is_format_char('a') && !is_format_char('\u{00A0}') && is_format_char('\u{2060}'));
    }

    #[test]
    fn norm_folds_case_punctuation_and_space() {
        assert_eq!(norm("  ACME,  Ltd.  "), "acme ltd");
        assert_eq!(norm("O'Brien--Smith"), "o brien smith");
        assert_eq!(norm("a_b"), "a b");
        assert_eq!(norm("!!!"), "");
        assert_eq!(norm(""), "");
    }

    #[test]
    fn norm_applies_whole_word_abbreviations() {
        assert_eq!(norm("12 Main Street"), "12 main st");
        assert_eq!(norm("12 Main St."), "12 main st");
        assert_eq!(norm("1 North West Boulevard, Suite 5"), "1 n w blvd ste 5");
        assert_eq!(
            norm("Apartment 4, Lane Road Drive Avenue"),
            "apt 4 ln rd dr ave"
        );
        assert_eq!(norm("South East"), "s e");
        // Whole words only.
        assert_eq!(
            norm("Streetwise Northern Eastside"),
            "streetwise northern eastside"
        );
        assert_eq!(norm("STREET"), "st");
    }

    #[test]
    fn norm_is_unicode_aware() {
        // Full-width letters and digits fold to ASCII under NFKC.
        assert_eq!(norm("ＪＯＨＮ　ＤＯＥ"), "john doe");
        assert_eq!(norm("１２３ Ｍａｉｎ Ｓｔｒｅｅｔ"), "123 main st");
        // Accents stay, case folds, composed and decomposed forms agree.
        assert_eq!(norm("JOSÉ Müller"), "josé müller");
        assert_eq!(norm("Jose\u{301}"), norm("José"));
        // Case folding, not just lower-casing.
        assert_eq!(norm("Straße"), "strasse");
        assert_eq!(norm("ΣΊΣΥΦΟΣ"), norm("σίσυφος"));
        // Ligatures and other compatibility characters.
        assert_eq!(norm("ﬁle №5"), "file no5");
        assert_eq!(norm("李 小龍"), "李 小龍");
    }

    #[test]
    fn hts_normalisation() {
        assert_eq!(hts("6109.10.0012"), "6109100012");
        assert_eq!(hts(" 6109 10 00-12 "), "6109100012");
        assert!(hts_is_ten_digits(&hts("6109.10.0012")));
        assert!(!hts_is_ten_digits(&hts("6109.10.00")));
        assert!(!hts_is_ten_digits(&hts("6109.10.001A")));
        assert!(!hts_is_ten_digits("６１０９１０００１２"));
    }

    #[test]
    fn codes_and_zips() {
        assert_eq!(country(" cn "), "CN");
        assert_eq!(currency(""), "USD");
        assert_eq!(currency(" eur"), "EUR");
        assert_eq!(zip5("02134-1234"), "02134");
        assert_eq!(zip5("2134"), "2134");
        assert!(zip_is_valid("02134"));
        assert!(zip_is_valid("021341234"));
        assert!(zip_is_valid(" 02134-1234 "));
        for bad in ["2134", "02134-123", "0213A", "02134 1234", "", "021341-234"] {
            assert!(!zip_is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn consignee_keys_match_across_spellings() {
        assert_eq!(
            consignee_key("Jane Doe", "12 Main Street", "10001-1234"),
            consignee_key("JANE  DOE", "12 Main St.", "10001")
        );
        assert_eq!(
            consignee_key("Jane Doe", "12 Main Street", "10001"),
            "jane doe|12 main st|10001"
        );
    }
}
