//! Encoding and output presets: how a clip, a live rendition or an audio file is made. Built-in
//! TOML presets, user presets from files that extend (`extends = "web-720p"`) or override them, and
//! validation that names the bad value and the allowed range. No media libraries.
//!
//! ```
//! let set = presets::PresetSet::builtin();
//! let web = set.get("web-720p").unwrap();
//! assert_eq!(web.video.as_ref().unwrap().height, 720);
//! ```

mod encoding;

pub use encoding::Encoding;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const BUILTIN: [(&str, &str); 8] = [
    ("web-720p", include_str!("builtin/web-720p.toml")),
    ("press-1080p", include_str!("builtin/press-1080p.toml")),
    (
        "social-vertical",
        include_str!("builtin/social-vertical.toml"),
    ),
    ("social-square", include_str!("builtin/social-square.toml")),
    ("audio-mp3", include_str!("builtin/audio-mp3.toml")),
    ("archive", include_str!("builtin/archive.toml")),
    ("live-720p", include_str!("builtin/live-720p.toml")),
    ("live-360p", include_str!("builtin/live-360p.toml")),
];

/// One output preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub description: String,
    pub mode: Mode,
    pub container: Container,
    /// MP4: the index at the front so that playback starts before the download ends.
    #[serde(default)]
    pub faststart: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Video>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Audio>,
    pub subtitles: Subtitles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<Caption>,
}

/// Whether the streams are re-encoded or copied as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Encode,
    Copy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    Mp4,
    Mp3,
}

impl Container {
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mp3 => "mp3",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Video {
    pub codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    pub bitrate_kbps: u32,
    pub keyframe_interval_ms: u32,
    /// The x264 speed preset (`ultrafast` ... `veryslow`).
    pub speed: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoCodec {
    H264,
}

/// How a picture of another shape is brought to the preset's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Scaled whole, with bars.
    Pad,
    /// Scaled to fill, the centre kept.
    Crop,
    /// Scaled to fill, the crop following the speaker's position when known (else the centre).
    Speaker,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audio {
    pub codec: AudioCodec,
    pub bitrate_kbps: u32,
    pub sample_rate_hz: u32,
    pub channels: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioCodec {
    Aac,
    Mp3,
}

/// Subtitles: the default way to deliver them and the cue layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subtitles {
    pub mode: SubtitleMode,
    pub max_line_chars: u32,
    pub max_lines: u32,
    /// Burned-in text size at the preset's picture height.
    pub font_size_px: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubtitleMode {
    /// No subtitles.
    None,
    /// SRT and WebVTT files beside the clip.
    Sidecar,
    /// A subtitle track inside the MP4 (mov_text), plus the sidecar files.
    Soft,
    /// Drawn into the picture, plus the sidecar files.
    Burn,
}

impl SubtitleMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SubtitleMode::None => "none",
            SubtitleMode::Sidecar => "sidecar",
            SubtitleMode::Soft => "soft",
            SubtitleMode::Burn => "burn",
        }
    }
}

/// The lower third with the speaker's name, role and group at each new speaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caption {
    pub enabled: bool,
    pub duration_ms: u32,
    pub font_size_px: u32,
}

