//! Publishing: the session's press kit. A clip per agenda item (or per intervention) in each
//! preset, with subtitles, posters and transcript excerpts; the whole transcript; metadata; an
//! index page; the session's feed; a manifest of SHA-256 checksums; and a ZIP of it all. Publishing
//! again cuts only the clips whose words, times, preset or recording changed. Closed-session parts
//! never appear. The feed of all sessions (`$AULA_HOME/feed.xml`) is written again each time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use presets::PresetSet;
use publisher::package::{self, FeedItem, PackageClip};
use publisher::request::{self, ClipPlan, RequestError, Selection};
use serde::{Deserialize, Serialize};
use session::{hex, Session, SessionId, Timeline};
use sha2::{Digest, Sha256};

use super::clip::{self, ClipJob};
use crate::cancel::Cancel;
use crate::catalogue::{Catalogue, CatalogueError, ClipRecord};
use crate::config::Config;
use crate::fsutil::{part_path, write_atomic};
use crate::BadInput;

/// What to publish: `aula publish`'s options, the API's body and a publish job's parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    #[schema(value_type = String)]
    pub id: SessionId,
    /// One clip per agenda item, or per intervention (of a named speaker, at least 3 s long).
    #[serde(default)]
    pub per: Per,
    /// Presets.
    #[serde(default = "default_presets")]
    pub presets: Vec<String>,
}

pub fn default_presets() -> Vec<String> {
    vec!["web-720p".to_owned()]
}

impl PublishRequest {
    /// Refuses an unknown preset before any work, by its place in the list.
    pub fn check(&self, presets: &PresetSet) -> Result<(), BadInput> {
        if self.presets.is_empty() {
            return Err(BadInput("presets: name at least one preset".into()));
        }
        for (i, name) in self.presets.iter().enumerate() {
            presets
                .get(name)
                .map_err(|e| BadInput(format!("presets[{i}]: {e}")))?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    #[default]
    Item,
    Intervention,
}

#[derive(Debug, Serialize)]
pub struct PublishReport {
    pub package: PathBuf,
    pub zip: PathBuf,
    pub clips: usize,
    /// Clips cut this time; the others were up to date.
    pub cut: usize,
    pub files: usize,
    /// The whole session as one HLS VOD (`archive/`), when it could be made.
    pub archive: Option<super::archive::ArchiveReport>,
    /// What the subscribers to alerts were sent.
    pub alerts: super::alerts::AlertReport,
    pub warnings: Vec<String>,
}

const MIN_INTERVENTION_MS: u64 = 3000;

/// The share of a publish job's progress its clips fill; the archive fills the rest.
const CLIPS_SHARE: f64 = 0.9;

/// Builds (or brings up to date) the session's press kit.
pub async fn publish(
    config: &Config,
    catalogue: &Catalogue,
    args: &PublishRequest,
    cancel: Cancel,
) -> Result<PublishReport> {
    args.check(&super::load_presets(config)?)?;
    let stored = catalogue.get(&args.id).await?;
    let session = stored.session;
    let timeline = catalogue.timeline(&args.id).await?.timeline;
    let transcript = catalogue
        .transcript(&args.id)
        .await?
        .ok_or_else(|| CatalogueError::NoTranscript(args.id.to_string()))?;
    let set = super::load_presets(config)?;
    let presets = args
        .presets
        .iter()
        .map(|name| set.get(name).cloned())
        .collect::<Result<Vec<_>, _>>()?;
    let input = clip::recording(
        &session,
        &stored.base_dir,
        &config.recordings_dir(&session.id),
    )?;
    let mut warnings = Vec::new();
    let recording_ms = clip::recording_end(&input, false, &mut warnings)?.0;

    let selections: Vec<Selection> = match args.per {
        Per::Item => session
            .agenda
            .iter()
            .map(|a| Selection::Item(a.number))
            .collect(),
        Per::Intervention => timeline
            .interventions
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.person.is_some() && i.start_ms.until(i.end_ms) >= MIN_INTERVENTION_MS
            })
            .map(|(k, _)| Selection::Intervention(k + 1))
            .collect(),
    };
    let mut plans = Vec::new();
    for selection in &selections {
        match request::plan(selection, &session, &timeline, recording_ms, 300) {
            Ok((p, w)) => {
                warnings.extend(w);
                // A live recording may have started late or lost its source for a while.
                for plan in p {
                    match clip::fit_to_recording(plan, &input) {
                        Ok((plan, warning)) => {
                            plans.push(plan);
                            warnings.extend(warning);
                        }
                        Err(why) => warnings.push(format!("{why}: left out")),
                    }
                }
            }
            Err(e @ (RequestError::ItemNotAligned(_) | RequestError::AllClosed { .. })) => {
                warnings.push(e.to_string())
            }
            Err(e) => return Err(e.into()),
        }
    }
    if plans.is_empty() {
        return Err(BadInput(format!("session {}: nothing to publish", session.id)).into());
    }

