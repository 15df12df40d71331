//! The simulator's own table of the published CATAIR record layouts
//! (../shared/catair.md, the project's transcription of CBP's chapters):
//! every record it reads (the input envelope A/B/Y/Z, the SE cargo release
//! records, the AE entry summary records) and every record it writes (the
//! output envelope, SE90, SO10/SO40/SO50/SO60, X0/X1, E0/E1), as data.
//!
//! Deliberately independent of the writer's layouts (`filing`): the
//! simulator must be able to catch the writer's mistakes, so it shares
//! nothing with it but catair.md. Each layout covers positions 1-80 exactly
//! (a unit test checks it); fillers are fields of class [`Class::S`], so data
//! in a filler is found by the same walk as every other fault. Positions the
//! AE chapter transcription does not describe are [`Class::Unread`] fields:
//! taken as they come, never judged.

/// A field's class (catair.md section 1, the Record Layout Key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Spaces only (filler).
    S,
    /// A-Z upper case, left-justified, space-filled.
    A,
    /// Digits, right-justified, zero-filled; all spaces when unused.
    N,
    /// (S)N: leading spaces, then at least one right-justified digit.
    SN,
    /// A-Z upper case, 0-9 and space.
    AN,
    /// A date MMDDYY, or six spaces when unused.
    D,
    /// A-Z upper case, 0-9, space and the keyboard specials of section 1.
    X,
    /// A position catair.md does not describe (AE records only): not judged.
    Unread,
}

impl Class {
    /// The class as CATAIR prints it.
    pub fn label(self) -> &'static str {
        match self {
            Class::S => "S",
            Class::A => "A",
            Class::N => "N",
            Class::SN => "(S)N",
            Class::AN => "AN",
            Class::D => "D",
            Class::X => "X",
            Class::Unread => "unread",
        }
    }
}

/// A field's designation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Mandatory: a value of the class in every filing.
    M,
    /// Conditional: required or not allowed by the notes (judged by `rules`).
    C,
    /// Optional: validated when present.
    O,
}

/// One field: name, first position (1-based), length, class, designation and,
/// when the chapter gives one, the closed list of values (compared trimmed).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub start: usize,
    pub len: usize,
    pub class: Class,
    pub need: Need,
    pub codes: &'static [&'static str],
}

impl Field {
    /// Last position (inclusive).
    pub fn end(&self) -> usize {
        self.start + self.len - 1
    }
}

/// A record layout: its control identifier (the first 1, 2 or 4 positions)
/// and its fields in position order, the identifier first.
#[derive(Debug)]
pub struct Layout {
    pub id: &'static str,
    pub fields: &'static [Field],
}

impl Layout {
    /// The field called `name` (panics on a name not in the layout: a bug).
    pub fn field(&self, name: &str) -> &Field {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} has no field {name}", self.id))
    }
}

/// Record length.
pub const WIDTH: usize = 80;

/// The specials an X field takes besides A-Z, 0-9 and space (section 1; the
/// cent sign of the B&B key is not ASCII and is left out).
pub const X_SPECIALS: &str = "!@#$%^&*()-_=+[{]}\\|;:'\",<.>/?~`";

const fn f(name: &'static str, start: usize, len: usize, class: Class, need: Need) -> Field {
    Field {
        name,
        start,
        len,
        class,
        need,
        codes: &[],
    }
}
const fn c(
    name: &'static str,
    start: usize,
    len: usize,
    class: Class,
    need: Need,
    codes: &'static [&'static str],
) -> Field {
    Field {
        name,
        start,
        len,
        class,
        need,
        codes,
    }
}
const fn id(text: &'static [&'static str], len: usize) -> Field {
    Field {
        name: "id",
        start: 1,
        len,
        class: Class::AN,
        need: Need::M,
        codes: text,
    }
}
const fn fill(start: usize, len: usize) -> Field {
    Field {
        name: "filler",
        start,
        len,
        class: Class::S,
        need: Need::M,
        codes: &[],
    }
}
const fn unread(start: usize, len: usize) -> Field {
    Field {
        name: "unread",
        start,
        len,
        class: Class::Unread,
        need: Need::O,
        codes: &[],
    }
}

use Class::{A, AN, D, N, SN, X};
use Need::{C, M, O};

/// Application identifiers the simulator serves (A 26-27, B/Y 11-12).
pub const APPLICATIONS: &[&str] = &["SE", "AE"];

// ------------------------------------------------------------ input envelope [BB]

