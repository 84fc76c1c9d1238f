//! Where aula keeps its data and catalogue: command-line flags, then the environment (`AULA_HOME`,
//! `AULA_DATABASE`), then `$AULA_HOME/aula.toml`, then the defaults (`./aula-data`, SQLite inside it).

pub mod delivery;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use session::SessionId;

#[derive(Clone, Debug)]
pub struct Config {
    pub home: PathBuf,
    pub database_url: String,
    /// Where `aula serve` is reached from outside, for the links in feeds.
    pub public_url: String,
    /// Where press kits are delivered (`[[delivery]]`).
    pub deliveries: Vec<delivery::Destination>,
    /// The licence of the open data (`licence`, an SPDX identifier; CC-BY-4.0 by default).
    pub licence: String,
    /// The sites that may show the embedded player in a frame (`embed_origins`, such as
    /// `https://www.comune.example`); none but aula itself when empty.
    pub embed_origins: Vec<String>,
    /// The mail server that sends alerts to subscribers (`[alerts]`); no alerts without it.
    pub alerts: Option<delivery::SmtpServer>,
    /// The object store holding the sessions' outputs (`[storage]`, `kind = "s3"`); none: the
    /// data folder holds them.
    pub storage: Option<crate::storage::S3Settings>,
}

/// The optional `$AULA_HOME/aula.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    database: Option<String>,
    public_url: Option<String>,
    licence: Option<String>,
    #[serde(default)]
    embed_origins: Vec<String>,
    #[serde(default)]
    delivery: Vec<toml::Table>,
    alerts: Option<toml::Table>,
    storage: Option<toml::Table>,
}

