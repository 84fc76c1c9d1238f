//! Media for generated sessions: the room mix, and H.264/AAC files encoded with
//! GStreamer (a picture that shows who is speaking and the running time).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use session::part_path;

use super::speech::SpeechError;

pub const SPEECH_RATE_HZ: u32 = 22_050;
pub(crate) const TRIM_THRESHOLD: f32 = 0.01;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Speech(#[from] SpeechError),
    #[error("{path}: {message}")]
    Wav { path: String, message: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("path is not UTF-8: {0}")]
    NotUtf8(String),
    #[error("GStreamer: {0}")]
    Gst(String),
    #[error("GStreamer error from {element}: {message} ({debug})")]
    Element {
        element: String,
        message: String,
        debug: String,
    },
    #[error("cancelled")]
    Cancelled,
}

fn wav_error(path: &Path, what: &str, e: hound::Error) -> RenderError {
    RenderError::Wav {
        path: path.display().to_string(),
        message: format!("{what}: {e}"),
    }
}

fn gst_error(what: &str) -> impl FnOnce(gst::glib::Error) -> RenderError + '_ {
    move |e| RenderError::Gst(format!("{what}: {e}"))
}

pub fn ms_to_samples(ms: u64) -> usize {
    (ms * u64::from(SPEECH_RATE_HZ) / 1000) as usize
}

pub fn samples_to_ms(samples: usize) -> u64 {
    (samples as u64 * 1000).div_ceil(u64::from(SPEECH_RATE_HZ))
}

/// Adds `speech` into `track` at `start_ms` with `gain`; with `telephone` it is band-limited the
/// way a remote participant's voice sounds through the chamber's loudspeakers.
pub fn mix_into(track: &mut [f32], speech: &[f32], start_ms: u64, gain: f32, telephone: bool) {
    let start = ms_to_samples(start_ms).min(track.len());
    // One-pole low-pass at ~3.4 kHz: a = 1 - exp(-2*pi*3400/22050).
    let alpha = 0.62;
    let mut low = 0.0f32;
    for (slot, &sample) in track[start..].iter_mut().zip(speech) {
        let value = if telephone {
            low += alpha * (sample - low);
            low
        } else {
            sample
        };
        *slot += gain * value;
    }
}

/// Music as a test source would make it: a steady melody of organ-like notes for the first half,
/// steady noise for the second.
pub fn add_music(track: &mut [f32], start_ms: u64, end_ms: u64) {
    let (start, end) = (
        ms_to_samples(start_ms).min(track.len()),
        ms_to_samples(end_ms).min(track.len()),
    );
    let middle = start + (end - start) / 2;
    let notes_hz = [261.63f32, 329.63, 392.0, 523.25, 392.0, 329.63];
    let note_len = ms_to_samples(400);
    let rate = SPEECH_RATE_HZ as f32;
    let mut rng = super::script::Rng::new(end_ms);
    for (i, slot) in track[start..end].iter_mut().enumerate() {
        *slot += if start + i < middle {
            let f = notes_hz[(i / note_len) % notes_hz.len()];
            let t = i as f32 / rate;
            let phase = 2.0 * std::f32::consts::PI * f * t;
            0.12 * (phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin())
        } else {
            ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
        };
    }
}

/// A steady sine tone (the closed-session marker), at -12 dBFS.
pub fn add_tone(track: &mut [f32], start_ms: u64, end_ms: u64, hz: f32) {
    let (start, end) = (
        ms_to_samples(start_ms).min(track.len()),
        ms_to_samples(end_ms).min(track.len()),
    );
    let rate = SPEECH_RATE_HZ as f32;
    for (i, slot) in track[start..end].iter_mut().enumerate() {
        *slot += 0.25 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate).sin();
    }
}

/// Root mean square of `track` over the spans (ms) where someone speaks; 0 without speech.
pub fn speech_rms(track: &[f32], spans_ms: &[(u64, u64)]) -> f32 {
    let (mut energy, mut count) = (0.0f64, 0usize);
    for &(start_ms, end_ms) in spans_ms {
        let start = ms_to_samples(start_ms).min(track.len());
        let end = ms_to_samples(end_ms).min(track.len());
        energy += track[start..end]
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>();
        count += end - start;
    }
    if count == 0 {
        0.0
    } else {
        (energy / count as f64).sqrt() as f32
    }
}

