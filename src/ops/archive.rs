//! The archive: the whole session as it happened, one public HLS VOD in `archive/`, made from the
//! program recording (else the recording clips are cut from) without re-encoding but at the cuts:
//! every closed part is cut out and replaced by a short card ("Seduta segreta"), captions come
//! from the corrected transcript, chapters from the agenda, and a poster frame goes beside it.
//! Publishing builds it; the public sees it only while the session's closed parts are the ones
//! it was made for.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pipeline::card::CardSpec;
use pipeline::hls::{self, MediaSegment, Rendition};
use publisher::clip::{self as cutter, ClipSpec};
use publisher::cues::{self, CueLayout, CueWord};
use publisher::request;
use publisher::vod::{self, VodMap, VodSegment};
use serde::{Deserialize, Serialize};
use session::{ClosedRange, Session, SessionId, SessionMs, Timeline};

use super::clip;
use crate::cancel::Cancel;
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media::MediaFile;

/// How long the card of a closed part plays.
pub const CARD_MS: u64 = 3_000;
/// The segments' length (the program has a keyframe every second or two).
const SEGMENT_MS: u64 = 2_000;
/// The rendition's folder in `archive/`.
const RENDITION: &str = "720p";

/// `archive/archive.json`: how the VOD maps onto the session, and what it was made for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveIndex {
    pub map: VodMap,
    /// The closed parts it leaves out, `(start_ms, end_ms)` in session time.
    pub closed: Vec<(u64, u64)>,
    /// `program` (the live program's recording) or the source it was cut from.
    pub source: String,
    /// The rendition's width and height.
    pub width: u32,
    pub height: u32,
    /// The SHA-256 of what it was made from (the recording, the session, the timeline, the
    /// preset): the same again, and publishing keeps it.
    #[serde(default)]
    pub fingerprint: String,
    #[serde(default)]
    pub pieces: usize,
    #[serde(default)]
    pub cards: usize,
    #[serde(default)]
    pub segments: usize,
}

/// What building the archive made.
#[derive(Clone, Debug, Serialize)]
pub struct ArchiveReport {
    pub dir: PathBuf,
    pub duration_ms: u64,
    pub pieces: usize,
    pub cards: usize,
    pub segments: usize,
    /// Nothing it is made from had changed: the archive was kept as it was.
    pub kept: bool,
    pub warnings: Vec<String>,
}

/// The closed parts as the index keeps them.
fn closed_bounds(session: &Session) -> Vec<(u64, u64)> {
    session
        .closed_ranges
        .iter()
        .map(|r| {
            let (a, b) = r.bounds();
            (a.0, b.0)
        })
        .collect()
}

/// The archive's index when it was made for the closed parts `session` has now; none otherwise
/// (never built, or a closed part declared or changed since: the public must not see it).
pub fn current(config: &Config, session: &Session) -> Option<ArchiveIndex> {
    let text =
        std::fs::read_to_string(config.archive_dir(&session.id).join("archive.json")).ok()?;
    let index: ArchiveIndex = serde_json::from_str(&text).ok()?;
    (index.closed == closed_bounds(session)).then_some(index)
}

/// The recording the archive is made from: the live program's, else the one clips are cut from.
fn input(config: &Config, session: &Session, base_dir: &Path) -> Result<(MediaFile, String)> {
    let recordings = config.recordings_dir(&session.id);
    if let Ok(index) = pipeline::RecordingIndex::load(&recordings.join("program")) {
        if let Some(file) = index.finalized.as_deref() {
            return Ok((
                MediaFile {
                    path: recordings.join(file),
                    index: Some(index),
                },
                "program".into(),
            ));
        }
    }
    let media = clip::recording(session, base_dir, &recordings)?;
    let name = media
        .path
        .file_stem()
        .map_or_else(|| "recording".into(), |s| s.to_string_lossy().into_owned());
    Ok((media, name))
}

/// One stretch of the VOD to make.
#[derive(Clone, Debug, PartialEq)]
enum Plan {
    Piece { start_ms: u64, end_ms: u64 },
    Card { start_ms: u64, end_ms: u64 },
}