    let session_dir = config.session_dir(&session.id);
    let package_dir = config.packages_dir(&session.id).join("press");
    let clips_dir = package_dir.join("clips");
    std::fs::create_dir_all(&clips_dir)
        .with_context(|| format!("creating {}", clips_dir.display()))?;
    let state_path = package_dir.join(".state.json");
    let mut state: BTreeMap<String, String> = std::fs::read_to_string(&state_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let program = clip::program_recording(&config.recordings_dir(&session.id));
    let known: Vec<ClipRecord> = catalogue.clips(&session.id).await?;
    let now = chrono::Utc::now();

    let mut package_clips = Vec::new();
    let mut cut = 0;
    let mut keep: Vec<String> = Vec::new();
    // The clips fill the first nine tenths of the progress, the archive the last.
    let cuts = (presets.len() * plans.len()).max(1) as f64 / CLIPS_SHARE;
    for (p, preset) in presets.iter().enumerate() {
        let subs = preset.subtitles.mode;
        clip::check_subtitles(preset, subs)?;
        let (input, as_recorded) = clip::source_for(preset, subs, &input, program.as_ref(), &plans);
        let recording_stamp = stamp(&input.path)?;
        let cut_from = input
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let job = ClipJob {
            session: session.clone(),
            timeline: timeline.clone(),
            preset: preset.clone(),
            subs,
            accurate: true,
            input,
            as_recorded,
            session_dir: session_dir.clone(),
            out_dir: clips_dir.clone(),
            cancel: cancel.clone(),
        };
        for (k, plan) in plans.iter().enumerate() {
            let done = (p * plans.len() + k) as f64;
            cancel.set_progress(done / cuts);
            let id = format!("{}-{}-{}", session.id, plan.slug, preset.name);
            let fingerprint = fingerprint(plan, &session, &timeline, preset, &recording_stamp)?;
            let up_to_date = state.get(&id) == Some(&fingerprint)
                && clips_dir
                    .join(format!("{id}.{}", preset.container.extension()))
                    .is_file();
            let record = match known.iter().find(|r| r.id == id).filter(|_| up_to_date) {
                Some(record) => record.clone(),
                None => {
                    cut += 1;
                    let share = done / cuts..(done + 1.0) / cuts;
                    let made = clip::produce(
                        catalogue,
                        &job,
                        std::slice::from_ref(plan),
                        Some(now),
                        share,
                    )
                    .await?;
                    made.into_iter().next().expect("one plan, one clip").1
                }
            };
            state.insert(id.clone(), fingerprint);
            let excerpt = excerpt(plan, &session, &timeline);
            write_atomic(&clips_dir.join(format!("{id}.txt")), excerpt.as_bytes())?;
            let exists = |ext: &str| clips_dir.join(format!("{id}.{ext}")).is_file();
            let media = format!("clips/{id}.{}", preset.container.extension());
            package_clips.push(PackageClip {
                id: id.clone(),
                title: plan.title.clone(),
                item: plan.item,
                act: act(&session, plan.item),
                speakers: names(&session, &record.speakers),
                start_ms: record.start_ms,
                end_ms: record.end_ms,
                preset: preset.name.clone(),
                media,
                subtitles: ["srt", "vtt"]
                    .iter()
                    .filter(|e| exists(e))
                    .map(|e| format!("clips/{id}.{e}"))
                    .collect(),
                poster: exists("jpg").then(|| format!("clips/{id}.jpg")),
                excerpt: excerpt.lines().skip(2).collect::<Vec<_>>().join(" "),
                bytes: record.bytes,
                media_type: preset.media_type().to_owned(),
                mode: record.mode.clone(),
                cut_from: Some(cut_from.clone()),
            });
            keep.push(id);
        }
    }
    // Clips of an earlier publication that no longer belong to the package go.
    for entry in std::fs::read_dir(&clips_dir)? {
        let path = entry?.path();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !keep.contains(&stem) {
            let _ = std::fs::remove_file(&path);
        }
    }
    state.retain(|id, _| keep.contains(id));

    // The whole transcript, without anything said behind closed doors.
    let mut open = timeline.clone();
    open.words.retain(|w| {
        !request::touches_closed(
            w.start_ms,
            w.end_ms.max(w.start_ms + 1),
            &session.closed_ranges,
        )
    });
    let transcript_dir = package_dir.join("transcript");
    std::fs::create_dir_all(&transcript_dir)?;
    super::outputs::write_transcript_files(
        &transcript_dir,
        &open.transcript(&transcript),
        &session,
    )?;
    let transcripts: Vec<String> = ["txt", "srt", "vtt", "json"]
        .iter()
        .map(|e| format!("transcript/transcript.{e}"))
        .collect();

    let preset_names: Vec<String> = presets.iter().map(|p| p.name.clone()).collect();
    write_atomic(
        &package_dir.join("metadata.json"),
        (serde_json::to_string_pretty(&package::metadata(
            &session,
            &package_clips,
            &preset_names,
        ))? + "\n")
            .as_bytes(),
    )?;
    write_atomic(
        &package_dir.join("index.html"),
        package::index_html(&session, &package_clips, &transcripts).as_bytes(),
    )?;
    let base_url = format!("{}/files/{}/packages/press", config.public_url, session.id);
    let items = feed_items(&session, &package_clips, &base_url, now);
    write_atomic(
        &package_dir.join("feed.xml"),
        package::rss(
            &format!("{} - {}", session.body, session.title),
            &format!("{}/sessions/{}", config.public_url, session.id),
            &format!("{} {}", session.title, session.start.format("%Y-%m-%d")),
            &items,
        )
        .as_bytes(),
    )?;
    write_atomic(&state_path, serde_json::to_string(&state)?.as_bytes())?;
    let files = manifest(&package_dir)?;
    let zip = config
        .packages_dir(&session.id)
        .join(format!("{}-press.zip", session.id));
    write_zip(&package_dir, &zip)?;
    let archive = match super::archive::build(
        config,
        catalogue,
        &session.id,
        cancel.clone(),
        CLIPS_SHARE..1.0,
    )
    .await
    {
        Ok(report) => {
            warnings.extend(report.warnings.iter().cloned());
            Some(report)
        }
        Err(e) if cancel.is_cancelled() => return Err(e),
        Err(e) => {
            warnings.push(format!("the archive could not be made: {e:#}"));
            None
        }
    };
    all_sessions_feed(config, catalogue, &set).await?;
    // The kit is out: a mail server that fails costs the subscribers their alert, not the kit.
    let alerts = match super::alerts::after_publish(config, catalogue, session.id.as_str()).await {
        Ok(report) => report,
        Err(e) => {
            warnings.push(format!("the alerts could not be sent: {e}"));
            super::alerts::AlertReport::default()
        }
    };
    warnings.extend(
        alerts
            .failed
            .iter()
            .map(|f| format!("an alert could not be mailed: {f}")),
    );

    Ok(PublishReport {
        package: package_dir,
        zip,
        clips: package_clips.len(),
        cut,
        files,
        archive,
        alerts,
        warnings,
    })
}

/// The act (`DCC 12/2021`) of agenda item `item`.
fn act(session: &Session, item: Option<u32>) -> Option<String> {
    item.and_then(|n| session.item(n))
        .and_then(|a| a.act.clone())
}

/// The names of the roster ids `speakers`.
fn names(session: &Session, speakers: &[String]) -> Vec<String> {
    speakers
        .iter()
        .map(|p| session.name_of(p).to_owned())
        .collect()
}

/// Size and modification time of the recording: a new recording means new clips.
fn stamp(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    Ok(format!("{}:{modified}", meta.len()))
}

/// Everything a clip is made from: its range, its words and speakers, the preset, the recording.
fn fingerprint(
    plan: &ClipPlan,
    session: &Session,
    timeline: &Timeline,
    preset: &presets::Preset,
    recording: &str,
) -> Result<String> {
    let words = request::clip_words(plan, session, timeline);
    let words: Vec<(&str, u64, u64, Option<&str>)> = words
        .iter()
        .map(|w| (w.text.as_str(), w.start_ms, w.end_ms, w.speaker.as_deref()))
        .collect();
    let names: Vec<(&str, &str, Option<&str>)> = session
        .roster
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str(), p.group.as_deref()))
        .collect();
    let text = serde_json::to_string(&(plan, words, names, preset, recording))?;
    Ok(hex(&Sha256::digest(text.as_bytes())))
}

