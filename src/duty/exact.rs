//! Exact decimal sums for duty and fee amounts, and their one rounding to the
//! cent.
//!
//! A percentage of a twelve-decimal money amount can have more than twelve
//! decimals (`0.3464% x 100.000000000001`), and a compound rate adds several
//! such products before it is rounded once (contract section 9 step 6). An
//! [`Exact`] holds `±magnitude / 10^scale` with a 256-bit magnitude, so every
//! product of two `i128`/`u128` numbers and their sums stay exact; a small
//! integer denominator besides the power of ten keeps fractions such as the
//! `33 1/3%` of the schedule exact too. Only [`round_half_up_cents`] gives
//! anything away. No floats anywhere.

use std::cmp::Ordering;

use crate::money;

/// A 256-bit unsigned integer: four 64-bit limbs, least significant first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct U256([u64; 4]);

impl U256 {
    const ZERO: U256 = U256([0; 4]);

    fn from_u128(x: u128) -> U256 {
        U256([x as u64, (x >> 64) as u64, 0, 0])
    }

    /// The full product of two `u128`s (never overflows 256 bits).
    fn product(a: u128, b: u128) -> U256 {
        let (a0, a1) = (u128::from(a as u64), a >> 64);
        let (b0, b1) = (u128::from(b as u64), b >> 64);
        let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
        let mid = (p00 >> 64) + u128::from(p01 as u64) + u128::from(p10 as u64);
        let high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        U256([p00 as u64, mid as u64, high as u64, (high >> 64) as u64])
    }

    fn checked_mul_u64(self, m: u64) -> Option<U256> {
        let mut out = [0u64; 4];
        let mut carry: u128 = 0;
        for (o, limb) in out.iter_mut().zip(self.0) {
            let cur = u128::from(limb) * u128::from(m) + carry;
            *o = cur as u64;
            carry = cur >> 64;
        }
        (carry == 0).then_some(U256(out))
    }

    /// `self * 10^exp`, `None` past 256 bits.
    fn checked_mul_pow10(mut self, mut exp: u32) -> Option<U256> {
        while exp > 0 {
            let k = exp.min(19);
            exp -= k;
            self = self.checked_mul_u64(10u64.pow(k))?;
        }
        Some(self)
    }

    fn checked_add(self, other: U256) -> Option<U256> {
        let mut out = self.0;
        let mut carry = false;
        for (o, b) in out.iter_mut().zip(other.0) {
            let (s1, c1) = o.overflowing_add(b);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *o = s2;
            carry = c1 || c2;
        }
        (!carry).then_some(U256(out))
    }

    /// `self - other`; the caller ensures `self >= other`.
    fn sub(self, other: U256) -> U256 {
        let mut out = self.0;
        let mut borrow = false;
        for (o, b) in out.iter_mut().zip(other.0) {
            let (d1, b1) = o.overflowing_sub(b);
            let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
            *o = d2;
            borrow = b1 || b2;
        }
        U256(out)
    }

    fn cmp(&self, other: &U256) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }

    /// `self / 10^exp`, truncated.
    fn div_pow10(mut self, mut exp: u32) -> U256 {
        while exp > 0 && self != U256::ZERO {
            let k = exp.min(19);
            exp -= k;
            let d = u128::from(10u64.pow(k));
            let mut rem: u128 = 0;
            for limb in self.0.iter_mut().rev() {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / d) as u64;
                rem = cur % d;
            }
        }
        self
    }

    /// `self / d`, truncated (`d > 0`).
    fn div_u64(mut self, d: u64) -> U256 {
        let d = u128::from(d);
        let mut rem: u128 = 0;
        for limb in self.0.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / d) as u64;
            rem = cur % d;
        }
        self
    }

    fn to_u128(self) -> Option<u128> {
        (self.0[2] == 0 && self.0[3] == 0)
            .then(|| (u128::from(self.0[1]) << 64) | u128::from(self.0[0]))
    }
}

/// An exact amount of US dollars: `±magnitude / (10^scale x den)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    negative: bool,
    magnitude: U256,
    scale: u32,
    /// Besides the power of ten; 1 for every decimal amount.
    den: u64,
}

impl Exact {
    /// Zero dollars.
    pub const ZERO: Exact = Exact {
        negative: false,
        magnitude: U256::ZERO,
        scale: 0,
        den: 1,
    };

    /// A fixed-point money amount ([`money::SCALE`] decimals).
    pub fn from_money(units: i128) -> Exact {
        Exact::decimal(units, money::SCALE)
    }

