//! The ACE Entry Summary (AE) transaction of a type 11, 01 or 03 entry,
//! written against the layouts of [`super::catair::entry_summary`]
//! (catair.md section 7), carrying the duty and fees the run estimated
//! (contract v2 section 9). One summary per entry, never consolidated.
//!
//! What is written, in the chapter's order: 10 (filer, entry number, port,
//! type, mode, signature, payment type, `A` in 40 when certified for cargo
//! release); 11 (IOR, import date); 31 (the configured bond); 34 with the
//! informal entry fee (class 311) of a type 11; per line a 40, its chapter
//! 99 numbers as 50 records (first, each with its own duty, value 0), the
//! 1-97 HTS number as a 50 with the HTS-rate duty, the line value and the
//! HTS's unit of quantity, then its 62 user fees (499 formal MPF of a type
//! 01/03, 501 HMF); 89 with each fee class's total; 90 with the duty and
//! fee totals.
//!
//! Fees per line: the run's estimate is per entry (MPF clamped to its
//! minimum and maximum, contract section 9 step 7). The 62 amounts are that
//! total shared over the lines by value (the last line takes the rounding
//! remainder), so they add up to the 89 total exactly, as ACE checks.
//!
//! As [`super::release`] does, every mandatory field is filled or the entry
//! is refused with a [`Refusal`] naming the record and field: the duty or a
//! fee unknown, no IOR, no bond, an HTS number without a unit of quantity in
//! the HTS reference, a type 03 (its AD/CVD case records, 53/88, need case
//! numbers s321d does not have).
//!
//! Readings of catair.md that no text confirmed (UNVERIFIED there): a
//! chapter 99 heading of 8 digits goes in the 10-digit HTS field with `00`
//! after it; chapter 99 numbers carry unit `X` (no unit); the daily
//! statement date is the filing date and the monthly statement month the
//! filing month; the 50 quantity (C) is left blank, since entry lines do
//! not carry the manifest's quantity.

use chrono::{Datelike, NaiveDate};

use super::catair::entry_summary as ae;
use super::catair::key::Record;
use super::entry::{Entry, ior_type_of};
use super::release::Refusal;
use super::settings::Filer;
use crate::config::PaymentType;
use crate::entry_number::EntryNumber;
use crate::money;

/// Accounting class of the informal entry fee, at the header (34).
pub const CLASS_INFORMAL: &str = "311";
/// Accounting class of the formal merchandise processing fee, per line (62).
pub const CLASS_MPF: &str = "499";
/// Accounting class of the harbor maintenance fee, per line (62).
pub const CLASS_HMF: &str = "501";

/// Entry types that get an entry summary.
pub const SUMMARY_TYPES: &[&str] = &["11", "01", "03"];

/// Whether an entry of this type gets an entry summary.
pub fn wants_summary(entry_type: &str) -> bool {
    SUMMARY_TYPES.contains(&entry_type)
}

fn refuse(field: impl Into<String>, why: impl Into<String>) -> Refusal {
    Refusal {
        field: field.into(),
        why: why.into(),
    }
}

fn bad(field: &str) -> impl Fn(super::catair::key::FieldError) -> Refusal + '_ {
    move |e| refuse(field, e.to_string())
}

/// How the summary is sent and paid.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub payment: PaymentType,
    /// Certified for cargo release (10 pos 40 `A`): the summary is the
    /// release request, no SE is sent.
    pub certified: bool,
    /// The filing date (statement date and month).
    pub today: NaiveDate,
}

/// The first unit of quantity the HTS reference gives a 10-digit code on a
/// date, as printed (`No.`, `kg`, `doz.`); None when the code has none or is
/// not in the revision in force.
pub type UnitOf<'a> = &'a dyn Fn(&str, NaiveDate) -> Option<String>;

