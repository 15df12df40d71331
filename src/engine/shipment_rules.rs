//! Run-level rules and routing: shipments per file, D003 (seen before in the run
//! or history), D004 (possible duplicate lines across house bills), L001-L003
//! (the one-person-one-day aggregation), then one disposition per shipment
//! (contract sections 5 and 6).
//!
//! A *shipment occurrence* is one (carrier, house_bill) in one file; it gets one
//! disposition row. Its *canonical* facts are those of its first sighting (in
//! history, else its first file in this run): daily groups count every house
//! bill once, as first seen.
//!
//! History and the run's own files: a history row came from one file (its
//! SHA-256). An occurrence read from a file with those very bytes is that same
//! sighting again, not a repeat of it, so history does not count against it
//! (re-validating a file is idempotent); every other occurrence of the key is
//! a D003 against history. Where the run holds a copy of the file a history row
//! came from, that copy stands in for the row (its facts, freshly computed, are
//! the canonical ones), so the shipment counts once in its daily group.

use std::sync::Arc;

use polars::prelude::*;

use super::kernels::{self, lit_money};
use super::rules::Rule;
use super::{finding_frame, left_join_keep_order};
use crate::columns as c;
use crate::policy::Policy;
use crate::state::{self, HistoryStore};

/// Per-file facts the run stage needs.
pub struct FileMeta {
    pub name: String,
    pub sha256: String,
    /// File-level error rules (F002) that hold every shipment of the file.
    pub errors: super::rules::RuleSet,
}

/// What the run stage produces.
pub struct RunOutput {
    pub findings: DataFrame,
    /// One row per shipment occurrence, in file then record order, with the
    /// contract's `dispositions.csv` columns (plus `file` for the writer).
    pub dispositions: DataFrame,
    /// Shipments first seen in this run, in the history schema.
    pub new_history: DataFrame,
}

use super::file_rules::{
    CHECKOUT, CONVEYANCE, DISTINCT_LINES, DUTY_SUM, DUTY_UNKNOWN, FIRST_RECORD, IOR, LINES, MODE,
    PORT, TOTAL,
};
const FIRST_FILE: &str = "_first_file";
const HIST_FILE: &str = "_hist_file";
const HIST_RUN: &str = "_hist_run";
const HIST_SHA: &str = "_hist_sha";
/// Whether this occurrence comes from a file with the bytes its history row came from.
const OWN_HISTORY: &str = "_own_history";
/// Whether history counts against this occurrence (D003).
const HIST_APPLIES: &str = "_hist_applies";
/// Per key: the occurrence whose facts are canonical (null: history's are).
const CANON_FILE: &str = "_canon_file";
const C_CKEY: &str = "_c_ckey";
const C_DATE: &str = "_c_date";
const DAY_BILLS: &str = "_day_bills";
const DAY_TOTAL: &str = "_day_total";
const CKEY_HASH: &str = "_ckey_hash";
const CKEY_HASH2: &str = "_ckey_hash2";
const D003: &str = "_d003";
const D004_BILLS: &str = "_d004_bills";
const L001: &str = "_l001";
const L002: &str = "_l002";
const L003: &str = "_l003";
const SOURCE_FILE: &str = "source_file";

/// The de minimis threshold in force on each date of `date` (regime override or default).
fn threshold(date: Expr, policy: &Policy) -> Expr {
    let starts: Arc<[i32]> = policy
        .regimes
        .iter()
        .map(|r| crate::dates::epoch_days(r.from))
        .collect();
    let regime = kernels::regime_index(date, starts);
    let mut t = lit_money(policy.threshold_usd);
    for (i, r) in policy.regimes.iter().enumerate() {
        if r.threshold_usd != policy.threshold_usd {
            t = when(regime.clone().eq(lit(i as i32)))
                .then(lit_money(r.threshold_usd))
                .otherwise(t);
        }
    }
    t
}

fn text(parts: Vec<Expr>) -> Expr {
    concat_str(parts, "", false)
}

/// The consignee key as a 128-bit integer key (two seeded 64-bit hashes).
fn ckey_hashes(name: &str) -> [Expr; 2] {
    [
        kernels::text_hash(col(name), 0).alias(CKEY_HASH),
        kernels::text_hash(col(name), 1).alias(CKEY_HASH2),
    ]
}

fn ship_keys() -> [Expr; 2] {
    [col(c::SHIP_HI), col(c::SHIP_LO)]
}

