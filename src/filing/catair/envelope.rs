//! The ABI batch and block envelope (catair.md section 2, [BB] Batch & Block
//! Control V23): input A/B/Y/Z as s321d writes them, output A/B/Y/Z as ACE
//! answers (SX, SO), and the X0/X1 batch-level reject records.

use super::key::{Class::*, Layout, Usage::*, coded, f, filler};

/// Application identifiers s321d sends.
pub const INPUT_APPS: &[&str] = &["SE", "AE"];

/// Input batch header [BB B&B-9/10].
pub static A_IN: Layout = Layout {
    id: "A",
    source: "BB B&B-9/10",
    fields: &[
        f("site", 2, 4, AN, M),
        f("id_code", 6, 3, AN, M),
        f("password", 9, 6, AN, M),
        f("date", 15, 6, D, O),
        filler(21, 5),
        coded("app", 26, 2, AN, M, INPUT_APPS),
        filler(28, 10),
        f("office", 38, 2, AN, C),
        filler(40, 20),
        f("user_data", 60, 21, X, O),
    ],
};

/// Input block header [BB B&B-13/14].
pub static B_IN: Layout = Layout {
    id: "B",
    source: "BB B&B-13/14",
    fields: &[
        filler(2, 2),
        f("port", 4, 4, AN, M),
        f("filer", 8, 3, AN, M),
        coded("app", 11, 2, AN, M, INPUT_APPS),
        filler(13, 32),
        f("office", 45, 2, AN, C),
        f("preparer_port", 47, 4, AN, C),
        f("preparer_filer", 51, 3, AN, C),
        f("preparer_office", 54, 2, AN, C),
        coded("preparer_indicator", 56, 1, AN, C, &["1"]),
        filler(57, 3),
        f("user_data", 60, 21, X, O),
    ],
};

/// Input block trailer [BB B&B-15]: no count.
pub static Y_IN: Layout = Layout {
    id: "Y",
    source: "BB B&B-15",
    fields: &[
        filler(2, 2),
        f("port", 4, 4, AN, M),
        f("filer", 8, 3, AN, M),
        coded("app", 11, 2, AN, M, INPUT_APPS),
        filler(13, 32),
        f("office", 45, 2, AN, C),
        filler(47, 34),
    ],
};

/// Input batch trailer [BB B&B-12]: no password, no count.
pub static Z_IN: Layout = Layout {
    id: "Z",
    source: "BB B&B-12",
    fields: &[
        f("site", 2, 4, AN, M),
        f("id_code", 6, 3, AN, M),
        filler(9, 6),
        f("date", 15, 6, D, C),
        filler(21, 17),
        f("office", 38, 2, AN, C),
        filler(40, 41),
    ],
};

/// Output batch header [BB B&B-20..28]: no password; 26-27 is the response
/// id, spaces when the batch was rejected.
pub static A_OUT: Layout = Layout {
    id: "A",
    source: "BB B&B-20..28",
    fields: &[
        f("site", 2, 4, AN, M),
        f("id_code", 6, 3, AN, M),
        filler(9, 6),
        f("date", 15, 6, D, O),
        filler(21, 5),
        f("app", 26, 2, AN, C),
        filler(28, 10),
        f("office", 38, 2, AN, C),
        filler(40, 20),
        f("user_data", 60, 21, X, O),
    ],
};

/// Output block header: the input B echoed with the response id. An
/// ACE-generated B (batch rejected) is `B` and spaces.
pub static B_OUT: Layout = Layout {
    id: "B",
    source: "BB B&B-20..28",
    fields: &[
        filler(2, 2),
        f("port", 4, 4, AN, C),
        f("filer", 8, 3, AN, C),
        f("app", 11, 2, AN, C),
        f("statement", 13, 32, X, O),
        f("office", 45, 2, AN, C),
        f("preparer_port", 47, 4, AN, C),
        f("preparer_filer", 51, 3, AN, C),
        f("preparer_office", 54, 2, AN, C),
        f("preparer_indicator", 56, 1, AN, C),
        filler(57, 3),
        f("user_data", 60, 21, X, O),
    ],
};

/// Output block trailer: 13-17 is the block's output image count.
pub static Y_OUT: Layout = Layout {
    id: "Y",
    source: "BB B&B-20..28",
    fields: &[
        filler(2, 2),
        f("port", 4, 4, AN, C),
        f("filer", 8, 3, AN, C),
        f("app", 11, 2, AN, C),
        f("count", 13, 5, N, M),
        filler(18, 27),
        f("office", 45, 2, AN, C),
        filler(47, 34),
    ],
};

/// Output batch trailer: mirrors the input Z (spaces when ACE generated it).
pub static Z_OUT: Layout = Layout {
    id: "Z",
    source: "BB B&B-20..28",
    fields: &[
        f("site", 2, 4, AN, C),
        f("id_code", 6, 3, AN, C),
        filler(9, 6),
        f("date", 15, 6, D, C),
        filler(21, 17),
        f("office", 38, 2, AN, C),
        filler(40, 41),
    ],
};

/// Which block or transaction a batch reject is about [BB B&B-29..37].
pub static X0: Layout = Layout {
    id: "X0",
    source: "BB B&B-29..37",
    fields: &[
        filler(3, 1),
        coded("kind", 4, 6, AN, M, &["BLOCK", "TRNACT"]),
        filler(10, 1),
        f("occurrence", 11, 6, N, M),
        filler(17, 1),
        f("ref_label", 18, 7, X, M),
        filler(25, 1),
        f("reference", 26, 55, X, M),
    ],
};

