//! aula's speech to text: Whisper models (install, import, convert to ggml), audio decoding to
//! 16 kHz mono in blocks, voice activity and chunking, and whisper-rs transcription with a time and
//! a confidence for every word.

pub mod audio;
pub mod models;
pub mod vad;
pub mod whisper;
pub mod words;
