//! aula's speech to text: Whisper models (install, import, convert to ggml), audio decoding to
//! 16 kHz mono in blocks, voice activity and chunking, and whisper-rs transcription with a time and
//! a confidence for every word, and its streaming form for live captions; voice activity of whole sources, and the alignment of words to
//! speakers and agenda items.

pub mod activity;
pub mod align;
pub mod audio;
pub mod models;
pub mod stream;
pub mod vad;
pub mod wav;
pub mod whisper;
mod whisper_cpp;
pub mod words;