/// A value outside what a preset allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub value: String,
    pub allowed: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = {} (allowed: {})",
            self.field, self.value, self.allowed
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("unknown preset {name:?} (known: {known})")]
    Unknown { name: String, known: String },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: extends unknown preset {base:?}")]
    UnknownBase { file: String, base: String },
    #[error("preset {name}: {}", join(problems))]
    Invalid {
        name: String,
        problems: Vec<Problem>,
    },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PresetError {
    /// An unknown or broken preset is the caller's; a file that cannot be read, the system's.
    pub fn kind(&self) -> session::ErrorKind {
        match self {
            PresetError::Unknown { .. } => session::ErrorKind::NotFound,
            PresetError::Io { .. } => session::ErrorKind::Internal,
            _ => session::ErrorKind::BadInput,
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

const X264_SPEEDS: [&str; 9] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];
const SAMPLE_RATES_HZ: [u32; 4] = [22_050, 32_000, 44_100, 48_000];

impl Preset {
    /// Every value outside its allowed range, with the range.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut range = |field: &str, value: u32, lo: u32, hi: u32| {
            if !(lo..=hi).contains(&value) {
                p.push(Problem {
                    field: field.to_owned(),
                    value: value.to_string(),
                    allowed: format!("{lo} to {hi}"),
                });
            }
        };
        if let Some(v) = &self.video {
            range("video.width", v.width, 64, 7680);
            range("video.height", v.height, 64, 4320);
            range("video.bitrate_kbps", v.bitrate_kbps, 100, 100_000);
            range(
                "video.keyframe_interval_ms",
                v.keyframe_interval_ms,
                250,
                10_000,
            );
        }
        if let Some(a) = &self.audio {
            range("audio.bitrate_kbps", a.bitrate_kbps, 32, 512);
            range("audio.channels", a.channels, 1, 2);
        }
        range(
            "subtitles.max_line_chars",
            self.subtitles.max_line_chars,
            16,
            80,
        );
        range("subtitles.max_lines", self.subtitles.max_lines, 1, 3);
        range(
            "subtitles.font_size_px",
            self.subtitles.font_size_px,
            8,
            200,
        );
        if let Some(c) = &self.caption {
            range("caption.duration_ms", c.duration_ms, 1000, 15_000);
            range("caption.font_size_px", c.font_size_px, 8, 200);
        }
        let mut add = |field: &str, value: String, allowed: &str| {
            p.push(Problem {
                field: field.to_owned(),
                value,
                allowed: allowed.to_owned(),
            })
        };
        if let Some(v) = &self.video {
            for (field, value) in [("video.width", v.width), ("video.height", v.height)] {
                if value % 2 == 1 {
                    add(field, value.to_string(), "an even number (H.264 4:2:0)");
                }
            }
            if !X264_SPEEDS.contains(&v.speed.as_str()) {
                add(
                    "video.speed",
                    format!("{:?}", v.speed),
                    &X264_SPEEDS.join(", "),
                );
            }
        }
        if let Some(a) = &self.audio {
            if !SAMPLE_RATES_HZ.contains(&a.sample_rate_hz) {
                add(
                    "audio.sample_rate_hz",
                    a.sample_rate_hz.to_string(),
                    "22050, 32000, 44100, 48000",
                );
            }
        }
        match (self.mode, self.container) {
            (Mode::Encode, Container::Mp3) => {
                if self.video.is_some() {
                    add(
                        "video",
                        "a video section".into(),
                        "none in an mp3 container",
                    );
                }
                if self
                    .audio
                    .as_ref()
                    .is_none_or(|a| a.codec != AudioCodec::Mp3)
                {
                    add(
                        "audio.codec",
                        codec_name(&self.audio),
                        "mp3 in an mp3 container",
                    );
                }
            }
            (Mode::Encode, Container::Mp4) => {
                if self.video.is_none() && self.audio.is_none() {
                    add(
                        "video",
                        "neither video nor audio".into(),
                        "at least one of them",
                    );
                }
                if self
                    .audio
                    .as_ref()
                    .is_some_and(|a| a.codec != AudioCodec::Aac)
                {
                    add(
                        "audio.codec",
                        codec_name(&self.audio),
                        "aac in an mp4 container",
                    );
                }
            }
            (Mode::Copy, Container::Mp4) => {
                if self.video.is_some() || self.audio.is_some() {
                    add(
                        "mode",
                        "copy".into(),
                        "encode when video or audio settings are given",
                    );
                }
            }
            (Mode::Copy, Container::Mp3) => add("container", "mp3".into(), "mp4 in copy mode"),
        }
        if self.subtitles.mode == SubtitleMode::Burn && self.video.is_none() {
            add(
                "subtitles.mode",
                "burn".into(),
                "none, sidecar or soft without video",
            );
        }
        if self.subtitles.mode == SubtitleMode::Soft && self.container != Container::Mp4 {
            add(
                "subtitles.mode",
                "soft".into(),
                "none, sidecar or burn outside mp4",
            );
        }
        if self.caption.as_ref().is_some_and(|c| c.enabled) && self.video.is_none() {
            add("caption.enabled", "true".into(), "false without video");
        }
        if !is_safe_name(&self.name) {
            add("name", format!("{:?}", self.name), "1 to 40 of a-z, 0-9, -");
        }
        p
    }

    /// Whether the picture is re-encoded (so subtitles and captions can be drawn in).
    pub fn transforms_picture(&self) -> bool {
        self.mode == Mode::Encode && self.video.is_some()
    }

    /// The media type of the files it makes: a copy keeps the recording's picture.
    pub fn media_type(&self) -> &'static str {
        match self.container {
            Container::Mp4 if self.video.is_some() || self.mode == Mode::Copy => "video/mp4",
            Container::Mp4 => "audio/mp4",
            Container::Mp3 => "audio/mpeg",
        }
    }
}