/// Input batch header (B&B-9/10).
pub static IN_A: Layout = Layout {
    id: "A",
    fields: &[
        id(&["A"], 1),
        f("site", 2, 4, AN, M),
        f("sender", 6, 3, AN, M),
        f("password", 9, 6, AN, M),
        f("date", 15, 6, D, O),
        fill(21, 5),
        f("application", 26, 2, AN, M),
        fill(28, 10),
        f("office", 38, 2, AN, C),
        fill(40, 20),
        f("user_data", 60, 21, X, O),
    ],
};

/// Input block header (B&B-13/14).
pub static IN_B: Layout = Layout {
    id: "B",
    fields: &[
        id(&["B"], 1),
        fill(2, 2),
        f("port", 4, 4, AN, M),
        f("filer", 8, 3, AN, M),
        f("application", 11, 2, AN, M),
        fill(13, 32),
        f("office", 45, 2, AN, C),
        f("preparer_port", 47, 4, AN, C),
        f("preparer_filer", 51, 3, AN, C),
        f("preparer_office", 54, 2, AN, C),
        c("preparer", 56, 1, AN, C, &["1"]),
        fill(57, 3),
        f("user_data", 60, 21, X, O),
    ],
};

/// Input block trailer (B&B-15): no count in an SE or AE batch.
pub static IN_Y: Layout = Layout {
    id: "Y",
    fields: &[
        id(&["Y"], 1),
        fill(2, 2),
        f("port", 4, 4, AN, M),
        f("filer", 8, 3, AN, M),
        f("application", 11, 2, AN, M),
        fill(13, 32),
        f("office", 45, 2, AN, C),
        fill(47, 34),
    ],
};

/// Input batch trailer (B&B-12): no password, no count.
pub static IN_Z: Layout = Layout {
    id: "Z",
    fields: &[
        id(&["Z"], 1),
        f("site", 2, 4, AN, M),
        f("sender", 6, 3, AN, M),
        fill(9, 6),
        f("date", 15, 6, D, C),
        fill(21, 17),
        f("office", 38, 2, AN, C),
        fill(40, 41),
    ],
};

// ------------------------------------------------------------ output envelope [BB]

/// Output batch header (B&B-20..28): no password; the response id is spaces
/// on a rejected batch.
pub static OUT_A: Layout = Layout {
    id: "A",
    fields: &[
        id(&["A"], 1),
        f("site", 2, 4, AN, M),
        f("sender", 6, 3, AN, M),
        fill(9, 6),
        f("date", 15, 6, D, O),
        fill(21, 5),
        f("response", 26, 2, AN, C),
        fill(28, 10),
        f("office", 38, 2, AN, C),
        fill(40, 20),
        f("user_data", 60, 21, X, O),
    ],
};

/// Output block header.
pub static OUT_B: Layout = Layout {
    id: "B",
    fields: &[
        id(&["B"], 1),
        fill(2, 2),
        f("port", 4, 4, AN, M),
        f("filer", 8, 3, AN, M),
        f("response", 11, 2, AN, M),
        f("statement", 13, 32, X, O),
        f("office", 45, 2, AN, C),
        f("preparer_port", 47, 4, AN, C),
        f("preparer_filer", 51, 3, AN, C),
        f("preparer_office", 54, 2, AN, C),
        f("preparer", 56, 1, AN, C),
        fill(57, 3),
        f("user_data", 60, 21, X, O),
    ],
};

/// Output block trailer: the image count of the block.
pub static OUT_Y: Layout = Layout {
    id: "Y",
    fields: &[
        id(&["Y"], 1),
        fill(2, 2),
        f("port", 4, 4, AN, M),
        f("filer", 8, 3, AN, M),
        f("response", 11, 2, AN, M),
        f("count", 13, 5, N, M),
        fill(18, 27),
        f("office", 45, 2, AN, C),
        fill(47, 34),
    ],
};

/// Output batch trailer: mirrors the input Z.
pub static OUT_Z: Layout = Layout {
    id: "Z",
    fields: IN_Z.fields,
};

/// Batch reject reference (B&B-29..37).
pub static X0: Layout = Layout {
    id: "X0",
    fields: &[
        id(&["X0"], 2),
        fill(3, 1),
        c("reference", 4, 6, AN, M, &["BLOCK", "TRNACT"]),
        fill(10, 1),
        f("occurrence", 11, 6, N, M),
        fill(17, 1),
        c("label", 18, 7, X, M, &["REF ID:"]),
        fill(25, 1),
        f("text", 26, 55, X, M),
    ],
};

