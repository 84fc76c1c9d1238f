//! The program's name caption as broadcasters draw it: a lower third (the speaker's name, then
//! their role and group, on a dark band) inside the title-safe area, clear of the small pictures,
//! fading in when a new speaker is shown and out a few seconds later. The geometry and the fade
//! are plain functions; the band is a compositor input of its own (opaque I420: the compositor
//! takes no alpha channel into an I420 program) whose pad opacity follows the fade frame by frame.

use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::director::{self, Rect};
use crate::gst::{add_chain, element, PipelineError};

/// A roster person's lower third.
#[derive(Clone, Debug, PartialEq)]
pub struct Name {
    pub name: String,
    /// Role and group ("Consigliere, Gruppo Misto").
    pub detail: String,
}

/// How long a lower third stays, fades included.
pub const SHOWN_MS: u64 = 6_000;
/// How long it takes to fade in, and out.
pub const FADE_MS: u64 = 400;
/// The band's colour (ARGB): near black, whatever the picture's colours.
pub const BAND_ARGB: u32 = 0xff10_1216;
/// How opaque the band is once faded in: the picture shows a little through it.
pub const BAND_OPACITY: f64 = 0.85;

/// Where the band goes and how large its text is, for a canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub band: Rect,
    /// The name's text size (pixels): about 4.5% of the frame height.
    pub name_px: i32,
    /// The role and group's text size: about 3%.
    pub detail_px: i32,
    /// Space around the text inside the band.
    pub pad_px: i32,
}

impl Geometry {
    /// The lower third of `canvas` with `small_pictures` picture-in-pictures along the bottom:
    /// at the bottom left of the title-safe area (the central 90% of the frame, as EBU R 95's
    /// graphics-safe area) beside the small pictures; above their row when they leave less room
    /// than the band needs.
    pub fn new(canvas: (i32, i32), small_pictures: usize) -> Geometry {
        let (w, h) = canvas;
        let name_px = (h * 45 + 500) / 1000;
        let detail_px = (h * 30 + 500) / 1000;
        let pad_px = detail_px / 2;
        let band_h = (2 * pad_px + (name_px + detail_px) * 13 / 10 + pad_px / 2) & !1;
        let band_w = (w * 3 / 5) & !1;
        let (safe_x, safe_bottom) = ((w / 20) & !1, (h - h / 20) & !1);
        let smalls = director::layout(small_pictures + 1, 0, canvas);
        let row = smalls
            .iter()
            .skip(1)
            .map(|r| (r.x, r.y))
            .reduce(|a, b| (a.0.min(b.0), a.1.min(b.1)));
        let bottom = match row {
            Some((left, top)) if safe_x + band_w > left - pad_px => top - pad_px,
            _ => safe_bottom,
        };
        Geometry {
            band: Rect {
                x: safe_x,
                y: (bottom - band_h) & !1,
                width: band_w,
                height: band_h,
                zorder: 50,
            },
            name_px,
            detail_px,
            pad_px,
        }
    }

    /// Where the live captions' bottom edge goes (a share of the frame height, for WebVTT's
    /// `line:N%,end`) so that they sit above the band.
    pub fn captions_line_pct(&self, canvas_h: i32) -> u32 {
        ((self.band.y - self.pad_px).max(0) * 100 / canvas_h.max(1)) as u32
    }
}

/// How far faded in (0 to 1) a lower third shown from `from_ms` is at running time `at_ms`:
/// fading in over [`FADE_MS`], full, then fading out to end at `from_ms + SHOWN_MS`.
pub fn fade(from_ms: Option<u64>, at_ms: u64) -> f64 {
    let Some(from_ms) = from_ms else { return 0.0 };
    let Some(since) = at_ms.checked_sub(from_ms) else {
        return 0.0;
    };
    let left = SHOWN_MS.saturating_sub(since);
    (since.min(left) as f64 / FADE_MS as f64).min(1.0)
}

/// The lower third in a running program: its band on the compositor, its two texts, and when it
/// was last shown (running time), which the band's pad follows frame by frame.
pub struct LowerThird {
    pad: gst::Pad,
    name: gst::Element,
    detail: gst::Element,
    shown_from: Arc<Mutex<Option<u64>>>,
    canvas: (i32, i32),
    geometry: Geometry,
}

