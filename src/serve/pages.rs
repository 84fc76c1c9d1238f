//! The pages, rendered on the server (Italian, `?lang=en` for English) with a little JavaScript
//! (`web/app.js`): home (live now, recent sessions), a session (player, agenda as chapters,
//! transcript that follows the player and seeks on click, clip downloads), and the press office's
//! clip requests; the page templates they and the other page modules render. The player plays the live stream, else the archive (the whole session
//! without its closed parts, `ops::archive`), else the published clips one after another: no
//! closed-session frame is ever in a public page.
//!
//! The pages are minijinja templates (`web/templates/*.html`, embedded in the binary) with HTML
//! auto-escaping: every value from the catalogue goes in as text, addresses built from data are
//! percent-encoded path segments (the `segment` and `path` filters), and what the script needs
//! travels in a `<script type="application/json">` block written by `tojson`.

use std::sync::LazyLock;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::value::Serde;
use minijinja::{context, Environment, State as TemplateState};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use serde_json::json;
use session::SessionId;

use super::error::ApiError;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sessions/{id}", get(session_page))
        .route("/press", get(press_page))
        .route("/static/{name}", get(super::assets::asset))
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub lang: Option<String>,
    /// A session page's deep link: `75` or `75.2-90.5` (seconds of session time).
    t: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lang {
    It,
    En,
}

impl From<Lang> for crate::ops::documents::Lang {
    fn from(lang: Lang) -> Self {
        match lang {
            Lang::It => crate::ops::documents::Lang::It,
            Lang::En => crate::ops::documents::Lang::En,
        }
    }
}

tokio::task_local! {
    /// The language the browser asks for (`Accept-Language`) in the request being answered.
    static BROWSER: Lang;
}

/// Answers the request with the language its browser asks for (`Accept-Language`) known to
/// [`Lang::of`].
pub async fn browser_language(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let lang = Lang::of_browser(
        request
            .headers()
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    BROWSER.scope(lang, next.run(request)).await
}

impl Lang {
    pub fn of(q: &PageQuery) -> Lang {
        Lang::parse(q.lang.as_deref())
    }

    /// The language an `Accept-Language` header prefers among Italian and English: the one of
    /// the two with the highest weight (the first on a tie); Italian when it names neither.
    pub fn of_browser(accept_language: &str) -> Lang {
        let mut best: Option<(Lang, f32)> = None;
        for part in accept_language.split(',') {
            let mut fields = part.split(';');
            let tag = fields.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = fields
                .find_map(|f| f.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "it" => Lang::It,
                "en" => Lang::En,
                _ => continue,
            };
            if weight > 0.0 && best.is_none_or(|(_, w)| weight > w) {
                best = Some((lang, weight));
            }
        }
        best.map_or(Lang::It, |(lang, _)| lang)
    }

    /// The language a `lang` query parameter asks for: English for `en`, else Italian; without
    /// the parameter, the browser's (`Accept-Language`), else Italian.
    pub(super) fn parse(code: Option<&str>) -> Lang {
        match code {
            Some("en") => Lang::En,
            Some(_) => Lang::It,
            None => BROWSER.try_with(|l| *l).unwrap_or(Lang::It),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }

    /// The Italian or the English text, as the page's language says.
    pub fn pick(self, it: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::It => it,
            Lang::En => en,
        }
    }

    /// What links within the site append to keep the language.
    pub fn query(self) -> &'static str {
        match self {
            Lang::It => "",
            Lang::En => "?lang=en",
        }
    }
}

