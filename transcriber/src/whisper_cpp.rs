//! whisper.cpp set up once for the process (its log lines through `tracing`), and the proof that it
//! accepts a model file; shared by the model store and the transcriber.

use std::path::Path;

use whisper_rs::{WhisperContext, WhisperContextParameters};

/// Routes whisper.cpp's and ggml's log lines through `tracing` instead of standard error.
pub(crate) fn quiet_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(whisper_rs::install_logging_hooks);
}

/// Whether whisper.cpp loads the model file at `path`.
pub(crate) fn loads(path: &Path) -> bool {
    quiet_logs();
    path.to_str().is_some_and(|path| {
        WhisperContext::new_with_params(path, WhisperContextParameters::default()).is_ok()
    })
}
