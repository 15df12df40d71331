//! The file stage, on one file's line facts: D001 (a row repeats an earlier row
//! exactly) and D002 (one carrier/house bill/line number with different
//! content), both comparing the 128-bit row hash the reader computed over every
//! canonical value (the line number as the integer it is: `01` is line `1`); then the file's shipments (one row per carrier/house bill),
//! so the run stage works on shipments rather than lines.

use polars::prelude::*;

use super::duty_lines;
use super::finding_frame;
use super::kernels::{self, lit_money};
use super::left_join_keep_order;
use super::rules::Rule;
use crate::columns as c;

/// What the file stage produces for one file.
pub struct FileOutput {
    pub findings: DataFrame,
    /// One row per shipment of the file, in first-record order: `file`,
    /// `_ship_hi`, `_ship_lo`, `_carrier`, `_house_bill`, `_first_record`,
    /// `_lines`, `_consignee_key`, `_date`, `_total`, `_errors`, `_e001`, `_e003`.
    pub shipments: DataFrame,
    /// Distinct (shipment, line signature) pairs of the file, for D004.
    pub line_signatures: DataFrame,
    /// The file's distinct lines with no error of their own (D001 copies
    /// left out), with their duty estimate: what `entry_lines.csv` draws on
    /// once the run stage knows which shipments are entered. Columns:
    /// [`ENTRY_LINE_COLUMNS`].
    pub entry_lines: DataFrame,
}

/// The columns of [`FileOutput::entry_lines`], in `entry_lines.csv` order
/// after the shipment key (`file`, `_ship_hi`, `_ship_lo`).
pub const ENTRY_LINE_COLUMNS: [&str; 16] = [
    c::FILE,
    c::SHIP_HI,
    c::SHIP_LO,
    c::RECORD,
    c::K_CARRIER,
    c::K_HOUSE_BILL,
    c::K_LINE,
    c::N_HTS,
    c::N_ORIGIN,
    c::USD,
    duty_lines::RATE_COLUMN,
    duty_lines::RATE,
    duty_lines::HTS_DUTY,
    duty_lines::CH99,
    duty_lines::DUTY,
    duty_lines::T001,
];

/// Column names the file stage adds.
pub const FIRST_RECORD: &str = "_first_record";
pub const LINES: &str = "_lines";
pub const TOTAL: &str = "_total";
/// Lines of the shipment that are not D001 copies.
pub const DISTINCT_LINES: &str = "_distinct_lines";
/// Sum of the distinct lines' duty (null lines add nothing: see DUTY_UNKNOWN).
pub const DUTY_SUM: &str = "_duty_sum";
/// Whether any distinct line's duty is unknown (T001).
pub const DUTY_UNKNOWN: &str = "_duty_unknown";
/// Shipment-level facts for entries: port, conveyance, IOR, mode, checkout.
pub const PORT: &str = "_ship_port";
pub const CONVEYANCE: &str = "_ship_conveyance";
pub const IOR: &str = "_ship_ior";
pub const MODE: &str = "_ship_mode";
pub const CHECKOUT: &str = "_ship_checkout";

