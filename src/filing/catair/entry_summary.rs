//! ACE Entry Summary input (AE) and its AX answer (catair.md sections 2 and
//! 7, [ES] Entry Summary Create/Update, July 2026): the records s321d writes
//! for a type 11, 01 or 03 entry summary — 10, 11, 31, 34, 40, 50, 62, 89,
//! 90 — and the E0/E1 records ACE answers with.
//!
//! catair.md names only some positions of these records. Positions it does
//! not describe are written as spaces (fillers here); the simulator, with
//! its own table, takes them as they come. Amounts are (S)N with the implied
//! decimals catair.md gives: 2 for duty and fees, none for values.

use super::key::{Class::*, Layout, Usage::*, coded, f, filler};

/// Entry types an entry summary takes (AE Table 1, as far as catair.md
/// lists them; s321d writes 11, 01 and 03).
pub const ENTRY_TYPES: &[&str] = &[
    "01", "02", "03", "06", "07", "11", "12", "21", "22", "23", "31", "32", "34", "38", "51", "52",
];

/// Payment type codes (10 pos 51): 1 individual; 2/3/5 daily statement by
/// filer / IOR / IOR without suffix; 6/7/8 the same on the monthly statement.
pub const PAYMENT_TYPES: &[&str] = &["1", "2", "3", "5", "6", "7", "8"];

/// 10 header control [ES p.26-33].
pub static AE10: Layout = Layout {
    id: "10",
    source: "ES p.26-33",
    fields: &[
        coded("action", 3, 1, A, M, &["A", "R", "D"]),
        f("filer", 4, 3, AN, M),
        filler(7, 2),
        f("entry_number", 9, 8, AN, M),
        filler(17, 1),
        f("port", 18, 4, AN, M),
        f("broker_ref", 22, 9, X, C),
        filler(31, 3),
        coded("entry_type", 34, 2, AN, M, ENTRY_TYPES),
        coded("mode", 36, 2, AN, C, super::cargo_release::MODES),
        coded("bond_waiver", 38, 1, AN, C, &["0"]),
        coded("signature", 39, 1, AN, C, &["X"]),
        coded("certify", 40, 1, AN, C, &["A"]),
        f("eip", 41, 1, AN, O),
        filler(42, 2),
        f("live", 44, 1, AN, O),
        filler(45, 6),
        coded("payment_type", 51, 1, AN, C, PAYMENT_TYPES),
        f("statement_date", 52, 6, D, C),
        f("statement_month", 58, 2, N, C),
        f("branch", 60, 2, AN, C),
        coded(
            "waiver_reason",
            62,
            3,
            AN,
            C,
            &["995", "996", "997", "998", "999"],
        ),
        filler(65, 2),
        f("known_importer", 67, 1, AN, O),
        filler(68, 13),
    ],
};

/// 11 header content [ES p.36].
pub static AE11: Layout = Layout {
    id: "11",
    source: "ES p.36",
    fields: &[
        f("ior", 3, 12, X, M),
        f("consignee", 15, 12, X, C),
        f("party_4811", 27, 12, X, C),
        filler(39, 3),
        f("estimated_entry_date", 42, 6, D, C),
        f("import_date", 48, 6, D, C),
        filler(54, 7),
        f("state", 61, 2, AN, C),
        f("ftz", 63, 9, X, C),
        filler(72, 9),
    ],
};

/// 31 bond [ES p.49-50]; the designation codes (B basic, A additional, U
/// substitution STB, E superseding STB) from the ES transcription.
pub static AE31: Layout = Layout {
    id: "31",
    source: "ES p.49-50",
    fields: &[
        coded("bond_type", 3, 1, AN, M, &["8", "9"]),
        coded("designation", 4, 1, AN, M, &["B", "A", "U", "E"]),
        f("continuous", 5, 1, AN, C),
        f("surety", 6, 3, AN, M),
        f("amount", 9, 10, SN, C),
        f("producer", 19, 10, X, O),
        filler(29, 52),
    ],
};

