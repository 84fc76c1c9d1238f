//! Speech for generated sessions: espeak-ng for English, Festival's Italian diphone voices for
//! Italian (far easier for Whisper to hear than espeak-ng's Italian), each person with a pitch and a
//! pace of their own.

use std::path::Path;
use std::process::Command;

use super::render::{SPEECH_RATE_HZ, TRIM_THRESHOLD};

/// A synthetic voice and how it is set for one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Voice {
    /// An espeak-ng voice such as `en+m1`, its pitch (0-99) and speed.
    Espeak {
        name: String,
        pitch: u32,
        words_per_minute: u32,
    },
    /// A Festival diphone voice, its pitch scaled by `pitch_pct` and its durations stretched by
    /// `duration_pct` (100 is the voice as recorded; more is slower).
    Festival {
        voice: FestivalVoice,
        pitch_pct: u32,
        duration_pct: u32,
    },
}

/// The Italian diphone voices Debian packages (`festvox-italp16k`, `festvox-itapc16k`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FestivalVoice {
    /// Lucia, female.
    ItalianLp,
    /// Piero, male.
    ItalianPc,
}

impl FestivalVoice {
    fn select(self) -> &'static str {
        match self {
            FestivalVoice::ItalianLp => "(voice_lp_diphone)",
            FestivalVoice::ItalianPc => "(voice_pc_diphone)",
        }
    }

    /// The voice's own intonation function, whose pitch targets are scaled.
    fn targets(self) -> &'static str {
        match self {
            FestivalVoice::ItalianLp => "targ_func_fw_q_fem",
            FestivalVoice::ItalianPc => "targ_func_fw_q",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("running {program} (install it with scripts/setup): {error}")]
    Missing {
        program: &'static str,
        error: String,
    },
    #[error("{program} failed with voice {voice}: {stderr}")]
    Failed {
        program: &'static str,
        voice: String,
        stderr: String,
    },
    #[error("{program} wrote {spec}, expected 16-bit mono at {SPEECH_RATE_HZ} Hz")]
    Format { program: &'static str, spec: String },
    #[error("the Italian voices read ISO-8859-1; {character:?} in {text:?} is not in it")]
    NotLatin1 { text: String, character: char },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// Speaks `text` with `voice`, through a scratch file; returns the speech at [`SPEECH_RATE_HZ`]
/// with leading and trailing silence trimmed, so that its first and last samples are the
/// utterance's true edges.
pub fn speak(voice: &Voice, text: &str, scratch: &Path) -> Result<Vec<f32>, SpeechError> {
    let program = match voice {
        Voice::Espeak {
            name,
            pitch,
            words_per_minute,
        } => {
            let output = Command::new("espeak-ng")
                .arg("-v")
                .arg(name)
                .arg("-p")
                .arg(pitch.to_string())
                .arg("-s")
                .arg(words_per_minute.to_string())
                .arg("-w")
                .arg(scratch)
                .arg(text)
                .output();
            check("espeak-ng", name, output)?;
            "espeak-ng"
        }
        Voice::Festival {
            voice: festival,
            pitch_pct,
            duration_pct,
        } => {
            let script = scratch.with_extension("scm");
            let bytes = festival_script(*festival, *pitch_pct, *duration_pct, text, scratch)?;
            std::fs::write(&script, bytes).map_err(|e| SpeechError::Io {
                path: script.display().to_string(),
                message: e.to_string(),
            })?;
            let output = Command::new("festival").arg("-b").arg(&script).output();
            let _ = std::fs::remove_file(&script);
            check("festival", festival.select(), output)?;
            "festival"
        }
    };
    let samples = read_wav(program, scratch)?;
    let first = samples.iter().position(|s| s.abs() > TRIM_THRESHOLD);
    let last = samples.iter().rposition(|s| s.abs() > TRIM_THRESHOLD);
    Ok(match (first, last) {
        (Some(a), Some(b)) => samples[a..=b].to_vec(),
        _ => Vec::new(),
    })
}

fn check(
    program: &'static str,
    voice: &str,
    output: std::io::Result<std::process::Output>,
) -> Result<(), SpeechError> {
    let output = output.map_err(|e| SpeechError::Missing {
        program,
        error: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(SpeechError::Failed {
            program,
            voice: voice.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

fn read_wav(program: &'static str, path: &Path) -> Result<Vec<f32>, SpeechError> {
    let wav_error = |what: &str, e: hound::Error| SpeechError::Io {
        path: path.display().to_string(),
        message: format!("{what} {program} output: {e}"),
    };
    let mut reader = hound::WavReader::open(path).map_err(|e| wav_error("reading", e))?;
    let spec = reader.spec();
    if spec.sample_rate != SPEECH_RATE_HZ || spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(SpeechError::Format {
            program,
            spec: format!("{spec:?}"),
        });
    }
    reader
        .samples::<i16>()
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| wav_error("decoding", e))
}

/// The Festival program that speaks `text` into `wav`: the voice, its pitch targets scaled, its
/// durations stretched, the wave resampled to [`SPEECH_RATE_HZ`]. In ISO-8859-1, as the Italian
/// lexicon reads it.
fn festival_script(
    voice: FestivalVoice,
    pitch_pct: u32,
    duration_pct: u32,
    text: &str,
    wav: &Path,
) -> Result<Vec<u8>, SpeechError> {
    let wav = wav.to_str().ok_or_else(|| SpeechError::Io {
        path: wav.display().to_string(),
        message: "the path is not UTF-8".into(),
    })?;
    let script = format!(
        "{select}\n\
         (set! int_general_params (list (list 'targ_func (lambda (utt syl) \
           (mapcar (lambda (p) (list (car p) (* {pitch} (cadr p)))) ({targets} utt syl))))))\n\
         (Parameter.set 'Duration_Stretch {stretch})\n\
         (utt.save.wave (utt.wave.resample (utt.synth (Utterance Text {text})) {rate}) {wav} 'riff)\n",
        select = voice.select(),
        targets = voice.targets(),
        pitch = f64::from(pitch_pct) / 100.0,
        stretch = f64::from(duration_pct) / 100.0,
        text = scheme_string(text),
        rate = SPEECH_RATE_HZ,
        wav = scheme_string(wav),
    );
    script
        .chars()
        .map(|c| {
            u8::try_from(u32::from(c)).map_err(|_| SpeechError::NotLatin1 {
                text: text.to_owned(),
                character: c,
            })
        })
        .collect()
}

/// `text` as a Scheme string literal.
fn scheme_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_festival_script_is_latin1_with_the_text_quoted() {
        let bytes = festival_script(
            FestivalVoice::ItalianLp,
            115,
            90,
            "Perché \"sì\" \\ no",
            Path::new("/tmp/a.wav"),
        )
        .unwrap();
        let script: String = bytes.iter().map(|&b| char::from(b)).collect();
        assert!(script.starts_with("(voice_lp_diphone)\n"), "{script}");
        assert!(script.contains("(* 1.15 (cadr p))"), "{script}");
        assert!(script.contains("targ_func_fw_q_fem utt syl"), "{script}");
        assert!(script.contains("'Duration_Stretch 0.9)"), "{script}");
        assert!(script.contains(r#"(Utterance Text "Perché \"sì\" \\ no")"#));
        assert!(bytes.contains(&0xe9), "é as one ISO-8859-1 byte");
    }

    #[test]
    fn text_outside_latin1_is_refused() {
        let err = festival_script(
            FestivalVoice::ItalianPc,
            100,
            100,
            "costa 5 €",
            Path::new("/tmp/a.wav"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("'€'"), "{err}");
    }
}
