//! Files that a reader never sees half written: each writer writes under a temporary name of its own
//! beside the final file and renames it into place; the temporary files of writers that died are
//! told apart by their name and removed.

use std::io::Write;
use std::path::{Path, PathBuf};

/// `name.<pid>-<n>-<host>.part` beside `path`: unique per process, per call and per host, so two
/// writers of the same output (on one machine or on two sharing the folder) never share a
/// temporary file, and one left by a dead process can be told apart.
pub fn part_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}-{}.part", std::process::id(), host_tag()));
    path.with_file_name(name)
}

/// This host's name as 8 hexadecimal digits (FNV-1a): dot-free, and the same in every process.
fn host_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let hash = host.trim().bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        format!("{hash:08x}")
    })
}

/// The process of this host writing the temporary file `name`, when it is one that [`part_path`]
/// named here (a part written on another host sharing the folder is that host's to judge).
pub fn part_writer(name: &str) -> Option<u32> {
    let tag = name.strip_suffix(".part")?.rsplit('.').next()?;
    let mut fields = tag.split('-');
    let (pid, n, host) = (fields.next()?, fields.next()?, fields.next());
    n.parse::<u64>().ok()?;
    if fields.next().is_some() || host.is_some_and(|h| h != host_tag()) {
        return None;
    }
    pid.parse().ok()
}

/// A temporary file beside `target` (named by [`part_path`]): whoever writes it renames it onto
/// `target` with [`PartFile::commit`]; dropped uncommitted (the write failed), it is removed.
#[derive(Debug)]
pub struct PartFile {
    part: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PartFile {
    pub fn new(target: &Path) -> PartFile {
        PartFile {
            part: part_path(target),
            target: target.to_path_buf(),
            committed: false,
        }
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.part
    }

    /// Renames the written file onto the target, which readers then see whole.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.part, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Writes `bytes` to `path` through a [`PartFile`], synced before the rename: a reader (or a
/// restart after a crash) finds the previous file or the new one, never a part of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let part = PartFile::new(path);
    let mut file = std::fs::File::create(part.path())?;
    file.write_all(bytes)?;
    file.sync_all()?;
    part.commit()
}

/// Removes the temporary files ([`part_path`]) under `dir` and its subfolders whose writer no longer
/// runs (killed mid-write); returns how many. Those of running writers are left alone, and so is
/// every other file.
pub fn remove_stale_parts(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            removed += remove_stale_parts(&path);
            continue;
        }
        let Some(pid) = part_writer(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        if !writer_runs(pid) && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether process `pid` runs; without `/proc` to ask, every writer counts as running.
fn writer_runs(pid: u32) -> bool {
    pid == std::process::id()
        || !Path::new("/proc/self").exists()
        || Path::new(&format!("/proc/{pid}")).exists()
}

/// Bytes as lower-case hexadecimal (digests, token hashes).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A scratch folder of its own for each test, removed when the test ends.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("session-files-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

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
        assert_eq!(part_writer("x.mp4.12-0.part"), Some(12));
        let elsewhere = if host_tag() == "00000000" {
            "00000001"
        } else {
            "00000000"
        };
        assert_eq!(part_writer(&format!("x.mp4.12-0-{elsewhere}.part")), None);
    }

    #[test]
    fn two_writers_of_the_same_file_never_share_a_temporary_name() {
        let target = Path::new("/data/rec/cam1/index.json");
        let writers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || (0..500).map(|_| part_path(target)).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<PathBuf> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    #[test]
    fn a_crashed_writer_leaves_a_temporary_file_that_the_cleanup_removes() {
        let scratch = Scratch::new("crash");
        let dir = scratch.0.join("cam1");
        std::fs::create_dir_all(&dir).unwrap();
        // A writer that has exited: its pid no longer runs.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let target = dir.join("index.json");
        let left = format!("index.json.{dead}-7.part");
        std::fs::write(dir.join(&left), b"{\"segm").unwrap();
        // This process is writing another one right now.
        let writing = PartFile::new(&target);
        std::fs::write(writing.path(), b"{}").unwrap();
        std::fs::write(&target, b"{}").unwrap();
        std::fs::write(dir.join("notes.part"), b"not ours").unwrap();

        assert_eq!(remove_stale_parts(&scratch.0), 1);
        let ours = writing.path().file_name().unwrap().to_string_lossy();
        let mut kept = vec![ours.into_owned(), "index.json".into(), "notes.part".into()];
        kept.sort();
        assert_eq!(names_in(&dir), kept);
    }

    #[test]
    fn a_write_that_is_not_committed_leaves_nothing() {
        let scratch = Scratch::new("abandon");
        let target = scratch.0.join("model.bin");
        {
            let part = PartFile::new(&target);
            std::fs::write(part.path(), b"half a model").unwrap();
        }
        assert_eq!(names_in(&scratch.0), Vec::<String>::new());
        write_atomic(&target, b"whole").unwrap();
        assert_eq!(names_in(&scratch.0), ["model.bin"]);
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }

    #[test]
    fn a_reader_never_sees_half_a_file() {
        let scratch = Scratch::new("reader");
        let path = scratch.0.join("index.m3u8");
        let versions: Vec<Vec<u8>> = (0..4u8).map(|v| vec![b'a' + v; 256 * 1024]).collect();
        write_atomic(&path, &versions[0]).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (path, versions, stop) = (path.clone(), versions.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = w;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        write_atomic(&path, &versions[n % versions.len()]).unwrap();
                        n += 1;
                    }
                })
            })
            .collect();
        for _ in 0..300 {
            let read = std::fs::read(&path).unwrap();
            assert!(versions.contains(&read), "read {} bytes", read.len());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writers.into_iter().for_each(|w| w.join().unwrap());
        assert_eq!(names_in(&scratch.0), ["index.m3u8"]);
    }
}
