//! Where the sessions' outputs live: the data folder (local, or an NFS mount the hosts share: the
//! default) or an S3-compatible object store (`[storage]` in aula.toml). Objects are named by their
//! path under the data folder (`sessions/ID/clips/...`), so the catalogue's relative paths hold on
//! both. A worker runs a job on a store in a scratch folder of its own: it takes the session's
//! files from the store, and puts back what the job made or changed, object by object, while the
//! job's lease holds.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::signer::{Method, Signer};
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::cancel::Cancel;

/// `[storage]` with `kind = "s3"`: the object store's endpoint, bucket and credentials.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// `s3`; `local` (or no `[storage]`) keeps everything in the data folder.
    pub kind: String,
    /// Such as `https://s3.eu-south-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Where workers stage a job's files (default: `staging/` in the data folder).
    pub scratch: Option<PathBuf>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object store {endpoint}: {source}")]
    Open {
        endpoint: String,
        source: object_store::Error,
    },
    #[error("object {key} in the store: {source}")]
    Object {
        key: String,
        source: object_store::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("object {0:?} in the store is not a path inside the data folder")]
    BadKey(String),
    #[error("the job's lease was lost before its outputs were all put in the store")]
    LeaseLost,
}

impl StorageError {
    pub fn kind(&self) -> session::ErrorKind {
        match self {
            StorageError::LeaseLost => session::ErrorKind::Cancelled,
            _ => session::ErrorKind::Internal,
        }
    }
}

type Result<T, E = StorageError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The files a job found in its scratch folder when it started: relative path, size, time.
pub type Staged = HashMap<String, (u64, SystemTime)>;

/// An S3-compatible object store holding the data folder's `sessions/`.
#[derive(Clone, Debug)]
pub struct ObjectStorage {
    store: Arc<AmazonS3>,
}

impl ObjectStorage {
    pub fn open(settings: &S3Settings) -> Result<ObjectStorage> {
        let store = AmazonS3Builder::new()
            .with_endpoint(&settings.endpoint)
            .with_allow_http(settings.endpoint.starts_with("http://"))
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            .build()
            .map_err(|source| StorageError::Open {
                endpoint: settings.endpoint.clone(),
                source,
            })?;
        Ok(ObjectStorage {
            store: Arc::new(store),
        })
    }

