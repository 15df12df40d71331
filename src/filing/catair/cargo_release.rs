//! ACE Cargo Release input (SE) and its SE90 answer (catair.md sections 3-4,
//! [CR] Cargo Release V40), with the code lists of section 6.

use super::key::{Class::*, Layout, Usage::*, coded, f, filler};

/// SE10 entry types (table 6.4, Cargo Release).
pub const ENTRY_TYPES: &[&str] = &[
    "01", "02", "03", "06", "07", "11", "12", "21", "22", "23", "52", "86",
];
/// IOR types (SE10 Note 3).
pub const IOR_TYPES: &[&str] = &["EI", "ANI", "34"];
/// Modes of transport (SE10 Note 5, table 6.7).
pub const MODES: &[&str] = &[
    "10", "11", "12", "20", "21", "30", "31", "32", "33", "34", "40", "41", "50", "60", "70",
];
/// Bond types (table 6.3).
pub const BOND_TYPES: &[&str] = &["0", "8", "9"];
/// Entity codes allowed outside the GBI test (table 6.1): never SH, EX, DR, PK.
pub const HEADER_ENTITIES: &[&str] = &["MF", "SE", "BY", "ST", "LG", "CS", "CN", "BKP"];
/// The SE50 table omits BKP.
pub const LINE_ENTITIES: &[&str] = &["MF", "SE", "BY", "ST", "LG", "CS", "CN"];
/// Address qualifiers (SE35/SE55).
pub const ADDRESS_QUALIFIERS: &[&str] = &[
    "01", "02", "05", "12", "13", "14", "15", "28", "30", "31", "32", "35", "37", "57", "AK",
];
/// SE20 qualifiers.
pub const REFERENCE_QUALIFIERS: &[&str] = &[
    "CR", "EN", "IB", "FTZ", "DIS", "V1", "AMT", "EXP", "KII", "RRN", "PER", "CES", "EDA",
];

/// SE10 header [CR p.33-38].
pub static SE10: Layout = Layout {
    id: "SE10",
    source: "CR p.33-38",
    fields: &[
        coded("action", 5, 1, A, M, &["A", "D", "R", "U"]),
        f("filer", 6, 3, AN, M),
        filler(9, 2),
        f("entry_number", 11, 8, AN, M),
        filler(19, 1),
        coded("entry_type", 20, 2, AN, M, ENTRY_TYPES),
        coded("ior_type", 22, 3, AN, C, IOR_TYPES),
        f("ior_number", 25, 12, X, C),
        coded("mode", 37, 2, AN, C, MODES),
        coded("bond_type", 39, 1, N, M, BOND_TYPES),
        f("entry_value", 40, 10, N, M),
        f("planned_port", 50, 5, AN, C),
        coded("split", 55, 1, AN, O, &["1", "2"]),
        f("unlading_port", 56, 5, AN, C),
        filler(61, 20),
    ],
};

/// SE11 additional header [CR p.39-43].
pub static SE11: Layout = Layout {
    id: "SE11",
    source: "CR p.39-43",
    fields: &[
        coded("date_election", 5, 1, X, O, &["W"]),
        f("elected_date", 6, 6, N, C),
        f("goods_location", 12, 4, AN, C),
        f("exam_site", 16, 4, AN, O),
        f("conveyance_name", 20, 20, X, C),
        f("voyage", 40, 5, X, C),
        f("general_order", 45, 20, AN, O),
        f("bonded_warehouse", 65, 4, AN, C),
        f("origin_warehouse_filer", 69, 3, AN, C),
        f("origin_warehouse_entry", 72, 8, AN, C),
        coded("immediate_delivery", 80, 1, X, O, &["Y", "N"]),
    ],
};

/// SE13 contact / correction / cancellation [CR p.44-45].
pub static SE13: Layout = Layout {
    id: "SE13",
    source: "CR p.44-45",
    fields: &[
        f("contact", 5, 40, AN, M),
        f("phone", 45, 15, AN, M),
        f("cancel_reason", 60, 2, A, C),
        f("multiple", 62, 1, N, O),
        f("dis", 63, 1, N, O),
        f("split", 64, 1, N, O),
        filler(65, 16),
    ],
};

