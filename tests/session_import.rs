//! `aula session import|list|show|delete`: good documents round-trip, bad ones are refused with the
//! field path and exit code 2, and a refused import leaves the catalogue exactly as it was.

mod common;

use common::{stderr, Aula};
use serde_json::{json, Value};

fn good_document() -> Value {
    json!({
        "id": "cc-2021-03-15",
        "body": "Consiglio comunale di Esempio",
        "title": "Seduta ordinaria",
        "start": "2021-03-15T17:00:00Z",
        "mode": "hybrid",
        "language": "it",
        "sources": [
            {"id": "cam1", "kind": "camera", "uri": "camera.mp4"},
            {"id": "remote-anna", "kind": "remote", "uri": "srt://127.0.0.1:9000", "person": "anna-verdi"}
        ],
        "roster": [
            {"id": "mario-rossi", "name": "Mario Rossi", "role": "chair", "seat": 1},
            {"id": "luca-neri", "name": "Luca Neri", "role": "councillor", "group": "Gruppo Misto", "seat": 2},
            {"id": "anna-verdi", "name": "Anna Verdi", "role": "councillor", "group": "Futuro Comune"}
        ],
        "agenda": [
            {"number": 1, "title": "Bilancio di previsione", "kind": "resolution", "act": "DCC 12/2021", "rapporteur": "luca-neri"},
            {"number": 2, "title": "Mozione sui parchi", "kind": "motion"}
        ],
        "closed_ranges": [{"start_ms": 60000, "end_ms": 90000, "reason": "dati personali"}],
        "floor_events": [
            {"at": "2021-03-15T17:00:02.250Z", "seat": 1, "action": "mic_on"},
            {"at": "2021-03-15T17:00:09Z", "person": "mario-rossi", "action": "mic_off"}
        ],
        "agenda_markers": [{"at": "2021-03-15T17:00:05Z", "item": 1}]
    })
}

/// Writes a document beside an (empty) camera.mp4 so that the media check passes.
fn write_document(aula: &Aula, name: &str, doc: &str) -> String {
    let dir = aula.path().join("docs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("camera.mp4"), b"").unwrap();
    let path = dir.join(name);
    std::fs::write(&path, doc).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_valid_document_round_trips() {
    let aula = Aula::new();
    let doc = good_document();
    let path = write_document(&aula, "session.json", &doc.to_string());
    let printed: Value =
        serde_json::from_str(&aula.ok(&["session", "import", &path, "--json"])).unwrap();
    assert_eq!(printed, json!({"id": "cc-2021-03-15"}));
    let shown: Value =
        serde_json::from_str(&aula.ok(&["session", "show", "cc-2021-03-15", "--json"])).unwrap();
    assert_eq!(shown, doc);
    let list: Value = serde_json::from_str(&aula.ok(&["session", "list", "--json"])).unwrap();
    assert_eq!(list[0]["id"], "cc-2021-03-15");
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn a_toml_document_imports_like_its_json() {
    let aula = Aula::new();
    let doc: session::Session = serde_json::from_value(good_document()).unwrap();
    let path = write_document(&aula, "session.toml", &toml::to_string(&doc).unwrap());
    assert_eq!(
        aula.ok(&["session", "import", &path]).trim(),
        "cc-2021-03-15"
    );
    let shown: Value =
        serde_json::from_str(&aula.ok(&["session", "show", "cc-2021-03-15", "--json"])).unwrap();
    assert_eq!(shown, good_document());
}

/// Catalogue state a user can see: the list and every session's document.
fn catalogue_state(aula: &Aula) -> String {
    let list = aula.ok(&["session", "list", "--json"]);
    let ids: Vec<Value> = serde_json::from_str::<Value>(&list)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let mut state = list;
    for entry in ids {
        state.push_str(&aula.ok(&["session", "show", entry["id"].as_str().unwrap(), "--json"]));
    }
    state
}

#[test]
fn every_kind_of_bad_document_is_refused_and_changes_nothing() {
    let aula = Aula::new();
    // A session already in the catalogue must stay as it is; the bad ones reuse its id with --replace.
    let path = write_document(&aula, "good.json", &good_document().to_string());
    aula.ok(&["session", "import", &path]);
    let before = catalogue_state(&aula);

    let with = |edit: fn(&mut Value)| {
        let mut doc = good_document();
        edit(&mut doc);
        doc.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "<seduta>".into(), "not valid JSON"),
        (
            "wrong type",
            with(|d| d["agenda"][1]["number"] = json!("two")),
            "agenda[1].number: invalid type",
        ),
        (
            "unknown mode",
            with(|d| d["mode"] = json!("online")),
            "mode: unknown variant `online`",
        ),
        (
            "duplicate agenda numbers",
            with(|d| d["agenda"][1]["number"] = json!(1)),
            "agenda[1].number: 1 appears twice",
        ),
        (
            "floor event for an unknown seat",
            with(|d| d["floor_events"][0]["seat"] = json!(31)),
            "floor_events[0].seat: no person sits at seat 31",
        ),
        (
            "overlapping closed ranges",
            with(|d| {
                d["closed_ranges"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"start_ms": 80000, "end_ms": 100000}))
            }),
            "closed_ranges[1]: overlaps closed_ranges[0]",
        ),
        (
            "missing media file",
            with(|d| d["sources"][0]["uri"] = json!("missing.mp4")),
            "sources[0].uri: media file not found",
        ),
        (
            "hostile id",
            with(|d| d["id"] = json!("../../etc")),
            "id: \"../../etc\" is not a valid session id",
        ),
        (
            "unknown person in a remote source",
            with(|d| d["sources"][1]["person"] = json!("nobody")),
            "sources[1].person: \"nobody\" is not in the roster",
        ),
    ];
    for (what, text, expected) in cases {
        let path = write_document(&aula, "bad.json", &text);
        let out = aula.run(&["session", "import", &path, "--replace"]);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{what}: expected {expected:?} in {}",
            stderr(&out)
        );
        assert_eq!(
            catalogue_state(&aula),
            before,
            "{what} changed the catalogue"
        );
    }
}

