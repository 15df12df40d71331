//! The checks of `[filing]` and `[filing.catair]` that `s321d check` runs:
//! code shapes, the bond, the password's shape (never its value), and the
//! party file (`filing.parties_file`), read here into plain rows. What the
//! CATAIR writer makes of these keys (the envelope, the filer, the party
//! book) is `filing::settings`'s and `filing::release`'s.

use anyhow::Context as _;

use super::FilingConfig;

/// A problem with a `[filing]` key, for `s321d check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub why: String,
}

/// Whether `text` is CATAIR class AN without spaces (A-Z, 0-9) and of a
/// length in `len`.
fn is_an(text: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Checks a password's shape without ever showing it.
pub fn password_problem(text: &str) -> Option<String> {
    (!is_an(text, 1..=6))
        .then(|| "must hold 1 to 6 upper-case letters or digits (A 9-14 is 6AN)".to_owned())
}

/// Every problem of the filing keys (empty when they are usable).
pub fn problems(f: &FilingConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut report = |key: &'static str, why: String| out.push(Problem { key, why });
    let c = &f.catair;
    if !c.site.is_empty() && !is_an(&c.site, 4..=4) {
        report(
            "filing.catair.site",
            format!("{:?} is not 4 upper-case letters or digits (A 2-5)", c.site),
        );
    }
    if !c.id_code.is_empty() && !is_an(&c.id_code, 3..=3) {
        report(
            "filing.catair.id_code",
            format!(
                "{:?} is not 3 upper-case letters or digits (A 6-8)",
                c.id_code
            ),
        );
    }
    let port_ok = c.port.len() == 4 && c.port.bytes().all(|b| b.is_ascii_digit());
    if !c.port.is_empty() && !port_ok {
        report(
            "filing.catair.port",
            format!("{:?} is not a 4-digit Schedule D port (B 4-7)", c.port),
        );
    }
    if !c.password_file.is_empty() {
        match std::fs::read_to_string(&c.password_file) {
            Ok(text) => {
                if let Some(why) = password_problem(text.trim()) {
                    report(
                        "filing.catair.password_file",
                        format!("{}: the password {why}", c.password_file),
                    );
                }
            }
            Err(e) => report(
                "filing.catair.password_file",
                format!("cannot read {}: {e}", c.password_file),
            ),
        }
    }
    match f.bond_type.as_str() {
        "0" => {}
        "8" | "9" => {
            if !is_an(&f.surety_code, 3..=3) {
                report(
                    "filing.surety_code",
                    format!(
                        "{:?} is not a 3-character surety code; bond_type {} needs one",
                        f.surety_code, f.bond_type
                    ),
                );
            }
            if f.bond_type == "9" && f.bond_amount_usd == 0 {
                report(
                    "filing.bond_amount_usd",
                    "a single transaction bond (bond_type 9) needs its amount (SE20 AMT)".into(),
                );
            }
        }
        other => report(
            "filing.bond_type",
            format!("{other:?} is not a bond type: 0 none, 8 continuous, 9 single transaction"),
        ),
    }
    if f.bond_amount_usd > 9_999_999_999 {
        report("filing.bond_amount_usd", "must fit 10 digits".into());
    }
    if !f.parties_file.is_empty()
        && let Err(e) = read_parties(std::path::Path::new(&f.parties_file))
    {
        report("filing.parties_file", format!("{e:#}"));
    }
    // A summary names its bond (AE 31): a type 01 filed, or any summary
    // certified for cargo release, cannot go without one.
    use super::{EntrySummaryMode, FormalEntries};
    if !f.filer_code.is_empty() && f.bond_type == "0" {
        if f.formal_entries == FormalEntries::File {
            report("filing.bond_type", "formal_entries = \"file\" files type 01 entries, which need a bond: 8 continuous or 9 single transaction".into());
        }
        if f.entry_summary == EntrySummaryMode::Certified {
            report("filing.bond_type", "entry_summary = \"certified\" files entry summaries (AE 31 names the bond): 8 continuous or 9 single transaction".into());
        }
    }
    if f.contact_phone.chars().filter(char::is_ascii_digit).count() > 15 {
        report(
            "filing.contact_phone",
            "has more than 15 digits (SE13 45-59)".into(),
        );
    }
    out
}

/// One row of the party file (`filing.parties_file`), trimmed, the country
/// upper-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyRow {
    pub name: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

/// Reads a party file (CSV `name,country,address,city,postal_code,subdivision`);
/// errors name the file and line.
pub fn read_parties(path: &std::path::Path) -> anyhow::Result<Vec<PartyRow>> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("cannot read filing.parties_file {}", path.display()))?;
    let headers = r
        .headers()
        .with_context(|| format!("{} has no header", path.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(n), Some(c), Some(a), Some(city)) =
        (col("name"), col("country"), col("address"), col("city"))
    else {
        anyhow::bail!(
            "{}: the header must name name, country, address and city",
            path.display()
        );
    };
    let (zip, sub) = (col("postal_code"), col("subdivision"));
    let mut rows = Vec::new();
    for (i, row) in r.records().enumerate() {
        let row = row.with_context(|| format!("{} line {}", path.display(), i + 2))?;
        let get = |j: Option<usize>| j.and_then(|j| row.get(j)).unwrap_or("").trim().to_owned();
        let party = PartyRow {
            name: get(Some(n)),
            address: get(Some(a)),
            city: get(Some(city)),
            state: get(sub),
            postal_code: get(zip),
            country: get(Some(c)).to_ascii_uppercase(),
        };
        anyhow::ensure!(
            party.country.len() == 2,
            "{} line {}: country {:?} is not ISO alpha-2",
            path.display(),
            i + 2,
            party.country
        );
        rows.push(party);
    }
    Ok(rows)
}
