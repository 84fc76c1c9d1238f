//! The program feed citizens watch: every camera and remote participant comes in decoded (through
//! an appsrc fed by its ingest), behind a `fallbackswitch` that shows a "connection lost" slate
//! when it stops; a compositor shows the speaker large and the others small, a lower third names
//! a new speaker; the sound is mixed at matched loudness. During a closed part of the session the
//! picture is a full-frame "Seduta segreta" slate and the sound is silence. The result goes to the
//! live HLS ladder (which never lists a segment of a closed part that is not wholly slate), to the
//! program's own recording, and at 16 kHz mono to the live captions' transcriber, whose words
//! come back as the ladder's subtitle rendition, named by the speaker on screen.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::captions::CaptionWord;
use crate::closed::{self, Gate, SharedClosed, SlateSpan};
use crate::director::{self, Director, FloorTurn, Loudness};
use crate::gst::{add_chain, element, element_error, gst_error, io_error, PipelineError};
use crate::hls::MediaSegment;
use crate::index::{Fragment, RecordingIndex, SegmentTracker};
use crate::live::{Ladder, ListedSegment, LiveOptions};
use crate::lower_third::{self, LowerThird};
use crate::source::{audio_caps, DecodedOutputs};

/// Floor turns shared with whoever receives the floor events.
pub type SharedTurns = Arc<Mutex<Vec<FloorTurn>>>;

/// One input of the program: a source with its pictures and/or sound; `person` for a remote
/// participant's own stream.
#[derive(Clone, Debug)]
pub struct ProgramInput {
    pub source: String,
    pub video: bool,
    pub audio: bool,
    pub person: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ProgramOptions {
    pub live: LiveOptions,
    pub inputs: Vec<ProgramInput>,
    /// Chamber microphone turns, in session time; the caller may replace them while the program
    /// runs (floor events arriving during the session).
    pub turns: SharedTurns,
    /// Closed parts of the session (seduta segreta), in session time; the caller may replace them
    /// while the program runs (declared in the room, or found in the session's document).
    pub closed: SharedClosed,
    /// The lower third shown when a person starts speaking, by roster id.
    pub names: HashMap<String, lower_third::Name>,
    pub canvas: (i32, i32),
    /// The program's own recording (segments and index), when wanted.
    pub record_dir: Option<PathBuf>,
    pub segment_ms: u64,
    /// Shown over a lost input.
    pub slate_text: String,
    /// The live captions' transcriber, when the live HLS carries captions (`live.captions`).
    pub captions_feed: Option<CaptionFeed>,
}

/// What the live captions' transcriber sends back, on the pipeline's running time.
#[derive(Clone, Debug, PartialEq)]
pub enum CaptionUpdate {
    Word {
        text: String,
        start_ms: u64,
        end_ms: u64,
    },
    /// No word to come starts before this.
    Through(u64),
}

type Offer = Box<dyn FnMut(u64, Vec<f32>) -> bool + Send>;

/// The two ends of a live captions' transcriber: the program's sound goes out (16 kHz mono
/// blocks with their running time), words come back.
#[derive(Clone)]
pub struct CaptionFeed {
    offer: Arc<Mutex<Option<Offer>>>,
    updates: Arc<Mutex<Receiver<CaptionUpdate>>>,
}

impl std::fmt::Debug for CaptionFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaptionFeed")
    }
}

impl CaptionFeed {
    /// `offer` takes a block of sound and says whether it was taken (false: dropped, counted).
    pub fn new(
        offer: impl FnMut(u64, Vec<f32>) -> bool + Send + 'static,
        updates: Receiver<CaptionUpdate>,
    ) -> CaptionFeed {
        CaptionFeed {
            offer: Arc::new(Mutex::new(Some(Box::new(offer)))),
            updates: Arc::new(Mutex::new(updates)),
        }
    }