impl LowerThird {
    /// Adds the band to `pipeline` as an input of `compositor`, hidden.
    pub fn build(
        pipeline: &gst::Pipeline,
        compositor: &gst::Element,
        canvas: (i32, i32),
    ) -> Result<LowerThird, PipelineError> {
        let geometry = Geometry::new(canvas, 0);
        let src = element("videotestsrc")?;
        src.set_property("is-live", true);
        src.set_property_from_str("pattern", "solid-color");
        src.set_property("foreground-color", BAND_ARGB);
        let caps = element("capsfilter")?;
        caps.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("width", geometry.band.width)
                .field("height", geometry.band.height)
                .field("framerate", gst::Fraction::new(25, 1))
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        );
        let text = |valign: &str, font: String| -> Result<gst::Element, PipelineError> {
            let t = element("textoverlay")?;
            t.set_property_from_str("halignment", "left");
            t.set_property_from_str("valignment", valign);
            t.set_property("xpad", geometry.pad_px);
            t.set_property("ypad", geometry.pad_px);
            t.set_property("font-desc", font);
            t.set_property("shaded-background", false);
            t.set_property_from_str("wrap-mode", "none");
            // Sizes are the frame's own pixels, not scaled to the band's width.
            t.set_property("auto-resize", false);
            Ok(t)
        };
        let name = text("top", format!("Sans Bold {}px", geometry.name_px))?;
        let detail = text("bottom", format!("Sans {}px", geometry.detail_px))?;
        let queue = element("queue")?;
        add_chain(
            pipeline,
            &[src, caps, name.clone(), detail.clone(), queue.clone()],
        )?;
        let pad = compositor
            .request_pad_simple("sink_%u")
            .ok_or_else(|| PipelineError::Gst("no pad on compositor".into()))?;
        let out = queue.static_pad("src").expect("queue src");
        out.link(&pad).map_err(|e| {
            PipelineError::Gst(format!(
                "cannot link the lower third to {}: {e}",
                pad.path_string()
            ))
        })?;
        pad.set_property("alpha", 0.0f64);
        let shown_from = Arc::new(Mutex::new(None));
        let (fade_pad, fade_from) = (pad.clone(), Arc::clone(&shown_from));
        out.add_probe(gst::PadProbeType::BUFFER, move |probe_pad, info| {
            let running_ms = info.buffer().and_then(|b| b.pts()).and_then(|pts| {
                probe_pad
                    .sticky_event::<gst::event::Segment>(0)
                    .and_then(|e| {
                        e.segment()
                            .downcast_ref::<gst::ClockTime>()?
                            .to_running_time(pts)
                    })
            });
            if let Some(at) = running_ms {
                let from = *fade_from.lock().expect("lower third lock");
                fade_pad.set_property("alpha", fade(from, at.mseconds()) * BAND_OPACITY);
            }
            gst::PadProbeReturn::Ok
        });
        let mut lower_third = LowerThird {
            pad,
            name,
            detail,
            shown_from,
            canvas,
            geometry,
        };
        lower_third.place(0);
        Ok(lower_third)
    }

    /// Moves the band for `small_pictures` picture-in-pictures.
    pub fn place(&mut self, small_pictures: usize) {
        self.geometry = Geometry::new(self.canvas, small_pictures);
        let band = self.geometry.band;
        self.pad.set_property("xpos", band.x);
        self.pad.set_property("ypos", band.y);
        self.pad.set_property("zorder", band.zorder);
    }

    /// Shows `name` from running time `at_ms`; returns the span it covers, in running time.
    pub fn show(&self, name: &Name, at_ms: u64) -> (u64, u64) {
        self.name.set_property("text", &name.name);
        self.detail.set_property("text", &name.detail);
        *self.shown_from.lock().expect("lower third lock") = Some(at_ms);
        (at_ms, at_ms + SHOWN_MS)
    }

    /// Takes it off at once (a closed part begins).
    pub fn hide(&self) {
        *self.shown_from.lock().expect("lower third lock") = None;
        self.pad.set_property("alpha", 0.0f64);
    }

    /// Where the live captions go while it shows.
    pub fn captions_line_pct(&self) -> u32 {
        self.geometry.captions_line_pct(self.canvas.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaps(a: &Rect, b: &Rect) -> bool {
        a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
    }

    #[test]
    fn the_band_is_title_safe_and_sized_from_the_frame() {
        let g = Geometry::new((1280, 720), 0);
        assert_eq!((g.name_px, g.detail_px), (32, 22));
        assert!(g.band.x >= 64 && g.band.x + g.band.width <= 1216, "{g:?}");
        assert!(g.band.y >= 36 && g.band.y + g.band.height <= 684, "{g:?}");
        assert!(
            g.band.height < 720 / 7,
            "a band, not a quarter of the picture: {g:?}"
        );
        let small = Geometry::new((640, 360), 0);
        assert_eq!((small.name_px, small.detail_px), (16, 11));
    }

    #[test]
    fn the_band_never_covers_a_small_picture() {
        for smalls in 0..4 {
            let g = Geometry::new((1280, 720), smalls);
            for pip in director::layout(smalls + 1, 0, (1280, 720)).iter().skip(1) {
                assert!(
                    !overlaps(&g.band, pip),
                    "{smalls} small: {g:?} over {pip:?}"
                );
            }
        }
        assert_eq!(
            Geometry::new((1280, 720), 1).band.y,
            Geometry::new((1280, 720), 0).band.y,
            "beside one small picture"
        );
        assert!(
            Geometry::new((1280, 720), 3).band.y < Geometry::new((1280, 720), 0).band.y,
            "above a row of three"
        );
    }

    #[test]
    fn the_captions_sit_above_the_band() {
        let g = Geometry::new((1280, 720), 0);
        let pct = g.captions_line_pct(720);
        assert!(
            u64::from(pct) * 720 / 100 <= g.band.y as u64,
            "{pct}% {g:?}"
        );
        assert!(pct >= 70, "{pct}%");
    }

    #[test]
    fn it_fades_in_stays_and_fades_out() {
        assert_eq!(fade(None, 5_000), 0.0);
        assert_eq!(fade(Some(10_000), 9_000), 0.0);
        assert_eq!(fade(Some(10_000), 10_000), 0.0);
        assert!((fade(Some(10_000), 10_200) - 0.5).abs() < 1e-9);
        assert_eq!(fade(Some(10_000), 13_000), 1.0);
        assert!((fade(Some(10_000), 10_000 + SHOWN_MS - 100) - 0.25).abs() < 1e-9);
        assert_eq!(fade(Some(10_000), 10_000 + SHOWN_MS), 0.0);
        assert_eq!(fade(Some(10_000), 30_000), 0.0);
    }
}
