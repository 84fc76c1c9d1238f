//! `aula clip ID ...`: clips of a session's recording per agenda item, intervention, person or
//! range, in a preset, with subtitles (sidecar, soft or burned), name captions and a poster.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use presets::{Preset, SubtitleMode};
use publisher::clip::{self, ClipResult, ClipSpec};
use publisher::cues::{self, AssStyle, Cue, CueLayout};
use publisher::request::{self, ClipPlan, Selection};
use serde::Serialize;
use session::{Session, SessionId, SessionMs, SourceKind, Timeline};

use super::{open_catalogue, print_json};
use crate::cancel::{Cancel, Cancelled};
use crate::catalogue::{CatalogueError, ClipRecord};
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media::{self, MediaFile};
use crate::BadInput;

/// What to clip and how: the command line's options, and a clip job's parameters (JSON).
#[derive(Clone, Debug, Args, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["item", "intervention", "person", "from"]))]
#[serde(deny_unknown_fields)]
pub struct ClipArgs {
    /// The session.
    #[schema(value_type = String)]
    pub id: SessionId,
    /// An agenda item (one clip per span of it).
    #[arg(long)]
    pub item: Option<u32>,
    /// An intervention, numbered from 1 as `aula session timeline` lists them.
    #[arg(long)]
    pub intervention: Option<usize>,
    /// Every intervention of a person (roster id), one clip each.
    #[arg(long)]
    pub person: Option<String>,
    /// A range of session time (with --to): HH:MM:SS.mmm, MM:SS or seconds.
    #[arg(long, requires = "to", value_name = "TIME")]
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub from: Option<SessionMs>,
    #[arg(long, requires = "from", value_name = "TIME")]
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub to: Option<SessionMs>,
    /// Output preset (`aula presets list`).
    #[arg(long, default_value = "web-720p")]
    #[serde(default = "default_preset")]
    pub preset: String,
    /// Subtitles: none, sidecar (SRT + WebVTT files), soft (a track in the MP4) or burn (drawn in);
    /// default: the preset's.
    #[arg(long, value_enum)]
    pub subs: Option<SubsArg>,
    /// With a copying preset (archive): start on the exact frame, re-encoding only up to the next
    /// keyframe (a smart cut) instead of starting at the keyframe before.
    #[arg(long)]
    #[serde(default)]
    pub accurate: bool,
    /// Extra time before and after the selection.
    #[arg(long, default_value_t = 300)]
    #[serde(default = "default_padding_ms")]
    pub padding_ms: u64,
    /// Output folder (default: $AULA_HOME/sessions/ID/clips).
    #[arg(long)]
    #[serde(skip)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    #[serde(skip)]
    pub json: bool,
    /// Cut from a recording that ends before the duration its container declares (one that
    /// really was cut) as far as it goes, with a warning, instead of refusing it.
    #[arg(long)]
    #[serde(default)]
    pub allow_truncated: bool,
}

fn default_preset() -> String {
    "web-720p".into()
}

fn default_padding_ms() -> u64 {
    300
}

#[derive(Clone, Copy, Debug, ValueEnum, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubsArg {
    None,
    Sidecar,
    Soft,
    Burn,
}

