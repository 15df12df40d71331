//! Line-level rules (V001-V009, E001-E003, R001, R002) on one chunk, as polars
//! expressions over the normalised columns.
//!
//! [`evaluate`] returns the chunk's findings and its compact *line facts*: the
//! few columns the file, shipment and run stages need (keys, hashes, USD value,
//! date, consignee key, error set). The wide text columns are dropped here, so a
//! run of millions of lines never holds more than one chunk of them.

use std::sync::Arc;

use polars::prelude::*;

use super::duty_lines;
use super::kernels::{self, lit_money};
use super::rules::Rule;
use super::{FINDING_COLUMNS, finding_frame};
use crate::columns as c;
use crate::job::Format;
use crate::money;
use crate::normalize;
use crate::policy::Policy;

/// What the line stage needs besides the chunk; built once per run.
pub struct LineContext {
    policy: Arc<Policy>,
    fx: Arc<std::collections::BTreeMap<String, crate::money::Rate>>,
    regime_starts: Arc<[i32]>,
    countries: Series,
    ports: Series,
    vague: Series,
    converted: Series,
    hts_reference: Option<Series>,
}

impl LineContext {
    pub fn new(policy: Arc<Policy>) -> LineContext {
        let list = |name: &str, values: Vec<String>| Series::new(name.into(), values);
        let mut converted: Vec<String> = policy.fx_rates.keys().cloned().collect();
        converted.push("USD".into());
        LineContext {
            fx: Arc::new(policy.fx_rates.clone()),
            regime_starts: policy
                .regimes
                .iter()
                .map(|r| crate::dates::epoch_days(r.from))
                .collect(),
            countries: list("countries", policy.valid_countries()),
            ports: list("ports", policy.ports.iter().cloned().collect()),
            vague: list("vague", policy.vague_terms.iter().cloned().collect()),
            converted: list("converted", converted),
            hts_reference: policy
                .hts_reference
                .as_ref()
                .map(|r| list("hts", r.codes.iter().cloned().collect())),
            policy,
        }
    }
}

fn in_set(e: Expr, set: &Series) -> Expr {
    e.is_in(lit(set.clone()).implode(false), false)
}

fn trimmed(name: &str) -> Expr {
    col(name).str().strip_chars(lit(NULL))
}

fn quoted(e: Expr) -> Expr {
    concat_str([lit("'"), e, lit("'")], "", false)
}

fn text(parts: Vec<Expr>) -> Expr {
    concat_str(parts, "", false)
}

/// Longest prefix of `hts` found in `prefixes`, else null.
fn prefix_match(hts: Expr, prefixes: &[String]) -> Expr {
    let mut lengths: Vec<usize> = prefixes.iter().map(String::len).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut out = lit(NULL).cast(DataType::String);
    // Shortest first, so the longest match is the outermost `when`.
    for len in lengths {
        let set = Series::new(
            "p".into(),
            prefixes
                .iter()
                .filter(|p| p.len() == len)
                .cloned()
                .collect::<Vec<_>>(),
        );
        let head = hts.clone().str().slice(lit(0), lit(len as u64));
        out = when(in_set(head.clone(), &set)).then(head).otherwise(out);
    }
    out
}

/// The file of the HTS revision in force on each line's date, for messages.
fn revision_file(duty: &crate::duty::DutyPolicy) -> Expr {
    let mut out = lit("");
    // Oldest first, so the newest revision that has started is the outermost `when`.
    for (from, file, _) in &duty.revisions {
        let day = crate::dates::epoch_days(*from);
        out = when(col(c::DATE).cast(DataType::Int32).gt_eq(lit(day)))
            .then(lit(file.clone()))
            .otherwise(out);
    }
    out
}

/// One line rule: when it fires, which field, and what it says.
struct LineRule {
    rule: Rule,
    field: Expr,
    fires: Expr,
    message: Expr,
}

impl LineRule {
    fn new(rule: Rule, field: &str, fires: Expr, message: Expr) -> LineRule {
        LineRule {
            rule,
            field: lit(field.to_owned()),
            fires,
            message,
        }
    }
}

