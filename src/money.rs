//! Exact decimal money.
//!
//! Every amount s321d compares or adds is a fixed-point `i128` holding units of
//! 10^-[`SCALE`]: twelve decimal places, and `799.99 + 0.01 == 800.00` always
//! holds. Binary floats never touch money.
//!
//! FX rates are not amounts: a [`Rate`] keeps its text's digits exactly, at
//! its own scale (up to 38 significant digits; a rate with more is rounded up
//! at the 38th), and [`convert`] multiplies in 256 bits, so a value times a rate
//! is exact before it is brought to twelve decimals. (A rate rounded to twelve
//! decimals first would be wrong by up to 10^-12 per unit of currency: 300,000
//! yen at `0.0026666666666666` would come to 800.0000001 instead of
//! 799.99999999998.)
//!
//! An input with more than twelve decimals, or an FX product with more, is
//! rounded *up* (toward +infinity) at the twelfth. Every limit the rules
//! compare with has at most twelve decimals, and for such a limit `x > limit`
//! and `x <= limit` give the same answer for the rounded-up amount as for the
//! exact one: `800.0000000000001` is above 800, `-0.0000000000001` is not above
//! zero. What stays inexact is a *sum* of several such amounts (each adds less
//! than 10^-12 too much: a total can only come out above a limit it exactly
//! meets, never below one it exceeds) and printing them.
//!
//! Headroom: an `i128` at twelve decimals holds 1.7 x 10^26. A declared value
//! is refused past 10^15 ([`MAX_DECLARED`]), so even a million lines at that
//! size times a rate of 1,000 sum to 10^33, far inside it. (Polars sums wrap
//! on overflow; this bound is what keeps them from it.) A larger scale would
//! not fit [`mul`], which computes a product of two amounts at twice the scale.

use std::fmt::Write as _;

/// Decimal places of every fixed-point amount.
pub const SCALE: u32 = 12;
/// 10^SCALE: one whole unit.
pub const ONE: i128 = 1_000_000_000_000;
/// A declared value must be below 10^15 (a quadrillion): beyond that it could
/// make a total overflow (see the module notes), so it does not parse.
pub const MAX_DECLARED: i128 = 1_000_000_000_000_000 * ONE;

/// Why a text could not be read as a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Empty after trimming.
    Empty,
    /// Not of the form `[+-]digits[.digits]`.
    Syntax,
    /// Too many digits to hold exactly (for a declared value: not below
    /// [`MAX_DECLARED`]).
    Overflow,
}

/// Parses a plain decimal (`12`, `-0.5`, `.25`, `7.`) into fixed point,
/// rounding up (toward +infinity) beyond twelve decimals.
/// No exponents, no `NaN`, no separators: callers strip `$` and `,` first.
pub fn parse_decimal(text: &str) -> Result<i128, DecimalError> {
    parse_untrimmed(text.trim())
}

/// [`parse_decimal`] of text that must be nothing but the number: white space
/// anywhere is a syntax error.
fn parse_untrimmed(s: &str) -> Result<i128, DecimalError> {
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match body.find('.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (body, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(DecimalError::Syntax);
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(DecimalError::Syntax);
    }
    let mut units: i128 = 0;
    for b in int_part.bytes() {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i128::from(b - b'0')))
            .ok_or(DecimalError::Overflow)?;
    }
    units = units.checked_mul(ONE).ok_or(DecimalError::Overflow)?;
    let mut place = ONE;
    let frac = frac_part.as_bytes();
    for (i, b) in frac.iter().enumerate() {
        place /= 10;
        if place == 0 {
            // Beyond twelve decimals: toward +infinity, so that comparisons
            // with a limit stay exact (module notes). For a negative number
            // that means dropping the digits.
            if !negative && frac[i..].iter().any(|d| *d != b'0') {
                units = units.checked_add(1).ok_or(DecimalError::Overflow)?;
            }
            break;
        }
        units = units
            .checked_add(i128::from(b - b'0') * place)
            .ok_or(DecimalError::Overflow)?;
    }
    Ok(if negative { -units } else { units })
}

