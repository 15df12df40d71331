//! What the CATAIR writer takes from configuration (`[filing]`,
//! `[filing.catair]`): the envelope's sender codes and password, the bond,
//! the SE13 contact, and the checks `s321d check` runs on them.
//!
//! The password is read from `filing.catair.password_file` or the
//! environment variable `S321D_ACE_PASSWORD`, held as a secret and never
//! logged; configuration only ever names the file.

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};

use super::catair::key::{Class, allowed};
use crate::config::FilingConfig;

/// The environment variable holding the envelope password when
/// `filing.catair.password_file` is empty.
pub const PASSWORD_ENV: &str = "S321D_ACE_PASSWORD";

/// A problem with a `[filing]` key, for `s321d check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub why: String,
}

fn is_an(text: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&text.len()) && text.chars().all(|c| allowed(Class::AN, c) && c != ' ')
}

/// Checks a password's shape without ever showing it.
fn password_problem(text: &str) -> Option<String> {
    (!is_an(text, 1..=6))
        .then(|| "must hold 1 to 6 upper-case letters or digits (A 9-14 is 6AN)".to_owned())
}

/// Every problem of the filing keys (empty when they are usable).
pub fn problems(f: &FilingConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut report = |key: &'static str, why: String| out.push(Problem { key, why });
    let c = &f.catair;
    if !c.site.is_empty() && !is_an(&c.site, 4..=4) {
        report(
            "filing.catair.site",
            format!("{:?} is not 4 upper-case letters or digits (A 2-5)", c.site),
        );
    }
    if !c.id_code.is_empty() && !is_an(&c.id_code, 3..=3) {
        report(
            "filing.catair.id_code",
            format!(
                "{:?} is not 3 upper-case letters or digits (A 6-8)",
                c.id_code
            ),
        );
    }
    let port_ok = c.port.len() == 4 && c.port.bytes().all(|b| b.is_ascii_digit());
    if !c.port.is_empty() && !port_ok {
        report(
            "filing.catair.port",
            format!("{:?} is not a 4-digit Schedule D port (B 4-7)", c.port),
        );
    }
    if !c.password_file.is_empty() {
        match std::fs::read_to_string(&c.password_file) {
            Ok(text) => {
                if let Some(why) = password_problem(text.trim()) {
                    report(
                        "filing.catair.password_file",
                        format!("{}: the password {why}", c.password_file),
                    );
                }
            }
            Err(e) => report(
                "filing.catair.password_file",
                format!("cannot read {}: {e}", c.password_file),
            ),
        }
    }
    match f.bond_type.as_str() {
        "0" => {}
        "8" | "9" => {
            if !is_an(&f.surety_code, 3..=3) {
                report(
                    "filing.surety_code",
                    format!(
                        "{:?} is not a 3-character surety code; bond_type {} needs one",
                        f.surety_code, f.bond_type
                    ),
                );
            }
            if f.bond_type == "9" && f.bond_amount_usd == 0 {
                report(
                    "filing.bond_amount_usd",
                    "a single transaction bond (bond_type 9) needs its amount (SE20 AMT)".into(),
                );
            }
        }
        other => report(
            "filing.bond_type",
            format!("{other:?} is not a bond type: 0 none, 8 continuous, 9 single transaction"),
        ),
    }
    if f.bond_amount_usd > 9_999_999_999 {
        report("filing.bond_amount_usd", "must fit 10 digits".into());
    }
    if !f.parties_file.is_empty()
        && let Err(e) = super::release::PartyBook::read(std::path::Path::new(&f.parties_file))
    {
        report("filing.parties_file", format!("{e:#}"));
    }
    // A summary names its bond (AE 31): a type 01 filed, or any summary
    // certified for cargo release, cannot go without one.
    use crate::config::{EntrySummaryMode, FormalEntries};
    if !f.filer_code.is_empty() && f.bond_type == "0" {
        if f.formal_entries == FormalEntries::File {
            report("filing.bond_type", "formal_entries = \"file\" files type 01 entries, which need a bond: 8 continuous or 9 single transaction".into());
        }
        if f.entry_summary == EntrySummaryMode::Certified {
            report("filing.bond_type", "entry_summary = \"certified\" files entry summaries (AE 31 names the bond): 8 continuous or 9 single transaction".into());
        }
    }
    if f.contact_phone.chars().filter(char::is_ascii_digit).count() > 15 {
        report(
            "filing.contact_phone",
            "has more than 15 digits (SE13 45-59)".into(),
        );
    }
    out
}

/// The ABI envelope of a batch: who sends, with what password, where.
#[derive(Clone)]
pub struct Envelope {
    pub site: String,
    pub id_code: String,
    pub password: SecretString,
    /// Processing port; empty: each block takes its entries' port.
    pub port: String,
    pub filer: String,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("site", &self.site)
            .field("id_code", &self.id_code)
            .field("password", &"[redacted]")
            .field("port", &self.port)
            .field("filer", &self.filer)
            .finish()
    }
}

