//! The dashboard as an email: HTML (inline CSS, tables, charts as `cid:`
//! images) and the same figures as plain text.

use super::charts::{self, DISPOSITION_COLORS, DUTY_COLORS};
use super::dashboard::{DISPOSITIONS, Dashboard, ENTRY_TYPES};
use super::email::{Email, InlineImage};
use super::html::{self, Align, Table, bold, colored, esc, int, pct, usd};
use crate::engine::rules::{Disposition, Rule, Severity};
use crate::money;

fn quality_text(q: Option<f64>) -> String {
    q.map_or_else(|| "-".into(), |q| format!("{q:.1}"))
}

fn quality_color(q: Option<f64>) -> &'static str {
    match q {
        Some(q) if q >= 95.0 => html::GREEN,
        Some(q) if q >= 80.0 => html::AMBER,
        Some(_) => html::RED,
        None => html::MUTED,
    }
}

fn carrier_name(c: &str) -> &str {
    if c.is_empty() { "(no carrier)" } else { c }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Error => "#c0392b",
        Severity::Warning => "#d69e2e",
        Severity::Info => "#2b6cb0",
    }
}

/// What a disposition means, for the dispositions table.
fn meaning(d: Disposition) -> &'static str {
    match d {
        Disposition::Section321 => "Section 321 (type 86)",
        Disposition::Informal11 => "informal entry (type 11)",
        Disposition::Formal01 => "formal entry (type 01)",
        Disposition::Adcvd03 => "AD/CVD entry (type 03)",
        Disposition::Hold => "held: data must be fixed",
        Disposition::Duplicate => "already filed",
    }
}

/// Dollars as a chart value (charts are the only place money is a float).
fn chart_usd(units: i128) -> f64 {
    units as f64 / money::ONE as f64
}

const NO_ENTRIES: &str = "No entries: no shipment of the day's runs went to an informal (11), formal (01) or AD/CVD (03) entry. Runs from before entries were built (contract v2) have none.";

const ESTIMATE_NOTE: &str = "Estimates from the policy's HTS rates, chapter 99 layers and fee table (contract section 9), for checking line by line in each run's entry_lines.csv; an entry whose duty or fee is unknown adds nothing to these figures. MPF saved: what one entry per house bill would have cost in MPF, minus what the grouped entries cost (19 CFR 141.51).";