/// 34 header fees [ES p.53]: accounting class + amount (2 implied decimals).
/// catair.md gives the first pair at 3-5/6-13; s321d writes one pair (the
/// informal entry fee), the rest of the record stays spaces.
pub static AE34: Layout = Layout {
    id: "34",
    source: "ES p.53",
    fields: &[
        f("class", 3, 3, AN, M),
        f("amount", 6, 8, SN, M),
        filler(14, 67),
    ],
};

/// 40 line header [ES p.65].
pub static AE40: Layout = Layout {
    id: "40",
    source: "ES p.65",
    fields: &[
        filler(3, 2),
        f("line", 5, 3, X, M),
        filler(8, 1),
        f("origin", 9, 2, X, M),
        f("export_country", 11, 2, AN, C),
        f("export_date", 13, 6, D, C),
        filler(19, 6),
        f("spi", 25, 2, AN, C),
        f("charges", 27, 10, SN, C),
        f("lading_port", 37, 5, AN, C),
        f("gross_weight", 42, 10, SN, C),
        filler(52, 4),
        f("related", 56, 1, AN, C),
        filler(57, 1),
        f("fee_exemption", 58, 1, AN, C),
        filler(59, 22),
    ],
};

/// 50 tariff, value and quantity [ES p.89-90]: up to 32 per line, chapter
/// 99 numbers included.
pub static AE50: Layout = Layout {
    id: "50",
    source: "ES p.89-90",
    fields: &[
        f("hts", 3, 10, AN, M),
        filler(13, 1),
        f("duty", 14, 10, SN, M),
        filler(24, 1),
        f("value", 25, 10, SN, M),
        filler(35, 1),
        f("quantity1", 36, 12, SN, C),
        f("uom1", 48, 3, AN, M),
        f("quantity2", 51, 12, SN, C),
        f("uom2", 63, 3, AN, C),
        f("quantity3", 66, 12, SN, C),
        f("uom3", 78, 3, AN, C),
    ],
};

/// 62 line user fee [ES p.120]; classes in AE Table 6 (499 formal MPF, 501 HMF).
pub static AE62: Layout = Layout {
    id: "62",
    source: "ES p.120",
    fields: &[
        f("class", 3, 3, AN, M),
        f("amount", 6, 8, SN, M),
        filler(14, 67),
    ],
};

/// 89 fee totals [ES p.129]: up to 5 class + total pairs (2 implied decimals).
pub static AE89: Layout = Layout {
    id: "89",
    source: "ES p.129",
    fields: &[
        f("class1", 3, 3, AN, M),
        f("total1", 6, 11, SN, M),
        f("class2", 17, 3, AN, C),
        f("total2", 20, 11, SN, C),
        f("class3", 31, 3, AN, C),
        f("total3", 34, 11, SN, C),
        f("class4", 45, 3, AN, C),
        f("total4", 48, 11, SN, C),
        f("class5", 59, 3, AN, C),
        f("total5", 62, 11, SN, C),
        filler(73, 8),
    ],
};

/// 90 grand totals [ES p.131], each 11(S)N with 2 implied decimals.
pub static AE90: Layout = Layout {
    id: "90",
    source: "ES p.131",
    fields: &[
        f("duty", 3, 11, SN, C),
        filler(14, 1),
        f("fees", 15, 11, SN, C),
        filler(26, 1),
        f("ir_tax", 27, 11, SN, C),
        filler(38, 1),
        f("ad", 39, 11, SN, C),
        filler(50, 1),
        f("cv", 51, 11, SN, C),
        filler(62, 1),
        f("other", 63, 11, SN, C),
        filler(74, 7),
    ],
};

/// E0 AX condition reference: the X0 layout with its own id ([BB B&B-37];
/// the ES output chapter was not read: UNVERIFIED).
pub static E0: Layout = Layout {
    id: "E0",
    source: "BB B&B-37; ES output (transcription)",
    fields: super::envelope::X0.fields,
};

