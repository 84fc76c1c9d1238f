//! Alerts for journalists and citizens: a subscription by e-mail to words, a councillor, a group or
//! an item kind, confirmed by a link (double opt-in); when a session is published its matching
//! public passages are mailed (at most once a day per subscription) with deep links and a
//! one-click unsubscribe (RFC 8058), and each subscription has an Atom feed. Unconfirmed
//! subscriptions are deleted after 7 days.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message;
use serde::Serialize;
use session::hex;
use sha2::{Digest, Sha256};

use crate::catalogue::{Catalogue, CatalogueError, Subscription};
use crate::config::delivery::SmtpServer;
use crate::config::Config;
use crate::ops::mail::{self, MailError};
use crate::search::{Hit, Topic};

const DAY_MS: i64 = 86_400_000;
/// How long a subscription waits for its confirmation.
const CONFIRM_DAYS: i64 = 7;
/// Unconfirmed subscriptions one address may have at once (no more confirmation mails to it).
const MAX_PENDING: usize = 5;
/// Passages per session in a mail and in the feed.
const PASSAGES_PER_SESSION: u32 = 20;
/// The sessions a feed shows.
const FEED_SESSIONS: usize = 30;
const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("alerts are not offered here: the configuration has no [alerts] mail server")]
    NotOffered,
    #[error("email: {0:?} is not an e-mail address")]
    BadEmail(String),
    #[error("the confirmation mail could not be sent ({0})")]
    Mail(#[from] MailError),
    #[error("no randomness for the subscription's tokens: {0}")]
    Random(String),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}

impl AlertError {
    pub fn kind(&self) -> session::ErrorKind {
        match self {
            AlertError::BadEmail(_) => session::ErrorKind::BadInput,
            AlertError::NotOffered => session::ErrorKind::NotFound,
            AlertError::Catalogue(e) => e.kind(),
            AlertError::Mail(_) | AlertError::Random(_) => session::ErrorKind::Internal,
        }
    }
}

/// What a subscription request came to. The page says the same in every case (a confirmation
/// mail is on its way), so that it does not tell who subscribed to what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// A confirmation mail was sent.
    Pending,
    /// The address follows this already; nothing sent.
    Already,
    /// The address has too many unconfirmed subscriptions; nothing sent.
    TooMany,
}

/// What publishing a session (or the periodic round) did for the subscribers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlertReport {
    /// Subscriptions this session was queued for now (not those it was queued for before).
    pub queued: usize,
    pub mailed: usize,
    /// Mails that could not be sent (kept queued for the next round), with the reason.
    pub failed: Vec<String>,
}

/// The public addresses of one subscription's pages.
pub struct Links {
    pub confirm: String,
    pub unsubscribe: String,
    pub feed: String,
}

impl Links {
    pub fn of(config: &Config, s: &Subscription, confirm_token: &str) -> Links {
        let base = &config.public_url;
        Links {
            confirm: format!("{base}/avvisi/conferma?t={confirm_token}"),
            unsubscribe: format!("{base}/avvisi/disdici?t={}", s.unsubscribe_token),
            feed: feed_url(config, &s.id),
        }
    }
}

pub fn feed_url(config: &Config, id: &str) -> String {
    format!("{}/avvisi/{id}/feed.atom", config.public_url)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn token(bytes: usize) -> Result<String, AlertError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| AlertError::Random(e.to_string()))?;
    Ok(hex(&buffer))
}

fn sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// `text` as an address (trimmed), or what is wrong with it.
pub fn checked_email(text: &str) -> Result<String, AlertError> {
    let text = text.trim();
    let ok = text.chars().count() <= MAX_EMAIL_CHARS
        && text.parse::<lettre::Address>().is_ok()
        && !text.contains(['<', '>', ' ']);
    if ok {
        Ok(text.to_owned())
    } else {
        Err(AlertError::BadEmail(text.chars().take(80).collect()))
    }
}

fn server(config: &Config) -> Result<&SmtpServer, AlertError> {
    config.alerts.as_ref().ok_or(AlertError::NotOffered)
}

