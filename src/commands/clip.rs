//! `aula clip ID ...`: clips of a session's recording per agenda item, intervention, person or
//! range, in a preset, with subtitles (sidecar, soft or burned), name captions and a poster.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use presets::SubtitleMode;
use session::{SessionId, SessionMs};

use super::{open_catalogue, print_json, serde_choice};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::ops::clip::{self, ClipOutput, ClipRequest};

#[derive(Clone, Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["item", "intervention", "person", "from"]))]
pub struct ClipArgs {
    /// The session.
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
    pub from: Option<SessionMs>,
    #[arg(long, requires = "from", value_name = "TIME")]
    pub to: Option<SessionMs>,
    /// Output preset (`aula presets list`).
    #[arg(long, default_value = "web-720p")]
    pub preset: String,
    /// Subtitles: none, sidecar (SRT + WebVTT files), soft (a track in the MP4) or burn (drawn in);
    /// default: the preset's.
    #[arg(long, value_name = "none|sidecar|soft|burn", value_parser = serde_choice::<SubtitleMode>)]
    pub subs: Option<SubtitleMode>,
    /// With a copying preset (archive): start on the exact frame, re-encoding only up to the next
    /// keyframe (a smart cut) instead of starting at the keyframe before.
    #[arg(long)]
    pub accurate: bool,
    /// Extra time before and after the selection.
    #[arg(long, default_value_t = clip::default_padding_ms())]
    pub padding_ms: u64,
    /// Output folder (default: $AULA_HOME/sessions/ID/clips).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Cut from a recording that ends before the duration its container declares (one that
    /// really was cut) as far as it goes, with a warning, instead of refusing it.
    #[arg(long)]
    pub allow_truncated: bool,
}

impl ClipArgs {
    fn request(self) -> ClipRequest {
        ClipRequest {
            id: self.id,
            item: self.item,
            intervention: self.intervention,
            person: self.person,
            from: self.from,
            to: self.to,
            preset: self.preset,
            subs: self.subs,
            accurate: self.accurate,
            padding_ms: self.padding_ms,
            allow_truncated: self.allow_truncated,
            out_dir: self.out,
        }
    }
}

pub async fn run(config: &Config, args: ClipArgs, cancel: Cancel) -> Result<()> {
    let json = args.json;
    let catalogue = open_catalogue(config).await?;
    let shown = crate::progress::show(&cancel, "cutting");
    let report = clip::clip(config, &catalogue, &args.request(), cancel).await;
    drop(shown);
    let report = report?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let outputs: Vec<ClipOutput> = report.clips.into_iter().map(|(o, _)| o).collect();
    if json {
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
