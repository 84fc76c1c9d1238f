//! The pages, rendered on the server (Italian, `?lang=en` for English) with a little JavaScript
//! (`web/app.js`): home (live now, recent sessions), a session (player, agenda as chapters,
//! transcript that follows the player and seeks on click, clip downloads), search, and the press
//! office's clip requests. The archive plays the published clips, so no closed-session frame is
//! ever in a public page.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::AppState;
use crate::search;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sessions/{id}", get(session_page))
        .route("/search", get(search_page))
        .route("/press", get(press_page))
        .route("/static/app.js", get(app_js))
        .route("/static/style.css", get(style_css))
        .route("/static/hls.min.js", get(hls_js))
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    q: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    It,
    En,
}

impl Lang {
    fn of(q: &PageQuery) -> Lang {
        if q.lang.as_deref() == Some("en") {
            Lang::En
        } else {
            Lang::It
        }
    }

    fn t<'a>(self, it: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::It => it,
            Lang::En => en,
        }
    }

    fn code(self) -> &'static str {
        self.t("it", "en")
    }
}

/// HTML-escapes text for element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    let other = lang.t("?lang=en", "?lang=it");
    Html(format!(
        r#"<!doctype html>
<html lang="{code}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · aula</title><link rel="stylesheet" href="/static/style.css"></head>
<body>
<header><nav aria-label="{nav}"><a href="/{q}">{home}</a> <a href="/search{q}">{search}</a> <a href="/press{q}">{press}</a> <a href="{other}" lang="{other_code}">{other_name}</a></nav></header>
<main id="main">
<h1>{title}</h1>
{body}
</main>
<script src="/static/hls.min.js"></script>
<script src="/static/app.js"></script>
</body></html>"#,
        code = lang.code(),
        title = esc(title),
        nav = lang.t("Navigazione", "Navigation"),
        q = lang.t("", "?lang=en"),
        home = lang.t("Sedute", "Sessions"),
        search = lang.t("Cerca", "Search"),
        press = lang.t("Ufficio stampa", "Press office"),
        other = other,
        other_code = lang.t("en", "it"),
        other_name = lang.t("English", "Italiano"),
    ))
}

async fn home(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let lang = Lang::of(&q);
    let sessions = state.catalogue.list().await?;
    let suffix = lang.t("", "?lang=en");
    let mut live = String::new();
    let mut recent = String::new();
    for s in &sessions {
        let item = format!(
            r#"<li><a href="/sessions/{id}{suffix}">{title}</a> <span class="meta">{body} · {date}</span></li>"#,
            id = esc(&s.id),
            title = esc(&s.title),
            body = esc(&s.body),
            date = s.start.format("%Y-%m-%d"),
        );
        if state.live_playlist(&s.id).is_some() {
            live.push_str(&item);
        }
        recent.push_str(&item);
    }
    let body = format!(
        r#"<section aria-labelledby="live"><h2 id="live">{live_h}</h2>{live}</section>
<section aria-labelledby="recent"><h2 id="recent">{recent_h}</h2><ul class="sessions">{recent}</ul></section>
<form action="/search" role="search"><label for="q">{search_l}</label> <input id="q" name="q" type="search"> <button>{search_b}</button>{hidden}</form>"#,
        live_h = lang.t("In diretta", "Live now"),
        live = if live.is_empty() {
            format!(
                "<p>{}</p>",
                lang.t("Nessuna seduta in diretta.", "No session is live.")
            )
        } else {
            format!("<ul class=\"sessions\">{live}</ul>")
        },
        recent_h = lang.t("Sedute recenti", "Recent sessions"),
        recent = recent,
        search_l = lang.t("Cerca nelle trascrizioni", "Search the transcripts"),
        search_b = lang.t("Cerca", "Search"),
        hidden = hidden_lang(lang),
    );
    Ok(page(
        lang,
        lang.t("Consiglio comunale", "City council"),
        &body,
    ))
}

fn hidden_lang(lang: Lang) -> &'static str {
    lang.t("", r#"<input type="hidden" name="lang" value="en">"#)
}

