//! Reading and writing session documents (JSON or TOML), with the field path in every error.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::Session;
use crate::validate::Problem;

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("not valid TOML: {0}")]
    Toml(String),
    /// The text parsed but a field has the wrong type or value.
    #[error("{path}: {reason}")]
    Field { path: String, reason: String },
    #[error("{} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// The format of a session document, from its file name (`.toml`, anything else JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Toml,
}

impl Format {
    pub fn from_file_name(name: &str) -> Format {
        if name.to_ascii_lowercase().ends_with(".toml") {
            Format::Toml
        } else {
            Format::Json
        }
    }
}

fn field_error(path: &serde_path_to_error::Path, reason: String) -> DocumentError {
    let path = path.to_string();
    DocumentError::Field {
        path: if path == "." {
            "document".to_owned()
        } else {
            path
        },
        reason,
    }
}

/// Parses JSON into any document type, naming the field that does not fit.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, DocumentError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return DocumentError::Json(e.into_inner());
        }
        field_error(e.path(), inner.to_string())
    })?;
    de.end().map_err(DocumentError::Json)?;
    Ok(value)
}

/// Parses TOML into any document type, naming the field that does not fit.
pub fn from_toml<T: DeserializeOwned>(text: &str) -> Result<T, DocumentError> {
    let de = toml::Deserializer::parse(text).map_err(|e| DocumentError::Toml(e.to_string()))?;
    serde_path_to_error::deserialize(de)
        .map_err(|e| field_error(e.path(), e.inner().message().to_owned()))
}

/// Parses a session document in JSON without validating it.
pub fn parse_json(text: &str) -> Result<Session, DocumentError> {
    from_json(text)
}

/// Parses and validates a session document.
pub fn parse(text: &str, format: Format) -> Result<Session, DocumentError> {
    let session: Session = match format {
        Format::Json => from_json(text)?,
        Format::Toml => from_toml(text)?,
    };
    let problems = session.validate();
    if problems.is_empty() {
        Ok(session)
    } else {
        Err(DocumentError::Invalid(problems))
    }
}

pub fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_string_pretty(value).expect("document serializes to JSON")
}

pub fn to_toml<T: Serialize>(value: &T) -> Result<String, toml::ser::Error> {
    toml::to_string_pretty(value)
}

impl DocumentError {
    /// A document that cannot be read or is invalid is the caller's.
    pub fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::BadInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"id":"s1","body":"Consiglio","title":"Seduta","start":"2021-03-15T17:00:00Z","mode":"in_person"}"#;

    #[test]
    fn language_defaults_to_italian() {
        let s = parse(MINIMAL, Format::Json).unwrap();
        assert_eq!(s.language, "it");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let text = MINIMAL.replace(
            r#""mode":"in_person""#,
            r#""mode":"in_person","agenda":[{"number":"one","title":"x","kind":"motion"}]"#,
        );
        let err = parse(&text, Format::Json).unwrap_err().to_string();
        assert!(err.starts_with("agenda[0].number: invalid type"), "{err}");
    }

    #[test]
    fn unknown_mode_names_the_field() {
        let text = MINIMAL.replace("in_person", "online");
        let err = parse(&text, Format::Json).unwrap_err().to_string();
        assert!(err.starts_with("mode: unknown variant `online`"), "{err}");
    }

    #[test]
    fn an_unknown_vote_value_names_the_field() {
        let vote = |result: &str, choice: &str| {
            MINIMAL.replace(
                r#""mode":"in_person""#,
                &format!(
                    r#""mode":"in_person","agenda":[{{"number":1,"title":"x","kind":"motion"}}],
                    "roster":[{{"id":"p","name":"P","role":"councillor"}}],
                    "votes":[{{"item":1,"at":"2021-03-15T18:00:00Z","subject":"x","result":"{result}",
                    "counts":{{"favour":1,"against":0,"abstained":0}},
                    "ballots":[{{"person":"p","vote":"{choice}"}}]}}]"#
                ),
            )
        };
        assert_eq!(
            parse(&vote("approved", "favour"), Format::Json)
                .unwrap()
                .votes
                .len(),
            1
        );
        let err = parse(&vote("passed", "favour"), Format::Json)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("votes[0].result: unknown variant `passed`"),
            "{err}"
        );
        let err = parse(&vote("approved", "yes"), Format::Json)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("votes[0].ballots[0].vote: unknown variant `yes`"),
            "{err}"
        );
    }

    #[test]
    fn not_json() {
        let err = parse("<session/>", Format::Json).unwrap_err();
        assert!(matches!(err, DocumentError::Json(_)), "{err}");
    }

    #[test]
    fn toml_round_trip() {
        let s = parse(MINIMAL, Format::Json).unwrap();
        let text = to_toml(&s).unwrap();
        assert_eq!(parse(&text, Format::Toml).unwrap(), s);
    }
}