/// A batch-level condition; `X1RF999` closes a rejected batch [BB B&B-29..37].
/// The narrative is printed 40AN but carries `/` and `-` in practice: read as X.
pub static X1: Layout = Layout {
    id: "X1",
    source: "BB B&B-29..37",
    fields: &[
        coded("disposition", 3, 1, AN, C, &["R"]),
        coded("severity", 4, 1, AN, M, &["F"]),
        f("condition", 5, 3, AN, M),
        filler(8, 2),
        f("reason", 10, 1, AN, C),
        f("narrative", 11, 40, X, M),
        filler(51, 30),
    ],
};

#[cfg(test)]
mod tests {
    use super::super::key::tests::{assert_tiles, at};
    use super::super::key::{Class, Usage};
    use super::*;

    // Each test states the positions as catair.md section 2 prints them.

    #[test]
    fn input_a() {
        assert_tiles(&A_IN);
        at(&A_IN, "site", 2, 5, Class::AN, Usage::M);
        at(&A_IN, "id_code", 6, 8, Class::AN, Usage::M);
        at(&A_IN, "password", 9, 14, Class::AN, Usage::M);
        at(&A_IN, "date", 15, 20, Class::D, Usage::O);
        at(&A_IN, "app", 26, 27, Class::AN, Usage::M);
        at(&A_IN, "office", 38, 39, Class::AN, Usage::C);
        at(&A_IN, "user_data", 60, 80, Class::X, Usage::O);
    }

    #[test]
    fn input_b() {
        assert_tiles(&B_IN);
        at(&B_IN, "port", 4, 7, Class::AN, Usage::M);
        at(&B_IN, "filer", 8, 10, Class::AN, Usage::M);
        at(&B_IN, "app", 11, 12, Class::AN, Usage::M);
        at(&B_IN, "office", 45, 46, Class::AN, Usage::C);
        at(&B_IN, "preparer_port", 47, 50, Class::AN, Usage::C);
        at(&B_IN, "preparer_filer", 51, 53, Class::AN, Usage::C);
        at(&B_IN, "preparer_office", 54, 55, Class::AN, Usage::C);
        at(&B_IN, "preparer_indicator", 56, 56, Class::AN, Usage::C);
        at(&B_IN, "user_data", 60, 80, Class::X, Usage::O);
    }

    #[test]
    fn input_y_and_z_carry_no_count() {
        assert_tiles(&Y_IN);
        at(&Y_IN, "port", 4, 7, Class::AN, Usage::M);
        at(&Y_IN, "filer", 8, 10, Class::AN, Usage::M);
        at(&Y_IN, "app", 11, 12, Class::AN, Usage::M);
        at(&Y_IN, "office", 45, 46, Class::AN, Usage::C);
        assert!(
            Y_IN.fields
                .iter()
                .filter(|f| (13..=44).contains(&f.start))
                .all(|f| f.class == Class::S)
        );
        assert_tiles(&Z_IN);
        at(&Z_IN, "site", 2, 5, Class::AN, Usage::M);
        at(&Z_IN, "id_code", 6, 8, Class::AN, Usage::M);
        at(&Z_IN, "date", 15, 20, Class::D, Usage::C);
        at(&Z_IN, "office", 38, 39, Class::AN, Usage::C);
        assert!(Z_IN.field("password").is_none() && Z_IN.field("count").is_none());
    }

    #[test]
    fn output_envelope() {
        for l in [&A_OUT, &B_OUT, &Y_OUT, &Z_OUT] {
            assert_tiles(l);
        }
        assert!(
            A_OUT.field("password").is_none(),
            "the password is not echoed"
        );
        at(&A_OUT, "app", 26, 27, Class::AN, Usage::C);
        at(&A_OUT, "user_data", 60, 80, Class::X, Usage::O);
        at(&B_OUT, "port", 4, 7, Class::AN, Usage::C);
        at(&B_OUT, "filer", 8, 10, Class::AN, Usage::C);
        at(&B_OUT, "app", 11, 12, Class::AN, Usage::C);
        at(&Y_OUT, "count", 13, 17, Class::N, Usage::M);
        at(&Y_OUT, "office", 45, 46, Class::AN, Usage::C);
        at(&Z_OUT, "date", 15, 20, Class::D, Usage::C);
    }

    #[test]
    fn x0_and_x1() {
        assert_tiles(&X0);
        at(&X0, "kind", 4, 9, Class::AN, Usage::M);
        at(&X0, "occurrence", 11, 16, Class::N, Usage::M);
        at(&X0, "ref_label", 18, 24, Class::X, Usage::M);
        at(&X0, "reference", 26, 80, Class::X, Usage::M);
        assert_tiles(&X1);
        at(&X1, "disposition", 3, 3, Class::AN, Usage::C);
        at(&X1, "severity", 4, 4, Class::AN, Usage::M);
        at(&X1, "condition", 5, 7, Class::AN, Usage::M);
        at(&X1, "reason", 10, 10, Class::AN, Usage::C);
        at(&X1, "narrative", 11, 50, Class::X, Usage::M);
    }
}