/// SE15 bill of lading [CR p.46-52].
pub static SE15: Layout = Layout {
    id: "SE15",
    source: "CR p.46-52",
    fields: &[
        coded("bill_type", 5, 1, A, M, &["R", "M", "H", "T", "I"]),
        f("issuer", 6, 4, AN, C),
        f("bill", 10, 50, X, M),
        f("quantity", 60, 8, N, C),
        filler(68, 5),
        coded("non_ams", 73, 1, X, M, &["N", "Y"]),
        filler(74, 7),
    ],
};

/// SE16 conveyance [CR p.53-54].
pub static SE16: Layout = Layout {
    id: "SE16",
    source: "CR p.53-54",
    fields: &[
        f("carrier", 5, 4, AN, M),
        f("voyage", 9, 5, X, M),
        f("arrival_date", 14, 6, D, M),
        f("quantity", 20, 8, N, M),
        f("unit", 28, 5, X, O),
        f("conveyance_name", 33, 20, X, C),
        filler(53, 28),
    ],
};

/// SE20 reference [CR p.56-57].
pub static SE20: Layout = Layout {
    id: "SE20",
    source: "CR p.56-57",
    fields: &[
        coded("qualifier", 5, 3, AN, M, REFERENCE_QUALIFIERS),
        f("value", 8, 50, X, M),
        filler(58, 23),
    ],
};

/// SE30 header entity [CR p.58-60].
pub static SE30: Layout = Layout {
    id: "SE30",
    source: "CR p.58-60",
    fields: &[
        coded("entity", 5, 3, A, M, HEADER_ENTITIES),
        f("name", 8, 35, X, C),
        coded("id_qualifier", 43, 3, X, C, IOR_TYPES),
        f("id", 46, 20, X, C),
        filler(66, 15),
    ],
};

/// SE50 line entity [CR p.67-69].
pub static SE50: Layout = Layout {
    id: "SE50",
    source: "CR p.67-69",
    fields: &[
        coded("entity", 5, 3, A, M, LINE_ENTITIES),
        f("name", 8, 35, X, C),
        coded("id_qualifier", 43, 3, X, O, IOR_TYPES),
        f("id", 46, 20, X, O),
        filler(66, 15),
    ],
};

const ADDRESS: &[super::key::Field] = &[
    coded("qualifier", 5, 2, AN, M, ADDRESS_QUALIFIERS),
    f("text", 7, 35, X, M),
    coded("qualifier2", 42, 2, AN, O, ADDRESS_QUALIFIERS),
    f("text2", 44, 35, X, O),
    filler(79, 2),
];

/// SE35 header entity address [CR p.62].
pub static SE35: Layout = Layout {
    id: "SE35",
    source: "CR p.62",
    fields: ADDRESS,
};
/// SE55 line entity address [CR p.71].
pub static SE55: Layout = Layout {
    id: "SE55",
    source: "CR p.71",
    fields: ADDRESS,
};

const PLACE: &[super::key::Field] = &[
    f("city", 5, 35, X, M),
    f("subdivision", 40, 3, AN, O),
    filler(43, 6),
    f("postal_code", 49, 15, X, C),
    f("country", 64, 2, A, M),
    filler(66, 15),
];

/// SE36 header entity city and country [CR p.63].
pub static SE36: Layout = Layout {
    id: "SE36",
    source: "CR p.63",
    fields: PLACE,
};
/// SE56 line entity city and country [CR p.72].
pub static SE56: Layout = Layout {
    id: "SE56",
    source: "CR p.72",
    fields: PLACE,
};

/// SE40 line [CR p.64].
pub static SE40: Layout = Layout {
    id: "SE40",
    source: "CR p.64",
    fields: &[
        f("line", 5, 3, N, M),
        f("origin", 8, 2, A, M),
        filler(10, 1),
        f("description", 11, 70, X, O),
    ],
};

