//! whisper-rs glue: loading a model and transcribing chunks of 16 kHz mono audio.

use std::path::Path;

use whisper_rs::{WhisperContext, WhisperContextParameters};

use crate::models::ModelError;

/// Loads a model file once to prove that whisper.cpp accepts it.
pub fn check_loads(path: &Path) -> Result<(), ModelError> {
    quiet_logs();
    let path_str = path
        .to_str()
        .ok_or_else(|| ModelError::Load(path.to_path_buf()))?;
    WhisperContext::new_with_params(path_str, WhisperContextParameters::default())
        .map(drop)
        .map_err(|_| ModelError::Load(path.to_path_buf()))
}

/// Routes whisper.cpp's and ggml's log lines through `tracing` instead of standard error.
pub fn quiet_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(whisper_rs::install_logging_hooks);
}
