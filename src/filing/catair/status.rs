//! SO status notifications, revision 36 (catair.md sections 5 and 6.5-6.6;
//! positions confirmed by the CQ v21 WO records), and what each disposition
//! means for the ledger.

use super::key::{Class::*, Layout, Usage::*, f, filler};
use crate::state::ledger::FilingState;

/// SO10 header [SO p.21-22; CQ ACMQ-45].
pub static SO10: Layout = Layout {
    id: "SO10",
    source: "SO p.21-22; CQ ACMQ-45",
    fields: &[
        f("port", 5, 4, N, C),
        f("filer", 9, 3, AN, M),
        filler(12, 2),
        f("entry_number", 14, 8, AN, M),
        filler(22, 1),
        f("entry_type", 23, 2, N, M),
        f("ior_number", 25, 12, X, M),
        f("carrier", 37, 4, AN, C),
        f("vessel", 41, 20, AN, C),
        f("voyage", 61, 5, X, C),
        f("arrival_date", 66, 6, N, C),
        f("split", 72, 1, AN, O),
        f("correction", 73, 1, X, C),
        filler(74, 7),
    ],
};

/// SO50 bill match disposition [SO p.28-29; CQ ACMQ-52/53].
pub static SO50: Layout = Layout {
    id: "SO50",
    source: "SO p.28-29; CQ ACMQ-52/53",
    fields: &[
        f("date", 5, 6, N, M),
        f("time", 11, 4, N, M),
        f("code", 15, 2, AN, M),
        f("narrative", 17, 40, X, M),
        f("split", 57, 1, A, M),
        f("carrier", 58, 4, AN, C),
        f("voyage", 62, 5, X, C),
        f("arrival_date", 67, 6, N, C),
        f("arrival_port", 73, 4, N, C),
        filler(77, 4),
    ],
};

/// SO60 cargo release processing disposition [SO p.30-32; CQ ACMQ-54..56].
pub static SO60: Layout = Layout {
    id: "SO60",
    source: "SO p.30-32; CQ ACMQ-54..56",
    fields: &[
        f("date", 5, 6, N, M),
        f("time", 11, 4, N, M),
        f("code", 15, 2, AN, M),
        f("narrative", 17, 40, X, M),
        f("release_date", 57, 6, N, C),
        f("release_origin", 63, 2, N, C),
        f("document_type", 65, 6, AN, C),
        filler(71, 10),
    ],
};

/// The records between SO10 and the next SO10 that a reader skips (their
/// details rest on one transcription only: catair.md section 5).
pub const SKIPPED: &[&str] = &["SO20", "SO30", "SO40", "SO42", "SO70", "SO71", "SO72"];

/// What an SO60 disposition code does to a filing (table 6.6). `None`: the
/// notice informs and moves nothing (admissible, quota accepted, replaced,
/// a hold removed). An unknown code is kept and treated as a hold, so a
/// human looks at it (catair.md: a reader must keep unknown codes).
pub fn release_state(code: &str, release_origin: &str) -> Option<FilingState> {
    match code {
        // ONEUSG (every agency cleared); RELEASED.
        "01" | "98" => Some(FilingState::Released),
        // Release date update; origin 99 means the release date was removed.
        "22" if release_origin == "99" => Some(FilingState::Held),
        "22" => Some(FilingState::Released),
        "04" => Some(FilingState::Detained),
        // Cancelled; deleted by CBP.
        "23" | "21" => Some(FilingState::Cancelled),
        // Admissible, quota accepted, cancellation unset, entry replaced:
        // information, no move.
        "97" | "73" | "24" | "88" => None,
        // Exams, not released, de minimis, quota, no bill match, port and
        // document problems, review, suspended, and anything unknown.
        _ => Some(FilingState::Held),
    }
}

