//! Clipping: clips of a session's recording per agenda item, intervention, person or range, in a
//! preset, with subtitles (sidecar, soft or burned), name captions and a poster; each recorded in
//! the catalogue.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use presets::{Preset, PresetSet, SubtitleMode};
use publisher::clip::{self, ClipResult, ClipSpec};
use publisher::cues::{self, AssStyle, Cue, CueLayout};
use publisher::request::{self, ClipPlan, Selection};
use serde::{Deserialize, Serialize};
use session::{Session, SessionId, SessionMs, SourceKind, Timeline};

use crate::cancel::{Cancel, Cancelled};
use crate::catalogue::{Catalogue, CatalogueError, ClipRecord};
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media::{self, MediaFile};
use crate::BadInput;

/// What to clip and how: `aula clip`'s options, the API's body and a clip job's parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipRequest {
    /// The session.
    #[schema(value_type = String)]
    pub id: SessionId,
    /// An agenda item (one clip per span of it).
    #[serde(default)]
    pub item: Option<u32>,
    /// An intervention, numbered from 1 as the timeline lists them.
    #[serde(default)]
    pub intervention: Option<usize>,
    /// Every intervention of a person (roster id), one clip each.
    #[serde(default)]
    pub person: Option<String>,
    /// A range of session time (with `to`), in ms.
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub from: Option<SessionMs>,
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub to: Option<SessionMs>,
    /// Output preset.
    #[serde(default = "default_preset")]
    pub preset: String,
    /// Subtitles: none, sidecar (SRT + WebVTT files), soft (a track in the MP4) or burn (drawn
    /// in); default: the preset's.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub subs: Option<SubtitleMode>,
    /// With a copying preset (archive): start on the exact frame (a smart cut).
    #[serde(default)]
    pub accurate: bool,
    /// Extra time before and after the selection.
    #[serde(default = "default_padding_ms")]
    pub padding_ms: u64,
    /// Cut from a recording cut short of its declared duration as far as it goes.
    #[serde(default)]
    pub allow_truncated: bool,
    /// Output folder (default: the session's clips folder); the command line's only.
    #[serde(skip)]
    pub out_dir: Option<PathBuf>,
}

pub fn default_preset() -> String {
    "web-720p".into()
}

pub fn default_padding_ms() -> u64 {
    300
}

impl ClipRequest {
    /// What can be refused before any work: the selection, the range, the preset.
    pub fn check(&self, session: &Session, presets: &PresetSet) -> Result<(), BadInput> {
        let chosen = [
            self.item.is_some(),
            self.intervention.is_some(),
            self.person.is_some(),
            self.from.is_some() || self.to.is_some(),
        ];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err(BadInput(
                "say what to clip: exactly one of item, intervention, person, or from and to"
                    .into(),
            ));
        }
        match (self.item, &self.person, self.from, self.to) {
            (Some(n), ..) if session.item(n).is_none() => {
                return Err(BadInput(format!(
                    "item: {n} is not an agenda item of session {}",
                    session.id
                )))
            }
            (_, Some(p), ..) if session.person(p).is_none() => {
                return Err(BadInput(format!(
                    "person: {p:?} is not in the roster of session {}",
                    session.id
                )))
            }
            (_, _, Some(_), None) | (_, _, None, Some(_)) => {
                return Err(BadInput("a range needs both from and to".into()))
            }
            (_, _, Some(from), Some(to)) if to <= from => {
                return Err(BadInput(format!("to: {to} is not after from {from}")))
            }
            _ => {}
        }
        if self.intervention == Some(0) {
            return Err(BadInput(
                "intervention: interventions are numbered from 1".into(),
            ));
        }
        presets
            .get(&self.preset)
            .map_err(|e| BadInput(format!("preset: {e}")))?;
        Ok(())
    }

    fn selection(&self) -> Result<Selection, BadInput> {
        match (
            &self.item,
            &self.intervention,
            &self.person,
            self.from,
            self.to,
        ) {
            (Some(n), ..) => Ok(Selection::Item(*n)),
            (_, Some(k), ..) => Ok(Selection::Intervention(*k)),
            (_, _, Some(p), ..) => Ok(Selection::Person(p.clone())),
            (_, _, _, Some(start_ms), Some(end_ms)) => Ok(Selection::Range { start_ms, end_ms }),
            _ => Err(BadInput(
                "say what to clip: --item, --intervention, --person or --from/--to".into(),
            )),
        }
    }
}

