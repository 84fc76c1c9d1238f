//! Delivery of a session's press kit to the destinations of `[[delivery]]` in `aula.toml` (SFTP,
//! SMTP, a signed webhook): each tried with backoff, every attempt logged in the catalogue, and a
//! kit already delivered to a destination (same manifest checksum) not sent again unless asked.

mod sftp;
mod smtp;
mod webhook;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use session::{hex, ErrorKind, SessionId};
use sha2::{Digest, Sha256};

use crate::cancel::Cancel;
use crate::catalogue::{Attempt, Catalogue, DeliveryOutcome};
use crate::config::delivery::{Channel, Destination};
use crate::config::Config;

/// What to deliver: `aula deliver`'s options, the API's body and a deliver job's parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverRequest {
    #[schema(value_type = String)]
    pub id: SessionId,
    /// Destination names; none means every configured destination.
    #[serde(default)]
    pub to: Vec<String>,
    /// Send even to destinations that have this kit already.
    #[serde(default)]
    pub again: bool,
}

impl DeliverRequest {
    /// The destinations the request names (all of them when it names none).
    pub fn destinations<'c>(
        &self,
        config: &'c Config,
    ) -> Result<Vec<&'c Destination>, DeliverError> {
        if config.deliveries.is_empty() {
            return Err(DeliverError::NoDestinations(config.home.join("aula.toml")));
        }
        if self.to.is_empty() {
            return Ok(config.deliveries.iter().collect());
        }
        self.to
            .iter()
            .map(|name| {
                config
                    .deliveries
                    .iter()
                    .find(|d| &d.name == name)
                    .ok_or_else(|| DeliverError::UnknownDestination {
                        name: name.clone(),
                        known: config
                            .deliveries
                            .iter()
                            .map(|d| d.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("no delivery destinations: add [[delivery]] tables to {0}")]
    NoDestinations(PathBuf),
    #[error("to: no destination {name:?} (configured: {known})")]
    UnknownDestination { name: String, known: String },
    #[error("session {0} has no press kit yet (run aula publish {0})")]
    NoKit(String),
    #[error("delivery failed to {0}")]
    Failed(String),
}

impl DeliverError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeliverError::NoDestinations(_) | DeliverError::UnknownDestination { .. } => {
                ErrorKind::BadInput
            }
            DeliverError::NoKit(_) => ErrorKind::NotFound,
            DeliverError::Failed(_) => ErrorKind::Internal,
        }
    }
}

/// A channel's failure: which destination, what step, and what the server answered.
#[derive(Debug, thiserror::Error)]
#[error("{destination}: {step}: {answer}")]
pub struct SendError {
    pub destination: String,
    pub step: String,
    pub answer: String,
}

impl SendError {
    fn new(destination: &str, step: impl Into<String>, answer: impl ToString) -> SendError {
        SendError {
            destination: destination.to_owned(),
            step: step.into(),
            answer: answer.to_string(),
        }
    }
}

/// What became of one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Delivered,
    /// This kit had reached the destination before; nothing was sent.
    Skipped,
    Failed,
}

#[derive(Clone, Debug, Serialize)]
pub struct DestinationReport {
    pub name: String,
    pub kind: &'static str,
    pub status: Status,
    /// Attempts made now (0 when skipped).
    pub attempts: u32,
    /// The server's last answer (or error); for a skipped one, when it was delivered.
    pub answer: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeliverReport {
    pub session: String,
    /// The SHA-256 of the kit's manifest.
    pub kit_sha256: String,
    pub destinations: Vec<DestinationReport>,
}

impl DeliverReport {
    /// An error naming every destination that failed, if any did.
    pub fn check(&self) -> Result<(), DeliverError> {
        let failed: Vec<String> = self
            .destinations
            .iter()
            .filter(|d| d.status == Status::Failed)
            .map(|d| format!("{} ({})", d.name, d.answer))
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(DeliverError::Failed(failed.join("; ")))
        }
    }
}

/// One file of the kit, with where it is here and where it is served.
#[derive(Clone, Debug, Serialize)]
pub struct KitFile {
    /// Relative to the package folder (`clips/...`), or the ZIP's file name.
    pub path: String,
    #[serde(skip)]
    pub local: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub url: String,
}

/// One clip as the mail lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct KitClip {
    pub title: String,
    #[serde(default)]
    pub speakers: Vec<String>,
    pub start_ms: session::SessionMs,
    pub end_ms: session::SessionMs,
    pub media: String,
    #[serde(default)]
    pub excerpt: String,
}

