//! Entry fees (contract section 9 step 7): the merchandise processing fee from
//! the `[[fees.mpf]]` row that covers the arrival date, and the harbor
//! maintenance fee on ocean arrivals.
//!
//! A date no row covers has an unknown MPF: never the figure of another
//! fiscal year (domain brief 8.3). Entries and their types are not decided
//! here; callers say which kind of entry pays.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::rate::Percent;

/// One fiscal year of MPF figures (all money in money units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpfRow {
    /// The row covers `from <= date < to`.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Per informal entry (type 11).
    pub informal_usd: i128,
    /// Formal entries (01, 03): rate x entered value ...
    pub formal_rate: Percent,
    /// ... clamped to `[formal_min_usd, formal_max_usd]`.
    pub formal_min_usd: i128,
    pub formal_max_usd: i128,
}

/// The fees of one entry, in money units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// `None`: no `[[fees.mpf]]` row covers the date, the fee is unknown.
    pub mpf: Option<i128>,
    pub hmf: i128,
}

/// Which MPF an entry pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeEntryType {
    /// Type 11.
    Informal,
    /// Types 01 and 03.
    Formal,
}

/// The `[fees]` table, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeTable {
    /// `None`: no HMF configured, none charged.
    pub hmf_rate: Option<Percent>,
    /// Ports where the informal entry fee is not charged.
    pub informal_exempt_ports: BTreeSet<String>,
    /// Sorted by `from`, not overlapping.
    pub mpf: Vec<MpfRow>,
}

impl FeeTable {
    /// How many `[[fees.mpf]]` rows (fiscal years) the table holds.
    pub fn years(&self) -> usize {
        self.mpf.len()
    }

    /// The MPF row covering `date`.
    pub fn mpf_row(&self, date: NaiveDate) -> Option<&MpfRow> {
        let i = self
            .mpf
            .partition_point(|r| r.from <= date)
            .checked_sub(1)?;
        let row = &self.mpf[i];
        (date < row.to).then_some(row)
    }

    /// The fees of one entry: `entered_value` is the entry's total (money
    /// units), `port` its port of entry, `ocean` whether its first line
    /// arrived by ocean.
    pub fn fees(
        &self,
        kind: FeeEntryType,
        date: NaiveDate,
        port: &str,
        entered_value: i128,
        ocean: bool,
    ) -> Fees {
        let mpf = self.mpf_row(date).map(|row| match kind {
            FeeEntryType::Informal if self.informal_exempt_ports.contains(port.trim()) => 0,
            FeeEntryType::Informal => row.informal_usd,
            FeeEntryType::Formal => row
                .formal_rate
                .of_rounded(entered_value)
                .clamp(row.formal_min_usd, row.formal_max_usd),
        });
        let hmf = match (&self.hmf_rate, ocean) {
            (Some(rate), true) => rate.of_rounded(entered_value),
            _ => 0,
        };
        Fees { mpf, hmf }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money;

    fn d(s: &str) -> i128 {
        money::parse_decimal(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn table() -> FeeTable {
        FeeTable {
            hmf_rate: Some(Percent::parse("0.125%").unwrap()),
            informal_exempt_ports: ["4701".to_owned()].into(),
            mpf: vec![
                MpfRow {
                    from: day("2024-10-01"),
                    to: day("2025-10-01"),
                    informal_usd: d("2.62"),
                    formal_rate: Percent::parse("0.3464%").unwrap(),
                    formal_min_usd: d("32.71"),
                    formal_max_usd: d("634.62"),
                },
                MpfRow {
                    from: day("2025-10-01"),
                    to: day("2026-10-01"),
                    informal_usd: d("2.69"),
                    formal_rate: Percent::parse("0.3464%").unwrap(),
                    formal_min_usd: d("33.58"),
                    formal_max_usd: d("651.50"),
                },
            ],
        }
    }

    #[test]
    fn informal_pays_the_years_fee_unless_the_port_is_exempt() {
        let t = table();
        let f = t.fees(
            FeeEntryType::Informal,
            day("2026-03-01"),
            "2720",
            d("1000"),
            false,
        );
        assert_eq!(
            f,
            Fees {
                mpf: Some(d("2.69")),
                hmf: 0
            }
        );
        assert_eq!(
            t.fees(
                FeeEntryType::Informal,
                day("2025-09-30"),
                "2720",
                d("1000"),
                false
            )
            .mpf,
            Some(d("2.62"))
        );
        assert_eq!(
            t.fees(
                FeeEntryType::Informal,
                day("2026-03-01"),
                "4701",
                d("1000"),
                false
            )
            .mpf,
            Some(0)
        );
    }

    #[test]
    fn formal_is_rate_times_value_clamped_to_min_and_max() {
        let t = table();
        let on = day("2026-03-01");
        // 0.3464% x 20,000.00 = 69.28: inside the bounds.
        assert_eq!(
            t.fees(FeeEntryType::Formal, on, "2720", d("20000"), false)
                .mpf,
            Some(d("69.28"))
        );
        // 0.3464% x 12,345.67 = 42.76540088 -> 42.77 (half-up, before the clamp).
        assert_eq!(
            t.fees(FeeEntryType::Formal, on, "2720", d("12345.67"), false)
                .mpf,
            Some(d("42.77"))
        );
        assert_eq!(
            t.fees(FeeEntryType::Formal, on, "2720", d("2600"), false)
                .mpf,
            Some(d("33.58")),
            "min"
        );
        assert_eq!(
            t.fees(FeeEntryType::Formal, on, "2720", d("1000000"), false)
                .mpf,
            Some(d("651.50")),
            "max"
        );
        // An exempt port only exempts the informal fee.
        assert_eq!(
            t.fees(FeeEntryType::Formal, on, "4701", d("2600"), false)
                .mpf,
            Some(d("33.58"))
        );
    }

    #[test]
    fn a_date_no_row_covers_has_an_unknown_mpf() {
        let t = table();
        for date in ["2026-10-01", "2024-09-30", "2030-01-01"] {
            assert_eq!(
                t.fees(FeeEntryType::Informal, day(date), "2720", d("100"), false)
                    .mpf,
                None,
                "{date}"
            );
            assert_eq!(
                t.fees(FeeEntryType::Formal, day(date), "2720", d("100"), false)
                    .mpf,
                None,
                "{date}"
            );
        }
        assert_eq!(
            FeeTable::default().fees(
                FeeEntryType::Formal,
                day("2026-01-01"),
                "2720",
                d("100"),
                true
            ),
            Fees { mpf: None, hmf: 0 }
        );
    }

    #[test]
    fn hmf_is_charged_on_ocean_arrivals_only() {
        let t = table();
        let on = day("2026-03-01");
        // 0.125% x 3,000.00 = 3.75; x 1,004.00 = 1.255 -> 1.26.
        assert_eq!(
            t.fees(FeeEntryType::Formal, on, "2720", d("3000"), true)
                .hmf,
            d("3.75")
        );
        assert_eq!(
            t.fees(FeeEntryType::Informal, on, "2720", d("1004"), true)
                .hmf,
            d("1.26")
        );
        assert_eq!(
            t.fees(FeeEntryType::Formal, on, "2720", d("3000"), false)
                .hmf,
            0
        );
        // HMF does not depend on an MPF row.
        assert_eq!(
            t.fees(
                FeeEntryType::Formal,
                day("2030-01-01"),
                "2720",
                d("3000"),
                true
            )
            .hmf,
            d("3.75")
        );
    }
}
