//! aula: the video pipeline for city council sessions. This crate is the `aula` binary's library:
//! the catalogue, configuration and the command implementations that wire the `session` model to
//! the media crates and the `sample` test bed.

pub mod cancel;
pub mod catalogue;
pub mod commands;
pub mod config;
pub mod fsutil;
pub mod media;
pub mod ops;
pub mod progress;
pub mod search;
pub mod serve;

/// An error caused by the caller's input (a bad document, an unknown id, an out-of-range option):
/// the binary exits with code 2 for these, 1 for everything else.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Whether one cause of an error is the caller's doing (a library error of the bad-input kind).
pub(crate) fn is_bad_input(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause.is::<BadInput>()
        || cause.is::<session::DocumentError>()
        || cause.is::<session::BadSessionId>()
        || cause
            .downcast_ref::<transcriber::models::ModelError>()
            .is_some_and(transcriber::models::ModelError::is_bad_input)
        || cause
            .downcast_ref::<transcriber::audio::AudioError>()
            .is_some_and(transcriber::audio::AudioError::is_bad_input)
        || cause
            .downcast_ref::<transcriber::whisper::TranscribeError>()
            .is_some_and(transcriber::whisper::TranscribeError::is_bad_input)
        || cause.is::<transcriber::align::CorrectionError>()
        || cause.is::<presets::PresetError>()
        || cause
            .downcast_ref::<pipeline::PipelineError>()
            .is_some_and(pipeline::PipelineError::is_bad_input)
        || cause.is::<publisher::request::RequestError>()
        || cause
            .downcast_ref::<publisher::clip::ClipError>()
            .is_some_and(publisher::clip::ClipError::is_bad_input)
}

/// The process exit code for an error, from its kind: 2 for bad input, an unknown id or a
/// conflict, 130 when cancelled, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match ops::kind_of(err) {
        ops::ErrorKind::BadInput | ops::ErrorKind::NotFound | ops::ErrorKind::Conflict => 2,
        ops::ErrorKind::Cancelled => 130,
        ops::ErrorKind::Internal => 1,
    }
}