    /// `units / 10^scale` dollars.
    pub fn decimal(units: i128, scale: u32) -> Exact {
        Exact::fraction(units, scale, 1, 0, 1)
    }

    /// `(a / 10^a_scale) x (b / 10^b_scale)` dollars, exactly.
    pub fn product(a: i128, a_scale: u32, b: u128, b_scale: u32) -> Exact {
        Exact::fraction(a, a_scale, b, b_scale, 1)
    }

    /// `(a / 10^a_scale) x (b / (10^b_scale x den))` dollars, exactly
    /// (`33 1/3%` of `a` is `b = 100`, `b_scale = 2`, `den = 3`). A `den` of 0
    /// reads as 1.
    pub fn fraction(a: i128, a_scale: u32, b: u128, b_scale: u32, den: u64) -> Exact {
        let magnitude = U256::product(a.unsigned_abs(), b);
        Exact {
            negative: a < 0 && magnitude != U256::ZERO,
            magnitude,
            scale: a_scale + b_scale,
            den: den.max(1),
        }
    }

    /// The exact sum; `None` only past 256 bits (far beyond any real amount).
    pub fn checked_add(self, other: Exact) -> Option<Exact> {
        let scale = self.scale.max(other.scale);
        // Common denominator: 10^scale x den, den the product of unequal dens.
        let (den, fa, fb) = if self.den == other.den {
            (self.den, 1, 1)
        } else {
            (self.den.checked_mul(other.den)?, other.den, self.den)
        };
        let a = self
            .magnitude
            .checked_mul_pow10(scale - self.scale)?
            .checked_mul_u64(fa)?;
        let b = other
            .magnitude
            .checked_mul_pow10(scale - other.scale)?
            .checked_mul_u64(fb)?;
        let (negative, magnitude) = if self.negative == other.negative {
            (self.negative, a.checked_add(b)?)
        } else {
            match a.cmp(&b) {
                Ordering::Less => (other.negative, b.sub(a)),
                _ => (self.negative, a.sub(b)),
            }
        };
        Some(Exact {
            negative: negative && magnitude != U256::ZERO,
            magnitude,
            scale,
            den,
        })
    }
}