/// The page templates, parsed once.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // XML documents (the sitemap) escape their values with the `xml` filter: HTML escaping would
    // write `/` as `&#x2f;` in every address.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".xml") {
            minijinja::AutoEscape::None
        } else {
            minijinja::default_auto_escape_callback(name)
        }
    });
    for (name, source) in [
        ("base.html", include_str!("../../web/templates/base.html")),
        ("home.html", include_str!("../../web/templates/home.html")),
        (
            "search_form.html",
            include_str!("../../web/templates/search_form.html"),
        ),
        (
            "search.html",
            include_str!("../../web/templates/search.html"),
        ),
        (
            "session.html",
            include_str!("../../web/templates/session.html"),
        ),
        ("press.html", include_str!("../../web/templates/press.html")),
        (
            "player.html",
            include_str!("../../web/templates/player.html"),
        ),
        ("embed.html", include_str!("../../web/templates/embed.html")),
        (
            "oembed.html",
            include_str!("../../web/templates/oembed.html"),
        ),
        (
            "sitemap.xml",
            include_str!("../../web/templates/sitemap.xml"),
        ),
        (
            "alert_feed.xml",
            include_str!("../../web/templates/alert_feed.xml"),
        ),
        (
            "alerts.html",
            include_str!("../../web/templates/alerts.html"),
        ),
        ("board.html", include_str!("../../web/templates/board.html")),
        ("clips.html", include_str!("../../web/templates/clips.html")),
        ("kit.html", include_str!("../../web/templates/kit.html")),
        (
            "review.html",
            include_str!("../../web/templates/review.html"),
        ),
        (
            "control.html",
            include_str!("../../web/templates/control.html"),
        ),
        (
            "signin.html",
            include_str!("../../web/templates/signin.html"),
        ),
        (
            "people.html",
            include_str!("../../web/templates/people.html"),
        ),
        (
            "councillor.html",
            include_str!("../../web/templates/councillor.html"),
        ),
        ("group.html", include_str!("../../web/templates/group.html")),
        (
            "not_found.html",
            include_str!("../../web/templates/not_found.html"),
        ),
    ] {
        // Invariant: the embedded templates parse (the unit test below renders each one).
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env.add_filter("xml", xml);
    env.add_filter("segment", segment);
    env.add_filter("path", path);
    env.add_filter("clock", clock);
    env.add_function("t", translate);
    env
});

/// Everything but letters, digits and `-._~` is percent-encoded, `/` included.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment of an address, percent-encoded: `a/b?c` stays one segment, `a%2Fb%3Fc`.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// Text for an XML element or attribute: `&`, `<`, `>`, `"` and `'` as entities.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A relative path, each of its `/`-separated segments percent-encoded.
pub fn path(text: &str) -> String {
    text.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// The address of a file in a session's folder.
fn file_url(session: &str, relative: &str) -> String {
    format!("/files/{}/{}", segment(session), path(relative))
}

fn clock(ms: u64) -> String {
    session::SessionMs(ms).clock_seconds()
}

/// `t("Italiano", "English")` in a template: the text in the page's language.
fn translate(state: &TemplateState, it: String, en: String) -> String {
    let english = state
        .lookup("lang")
        .is_some_and(|lang| lang.as_str() == Some("en"));
    if english {
        en
    } else {
        it
    }
}

/// Renders the page template `name` with `page` (any serializable view), the language and the
/// user signed in for this request (its name and CSRF token in the page's header).
pub fn render(name: &str, lang: Lang, page: impl Serialize) -> Result<Html<String>, ApiError> {
    let html = TEMPLATES
        .get_template(name)
        .and_then(|t| {
            t.render(context! {
                lang => lang.code(),
                lang_query => lang.query(),
                viewer => Serde(super::auth::viewer()),
                ..Serde(&page)
            })
        })
        .map_err(|e| ApiError::internal(format!("page {name}: {e:#}")))?;
    Ok(Html(html))
}

/// Renders a template that is not a page (a fragment, an XML document): no language, no viewer.
pub fn render_fragment(name: &str, page: impl Serialize) -> Result<String, ApiError> {
    TEMPLATES
        .get_template(name)
        .and_then(|t| t.render(Serde(&page)))
        .map_err(|e| ApiError::internal(format!("template {name}: {e:#}")))
}

#[derive(Serialize)]
struct SessionLink<'a> {
    id: &'a SessionId,
    title: &'a str,
    body: &'a str,
    date: String,
}

async fn home(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let sessions = state.catalogue.list().await?;
    let links: Vec<_> = sessions
        .iter()
        .map(|s| SessionLink {
            id: &s.id,
            title: &s.title,
            body: &s.body,
            date: s.start.format("%Y-%m-%d").to_string(),
        })
        .collect();
    let live: Vec<_> = links
        .iter()
        .filter(|s| state.live_playlist(s.id).is_some())
        .collect();
    render(
        "home.html",
        Lang::of(&q),
        json!({ "sessions": links, "live": live }),
    )
}

#[derive(Serialize)]
struct AgendaRow<'a> {
    start_ms: Option<u64>,
    number: u32,
    title: &'a str,
    /// The group that tabled the item, and its page's id.
    proposer_group: Option<&'a str>,
    proposer_group_id: Option<String>,
    votes: Vec<VoteRow<'a>>,
}

#[derive(Serialize)]
struct VoteRow<'a> {
    subject: &'a str,
    result: &'static str,
    counts: session::VoteCounts,
}