/// The clip's title, its speakers and what they said, one paragraph a speaker.
fn excerpt(plan: &ClipPlan, session: &Session, timeline: &Timeline) -> String {
    let mut out = format!("{}\n{} - {}\n", plan.title, plan.start_ms, plan.end_ms);
    let mut current: Option<Option<String>> = None;
    for w in request::clip_words(plan, session, timeline) {
        if current.as_ref() != Some(&w.speaker) {
            let name = w
                .speaker
                .as_deref()
                .and_then(|p| session.person(p))
                .map_or("?", |p| p.name.as_str());
            out.push_str(&format!("\n{name}: "));
            current = Some(w.speaker.clone());
        } else {
            out.push(' ');
        }
        out.push_str(&w.text);
    }
    out.push('\n');
    out
}

fn feed_items(
    session: &Session,
    clips: &[PackageClip],
    base_url: &str,
    published: chrono::DateTime<chrono::Utc>,
) -> Vec<FeedItem> {
    clips
        .iter()
        .map(|c| FeedItem {
            clip: c.clone(),
            session_title: format!("{} {}", session.title, session.start.format("%Y-%m-%d")),
            published,
            url: format!("{base_url}/{}", c.media),
            subtitles_url: c
                .subtitles
                .iter()
                .find(|s| s.ends_with(".vtt"))
                .map(|s| format!("{base_url}/{s}")),
            poster_url: c.poster.as_ref().map(|p| format!("{base_url}/{p}")),
            votes: item_votes(session, c.item),
        })
        .collect()
}

