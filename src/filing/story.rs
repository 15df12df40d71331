//! `s321d ledger show ENTRY`: one filed entry's story as plain text: its
//! number, type and importer of record; its dates (arrival, which is the
//! entry date of the estimates; estimated liquidation; protest deadline);
//! its house bills; each line with HTS, origin, value, rate, chapter 99
//! amounts and duty; the totals; and every filing event (intent, sent, ACE's
//! answers, release notifications) in order.

use std::fmt::Write as _;

use crate::state::ledger::{EntryRecord, Filing, FilingEvent};

/// `value`, or `unknown` when empty.
fn or_unknown(value: &str) -> &str {
    if value.is_empty() { "unknown" } else { value }
}

/// Renders an entry's story.
pub fn render(
    filing: &Filing,
    bills: &[(String, String)],
    record: Option<&EntryRecord>,
    events: &[FilingEvent],
) -> String {
    render_with_summary(filing, bills, record, None, events)
}

/// [`render`], with the entry summary's part before the events.
pub fn render_with_summary(
    filing: &Filing,
    bills: &[(String, String)],
    record: Option<&EntryRecord>,
    summary: Option<&crate::state::summary::Summary>,
    events: &[FilingEvent],
) -> String {
    let mut t = String::new();
    let answer = match (&filing.code, &filing.narrative) {
        (Some(c), Some(n)) if !n.is_empty() => format!(" ({c} {n})"),
        (Some(c), _) => format!(" ({c})"),
        _ => String::new(),
    };
    let _ = writeln!(
        t,
        "Entry {} (type {}): {}{answer}",
        filing.entry_number,
        filing.entry_type,
        filing.state.as_str()
    );
    let _ = writeln!(
        t,
        "  filed by job {} from run {}{} over {}{}, recorded {}",
        filing.job,
        filing.run_id,
        record
            .filter(|r| !r.entry_ref.is_empty())
            .map(|r| format!(" (entry {})", r.entry_ref))
            .unwrap_or_default(),
        filing.transport,
        filing
            .batch
            .as_ref()
            .map(|b| format!(" in batch {b}"))
            .unwrap_or_default(),
        filing
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    match record {
        Some(r) => {
            let _ = writeln!(
                t,
                "  importer of record: {}",
                if r.ior_number.is_empty() {
                    "none"
                } else {
                    &r.ior_number
                }
            );
            let dates = match (r.liquidation_date, r.protest_deadline) {
                (Some(l), Some(p)) => format!(
                    "; estimated liquidation {l} (entry date + 314 days); protest deadline {p} (liquidation + 180 days)"
                ),
                _ => "; no liquidation (a type 86 has no entry summary)".to_owned(),
            };
            let _ = writeln!(t, "  arrival (entry) date {}{dates}", r.arrival_date);
            let _ = writeln!(
                t,
                "  port {}, conveyance {}{}",
                r.port_of_entry,
                r.conveyance,
                if r.basis.is_empty() {
                    String::new()
                } else {
                    format!(", basis 19 CFR {}", r.basis)
                }
            );
            let _ = writeln!(t, "  consignee {}", r.consignee_key);
        }
        None => {
            let _ = writeln!(
                t,
                "  (filed before the ledger kept entries: no lines, estimates or dates)"
            );
        }
    }
    let list: Vec<String> = bills.iter().map(|(c, h)| format!("{c} {h}")).collect();
    let _ = writeln!(t, "  house bills ({}): {}", bills.len(), list.join(", "));
    if let Some(r) = record {
        let _ = writeln!(t, "  lines:");
        let header = [
            "line",
            "house bill",
            "HTS",
            "origin",
            "value USD",
            "rate",
            "chapter 99",
            "duty USD",
        ];
        let mut rows: Vec<[String; 8]> = vec![header.map(str::to_owned)];
        for l in &r.lines {
            let rate = match (l.rate.as_str(), l.rate_column.as_str()) {
                ("", _) => "-".to_owned(),
                (rate, "") => rate.to_owned(),
                (rate, column) => format!("{rate} ({column})"),
            };
            let ch99: Vec<String> = l.ch99.iter().map(|(h, a)| format!("{h} {a}")).collect();
            let duty = if l.duty_usd.is_empty() {
                format!(
                    "unknown{}",
                    l.duty_status.strip_prefix("unknown").unwrap_or("")
                )
            } else {
                l.duty_usd.clone()
            };
            rows.push([
                l.line.to_string(),
                l.house_bill.clone(),
                l.hts_code.clone(),
                l.country_of_origin.clone(),
                l.entered_value_usd.clone(),
                rate,
                if ch99.is_empty() {
                    "-".into()
                } else {
                    ch99.join(", ")
                },
                duty,
            ]);
        }
        let widths: Vec<usize> = (0..8)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(t, "    {}", cells.join("  ").trim_end());
        }
        let _ = writeln!(
            t,
            "  totals: entered value {} USD; duty {}; MPF {}; HMF {}; total {} ({}{})",
            r.entered_value_usd,
            or_unknown(&r.duty_usd),
            or_unknown(&r.mpf_usd),
            or_unknown(&r.hmf_usd),
            or_unknown(&r.total_usd),
            r.duty_status,
            if r.rates_as_of.is_empty() {
                String::new()
            } else {
                format!("; rates as of {}", r.rates_as_of)
            }
        );
    }
    t.push_str(&render_summary(summary));
    let _ = writeln!(t, "  events:");
    for e in events {
        let step = match e.from {
            Some(from) => format!("{} -> {}", from.as_str(), e.to.as_str()),
            None => e.to.as_str().to_owned(),
        };
        let _ = writeln!(
            t,
            "    {}  {step}: {}",
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            e.message
        );
    }
    t
}

