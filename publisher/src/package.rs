//! The documents of a press package and of the press feed: clip metadata, the index page a
//! journalist opens, the manifest of checksums, an RSS 2.0 feed with Media RSS, and the yearly
//! clip report (the seed's indicators). Pure functions over plain data.

use serde::Serialize;
use session::{Session, SessionMs, Vote};

/// One clip as the package and the feed describe it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PackageClip {
    pub id: String,
    pub title: String,
    pub item: Option<u32>,
    /// The act's reference, e.g. `DCC 12/2021`.
    pub act: Option<String>,
    /// Names of the people heard.
    pub speakers: Vec<String>,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub preset: String,
    /// Paths inside the package.
    pub media: String,
    pub subtitles: Vec<String>,
    pub poster: Option<String>,
    pub excerpt: String,
    pub bytes: u64,
    pub media_type: String,
    /// How the clip was made: `encode`, `smart` or `copy` (see [`crate::clip::CutMode`]).
    pub mode: String,
    /// The recording it was cut from (`program.mp4`, `camera.mp4`), when known.
    pub cut_from: Option<String>,
}

/// How a clip was made, in words for the press kit's page.
fn made(clip: &PackageClip, italian: bool) -> String {
    let how = match (clip.mode.as_str(), italian) {
        ("smart", true) => {
            "tagliato senza ricodificare l'immagine (solo fino al primo fotogramma chiave)"
        }
        ("smart", false) => "cut without re-encoding the picture (only up to the first keyframe)",
        ("copy", true) => "copiato dal fotogramma chiave più vicino",
        ("copy", false) => "copied from the nearest keyframe",
        (_, true) => "ricodificato",
        (_, false) => "re-encoded",
    };
    match (&clip.cut_from, italian) {
        (Some(from), true) => format!("{how}, da {from}"),
        (Some(from), false) => format!("{how}, from {from}"),
        (None, _) => how.to_owned(),
    }
}