    fn offer(&self, running_ms: u64, samples: Vec<f32>) -> bool {
        match self.offer.lock().expect("offer lock").as_mut() {
            Some(offer) => offer(running_ms, samples),
            None => true,
        }
    }

    /// Ends the sound: the transcriber commits its last words and stops.
    fn close(&self) {
        self.offer.lock().expect("offer lock").take();
    }

    fn next(&self, wait: Duration) -> Result<CaptionUpdate, TryRecvError> {
        let updates = self.updates.lock().expect("updates lock");
        if wait.is_zero() {
            return updates.try_recv();
        }
        updates.recv_timeout(wait).map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => TryRecvError::Empty,
            std::sync::mpsc::RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
        })
    }
}

/// How loud an input is and whether it carries voice now.
#[derive(Debug, Default)]
struct Level {
    loudness: Loudness,
    last_voice: Option<Instant>,
}

struct VideoInput {
    appsrc: gst_app::AppSrc,
    switch: gst::Element,
    pad: gst::Pad,
    slate_on: bool,
}

/// A running program feed.
pub struct Program {
    pipeline: gst::Pipeline,
    opts: ProgramOptions,
    ladder: Ladder,
    video: Vec<Option<VideoInput>>,
    audio: Vec<Option<gst_app::AppSrc>>,
    levels: Vec<Arc<Mutex<Level>>>,
    lower_third: LowerThird,
    /// The compositor's pad of the closed slate, above every input.
    closed_slate: gst::Pad,
    /// Silences the program's sound during a closed part.
    mute: gst::Element,
    /// When the closed slate was shown.
    slates: Vec<SlateSpan>,
    /// Session time minus the pipeline's running time (the largest measured: a measure can only
    /// come out late).
    session_minus_running_ms: i64,
    shots: Vec<Shot>,
    director: Director,
    recorder: Option<(gst::Element, SegmentTracker, RecordingIndex, u64)>,
    dropped_tap_blocks: Arc<Mutex<u64>>,
}

/// What the program did, for the record's report.
#[derive(Debug)]
pub struct ProgramResult {
    pub renditions: Vec<(String, Vec<MediaSegment>)>,
    pub listed: Vec<ListedSegment>,
    pub recording: Option<RecordingIndex>,
    pub dropped_tap_blocks: u64,
    /// Every change of speaker the program showed, in order.
    pub shots: Vec<Shot>,
    /// When the program showed the closed slate, in session time.
    pub closed_slates: Vec<SlateSpan>,
    /// The live captions' words, and how soon their cues were listed.
    pub captioned: Vec<crate::captions::CaptionedWord>,
}

/// The program showing a new speaker: who, from when (session time), and the source shown large.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Shot {
    pub at_ms: u64,
    /// The speaker's roster id.
    pub person: String,
    pub source: String,
}

const SPEECH_TARGET_DB: f64 = -23.0;

