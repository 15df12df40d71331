//! HTS rate texts: which column applies to a line (contract section 9 step 3),
//! what a rate text says (step 4), and the exact amount it gives (step 6).
//!
//! Owns the rate grammar and the unit comparison. A text this module cannot
//! read as `Free`, `N%`, `N¢/U`, `$N/U`, `N¢ each`, `$N each` or a `+` of those
//! (prose such as "The rate applicable to ...", or a part with a qualifier
//! such as "6% on the case") is not computable: [`parse`] says why, and the
//! caller reports duty unknown (T001). It does not know about HTS files or
//! chapter 99 layers.

use std::fmt;

use super::exact::{self, Exact};
use super::hts::RateRow;
use crate::money;

pub use super::exact::round_half_up_cents;

/// Most digits a number in a rate text may have (keeps products far inside
/// 256 bits).
const MAX_DIGITS: usize = 30;

/// Longest rate text quoted in full in a reason; longer prose is cut.
const QUOTE_MAX: usize = 80;

/// The column of the HTS row a line's rate comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateColumn {
    /// Column 1 general (MFN).
    General,
    /// Column 1 special, under the program code the line claims.
    Special(String),
    /// Column 2 ("other").
    Column2,
}

impl fmt::Display for RateColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateColumn::General => f.write_str("general"),
            RateColumn::Special(code) => write!(f, "special:{code}"),
            RateColumn::Column2 => f.write_str("column2"),
        }
    }
}

/// One group of a special-rate text: the rate printed before a parenthesis
/// of program codes, and those codes (`Free (A,AU,S)` -> `Free`, `[A, AU, S]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialGroup<'a> {
    pub rate: &'a str,
    pub codes: Vec<&'a str>,
}

/// Splits a special-rate text into its groups. A group's rate is the text
/// between the previous group's `)` and its own `(`. Parentheses that do not
/// hold a list of program codes (`(see U.S. note 3 ...)`, `3(e)`) are part of
/// the rate text; text after the last group (footnote-like) is ignored.
pub fn special_groups(text: &str) -> Vec<SpecialGroup<'_>> {
    let mut groups = Vec::new();
    let mut seg_start = 0;
    let mut i = 0;
    while let Some(rel) = text[i..].find('(') {
        let open = i + rel;
        let Some(end_rel) = text[open + 1..].find(['(', ')']) else {
            break;
        };
        let close = open + 1 + end_rel;
        if text.as_bytes()[close] == b'(' {
            // Unbalanced, as in "(PA (PA)": retry from the inner parenthesis.
            i = close;
            continue;
        }
        if let Some(codes) = program_codes(&text[open + 1..close]) {
            groups.push(SpecialGroup {
                rate: text[seg_start..open].trim(),
                codes,
            });
            seg_start = close + 1;
        }
        i = close + 1;
    }
    groups
}

/// The program codes of a parenthesis (`A+, AU,\nS`), or `None` when it holds
/// anything else. A code is one to three capital letters and an optional `+`
/// or `*`; commas, spaces and line breaks separate them.
fn program_codes(inner: &str) -> Option<Vec<&str>> {
    let codes: Vec<&str> = inner
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let is_code = |t: &&str| {
        let body = t.strip_suffix(['+', '*']).unwrap_or(t);
        (1..=3).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_uppercase())
    };
    (!codes.is_empty() && codes.iter().all(is_code)).then_some(codes)
}

/// Normalises a claimed special program indicator for matching: trimmed,
/// upper-case.
fn program_key(special_program: &str) -> String {
    special_program.trim().to_ascii_uppercase()
}