/// Applies D001 and D002 to the line facts of one file (in record order).
pub fn evaluate(facts: DataFrame) -> PolarsResult<FileOutput> {
    // Group, keep the rare groups with more than one row, and join back only
    // those: far cheaper than window functions over every row.
    let same_row = [col(c::ROW_HASH_HI), col(c::ROW_HASH_LO)];
    // (carrier, house bill, line) as a 128-bit integer key.
    let line_text = || vec![col(c::K_CARRIER), col(c::K_HOUSE_BILL), col(c::N_LINE)];
    let same_line = [col("_line_hi"), col("_line_lo")];
    let facts = facts.lazy().with_columns([
        kernels::texts_hash(line_text(), 0).alias("_line_hi"),
        kernels::texts_hash(line_text(), 1).alias("_line_lo"),
    ]);
    let copies = facts
        .clone()
        .group_by(same_row.clone())
        .agg([col(c::RECORD).min().alias("_original"), len().alias("_n")])
        .filter(col("_n").gt(lit(1u32)))
        .select([col(c::ROW_HASH_HI), col(c::ROW_HASH_LO), col("_original")]);
    let conflicts = facts
        .clone()
        .group_by(same_line.clone())
        .agg([
            col(c::ROW_HASH_HI).n_unique().alias("_hi"),
            col(c::ROW_HASH_LO).n_unique().alias("_lo"),
            len().alias("_d002_copies"),
        ])
        .filter(col("_hi").gt(lit(1u32)).or(col("_lo").gt(lit(1u32))))
        .select([col("_line_hi"), col("_line_lo"), col("_d002_copies")]);
    let marked = facts
        .join(copies, same_row.clone(), same_row, left_join_keep_order())
        .join(
            conflicts,
            same_line.clone(),
            same_line,
            left_join_keep_order(),
        )
        .with_columns([
            col(c::RECORD)
                .gt(col("_original"))
                .fill_null(lit(false))
                .alias(c::D001),
            col("_d002_copies").is_not_null().alias("_d002"),
        ])
        .collect()?;

    let d001 = finding_frame(
        marked.clone().lazy().filter(col(c::D001)),
        Rule::D001,
        col(c::RECORD),
        col(c::K_LINE),
        lit(""),
        concat_str(
            [
                lit("the row repeats record "),
                col("_original").cast(DataType::String),
                lit(" exactly; this copy is not filed"),
            ],
            "",
            false,
        ),
    );
    let d002 = finding_frame(
        marked.clone().lazy().filter(col("_d002")),
        Rule::D002,
        col(c::RECORD),
        col(c::K_LINE),
        lit(""),
        concat_str(
            [
                lit("carrier "),
                col(c::K_CARRIER),
                lit(", house_bill "),
                col(c::K_HOUSE_BILL),
                lit(", line_no "),
                col(c::K_LINE),
                lit(" appears in "),
                col("_d002_copies").cast(DataType::String),
                lit(" records of this file with different content"),
            ],
            "",
            false,
        ),
    );
    let findings = concat([d001, d002], UnionArgs::default())?.collect()?;
    let marked = marked
        .lazy()
        .with_column(
            when(col("_d002"))
                .then(col(c::ERRORS).or(lit(Rule::D002.bit())))
                .otherwise(col(c::ERRORS))
                .cast(DataType::UInt32)
                .alias(c::ERRORS),
        )
        .collect()?;

    let ship = [col(c::SHIP_HI), col(c::SHIP_LO)];
    // Every aggregation is a plain one (first, min, sum, or, any): polars' fast paths.
    let shipments = marked
        .clone()
        .lazy()
        // Distinct lines only: D001 copies add nothing; null USD (V004/V008) adds nothing.
        .with_columns([
            when(col(c::D001))
                .then(lit_money(0))
                .otherwise(col(c::USD))
                .alias(c::USD),
            when(col(c::D001))
                .then(lit_money(0))
                .otherwise(col(duty_lines::DUTY))
                .alias(duty_lines::DUTY),
            col(duty_lines::T001)
                .is_not_null()
                .and(col(c::D001).not())
                .alias(DUTY_UNKNOWN),
        ])
        .group_by_stable(ship.clone())
        .agg([
            col(c::FILE).first(),
            col(c::K_CARRIER).first(),
            col(c::K_HOUSE_BILL).first(),
            col(c::RECORD).min().alias(FIRST_RECORD),
            len().alias(LINES),
            col(c::D001)
                .not()
                .sum()
                .cast(DataType::UInt32)
                .alias(DISTINCT_LINES),
            col(c::CONSIGNEE_KEY).first(),
            // The first line's date; if it does not parse, the earliest that does.
            col(c::DATE).first().alias("_date_first"),
            col(c::DATE).min().alias("_date_min"),
            col(c::USD).sum().fill_null(lit_money(0)).alias(TOTAL),
            col(c::ERRORS).bitwise_or().alias(c::ERRORS),
            col(c::E001).any(true),
            col(c::E003).any(true),
            col(c::E004).any(true),
            col(duty_lines::DUTY)
                .sum()
                .fill_null(lit_money(0))
                .alias(DUTY_SUM),
            col(DUTY_UNKNOWN).any(true),
            col(c::N_PORT).first().alias(PORT),
            first_given(c::N_CONVEYANCE).alias(CONVEYANCE),
            first_given(c::N_IOR).alias(IOR),
            col(c::N_MODE).first().alias(MODE),
            col(c::N_CHECKOUT).drop_nulls().first().alias(CHECKOUT),
        ])
        .with_column(coalesce(&[col("_date_first"), col("_date_min")]).alias(c::DATE))
        .select([
            col(c::FILE),
            col(c::SHIP_HI),
            col(c::SHIP_LO),
            col(c::K_CARRIER),
            col(c::K_HOUSE_BILL),
            col(FIRST_RECORD),
            col(LINES),
            col(DISTINCT_LINES),
            col(c::CONSIGNEE_KEY),
            col(c::DATE),
            col(TOTAL),
            col(c::ERRORS),
            col(c::E001),
            col(c::E003),
            col(c::E004),
            col(DUTY_SUM),
            col(DUTY_UNKNOWN),
            col(PORT),
            col(CONVEYANCE),
            col(IOR),
            col(MODE),
            col(CHECKOUT),
        ])
        .collect()?;
    let entry_lines = marked
        .clone()
        .lazy()
        .filter(col(c::D001).not().and(col(c::ERRORS).eq(lit(0u32))))
        .select(ENTRY_LINE_COLUMNS.map(col))
        .collect()?;
    let line_signatures = marked
        .lazy()
        .select([
            col(c::FILE),
            col(c::SHIP_HI),
            col(c::SHIP_LO),
            col(c::LINE_SIGNATURE),
        ])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?;
    Ok(FileOutput {
        findings,
        shipments,
        line_signatures,
        entry_lines,
    })
}

/// The first non-empty value of a text column in the group, else empty.
fn first_given(name: &str) -> Expr {
    col(name)
        .filter(col(name).neq(lit("")))
        .first()
        .fill_null(lit(""))
}