impl Program {
    /// Builds the program; with `resume`, its recording adds to the one already in `record_dir`.
    pub fn build(opts: ProgramOptions, resume: bool) -> Result<Program, PipelineError> {
        gst::init().map_err(gst_error)?;
        gstfallbackswitch::plugin_register_static().map_err(gst_error)?;
        let pipeline = gst::Pipeline::with_name("program");
        pipeline.use_clock(Some(&gst::SystemClock::obtain()));
        let (w, h) = opts.canvas;
        let canvas_caps = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", w)
            .field("height", h)
            .field("framerate", gst::Fraction::new(25, 1))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .field("colorimetry", "bt709")
            .field("chroma-site", "mpeg2")
            .build();
        let capsfilter = |caps: &gst::Caps| -> Result<gst::Element, PipelineError> {
            let f = element("capsfilter")?;
            f.set_property("caps", caps);
            Ok(f)
        };
        let compositor = element("compositor")?;
        compositor.set_property_from_str("background", "black");
        let vtee = element("tee")?;
        let mixer = element("audiomixer")?;
        let mute = element("volume")?;
        let atee = element("tee")?;
        add_chain(
            &pipeline,
            &[compositor.clone(), capsfilter(&canvas_caps)?, vtee.clone()],
        )?;
        add_chain(
            &pipeline,
            &[
                mixer.clone(),
                capsfilter(&audio_caps())?,
                mute.clone(),
                atee.clone(),
            ],
        )?;
        let closed_slate = closed_slate(&pipeline, &canvas_caps, &compositor, opts.canvas)?;
        let lower_third = LowerThird::build(&pipeline, &compositor, opts.canvas)?;
        // A silent live input keeps the mixer going when every source is lost.
        let silence = element("audiotestsrc")?;
        silence.set_property("is-live", true);
        silence.set_property_from_str("wave", "silence");
        let silence_caps = capsfilter(&audio_caps())?;
        add_chain(&pipeline, &[silence, silence_caps.clone()])?;
        silence_caps.link(&mixer).map_err(gst_error)?;

        let mut video = Vec::new();
        let mut audio = Vec::new();
        let mut levels = Vec::new();
        for input in &opts.inputs {
            video.push(if input.video {
                Some(video_input(
                    &pipeline,
                    input,
                    &canvas_caps,
                    &compositor,
                    &opts.slate_text,
                )?)
            } else {
                None
            });
            let level = Arc::new(Mutex::new(Level::default()));
            audio.push(if input.audio {
                Some(audio_input(&pipeline, input, &mixer, Arc::clone(&level))?)
            } else {
                None
            });
            levels.push(level);
        }

        let ladder = Ladder::new(&pipeline, &opts.live, resume)?;
        let recorder = match &opts.record_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
                let sink = element("splitmuxsink")?;
                sink.set_property(
                    "location",
                    dir.join("segment-%05d.mp4").to_string_lossy().to_string(),
                );
                sink.set_property("max-size-time", opts.segment_ms * 1_000_000);
                pipeline.add(&sink).map_err(gst_error)?;
                let index =
                    RecordingIndex::begin(dir, "program", resume).map_err(|e| io_error(dir, e))?;
                sink.set_property("start-index", index.next_file_number() as i32);
                Some((sink, SegmentTracker::default(), index, 0))
            }
            None => None,
        };
        let record = recorder.as_ref().map(|r| &r.0);
        ladder.attach_video(&pipeline, &tee_pad(&vtee)?, record)?;
        ladder.attach_audio(&pipeline, &tee_pad(&atee)?, record)?;
        let dropped = Arc::new(Mutex::new(0u64));
        if let Some(feed) = &opts.captions_feed {
            audio_tap(&pipeline, &atee, feed.clone(), Arc::clone(&dropped))?;
        }
        let mut program = Program {
            pipeline,
            director: Director::new(2_000),
            opts,
            ladder,
            video,
            audio,
            levels,
            lower_third,
            closed_slate,
            mute,
            slates: Vec::new(),
            session_minus_running_ms: 0,
            shots: Vec::new(),
            recorder,
            dropped_tap_blocks: dropped,
        };
        program.apply_layout();
        Ok(program)
    }

    /// Where the ingest of `source` sends its decoded pictures and sound.
    pub fn outputs(&self, source: &str) -> Option<DecodedOutputs> {
        let k = self.opts.inputs.iter().position(|i| i.source == source)?;
        Some(DecodedOutputs {
            program: self.pipeline.clone(),
            video: self.video[k].as_ref().map(|v| v.appsrc.clone()),
            audio: self.audio[k].clone(),
        })
    }

    /// Starts the program; `session_ms` is the session time now (the recording's offset).
    pub fn start(&mut self, session_ms: u64) -> Result<(), PipelineError> {
        if let Some(r) = &mut self.recorder {
            r.3 = session_ms;
        }
        // The pipeline's running time starts at most at `session_ms`.
        self.session_minus_running_ms = session_ms as i64;
        self.pipeline
            .set_state(gst::State::Playing)
            .map(|_| ())
            .map_err(|_| PipelineError::Gst("the program pipeline does not start".into()))
    }

    /// Handles the program's messages for up to 100 ms and updates the picture for `session_ms`
    /// (the session time now): the closed slate on or off, the speaker, the live segments that a
    /// closed part declared late takes off the playlists.
    pub fn poll(&mut self, session_ms: u64) -> Result<(), PipelineError> {
        let entered = Instant::now();
        if let Some(running_ms) = self.running_ms() {
            self.session_minus_running_ms = self
                .session_minus_running_ms
                .max(session_ms as i64 - running_ms as i64);
        }
        let bus = self.pipeline.bus().expect("a pipeline has a bus");
        let deadline = entered + Duration::from_millis(100);
        while let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(
            deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
        )) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Err(element_error(&msg, err));
            }
            self.handle(&msg)?;
        }
        let now_ms = || session_ms + entered.elapsed().as_millis() as u64;
        self.apply_closed(now_ms);
        self.direct(now_ms());
        self.take_captions(Duration::ZERO)?;
        self.ladder.censor(&self.gate())
    }

    /// Gives the ladder the words come back from the transcriber, each named by the speaker on
    /// screen when it was said (none in a closed part); then lists the segments whose captions
    /// are final. `wait` is how long to wait for the transcriber's end.
    fn take_captions(&mut self, wait: Duration) -> Result<(), PipelineError> {
        let Some(feed) = self.opts.captions_feed.clone() else {
            return Ok(());
        };
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match feed.next(left) {
                Ok(CaptionUpdate::Word {
                    text,
                    start_ms,
                    end_ms,
                }) => {
                    let at_ms = (start_ms as i64 + self.session_minus_running_ms).max(0) as u64;
                    let closed = {
                        let spans = self.opts.closed.lock().expect("closed lock");
                        closed::closed_at(&spans, at_ms, closed::MARGIN_MS)
                    };
                    if closed
                        || self
                            .slates
                            .iter()
                            .any(|s| s.on_ms <= at_ms && s.off_ms.is_none_or(|off| at_ms < off))
                    {
                        continue;
                    }
                    let speaker = self
                        .shots
                        .iter()
                        .rev()
                        .find(|s| s.at_ms <= at_ms)
                        .and_then(|s| self.opts.names.get(&s.person))
                        .map(|n| n.name.clone());
                    self.ladder.caption(CaptionWord {
                        text,
                        start_ms,
                        end_ms,
                        speaker,
                    });
                }
                Ok(CaptionUpdate::Through(ms)) => self.ladder.captions_through(ms),
                Err(TryRecvError::Empty) if left.is_zero() => break,
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    self.ladder.captions_through(u64::MAX);
                    break;
                }
            }
        }
        self.ladder.release(&self.gate())
    }

    /// The pipeline's running time now, once it plays.
    fn running_ms(&self) -> Option<u64> {
        if self.pipeline.current_state() != gst::State::Playing {
            return None;
        }
        let clock = self.pipeline.clock()?;
        Some(
            clock
                .time()
                .checked_sub(self.pipeline.base_time()?)?
                .mseconds(),
        )
    }

    /// What the ladder needs to judge its segments now.
    fn gate(&self) -> Gate {
        Gate {
            closed: self.opts.closed.lock().expect("closed lock").clone(),
            slate: self.slates.clone(),
            session_minus_running_ms: self.session_minus_running_ms,
        }
    }

    fn closed_shown(&self) -> bool {
        self.slates.last().is_some_and(|s| s.off_ms.is_none())
    }

    /// Shows the closed slate and silences the sound inside a closed part (and for
    /// [`closed::MARGIN_MS`] after it), noting when: the moment after the switch when it goes on,
    /// the moment before when it goes off.
    fn apply_closed(&mut self, now_ms: impl Fn() -> u64) {
        let closed = {
            let spans = self.opts.closed.lock().expect("closed lock");
            closed::closed_at(&spans, now_ms(), closed::MARGIN_MS)
        };
        if closed == self.closed_shown() {
            return;
        }
        if closed {
            if let Some(running_ms) = self.running_ms() {
                self.ladder.clear_captions(running_ms);
            }
            self.closed_slate.set_property("alpha", 1.0f64);
            self.mute.set_property("mute", true);
            self.lower_third.hide();
            let on_ms = now_ms();
            tracing::info!("program: closed part from {on_ms} ms, slate shown and sound muted");
            self.slates.push(SlateSpan {
                on_ms,
                off_ms: None,
            });
        } else {
            let off_ms = now_ms();
            if let Some(last) = self.slates.last_mut() {
                last.off_ms = Some(off_ms);
            }
            self.closed_slate.set_property("alpha", 0.0f64);
            self.mute.set_property("mute", false);
            tracing::info!("program: closed part over at {off_ms} ms, the inputs back");
        }
    }

    fn handle(&mut self, msg: &gst::Message) -> Result<(), PipelineError> {
        if self.ladder.handle(msg, &self.gate())? {
            return Ok(());
        }
        let gst::MessageView::Element(el) = msg.view() else {
            return Ok(());
        };
        let Some((sink, tracker, index, offset_ms)) = &mut self.recorder else {
            return Ok(());
        };
        let (Some(s), true) = (el.structure(), msg.src().is_some_and(|s| s == sink)) else {
            return Ok(());
        };
        if let Some(Fragment::Closed(segment)) = tracker.on_message(s, *offset_ms, false) {
            let dir = self.opts.record_dir.as_ref().expect("recording dir");
            index.add(dir, segment).map_err(|e| io_error(dir, e))?;
        }
        Ok(())
    }

    /// Chooses the large picture and the caption for `session_ms`, and notes slates going on/off;
    /// during a closed part nobody is named and no shot is noted.
    fn direct(&mut self, session_ms: u64) {
        for (input, v) in self.opts.inputs.iter().zip(self.video.iter_mut()) {
            let Some(v) = v else { continue };
            let active = v
                .switch
                .property::<Option<gst::Pad>>("active-pad")
                .is_some_and(|p| p.name() != "sink_0");
            if active != v.slate_on {
                v.slate_on = active;
                tracing::info!(
                    "program: {} {}",
                    input.source,
                    if active {
                        "lost: slate shown"
                    } else {
                        "back in the picture"
                    }
                );
            }
        }
        if self.closed_shown() {
            return;
        }
        let remote_speaking: Vec<String> = self
            .opts
            .inputs
            .iter()
            .zip(&self.levels)
            .filter_map(|(input, level)| {
                let voice = level
                    .lock()
                    .expect("level lock")
                    .last_voice
                    .is_some_and(|t| t.elapsed() < Duration::from_millis(500));
                input.person.clone().filter(|_| voice)
            })
            .collect();
        let speaker = {
            let turns = self.opts.turns.lock().expect("turns lock");
            director::speaker_at(&turns, &remote_speaking, session_ms).map(str::to_owned)
        };
        if let Some(person) = &speaker {
            let remote = self
                .opts
                .inputs
                .iter()
                .position(|i| i.video && i.person.as_deref() == Some(person));
            let chamber = self
                .opts
                .inputs
                .iter()
                .position(|i| i.video && i.person.is_none());
            if let Some(wanted) = remote.or(chamber) {
                if self.director.choose(session_ms, wanted).is_some() {
                    self.apply_layout();
                }
            }
        }
        let current = self.shots.last().map(|s| &s.person);
        if let Some(person) = speaker.filter(|p| current != Some(p)) {
            let name = self.opts.names.get(&person);
            if let Some((name, running_ms)) = name.zip(self.running_ms()) {
                let (from_ms, to_ms) = self.lower_third.show(name, running_ms);
                let line_pct = self.lower_third.captions_line_pct();
                self.ladder.raise_captions(from_ms, to_ms, line_pct);
            }
            let source = self.opts.inputs[self.director.current()].source.clone();
            tracing::info!("program: {person} speaking, {source} large");
            self.shots.push(Shot {
                at_ms: session_ms,
                person,
                source,
            });
        }
    }

    fn apply_layout(&mut self) {
        let shown: Vec<usize> = (0..self.video.len())
            .filter(|k| self.video[*k].is_some())
            .collect();
        let large = shown
            .iter()
            .position(|k| *k == self.director.current())
            .unwrap_or(0);
        let smalls = shown.len().saturating_sub(1);
        for (rect, k) in director::layout(shown.len(), large, self.opts.canvas)
            .into_iter()
            .zip(shown)
        {
            let pad = &self.video[k].as_ref().expect("shown input").pad;
            pad.set_property("xpos", rect.x);
            pad.set_property("ypos", rect.y);
            pad.set_property("width", rect.width);
            pad.set_property("height", rect.height);
            pad.set_property("zorder", rect.zorder);
        }
        self.lower_third.place(smalls);
    }

    /// Ends the program: EOS through every branch, playlists made VOD, the recording indexed.
    pub fn stop(mut self) -> Result<ProgramResult, PipelineError> {
        self.pipeline.send_event(gst::event::Eos::new());
        let bus = self.pipeline.bus().expect("a pipeline has a bus");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut result = Ok(());
        while Instant::now() < deadline {
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
                continue;
            };
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(err) => {
                    result = Err(element_error(&msg, err));
                    break;
                }
                _ => {
                    if let Err(e) = self.handle(&msg) {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        result?;
        if let Some(feed) = self.opts.captions_feed.clone() {
            // The transcriber hears the end, commits its last words and stops.
            feed.close();
            self.take_captions(Duration::from_secs(20))?;
        }
        let dropped_tap_blocks = *self.dropped_tap_blocks.lock().expect("dropped lock");
        let listed = std::mem::take(&mut self.ladder.listed);
        let gate = self.gate();
        let finished = self.ladder.finish(&gate)?;
        Ok(ProgramResult {
            captioned: finished.captioned,
            renditions: finished.renditions,
            listed,
            recording: self.recorder.map(|r| r.2),
            dropped_tap_blocks,
            shots: self.shots,
            closed_slates: gate.slate,
        })
    }
}

fn tee_pad(tee: &gst::Element) -> Result<gst::Pad, PipelineError> {
    tee.request_pad_simple("src_%u")
        .ok_or_else(|| PipelineError::Gst("no pad on tee".into()))
}

fn live_appsrc(name: &str) -> gst_app::AppSrc {
    let appsrc = gst_app::AppSrc::builder()
        .name(name)
        .is_live(true)
        .format(gst::Format::Time)
        .do_timestamp(false)
        .max_bytes(64 * 1024 * 1024)
        .block(false)
        .build();
    // Decoding and hand-over take time: the program waits this long for an input's frames.
    appsrc.set_property("min-latency", 250_000_000i64);
    appsrc
}

/// appsrc -> canvas format -> fallbackswitch (input first, slate second) -> compositor.
fn video_input(
    pipeline: &gst::Pipeline,
    input: &ProgramInput,
    canvas_caps: &gst::Caps,
    compositor: &gst::Element,
    slate_text: &str,
) -> Result<VideoInput, PipelineError> {
    let appsrc = live_appsrc(&format!("{}-video", input.source));
    let scale = element("videoscale")?;
    scale.set_property("add-borders", true);
    let caps = element("capsfilter")?;
    caps.set_property("caps", canvas_caps);
    let switch = element("fallbackswitch")?;
    switch.set_property("timeout", 1_000_000_000u64);
    switch.set_property("immediate-fallback", true);
    add_chain(
        pipeline,
        &[
            appsrc.clone().upcast(),
            element("queue")?,
            element("videoconvert")?,
            scale,
            element("videorate")?,
            caps.clone(),
        ],
    )?;
    let slate = element("videotestsrc")?;
    slate.set_property("is-live", true);
    slate.set_property_from_str("pattern", "black");
    let slate_caps = element("capsfilter")?;
    slate_caps.set_property("caps", canvas_caps);
    let text = element("textoverlay")?;
    text.set_property("text", slate_text);
    text.set_property_from_str("valignment", "center");
    text.set_property_from_str("halignment", "center");
    text.set_property("font-desc", "Sans 28");
    add_chain(
        pipeline,
        &[slate, element("videoconvert")?, slate_caps, text.clone()],
    )?;
    let queue = element("queue")?;
    add_chain(pipeline, &[switch.clone(), queue.clone()])?;
    let main_pad = switch
        .request_pad_simple("sink_%u")
        .ok_or_else(|| PipelineError::Gst("no pad on fallbackswitch".into()))?;
    main_pad.set_property("priority", 0u32);
    let slate_pad = switch
        .request_pad_simple("sink_%u")
        .ok_or_else(|| PipelineError::Gst("no pad on fallbackswitch".into()))?;
    slate_pad.set_property("priority", 1u32);
    caps.static_pad("src")
        .expect("capsfilter src")
        .link(&main_pad)
        .map_err(gst_error)?;
    text.static_pad("src")
        .expect("textoverlay src")
        .link(&slate_pad)
        .map_err(gst_error)?;
    let pad = compositor
        .request_pad_simple("sink_%u")
        .ok_or_else(|| PipelineError::Gst("no pad on compositor".into()))?;
    queue
        .static_pad("src")
        .expect("queue src")
        .link(&pad)
        .map_err(gst_error)?;
    Ok(VideoInput {
        appsrc,
        switch,
        pad,
        slate_on: false,
    })
}

/// The closed slate: "Seduta segreta", and smaller "Closed session", on a dark red full frame,
/// above every input and hidden (alpha 0) until a closed part begins.
fn closed_slate(
    pipeline: &gst::Pipeline,
    canvas_caps: &gst::Caps,
    compositor: &gst::Element,
    canvas: (i32, i32),
) -> Result<gst::Pad, PipelineError> {
    let src = element("videotestsrc")?;
    src.set_property("is-live", true);
    src.set_property_from_str("pattern", "solid-color");
    src.set_property("foreground-color", CLOSED_SLATE_ARGB);
    let caps = element("capsfilter")?;
    caps.set_property("caps", canvas_caps);
    let [title, subtitle] = slate_captions()?;
    let queue = element("queue")?;
    add_chain(
        pipeline,
        &[
            src,
            element("videoconvert")?,
            caps,
            title,
            subtitle,
            queue.clone(),
        ],
    )?;
    let pad = compositor
        .request_pad_simple("sink_%u")
        .ok_or_else(|| PipelineError::Gst("no pad on compositor".into()))?;
    queue
        .static_pad("src")
        .expect("queue src")
        .link(&pad)
        .map_err(gst_error)?;
    pad.set_property("xpos", 0i32);
    pad.set_property("ypos", 0i32);
    pad.set_property("width", canvas.0);
    pad.set_property("height", canvas.1);
    pad.set_property("zorder", 100u32);
    pad.set_property("alpha", 0.0f64);
    Ok(pad)
}

/// The closed slate's colour (ARGB): a dark red, unlike any input or the "connection lost" black.
pub const CLOSED_SLATE_ARGB: u32 = 0xff5a_1e28;

/// The closed slate's two captions, to draw over its colour: the program's slate and the
/// archive's card say the same.
pub(crate) fn slate_captions() -> Result<[gst::Element; 2], PipelineError> {
    let text = |line: &str, font: &str, ypos: f64| -> Result<gst::Element, PipelineError> {
        let t = element("textoverlay")?;
        t.set_property("text", line);
        t.set_property("font-desc", font);
        t.set_property_from_str("halignment", "center");
        t.set_property_from_str("valignment", "position");
        t.set_property("ypos", ypos);
        t.set_property("shaded-background", false);
        Ok(t)
    };
    Ok([
        text("Seduta segreta", "Sans Bold 40", 0.42)?,
        text("Closed session", "Sans 22", 0.6)?,
    ])
}

/// appsrc -> loudness matched (volume set from the measured speech level) -> audiomixer.
fn audio_input(
    pipeline: &gst::Pipeline,
    input: &ProgramInput,
    mixer: &gst::Element,
    level: Arc<Mutex<Level>>,
) -> Result<gst_app::AppSrc, PipelineError> {
    let appsrc = live_appsrc(&format!("{}-audio", input.source));
    appsrc.set_caps(Some(&audio_caps()));
    let volume = element("volume")?;
    let queue = element("queue")?;
    add_chain(pipeline, &[appsrc.clone().upcast(), queue, volume.clone()])?;
    volume.link(mixer).map_err(gst_error)?;
    let vol = volume.clone();
    volume.static_pad("sink").expect("volume sink").add_probe(
        gst::PadProbeType::BUFFER,
        move |_, info| {
            let Some(buffer) = info.buffer() else {
                return gst::PadProbeReturn::Ok;
            };
            let Ok(map) = buffer.map_readable() else {
                return gst::PadProbeReturn::Ok;
            };
            let samples: Vec<f32> = map
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if samples.is_empty() {
                return gst::PadProbeReturn::Ok;
            }
            let power =
                samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len() as f64;
            let rms_db = 10.0 * power.max(1e-12).log10();
            let mut level = level.lock().expect("level lock");
            if rms_db > director::SPEECH_DB {
                level.last_voice = Some(Instant::now());
            }
            if let Some(speech_db) = level.loudness.update(rms_db) {
                let gain_db = director::matched_gain_db(speech_db, SPEECH_TARGET_DB);
                vol.set_property("volume", 10f64.powf(gain_db / 20.0));
            }
            gst::PadProbeReturn::Ok
        },
    );
    Ok(appsrc)
}

/// The program's sound at 16 kHz mono f32, in blocks with their running time, to `feed`.
fn audio_tap(
    pipeline: &gst::Pipeline,
    atee: &gst::Element,
    feed: CaptionFeed,
    dropped: Arc<Mutex<u64>>,
) -> Result<(), PipelineError> {
    let queue = element("queue")?;
    let caps = element("capsfilter")?;
    caps.set_property(
        "caps",
        gst::Caps::builder("audio/x-raw")
            .field("format", "F32LE")
            .field("rate", 16_000i32)
            .field("channels", 1i32)
            .build(),
    );
    let sink = gst_app::AppSink::builder().sync(false).build();
    add_chain(
        pipeline,
        &[
            queue.clone(),
            element("audioconvert")?,
            element("audioresample")?,
            caps,
            sink.clone().upcast(),
        ],
    )?;
    tee_pad(atee)?
        .link(&queue.static_pad("sink").expect("queue sink"))
        .map_err(gst_error)?;
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buffer) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let running_ms = sample
                    .segment()
                    .and_then(|s| s.downcast_ref::<gst::format::Time>())
                    .zip(buffer.pts())
                    .and_then(|(s, pts)| s.to_running_time(pts))
                    .map_or(0, |t| t.mseconds());
                let Ok(map) = buffer.map_readable() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let block: Vec<f32> = map
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                if !feed.offer(running_ms, block) {
                    *dropped.lock().expect("dropped lock") += 1;
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(())
}