/// Step 3: the column and the rate text (as printed) that apply to a line.
/// Column 2 when `column2` (the origin is in `duty.column2_origins`); else the
/// special rate of the first group whose codes include `special_program`
/// whole (`A` is not `A*` or `A+`); else general.
pub fn pick(row: &RateRow, column2: bool, special_program: &str) -> (RateColumn, String) {
    if column2 {
        return (RateColumn::Column2, row.other.trim().to_owned());
    }
    let program = program_key(special_program);
    if !program.is_empty() {
        for group in special_groups(row.special) {
            if let Some(code) = group.codes.iter().find(|c| **c == program) {
                return (
                    RateColumn::Special((*code).to_owned()),
                    group.rate.to_owned(),
                );
            }
        }
    }
    (RateColumn::General, row.general.trim().to_owned())
}

/// An exact percentage `N` of `N%`: `units / (10^scale x den)`; `den` is 1
/// but for a fraction such as `33 1/3%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Percent {
    units: u128,
    scale: u32,
    den: u64,
}

/// Largest denominator of a fraction percentage (`33 1/3%`).
const MAX_DEN: u64 = 1_000_000;

impl Percent {
    /// Reads `N%` (`25%`, `0.3464%`, `7.5 %`, `33 1/3%`): a plain
    /// non-negative decimal, or a whole number and a fraction, and a percent
    /// sign; nothing else.
    pub fn parse(text: &str) -> Result<Percent, String> {
        let t = text.trim();
        t.strip_suffix('%')
            .and_then(|n| Percent::number(n.trim_end()))
            .ok_or_else(|| format!("{t:?} is not a percentage (N%)"))
    }

    /// The number before `%`.
    fn number(s: &str) -> Option<Percent> {
        let Some((head, den)) = s.split_once('/') else {
            let (units, scale) = parse_number(s)?;
            return Some(Percent {
                units,
                scale,
                den: 1,
            });
        };
        let (whole, num) = match head.trim_end().rsplit_once(' ') {
            Some((w, n)) => (w.trim(), n),
            None => ("0", head.trim_end()),
        };
        let digits =
            |t: &str| !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit());
        let den_text = den.trim_start();
        if !(digits(whole) && digits(num) && digits(den_text)) {
            return None;
        }
        let den: u64 = den_text
            .parse()
            .ok()
            .filter(|d| (1..=MAX_DEN).contains(d))?;
        let units = whole.parse::<u128>().ok()? * u128::from(den) + num.parse::<u128>().ok()?;
        Some(Percent {
            units,
            scale: 0,
            den,
        })
    }

    /// `N% x value` (a money amount), exact.
    pub fn of(&self, value: i128) -> Exact {
        Exact::fraction(value, money::SCALE, self.units, self.scale + 2, self.den)
    }

    /// `N% x value`, rounded half-up to the cent, in money units.
    pub fn of_rounded(&self, value: i128) -> i128 {
        round_half_up_cents(self.of(value))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den != 1 {
            // Only `W N/D%` has a denominator, and its scale is 0.
            let den = u128::from(self.den);
            let (whole, num) = (self.units / den, self.units % den);
            return match (whole, num) {
                (w, 0) => write!(f, "{w}%"),
                (0, n) => write!(f, "{n}/{den}%"),
                (w, n) => write!(f, "{w} {n}/{den}%"),
            };
        }
        let digits = self.units.to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{digits}%");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            write!(f, "{int}%")
        } else {
            write!(f, "{int}.{frac}%")
        }
    }
}

/// The unit a specific rate is charged per.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// `kg`: charged on `weight_kg`.
    Kg,
    /// Any other unit: charged on `quantity`, which is counted in the HTS
    /// row's first unit of quantity, so the two must be the same unit.
    Quantity {
        /// As printed (`liter`, `No.` for `each`).
        printed: String,
        /// As compared (see [`unit_key`]).
        key: String,
    },
}

/// One part of a rate text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// `N%` of the entered value.
    AdValorem(Percent),
    /// `units / 10^scale` dollars per unit (cents are read as dollars).
    Specific {
        usd_units: u128,
        scale: u32,
        unit: Unit,
    },
}

/// A parsed, computable rate text: `Free` (no parts) or the sum of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    text: String,
    parts: Vec<Part>,
}