/// The CATAIR unit code of an HTS unit as USITC prints it; None for a unit
/// s321d has no code for (refused rather than guessed).
pub fn uom_code(hts_unit: &str) -> Option<&'static str> {
    let u = hts_unit.trim().to_ascii_lowercase();
    Some(match u.as_str() {
        "no." | "no" | "no. and kg" => "NO",
        "kg" => "KG",
        "doz." | "doz" => "DOZ",
        "m²" | "m2" => "M2",
        "m3" | "m³" => "M3",
        "prs." | "prs" => "PRS",
        "doz. prs." => "DPR",
        "dz pcs" => "DPC",
        "t" => "T",
        "liters" | "liter" | "l" => "L",
        "pf.liters" => "PFL",
        "g" => "G",
        "gross" => "GRS",
        "bbl" => "BBL",
        "pcs" => "PCS",
        "m" => "M",
        "cm2" => "CM2",
        "thousands" => "THS",
        "cy kg" => "CYK",
        "x" => "X",
        _ => return None,
    })
}

/// Cents of an exact decimal USD text (half-up); None when empty or not a number.
fn cents(text: &str) -> Option<i64> {
    let units = money::parse_decimal(text.trim()).ok()?;
    let cent = money::ONE / 100;
    let c = if units >= 0 {
        (units + cent / 2) / cent
    } else {
        (units - cent / 2) / cent
    };
    i64::try_from(c).ok()
}

/// `total` cents shared over `weights` in proportion (half-up), the last
/// share taking the remainder, so the shares add up to `total` exactly.
pub fn share(total: i64, weights: &[u64]) -> Vec<i64> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut out = Vec::with_capacity(n);
    let mut given = 0i64;
    for (i, &w) in weights.iter().enumerate() {
        let s = if i + 1 == n {
            total - given
        } else if sum == 0 {
            0
        } else {
            ((i128::from(total) * i128::from(w) * 2 + sum as i128) / (2 * sum as i128)) as i64
        };
        given += s;
        out.push(s);
    }
    out
}

/// What a written summary carries, for the ledger and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// The 90 duty: the sum of the 50 duties, cents.
    pub duty_cents: i64,
    /// The 90 user fees: the sum of the 89 totals, cents.
    pub fees_cents: i64,
    /// (class, total cents) as in 89.
    pub fees: Vec<(String, i64)>,
}

/// A summary ready to send.
#[derive(Debug, Clone)]
pub struct Written {
    pub records: Vec<Record>,
    pub totals: Totals,
}

impl Written {
    /// The transaction as text, one 80-character record a line (what the
    /// ledger keeps and the HTTP gateway takes).
    pub fn text(&self) -> String {
        self.records.iter().map(|r| r.line() + "\n").collect()
    }
}