/// Multiplies two fixed-point amounts, rounding the product up (toward
/// +infinity) back to [`SCALE`], as [`parse_decimal`] does. `None` on overflow.
/// FX conversion goes through [`convert`], which keeps a rate's every digit.
pub fn mul(a: i128, b: i128) -> Option<i128> {
    let (neg, a, b) = ((a < 0) != (b < 0), a.unsigned_abs(), b.unsigned_abs());
    // a*b can exceed u128: split b into its whole and fractional parts.
    let (bh, bl) = (b / ONE as u128, b % ONE as u128);
    let high = a.checked_mul(bh)?; // already at SCALE
    let low = a.checked_mul(bl)?; // at 2*SCALE
    let (q, r) = (low / ONE as u128, low % ONE as u128);
    // Up for a positive product; for a negative one, dropping `r` is up.
    let q = if r > 0 && !neg { q + 1 } else { q };
    let total = i128::try_from(high.checked_add(q)?).ok()?;
    Some(if neg { -total } else { total })
}

/// Most significant digits a [`Rate`] holds exactly (`u128` holds every
/// 38-digit number).
pub const RATE_DIGITS: usize = 38;

/// An FX rate (USD per unit of a currency), exact as written: `units / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    units: u128,
    scale: u32,
}

impl Rate {
    /// One to one (USD).
    pub const ONE: Rate = Rate { units: 1, scale: 0 };

    /// The rate as a fixed-point amount at [`SCALE`], rounded up (for display
    /// and for callers that work in fixed point). `None` if too large.
    pub fn to_fixed(self) -> Option<i128> {
        convert(ONE, self)
    }
}

/// Parses an FX rate: a plain, non-negative decimal (`0.0067`, `+1.08`, `2`),
/// kept exact up to [`RATE_DIGITS`] significant digits and rounded up
/// (toward +infinity) beyond them. Same syntax as [`parse_decimal`], without
/// a minus sign.
pub fn parse_rate(text: &str) -> Result<Rate, DecimalError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    let body = s.strip_prefix('+').unwrap_or(s);
    let (int_part, frac_part) = match body.find('.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (body, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(DecimalError::Syntax);
    }
    let frac_part = frac_part.trim_end_matches('0');
    let mut units: u128 = 0;
    for b in int_part.bytes() {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(u128::from(b - b'0')))
            .ok_or(DecimalError::Overflow)?;
    }
    let mut scale = 0u32;
    for b in frac_part.bytes() {
        match units
            .checked_mul(10)
            .and_then(|u| u.checked_add(u128::from(b - b'0')))
        {
            Some(u) => {
                units = u;
                scale += 1;
            }
            // Past 38 digits: up, at the last digit kept (what is left is not
            // all zeros, as trailing zeros are gone).
            None => {
                units = units.checked_add(1).ok_or(DecimalError::Overflow)?;
                break;
            }
        }
    }
    Ok(Rate { units, scale })
}

/// Converts a fixed-point amount with an FX rate: the exact product (256-bit),
/// rounded up (toward +infinity) to [`SCALE`], as [`parse_decimal`] does.
/// `None` if the result does not fit.
pub fn convert(value: i128, rate: Rate) -> Option<i128> {
    let neg = value < 0;
    let product = mul_wide(value.unsigned_abs(), rate.units);
    let (q, inexact) = div_pow10(product, rate.scale);
    if q[2] != 0 || q[3] != 0 {
        return None;
    }
    let q = (u128::from(q[1]) << 64) | u128::from(q[0]);
    // Up for a positive product; for a negative one, dropping the rest is up.
    let q = if inexact && !neg {
        q.checked_add(1)?
    } else {
        q
    };
    let q = i128::try_from(q).ok()?;
    Some(if neg { -q } else { q })
}