/// E1 AX condition or disposition ([BB B&B-37], `E1A    995 SUMMARY HAS
/// BEEN ADDED`; the rest of the record from the ES transcription:
/// UNVERIFIED). Disposition `A` accepted, `R` rejected, space a condition.
pub static E1: Layout = Layout {
    id: "E1",
    source: "BB B&B-37; ES output (transcription)",
    fields: &[
        f("disposition", 3, 1, AN, C),
        f("severity", 4, 1, AN, C),
        f("condition", 5, 3, AN, C),
        f("reason", 8, 3, AN, C),
        f("narrative", 11, 40, X, C),
        f("filer", 51, 3, AN, C),
        filler(54, 2),
        f("entry_number", 56, 8, AN, C),
        f("version", 64, 5, N, C),
        f("broker_ref", 69, 9, X, C),
        filler(78, 3),
    ],
};

/// The records of an AE transaction s321d writes, in the chapter's order.
pub static INPUT: &[&Layout] = &[
    &AE10, &AE11, &AE31, &AE34, &AE40, &AE50, &AE62, &AE89, &AE90,
];

#[cfg(test)]
mod tests {
    use super::super::key::tests::{assert_tiles, at};
    use super::super::key::{Class, Usage};
    use super::*;

    // Positions as catair.md section 7 prints them, one test per record.

    #[test]
    fn ae10() {
        assert_tiles(&AE10);
        at(&AE10, "action", 3, 3, Class::A, Usage::M);
        at(&AE10, "filer", 4, 6, Class::AN, Usage::M);
        at(&AE10, "entry_number", 9, 16, Class::AN, Usage::M);
        at(&AE10, "port", 18, 21, Class::AN, Usage::M);
        at(&AE10, "broker_ref", 22, 30, Class::X, Usage::C);
        at(&AE10, "entry_type", 34, 35, Class::AN, Usage::M);
        at(&AE10, "mode", 36, 37, Class::AN, Usage::C);
        at(&AE10, "bond_waiver", 38, 38, Class::AN, Usage::C);
        at(&AE10, "signature", 39, 39, Class::AN, Usage::C);
        at(&AE10, "certify", 40, 40, Class::AN, Usage::C);
        at(&AE10, "eip", 41, 41, Class::AN, Usage::O);
        at(&AE10, "live", 44, 44, Class::AN, Usage::O);
        at(&AE10, "payment_type", 51, 51, Class::AN, Usage::C);
        at(&AE10, "statement_date", 52, 57, Class::D, Usage::C);
        at(&AE10, "statement_month", 58, 59, Class::N, Usage::C);
        at(&AE10, "branch", 60, 61, Class::AN, Usage::C);
        at(&AE10, "waiver_reason", 62, 64, Class::AN, Usage::C);
        at(&AE10, "known_importer", 67, 67, Class::AN, Usage::O);
        assert_eq!(AE10.field("certify").unwrap().codes, ["A"]);
        assert_eq!(
            AE10.field("payment_type").unwrap().codes,
            ["1", "2", "3", "5", "6", "7", "8"]
        );
    }

    #[test]
    fn ae11() {
        assert_tiles(&AE11);
        at(&AE11, "ior", 3, 14, Class::X, Usage::M);
        at(&AE11, "consignee", 15, 26, Class::X, Usage::C);
        at(&AE11, "party_4811", 27, 38, Class::X, Usage::C);
        at(&AE11, "estimated_entry_date", 42, 47, Class::D, Usage::C);
        at(&AE11, "import_date", 48, 53, Class::D, Usage::C);
        at(&AE11, "state", 61, 62, Class::AN, Usage::C);
        at(&AE11, "ftz", 63, 71, Class::X, Usage::C);
    }

    #[test]
    fn ae31() {
        assert_tiles(&AE31);
        at(&AE31, "bond_type", 3, 3, Class::AN, Usage::M);
        at(&AE31, "designation", 4, 4, Class::AN, Usage::M);
        at(&AE31, "continuous", 5, 5, Class::AN, Usage::C);
        at(&AE31, "surety", 6, 8, Class::AN, Usage::M);
        at(&AE31, "amount", 9, 18, Class::SN, Usage::C);
        at(&AE31, "producer", 19, 28, Class::X, Usage::O);
    }

    #[test]
    fn ae34() {
        assert_tiles(&AE34);
        at(&AE34, "class", 3, 5, Class::AN, Usage::M);
        at(&AE34, "amount", 6, 13, Class::SN, Usage::M);
    }