/// A Unicode control character (Cc: C0, DEL, C1), as a regex.
const CONTROL_CHARACTER: &str = r"[\x00-\x1F\x7F-\x{9F}]";

/// The column that says whether identifier `field` holds a control character.
fn control_flag(field: &str) -> String {
    format!("_control_{field}")
}

/// Normalised and typed columns every rule reads.
fn enrich(chunk: DataFrame, ctx: &LineContext, format: &Format) -> PolarsResult<DataFrame> {
    let p = &ctx.policy;
    let parsed = kernels::date(col(c::ARRIVAL_DATE), Arc::from(format.date_format.as_str()));
    // A typed arrival date (Parquet) is the date itself; text is parsed with the job's format.
    let typed = chunk
        .column(c::TYPED_DATE)
        .is_ok_and(|d| d.null_count() < d.len());
    let date = if typed {
        coalesce(&[col(c::TYPED_DATE), parsed])
    } else {
        parsed
    };
    let enriched = chunk
        .lazy()
        // V011 looks at the raw identifiers; everything after it, outputs
        // included, sees them with control characters escaped.
        .with_columns(
            c::IDENTIFIERS
                .iter()
                .map(|f| {
                    trimmed(f)
                        .str()
                        .contains(lit(CONTROL_CHARACTER), true)
                        .alias(control_flag(f))
                })
                .collect::<Vec<_>>(),
        )
        .with_columns(
            c::IDENTIFIERS
                .iter()
                .map(|f| kernels::map_text(col(*f), normalize::escape_controls_into).alias(*f))
                .collect::<Vec<_>>(),
        )
        .with_columns([
            trimmed(c::CARRIER).alias(c::K_CARRIER),
            trimmed(c::HOUSE_BILL).alias(c::K_HOUSE_BILL),
            trimmed(c::LINE_NO).alias(c::K_LINE),
            kernels::line_key(col(c::LINE_NO)).alias(c::N_LINE),
            kernels::hts(col(c::HTS_CODE)).alias(c::N_HTS),
            kernels::upper_trim(col(c::COUNTRY_OF_ORIGIN)).alias(c::N_ORIGIN),
            kernels::upper_trim(col(c::SHIPPER_COUNTRY)).alias(c::N_SHIPPER_COUNTRY),
            kernels::currency(col(c::CURRENCY)).alias(c::N_CURRENCY),
            trimmed(c::PORT_OF_ENTRY).alias(c::N_PORT),
            kernels::norm(col(c::DESCRIPTION)).alias(c::N_DESCRIPTION),
            kernels::decimal(col(c::DECLARED_VALUE), true).alias(c::N_VALUE),
            kernels::decimal(col(c::WEIGHT_KG), false).alias(duty_lines::WEIGHT),
            kernels::decimal(col(c::QUANTITY), false).alias(duty_lines::QUANTITY),
            kernels::upper_trim(col(c::SPECIAL_PROGRAM)).alias(duty_lines::SPECIAL),
            // The conveyance that groups entries (contract section 8): the
            // flight/voyage when given, else the master bill.
            when(trimmed(c::CONVEYANCE).neq(lit("")))
                .then(trimmed(c::CONVEYANCE))
                .otherwise(trimmed(c::MASTER_BILL))
                .alias(c::N_CONVEYANCE),
            trimmed(c::IOR_NUMBER).alias(c::N_IOR),
            kernels::transport_mode(col(c::TRANSPORT_MODE)).alias(c::N_MODE),
            kernels::decimal(col(c::CHECKOUT_DUTY_USD), true).alias(c::N_CHECKOUT),
            date.alias(c::DATE),
            concat_str(
                [
                    kernels::norm(col(c::CONSIGNEE_NAME)),
                    kernels::norm(col(c::CONSIGNEE_ADDRESS)),
                    kernels::zip5(col(c::CONSIGNEE_ZIP)),
                ],
                "|",
                false,
            )
            .alias(c::CONSIGNEE_KEY),
        ])
        .with_columns([
            kernels::to_usd(col(c::N_VALUE), col(c::N_CURRENCY), ctx.fx.clone()).alias(c::USD),
            kernels::regime_index(col(c::DATE), ctx.regime_starts.clone()).alias(c::REGIME),
            kernels::line_signature(
                col(c::N_HTS),
                col(c::N_VALUE),
                col(c::DECLARED_VALUE),
                col(c::N_CURRENCY),
                col(c::N_DESCRIPTION),
            )
            .alias(c::LINE_SIGNATURE),
            prefix_match(col(c::N_HTS), &p.pga_prefixes).alias(c::PGA_MATCH),
            prefix_match(col(c::N_HTS), &p.restricted_prefixes).alias(c::RESTRICTED_MATCH),
            prefix_match(col(c::N_HTS), &p.adcvd_prefixes).alias(c::ADCVD_MATCH),
        ])
        .collect()?;
    let mut enriched = enriched;
    duty_lines::add(&mut enriched, &p.duty)?;
    Ok(enriched)
}