#[test]
fn reimport_needs_replace_and_delete_removes_the_session_and_its_files() {
    let aula = Aula::new();
    let path = write_document(&aula, "session.json", &good_document().to_string());
    aula.ok(&["session", "import", &path]);
    let again = aula.run(&["session", "import", &path]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already in the catalogue"),
        "{}",
        stderr(&again)
    );

    let mut changed = good_document();
    changed["title"] = json!("Seduta straordinaria");
    let path = write_document(&aula, "session.json", &changed.to_string());
    aula.ok(&["session", "import", &path, "--replace"]);
    let shown: Value =
        serde_json::from_str(&aula.ok(&["session", "show", "cc-2021-03-15", "--json"])).unwrap();
    assert_eq!(shown["title"], "Seduta straordinaria");

    let session_dir = aula.path().join("data/sessions/cc-2021-03-15");
    assert!(session_dir.is_dir());
    std::fs::write(session_dir.join("transcript.json"), b"{}").unwrap();
    aula.ok(&["session", "delete", "cc-2021-03-15"]);
    assert!(!session_dir.exists());
    assert_eq!(aula.ok(&["session", "list", "--json"]).trim(), "[]");
    let missing = aula.run(&["session", "show", "cc-2021-03-15"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no session \"cc-2021-03-15\""));
}

#[test]
fn usage_errors_exit_with_2_and_help_describes_exit_codes() {
    let aula = Aula::new();
    assert_eq!(aula.run(&["session", "frobnicate"]).status.code(), Some(2));
    let unreadable = aula.run(&["session", "import", "/nonexistent/session.json"]);
    assert_eq!(unreadable.status.code(), Some(2));
    assert!(stderr(&unreadable).contains("cannot read /nonexistent/session.json"));
    let help = aula.ok(&["--help"]);
    assert!(
        help.contains("Exit codes: 0 success, 1 failure, 2 bad input or usage"),
        "{help}"
    );
}
