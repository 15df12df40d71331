//! Column kernels: the contract's normalisations (section 4) applied to whole
//! polars columns. Rules themselves are polars expressions over these results
//! (see `line_rules`); a kernel only turns text into a normal form or a typed
//! value, the way polars' own string kernels do.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::columns;
use crate::dates::{epoch_days, from_epoch_days};
use crate::money;
use crate::normalize;

fn string_out(name: &'static str) -> impl Fn(&Schema, &Field) -> PolarsResult<Field> + Send + Sync {
    move |_, f| {
        Ok(Field::new(
            if name.is_empty() {
                f.name().clone()
            } else {
                name.into()
            },
            DataType::String,
        ))
    }
}

/// Applies a text normalisation to a string column.
pub fn map_text(expr: Expr, f: fn(&str, &mut String)) -> Expr {
    expr.map(
        move |c: Column| {
            let ca = c.str()?;
            let mut buf = String::new();
            let mut out = StringChunkedBuilder::new(ca.name().clone(), ca.len());
            for v in ca.iter() {
                match v {
                    Some(v) => {
                        f(v, &mut buf);
                        out.append_value(&buf);
                    }
                    None => out.append_null(),
                }
            }
            Ok(out.finish().into_column())
        },
        string_out(""),
    )
}

/// `norm` of contract section 4.
pub fn norm(expr: Expr) -> Expr {
    map_text(expr, normalize::norm_into)
}

/// HTS normalisation.
pub fn hts(expr: Expr) -> Expr {
    map_text(expr, normalize::hts_into)
}

/// Trim and upper-case (country codes).
pub fn upper_trim(expr: Expr) -> Expr {
    map_text(expr, normalize::upper_trim_into)
}

/// First five digits of a ZIP.
pub fn zip5(expr: Expr) -> Expr {
    map_text(expr, |v, out| {
        out.clear();
        out.extend(v.chars().filter(char::is_ascii_digit).take(5));
    })
}

/// Line numbers as keys ([`columns::line_no_parts`]): `01` and `1` alike.
pub fn line_key(expr: Expr) -> Expr {
    map_text(expr, |v, out| {
        let (sign, digits) = columns::line_no_parts(v);
        out.clear();
        out.push_str(sign);
        out.push_str(digits);
    })
}

/// `transport_mode`: trimmed, lower-case; empty is `air` (contract section 1).
pub fn transport_mode(expr: Expr) -> Expr {
    map_text(expr, |v, out| {
        out.clear();
        out.push_str(&v.trim().to_ascii_lowercase());
        if out.is_empty() {
            out.push_str("air");
        }
    })
}

/// Currency normalisation (empty is USD).
pub fn currency(expr: Expr) -> Expr {
    map_text(expr, |v, out| {
        normalize::upper_trim_into(v, out);
        if out.is_empty() {
            out.push_str("USD");
        }
    })
}