/// Steady pink noise over the whole track (Paul Kellet's filter on white noise), its level
/// `snr_db` below `speech_rms`; deterministic from the seed.
pub fn add_pink_noise(track: &mut [f32], speech_rms: f32, snr_db: f32, seed: u64) {
    let mut rng = super::script::Rng::new(seed);
    let mut b = [0.0f32; 7];
    let noise: Vec<f32> = (0..track.len())
        .map(|_| {
            let white = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
            b[0] = 0.99886 * b[0] + white * 0.055_517_9;
            b[1] = 0.99332 * b[1] + white * 0.075_075_9;
            b[2] = 0.969 * b[2] + white * 0.153_852;
            b[3] = 0.8665 * b[3] + white * 0.310_485_6;
            b[4] = 0.55 * b[4] + white * 0.532_952_2;
            b[5] = -0.7616 * b[5] - white * 0.016_898;
            let pink = b.iter().sum::<f32>() + white * 0.5362;
            b[6] = white * 0.115_926;
            pink
        })
        .collect();
    add_at_level(track, &noise, speech_rms, snr_db);
}

/// Babble: the given voices played backwards (speech-like, but no words), several at once with
/// staggered starts and looped over the whole track, `below_db` under `speech_rms`.
pub fn add_babble(track: &mut [f32], voices: &[&[f32]], speech_rms: f32, below_db: f32) {
    let voices: Vec<Vec<f32>> = voices
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| v.iter().rev().copied().collect())
        .collect();
    if voices.is_empty() {
        return;
    }
    // Four talkers, each reading the reversed lines end to end from its own starting line.
    let mut babble = vec![0.0f32; track.len()];
    for talker in 0..4usize {
        let mut line = talker * voices.len() / 4;
        let mut at = talker * ms_to_samples(700);
        while at < babble.len() {
            let voice = &voices[line % voices.len()];
            for (slot, &v) in babble[at..].iter_mut().zip(voice) {
                *slot += v;
            }
            at += voice.len();
            line += 1;
        }
    }
    add_at_level(track, &babble, speech_rms, below_db);
}

/// Adds `sound` scaled so that its RMS is `below_db` under `speech_rms`.
fn add_at_level(track: &mut [f32], sound: &[f32], speech_rms: f32, below_db: f32) {
    let energy = sound
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>();
    let rms = (energy / sound.len().max(1) as f64).sqrt() as f32;
    if rms <= 0.0 {
        return;
    }
    let gain = speech_rms / rms * 10f32.powf(-below_db / 20.0);
    for (slot, &v) in track.iter_mut().zip(sound) {
        *slot += gain * v;
    }
}

/// Low-level room tone (about -60 dBFS), deterministic from the seed.
pub fn add_room_tone(track: &mut [f32], seed: u64) {
    let mut rng = super::script::Rng::new(seed);
    for slot in track.iter_mut() {
        let unit = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        *slot += (unit - 0.5) * 0.002;
    }
}

pub fn write_wav(path: &Path, track: &[f32]) -> Result<(), RenderError> {
    write_multichannel_wav(path, &[track])
}