/// The entry summary part of an entry's story: its state apart from the
/// release's, ACE's answer, what it carried, and when.
pub fn render_summary(summary: Option<&crate::state::summary::Summary>) -> String {
    let Some(s) = summary else {
        return String::new();
    };
    let mut t = String::new();
    let answer = match (&s.code, &s.narrative) {
        (Some(c), Some(n)) if !c.is_empty() || !n.is_empty() => {
            format!(" ({} {})", c, n).replace("( ", "(")
        }
        _ => String::new(),
    };
    let state = match s.state {
        crate::state::summary::SummaryState::NotFiled => {
            s.message.clone().unwrap_or_else(|| "not filed".into())
        }
        other => format!("{}{answer}", other.as_str()),
    };
    let _ = writeln!(t, "  entry summary (AE): {state}");
    if !s.payload.is_empty() {
        let _ = writeln!(
            t,
            "    duty {} USD, fees {} USD; {}over {}{}; recorded {}, last change {}",
            s.duty_usd,
            s.fees_usd,
            if s.certified {
                "certified for cargo release, "
            } else {
                ""
            },
            s.transport,
            s.batch
                .as_ref()
                .map(|b| format!(" in batch {b}"))
                .unwrap_or_default(),
            s.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            s.updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    if let Some(m) = s
        .message
        .as_ref()
        .filter(|_| s.state != crate::state::summary::SummaryState::NotFiled)
    {
        let _ = writeln!(t, "    {m}");
    }
    t
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::state::ledger::{FilingState, LedgerLine};

    #[test]
    fn the_story_has_dates_bills_lines_totals_and_events() {
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
        let filing = Filing {
            id: 1,
            carrier: "DHLX".into(),
            house_bill: "H1".into(),
            entry_number: "S32-0001000-5".into(),
            entry_type: "11".into(),
            job: "intake".into(),
            run_id: "run-1".into(),
            transport: "http".into(),
            batch: None,
            state: FilingState::Released,
            code: Some("98".into()),
            narrative: Some("RELEASED".into()),
            payload: String::new(),
            created_at: at,
            updated_at: at,
        };
        let record = EntryRecord {
            entry_ref: "R000001".into(),
            ior_number: "12-345678900".into(),
            arrival_date: NaiveDate::from_ymd_opt(2025, 5, 1).unwrap(),
            port_of_entry: "4701".into(),
            conveyance: "157-12345675".into(),
            consignee_key: "maria garcia|221 baker st|11201".into(),
            basis: "141.51".into(),
            entered_value_usd: "350.00".into(),
            duty_usd: String::new(),
            mpf_usd: "2.62".into(),
            hmf_usd: "0.00".into(),
            total_usd: String::new(),
            duty_status: "unknown".into(),
            rates_as_of: "hts.csv".into(),
            liquidation_date: NaiveDate::from_ymd_opt(2026, 3, 11),
            protest_deadline: NaiveDate::from_ymd_opt(2026, 9, 7),
            lines: vec![
                LedgerLine {
                    line: 1,
                    house_bill: "H1".into(),
                    hts_code: "8518302000".into(),
                    country_of_origin: "CN".into(),
                    entered_value_usd: "250.00".into(),
                    rate_column: "general".into(),
                    rate: "Free".into(),
                    ch99: vec![
                        ("9903.88.03".into(), "62.50".into()),
                        ("9903.01.25".into(), "25.00".into()),
                    ],
                    duty_usd: "87.50".into(),
                    duty_status: "known".into(),
                    ..LedgerLine::default()
                },
                LedgerLine {
                    line: 2,
                    house_bill: "H2".into(),
                    hts_code: "9999999999".into(),
                    country_of_origin: "CN".into(),
                    entered_value_usd: "100.00".into(),
                    duty_status: "unknown: not in the revision".into(),
                    ..LedgerLine::default()
                },
            ],
        };
        let events = vec![
            FilingEvent {
                at,
                from: None,
                to: FilingState::Pending,
                message: "entry number S32-0001000-5 allocated for DHLX H1, DHLX H2".into(),
            },
            FilingEvent {
                at,
                from: Some(FilingState::Pending),
                to: FilingState::Submitted,
                message: "POST /v1/entries answered".into(),
            },
            FilingEvent {
                at,
                from: Some(FilingState::Accepted),
                to: FilingState::Released,
                message: "gateway notification 3: SO60 98 RELEASED".into(),
            },
        ];
        let bills = [
            ("DHLX".to_owned(), "H1".to_owned()),
            ("DHLX".to_owned(), "H2".to_owned()),
        ];
        let text = render(&filing, &bills, Some(&record), &events);
        for want in [
            "Entry S32-0001000-5 (type 11): released (98 RELEASED)",
            "from run run-1 (entry R000001) over http",
            "importer of record: 12-345678900",
            "arrival (entry) date 2025-05-01; estimated liquidation 2026-03-11 (entry date + 314 days); protest deadline 2026-09-07",
            "house bills (2): DHLX H1, DHLX H2",
            "9903.88.03 62.50, 9903.01.25 25.00",
            "Free (general)",
            "unknown: not in the revision",
            "totals: entered value 350.00 USD; duty unknown; MPF 2.62; HMF 0.00; total unknown (unknown; rates as of hts.csv)",
            "pending: entry number S32-0001000-5 allocated",
            "pending -> submitted: POST /v1/entries answered",
            "accepted -> released: gateway notification 3: SO60 98 RELEASED",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        // Lines are a table: the HTS column starts at the same place on each row.
        let col = |hts: &str| text.lines().find_map(|l| l.find(hts)).unwrap();
        assert_eq!(col("8518302000"), col("9999999999"), "{text}");
        assert_eq!(
            col("8518302000"),
            text.lines().find_map(|l| l.find("HTS ")).unwrap()
        );
        let old = render(&filing, &bills[..1], None, &events[..1]);
        assert!(
            old.contains("filed before the ledger kept entries"),
            "{old}"
        );
    }
}