/// Subscribes `email` to `topic` and mails the confirmation link, unless the address follows it
/// already or has too many unconfirmed subscriptions. A subscription whose confirmation could not
/// be mailed is not kept.
pub async fn subscribe(
    config: &Config,
    catalogue: &Catalogue,
    email: &str,
    topic: Topic,
    lang: &str,
) -> Result<Subscribed, AlertError> {
    let server = server(config)?.clone();
    let email = checked_email(email)?;
    let now = now_ms();
    catalogue
        .purge_unconfirmed(now - CONFIRM_DAYS * DAY_MS)
        .await?;
    let existing = catalogue.subscriptions_of(&email).await?;
    if existing.iter().any(|s| s.topic == topic) {
        return Ok(Subscribed::Already);
    }
    if existing.iter().filter(|s| s.confirmed_ms.is_none()).count() >= MAX_PENDING {
        return Ok(Subscribed::TooMany);
    }
    let confirm_token = token(32)?;
    let subscription = Subscription {
        id: token(16)?,
        email,
        topic,
        lang: if lang == "en" { "en" } else { "it" }.to_owned(),
        unsubscribe_token: token(32)?,
        created_ms: now,
        confirmed_ms: None,
        mailed_ms: None,
    };
    catalogue
        .add_subscription(&subscription, &sha256(&confirm_token))
        .await?;
    let links = Links::of(config, &subscription, &confirm_token);
    let message = confirmation(&server, &subscription, &links)?;
    let sent = tokio::task::spawn_blocking(move || mail::send(&server, &message))
        .await
        .map_err(|e| MailError {
            step: "sending".into(),
            answer: e.to_string(),
        })
        .and_then(|sent| sent);
    if let Err(e) = sent {
        catalogue
            .unsubscribe(&subscription.unsubscribe_token)
            .await?;
        return Err(e.into());
    }
    Ok(Subscribed::Pending)
}

/// Confirms the subscription of the link's `token`; none for a token that is not known (or
/// whose subscription was deleted).
pub async fn confirm(catalogue: &Catalogue, token: &str) -> Result<Option<Subscription>> {
    Ok(catalogue
        .confirm_subscription(&sha256(token), now_ms())
        .await?)
}

type Result<T, E = AlertError> = std::result::Result<T, E>;

/// The passages of `topic`, in one session or in all.
async fn passages(
    catalogue: &Catalogue,
    topic: &Topic,
    session: Option<&str>,
    limit: u32,
) -> Result<Vec<Hit>> {
    let (words, mut filters) = topic.search();
    filters.session = session.map(str::to_owned);
    let mut hits = match words {
        Some(q) => catalogue.search(q, &filters, limit).await?,
        None => catalogue.passages(&filters, limit).await?,
    };
    hits.sort_by_key(|h| h.start_ms);
    Ok(hits)
}

/// After `session` is published: queues it for every confirmed subscription it has passages
/// for, then mails what is due.
pub async fn after_publish(
    config: &Config,
    catalogue: &Catalogue,
    session: &str,
) -> Result<AlertReport> {
    if config.alerts.is_none() {
        return Ok(AlertReport::default());
    }
    let now = now_ms();
    let mut queued = 0;
    for s in catalogue.confirmed_subscriptions().await? {
        if !passages(catalogue, &s.topic, Some(session), 1)
            .await?
            .is_empty()
            && catalogue.queue_alert(&s.id, session, now).await?
        {
            queued += 1;
        }
    }
    let mut report = send_due(config, catalogue).await?;
    report.queued = queued;
    Ok(report)
}

/// One session's passages in a mail or a feed.
#[derive(Clone, Debug, Serialize)]
pub struct SessionPassages {
    pub session: String,
    pub title: String,
    pub date: String,
    pub passages: Vec<Passage>,
}

/// A passage with its deep link into the session's player.
#[derive(Clone, Debug, Serialize)]
pub struct Passage {
    pub start_ms: u64,
    pub text: String,
    pub speaker: Option<String>,
    pub item: Option<u32>,
    pub item_title: Option<String>,
    pub link: String,
}

/// The passages of `topic` in `session`, with their links; none when it has none (any more).
async fn session_passages(
    config: &Config,
    catalogue: &Catalogue,
    topic: &Topic,
    session: &str,
    lang: &str,
) -> Result<Option<SessionPassages>> {
    let hits = passages(catalogue, topic, Some(session), PASSAGES_PER_SESSION).await?;
    let Some(first) = hits.first() else {
        return Ok(None);
    };
    let lang_query = if lang == "en" { "&lang=en" } else { "" };
    Ok(Some(SessionPassages {
        session: first.session.clone(),
        title: first.title.clone(),
        date: first.date.clone(),
        passages: hits
            .iter()
            .map(|h| Passage {
                start_ms: h.start_ms,
                text: h.text.clone(),
                speaker: h.speaker.clone(),
                item: h.item,
                item_title: h.item_title.clone(),
                link: format!(
                    "{}/sessions/{}?t={}{lang_query}",
                    config.public_url,
                    h.session,
                    h.start_ms / 1000
                ),
            })
            .collect(),
    }))
}