#[derive(Serialize)]
struct Speaker<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct TranscriptRow<'a> {
    start_ms: u64,
    end_ms: u64,
    person: Option<&'a str>,
    speaker: &'a str,
    item: Option<u32>,
    /// The council's staff marked its agenda item reviewed, or corrected one of its words.
    reviewed: bool,
    words: &'a [crate::ops::review::ReviewWord],
}

#[derive(Serialize)]
struct Download<'a> {
    title: &'a str,
    start_ms: u64,
    end_ms: u64,
    preset: &'a str,
    /// The clip itself, then its subtitles where they exist.
    files: Vec<DownloadFile>,
}

#[derive(Serialize)]
struct DownloadFile {
    kind: &'static str,
    url: String,
}

/// A clip's side file (`srt`, `vtt`, `jpg`) when it exists: its address.
fn beside(dir: &std::path::Path, id: &SessionId, clip: &str, ext: &str) -> Option<String> {
    let side = std::path::Path::new(clip).with_extension(ext);
    dir.join(&side)
        .is_file()
        .then(|| file_url(id, &side.to_string_lossy()))
}

/// The session's published clips, as the player and the downloads list them.
pub(super) async fn published_clips(
    state: &AppState,
    id: &SessionId,
) -> Result<Vec<crate::catalogue::ClipRecord>, ApiError> {
    Ok(state
        .catalogue
        .clips(id)
        .await?
        .into_iter()
        .filter(|c| c.published_at.is_some())
        .collect())
}

/// What the player plays (`web/app.js`): the live stream while the session is live; else the
/// archive (the whole session as one HLS VOD without its closed parts, with its captions,
/// chapters, poster and the map between session and VOD time); else the published per-item
/// clips (web presets), one after another.
pub(super) fn player(
    state: &AppState,
    s: &session::Session,
    published: &[crate::catalogue::ClipRecord],
    lang: Lang,
) -> serde_json::Value {
    let id = &s.id;
    let dir = state.config.session_dir(id);
    let archive = crate::ops::archive::current(&state.config, s).map(|a| {
        let url = |name: &str| file_url(id, &format!("archive/{name}"));
        json!({
            "src": url("index.m3u8"),
            "captions": url("captions.vtt"),
            "chapters": url("chapters.vtt"),
            "poster": state.config.archive_dir(id).join("poster.jpg").is_file().then(|| url("poster.jpg")),
            "map": a.map.stretches,
        })
    });
    let mut playable: Vec<_> = published
        .iter()
        .filter(|c| c.path.ends_with(".mp4") && c.preset.starts_with("web"))
        .collect();
    playable.sort_by_key(|c| c.start_ms);
    playable.dedup_by_key(|c| c.start_ms);
    let live = state.live_playlist(id);
    // While live: what is under way now, and where the page asks again.
    let now = live.as_ref().map(|_| {
        json!({
            "state": crate::ops::live::under_way(s, chrono::Utc::now()),
            "url": format!("/sessions/{}/now.json", segment(id)),
            "floor": lang.pick("Ha la parola", "Has the floor"),
            "closed": lang.pick("Seduta segreta", "Closed session"),
        })
    });
    json!({
        "session": id,
        "live": live,
        "now": now,
        "archive": archive,
        "clips": playable.iter().map(|c| json!({
            "start_ms": c.start_ms, "end_ms": c.end_ms,
            "url": file_url(id, &c.path), "vtt": beside(&dir, id, &c.path, "vtt"),
        })).collect::<Vec<_>>(),
        "captions": match lang { Lang::It => "Sottotitoli", Lang::En => "Captions" },
        "lang": lang.code(),
    })
}