/// `12345.67` from cents.
pub fn usd(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// Writes the AE transaction of `entry` (numbered: the summary follows the
/// number the ledger gave it; a placeholder stands in when it has none yet,
/// so an entry can be checked before it is numbered).
pub fn transaction(
    entry: &Entry,
    filer: &Filer,
    unit_of: UnitOf<'_>,
    opts: Options,
) -> Result<Written, Refusal> {
    let t = entry.entry_type.as_str();
    if !wants_summary(t) {
        return Err(refuse(
            "10 entry type",
            format!("a type {t} has no entry summary"),
        ));
    }
    if t == "03" {
        return Err(refuse(
            "53 AD/CVD case number",
            "a type 03 summary reports each line's AD/CVD case (53, 88); the manifest names no case number: a broker files it",
        ));
    }
    let number = if entry.entry_number.is_empty() {
        EntryNumber::new(&entry.filer_code, 0)
    } else {
        EntryNumber::parse(&entry.entry_number)
    }
    .map_err(|e| refuse("10 entry number", e.to_string()))?;
    let Some(est) = entry.estimate.as_ref() else {
        return Err(refuse(
            "90 duty",
            "the entry carries no estimate of its duty and fees (a run older than contract v2)",
        ));
    };
    let mut out = Vec::new();

    // 10.
    let mut r10 = Record::new(&ae::AE10);
    r10.set("action", "A").map_err(bad("10 action"))?;
    r10.set("filer", &entry.filer_code)
        .map_err(bad("10 filer code"))?;
    r10.set("entry_number", &number.serial_and_check())
        .map_err(bad("10 entry number"))?;
    let port = entry.port_of_entry.trim();
    if !(port.len() == 4 && port.bytes().all(|b| b.is_ascii_digit())) {
        return Err(refuse(
            "10 port of entry",
            format!("{port:?} is not a 4-digit Schedule D port"),
        ));
    }
    r10.set("port", port).map_err(bad("10 port of entry"))?;
    r10.set("entry_type", t).map_err(bad("10 entry type"))?;
    r10.set("mode", entry.mode_of_transport.trim())
        .map_err(bad("10 mode of transport"))?;
    r10.set("signature", "X")
        .map_err(bad("10 electronic signature"))?;
    if opts.certified {
        r10.set("certify", "A")
            .map_err(bad("10 certify for cargo release"))?;
    }
    r10.set("payment_type", opts.payment.code())
        .map_err(bad("10 payment type"))?;
    match opts.payment {
        PaymentType::Individual => {}
        PaymentType::DailyByFiler
        | PaymentType::DailyByIor
        | PaymentType::DailyByIorWithoutSuffix => {
            r10.set("statement_date", &opts.today.format("%m%d%y").to_string())
                .map_err(bad("10 statement date"))?;
        }
        PaymentType::MonthlyByFiler
        | PaymentType::MonthlyByIor
        | PaymentType::MonthlyByIorWithoutSuffix => {
            r10.num("statement_month", u64::from(opts.today.month()))
                .map_err(bad("10 statement month"))?;
        }
    }
    out.push(r10);

    // 11.
    let ior = entry.ior_number.trim();
    if ior_type_of(ior).is_none() {
        return Err(refuse(
            "11 IOR number",
            if ior.is_empty() {
                "an entry summary names its importer of record: none on the entry and none in [filing] ior_number".to_owned()
            } else {
                format!(
                    "{ior:?} is not an EIN (NN-NNNNNNNXX), CBP-assigned (YYDDPP-NNNNN) or SSN (NNN-NN-NNNN) number"
                )
            },
        ));
    }
    let mut r11 = Record::new(&ae::AE11);
    r11.set("ior", ior).map_err(bad("11 IOR number"))?;
    r11.set(
        "import_date",
        &entry.arrival_date.format("%m%d%y").to_string(),
    )
    .map_err(bad("11 import date"))?;
    out.push(r11);

    // 31.
    if !matches!(filer.bond_type.as_str(), "8" | "9") {
        return Err(refuse(
            "31 bond type",
            format!(
                "a type {t} entry summary names its bond: set [filing] bond_type (8 continuous, 9 single transaction) and surety_code"
            ),
        ));
    }
    let mut r31 = Record::new(&ae::AE31);
    r31.set("bond_type", &filer.bond_type)
        .map_err(bad("31 bond type"))?;
    r31.set("designation", "B")
        .map_err(bad("31 bond designation"))?;
    r31.set("surety", &filer.surety_code)
        .map_err(bad("31 surety code"))?;
    if filer.bond_type == "9" {
        if filer.bond_amount_usd == 0 {
            return Err(refuse(
                "31 single transaction bond amount",
                "bond_type 9 needs [filing] bond_amount_usd",
            ));
        }
        r31.num("amount", filer.bond_amount_usd)
            .map_err(bad("31 single transaction bond amount"))?;
    }
    out.push(r31);

    // Fees of the entry, from the estimate.
    let fee = |name: &str, text: &str| {
        cents(text).ok_or_else(|| {
            refuse(
                format!("{name} amount"),
                format!("the run's estimate has no {name} amount ({text:?}): the fee is unknown"),
            )
        })
    };
    let mpf = fee("MPF", &est.mpf_usd)?;
    let hmf = if est.hmf_usd.trim().is_empty() {
        0
    } else {
        fee("HMF", &est.hmf_usd)?
    };
    let mut totals = Totals::default();
    let mut add_fee = |class: &str, c: i64| {
        if c != 0 {
            totals.fees.push((class.to_owned(), c));
        }
    };
    let formal = t != "11";
    if !formal && mpf > 0 {
        let mut r34 = Record::new(&ae::AE34);
        r34.set("class", CLASS_INFORMAL)
            .map_err(bad("34 accounting class"))?;
        r34.set("amount", &mpf.to_string())
            .map_err(bad("34 informal entry fee"))?;
        out.push(r34);
    }
    if !formal {
        add_fee(CLASS_INFORMAL, mpf);
    } else {
        add_fee(CLASS_MPF, mpf);
    }
    add_fee(CLASS_HMF, hmf);

    // Lines.
    if entry.lines.is_empty() || entry.lines.len() > 998 {
        return Err(refuse(
            "40",
            format!("{} lines: an entry summary has 1 to 998", entry.lines.len()),
        ));
    }
    let weights: Vec<u64> = entry.lines.iter().map(|l| l.value_usd).collect();
    let mpf_lines = if formal {
        share(mpf, &weights)
    } else {
        vec![0; weights.len()]
    };
    let hmf_lines = share(hmf, &weights);
    for ((line, &mpf_line), &hmf_line) in entry.lines.iter().zip(&mpf_lines).zip(&hmf_lines) {
        let n = line.line;
        let mut r40 = Record::new(&ae::AE40);
        r40.set("line", &format!("{n:03}"))
            .map_err(bad("40 line number"))?;
        let origin = line.origin.trim();
        if origin.len() != 2 {
            return Err(refuse(
                format!("40 country of origin (line {n})"),
                format!("{origin:?} is not an ISO alpha-2 country"),
            ));
        }
        r40.set("origin", origin)
            .map_err(|e| refuse(format!("40 country of origin (line {n})"), e.to_string()))?;
        out.push(r40);
        if line.ch99.len() + 1 > 32 {
            return Err(refuse(
                format!("50 (line {n})"),
                "more than 32 HTS numbers on one line",
            ));
        }
        let duty = cents(&line.duty_usd).ok_or_else(|| {
            refuse(format!("50 duty (line {n})"), "the line's duty is unknown (T001 in the run's entry_lines.csv); an entry summary carries it")
        })?;
        let mut ch99_total = 0i64;
        for ch in &line.ch99 {
            let digits: String = ch.heading.chars().filter(char::is_ascii_digit).collect();
            let hts = match digits.len() {
                8 => format!("{digits}00"),
                10 => digits,
                _ => String::new(),
            };
            if !hts.starts_with("99") {
                return Err(refuse(
                    format!("50 HTS (line {n})"),
                    format!("{:?} is not a chapter 99 number", ch.heading),
                ));
            }
            let amount = cents(&ch.amount_usd).ok_or_else(|| {
                refuse(
                    format!("50 duty of {} (line {n})", ch.heading),
                    "the chapter 99 amount is unknown",
                )
            })?;
            ch99_total += amount;
            let mut r = Record::new(&ae::AE50);
            r.set("hts", &hts).map_err(bad("50 HTS"))?;
            r.set("duty", &amount.to_string()).map_err(bad("50 duty"))?;
            r.set("value", "0").map_err(bad("50 value"))?;
            r.set("uom1", "X").map_err(bad("50 unit of quantity"))?;
            totals.duty_cents += amount;
            out.push(r);
        }
        if !(line.hts.len() == 10 && line.hts.bytes().all(|b| b.is_ascii_digit())) {
            return Err(refuse(
                format!("50 HTS (line {n})"),
                format!("{:?} is not a 10-digit HTS number", line.hts),
            ));
        }
        let unit = unit_of(&line.hts, entry.arrival_date).ok_or_else(|| {
            refuse(
                format!("50 unit of quantity (line {n})"),
                format!("HTS {} has no unit of quantity in the HTS reference in force on {} ([[duty.hts]])", line.hts, entry.arrival_date),
            )
        })?;
        let uom = uom_code(&unit).ok_or_else(|| {
            refuse(
                format!("50 unit of quantity (line {n})"),
                format!(
                    "HTS {} is counted in {unit:?}, which has no CATAIR unit code in s321d's table",
                    line.hts
                ),
            )
        })?;
        let hts_duty = duty - ch99_total;
        let mut r = Record::new(&ae::AE50);
        r.set("hts", &line.hts).map_err(bad("50 HTS"))?;
        r.set("duty", &hts_duty.to_string())
            .map_err(|e| refuse(format!("50 duty (line {n})"), e.to_string()))?;
        r.num("value", line.value_usd).map_err(bad("50 value"))?;
        r.set("uom1", uom).map_err(bad("50 unit of quantity"))?;
        totals.duty_cents += hts_duty;
        out.push(r);
        for (class, amount) in [(CLASS_MPF, mpf_line), (CLASS_HMF, hmf_line)] {
            if amount == 0 || (class == CLASS_MPF && !formal) {
                continue;
            }
            let mut r62 = Record::new(&ae::AE62);
            r62.set("class", class)
                .map_err(bad("62 accounting class"))?;
            r62.set("amount", &amount.to_string())
                .map_err(|e| refuse(format!("62 {class} amount (line {n})"), e.to_string()))?;
            out.push(r62);
        }
    }

    // 89 and 90.
    if !totals.fees.is_empty() {
        let mut r89 = Record::new(&ae::AE89);
        for (k, (class, total)) in totals.fees.iter().enumerate() {
            let (c, a) = [
                ("class1", "total1"),
                ("class2", "total2"),
                ("class3", "total3"),
                ("class4", "total4"),
                ("class5", "total5"),
            ][k];
            r89.set(c, class).map_err(bad("89 accounting class"))?;
            r89.set(a, &total.to_string())
                .map_err(bad("89 fee total"))?;
        }
        out.push(r89);
    }
    totals.fees_cents = totals.fees.iter().map(|(_, c)| c).sum();
    if let Some(entry_duty) = cents(&est.duty_usd)
        && entry_duty != totals.duty_cents
    {
        return Err(refuse(
            "90 duty",
            format!(
                "the lines' duty ({}) is not the entry's estimated duty ({})",
                usd(totals.duty_cents),
                est.duty_usd
            ),
        ));
    }
    let mut r90 = Record::new(&ae::AE90);
    r90.set("duty", &totals.duty_cents.to_string())
        .map_err(bad("90 duty"))?;
    r90.set("fees", &totals.fees_cents.to_string())
        .map_err(bad("90 user fees"))?;
    out.push(r90);

    // The safety net: nothing goes out blank where the layout says M.
    for r in &out {
        if let Some(field) = r.missing().first() {
            return Err(refuse(
                format!("{} {field}", r.id()),
                "would be sent blank, and the layout makes it mandatory",
            ));
        }
    }
    Ok(Written {
        records: out,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::entry::Estimate;
    use crate::filing::entry::tests_support::sample11;

    fn filer() -> Filer {
        Filer {
            bond_type: "8".into(),
            surety_code: "457".into(),
            bond_amount_usd: 0,
            contact_name: "Desk".into(),
            contact_phone: "5550100".into(),
        }
    }

    fn opts() -> Options {
        Options {
            payment: PaymentType::Individual,
            certified: false,
            today: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
        }
    }

    fn units(hts: &str, _: NaiveDate) -> Option<String> {
        match hts {
            "8518302000" => Some("No.".into()),
            "3926909989" => Some("kg".into()),
            "6214101000" => Some("doz.".into()),
            "9113908000" => Some("No.".into()),
            _ => None,
        }
    }

    /// The sample type 11 with its duty and fee estimate.
    fn entry11() -> Entry {
        let mut e = sample11();
        for (l, d) in e.lines.iter_mut().zip(["87.50", "10.00", "3.60", "15.00"]) {
            l.duty_usd = d.into();
        }
        e.estimate = Some(Estimate {
            entered_value_usd: "800.00".into(),
            duty_usd: "116.10".into(),
            mpf_usd: "2.69".into(),
            hmf_usd: "0.00".into(),
            total_usd: "118.79".into(),
            duty_status: "known".into(),
            rates_as_of: String::new(),
        });
        e
    }

    fn ids(w: &Written) -> Vec<&'static str> {
        w.records.iter().map(Record::id).collect()
    }

    #[test]
    fn a_type_11_carries_its_duty_and_the_informal_fee_at_the_header() {
        let w = transaction(&entry11(), &filer(), &units, opts()).unwrap();
        assert_eq!(
            ids(&w),
            [
                "10", "11", "31", "34", "40", "50", "50", "50", "40", "50", "50", "40", "50", "40",
                "50", "50", "89", "90"
            ]
        );
        assert!(
            w.records
                .iter()
                .all(|r| r.line().len() == 80 && r.missing().is_empty())
        );
        let r10 = w.records[0].line();
        assert_eq!(
            (&r10[2..3], &r10[3..6], &r10[8..16], &r10[17..21]),
            ("A", "ABC", "12345684", "4701")
        );
        assert_eq!(
            (
                &r10[33..35],
                &r10[35..37],
                &r10[38..39],
                &r10[39..40],
                &r10[50..51]
            ),
            ("11", "40", "X", " ", "1")
        );
        assert_eq!(&w.records[1].line()[2..14], "12-345678900");
        assert_eq!(&w.records[1].line()[47..53], "090225", "import date");
        assert_eq!(&w.records[2].line()[2..8], "8B 457");
        assert_eq!(
            &w.records[3].line()[2..13],
            "311     269",
            "informal fee, 2 implied decimals"
        );
        // Line 1: chapter 99 first, each with its duty; then the HTS with the rest of the duty, the value and unit.
        let l: Vec<String> = w.records[5..8].iter().map(Record::line).collect();
        assert_eq!(
            (
                &l[0][2..12],
                l[0][13..23].trim(),
                l[0][24..34].trim(),
                &l[0][47..50]
            ),
            ("9903880300", "6250", "0", "X  ")
        );
        assert_eq!((&l[1][2..12], l[1][13..23].trim()), ("9903012500", "2500"));
        assert_eq!(
            (
                &l[2][2..12],
                l[2][13..23].trim(),
                l[2][24..34].trim(),
                &l[2][47..50]
            ),
            ("8518302000", "0", "250", "NO ")
        );
        assert!(!ids(&w).contains(&"62"), "a type 11 pays no line fee");
        let r89 = w.records[16].line();
        assert_eq!((&r89[2..5], r89[5..16].trim()), ("311", "269"));
        let r90 = w.records[17].line();
        assert_eq!((r90[2..13].trim(), r90[14..25].trim()), ("11610", "269"));
        assert_eq!(
            w.totals,
            Totals {
                duty_cents: 11610,
                fees_cents: 269,
                fees: vec![("311".into(), 269)]
            }
        );
    }

    #[test]
    fn a_type_01_shares_its_clamped_mpf_over_the_lines_and_settles_it_in_89() {
        let mut e = entry11();
        e.entry_type = "01".into();
        // MPF at its minimum: 0.3464% of 800 is 2.77, clamped to 33.58.
        e.estimate.as_mut().unwrap().mpf_usd = "33.58".into();
        e.estimate.as_mut().unwrap().hmf_usd = "1.00".into();
        let w = transaction(&e, &filer(), &units, opts()).unwrap();
        assert!(!ids(&w).contains(&"34"));
        let fees: Vec<(String, i64)> = w
            .records
            .iter()
            .filter(|r| r.id() == "62")
            .map(|r| {
                (
                    r.get("class").to_owned(),
                    r.get("amount").trim().parse().unwrap(),
                )
            })
            .collect();
        let mpf: Vec<i64> = fees
            .iter()
            .filter(|(c, _)| c == "499")
            .map(|f| f.1)
            .collect();
        // Values 250, 100, 300, 150 of 800.
        assert_eq!(mpf, [1049, 420, 1259, 630]);
        assert_eq!(mpf.iter().sum::<i64>(), 3358);
        let hmf: i64 = fees.iter().filter(|(c, _)| c == "501").map(|f| f.1).sum();
        assert_eq!(hmf, 100);
        let r89 = w.records.iter().find(|r| r.id() == "89").unwrap();
        assert_eq!(
            (
                r89.get("class1"),
                r89.get("total1").trim(),
                r89.get("class2"),
                r89.get("total2").trim()
            ),
            ("499", "3358", "501", "100")
        );
        assert_eq!(w.totals.fees_cents, 3458);
    }

    #[test]
    fn certified_and_statement_payment_are_in_the_header() {
        let o = Options {
            payment: PaymentType::MonthlyByIor,
            certified: true,
            ..opts()
        };
        let w = transaction(&entry11(), &filer(), &units, o).unwrap();
        let r10 = &w.records[0];
        assert_eq!(
            (
                r10.get("certify"),
                r10.get("payment_type"),
                r10.get("statement_month")
            ),
            ("A", "7", "12")
        );
        let o = Options {
            payment: PaymentType::DailyByFiler,
            ..opts()
        };
        let w = transaction(&entry11(), &filer(), &units, o).unwrap();
        assert_eq!(
            (
                w.records[0].get("payment_type"),
                w.records[0].get("statement_date")
            ),
            ("2", "120326")
        );
    }

    fn refusal(e: &Entry, f: &Filer) -> Refusal {
        transaction(e, f, &units, opts()).unwrap_err()
    }

    #[test]
    fn refused_with_the_field_named() {
        let mut e = entry11();
        e.ior_number = String::new();
        assert_eq!(refusal(&e, &filer()).field, "11 IOR number");
        let mut f = filer();
        f.bond_type = "0".into();
        assert_eq!(refusal(&entry11(), &f).field, "31 bond type");
        let mut e = entry11();
        e.lines[2].duty_usd = String::new();
        assert_eq!(refusal(&e, &filer()).field, "50 duty (line 3)");
        let mut e = entry11();
        e.estimate.as_mut().unwrap().mpf_usd = String::new();
        assert_eq!(refusal(&e, &filer()).field, "MPF amount");
        let mut e = entry11();
        e.lines[1].hts = "0101210010".into();
        let r = refusal(&e, &filer());
        assert_eq!(r.field, "50 unit of quantity (line 2)");
        assert!(r.why.contains("HTS reference"), "{r}");
        let mut e = entry11();
        e.entry_type = "03".into();
        assert_eq!(refusal(&e, &filer()).field, "53 AD/CVD case number");
        let mut e = entry11();
        e.estimate.as_mut().unwrap().duty_usd = "100.00".into();
        assert_eq!(refusal(&e, &filer()).field, "90 duty");
    }

    #[test]
    fn units_map_to_catair_codes_or_are_refused() {
        assert_eq!(uom_code("No."), Some("NO"));
        assert_eq!(uom_code("doz. prs."), Some("DPR"));
        assert_eq!(uom_code("m²"), Some("M2"));
        assert_eq!(uom_code("Au g"), None);
    }

    #[test]
    fn shares_add_up_to_the_total() {
        assert_eq!(share(3358, &[250, 100, 300, 150]).iter().sum::<i64>(), 3358);
        assert_eq!(share(100, &[0, 0]), [0, 100]);
        assert_eq!(share(1, &[1, 1, 1]), [0, 0, 1]);
    }
}
