//! `[email]` and `[reports]`: how mail leaves (SMTP relay, sender,
//! recipient groups, retries) and what the reports do (privacy masking,
//! exception thresholds, the carrier → group routing). Secrets are never
//! values here: `password_file` names the file that holds the password.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::problem::Problem;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (submission, port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No TLS at all: only for a relay on loopback (tests, a local MTA).
    None,
}

/// `[email]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// SMTP relay host; empty turns email off (reports can still be previewed).
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Login user; empty for a relay that needs none.
    pub username: String,
    /// File holding the password (a LoadCredential= path under systemd).
    pub password_file: String,
    /// PEM file of extra trust roots for the relay's certificate (a private
    /// CA or a self-signed relay); empty: the system's roots only.
    pub tls_ca_file: String,
    /// The From: mailbox, e.g. `s321d <s321d@broker.example>`.
    pub from: String,
    /// Seconds an SMTP conversation may take.
    pub timeout_secs: u64,
    /// First retry delay after a failed delivery; doubles each attempt.
    pub retry_initial_secs: u64,
    /// Longest delay between two attempts (a queued message is never dropped).
    pub retry_max_secs: u64,
    /// Recipient groups: name = list of addresses.
    pub groups: BTreeMap<String, Vec<String>>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            host: String::new(),
            port: 587,
            security: Security::Starttls,
            username: String::new(),
            password_file: String::new(),
            tls_ca_file: String::new(),
            from: "s321d <s321d@localhost>".into(),
            timeout_secs: 30,
            retry_initial_secs: 30,
            retry_max_secs: 3600,
            groups: BTreeMap::new(),
        }
    }
}

impl EmailConfig {
    /// Whether mail can be sent at all.
    pub fn enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

/// `[reports.exceptions]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ExceptionsConfig {
    /// Send exception reports after runs.
    pub enabled: bool,
    /// A carrier's report goes out when the run has at least this many error
    /// findings for it ...
    pub min_errors: u64,
    /// ... or at least this many filing rejections (0 turns either test off).
    pub min_rejections: u64,
    /// Rows above which the attachments carry a summary and the first rows,
    /// and the email points to the full files in the run's output folder.
    pub max_attachment_rows: usize,
    /// The group for carriers not listed in `carrier_groups`.
    pub group: String,
    /// Carrier code = group responsible for it.
    pub carrier_groups: BTreeMap<String, String>,
}

impl Default for ExceptionsConfig {
    fn default() -> Self {
        ExceptionsConfig {
            enabled: true,
            min_errors: 1,
            min_rejections: 1,
            max_attachment_rows: 20_000,
            group: "compliance".into(),
            carrier_groups: BTreeMap::new(),
        }
    }
}

impl ExceptionsConfig {
    /// The group responsible for a carrier.
    pub fn group_for(&self, carrier: &str) -> &str {
        self.carrier_groups
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(carrier.trim()))
            .map_or(self.group.as_str(), |(_, g)| g.as_str())
    }
}

/// `[reports]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Mask consignee names, addresses and ZIPs in emails and their
    /// attachments (the output files keep the full data).
    pub mask_personal_data: bool,
    pub exceptions: ExceptionsConfig,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            mask_personal_data: true,
            exceptions: ExceptionsConfig::default(),
        }
    }
}

/// The longest email retry delay or timeout, in seconds: one day, the same
/// bound as the daemon's intervals (`config::MAX_INTERVAL_SECS`; not imported,
/// as config imports this module; a test keeps the two equal).
pub const MAX_EMAIL_INTERVAL_SECS: u64 = 86_400;