/// The entries section: by type, duty and fees per carrier and per day, the
/// top chapter 99 headings, MPF saved, and the lines of unknown duty.
fn entries_section(
    d: &Dashboard,
    id: &str,
    body: &mut String,
    text: &mut String,
    images: &mut Vec<InlineImage>,
) -> anyhow::Result<()> {
    let e = &d.total.entries;
    body.push_str(&html::h2("Entries, duty and fees (estimates)"));
    text.push_str("ENTRIES, DUTY AND FEES (ESTIMATES)\n");
    let trend_has = d.trend.iter().any(|t| t.total.entries.count() > 0);
    if e.count() == 0 && !trend_has {
        body.push_str(&html::para(NO_ENTRIES));
        text.push_str(NO_ENTRIES);
        text.push_str("\n\n");
        return Ok(());
    }
    let by_type: Vec<String> = ENTRY_TYPES
        .iter()
        .map(|k| format!("type {}: {}", k.as_str(), int(e.of_type(k.as_str()))))
        .collect();
    let partial = if e.unknown > 0 {
        format!(
            " ({} entr(ies) with an unknown duty or fee not included)",
            int(e.unknown)
        )
    } else {
        String::new()
    };
    body.push_str(&html::tiles(&[
        ("Entries", int(e.count()), None),
        (
            "Estimated duty",
            usd(e.duty_units()),
            (e.unknown > 0).then_some(html::AMBER),
        ),
        ("MPF + HMF", usd(e.mpf_units() + e.hmf_units()), None),
        ("MPF saved by grouping", usd(d.mpf_saved), Some(html::GREEN)),
    ]));
    text.push_str(&format!(
        "Entries: {} ({})\nEstimated duty: {}{partial}\nMPF: {}\nHMF: {}\nDuty and fees: {}\nMPF saved by grouping: {}\n",
        int(e.count()),
        by_type.join(", "),
        usd(e.duty_units()),
        usd(e.mpf_units()),
        usd(e.hmf_units()),
        usd(e.total_units()),
        usd(d.mpf_saved)
    ));
    let mut notes = Vec::new();
    if e.unknown > 0 {
        notes.push(format!(
            "{} of the {} entries have an unknown duty or fee.",
            int(e.unknown),
            int(e.count())
        ));
    }
    if e.without_ior > 0 {
        notes.push(format!(
            "{} entr(ies) have no IOR number and cannot be filed (V010).",
            int(e.without_ior)
        ));
    }
    if e.count() == 0 {
        notes.push("No entries today; the days before are below.".to_owned());
    }
    for n in &notes {
        body.push_str(&html::para(n));
        text.push_str(n);
        text.push('\n');
    }
    text.push('\n');

    if e.count() > 0 {
        // By type.
        let mut types = Table::new(
            &["Type", "Meaning", "Entries", "Share"],
            &[Align::Left, Align::Left, Align::Right, Align::Right],
        );
        for k in ENTRY_TYPES {
            let n = e.of_type(k.as_str());
            types.row(vec![
                bold(k.as_str()),
                meaning(k).into(),
                int(n).into(),
                pct(n, e.count()).into(),
            ]);
        }
        body.push_str(&html::h3("Entries by type"));
        body.push_str(&types.html());
        text.push_str("Entries by type\n");
        text.push_str(&types.text());
        text.push('\n');

        // Per carrier.
        let mut carriers = Table::new(
            &[
                "Carrier", "03", "01", "11", "Duty", "MPF", "HMF", "Total", "Unknown",
            ],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
        );
        for (name, c) in d.carriers.iter().filter(|(_, c)| c.entries.count() > 0) {
            let ce = &c.entries;
            carriers.row(vec![
                bold(carrier_name(name)),
                int(ce.of_type("03")).into(),
                int(ce.of_type("01")).into(),
                int(ce.of_type("11")).into(),
                usd(ce.duty_units()).into(),
                usd(ce.mpf_units()).into(),
                usd(ce.hmf_units()).into(),
                bold(usd(ce.total_units())),
                if ce.unknown > 0 {
                    colored(int(ce.unknown), html::AMBER)
                } else {
                    "0".into()
                },
            ]);
        }
        body.push_str(&html::h3("Estimated duty and fees per carrier"));
        body.push_str(&carriers.html());
        text.push_str("Estimated duty and fees per carrier\n");
        text.push_str(&carriers.text());
        text.push('\n');
    }

    // Per day.
    let days: Vec<&super::dashboard::TrendDay> = d
        .trend
        .iter()
        .filter(|t| t.total.entries.count() > 0)
        .collect();
    if !days.is_empty() {
        let labels: Vec<String> = d
            .trend
            .iter()
            .map(|t| t.day.format("%m-%d").to_string())
            .collect();
        let series: Vec<(&str, &str, Vec<f64>)> = vec![
            (
                "Duty",
                DUTY_COLORS[0],
                d.trend
                    .iter()
                    .map(|t| chart_usd(t.total.entries.duty_units()))
                    .collect(),
            ),
            (
                "MPF",
                DUTY_COLORS[1],
                d.trend
                    .iter()
                    .map(|t| chart_usd(t.total.entries.mpf_units()))
                    .collect(),
            ),
            (
                "HMF",
                DUTY_COLORS[2],
                d.trend
                    .iter()
                    .map(|t| chart_usd(t.total.entries.hmf_units()))
                    .collect(),
            ),
        ];
        let png = charts::stacked_bars(
            &format!(
                "Estimated duty and fees (USD) per day, last {} days",
                d.trend.len()
            ),
            &labels,
            &series,
            (640, 240),
        )?;
        images.push(InlineImage {
            cid: format!("duty.{id}"),
            file_name: "duty.png".into(),
            png,
        });
        let mut per_day = Table::new(
            &[
                "Day",
                "Entries",
                "Duty",
                "MPF",
                "HMF",
                "Total",
                "MPF saved",
                "Unknown lines",
            ],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
        );
        for t in days.iter().rev() {
            let te = &t.total.entries;
            per_day.row(vec![
                t.day.format("%a %m-%d").to_string().into(),
                int(te.count()).into(),
                usd(te.duty_units()).into(),
                usd(te.mpf_units()).into(),
                usd(te.hmf_units()).into(),
                bold(usd(te.total_units())),
                usd(t.mpf_saved).into(),
                int(te.unknown_lines).into(),
            ]);
        }
        body.push_str(&html::h3("Estimated duty and fees per day"));
        body.push_str(&html::image(
            &format!("duty.{id}"),
            "Estimated duty and fees per day",
            640,
            240,
        ));
        body.push_str(&per_day.html());
        text.push_str("Estimated duty and fees per day\n");
        text.push_str(&per_day.text());
        text.push('\n');
    }

    if e.count() > 0 {
        // Chapter 99.
        body.push_str(&html::h3("Top chapter 99 headings"));
        text.push_str("Top chapter 99 headings\n");
        if d.ch99.is_empty() {
            body.push_str(&html::para("No chapter 99 amounts on the day's entries."));
            text.push_str("No chapter 99 amounts on the day's entries.\n");
        } else {
            let mut ch = Table::new(
                &["Heading", "Program", "Lines", "Amount"],
                &[Align::Left, Align::Left, Align::Right, Align::Right],
            );
            for r in &d.ch99 {
                ch.row(vec![
                    bold(r.heading.clone()),
                    r.program.clone().into(),
                    int(r.lines).into(),
                    usd(r.usd).into(),
                ]);
            }
            body.push_str(&ch.html());
            text.push_str(&ch.text());
            if d.ch99_headings > d.ch99.len() as u64 {
                let more = format!(
                    "The {} largest of {} headings.",
                    d.ch99.len(),
                    int(d.ch99_headings)
                );
                body.push_str(&html::note(&more));
                text.push_str(&more);
                text.push('\n');
            }
        }
        text.push('\n');

        // Unknown duty.
        body.push_str(&html::h3("Lines whose duty is unknown"));
        text.push_str("Lines whose duty is unknown\n");
        let n = e.unknown_lines;
        let head = if n == 0 {
            "None: every line on the day's entries has a duty estimate.".to_owned()
        } else if n > d.unknown_lines.len() as u64 {
            format!(
                "{} line(s) whose duty is unknown (T001); the first {}:",
                int(n),
                d.unknown_lines.len()
            )
        } else {
            format!("{} line(s) whose duty is unknown (T001):", int(n))
        };
        body.push_str(&html::para(&head));
        text.push_str(&head);
        text.push('\n');
        if !d.unknown_lines.is_empty() {
            let mut u = Table::new(
                &[
                    "File",
                    "Record",
                    "House bill",
                    "Line",
                    "HTS",
                    "Origin",
                    "Reason",
                ],
                &[
                    Align::Left,
                    Align::Right,
                    Align::Left,
                    Align::Right,
                    Align::Left,
                    Align::Left,
                    Align::Left,
                ],
            );
            for l in &d.unknown_lines {
                u.row(vec![
                    l.source_file.clone().into(),
                    l.record.map_or_else(String::new, |r| r.to_string()).into(),
                    l.house_bill.clone().into(),
                    l.line_no.clone().into(),
                    l.hts_code.clone().into(),
                    l.country_of_origin.clone().into(),
                    l.reason.clone().into(),
                ]);
            }
            body.push_str(&u.html());
            // In text a reason does not fit a table column: one line each.
            for l in &d.unknown_lines {
                text.push_str(&format!(
                    "- {} record {}: {} line {}, HTS {}, origin {}: {}\n",
                    l.source_file,
                    l.record.map_or_else(|| "-".to_owned(), |r| r.to_string()),
                    l.house_bill,
                    l.line_no,
                    l.hts_code,
                    l.country_of_origin,
                    l.reason
                ));
            }
        }
        text.push('\n');
    }
    body.push_str(&html::note(ESTIMATE_NOTE));
    text.push_str(ESTIMATE_NOTE);
    text.push_str("\n\n");
    Ok(())
}