impl From<SubsArg> for SubtitleMode {
    fn from(s: SubsArg) -> SubtitleMode {
        match s {
            SubsArg::None => SubtitleMode::None,
            SubsArg::Sidecar => SubtitleMode::Sidecar,
            SubsArg::Soft => SubtitleMode::Soft,
            SubsArg::Burn => SubtitleMode::Burn,
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
pub fn recording_end(input: &MediaFile) -> Result<SessionMs> {
    recording_end_with(input, false)
}

/// [`recording_end`]; with `allow_truncated`, a truncated file runs to the end of its data
/// (with a warning) instead of being refused.
pub fn recording_end_with(input: &MediaFile, allow_truncated: bool) -> Result<SessionMs> {
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
    tracing::warn!(
        "{path} ends at {} s of the {} s its container declares: clipping what is there",
        clip::seconds(extent.data_end_ms),
        clip::seconds(extent.declared_ms)
    );
    Ok(input.session_ms(extent.data_end_ms))
}

/// Plans the clips `args` asks for: the cutting job and one plan per clip.
pub async fn plan_clips(
    config: &Config,
    catalogue: &crate::catalogue::Catalogue,
    args: &ClipArgs,
    cancel: Cancel,
) -> Result<(ClipJob, Vec<ClipPlan>)> {
    let stored = catalogue.get(&args.id).await?;
    let session = stored.session;
    let timeline = match catalogue.timeline(&args.id).await {
        Ok(t) => t.timeline,
        Err(CatalogueError::NotAligned(_)) if args.from.is_some() => Timeline::default(),
        Err(e) => return Err(e.into()),
    };
    let set = super::presets::load(config)?;
    let preset = set.get(&args.preset)?.clone();
    let subs: SubtitleMode = args.subs.map_or(preset.subtitles.mode, Into::into);
    check_subtitles(&preset, subs)?;
    let input = recording(
        &session,
        &stored.base_dir,
        &config.session_dir(&session.id).join("recordings"),
    )?;
    let recording_ms = recording_end_with(&input, args.allow_truncated)?.0;
    let selection = match (
        &args.item,
        &args.intervention,
        &args.person,
        args.from,
        args.to,
    ) {
        (Some(n), ..) => Selection::Item(*n),
        (_, Some(k), ..) => Selection::Intervention(*k),
        (_, _, Some(p), ..) => Selection::Person(p.clone()),
        (_, _, _, Some(start_ms), Some(end_ms)) => Selection::Range { start_ms, end_ms },
        _ => {
            return Err(BadInput(
                "say what to clip: --item, --intervention, --person or --from/--to".into(),
            )
            .into())
        }
    };
    let (plans, mut warnings) = request::plan(
        &selection,
        &session,
        &timeline,
        recording_ms,
        args.padding_ms,
    )?;
    let variant = variant_suffix(args.padding_ms, args.accurate, subs, preset.subtitles.mode);
    let plans = plans
        .into_iter()
        .map(|mut plan| {
            plan.slug.push_str(&variant);
            let (plan, warning) = fit_to_recording(plan, &input).map_err(BadInput)?;
            warnings.extend(warning);
            Ok(plan)
        })
        .collect::<Result<Vec<_>>>()?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| config.session_dir(&session.id).join("clips"));
    let job = ClipJob {
        accurate: args.accurate,
        session_dir: config.session_dir(&session.id),
        session,
        timeline,
        preset,
        subs,
        input,
        out_dir,
        cancel,
    };
    Ok((job, plans))
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

pub async fn run(config: &Config, args: ClipArgs, cancel: Cancel) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let (job, plans) = plan_clips(config, &catalogue, &args, cancel).await?;
    let shown = crate::progress::show(&job.cancel, "cutting");
    let outputs: Vec<ClipOutput> = produce(&catalogue, &job, &plans, None, 0.0..1.0)
        .await?
        .into_iter()
        .map(|(output, _)| output)
        .collect();
    drop(shown);
    if args.json {
        return print_json(&outputs);
    }
    for o in &outputs {
        println!(
            "{}  {} - {}  ({:?}, {} bytes)",
            o.file.display(),
            SessionMs(o.result.start_ms),
            SessionMs(o.result.start_ms + o.result.duration_ms),
            o.result.mode,
            o.result.bytes
        );
        if o.result.start_ms != o.requested_start_ms.0 {
            println!(
                "  starts at the keyframe {} (asked for {})",
                SessionMs(o.result.start_ms),
                o.requested_start_ms
            );
        }
    }
    Ok(())
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
    pub session_dir: PathBuf,
    pub out_dir: PathBuf,
    pub cancel: Cancel,
}

/// Cuts every plan and records each clip in the catalogue (`published_at` set when a press package
/// carries it). The cuts move the job's progress across `share` (of 0.0 to 1.0).
pub async fn produce(
    catalogue: &crate::catalogue::Catalogue,
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
        (Some(c), true) if c.enabled => {
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