impl Config {
    /// `home` and `database` are the already merged flag-or-environment values.
    pub fn resolve(home: Option<PathBuf>, database: Option<String>) -> Result<Config> {
        let home = home.unwrap_or_else(|| PathBuf::from("aula-data"));
        let file_path = home.join("aula.toml");
        let file: ConfigFile = match std::fs::read_to_string(&file_path) {
            Ok(text) => session::doc::from_toml(&text).with_context(|| {
                crate::BadInput(format!("bad configuration file {}", file_path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", file_path.display())),
        };
        let database_url = database
            .or(file.database)
            .unwrap_or_else(|| crate::catalogue::Catalogue::sqlite_url(&home));
        let public_url = file
            .public_url
            .unwrap_or_else(|| "http://localhost:8080".to_owned())
            .trim_end_matches('/')
            .to_owned();
        let deliveries = delivery::destinations(file.delivery, &home).with_context(|| {
            crate::BadInput(format!("bad configuration file {}", file_path.display()))
        })?;
        let embed_origins = file
            .embed_origins
            .into_iter()
            .map(|o| embed_origin(&o))
            .collect::<Result<Vec<_>>>()
            .with_context(|| {
                crate::BadInput(format!("bad configuration file {}", file_path.display()))
            })?;
        let alerts = file
            .alerts
            .map(|table| alerts_server(table, &home))
            .transpose()
            .with_context(|| {
                crate::BadInput(format!("bad configuration file {}", file_path.display()))
            })?;
        let storage = file
            .storage
            .map(storage_settings)
            .transpose()
            .with_context(|| {
                crate::BadInput(format!("bad configuration file {}", file_path.display()))
            })?
            .flatten();
        Ok(Config {
            home,
            database_url,
            public_url,
            deliveries,
            licence: file
                .licence
                .unwrap_or_else(|| crate::ops::open_data::DEFAULT_LICENCE.to_owned()),
            embed_origins,
            alerts,
            storage,
        })
    }

    /// Where a worker stages the files of job `id` when the outputs live in an object store.
    pub fn staging_dir(&self, id: &str) -> PathBuf {
        self.storage
            .as_ref()
            .and_then(|s| s.scratch.clone())
            .unwrap_or_else(|| self.home.join("staging"))
            .join(id)
    }

    /// Creates the data directory when the catalogue is about to be used.
    pub fn ensure_home(&self) -> Result<()> {
        std::fs::create_dir_all(&self.home)
            .with_context(|| format!("creating the data directory {}", self.home.display()))
    }

    /// The folder of one session's own outputs (transcripts, clips, packages, live). The checked
    /// id keeps it inside `sessions/`.
    pub fn session_dir(&self, id: &SessionId) -> PathBuf {
        self.sessions_dir().join(id.as_str())
    }

    /// The folder holding every session's folder.
    pub fn sessions_dir(&self) -> PathBuf {
        self.home.join("sessions")
    }

    /// The recorded sources' segments, indexes and joined files of a session.
    pub fn recordings_dir(&self, id: &SessionId) -> PathBuf {
        self.session_dir(id).join("recordings")
    }

    /// The transcript files and the timeline of a session.
    pub fn transcripts_dir(&self, id: &SessionId) -> PathBuf {
        self.session_dir(id).join("transcripts")
    }

    /// A session's clips.
    pub fn clips_dir(&self, id: &SessionId) -> PathBuf {
        self.session_dir(id).join("clips")
    }

    /// A session's press kit and its ZIP.
    pub fn packages_dir(&self, id: &SessionId) -> PathBuf {
        self.session_dir(id).join("packages")
    }

    /// A session's archive: the whole session as one HLS VOD, its captions, chapters and poster.
    pub fn archive_dir(&self, id: &SessionId) -> PathBuf {
        self.session_dir(id).join("archive")
    }

    /// A session's live HLS (multivariant playlist, renditions' playlists and segments).
    pub fn live_dir(&self, id: &SessionId) -> PathBuf {
        self.session_dir(id).join("live")
    }

    /// The user's output presets (`*.toml`), beside the built-in ones.
    pub fn presets_dir(&self) -> PathBuf {
        self.home.join("presets")
    }

    /// The installed Whisper models and their manifest.
    pub fn models_dir(&self) -> PathBuf {
        self.home.join("models")
    }

    /// Temporary work (PDF printing), removed when done.
    pub fn scratch_dir(&self) -> PathBuf {
        self.home.join("tmp")
    }

    /// The feed of every session's published clips.
    pub fn feed_path(&self) -> PathBuf {
        self.home.join("feed.xml")
    }

    /// Each source's state during a recording (the live control room reads it).
    pub fn live_sources(&self, id: &SessionId) -> PathBuf {
        self.recordings_dir(id).join("sources.json")
    }

    /// The media playlist of the live stream's top rendition, which tells whether it is still live.
    pub fn live_media_playlist(&self, id: &SessionId) -> PathBuf {
        self.live_dir(id).join("720p").join("index.m3u8")
    }
}

/// The `[alerts]` table: a mail server's settings, checked.
fn alerts_server(table: toml::Table, home: &Path) -> Result<delivery::SmtpServer> {
    let server = delivery::smtp_server(table, home)
        .map_err(|e| anyhow::anyhow!("alerts: {}", e.message()))?;
    delivery::check_smtp_server(&server)
        .map_err(|(field, problem)| anyhow::anyhow!("alerts: {field}: {problem}"))?;
    Ok(server)
}

pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// An `embed_origins` entry: `http://` or `https://`, a host and an optional port, nothing else
/// (it goes into a Content-Security-Policy header as it is).
fn embed_origin(origin: &str) -> Result<String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let ok = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    });
    if ok {
        Ok(origin.to_owned())
    } else {
        Err(crate::BadInput(format!(
            "embed_origins: {origin:?} is not an origin (expected https://host or http://host:port)"
        ))
        .into())
    }
}

/// `[storage]`: `kind = "local"` (the default: none) or `kind = "s3"` with its settings.
fn storage_settings(table: toml::Table) -> Result<Option<crate::storage::S3Settings>> {
    match table.get("kind").and_then(|k| k.as_str()) {
        Some("local") if table.len() == 1 => Ok(None),
        Some("local") => {
            Err(crate::BadInput("[storage] kind = \"local\" takes no other setting".into()).into())
        }
        Some("s3") => {
            let settings: crate::storage::S3Settings =
                session::doc::from_toml(&toml::to_string(&table)?)
                    .context("[storage] kind = \"s3\"")?;
            if !(settings.endpoint.starts_with("http://")
                || settings.endpoint.starts_with("https://"))
            {
                return Err(crate::BadInput(format!(
                    "[storage] endpoint {:?}: expected an http:// or https:// URL",
                    settings.endpoint
                ))
                .into());
            }
            Ok(Some(settings))
        }
        other => Err(crate::BadInput(format!(
            "[storage] kind {other:?}: expected \"local\" or \"s3\""
        ))
        .into()),
    }
}
