//! The e-mail channel: one message to the press list with the kit's links and the excerpt of
//! every clip, sent through `ops::mail`.

use lettre::message::header::ContentType;
use lettre::Message;

use super::{Kit, SendError};
use crate::config::delivery::Smtp;
use crate::ops::mail::{self, MailError};

/// Mails the kit's summary to `settings.to`; the server's answer to the message.
pub fn send(name: &str, settings: &Smtp, kit: &Kit) -> Result<String, SendError> {
    let fail = |e: MailError| SendError::new(name, e.step, e.answer);
    let mut message = Message::builder()
        .from(mail::mailbox("from", &settings.server.from).map_err(fail)?)
        .subject(subject(kit))
        .header(ContentType::TEXT_PLAIN);
    for to in &settings.to {
        message = message.to(mail::mailbox("to", to).map_err(fail)?);
    }
    let message = message
        .body(text(kit))
        .map_err(|e| SendError::new(name, "writing the message", e))?;
    mail::send(&settings.server, &message).map_err(fail)
}

fn italian(kit: &Kit) -> bool {
    kit.session.language == "it"
}

fn subject(kit: &Kit) -> String {
    let s = &kit.session;
    let what = if italian(kit) {
        "cartella stampa"
    } else {
        "press kit"
    };
    format!(
        "{}: {} {} - {what}",
        s.body,
        s.title,
        s.start.format("%Y-%m-%d")
    )
}

/// The mail's text: the session, the kit's links, and each clip with its speakers, times, link and
/// excerpt.
pub fn text(kit: &Kit) -> String {
    let s = &kit.session;
    let t = |it: &'static str, en: &'static str| if italian(kit) { it } else { en };
    let mut out = format!(
        "{}: {}\n{}\n\n{}: {}\n{}: {} ({} bytes, SHA-256 {})\n",
        s.body,
        s.title,
        s.start.format("%Y-%m-%d %H:%M UTC"),
        t("Cartella stampa", "Press kit"),
        kit.index_url,
        t("Tutto in un file ZIP", "Everything in one ZIP"),
        kit.zip.url,
        kit.zip.bytes,
        kit.zip.sha256,
    );
    for clip in &kit.clips {
        out.push_str(&format!("\n{}\n", clip.title));
        let who = clip.speakers.join(", ");
        out.push_str(&format!(
            "{}{}{} - {}\n{}\n",
            who,
            if who.is_empty() { "" } else { ", " },
            clip.start_ms,
            clip.end_ms,
            kit.url_of(&clip.media),
        ));
        if !clip.excerpt.is_empty() {
            out.push_str(&format!("\"{}\"\n", clip.excerpt));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::ops::deliver::{KitClip, KitFile};
    use crate::ops::testing;

    fn file(path: &str) -> KitFile {
        KitFile {
            path: path.to_owned(),
            local: PathBuf::from(path),
            bytes: 2048,
            sha256: "ab".repeat(32),
            url: format!("https://aula.example/files/s1/packages/{path}"),
        }
    }

    #[test]
    fn the_mail_lists_the_kit_s_links_and_each_clip_in_the_session_s_language() {
        let mut kit = Kit {
            session: testing::session(),
            name: "s1-press".into(),
            checksum: "cd".repeat(32),
            zip: file("s1-press.zip"),
            files: vec![file("press/clips/s1-item-1-web-720p.mp4")],
            clips: vec![KitClip {
                title: "Item 1: Bilancio".into(),
                speakers: vec!["Mario Rossi".into()],
                start_ms: session::SessionMs(5_000),
                end_ms: session::SessionMs(30_000),
                media: "press/clips/s1-item-1-web-720p.mp4".into(),
                excerpt: "Mario Rossi: Grazie presidente".into(),
            }],
            index_url: "https://aula.example/files/s1/packages/press/index.html".into(),
        };
        assert_eq!(
            text(&kit),
            format!(
                "Consiglio comunale: Seduta\n2026-03-02 17:00 UTC\n\n\
                 Cartella stampa: https://aula.example/files/s1/packages/press/index.html\n\
                 Tutto in un file ZIP: https://aula.example/files/s1/packages/s1-press.zip \
                 (2048 bytes, SHA-256 {})\n\n\
                 Item 1: Bilancio\nMario Rossi, 00:00:05.000 - 00:00:30.000\n\
                 https://aula.example/files/s1/packages/press/clips/s1-item-1-web-720p.mp4\n\
                 \"Mario Rossi: Grazie presidente\"\n",
                "ab".repeat(32)
            )
        );
        assert_eq!(
            subject(&kit),
            "Consiglio comunale: Seduta 2026-03-02 - cartella stampa"
        );
        kit.session.language = "en".into();
        assert!(text(&kit).contains("\nPress kit: https://"));
    }
}