/// What an SO50 bill match code does (table 6.5): holds hold, the rest
/// (bill on file, arrived, hold removed) moves nothing.
pub fn bill_match_state(code: &str) -> Option<FilingState> {
    match code {
        "51" | "52" | "53" | "57" | "58" | "59" | "61" | "62" | "63" | "74" => {
            Some(FilingState::Held)
        }
        _ => None,
    }
}

/// Every record an SO batch may hold that s321d reads.
pub static RECORDS: &[&Layout] = &[&SO10, &SO50, &SO60];

#[cfg(test)]
mod tests {
    use super::super::key::tests::{assert_tiles, at};
    use super::super::key::{Class, Usage};
    use super::*;

    #[test]
    fn so10() {
        assert_tiles(&SO10);
        at(&SO10, "port", 5, 8, Class::N, Usage::C);
        at(&SO10, "filer", 9, 11, Class::AN, Usage::M);
        at(&SO10, "entry_number", 14, 21, Class::AN, Usage::M);
        at(&SO10, "entry_type", 23, 24, Class::N, Usage::M);
        at(&SO10, "ior_number", 25, 36, Class::X, Usage::M);
        at(&SO10, "carrier", 37, 40, Class::AN, Usage::C);
        at(&SO10, "vessel", 41, 60, Class::AN, Usage::C);
        at(&SO10, "voyage", 61, 65, Class::X, Usage::C);
        at(&SO10, "arrival_date", 66, 71, Class::N, Usage::C);
        at(&SO10, "split", 72, 72, Class::AN, Usage::O);
        at(&SO10, "correction", 73, 73, Class::X, Usage::C);
    }

    #[test]
    fn so50() {
        assert_tiles(&SO50);
        at(&SO50, "date", 5, 10, Class::N, Usage::M);
        at(&SO50, "time", 11, 14, Class::N, Usage::M);
        at(&SO50, "code", 15, 16, Class::AN, Usage::M);
        at(&SO50, "narrative", 17, 56, Class::X, Usage::M);
        at(&SO50, "split", 57, 57, Class::A, Usage::M);
        at(&SO50, "carrier", 58, 61, Class::AN, Usage::C);
        at(&SO50, "voyage", 62, 66, Class::X, Usage::C);
        at(&SO50, "arrival_date", 67, 72, Class::N, Usage::C);
        at(&SO50, "arrival_port", 73, 76, Class::N, Usage::C);
    }

    #[test]
    fn so60() {
        assert_tiles(&SO60);
        at(&SO60, "date", 5, 10, Class::N, Usage::M);
        at(&SO60, "time", 11, 14, Class::N, Usage::M);
        at(&SO60, "code", 15, 16, Class::AN, Usage::M);
        at(&SO60, "narrative", 17, 56, Class::X, Usage::M);
        at(&SO60, "release_date", 57, 62, Class::N, Usage::C);
        at(&SO60, "release_origin", 63, 64, Class::N, Usage::C);
        at(&SO60, "document_type", 65, 70, Class::AN, Usage::C);
    }

    #[test]
    fn dispositions_map_onto_the_ledger() {
        assert_eq!(release_state("98", "03"), Some(FilingState::Released));
        assert_eq!(release_state("01", ""), Some(FilingState::Released));
        assert_eq!(release_state("22", "09"), Some(FilingState::Released));
        assert_eq!(release_state("22", "99"), Some(FilingState::Held));
        assert_eq!(release_state("04", ""), Some(FilingState::Detained));
        assert_eq!(release_state("23", ""), Some(FilingState::Cancelled));
        assert_eq!(release_state("99", ""), Some(FilingState::Held));
        assert_eq!(release_state("90", ""), Some(FilingState::Held));
        assert_eq!(release_state("34", ""), Some(FilingState::Held));
        assert_eq!(release_state("97", ""), None);
        assert_eq!(
            release_state("Q7", ""),
            Some(FilingState::Held),
            "an unknown code is kept, as a hold"
        );
        assert_eq!(bill_match_state("53"), Some(FilingState::Held));
        assert_eq!(bill_match_state("95"), None);
    }
}