/// Batch reject condition.
pub static X1: Layout = Layout {
    id: "X1",
    fields: &[
        id(&["X1"], 2),
        c("disposition", 3, 1, AN, C, &["R"]),
        c("severity", 4, 1, AN, M, &["F"]),
        f("condition", 5, 3, AN, M),
        fill(8, 2),
        f("reason", 10, 1, AN, C),
        // 40AN, but CBP's narratives carry `/` and `-`.
        f("narrative", 11, 40, X, M),
        fill(51, 30),
    ],
};

// ------------------------------------------------------------ SE input [CR]

pub const ENTRY_TYPES_SE: &[&str] = &[
    "01", "02", "03", "06", "07", "11", "12", "21", "22", "23", "52", "86",
];
pub const MOT_CODES: &[&str] = &[
    "10", "11", "12", "20", "21", "30", "31", "32", "33", "34", "40", "41", "50", "60", "70",
];
/// Table 6.1, GBI-only codes included: `rules` refuses those outside the GBI test.
pub const ENTITY_CODES: &[&str] = &[
    "MF", "SE", "BY", "ST", "LG", "CS", "CN", "BKP", "SH", "EX", "DR", "PK",
];
/// Entity codes that exist only for the GBI test.
pub const GBI_ONLY: &[&str] = &["SH", "EX", "DR", "PK"];
pub const ADDRESS_QUALIFIERS: &[&str] = &[
    "01", "02", "05", "12", "13", "14", "15", "28", "30", "31", "32", "35", "37", "57", "AK",
];
pub const SE20_QUALIFIERS: &[&str] = &[
    "CR", "EN", "IB", "FTZ", "DIS", "V1", "AMT", "EXP", "KII", "RRN", "PER", "CES", "EDA",
];

pub static SE10: Layout = Layout {
    id: "SE10",
    fields: &[
        id(&["SE10"], 4),
        c("action", 5, 1, A, M, &["A", "D", "R", "U"]),
        f("filer", 6, 3, AN, M),
        fill(9, 2),
        f("entry_number", 11, 8, AN, M),
        fill(19, 1),
        c("entry_type", 20, 2, AN, M, ENTRY_TYPES_SE),
        c("ior_type", 22, 3, AN, C, &["EI", "ANI", "34"]),
        f("ior_number", 25, 12, X, C),
        c("mot", 37, 2, AN, C, MOT_CODES),
        c("bond_type", 39, 1, N, M, &["0", "8", "9"]),
        f("entry_value", 40, 10, N, M),
        f("planned_port", 50, 5, AN, C),
        c("split", 55, 1, AN, O, &["1", "2"]),
        f("unlading_port", 56, 5, AN, C),
        fill(61, 20),
    ],
};

pub static SE11: Layout = Layout {
    id: "SE11",
    fields: &[
        id(&["SE11"], 4),
        c("election", 5, 1, X, C, &["W"]),
        f("elected_date", 6, 6, N, C),
        f("goods_firms", 12, 4, AN, C),
        f("exam_firms", 16, 4, AN, O),
        f("conveyance", 20, 20, X, C),
        f("voyage", 40, 5, X, C),
        f("general_order", 45, 20, AN, O),
        f("warehouse_firms", 65, 4, AN, C),
        f("origin_filer", 69, 3, AN, C),
        f("origin_entry", 72, 8, AN, C),
        c("immediate_delivery", 80, 1, X, C, &["Y", "N"]),
    ],
};

pub static SE13: Layout = Layout {
    id: "SE13",
    fields: &[
        id(&["SE13"], 4),
        f("contact", 5, 40, AN, M),
        f("phone", 45, 15, AN, M),
        c(
            "cancel_reason",
            60,
            2,
            AN,
            C,
            &[
                "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12",
            ],
        ),
        f("multiple", 62, 1, N, O),
        f("dis", 63, 1, N, O),
        f("split", 64, 1, N, O),
        fill(65, 16),
    ],
};

pub static SE15: Layout = Layout {
    id: "SE15",
    fields: &[
        id(&["SE15"], 4),
        c("bill_type", 5, 1, A, M, &["R", "M", "H", "T", "I"]),
        f("issuer", 6, 4, AN, C),
        f("bill", 10, 50, X, M),
        f("quantity", 60, 8, N, C),
        fill(68, 5),
        c("non_ams", 73, 1, X, M, &["N", "Y"]),
        fill(74, 7),
    ],
};

pub static SE16: Layout = Layout {
    id: "SE16",
    fields: &[
        id(&["SE16"], 4),
        f("carrier", 5, 4, AN, M),
        f("voyage", 9, 5, X, M),
        f("arrival", 14, 6, D, M),
        f("quantity", 20, 8, N, M),
        f("unit", 28, 5, X, O),
        f("conveyance", 33, 20, X, C),
        fill(53, 28),
    ],
};

