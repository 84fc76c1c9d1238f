//! Subtitle cues from timed words: at most `max_lines` lines of at most `max_line_chars`
//! characters, 0.83-7 s each where the words allow it, a new cue at every change of speaker, lines
//! broken at punctuation and phrase boundaries, reading speed above 20 characters a second flagged
//! rather than hidden. Writers for SRT, WebVTT (with the speaker as a voice) and ASS (for burning,
//! with the name captions as lower thirds). Pure logic.

use serde::Serialize;
use session::SessionMs;

/// A word of the clip, in clip time (ms from the clip's first frame).
#[derive(Clone, Debug, PartialEq)]
pub struct CueWord {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CueLayout {
    pub max_line_chars: usize,
    pub max_lines: usize,
    pub min_ms: u64,
    pub max_ms: u64,
    pub max_chars_per_s: f32,
}

impl CueLayout {
    pub fn new(max_line_chars: usize, max_lines: usize) -> CueLayout {
        CueLayout {
            max_line_chars,
            max_lines,
            min_ms: 830,
            max_ms: 7000,
            max_chars_per_s: 20.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub lines: Vec<String>,
    pub speaker: Option<String>,
    /// Faster to read than the layout's characters per second.
    pub too_fast: bool,
    /// The indices of the words it shows.
    #[serde(skip)]
    pub words: std::ops::Range<usize>,
}

/// A pause this long ends a cue.
const PAUSE_MS: u64 = 1200;
/// A cue that has this many characters may end at a sentence end.
const SENTENCE_CUE_CHARS: usize = 16;

const BREAK_BEFORE: [&str; 30] = [
    "e", "o", "ma", "che", "per", "di", "a", "da", "in", "con", "su", "il", "la", "le", "i", "gli",
    "del", "della", "al", "alla", "and", "or", "but", "that", "to", "of", "in", "for", "with",
    "the",
];

/// Lays out the cues of `words` (sorted by start).
pub fn layout(words: &[CueWord], layout: &CueLayout) -> Vec<Cue> {
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    for i in 0..words.len() {
        if i == start {
            continue;
        }
        let previous = &words[i - 1];
        let current_chars = text_len(&words[start..i]);
        let ends_sentence = previous.text.ends_with(['.', '?', '!']);
        let new_cue = words[i].speaker != words[start].speaker
            || words[i].start_ms >= previous.end_ms + PAUSE_MS
            || (ends_sentence && current_chars >= SENTENCE_CUE_CHARS)
            || words[i].end_ms.saturating_sub(words[start].start_ms) > layout.max_ms
            || break_lines(&words[start..=i], layout).is_none();
        if new_cue {
            groups.push(start..i);
            start = i;
        }
    }
    if start < words.len() {
        groups.push(start..words.len());
    }

    let mut cues: Vec<Cue> = groups
        .into_iter()
        .map(|range| {
            let ws = &words[range.clone()];
            let lines = break_lines(ws, layout).unwrap_or_else(|| vec![join(ws)]);
            Cue {
                start_ms: ws[0].start_ms,
                end_ms: ws.iter().map(|w| w.end_ms).max().unwrap_or(ws[0].start_ms),
                lines,
                speaker: ws[0].speaker.clone(),
                too_fast: false,
                words: range,
            }
        })
        .collect();
    // Long enough to read, never over the next cue.
    for k in 0..cues.len() {
        let next_start = cues.get(k + 1).map(|c| c.start_ms);
        let cue = &mut cues[k];
        let wanted = cue.end_ms.max(cue.start_ms + layout.min_ms);
        cue.end_ms = match next_start {
            Some(next) => wanted.min(next).max(cue.start_ms.min(next)),
            None => wanted,
        };
        let chars: usize = cue.lines.iter().map(|l| l.chars().count()).sum();
        let seconds = cue.end_ms.saturating_sub(cue.start_ms).max(1) as f32 / 1000.0;
        cue.too_fast = chars as f32 / seconds > layout.max_chars_per_s;
    }
    cues
}

fn join(words: &[CueWord]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn text_len(words: &[CueWord]) -> usize {
    words.iter().map(|w| w.text.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
}

/// The best way to put `words` on at most `max_lines` lines of at most `max_line_chars`
/// characters: balanced lines, breaks after punctuation and before conjunctions and prepositions
/// preferred. `None` when they do not fit (a single over-long word fits on a line of its own).
fn break_lines(words: &[CueWord], layout: &CueLayout) -> Option<Vec<String>> {
    let n = words.len();
    let max = layout.max_line_chars;
    let line_len = |a: usize, b: usize| text_len(&words[a..b]);
    let fits = |a: usize, b: usize| b - a == 1 || line_len(a, b) <= max;
    // cost[l][j]: the best cost of the first j words on l lines, with the split that reaches it.
    let mut cost = vec![vec![None::<(i64, usize)>; n + 1]; layout.max_lines + 1];
    cost[0][0] = Some((0, 0));
    for l in 1..=layout.max_lines {
        for j in 1..=n {
            for i in 0..j {
                let Some((before, _)) = cost[l - 1][i] else {
                    continue;
                };
                if !fits(i, j) {
                    continue;
                }
                let slack = max.saturating_sub(line_len(i, j)) as i64;
                let mut c = before + slack * slack;
                if j < n {
                    if words[j - 1].text.ends_with([',', ';', ':', '.', '?', '!']) {
                        c -= 400;
                    }
                    if BREAK_BEFORE.contains(&words[j].text.to_lowercase().as_str()) {
                        c -= 150;
                    }
                }
                if cost[l][j].is_none_or(|(best, _)| c < best) {
                    cost[l][j] = Some((c, i));
                }
            }
        }
    }
    // One line when it fits; otherwise the cheapest number of lines.
    let lines = (1..=layout.max_lines)
        .filter(|&l| cost[l][n].is_some())
        .min_by_key(|&l| {
            if l == 1 {
                i64::MIN
            } else {
                cost[l][n].unwrap().0
            }
        })?;
    let mut bounds = Vec::new();
    let (mut j, mut l) = (n, lines);
    while l > 0 {
        let (_, i) = cost[l][j].expect("reached by construction");
        bounds.push(i..j);
        j = i;
        l -= 1;
    }
    bounds.reverse();
    Some(bounds.into_iter().map(|r| join(&words[r])).collect())
}

fn clock(ms: u64, separator: char) -> String {
    SessionMs(ms).clock(separator)
}

pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (k, c) in cues.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            k + 1,
            clock(c.start_ms, ','),
            clock(c.end_ms, ','),
            c.lines.join("\n")
        ));
    }
    out
}

/// WebVTT; the speaker's name (from `name`) as the cue's voice.
pub fn to_vtt(cues: &[Cue], name: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let text = c
            .lines
            .iter()
            .map(|l| escape(l))
            .collect::<Vec<_>>()
            .join("\n");
        let voice = c.speaker.as_deref().and_then(name);
        out.push_str(&format!(
            "{} --> {}\n{}{text}\n\n",
            clock(c.start_ms, '.'),
            clock(c.end_ms, '.'),
            voice.map_or_else(String::new, |v| format!("<v {}>", escape(&v)))
        ));
    }
    out
}

