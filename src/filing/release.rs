//! The ACE Cargo Release (SE) transaction of an entry, written against the
//! layouts of [`super::catair::cargo_release`] (catair.md sections 3 and 7).
//!
//! Every field the layout marks M is filled from the entry's data or from
//! configuration; when one cannot be, the entry is refused with a
//! [`Refusal`] that names the record, the field and what to supply, and
//! nothing is sent. Free text is transliterated and cut to its field at a
//! word boundary; each cut is returned as a note ([`Written::cuts`]) that
//! the filing records in the ledger's events for the entry.
//!
//! What is written, in the chapter's order: SE10; SE13 (contact); per bill a
//! grouping of SE15 (master, then house; a simple `R` bill for the modes that
//! take no master/house) and, for a non-AMS bill, SE16; SE20 (`EDA`, and
//! `V1`/`AMT` for a single transaction bond); the header parties (CN by name
//! and address, as types 11 and 86 allow; the seller `SE`, and for a type
//! 11/01/03 the manufacturer/supplier `MF`, at the header when every line
//! has the same one, else on each line); then each line: SE40, its parties,
//! its chapter 99 numbers and its HTS number with the value. SE11 is not
//! written: the chapter gives it entry-type rules only for 06, 21 and 22,
//! which s321d does not file.

use std::collections::HashMap;

use super::catair::cargo_release::{self as se, MODES};
use super::catair::key::{Class, Record, clean, components};
use super::entry::{Entry, Party, ior_type_of};
use super::settings::Filer;
use crate::entry_number::EntryNumber;

/// Why an entry cannot be filed: the record and field, and what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct Refusal {
    /// `SE10 bond type`, `SE36 city of the seller`, ...
    pub field: String,
    pub why: String,
}

fn refuse(field: impl Into<String>, why: impl Into<String>) -> Refusal {
    Refusal {
        field: field.into(),
        why: why.into(),
    }
}

/// Maps a layout error (a value of the wrong class or length) to a refusal.
fn bad(field: &str) -> impl Fn(super::catair::key::FieldError) -> Refusal + '_ {
    move |e| refuse(field, e.to_string())
}

/// A transaction ready to send.
#[derive(Debug, Clone)]
pub struct Written {
    pub records: Vec<Record>,
    /// Fields whose text had to be cut (`SE30 CN name`), for the ledger.
    pub cuts: Vec<String>,
}

/// Addresses of sellers and manufacturers, which contract v2 manifests do
/// not carry (shipper_name and shipper_country only): a broker's party file
/// (`filing.parties_file`, CSV `name,country,address,city,postal_code,subdivision`).
#[derive(Debug, Clone, Default)]
pub struct PartyBook {
    by_key: HashMap<(String, String), Party>,
}

impl PartyBook {
    fn key(name: &str, country: &str) -> (String, String) {
        (clean(name, Class::X), country.trim().to_ascii_uppercase())
    }

    /// Reads a party file; errors name the file and line.
    pub fn read(path: &std::path::Path) -> anyhow::Result<PartyBook> {
        let mut book = PartyBook::default();
        for r in crate::config::filing::read_parties(path)? {
            let party = Party {
                name: r.name,
                address: r.address,
                city: r.city,
                state: r.state,
                postal_code: r.postal_code,
                country: r.country,
            };
            book.insert(party);
        }
        Ok(book)
    }

    pub fn insert(&mut self, party: Party) {
        self.by_key
            .insert(PartyBook::key(&party.name, &party.country), party);
    }

    /// The party of that name and country, with its address.
    pub fn get(&self, name: &str, country: &str) -> Option<&Party> {
        self.by_key.get(&PartyBook::key(name, country))
    }
}

/// Modes whose bills are never master/house (report `R`) [CR p.51].
const SIMPLE_BILL_MODES: &[&str] = &["20", "21", "30", "31", "32", "33", "34", "50", "60", "70"];
/// Modes whose bills are never on an ACE e-manifest: SE15 73 `Y` (Notes 5-6).
const NON_AMS_MODES: &[&str] = &["32", "33", "34", "50", "60", "70"];
/// Modes whose SE15 issuer code is spaces.
const NO_ISSUER_MODES: &[&str] = &["40", "41", "32", "33", "34", "50", "60"];
/// Modes that need the port of unlading (SE10 56-60).
const UNLADING_MODES: &[&str] = &["50", "60", "70"];
const AIR_MODES: &[&str] = &["40", "41"];