/// SE60 HTS [CR p.73]: chapter 99 numbers first, the value on the 1-97 number.
pub static SE60: Layout = Layout {
    id: "SE60",
    source: "CR p.73",
    fields: &[
        f("hts", 5, 10, AN, M),
        f("value", 15, 10, N, C),
        filler(25, 56),
    ],
};

/// SE90 answer [CR p.85]: 01-04 close a transaction, 11/13 follow a record.
pub static SE90: Layout = Layout {
    id: "SE90",
    source: "CR p.85",
    fields: &[
        coded(
            "message_type",
            5,
            2,
            AN,
            M,
            &["01", "02", "03", "04", "11", "13"],
        ),
        f("condition", 7, 3, AN, C),
        f("narrative", 10, 40, X, M),
        filler(50, 31),
    ],
};

/// The records of an SE transaction, for readers of an input batch.
pub static INPUT: &[&Layout] = &[
    &SE10, &SE11, &SE13, &SE15, &SE16, &SE20, &SE30, &SE35, &SE36, &SE40, &SE50, &SE55, &SE56,
    &SE60,
];

#[cfg(test)]
mod tests {
    use super::super::key::tests::{assert_tiles, at};
    use super::super::key::{Class, Usage};
    use super::*;

    // Positions as catair.md section 3-4 prints them, one test per record.

    #[test]
    fn se10() {
        assert_tiles(&SE10);
        at(&SE10, "action", 5, 5, Class::A, Usage::M);
        at(&SE10, "filer", 6, 8, Class::AN, Usage::M);
        at(&SE10, "entry_number", 11, 18, Class::AN, Usage::M);
        at(&SE10, "entry_type", 20, 21, Class::AN, Usage::M);
        at(&SE10, "ior_type", 22, 24, Class::AN, Usage::C);
        at(&SE10, "ior_number", 25, 36, Class::X, Usage::C);
        at(&SE10, "mode", 37, 38, Class::AN, Usage::C);
        at(&SE10, "bond_type", 39, 39, Class::N, Usage::M);
        at(&SE10, "entry_value", 40, 49, Class::N, Usage::M);
        at(&SE10, "planned_port", 50, 54, Class::AN, Usage::C);
        at(&SE10, "split", 55, 55, Class::AN, Usage::O);
        at(&SE10, "unlading_port", 56, 60, Class::AN, Usage::C);
        assert_eq!(SE10.field("bond_type").unwrap().codes, ["0", "8", "9"]);
    }

    #[test]
    fn se11() {
        assert_tiles(&SE11);
        at(&SE11, "date_election", 5, 5, Class::X, Usage::O);
        at(&SE11, "elected_date", 6, 11, Class::N, Usage::C);
        at(&SE11, "goods_location", 12, 15, Class::AN, Usage::C);
        at(&SE11, "exam_site", 16, 19, Class::AN, Usage::O);
        at(&SE11, "conveyance_name", 20, 39, Class::X, Usage::C);
        at(&SE11, "voyage", 40, 44, Class::X, Usage::C);
        at(&SE11, "general_order", 45, 64, Class::AN, Usage::O);
        at(&SE11, "bonded_warehouse", 65, 68, Class::AN, Usage::C);
        at(&SE11, "origin_warehouse_filer", 69, 71, Class::AN, Usage::C);
        at(&SE11, "origin_warehouse_entry", 72, 79, Class::AN, Usage::C);
        at(&SE11, "immediate_delivery", 80, 80, Class::X, Usage::O);
    }

    #[test]
    fn se13() {
        assert_tiles(&SE13);
        at(&SE13, "contact", 5, 44, Class::AN, Usage::M);
        at(&SE13, "phone", 45, 59, Class::AN, Usage::M);
        at(&SE13, "cancel_reason", 60, 61, Class::A, Usage::C);
        at(&SE13, "multiple", 62, 62, Class::N, Usage::O);
        at(&SE13, "dis", 63, 63, Class::N, Usage::O);
        at(&SE13, "split", 64, 64, Class::N, Usage::O);
    }