/// What a line brings to a rate: its entered value and, for specific rates,
/// its quantity and weight, and the HTS row's first unit of quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantities {
    /// Money units (12 decimals).
    pub entered_value: i128,
    /// In the row's first unit of quantity; 12 decimals.
    pub quantity: Option<i128>,
    /// 12 decimals.
    pub weight_kg: Option<i128>,
    /// The HTS row's first unit of quantity.
    pub unit: Option<String>,
}

/// The unit key the contract compares: lower-case, without white space,
/// without one trailing `.` and then one trailing `s` (`prs.` = `pr.` = `pr`,
/// `liters` = `liter`, `pf. liter` = `pf.liters`). Superscripts `²` and `³`
/// read as `2` and `3`, as the schedule prints both `m²` and `m2`.
pub fn unit_key(unit: &str) -> String {
    let mut key: String = unit
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '²' => '2',
            '³' => '3',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if key.ends_with('.') {
        key.pop();
    }
    if key.ends_with('s') {
        key.pop();
    }
    key
}

/// Step 4: reads a rate text. `Err` says in plain English why the text is not
/// computable.
pub fn parse(text: &str) -> Result<Rate, String> {
    let collapsed = join_line_breaks(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    if collapsed.is_empty() {
        return Err("no rate".into());
    }
    let not_computable = || format!("rate {} is not computable", quote(&collapsed));
    if collapsed.eq_ignore_ascii_case("free") {
        return Ok(Rate {
            text: collapsed,
            parts: Vec::new(),
        });
    }
    let mut parts = Vec::new();
    for piece in collapsed.split('+') {
        parts.push(parse_part(piece.trim()).ok_or_else(not_computable)?);
    }
    Ok(Rate {
        text: collapsed,
        parts,
    })
}

/// Rejoins words the schedule hyphenated at a line break (`thou- sand`): a
/// `- ` between two lower-case letters goes.
fn join_line_breaks(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if b[i] == b'-'
            && i > 0
            && b[i - 1].is_ascii_lowercase()
            && b.get(i + 1) == Some(&b' ')
            && b.get(i + 2).is_some_and(u8::is_ascii_lowercase)
        {
            i += 2;
            continue;
        }
        let ch = text[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// One part of a compound: `N%`, `N¢/U`, `$N/U`, `N¢ each`, `$N each`.
fn parse_part(piece: &str) -> Option<Part> {
    if let Some(number) = piece.strip_suffix('%') {
        return Percent::number(number.trim_end()).map(Part::AdValorem);
    }
    let (usd_units, scale, rest) = if let Some(after) = piece.strip_prefix('$') {
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        let (units, scale) = parse_number(&after[..end])?;
        (units, scale, &after[end..])
    } else {
        let (number, rest) = piece.split_once('¢')?;
        let (units, scale) = parse_number(number.trim_end())?;
        (units, scale + 2, rest)
    };
    let rest = rest.trim_start();
    let unit = if rest == "each" {
        Unit::Quantity {
            printed: "No.".into(),
            key: unit_key("No."),
        }
    } else {
        let unit = rest.strip_prefix('/')?.trim();
        if !is_unit(unit) {
            return None;
        }
        let key = unit_key(unit);
        if key == "kg" {
            Unit::Kg
        } else {
            Unit::Quantity {
                printed: unit.to_owned(),
                key,
            }
        }
    };
    Some(Part::Specific {
        usd_units,
        scale,
        unit,
    })
}

/// Words that turn a unit into a qualifier ("kg on lead content", "kg of
/// total sugars", "kg on drained weight"): such a part is not computable.
const QUALIFIER_WORDS: [&str; 8] = ["on", "of", "and", "or", "less", "for", "in", "the"];

/// A unit is one or two words of letters, digits, `.`, `,`, `²`, `³`
/// (`kg`, `doz.`, `pf. liter`, `clean kg`, `1,000 pins`), none a qualifier word.
fn is_unit(unit: &str) -> bool {
    let words: Vec<&str> = unit.split_whitespace().collect();
    (1..=2).contains(&words.len())
        && words.iter().all(|w| {
            w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '²' | '³'))
                && w.chars().any(|c| c.is_ascii_alphanumeric())
                && !QUALIFIER_WORDS.contains(&w.to_ascii_lowercase().as_str())
        })
}

/// A plain non-negative decimal (`12`, `4.4`, `.5`) as `units / 10^scale`.
fn parse_number(s: &str) -> Option<(u128, u32)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || int.len() + frac.len() > MAX_DIGITS
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut units: u128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        units = units * 10 + u128::from(b - b'0');
    }
    Some((units, frac.len() as u32))
}

