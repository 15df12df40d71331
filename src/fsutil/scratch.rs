//! Local scratch space (`<data_dir>/staging/`): staging copies of inbox
//! files, engine outputs before they are published, report and filing work.
//!
//! Each process works in a folder of its own, `staging/p<pid>-<id>/`, beside
//! a lock file `staging/p<pid>-<id>.lock` it holds (flock) for its whole
//! life. A folder whose lock can be taken belongs to a process that is gone
//! (killed, crashed, out of memory), so [`sweep`] removes it at the start of
//! every run, with whatever half-written files it holds; a live process's
//! folder is never touched, even by a second process on the same data folder.
//! Entries without a lock file (older layouts, strays) are removed once they
//! are a minute old.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

/// Processes' scratch folders and their held locks, by data folder.
static OWN: Mutex<BTreeMap<PathBuf, (PathBuf, File)>> = Mutex::new(BTreeMap::new());

/// How old an entry without a lock file must be before it is swept.
const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

/// This process's scratch folder under `data_dir` (created, and its lock
/// taken, on first use).
pub fn process_dir(data_dir: &Path) -> PathBuf {
    let mut own = OWN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((dir, _)) = own.get(data_dir) {
        return dir.clone();
    }
    let staging = data_dir.join("staging");
    let _ = std::fs::create_dir_all(&staging);
    for _ in 0..8 {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("p{}-{}", std::process::id(), &id[id.len() - 8..]);
        let lock_path = staging.join(format!("{name}.lock"));
        let Ok(lock) = File::create(&lock_path) else {
            break;
        };
        if lock.try_lock().is_err() {
            continue; // a sweeper got it first: pick another name
        }
        let dir = staging.join(&name);
        if std::fs::create_dir_all(&dir).is_ok() {
            own.insert(data_dir.to_owned(), (dir.clone(), lock));
            return dir;
        }
    }
    // No lock could be had (read-only or full disk): work unprotected; the
    // callers' own writes will report the real problem.
    let dir = staging.join(format!("p{}-unlocked", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Top-level entries removed (folders count once), relative to `staging/`.
    pub entries: Vec<String>,
    pub files: u64,
    pub bytes: u64,
}

/// Removes what stopped processes left in `<data_dir>/staging/` and logs it.
pub fn sweep(data_dir: &Path) -> Swept {
    let staging = data_dir.join("staging");
    let mine: Vec<PathBuf> = OWN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .map(|(d, _)| d.clone())
        .collect();
    let mut swept = Swept::default();
    let Ok(listing) = std::fs::read_dir(&staging) else {
        return swept;
    };
    let names: Vec<String> = listing
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let now = SystemTime::now();
    for name in &names {
        let path = staging.join(name);
        if mine.contains(&path) {
            continue;
        }
        if let Some(owner) = name.strip_suffix(".lock") {
            let Ok(lock) = File::options().write(true).open(&path) else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue; // its process is alive
            }
            let dir = staging.join(owner);
            if dir.exists() {
                remove(&dir, owner, &mut swept);
            }
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if names.iter().any(|n| n == &format!("{name}.lock")) {
            continue; // governed by its lock, above
        }
        let old = std::fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= UNLOCKED_GRACE));
        if old {
            remove(&path, name, &mut swept);
        }
    }
    if !swept.entries.is_empty() {
        info!(
            files = swept.files,
            bytes = swept.bytes,
            folder = %staging.display(),
            "Swept {} scratch file(s), {} bytes, left in {} by stopped processes: {}.",
            swept.files,
            swept.bytes,
            staging.display(),
            swept.entries.join(", ")
        );
    }
    swept
}

fn remove(path: &Path, name: &str, swept: &mut Swept) {
    let (files, bytes) = tally(path);
    let result = if path.is_dir() && !path.is_symlink() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Ok(()) => {
            swept.entries.push(name.to_owned());
            swept.files += files;
            swept.bytes += bytes;
        }
        Err(e) => {
            warn!(path = %path.display(), "Cannot remove the stale scratch entry {}: {e}", path.display())
        }
    }
}

/// Files and bytes under `path` (symbolic links are not followed).
fn tally(path: &Path) -> (u64, u64) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return (0, 0);
    };
    if !meta.is_dir() {
        return (1, meta.len());
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return (0, 0);
    };
    entries
        .flatten()
        .map(|e| tally(&e.path()))
        .fold((0, 0), |(f, b), (f2, b2)| (f + f2, b + b2))
}

/// Removes a scratch file or folder when dropped: on every way out of the
/// code that made it (errors and panics included). A kill skips destructors;
/// [`sweep`] covers that.
pub struct Guard(pub PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        let result = if self.0.is_dir() {
            std::fs::remove_dir_all(&self.0)
        } else {
            std::fs::remove_file(&self.0)
        };
        if let Err(e) = result
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!(file.path = %self.0.display(), "Cannot remove scratch {}: {e}", self.0.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_dead_processes_and_old_strays_but_never_a_live_folder() {
        let data = tempfile::tempdir().unwrap();
        let staging = data.path().join("staging");
        // A process that died: its lock file is free.
        std::fs::create_dir_all(staging.join("p1-dead/runs/r1/out")).unwrap();
        std::fs::write(
            staging.join("p1-dead/runs/r1/out/.findings.csv.r1.tmp"),
            "half",
        )
        .unwrap();
        std::fs::write(staging.join("p1-dead.lock"), "").unwrap();
        // A live process (held here).
        std::fs::create_dir_all(staging.join("p2-live")).unwrap();
        std::fs::write(staging.join("p2-live/copy"), "in use").unwrap();
        let held = File::create(staging.join("p2-live.lock")).unwrap();
        held.lock().unwrap();
        // Our own folder, and a fresh stray entry (may be another process's, just made).
        let own = process_dir(data.path());
        std::fs::write(own.join("mine"), "x").unwrap();
        std::fs::write(staging.join("fresh-stray"), "x").unwrap();
        let swept = sweep(data.path());
        assert_eq!(swept.entries, ["p1-dead"]);
        assert_eq!((swept.files, swept.bytes), (1, 4));
        assert!(!staging.join("p1-dead").exists() && !staging.join("p1-dead.lock").exists());
        assert!(
            staging.join("p2-live/copy").exists()
                && own.join("mine").exists()
                && staging.join("fresh-stray").exists()
        );
        drop(held);
        assert_eq!(
            sweep(data.path()).entries,
            ["p2-live"],
            "once its process is gone"
        );
    }

    #[test]
    fn guards_remove_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        std::fs::create_dir_all(p.join("y")).unwrap();
        drop(Guard(p.clone()));
        assert!(!p.exists());
    }
}
