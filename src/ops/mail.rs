//! Sending one message through the configured mail server (lettre): STARTTLS required (plain
//! only to a loopback server), an extra trusted certificate, credentials. The press kit's mail
//! and the alerts share it.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::config::delivery::{SmtpServer, SmtpTls};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A step of sending that failed, and what the server or the library answered.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {answer}")]
pub struct MailError {
    pub step: String,
    pub answer: String,
}

fn fail(step: &str, answer: &dyn std::fmt::Display) -> MailError {
    MailError {
        step: step.to_owned(),
        answer: answer.to_string(),
    }
}

/// `text` as an address with an optional name, naming `field` when it is not one.
pub fn mailbox(field: &str, text: &str) -> Result<Mailbox, MailError> {
    text.parse::<Mailbox>()
        .map_err(|e| fail(field, &format!("{text:?}: {e}")))
}

/// Sends `message` through `server`; the server's answer.
pub fn send(server: &SmtpServer, message: &Message) -> Result<String, MailError> {
    let mut transport = SmtpTransport::builder_dangerous(&server.host)
        .port(server.port)
        .timeout(Some(TIMEOUT));
    if server.tls == SmtpTls::Starttls {
        let mut tls = TlsParameters::builder(server.host.clone());
        if let Some(ca) = &server.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| fail("ca_file", &format!("{}: {e}", ca.display())))?;
            let certificate = Certificate::from_pem(&pem)
                .map_err(|e| fail("ca_file", &format!("{}: {e}", ca.display())))?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls.build().map_err(|e| fail("setting up TLS", &e))?;
        transport = transport.tls(Tls::Required(tls));
    }
    if let Some(user) = &server.user {
        transport = transport.credentials(Credentials::new(
            user.clone(),
            server.password.clone().unwrap_or_default(),
        ));
    }
    let address = format!("{}:{}", server.host, server.port);
    let response = transport
        .build()
        .send(message)
        .map_err(|e| fail(&format!("sending to {address}"), &e))?;
    Ok(format!(
        "{} {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    ))
}