/// Mails every confirmed subscription its queued sessions, unless it had a mail in the last 24
/// hours; deletes the subscriptions left unconfirmed for 7 days. A failed mail stays queued.
pub async fn send_due(config: &Config, catalogue: &Catalogue) -> Result<AlertReport> {
    let server = server(config)?.clone();
    let now = now_ms();
    catalogue
        .purge_unconfirmed(now - CONFIRM_DAYS * DAY_MS)
        .await?;
    let mut report = AlertReport::default();
    for s in catalogue.confirmed_subscriptions().await? {
        if s.mailed_ms.is_some_and(|at| now - at < DAY_MS) {
            continue;
        }
        let waiting: Vec<String> = catalogue
            .alert_sessions(&s.id)
            .await?
            .into_iter()
            .filter(|q| q.mailed_ms.is_none())
            .map(|q| q.session_id)
            .collect();
        if waiting.is_empty() {
            continue;
        }
        let mut found = Vec::new();
        for session in &waiting {
            found.extend(session_passages(config, catalogue, &s.topic, session, &s.lang).await?);
        }
        if found.is_empty() {
            // Corrected or closed since: nothing left to say.
            catalogue.mark_alerted(&s.id, &waiting, now, false).await?;
            continue;
        }
        let links = Links::of(config, &s, "");
        let message = alert(&server, &s, &found, &links)?;
        let smtp = server.clone();
        let sent = tokio::task::spawn_blocking(move || mail::send(&smtp, &message))
            .await
            .map_err(|e| e.to_string())
            .and_then(|sent| sent.map_err(|e| e.to_string()));
        match sent {
            Ok(_) => {
                catalogue.mark_alerted(&s.id, &waiting, now, true).await?;
                report.mailed += 1;
            }
            Err(e) => report.failed.push(format!("subscription {}: {e}", s.id)),
        }
    }
    Ok(report)
}