/// The line rules, in contract order.
fn rules(ctx: &LineContext, format: &Format) -> Vec<LineRule> {
    let p = &ctx.policy;
    let mut out = Vec::new();

    for field in c::REQUIRED {
        out.push(LineRule::new(
            Rule::V001,
            field,
            trimmed(field).eq(lit("")),
            lit(format!("{field} is empty")),
        ));
    }

    let ten_digits = col(c::N_HTS).str().contains(lit("^[0-9]{10}$"), true);
    let not_ten = || {
        text(vec![
            lit("hts_code "),
            quoted(col(c::HTS_CODE)),
            lit(" is not 10 digits after removing '.', ' ' and '-' (got "),
            quoted(col(c::N_HTS)),
            lit(")"),
        ])
    };
    // With [[duty.hts]], the revision in force on the arrival date decides
    // (contract v2 section 5); on a date no revision covers, hts_reference
    // (if any) or the 10-digit shape alone.
    let reference_miss = match &ctx.hts_reference {
        Some(reference) => in_set(col(c::N_HTS), reference).not(),
        None => lit(false),
    };
    let revision_miss = col(duty_lines::IN_REVISION).eq(lit(false));
    let reference_applies = col(duty_lines::IN_REVISION).is_null();
    let v002 = ten_digits
        .clone()
        .not()
        .or(revision_miss.clone())
        .or(reference_applies.and(reference_miss));
    let v002_msg = when(ten_digits.clone().not())
        .then(not_ten())
        .when(revision_miss)
        .then(text(vec![
            lit("hts_code "),
            quoted(col(c::HTS_CODE)),
            lit(" is not in the HTS revision in force on "),
            kernels::date_text(col(c::DATE)),
            lit(" ("),
            revision_file(&p.duty),
            lit(")"),
        ]))
        .otherwise(text(vec![
            lit("hts_code "),
            quoted(col(c::HTS_CODE)),
            lit(" is not in the HTS reference list"),
        ]));
    out.push(LineRule::new(Rule::V002, c::HTS_CODE, v002, v002_msg));

    for (field, normal) in [
        (c::COUNTRY_OF_ORIGIN, c::N_ORIGIN),
        (c::SHIPPER_COUNTRY, c::N_SHIPPER_COUNTRY),
    ] {
        out.push(LineRule::new(
            Rule::V003,
            field,
            in_set(col(normal), &ctx.countries).not(),
            text(vec![
                lit(format!("{field} ")),
                quoted(col(field)),
                lit(" is not an assigned ISO 3166-1 alpha-2 code"),
            ]),
        ));
    }

    out.push(LineRule::new(
        Rule::V004,
        c::DECLARED_VALUE,
        col(c::N_VALUE)
            .is_null()
            .or(col(c::N_VALUE).lt_eq(lit_money(0))),
        when(
            col(c::N_VALUE)
                .is_null()
                .and(kernels::declared_too_large(col(c::DECLARED_VALUE))),
        )
        .then(text(vec![
            lit("declared_value "),
            quoted(col(c::DECLARED_VALUE)),
            lit(" is too large to add up exactly (it must be below 1,000,000,000,000,000)"),
        ]))
        .when(col(c::N_VALUE).is_null())
        .then(text(vec![
            lit("declared_value "),
            quoted(col(c::DECLARED_VALUE)),
            lit(" is not a decimal number"),
        ]))
        .otherwise(text(vec![
            lit("declared_value "),
            quoted(col(c::DECLARED_VALUE)),
            lit(" is not above zero"),
        ])),
    ));

    let four_digits = col(c::N_PORT).str().contains(lit("^[0-9]{4}$"), true);
    out.push(LineRule::new(
        Rule::V005,
        c::PORT_OF_ENTRY,
        in_set(col(c::N_PORT), &ctx.ports).not(),
        when(four_digits)
            .then(text(vec![
                lit("port_of_entry "),
                quoted(col(c::PORT_OF_ENTRY)),
                lit(" is not a Schedule D port in lists.ports"),
            ]))
            .otherwise(text(vec![
                lit("port_of_entry "),
                quoted(col(c::PORT_OF_ENTRY)),
                lit(" is not a 4-digit port code"),
            ])),
    ));

    out.push(LineRule::new(
        Rule::V006,
        c::ARRIVAL_DATE,
        col(c::DATE).is_null(),
        text(vec![
            lit("arrival_date "),
            quoted(col(c::ARRIVAL_DATE)),
            lit(format!(
                " does not match the date format '{}'",
                format.date_format
            )),
        ]),
    ));

    let short = col(c::N_DESCRIPTION).str().len_chars().lt(lit(3u32));
    out.push(LineRule::new(
        Rule::V007,
        c::DESCRIPTION,
        in_set(col(c::N_DESCRIPTION), &ctx.vague).or(short.clone()),
        when(short)
            .then(text(vec![
                lit("description "),
                quoted(col(c::DESCRIPTION)),
                lit(" is shorter than 3 characters once normalised"),
            ]))
            .otherwise(text(vec![
                lit("description "),
                quoted(col(c::DESCRIPTION)),
                lit(" is too vague (in lists.vague_terms)"),
            ])),
    ));

    out.push(LineRule::new(
        Rule::V008,
        c::CURRENCY,
        in_set(col(c::N_CURRENCY), &ctx.converted).not(),
        text(vec![
            lit("currency "),
            quoted(col(c::CURRENCY)),
            lit(" has no rate in the policy's [fx] table"),
        ]),
    ));

    out.push(LineRule::new(
        Rule::V009,
        c::CONSIGNEE_ZIP,
        trimmed(c::CONSIGNEE_ZIP)
            .str()
            .contains(lit("^[0-9]{5}(-?[0-9]{4})?$"), true)
            .not(),
        text(vec![
            lit("consignee_zip "),
            quoted(col(c::CONSIGNEE_ZIP)),
            lit(" is not 5 or 9 digits"),
        ]),
    ));

    // E001: the regime on the arrival date has de minimis off, or suspends the origin.
    let date_text = kernels::date_text(col(c::DATE));
    let mut unavailable = lit(true); // a date before every regime: no de minimis regime
    let mut e001_msg = text(vec![
        lit("no de minimis regime is in force on "),
        date_text.clone(),
    ]);
    let mut e001_field = lit(c::ARRIVAL_DATE);
    for (i, r) in p.regimes.iter().enumerate() {
        let this = col(c::REGIME).eq(lit(i as i32));
        let basis = r
            .basis
            .as_deref()
            .map(|b| format!(" ({b})"))
            .unwrap_or_default();
        let suspended = Series::new(
            "s".into(),
            r.suspended_origins.iter().cloned().collect::<Vec<_>>(),
        );
        let origin_out = in_set(col(c::N_ORIGIN), &suspended);
        let (fires, msg, field) = if r.de_minimis {
            (
                origin_out,
                text(vec![
                    lit("de minimis is suspended for origin "),
                    col(c::N_ORIGIN),
                    lit(" on "),
                    date_text.clone(),
                    lit(basis),
                ]),
                lit(c::COUNTRY_OF_ORIGIN),
            )
        } else {
            (
                lit(true),
                text(vec![
                    lit("de minimis is not available on "),
                    date_text.clone(),
                    lit(basis),
                ]),
                lit(c::ARRIVAL_DATE),
            )
        };
        unavailable = when(this.clone()).then(fires).otherwise(unavailable);
        e001_msg = when(this.clone()).then(msg).otherwise(e001_msg);
        e001_field = when(this).then(field).otherwise(e001_field);
    }
    out.push(LineRule {
        rule: Rule::E001,
        field: e001_field,
        fires: col(c::DATE).is_not_null().and(unavailable),
        message: e001_msg,
    });

    let agency = {
        let mut e = lit("");
        for (prefix, name) in &p.pga_agency {
            e = when(col(c::PGA_MATCH).eq(lit(prefix.clone())))
                .then(lit(format!(" ({name})")))
                .otherwise(e);
        }
        e
    };
    out.push(LineRule::new(
        Rule::E002,
        c::HTS_CODE,
        col(c::PGA_MATCH).is_not_null(),
        text(vec![
            lit("hts_code "),
            col(c::N_HTS),
            lit(" starts with PGA prefix "),
            col(c::PGA_MATCH),
            agency,
            lit(": partner-agency data may be required"),
        ]),
    ));
    out.push(LineRule::new(
        Rule::E003,
        c::HTS_CODE,
        col(c::RESTRICTED_MATCH).is_not_null(),
        text(vec![
            lit("hts_code "),
            col(c::N_HTS),
            lit(" starts with restricted prefix "),
            col(c::RESTRICTED_MATCH),
            lit(": a formal entry is needed"),
        ]),
    ));

    out.push(LineRule::new(
        Rule::E004,
        c::HTS_CODE,
        col(c::ADCVD_MATCH).is_not_null(),
        text(vec![
            lit("hts_code "),
            col(c::N_HTS),
            lit(" starts with AD/CVD prefix "),
            col(c::ADCVD_MATCH),
            lit(": the goods may be subject to an antidumping or countervailing duty order and need a type 03 entry"),
        ]),
    ));

    // R001: USD value per kg below the chapter floor, i.e. usd < floor * weight.
    if !p.undervalued_usd_per_kg.is_empty() {
        let chapter = col(c::N_HTS).str().slice(lit(0), lit(2u64));
        let mut floor = lit(NULL).cast(DataType::Int128);
        for (ch, f) in &p.undervalued_usd_per_kg {
            floor = when(chapter.clone().eq(lit(ch.clone())))
                .then(lit_money(*f))
                .otherwise(floor);
        }
        // Bounds keep the Int128 products far from overflow; beyond them a line is not "undervalued".
        let sane = col(c::USD)
            .lt(lit_money(100_000_000_000 * money::ONE))
            .and(col(duty_lines::WEIGHT).lt(lit_money(1_000_000_000 * money::ONE)));
        let fires = col(duty_lines::WEIGHT)
            .gt(lit_money(0))
            .and(col(c::USD).is_not_null())
            .and(floor.clone().is_not_null())
            .and(sane)
            .and((col(c::USD) * lit_money(money::ONE)).lt(floor.clone() * col(duty_lines::WEIGHT)));
        out.push(LineRule::new(
            Rule::R001,
            c::DECLARED_VALUE,
            fires,
            text(vec![
                lit("USD value "),
                kernels::money_text(col(c::USD)),
                lit(" for weight_kg "),
                quoted(col(c::WEIGHT_KG)),
                lit(" is below the chapter "),
                chapter,
                lit(" floor of "),
                kernels::money_text(floor),
                lit(" USD per kg"),
            ]),
        ));
    }

    let origin_ok = in_set(col(c::N_ORIGIN), &ctx.countries);
    let shipper_ok = in_set(col(c::N_SHIPPER_COUNTRY), &ctx.countries);
    for field in c::IDENTIFIERS {
        out.push(LineRule::new(
            Rule::V011,
            field,
            col(control_flag(field)),
            text(vec![
                lit(format!("{field} ")),
                quoted(col(field)),
                lit(" holds a control character (written here as \\u{..})"),
            ]),
        ));
    }

    out.push(LineRule::new(
        Rule::R002,
        c::SHIPPER_COUNTRY,
        origin_ok
            .and(shipper_ok)
            .and(col(c::N_ORIGIN).neq(col(c::N_SHIPPER_COUNTRY))),
        text(vec![
            lit("shipper_country "),
            col(c::N_SHIPPER_COUNTRY),
            lit(" differs from country_of_origin "),
            col(c::N_ORIGIN),
        ]),
    ));
    out
}

