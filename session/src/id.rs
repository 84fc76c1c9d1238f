//! The checked session id: the only way a session's name reaches a folder on disk. It can be built
//! only from a safe string, so every path made from it stays inside the data directory.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest session id accepted, in bytes.
pub const MAX_SESSION_ID_LEN: usize = 128;

/// Why a string cannot be a session id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid session id: {reason} (expected 1-{MAX_SESSION_ID_LEN} ASCII letters, digits, '-', '_' or '.', not starting with '.')")]
pub struct BadSessionId {
    /// The refused value, cut to a printable length.
    pub value: String,
    pub reason: &'static str,
}

/// A session id: 1 to 128 ASCII letters, digits, `-`, `_` or `.`, not starting with `.` (so never
/// `.`, `..`, a hidden name, an absolute path or anything with a separator or a control character).
///
/// ```
/// use session::SessionId;
/// assert!("consiglio-2024-03-15".parse::<SessionId>().is_ok());
/// assert!("..".parse::<SessionId>().is_err());
/// assert!("a/b".parse::<SessionId>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// Checks `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<SessionId, BadSessionId> {
        let bad = |reason| BadSessionId {
            value: text.chars().take(160).collect(),
            reason,
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.len() > MAX_SESSION_ID_LEN {
            return Err(bad("it is too long"));
        }
        if text.starts_with('.') {
            return Err(bad("it starts with '.'"));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(bad(
                "it holds a character other than letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(SessionId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SessionId {
    type Err = BadSessionId;

    fn from_str(text: &str) -> Result<SessionId, BadSessionId> {
        SessionId::parse(text)
    }
}

impl Deref for SessionId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for SessionId {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for SessionId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SessionId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SessionId, D::Error> {
        let text = String::deserialize(deserializer)?;
        SessionId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl BadSessionId {
    /// A bad id is the caller's.
    pub fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::BadInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_are_refused() {
        let long = "a".repeat(MAX_SESSION_ID_LEN + 1);
        for bad in [
            "",
            ".",
            "..",
            "../../tmp/x",
            "/etc",
            "a/b",
            "a\\b",
            "a\nb",
            "<script>",
            ".hidden",
            "a b",
            "é",
            long.as_str(),
        ] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ordinary_ids_are_kept() {
        let longest = "a".repeat(MAX_SESSION_ID_LEN);
        for good in [
            "s1",
            "consiglio-2024-03-15",
            "CC_12.bis",
            "-x",
            longest.as_str(),
        ] {
            assert_eq!(SessionId::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn a_document_with_a_bad_id_does_not_parse() {
        let err = serde_json::from_str::<SessionId>("\"../x\"").unwrap_err();
        assert!(err.to_string().contains("not a valid session id"), "{err}");
    }
}