async fn session_page(
    State(state): State<AppState>,
    Path(id): Path<SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let stored = state.catalogue.get(&id).await?;
    let s = &stored.session;
    let (base, timeline) = state
        .catalogue
        .timeline(&id)
        .await
        .map(|t| (t.base, t.timeline))
        .unwrap_or_default();
    let lines = crate::ops::review::lines(s, &timeline, false);
    // A line is reviewed when the staff marked its item reviewed or corrected one of its words.
    let corrected = crate::ops::review::corrected_words(&base, &timeline);
    let reviewed: Vec<u32> = state
        .catalogue
        .reviews(&id)
        .await?
        .iter()
        .map(|r| r.item)
        .collect();
    let clips = published_clips(&state, &id).await?;
    let dir = state.config.session_dir(&id);
    let beside = |clip: &str, ext: &str| beside(&dir, &id, clip, ext);
    let player = player(&state, s, &clips, lang);
    // The whole agenda from the first second: an item starts where the alignment puts it, else
    // where the clerk marked it, else it is not reached yet.
    let clock = s.clock();
    let agenda: Vec<_> = s
        .agenda
        .iter()
        .map(|item| {
            let aligned = timeline
                .items
                .iter()
                .find(|span| span.number == item.number)
                .map(|span| span.start_ms.0);
            let marked = || {
                s.agenda_markers
                    .iter()
                    .filter(|m| m.item == item.number)
                    .find_map(|m| clock.to_session(m.at))
                    .map(|at| at.0)
            };
            AgendaRow {
                start_ms: aligned.or_else(marked),
                number: item.number,
                title: &item.title,
                proposer_group: item.proposer_group.as_deref(),
                proposer_group_id: item
                    .proposer_group
                    .as_deref()
                    .map(crate::ops::people::group_id),
                votes: s
                    .public_votes()
                    .filter(|v| v.item == item.number)
                    .map(|v| VoteRow {
                        subject: &v.subject,
                        result: v.result.as_str(),
                        counts: v.counts,
                    })
                    .collect(),
            }
        })
        .collect();
    let mut speakers: Vec<Speaker> = Vec::new();
    for person in lines.iter().filter_map(|l| s.person(l.person.as_deref()?)) {
        if !speakers.iter().any(|x| x.id == person.id) {
            speakers.push(Speaker {
                id: &person.id,
                name: &person.name,
            });
        }
    }
    let transcript: Vec<_> = lines
        .iter()
        .map(|l| TranscriptRow {
            start_ms: l.start_ms,
            end_ms: l.end_ms,
            person: l.person.as_deref(),
            speaker: l
                .person
                .as_deref()
                .and_then(|p| s.person(p))
                .map_or("", |p| &p.name),
            item: l.item,
            reviewed: l.item.is_some_and(|i| reviewed.contains(&i))
                || l.words.iter().any(|w| corrected.contains(&w.start_ms)),
            words: &l.words,
        })
        .collect();
    // What a citation says of each speaker, and of the session.
    let people: serde_json::Map<String, serde_json::Value> = s
        .roster
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                json!({ "name": p.name, "detail": publisher::request::detail(s, p) }),
            )
        })
        .collect();
    let page_url = format!("{}/sessions/{}", state.config.public_url, segment(&id));
    let cite = json!({
        "url": page_url,
        "session": format!("{}, {}", s.body, s.title),
        "date": s.start.format("%Y-%m-%d").to_string(),
        "people": people,
        "reviewed": lang.pick("rivista dallo staff del consiglio", "reviewed by the council's staff"),
        "machine": lang.pick("trascrizione automatica, non rivista", "machine transcription, not reviewed"),
    });
    // A shared link (`?t=`) shows who speaks there.
    let shared =
        q.t.as_deref()
            .and_then(|t| t.split('-').next()?.parse::<f64>().ok())
            .and_then(|t_s| {
                let at_ms = (t_s * 1000.0) as u64;
                lines.iter().find(|l| l.end_ms >= at_ms)
            })
            .map(|l| {
                let text: Vec<&str> = l.words.iter().map(|w| w.text.as_str()).collect();
                let speaker = l.person.as_deref().and_then(|p| s.person(p));
                match speaker {
                    Some(p) => format!("{}: \u{201c}{}\u{201d}", p.name, text.join(" ")),
                    None => format!("\u{201c}{}\u{201d}", text.join(" ")),
                }
            });
    let downloads: Vec<_> = clips
        .iter()
        .filter(|c| c.path.ends_with(".mp4") || c.path.ends_with(".mp3"))
        .map(|c| {
            let kind = if c.path.ends_with(".mp3") {
                "MP3"
            } else {
                "MP4"
            };
            let mut files = vec![DownloadFile {
                kind,
                url: file_url(&id, &c.path),
            }];
            for (ext, kind) in [("srt", "SRT"), ("vtt", "VTT")] {
                if let Some(url) = beside(&c.path, ext) {
                    files.push(DownloadFile { kind, url });
                }
            }
            Download {
                title: &c.title,
                start_ms: c.start_ms.0,
                end_ms: c.end_ms.0,
                preset: &c.preset,
                files,
            }
        })
        .collect();
    let page = json!({
        "title": s.title,
        "body": s.body,
        "date": s.start.format("%Y-%m-%d %H:%M").to_string(),
        "transcript": transcript,
        "agenda": agenda,
        "speakers": speakers,
        "downloads": downloads,
        "cite": cite,
        "og": {
            "title": format!("{} - {}", s.body, s.title),
            "description": shared.unwrap_or_else(|| format!("{} {}", s.title, s.start.format("%Y-%m-%d"))),
            "url": page_url,
            "image": player["archive"]["poster"]
                .as_str()
                .map(|p| format!("{}{p}", state.config.public_url)),
        },
        "language": s.language,
        "poster": player["archive"]["poster"],
        "player": player,
    });
    Ok(render("session.html", lang, page)?.into_response())
}

