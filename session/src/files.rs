//! The names of files being written: a temporary name beside the final one, unique to its writer,
//! renamed into place when complete, so that a reader never sees half a file.

use std::path::{Path, PathBuf};

/// `name.<pid>-<n>.part` beside `path`: unique per process and per call, so two writers of the same
/// output never share a temporary file, and one left by a dead process can be told apart.
pub fn part_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}.part", std::process::id()));
    path.with_file_name(name)
}

/// The process writing the temporary file `name`, when it is one that [`part_path`] named.
pub fn part_writer(name: &str) -> Option<u32> {
    let tag = name.strip_suffix(".part")?.rsplit('.').next()?;
    let (pid, n) = tag.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Bytes as lower-case hexadecimal (digests, token hashes).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_are_beside_the_output_and_never_repeat() {
        let a = part_path(Path::new("/data/clips/x.mp4"));
        let b = part_path(Path::new("/data/clips/x.mp4"));
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(Path::new("/data/clips")));
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("x.mp4.{}-", std::process::id())) && name.ends_with(".part")
        );
        assert_eq!(part_writer(&name), Some(std::process::id()));
        assert_eq!(part_writer("x.mp4"), None);
        assert_eq!(part_writer("index.json.part"), None);
    }
}