/// Renders the dashboard; `id` becomes the message id and outbox name.
pub fn dashboard_email(d: &Dashboard, groups: &[String], id: &str) -> anyhow::Result<Email> {
    let day = d.day.format("%A %-d %B %Y").to_string();
    let t = &d.total;
    let mut body = String::new();
    let mut text = String::new();

    // Header.
    body.push_str(&format!(
        "<h1 style=\"{};font-size:20px;margin:0 0 2px 0;color:{}\">Compliance report for {}</h1>\n",
        html::FONT,
        html::INK,
        esc(&day)
    ));
    body.push_str(&html::note(&format!(
        "{} ({}); jobs: {}; {} run(s), {} file(s) processed, {} quarantined.",
        d.report,
        d.timezone,
        d.jobs.join(", "),
        d.runs.len(),
        d.files_processed,
        d.files_quarantined
    )));
    text.push_str(&format!(
        "s321d compliance report for {day} ({})\n",
        d.timezone
    ));
    text.push_str(&format!(
        "Report {}; jobs: {}; {} run(s), {} file(s) processed, {} quarantined.\n\n",
        d.report,
        d.jobs.join(", "),
        d.runs.len(),
        d.files_processed,
        d.files_quarantined
    ));

    // Headline figures.
    body.push_str(&html::tiles(&[
        ("Shipments", int(t.shipments), None),
        ("Lines", int(t.lines), None),
        ("Declared value", usd(t.value_units()), None),
        (
            "Held for fixes",
            format!("{} ({})", int(t.held), pct(t.held, t.shipments)),
            Some(if t.held > 0 { html::RED } else { html::GREEN }),
        ),
    ]));
    text.push_str(&format!(
        "Shipments: {}\nLines: {}\nDeclared value: {}\nHeld for fixes: {} ({})\n\n",
        int(t.shipments),
        int(t.lines),
        usd(t.value_units()),
        int(t.held),
        pct(t.held, t.shipments)
    ));

    // What needs a person.
    let rejected: u64 = d
        .filings
        .iter()
        .filter(|f| f.0 == "rejected")
        .map(|f| f.3)
        .sum();
    let mut attention = Vec::new();
    if t.held > 0 {
        attention.push(format!("{} shipment(s) held: their data must be fixed before they can be filed (see findings by rule).", int(t.held)));
    }
    if rejected > 0 {
        attention.push(format!(
            "{} filing(s) rejected by ACE (see filing outcomes).",
            int(rejected)
        ));
    }
    if d.files_quarantined > 0 {
        attention.push(format!(
            "{} file(s) could not be read and were quarantined.",
            d.files_quarantined
        ));
    }
    if !d.incomplete_runs.is_empty() {
        attention.push(format!(
            "{} run(s) did not publish outputs (failed or still running): {}.",
            d.incomplete_runs.len(),
            d.incomplete_runs.join(", ")
        ));
    }
    if d.limit_groups_total > 0 {
        attention.push(format!(
            "{} consignee-day(s) over the de minimis limit (L002).",
            int(d.limit_groups_total)
        ));
    }
    if t.entries.without_ior > 0 {
        attention.push(format!(
            "{} entr(ies) have no importer of record number and cannot be filed until the manifest gives one (V010).",
            int(t.entries.without_ior)
        ));
    }
    if t.entries.unknown_lines > 0 {
        attention.push(format!(
            "{} line(s) on entries have no duty estimate (T001), so {} entr(ies) have an unknown duty or fee (see the lines whose duty is unknown).",
            int(t.entries.unknown_lines),
            int(t.entries.unknown)
        ));
    }
    body.push_str(&html::h2("Needs attention"));
    text.push_str("NEEDS ATTENTION\n");
    if attention.is_empty() {
        body.push_str(&html::para(
            "Nothing: no holds, rejections, quarantined files or failed runs.",
        ));
        text.push_str("Nothing: no holds, rejections, quarantined files or failed runs.\n");
    } else {
        body.push_str(&format!(
            "<ul style=\"{};font-size:13px;color:{};margin:4px 0 8px 18px;padding:0\">\n",
            html::FONT,
            html::INK
        ));
        for a in &attention {
            body.push_str(&format!("<li style=\"margin:2px 0\">{}</li>\n", esc(a)));
            text.push_str(&format!("- {a}\n"));
        }
        body.push_str("</ul>\n");
    }
    text.push('\n');

    // Dispositions.
    let mut disp = Table::new(
        &["Disposition", "Meaning", "Shipments", "Share"],
        &[Align::Left, Align::Left, Align::Right, Align::Right],
    );
    for k in DISPOSITIONS {
        let n = t.dispositions.get(k.as_str()).copied().unwrap_or(0);
        disp.row(vec![
            bold(k.as_str()),
            meaning(k).into(),
            int(n).into(),
            pct(n, t.shipments).into(),
        ]);
    }
    body.push_str(&html::h2("Dispositions by entry type"));
    body.push_str(&disp.html());
    text.push_str("DISPOSITIONS BY ENTRY TYPE\n");
    text.push_str(&disp.text());
    text.push('\n');

    let mut images = Vec::new();
    entries_section(d, id, &mut body, &mut text, &mut images)?;

    // Trend chart.
    let labels: Vec<String> = d
        .trend
        .iter()
        .map(|t| t.day.format("%m-%d").to_string())
        .collect();
    let series: Vec<(&str, &str, Vec<f64>)> = DISPOSITIONS
        .iter()
        .zip(DISPOSITION_COLORS)
        .map(|(k, c)| {
            (
                k.as_str(),
                c,
                d.trend
                    .iter()
                    .map(|t| t.total.dispositions.get(k.as_str()).copied().unwrap_or(0) as f64)
                    .collect(),
            )
        })
        .collect();
    let png = charts::stacked_bars(
        &format!("Shipments by disposition, last {} days", d.trend.len()),
        &labels,
        &series,
        (640, 260),
    )?;
    images.push(InlineImage {
        cid: format!("trend.{id}"),
        file_name: "trend.png".into(),
        png,
    });
    body.push_str(&html::h2(&format!("{}-day trend", d.trend.len())));
    body.push_str(&html::image(
        &format!("trend.{id}"),
        "Shipments by disposition per day",
        640,
        260,
    ));
    let mut trend = Table::new(
        &[
            "Day",
            "Runs",
            "Shipments",
            "Value",
            "Held",
            "Errors",
            "Warnings",
            "Quality",
        ],
        &[
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
        ],
    );
    // Days without runs are in the chart; the table lists the days with runs.
    for day in d.trend.iter().rev().filter(|t| t.runs > 0) {
        let a = &day.total;
        trend.row(vec![
            day.day.format("%a %m-%d").to_string().into(),
            day.runs.to_string().into(),
            int(a.shipments).into(),
            usd(a.value_units()).into(),
            int(a.held).into(),
            int(a.by_severity(Severity::Error)).into(),
            int(a.by_severity(Severity::Warning)).into(),
            colored(quality_text(a.quality()), quality_color(a.quality())),
        ]);
    }
    body.push_str(&trend.html());
    let quiet = d.trend.iter().filter(|t| t.runs == 0).count();
    if quiet > 0 {
        body.push_str(&html::note(&format!(
            "{quiet} of the {} days had no runs.",
            d.trend.len()
        )));
    }
    text.push_str(&format!("{}-DAY TREND\n", d.trend.len()));
    text.push_str(&trend.text());
    text.push('\n');

    // Carriers and quality.
    let mut carriers = Table::new(
        &[
            "Carrier",
            "Shipments",
            "Lines",
            "Value",
            "Held",
            "Errors",
            "Warnings",
            "Quality",
        ],
        &[
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
        ],
    );
    let mut quality_items = Vec::new();
    for (name, c) in &d.carriers {
        if c.shipments == 0 && c.findings.is_empty() {
            continue;
        }
        carriers.row(vec![
            bold(carrier_name(name)),
            int(c.shipments).into(),
            int(c.lines).into(),
            usd(c.value_units()).into(),
            int(c.held).into(),
            int(c.by_severity(Severity::Error)).into(),
            int(c.by_severity(Severity::Warning)).into(),
            colored(quality_text(c.quality()), quality_color(c.quality())),
        ]);
        if let Some(q) = c.quality() {
            let color = match quality_color(Some(q)) {
                html::GREEN => "#2f855a",
                html::AMBER => "#d69e2e",
                _ => "#c0392b",
            };
            quality_items.push((carrier_name(name).to_owned(), q, color));
        }
    }
    body.push_str(&html::h2("Carriers and data quality"));
    body.push_str(&carriers.html());
    if !quality_items.is_empty() {
        let png = charts::bars(
            "Data-quality score by carrier (0-100)",
            &quality_items,
            Some(100.0),
            (640, 220),
        )?;
        images.push(InlineImage {
            cid: format!("quality.{id}"),
            file_name: "quality.png".into(),
            png,
        });
        body.push_str(&html::image(
            &format!("quality.{id}"),
            "Data-quality score by carrier",
            640,
            220,
        ));
    }
    const QUALITY_NOTE: &str = "Quality = 100 x (shipments - held - half of the shipments that moved with a data warning: V007 vague description, V009 bad ZIP, D001 duplicated line) / shipments. 95 and above is good; below 80 needs a word with the carrier.";
    body.push_str(&html::note(QUALITY_NOTE));
    text.push_str("CARRIERS AND DATA QUALITY\n");
    text.push_str(&carriers.text());
    text.push_str(QUALITY_NOTE);
    text.push_str("\n\n");

    // Findings by rule, severity and carrier.
    let names: Vec<&String> = d.carriers.keys().collect();
    let mut headers = vec!["Rule".to_owned(), "Name".to_owned(), "Severity".to_owned()];
    headers.extend(names.iter().map(|n| carrier_name(n).to_owned()));
    headers.push("Total".into());
    let mut aligns = vec![Align::Left, Align::Left, Align::Left];
    aligns.extend(std::iter::repeat_n(Align::Right, names.len() + 1));
    let mut findings = Table::with_headers(headers, aligns);
    let mut chart_items = Vec::new();
    for rule in Rule::ALL {
        let total = t.findings.get(rule.code()).copied().unwrap_or(0);
        if total == 0 {
            continue;
        }
        let mut row = vec![
            colored(rule.code(), severity_color(rule.severity())),
            rule.name().into(),
            rule.severity().as_str().into(),
        ];
        for n in &names {
            row.push(
                int(d.carriers[*n]
                    .findings
                    .get(rule.code())
                    .copied()
                    .unwrap_or(0))
                .into(),
            );
        }
        row.push(bold(int(total)));
        findings.row(row);
        chart_items.push((
            rule.code().to_owned(),
            total as f64,
            severity_color(rule.severity()),
        ));
    }
    body.push_str(&html::h2("Findings by rule, severity and carrier"));
    text.push_str("FINDINGS BY RULE, SEVERITY AND CARRIER\n");
    if findings.is_empty() {
        body.push_str(&html::para("No findings."));
        text.push_str("No findings.\n");
    } else {
        chart_items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        chart_items.truncate(12);
        let png = charts::bars(
            "Findings by rule (red error, amber warning, blue info)",
            &chart_items,
            None,
            (640, 240),
        )?;
        images.push(InlineImage {
            cid: format!("findings.{id}"),
            file_name: "findings.png".into(),
            png,
        });
        body.push_str(&html::image(
            &format!("findings.{id}"),
            "Findings by rule",
            640,
            240,
        ));
        body.push_str(&findings.html());
        text.push_str(&findings.text());
    }
    text.push('\n');

    // Filing outcomes.
    if !d.filings.is_empty() {
        let mut f = Table::new(
            &["Outcome", "Code", "Narrative", "Entries", "What to do"],
            &[
                Align::Left,
                Align::Left,
                Align::Left,
                Align::Right,
                Align::Left,
            ],
        );
        for (state, code, narrative, n) in &d.filings {
            let color = match state.as_str() {
                "rejected" | "detained" => html::RED,
                "held" | "pending" | "submitted" => html::AMBER,
                _ => html::GREEN,
            };
            let todo = if matches!(state.as_str(), "rejected" | "held" | "detained") {
                super::remedies::for_ace(state, code.as_deref())
            } else {
                ""
            };
            f.row(vec![
                colored(state.clone(), color),
                code.clone().unwrap_or_default().into(),
                narrative.clone().unwrap_or_default().into(),
                int(*n).into(),
                todo.into(),
            ]);
        }
        body.push_str(&html::h2("Filing outcomes (ACE)"));
        body.push_str(&f.html());
        text.push_str("FILING OUTCOMES (ACE)\n");
        text.push_str(&f.text());
        text.push('\n');
    }

    // Daily limit and repeat consignees.
    body.push_str(&html::h2("Daily-limit groups (one person, one day)"));
    text.push_str("DAILY-LIMIT GROUPS (ONE PERSON, ONE DAY)\n");
    let limit_note = format!(
        "{} consignee-day(s) over the de minimis threshold (L002); {} consignee-day(s) with more than one house bill (L001).",
        int(d.limit_groups_total),
        int(d.multi_bill_days_total)
    );
    body.push_str(&html::para(&limit_note));
    text.push_str(&limit_note);
    text.push('\n');
    if !d.limit_groups.is_empty() {
        let mut g = Table::new(
            &[
                "Consignee",
                "Arrival",
                "House bills",
                "Total USD",
                "Carriers",
            ],
            &[
                Align::Left,
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Left,
            ],
        );
        for l in &d.limit_groups {
            g.row(vec![
                l.consignee.clone().into(),
                l.arrival_date.clone().into(),
                int(l.house_bills).into(),
                usd(l.value).into(),
                l.carriers.join(", ").into(),
            ]);
        }
        body.push_str(&g.html());
        text.push_str(&g.text());
    }
    text.push('\n');
    body.push_str(&html::h2("Repeat consignees"));
    text.push_str("REPEAT CONSIGNEES\n");
    let repeat_note = format!(
        "{} consignee(s) received more than one shipment in the day's runs.",
        int(d.repeat_consignees_total)
    );
    body.push_str(&html::para(&repeat_note));
    text.push_str(&repeat_note);
    text.push('\n');
    if !d.repeat_consignees.is_empty() {
        let mut r = Table::new(
            &[
                "Consignee",
                "Shipments",
                "Arrival days",
                "Total USD",
                "Carriers",
            ],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Left,
            ],
        );
        for c in &d.repeat_consignees {
            r.row(vec![
                c.consignee.clone().into(),
                int(c.shipments).into(),
                c.arrival_days.to_string().into(),
                usd(c.value).into(),
                c.carriers.join(", ").into(),
            ]);
        }
        body.push_str(&r.html());
        text.push_str(&r.text());
    }
    text.push('\n');

    // Footer.
    let privacy = if d.masked {
        "Consignee names, addresses and ZIPs are masked (C- references are stable across reports); the run outputs keep the full data."
    } else {
        "Masking is off (reports.mask_personal_data = false): this email carries consignee keys."
    };
    let footer = format!(
        "{privacy} Policy version(s): {}. s321d {}. Audit trail head: event {} hash {}. Generated {}.",
        if d.policy_versions.is_empty() {
            "-".to_owned()
        } else {
            d.policy_versions
                .iter()
                .map(|p| p[..12.min(p.len())].to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        },
        env!("CARGO_PKG_VERSION"),
        d.audit_head.0,
        d.audit_head.1,
        d.generated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    body.push_str(&format!(
        "<hr style=\"border:0;border-top:1px solid {};margin:18px 0 8px 0\">\n",
        html::LINE
    ));
    body.push_str(&html::note(&footer));
    text.push_str("--\n");
    text.push_str(&footer);
    text.push('\n');

    let subject = format!(
        "[s321d] {}: {} shipments, {} held, {} rejected - {}",
        d.day.format("%Y-%m-%d"),
        int(t.shipments),
        int(t.held),
        int(rejected),
        d.report
    );
    Ok(Email {
        kind: "dashboard".into(),
        id: id.to_owned(),
        subject,
        html: html::document(&format!("Compliance report {}", d.day), &body),
        text,
        images,
        attachments: Vec::new(),
        groups: groups.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;

    use super::*;
    use crate::reports::dashboard::{
        CarrierAgg, Ch99Agg, Ch99Row, EntryAgg, TrendDay, UnknownLine,
    };

    fn units(v: &str) -> i128 {
        if v.is_empty() {
            0
        } else {
            money::parse_decimal(v).unwrap()
        }
    }

    fn dashboard(carriers: BTreeMap<String, CarrierAgg>, mpf_saved: &str) -> Dashboard {
        let mut total = CarrierAgg::default();
        for c in carriers.values() {
            total.add(c);
        }
        let day = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let trend = vec![
            TrendDay {
                day: day.pred_opt().unwrap(),
                runs: 0,
                total: CarrierAgg::default(),
                mpf_saved: 0,
            },
            TrendDay {
                day,
                runs: 1,
                total: total.clone(),
                mpf_saved: units(mpf_saved),
            },
        ];
        Dashboard {
            report: "daily".into(),
            day,
            timezone: "UTC".into(),
            generated_at: chrono::Utc::now(),
            jobs: vec!["dhlx".into()],
            runs: vec!["r1".into()],
            incomplete_runs: Vec::new(),
            files_processed: 1,
            files_quarantined: 0,
            total,
            carriers,
            filings: Vec::new(),
            limit_groups: Vec::new(),
            limit_groups_total: 0,
            multi_bill_days_total: 0,
            repeat_consignees: Vec::new(),
            repeat_consignees_total: 0,
            trend,
            mpf_saved: units(mpf_saved),
            ch99: Vec::new(),
            ch99_headings: 0,
            unknown_lines: Vec::new(),
            policy_versions: Vec::new(),
            audit_head: (0, String::new()),
            masked: true,
        }
    }

    #[test]
    fn a_day_of_runs_from_before_v2_renders_with_no_entries() {
        let c = CarrierAgg {
            shipments: 3,
            lines: 3,
            value: "60.00".into(),
            dispositions: [("86".to_owned(), 3)].into(),
            ..CarrierAgg::default()
        };
        let e = dashboard_email(
            &dashboard([("DHLX".to_owned(), c)].into(), ""),
            &["compliance".into()],
            "x",
        )
        .unwrap();
        assert!(
            e.text
                .contains("ENTRIES, DUTY AND FEES (ESTIMATES)\nNo entries: "),
            "{}",
            e.text
        );
        assert!(e.html.contains("No entries: "));
        assert!(
            !e.images.iter().any(|i| i.file_name == "duty.png"),
            "no duty chart without entries"
        );
        // Every disposition is listed, 03 included, in the engine's order.
        let rows: Vec<&str> = e
            .text
            .lines()
            .skip_while(|l| !l.starts_with("DISPOSITIONS BY ENTRY TYPE"))
            .skip(3)
            .take(6)
            .collect();
        let codes: Vec<&str> = rows
            .iter()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(codes, ["hold", "duplicate", "03", "01", "86", "11"]);
        assert!(rows[2].contains("AD/CVD entry (type 03)"));
    }

    #[test]
    fn entries_by_type_duty_fees_headings_and_unknown_lines_are_shown() {
        let dhlx = EntryAgg {
            by_type: [("11".to_owned(), 2), ("03".to_owned(), 1)].into(),
            duty: "38.50".into(),
            mpf: "38.96".into(),
            hmf: "0.00".into(),
            unknown: 1,
            without_ior: 1,
            lines: 4,
            unknown_lines: 2,
            ch99: [(
                "9903.88.03".to_owned(),
                Ch99Agg {
                    usd: "50.00".into(),
                    lines: 2,
                },
            )]
            .into(),
        };
        let c = CarrierAgg {
            shipments: 4,
            lines: 4,
            value: "700.00".into(),
            dispositions: [("11".to_owned(), 3), ("03".to_owned(), 1)].into(),
            entries: dhlx,
            ..CarrierAgg::default()
        };
        let mut d = dashboard([("DHLX".to_owned(), c)].into(), "2.69");
        d.ch99 = vec![Ch99Row {
            heading: "9903.88.03".into(),
            program: "301".into(),
            lines: 2,
            usd: units("50.00"),
        }];
        d.ch99_headings = 1;
        d.unknown_lines = vec![UnknownLine {
            source_file: "b.csv".into(),
            record: Some(5),
            carrier: "DHLX".into(),
            house_bill: "H4".into(),
            line_no: "1".into(),
            hts_code: "6110202079".into(),
            country_of_origin: "VN".into(),
            reason: "the rate needs weight_kg, which is empty".into(),
        }];
        let e = dashboard_email(&d, &["compliance".into()], "x").unwrap();
        let t = &e.text;
        assert!(
            t.contains("Entries: 3 (type 03: 1, type 01: 0, type 11: 2)\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "Estimated duty: $38.50 (1 entr(ies) with an unknown duty or fee not included)\n"
            ),
            "{t}"
        );
        assert!(
            t.contains(
                "MPF: $38.96\nHMF: $0.00\nDuty and fees: $77.46\nMPF saved by grouping: $2.69\n"
            ),
            "{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("DHLX") && l.contains("$38.50") && l.contains("$77.46")),
            "per carrier: {t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("Thu 01-15") && l.contains("$77.46") && l.contains("$2.69")),
            "per day: {t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("9903.88.03") && l.contains("301") && l.ends_with("$50.00")),
            "{t}"
        );
        assert!(
            t.contains("2 line(s) whose duty is unknown (T001); the first 1:"),
            "{t}"
        );
        assert!(t.lines().any(|l| l.contains("H4") && l.contains("the rate needs weight_kg, which is empty")), "{t}");
        assert!(
            t.contains("cannot be filed until the manifest gives one (V010)"),
            "needs attention: {t}"
        );
        assert!(
            e.html.contains("cid:duty.x")
                && e.images
                    .iter()
                    .any(|i| i.cid == "duty.x" && i.png.starts_with(b"\x89PNG"))
        );
    }
}