/// `"text"`, cut to [`QUOTE_MAX`] characters.
fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_MAX {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(QUOTE_MAX).collect();
        format!("\"{}...\"", cut.trim_end().replace('"', "\\\""))
    }
}

impl Rate {
    /// The text as read (white space runs collapsed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parts; empty for `Free`.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the rate is `Free`.
    pub fn is_free(&self) -> bool {
        self.parts.is_empty()
    }

    /// Step 4 and 6: the exact sum of the parts, rounded half-up to the cent
    /// once, in money units. `Err` when a part cannot be computed for this
    /// line: a unit that is not the row's unit, a needed quantity or weight
    /// that is empty or zero.
    pub fn amount(&self, q: &Quantities) -> Result<i128, String> {
        self.amount_for(q.entered_value, q.quantity, q.weight_kg, q.unit.as_deref())
    }

    /// [`Rate::amount`] without building a [`Quantities`].
    pub fn amount_for(
        &self,
        entered_value: i128,
        quantity: Option<i128>,
        weight_kg: Option<i128>,
        row_unit: Option<&str>,
    ) -> Result<i128, String> {
        let mut total = Exact::ZERO;
        for part in &self.parts {
            let term = match part {
                Part::AdValorem(p) => p.of(entered_value),
                Part::Specific {
                    usd_units,
                    scale,
                    unit,
                } => {
                    let count = self.count_for(unit, quantity, weight_kg, row_unit)?;
                    Exact::product(count, money::SCALE, *usd_units, *scale)
                }
            };
            total = total.checked_add(term).ok_or_else(|| {
                format!(
                    "rate {} gives an amount too large to compute",
                    quote(&self.text)
                )
            })?;
        }
        Ok(exact::round_half_up_cents(total))
    }

    /// The weight or quantity a specific part is charged on.
    fn count_for(
        &self,
        unit: &Unit,
        quantity: Option<i128>,
        weight_kg: Option<i128>,
        row_unit: Option<&str>,
    ) -> Result<i128, String> {
        let rate = quote(&self.text);
        match unit {
            Unit::Kg => match weight_kg {
                None => Err(format!("rate {rate} needs weight_kg but the line has none")),
                Some(0) => Err(format!(
                    "rate {rate} needs weight_kg but the line's weight is 0"
                )),
                Some(w) => Ok(w),
            },
            Unit::Quantity { printed, key } => {
                match row_unit {
                    None => {
                        return Err(format!(
                            "rate {rate} needs quantity in {printed} but the code has no unit of quantity"
                        ));
                    }
                    Some(u) if unit_key(u) != *key => {
                        return Err(format!(
                            "rate {rate} needs quantity in {printed} but the code's unit is {u:?}"
                        ));
                    }
                    Some(_) => {}
                }
                match quantity {
                    None => Err(format!(
                        "rate {rate} needs quantity in {printed} but the line has none"
                    )),
                    Some(0) => Err(format!(
                        "rate {rate} needs quantity in {printed} but the line's quantity is 0"
                    )),
                    Some(n) => Ok(n),
                }
            }
        }
    }