pub static SE17: Layout = Layout {
    id: "SE17",
    fields: &[id(&["SE17"], 4), f("equipment", 5, 20, AN, M), fill(25, 56)],
};

pub static SE20: Layout = Layout {
    id: "SE20",
    fields: &[
        id(&["SE20"], 4),
        c("qualifier", 5, 3, AN, M, SE20_QUALIFIERS),
        f("value", 8, 50, X, M),
        fill(58, 23),
    ],
};

const ENTITY: &[Field] = &[
    c("entity", 5, 3, A, M, ENTITY_CODES),
    f("name", 8, 35, X, C),
    c("id_qualifier", 43, 3, X, C, &["EI", "ANI", "34"]),
    f("identifier", 46, 20, X, C),
    fill(66, 15),
];
const GBI: &[Field] = &[
    c("qualifier", 5, 4, A, M, &["LEI", "GLN", "DUNS"]),
    f("identifier", 9, 20, AN, M),
    fill(29, 52),
];
const ADDRESS: &[Field] = &[
    c("qualifier", 5, 2, AN, M, ADDRESS_QUALIFIERS),
    f("text", 7, 35, X, M),
    c("qualifier2", 42, 2, AN, O, ADDRESS_QUALIFIERS),
    f("text2", 44, 35, X, O),
    fill(79, 2),
];
const GEOGRAPHY: &[Field] = &[
    f("city", 5, 35, X, M),
    f("subdivision", 40, 3, AN, O),
    fill(43, 6),
    f("postal", 49, 15, X, C),
    f("country", 64, 2, A, M),
    fill(66, 15),
];

macro_rules! with_id {
    ($name:ident, $id:literal, $rest:expr) => {
        pub static $name: Layout = Layout {
            id: $id,
    fields: &with_id!(@join $id, $rest),
        };
    };
    (@join $id:literal, $rest:expr) => {{
        const REST: &[Field] = $rest;
        const N: usize = REST.len() + 1;
        const OUT: [Field; N] = {
            let mut out = [id(&[$id], 4); N];
            let mut i = 0;
            while i < REST.len() {
                out[i + 1] = REST[i];
                i += 1;
            }
            out
        };
        OUT
    }};
}

with_id!(SE30, "SE30", ENTITY);
with_id!(SE31, "SE31", GBI);
with_id!(SE35, "SE35", ADDRESS);
with_id!(SE36, "SE36", GEOGRAPHY);
with_id!(SE50, "SE50", ENTITY);
with_id!(SE51, "SE51", GBI);
with_id!(SE55, "SE55", ADDRESS);
with_id!(SE56, "SE56", GEOGRAPHY);

pub static SE40: Layout = Layout {
    id: "SE40",
    fields: &[
        id(&["SE40"], 4),
        f("line", 5, 3, N, M),
        f("origin", 8, 2, A, M),
        fill(10, 1),
        f("description", 11, 70, X, O),
    ],
};

pub static SE41: Layout = Layout {
    id: "SE41",
    fields: &[
        id(&["SE41"], 4),
        c("zone_status", 5, 1, A, M, &["P", "N"]),
        f("privileged_date", 6, 6, N, C),
        f("quantity", 12, 8, N, M),
        fill(20, 61),
    ],
};

pub static SE60: Layout = Layout {
    id: "SE60",
    fields: &[
        id(&["SE60"], 4),
        f("hts", 5, 10, AN, M),
        f("value", 15, 10, N, C),
        fill(25, 56),
    ],
};

pub static SE61: Layout = Layout {
    id: "SE61",
    fields: &[id(&["SE61"], 4), f("hts", 5, 10, AN, M), fill(15, 66)],
};

// ------------------------------------------------------------ SE output [CR, SO, CQ]

/// Response message (CR p.85): message level 01-04, record level 11/13.
pub static SE90: Layout = Layout {
    id: "SE90",
    fields: &[
        id(&["SE90"], 4),
        c(
            "message_type",
            5,
            2,
            AN,
            M,
            &["01", "02", "03", "04", "11", "13"],
        ),
        f("condition", 7, 3, AN, C),
        f("narrative", 10, 40, X, M),
        fill(50, 31),
    ],
};

