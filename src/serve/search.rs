//! The search page (`/search`): a journalist's query with its filters (speaker, group, days,
//! item kind), the hits grouped by session, each with its speaker, item, time and a deep link.

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::pages::{render, Lang};
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/search", get(search_page))
}

#[derive(Debug, Default, Deserialize)]
struct SearchPageQuery {
    lang: Option<String>,
    q: Option<String>,
    #[serde(flatten)]
    filters: crate::search::Filters,
}

/// The hits of one session, in the order the search ranks them.
#[derive(Serialize)]
struct SessionHits {
    session: String,
    title: String,
    date: String,
    hits: Vec<crate::search::Hit>,
}

/// Groups hits by session, the sessions in the order of their best hit.
fn by_session(hits: Vec<crate::search::Hit>) -> Vec<SessionHits> {
    let mut groups: Vec<SessionHits> = Vec::new();
    for hit in hits {
        match groups.iter_mut().find(|g| g.session == hit.session) {
            Some(g) => g.hits.push(hit),
            None => groups.push(SessionHits {
                session: hit.session.clone(),
                title: hit.title.clone(),
                date: hit.date.clone(),
                hits: vec![hit],
            }),
        }
    }
    groups
}

async fn search_page(
    State(state): State<AppState>,
    Query(q): Query<SearchPageQuery>,
) -> Result<Html<String>, ApiError> {
    let lang = Lang::parse(q.lang.as_deref());
    let query = q.q.clone().unwrap_or_default();
    let filters = q.filters.checked();
    let (hits, error, filters) = match filters {
        Ok(f) if query.trim().is_empty() => (Vec::new(), None, f),
        Ok(f) => (state.catalogue.search(&query, &f, 50).await?, None, f),
        Err(e) => (Vec::new(), Some(e), crate::search::Filters::default()),
    };
    let (people, groups) = state.catalogue.search_choices().await?;
    // A query that is (or is near) a councillor's name offers the councillor's page.
    let named = if query.trim().is_empty() {
        Vec::new()
    } else {
        state.catalogue.people_like(&query, 3).await?
    };
    let count = hits.len();
    render(
        "search.html",
        lang,
        json!({
            "query": query,
            "count": count,
            "sessions": by_session(hits),
            "error": error,
            "people": people.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "groups": groups,
            "named": named.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "kinds": crate::search::ITEM_KINDS,
            "filters": {
                "person": filters.person, "group": filters.group, "from": filters.from,
                "to": filters.to, "kind": filters.kind,
            },
        }),
    )
}