/// A text column as exact fixed-point decimals (`Int128`, see [`money`]); null
/// where it does not parse. `declared` applies the declared-value rules (`$`,
/// thousands separators).
pub fn decimal(expr: Expr, declared: bool) -> Expr {
    expr.map(
        move |c: Column| {
            let ca = c.str()?;
            let out: Int128Chunked = ca
                .iter()
                .map(|v| {
                    v.and_then(|v| {
                        if declared {
                            money::parse_declared_value(v).ok()
                        } else {
                            money::parse_decimal(v).ok()
                        }
                    })
                })
                .collect();
            Ok(out.with_name(ca.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Int128)),
    )
}

/// Parses dates with a chrono format, caching per distinct text (dates repeat).
pub fn date(expr: Expr, format: Arc<str>) -> Expr {
    expr.map(
        move |c: Column| {
            let ca = c.str()?;
            let mut cache: PlHashMap<&str, Option<i32>> = PlHashMap::default();
            let out: Int32Chunked = ca
                .iter()
                .map(|v| {
                    let v = v?;
                    *cache.entry(v).or_insert_with(|| {
                        NaiveDate::parse_from_str(v.trim(), &format)
                            .ok()
                            .map(epoch_days)
                    })
                })
                .collect();
            Ok(out.with_name(ca.name().clone()).into_date().into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Date)),
    )
}

/// Dates as `YYYY-MM-DD` text, formatting each distinct day once.
pub fn date_text(expr: Expr) -> Expr {
    expr.map(
        |c: Column| {
            let days = c.as_materialized_series().to_physical_repr().into_owned();
            let days = days.i32()?;
            let mut cache: PlHashMap<i32, String> = PlHashMap::default();
            let mut out = StringChunkedBuilder::new(c.name().clone(), days.len());
            for d in days.iter() {
                match d {
                    Some(d) => {
                        let text = cache.entry(d).or_insert_with(|| {
                            from_epoch_days(d)
                                .map_or_else(String::new, |x| x.format("%Y-%m-%d").to_string())
                        });
                        out.append_value(text.as_str());
                    }
                    None => out.append_null(),
                }
            }
            Ok(out.finish().into_column())
        },
        string_out(""),
    )
}

/// Whether a declared value fails to parse only for its size (not below
/// [`money::MAX_DECLARED`]): V004 says so rather than "not a number".
pub fn declared_too_large(expr: Expr) -> Expr {
    expr.map(
        |c: Column| {
            let ca = c.str()?;
            let out: BooleanChunked = ca
                .iter()
                .map(|v| {
                    Some(v.is_some_and(|v| {
                        money::parse_declared_value(v) == Err(money::DecimalError::Overflow)
                    }))
                })
                .collect();
            Ok(out.with_name(c.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
    )
}

/// Index of the regime in force on each date (last `from` <= date); null when
/// the date is null or precedes every regime.
pub fn regime_index(expr: Expr, starts: Arc<[i32]>) -> Expr {
    expr.map(
        move |c: Column| {
            let days = c.as_materialized_series().to_physical_repr().into_owned();
            let days = days.i32()?;
            let out: Int32Chunked = days
                .iter()
                .map(|d| {
                    d.and_then(|d| {
                        starts
                            .partition_point(|s| *s <= d)
                            .checked_sub(1)
                            .map(|i| i as i32)
                    })
                })
                .collect();
            Ok(out.with_name(c.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Int32)),
    )
}

/// FX conversion: `value` (Int128, original currency) times the exact USD rate
/// of `currency`, rounded up at twelve decimals ([`money::convert`]). Null where
/// the value is null or not above zero, the currency has no rate, or the product
/// overflows: such lines add nothing to a shipment's total (contract section 5).
pub fn to_usd(value: Expr, currency: Expr, rates: Arc<BTreeMap<String, money::Rate>>) -> Expr {
    value.map_many(
        move |cols: &mut [Column]| {
            let values = cols[0].i128()?;
            let currencies = cols[1].str()?;
            let out: Int128Chunked = values
                .iter()
                .zip(currencies.iter())
                .map(|(v, c)| {
                    let (v, c) = (v?, c?);
                    if v <= 0 {
                        return None;
                    }
                    if c == "USD" {
                        return Some(v);
                    }
                    money::convert(v, *rates.get(c)?)
                })
                .collect();
            Ok(out.with_name(cols[0].name().clone()).into_column())
        },
        &[currency],
        |_, f| Ok(Field::new(f[0].name().clone(), DataType::Int128)),
    )
}

/// D004's line signature: a 64-bit hash of (normalised HTS, declared value and
/// currency, normalised description). The value compares as a number when it
/// parses (`$1,234.50` = `1234.5`), else as its trimmed text.
pub fn line_signature(
    hts: Expr,
    value: Expr,
    raw_value: Expr,
    currency: Expr,
    description: Expr,
) -> Expr {
    hts.map_many(
        |cols: &mut [Column]| {
            let hts = cols[0].str()?;
            let value = cols[1].i128()?;
            let raw = cols[2].str()?;
            let currency = cols[3].str()?;
            let description = cols[4].str()?;
            let mut buf = Vec::with_capacity(128);
            let out: UInt64Chunked = (0..hts.len())
                .map(|i| {
                    buf.clear();
                    let mut part = |bytes: &[u8]| {
                        buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                        buf.extend_from_slice(bytes);
                    };
                    part(hts.get(i).unwrap_or("").as_bytes());
                    match value.get(i) {
                        Some(v) => part(&v.to_le_bytes()),
                        None => part(format!("raw:{}", raw.get(i).unwrap_or("").trim()).as_bytes()),
                    }
                    part(currency.get(i).unwrap_or("").as_bytes());
                    part(description.get(i).unwrap_or("").as_bytes());
                    Some(xxh3_64(&buf))
                })
                .collect();
            Ok(out.with_name(cols[0].name().clone()).into_column())
        },
        &[value, raw_value, currency, description],
        |_, f| Ok(Field::new(f[0].name().clone(), DataType::UInt64)),
    )
}

/// Which half of a 128-bit hash a column holds.
#[derive(Clone, Copy)]
pub enum Half {
    High,
    Low,
}

/// Shipment key hash: 128 bits of (carrier, house_bill), split over two `u64`
/// columns so joins and group-bys run on integers. A blank house bill is never
/// the same shipment as another, so its key also takes the file index.
pub fn shipment_hash(carrier: Expr, house_bill: Expr, file: Expr, half: Half) -> Expr {
    carrier.map_many(
        move |cols: &mut [Column]| {
            let carrier = cols[0].str()?;
            let bill = cols[1].str()?;
            let file = cols[2].cast(&DataType::UInt32)?;
            let file = file.u32()?;
            let mut buf = Vec::with_capacity(64);
            // A literal file index arrives as one value: broadcast it.
            let file_at = |i: usize| file.get(if file.len() == 1 { 0 } else { i });
            let out: UInt64Chunked = carrier
                .iter()
                .zip(bill.iter())
                .enumerate()
                .map(|(i, (c, b))| {
                    let (c, b, f) = (c.unwrap_or(""), b.unwrap_or(""), file_at(i));
                    buf.clear();
                    buf.extend_from_slice(c.as_bytes());
                    buf.push(0x1f);
                    buf.extend_from_slice(b.as_bytes());
                    if b.is_empty() {
                        buf.push(0x1f);
                        buf.extend_from_slice(&f.unwrap_or(0).to_le_bytes());
                    }
                    let h = xxhash_rust::xxh3::xxh3_128(&buf);
                    Some(match half {
                        Half::High => (h >> 64) as u64,
                        Half::Low => h as u64,
                    })
                })
                .collect();
            Ok(out.with_name(cols[0].name().clone()).into_column())
        },
        &[house_bill, file],
        |_, f| Ok(Field::new(f[0].name().clone(), DataType::UInt64)),
    )
}

/// A seeded 64-bit hash of several string columns together (length-prefixed,
/// so ("ab","c") and ("a","bc") differ). Two seeds make a 128-bit key.
pub fn texts_hash(exprs: Vec<Expr>, seed: u64) -> Expr {
    let (first, rest) = exprs.split_first().expect("at least one column");
    first.clone().map_many(
        move |cols: &mut [Column]| {
            let cas: Vec<&StringChunked> =
                cols.iter().map(|c| c.str()).collect::<PolarsResult<_>>()?;
            let mut buf = Vec::with_capacity(64);
            let out: UInt64Chunked = (0..cas[0].len())
                .map(|i| {
                    buf.clear();
                    for ca in &cas {
                        let v = ca.get(i).unwrap_or("");
                        buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
                        buf.extend_from_slice(v.as_bytes());
                    }
                    Some(xxhash_rust::xxh3::xxh3_64_with_seed(&buf, seed))
                })
                .collect();
            Ok(out.with_name(cols[0].name().clone()).into_column())
        },
        rest,
        |_, f| Ok(Field::new(f[0].name().clone(), DataType::UInt64)),
    )
}

/// A seeded 64-bit hash of a string column. Two seeds make a 128-bit key for
/// grouping and joining long text (consignee keys) on integers.
pub fn text_hash(expr: Expr, seed: u64) -> Expr {
    expr.map(
        move |c: Column| {
            let ca = c.str()?;
            let out: UInt64Chunked = ca
                .iter()
                .map(|v| {
                    Some(xxhash_rust::xxh3::xxh3_64_with_seed(
                        v.unwrap_or("").as_bytes(),
                        seed,
                    ))
                })
                .collect();
            Ok(out.with_name(ca.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::UInt64)),
    )
}

/// Fixed-point Int128 as exact decimal text (`864.00`).
pub fn money_text(expr: Expr) -> Expr {
    expr.map(
        |c: Column| {
            let ca = c.i128()?;
            let mut buf = String::new();
            let mut out = StringChunkedBuilder::new(ca.name().clone(), ca.len());
            for v in ca.iter() {
                match v {
                    Some(v) => {
                        buf.clear();
                        money::write_to(&mut buf, v);
                        out.append_value(&buf);
                    }
                    None => out.append_null(),
                }
            }
            Ok(out.finish().into_column())
        },
        string_out(""),
    )
}

/// A packed rule set (`u32`) as `;`-separated codes in contract order.
pub fn rule_codes(expr: Expr) -> Expr {
    expr.map(
        |c: Column| {
            let ca = c.u32()?;
            let out: StringChunked = ca
                .iter()
                .map(|v| v.map(|v| super::rules::RuleSet(v).joined()))
                .collect();
            Ok(out.with_name(ca.name().clone()).into_column())
        },
        string_out(""),
    )
}

/// A polars literal of a fixed-point amount.
pub fn lit_money(units: i128) -> Expr {
    // Small literals are inferred as i64; money columns are Int128.
    lit(units).cast(DataType::Int128)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(df: DataFrame, e: Expr) -> Column {
        df.lazy()
            .select([e.alias("out")])
            .collect()
            .unwrap()
            .column("out")
            .unwrap()
            .clone()
    }

    #[test]
    fn usd_conversion_is_exact_and_nulls_what_adds_nothing() {
        let df = df! {
            "v" => ["740.75", "800", "-1", "5", "abc", "10"],
            "c" => ["EUR", "USD", "USD", "XYZ", "USD", "JPY"],
        }
        .unwrap();
        let rates: BTreeMap<String, money::Rate> = [
            ("EUR".to_owned(), money::parse_rate("1.08").unwrap()),
            ("JPY".to_owned(), money::parse_rate("0.0067").unwrap()),
        ]
        .into();
        let out = eval(
            df,
            money_text(to_usd(decimal(col("v"), true), col("c"), Arc::new(rates))),
        );
        let got: Vec<Option<&str>> = out.str().unwrap().iter().collect();
        assert_eq!(
            got,
            [
                Some("800.01"),
                Some("800.00"),
                None,
                None,
                None,
                Some("0.067")
            ]
        );
    }

    #[test]
    fn dates_parse_with_the_job_format_only() {
        let df = df! { "d" => ["11/02/2026", "2026-11-02", " 01/31/2025 ", "02/30/2025"] }.unwrap();
        let out = eval(df, date(col("d"), Arc::from("%m/%d/%Y")));
        let got: Vec<Option<i32>> = out
            .as_materialized_series()
            .to_physical_repr()
            .i32()
            .unwrap()
            .iter()
            .collect();
        let day = |y, m, d| Some(epoch_days(NaiveDate::from_ymd_opt(y, m, d).unwrap()));
        assert_eq!(got, [day(2026, 11, 2), None, day(2025, 1, 31), None]);
    }

    #[test]
    fn signatures_compare_values_as_numbers() {
        let df = df! {
            "h" => ["6109100012", "6109100012", "6109100012"],
            "raw" => ["$1,234.50", "1234.5", "1234.51"],
            "c" => ["USD", "USD", "USD"],
            "d" => ["t shirt", "t shirt", "t shirt"],
        }
        .unwrap();
        let out = eval(
            df,
            line_signature(
                col("h"),
                decimal(col("raw"), true),
                col("raw"),
                col("c"),
                col("d"),
            ),
        );
        let got: Vec<u64> = out.u64().unwrap().into_no_null_iter().collect();
        assert_eq!(got[0], got[1]);
        assert_ne!(got[0], got[2]);
    }
}
