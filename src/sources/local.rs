//! A folder on this machine. Writes go to a hidden temporary name in the same
//! folder, are synced, then renamed into place (and the folder synced), so a
//! crash leaves either the old file or the whole new one.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{Entry, HashingWriter, Result, SourceError};
use crate::fsutil::{sync_dir, write_atomic};
use crate::paths::{self, Escaped};

#[derive(Debug)]
pub struct LocalSource {
    pub(crate) name: String,
    pub(crate) root: PathBuf,
}

impl LocalSource {
    pub fn new(name: &str, root: PathBuf) -> LocalSource {
        LocalSource {
            name: name.into(),
            root,
        }
    }

    /// The local path of a source path.
    pub fn resolve(&self, path: &str) -> PathBuf {
        path.split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .fold(self.root.clone(), |acc, p| acc.join(p))
    }

    fn err(&self, path: &str, e: &std::io::Error) -> SourceError {
        SourceError::io(&self.name, path, e)
    }

    pub async fn list(&self, dir: &str) -> Result<Vec<Entry>> {
        let folder = self.resolve(dir);
        let (name, dir) = (self.name.clone(), dir.to_owned());
        blocking(move || {
            let mut out = Vec::new();
            let entries = match std::fs::read_dir(&folder) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(SourceError::io(&name, &dir, &e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| SourceError::io(&name, &dir, &e))?;
                let meta = match entry.metadata() {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // vanished meanwhile
                    Err(e) => return Err(SourceError::io(&name, &dir, &e)),
                };
                if !meta.is_file() {
                    // Folders, FIFOs, sockets, devices and symbolic links (the
                    // listing does not follow them: the target may be anywhere).
                    note_skipped_once(&name, &entry.path(), &meta);
                    continue;
                }
                let file = match entry.file_name().into_string() {
                    Ok(f) => f,
                    Err(raw) => match rename_non_utf8(&folder, &raw) {
                        Some(f) => f,
                        None => continue,
                    },
                };
                out.push(Entry {
                    path: crate::paths::join(&[&dir, &file]),
                    name: file,
                    size: meta.len(),
                    modified: meta.modified().ok().map(DateTime::<Utc>::from),
                });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
    }

    pub async fn download(&self, path: &str, dest: &Path) -> Result<(u64, String)> {
        let src = self.resolve(path);
        let dest = dest.to_owned();
        let (name, p) = (self.name.clone(), path.to_owned());
        blocking(move || {
            use std::io::Read;
            let mut file = std::fs::File::open(&src).map_err(|e| SourceError::io(&name, &p, &e))?;
            let mut out = HashingWriter::create(&dest)
                .map_err(|e| SourceError::io(&name, &dest.display().to_string(), &e))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file
                    .read(&mut buf)
                    .map_err(|e| SourceError::io(&name, &p, &e))?;
                if n == 0 {
                    break;
                }
                out.write(&buf[..n])
                    .map_err(|e| SourceError::io(&name, &dest.display().to_string(), &e))?;
            }
            out.finish()
                .map_err(|e| SourceError::io(&name, &dest.display().to_string(), &e))
        })
        .await
    }

    /// Copies a local file into place atomically.
    pub async fn upload(&self, local: &Path, path: &str) -> Result<()> {
        let dest = self.resolve(path);
        let local = local.to_owned();
        let (name, p) = (self.name.clone(), path.to_owned());
        blocking(move || {
            write_atomic(&dest, |tmp| std::fs::copy(&local, tmp).map(|_| ()))
                .map_err(|e| SourceError::io(&name, &p, &e))
        })
        .await
    }

    pub async fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.resolve(path);
        let bytes = bytes.to_vec();
        let (name, p) = (self.name.clone(), path.to_owned());
        blocking(move || {
            write_atomic(&dest, |tmp| std::fs::write(tmp, &bytes))
                .map_err(|e| SourceError::io(&name, &p, &e))
        })
        .await
    }

    pub async fn get(&self, path: &str) -> Result<Vec<u8>> {
        let src = self.resolve(path);
        tokio::fs::read(&src).await.map_err(|e| self.err(path, &e))
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (src, dest) = (self.resolve(from), self.resolve(to));
        let (name, p) = (self.name.clone(), from.to_owned());
        blocking(move || {
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&src, &dest)?;
            if let Some(dir) = dest.parent() {
                sync_dir(dir)?;
            }
            Ok(())
        })
        .await
        .map_err(|e: std::io::Error| SourceError::io(&name, &p, &e))
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        tokio::fs::remove_file(self.resolve(path))
            .await
            .map_err(|e| self.err(path, &e))
    }

    pub async fn exists(&self, path: &str) -> Result<bool> {
        tokio::fs::try_exists(self.resolve(path))
            .await
            .map_err(|e| self.err(path, &e))
    }
}

/// Runs blocking file work off the async threads.
/// Notes an inbox entry that is not a regular file, once (see
/// [`super::note_skipped_once`]).
fn note_skipped_once(source: &str, path: &Path, meta: &std::fs::Metadata) {
    let kind = if meta.is_dir() {
        "a folder"
    } else if meta.file_type().is_symlink() {
        "a symbolic link"
    } else {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            "a FIFO"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a device or other special file"
        }
    };
    super::note_skipped_once(source, &path.to_string_lossy(), kind);
}

