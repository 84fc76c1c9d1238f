//! Whether a recording is already encoded as a preset would encode it, so that its clips can be
//! cut without encoding the picture again (the live program's 720p rendition for `web-720p`).

use serde::Serialize;

use crate::{AudioCodec, Mode, Preset, VideoCodec};

/// How much heavier than the preset's bitrate a recording may be and still count as its encoding.
const BITRATE_MARGIN_PCT: u64 = 125;

/// A recording's encoding, as read from its streams.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Encoding {
    /// FFmpeg's codec name: `h264`, `aac`.
    pub video_codec: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second as a fraction; `(0, 1)` when the stream declares no steady rate.
    pub fps: (i32, i32),
    /// The video stream's average bitrate.
    pub video_bitrate_kbps: u32,
    pub audio_codec: String,
    pub sample_rate_hz: u32,
    pub channels: u32,
    pub audio_bitrate_kbps: u32,
}

impl Preset {
    /// Whether a recording encoded as `recording` is what this preset makes: the same codecs,
    /// picture size, sample rate and channels, a steady frame rate, and bitrates no more than a
    /// quarter above the preset's. A lighter stream is taken: an encoder at the preset's rate
    /// spends less on an easy picture. `Err` names the first thing that differs.
    pub fn is_encoded_as(&self, recording: &Encoding) -> Result<(), String> {
        let (Mode::Encode, Some(video), Some(audio)) = (self.mode, &self.video, &self.audio) else {
            return Err(format!(
                "preset {} does not encode both picture and sound",
                self.name
            ));
        };
        let differs = |what: &str, theirs: String, ours: String| {
            Err(format!(
                "the recording's {what} is {theirs}, preset {}'s {ours}",
                self.name
            ))
        };
        let video_codec = match video.codec {
            VideoCodec::H264 => "h264",
        };
        if recording.video_codec != video_codec {
            return differs(
                "video codec",
                recording.video_codec.clone(),
                video_codec.into(),
            );
        }
        if (recording.width, recording.height) != (video.width, video.height) {
            return differs(
                "picture",
                format!("{}x{}", recording.width, recording.height),
                format!("{}x{}", video.width, video.height),
            );
        }
        if recording.fps.0 <= 0 || recording.fps.1 <= 0 {
            return Err("the recording's frame rate is not steady".into());
        }
        let heaviest = |kbps: u32| u64::from(kbps) * BITRATE_MARGIN_PCT / 100;
        if u64::from(recording.video_bitrate_kbps) > heaviest(video.bitrate_kbps) {
            return differs(
                "video bitrate",
                format!("{} kbit/s", recording.video_bitrate_kbps),
                format!("{} kbit/s", video.bitrate_kbps),
            );
        }
        let audio_codec = match audio.codec {
            AudioCodec::Aac => "aac",
            AudioCodec::Mp3 => "mp3",
        };
        if recording.audio_codec != audio_codec {
            return differs(
                "audio codec",
                recording.audio_codec.clone(),
                audio_codec.into(),
            );
        }
        if (recording.sample_rate_hz, recording.channels) != (audio.sample_rate_hz, audio.channels)
        {
            return differs(
                "sound",
                format!("{} Hz x {}", recording.sample_rate_hz, recording.channels),
                format!("{} Hz x {}", audio.sample_rate_hz, audio.channels),
            );
        }
        if u64::from(recording.audio_bitrate_kbps) > heaviest(audio.bitrate_kbps) {
            return differs(
                "audio bitrate",
                format!("{} kbit/s", recording.audio_bitrate_kbps),
                format!("{} kbit/s", audio.bitrate_kbps),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PresetSet;

    fn program() -> Encoding {
        Encoding {
            video_codec: "h264".into(),
            width: 1280,
            height: 720,
            fps: (25, 1),
            video_bitrate_kbps: 1900,
            audio_codec: "aac".into(),
            sample_rate_hz: 48_000,
            channels: 2,
            audio_bitrate_kbps: 128,
        }
    }

    #[test]
    fn the_live_720p_rendition_is_web_720p_s_encoding() {
        let set = PresetSet::builtin();
        assert_eq!(
            set.get("web-720p").unwrap().is_encoded_as(&program()),
            Ok(())
        );
    }

    #[test]
    fn another_size_codec_rate_or_a_heavier_stream_is_not() {
        let set = PresetSet::builtin();
        let web = set.get("web-720p").unwrap();
        let why = |change: &dyn Fn(&mut Encoding)| {
            let mut e = program();
            change(&mut e);
            web.is_encoded_as(&e).unwrap_err()
        };
        assert_eq!(
            why(&|e| e.height = 1080),
            "the recording's picture is 1280x1080, preset web-720p's 1280x720"
        );
        assert!(why(&|e| e.video_codec = "hevc".into()).contains("video codec is hevc"));
        assert!(why(&|e| e.fps = (0, 1)).contains("not steady"));
        assert!(why(&|e| e.video_bitrate_kbps = 3200).contains("3200 kbit/s"));
        assert!(why(&|e| e.sample_rate_hz = 44_100).contains("44100 Hz x 2"));
        assert!(why(&|e| e.audio_bitrate_kbps = 192).contains("audio bitrate"));
        let mut light = program();
        light.video_bitrate_kbps = 400;
        assert_eq!(web.is_encoded_as(&light), Ok(()));
    }

    #[test]
    fn a_copying_or_sound_only_preset_never_takes_a_recording_as_is() {
        let set = PresetSet::builtin();
        for name in ["archive", "audio-mp3"] {
            assert!(set.get(name).unwrap().is_encoded_as(&program()).is_err());
        }
    }
}