    /// Whether every specific part can be charged on a line of a code whose
    /// first unit of quantity is `row_unit` (given a quantity and weight).
    pub fn fits_unit(&self, row_unit: Option<&str>) -> bool {
        self.parts.iter().all(|p| match p {
            Part::AdValorem(_) | Part::Specific { unit: Unit::Kg, .. } => true,
            Part::Specific {
                unit: Unit::Quantity { key, .. },
                ..
            } => row_unit.is_some_and(|u| unit_key(u) == *key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> i128 {
        money::parse_decimal(s).unwrap()
    }

    fn q(
        value: &str,
        quantity: Option<&str>,
        weight: Option<&str>,
        unit: Option<&str>,
    ) -> Quantities {
        Quantities {
            entered_value: d(value),
            quantity: quantity.map(d),
            weight_kg: weight.map(d),
            unit: unit.map(str::to_owned),
        }
    }

    fn amount(text: &str, quantities: &Quantities) -> Result<i128, String> {
        parse(text)?.amount(quantities)
    }

    #[test]
    fn free_is_zero() {
        let r = parse("Free").unwrap();
        assert!(r.is_free());
        assert_eq!(r.amount(&q("1234.56", None, None, None)), Ok(0));
        assert_eq!(amount(" Free ", &q("10", None, None, Some("No."))), Ok(0));
    }

    #[test]
    fn percent_of_entered_value() {
        assert_eq!(
            amount("6.8%", &q("100", None, None, Some("No."))),
            Ok(d("6.80"))
        );
        assert_eq!(
            amount("16.5%", &q("19.99", None, None, None)),
            Ok(d("3.30"))
        ); // 3.29835
        assert_eq!(amount("0%", &q("19.99", None, None, None)), Ok(0));
    }

    #[test]
    fn cents_per_unit_uses_quantity_in_the_rows_unit() {
        // 3.3¢/liter x 12.5 liters = 41.25¢.
        assert_eq!(
            amount("3.3¢/liter", &q("50", Some("12.5"), None, Some("liters"))),
            Ok(d("0.41"))
        );
        assert_eq!(
            amount("37.5¢/liter", &q("50", Some("2"), None, Some("liters"))),
            Ok(d("0.75"))
        );
    }

    #[test]
    fn dollars_per_unit_uses_quantity() {
        // $1.035/doz. x 3 doz. = 3.105 -> 3.11 (half-up).
        assert_eq!(
            amount("$1.035/doz.", &q("50", Some("3"), None, Some("doz."))),
            Ok(d("3.11"))
        );
        assert_eq!(
            amount("$1.24/t", &q("50", Some("10"), None, Some("t"))),
            Ok(d("12.40"))
        );
    }

    #[test]
    fn each_is_per_number() {
        assert_eq!(
            amount("0.9¢ each", &q("5", Some("100"), None, Some("No."))),
            Ok(d("0.90"))
        );
        assert_eq!(
            amount("$1.44 each", &q("5", Some("2"), None, Some("No"))),
            Ok(d("2.88"))
        );
        let err = amount("$1.44 each", &q("5", Some("2"), None, Some("doz."))).unwrap_err();
        assert_eq!(
            err,
            r#"rate "$1.44 each" needs quantity in No. but the code's unit is "doz.""#
        );
    }

    #[test]
    fn compound_parts_are_summed_exactly_then_rounded_once() {
        // 5¢/kg x 2.5 kg = 0.125, 6% x 10.00 = 0.60: 0.725 -> 0.73. Rounding
        // each part first would give 0.13 + 0.60 = 0.73 here, so also check a
        // case where it differs: 0.5¢/kg x 1 kg = 0.005 and 0.05% x 10 = 0.005
        // sum to 0.01 exactly, while each alone rounds to 0.01 (0.02 total).
        assert_eq!(
            amount("5¢/kg + 6%", &q("10", None, Some("2.5"), Some("No."))),
            Ok(d("0.73"))
        );
        assert_eq!(
            amount("0.5¢/kg + 0.05%", &q("10", None, Some("1"), Some("No."))),
            Ok(d("0.01"))
        );
        // 0.4¢/kg x 1 = 0.004 and 0.04% x 10 = 0.004: 0.008 -> 0.01, each alone 0.00.
        assert_eq!(
            amount("0.4¢/kg + 0.04%", &q("10", None, Some("1"), Some("No."))),
            Ok(d("0.01"))
        );
        assert_eq!(
            amount("$1.15/kg + 10.6%", &q("100", None, Some("3"), None)),
            Ok(d("14.05"))
        );
        // Spacing as printed in the schedule: "+13.6%", "kg  +".
        assert_eq!(
            amount("$1.035/kg +13.6%", &q("10", None, Some("1"), None)),
            Ok(d("2.40"))
        );
        let three = parse("13.5¢/kg + 6.3% + 1.9¢/article").unwrap();
        assert_eq!(three.parts().len(), 3);
    }

    #[test]
    fn percent_beyond_twelve_decimals_is_exact_before_rounding() {
        // 0.5% x 1.000000000001 = 0.005000000000005: half-up to 0.01, which a
        // product truncated at twelve decimals (0.005000000000) would also
        // give; 0.4999999% x 1 = 0.004999999 must stay 0.00.
        assert_eq!(
            amount("0.5%", &q("1.000000000001", None, None, None)),
            Ok(d("0.01"))
        );
        assert_eq!(amount("0.4999999%", &q("1", None, None, None)), Ok(0));
        assert_eq!(amount("0.5%", &q("1", None, None, None)), Ok(d("0.01")));
    }

    #[test]
    fn singular_and_plural_units_match() {
        assert_eq!(
            amount("62¢/pr. + 13.7%", &q("10", Some("2"), None, Some("prs."))),
            Ok(d("2.61"))
        );
        assert_eq!(
            amount("3.3¢/liter", &q("1", Some("100"), None, Some("liters"))),
            Ok(d("3.30"))
        );
        assert_eq!(
            amount("12¢/doz. + 5.5%", &q("0", Some("1"), None, Some("doz"))),
            Ok(d("0.12"))
        );
        assert_eq!(
            amount(
                "20¢/thousand + 3.5%",
                &q("0", Some("1.5"), None, Some("thousands"))
            ),
            Ok(d("0.30"))
        );
        assert_eq!(
            amount("14.5¢/m2", &q("0", Some("3"), None, Some("m²"))),
            Ok(d("0.44"))
        );
        assert_eq!(
            amount(
                "18.9¢/pf. liter",
                &q("0", Some("2"), None, Some("pf.liters"))
            ),
            Ok(d("0.38"))
        );
        assert_eq!(
            amount("14.27¢/ liter", &q("0", Some("1"), None, Some("liters"))),
            Ok(d("0.14"))
        );
    }

    #[test]
    fn kg_uses_weight_whatever_the_rows_unit() {
        assert_eq!(
            amount("4.4¢/kg", &q("0", Some("7"), Some("10"), Some("No."))),
            Ok(d("0.44"))
        );
        let err = amount("4.4¢/kg", &q("5", Some("7"), None, Some("kg"))).unwrap_err();
        assert_eq!(
            err,
            r#"rate "4.4¢/kg" needs weight_kg but the line has none"#
        );
        let err = amount("4.4¢/kg", &q("5", Some("7"), Some("0"), Some("kg"))).unwrap_err();
        assert!(err.contains("weight is 0"), "{err}");
    }

    #[test]
    fn a_unit_that_differs_is_not_computable() {
        let err = amount("3.3¢/liter", &q("5", Some("2"), None, Some("No."))).unwrap_err();
        assert_eq!(
            err,
            r#"rate "3.3¢/liter" needs quantity in liter but the code's unit is "No.""#
        );
        // "clean kg" is not kg: it needs a quantity in clean kg.
        let err = amount("18.7¢/clean kg", &q("5", Some("2"), Some("2"), Some("kg"))).unwrap_err();
        assert!(err.contains("needs quantity in clean kg"), "{err}");
        // Per 1,000 is not per No.: the contract compares units, not scales.
        assert!(amount("89.6¢/1000", &q("5", Some("2000"), None, Some("No."))).is_err());
        let err = amount("$3/head", &q("5", Some("2"), None, None)).unwrap_err();
        assert!(
            err.ends_with("but the code has no unit of quantity"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_or_zero_quantity_is_not_computable() {
        let err = amount("3.3¢/liter", &q("5", None, None, Some("liters"))).unwrap_err();
        assert_eq!(
            err,
            r#"rate "3.3¢/liter" needs quantity in liter but the line has none"#
        );
        let err = amount("3.3¢/liter", &q("5", Some("0"), None, Some("liters"))).unwrap_err();
        assert!(err.ends_with("but the line's quantity is 0"), "{err}");
        // An ad valorem rate needs neither.
        assert!(amount("5%", &q("5", None, None, None)).is_ok());
    }

    #[test]
    fn prose_is_not_computable() {
        for text in [
            "The rate applicable to each garment in the ensemble if separately entered",
            "The duty provided in the applicable subheading + 25%",
            "$1.16 each + 6% on the case",
            "0.8¢/kg on lead content",
            "16.9¢/kg of total sugars + 5.1%",
            "5¢/kg on contents and container",
            "0.18¢/line/ gross + 2.5%",
            "1.5 percent of the fair retail value",
            "Free, under bond, as prescribed in U.S. note 1 to this subchapter",
            "No change",
            "See 9822.05.15",
            "Free + 5%",
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with("rate \"") && err.ends_with("is not computable"),
                "{text}: {err}"
            );
        }
        assert_eq!(parse("  ").unwrap_err(), "no rate");
        let long = parse("The rate applicable to each garment in the ensemble if separately entered, and more words").unwrap_err();
        assert!(long.contains("...\" is not computable"), "{long}");
    }

    #[test]
    fn special_groups_split_and_match_whole_codes() {
        let groups = special_groups("Free (A,AU,S) 3.4% (KR)");
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0],
            SpecialGroup {
                rate: "Free",
                codes: vec!["A", "AU", "S"]
            }
        );
        assert_eq!(
            groups[1],
            SpecialGroup {
                rate: "3.4%",
                codes: vec!["KR"]
            }
        );
        // Spaces after commas and line breaks, as in the data.
        let groups = special_groups("Free \n(A+, AU, BH,CL,\nCO) 2.8% (JP)");
        assert_eq!(groups[0].codes, ["A+", "AU", "BH", "CL", "CO"]);
        assert_eq!(groups[1].rate, "2.8%");
        // Prose parentheses belong to the rate; an empty code from "B,C," is dropped.
        let groups = special_groups(
            "Free (AU,BH) A duty upon the value (see U.S. note 3 of this subchapter) (B,C,)",
        );
        assert_eq!(
            groups[1].rate,
            "A duty upon the value (see U.S. note 3 of this subchapter)"
        );
        assert_eq!(groups[1].codes, ["B", "C"]);
        // Footnote-like and unbalanced text does not crash.
        let groups = special_groups("Free (BH,CL) See 9919.04.50, 9919.04.57 (PA (PA)");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1].codes, ["PA"]);
        assert!(special_groups("Free (See U.S. note 4 of this subchapter)").is_empty());
        assert!(
            special_groups("No change (A) Free (CA,IL, MX) See U.S. note 3(e) (CO,PE)").len() == 3
        );
        assert!(special_groups(")(((").is_empty());
    }

    fn row<'a>(general: &'a str, special: &'a str, other: &'a str) -> RateRow<'a> {
        RateRow {
            general,
            special,
            other,
            unit: Some("No."),
            rated_code: "0000.00.00",
        }
    }