pub static SO10: Layout = Layout {
    id: "SO10",
    fields: &[
        id(&["SO10"], 4),
        f("port", 5, 4, N, C),
        f("filer", 9, 3, AN, M),
        fill(12, 2),
        f("entry_number", 14, 8, AN, M),
        fill(22, 1),
        f("entry_type", 23, 2, N, M),
        // M in the chapter; blank for a type 86 filed without one (UNVERIFIED).
        f("ior_number", 25, 12, X, C),
        f("carrier", 37, 4, AN, C),
        f("vessel", 41, 20, AN, C),
        f("voyage", 61, 5, X, C),
        f("arrival", 66, 6, N, C),
        f("split", 72, 1, AN, O),
        f("correction", 73, 1, X, C),
        fill(74, 7),
    ],
};

/// Bill (SO rev 36 transcription only: UNVERIFIED).
pub static SO40: Layout = Layout {
    id: "SO40",
    fields: &[
        id(&["SO40"], 4),
        c("bill_type", 5, 1, A, M, &["R", "M", "H", "T", "S"]),
        f("issuer", 6, 4, AN, C),
        f("bill", 10, 50, X, M),
        f("quantity", 60, 8, N, C),
        f("unit", 68, 5, X, C),
        f("manifested", 73, 8, X, C),
    ],
};

pub static SO50: Layout = Layout {
    id: "SO50",
    fields: &[
        id(&["SO50"], 4),
        f("date", 5, 6, N, M),
        f("time", 11, 4, N, M),
        f("code", 15, 2, AN, M),
        f("narrative", 17, 40, X, M),
        c("split", 57, 1, A, M, &["Y", "N"]),
        f("carrier", 58, 4, AN, C),
        f("voyage", 62, 5, X, C),
        f("arrival", 67, 6, N, C),
        f("port", 73, 4, N, C),
        fill(77, 4),
    ],
};

pub static SO60: Layout = Layout {
    id: "SO60",
    fields: &[
        id(&["SO60"], 4),
        f("date", 5, 6, N, M),
        f("time", 11, 4, N, M),
        f("code", 15, 2, AN, M),
        f("narrative", 17, 40, X, M),
        f("release_date", 57, 6, N, C),
        f("release_origin", 63, 2, N, C),
        f("document", 65, 6, AN, C),
        fill(71, 10),
    ],
};

// ------------------------------------------------------------ AE input [ES]

pub const ENTRY_TYPES_AE: &[&str] = &[
    "01", "02", "03", "06", "07", "11", "12", "21", "22", "23", "31", "32", "34", "38", "51", "52",
];

pub static AE10: Layout = Layout {
    id: "10",
    fields: &[
        id(&["10"], 2),
        c("action", 3, 1, A, M, &["A", "R", "D"]),
        f("filer", 4, 3, AN, M),
        fill(7, 2),
        f("entry_number", 9, 8, AN, M),
        unread(17, 1),
        f("port", 18, 4, AN, M),
        f("broker_ref", 22, 9, X, C),
        unread(31, 3),
        c("entry_type", 34, 2, AN, M, ENTRY_TYPES_AE),
        c("mot", 36, 2, AN, C, MOT_CODES),
        c("bond_waiver", 38, 1, AN, C, &["0"]),
        c("signature", 39, 1, AN, C, &["X"]),
        c("certify", 40, 1, AN, C, &["A"]),
        f("eip", 41, 1, AN, O),
        unread(42, 2),
        f("live", 44, 1, AN, O),
        unread(45, 6),
        c(
            "payment_type",
            51,
            1,
            AN,
            C,
            &["1", "2", "3", "5", "6", "7", "8"],
        ),
        f("statement_date", 52, 6, D, C),
        f("statement_month", 58, 2, N, C),
        f("branch", 60, 2, AN, C),
        c(
            "waiver_reason",
            62,
            3,
            AN,
            C,
            &["995", "996", "997", "998", "999"],
        ),
        unread(65, 2),
        f("known_importer", 67, 1, AN, O),
        unread(68, 13),
    ],
};

pub static AE11: Layout = Layout {
    id: "11",
    fields: &[
        id(&["11"], 2),
        f("ior", 3, 12, X, M),
        f("consignee", 15, 12, X, C),
        f("party_4811", 27, 12, X, C),
        unread(39, 3),
        f("estimated_entry_date", 42, 6, D, C),
        f("import_date", 48, 6, D, C),
        unread(54, 7),
        f("state", 61, 2, AN, C),
        f("ftz", 63, 9, X, C),
        unread(72, 9),
    ],
};