/// A published press kit, as the channels send it.
#[derive(Clone, Debug)]
pub struct Kit {
    pub session: session::Session,
    /// The package folder's name, `<id>-press`.
    pub name: String,
    pub checksum: String,
    pub zip: KitFile,
    pub files: Vec<KitFile>,
    pub clips: Vec<KitClip>,
    /// The package's index page.
    pub index_url: String,
}

impl Kit {
    /// The session's kit as `aula publish` left it.
    pub async fn load(config: &Config, catalogue: &Catalogue, id: &SessionId) -> Result<Kit> {
        let session = catalogue.get(id).await?.session;
        let packages = config.packages_dir(id);
        let package = packages.join("press");
        let manifest_path = package.join("manifest.json");
        let zip_name = format!("{id}-press.zip");
        let zip_path = packages.join(&zip_name);
        if !manifest_path.is_file() || !zip_path.is_file() {
            return Err(DeliverError::NoKit(id.to_string()).into());
        }
        let (manifest_text, listed) = read_manifest(&manifest_path)?;
        let base = format!("{}/files/{id}/packages", config.public_url);
        let mut files: Vec<KitFile> = listed
            .into_iter()
            .map(|f| KitFile {
                local: package.join(&f.path),
                url: format!("{base}/press/{}", f.path),
                path: f.path,
                bytes: f.bytes,
                sha256: f.sha256,
            })
            .collect();
        let checksum = hex(&Sha256::digest(&manifest_text));
        files.push(KitFile {
            path: "manifest.json".into(),
            local: manifest_path,
            bytes: manifest_text.len() as u64,
            sha256: checksum.clone(),
            url: format!("{base}/press/manifest.json"),
        });
        let (zip_bytes, zip_sha256) = sha256_file(&zip_path)?;
        let metadata_path = package.join("metadata.json");
        #[derive(Deserialize)]
        struct Metadata {
            clips: Vec<KitClip>,
        }
        let metadata: Metadata = serde_json::from_slice(
            &std::fs::read(&metadata_path)
                .with_context(|| format!("reading {}", metadata_path.display()))?,
        )
        .with_context(|| format!("reading {}", metadata_path.display()))?;
        Ok(Kit {
            name: format!("{id}-press"),
            checksum,
            zip: KitFile {
                url: format!("{base}/{zip_name}"),
                path: zip_name,
                local: zip_path,
                bytes: zip_bytes,
                sha256: zip_sha256,
            },
            files,
            clips: metadata.clips,
            index_url: format!("{base}/press/index.html"),
            session,
        })
    }

    /// Where the package's file `path` is served.
    pub fn url_of(&self, path: &str) -> String {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map_or_else(String::new, |f| f.url.clone())
    }
}

/// One file of the kit's manifest.
#[derive(Deserialize)]
struct Listed {
    path: String,
    bytes: u64,
    sha256: String,
}

/// The manifest's bytes (its SHA-256 is the kit's identity) and the files it lists.
fn read_manifest(path: &Path) -> Result<(Vec<u8>, Vec<Listed>)> {
    #[derive(Deserialize)]
    struct Manifest {
        files: Vec<Listed>,
    }
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))?;
    Ok((text, manifest.files))
}

/// A published kit as the press office's page lists it, read without hashing the ZIP (a whole
/// session's ZIP runs to gigabytes).
#[derive(Clone, Debug, Serialize)]
pub struct Listing {
    /// The SHA-256 of the manifest, as the delivery log names the kit.
    pub checksum: String,
    /// The package's files, the manifest last.
    pub files: Vec<ListedFile>,
    pub zip: ListedFile,
}

/// A file of the kit: its path in the session's folder (`packages/press/...`) and its size.
#[derive(Clone, Debug, Serialize)]
pub struct ListedFile {
    pub path: String,
    pub bytes: u64,
}

/// The session's published kit; None before it is published.
pub fn listing(config: &Config, id: &SessionId) -> Result<Option<Listing>> {
    let packages = config.packages_dir(id);
    let manifest_path = packages.join("press").join("manifest.json");
    let zip_name = format!("{id}-press.zip");
    let zip_path = packages.join(&zip_name);
    if !manifest_path.is_file() || !zip_path.is_file() {
        return Ok(None);
    }
    let (text, listed) = read_manifest(&manifest_path)?;
    let zip_bytes = std::fs::metadata(&zip_path)
        .with_context(|| format!("reading {}", zip_path.display()))?
        .len();
    let mut files: Vec<ListedFile> = listed
        .into_iter()
        .map(|f| ListedFile {
            path: format!("packages/press/{}", f.path),
            bytes: f.bytes,
        })
        .collect();
    files.push(ListedFile {
        path: "packages/press/manifest.json".into(),
        bytes: text.len() as u64,
    });
    Ok(Some(Listing {
        checksum: hex(&Sha256::digest(&text)),
        files,
        zip: ListedFile {
            path: format!("packages/{zip_name}"),
            bytes: zip_bytes,
        },
    }))
}

fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((bytes, hex(&hasher.finalize())))
}

/// Sends the session's kit to the destinations the request names, each with its retries; a
/// destination that has this kit already is skipped unless `again`. `progress` hears of every
/// attempt. Failures are in the report (see [`DeliverReport::check`]), not an error.
pub async fn deliver(
    config: &Config,
    catalogue: &Catalogue,
    request: &DeliverRequest,
    job_id: Option<&str>,
    progress: &(dyn Fn(&str) + Send + Sync),
    cancel: Cancel,
) -> Result<DeliverReport> {
    let destinations = request.destinations(config)?;
    let kit = Kit::load(config, catalogue, &request.id).await?;
    let mut reports = Vec::new();
    for (d, destination) in destinations.iter().enumerate() {
        cancel.check()?;
        cancel.set_progress(d as f64 / destinations.len() as f64);
        let kind = destination.channel.kind();
        if !request.again {
            if let Some(before) = catalogue
                .delivered(request.id.as_str(), &destination.name, &kit.checksum)
                .await?
            {
                progress(&format!(
                    "{}: this kit was delivered on {}; nothing sent (ask again to send it anyway)",
                    destination.name, before.at
                ));
                reports.push(DestinationReport {
                    name: destination.name.clone(),
                    kind,
                    status: Status::Skipped,
                    attempts: 0,
                    answer: format!("delivered on {}", before.at),
                });
                continue;
            }
        }
        let retry = destination.retry;
        let mut report = DestinationReport {
            name: destination.name.clone(),
            kind,
            status: Status::Failed,
            attempts: 0,
            answer: String::new(),
        };
        for attempt in 1..=retry.attempts {
            cancel.check()?;
            report.attempts = attempt;
            progress(&format!(
                "{}: sending by {kind}, attempt {attempt} of {}",
                destination.name, retry.attempts
            ));
            let sent = send(destination, &kit).await;
            let (outcome, answer) = match sent {
                Ok(answer) => (DeliveryOutcome::Delivered, answer),
                Err(e) => (DeliveryOutcome::Failed, format!("{}: {}", e.step, e.answer)),
            };
            catalogue
                .log_delivery(
                    request.id.as_str(),
                    &Attempt {
                        destination: destination.name.clone(),
                        kind: kind.to_owned(),
                        kit_sha256: kit.checksum.clone(),
                        attempt,
                        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                        outcome,
                        answer: answer.clone(),
                        job_id: job_id.map(str::to_owned),
                    },
                )
                .await?;
            report.answer = answer;
            if outcome == DeliveryOutcome::Delivered {
                report.status = Status::Delivered;
                progress(&format!(
                    "{}: delivered: {}",
                    destination.name, report.answer
                ));
                break;
            }
            if attempt < retry.attempts {
                let wait_ms = retry.wait_ms(attempt);
                progress(&format!(
                    "{}: attempt {attempt} failed: {}; trying again in {wait_ms} ms",
                    destination.name, report.answer
                ));
                sleep_unless_cancelled(&cancel, wait_ms).await?;
            } else {
                progress(&format!(
                    "{}: failed after {attempt} attempt(s): {}",
                    destination.name, report.answer
                ));
            }
        }
        reports.push(report);
    }
    cancel.set_progress(1.0);
    Ok(DeliverReport {
        session: request.id.to_string(),
        kit_sha256: kit.checksum,
        destinations: reports,
    })
}

/// One attempt on the destination's channel (the clients block: they run off the async threads).
async fn send(destination: &Destination, kit: &Kit) -> Result<String, SendError> {
    let (destination, kit) = (destination.clone(), kit.clone());
    let name = destination.name.clone();
    tokio::task::spawn_blocking(move || match &destination.channel {
        Channel::Sftp(s) => sftp::send(&destination.name, s, &kit),
        Channel::Smtp(s) => smtp::send(&destination.name, s, &kit),
        Channel::Webhook(w) => webhook::send(&destination.name, w, &kit),
    })
    .await
    .unwrap_or_else(|e| Err(SendError::new(&name, "sending", e)))
}

async fn sleep_unless_cancelled(cancel: &Cancel, wait_ms: u64) -> Result<()> {
    let until = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    while tokio::time::Instant::now() < until {
        cancel.check()?;
        tokio::time::sleep_until(
            until.min(tokio::time::Instant::now() + Duration::from_millis(100)),
        )
        .await;
    }
    Ok(())
}
