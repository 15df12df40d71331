//! The duty estimate of every line (contract section 9 steps 1-6), as columns
//! added to a chunk after normalisation.
//!
//! The arithmetic lives in [`crate::duty`]; this module only walks a chunk's
//! normalised columns, calls [`DutyPolicy::line`] per line and collects the
//! answers as polars columns the later stages carry (`_rate_column`, `_rate`,
//! `_hts_duty`, `_ch99`, `_duty`, `_t001`, `_in_revision`). A line that already
//! has no date, no 10-digit code or no USD value is held by another rule and
//! never reaches an entry, so it is skipped.

use polars::prelude::*;

use crate::columns as c;
use crate::duty::{DutyPolicy, LineIn};
use crate::money;
use crate::normalize;

/// Column names this module adds.
pub const RATE_COLUMN: &str = "_rate_column";
pub const RATE: &str = "_rate";
pub const HTS_DUTY: &str = "_hts_duty";
pub const CH99: &str = "_ch99";
pub const DUTY: &str = "_duty";
/// T001's reason; null when the duty is known.
pub const T001: &str = "_t001";
/// Whether the code is in the HTS revision in force (null: no revision that day).
pub const IN_REVISION: &str = "_in_revision";
/// Quantity and special program as read.
pub const QUANTITY: &str = "_quantity";
pub const SPECIAL: &str = "_special";
pub const WEIGHT: &str = "_weight";

/// Adds the duty columns to `df`, which holds the line stage's normalised
/// columns (`_date`, `_hts`, `_origin`, `_usd`, `_quantity`, `_weight`, `_special`).
pub fn add(df: &mut DataFrame, duty: &DutyPolicy) -> PolarsResult<()> {
    let n = df.height();
    if !duty.has_hts() {
        // No revision configured: no estimate, and nothing for T001 to say.
        let reason = "the policy has no [[duty.hts]] revision";
        let cols = [
            Column::new_scalar(RATE_COLUMN.into(), Scalar::from(PlSmallStr::EMPTY), n),
            Column::new_scalar(RATE.into(), Scalar::from(PlSmallStr::EMPTY), n),
            Column::new_scalar(HTS_DUTY.into(), Scalar::null(DataType::Int128), n),
            Column::new_scalar(CH99.into(), Scalar::from(PlSmallStr::EMPTY), n),
            Column::new_scalar(DUTY.into(), Scalar::null(DataType::Int128), n),
            Column::new_scalar(T001.into(), Scalar::from(PlSmallStr::from(reason)), n),
            Column::new_scalar(IN_REVISION.into(), Scalar::null(DataType::Boolean), n),
        ];
        df.hstack_mut(&cols)?;
        return Ok(());
    }
    let days = df
        .column(c::DATE)?
        .as_materialized_series()
        .to_physical_repr()
        .into_owned();
    let days = days.i32()?;
    let hts = df.column(c::N_HTS)?.str()?;
    let origin = df.column(c::N_ORIGIN)?.str()?;
    let special = df.column(SPECIAL)?.str()?;
    let usd = df.column(c::USD)?.i128()?;
    let quantity = df.column(QUANTITY)?.i128()?;
    let weight = df.column(WEIGHT)?.i128()?;

    let mut out = Builders::new(n);
    let mut ch99_text = String::new();
    for i in 0..n {
        let date = days.get(i).and_then(crate::dates::from_epoch_days);
        let (Some(date), Some(code)) = (date, hts.get(i)) else {
            out.in_revision.push(None);
            out.no_estimate();
            continue;
        };
        out.in_revision
            .push(duty.revision_on(date).map(|(_, rev)| rev.contains(code)));
        let Some(value) = usd.get(i).filter(|_| normalize::hts_is_ten_digits(code)) else {
            out.no_estimate();
            continue;
        };
        let line = duty.line(&LineIn {
            date,
            hts10: code,
            origin: origin.get(i).unwrap_or(""),
            special_program: special.get(i).unwrap_or(""),
            entered_value: value,
            quantity: quantity.get(i),
            weight_kg: weight.get(i),
        });
        ch99_text.clear();
        for (k, (heading, _program, amount)) in line.ch99.iter().enumerate() {
            if k > 0 {
                ch99_text.push(';');
            }
            ch99_text.push_str(heading);
            ch99_text.push('=');
            money::write_to(&mut ch99_text, *amount);
        }
        out.rate_column.append_value(&line.rate_column);
        out.rate.append_value(&line.rate);
        out.hts_duty.push(line.hts_duty);
        out.ch99.append_value(&ch99_text);
        out.duty.push(line.duty);
        match &line.unknown {
            Some(reason) => out.t001.append_value(reason),
            None => out.t001.append_null(),
        }
    }
    let cols = out.finish();
    df.hstack_mut(&cols)?;
    Ok(())
}

/// The duty columns being built, one value per line.
struct Builders {
    rate_column: StringChunkedBuilder,
    rate: StringChunkedBuilder,
    hts_duty: Vec<Option<i128>>,
    ch99: StringChunkedBuilder,
    duty: Vec<Option<i128>>,
    t001: StringChunkedBuilder,
    in_revision: Vec<Option<bool>>,
}

impl Builders {
    fn new(n: usize) -> Builders {
        Builders {
            rate_column: StringChunkedBuilder::new(RATE_COLUMN.into(), n),
            rate: StringChunkedBuilder::new(RATE.into(), n),
            hts_duty: Vec::with_capacity(n),
            ch99: StringChunkedBuilder::new(CH99.into(), n),
            duty: Vec::with_capacity(n),
            t001: StringChunkedBuilder::new(T001.into(), n),
            in_revision: Vec::with_capacity(n),
        }
    }

    /// A line with no value, date or valid code: it is held by V001-V006 and
    /// never entered, so it gets no estimate.
    fn no_estimate(&mut self) {
        self.rate_column.append_value("");
        self.rate.append_value("");
        self.hts_duty.push(None);
        self.ch99.append_value("");
        self.duty.push(None);
        self.t001
            .append_value("the line has no valid value, date or HTS code");
    }

    fn finish(self) -> [Column; 7] {
        [
            self.rate_column.finish().into_column(),
            self.rate.finish().into_column(),
            Int128Chunked::from_iter_options(HTS_DUTY.into(), self.hts_duty.into_iter())
                .into_column(),
            self.ch99.finish().into_column(),
            Int128Chunked::from_iter_options(DUTY.into(), self.duty.into_iter()).into_column(),
            self.t001.finish().into_column(),
            BooleanChunked::from_iter_options(IN_REVISION.into(), self.in_revision.into_iter())
                .into_column(),
        ]
    }
}
