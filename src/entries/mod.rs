//! Customs entries (contract v2 section 8): which shipments go on one entry,
//! of which type, on what legal basis.
//!
//! 19 CFR 141.51 puts everything that arrives on one conveyance for one
//! consignee on one entry; the informal cap of 143.21(a) is tested on that
//! entry's total (CSMS 64957404). This module is pure: [`group::build`] takes
//! the run's shipments routed 11, 01 or 03 and returns entries; the engine's
//! entry stage feeds it and writes `entries.csv` and `entry_lines.csv`.

pub mod group;
pub mod ior;

use std::fmt;

/// The entry types s321d builds (CBP Form 7501 instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryType {
    /// 01: formal consumption entry.
    Formal,
    /// 03: consumption entry of goods subject to AD/CVD.
    Adcvd,
    /// 11: informal entry (up to `informal_limit_usd`).
    Informal,
}

impl EntryType {
    /// The two-digit code as filed and written (`01`, `03`, `11`).
    pub fn code(self) -> &'static str {
        match self {
            EntryType::Formal => "01",
            EntryType::Adcvd => "03",
            EntryType::Informal => "11",
        }
    }

    /// Reads a disposition or entry type code; `None` for anything that is not
    /// an entry type (`hold`, `duplicate`, `86`).
    pub fn from_code(code: &str) -> Option<EntryType> {
        match code {
            "01" => Some(EntryType::Formal),
            "03" => Some(EntryType::Adcvd),
            "11" => Some(EntryType::Informal),
            _ => None,
        }
    }

    /// Whether MPF is charged at the formal rate (01, 03) rather than the
    /// informal flat fee (11).
    pub fn is_formal(self) -> bool {
        !matches!(self, EntryType::Informal)
    }
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an entry holds the shipments it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// 19 CFR 141.51: the entry holds every shipment of its group.
    WholeConveyance,
    /// 19 CFR 141.52(e): separate bills, separate entries.
    SeparateBills,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::WholeConveyance => "141.51",
            Basis::SeparateBills => "141.52(e)",
        }
    }
}

/// How the goods arrive (contract section 1 `transport_mode`; empty is air).
/// Only ocean changes a figure (HMF), but the set is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportMode {
    Air,
    Ocean,
    Truck,
    Rail,
    Mail,
}

impl TransportMode {
    /// Reads a normalised (trimmed, lower-case) `transport_mode`; empty is
    /// air; anything else is `None`.
    pub fn parse(text: &str) -> Option<TransportMode> {
        match text {
            "" | "air" => Some(TransportMode::Air),
            "ocean" => Some(TransportMode::Ocean),
            "truck" => Some(TransportMode::Truck),
            "rail" => Some(TransportMode::Rail),
            "mail" => Some(TransportMode::Mail),
            _ => None,
        }
    }
}

/// The `entry_ref` of the run's `n`-th entry (1-based): `R000001`.
pub fn entry_ref(n: usize) -> String {
    format!("R{n:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_refs_are_padded() {
        for t in [EntryType::Formal, EntryType::Adcvd, EntryType::Informal] {
            assert_eq!(EntryType::from_code(t.code()), Some(t));
        }
        assert_eq!(EntryType::from_code("86"), None);
        assert_eq!(EntryType::from_code("hold"), None);
        assert_eq!(entry_ref(1), "R000001");
        assert_eq!(entry_ref(1234567), "R1234567");
        assert!(EntryType::Adcvd.is_formal() && !EntryType::Informal.is_formal());
        assert_eq!(TransportMode::parse(""), Some(TransportMode::Air));
        assert_eq!(TransportMode::parse("ocean"), Some(TransportMode::Ocean));
        assert_eq!(TransportMode::parse("boat"), None);
    }
}