pub static AE31: Layout = Layout {
    id: "31",
    fields: &[
        id(&["31"], 2),
        c("bond_type", 3, 1, AN, M, &["8", "9"]),
        f("designation", 4, 1, AN, M),
        f("continuous", 5, 1, AN, C),
        f("surety", 6, 3, AN, M),
        f("amount", 9, 10, SN, C),
        f("producer", 19, 10, X, O),
        unread(29, 52),
    ],
};

/// Header fees: class + amount pairs (2 implied decimals). The chapter gives
/// the first pair at 3-5/6-13; the later pairs are assumed to follow at the
/// same 11-position pitch (UNVERIFIED).
pub static AE34: Layout = Layout {
    id: "34",
    fields: &[
        id(&["34"], 2),
        f("class1", 3, 3, AN, M),
        f("amount1", 6, 8, SN, M),
        f("class2", 14, 3, AN, C),
        f("amount2", 17, 8, SN, C),
        f("class3", 25, 3, AN, C),
        f("amount3", 28, 8, SN, C),
        f("class4", 36, 3, AN, C),
        f("amount4", 39, 8, SN, C),
        f("class5", 47, 3, AN, C),
        f("amount5", 50, 8, SN, C),
        f("class6", 58, 3, AN, C),
        f("amount6", 61, 8, SN, C),
        f("class7", 69, 3, AN, C),
        f("amount7", 72, 8, SN, C),
        unread(80, 1),
    ],
};

pub static AE40: Layout = Layout {
    id: "40",
    fields: &[
        id(&["40"], 2),
        unread(3, 2),
        f("line", 5, 3, X, M),
        unread(8, 1),
        f("origin", 9, 2, X, M),
        f("export_country", 11, 2, AN, C),
        f("export_date", 13, 6, D, C),
        unread(19, 6),
        f("spi", 25, 2, AN, C),
        f("charges", 27, 10, SN, C),
        f("lading_port", 37, 5, AN, C),
        f("gross_weight", 42, 10, SN, C),
        unread(52, 4),
        f("related", 56, 1, AN, C),
        unread(57, 1),
        f("fee_exemption", 58, 1, AN, C),
        unread(59, 22),
    ],
};

pub static AE50: Layout = Layout {
    id: "50",
    fields: &[
        id(&["50"], 2),
        f("hts", 3, 10, AN, M),
        unread(13, 1),
        f("duty", 14, 10, SN, M),
        unread(24, 1),
        f("value", 25, 10, SN, M),
        unread(35, 1),
        f("quantity1", 36, 12, SN, C),
        f("uom1", 48, 3, AN, M),
        f("quantity2", 51, 12, SN, C),
        f("uom2", 63, 3, AN, C),
        f("quantity3", 66, 12, SN, C),
        f("uom3", 78, 3, AN, C),
    ],
};

pub static AE62: Layout = Layout {
    id: "62",
    fields: &[
        id(&["62"], 2),
        f("class", 3, 3, AN, M),
        f("amount", 6, 8, SN, M),
        unread(14, 67),
    ],
};

pub static AE89: Layout = Layout {
    id: "89",
    fields: &[
        id(&["89"], 2),
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
        unread(73, 8),
    ],
};

pub static AE90: Layout = Layout {
    id: "90",
    fields: &[
        id(&["90"], 2),
        f("duty", 3, 11, SN, C),
        unread(14, 1),
        f("fees", 15, 11, SN, C),
        unread(26, 1),
        f("ir_tax", 27, 11, SN, C),
        unread(38, 1),
        f("ad", 39, 11, SN, C),
        unread(50, 1),
        f("cv", 51, 11, SN, C),
        unread(62, 1),
        f("other", 63, 11, SN, C),
        unread(74, 7),
    ],
};

// ------------------------------------------------------------ AX output [ES, transcription]

/// AX condition reference (ESF-193, from the transcription: UNVERIFIED).
pub static E0: Layout = Layout {
    id: "E0",
    fields: X0.fields,
};

/// AX condition / disposition (ESF-204, from the transcription: UNVERIFIED).
pub static E1: Layout = Layout {
    id: "E1",
    fields: &[
        id(&["E1"], 2),
        c("disposition", 3, 1, AN, C, &["A", "R"]),
        f("severity", 4, 1, AN, C),
        f("condition", 5, 3, AN, M),
        f("reason", 8, 3, AN, C),
        f("narrative", 11, 40, X, M),
        f("filer", 51, 3, AN, C),
        fill(54, 2),
        f("entry_number", 56, 8, AN, C),
        f("version", 64, 5, N, C),
        f("broker_ref", 69, 9, X, C),
        fill(78, 3),
    ],
};