    #[test]
    fn pick_chooses_column2_then_special_then_general() {
        let r = row("6.8%", "Free (A+,AU,S) 3.4% (KR)", "15%");
        assert_eq!(
            pick(&r, true, "KR"),
            (RateColumn::Column2, "15%".to_owned())
        );
        assert_eq!(
            pick(&r, false, "KR"),
            (RateColumn::Special("KR".into()), "3.4%".to_owned())
        );
        assert_eq!(
            pick(&r, false, "au"),
            (RateColumn::Special("AU".into()), "Free".to_owned())
        );
        assert_eq!(
            pick(&r, false, "A+"),
            (RateColumn::Special("A+".into()), "Free".to_owned())
        );
        // "A" is not "A+": general.
        assert_eq!(
            pick(&r, false, "A"),
            (RateColumn::General, "6.8%".to_owned())
        );
        assert_eq!(
            pick(&r, false, ""),
            (RateColumn::General, "6.8%".to_owned())
        );
        assert_eq!(
            pick(&r, false, "JP"),
            (RateColumn::General, "6.8%".to_owned())
        );
        assert_eq!(RateColumn::Special("KR".into()).to_string(), "special:KR");
        assert_eq!(RateColumn::Column2.to_string(), "column2");
        assert_eq!(RateColumn::General.to_string(), "general");
    }

