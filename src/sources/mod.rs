//! Where manifests come from and where s321d writes: a local folder, an object
//! store (S3 and S3-compatible endpoints; GCS and Azure URLs through
//! `object_store`), or an SFTP server.
//!
//! Every source is addressed with `/`-separated paths relative to its root.
//! Writes are atomic everywhere (temporary name then rename, or a single PUT),
//! so a reader never sees half a file. Errors say which source and path failed
//! and whether retrying can help ([`SourceError::is_retriable`]).

mod local;
mod object;
mod sftp;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use local::LocalSource;
pub use object::ObjectSource;
pub use sftp::SftpSource;

/// A source as configured under `[sources.NAME]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// A folder on this machine.
    Local {
        /// Root folder; relative paths resolve against the working directory.
        root: PathBuf,
    },
    /// An S3 bucket or S3-compatible endpoint.
    S3 {
        bucket: String,
        /// Key prefix under which the source lives (`carrier-x/`).
        #[serde(default)]
        prefix: String,
        #[serde(default = "default_region")]
        region: String,
        /// Custom endpoint (MinIO, moto, Ceph...); AWS when empty.
        #[serde(default)]
        endpoint: String,
        /// Path-style requests (`endpoint/bucket/key`), as most S3-compatible servers want.
        #[serde(default)]
        path_style: bool,
        /// Allow plain HTTP endpoints (tests, private networks).
        #[serde(default)]
        allow_http: bool,
        /// Files holding the access key id and secret; when unset, the usual
        /// `AWS_*` environment variables apply (see `credentials`).
        access_key_id_file: Option<PathBuf>,
        secret_access_key_file: Option<PathBuf>,
        session_token_file: Option<PathBuf>,
        /// Where credentials come from; the cloud metadata endpoint is only
        /// asked when this says `instance`.
        #[serde(default)]
        credentials: S3Credentials,
    },
    /// Any URL `object_store` understands: `s3://`, `gs://`, `az://`,
    /// `abfs://`, `https://...blob.core.windows.net/...`, `file://`.
    /// Credentials come from the environment as object_store reads them.
    Url {
        url: String,
        /// Extra non-secret options passed to object_store (`region`, ...).
        #[serde(default)]
        options: BTreeMap<String, String>,
        /// For `s3://` URLs: where credentials come from, as for `kind = "s3"`.
        #[serde(default)]
        credentials: S3Credentials,
    },
    /// An SFTP server.
    Sftp {
        host: String,
        #[serde(default = "default_ssh_port")]
        port: u16,
        user: String,
        /// Remote root folder (absolute or relative to the login folder).
        #[serde(default = "default_sftp_root")]
        root: String,
        /// known_hosts file the server's host key is checked against.
        known_hosts: PathBuf,
        /// Accept a host key that known_hosts does not list (never a changed one).
        #[serde(default)]
        accept_unknown_host_key: bool,
        /// Private key file for public-key authentication.
        private_key_file: Option<PathBuf>,
        /// File holding the private key's passphrase.
        private_key_passphrase_file: Option<PathBuf>,
        /// File holding the password, for password authentication.
        password_file: Option<PathBuf>,
        /// Seconds before a connection attempt or request gives up.
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
}

/// Where an S3 source's credentials come from. A closed set, so that asking
/// the cloud metadata endpoint (169.254.169.254) is always a configured
/// choice, never a fallback: object_store asks it whenever it finds no key.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum S3Credentials {
    /// A key from `*_file` settings or the `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` variables (or the web identity and container
    /// variables AWS sets); none found is a configuration error.
    #[default]
    Static,
    /// The instance or task metadata endpoint (EC2 instance profiles).
    Instance,
    /// No credentials: unsigned requests, for public buckets.
    Anonymous,
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_ssh_port() -> u16 {
    22
}
fn default_sftp_root() -> String {
    ".".into()
}
fn default_timeout() -> u64 {
    30
}

/// Why a source's configuration cannot work, found without connecting
/// (for `check`): today, an S3 source with no credentials configured, which
/// object_store would answer by asking the cloud metadata endpoint.
pub fn config_problem(name: &str, config: &SourceConfig) -> Option<String> {
    match config {
        SourceConfig::S3 { .. } => ObjectSource::new(name, config).err().map(|e| e.to_string()),
        SourceConfig::Url { url, .. } if url.starts_with("s3://") || url.starts_with("s3a://") => {
            ObjectSource::new(name, config).err().map(|e| e.to_string())
        }
        _ => None,
    }
}