/// `metadata.json`: the session, its agenda, its votes (none taken in a closed part) and every clip.
pub fn metadata(session: &Session, clips: &[PackageClip], presets: &[String]) -> serde_json::Value {
    let clock = session.clock();
    serde_json::json!({
        "session": {
            "id": session.id,
            "body": session.body,
            "title": session.title,
            "start": session.start,
            "mode": session.mode.as_str(),
            "language": session.language,
        },
        "agenda": session.agenda.iter().map(|a| serde_json::json!({
            "number": a.number, "title": a.title, "kind": a.kind.as_str(), "act": a.act,
            "proposer_group": a.proposer_group,
        })).collect::<Vec<_>>(),
        "votes": session.public_votes().map(|v| serde_json::json!({
            "item": v.item, "at": v.at, "at_ms": clock.to_session(v.at), "subject": v.subject,
            "result": v.result.as_str(), "counts": v.counts,
            "ballots": v.ballots.iter().map(|b| serde_json::json!({
                "person": b.person, "name": session.name_of(&b.person), "vote": b.vote.as_str(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "presets": presets,
        "clips": clips,
    })
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `index.html`: the package's clips with players, subtitles and downloads, and the transcripts.
pub fn index_html(session: &Session, clips: &[PackageClip], transcripts: &[String]) -> String {
    let italian = session.language == "it";
    let t = |it: &'static str, en: &'static str| if italian { it } else { en };
    let mut out = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\nbody{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;background:#fff}}\n\
         article{{border-top:1px solid #999;padding:1rem 0}}video{{max-width:100%}}a{{color:#0645ad}}\n</style>\n</head>\n<body>\n\
         <h1>{body}: {stitle}</h1>\n<p>{date} · {clips_word}: {n}</p>\n",
        lang = escape(&session.language),
        title = escape(&format!("{} - {}", session.body, session.title)),
        body = escape(&session.body),
        stitle = escape(&session.title),
        date = session.start.format("%Y-%m-%d %H:%M UTC"),
        clips_word = t("Clip", "Clips"),
        n = clips.len(),
    );
    for c in clips {
        out.push_str(&format!(
            "<article>\n<h2>{}</h2>\n<p>{}{} · {} - {} · {}</p>\n",
            escape(&c.title),
            c.act
                .as_deref()
                .map_or_else(String::new, |a| format!("{} · ", escape(a))),
            escape(&c.speakers.join(", ")),
            c.start_ms,
            c.end_ms,
            escape(&c.preset)
        ));
        if c.media_type.starts_with("video") {
            out.push_str(&format!(
                "<video controls preload=\"none\"{} src=\"{}\">\n",
                c.poster
                    .as_deref()
                    .map_or_else(String::new, |p| format!(" poster=\"{}\"", escape(p))),
                escape(&c.media)
            ));
            if let Some(vtt) = c.subtitles.iter().find(|s| s.ends_with(".vtt")) {
                out.push_str(&format!(
                    "<track kind=\"captions\" srclang=\"{}\" label=\"{}\" src=\"{}\" default>\n",
                    escape(&session.language),
                    t("Sottotitoli", "Captions"),
                    escape(vtt)
                ));
            }
            out.push_str("</video>\n");
        } else {
            out.push_str(&format!(
                "<audio controls preload=\"none\" src=\"{}\"></audio>\n",
                escape(&c.media)
            ));
        }
        out.push_str(&format!(
            "<p>{}</p>\n<p><a href=\"{}\" download>{}</a>",
            escape(&c.excerpt),
            escape(&c.media),
            t("Scarica", "Download")
        ));
        out.push_str(&format!(" · {}", escape(&made(c, italian))));
        for s in &c.subtitles {
            out.push_str(&format!(
                " · <a href=\"{}\" download>{}</a>",
                escape(s),
                escape(s.rsplit('.').next().unwrap_or("").to_uppercase().as_str())
            ));
        }
        out.push_str("</p>\n</article>\n");
    }
    out.push_str(&format!(
        "<h2>{}</h2>\n<ul>\n",
        t("Trascrizione della seduta", "Session transcript")
    ));
    for path in transcripts {
        out.push_str(&format!("<li><a href=\"{0}\">{0}</a></li>\n", escape(path)));
    }
    out.push_str("</ul>\n</body>\n</html>\n");
    out
}

/// A feed item: a clip with absolute URLs.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedItem {
    pub clip: PackageClip,
    pub session_title: String,
    pub published: chrono::DateTime<chrono::Utc>,
    pub url: String,
    pub subtitles_url: Option<String>,
    pub poster_url: Option<String>,
    /// What the council voted on the clip's item, each a line of [`vote_summary`].
    pub votes: Vec<String>,
}

/// One vote in a line, in Italian or English as `language` says: "Voto: Bilancio: approvato
/// (favorevoli 12, contrari 3, astenuti 1)".
pub fn vote_summary(vote: &Vote, language: &str) -> String {
    use session::VoteResult::*;
    let c = vote.counts;
    if language == "it" {
        let result = match vote.result {
            Approved => "approvato",
            Rejected => "respinto",
            NoQuorum => "manca il numero legale",
        };
        format!(
            "Voto: {}: {result} (favorevoli {}, contrari {}, astenuti {})",
            vote.subject, c.favour, c.against, c.abstained
        )
    } else {
        let result = match vote.result {
            Approved => "approved",
            Rejected => "rejected",
            NoQuorum => "no quorum",
        };
        format!(
            "Vote: {}: {result} (in favour {}, against {}, abstained {})",
            vote.subject, c.favour, c.against, c.abstained
        )
    }
}

/// RSS 2.0 with Media RSS: one item per clip, its enclosure, subtitles, thumbnail, speakers and item.
pub fn rss(title: &str, link: &str, description: &str, items: &[FeedItem]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\">\n<channel>\n\
         <title>{}</title>\n<link>{}</link>\n<description>{}</description>\n",
        escape(title),
        escape(link),
        escape(description)
    );
    for i in items {
        let c = &i.clip;
        out.push_str(&format!(
            "<item>\n<title>{}</title>\n<guid isPermaLink=\"false\">{}</guid>\n<pubDate>{}</pubDate>\n\
             <description>{}</description>\n<enclosure url=\"{}\" length=\"{}\" type=\"{}\"/>\n\
             <media:content url=\"{}\" fileSize=\"{}\" type=\"{}\" duration=\"{}\"/>\n",
            escape(&format!("{} - {}", i.session_title, c.title)),
            escape(&c.id),
            i.published.to_rfc2822(),
            escape(
                &std::iter::once(c.excerpt.as_str())
                    .chain(i.votes.iter().map(String::as_str))
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            escape(&i.url),
            c.bytes,
            escape(&c.media_type),
            escape(&i.url),
            c.bytes,
            escape(&c.media_type),
            c.start_ms.until(c.end_ms) / 1000
        ));
        if let Some(s) = &i.subtitles_url {
            out.push_str(&format!(
                "<media:subTitle type=\"text/vtt\" href=\"{}\"/>\n",
                escape(s)
            ));
        }
        if let Some(p) = &i.poster_url {
            out.push_str(&format!("<media:thumbnail url=\"{}\"/>\n", escape(p)));
        }
        for name in &c.speakers {
            out.push_str(&format!(
                "<media:credit role=\"speaker\">{}</media:credit>\n",
                escape(name)
            ));
        }
        if let Some(n) = c.item {
            out.push_str(&format!("<category>item {n}</category>\n"));
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

/// One line of the clip report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportClip {
    pub session: String,
    pub session_date: String,
    pub title: String,
    pub item: Option<u32>,
    pub speakers: Vec<String>,
    pub duration_s: f64,
    pub preset: String,
    pub published_at: Option<String>,
}

/// The seed's indicators over a period: sessions held, clips produced, clips per session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub sessions: usize,
    pub clips: usize,
    pub clips_per_session: f64,
    pub list: Vec<ReportClip>,
}

impl Report {
    pub fn new(from: String, to: String, sessions: usize, list: Vec<ReportClip>) -> Report {
        let clips = list.len();
        Report {
            from,
            to,
            sessions,
            clips,
            clips_per_session: if sessions == 0 {
                0.0
            } else {
                (clips as f64 / sessions as f64 * 100.0).round() / 100.0
            },
            list,
        }
    }

    pub fn to_csv(&self) -> String {
        let field = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        let mut out = String::from(
            "session,session_date,title,item,speakers,duration_s,preset,published_at\n",
        );
        for c in &self.list {
            out.push_str(&format!(
                "{},{},{},{},{},{:.1},{},{}\n",
                field(&c.session),
                field(&c.session_date),
                field(&c.title),
                c.item.map_or_else(String::new, |n| n.to_string()),
                field(&c.speakers.join("; ")),
                c.duration_s,
                field(&c.preset),
                field(c.published_at.as_deref().unwrap_or(""))
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip() -> PackageClip {
        PackageClip {
            id: "s1-item-1-web-720p".into(),
            title: "Punto 1: Bilancio <2021> & \"altro\"".into(),
            item: Some(1),
            act: Some("DCC 1/2021".into()),
            speakers: vec!["Marco Rossi".into()],
            start_ms: SessionMs(1000),
            end_ms: SessionMs(61_000),
            preset: "web-720p".into(),
            media: "clips/s1-item-1-web-720p.mp4".into(),
            subtitles: vec!["clips/s1-item-1-web-720p.vtt".into()],
            poster: Some("clips/s1-item-1-web-720p.jpg".into()),
            excerpt: "Grazie presidente".into(),
            bytes: 1234,
            media_type: "video/mp4".into(),
            mode: "smart".into(),
            cut_from: Some("program.mp4".into()),
        }
    }

    #[test]
    fn feed_is_escaped_and_has_an_enclosure_per_clip() {
        let item = FeedItem {
            clip: clip(),
            session_title: "Seduta".into(),
            published: "2021-03-15T20:00:00Z".parse().unwrap(),
            url: "http://localhost/a.mp4?x=1&y=2".into(),
            subtitles_url: Some("http://localhost/a.vtt".into()),
            poster_url: None,
            votes: vec![
                "Voto: Bilancio <2021>: approvato (favorevoli 2, contrari 1, astenuti 0)".into(),
            ],
        };
        let xml = rss("Feed & co", "http://localhost/", "d", &[item.clone(), item]);
        assert_eq!(xml.matches("<enclosure ").count(), 2);
        assert!(xml.contains("Bilancio &lt;2021&gt; &amp; &quot;altro&quot;"));
        assert!(xml.contains("url=\"http://localhost/a.mp4?x=1&amp;y=2\""));
        assert!(xml.contains("<pubDate>Mon, 15 Mar 2021 20:00:00 +0000</pubDate>"));
        assert!(!xml.contains("<2021>"));
        assert!(xml.contains(
            "<description>Grazie presidente\nVoto: Bilancio &lt;2021&gt;: approvato (favorevoli 2, contrari 1, astenuti 0)</description>"
        ));
    }

    #[test]
    fn metadata_has_the_votes_but_none_of_a_closed_part() {
        let mut session: Session = serde_json::from_str(
            r#"{"id": "s1", "body": "Consiglio", "title": "Seduta", "start": "2021-03-15T17:00:00Z",
                "mode": "in_person",
                "roster": [{"id": "anna", "name": "Anna Verdi", "role": "councillor", "group": "Misto"}],
                "agenda": [{"number": 1, "title": "Mozione", "kind": "motion", "proposer_group": "Misto"}],
                "closed_ranges": [{"start_ms": 600000, "end_ms": 900000}],
                "votes": [{"item": 1, "at": "2021-03-15T17:05:00Z", "subject": "Mozione", "result": "approved",
                           "counts": {"favour": 1, "against": 0, "abstained": 0},
                           "ballots": [{"person": "anna", "vote": "favour"}]},
                          {"item": 1, "at": "2021-03-15T17:12:00Z", "subject": "Segreto", "result": "rejected",
                           "counts": {"favour": 0, "against": 1, "abstained": 0}}]}"#,
        )
        .unwrap();
        assert!(session.validate().is_empty(), "{:?}", session.validate());
        let meta = metadata(&session, &[], &[]);
        assert_eq!(meta["agenda"][0]["proposer_group"], "Misto");
        let votes = meta["votes"].as_array().unwrap();
        assert_eq!(votes.len(), 1, "{votes:?}");
        assert_eq!(votes[0]["at_ms"], 300_000);
        assert_eq!(votes[0]["result"], "approved");
        assert_eq!(votes[0]["counts"]["favour"], 1);
        assert_eq!(votes[0]["ballots"][0]["name"], "Anna Verdi");
        assert_eq!(votes[0]["ballots"][0]["vote"], "favour");
        assert_eq!(
            vote_summary(&session.votes[0], "en"),
            "Vote: Mozione: approved (in favour 1, against 0, abstained 0)"
        );
        session.closed_ranges.clear();
        assert_eq!(
            metadata(&session, &[], &[])["votes"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn report_counts_and_csv_quotes() {
        let line = ReportClip {
            session: "s1".into(),
            session_date: "2021-03-15".into(),
            title: "Punto 1, \"bilancio\"".into(),
            item: Some(1),
            speakers: vec!["A".into(), "B".into()],
            duration_s: 60.0,
            preset: "web-720p".into(),
            published_at: None,
        };
        let r = Report::new(
            "2021-01-01".into(),
            "2021-12-31".into(),
            2,
            vec![line.clone(), line.clone(), line],
        );
        assert_eq!(r.clips_per_session, 1.5);
        let csv = r.to_csv();
        assert!(csv.contains("\"Punto 1, \"\"bilancio\"\"\""), "{csv}");
        assert_eq!(csv.lines().count(), 4);
    }
}
