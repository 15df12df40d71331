//! An entry as the simulator sees it, whichever way it came: read from the
//! JSON gateway's request body (its own serde struct, so the simulator does
//! not share the writer's types) or rebuilt from an SE transaction read
//! with the simulator's own layouts. The business rules (`rules`) and the
//! release decisions work on this one shape.

use chrono::NaiveDate;
use serde::Deserialize;

use super::read::Line;

/// A party: only what ACE checks or the release decisions use.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Party {
    pub name: String,
    pub address: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// One bill of lading: a house bill (or a simple bill) under its master.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Bill {
    pub master_bill: String,
    pub house_bill: String,
}

/// A chapter 99 number reported on a line.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Ch99 {
    pub heading: String,
    /// Set when CATAIR carried a value on the chapter 99 number (a fault).
    #[serde(skip)]
    pub valued: bool,
    /// Set when it came after the line's chapter 1-97 number (a fault).
    #[serde(skip)]
    pub late: bool,
}

/// One commercial line.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct EntryLine {
    pub line: u32,
    pub description: String,
    pub hts: String,
    pub origin: String,
    pub value_usd: u64,
    pub ch99: Vec<Ch99>,
}

/// The JSON gateway's request body (the protocol of `POST /v1/entries`),
/// tolerant of fields it does not use.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Filing {
    pub entry_number: String,
    pub entry_type: String,
    pub filer_code: String,
    /// The carrier (JSON) or the first non-blank bill issuer or SE16 carrier (CATAIR).
    pub carrier: String,
    /// The first bill (JSON entries of one bill carry only these).
    pub house_bill: String,
    pub master_bill: String,
    pub bills: Vec<Bill>,
    pub arrival_date: Option<NaiveDate>,
    pub port_of_entry: String,
    pub mode_of_transport: String,
    pub ior_type: String,
    pub ior_number: String,
    pub bond_type: String,
    pub entry_value_usd: u64,
    pub consignee: Party,
    pub shipper: Party,
    pub lines: Vec<EntryLine>,
}

impl Filing {
    /// Every house (or simple) bill of the entry.
    pub fn all_bills(&self) -> Vec<Bill> {
        if self.bills.is_empty() {
            if self.house_bill.is_empty() && self.master_bill.is_empty() {
                return Vec::new();
            }
            vec![Bill {
                master_bill: self.master_bill.clone(),
                house_bill: self.house_bill.clone(),
            }]
        } else {
            self.bills.clone()
        }
    }
}

