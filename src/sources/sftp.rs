//! SFTP through russh and russh-sftp.
//!
//! The server's host key is checked against the configured known_hosts file:
//! an unknown key is refused unless `accept_unknown_host_key` is set, and a key
//! that differs from the recorded one is always refused. Authentication is by
//! private key or password, each read from a file. One session is kept open
//! and reopened after any failure. Uploads go to a temporary name and are
//! renamed into place.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use secrecy::ExposeSecret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use super::{Entry, HashingWriter, Result, SourceConfig, SourceError, read_secret};

pub struct SftpSource {
    pub(crate) name: String,
    config: SourceConfig,
    session: Mutex<Option<Arc<SftpSession>>>,
}

impl std::fmt::Debug for SftpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpSource")
            .field("name", &self.name)
            .field("at", &self.describe())
            .finish()
    }
}

/// Checks the server key against known_hosts.
struct HostCheck {
    host: String,
    port: u16,
    known_hosts: std::path::PathBuf,
    accept_unknown: bool,
    /// Why the key was refused, for the error message.
    refusal: Arc<std::sync::Mutex<Option<String>>>,
}

impl client::Handler for HostCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            *self.refusal.lock().expect("lock") =
                Some("the server offered a certificate; only plain host keys are checked".into());
            return Ok(false);
        };
        let verdict = match russh::keys::check_known_hosts_path(
            &self.host,
            self.port,
            key,
            &self.known_hosts,
        ) {
            Ok(true) => Ok(()),
            Ok(false) if self.accept_unknown => Ok(()),
            Ok(false) => Err(format!(
                "the host key of {}:{} is not in {} (add it, or set accept_unknown_host_key)",
                self.host,
                self.port,
                self.known_hosts.display()
            )),
            Err(russh::keys::Error::KeyChanged { line }) => Err(format!(
                "the host key of {}:{} differs from the one on line {line} of {}: refusing to connect",
                self.host,
                self.port,
                self.known_hosts.display()
            )),
            Err(e) => Err(format!("cannot check {}: {e}", self.known_hosts.display())),
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(why) => {
                *self.refusal.lock().expect("lock") = Some(why);
                Ok(false)
            }
        }
    }
}

impl SftpSource {
    pub fn new(name: &str, config: SourceConfig) -> Result<SftpSource> {
        let SourceConfig::Sftp {
            private_key_file,
            password_file,
            ..
        } = &config
        else {
            unreachable!("SftpSource::new takes an sftp config");
        };
        if private_key_file.is_none() && password_file.is_none() {
            return Err(SourceError::permanent(
                name,
                "",
                "set private_key_file or password_file",
            ));
        }
        Ok(SftpSource {
            name: name.into(),
            config,
            session: Mutex::new(None),
        })
    }

    fn parts(&self) -> (&str, u16, &str, &str, u64) {
        let SourceConfig::Sftp {
            host,
            port,
            user,
            root,
            timeout_secs,
            ..
        } = &self.config
        else {
            unreachable!()
        };
        (host, *port, user, root, *timeout_secs)
    }

    pub fn describe(&self) -> String {
        let (host, port, user, root, _) = self.parts();
        format!(
            "sftp://{user}@{host}:{port}/{}",
            root.trim_start_matches('/')
        )
    }

    fn remote(&self, path: &str) -> String {
        let (_, _, _, root, _) = self.parts();
        let rel = crate::paths::join(&[path]);
        match (root.trim_end_matches('/'), rel.is_empty()) {
            (r, true) => {
                if r.is_empty() {
                    "/".into()
                } else {
                    r.to_owned()
                }
            }
            ("", false) => format!("/{rel}"),
            (r, false) => format!("{r}/{rel}"),
        }
    }

