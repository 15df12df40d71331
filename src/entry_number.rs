//! Entry numbers: `XXX-NNNNNNN-C`, the filer code CBP assigned, a 7-digit
//! serial the filer chooses (never reused: a reused number is a fatal reject
//! in ACE), and a check digit (CATAIR Appendix E; domain.md section 3.5).
//!
//! The check digit is Luhn over the ten characters after turning letters
//! into digits: A-I = 1-9, J-R = 1-9, S-Z = 2-9; digits in positions 2, 4,
//! 6, 8 and 10 are doubled (digits of a product over 9 added); the check
//! digit brings the sum to a multiple of ten.

use std::fmt;

/// Why a filer code or entry number is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryNumberError {
    #[error("filer code {0:?} is not three letters or digits")]
    FilerCode(String),
    #[error("serial {0} does not fit seven digits")]
    Serial(u64),
    #[error("{0:?} is not an entry number (XXX-NNNNNNN-C)")]
    Format(String),
    #[error("entry number {0}: the check digit should be {1}")]
    CheckDigit(String, u8),
}

/// The digit value of one character of an entry number.
fn value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'I' => Some(u32::from(c - b'A') + 1),
        b'J'..=b'R' => Some(u32::from(c - b'J') + 1),
        b'S'..=b'Z' => Some(u32::from(c - b'S') + 2),
        _ => None,
    }
}

/// The check digit of filer code + serial (ten characters).
pub fn check_digit(filer_code: &str, serial: u64) -> Result<u8, EntryNumberError> {
    let code = filer_code.to_ascii_uppercase();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(EntryNumberError::FilerCode(filer_code.into()));
    }
    if serial > 9_999_999 {
        return Err(EntryNumberError::Serial(serial));
    }
    let ten = format!("{code}{serial:07}");
    let mut sum = 0;
    for (i, c) in ten.bytes().enumerate() {
        let v = value(c).ok_or_else(|| EntryNumberError::FilerCode(filer_code.into()))?;
        sum += if i % 2 == 1 {
            let d = v * 2;
            if d > 9 { d - 9 } else { d }
        } else {
            v
        };
    }
    Ok(((10 - sum % 10) % 10) as u8)
}

/// A valid entry number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryNumber {
    pub filer_code: String,
    pub serial: u64,
    pub check: u8,
}

impl EntryNumber {
    pub fn new(filer_code: &str, serial: u64) -> Result<EntryNumber, EntryNumberError> {
        let check = check_digit(filer_code, serial)?;
        Ok(EntryNumber {
            filer_code: filer_code.to_ascii_uppercase(),
            serial,
            check,
        })
    }

    /// Parses `ABC-1234567-6` (or `ABC12345676`), checking the check digit.
    pub fn parse(text: &str) -> Result<EntryNumber, EntryNumberError> {
        let compact: String = text.trim().chars().filter(|c| *c != '-').collect();
        if compact.len() != 11 || !compact[3..].bytes().all(|b| b.is_ascii_digit()) {
            return Err(EntryNumberError::Format(text.into()));
        }
        let serial: u64 = compact[3..10]
            .parse()
            .map_err(|_| EntryNumberError::Format(text.into()))?;
        let given = compact.as_bytes()[10] - b'0';
        let n = EntryNumber::new(&compact[..3], serial)?;
        if n.check != given {
            return Err(EntryNumberError::CheckDigit(text.into(), n.check));
        }
        Ok(n)
    }

    /// The 8 characters of CATAIR SE10 positions 11-18: serial and check digit.
    pub fn serial_and_check(&self) -> String {
        format!("{:07}{}", self.serial, self.check)
    }

    /// The 11 characters without hyphens (`ABC12345676`): the form of CATAIR
    /// SE20 `EN` and of CBP's CAPE refund upload.
    pub fn compact(&self) -> String {
        format!("{}{:07}{}", self.filer_code, self.serial, self.check)
    }
}

impl fmt::Display for EntryNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:07}-{}", self.filer_code, self.serial, self.check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_example_of_domain_md() {
        assert_eq!(check_digit("ABC", 1_234_567), Ok(6));
        assert_eq!(
            EntryNumber::new("ABC", 1_234_567).unwrap().to_string(),
            "ABC-1234567-6"
        );
    }

    #[test]
    fn letters_map_in_three_runs() {
        // J..R restart at 1 and S..Z at 2: JKL = 1,2,3 like ABC; STU = 2,3,4 like BCD.
        assert_eq!(check_digit("JKL", 1_234_567), check_digit("ABC", 1_234_567));
        assert_eq!(check_digit("STU", 1_234_567), check_digit("BCD", 1_234_567));
        assert_eq!(check_digit("123", 1_234_567), check_digit("ABC", 1_234_567));
        // Z = 9 and I = 9 and R = 9.
        assert_eq!(check_digit("ZZZ", 0), check_digit("999", 0));
        assert_eq!(check_digit("IRZ", 0), check_digit("999", 0));
        // By hand: 9,9,9,0..0 -> 9 + (9*2=18 -> 9) + 9 = 27 -> check 3.
        assert_eq!(check_digit("999", 0), Ok(3));
        // Lower case is the same code.
        assert_eq!(check_digit("abc", 1_234_567), Ok(6));
    }

    #[test]
    fn parse_checks_everything() {
        assert_eq!(
            EntryNumber::parse("ABC-1234567-6").unwrap().serial,
            1_234_567
        );
        assert_eq!(
            EntryNumber::parse("abc12345676").unwrap().to_string(),
            "ABC-1234567-6"
        );
        assert_eq!(
            EntryNumber::parse("ABC-1234567-5"),
            Err(EntryNumberError::CheckDigit("ABC-1234567-5".into(), 6))
        );
        assert!(matches!(
            EntryNumber::parse("AB-1234567-6"),
            Err(EntryNumberError::Format(_))
        ));
        assert!(matches!(
            EntryNumber::new("A-C", 1),
            Err(EntryNumberError::FilerCode(_))
        ));
        assert!(matches!(
            EntryNumber::new("ABC", 10_000_000),
            Err(EntryNumberError::Serial(_))
        ));
        assert_eq!(
            EntryNumber::new("ABC", 42)
                .unwrap()
                .serial_and_check()
                .len(),
            8
        );
        assert_eq!(
            EntryNumber::parse("ABC-1234567-6").unwrap().compact(),
            "ABC12345676"
        );
    }

    #[test]
    fn every_single_digit_error_is_caught() {
        let good = EntryNumber::new("K9Q", 7_654_321).unwrap().to_string();
        for pos in [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 12] {
            let mut bad = good.clone().into_bytes();
            bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
            let bad = String::from_utf8(bad).unwrap();
            if bad != good {
                assert!(
                    EntryNumber::parse(&bad).is_err()
                        || value(bad.as_bytes()[pos]) == value(good.as_bytes()[pos]),
                    "{bad}"
                );
            }
        }
    }
}
