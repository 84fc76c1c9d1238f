//! The webhook channel (ureq): a POST of the kit's description as JSON, signed with HMAC-SHA256 of
//! the body in `X-Aula-Signature: sha256=<hex>`, with the time in `X-Aula-Timestamp`; an answer
//! other than 2xx is a failure with its status and the start of its body.

use std::io::Read;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use super::{Kit, SendError};
use crate::config::delivery::Webhook;

const TIMEOUT: Duration = Duration::from_secs(60);
/// How much of the receiver's answer the log keeps.
const ANSWER_CHARS: usize = 300;

/// Posts the kit's description to `settings.url`.
pub fn send(name: &str, settings: &Webhook, kit: &Kit) -> Result<String, SendError> {
    let step = format!("POST {}", settings.url);
    let fail = |answer: &dyn std::fmt::Display| SendError::new(name, step.clone(), answer);
    let sent_at = chrono::Utc::now();
    let body = serde_json::to_vec(&body(kit, &sent_at.to_rfc3339())).map_err(|e| fail(&e))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::NativeTls)
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into();
    let mut response = agent
        .post(&settings.url)
        .header("Content-Type", "application/json")
        .header("X-Aula-Signature", signature(&settings.secret, &body))
        .header("X-Aula-Timestamp", sent_at.timestamp().to_string())
        .send(&body[..])
        .map_err(|e| fail(&e))?;
    let status = response.status();
    let mut answer = String::new();
    let _ = response
        .body_mut()
        .as_reader()
        .take(4096)
        .read_to_string(&mut answer);
    let answer: String = answer.trim().chars().take(ANSWER_CHARS).collect();
    let said = format!("HTTP {}: {answer}", status.as_u16());
    if status.is_success() {
        Ok(said)
    } else {
        Err(fail(&said))
    }
}

/// The JSON the receiver gets: the session, the kit's checksum, its files with SHA-256 and URLs.
pub fn body(kit: &Kit, sent_at: &str) -> serde_json::Value {
    let s = &kit.session;
    serde_json::json!({
        "event": "press_kit",
        "sent_at": sent_at,
        "session": {
            "id": s.id,
            "body": s.body,
            "title": s.title,
            "start": s.start,
            "language": s.language,
        },
        "kit_sha256": kit.checksum,
        "index_url": kit.index_url,
        "zip": kit.zip,
        "files": kit.files,
    })
}

/// `sha256=` and the hex HMAC-SHA256 of `body` with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", session::hex(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
