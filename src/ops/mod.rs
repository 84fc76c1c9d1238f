//! The application layer: the operations both the command line and `aula serve` run, on the
//! catalogue and the configuration, with plain requests in and reports out. Nothing here prints,
//! draws progress or knows about clap or HTTP.

pub mod accounts;
pub mod alerts;
pub mod align;
pub mod archive;
pub mod board;
pub mod captions;
pub mod clip;
pub mod correct;
pub mod delete;
pub mod deliver;
pub mod documents;
pub mod evidence;
pub mod import;
pub mod jobs;
pub mod live;
pub mod live_vs_offline;
pub mod mail;
pub mod open_data;
pub mod outputs;
pub mod pdf;
pub mod people;
pub mod publish;
pub mod record;
pub mod report;
pub mod resoconto;
pub mod review;
#[cfg(test)]
mod testing;
pub mod transcribe;

use presets::PresetSet;

use crate::catalogue::CatalogueError;
use crate::config::Config;

/// The built-in presets and the user's, from `$AULA_HOME/presets/*.toml`.
pub fn load_presets(config: &Config) -> Result<PresetSet, presets::PresetError> {
    PresetSet::load(&config.presets_dir())
}

pub use session::ErrorKind;

/// The kind of the first cause in `err`'s chain that reports one; `Internal` when none does.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    err.chain()
        .find_map(kind_of_cause)
        .unwrap_or(ErrorKind::Internal)
}

/// The kind `cause` reports, when it is one of the workspace's errors.
fn kind_of_cause(cause: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    macro_rules! reported {
        ($($error:ty),* $(,)?) => {
            $(if let Some(e) = cause.downcast_ref::<$error>() {
                return Some(e.kind());
            })*
        };
    }
    reported!(
        CatalogueError,
        accounts::AccountError,
        accounts::SignInRefused,
        alerts::AlertError,
        crate::config::delivery::DestinationError,
        import::ImportError,
        delete::DeleteError,
        deliver::DeliverError,
        evidence::EvidenceError,
        session::DocumentError,
        session::BadSessionId,
        presets::PresetError,
        transcriber::models::ModelError,
        transcriber::audio::AudioError,
        transcriber::whisper::TranscribeError,
        transcriber::align::CorrectionError,
        pipeline::PipelineError,
        publisher::request::RequestError,
        publisher::clip::ClipError,
        sample::SampleError,
        crate::storage::StorageError,
    );
    if cause.is::<crate::BadInput>() {
        return Some(ErrorKind::BadInput);
    }
    cause
        .is::<crate::cancel::Cancelled>()
        .then_some(ErrorKind::Cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_comes_from_the_first_cause_that_reports_one() {
        let unknown = presets::PresetSet::builtin().get("nope").unwrap_err();
        let err = anyhow::Error::new(unknown).context("cutting item 2");
        assert_eq!(kind_of(&err), ErrorKind::NotFound);
        let cancelled = anyhow::Error::new(crate::cancel::Cancelled).context("publishing");
        assert_eq!(kind_of(&cancelled), ErrorKind::Cancelled);
        let taken = anyhow::Error::new(CatalogueError::AlreadyExists("s1".into()));
        assert_eq!(kind_of(&taken), ErrorKind::Conflict);
        let bad = anyhow::Error::new(crate::BadInput("--beam 9".into()));
        assert_eq!(kind_of(&bad), ErrorKind::BadInput);
        assert_eq!(
            kind_of(&anyhow::anyhow!("disk on fire")),
            ErrorKind::Internal
        );
    }
}
