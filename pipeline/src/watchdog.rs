//! A watchdog for long GStreamer work: pad probes note when each pad last carried a buffer, and a
//! pipeline whose sinks have received nothing for `stall_ms` is reported stalled, naming the
//! element where data stopped: the one that took data in and gave nothing out, else the one whose
//! output stopped first (a source that went quiet without ending its stream).
//!
//! The watchdog only observes; the loop that waits for the work to finish calls [`Watchdog::check`]
//! (as [`run_to_eos`] does) and stops the pipeline when it fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::gst::{element_error, PipelineError};

/// How long work may go without progress before it is failed, when the caller does not say.
pub const DEFAULT_STALL_MS: u64 = 30_000;

/// How often the waiting loops look at the bus, the watchdog and the cancel check.
pub(crate) const POLL_MS: u64 = 50;

/// Watches the pipelines (or bins) given to [`Watchdog::watch`] for progress.
#[derive(Clone)]
pub struct Watchdog {
    stall_ms: u64,
    state: Arc<Mutex<State>>,
}

struct State {
    /// When a buffer last reached a sink (or the watchdog started).
    progress: Instant,
    pads: Vec<PadState>,
}

struct PadState {
    element: String,
    output: bool,
    /// Set by [`Watchdog::unwatch`]: the pad's pipeline is gone.
    retired: bool,
    last_buffer: Option<Instant>,
    ended: bool,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("stall_ms", &self.stall_ms)
            .finish_non_exhaustive()
    }
}

impl Watchdog {
    /// A watchdog that fails work which makes no progress for `stall_ms`.
    pub fn new(stall_ms: u64) -> Watchdog {
        Watchdog {
            stall_ms,
            state: Arc::new(Mutex::new(State {
                progress: Instant::now(),
                pads: Vec::new(),
            })),
        }
    }

    pub fn stall_ms(&self) -> u64 {
        self.stall_ms
    }

    /// Watches every element of `bin`, those added to it later and the pads they add.
    pub fn watch(&self, bin: &impl IsA<gst::Bin>) {
        let dog = self.clone();
        bin.connect_deep_element_added(move |_, _, element| dog.watch_element(element));
        let mut elements = bin.iterate_recurse();
        while let Ok(Some(element)) = elements.next() {
            self.watch_element(&element);
        }
    }

    /// Forgets the pads of `bin` (a pipeline set to NULL and dropped): they can no longer stall.
    pub fn unwatch(&self, bin: &impl IsA<gst::Bin>) {
        let prefix = format!("{}/", bin.upcast_ref::<gst::Bin>().path_string());
        let mut state = self.lock();
        for pad in &mut state.pads {
            if pad.element.starts_with(&prefix) {
                pad.retired = true;
            }
        }
    }

    /// Counts as progress (work that moved data the probes cannot see).
    pub fn progressed(&self) {
        self.lock().progress = Instant::now();
    }

    /// Fails when nothing reached a sink for the watchdog's time.
    pub fn check(&self) -> Result<(), PipelineError> {
        let state = self.lock();
        let idle = state.progress.elapsed();
        if idle < Duration::from_millis(self.stall_ms) {
            return Ok(());
        }
        let (element, detail) = state.culprit();
        Err(PipelineError::Stalled {
            element,
            detail,
            idle_ms: u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
            stall_ms: self.stall_ms,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain data updated in one step: a panic elsewhere cannot leave it half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watch_element(&self, element: &gst::Element) {
        // Bins pass their children's buffers on: their children are watched instead.
        if element.is::<gst::Bin>() {
            return;
        }
        let dog = self.clone();
        element.connect_pad_added(move |element, pad| dog.watch_pad(element, pad));
        for pad in element.pads() {
            self.watch_pad(element, &pad);
        }
    }

    fn watch_pad(&self, element: &gst::Element, pad: &gst::Pad) {
        let output = pad.direction() == gst::PadDirection::Src;
        let sink = element.element_flags().contains(gst::ElementFlags::SINK);
        let slot = {
            let mut state = self.lock();
            state.pads.push(PadState {
                element: element.path_string().to_string(),
                output,
                retired: false,
                last_buffer: None,
                ended: false,
            });
            state.pads.len() - 1
        };
        let dog = self.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER
                | gst::PadProbeType::BUFFER_LIST
                | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                let mut state = dog.lock();
                let now = Instant::now();
                match &info.data {
                    Some(gst::PadProbeData::Buffer(_)) | Some(gst::PadProbeData::BufferList(_)) => {
                        state.pads[slot].last_buffer = Some(now);
                        if sink && !output {
                            state.progress = now;
                        }
                    }
                    Some(gst::PadProbeData::Event(e)) => match e.type_() {
                        gst::EventType::Eos => state.pads[slot].ended = true,
                        gst::EventType::StreamStart | gst::EventType::FlushStop => {
                            state.pads[slot].ended = false
                        }
                        _ => {}
                    },
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
}

impl State {
    /// The element where data stopped, and how it is known.
    fn culprit(&self) -> (String, String) {
        let live = || self.pads.iter().filter(|p| !p.retired);
        let last = |element: &str, output: bool| {
            live()
                .filter(|p| p.element == element && p.output == output)
                .filter_map(|p| p.last_buffer)
                .max()
        };
        let mut elements: Vec<&str> = live().map(|p| p.element.as_str()).collect();
        elements.sort_unstable();
        elements.dedup();
        // Data went in and nothing ever came out (a decoder or a demuxer stuck on its input).
        let swallowed = elements.iter().find(|e| {
            live().any(|p| p.element == **e && p.output)
                && last(e, false).is_some()
                && last(e, true).is_none()
        });
        if let Some(element) = swallowed {
            return (
                (*element).to_owned(),
                "it received data and never passed any on".to_owned(),
            );
        }
        // The output that went quiet first (without ending its stream).
        let quiet = live()
            .filter(|p| p.output && !p.ended)
            .filter_map(|p| p.last_buffer.map(|at| (at, p)))
            .min_by_key(|(at, _)| *at);
        if let Some((at, pad)) = quiet {
            return (
                pad.element.clone(),
                format!(
                    "its output stopped {} ms ago without ending",
                    at.elapsed().as_millis()
                ),
            );
        }
        let silent = live().find(|p| p.output && !p.ended && p.last_buffer.is_none());
        match silent {
            Some(pad) => (pad.element.clone(), "it never produced data".to_owned()),
            None => ("the pipeline".to_owned(), "no element saw data".to_owned()),
        }
    }
}

/// Runs `pipeline` until end of stream: fails with the bus's first error, when the watchdog sees
/// no progress, or with [`PipelineError::Cancelled`] when `cancelled` says so (polled every 50 ms).
/// The pipeline is left as it is (the caller sets it to NULL).
pub fn run_to_eos(
    pipeline: &gst::Pipeline,
    watchdog: &Watchdog,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), PipelineError> {
    watchdog.watch(pipeline);
    watchdog.progressed();
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| PipelineError::Gst(format!("{} does not start", pipeline.name())))?;
    wait_for_eos(pipeline, watchdog, cancelled)
}

/// Waits for a running pipeline's end of stream, as [`run_to_eos`] does.
pub fn wait_for_eos(
    pipeline: &gst::Pipeline,
    watchdog: &Watchdog,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), PipelineError> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    loop {
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(POLL_MS),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            match msg.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(err) => return Err(element_error(&msg, err)),
                _ => {}
            }
        }
        if cancelled() {
            return Err(PipelineError::Cancelled);
        }
        watchdog.check()?;
    }
}