impl Envelope {
    /// The envelope from configuration, the password from its file or
    /// [`PASSWORD_ENV`]. Errors name the key to set.
    pub fn from_config(f: &FilingConfig) -> anyhow::Result<Envelope> {
        let c = &f.catair;
        anyhow::ensure!(
            !c.site.is_empty(),
            "filing.catair.site is not set: a CATAIR batch needs the sender site code CBP assigned"
        );
        anyhow::ensure!(
            !c.id_code.is_empty(),
            "filing.catair.id_code is not set: a CATAIR batch needs the sender id code CBP assigned"
        );
        if let Some(p) = problems(f)
            .into_iter()
            .find(|p| p.key.starts_with("filing.catair."))
        {
            anyhow::bail!("{}: {}", p.key, p.why);
        }
        let password = if c.password_file.is_empty() {
            std::env::var(PASSWORD_ENV)
                .map_err(|_| anyhow::anyhow!("no envelope password: set filing.catair.password_file or the environment variable {PASSWORD_ENV}"))?
        } else {
            std::fs::read_to_string(&c.password_file).with_context(|| {
                format!(
                    "cannot read filing.catair.password_file {}",
                    c.password_file
                )
            })?
        };
        let password = password.trim().to_owned();
        if let Some(why) = password_problem(&password) {
            let from = if c.password_file.is_empty() {
                PASSWORD_ENV.to_owned()
            } else {
                c.password_file.clone()
            };
            anyhow::bail!("the envelope password in {from} {why}");
        }
        Ok(Envelope {
            site: c.site.clone(),
            id_code: c.id_code.clone(),
            password: SecretString::from(password),
            port: c.port.clone(),
            filer: f.filer_code.to_ascii_uppercase(),
        })
    }

    pub(crate) fn password(&self) -> &str {
        self.password.expose_secret()
    }
}

/// The bond and contact every SE transaction carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filer {
    /// `0`, `8` or `9`.
    pub bond_type: String,
    pub surety_code: String,
    pub bond_amount_usd: u64,
    pub contact_name: String,
    pub contact_phone: String,
}

impl Filer {
    pub fn from_config(f: &FilingConfig) -> Filer {
        Filer {
            bond_type: f.bond_type.clone(),
            surety_code: f.surety_code.to_ascii_uppercase(),
            bond_amount_usd: f.bond_amount_usd,
            contact_name: f.contact_name.clone(),
            contact_phone: f.contact_phone.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FilingConfig {
        let raw = config::Config::builder()
            .add_source(config::File::from_str(
                crate::config::DEFAULT_CONFIG_TOML,
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap();
        raw.try_deserialize::<crate::config::Config>()
            .unwrap()
            .filing
    }

    #[test]
    fn the_shipped_defaults_have_no_problem() {
        assert_eq!(problems(&config()), []);
    }

    #[test]
    fn bad_keys_are_named() {
        let mut f = config();
        f.catair.site = "27O".into();
        f.catair.id_code = "ee".into();
        f.catair.port = "47O1".into();
        f.bond_type = "9".into();
        f.surety_code = "".into();
        let keys: Vec<&str> = problems(&f).iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "filing.catair.site",
                "filing.catair.id_code",
                "filing.catair.port",
                "filing.surety_code",
                "filing.bond_amount_usd"
            ]
        );
        f.bond_type = "1".into();
        assert!(problems(&f).iter().any(|p| p.key == "filing.bond_type"));
    }

    #[test]
    fn summaries_without_a_bond_are_named() {
        let mut f = config();
        assert_eq!((f.entry_summary, f.payment_type, f.formal_entries), (crate::config::EntrySummaryMode::AfterRelease, crate::config::PaymentType::Individual, crate::config::FormalEntries::List));
        f.filer_code = "S32".into();
        f.formal_entries = crate::config::FormalEntries::File;
        f.entry_summary = crate::config::EntrySummaryMode::Certified;
        let p = problems(&f);
        assert_eq!(p.iter().map(|p| p.key).collect::<Vec<_>>(), ["filing.bond_type", "filing.bond_type"], "{p:?}");
        assert!(p[0].why.contains("type 01") && p[1].why.contains("certified"), "{p:?}");
        f.bond_type = "8".into();
        f.surety_code = "457".into();
        assert_eq!(problems(&f), []);
    }

    #[test]
    fn the_password_comes_from_its_file_and_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        let mut f = config();
        f.filer_code = "S32".into();
        f.catair.site = "2704".into();
        f.catair.id_code = "EEE".into();
        f.catair.password_file = file.display().to_string();
        std::fs::write(&file, "PASSWD\n").unwrap();
        let e = Envelope::from_config(&f).unwrap();
        assert_eq!(e.password(), "PASSWD");
        assert!(!format!("{e:?}").contains("PASSWD"), "Debug redacts it");
        std::fs::write(&file, "secret-too-long").unwrap();
        let err = Envelope::from_config(&f).unwrap_err().to_string();
        assert!(err.contains("1 to 6") && !err.contains("secret"), "{err}");
        assert!(
            problems(&f)
                .iter()
                .any(|p| p.key == "filing.catair.password_file" && !p.why.contains("secret"))
        );
        f.catair.site = String::new();
        assert!(
            Envelope::from_config(&f)
                .unwrap_err()
                .to_string()
                .contains("filing.catair.site")
        );
    }
}