/// What `aula clip` reports for each clip.
#[derive(Clone, Debug, Serialize)]
pub struct ClipOutput {
    pub id: String,
    pub title: String,
    pub file: PathBuf,
    pub subtitles: Vec<PathBuf>,
    pub poster: Option<PathBuf>,
    #[serde(flatten)]
    pub result: ClipResult,
    pub requested_start_ms: SessionMs,
    pub requested_end_ms: SessionMs,
    /// Cues faster to read than 20 characters a second (kept, flagged).
    pub fast_cues: usize,
}

/// What a clip request made, and what the user should know about it.
#[derive(Debug)]
pub struct ClipReport {
    pub clips: Vec<(ClipOutput, ClipRecord)>,
    pub warnings: Vec<String>,
}

/// Cuts the clips `request` asks for and records them in the catalogue.
pub async fn clip(
    config: &Config,
    catalogue: &Catalogue,
    request: &ClipRequest,
    cancel: Cancel,
) -> Result<ClipReport> {
    let (job, plans, warnings) = plan_clips(config, catalogue, request, cancel).await?;
    let clips = produce(catalogue, &job, &plans, None, 0.0..1.0).await?;
    Ok(ClipReport { clips, warnings })
}

/// The file a session's clips are cut from: the program feed, else the first camera, else the room
/// audio; its finalized recording (`aula record`) when there is one, else the source's own file.
pub fn recording(session: &Session, base_dir: &Path, recordings_dir: &Path) -> Result<MediaFile> {
    let source = [
        SourceKind::Program,
        SourceKind::Camera,
        SourceKind::RoomAudio,
    ]
    .iter()
    .find_map(|kind| session.sources.iter().find(|s| s.kind == *kind))
    .ok_or_else(|| {
        BadInput(format!(
            "session {} has no recording to cut from",
            session.id
        ))
    })?;
    media::source_media(base_dir, recordings_dir, source).map_err(|uri| {
        BadInput(format!(
            "source {} ({uri}) is a live stream: record it first (aula record {}, then aula record finalize {})",
            source.id, session.id, session.id
        ))
        .into()
    })
}

/// The live program's own recording (`aula record --live`, then `aula record finalize`), when
/// there is one.
pub fn program_recording(recordings_dir: &Path) -> Option<MediaFile> {
    let index = pipeline::RecordingIndex::load(&recordings_dir.join("program")).ok()?;
    let path = recordings_dir.join(index.finalized.as_deref()?);
    path.is_file().then_some(MediaFile {
        path,
        index: Some(index),
    })
}

/// The recording a preset's clips are cut from, and whether it is cut as recorded: the live
/// program's own recording when it already has the preset's encoding, the preset wants name
/// captions (the program's lower thirds are in its picture) and nothing else drawn in nor a
/// subtitle track, and every plan lies wholly in it; else `input`, encoded as the preset says.
pub fn source_for(
    preset: &Preset,
    subs: SubtitleMode,
    input: &MediaFile,
    program: Option<&MediaFile>,
    plans: &[ClipPlan],
) -> (MediaFile, bool) {
    let why_not = || -> std::result::Result<MediaFile, String> {
        let program = program.ok_or("the session has no program recording")?;
        if !matches!(subs, SubtitleMode::Sidecar | SubtitleMode::None) {
            return Err(format!(
                "{} subtitles change the picture or add a track",
                subs.as_str()
            ));
        }
        if !preset.caption.as_ref().is_some_and(|c| c.enabled) {
            return Err("the preset wants no name captions, which the program shows".into());
        }
        let encoding = publisher::probe::encoding(&program.path).map_err(|e| e.to_string())?;
        preset.is_encoded_as(&encoding)?;
        for plan in plans {
            match fit_to_recording(plan.clone(), program) {
                Ok((_, None)) => {}
                _ => return Err(format!("{} is not wholly in it", plan.title)),
            }
        }
        Ok(program.clone())
    };
    match why_not() {
        Ok(program) => {
            tracing::info!(
                "{}: cut from the program recording {} as recorded",
                preset.name,
                program.path.display()
            );
            (program, true)
        }
        Err(why) => {
            if program.is_some() {
                tracing::info!("{}: not from the program recording: {why}", preset.name);
            }
            (input.clone(), false)
        }
    }
}

