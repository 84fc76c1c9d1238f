//! File writes that a reader never sees half done: write under a temporary name, then rename.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

pub use session::part_path;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let part = part_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&part)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&part, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Removes the half-written files (`name.<pid>-<n>.part`) left under `dir` by processes that no
/// longer run (killed mid-write); returns how many. Files of running writers are left alone.
pub fn remove_stale_parts(dir: &Path) -> usize {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            removed += remove_stale_parts(&path);
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = session::part_writer(&name) else {
            continue;
        };
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if !alive && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}