/// The pieces of `start_ms..end_ms` (what the recording spans) outside the closed parts and the
/// recording's gaps, with a card wherever a closed part was left out (a gap alone gets none).
fn plan(start_ms: u64, end_ms: u64, closed: &[ClosedRange], gaps: &[(u64, u64)]) -> Vec<Plan> {
    let mut removed: Vec<ClosedRange> = closed.to_vec();
    removed.extend(gaps.iter().map(|&(a, b)| ClosedRange {
        start_ms: SessionMs(a),
        end_ms: SessionMs(b),
        reason: None,
    }));
    let parts = request::open_parts(SessionMs(start_ms), SessionMs(end_ms), &removed);
    let closed_in = |a: u64, b: u64| {
        a < b
            && closed
                .iter()
                .any(|c| c.overlaps(SessionMs(a), SessionMs(b)))
    };
    let mut out = Vec::new();
    let mut at = start_ms;
    for (a, b) in parts {
        if closed_in(at, a.0) {
            out.push(Plan::Card {
                start_ms: at,
                end_ms: a.0,
            });
        }
        out.push(Plan::Piece {
            start_ms: a.0,
            end_ms: b.0,
        });
        at = b.0;
    }
    if closed_in(at, end_ms) {
        out.push(Plan::Card {
            start_ms: at,
            end_ms,
        });
    }
    out
}