async fn session_page(
    State(state): State<AppState>,
    Path(id): Path<session::SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let stored = state.catalogue.get(&id).await?;
    let s = &stored.session;
    let timeline = state
        .catalogue
        .timeline(&id)
        .await
        .map(|t| t.timeline)
        .unwrap_or_default();
    let lines = search::public_lines(s, &timeline);
    let name = |p: &Option<String>| {
        p.as_deref()
            .and_then(|p| s.person(p))
            .map_or_else(String::new, |x| x.name.clone())
    };
    let clips: Vec<_> = state
        .catalogue
        .clips(&id)
        .await?
        .into_iter()
        .filter(|c| c.published_at.is_some())
        .collect();
    // The archive plays the published per-item clips (web presets), one after another.
    let mut playable: Vec<_> = clips
        .iter()
        .filter(|c| c.path.ends_with(".mp4") && c.preset.starts_with("web"))
        .collect();
    playable.sort_by_key(|c| c.start_ms);
    playable.dedup_by_key(|c| c.start_ms);
    let vtt = |path: &str| {
        let vtt = std::path::Path::new(path).with_extension("vtt");
        let full = state.config.session_dir(&id).join(&vtt);
        full.is_file()
            .then(|| format!("/files/{id}/{}", vtt.display()))
    };
    let data = json!({
        "session": id,
        "live": state.live_playlist(&id),
        "clips": playable.iter().map(|c| json!({
            "start_ms": c.start_ms, "end_ms": c.end_ms,
            "url": format!("/files/{id}/{}", c.path), "vtt": vtt(&c.path),
        })).collect::<Vec<_>>(),
        "captions": lang.t("Sottotitoli", "Captions"),
        "lang": lang.code(),
    });
    let agenda: String = timeline
        .items
        .iter()
        .filter_map(|span| {
            let item = s.agenda.iter().find(|a| a.number == span.number)?;
            Some(format!(
                r#"<li><button type="button" class="seek" data-ms="{ms}">{clock}</button> {n}. {title}</li>"#,
                ms = span.start_ms.0,
                clock = clock(span.start_ms.0),
                n = item.number,
                title = esc(&item.title),
            ))
        })
        .collect();
    let transcript: String = lines
        .iter()
        .map(|l| {
            format!(
                r#"<li><button type="button" class="line seek" data-ms="{ms}" data-end="{end}"><span class="time">{clock}</span> <span class="speaker">{speaker}</span> {text}</button></li>"#,
                ms = l.start_ms,
                end = l.end_ms,
                clock = clock(l.start_ms),
                speaker = esc(&name(&l.person)),
                text = esc(&l.text),
            )
        })
        .collect();
    let downloads: String = clips
        .iter()
        .filter(|c| c.path.ends_with(".mp4") || c.path.ends_with(".mp3"))
        .map(|c| {
            let base = std::path::Path::new(&c.path);
            let side = |ext: &str| {
                let p = base.with_extension(ext);
                if state.config.session_dir(&id).join(&p).is_file() {
                    format!(
                        r#" <a href="/files/{id}/{}?download=1">{}</a>"#,
                        p.display(),
                        ext.to_uppercase()
                    )
                } else {
                    String::new()
                }
            };
            format!(
                r#"<li>{title} ({from} - {to}, {preset}) <a href="/files/{id}/{path}?download=1">{kind}</a>{srt}{vtt}</li>"#,
                title = esc(&c.title),
                from = clock(c.start_ms.0),
                to = clock(c.end_ms.0),
                preset = esc(&c.preset),
                path = c.path,
                kind = if c.path.ends_with(".mp3") { "MP3" } else { "MP4" },
                srt = side("srt"),
                vtt = side("vtt"),
            )
        })
        .collect();
    let body = format!(
        r#"<p class="meta">{body} · {date}</p>
<div class="watch">
<div class="player"><video id="player" controls muted playsinline aria-label="{video_l}"></video>
<p id="status" role="status"></p></div>
<section class="transcript" aria-labelledby="tr"><h2 id="tr">{tr_h}</h2><ol id="transcript">{transcript}</ol></section>
</div>
<section aria-labelledby="ag"><h2 id="ag">{ag_h}</h2><ol class="agenda">{agenda}</ol></section>
<section aria-labelledby="dl"><h2 id="dl">{dl_h}</h2><ul>{downloads}</ul></section>
<script type="application/json" id="data">{data}</script>"#,
        body = esc(&s.body),
        date = s.start.format("%Y-%m-%d %H:%M"),
        video_l = lang.t("Video della seduta", "Session video"),
        tr_h = lang.t("Trascrizione", "Transcript"),
        ag_h = lang.t("Ordine del giorno", "Agenda"),
        dl_h = lang.t("Scarica le clip", "Download the clips"),
        data = data.to_string().replace("</", "<\\/"),
    );
    Ok(page(lang, &s.title, &body).into_response())
}

