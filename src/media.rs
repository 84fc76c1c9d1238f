//! Where a source's media is: a local file (resolved against the session document's folder) or a
//! network stream.

use std::path::{Path, PathBuf};

use session::{Problem, Session};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Network(String),
}

/// Resolves a source uri: `file://` uris and plain paths become files, relative ones against `base`.
pub fn resolve(base: &Path, uri: &str) -> Location {
    match session::uri_scheme(uri) {
        Some("file") => Location::File(PathBuf::from(percent_decode(&uri["file://".len()..]))),
        Some(_) => Location::Network(uri.to_owned()),
        None => Location::File(base.join(uri)),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A problem for every file source whose media file is missing.
pub fn missing_media(session: &Session, base: &Path) -> Vec<Problem> {
    session
        .sources
        .iter()
        .enumerate()
        .filter_map(|(i, source)| match resolve(base, &source.uri) {
            Location::File(path) if !path.is_file() => Some(Problem {
                path: format!("sources[{i}].uri"),
                reason: format!("media file not found: {}", path.display()),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_paths_and_file_uris() {
        let base = Path::new("/data/s1");
        assert_eq!(
            resolve(base, "camera.mp4"),
            Location::File("/data/s1/camera.mp4".into())
        );
        assert_eq!(
            resolve(base, "file:///media/a%20b.mp4"),
            Location::File("/media/a b.mp4".into())
        );
        assert_eq!(
            resolve(base, "srt://0.0.0.0:9000"),
            Location::Network("srt://0.0.0.0:9000".into())
        );
    }
}