/// Builds `archive/` for a published session: in `archive.part/`, renamed into place once whole.
pub async fn build(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
    cancel: Cancel,
    share: std::ops::Range<f64>,
) -> Result<ArchiveReport> {
    let stored = catalogue.get(id).await?;
    let session = stored.session;
    let timeline = catalogue.timeline(id).await?.timeline;
    let (media, source) = input(config, &session, &stored.base_dir)?;
    let mut warnings = Vec::new();
    let end_ms = clip::recording_end(&media, false, &mut warnings)?.0;
    let gaps = media.index.as_ref().map(|i| i.gaps()).unwrap_or_default();
    // A live recording starts a moment after the session's first second.
    let start_ms = media
        .index
        .as_ref()
        .and_then(|i| i.segments.first())
        .map_or(0, |s| s.start_ms);
    let plans = plan(start_ms, end_ms, &session.closed_ranges, &gaps);
    let presets = super::load_presets(config)?;
    let preset = presets.get("archive")?.clone();
    let dir = config.archive_dir(id);
    let fingerprint = fingerprint(&media, &plans, &session, &timeline, &preset)?;
    if let Some(index) = current(config, &session).filter(|i| i.fingerprint == fingerprint) {
        return Ok(ArchiveReport {
            dir,
            duration_ms: index.map.duration_ms(),
            pieces: index.pieces,
            cards: index.cards,
            segments: index.segments,
            kept: true,
            warnings,
        });
    }
    let work = dir.with_file_name("archive.part");
    let job = Job {
        session,
        timeline,
        media,
        source,
        plans,
        preset,
        fingerprint,
        work: work.clone(),
        cancel,
        share,
    };
    let made = tokio::task::spawn_blocking(move || {
        if job.work.exists() {
            std::fs::remove_dir_all(&job.work)?;
        }
        let made = job.make();
        if made.is_err() {
            let _ = std::fs::remove_dir_all(&job.work);
        }
        made
    })
    .await
    .context("the archive's worker stopped")??;
    let old = dir.with_file_name("archive.old");
    if dir.exists() {
        std::fs::rename(&dir, &old).with_context(|| format!("moving {}", dir.display()))?;
    }
    std::fs::rename(&work, &dir).with_context(|| format!("moving {}", work.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    warnings.extend(made.warnings);
    Ok(ArchiveReport {
        dir,
        warnings,
        ..made
    })
}

/// What an archive is made from, hashed: the recording (its path, size and modification time),
/// the plan of pieces and cards, the session document, the timeline and the preset.
fn fingerprint(
    media: &MediaFile,
    plans: &[Plan],
    session: &Session,
    timeline: &Timeline,
    preset: &presets::Preset,
) -> Result<String> {
    use sha2::{Digest, Sha256};
    let meta = std::fs::metadata(&media.path)
        .with_context(|| format!("reading {}", media.path.display()))?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut hash = Sha256::new();
    hash.update(format!(
        "{}\n{}\n{modified_ns}\n",
        media.path.display(),
        meta.len()
    ));
    hash.update(format!("{plans:?}\n{preset:?}\n"));
    hash.update(serde_json::to_vec(session)?);
    hash.update(serde_json::to_vec(timeline)?);
    Ok(session::hex(&hash.finalize()))
}

/// The blocking part of [`build`]: the media work in `work/`.
struct Job {
    session: Session,
    timeline: Timeline,
    media: MediaFile,
    source: String,
    plans: Vec<Plan>,
    preset: presets::Preset,
    fingerprint: String,
    work: PathBuf,
    cancel: Cancel,
    /// The part of the job's progress this build fills.
    share: std::ops::Range<f64>,
}

impl Job {
    fn make(&self) -> Result<ArchiveReport> {
        let rendition_dir = self.work.join(RENDITION);
        std::fs::create_dir_all(&rendition_dir)
            .with_context(|| format!("creating {}", rendition_dir.display()))?;
        let format = publisher::probe::format(&self.media.path)?;
        let mut map = VodMap::default();
        let mut segments: Vec<MediaSegment> = Vec::new();
        let mut card: Option<Vec<VodSegment>> = None;
        let (mut pieces, mut cards) = (0, 0);
        let total = self.plans.len().max(1) as f64;
        for (k, plan) in self.plans.iter().enumerate() {
            self.cancel.check()?;
            self.progress(k as f64 / total);
            let made = match *plan {
                Plan::Piece { start_ms, end_ms } => {
                    let made = self.piece(k, start_ms, end_ms, &rendition_dir)?;
                    map.push_piece(start_ms, end_ms, total_ms(&made));
                    pieces += 1;
                    made
                }
                Plan::Card { start_ms, end_ms } => {
                    let made = match &card {
                        Some(made) => made.clone(),
                        None => card.insert(self.card(&format, &rendition_dir)?).clone(),
                    };
                    map.push_card(start_ms, end_ms, total_ms(&made));
                    cards += 1;
                    made
                }
            };
            let first = segments.len();
            segments.extend(made.into_iter().map(|s| MediaSegment {
                file: s.file,
                duration_ms: s.duration_ms,
                bytes: s.bytes,
                discontinuity: false,
                session_span: None,
                captured_at: None,
            }));
            if first > 0 {
                segments[first].discontinuity = true;
            }
        }
        write_atomic(
            &rendition_dir.join("index.m3u8"),
            hls::media_playlist(&segments, true).as_bytes(),
        )?;
        write_atomic(
            &self.work.join("index.m3u8"),
            hls::multivariant(
                &[Rendition {
                    name: RENDITION.into(),
                    width: format.width,
                    height: format.height,
                    bandwidth_bps: hls::peak_bps(&segments).unwrap_or(2_000_000),
                }],
                None,
            )
            .as_bytes(),
        )?;
        self.texts(&map)?;
        let mut warnings = Vec::new();
        if let Err(e) = self.poster(&map) {
            warnings.push(format!("archive poster: {e}"));
        }
        let index = ArchiveIndex {
            closed: closed_bounds(&self.session),
            source: self.source.clone(),
            width: format.width,
            height: format.height,
            map,
            fingerprint: self.fingerprint.clone(),
            pieces,
            cards,
            segments: segments.len(),
        };
        write_atomic(
            &self.work.join("archive.json"),
            serde_json::to_string_pretty(&index)?.as_bytes(),
        )?;
        self.progress(1.0);
        Ok(ArchiveReport {
            dir: self.work.clone(),
            duration_ms: index.map.duration_ms(),
            pieces,
            cards,
            segments: segments.len(),
            kept: false,
            warnings,
        })
    }

    fn progress(&self, done: f64) {
        let share = &self.share;
        self.cancel
            .set_progress(share.start + (share.end - share.start) * done);
    }

    /// Cuts `start_ms..end_ms` (session time) out of the recording, frame-accurate, and segments it.
    fn piece(&self, k: usize, start_ms: u64, end_ms: u64, dir: &Path) -> Result<Vec<VodSegment>> {
        let file_ms = |at: u64| {
            self.media
                .media_ms(SessionMs(at))
                .with_context(|| format!("{} is not in the recording", SessionMs(at)))
        };
        let (from_ms, to_ms) = (file_ms(start_ms)?, file_ms(end_ms.saturating_sub(1))? + 1);
        let cut = self.work.join(format!(".piece-{k}.mp4"));
        let spec = ClipSpec {
            start_ms: from_ms,
            end_ms: to_ms,
            preset: &self.preset,
            accurate: true,
            burn: None,
            soft: None,
            as_recorded: false,
        };
        let go_on = |_at_ms: u64| !self.cancel.is_cancelled();
        cutter::cut(&self.media.path, &cut, &spec, &go_on)?;
        let made = vod::segment(&cut, dir, &format!("piece-{k:03}"), SEGMENT_MS);
        let _ = std::fs::remove_file(&cut);
        Ok(made?)
    }

    /// The card of a closed part, made once, segmented like a piece.
    fn card(&self, format: &publisher::probe::Format, dir: &Path) -> Result<Vec<VodSegment>> {
        let file = self.work.join(".card.mp4");
        pipeline::card::write_card(
            &file,
            &CardSpec {
                width: format.width,
                height: format.height,
                fps: format.fps,
                duration_ms: CARD_MS,
                sample_rate_hz: format.sample_rate_hz,
                channels: format.channels,
                keyframe_frames: (format.fps.0 / format.fps.1.max(1)).max(1) as u32,
            },
        )?;
        let made = vod::segment(&file, dir, "card", SEGMENT_MS);
        let _ = std::fs::remove_file(&file);
        Ok(made?)
    }

    /// `captions.vtt` (the corrected transcript with the publisher's cue rules and speakers'
    /// names) and `chapters.vtt` (one chapter per agenda item), both in VOD time.
    fn texts(&self, map: &VodMap) -> Result<()> {
        let words: Vec<CueWord> = self
            .timeline
            .words
            .iter()
            .filter(|w| {
                !request::touches_closed(
                    w.start_ms,
                    w.end_ms.max(w.start_ms + 1),
                    &self.session.closed_ranges,
                )
            })
            .map(|w| CueWord {
                text: w.text.clone(),
                start_ms: w.start_ms.0,
                end_ms: w.end_ms.0,
                speaker: w.person.clone(),
            })
            .collect();
        let layout = CueLayout::new(
            self.preset.subtitles.max_line_chars as usize,
            self.preset.subtitles.max_lines as usize,
        );
        let captions = cues::layout(&map.words(&words), &layout);
        let name = |id: &str| self.session.person(id).map(|p| p.name.clone());
        write_atomic(
            &self.work.join("captions.vtt"),
            cues::to_vtt(&captions, &name).as_bytes(),
        )?;
        let chapters: Vec<(u64, u64, String)> = self
            .timeline
            .items
            .iter()
            .filter_map(|span| {
                let item = self.session.item(span.number)?;
                Some((
                    span.start_ms.0,
                    span.end_ms.0,
                    format!("{}. {}", item.number, item.title),
                ))
            })
            .collect();
        write_atomic(
            &self.work.join("chapters.vtt"),
            map.chapters_vtt(&chapters).as_bytes(),
        )?;
        Ok(())
    }

    /// `poster.jpg`: a frame a little into the first piece.
    fn poster(&self, map: &VodMap) -> Result<()> {
        let piece = map
            .stretches
            .iter()
            .find(|s| !s.card)
            .context("no piece of the recording is public")?;
        let at_ms = piece.session_start_ms + (piece.duration_ms / 10).min(5_000);
        let file_ms = self
            .media
            .media_ms(SessionMs(at_ms))
            .context("the poster's time is not in the recording")?;
        cutter::poster(
            &self.media.path,
            file_ms,
            640,
            &self.work.join("poster.jpg"),
        )?;
        Ok(())
    }
}

fn total_ms(segments: &[VodSegment]) -> u64 {
    segments.iter().map(|s| s.duration_ms).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(start_ms: u64, end_ms: u64) -> ClosedRange {
        ClosedRange {
            start_ms: SessionMs(start_ms),
            end_ms: SessionMs(end_ms),
            reason: None,
        }
    }

    #[test]
    fn a_closed_part_becomes_a_card_between_two_pieces() {
        assert_eq!(
            plan(0, 60_000, &[closed(20_000, 30_000)], &[]),
            vec![
                Plan::Piece {
                    start_ms: 0,
                    end_ms: 20_000
                },
                Plan::Card {
                    start_ms: 20_000,
                    end_ms: 30_000
                },
                Plan::Piece {
                    start_ms: 30_000,
                    end_ms: 60_000
                },
            ]
        );
    }

    #[test]
    fn closed_parts_at_the_edges_get_cards_and_gaps_none() {
        assert_eq!(
            plan(
                0,
                60_000,
                &[closed(0, 10_000), closed(50_000, ClosedRange::OPEN_END.0)],
                &[(30_000, 35_000)]
            ),
            vec![
                Plan::Card {
                    start_ms: 0,
                    end_ms: 10_000
                },
                Plan::Piece {
                    start_ms: 10_000,
                    end_ms: 30_000
                },
                Plan::Piece {
                    start_ms: 35_000,
                    end_ms: 50_000
                },
                Plan::Card {
                    start_ms: 50_000,
                    end_ms: 60_000
                },
            ]
        );
    }

    #[test]
    fn a_session_without_closed_parts_is_one_piece_from_where_the_recording_starts() {
        assert_eq!(
            plan(300, 42_000, &[], &[]),
            vec![Plan::Piece {
                start_ms: 300,
                end_ms: 42_000
            }]
        );
    }
}