    #[test]
    fn fraction_percent_and_line_breaks() {
        // 33 1/3% of 10.00 = 3.333... -> 3.33; of 0.03 = 0.01 exactly.
        assert_eq!(amount("33 1/3%", &q("10", None, None, None)), Ok(d("3.33")));
        assert_eq!(
            amount("33 1/3%", &q("0.03", None, None, None)),
            Ok(d("0.01"))
        );
        assert_eq!(Percent::parse("33 1/3%").unwrap().to_string(), "33 1/3%");
        assert_eq!(Percent::parse("2/3%").unwrap().to_string(), "2/3%");
        for bad in ["1/0%", "1.5 1/3%", "1/3/4%", "a 1/3%", "1 /3%x"] {
            assert!(Percent::parse(bad).is_err(), "{bad}");
        }
        // "$2.50/thou- sand" as printed: $2.50 per thousand.
        let r = parse("$2.50/thou- sand + 40%").unwrap();
        assert_eq!(r.text(), "$2.50/thousand + 40%");
        assert_eq!(
            r.amount(&q("10", Some("2"), None, Some("thousands"))),
            Ok(d("9.00"))
        );
        assert!(parse("The rate of duty appli- cable to that article").is_err());
    }

    #[test]
    fn percent_parses_and_prints() {
        let p = Percent::parse("0.3464%").unwrap();
        assert_eq!(p.to_string(), "0.3464%");
        assert_eq!(Percent::parse(" 25 %").unwrap().to_string(), "25%");
        assert_eq!(Percent::parse("7.50%").unwrap().to_string(), "7.5%");
        assert_eq!(Percent::parse(".5%").unwrap().to_string(), "0.5%");
        for bad in ["25", "25%%", "-5%", "abc%", "%", "1e2%", "$5%"] {
            assert!(Percent::parse(bad).is_err(), "{bad}");
        }
        // 0.3464% x 1000.00 = 3.464 -> 3.46; x 1001.45 = 3.46902... -> 3.47.
        assert_eq!(p.of_rounded(d("1000")), d("3.46"));
        assert_eq!(p.of_rounded(d("1001.45")), d("3.47"));
    }

    #[test]
    fn unit_keys_follow_the_contract() {
        for (a, b) in [
            ("pr.", "prs."),
            ("liter", "liters"),
            ("doz", "doz."),
            ("No.", "no"),
            ("m²", "m2"),
            ("pf. liter", "pf.liters"),
        ] {
            assert_eq!(unit_key(a), unit_key(b), "{a} = {b}");
        }
        assert_ne!(unit_key("doz."), unit_key("doz. prs."));
        assert_ne!(unit_key("kg"), unit_key("clean kg"));
    }
}