/// Fits a plan into a recording made by `aula record`: a start before the recording began moves to
/// its beginning (with a warning); a range across a gap, or wholly outside, is refused with what the
/// recording spans.
pub fn fit_to_recording(
    mut plan: ClipPlan,
    input: &MediaFile,
) -> std::result::Result<(ClipPlan, Option<String>), String> {
    let first_ms = input
        .index
        .as_ref()
        .and_then(|i| i.segments.first())
        .map_or(0, |s| s.start_ms);
    let mut warning = None;
    if plan.start_ms.0 < first_ms && plan.end_ms.0 > first_ms {
        warning = Some(format!(
            "{}: starts at {}, where the recording begins (asked for {})",
            plan.title,
            SessionMs(first_ms),
            plan.start_ms
        ));
        plan.start_ms = SessionMs(first_ms);
    }
    match (input.media_ms(plan.start_ms), input.media_ms(plan.end_ms)) {
        (Some(a), Some(b)) if b - a == plan.start_ms.until(plan.end_ms) => Ok((plan, warning)),
        _ => Err(format!(
            "{} ({} - {}) is not wholly in the recording, which spans {}",
            plan.title,
            plan.start_ms,
            plan.end_ms,
            input.describe_span()
        )),
    }
}

/// How long the recording runs in session time: to the end of its last segment, or of the file.
/// A file that ends more than a second before its container's duration is refused.
/// With `allow_truncated`, a truncated file runs to the end of its data (with a warning) instead.
pub fn recording_end(
    input: &MediaFile,
    allow_truncated: bool,
    warnings: &mut Vec<String>,
) -> Result<SessionMs> {
    let extent = publisher::probe::extent(&input.path)?;
    let path = input.path.display().to_string();
    if !extent.is_truncated() {
        return Ok(input.session_ms(extent.declared_ms));
    }
    if !allow_truncated {
        return Err(clip::ClipError::Truncated {
            path,
            data_end_ms: extent.data_end_ms,
            declared_ms: extent.declared_ms,
        }
        .into());
    }
    warnings.push(format!(
        "{path} ends at {} s of the {} s its container declares: clipping what is there",
        clip::seconds(extent.data_end_ms),
        clip::seconds(extent.declared_ms)
    ));
    Ok(input.session_ms(extent.data_end_ms))
}

/// Plans the clips `request` asks for: the cutting job, one plan per clip, and the warnings.
pub async fn plan_clips(
    config: &Config,
    catalogue: &Catalogue,
    request: &ClipRequest,
    cancel: Cancel,
) -> Result<(ClipJob, Vec<ClipPlan>, Vec<String>)> {
    let stored = catalogue.get(&request.id).await?;
    let session = stored.session;
    let timeline = match catalogue.timeline(&request.id).await {
        Ok(t) => t.timeline,
        Err(CatalogueError::NotAligned(_)) if request.from.is_some() => Timeline::default(),
        Err(e) => return Err(e.into()),
    };
    let set = super::load_presets(config)?;
    let preset = set.get(&request.preset)?.clone();
    let subs: SubtitleMode = request.subs.unwrap_or(preset.subtitles.mode);
    check_subtitles(&preset, subs)?;
    let input = recording(
        &session,
        &stored.base_dir,
        &config.recordings_dir(&session.id),
    )?;
    let mut warnings = Vec::new();
    let recording_ms = recording_end(&input, request.allow_truncated, &mut warnings)?.0;
    let (plans, planned) = request::plan(
        &request.selection()?,
        &session,
        &timeline,
        recording_ms,
        request.padding_ms,
    )?;
    warnings.extend(planned);
    let variant = variant_suffix(
        request.padding_ms,
        request.accurate,
        subs,
        preset.subtitles.mode,
    );
    let plans = plans
        .into_iter()
        .map(|mut plan| {
            plan.slug.push_str(&variant);
            let (plan, warning) = fit_to_recording(plan, &input).map_err(BadInput)?;
            warnings.extend(warning);
            Ok(plan)
        })
        .collect::<Result<Vec<_>>>()?;
    let out_dir = request
        .out_dir
        .clone()
        .unwrap_or_else(|| config.clips_dir(&session.id));
    let program = program_recording(&config.recordings_dir(&session.id));
    let (input, as_recorded) = source_for(&preset, subs, &input, program.as_ref(), &plans);
    let job = ClipJob {
        accurate: request.accurate,
        session_dir: config.session_dir(&session.id),
        session,
        timeline,
        preset,
        subs,
        input,
        as_recorded,
        out_dir,
        cancel,
    };
    Ok((job, plans, warnings))
}