    fn object(key: &str) -> impl FnOnce(object_store::Error) -> StorageError + '_ {
        move |source| StorageError::Object {
            key: key.to_owned(),
            source,
        }
    }

    /// Copies every object under `prefix` (such as `sessions/ID/`) into `root` at its own path;
    /// returns what `root` then holds, to tell later what changed.
    pub async fn fetch(&self, prefix: &str, root: &Path) -> Result<Staged> {
        let mut listed = self.store.list(Some(&Key::from(prefix)));
        let mut keys = Vec::new();
        while let Some(meta) = listed.next().await {
            keys.push(meta.map_err(Self::object(prefix))?.location.to_string());
        }
        for key in &keys {
            let path = root.join(relative(key)?);
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
            }
            let mut body = self
                .store
                .get(&Key::from(key.as_str()))
                .await
                .map_err(Self::object(key))?
                .into_stream();
            let mut file = tokio::fs::File::create(&path).await.map_err(io(&path))?;
            while let Some(chunk) = body.next().await {
                file.write_all(&chunk.map_err(Self::object(key))?)
                    .await
                    .map_err(io(&path))?;
            }
            file.flush().await.map_err(io(&path))?;
        }
        staged(root)
    }

    /// Puts in the store every file under `root` that is new or changed since `before`, and
    /// deletes the objects of the files gone; checks `cancel` (the job's lease) before each.
    /// Returns how many objects were written.
    pub async fn put_back(&self, root: &Path, before: &Staged, cancel: &Cancel) -> Result<usize> {
        let (now, written) = self.put_changed(root, "", before, cancel).await?;
        for key in before.keys().filter(|k| !now.contains_key(*k)) {
            if cancel.is_cancelled() {
                return Err(StorageError::LeaseLost);
            }
            self.store
                .delete(&Key::from(key.as_str()))
                .await
                .map_err(Self::object(key))?;
        }
        Ok(written)
    }

    /// Puts the files under `root` that are new or changed since `before` at `prefix` + their
    /// path, playlists after the segments they list; returns what `root` holds and how many went.
    async fn put_changed(
        &self,
        root: &Path,
        prefix: &str,
        before: &Staged,
        cancel: &Cancel,
    ) -> Result<(Staged, usize)> {
        let now = staged(root)?;
        let mut changed: Vec<String> = now
            .iter()
            .filter(|(key, meta)| before.get(*key) != Some(meta))
            .map(|(key, _)| key.clone())
            .collect();
        changed.sort_by(|a, b| (a.ends_with(".m3u8"), a).cmp(&(b.ends_with(".m3u8"), b)));
        for key in &changed {
            if cancel.is_cancelled() {
                return Err(StorageError::LeaseLost);
            }
            let path = root.join(key);
            let mut file = tokio::fs::File::open(&path).await.map_err(io(&path))?;
            let mut upload = object_store::buffered::BufWriter::new(
                self.store.clone(),
                Key::from(format!("{prefix}{key}")),
            );
            tokio::io::copy(&mut file, &mut upload)
                .await
                .map_err(io(&path))?;
            upload.shutdown().await.map_err(io(&path))?;
        }
        Ok((now, changed.len()))
    }

    /// Copies the live HLS in `dir` (only public segments ever reach it) to `prefix` in the store
    /// as it is made: every second until `stop`, then once more for the ended playlists. The
    /// store can then be a CDN's origin. A failed pass is logged and tried again.
    pub async fn mirror(&self, dir: PathBuf, prefix: String, stop: Cancel) {
        let mut sent = Staged::new();
        let keep_going = Cancel::default();
        loop {
            let last = stop.is_cancelled();
            match self.put_changed(&dir, &prefix, &sent, &keep_going).await {
                Ok((now, _)) => sent = now,
                Err(e) => tracing::warn!("live HLS not copied to the store: {e}"),
            }
            if last {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Whether the object at `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.store.head(&Key::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(StorageError::Object {
                key: key.to_owned(),
                source,
            }),
        }
    }

    /// A URL that downloads `key` without credentials until `expires_in` has passed.
    pub async fn download_url(&self, key: &str, expires_in: Duration) -> Result<String> {
        let url = self
            .store
            .signed_url(Method::GET, &Key::from(key), expires_in)
            .await
            .map_err(Self::object(key))?;
        Ok(url.to_string())
    }

    /// Deletes every object under `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        let mut listed = self.store.list(Some(&Key::from(prefix)));
        let mut keys = Vec::new();
        while let Some(meta) = listed.next().await {
            keys.push(meta.map_err(Self::object(prefix))?.location);
        }
        for key in &keys {
            self.store
                .delete(key)
                .await
                .map_err(Self::object(key.as_ref()))?;
        }
        Ok(keys.len())
    }
}

/// `key` as a relative path made only of normal parts (never `..`, never absolute).
fn relative(key: &str) -> Result<PathBuf> {
    let path = PathBuf::from(key);
    if key.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(StorageError::BadKey(key.to_owned()));
    }
    Ok(path)
}

/// The regular files under `root` (links not followed, half files left out), by relative path.
pub fn staged(root: &Path) -> Result<Staged> {
    fn walk(root: &Path, dir: &Path, out: &mut Staged) -> Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(dir))?;
            let kind = entry.file_type().map_err(io(dir))?;
            let path = entry.path();
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() && path.extension().is_none_or(|e| e != "part") {
                let meta = entry.metadata().map_err(io(&path))?;
                let key = path
                    .strip_prefix(root)
                    .expect("walked under root")
                    .to_string_lossy()
                    .into_owned();
                let modified = meta.modified().map_err(io(&path))?;
                out.insert(key, (meta.len(), modified));
            }
        }
        Ok(())
    }
    let mut out = Staged::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_outside_the_data_folder_is_refused() {
        assert!(relative("sessions/s1/clips/a.mp3").is_ok());
        for bad in [
            "",
            "../etc/passwd",
            "/etc/passwd",
            "sessions/../../x",
            "./a",
        ] {
            assert!(
                matches!(relative(bad), Err(StorageError::BadKey(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn staging_lists_files_and_leaves_out_links_and_half_files() {
        let dir = tempfile::tempdir().unwrap();
        let clips = dir.path().join("sessions/s1/clips");
        std::fs::create_dir_all(&clips).unwrap();
        std::fs::write(clips.join("a.mp3"), b"abc").unwrap();
        std::fs::write(crate::fsutil::part_path(&clips.join("b.mp3")), b"half").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("models")).unwrap();
        let staged = staged(dir.path()).unwrap();
        let keys: Vec<&String> = staged.keys().collect();
        assert_eq!(keys, ["sessions/s1/clips/a.mp3"]);
        assert_eq!(staged["sessions/s1/clips/a.mp3"].0, 3);
    }
}
