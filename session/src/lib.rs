//! aula's domain model: a council session with its sources, roster, agenda and live evidence
//! (floor events, agenda markers, votes), what it produces (transcripts, interventions, clips), and session
//! time. Plain data with serde and validation, no media libraries; the only I/O is the one piece
//! every crate shares, files written whole ([`files`]).
//!
//! ```
//! let text = r#"{"id":"s1","body":"Consiglio comunale","title":"Seduta","start":"2021-03-15T17:00:00Z","mode":"hybrid"}"#;
//! let session = session::parse(text, session::Format::Json).unwrap();
//! assert_eq!(session.language, "it");
//! ```

pub mod doc;
pub mod error;
pub mod files;
pub mod id;
pub mod model;
pub mod subtitles;
pub mod time;
pub mod timeline;
pub mod transcript;
pub mod validate;

pub use doc::{from_json, parse, to_json, DocumentError, Format};
pub use error::ErrorKind;
pub use files::{hex, part_path, part_writer, remove_stale_parts, write_atomic, PartFile};
pub use id::{BadSessionId, SessionId, MAX_SESSION_ID_LEN};
pub use model::{
    AgendaItem, AgendaMarker, Ballot, Choice, ClosedRange, FloorEvent, ItemKind, MicAction, Mode,
    Person, Role, Session, Source, SourceKind, Vote, VoteCounts, VoteResult,
};
pub use time::{SessionClock, SessionMs};
pub use timeline::{ItemSpan, Timeline, TimelineWord};
pub use transcript::{Clip, Intervention, Segment, Transcript, Word};
pub use validate::{is_safe_id, uri_scheme, Problem};