/// What sets a clip apart from the default one of the same selection and preset, for its name:
/// two requests that differ make two files, never one replacing the other.
fn variant_suffix(
    padding_ms: u64,
    accurate: bool,
    subs: SubtitleMode,
    preset_subs: SubtitleMode,
) -> String {
    let mut suffix = String::new();
    if padding_ms != default_padding_ms() {
        suffix.push_str(&format!("-pad{padding_ms}ms"));
    }
    if accurate {
        suffix.push_str("-accurate");
    }
    if subs != preset_subs {
        suffix.push_str(&format!("-subs-{}", subs.as_str()));
    }
    suffix
}

/// Everything the clips of one request share.
#[derive(Clone)]
pub struct ClipJob {
    pub session: Session,
    pub timeline: Timeline,
    pub preset: Preset,
    pub subs: SubtitleMode,
    /// Frame-accurate smart cut for a copying preset.
    pub accurate: bool,
    /// The recording the clips are cut from.
    pub input: MediaFile,
    /// The recording already has the preset's encoding and its name captions: smart cut, nothing
    /// drawn in.
    pub as_recorded: bool,
    pub session_dir: PathBuf,
    pub out_dir: PathBuf,
    pub cancel: Cancel,
}

/// Cuts every plan and records each clip in the catalogue (`published_at` set when a press package
/// carries it). The cuts move the job's progress across `share` (of 0.0 to 1.0).
pub async fn produce(
    catalogue: &Catalogue,
    job: &ClipJob,
    plans: &[ClipPlan],
    published_at: Option<chrono::DateTime<chrono::Utc>>,
    share: std::ops::Range<f64>,
) -> Result<Vec<(ClipOutput, ClipRecord)>> {
    std::fs::create_dir_all(&job.out_dir)
        .with_context(|| format!("creating {}", job.out_dir.display()))?;
    let mut out = Vec::new();
    let each = (share.end - share.start) / plans.len().max(1) as f64;
    for (k, plan) in plans.iter().enumerate() {
        job.cancel.check()?;
        let part = share.start + k as f64 * each..share.start + (k + 1) as f64 * each;
        tracing::info!(
            "cutting {} ({} - {}) with {}",
            plan.slug,
            plan.start_ms,
            plan.end_ms,
            job.preset.name
        );
        let (worker, plan_c) = (job.clone(), plan.clone());
        let output = tokio::task::spawn_blocking(move || {
            make_clip(
                &worker.session,
                &worker.timeline,
                &worker.preset,
                worker.subs,
                worker.accurate,
                worker.as_recorded,
                &worker.input,
                &worker.out_dir,
                &plan_c,
                &worker.cancel,
                part,
            )
        })
        .await??;
        let path = output.file.strip_prefix(&job.session_dir).map_or_else(
            |_| output.file.display().to_string(),
            |p| p.display().to_string(),
        );
        let (start_ms, end_ms) = (
            SessionMs(output.result.start_ms),
            SessionMs(output.result.start_ms + output.result.duration_ms),
        );
        let mut speakers: Vec<String> = Vec::new();
        for w in job
            .timeline
            .words
            .iter()
            .filter(|w| w.start_ms >= start_ms && w.start_ms < end_ms)
        {
            if let Some(p) = &w.person {
                if !speakers.contains(p) {
                    speakers.push(p.clone());
                }
            }
        }
        let record = ClipRecord {
            id: output.id.clone(),
            session: job.session.id.to_string(),
            slug: plan.slug.clone(),
            title: plan.title.clone(),
            item: plan.item,
            person: plan.person.clone(),
            start_ms,
            end_ms,
            preset: job.preset.name.clone(),
            mode: format!("{:?}", output.result.mode).to_lowercase(),
            subtitles: format!("{:?}", job.subs).to_lowercase(),
            path,
            bytes: output.result.bytes,
            created_at: chrono::Utc::now(),
            speakers,
            published_at,
        };
        // A job that lost its lease meanwhile records nothing: the worker that took it over does.
        job.cancel.check()?;
        catalogue.put_clip(&record).await?;
        out.push((output, record));
    }
    Ok(out)
}

