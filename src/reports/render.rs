//! The dashboard as an email: HTML (inline CSS, tables, charts as `cid:`
//! images) and the same figures as plain text.

use super::charts::{self, DISPOSITION_COLORS};
use super::dashboard::{DISPOSITIONS, Dashboard};
use super::email::{Email, InlineImage};
use super::html::{self, Align, Table, bold, colored, esc, int, pct, usd};
use crate::engine::rules::{Rule, Severity};

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
    text.push_str(&format!("s321d compliance report for {day} ({})\n", d.timezone));
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
        ("Held for fixes", format!("{} ({})", int(t.held), pct(t.held, t.shipments)), Some(if t.held > 0 { html::RED } else { html::GREEN })),
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
    let rejected: u64 = d.filings.iter().filter(|f| f.0 == "rejected").map(|f| f.3).sum();
    let mut attention = Vec::new();
    if t.held > 0 {
        attention.push(format!("{} shipment(s) held: their data must be fixed before they can be filed (see findings by rule).", int(t.held)));
    }
    if rejected > 0 {
        attention.push(format!("{} filing(s) rejected by ACE (see filing outcomes).", int(rejected)));
    }
    if d.files_quarantined > 0 {
        attention.push(format!("{} file(s) could not be read and were quarantined.", d.files_quarantined));
    }
    if !d.incomplete_runs.is_empty() {
        attention.push(format!("{} run(s) did not publish outputs (failed or still running): {}.", d.incomplete_runs.len(), d.incomplete_runs.join(", ")));
    }
    if d.limit_groups_total > 0 {
        attention.push(format!("{} consignee-day(s) over the de minimis limit (L002).", int(d.limit_groups_total)));
    }
    body.push_str(&html::h2("Needs attention"));
    text.push_str("NEEDS ATTENTION\n");
    if attention.is_empty() {
        body.push_str(&html::para("Nothing: no holds, rejections, quarantined files or failed runs."));
        text.push_str("Nothing: no holds, rejections, quarantined files or failed runs.\n");
    } else {
        body.push_str(&format!("<ul style=\"{};font-size:13px;color:{};margin:4px 0 8px 18px;padding:0\">\n", html::FONT, html::INK));
        for a in &attention {
            body.push_str(&format!("<li style=\"margin:2px 0\">{}</li>\n", esc(a)));
            text.push_str(&format!("- {a}\n"));
        }
        body.push_str("</ul>\n");
    }
    text.push('\n');

    // Dispositions.
    let mut disp = Table::new(&["Disposition", "Meaning", "Shipments", "Share"], &[Align::Left, Align::Left, Align::Right, Align::Right]);
    let meaning = |k: &str| match k {
        "86" => "Section 321 (type 86)",
        "11" => "informal entry (type 11)",
        "01" => "formal entry (type 01)",
        "hold" => "held: data must be fixed",
        "duplicate" => "already filed",
        _ => "",
    };
    for k in DISPOSITIONS {
        let n = t.dispositions.get(k).copied().unwrap_or(0);
        disp.row(vec![bold(k), meaning(k).into(), int(n).into(), pct(n, t.shipments).into()]);
    }
    body.push_str(&html::h2("Dispositions by entry type"));
    body.push_str(&disp.html());
    text.push_str("DISPOSITIONS BY ENTRY TYPE\n");
    text.push_str(&disp.text());
    text.push('\n');

    let mut images = Vec::new();
    // Trend chart.
    let labels: Vec<String> = d.trend.iter().map(|t| t.day.format("%m-%d").to_string()).collect();
    let series: Vec<(&str, &str, Vec<f64>)> = DISPOSITIONS
        .iter()
        .zip(DISPOSITION_COLORS)
        .map(|(k, c)| (*k, c, d.trend.iter().map(|t| t.total.dispositions.get(*k).copied().unwrap_or(0) as f64).collect()))
        .collect();
    let png = charts::stacked_bars(&format!("Shipments by disposition, last {} days", d.trend.len()), &labels, &series, (640, 260))?;
    images.push(InlineImage { cid: format!("trend.{id}"), file_name: "trend.png".into(), png });
    body.push_str(&html::h2(&format!("{}-day trend", d.trend.len())));
    body.push_str(&html::image(&format!("trend.{id}"), "Shipments by disposition per day", 640, 260));
    let mut trend = Table::new(
        &["Day", "Runs", "Shipments", "Value", "Held", "Errors", "Warnings", "Quality"],
        &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right],
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
        body.push_str(&html::note(&format!("{quiet} of the {} days had no runs.", d.trend.len())));
    }
    text.push_str(&format!("{}-DAY TREND\n", d.trend.len()));
    text.push_str(&trend.text());
    text.push('\n');

    // Carriers and quality.
    let mut carriers = Table::new(
        &["Carrier", "Shipments", "Lines", "Value", "Held", "Errors", "Warnings", "Quality"],
        &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right],
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
        let png = charts::bars("Data-quality score by carrier (0-100)", &quality_items, Some(100.0), (640, 220))?;
        images.push(InlineImage { cid: format!("quality.{id}"), file_name: "quality.png".into(), png });
        body.push_str(&html::image(&format!("quality.{id}"), "Data-quality score by carrier", 640, 220));
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
            row.push(int(d.carriers[*n].findings.get(rule.code()).copied().unwrap_or(0)).into());
        }
        row.push(bold(int(total)));
        findings.row(row);
        chart_items.push((rule.code().to_owned(), total as f64, severity_color(rule.severity())));
    }
    body.push_str(&html::h2("Findings by rule, severity and carrier"));
    text.push_str("FINDINGS BY RULE, SEVERITY AND CARRIER\n");
    if findings.is_empty() {
        body.push_str(&html::para("No findings."));
        text.push_str("No findings.\n");
    } else {
        chart_items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        chart_items.truncate(12);
        let png = charts::bars("Findings by rule (red error, amber warning, blue info)", &chart_items, None, (640, 240))?;
        images.push(InlineImage { cid: format!("findings.{id}"), file_name: "findings.png".into(), png });
        body.push_str(&html::image(&format!("findings.{id}"), "Findings by rule", 640, 240));
        body.push_str(&findings.html());
        text.push_str(&findings.text());
    }
    text.push('\n');

    // Filing outcomes.
    if !d.filings.is_empty() {
        let mut f = Table::new(&["Outcome", "Code", "Narrative", "Entries", "What to do"], &[Align::Left, Align::Left, Align::Left, Align::Right, Align::Left]);
        for (state, code, narrative, n) in &d.filings {
            let color = match state.as_str() {
                "rejected" | "detained" => html::RED,
                "held" | "pending" | "submitted" => html::AMBER,
                _ => html::GREEN,
            };
            let todo = if matches!(state.as_str(), "rejected" | "held" | "detained") { super::remedies::for_ace(state, code.as_deref()) } else { "" };
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
        let mut g = Table::new(&["Consignee", "Arrival", "House bills", "Total USD", "Carriers"], &[Align::Left, Align::Left, Align::Right, Align::Right, Align::Left]);
        for l in &d.limit_groups {
            g.row(vec![l.consignee.clone().into(), l.arrival_date.clone().into(), int(l.house_bills).into(), usd(l.value).into(), l.carriers.join(", ").into()]);
        }
        body.push_str(&g.html());
        text.push_str(&g.text());
    }
    text.push('\n');
    body.push_str(&html::h2("Repeat consignees"));
    text.push_str("REPEAT CONSIGNEES\n");
    let repeat_note = format!("{} consignee(s) received more than one shipment in the day's runs.", int(d.repeat_consignees_total));
    body.push_str(&html::para(&repeat_note));
    text.push_str(&repeat_note);
    text.push('\n');
    if !d.repeat_consignees.is_empty() {
        let mut r = Table::new(&["Consignee", "Shipments", "Arrival days", "Total USD", "Carriers"], &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Left]);
        for c in &d.repeat_consignees {
            r.row(vec![c.consignee.clone().into(), int(c.shipments).into(), c.arrival_days.to_string().into(), usd(c.value).into(), c.carriers.join(", ").into()]);
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
        if d.policy_versions.is_empty() { "-".to_owned() } else { d.policy_versions.iter().map(|p| p[..12.min(p.len())].to_owned()).collect::<Vec<_>>().join(", ") },
        env!("CARGO_PKG_VERSION"),
        d.audit_head.0,
        d.audit_head.1,
        d.generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    body.push_str(&format!("<hr style=\"border:0;border-top:1px solid {};margin:18px 0 8px 0\">\n", html::LINE));
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