fn codec_name(audio: &Option<Audio>) -> String {
    match audio.as_ref().map(|a| a.codec) {
        Some(AudioCodec::Aac) => "aac".into(),
        Some(AudioCodec::Mp3) => "mp3".into(),
        None => "none".into(),
    }
}

fn is_safe_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The presets in force: the built-in ones, then user files over them.
#[derive(Clone, Debug)]
pub struct PresetSet {
    presets: BTreeMap<String, Preset>,
}

impl PresetSet {
    /// The built-in presets (each one valid: a unit test checks it).
    pub fn builtin() -> PresetSet {
        let presets = BUILTIN
            .iter()
            .map(|(name, text)| {
                let preset: Preset = toml::from_str(text).expect("built-in presets parse");
                ((*name).to_owned(), preset)
            })
            .collect();
        PresetSet { presets }
    }

    /// The built-in presets plus every `*.toml` in `dir` (a missing folder is no user preset).
    pub fn load(dir: &Path) -> Result<PresetSet, PresetError> {
        let mut set = PresetSet::builtin();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(source) => {
                return Err(PresetError::Io {
                    path: dir.to_owned(),
                    source,
                })
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| PresetError::Io {
                path: path.clone(),
                source,
            })?;
            set.add_user(&path.display().to_string(), &text)?;
        }
        Ok(set)
    }

    /// Adds one user preset from its TOML text: `extends = "NAME"` starts from that preset, a
    /// built-in name overrides the built-in field by field, anything else stands alone.
    pub fn add_user(&mut self, file: &str, text: &str) -> Result<&Preset, PresetError> {
        let parse_error = |message: String| PresetError::Parse {
            file: file.to_owned(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| parse_error(e.to_string()))?;
        let base_name = match table.remove("extends") {
            Some(toml::Value::String(base)) => Some(base),
            Some(other) => {
                return Err(parse_error(format!(
                    "extends = {other}: expected a preset name"
                )))
            }
            None => table
                .get("name")
                .and_then(|n| n.as_str())
                .filter(|n| self.presets.contains_key(*n))
                .map(String::from),
        };
        let merged = match base_name {
            Some(base) => {
                let preset = self
                    .presets
                    .get(&base)
                    .ok_or_else(|| PresetError::UnknownBase {
                        file: file.to_owned(),
                        base: base.clone(),
                    })?;
                let mut base_table =
                    toml::Table::try_from(preset).expect("presets serialize to TOML");
                merge(&mut base_table, table);
                base_table
            }
            None => table,
        };
        let preset: Preset = serde_path_to_error::deserialize(toml::Value::Table(merged))
            .map_err(|e| parse_error(e.to_string()))?;
        let problems = preset.validate();
        if !problems.is_empty() {
            return Err(PresetError::Invalid {
                name: preset.name,
                problems,
            });
        }
        let name = preset.name.clone();
        self.presets.insert(name.clone(), preset);
        Ok(&self.presets[&name])
    }

    pub fn get(&self, name: &str) -> Result<&Preset, PresetError> {
        self.presets.get(name).ok_or_else(|| PresetError::Unknown {
            name: name.to_owned(),
            known: self.presets.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.presets.values()
    }
}

/// `over`'s values replace `base`'s, tables merged key by key.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_presets_are_valid_and_complete() {
        let set = PresetSet::builtin();
        let names: Vec<&str> = set.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "archive",
                "audio-mp3",
                "live-360p",
                "live-720p",
                "press-1080p",
                "social-square",
                "social-vertical",
                "web-720p"
            ]
        );
        for p in set.iter() {
            assert_eq!(p.validate(), [], "{}", p.name);
        }
        let vertical = set.get("social-vertical").unwrap();
        assert_eq!(vertical.subtitles.mode, SubtitleMode::Burn);
        assert!(vertical.subtitles.max_line_chars < 42);
        assert!(set.get("web-720p").unwrap().faststart);
        assert_eq!(set.get("archive").unwrap().mode, Mode::Copy);
    }

    #[test]
    fn a_user_preset_extends_a_builtin_one() {
        let mut set = PresetSet::builtin();
        let p = set
            .add_user(
                "tg.toml",
                "extends = \"web-720p\"\nname = \"tg-regione\"\ndescription = \"Regional news\"\n[video]\nbitrate_kbps = 6000\n",
            )
            .unwrap();
        assert_eq!(p.video.as_ref().unwrap().bitrate_kbps, 6000);
        assert_eq!(p.video.as_ref().unwrap().width, 1280);
        assert_eq!(
            set.get("web-720p")
                .unwrap()
                .video
                .as_ref()
                .unwrap()
                .bitrate_kbps,
            2500
        );
    }

    #[test]
    fn a_user_file_with_a_builtin_name_overrides_it() {
        let mut set = PresetSet::builtin();
        set.add_user(
            "w.toml",
            "name = \"web-720p\"\n[subtitles]\nmode = \"burn\"\n",
        )
        .unwrap();
        assert_eq!(
            set.get("web-720p").unwrap().subtitles.mode,
            SubtitleMode::Burn
        );
    }

    #[test]
    fn bad_values_are_named_with_the_allowed_range() {
        let mut set = PresetSet::builtin();
        let err = set
            .add_user(
                "bad.toml",
                "extends = \"web-720p\"\nname = \"bad\"\n[video]\nwidth = 1281\nbitrate_kbps = 5\nspeed = \"warp\"\n[audio]\nsample_rate_hz = 12345\n",
            )
            .unwrap_err()
            .to_string();
        for expected in [
            "video.bitrate_kbps = 5 (allowed: 100 to 100000)",
            "video.width = 1281 (allowed: an even number (H.264 4:2:0))",
            "video.speed = \"warp\"",
            "audio.sample_rate_hz = 12345 (allowed: 22050, 32000, 44100, 48000)",
        ] {
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
        let err = set
            .add_user(
                "x.toml",
                "extends = \"web-720p\"\nname = \"x\"\n[video]\nwdth = 3\n",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("video") && err.contains("wdth"), "{err}");
        let err = set
            .add_user("y.toml", "extends = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "y.toml: extends unknown preset \"nope\"");
        let err = set.get("webm").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown preset \"webm\" (known: archive, audio-mp3"),
            "{err}"
        );
        let err = set
            .add_user("z.toml", "extends = \"web-720p\"\nname = \"../etc\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("name = \"../etc\""), "{err}");
    }

    #[test]
    fn user_presets_load_from_a_folder() {
        let dir = std::env::temp_dir().join(format!("aula-presets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("a.toml"),
            "extends = \"audio-mp3\"\nname = \"radio-hq\"\n[audio]\nbitrate_kbps = 256\n",
        )
        .unwrap();
        let set = PresetSet::load(&dir).unwrap();
        assert_eq!(
            set.get("radio-hq")
                .unwrap()
                .audio
                .as_ref()
                .unwrap()
                .bitrate_kbps,
            256
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(PresetSet::load(&dir).is_ok());
    }
}
