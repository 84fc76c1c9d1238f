//! The catalogue's tests run on both backends: SQLite in a temporary folder, and a fresh
//! database of the test process's throwaway PostgreSQL cluster (`testdb`).

use super::Catalogue;

/// A catalogue of one backend, with what keeps it alive.
pub struct Backend {
    pub name: &'static str,
    pub catalogue: Catalogue,
    _dir: Option<tempfile::TempDir>,
}

/// A new, empty catalogue on each backend.
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Catalogue::open(&Catalogue::sqlite_url(dir.path()))
        .await
        .unwrap();
    let url = tokio::task::spawn_blocking(testdb::database).await.unwrap();
    let postgres = Catalogue::open(&url).await.unwrap();
    vec![
        Backend {
            name: "sqlite",
            catalogue: sqlite,
            _dir: Some(dir),
        },
        Backend {
            name: "postgres",
            catalogue: postgres,
            _dir: None,
        },
    ]
}
