//! File writes that a reader never sees half done ([`session::files`]), with the path in the error.

use std::path::Path;

use anyhow::{Context, Result};

pub use session::{part_path, remove_stale_parts};

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    session::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}