/// Logs, once per process, source and path, an inbox entry that is not a
/// regular file (so it is skipped): the operator may have meant it to be
/// read, and a line on every run would drown the log.
pub(crate) fn note_skipped_once(source: &str, path: &str, kind: &str) {
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<(String, String)>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let first = SEEN
        .lock()
        .map(|mut g| g.insert((source.to_owned(), path.to_owned())))
        .unwrap_or(true);
    if first {
        let shown = crate::paths::Escaped(path);
        tracing::info!(
            source = %source,
            file.path = %shown,
            "Skipping {shown} in the inbox of source {source}: it is {kind}, not a regular file; only regular files are taken."
        );
    }
}

/// A file in a source listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the source root.
    pub path: String,
    /// The last path component.
    pub name: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

/// What went wrong, where, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source {source_name}: {path}: not found")]
    NotFound { source_name: String, path: String },
    /// Network trouble, timeouts, a dropped connection, a full disk: retry later.
    #[error("source {source_name}: {path}: {message}")]
    Transient {
        source_name: String,
        path: String,
        message: String,
    },
    /// Wrong credentials, unknown host key, bad configuration: retrying will not help.
    #[error("source {source_name}: {path}: {message}")]
    Permanent {
        source_name: String,
        path: String,
        message: String,
    },
}

impl SourceError {
    pub fn is_retriable(&self) -> bool {
        matches!(self, SourceError::Transient { .. })
    }

    pub(crate) fn transient(source: &str, path: &str, e: impl std::fmt::Display) -> SourceError {
        SourceError::Transient {
            source_name: source.into(),
            path: path.into(),
            message: e.to_string(),
        }
    }

    pub(crate) fn permanent(source: &str, path: &str, e: impl std::fmt::Display) -> SourceError {
        SourceError::Permanent {
            source_name: source.into(),
            path: path.into(),
            message: e.to_string(),
        }
    }

    /// Classifies an I/O error: missing files, permissions and bad paths are
    /// not worth retrying; everything else (full disk, interrupted) may pass.
    pub(crate) fn io(source: &str, path: &str, e: &std::io::Error) -> SourceError {
        use std::io::ErrorKind::*;
        match e.kind() {
            NotFound => SourceError::NotFound {
                source_name: source.into(),
                path: path.into(),
            },
            PermissionDenied | InvalidInput | InvalidData | InvalidFilename => {
                SourceError::permanent(source, path, e)
            }
            _ => SourceError::transient(source, path, e),
        }
    }
}

pub type Result<T> = std::result::Result<T, SourceError>;

/// A configured, usable source.
#[derive(Debug)]
pub enum Source {
    Local(LocalSource),
    Object(ObjectSource),
    Sftp(SftpSource),
}

impl Source {
    /// Builds a source from its configuration (connections open lazily).
    pub fn from_config(name: &str, config: &SourceConfig) -> Result<Source> {
        Ok(match config {
            SourceConfig::Local { root } => Source::Local(LocalSource::new(name, root.clone())),
            SourceConfig::Sftp { .. } => Source::Sftp(SftpSource::new(name, config.clone())?),
            SourceConfig::S3 { .. } | SourceConfig::Url { .. } => {
                Source::Object(ObjectSource::new(name, config)?)
            }
        })
    }

    /// The source's name from config.
    pub fn name(&self) -> &str {
        match self {
            Source::Local(s) => &s.name,
            Source::Object(s) => &s.name,
            Source::Sftp(s) => &s.name,
        }
    }

    /// Where it is, for logs (no secrets).
    pub fn describe(&self) -> String {
        match self {
            Source::Local(s) => format!("local {}", s.root.display()),
            Source::Object(s) => s.describe(),
            Source::Sftp(s) => s.describe(),
        }
    }

    /// Files (not folders) directly in `dir`.
    pub async fn list(&self, dir: &str) -> Result<Vec<Entry>> {
        match self {
            Source::Local(s) => s.list(dir).await,
            Source::Object(s) => s.list(dir).await,
            Source::Sftp(s) => s.list(dir).await,
        }
    }