/// `a * b` as four 64-bit limbs, least significant first.
fn mul_wide(a: u128, b: u128) -> [u64; 4] {
    let (a0, a1) = (u128::from(a as u64), a >> 64);
    let (b0, b1) = (u128::from(b as u64), b >> 64);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + u128::from(p01 as u64) + u128::from(p10 as u64);
    // The product is below 2^256, so its high half fits: no overflow here.
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    [p00 as u64, mid as u64, high as u64, (high >> 64) as u64]
}

/// `n / 10^exp`, truncated, and whether anything was cut off.
fn div_pow10(mut n: [u64; 4], mut exp: u32) -> ([u64; 4], bool) {
    let mut inexact = false;
    while exp > 0 && n != [0; 4] {
        let k = exp.min(19);
        exp -= k;
        let d = u128::from(10u64.pow(k));
        let mut rem: u128 = 0;
        for limb in n.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / d) as u64;
            rem = cur % d;
        }
        inexact |= rem != 0;
    }
    (n, inexact)
}

/// Formats a fixed-point amount with at least two decimals and no trailing zeros
/// beyond them: `800.00`, `864.00`, `10.125`. Exact: nothing is rounded away.
pub fn format(units: i128) -> String {
    let mut out = String::with_capacity(24);
    write_to(&mut out, units);
    out
}

/// [`format`] into an existing buffer.
pub fn write_to(out: &mut String, units: i128) {
    if units < 0 {
        out.push('-');
    }
    let abs = units.unsigned_abs();
    let (int, frac) = (abs / ONE as u128, abs % ONE as u128);
    let _ = write!(out, "{int}.");
    let mut digits = format!("{frac:012}");
    while digits.len() > 2 && digits.ends_with('0') {
        digits.pop();
    }
    out.push_str(&digits);
}

/// Parses a declared value as contract section 4 says: trim, drop one leading
/// `$`, drop `,` thousands separators, then a decimal number, below
/// [`MAX_DECLARED`] in size. Only the whole text is trimmed: `$ 5` is not a
/// number (after the `$` comes a space, not a decimal).
pub fn parse_declared_value(raw: &str) -> Result<i128, DecimalError> {
    let s = raw.trim();
    let s = s.strip_prefix('$').unwrap_or(s);
    let units = if s.contains(',') {
        if !us_thousands(s) {
            // `1.234,50` or `8,00` is not a US amount: refuse it rather than
            // read 1.2345 or 800 (issue 11).
            return Err(DecimalError::Syntax);
        }
        parse_untrimmed(&s.replace(',', ""))
    } else {
        parse_untrimmed(s)
    }?;
    if units.unsigned_abs() >= MAX_DECLARED.unsigned_abs() {
        return Err(DecimalError::Overflow);
    }
    Ok(units)
}

/// Whether the commas in `s` are US thousands separators only: an optional
/// sign, one to three digits, then groups of `,ddd`, then an optional
/// fraction (`^[+-]?\d{1,3}(,\d{3})*(\.\d*)?$`).
fn us_thousands(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut groups = int.split(',');
    let head = groups.next().unwrap_or("");
    let digits = |g: &str| g.bytes().all(|b| b.is_ascii_digit());
    (1..=3).contains(&head.len())
        && digits(head)
        && groups.all(|g| g.len() == 3 && digits(g))
        && digits(frac)
}