/// Evaluates the run. `shipments` and `line_signatures` are every file's
/// file-stage output, concatenated in file order.
pub fn evaluate(
    shipments: DataFrame,
    line_signatures: DataFrame,
    files: &[FileMeta],
    policy: &Policy,
    mut history: Option<&mut (dyn HistoryStore + '_)>,
    run_id: &str,
) -> anyhow::Result<RunOutput> {
    let file_table = DataFrame::new(
        files.len(),
        vec![
            Column::new(c::FILE.into(), (0..files.len() as u32).collect::<Vec<_>>()),
            Column::new(
                SOURCE_FILE.into(),
                files.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "_sha".into(),
                files.iter().map(|f| f.sha256.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "_file_errors".into(),
                files.iter().map(|f| f.errors.0).collect::<Vec<_>>(),
            ),
        ],
    )?;

    // Shipment occurrences with their file's name and file-level errors.
    let occ = shipments
        .lazy()
        .join(
            file_table.clone().lazy(),
            [col(c::FILE)],
            [col(c::FILE)],
            left_join_keep_order(),
        )
        .with_columns([
            col(c::ERRORS)
                .or(col("_file_errors"))
                .cast(DataType::UInt32)
                .alias(c::ERRORS),
            col(c::FILE).min().over(ship_keys())?.alias(FIRST_FILE),
        ])
        .collect()?;

    // D003 against history: keys first seen in an earlier run.
    let run_keys = occ
        .clone()
        .lazy()
        .filter(col(c::K_HOUSE_BILL).neq(lit("")))
        .select([
            col(c::K_CARRIER).alias(state::H_CARRIER),
            col(c::K_HOUSE_BILL).alias(state::H_HOUSE_BILL),
        ])
        .unique_stable(None, UniqueKeepStrategy::First)
        .collect()?;
    let seen = match history.as_deref_mut() {
        Some(h) => h.seen_by_key(&run_keys)?,
        None => state::empty_history(),
    };
    let hash = |half| {
        kernels::shipment_hash(
            col(state::H_CARRIER),
            col(state::H_HOUSE_BILL),
            lit(0u32),
            half,
        )
    };
    let seen = seen
        .lazy()
        .select([
            hash(kernels::Half::High).alias(c::SHIP_HI),
            hash(kernels::Half::Low).alias(c::SHIP_LO),
            col(state::H_CONSIGNEE_KEY).alias("_h_ckey"),
            col(state::H_ARRIVAL_DATE).alias("_h_date"),
            col(state::H_TOTAL_USD).alias("_h_total"),
            col(state::H_SOURCE_FILE).alias(HIST_FILE),
            col(state::H_RUN_ID).alias(HIST_RUN),
            col(state::H_FILE_SHA256).alias(HIST_SHA),
        ])
        .unique_stable(
            Some(cols([c::SHIP_HI, c::SHIP_LO])),
            UniqueKeepStrategy::First,
        );
    let first_file_names = file_table.clone().lazy().select([
        col(c::FILE).alias(FIRST_FILE),
        col(SOURCE_FILE).alias("_first_file_name"),
    ]);
    let occ = occ
        .lazy()
        .join(seen, ship_keys(), ship_keys(), left_join_keep_order())
        .join(
            first_file_names,
            [col(FIRST_FILE)],
            [col(FIRST_FILE)],
            left_join_keep_order(),
        )
        .with_column(
            col(HIST_FILE)
                .is_not_null()
                .and(col("_sha").eq(col(HIST_SHA)))
                .alias(OWN_HISTORY),
        )
        .with_columns([
            col(HIST_FILE)
                .is_not_null()
                .and(col(OWN_HISTORY).not())
                .alias(HIST_APPLIES),
            // No history: the first file of the run. History with a copy of its
            // file in the run: the first such copy. History alone: null.
            when(col(HIST_FILE).is_null())
                .then(col(FIRST_FILE))
                .otherwise(
                    when(col(OWN_HISTORY))
                        .then(col(c::FILE))
                        .otherwise(lit(NULL).cast(DataType::UInt32))
                        .min()
                        .over(ship_keys())?,
                )
                .alias(CANON_FILE),
        ])
        .with_column(
            col(c::FILE)
                .gt(col(FIRST_FILE))
                .or(col(HIST_APPLIES))
                .alias(D003),
        )
        .collect()?;

    // Canonical facts per shipment key, one row per key: history's if seen
    // before (and not in the run again as the same file), else those of the
    // occurrence that is its first sighting.
    let use_history = col(CANON_FILE).is_null();
    let canonical = occ
        .clone()
        .lazy()
        .filter(col(c::FILE).eq(coalesce(&[col(CANON_FILE), col(FIRST_FILE)])))
        .select([
            col(c::SHIP_HI),
            col(c::SHIP_LO),
            when(use_history.clone())
                .then(col("_h_ckey"))
                .otherwise(col(c::CONSIGNEE_KEY))
                .alias(C_CKEY),
            when(use_history.clone())
                .then(col("_h_date"))
                .otherwise(col(c::DATE))
                .alias(C_DATE),
            when(use_history)
                .then(col("_h_total"))
                .otherwise(col(TOTAL))
                .alias(TOTAL),
        ])
        .collect()?;
    let days = canonical
        .clone()
        .lazy()
        .filter(col(C_DATE).is_not_null())
        .select([
            col(C_CKEY).alias(state::H_CONSIGNEE_KEY),
            col(C_DATE).alias(state::H_ARRIVAL_DATE),
        ])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?;
    let others = match history {
        Some(h) => h.seen_on_days(&days)?,
        None => state::empty_history(),
    };
    let others = others
        .lazy()
        .select([
            hash(kernels::Half::High).alias(c::SHIP_HI),
            hash(kernels::Half::Low).alias(c::SHIP_LO),
            col(state::H_CONSIGNEE_KEY).alias(C_CKEY),
            col(state::H_ARRIVAL_DATE).alias(C_DATE),
            col(state::H_TOTAL_USD).alias(TOTAL),
        ])
        // Keys of this run are already in `canonical`, as first seen.
        .join(
            canonical.clone().lazy().select(ship_keys()),
            ship_keys(),
            ship_keys(),
            JoinArgs::new(JoinType::Anti),
        );
    let daily = concat(
        [
            canonical.clone().lazy().filter(col(C_DATE).is_not_null()),
            others,
        ],
        UnionArgs::default(),
    )?
    .with_columns(ckey_hashes(C_CKEY))
    .group_by([col(CKEY_HASH), col(CKEY_HASH2), col(C_DATE)])
    .agg([len().alias(DAY_BILLS), col(TOTAL).sum().alias(DAY_TOTAL)]);

    // D004: the same line (HTS, value, currency, description) on two or more
    // house bills of one consignee and day. Count house bills per (consignee,
    // day, line) on integer keys; name the bills only for groups that match.
    // Each house bill takes part once, as first seen (as in the daily groups):
    // with the lines, consignee and day of its canonical occurrence. A D003
    // repeat's own content does not count; a bill first seen in an earlier run
    // does not take part, as history keeps no lines (unless the run holds that
    // very file again). A flagged bill's repeats carry its D004, as they carry
    // its L001 and L002.
    let occ_keys = occ
        .clone()
        .lazy()
        .filter(
            col(c::FILE)
                .eq(col(CANON_FILE))
                .and(col(c::DATE).is_not_null()),
        )
        .select([
            col(c::FILE),
            col(c::SHIP_HI),
            col(c::SHIP_LO),
            kernels::text_hash(col(c::CONSIGNEE_KEY), 0).alias(CKEY_HASH),
            kernels::text_hash(col(c::CONSIGNEE_KEY), 1).alias(CKEY_HASH2),
            col(c::DATE),
        ]);
    let file_ship = [col(c::FILE), col(c::SHIP_HI), col(c::SHIP_LO)];
    let line_keys = line_signatures.lazy().join(
        occ_keys,
        file_ship.clone(),
        file_ship.clone(),
        JoinArgs::new(JoinType::Inner),
    );
    let group_keys = [
        col(CKEY_HASH),
        col(CKEY_HASH2),
        col(c::DATE),
        col(c::LINE_SIGNATURE),
    ];
    let matching = line_keys
        .clone()
        .group_by(group_keys.clone())
        .agg([
            col(c::SHIP_HI).n_unique().alias("_bills_hi"),
            col(c::SHIP_LO).n_unique().alias("_bills_lo"),
        ])
        .filter(
            col("_bills_hi")
                .gt(lit(1u32))
                .or(col("_bills_lo").gt(lit(1u32))),
        )
        .select(group_keys.clone());
    let flagged = line_keys
        .join(
            matching,
            group_keys.clone(),
            group_keys.clone(),
            JoinArgs::new(JoinType::Semi),
        )
        .join(
            occ.clone().lazy().select([
                col(c::FILE),
                col(c::SHIP_HI),
                col(c::SHIP_LO),
                col(c::K_HOUSE_BILL),
            ]),
            file_ship.clone(),
            file_ship,
            JoinArgs::new(JoinType::Inner),
        );
    // Name at most ten bills per group (a group can hold thousands), then the count.
    let bill_lists = flagged
        .clone()
        .group_by(group_keys.clone())
        .agg([
            col(c::K_HOUSE_BILL)
                .unique()
                .sort(SortOptions::default())
                .head(Some(10))
                .str()
                .join(", ", true)
                .alias(D004_BILLS),
            col(c::K_HOUSE_BILL).n_unique().alias("_d004_n"),
        ])
        .with_column(
            when(col("_d004_n").gt(lit(10u32)))
                .then(concat_str(
                    [
                        col(D004_BILLS),
                        lit(" and "),
                        (col("_d004_n") - lit(10u32)).cast(DataType::String),
                        lit(" more"),
                    ],
                    "",
                    false,
                ))
                .otherwise(col(D004_BILLS))
                .alias(D004_BILLS),
        )
        .select([
            col(CKEY_HASH),
            col(CKEY_HASH2),
            col(c::DATE),
            col(c::LINE_SIGNATURE),
            col(D004_BILLS),
        ]);
    let d004 = flagged
        .join(
            bill_lists,
            group_keys.clone(),
            group_keys,
            JoinArgs::new(JoinType::Inner),
        )
        .group_by(ship_keys())
        .agg([col(D004_BILLS).min()]); // deterministic when in several groups

    let thr_own = threshold(col(c::DATE), policy);
    let thr_day = threshold(col(C_DATE), policy);
    let occ = occ
        .lazy()
        .join(
            canonical
                .lazy()
                .select([col(c::SHIP_HI), col(c::SHIP_LO), col(C_CKEY), col(C_DATE)]),
            ship_keys(),
            ship_keys(),
            left_join_keep_order(),
        )
        .with_columns(ckey_hashes(C_CKEY))
        .join(
            daily,
            [col(CKEY_HASH), col(CKEY_HASH2), col(C_DATE)],
            [col(CKEY_HASH), col(CKEY_HASH2), col(C_DATE)],
            left_join_keep_order(),
        )
        .join(d004, ship_keys(), ship_keys(), left_join_keep_order())
        .with_columns([
            col(DAY_BILLS)
                .gt(lit(1u32))
                .fill_null(lit(false))
                .alias(L001),
            col(DAY_TOTAL)
                .gt(thr_day.clone())
                .fill_null(lit(false))
                .alias(L002),
            col(TOTAL).gt(thr_own.clone()).alias(L003),
            thr_own.alias("_thr_own"),
            thr_day.alias("_thr_day"),
        ])
        .collect()?;

    let findings = shipment_findings(&occ)?;
    let dispositions = route(&occ, policy)?;
    let new_history = occ
        .clone()
        .lazy()
        .filter(
            col(c::FILE)
                .eq(col(FIRST_FILE))
                .and(col(HIST_FILE).is_null())
                .and(col(c::K_HOUSE_BILL).neq(lit(""))),
        )
        .select([
            col(c::K_CARRIER).alias(state::H_CARRIER),
            col(c::K_HOUSE_BILL).alias(state::H_HOUSE_BILL),
            col(c::CONSIGNEE_KEY).alias(state::H_CONSIGNEE_KEY),
            col(c::DATE).alias(state::H_ARRIVAL_DATE),
            col(TOTAL).alias(state::H_TOTAL_USD),
            col(SOURCE_FILE).alias(state::H_SOURCE_FILE),
            col("_sha").alias(state::H_FILE_SHA256),
            lit(run_id.to_owned()).alias(state::H_RUN_ID),
        ])
        .collect()?;
    Ok(RunOutput {
        findings,
        dispositions,
        new_history,
    })
}

fn shipment_findings(occ: &DataFrame) -> PolarsResult<DataFrame> {
    let c_date = kernels::date_text(col(C_DATE));
    let frame = |filter: Expr, rule: Rule, message: Expr| {
        finding_frame(
            occ.clone().lazy().filter(filter),
            rule,
            col(FIRST_RECORD),
            lit(""),
            lit(""),
            message,
        )
    };
    let parts = vec![
        frame(
            col(D003),
            Rule::D003,
            when(col(HIST_APPLIES))
                .then(text(vec![
                    lit("house bill already came in file "),
                    col(HIST_FILE),
                    lit(" (run "),
                    col(HIST_RUN),
                    lit("); not filed again"),
                ]))
                .otherwise(text(vec![
                    lit("house bill already came in file "),
                    col("_first_file_name"),
                    lit(" earlier in this run; not filed again"),
                ])),
        ),
        frame(
            col(D004_BILLS).is_not_null(),
            Rule::D004,
            text(vec![
                lit("house bills "),
                col(D004_BILLS),
                lit(" of one consignee on "),
                c_date.clone(),
                lit(" each have a line with the same HTS, value, currency and description"),
            ]),
        ),
        frame(
            col(L001),
            Rule::L001,
            text(vec![
                lit("the consignee has "),
                col(DAY_BILLS).cast(DataType::String),
                lit(" house bills on "),
                c_date.clone(),
            ]),
        ),
        frame(
            col(L002),
            Rule::L002,
            text(vec![
                lit("the consignee's house bills on "),
                c_date,
                lit(" total USD "),
                kernels::money_text(col(DAY_TOTAL)),
                lit(", above the "),
                kernels::money_text(col("_thr_day")),
                lit(" threshold; none qualifies for de minimis"),
            ]),
        ),
        frame(
            col(L003),
            Rule::L003,
            text(vec![
                lit("house bill total USD "),
                kernels::money_text(col(TOTAL)),
                lit(" is above the "),
                kernels::money_text(col("_thr_own")),
                lit(" threshold"),
            ]),
        ),
    ];
    concat(parts, UnionArgs::default())?.collect()
}

/// Contract section 6: the first of hold, duplicate, 03, 01, 86, 11 that
/// applies. The frame also carries what the entry builder needs (the columns
/// after `reasons`, each prefixed `_`).
fn route(occ: &DataFrame, policy: &Policy) -> PolarsResult<DataFrame> {
    let bit = |r: Rule| lit(r.bit());
    let hold = col(c::ERRORS).neq(lit(0u32));
    let over_informal = col(TOTAL).gt(lit_money(policy.informal_limit_usd));
    let formal = col(c::E003).or(over_informal.clone());
    let section_321 = col(c::E001).not().and(col(L002).not()).and(col(L003).not());
    let flag = |cond: Expr, r: Rule| when(cond).then(bit(r)).otherwise(lit(0u32));
    let disposition = when(hold.clone())
        .then(lit("hold"))
        .when(col(D003))
        .then(lit("duplicate"))
        .when(col(c::E004))
        .then(lit("03"))
        .when(formal.clone())
        .then(lit("01"))
        .when(section_321.clone())
        .then(lit("86"))
        .otherwise(lit("11"));
    let reasons = when(hold)
        .then(col(c::ERRORS))
        .when(col(D003))
        .then(bit(Rule::D003))
        .when(col(c::E004))
        .then(bit(Rule::E004))
        .when(formal)
        .then(flag(col(c::E003), Rule::E003).or(flag(over_informal, Rule::L003)))
        .when(section_321)
        .then(lit(0u32))
        .otherwise(
            flag(col(c::E001), Rule::E001)
                .or(flag(col(L002), Rule::L002))
                .or(flag(col(L003), Rule::L003)),
        );
    occ.clone()
        .lazy()
        .select([
            col(c::FILE),
            col(SOURCE_FILE),
            col(c::K_CARRIER).alias("carrier"),
            col(c::K_HOUSE_BILL).alias("house_bill"),
            kernels::date_text(col(c::DATE))
                .fill_null(lit(""))
                .alias("arrival_date"),
            col(c::CONSIGNEE_KEY).alias("consignee_key"),
            col(LINES).alias("lines"),
            kernels::money_text(col(TOTAL)).alias("total_usd"),
            disposition.alias("disposition"),
            kernels::rule_codes(reasons.cast(DataType::UInt32)).alias("reasons"),
            col(TOTAL).alias("_total_units"),
            col(c::SHIP_HI),
            col(c::SHIP_LO),
            col(FIRST_RECORD),
            col(c::DATE),
            col(c::E003),
            col(c::E004),
            col(PORT),
            col(CONVEYANCE),
            col(IOR),
            col(MODE),
            col(CHECKOUT),
            col(DUTY_SUM),
            col(DUTY_UNKNOWN),
            col(DISTINCT_LINES),
        ])
        .collect()
}