    async fn connect(&self) -> Result<Arc<SftpSession>> {
        let SourceConfig::Sftp {
            host,
            port,
            user,
            known_hosts,
            accept_unknown_host_key,
            private_key_file,
            private_key_passphrase_file,
            password_file,
            timeout_secs,
            ..
        } = &self.config
        else {
            unreachable!()
        };
        let timeout = Duration::from_secs(*timeout_secs);
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(timeout * 4),
            ..Default::default()
        });
        let refusal = Arc::new(std::sync::Mutex::new(None));
        let handler = HostCheck {
            host: host.clone(),
            port: *port,
            known_hosts: known_hosts.clone(),
            accept_unknown: *accept_unknown_host_key,
            refusal: refusal.clone(),
        };
        let at = format!("{host}:{port}");
        let mut handle = match tokio::time::timeout(
            timeout,
            client::connect(config, (host.as_str(), *port), handler),
        )
        .await
        {
            Err(_) => {
                return Err(SourceError::transient(
                    &self.name,
                    &at,
                    "connection timed out",
                ));
            }
            Ok(Err(e)) => {
                if let Some(why) = refusal.lock().expect("lock").take() {
                    return Err(SourceError::permanent(&self.name, &at, why));
                }
                return Err(SourceError::transient(
                    &self.name,
                    &at,
                    format!("cannot connect: {e}"),
                ));
            }
            Ok(Ok(h)) => h,
        };
        let auth = if let Some(key_file) = private_key_file {
            let passphrase = match private_key_passphrase_file {
                Some(p) => Some(read_secret(&self.name, "the key passphrase", p)?),
                None => None,
            };
            let key = russh::keys::load_secret_key(
                key_file,
                passphrase.as_ref().map(|p| p.expose_secret()),
            )
            .map_err(|e| {
                SourceError::permanent(
                    &self.name,
                    &key_file.display().to_string(),
                    format!("cannot load the private key: {e}"),
                )
            })?;
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .map_err(|e| SourceError::transient(&self.name, &at, e))?
                .flatten();
            handle
                .authenticate_publickey(
                    user.clone(),
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(|e| SourceError::transient(&self.name, &at, e))?
        } else {
            let password = read_secret(
                &self.name,
                "the password",
                password_file.as_ref().expect("checked in new"),
            )?;
            handle
                .authenticate_password(user.clone(), password.expose_secret())
                .await
                .map_err(|e| SourceError::transient(&self.name, &at, e))?
        };
        if !auth.success() {
            return Err(SourceError::permanent(
                &self.name,
                &at,
                format!("authentication as {user} was refused"),
            ));
        }
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| SourceError::transient(&self.name, &at, e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| SourceError::transient(&self.name, &at, e))?;
        let sftp = SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| SourceError::transient(&self.name, &at, e))?;
        sftp.set_timeout(*timeout_secs);
        Ok(Arc::new(sftp))
    }

    /// The open session, connecting if needed.
    async fn session(&self) -> Result<Arc<SftpSession>> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = self.connect().await?;
        *slot = Some(s.clone());
        Ok(s)
    }

    /// Maps an SFTP error; any failure other than a status answer drops the
    /// session so the next call reconnects.
    async fn fail(&self, path: &str, e: russh_sftp::client::error::Error) -> SourceError {
        use russh_sftp::client::error::Error as E;
        use russh_sftp::protocol::StatusCode;
        match &e {
            E::Status(s) if s.status_code == StatusCode::NoSuchFile => SourceError::NotFound {
                source_name: self.name.clone(),
                path: path.into(),
            },
            E::Status(s) if s.status_code == StatusCode::PermissionDenied => {
                SourceError::permanent(&self.name, path, &e)
            }
            E::Status(_) => SourceError::transient(&self.name, path, &e),
            _ => {
                *self.session.lock().await = None;
                SourceError::transient(&self.name, path, &e)
            }
        }
    }

    pub async fn list(&self, dir: &str) -> Result<Vec<Entry>> {
        let s = self.session().await?;
        let entries = match s.read_dir(self.remote(dir)).await {
            Ok(e) => e,
            Err(e) => {
                return match self.fail(dir, e).await {
                    SourceError::NotFound { .. } => Ok(Vec::new()),
                    other => Err(other),
                };
            }
        };
        let mut out: Vec<Entry> = entries
            .filter(|e| {
                // The exact type: russh-sftp's `is_regular()` tests one bit,
                // which symbolic links and sockets share with regular files
                // (a link was then taken, its target's size never matched,
                // and it was deferred on every run without a word).
                let t = e.file_type();
                if t.is_file() {
                    return true;
                }
                let kind = if t.is_dir() {
                    "a folder"
                } else if t.is_symlink() {
                    "a symbolic link"
                } else {
                    "a special file"
                };
                super::note_skipped_once(
                    &self.name,
                    &crate::paths::join(&[dir, &e.file_name()]),
                    kind,
                );
                false
            })
            .map(|e| {
                let meta = e.metadata();
                let name = e.file_name();
                Entry {
                    path: crate::paths::join(&[dir, &name]),
                    size: meta.size.unwrap_or(0),
                    modified: meta
                        .mtime
                        .and_then(|t| DateTime::<Utc>::from_timestamp(i64::from(t), 0)),
                    name,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn download(&self, path: &str, dest: &Path) -> Result<(u64, String)> {
        let s = self.session().await?;
        let mut file = match s.open(self.remote(path)).await {
            Ok(f) => f,
            Err(e) => return Err(self.fail(path, e).await),
        };
        let mut out = HashingWriter::create(dest)
            .map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    *self.session.lock().await = None;
                    return Err(SourceError::transient(
                        &self.name,
                        path,
                        format!("read failed: {e}"),
                    ));
                }
            };
            if n == 0 {
                break;
            }
            out.write(&buf[..n])
                .map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))?;
        }
        out.finish()
            .map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))
    }

    pub async fn upload(&self, local: &Path, path: &str) -> Result<()> {
        let bytes = tokio::fs::read(local)
            .await
            .map_err(|e| SourceError::io(&self.name, &local.display().to_string(), &e))?;
        self.put(path, &bytes).await
    }

    pub async fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let s = self.session().await?;
        let dest = self.remote(path);
        if let Some((dir, _)) = dest.rsplit_once('/') {
            self.make_dirs(&s, dir).await;
        }
        let tmp = format!("{dest}.{}.part", uuid::Uuid::now_v7().simple());
        let mut file = match s.create(&tmp).await {
            Ok(f) => f,
            Err(e) => return Err(self.fail(path, e).await),
        };
        if let Err(e) = async {
            file.write_all(bytes).await?;
            file.flush().await?;
            file.shutdown().await
        }
        .await
        {
            *self.session.lock().await = None;
            return Err(SourceError::transient(
                &self.name,
                path,
                format!("write failed: {e}"),
            ));
        }
        // OpenSSH's rename refuses an existing target: remove it first.
        let _ = s.remove_file(&dest).await;
        if let Err(e) = s.rename(&tmp, &dest).await {
            let _ = s.remove_file(&tmp).await;
            return Err(self.fail(path, e).await);
        }
        Ok(())
    }

    async fn make_dirs(&self, s: &SftpSession, dir: &str) {
        let mut at = String::new();
        for part in dir.split('/') {
            if part.is_empty() {
                at.push('/');
                continue;
            }
            if !at.is_empty() && !at.ends_with('/') {
                at.push('/');
            }
            at.push_str(part);
            if part != "." && !matches!(s.try_exists(&at).await, Ok(true)) {
                let _ = s.create_dir(&at).await;
            }
        }
    }

    pub async fn get(&self, path: &str) -> Result<Vec<u8>> {
        let s = self.session().await?;
        match s.read(self.remote(path)).await {
            Ok(b) => Ok(b),
            Err(e) => Err(self.fail(path, e).await),
        }
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let s = self.session().await?;
        let dest = self.remote(to);
        if let Some((dir, _)) = dest.rsplit_once('/') {
            self.make_dirs(&s, dir).await;
        }
        let _ = s.remove_file(&dest).await;
        match s.rename(self.remote(from), dest).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(from, e).await),
        }
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        let s = self.session().await?;
        match s.remove_file(self.remote(path)).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(path, e).await),
        }
    }

    pub async fn exists(&self, path: &str) -> Result<bool> {
        let s = self.session().await?;
        match s.try_exists(self.remote(path)).await {
            Ok(b) => Ok(b),
            Err(e) => Err(self.fail(path, e).await),
        }
    }
}