/// Whole dollars as CATAIR value fields want them: half-up to the nearest dollar.
pub fn whole_dollars(units: i128) -> i128 {
    let half = ONE / 2;
    if units >= 0 {
        (units + half) / ONE
    } else {
        -((-units + half) / ONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> i128 {
        parse_decimal(s).unwrap()
    }

    #[test]
    fn parses_plain_decimals_exactly() {
        assert_eq!(d("800"), 800 * ONE);
        assert_eq!(d("800.00"), 800 * ONE);
        assert_eq!(d("800.01"), 800 * ONE + ONE / 100);
        assert_eq!(d(".5"), ONE / 2);
        assert_eq!(d("7."), 7 * ONE);
        assert_eq!(d("-0.25"), -ONE / 4);
        assert_eq!(d("+3"), 3 * ONE);
        assert_eq!(d("  12.5  "), 12 * ONE + ONE / 2);
    }

    #[test]
    fn binary_float_traps_do_not_exist() {
        assert_eq!(d("799.99") + d("0.01"), d("800.00"));
        assert_eq!(d("0.1") + d("0.2"), d("0.3"));
        assert!(d("800.01") > d("800"));
        assert!(d("800.00") <= d("800"));
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for bad in [
            "", " ", "abc", "1e3", "NaN", "1.2.3", "-", ".", "1 000", "$5", "1,5", "0x10",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(
            parse_decimal("99999999999999999999999999999999"),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn rounds_up_beyond_twelve_decimals() {
        assert_eq!(d("0.0000000000005"), 1);
        assert_eq!(d("0.0000000000015"), 2);
        assert_eq!(
            d("0.00000000000100"),
            1,
            "zeros beyond the twelfth change nothing"
        );
        assert_eq!(d("-0.0000000000015"), -1);
        assert_eq!(d("-0.0000000000001"), 0);
    }

    #[test]
    fn comparisons_with_a_limit_are_exact_beyond_twelve_decimals() {
        let limit = d("800");
        assert!(d("800.0000000000001") > limit);
        assert!(d("800.00000000000000000000000001") > limit);
        assert!(d("800.000000000000000") <= limit);
        assert!(d("799.9999999999999999") <= limit);
        assert!(
            d("0.0000000000000001") > 0,
            "a positive value is above zero"
        );
        assert!(d("-0.0000000000000001") <= 0);
        // FX products too: 740.740740740741 * 1.08 = 800.00000000000028.
        assert!(mul(d("740.740740740741"), d("1.08")).unwrap() > limit);
        assert!(mul(d("-740.740740740741"), d("1.08")).unwrap() <= -limit);
    }

    #[test]
    fn declared_values_strip_dollar_and_separators() {
        assert_eq!(parse_declared_value("$1,234.50"), Ok(1234 * ONE + ONE / 2));
        assert_eq!(parse_declared_value(" $800.00 "), Ok(800 * ONE));
        assert_eq!(parse_declared_value("1,000,000"), Ok(1_000_000 * ONE));
        assert!(parse_declared_value("$$5").is_err());
        assert!(parse_declared_value("-$5").is_err());
        assert!(parse_declared_value("USD 5").is_err());
        for spaced in ["$ 5", "$\t5", "1, 000", "$5 .00", "5 ,000"] {
            assert_eq!(
                parse_declared_value(spaced),
                Err(DecimalError::Syntax),
                "{spaced:?}"
            );
        }
        assert_eq!(parse_declared_value("\t$5 "), Ok(5 * ONE));
        // A comma is only a US thousands separator.
        for european in [
            "1.234,50",
            "8,00",
            "1,23",
            "12,3456",
            ",500",
            "1,,000",
            "1234,567",
            "1,000.5,0",
        ] {
            assert_eq!(
                parse_declared_value(european),
                Err(DecimalError::Syntax),
                "{european:?}"
            );
        }
        assert_eq!(
            parse_declared_value("12,345,678.9"),
            Ok(12_345_678 * ONE + 9 * ONE / 10)
        );
        assert_eq!(parse_declared_value("-1,000"), Ok(-1000 * ONE));
        assert_eq!(parse_declared_value("$"), Err(DecimalError::Empty));
        assert_eq!(
            parse_declared_value("999,999,999,999,999.99"),
            Ok(MAX_DECLARED - ONE / 100)
        );
        assert_eq!(
            parse_declared_value("1000000000000000"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            parse_declared_value("-1000000000000000"),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn multiplies_exactly_for_fx() {
        assert_eq!(mul(d("740.75"), d("1.08")), Some(d("800.01")));
        assert_eq!(mul(d("119403"), d("0.0067")), Some(d("800.0001")));
        assert_eq!(mul(d("-2"), d("1.5")), Some(d("-3")));
        assert_eq!(mul(d("0.000001"), d("0.0000005")), Some(1)); // 5e-13 rounds up
        assert_eq!(mul(d("-0.000001"), d("0.0000005")), Some(0)); // -5e-13 too
        assert_eq!(mul(i128::MAX / 2, d("10")), None);
    }

    fn r(s: &str) -> Rate {
        parse_rate(s).unwrap()
    }

    #[test]
    fn fx_rates_are_exact_past_twelve_decimals() {
        // 300000 * 0.0026666666666666 = 799.99999999998, not over 800.
        let usd = convert(d("300000"), r("0.0026666666666666")).unwrap();
        assert_eq!(usd, d("799.99999999998"));
        assert!(usd <= d("800"));
        assert_eq!(
            convert(d("1"), r("0.000000000000000000000000000001")),
            Some(1),
            "1e-30 rounds up to one unit"
        );
        assert_eq!(
            convert(
                d("1000000000000000000000"),
                r("0.000000000000000000000000000001")
            ),
            Some(1000)
        );
        assert_eq!(convert(d("740.75"), r("1.08")), Some(d("800.01")));
        assert_eq!(convert(d("119403"), r("+0.0067000")), Some(d("800.0001")));
        assert_eq!(convert(d("2"), r("3")), Some(d("6")));
        assert_eq!(convert(d("-2"), r("1.5")), Some(d("-3")));
        assert_eq!(
            convert(d("0.000001"), r("0.0000005")),
            Some(1),
            "5e-13 rounds up"
        );
        assert_eq!(convert(d("-0.000001"), r("0.0000005")), Some(0));
        assert_eq!(convert(d("5"), Rate::ONE), Some(d("5")));
        assert_eq!(convert(i128::MAX / 2, r("10")), None);
        assert_eq!(
            convert(i128::MAX, r("99999999999999999999999999999999999999")),
            None
        );
        assert_eq!(
            r("0.0026666666666666").to_fixed(),
            Some(d("0.002666666667"))
        );
    }

    #[test]
    fn fx_rates_hold_38_digits_and_round_up_past_them() {
        let nines = format!("0.{}", "9".repeat(40));
        assert_eq!(
            r(&nines),
            Rate {
                units: 10u128.pow(38),
                scale: 38
            },
            "38 nines kept, then up"
        );
        let third = format!("0.{}", "3".repeat(38));
        assert_eq!(
            r(&third),
            Rate {
                units: "3".repeat(38).parse().unwrap(),
                scale: 38
            }
        );
        assert_eq!(
            r("1.5000"),
            Rate {
                units: 15,
                scale: 1
            }
        );
        assert_eq!(r("007"), Rate { units: 7, scale: 0 });
        for bad in ["", "-1", "1e3", "1.2.3", ".", "$1", "1,5"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_rate(&"9".repeat(40)), Err(DecimalError::Overflow));
        // Rounded up, a rate converts to at least the exact product.
        assert!(convert(d("3"), r(&third)).unwrap() >= d("1"));
    }

    #[test]
    fn formats_with_two_or_more_decimals() {
        assert_eq!(format(d("800")), "800.00");
        assert_eq!(format(d("864.0000")), "864.00");
        assert_eq!(format(d("10.125")), "10.125");
        assert_eq!(format(d("0.5")), "0.50");
        assert_eq!(format(d("-3.1")), "-3.10");
        assert_eq!(format(0), "0.00");
    }

    #[test]
    fn whole_dollars_round_half_up() {
        assert_eq!(whole_dollars(d("12.49")), 12);
        assert_eq!(whole_dollars(d("12.50")), 13);
        assert_eq!(whole_dollars(d("-12.50")), -13);
    }
}