/// The UTF-8 name a file with a non-UTF-8 name in an inbox is renamed to,
/// in the same folder: its lossy name made safe by [`paths::component`],
/// with 8 hex digits of the SHA-256 of the raw bytes before the extension
/// (so `*.csv` patterns still match and two raw names never collide).
pub fn utf8_name_for(raw: &std::ffi::OsStr) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::ffi::OsStrExt;
    let lossy = raw.to_string_lossy();
    let hash = hex::encode(&Sha256::digest(raw.as_bytes())[..4]);
    let (stem, ext) = match lossy.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() && ext.len() <= 16 => {
            (stem, Some(ext))
        }
        _ => (lossy.as_ref(), None),
    };
    let stem = paths::component(stem);
    let stem = &stem[..stem.len().min(paths::MAX_COMPONENT)];
    match ext {
        Some(ext) => format!("{stem}-{hash}.{}", paths::component(ext)),
        None => format!("{stem}-{hash}"),
    }
}

/// Renames a file whose name is not UTF-8 (it could not be named in the
/// state store, a path or a log) to [`utf8_name_for`], once, with a
/// warning naming both; `None` when the rename fails (logged) or the new
/// name is taken.
fn rename_non_utf8(folder: &Path, raw: &std::ffi::OsStr) -> Option<String> {
    let new = utf8_name_for(raw);
    let (from, to) = (folder.join(raw), folder.join(&new));
    let lossy = raw.to_string_lossy();
    if to.exists() {
        return None;
    }
    match std::fs::rename(&from, &to) {
        Ok(()) => {
            tracing::warn!(
                file.name = %Escaped(&lossy),
                file.renamed_to = %new,
                "Renamed {} in the inbox to {new}: its name is not UTF-8, so it could not be taken under it.",
                Escaped(&lossy)
            );
            Some(new)
        }
        Err(e) => {
            tracing::warn!(file.name = %Escaped(&lossy), "Cannot rename {}, whose name is not UTF-8: {e}", Escaped(&lossy));
            None
        }
    }
}

async fn blocking<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, E> + Send + 'static,
) -> std::result::Result<T, E> {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking file task panicked")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn list_download_put_rename_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalSource::new("t", dir.path().to_owned());
        assert!(
            s.list("inbox").await.unwrap().is_empty(),
            "a missing folder lists as empty"
        );
        s.put("inbox/a.csv", b"hello").await.unwrap();
        std::fs::create_dir_all(dir.path().join("inbox/sub")).unwrap();
        let listed = s.list("inbox").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (
                listed[0].path.as_str(),
                listed[0].name.as_str(),
                listed[0].size
            ),
            ("inbox/a.csv", "a.csv", 5)
        );
        let (size, sha) = s
            .download("inbox/a.csv", &dir.path().join("copy"))
            .await
            .unwrap();
        assert_eq!(size, 5);
        assert_eq!(
            sha,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        s.rename("inbox/a.csv", "processed/a.csv").await.unwrap();
        assert!(!s.exists("inbox/a.csv").await.unwrap());
        assert_eq!(s.get("processed/a.csv").await.unwrap(), b"hello");
        s.delete("processed/a.csv").await.unwrap();
        assert!(matches!(
            s.delete("processed/a.csv").await,
            Err(SourceError::NotFound { .. })
        ));
        // A 255-byte name can be written (its temporary name is cut to fit).
        let long = format!("{}.csv", "L".repeat(251));
        s.put(&format!("inbox/{long}"), b"long").await.unwrap();
        assert_eq!(s.get(&format!("inbox/{long}")).await.unwrap(), b"long");
        s.delete(&format!("inbox/{long}")).await.unwrap();
        // No temporary files are left behind.
        let leftovers: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| p.rsplit('/').next().is_some_and(|n| n.ends_with(".tmp")))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
        out
    }

    #[test]
    fn non_utf8_names_get_a_stable_safe_name_that_keeps_the_extension() {
        use std::os::unix::ffi::OsStrExt;
        let a = utf8_name_for(std::ffi::OsStr::from_bytes(b"caf\xe9.csv"));
        let b = utf8_name_for(std::ffi::OsStr::from_bytes(b"caf\xe8.csv"));
        assert!(a.ends_with(".csv") && a.starts_with("caf_"), "{a}");
        assert_ne!(a, b, "the hash is of the raw bytes");
        assert_eq!(
            a,
            utf8_name_for(std::ffi::OsStr::from_bytes(b"caf\xe9.csv"))
        );
        let long = utf8_name_for(std::ffi::OsStr::from_bytes(&[0xff; 255]));
        assert!(long.len() <= 100 && !long.starts_with('.'), "{long}");
    }

    #[tokio::test]
    async fn listing_renames_non_utf8_names_and_skips_special_files() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(inbox.join("sub")).unwrap();
        std::fs::write(inbox.join(std::ffi::OsStr::from_bytes(b"bad\xff.csv")), "x").unwrap();
        std::fs::write(inbox.join("ok.csv"), "y").unwrap();
        std::os::unix::fs::symlink(inbox.join("ok.csv"), inbox.join("link.csv")).unwrap();
        let s = LocalSource::new("t", dir.path().to_owned());
        let names: Vec<String> = s
            .list("inbox")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"ok.csv".to_owned()));
        let renamed = names
            .iter()
            .find(|n| n.starts_with("bad_"))
            .expect("renamed");
        assert_eq!(std::fs::read_to_string(inbox.join(renamed)).unwrap(), "x");
        assert_eq!(
            s.list("inbox").await.unwrap().len(),
            2,
            "renamed once, stable after"
        );
    }
}