pub fn check_subtitles(preset: &Preset, subs: SubtitleMode) -> Result<()> {
    let refuse = |why: &str| Err(BadInput(format!("preset {}: {why}", preset.name)).into());
    match subs {
        SubtitleMode::Burn if !preset.transforms_picture() => refuse(
            "it does not re-encode the picture, so subtitles cannot be burned in (use --subs sidecar, or a preset such as web-720p)",
        ),
        SubtitleMode::Soft if preset.mode == presets::Mode::Copy || preset.container != presets::Container::Mp4 => {
            refuse("a soft subtitle track needs an MP4 preset that encodes (use --subs sidecar)")
        }
        _ => Ok(()),
    }
}

#[allow(clippy::too_many_arguments)]
fn make_clip(
    session: &Session,
    timeline: &Timeline,
    preset: &Preset,
    subs: SubtitleMode,
    accurate: bool,
    as_recorded: bool,
    input: &MediaFile,
    out_dir: &Path,
    plan: &ClipPlan,
    cancel: &Cancel,
    share: std::ops::Range<f64>,
) -> Result<ClipOutput> {
    let id = format!("{}-{}-{}", session.id, plan.slug, preset.name);
    let file = out_dir.join(format!("{id}.{}", preset.container.extension()));
    let words = request::clip_words(plan, session, timeline);
    let vertical = preset.video.as_ref().is_some_and(|v| v.height > v.width);
    let mut layout = CueLayout::new(
        preset.subtitles.max_line_chars as usize,
        preset.subtitles.max_lines as usize,
    );
    if vertical {
        layout.max_line_chars = layout.max_line_chars.min(32);
    }
    let cue_list: Vec<Cue> = cues::layout(&words, &layout);
    let captions = match (&preset.caption, preset.transforms_picture()) {
        (Some(c), true) if c.enabled && !as_recorded => {
            request::name_captions(&words, session, u64::from(c.duration_ms))
        }
        _ => Vec::new(),
    };
    let burned: &[Cue] = if subs == SubtitleMode::Burn {
        &cue_list
    } else {
        &[]
    };
    let ass_path = out_dir.join(format!(".{id}.ass"));
    let draw = !burned.is_empty() || !captions.is_empty();
    if draw {
        let video = preset
            .video
            .as_ref()
            .expect("transforms_picture means video");
        let style = AssStyle {
            width: video.width,
            height: video.height,
            font_size_px: preset.subtitles.font_size_px,
            caption_font_size_px: preset.caption.as_ref().map_or(30, |c| c.font_size_px),
        };
        write_atomic(
            &ass_path,
            cues::to_ass(burned, &captions, &style).as_bytes(),
        )?;
    }
    let (Some(start_ms), Some(end_ms)) =
        (input.media_ms(plan.start_ms), input.media_ms(plan.end_ms))
    else {
        return Err(BadInput(format!(
            "{} ({} - {}) is outside the recording, which spans {}",
            plan.title,
            plan.start_ms,
            plan.end_ms,
            input.describe_span()
        ))
        .into());
    };
    let spec = ClipSpec {
        start_ms,
        end_ms,
        preset,
        accurate,
        burn: draw.then_some(ass_path.as_path()),
        soft: (subs == SubtitleMode::Soft).then_some(cue_list.as_slice()),
        as_recorded,
    };
    let go_on = |at_ms: u64| {
        let done = at_ms.saturating_sub(start_ms) as f64 / (end_ms - start_ms).max(1) as f64;
        cancel.set_progress(share.start + (share.end - share.start) * done.min(1.0));
        !cancel.is_cancelled()
    };
    let result = clip::cut(&input.path, &file, &spec, &go_on);
    if draw {
        let _ = std::fs::remove_file(&ass_path);
    }
    let mut result = match result {
        Err(publisher::clip::ClipError::Cancelled) => return Err(Cancelled.into()),
        other => other?,
    };
    result.start_ms = input.session_ms(result.start_ms).0;
    // A stream copy starts at the keyframe before: never inside a closed range, and the sidecar
    // subtitles follow the real start.
    let real = ClipPlan {
        start_ms: SessionMs(result.start_ms),
        ..plan.clone()
    };
    if request::touches_closed(real.start_ms, plan.start_ms, &session.closed_ranges) {
        let _ = std::fs::remove_file(&file);
        return Err(BadInput(format!(
            "the keyframe before {} lies in a closed-session range, so {} cannot be stream-copied; use a preset that encodes",
            plan.start_ms, plan.title
        ))
        .into());
    }
    let sidecar_cues = match real.start_ms.cmp(&plan.start_ms) {
        std::cmp::Ordering::Equal => cue_list.clone(),
        // A copy from an earlier keyframe: the words from there on.
        std::cmp::Ordering::Less => {
            cues::layout(&request::clip_words(&real, session, timeline), &layout)
        }
        // A re-encode from the first frame after the start: the same words, a frame earlier.
        std::cmp::Ordering::Greater => {
            let shift = plan.start_ms.until(real.start_ms);
            let shifted: Vec<_> = words
                .iter()
                .map(|w| cues::CueWord {
                    start_ms: w.start_ms.saturating_sub(shift),
                    end_ms: w.end_ms.saturating_sub(shift),
                    ..w.clone()
                })
                .collect();
            cues::layout(&shifted, &layout)
        }
    };
    let name = |id: &str| session.person(id).map(|p| p.name.clone());
    let mut subtitles = Vec::new();
    cancel.check()?;
    if subs != SubtitleMode::None {
        for (ext, text) in [
            ("srt", cues::to_srt(&sidecar_cues)),
            ("vtt", cues::to_vtt(&sidecar_cues, &name)),
        ] {
            let path = out_dir.join(format!("{id}.{ext}"));
            write_atomic(&path, text.as_bytes())?;
            subtitles.push(path);
        }
    }
    let poster = match preset.video {
        Some(_) => {
            // A frame where the first named speaker is talking, else the middle of the clip.
            let at = words
                .iter()
                .find(|w| w.speaker.is_some())
                .map_or(plan.start_ms.until(plan.end_ms) / 2, |w| w.start_ms + 500);
            let path = out_dir.join(format!("{id}.jpg"));
            clip::poster(
                &file,
                at.min(result.duration_ms.saturating_sub(100)),
                640,
                &path,
            )?;
            Some(path)
        }
        None => None,
    };
    Ok(ClipOutput {
        id,
        title: plan.title.clone(),
        file,
        subtitles,
        poster,
        requested_start_ms: plan.start_ms,
        requested_end_ms: plan.end_ms,
        fast_cues: sidecar_cues.iter().filter(|c| c.too_fast).count(),
        result,
    })
}