/// Records of an SE transaction, by control identifier.
pub fn se_layout(line: &str) -> Option<&'static Layout> {
    [
        &SE10, &SE11, &SE13, &SE15, &SE16, &SE17, &SE20, &SE30, &SE31, &SE35, &SE36, &SE40, &SE41,
        &SE50, &SE51, &SE55, &SE56, &SE60, &SE61,
    ]
    .into_iter()
    .find(|l| line.starts_with(l.id))
}

/// Records of an AE transaction: the 2-character ones and the SE records the
/// AE embeds (catair.md section 7).
pub fn ae_layout(line: &str) -> Option<&'static Layout> {
    if line.starts_with("SE") {
        return [
            &SE13, &SE16, &SE17, &SE20, &SE30, &SE31, &SE35, &SE36, &SE50, &SE51, &SE55, &SE56,
            &SE60, &SE61,
        ]
        .into_iter()
        .find(|l| line.starts_with(l.id));
    }
    [
        &AE10, &AE11, &AE31, &AE34, &AE40, &AE50, &AE62, &AE89, &AE90,
    ]
    .into_iter()
    .find(|l| line.starts_with(l.id))
}

/// Every layout of the table (for the coverage test and for lookups by id).
pub fn all() -> Vec<&'static Layout> {
    vec![
        &IN_A, &IN_B, &IN_Y, &IN_Z, &OUT_A, &OUT_B, &OUT_Y, &OUT_Z, &X0, &X1, &SE10, &SE11, &SE13,
        &SE15, &SE16, &SE17, &SE20, &SE30, &SE31, &SE35, &SE36, &SE40, &SE41, &SE50, &SE51, &SE55,
        &SE56, &SE60, &SE61, &SE90, &SO10, &SO40, &SO50, &SO60, &AE10, &AE11, &AE31, &AE34, &AE40,
        &AE50, &AE62, &AE89, &AE90, &E0, &E1,
    ]
}

/// A record being written: a layout and 80 characters, all spaces but the id.
#[derive(Clone)]
pub struct Out {
    layout: &'static Layout,
    buf: [u8; WIDTH],
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.line())
    }
}

impl Out {
    pub fn new(layout: &'static Layout) -> Out {
        let mut buf = [b' '; WIDTH];
        buf[..layout.id.len()].copy_from_slice(layout.id.as_bytes());
        Out { layout, buf }
    }

    /// Sets a field: N fields right-justified and zero-filled, (S)N
    /// right-justified, every other class left-justified; the value is made
    /// upper case ASCII of the field's class and cut to the field (the
    /// simulator only writes what it read or its own constants).
    pub fn set(&mut self, name: &str, value: &str) -> &mut Out {
        let field = *self.layout.field(name);
        let clean: String = value
            .trim()
            .to_ascii_uppercase()
            .chars()
            .map(|ch| if fits(field.class, ch) { ch } else { ' ' })
            .take(field.len)
            .collect();
        let slot = &mut self.buf[field.start - 1..field.end()];
        slot.fill(b' ');
        match field.class {
            Class::N if !clean.is_empty() => {
                slot.fill(b'0');
                slot[field.len - clean.len()..].copy_from_slice(clean.as_bytes());
            }
            Class::SN => slot[field.len - clean.len()..].copy_from_slice(clean.as_bytes()),
            _ => slot[..clean.len()].copy_from_slice(clean.as_bytes()),
        }
        self
    }

    /// Copies a raw slice of 80 characters into this record (an echo).
    pub fn from_line(layout: &'static Layout, line: &str) -> Out {
        let mut out = Out::new(layout);
        for (i, b) in line.bytes().take(WIDTH).enumerate() {
            out.buf[i] = if b.is_ascii_graphic() || b == b' ' {
                b
            } else {
                b' '
            };
        }
        out
    }

