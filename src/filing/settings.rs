//! What the CATAIR writer takes from configuration (`[filing]`,
//! `[filing.catair]`): the envelope's sender codes and password, the bond,
//! the SE13 contact. The checks `s321d check` runs on them are
//! `config::filing`'s.
//!
//! The password is read from `filing.catair.password_file` or the
//! environment variable `S321D_ACE_PASSWORD`, held as a secret and never
//! logged; configuration only ever names the file.

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};

use crate::config::FilingConfig;
use crate::config::filing::{password_problem, problems};

/// The environment variable holding the envelope password when
/// `filing.catair.password_file` is empty.
pub const PASSWORD_ENV: &str = "S321D_ACE_PASSWORD";

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
        assert_eq!(
            (f.entry_summary, f.payment_type, f.formal_entries),
            (
                crate::config::EntrySummaryMode::AfterRelease,
                crate::config::PaymentType::Individual,
                crate::config::FormalEntries::List
            )
        );
        f.filer_code = "S32".into();
        f.formal_entries = crate::config::FormalEntries::File;
        f.entry_summary = crate::config::EntrySummaryMode::Certified;
        let p = problems(&f);
        assert_eq!(
            p.iter().map(|p| p.key).collect::<Vec<_>>(),
            ["filing.bond_type", "filing.bond_type"],
            "{p:?}"
        );
        assert!(
            p[0].why.contains("type 01") && p[1].why.contains("certified"),
            "{p:?}"
        );
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
