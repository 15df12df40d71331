//! `[state]`: which store holds the state (scale-out section 4).
//!
//! `url = "sqlite:PATH"` (relative to the working directory) or
//! `url = "postgres://user@host:port/db"`; empty (the default) is
//! `sqlite:<paths.data_dir>/state.db`. The PostgreSQL password comes from the
//! file `password_file` names, else from `PGPASSWORD`; a URL that carries one is
//! refused, so it never reaches a config file, a terminal or a log.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[state]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// `sqlite:PATH` or `postgres://user@host:port/db`; empty: the data folder's `state.db`.
    #[serde(default)]
    pub url: String,
    /// File holding the PostgreSQL password (first line); empty: `PGPASSWORD`.
    #[serde(default)]
    pub password_file: String,
}

/// Where the state store is, resolved.
#[derive(Clone, PartialEq, Eq)]
pub enum StateLocation {
    Sqlite(PathBuf),
    Postgres {
        url: String,
        password: Option<String>,
    },
}

impl std::fmt::Debug for StateLocation {
    // Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StateLocation::Postgres { url, password } => write!(
                f,
                "{url}{}",
                if password.is_some() {
                    " (password set)"
                } else {
                    ""
                }
            ),
        }
    }
}

impl StateLocation {
    /// `sqlite:PATH` or the URL, for messages (never the password).
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, StateLocation::Postgres { .. })
    }
}

impl StateConfig {
    /// Resolves the location: `Err` is the problem with `state.url` or
    /// `state.password_file` (key, message).
    pub fn location(&self, data_dir: &Path) -> Result<StateLocation, (&'static str, String)> {
        let url = self.url.trim();
        if url.is_empty() {
            return Ok(StateLocation::Sqlite(data_dir.join("state.db")));
        }
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err((
                    "state.url",
                    "sqlite: names no file (sqlite:var/state.db)".into(),
                ));
            }
            return Ok(StateLocation::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if authority
                .split_once('@')
                .is_some_and(|(user, _)| user.contains(':'))
            {
                return Err(("state.url", "holds a password (user:password@); remove it and set state.password_file or PGPASSWORD".into()));
            }
            if url.contains("password=") {
                return Err(("state.url", "holds a password (password=); remove it and set state.password_file or PGPASSWORD".into()));
            }
            let password = if self.password_file.is_empty() {
                std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty())
            } else {
                let text = std::fs::read_to_string(&self.password_file).map_err(|e| {
                    (
                        "state.password_file",
                        format!("cannot read {}: {e}", self.password_file),
                    )
                })?;
                let first = text.lines().next().unwrap_or_default().to_owned();
                if first.is_empty() {
                    return Err((
                        "state.password_file",
                        format!("{} is empty", self.password_file),
                    ));
                }
                Some(first)
            };
            return Ok(StateLocation::Postgres {
                url: url.to_owned(),
                password,
            });
        }
        Err((
            "state.url",
            "is neither sqlite:PATH nor postgres://user@host:port/db".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> StateConfig {
        StateConfig {
            url: url.into(),
            password_file: String::new(),
        }
    }

    #[test]
    fn the_default_is_the_data_folders_sqlite_file() {
        assert_eq!(
            cfg("").location(Path::new("var")).unwrap(),
            StateLocation::Sqlite(PathBuf::from("var/state.db"))
        );
        assert_eq!(
            cfg("sqlite:/srv/s.db").location(Path::new("var")).unwrap(),
            StateLocation::Sqlite(PathBuf::from("/srv/s.db"))
        );
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_repeating_it() {
        for url in [
            "postgres://u:hunter2@db/s",
            "postgres://db/s?password=hunter2",
        ] {
            let (key, message) = cfg(url).location(Path::new("var")).unwrap_err();
            assert_eq!(key, "state.url");
            assert!(!message.contains("hunter2"), "{message}");
        }
        assert!(cfg("mysql://db").location(Path::new("var")).is_err());
    }

    #[test]
    fn the_password_comes_from_its_file_and_is_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let c = StateConfig {
            url: "postgres://s321d@db:5432/s321d".into(),
            password_file: file.display().to_string(),
        };
        let loc = c.location(Path::new("var")).unwrap();
        assert_eq!(
            loc,
            StateLocation::Postgres {
                url: "postgres://s321d@db:5432/s321d".into(),
                password: Some("s3cret".into())
            }
        );
        assert!(!format!("{loc:?}").contains("s3cret"));
    }
}
