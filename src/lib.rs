//! aula: the video pipeline for city council sessions. This crate is the `aula` binary's library:
//! the catalogue and configuration, the application layer (`ops`: every operation, with plain
//! requests in and reports out), and on top of it, side by side, the command line (`commands`) and
//! the web service (`serve`).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let home = tempfile::tempdir().unwrap();
//! let config = aula::config::Config::resolve(Some(home.path().into()), None).unwrap();
//! config.ensure_home().unwrap();
//! let catalogue = aula::catalogue::Catalogue::open(&config.database_url).await.unwrap();
//! let period = aula::ops::report::Period::parse(Some("2026-01-01"), None).unwrap();
//! let report = aula::ops::report::report(&catalogue, period).await.unwrap();
//! assert_eq!((report.sessions, report.clips), (0, 0));
//! # });
//! ```

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
pub mod storage;

/// An error caused by the caller's input (a bad document, an unknown id, an out-of-range option):
/// the binary exits with code 2 for these, 1 for everything else.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The process exit code for an error, from its kind: 2 for bad input, an unknown id or a
/// conflict, 130 when cancelled, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match ops::kind_of(err) {
        ops::ErrorKind::BadInput | ops::ErrorKind::NotFound | ops::ErrorKind::Conflict => 2,
        ops::ErrorKind::Cancelled => 130,
        ops::ErrorKind::Internal => 1,
    }
}