async fn press_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let sessions = state.catalogue.list().await?;
    let sessions: Vec<_> = sessions
        .iter()
        .map(|s| json!({ "id": s.id, "title": s.title }))
        .collect();
    let presets = clip_presets(&state)?;
    render(
        "press.html",
        Lang::of(&q),
        json!({ "sessions": sessions, "presets": presets }),
    )
}

/// The presets a clip can be asked in (the live renditions are not).
pub fn clip_presets(state: &AppState) -> Result<Vec<String>, ApiError> {
    Ok(state
        .presets()?
        .iter()
        .filter(|p| !p.name.starts_with("live-"))
        .map(|p| p.name.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_language_is_the_heaviest_of_italian_and_english() {
        assert_eq!(Lang::of_browser("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(Lang::of_browser("it-IT,it;q=0.9,en;q=0.8"), Lang::It);
        assert_eq!(Lang::of_browser("de-DE,de;q=0.9,en;q=0.5"), Lang::En);
        assert_eq!(Lang::of_browser("fr, it;q=0.3, en;q=0.7"), Lang::En);
        assert_eq!(Lang::of_browser("en;q=0"), Lang::It);
        assert_eq!(Lang::of_browser(""), Lang::It);
        assert_eq!(Lang::of_browser("*"), Lang::It);
    }

    #[test]
    fn the_sitemap_escapes_its_addresses_as_xml() {
        let xml = render_fragment(
            "sitemap.xml",
            json!({ "urls": [{ "loc": "https://c.example/a?b=1&c=<2>", "lastmod": "2024-01-01" }] }),
        )
        .unwrap();
        assert!(
            xml.contains(
                "<loc>https://c.example/a?b=1&amp;c=&lt;2&gt;</loc><lastmod>2024-01-01</lastmod>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn a_path_segment_cannot_leave_its_segment_or_the_attribute() {
        assert_eq!(
            segment("\"><img src=x onerror=alert(1)>"),
            "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"
        );
        assert_eq!(segment("../a/b?c#d"), "..%2Fa%2Fb%3Fc%23d");
        assert_eq!(
            path("clips/ordine del giorno.mp4"),
            "clips/ordine%20del%20giorno.mp4"
        );
        assert_eq!(
            file_url("cc-2024.1", "clips/è.mp4"),
            "/files/cc-2024.1/clips/%C3%A8.mp4"
        );
    }

    #[test]
    fn every_page_template_renders_in_both_languages() {
        for (lang, opening, nav) in [
            (
                Lang::It,
                "<!doctype html>\n<html lang=\"it\">",
                "Ufficio stampa",
            ),
            (
                Lang::En,
                "<!doctype html>\n<html lang=\"en\">",
                "Press office",
            ),
        ] {
            for (name, page) in [
                ("home.html", json!({ "sessions": [], "live": [] })),
                (
                    "control.html",
                    json!({ "id": "s1", "title": "T", "agenda": [{"number": 1, "title": "A"}],
                        "roster": [{"id": "p", "name": "P"}], "text": {} }),
                ),
                (
                    "clips.html",
                    json!({ "id": "s1", "title": "T", "lines": [], "presets": ["web-720p"],
                        "clips": [], "data": {} }),
                ),
                (
                    "board.html",
                    json!({ "sessions": [], "stage_names": {}, "kind_names": {} }),
                ),
                (
                    "kit.html",
                    json!({ "id": "s1", "title": "T", "presets": ["web-720p"],
                        "default_presets": ["web-720p"], "files": [], "zip": null,
                        "destinations": [{"name": "d", "kind": "sftp", "place": "sftp://u@h:22/in"}],
                        "data": {} }),
                ),
                (
                    "search.html",
                    json!({ "query": "bilancio", "count": 1, "sessions": [{"session": "s1",
                        "title": "T", "date": "2024-01-01", "hits": [{"session": "s1",
                        "start_ms": 1000, "text": "il bilancio", "person": "p", "speaker": "P",
                        "item": 1, "item_title": "A"}]}], "people": [{"id": "p", "name": "P"}],
                        "groups": ["G"], "filters": {"person": "p"} }),
                ),
                (
                    "signin.html",
                    json!({ "form_csrf": "t", "next": "", "name": "", "error": "wrong_password" }),
                ),
                (
                    "press.html",
                    json!({ "sessions": [], "presets": ["web-720p"] }),
                ),
                (
                    "session.html",
                    json!({ "title": "T", "body": "B", "date": "2024-01-01 10:00", "transcript": [],
                        "agenda": [{"start_ms": 0, "number": 1, "title": "Mozione",
                            "proposer_group": "Centro Città", "proposer_group_id": "centro-citta",
                            "votes": [{"subject": "Mozione", "result": "approved",
                                "counts": {"favour": 3, "against": 1, "abstained": 0}}]}],
                        "speakers": [{"id": "rossi", "name": "Mario Rossi"}],
                        "downloads": [], "player": { "clips": [] }, "cite": {},
                        "og": { "title": "B - T", "description": "T", "url": "http://h/sessions/s1" } }),
                ),
                (
                    "councillor.html",
                    json!({ "id": "rossi", "name": "Mario Rossi", "role": "councillor",
                        "group": "Centro Città", "group_id": "centro-citta", "seat": 3,
                        "monogram": {"initials": "MR", "hue": 120},
                        "interventions": [{"session": {"id": "s1", "title": "Seduta", "date": "2021-03-15"},
                            "person": "rossi", "name": "Mario Rossi", "item": 1, "item_title": "Bilancio",
                            "start_ms": 61000, "end_ms": 75000, "duration_ms": 14000,
                            "first_words": "Grazie", "clip": "clips/c 1.mp4"}],
                        "sessions": [{"session": {"id": "s1", "title": "Seduta", "date": "2021-03-15"},
                            "interventions": 1, "spoken_ms": 14000}],
                        "items": [], "votes": [{"session": {"id": "s1", "title": "Seduta", "date": "2021-03-15"},
                            "item": 1, "item_title": "Bilancio", "subject": "Bilancio", "vote": "against",
                            "result": "rejected"}] }),
                ),
                (
                    "group.html",
                    json!({ "id": "centro-citta", "name": "Centro Città",
                        "members": [{"id": "rossi", "name": "Mario Rossi", "role": "councillor",
                            "monogram": {"initials": "MR", "hue": 120}}],
                        "interventions": [], "tabled": [{"session": {"id": "s1", "title": "Seduta",
                            "date": "2021-03-15"}, "number": 2, "title": "Mozione", "kind": "motion",
                            "start_ms": null, "outcome": null, "counts": null}] }),
                ),
                ("not_found.html", json!({ "message": "x" })),
            ] {
                let html = render(name, lang, page).unwrap().0;
                assert!(
                    html.starts_with(opening) && html.contains(nav),
                    "{name}: {html}"
                );
                let english = lang == Lang::En;
                let expected: &[&str] = match name {
                    "session.html" if english => &[
                        "Approved",
                        "in favour 3, against 1",
                        "/gruppi/centro-citta?lang=en",
                        "/consiglieri/rossi?lang=en",
                    ],
                    "session.html" => &[
                        "Approvato",
                        "favorevoli 3, contrari 1",
                        "/gruppi/centro-citta\"",
                        "/consiglieri/rossi\"",
                    ],
                    "councillor.html" if english => &[
                        "Councillor",
                        "Against",
                        "Rejected",
                        "/sessions/s1?t=61&amp;lang=en",
                        "/files/s1/clips&#x2f;c%201.mp4",
                    ],
                    "councillor.html" => &[
                        "Consigliere",
                        "Contrario",
                        "Respinto",
                        "/sessions/s1?t=61\"",
                        ">MR<",
                    ],
                    "group.html" if english => {
                        &["Motion: Mozione", "not voted", "/sessions/s1?lang=en"]
                    }
                    "group.html" => &["Mozione: Mozione", "non votata", "/consiglieri/rossi\""],
                    _ => &[],
                };
                for text in expected {
                    assert!(
                        html.contains(text),
                        "{name} in {lang:?} lacks {text}: {html}"
                    );
                }
            }
        }
    }
}