    #[test]
    fn se15() {
        assert_tiles(&SE15);
        at(&SE15, "bill_type", 5, 5, Class::A, Usage::M);
        at(&SE15, "issuer", 6, 9, Class::AN, Usage::C);
        at(&SE15, "bill", 10, 59, Class::X, Usage::M);
        at(&SE15, "quantity", 60, 67, Class::N, Usage::C);
        at(&SE15, "non_ams", 73, 73, Class::X, Usage::M);
    }

    #[test]
    fn se16() {
        assert_tiles(&SE16);
        at(&SE16, "carrier", 5, 8, Class::AN, Usage::M);
        at(&SE16, "voyage", 9, 13, Class::X, Usage::M);
        at(&SE16, "arrival_date", 14, 19, Class::D, Usage::M);
        at(&SE16, "quantity", 20, 27, Class::N, Usage::M);
        at(&SE16, "unit", 28, 32, Class::X, Usage::O);
        at(&SE16, "conveyance_name", 33, 52, Class::X, Usage::C);
    }

    #[test]
    fn se20() {
        assert_tiles(&SE20);
        at(&SE20, "qualifier", 5, 7, Class::AN, Usage::M);
        at(&SE20, "value", 8, 57, Class::X, Usage::M);
    }

    #[test]
    fn se30_and_se50_never_take_gbi_codes() {
        for l in [&SE30, &SE50] {
            assert_tiles(l);
            at(l, "entity", 5, 7, Class::A, Usage::M);
            at(l, "name", 8, 42, Class::X, Usage::C);
            at(l, "id", 46, 65, Class::X, l.field("id").unwrap().usage);
            assert_eq!(
                (
                    l.field("id_qualifier").unwrap().start,
                    l.field("id_qualifier").unwrap().end()
                ),
                (43, 45)
            );
            for gbi in ["SH", "EX", "DR", "PK"] {
                assert!(
                    !l.field("entity").unwrap().codes.contains(&gbi),
                    "{} takes {gbi}",
                    l.id
                );
            }
        }
        assert_eq!(SE50.field("id").unwrap().usage, Usage::O);
        assert!(!SE50.field("entity").unwrap().codes.contains(&"BKP"));
    }

    #[test]
    fn se35_and_se55() {
        for l in [&SE35, &SE55] {
            assert_tiles(l);
            at(l, "qualifier", 5, 6, Class::AN, Usage::M);
            at(l, "text", 7, 41, Class::X, Usage::M);
            at(l, "qualifier2", 42, 43, Class::AN, Usage::O);
            at(l, "text2", 44, 78, Class::X, Usage::O);
        }
    }

    #[test]
    fn se36_and_se56() {
        for l in [&SE36, &SE56] {
            assert_tiles(l);
            at(l, "city", 5, 39, Class::X, Usage::M);
            at(l, "subdivision", 40, 42, Class::AN, Usage::O);
            at(l, "postal_code", 49, 63, Class::X, Usage::C);
            at(l, "country", 64, 65, Class::A, Usage::M);
        }
    }

    #[test]
    fn se40() {
        assert_tiles(&SE40);
        at(&SE40, "line", 5, 7, Class::N, Usage::M);
        at(&SE40, "origin", 8, 9, Class::A, Usage::M);
        at(&SE40, "description", 11, 80, Class::X, Usage::O);
    }

    #[test]
    fn se60() {
        assert_tiles(&SE60);
        at(&SE60, "hts", 5, 14, Class::AN, Usage::M);
        at(&SE60, "value", 15, 24, Class::N, Usage::C);
    }

    #[test]
    fn se90() {
        assert_tiles(&SE90);
        at(&SE90, "message_type", 5, 6, Class::AN, Usage::M);
        at(&SE90, "condition", 7, 9, Class::AN, Usage::C);
        at(&SE90, "narrative", 10, 49, Class::X, Usage::M);
    }
}