/// The public votes on `item`, each in a line in the session's language.
fn item_votes(session: &Session, item: Option<u32>) -> Vec<String> {
    session
        .public_votes()
        .filter(|v| Some(v.item) == item)
        .map(|v| package::vote_summary(v, &session.language))
        .collect()
}

/// `manifest.json`: every file of the package with its size and SHA-256; returns how many.
fn manifest(dir: &Path) -> Result<usize> {
    let mut files = Vec::new();
    for path in walk(dir)? {
        let relative = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
        if relative == "manifest.json" || relative.starts_with('.') {
            continue;
        }
        let mut hasher = Sha256::new();
        let mut file = std::fs::File::open(&path)?;
        let bytes = std::io::copy(&mut file, &mut hasher)?;
        files.push(serde_json::json!({
            "path": relative,
            "bytes": bytes,
            "sha256": hex(&hasher.finalize()),
        }));
    }
    let count = files.len();
    write_atomic(
        &dir.join("manifest.json"),
        (serde_json::to_string_pretty(&serde_json::json!({ "files": files }))? + "\n").as_bytes(),
    )?;
    Ok(count + 1)
}

/// The files under `dir`, sorted, hidden ones and temporary `.part` files left out.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || name.ends_with(".part") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The package as one ZIP (media stored, documents deflated), written under a temporary name.
fn write_zip(dir: &Path, zip_path: &Path) -> Result<()> {
    let part = part_path(zip_path);
    let result = (|| -> Result<()> {
        let file = std::fs::File::create(&part)?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let root = zip_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for path in walk(dir)? {
            let relative = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
            let compressed = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("mp4" | "mp3" | "jpg")
            );
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(if compressed {
                    zip::CompressionMethod::Stored
                } else {
                    zip::CompressionMethod::Deflated
                })
                .large_file(true);
            zip.start_file(format!("{root}/{relative}"), options)?;
            std::io::copy(&mut std::fs::File::open(&path)?, &mut zip)?;
        }
        zip.finish()?.flush()?;
        Ok(())
    })();
    match result {
        Ok(()) => std::fs::rename(&part, zip_path)
            .with_context(|| format!("renaming to {}", zip_path.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e.context(format!("writing {}", zip_path.display())))
        }
    }
}