/// A bill number as SE15 takes it: letters and digits only ("no spaces,
/// hyphens, slashes or other special characters", CR p.47).
pub fn bill_number(text: &str) -> String {
    clean(text, Class::X)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The voyage/flight/trip for SE16 9-13 from the manifest's conveyance: for
/// air, a flight number (NNN, NNNN, NNNA, NNNNA) after the airline's
/// designator (`DL1234` -> `1234`); otherwise up to 5 letters or digits.
pub fn voyage(conveyance: &str, mode: &str) -> Option<String> {
    let t = bill_number(conveyance);
    if AIR_MODES.contains(&mode) {
        let digits_at = t.find(|c: char| c.is_ascii_digit())?;
        // An airline designator is 2-3 characters (IATA or ICAO).
        let flight = if digits_at == 0 {
            t.as_str()
        } else if digits_at <= 3 {
            &t[digits_at..]
        } else {
            return None;
        };
        let b = flight.as_bytes();
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let ok = matches!((n, b.len()), (3, 3) | (4, 4) | (3, 4) | (4, 5))
            && (b.len() == n || b[b.len() - 1].is_ascii_alphabetic());
        ok.then(|| flight.to_owned())
    } else {
        (!t.is_empty() && t.len() <= 5).then_some(t)
    }
}

/// A party group: the entity record (SE30/SE50), its address records
/// (SE35/SE55, two 35-character components each, at most 3) and its place
/// (SE36/SE56).
fn party_group(
    out: &mut Vec<Record>,
    cuts: &mut Vec<String>,
    line: bool,
    code: &'static str,
    role: &str,
    party: &Party,
) -> Result<(), Refusal> {
    let (entity, address, place) = if line {
        (&se::SE50, &se::SE55, &se::SE56)
    } else {
        (&se::SE30, &se::SE35, &se::SE36)
    };
    let (rec_entity, rec_address, rec_place) = (entity.id, address.id, place.id);
    let mut r = Record::new(entity);
    r.set("entity", code)
        .map_err(|e| refuse(format!("{rec_entity} entity code"), e.to_string()))?;
    if clean(&party.name, Class::X).is_empty() {
        return Err(refuse(
            format!("{rec_entity} {code} name"),
            format!("the {role} has no name"),
        ));
    }
    if r.text("name", &party.name)
        .map_err(|e| refuse(format!("{rec_entity} {code} name"), e.to_string()))?
    {
        cuts.push(format!("{rec_entity} {code} name cut to 35 characters"));
    }
    out.push(r);
    // The street: both components of a record before the next record, before
    // anything is cut (catair.md section 1).
    let (parts, left) = components(&clean(&party.address, Class::X), 35, 6);
    if parts.is_empty() {
        return Err(refuse(
            format!("{rec_address} {code} address"),
            format!("the {role} has no street address; {code} is sent by name and address"),
        ));
    }
    if left {
        cuts.push(format!(
            "{rec_address} {code} address cut to 6 components of 35 characters"
        ));
    }
    for pair in parts.chunks(2) {
        let mut a = Record::new(address);
        a.set("qualifier", "15")
            .and_then(|a| a.set("text", &pair[0]))
            .map_err(|e| refuse(format!("{rec_address} {code} address"), e.to_string()))?;
        if let Some(second) = pair.get(1) {
            a.set("qualifier2", "15")
                .and_then(|a| a.set("text2", second))
                .map_err(|e| refuse(format!("{rec_address} {code} address"), e.to_string()))?;
        }
        out.push(a);
    }
    let mut p = Record::new(place);
    if clean(&party.city, Class::X).is_empty() {
        return Err(refuse(
            format!("{rec_place} city of the {role}"),
            "no city is known (the field is mandatory)",
        ));
    }
    if p.text("city", &party.city)
        .map_err(|e| refuse(format!("{rec_place} city of the {role}"), e.to_string()))?
    {
        cuts.push(format!("{rec_place} {code} city cut to 35 characters"));
    }
    let sub = clean(&party.state, Class::AN);
    if !sub.is_empty() && sub.len() <= 3 {
        let _ = p.set("subdivision", &sub);
    }
    if p.text("postal_code", &party.postal_code).map_err(|e| {
        refuse(
            format!("{rec_place} postal code of the {role}"),
            e.to_string(),
        )
    })? {
        cuts.push(format!(
            "{rec_place} {code} postal code cut to 15 characters"
        ));
    }
    let country = party.country.trim().to_ascii_uppercase();
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(refuse(
            format!("{rec_place} country of the {role}"),
            format!("{:?} is not an ISO alpha-2 country", party.country),
        ));
    }
    p.set("country", &country)
        .map_err(|e| refuse(format!("{rec_place} country of the {role}"), e.to_string()))?;
    out.push(p);
    Ok(())
}