/// Checks `[email]` and `[reports]`, adding every problem with its key.
pub fn validate(
    email: &EmailConfig,
    reports: &ReportsConfig,
    file: &str,
    problems: &mut Vec<Problem>,
) {
    let mut report = |key: &str, message: String| {
        problems.push(Problem {
            file: file.to_owned(),
            key: key.into(),
            message,
        })
    };
    if email.from.parse::<lettre::message::Mailbox>().is_err() {
        report(
            "email.from",
            format!(
                "{:?} is not a mailbox (name <address> or address)",
                email.from
            ),
        );
    }
    if email.enabled() && email.port == 0 {
        report("email.port", "must not be 0".into());
    }
    if email.username.is_empty() != email.password_file.is_empty() {
        report(
            "email.password_file",
            "set both email.username and email.password_file, or neither".into(),
        );
    }
    if !email.tls_ca_file.is_empty() && !std::path::Path::new(&email.tls_ca_file).is_file() {
        report(
            "email.tls_ca_file",
            format!("{:?} is not a file", email.tls_ca_file),
        );
    }
    if email.retry_initial_secs == 0 {
        report("email.retry_initial_secs", "must be at least 1".into());
    }
    if email.retry_max_secs < email.retry_initial_secs {
        report(
            "email.retry_max_secs",
            "must not be below email.retry_initial_secs".into(),
        );
    }
    // Bounded like the daemon's intervals: a huge value would park the outbox
    // (or a send) for years, and overflow turns it into "no wait" at all.
    let max = MAX_EMAIL_INTERVAL_SECS;
    for (key, value) in [
        ("email.retry_initial_secs", email.retry_initial_secs),
        ("email.retry_max_secs", email.retry_max_secs),
        ("email.timeout_secs", email.timeout_secs),
    ] {
        if value > max {
            report(
                key,
                format!("{value} seconds is too long; at most {max} (one day)"),
            );
        }
    }
    if email.timeout_secs == 0 {
        report("email.timeout_secs", "must be at least 1".into());
    }
    for (group, addresses) in &email.groups {
        if addresses.is_empty() {
            report(&format!("email.groups.{group}"), "lists no address".into());
        }
        for (i, a) in addresses.iter().enumerate() {
            if a.parse::<lettre::message::Mailbox>().is_err() {
                report(
                    &format!("email.groups.{group}[{i}]"),
                    format!("{a:?} is not an email address"),
                );
            }
        }
    }
    let ex = &reports.exceptions;
    if ex.enabled && email.enabled() {
        if !email.groups.contains_key(&ex.group) {
            report(
                "reports.exceptions.group",
                format!("{:?} is not a group in [email.groups]", ex.group),
            );
        }
        for (carrier, group) in &ex.carrier_groups {
            if !email.groups.contains_key(group) {
                report(
                    &format!("reports.exceptions.carrier_groups.{carrier}"),
                    format!("{group:?} is not a group in [email.groups]"),
                );
            }
        }
    }
    if ex.max_attachment_rows == 0 {
        report(
            "reports.exceptions.max_attachment_rows",
            "must be at least 1".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_intervals_are_bounded_like_the_daemons() {
        assert_eq!(MAX_EMAIL_INTERVAL_SECS, crate::config::MAX_INTERVAL_SECS);
        let email = EmailConfig {
            retry_initial_secs: 10,
            retry_max_secs: u64::MAX,
            timeout_secs: 1_000_000_000_000,
            ..Default::default()
        };
        let mut problems = Vec::new();
        validate(
            &email,
            &ReportsConfig::default(),
            "s321d.toml",
            &mut problems,
        );
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert!(
            keys.contains(&"email.retry_max_secs") && keys.contains(&"email.timeout_secs"),
            "{keys:?}"
        );
        assert!(!keys.contains(&"email.retry_initial_secs"), "{keys:?}");
    }

    #[test]
    fn groups_and_routes_are_checked() {
        let mut email = EmailConfig {
            host: "smtp.example".into(),
            ..EmailConfig::default()
        };
        email
            .groups
            .insert("compliance".into(), vec!["team@example.com".into()]);
        email
            .groups
            .insert("dhl".into(), vec!["not an address".into()]);
        let mut reports = ReportsConfig::default();
        reports
            .exceptions
            .carrier_groups
            .insert("DHLX".into(), "dhl".into());
        reports
            .exceptions
            .carrier_groups
            .insert("UPSN".into(), "nobody".into());
        let mut problems = Vec::new();
        validate(&email, &reports, "s321d.toml", &mut problems);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains("email.groups.dhl[0]")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("reports.exceptions.carrier_groups.UPSN")),
            "{text:?}"
        );
        assert_eq!(problems.len(), 2, "{text:?}");
        assert_eq!(reports.exceptions.group_for("dhlx"), "dhl");
        assert_eq!(reports.exceptions.group_for("PCLX"), "compliance");
    }
}