    /// Copies `path` to the local file `dest`; returns its size and SHA-256.
    pub async fn download(&self, path: &str, dest: &Path) -> Result<(u64, String)> {
        match self {
            Source::Local(s) => s.download(path, dest).await,
            Source::Object(s) => s.download(path, dest).await,
            Source::Sftp(s) => s.download(path, dest).await,
        }
    }

    /// Writes a local file to `path` atomically.
    pub async fn upload(&self, local: &Path, path: &str) -> Result<()> {
        match self {
            Source::Local(s) => s.upload(local, path).await,
            Source::Object(s) => s.upload(local, path).await,
            Source::Sftp(s) => s.upload(local, path).await,
        }
    }

    /// Writes bytes to `path` atomically.
    pub async fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Source::Local(s) => s.put(path, bytes).await,
            Source::Object(s) => s.put(path, bytes).await,
            Source::Sftp(s) => s.put(path, bytes).await,
        }
    }

    /// Reads a whole (small) file.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>> {
        match self {
            Source::Local(s) => s.get(path).await,
            Source::Object(s) => s.get(path).await,
            Source::Sftp(s) => s.get(path).await,
        }
    }

    /// Moves `from` to `to` (replacing `to`).
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        match self {
            Source::Local(s) => s.rename(from, to).await,
            Source::Object(s) => s.rename(from, to).await,
            Source::Sftp(s) => s.rename(from, to).await,
        }
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        match self {
            Source::Local(s) => s.delete(path).await,
            Source::Object(s) => s.delete(path).await,
            Source::Sftp(s) => s.delete(path).await,
        }
    }

    pub async fn exists(&self, path: &str) -> Result<bool> {
        match self {
            Source::Local(s) => s.exists(path).await,
            Source::Object(s) => s.exists(path).await,
            Source::Sftp(s) => s.exists(path).await,
        }
    }

    /// The local path of `path` when the source is a local folder (the engine
    /// then reads archived files in place).
    pub fn local_path(&self, path: &str) -> Option<PathBuf> {
        match self {
            Source::Local(s) => Some(s.resolve(path)),
            _ => None,
        }
    }
}

/// Hashes a local file (streamed) while copying it: shared by every source's
/// download path.
pub(crate) struct HashingWriter {
    file: std::fs::File,
    hasher: sha2::Sha256,
    size: u64,
}

impl HashingWriter {
    pub(crate) fn create(path: &Path) -> std::io::Result<HashingWriter> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(HashingWriter {
            file: std::fs::File::create(path)?,
            hasher: sha2::Digest::new(),
            size: 0,
        })
    }

    pub(crate) fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        sha2::Digest::update(&mut self.hasher, chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk)
    }

    /// Syncs the file; returns size and SHA-256 (hex).
    pub(crate) fn finish(self) -> std::io::Result<(u64, String)> {
        self.file.sync_all()?;
        Ok((self.size, hex::encode(sha2::Digest::finalize(self.hasher))))
    }
}

/// Reads a file from a secret-holding path (trimmed of one trailing newline).
pub(crate) fn read_secret(source: &str, what: &str, path: &Path) -> Result<secrecy::SecretString> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SourceError::permanent(
            source,
            &path.display().to_string(),
            format!("cannot read {what}: {e}"),
        )
    })?;
    Ok(secrecy::SecretString::from(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_parse_by_kind() {
        let s: SourceConfig = toml::from_str("kind = \"local\"\nroot = \"var/demo\"\n").unwrap();
        assert_eq!(
            s,
            SourceConfig::Local {
                root: "var/demo".into()
            }
        );
        let s: SourceConfig = toml::from_str(
            "kind = \"sftp\"\nhost = \"h\"\nuser = \"u\"\nknown_hosts = \"/k\"\nprivate_key_file = \"/key\"\n",
        )
        .unwrap();
        assert!(matches!(
            s,
            SourceConfig::Sftp {
                port: 22,
                accept_unknown_host_key: false,
                ..
            }
        ));
        assert!(toml::from_str::<SourceConfig>("kind = \"ftp\"\n").is_err());
        assert!(
            toml::from_str::<SourceConfig>("kind = \"local\"\nroot = \"x\"\npassword = \"p\"\n")
                .is_err()
        );
    }
}