/// The seller of a line, with its address from the party book.
fn seller_of<'a>(
    entry: &'a Entry,
    line: &'a super::entry::EntryLine,
    book: &'a PartyBook,
) -> Result<&'a Party, Refusal> {
    let name = if !line.seller.is_empty() {
        line.seller.as_str()
    } else {
        entry.seller.as_deref().unwrap_or(&entry.shipper.name)
    };
    let country = if !line.seller_country.is_empty() {
        line.seller_country.as_str()
    } else {
        entry.shipper.country.as_str()
    };
    if clean(name, Class::X).is_empty() {
        return Err(refuse(
            format!("SE30 SE name (line {})", line.line),
            "the line has neither seller_name nor shipper_name",
        ));
    }
    book.get(name, country).ok_or_else(|| {
        refuse(
            format!("SE36 city of the seller of line {}", line.line),
            format!(
                "the manifest gives no seller address (contract v2 has shipper_name and shipper_country only); \
                 add {:?} ({country}) with its address and city to filing.parties_file",
                clean(name, Class::X)
            ),
        )
    })
}

/// Writes the SE transaction of `entry` (its number may still be empty: a
/// placeholder stands in, so an entry can be checked before it is numbered).
pub fn transaction(entry: &Entry, filer: &Filer, book: &PartyBook) -> Result<Written, Refusal> {
    let number = if entry.entry_number.is_empty() {
        EntryNumber::new(&entry.filer_code, 0)
    } else {
        EntryNumber::parse(&entry.entry_number)
    }
    .map_err(|e| refuse("SE10 entry number", e.to_string()))?;
    let t = entry.entry_type.as_str();
    let mode = entry.mode_of_transport.as_str();
    let mut out: Vec<Record> = Vec::new();
    let mut cuts: Vec<String> = Vec::new();

    // SE10.
    let mut se10 = Record::new(&se::SE10);
    se10.set("action", "A").map_err(bad("SE10 action"))?;
    se10.set("filer", &entry.filer_code)
        .map_err(bad("SE10 filer code"))?;
    se10.set("entry_number", &number.serial_and_check())
        .map_err(bad("SE10 entry number"))?;
    se10.set("entry_type", t).map_err(bad("SE10 entry type"))?;
    let ior = entry.ior_number.trim();
    match (t, ior) {
        // Note 12: a type 86 without PGA data may omit the IOR.
        ("86", "") => {}
        (_, "") => {
            return Err(refuse(
                "SE10 IOR number",
                format!(
                    "a type {t} names its importer of record: none in the ior_number column and none in [filing] ior_number"
                ),
            ));
        }
        _ => {
            let kind = ior_type_of(ior).ok_or_else(|| refuse("SE10 IOR number", format!("{ior:?} is not an EIN (NN-NNNNNNNXX), CBP-assigned (YYDDPP-NNNNN) or SSN (NNN-NN-NNNN) number")))?;
            se10.set("ior_type", kind).map_err(bad("SE10 IOR type"))?;
            se10.set("ior_number", ior)
                .map_err(bad("SE10 IOR number"))?;
        }
    }
    if !MODES.contains(&mode) {
        return Err(refuse(
            "SE10 mode of transport",
            format!("{mode:?} is not an ACE mode of transport ([filing] mode_of_transport)"),
        ));
    }
    se10.set("mode", mode)
        .map_err(bad("SE10 mode of transport"))?;
    let bond = if t == "86" {
        "0"
    } else {
        filer.bond_type.as_str()
    };
    if t != "86" && bond == "0" {
        return Err(refuse(
            "SE10 bond type",
            format!(
                "a type {t} released before its entry summary needs a continuous (8) or single transaction (9) bond: set [filing] bond_type and surety_code"
            ),
        ));
    }
    se10.set("bond_type", bond).map_err(bad("SE10 bond type"))?;
    let cap = match t {
        "86" => Some(800),
        "11" => Some(2500),
        _ => None,
    };
    if let Some(cap) = cap
        && entry.entry_value_usd > cap
    {
        return Err(refuse(
            "SE10 entry value",
            format!(
                "{} USD is above the {cap} USD a type {t} may carry (Note 13)",
                entry.entry_value_usd
            ),
        ));
    }
    se10.num("entry_value", entry.entry_value_usd)
        .map_err(bad("SE10 entry value"))?;
    let port = entry.port_of_entry.trim();
    if !(port.len() == 4 && port.bytes().all(|b| b.is_ascii_digit())) {
        return Err(refuse(
            "SE10 planned port of entry",
            format!("{port:?} is not a 4-digit Schedule D port"),
        ));
    }
    // Required for type 86 and non-AMS bills; given always, as it is known.
    se10.set("planned_port", port)
        .map_err(bad("SE10 planned port"))?;
    if UNLADING_MODES.contains(&mode) {
        se10.set("unlading_port", port)
            .map_err(bad("SE10 port of unlading"))?;
    }
    out.push(se10);

    // SE13: printed M for add and replace.
    let mut se13 = Record::new(&se::SE13);
    let phone: String = filer
        .contact_phone
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if clean(&filer.contact_name, Class::AN).is_empty() || phone.is_empty() {
        return Err(refuse(
            "SE13 contact",
            "set [filing] contact_name and contact_phone (SE13 is printed mandatory)",
        ));
    }
    if se13
        .text("contact", &filer.contact_name)
        .map_err(bad("SE13 contact name"))?
    {
        cuts.push("SE13 contact name cut to 40 characters".into());
    }
    se13.set("phone", &phone).map_err(bad("SE13 phone"))?;
    out.push(se13);

    // Bill of lading groupings.
    let bills = entry.all_bills();
    if t == "86" && bills.len() != 1 {
        return Err(refuse(
            "SE15",
            format!("a type 86 is one bill; this entry has {}", bills.len()),
        ));
    }
    if bills.len() > 999 {
        return Err(refuse(
            "SE15",
            format!(
                "{} bills: at most 999 bill of lading groupings",
                bills.len()
            ),
        ));
    }
    let simple = SIMPLE_BILL_MODES.contains(&mode);
    let non_ams = if NON_AMS_MODES.contains(&mode) {
        "Y"
    } else {
        "N"
    };
    let issuer = if NO_ISSUER_MODES.contains(&mode) {
        String::new()
    } else {
        let c = bill_number(&entry.carrier);
        if !(2..=4).contains(&c.len()) {
            return Err(refuse(
                "SE15 issuer code",
                format!("carrier {:?} is not a 2-4 character SCAC", entry.carrier),
            ));
        }
        c
    };
    let trip = if non_ams == "Y" {
        Some(voyage(&entry.conveyance, mode).ok_or_else(|| {
            refuse("SE16 voyage/flight", format!("a non-AMS bill needs its conveyance, and {:?} gives no voyage, flight or trip number", entry.conveyance))
        })?)
    } else {
        None
    };
    for bill in &bills {
        let house = bill_number(&bill.house_bill);
        if house.is_empty() {
            return Err(refuse(
                "SE15 bill number",
                format!("house bill {:?} has no letter or digit", bill.house_bill),
            ));
        }
        let master = bill_number(&bill.master_bill);
        let quantity = bill.quantity.max(1);
        let mut push_bill =
            |kind: &str, number: &str, quantity: Option<u64>| -> Result<(), Refusal> {
                let mut r = Record::new(&se::SE15);
                r.set("bill_type", kind).map_err(bad("SE15 bill type"))?;
                r.set("issuer", &issuer).map_err(bad("SE15 issuer code"))?;
                r.set("bill", number).map_err(bad("SE15 bill number"))?;
                if let Some(q) = quantity {
                    r.num("quantity", q).map_err(bad("SE15 quantity"))?;
                }
                r.set("non_ams", non_ams)
                    .map_err(bad("SE15 non-AMS indicator"))?;
                out.push(r);
                Ok(())
            };
        // Quantity at the lowest bill level, and not beside an SE16 (Notes 2,
        // 3, 9), except that a type 86 always has it (Note 11).
        let q = (trip.is_none() || t == "86").then_some(quantity);
        if simple {
            push_bill("R", &house, q)?;
        } else {
            if !master.is_empty() {
                push_bill("M", &master, None)?;
            }
            push_bill("H", &house, q)?;
        }
        if let Some(trip) = &trip {
            let mut r = Record::new(&se::SE16);
            let carrier = bill_number(&entry.carrier);
            r.set("carrier", &carrier).map_err(bad("SE16 carrier"))?;
            r.set("voyage", trip).map_err(bad("SE16 voyage/flight"))?;
            r.set(
                "arrival_date",
                &entry.arrival_date.format("%m%d%y").to_string(),
            )
            .map_err(bad("SE16 arrival date"))?;
            r.num("quantity", quantity).map_err(bad("SE16 quantity"))?;
            out.push(r);
        }
    }

    // SE20 references.
    let mut reference = |q: &str, v: &str| -> Result<(), Refusal> {
        let mut r = Record::new(&se::SE20);
        r.set("qualifier", q)
            .and_then(|r| r.set("value", v))
            .map_err(bad(&format!("SE20 {q}")))?;
        out.push(r);
        Ok(())
    };
    reference("EDA", &entry.arrival_date.format("%m%d%y").to_string())?;
    if bond == "9" {
        if filer.surety_code.len() != 3 || filer.bond_amount_usd == 0 {
            return Err(refuse(
                "SE20 V1/AMT",
                "a single transaction bond needs [filing] surety_code and bond_amount_usd",
            ));
        }
        reference("V1", &filer.surety_code)?;
        reference("AMT", &filer.bond_amount_usd.to_string())?;
    }

    // Header parties: the consignee by name and address (types 11 and 86).
    party_group(
        &mut out,
        &mut cuts,
        false,
        "CN",
        "consignee",
        &entry.consignee,
    )?;
    let mut sellers = Vec::with_capacity(entry.lines.len());
    for line in &entry.lines {
        sellers.push(seller_of(entry, line, book)?);
    }
    let one_seller = sellers.windows(2).all(|w| w[0] == w[1]);
    // Type 86 needs only CN and the seller; the others a manufacturer/supplier
    // too, reported as the seller when nothing else is known (catair.md 3).
    let codes: &[&'static str] = if t == "86" { &["SE"] } else { &["SE", "MF"] };
    if one_seller && let Some(seller) = sellers.first() {
        for code in codes {
            party_group(&mut out, &mut cuts, false, code, "seller", seller)?;
        }
    }

    // Lines.
    if entry.lines.is_empty() || entry.lines.len() > 999 {
        return Err(refuse(
            "SE40",
            format!("{} lines: an entry has 1 to 999", entry.lines.len()),
        ));
    }
    for (line, seller) in entry.lines.iter().zip(&sellers) {
        let mut se40 = Record::new(&se::SE40);
        se40.num("line", u64::from(line.line))
            .map_err(bad("SE40 line number"))?;
        se40.set("origin", line.origin.trim()).map_err(|e| {
            refuse(
                format!("SE40 country of origin (line {})", line.line),
                e.to_string(),
            )
        })?;
        if line.origin.trim().is_empty() {
            return Err(refuse(
                format!("SE40 country of origin (line {})", line.line),
                "empty",
            ));
        }
        if se40
            .text("description", &line.description)
            .map_err(bad("SE40 description"))?
        {
            cuts.push(format!(
                "SE40 line {} description cut to 70 characters",
                line.line
            ));
        }
        out.push(se40);
        if !one_seller {
            for code in codes {
                party_group(&mut out, &mut cuts, true, code, "seller", seller)?;
            }
        }
        if line.ch99.len() + 1 > 32 {
            return Err(refuse(
                format!("SE60 (line {})", line.line),
                "more than 32 HTS numbers on one line",
            ));
        }
        for ch in &line.ch99 {
            let digits: String = ch.heading.chars().filter(char::is_ascii_digit).collect();
            if !(digits.len() == 8 || digits.len() == 10) || !digits.starts_with("99") {
                return Err(refuse(
                    format!("SE60 HTS (line {})", line.line),
                    format!("{:?} is not a chapter 99 number", ch.heading),
                ));
            }
            let mut r = Record::new(&se::SE60);
            r.set("hts", &digits).map_err(bad("SE60 HTS"))?;
            out.push(r);
        }
        if !(line.hts.len() == 10 && line.hts.bytes().all(|b| b.is_ascii_digit())) {
            return Err(refuse(
                format!("SE60 HTS (line {})", line.line),
                format!("{:?} is not a 10-digit HTS number", line.hts),
            ));
        }
        let mut r = Record::new(&se::SE60);
        r.set("hts", &line.hts).map_err(bad("SE60 HTS"))?;
        r.num("value", line.value_usd)
            .map_err(bad("SE60 line value"))?;
        out.push(r);
    }

    // The safety net: nothing goes out blank where the layout says M.
    for r in &out {
        if let Some(field) = r.missing().first() {
            return Err(refuse(
                format!("{} {field}", r.id()),
                "would be sent blank, and the layout makes it mandatory",
            ));
        }
    }
    Ok(Written { records: out, cuts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::entry::tests_support::{sample, sample11};

    fn filer() -> Filer {
        Filer {
            bond_type: "8".into(),
            surety_code: "457".into(),
            bond_amount_usd: 0,
            contact_name: "Filing Desk".into(),
            contact_phone: "+1 (555) 010-0199".into(),
        }
    }

    fn book() -> PartyBook {
        let mut b = PartyBook::default();
        let party = |name: &str, country: &str| Party {
            name: name.into(),
            address: "12 Industrial Road".into(),
            city: "Shenzhen".into(),
            state: String::new(),
            postal_code: "518000".into(),
            country: country.into(),
        };
        b.insert(party("Hanoi Silk Co", "VN"));
        for s in ["Seller DX2001", "Seller DX2002", "Seller DX2003"] {
            b.insert(party(s, "CN"));
        }
        b
    }

    fn ids(w: &Written) -> Vec<&'static str> {
        w.records.iter().map(Record::id).collect()
    }

    fn refusal(e: &Entry, f: &Filer, b: &PartyBook) -> Refusal {
        transaction(e, f, b).unwrap_err()
    }

    #[test]
    fn a_type_86_has_every_mandatory_field() {
        let w = transaction(&sample(), &filer(), &book()).unwrap();
        assert_eq!(
            ids(&w),
            [
                "SE10", "SE13", "SE15", "SE15", "SE20", "SE30", "SE35", "SE36", "SE30", "SE35",
                "SE36", "SE40", "SE60"
            ]
        );
        assert!(
            w.records
                .iter()
                .all(|r| r.line().len() == 80 && r.missing().is_empty())
        );
        let se10 = w.records[0].line();
        assert_eq!(&se10[19..21], "86");
        assert_eq!(
            &se10[21..36],
            " ".repeat(15),
            "no IOR type without a number (Note 12 waiver)"
        );
        assert_eq!(&se10[38..39], "0", "type 86 needs no bond");
        assert_eq!(&se10[49..54], "4701 ");
        // Master without quantity, house with it; no hyphen; N non-AMS.
        let (m, h) = (w.records[2].line(), w.records[3].line());
        assert_eq!(
            (&m[4..5], &m[9..20], &m[59..67], &m[72..73]),
            ("M", "15712345675", "        ", "N")
        );
        assert_eq!(
            (&h[4..5], &h[9..15], &h[59..67], &h[72..73]),
            ("H", "DX1001", "00000001", "N")
        );
        assert_eq!(&m[5..9], "    ", "air bills carry no issuer code");
        // No SE16 for a bill on the e-manifest; seller (SE), never SH.
        assert!(!ids(&w).contains(&"SE16"));
        let entities: Vec<&str> = w
            .records
            .iter()
            .filter(|r| r.id() == "SE30")
            .map(|r| r.get("entity"))
            .collect();
        assert_eq!(entities, ["CN", "SE"]);
        let cn_place = w.records[7].line();
        assert_eq!(
            (&cn_place[4..17], &cn_place[63..65]),
            ("SAN FRANCISCO", "US")
        );
        assert!(w.cuts.is_empty());
    }

    #[test]
    fn a_type_11_has_its_ior_bond_parties_and_chapter_99_first() {
        let mut f = filer();
        f.bond_type = "9".into();
        f.bond_amount_usd = 5000;
        let w = transaction(&sample11(), &f, &book()).unwrap();
        let se10 = w.records[0].line();
        assert_eq!(
            (&se10[19..21], &se10[21..24], &se10[24..36], &se10[38..39]),
            ("11", "EI ", "12-345678900", "9")
        );
        let refs: Vec<(&str, &str)> = w
            .records
            .iter()
            .filter(|r| r.id() == "SE20")
            .map(|r| (r.get("qualifier"), r.get("value")))
            .collect();
        assert_eq!(refs, [("EDA", "090225"), ("V1", "457"), ("AMT", "5000")]);
        // Several sellers: SE and MF on each line, not at the header.
        let header: Vec<&str> = w
            .records
            .iter()
            .filter(|r| r.id() == "SE30")
            .map(|r| r.get("entity"))
            .collect();
        assert_eq!(header, ["CN"]);
        let line_parties: Vec<&str> = w
            .records
            .iter()
            .filter(|r| r.id() == "SE50")
            .map(|r| r.get("entity"))
            .collect();
        assert_eq!(
            line_parties,
            ["SE", "MF", "SE", "MF", "SE", "MF", "SE", "MF"]
        );
        let hts: Vec<String> = w
            .records
            .iter()
            .filter(|r| r.id() == "SE60")
            .map(|r| format!("{}/{}", r.get("hts"), r.get("value").trim()))
            .collect();
        assert_eq!(
            &hts[..3],
            ["99038803/", "99030125/", "8518302000/0000000250"]
        );
        assert!(w.records.iter().all(|r| r.missing().is_empty()));
    }

    #[test]
    fn names_are_transliterated_and_addresses_fill_the_second_component_before_a_cut() {
        let mut e = sample();
        e.consignee.name = "José Müller-Østergaard".into();
        e.consignee.address =
            "Apartment 4B, Residence Les Érables, 1200 Boulevard Saint-Laurent Nord".into();
        let w = transaction(&e, &filer(), &book()).unwrap();
        let cn = w
            .records
            .iter()
            .find(|r| r.id() == "SE30" && r.get("entity") == "CN")
            .unwrap();
        assert_eq!(cn.get("name"), "JOSE MULLER-OSTERGAARD");
        let addr = w.records.iter().find(|r| r.id() == "SE35").unwrap();
        assert_eq!(
            (addr.get("qualifier"), addr.get("text")),
            ("15", "APARTMENT 4B, RESIDENCE LES")
        );
        assert_eq!(
            (addr.get("qualifier2"), addr.get("text2")),
            ("15", "ERABLES, 1200 BOULEVARD")
        );
        let second: Vec<&str> = w
            .records
            .iter()
            .filter(|r| r.id() == "SE35")
            .skip(1)
            .take(1)
            .map(|r| r.get("text"))
            .collect();
        assert_eq!(
            second,
            ["SAINT-LAURENT NORD"],
            "the rest goes to a second SE35, nothing cut"
        );
        assert!(w.cuts.is_empty(), "{:?}", w.cuts);
        // A name longer than 35 characters is cut, and the cut is noted.
        e.consignee.name = "Internationale Handelsgesellschaft für Feinkost GmbH".into();
        let w = transaction(&e, &filer(), &book()).unwrap();
        let cn = w
            .records
            .iter()
            .find(|r| r.id() == "SE30" && r.get("entity") == "CN")
            .unwrap();
        assert_eq!(cn.get("name"), "INTERNATIONALE HANDELSGESELLSCHAFT");
        assert_eq!(w.cuts, ["SE30 CN name cut to 35 characters"]);
    }

    #[test]
    fn house_bills_lose_the_characters_se15_forbids() {
        let mut e = sample();
        e.house_bill = "CT-0012/a".into();
        let w = transaction(&e, &filer(), &book()).unwrap();
        assert_eq!(w.records[3].get("bill"), "CT0012A");
        e.house_bill = "--".into();
        assert_eq!(refusal(&e, &filer(), &book()).field, "SE15 bill number");
    }

    #[test]
    fn refused_without_an_ior_on_a_type_11() {
        let mut e = sample11();
        e.ior_number = String::new();
        assert_eq!(refusal(&e, &filer(), &book()).field, "SE10 IOR number");
        e.ior_number = "12345678900".into();
        assert!(refusal(&e, &filer(), &book()).why.contains("is not an EIN"));
    }

    #[test]
    fn refused_without_a_bond_on_a_type_11() {
        let mut f = filer();
        f.bond_type = "0".into();
        let r = refusal(&sample11(), &f, &book());
        assert_eq!(r.field, "SE10 bond type");
        assert!(r.why.contains("bond_type"), "{r}");
        // A type 86 needs none.
        assert!(transaction(&sample(), &f, &book()).is_ok());
        f.bond_type = "9".into();
        assert_eq!(refusal(&sample11(), &f, &book()).field, "SE20 V1/AMT");
    }

    #[test]
    fn refused_without_a_contact() {
        let mut f = filer();
        f.contact_phone = String::new();
        assert_eq!(refusal(&sample(), &f, &book()).field, "SE13 contact");
    }

    #[test]
    fn refused_when_the_seller_address_is_unknown() {
        let r = refusal(&sample(), &filer(), &PartyBook::default());
        assert_eq!(r.field, "SE36 city of the seller of line 1");
        assert!(r.why.contains("filing.parties_file"), "{r}");
    }

    #[test]
    fn refused_without_a_consignee_city_or_address() {
        let mut e = sample();
        e.consignee.city = String::new();
        assert_eq!(
            refusal(&e, &filer(), &book()).field,
            "SE36 city of the consignee"
        );
        let mut e = sample();
        e.consignee.address = String::new();
        assert_eq!(refusal(&e, &filer(), &book()).field, "SE35 CN address");
    }

    #[test]
    fn refused_for_bad_lines() {
        let mut e = sample();
        e.lines[0].hts = "62141010".into();
        assert_eq!(refusal(&e, &filer(), &book()).field, "SE60 HTS (line 1)");
        let mut e = sample();
        e.lines[0].origin = String::new();
        assert_eq!(
            refusal(&e, &filer(), &book()).field,
            "SE40 country of origin (line 1)"
        );
    }

    #[test]
    fn refused_above_the_value_a_type_may_carry() {
        let mut e = sample11();
        e.entry_value_usd = 2501;
        assert_eq!(refusal(&e, &filer(), &book()).field, "SE10 entry value");
        let mut e = sample();
        e.entry_value_usd = 801;
        assert_eq!(refusal(&e, &filer(), &book()).field, "SE10 entry value");
    }

    #[test]
    fn a_non_ams_bill_carries_its_conveyance_or_is_refused() {
        let mut e = sample();
        e.mode_of_transport = "30".into(); // truck: never master/house... but AMS
        e.carrier = "ABCD".into();
        let w = transaction(&e, &filer(), &book()).unwrap();
        let bills: Vec<(&str, &str)> = w
            .records
            .iter()
            .filter(|r| r.id() == "SE15")
            .map(|r| (r.get("bill_type"), r.get("issuer")))
            .collect();
        assert_eq!(
            bills,
            [("R", "ABCD")],
            "truck bills are simple, with the SCAC"
        );
        e.mode_of_transport = "50".into(); // mail: non-AMS, SE16 needed
        e.conveyance = String::new();
        assert_eq!(refusal(&e, &filer(), &book()).field, "SE16 voyage/flight");
        e.conveyance = "T123".into();
        let w = transaction(&e, &filer(), &book()).unwrap();
        let se16 = w.records.iter().find(|r| r.id() == "SE16").unwrap();
        assert_eq!(
            (se16.get("voyage"), se16.get("arrival_date")),
            ("T123", "050125")
        );
        assert_eq!(w.records[0].get("unlading_port"), "4701");
        let se15 = w.records.iter().find(|r| r.id() == "SE15").unwrap();
        assert_eq!(
            (se15.get("non_ams"), se15.get("quantity")),
            ("Y", "00000001"),
            "type 86 keeps its quantity"
        );
    }

    #[test]
    fn flights_are_read_from_the_conveyance() {
        assert_eq!(voyage("DL1234", "40").as_deref(), Some("1234"));
        assert_eq!(voyage("LH 400", "40").as_deref(), Some("400"));
        assert_eq!(voyage("BAW123A", "40").as_deref(), Some("123A"));
        assert_eq!(
            voyage("157-12345675", "40"),
            None,
            "a master bill is not a flight"
        );
        assert_eq!(voyage("", "40"), None);
        assert_eq!(voyage("V-042", "11").as_deref(), Some("V042"));
    }
}