/// A subscription's Atom feed: what it follows and the passages of the sessions queued for it,
/// the latest first.
#[derive(Clone, Debug, Serialize)]
pub struct Feed {
    pub id: String,
    pub title: String,
    pub url: String,
    /// RFC 3339, the latest session's queueing.
    pub updated: String,
    pub sessions: Vec<FeedSession>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FeedSession {
    #[serde(flatten)]
    pub passages: SessionPassages,
    pub updated: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The feed of the confirmed subscription `id`; none for an unknown or unconfirmed one.
pub async fn feed(config: &Config, catalogue: &Catalogue, id: &str) -> Result<Option<Feed>> {
    let Some(s) = catalogue.confirmed_subscription(id).await? else {
        return Ok(None);
    };
    let mut sessions = Vec::new();
    for q in catalogue
        .alert_sessions(&s.id)
        .await?
        .into_iter()
        .take(FEED_SESSIONS)
    {
        if let Some(passages) =
            session_passages(config, catalogue, &s.topic, &q.session_id, &s.lang).await?
        {
            sessions.push(FeedSession {
                passages,
                updated: rfc3339(q.queued_ms),
            });
        }
    }
    Ok(Some(Feed {
        id: s.id.clone(),
        title: format!("aula: {}", topic_label(&s.topic, &s.lang)),
        url: feed_url(config, &s.id),
        updated: sessions.first().map_or_else(
            || rfc3339(s.confirmed_ms.unwrap_or(s.created_ms)),
            |first| first.updated.clone(),
        ),
        sessions,
    }))
}

/// What a subscription follows, as a mail or a page names it.
pub fn topic_label(topic: &Topic, lang: &str) -> String {
    let it = lang != "en";
    match topic {
        Topic::Words(q) => format!("\u{ab}{q}\u{bb}"),
        Topic::Person(p) => format!("{} {p}", if it { "consigliere" } else { "councillor" }),
        Topic::Group(g) => format!("{} {g}", if it { "gruppo" } else { "group" }),
        Topic::Kind(k) => format!("{} {k}", if it { "tipo di punto" } else { "item kind" }),
    }
}

fn message_to(server: &SmtpServer, s: &Subscription) -> Result<lettre::message::MessageBuilder> {
    let to: Mailbox = mail::mailbox("email", &s.email)?;
    Ok(Message::builder()
        .from(mail::mailbox("from", &server.from)?)
        .to(to)
        .header(ContentType::TEXT_PLAIN))
}

fn finish(builder: lettre::message::MessageBuilder, text: String) -> Result<Message> {
    builder.body(text).map_err(|e| {
        AlertError::Mail(MailError {
            step: "writing the message".into(),
            answer: e.to_string(),
        })
    })
}

/// The confirmation mail: what was asked, the link, and that nothing follows without it.
fn confirmation(server: &SmtpServer, s: &Subscription, links: &Links) -> Result<Message> {
    let topic = topic_label(&s.topic, &s.lang);
    let (subject, text) = if s.lang == "en" {
        (
            format!("aula: confirm your alert for {topic}"),
            format!(
                "Someone (we hope you) asked to be told by e-mail when {topic} comes up in a \
                 council session.\n\nTo confirm, open this link:\n{}\n\nWithout confirmation \
                 nothing more is sent, and this address is deleted in 7 days.\n",
                links.confirm
            ),
        )
    } else {
        (
            format!("aula: conferma l'avviso per {topic}"),
            format!(
                "Qualcuno (speriamo tu) ha chiesto di ricevere un'e-mail quando si parla di \
                 {topic} in una seduta del consiglio.\n\nPer confermare, apri questo \
                 collegamento:\n{}\n\nSenza conferma non riceverai altro, e questo indirizzo \
                 sarà cancellato fra 7 giorni.\n",
                links.confirm
            ),
        )
    };
    finish(message_to(server, s)?.subject(subject), text)
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// The alert mail, with the one-click unsubscribe headers of RFC 8058.
fn alert(
    server: &SmtpServer,
    s: &Subscription,
    found: &[SessionPassages],
    links: &Links,
) -> Result<Message> {
    let topic = topic_label(&s.topic, &s.lang);
    let subject = match (found, s.lang.as_str()) {
        ([one], _) => format!("aula: {topic} in {} ({})", one.title, one.date),
        (many, "en") => format!("aula: {topic} in {} sessions", many.len()),
        (many, _) => format!("aula: {topic} in {} sedute", many.len()),
    };
    let builder = message_to(server, s)?
        .subject(subject)
        .raw_header(header(
            "List-Unsubscribe",
            format!("<{}>", links.unsubscribe),
        ))
        .raw_header(header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        ));
    finish(builder, alert_text(&topic, &s.lang, found, links))
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The alert's text: each session with its passages (speaker, item, time, words, link), then the
/// feed and the unsubscribe link.
pub fn alert_text(topic: &str, lang: &str, found: &[SessionPassages], links: &Links) -> String {
    let en = lang == "en";
    let mut out = if en {
        format!("New passages on {topic} in the council's published sessions.\n")
    } else {
        format!("Nuovi passaggi su {topic} nelle sedute pubblicate del consiglio.\n")
    };
    for session in found {
        out.push_str(&format!("\n== {} ({}) ==\n", session.title, session.date));
        for p in &session.passages {
            let mut who = Vec::new();
            who.extend(p.speaker.clone());
            if let (Some(n), Some(title)) = (p.item, &p.item_title) {
                who.push(format!(
                    "{} {n}: {title}",
                    if en { "item" } else { "punto" }
                ));
            }
            who.push(clock(p.start_ms));
            out.push_str(&format!(
                "\n{}\n\u{201c}{}\u{201d}\n{}\n",
                who.join(" \u{b7} "),
                p.text,
                p.link
            ));
        }
    }
    let (feed, stop) = if en {
        ("Atom feed of this alert", "Stop this alert")
    } else {
        ("Feed Atom di questo avviso", "Disattiva questo avviso")
    };
    out.push_str(&format!(
        "\n--\n{feed}: {}\n{stop}: {}\n",
        links.feed, links.unsubscribe
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_checked() {
        assert_eq!(
            checked_email(" anna@example.org ").unwrap(),
            "anna@example.org"
        );
        for bad in [
            "anna",
            "anna@",
            "Anna <anna@example.org>",
            "a b@example.org",
        ] {
            assert!(
                matches!(checked_email(bad), Err(AlertError::BadEmail(_))),
                "{bad}"
            );
        }
        assert!(checked_email(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn the_alert_lists_each_passage_with_its_link_and_ends_with_the_unsubscribe_link() {
        let links = Links {
            confirm: String::new(),
            unsubscribe: "https://aula.example/avvisi/disdici?t=u1".into(),
            feed: "https://aula.example/avvisi/f1/feed.atom".into(),
        };
        let found = [SessionPassages {
            session: "cc-2024-03-15".into(),
            title: "Seduta ordinaria".into(),
            date: "2024-03-15".into(),
            passages: vec![Passage {
                start_ms: 3_725_000,
                text: "il bilancio è approvato".into(),
                speaker: Some("Anna Rossi".into()),
                item: Some(2),
                item_title: Some("Bilancio".into()),
                link: "https://aula.example/sessions/cc-2024-03-15?t=3725".into(),
            }],
        }];
        assert_eq!(
            alert_text("\u{ab}bilancio\u{bb}", "it", &found, &links),
            "Nuovi passaggi su \u{ab}bilancio\u{bb} nelle sedute pubblicate del consiglio.\n\
             \n== Seduta ordinaria (2024-03-15) ==\n\
             \nAnna Rossi \u{b7} punto 2: Bilancio \u{b7} 01:02:05\n\
             \u{201c}il bilancio è approvato\u{201d}\n\
             https://aula.example/sessions/cc-2024-03-15?t=3725\n\
             \n--\nFeed Atom di questo avviso: https://aula.example/avvisi/f1/feed.atom\n\
             Disattiva questo avviso: https://aula.example/avvisi/disdici?t=u1\n"
        );
    }
}