    pub fn line(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// Whether a character belongs to a class's character set.
pub fn fits(class: Class, ch: char) -> bool {
    match class {
        Class::S => ch == ' ',
        Class::A => ch.is_ascii_uppercase() || ch == ' ',
        Class::N | Class::D => ch.is_ascii_digit() || ch == ' ',
        Class::SN => ch.is_ascii_digit() || ch == ' ',
        Class::AN => ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == ' ',
        Class::X | Class::Unread => {
            ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == ' ' || X_SPECIALS.contains(ch)
        }
    }
}

/// A field's raw text in an 80-character line (empty if the line is short).
pub fn raw<'a>(line: &'a str, field: &Field) -> &'a str {
    line.get(field.start - 1..field.end()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_covers_positions_1_to_80_exactly_once() {
        for layout in all() {
            let mut next = 1;
            for field in layout.fields {
                assert_eq!(
                    field.start, next,
                    "{}.{} starts at {}, expected {next}",
                    layout.id, field.name, field.start
                );
                assert!(field.len > 0, "{}.{}", layout.id, field.name);
                next = field.end() + 1;
            }
            assert_eq!(next, WIDTH + 1, "{} ends at {}", layout.id, next - 1);
            assert_eq!(layout.fields[0].len, layout.id.len(), "{} id", layout.id);
        }
    }

    /// Spot checks against catair.md's tables, field by field, per record.
    #[test]
    fn published_positions() {
        let at = |l: &Layout, name: &str| {
            let f = l.field(name);
            (f.start, f.end(), f.class, f.need)
        };
        assert_eq!(at(&IN_A, "password"), (9, 14, AN, M));
        assert_eq!(at(&IN_A, "application"), (26, 27, AN, M));
        assert_eq!(at(&IN_A, "user_data"), (60, 80, X, O));
        assert_eq!(at(&IN_B, "port"), (4, 7, AN, M));
        assert_eq!(at(&IN_B, "filer"), (8, 10, AN, M));
        assert_eq!(at(&IN_Y, "application"), (11, 12, AN, M));
        assert_eq!(at(&IN_Z, "date"), (15, 20, D, C));
        assert_eq!(at(&OUT_Y, "count"), (13, 17, N, M));
        assert_eq!(at(&X1, "condition"), (5, 7, AN, M));
        assert_eq!(at(&X1, "narrative"), (11, 50, X, M));
        assert_eq!(at(&SE10, "entry_number"), (11, 18, AN, M));
        assert_eq!(at(&SE10, "ior_number"), (25, 36, X, C));
        assert_eq!(at(&SE10, "bond_type"), (39, 39, N, M));
        assert_eq!(at(&SE10, "planned_port"), (50, 54, AN, C));
        assert_eq!(at(&SE15, "bill"), (10, 59, X, M));
        assert_eq!(at(&SE15, "non_ams"), (73, 73, X, M));
        assert_eq!(at(&SE16, "voyage"), (9, 13, X, M));
        assert_eq!(at(&SE30, "entity"), (5, 7, A, M));
        assert_eq!(at(&SE30, "identifier"), (46, 65, X, C));
        assert_eq!(at(&SE35, "text2"), (44, 78, X, O));
        assert_eq!(at(&SE36, "city"), (5, 39, X, M));
        assert_eq!(at(&SE36, "country"), (64, 65, A, M));
        assert_eq!(at(&SE40, "description"), (11, 80, X, O));
        assert_eq!(at(&SE60, "value"), (15, 24, N, C));
        assert_eq!(at(&SE90, "narrative"), (10, 49, X, M));
        assert_eq!(at(&SO10, "entry_number"), (14, 21, AN, M));
        assert_eq!(at(&SO60, "code"), (15, 16, AN, M));
        assert_eq!(at(&SO60, "time"), (11, 14, N, M));
        assert_eq!(at(&SO60, "release_date"), (57, 62, N, C));
        assert_eq!(at(&SO50, "code"), (15, 16, AN, M));
        assert_eq!(at(&AE10, "entry_type"), (34, 35, AN, M));
        assert_eq!(at(&AE10, "certify"), (40, 40, AN, C));
        assert_eq!(at(&AE10, "payment_type"), (51, 51, AN, C));
        assert_eq!(at(&AE11, "ior"), (3, 14, X, M));
        assert_eq!(at(&AE50, "duty"), (14, 23, SN, M));
        assert_eq!(at(&AE50, "value"), (25, 34, SN, M));
        assert_eq!(at(&AE62, "amount"), (6, 13, SN, M));
        assert_eq!(at(&AE89, "total5"), (62, 72, SN, C));
        assert_eq!(at(&AE90, "other"), (63, 73, SN, C));
    }

    #[test]
    fn records_are_written_at_their_positions() {
        let mut so60 = Out::new(&SO60);
        so60.set("date", "120326")
            .set("time", "1405")
            .set("code", "98")
            .set("narrative", "Released")
            .set("release_date", "120326");
        let line = so60.line();
        assert_eq!(line.len(), 80);
        assert_eq!(&line[0..4], "SO60");
        assert_eq!(&line[4..14], "1203261405");
        assert_eq!(&line[14..16], "98");
        assert_eq!(&line[16..24], "RELEASED");
        assert_eq!(&line[56..62], "120326");
        let mut y = Out::new(&OUT_Y);
        y.set("count", "7");
        assert_eq!(&y.line()[12..17], "00007");
    }
}