async fn search_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let lang = Lang::of(&q);
    let query = q.q.clone().unwrap_or_default();
    let hits = if query.trim().is_empty() {
        Vec::new()
    } else {
        search::search(&state.catalogue, &query, 50)
            .await
            .map_err(ApiError::internal)?
    };
    let suffix = lang.t("", "&lang=en");
    let results: String = hits
        .iter()
        .map(|h| {
            format!(
                r#"<li><a href="/sessions/{id}?t={t}{suffix}">{title} · {clock}</a><p>{text}</p></li>"#,
                id = esc(&h.session),
                t = h.start_ms / 1000,
                title = esc(&h.title),
                clock = clock(h.start_ms),
                text = esc(&h.text),
            )
        })
        .collect();
    let body = format!(
        r#"<form action="/search" role="search"><label for="q">{label}</label> <input id="q" name="q" type="search" value="{query}"> <button>{button}</button>{hidden}</form>
<p role="status">{count}</p><ol class="hits">{results}</ol>"#,
        label = lang.t("Parole", "Words"),
        query = esc(&query),
        button = lang.t("Cerca", "Search"),
        hidden = hidden_lang(lang),
        count = if query.trim().is_empty() {
            String::new()
        } else {
            format!("{} {}", hits.len(), lang.t("risultati", "results"))
        },
    );
    Ok(page(lang, lang.t("Cerca", "Search"), &body))
}

async fn press_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let lang = Lang::of(&q);
    let sessions: String = state
        .catalogue
        .list()
        .await?
        .iter()
        .map(|s| {
            format!(
                r#"<option value="{id}">{title}</option>"#,
                id = esc(&s.id),
                title = esc(&s.title)
            )
        })
        .collect();
    let presets: String = state
        .presets()?
        .iter()
        .filter(|p| !p.name.starts_with("live-"))
        .map(|p| {
            let selected = if p.name == "web-720p" {
                " selected"
            } else {
                ""
            };
            format!(
                r#"<option value="{n}"{selected}>{n}</option>"#,
                n = esc(&p.name)
            )
        })
        .collect();
    let body = format!(
        r#"<form id="press" class="press">
<p><label for="token">{token_l}</label> <input id="token" type="password" autocomplete="off" required></p>
<p><label for="session">{session_l}</label> <select id="session">{sessions}</select></p>
<fieldset><legend>{what_l}</legend>
<p><label><input type="radio" name="what" value="item" checked> {item_l}</label> <input id="item" type="number" min="1" value="1" aria-label="{item_l}"></p>
<p><label><input type="radio" name="what" value="intervention"> {int_l}</label> <input id="intervention" type="number" min="1" value="1" aria-label="{int_l}"></p>
<p><label><input type="radio" name="what" value="range"> {range_l}</label> <input id="from" type="number" min="0" step="0.1" value="0" aria-label="{from_l}"> - <input id="to" type="number" min="0" step="0.1" value="10" aria-label="{to_l}"></p>
</fieldset>
<p><label for="preset">{preset_l}</label> <select id="preset">{presets}</select></p>
<p><button id="request" type="submit">{request_b}</button></p>
</form>
<p id="job" role="status" aria-live="polite"></p><progress id="progress" max="100" value="0" hidden></progress>
<ul id="outputs"></ul>"#,
        token_l = lang.t("Token dell'ufficio stampa", "Press office token"),
        session_l = lang.t("Seduta", "Session"),
        what_l = lang.t("Cosa", "What"),
        item_l = lang.t("Punto all'ordine del giorno", "Agenda item"),
        int_l = lang.t("Intervento", "Intervention"),
        range_l = lang.t("Intervallo (secondi)", "Range (seconds)"),
        from_l = lang.t("Da", "From"),
        to_l = lang.t("A", "To"),
        preset_l = lang.t("Formato", "Preset"),
        request_b = lang.t("Richiedi la clip", "Request the clip"),
    );
    Ok(page(lang, lang.t("Ufficio stampa", "Press office"), &body))
}

async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../web/app.js"),
    )
        .into_response()
}

async fn style_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../web/style.css"),
    )
        .into_response()
}

/// hls.js, installed from npm by scripts/setup into web/vendor (not committed).
async fn hls_js(State(state): State<AppState>) -> Response {
    let path = state
        .web_dir
        .join("vendor/node_modules/hls.js/dist/hls.min.js");
    match std::fs::read(&path) {
        Ok(js) => ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], js).into_response(),
        Err(_) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            "/* hls.js is not installed (scripts/setup): live HLS plays only where the browser can */",
        )
            .into_response(),
    }
}
