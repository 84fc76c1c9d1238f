//! What kind of failure an error is, as every library of the workspace reports it: the exit code
//! and the HTTP status both come from it.

/// The kind of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong (a refused document, a broken file, an option out of range).
    BadInput,
    /// What the caller named does not exist.
    NotFound,
    /// The request clashes with the state (an id taken, a closed part open already).
    Conflict,
    /// Ctrl-C, SIGTERM or a job's cancel stopped the work.
    Cancelled,
    /// A failure of the system.
    Internal,
}
