//! Plain subtitle and text renderings of a transcript: one cue per segment (SRT, WebVTT, text).
//! The broadcast cue layout (line lengths, reading speed) belongs to the publisher.

use crate::transcript::Transcript;

pub fn to_srt(t: &Transcript) -> String {
    let mut out = String::new();
    for (i, s) in t.segments.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            s.start_ms.clock(','),
            s.end_ms.clock(','),
            s.text.trim()
        ));
    }
    out
}

pub fn to_vtt(t: &Transcript) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for s in &t.segments {
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            s.start_ms.clock('.'),
            s.end_ms.clock('.'),
            s.text.trim()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SessionMs;
    use crate::transcript::Segment;

    #[test]
    fn srt_and_vtt_cues() {
        let t = Transcript {
            language: "it".into(),
            model: "base".into(),
            duration_ms: SessionMs(5000),
            segments: vec![Segment {
                start_ms: SessionMs(1234),
                end_ms: SessionMs(3_723_004),
                text: " Buonasera.".into(),
                words: vec![],
            }],
        };
        assert_eq!(
            to_srt(&t),
            "1\n00:00:01,234 --> 01:02:03,004\nBuonasera.\n\n"
        );
        assert_eq!(
            to_vtt(&t),
            "WEBVTT\n\n00:00:01.234 --> 01:02:03.004\nBuonasera.\n\n"
        );
    }
}