/// Findings and line facts of one chunk.
pub struct LineOutput {
    pub findings: DataFrame,
    pub facts: DataFrame,
    /// Lines dated after `duty.reviewed_through` (T002 counts them per file).
    pub unreviewed: u64,
}

/// Runs every line rule on a chunk read with `format`, and estimates each
/// line's duty.
pub fn evaluate(chunk: DataFrame, ctx: &LineContext, format: &Format) -> PolarsResult<LineOutput> {
    let enriched = enrich(chunk, ctx, format)?;
    let rules = rules(ctx, format);

    let mut error_set = lit(0u32);
    let mut flags = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let name = format!("_fires_{i}");
        if r.rule.severity() == super::rules::Severity::Error {
            error_set = error_set.or(when(col(&name))
                .then(lit(r.rule.bit()))
                .otherwise(lit(0u32)));
        }
        flags.push(r.fires.clone().fill_null(lit(false)).alias(name));
    }
    let e001_cols: Vec<Expr> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.rule == Rule::E001)
        .map(|(i, _)| col(format!("_fires_{i}")))
        .collect();
    let e003_cols: Vec<Expr> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.rule == Rule::E003)
        .map(|(i, _)| col(format!("_fires_{i}")))
        .collect();
    let reviewed_through = ctx
        .policy
        .duty
        .reviewed_through
        .map(crate::dates::epoch_days);
    let flagged = enriched.lazy().with_columns(flags).with_columns([
        // Bitwise OR: V001 fires once per empty field but is one member of the set.
        error_set.cast(DataType::UInt32).alias(c::ERRORS),
        any_horizontal(e001_cols)?.alias(c::E001),
        any_horizontal(e003_cols)?.alias(c::E003),
        col(c::ADCVD_MATCH).is_not_null().alias(c::E004),
    ]);
    let flagged = flagged.collect()?;
    // T002 counts, per chunk, the lines that arrive after the rates were last reviewed.
    let unreviewed = match reviewed_through {
        Some(day) => {
            let days = flagged
                .column(c::DATE)?
                .as_materialized_series()
                .to_physical_repr()
                .into_owned();
            days.i32()?
                .iter()
                .filter(|d| d.is_some_and(|d| d > day))
                .count() as u64
        }
        None => 0,
    };

    let parts: Vec<LazyFrame> = rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            finding_frame(
                flagged.clone().lazy().filter(col(format!("_fires_{i}"))),
                r.rule,
                col(c::RECORD),
                col(c::K_LINE),
                r.field,
                r.message,
            )
        })
        .collect();
    let findings = concat(parts, UnionArgs::default())?.collect()?;
    debug_assert_eq!(findings.get_column_names().len(), FINDING_COLUMNS.len());

    let ship =
        |half| kernels::shipment_hash(col(c::K_CARRIER), col(c::K_HOUSE_BILL), col(c::FILE), half);
    let facts = flagged
        .lazy()
        .select([
            col(c::FILE),
            col(c::RECORD),
            ship(kernels::Half::High).alias(c::SHIP_HI),
            ship(kernels::Half::Low).alias(c::SHIP_LO),
            col(c::K_CARRIER),
            col(c::K_HOUSE_BILL),
            col(c::K_LINE),
            col(c::N_LINE),
            col(c::ROW_HASH_HI),
            col(c::ROW_HASH_LO),
            col(c::USD),
            col(c::DATE),
            col(c::CONSIGNEE_KEY),
            col(c::LINE_SIGNATURE),
            col(c::ERRORS),
            col(c::E001),
            col(c::E003),
            col(c::E004),
            col(c::N_HTS),
            col(c::N_ORIGIN),
            col(c::N_PORT),
            col(c::N_CONVEYANCE),
            col(c::N_IOR),
            col(c::N_MODE),
            col(c::N_CHECKOUT),
            col(duty_lines::RATE_COLUMN),
            col(duty_lines::RATE),
            col(duty_lines::HTS_DUTY),
            col(duty_lines::CH99),
            col(duty_lines::DUTY),
            col(duty_lines::T001),
        ])
        .collect()?;
    Ok(LineOutput {
        findings,
        facts,
        unreviewed,
    })
}