#[cfg(test)]
mod tests {
    use pipeline::{RecordingIndex, Segment};

    use super::*;
    use crate::ops::testing::plan;

    /// A recording that began at 10 s and lost its source from 30 to 40 s.
    fn recording() -> MediaFile {
        let segment = |start_ms, end_ms| Segment {
            file: format!("{start_ms}.mp4"),
            start_ms,
            end_ms,
        };
        MediaFile {
            path: "program.mp4".into(),
            index: Some(RecordingIndex {
                source: "program".into(),
                segments: vec![
                    segment(10_000, 20_000),
                    segment(20_000, 30_000),
                    segment(40_000, 60_000),
                ],
                finalized: Some("program.mp4".into()),
            }),
        }
    }

    #[test]
    fn a_clip_inside_the_recording_is_kept_as_asked() {
        let (fitted, warning) = fit_to_recording(plan(12_000, 28_000), &recording()).unwrap();
        assert_eq!(
            (fitted.start_ms, fitted.end_ms),
            (SessionMs(12_000), SessionMs(28_000))
        );
        assert_eq!(warning, None);
    }

    #[test]
    fn a_clip_starting_before_the_recording_starts_where_it_begins_with_a_warning() {
        let (fitted, warning) = fit_to_recording(plan(5_000, 15_000), &recording()).unwrap();
        assert_eq!(fitted.start_ms, SessionMs(10_000));
        let warning = warning.unwrap();
        assert!(warning.contains("where the recording begins"), "{warning}");
    }

    #[test]
    fn a_clip_across_a_gap_or_outside_the_recording_is_refused_with_its_span() {
        for (start_ms, end_ms) in [(25_000, 45_000), (61_000, 70_000), (1_000, 5_000)] {
            let e = fit_to_recording(plan(start_ms, end_ms), &recording()).unwrap_err();
            assert!(
                e.contains("is not wholly in the recording") && e.contains("source lost"),
                "{start_ms}-{end_ms}: {e}"
            );
        }
    }

    #[test]
    fn variants_of_a_request_get_names_of_their_own() {
        let base = variant_suffix(300, false, SubtitleMode::Sidecar, SubtitleMode::Sidecar);
        assert_eq!(base, "");
        assert_eq!(
            variant_suffix(0, true, SubtitleMode::Burn, SubtitleMode::Sidecar),
            "-pad0ms-accurate-subs-burn"
        );
    }
}