/// A bill number as ACE files it: upper case letters and digits only.
pub fn bill_key(bill: &str) -> String {
    bill.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The check digit of a filer code and a 7-digit serial (CATAIR Appendix E,
/// domain.md 3.5): letters become digits (A-I 1-9, J-R 1-9, S-Z 2-9), the
/// 2nd, 4th, ... of the ten are doubled (digits of a product over 9 added),
/// and the check digit brings the sum to a multiple of ten.
pub fn check_digit(filer: &str, serial: &str) -> Option<u8> {
    let ten = format!("{filer}{serial}");
    if filer.len() != 3 || serial.len() != 7 || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut sum = 0u32;
    for (i, c) in ten.bytes().enumerate() {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'I' => u32::from(c - b'A') + 1,
            b'J'..=b'R' => u32::from(c - b'J') + 1,
            b'S'..=b'Z' => u32::from(c - b'S') + 2,
            _ => return None,
        };
        sum += if i % 2 == 1 {
            let d = v * 2;
            if d > 9 { d - 9 } else { d }
        } else {
            v
        };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Whether `FFF-NNNNNNN-C` (hyphens optional) carries its check digit.
pub fn entry_number_valid(number: &str) -> bool {
    let compact: String = number.chars().filter(|c| *c != '-').collect();
    compact.len() == 11
        && compact.is_ascii()
        && check_digit(&compact[..3], &compact[3..10])
            .is_some_and(|d| compact.as_bytes()[10] == b'0' + d)
}

/// The IOR type an IOR number's shape implies: `EI` (EIN + suffix), `ANI`
/// (CBP-assigned), `34` (SSN); SE10 Note 4.
pub fn ior_type_of(number: &str) -> Option<&'static str> {
    let b = number.trim().as_bytes();
    let shape = |pattern: &[u8]| {
        b.len() == pattern.len()
            && b.iter().zip(pattern).all(|(c, p)| match p {
                b'N' => c.is_ascii_digit(),
                b'S' => c.is_ascii_digit() || c.is_ascii_uppercase(),
                _ => c == p,
            })
    };
    if shape(b"NN-NNNNNNNSS") {
        Some("EI")
    } else if shape(b"NNNNNN-NNNNN") {
        Some("ANI")
    } else if shape(b"NNN-NN-NNNN") {
        Some("34")
    } else {
        None
    }
}

/// Rebuilds the entry an SE transaction (SE10 first) files.
pub fn from_se(records: &[Line]) -> Filing {
    let mut e = Filing::default();
    let mut master = String::new();
    let mut entity = String::new();
    let mut hts_seen = false;
    for r in records {
        match r.id() {
            "SE10" => {
                e.filer_code = r.get("filer").to_owned();
                let n = r.get("entry_number");
                e.entry_number = if n.len() == 8 {
                    format!("{}-{}-{}", e.filer_code, &n[..7], &n[7..])
                } else {
                    n.to_owned()
                };
                e.entry_type = r.get("entry_type").to_owned();
                e.ior_type = r.get("ior_type").to_owned();
                e.ior_number = r.get("ior_number").to_owned();
                e.mode_of_transport = r.get("mot").to_owned();
                e.bond_type = r.get("bond_type").to_owned();
                e.entry_value_usd = r.get("entry_value").trim().parse().unwrap_or(0);
                e.port_of_entry = r.get("planned_port").trim().to_owned();
            }
            "SE15" => match r.get("bill_type") {
                "M" => master = r.get("bill").to_owned(),
                "I" => {}
                _ => {
                    e.bills.push(Bill {
                        master_bill: std::mem::take(&mut master),
                        house_bill: r.get("bill").to_owned(),
                    });
                    if e.carrier.is_empty() {
                        e.carrier = r.get("issuer").to_owned();
                    }
                }
            },
            "SE16" if e.carrier.is_empty() => e.carrier = r.get("carrier").to_owned(),
            "SE20" if r.get("qualifier") == "EDA" => {
                e.arrival_date = NaiveDate::parse_from_str(r.get("value").trim(), "%m%d%y").ok()
            }
            "SE30" | "SE50" => {
                entity = r.get("entity").trim().to_owned();
                if entity == "CN" {
                    e.consignee.name = r.get("name").to_owned();
                }
                if entity == "SE" || entity == "MF" {
                    e.shipper.name = r.get("name").to_owned();
                }
            }
            "SE35" | "SE55" if entity == "CN" => e.consignee.address = r.get("text").to_owned(),
            "SE36" | "SE56" => match entity.as_str() {
                "CN" => {
                    e.consignee.city = r.get("city").to_owned();
                    e.consignee.postal_code = r.get("postal").to_owned();
                    e.consignee.country = r.get("country").to_owned();
                }
                "SE" | "MF" => e.shipper.country = r.get("country").to_owned(),
                _ => {}
            },
            "SE40" => {
                hts_seen = false;
                e.lines.push(EntryLine {
                    line: r.get("line").parse().unwrap_or(0),
                    origin: r.get("origin").to_owned(),
                    description: r.get("description").to_owned(),
                    ..EntryLine::default()
                });
            }
            "SE60" => {
                if let Some(l) = e.lines.last_mut() {
                    let hts = r.get("hts").trim().to_owned();
                    let value = r.get("value").trim();
                    if hts.starts_with("99") {
                        l.ch99.push(Ch99 {
                            heading: hts,
                            valued: !value.trim_start_matches('0').is_empty(),
                            late: hts_seen,
                        });
                    } else {
                        hts_seen = true;
                        l.hts = hts;
                        l.value_usd = value.parse().unwrap_or(0);
                    }
                }
            }
            _ => {}
        }
    }
    if !master.is_empty() {
        // A master with no house after it is a bill of its own.
        e.bills.push(Bill {
            master_bill: master,
            house_bill: String::new(),
        });
    }
    if let Some(first) = e.bills.first() {
        e.house_bill = first.house_bill.clone();
        e.master_bill = first.master_bill.clone();
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_digit_of_domain_3_5() {
        assert_eq!(check_digit("ABC", "1234567"), Some(6));
        assert!(entry_number_valid("ABC-1234567-6"));
        assert!(entry_number_valid("ABC12345676"));
        assert!(!entry_number_valid("ABC-1234567-5"));
        assert!(!entry_number_valid("ABC-12345-6"));
    }

    #[test]
    fn ior_shapes() {
        assert_eq!(ior_type_of("12-345678900"), Some("EI"));
        assert_eq!(ior_type_of("250101-12345"), Some("ANI"));
        assert_eq!(ior_type_of("123-45-6789"), Some("34"));
        assert_eq!(ior_type_of(""), None);
    }

    #[test]
    fn the_gateway_body_is_read_leniently() {
        let json = r#"{"entry_number":"ABC-1234567-6","entry_type":"86","filer_code":"ABC","carrier":"DHLX",
            "house_bill":"DX1001","master_bill":"","arrival_date":"2025-05-01","port_of_entry":"4701",
            "mode_of_transport":"40","ior_type":"","ior_number":"","bond_type":"0","entry_value_usd":45,
            "consignee":{"name":"Chen Wei","country":"US","state":"CA"},"shipper":{"name":"S","country":"VN"},
            "seller":null,"lines":[{"line":1,"description":"Silk scarf","hts":"6214101000","origin":"VN","value_usd":45,
            "ch99":[{"heading":"9903.01.25","amount_usd":"1.00"}]}],"estimate":{"duty_usd":"1"}}"#;
        let f: Filing = serde_json::from_str(json).unwrap();
        assert_eq!(
            f.all_bills(),
            [Bill {
                master_bill: String::new(),
                house_bill: "DX1001".into()
            }]
        );
        assert_eq!(f.lines[0].ch99[0].heading, "9903.01.25");
        assert_eq!(f.arrival_date, NaiveDate::from_ymd_opt(2025, 5, 1));
    }
}
