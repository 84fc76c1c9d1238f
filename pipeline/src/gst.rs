//! What every pipeline shares: the crate's error type and the GStreamer helpers that make elements,
//! link chains and read bus errors.

use session::ErrorKind;
use std::path::Path;

use gstreamer as gst;
use gstreamer::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("GStreamer: {0}")]
    Gst(String),
    #[error("GStreamer error from {element}: {message} ({debug})")]
    Element {
        element: String,
        message: String,
        debug: String,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}: no segments to finalize")]
    NothingRecorded(String),
    /// A pipeline made no progress for the watchdog's time (see [`crate::watchdog`]).
    #[error(
        "no progress for {idle_ms} ms (the limit is {stall_ms} ms): stalled at {element}: {detail}"
    )]
    Stalled {
        element: String,
        detail: String,
        idle_ms: u64,
        stall_ms: u64,
    },
    #[error("cancelled")]
    Cancelled,
    /// Joining failed on one of a recording's segments.
    #[error("segment {file}: {reason}")]
    Segment {
        file: String,
        reason: Box<PipelineError>,
    },
}

impl PipelineError {
    /// A broken or unreadable input is the caller's; GStreamer, the disk or a stall, the system's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Element { .. } | PipelineError::NothingRecorded(_) => {
                ErrorKind::BadInput
            }
            PipelineError::Segment { reason, .. } => reason.kind(),
            PipelineError::Cancelled => ErrorKind::Cancelled,
            _ => ErrorKind::Internal,
        }
    }
}

pub(crate) fn gst_error(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Gst(e.to_string())
}

pub(crate) fn io_error(path: &Path, e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The error a bus message reports, with the path of the element that sent it.
pub(crate) fn element_error(msg: &gst::Message, err: &gst::message::Error) -> PipelineError {
    PipelineError::Element {
        element: msg
            .src()
            .map_or_else(|| "pipeline".to_owned(), |s| s.path_string().to_string()),
        message: err.error().to_string(),
        debug: err.debug().map(|d| d.to_string()).unwrap_or_default(),
    }
}

/// A new element named `name` (unique in its pipeline).
pub(crate) fn make(factory: &str, name: &str) -> Result<gst::Element, PipelineError> {
    built(
        gst::ElementFactory::make(factory).name(name).build(),
        factory,
    )
}

/// A new element with GStreamer's own name.
pub(crate) fn element(factory: &str) -> Result<gst::Element, PipelineError> {
    built(gst::ElementFactory::make(factory).build(), factory)
}

fn built(
    result: Result<gst::Element, gst::glib::BoolError>,
    factory: &str,
) -> Result<gst::Element, PipelineError> {
    result.map_err(|e| {
        PipelineError::Gst(format!(
            "cannot create {factory} ({e}); is its plugin installed?"
        ))
    })
}

/// Adds `chain` to `pipeline`, links it in order and brings it to the pipeline's state.
pub(crate) fn add_chain(
    pipeline: &gst::Pipeline,
    chain: &[gst::Element],
) -> Result<(), PipelineError> {
    pipeline.add_many(chain).map_err(gst_error)?;
    for pair in chain.windows(2) {
        pair[0].link(&pair[1]).map_err(|e| {
            PipelineError::Gst(format!(
                "cannot link {} to {}: {e}",
                pair[0].path_string(),
                pair[1].path_string()
            ))
        })?;
    }
    for e in chain {
        e.sync_state_with_parent().map_err(gst_error)?;
    }
    Ok(())
}