/// A WAV with one channel per track (all of the same length), interleaved.
pub fn write_multichannel_wav(path: &Path, tracks: &[&[f32]]) -> Result<(), RenderError> {
    let spec = hound::WavSpec {
        channels: tracks.len() as u16,
        sample_rate: SPEECH_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer =
        hound::WavWriter::create(path, spec).map_err(|e| wav_error(path, "creating", e))?;
    let len = tracks.iter().map(|t| t.len()).min().unwrap_or(0);
    for n in 0..len {
        for track in tracks {
            writer
                .write_sample((track[n].clamp(-1.0, 1.0) * 32767.0) as i16)
                .map_err(|e| wav_error(path, "writing", e))?;
        }
    }
    writer
        .finalize()
        .map_err(|e| wav_error(path, "finishing", e))
}

/// What the picture shows at a given session time.
pub struct Captions {
    /// (start_ms, end_ms, text), sorted by start.
    pub spans: Vec<(u64, u64, String)>,
    pub idle: String,
}

impl Captions {
    pub fn at(&self, ms: u64) -> &str {
        self.spans
            .iter()
            .find(|(a, b, _)| (*a..*b).contains(&ms))
            .map_or(self.idle.as_str(), |(_, _, text)| text.as_str())
    }
}

pub struct VideoSpec {
    pub width: u32,
    pub height: u32,
    pub duration_ms: u64,
}

const FPS: u64 = 25;

/// Encodes a 25 fps H.264 + AAC MP4 at `out` from a WAV track and captions; written under a
/// temporary name and renamed when complete.
pub fn encode_mp4(
    out: &Path,
    wav: &Path,
    spec: &VideoSpec,
    captions: Captions,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), RenderError> {
    gst::init().map_err(gst_error("initialising GStreamer"))?;
    let frames = spec.duration_ms * FPS / 1000;
    let font_px = spec.height / 18;
    let description = format!(
        "videotestsrc name=vsrc pattern=solid-color foreground-color=0xff1d3557 num-buffers={frames} \
         ! video/x-raw,width={w},height={h},framerate={FPS}/1 \
         ! textoverlay name=label valignment=center halignment=center font-desc=\"Sans {font_px}px\" \
           shaded-background=true \
         ! timeoverlay valignment=bottom halignment=right font-desc=\"Sans Mono {font_px}px\" \
           shaded-background=true \
         ! videoconvert ! x264enc speed-preset=ultrafast key-int-max=50 \
         ! video/x-h264,profile=constrained-baseline ! h264parse ! queue ! mp4mux name=mux faststart=true \
         ! filesink name=sink \
         filesrc name=wav ! wavparse ! audioconvert ! audioresample \
         ! audio/x-raw,rate=48000,channels=1 ! avenc_aac ! aacparse ! queue ! mux.",
        w = spec.width,
        h = spec.height,
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(gst_error(
            "building the encoding pipeline (are the GStreamer plugins installed? run scripts/setup)",
        ))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| RenderError::Gst("the encoding description is not a pipeline".into()))?;
    let element = |name: &str| {
        pipeline
            .by_name(name)
            .ok_or_else(|| RenderError::Gst(format!("pipeline element {name} missing")))
    };
    let part = part_path(out);
    element("sink")?.set_property("location", path_str(&part)?);
    element("wav")?.set_property("location", path_str(wav)?);
    let label = element("label")?;
    label.set_property("text", captions.at(0));
    let captions = Arc::new(captions);
    let src_pad = element("vsrc")?
        .static_pad("src")
        .ok_or_else(|| RenderError::Gst("videotestsrc has no src pad".into()))?;
    let label_weak = label.downgrade();
    src_pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let (Some(buffer), Some(label)) = (info.buffer(), label_weak.upgrade()) {
            if let Some(pts) = buffer.pts() {
                label.set_property("text", captions.at(pts.mseconds()));
            }
        }
        gst::PadProbeReturn::Ok
    });
    let result = run_to_eos(&pipeline, out, spec.duration_ms, cancelled);
    pipeline
        .set_state(gst::State::Null)
        .map_err(|e| RenderError::Gst(format!("stopping the encoding pipeline: {e}")))?;
    match result {
        Ok(()) => std::fs::rename(&part, out).map_err(|e| RenderError::Io {
            path: out.display().to_string(),
            message: format!("moving into place: {e}"),
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

fn run_to_eos(
    pipeline: &gst::Pipeline,
    out: &Path,
    duration_ms: u64,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), RenderError> {
    let bus = pipeline
        .bus()
        .ok_or_else(|| RenderError::Gst("pipeline without a bus".into()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| RenderError::Gst(format!("starting the encoding pipeline: {e}")))?;
    let name = out
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut last_report = std::time::Instant::now();
    loop {
        if cancelled() {
            return Err(RenderError::Cancelled);
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else {
            if last_report.elapsed() >= Duration::from_secs(5) {
                last_report = std::time::Instant::now();
                if let Some(pos) = pipeline.query_position::<gst::ClockTime>() {
                    let percent = pos.mseconds() * 100 / duration_ms.max(1);
                    tracing::info!("encoding {name}: {percent}%");
                }
            }
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(err) => {
                return Err(RenderError::Element {
                    element: err
                        .src()
                        .map_or_else(|| "pipeline".into(), |s| s.path_string().to_string()),
                    message: err.error().to_string(),
                    debug: err.debug().map_or_else(String::new, |d| d.to_string()),
                })
            }
            _ => {}
        }
    }
}

fn path_str(path: &Path) -> Result<&str, RenderError> {
    path.to_str()
        .ok_or_else(|| RenderError::NotUtf8(path.display().to_string()))
}
