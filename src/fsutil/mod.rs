//! Local file-system helpers every layer shares: atomic writes (temporary
//! sibling, sync, rename, sync the folder), folder syncs, quiet removal of
//! scratch files, and this process's scratch space ([`scratch`]).
//!
//! It works on local paths only; sources (local, S3, SFTP) are `sources`'s.

pub mod scratch;

use std::path::Path;

use anyhow::Context as _;
use tracing::warn;

/// Syncs a directory so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `dest` through a temporary sibling: `fill` writes the temporary
/// file, which is then synced and renamed into place.
pub fn write_atomic(
    dest: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // `.NAME.ID.tmp`, NAME cut so the whole stays within 255 bytes (a long
    // destination name must not make its temporary name impossible).
    let name = dest
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let mut keep = name
        .len()
        .min(255 - ".".len() - ".".len() - 32 - ".tmp".len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        &name[..keep],
        uuid::Uuid::now_v7().simple()
    ));
    let result = (|| {
        fill(&tmp)?;
        std::fs::File::options()
            .write(true)
            .open(&tmp)?
            .sync_all()?;
        std::fs::rename(&tmp, dest)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` atomically (temporary name, sync, rename, sync dir).
pub fn write_atomic_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let parent = path.parent().context("no parent folder")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = parent.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("cannot sync {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} into place", path.display()))?;
    sync_dir(parent).ok();
    Ok(())
}

/// Removes a local scratch file, ignoring one that is already gone.
pub fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(file.path = %path.display(), "Cannot remove scratch file: {e}");
    }
}