/// `$AULA_HOME/feed.xml`: every published clip of every session, newest session first.
async fn all_sessions_feed(
    config: &Config,
    catalogue: &Catalogue,
    presets: &PresetSet,
) -> Result<()> {
    let mut items = Vec::new();
    let mut sessions = catalogue.list().await?;
    sessions.sort_by_key(|s| std::cmp::Reverse(s.start));
    for summary in sessions {
        let session = catalogue.get(&summary.id).await?.session;
        for record in catalogue.clips(&summary.id).await? {
            let Some(published) = record.published_at else {
                continue;
            };
            let base = format!("{}/files/{}", config.public_url, record.session);
            let file = |ext: &str| {
                let path = Path::new(&record.path).with_extension(ext);
                config
                    .session_dir(&session.id)
                    .join(&path)
                    .is_file()
                    .then(|| format!("{base}/{}", path.display()))
            };
            items.push(FeedItem {
                clip: PackageClip {
                    id: record.id.clone(),
                    title: record.title.clone(),
                    item: record.item,
                    act: act(&session, record.item),
                    speakers: names(&session, &record.speakers),
                    start_ms: record.start_ms,
                    end_ms: record.end_ms,
                    preset: record.preset.clone(),
                    media: record.path.clone(),
                    subtitles: Vec::new(),
                    poster: None,
                    excerpt: record.title.clone(),
                    bytes: record.bytes,
                    media_type: presets
                        .get(&record.preset)
                        .map_or("application/octet-stream", presets::Preset::media_type)
                        .to_owned(),
                    mode: record.mode.clone(),
                    cut_from: None,
                },
                session_title: format!("{} {}", session.title, session.start.format("%Y-%m-%d")),
                published,
                url: format!("{base}/{}", record.path),
                subtitles_url: file("vtt"),
                poster_url: file("jpg"),
                votes: item_votes(&session, record.item),
            });
        }
    }
    let xml = package::rss(
        "aula: council session clips",
        &config.public_url,
        "Clips of the council's sessions, with subtitles",
        &items,
    );
    write_atomic(&config.feed_path(), xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use session::{SessionMs, VoteResult};

    use super::*;
    use crate::ops::testing::{self, plan};

    #[test]
    fn a_clip_s_fingerprint_changes_with_its_words_names_preset_and_recording_only() {
        let (session, timeline) = (testing::session(), testing::timeline());
        let set = presets::PresetSet::builtin();
        let web = set.get("web-720p").unwrap();
        let p = plan(5_000, 30_000);
        let print =
            |s: &Session, t: &Timeline, preset, rec| fingerprint(&p, s, t, preset, rec).unwrap();
        let base = print(&session, &timeline, web, "10:1");
        assert_eq!(base, print(&session, &timeline, web, "10:1"));
        assert_eq!(base.len(), 64);
        let mut words = timeline.clone();
        words.words[1].text = "Grazie,".into();
        assert_ne!(base, print(&session, &words, web, "10:1"));
        let mut outside = timeline.clone();
        outside.words[3].text = "Bene".into();
        assert_eq!(
            base,
            print(&session, &outside, web, "10:1"),
            "a word outside the clip"
        );
        let mut renamed = session.clone();
        renamed.roster[1].name = "Mario Rossi Jr.".into();
        assert_ne!(base, print(&renamed, &timeline, web, "10:1"));
        assert_ne!(
            base,
            print(&session, &timeline, set.get("audio-mp3").unwrap(), "10:1")
        );
        assert_ne!(base, print(&session, &timeline, web, "11:1"));
    }

    #[test]
    fn an_excerpt_has_a_paragraph_per_speaker_and_never_a_closed_word() {
        let (session, mut timeline) = (testing::session(), testing::timeline());
        timeline.words.push(session::TimelineWord {
            text: "segreto".into(),
            start_ms: SessionMs(51_000),
            end_ms: SessionMs(51_400),
            ..timeline.words[3].clone()
        });
        let text = excerpt(&plan(5_000, 60_000), &session, &timeline);
        assert_eq!(
            text,
            "Item 1: Bilancio\n00:00:05.000 - 00:01:00.000\n\nAnna Bianchi: Apriamo\n\
             Mario Rossi: Grazie presidente\nAnna Bianchi: Passiamo\n"
        );
    }

    #[test]
    fn feed_items_link_the_clip_its_subtitles_and_poster_and_say_the_item_s_votes() {
        let mut session = testing::session();
        for (item, minute, result) in [
            (1, "17:00:20", VoteResult::Approved),
            (2, "17:00:40", VoteResult::Rejected),
            (1, "17:00:52", VoteResult::Rejected),
        ] {
            session.votes.push(session::Vote {
                item,
                at: format!("2026-03-02T{minute}Z").parse().unwrap(),
                subject: format!("Voto {minute}"),
                result,
                counts: session::VoteCounts {
                    favour: 2,
                    against: 1,
                    abstained: 0,
                },
                ballots: Vec::new(),
            });
        }
        let clip = PackageClip {
            id: "s1-item-1-web-720p".into(),
            title: "Item 1: Bilancio".into(),
            item: Some(1),
            act: None,
            speakers: vec!["Mario Rossi".into()],
            start_ms: SessionMs(5_000),
            end_ms: SessionMs(30_000),
            preset: "web-720p".into(),
            media: "clips/s1-item-1-web-720p.mp4".into(),
            subtitles: vec![
                "clips/s1-item-1-web-720p.srt".into(),
                "clips/s1-item-1-web-720p.vtt".into(),
            ],
            poster: None,
            excerpt: String::new(),
            bytes: 1,
            media_type: "video/mp4".into(),
            mode: "encode".into(),
            cut_from: Some("camera.mp4".into()),
        };
        let base = "https://aula.example/files/s1/packages/press";
        let items = feed_items(&session, &[clip], base, chrono::Utc::now());
        assert_eq!(items[0].url, format!("{base}/clips/s1-item-1-web-720p.mp4"));
        assert_eq!(
            items[0].subtitles_url.as_deref(),
            Some(format!("{base}/clips/s1-item-1-web-720p.vtt").as_str())
        );
        assert_eq!(items[0].poster_url, None);
        assert_eq!(items[0].session_title, "Seduta 2026-03-02");
        assert_eq!(
            items[0].votes,
            ["Voto: Voto 17:00:20: approvato (favorevoli 2, contrari 1, astenuti 0)"],
            "item 1's vote, not item 2's nor the one in the closed part (50-55 s)"
        );
    }
}