    #[test]
    fn ae40() {
        assert_tiles(&AE40);
        at(&AE40, "line", 5, 7, Class::X, Usage::M);
        at(&AE40, "origin", 9, 10, Class::X, Usage::M);
        at(&AE40, "export_country", 11, 12, Class::AN, Usage::C);
        at(&AE40, "export_date", 13, 18, Class::D, Usage::C);
        at(&AE40, "spi", 25, 26, Class::AN, Usage::C);
        at(&AE40, "charges", 27, 36, Class::SN, Usage::C);
        at(&AE40, "lading_port", 37, 41, Class::AN, Usage::C);
        at(&AE40, "gross_weight", 42, 51, Class::SN, Usage::C);
        at(&AE40, "related", 56, 56, Class::AN, Usage::C);
        at(&AE40, "fee_exemption", 58, 58, Class::AN, Usage::C);
    }

    #[test]
    fn ae50() {
        assert_tiles(&AE50);
        at(&AE50, "hts", 3, 12, Class::AN, Usage::M);
        at(&AE50, "duty", 14, 23, Class::SN, Usage::M);
        at(&AE50, "value", 25, 34, Class::SN, Usage::M);
        at(&AE50, "quantity1", 36, 47, Class::SN, Usage::C);
        at(&AE50, "uom1", 48, 50, Class::AN, Usage::M);
        at(&AE50, "quantity2", 51, 62, Class::SN, Usage::C);
        at(&AE50, "uom2", 63, 65, Class::AN, Usage::C);
        at(&AE50, "quantity3", 66, 77, Class::SN, Usage::C);
        at(&AE50, "uom3", 78, 80, Class::AN, Usage::C);
    }

    #[test]
    fn ae62() {
        assert_tiles(&AE62);
        at(&AE62, "class", 3, 5, Class::AN, Usage::M);
        at(&AE62, "amount", 6, 13, Class::SN, Usage::M);
    }

    #[test]
    fn ae89() {
        assert_tiles(&AE89);
        at(&AE89, "class1", 3, 5, Class::AN, Usage::M);
        at(&AE89, "total1", 6, 16, Class::SN, Usage::M);
        at(&AE89, "class2", 17, 19, Class::AN, Usage::C);
        at(&AE89, "total2", 20, 30, Class::SN, Usage::C);
        at(&AE89, "class3", 31, 33, Class::AN, Usage::C);
        at(&AE89, "class4", 45, 47, Class::AN, Usage::C);
        at(&AE89, "class5", 59, 61, Class::AN, Usage::C);
        at(&AE89, "total5", 62, 72, Class::SN, Usage::C);
    }

    #[test]
    fn ae90() {
        assert_tiles(&AE90);
        at(&AE90, "duty", 3, 13, Class::SN, Usage::C);
        at(&AE90, "fees", 15, 25, Class::SN, Usage::C);
        at(&AE90, "ir_tax", 27, 37, Class::SN, Usage::C);
        at(&AE90, "ad", 39, 49, Class::SN, Usage::C);
        at(&AE90, "cv", 51, 61, Class::SN, Usage::C);
        at(&AE90, "other", 63, 73, Class::SN, Usage::C);
    }

    #[test]
    fn e0_and_e1() {
        assert_tiles(&E0);
        assert_tiles(&E1);
        at(&E1, "disposition", 3, 3, Class::AN, Usage::C);
        at(&E1, "severity", 4, 4, Class::AN, Usage::C);
        at(&E1, "condition", 5, 7, Class::AN, Usage::C);
        at(&E1, "reason", 8, 10, Class::AN, Usage::C);
        at(&E1, "narrative", 11, 50, Class::X, Usage::C);
        // The B&B-37 example, read at those positions.
        let line = format!("{:<80}", "E1A    995 SUMMARY HAS BEEN ADDED");
        let r = super::super::key::Record::parse(&line, 1, &[&E0, &E1]).unwrap();
        // The example has a space at 11, where the transcription starts the narrative.
        assert_eq!(
            (
                r.get("disposition"),
                r.get("reason"),
                r.get("narrative").trim()
            ),
            ("A", "995", "SUMMARY HAS BEEN ADDED")
        );
    }
}