/// A name caption: who speaks from `start_ms` on.
#[derive(Clone, Debug, PartialEq)]
pub struct NameCaption {
    pub start_ms: u64,
    pub end_ms: u64,
    pub name: String,
    /// Role and group, e.g. "Councillor · Lista Civica".
    pub detail: String,
}

/// The style of an ASS script for a picture of `width` x `height`.
#[derive(Clone, Debug, PartialEq)]
pub struct AssStyle {
    pub width: u32,
    pub height: u32,
    pub font_size_px: u32,
    pub caption_font_size_px: u32,
}

/// An ASS script with the cues at the bottom and the name captions as lower thirds above them.
pub fn to_ass(cues: &[Cue], captions: &[NameCaption], style: &AssStyle) -> String {
    let margin = style.height / 20;
    let caption_margin = style.height / 20 + style.font_size_px * 3;
    let mut out = format!(
        "[Script Info]\nScriptType: v4.00+\nPlayResX: {w}\nPlayResY: {h}\nWrapStyle: 2\nScaledBorderAndShadow: yes\n\n\
         [V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
         Style: Default,DejaVu Sans,{fs},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,{outline},1,2,{m},{m},{m},1\n\
         Style: Caption,DejaVu Sans,{cfs},&H00FFFFFF,&H00FFFFFF,&H00000000,&H70402010,0,0,0,0,100,100,0,0,3,{pad},0,1,{m},{m},{cm},1\n\n\
         [Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
        w = style.width,
        h = style.height,
        fs = style.font_size_px,
        cfs = style.caption_font_size_px,
        outline = (style.font_size_px / 14).max(1),
        pad = (style.caption_font_size_px / 4).max(2),
        m = margin,
        cm = caption_margin,
    );
    let escape = |s: &str| s.replace('\\', "\\\\").replace('{', "(").replace('}', ")");
    for c in cues {
        out.push_str(&format!(
            "Dialogue: 0,{},{},Default,,0,0,0,,{}\n",
            ass_clock(c.start_ms),
            ass_clock(c.end_ms),
            c.lines
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join("\\N")
        ));
    }
    for c in captions {
        out.push_str(&format!(
            "Dialogue: 1,{},{},Caption,,0,0,0,,{{\\b1}}{}{{\\b0}}\\N{{\\fs{}}}{}\n",
            ass_clock(c.start_ms),
            ass_clock(c.end_ms),
            escape(&c.name),
            style.caption_font_size_px * 3 / 4,
            escape(&c.detail)
        ));
    }
    out
}

fn ass_clock(ms: u64) -> String {
    SessionMs(ms).ass_clock()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str, start_ms: u64, ms_per_word: u64, speaker: &str) -> Vec<CueWord> {
        text.split_whitespace()
            .enumerate()
            .map(|(k, w)| CueWord {
                text: w.to_owned(),
                start_ms: start_ms + k as u64 * ms_per_word,
                end_ms: start_ms + (k as u64 + 1) * ms_per_word - 50,
                speaker: Some(speaker.to_owned()),
            })
            .collect()
    }

    #[test]
    fn lines_break_at_punctuation_and_cues_at_speakers() {
        let mut ws = words(
            "Ringrazio la presidenza per la parola, e concludo con una richiesta alla giunta.",
            0,
            300,
            "rossi",
        );
        ws.extend(words("Grazie consigliere.", 4000, 300, "chair"));
        let cues = layout(&ws, &CueLayout::new(42, 2));
        assert_eq!(cues.len(), 2, "{cues:?}");
        assert_eq!(
            cues[0].lines,
            [
                "Ringrazio la presidenza per la parola,",
                "e concludo con una richiesta alla giunta."
            ]
        );
        assert_eq!(cues[1].speaker.as_deref(), Some("chair"));
        assert_eq!(cues[1].lines, ["Grazie consigliere."]);
        // A short cue is held on screen for 0.83 s.
        assert_eq!(cues[1].end_ms - cues[1].start_ms, 830);
    }

    #[test]
    fn fast_speech_is_flagged() {
        let ws = words(
            "Questo provvedimento riguarda tutti i cittadini del comune",
            0,
            60,
            "a",
        );
        let cues = layout(&ws, &CueLayout::new(42, 2));
        assert!(cues.iter().any(|c| c.too_fast), "{cues:?}");
    }

    #[test]
    fn writers() {
        let cues = layout(
            &words("Buonasera a tutti.", 1000, 300, "rossi"),
            &CueLayout::new(42, 2),
        );
        assert_eq!(
            to_srt(&cues),
            "1\n00:00:01,000 --> 00:00:01,850\nBuonasera a tutti.\n\n"
        );
        let vtt = to_vtt(&cues, &|id| {
            (id == "rossi").then(|| "Marco <Rossi>".to_owned())
        });
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:01.000 --> 00:00:01.850\n<v Marco &lt;Rossi&gt;>Buonasera a tutti.\n\n"
        );
        let ass = to_ass(
            &cues,
            &[NameCaption {
                start_ms: 1000,
                end_ms: 5000,
                name: "Marco Rossi".into(),
                detail: "Councillor · Lista {Civica}".into(),
            }],
            &AssStyle {
                width: 1280,
                height: 720,
                font_size_px: 34,
                caption_font_size_px: 30,
            },
        );
        assert!(ass.contains("PlayResY: 720"));
        assert!(
            ass.contains("Dialogue: 0,0:00:01.00,0:00:01.85,Default,,0,0,0,,Buonasera a tutti.")
        );
        assert!(ass.contains("{\\b1}Marco Rossi{\\b0}\\N{\\fs22}Councillor · Lista (Civica)"));
    }

    fn word_strategy() -> impl Strategy<Value = Vec<CueWord>> {
        prop::collection::vec(
            ("[a-zà-ù]{1,14}[,.]?", 0u64..1500, 50u64..900, 0usize..3),
            0..120,
        )
        .prop_map(|spec| {
            let mut at = 0;
            spec.into_iter()
                .map(|(text, gap, len, speaker)| {
                    at += gap;
                    let w = CueWord {
                        text,
                        start_ms: at,
                        end_ms: at + len,
                        speaker: Some(["a", "b", "c"][speaker].to_owned()),
                    };
                    at += len;
                    w
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn cue_layout_rules(words in word_strategy(), vertical in any::<bool>()) {
            let l = CueLayout::new(if vertical { 28 } else { 42 }, 2);
            let cues = layout(&words, &l);
            let mut next_word = 0;
            for (k, c) in cues.iter().enumerate() {
                prop_assert!(c.lines.len() <= 2);
                for line in &c.lines {
                    let single_word = !line.contains(' ');
                    prop_assert!(line.chars().count() <= l.max_line_chars || single_word, "{:?}", line);
                }
                // Every word, in order, exactly once.
                prop_assert_eq!(c.words.start, next_word);
                next_word = c.words.end;
                let text = c.lines.join(" ");
                prop_assert_eq!(text, join(&words[c.words.clone()]));
                // Times within 100 ms of their words, never overlapping the next cue.
                let first = &words[c.words.start];
                prop_assert!(c.start_ms.abs_diff(first.start_ms) <= 100);
                let last_end = words[c.words.clone()].iter().map(|w| w.end_ms).max().unwrap();
                if let Some(next) = cues.get(k + 1) {
                    prop_assert!(c.end_ms <= next.start_ms);
                    prop_assert!(c.end_ms + 100 >= last_end.min(next.start_ms));
                } else {
                    prop_assert!(c.end_ms >= last_end);
                }
                // 0.83-7 s unless the words make it impossible.
                let duration = c.end_ms - c.start_ms;
                let next_gap = cues.get(k + 1).map_or(u64::MAX, |n| n.start_ms - c.start_ms);
                prop_assert!(duration >= l.min_ms || duration == next_gap);
                let span = last_end - first.start_ms;
                prop_assert!(duration <= l.max_ms || c.words.len() == 1 || span > l.max_ms && duration <= span, "{:?}", c);
                // One speaker per cue.
                prop_assert!(words[c.words.clone()].iter().all(|w| w.speaker == c.speaker));
            }
            prop_assert_eq!(next_word, words.len());
        }
    }
}