/// Rounds an exact amount half-up to the cent (`0.005` -> `0.01`; a negative
/// amount rounds away from zero the same way, `-0.005` -> `-0.01`) and returns
/// it in money units. Saturates at the `i128` range, which no amount computed
/// from declared values (below [`money::MAX_DECLARED`]) comes near.
pub fn round_half_up_cents(exact: Exact) -> i128 {
    const CENTS_TO_UNITS: i128 = money::ONE / 100;
    // In cents, x = magnitude x 10^(2 - scale) / den. round(x) = floor((floor(2x)
    // + 1) / 2) for x >= 0, and truncating divisions compose, so integer
    // division gives floor(2x) exactly.
    let small = exact.magnitude.to_u128().filter(|m| *m < 1 << 126);
    let twice = match small {
        // The common case: one or two u128 divisions.
        Some(m) if (2..=40).contains(&exact.scale) => {
            let q = 2 * m / 10u128.pow(exact.scale - 2) / u128::from(exact.den);
            Some(U256::from_u128(q))
        }
        _ => exact
            .magnitude
            .checked_mul_u64(2)
            .and_then(|m| m.checked_mul_pow10(2u32.saturating_sub(exact.scale)))
            .map(|m| {
                m.div_pow10(exact.scale.saturating_sub(2))
                    .div_u64(exact.den)
            }),
    };
    let units = twice
        .and_then(U256::to_u128)
        .map(|q| q / 2 + q % 2)
        .and_then(|c| i128::try_from(c).ok())
        .and_then(|c| c.checked_mul(CENTS_TO_UNITS))
        .unwrap_or(i128::MAX);
    if exact.negative { -units } else { units }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> i128 {
        money::parse_decimal(s).unwrap()
    }

    #[test]
    fn rounds_half_up_at_the_half_cent() {
        assert_eq!(
            round_half_up_cents(Exact::from_money(d("1.005"))),
            d("1.01")
        );
        assert_eq!(
            round_half_up_cents(Exact::from_money(d("1.004999999999"))),
            d("1.00")
        );
        assert_eq!(
            round_half_up_cents(Exact::from_money(d("0.005"))),
            d("0.01")
        );
        assert_eq!(
            round_half_up_cents(Exact::from_money(d("2.675"))),
            d("2.68")
        );
        assert_eq!(
            round_half_up_cents(Exact::from_money(d("-0.005"))),
            d("-0.01")
        );
        assert_eq!(round_half_up_cents(Exact::from_money(d("-0.0049"))), 0);
        assert_eq!(round_half_up_cents(Exact::decimal(7, 0)), d("7"));
        assert_eq!(round_half_up_cents(Exact::decimal(75, 1)), d("7.5"));
        assert_eq!(round_half_up_cents(Exact::ZERO), 0);
    }

    #[test]
    fn products_keep_digits_beyond_twelve_decimals() {
        // 0.000000000001 x 0.5 = 5e-13: below a cent either way, but exact.
        let p = Exact::product(1, 12, 5, 1);
        assert_eq!(p.scale, 13);
        // 100.005 exactly only after the sum: 100 + 0.004999999999999 + 1e-15
        // rounds to 100.00, while 0.0050000000000005 rounds up.
        let below = Exact::from_money(d("100"))
            .checked_add(Exact::decimal(4_999_999_999_999, 15))
            .unwrap();
        assert_eq!(round_half_up_cents(below), d("100.00"));
        let at = below.checked_add(Exact::decimal(1, 15)).unwrap();
        assert_eq!(round_half_up_cents(at), d("100.01"));
    }

    #[test]
    fn sums_of_mixed_signs_are_exact() {
        let a = Exact::from_money(d("5.25"));
        let b = Exact::decimal(-525, 2);
        let zero = a.checked_add(b).unwrap();
        assert_eq!(round_half_up_cents(zero), 0);
        assert!(!zero.negative);
        let c = b.checked_add(Exact::decimal(1, 3)).unwrap(); // -5.249
        assert_eq!(round_half_up_cents(c), d("-5.25"));
    }

    #[test]
    fn large_scales_take_the_wide_path_with_the_same_rounding() {
        // 1 x 0.005 at scale 50 (beyond the u128 fast path) -> 0.01.
        let one = 10i128.pow(25);
        assert_eq!(
            round_half_up_cents(Exact::product(one, 25, 5 * 10u128.pow(22), 25)),
            d("0.01")
        );
        let just_below = 5 * 10u128.pow(22) - 1;
        assert_eq!(
            round_half_up_cents(Exact::product(one, 25, just_below, 25)),
            0
        );
        // And a fraction there too: 1 x 0.015 / 3 = 0.005 -> 0.01.
        assert_eq!(
            round_half_up_cents(Exact::fraction(one, 25, 15 * 10u128.pow(22), 25, 3)),
            d("0.01")
        );
    }

    #[test]
    fn fractions_are_exact() {
        // 33 1/3% of 10.00 = 3.3333... -> 3.33; of 0.015 = 0.005 -> 0.01.
        let third = |v: &str| Exact::fraction(d(v), 12, 100, 2, 3);
        assert_eq!(round_half_up_cents(third("10")), d("3.33"));
        assert_eq!(round_half_up_cents(third("0.015")), d("0.01"));
        assert_eq!(round_half_up_cents(third("0.0149999")), 0);
        // 0.01 + 0.04/2 = 0.03, with different denominators.
        let a = Exact::fraction(d("0.01"), 12, 1, 0, 1);
        let b = Exact::fraction(d("0.04"), 12, 1, 0, 2);
        assert_eq!(round_half_up_cents(a.checked_add(b).unwrap()), d("0.03"));
        // 0.03/6 = 0.005 -> 0.01; minus 0.03/7 (0.0042857...) = 0.000714... -> 0.00.
        let sixth = Exact::fraction(d("0.03"), 12, 1, 0, 6);
        assert_eq!(round_half_up_cents(sixth), d("0.01"));
        let less = sixth
            .checked_add(Exact::fraction(d("-0.03"), 12, 1, 0, 7))
            .unwrap();
        assert_eq!(round_half_up_cents(less), 0);
    }

    #[test]
    fn wide_products_do_not_overflow() {
        // 10^15 dollars (the declared-value ceiling) x 1,000,000% stays exact.
        let value = money::MAX_DECLARED;
        let p = Exact::product(value, money::SCALE, 1_000_000, 2);
        assert_eq!(round_half_up_cents(p), value.checked_mul(10_000).unwrap());
        assert_eq!(
            round_half_up_cents(Exact::product(i128::MAX, 0, u128::MAX, 0)),
            i128::MAX
        );
    }
}
