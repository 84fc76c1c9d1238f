//! The press kit's destinations, `[[delivery]]` in `aula.toml`: an SFTP server, a mailing list by
//! SMTP or a signed webhook, each checked on load with errors naming the destination and the field.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One destination of the press kit.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    /// How `aula deliver --to NAME` and the log call it.
    pub name: String,
    pub channel: Channel,
    pub retry: Retry,
}

/// How the kit travels, with the channel's own settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Channel {
    Sftp(Sftp),
    Smtp(Smtp),
    Webhook(Webhook),
}

impl Channel {
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Sftp(_) => "sftp",
            Channel::Smtp(_) => "smtp",
            Channel::Webhook(_) => "webhook",
        }
    }

    /// Where the kit goes, to show the press office: the SFTP account and folder, the mailing
    /// list and its server, the webhook's address without its query, fragment or user. No key,
    /// password or secret.
    pub fn place(&self) -> String {
        match self {
            Channel::Sftp(s) => {
                let dir = if s.remote_dir.starts_with('/') {
                    s.remote_dir.clone()
                } else {
                    format!("/~/{}", s.remote_dir)
                };
                format!("sftp://{}@{}:{}{dir}", s.user, s.host, s.port)
            }
            Channel::Smtp(s) => {
                format!("{} ({}:{})", s.to.join(", "), s.server.host, s.server.port)
            }
            Channel::Webhook(w) => {
                let bare = w.url.split(['?', '#']).next().unwrap_or_default();
                match bare.split_once("://") {
                    Some((scheme, rest)) => {
                        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
                        format!("{scheme}://{host}{path}")
                    }
                    None => bare.to_owned(),
                }
            }
        }
    }
}

/// Tries per delivery and the wait before the second (doubled before each further try).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff_ms: u64,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 3,
            backoff_ms: 1000,
        }
    }
}

impl Retry {
    /// The wait after failed attempt `attempt` (1-based): backoff, then twice that, and so on.
    pub fn wait_ms(&self, attempt: u32) -> u64 {
        self.backoff_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
    }
}

/// An upload by SFTP with key authentication; the server's host key must be in `known_hosts`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sftp {
    pub host: String,
    #[serde(default = "ssh_port")]
    pub port: u16,
    pub user: String,
    /// The folder on the server the kit goes into (it must exist).
    pub remote_dir: String,
    /// The private key file (OpenSSH format, without a passphrase).
    pub private_key: PathBuf,
    /// An OpenSSH `known_hosts` file holding the server's host key (`ssh-keyscan -p PORT HOST`).
    pub known_hosts: PathBuf,
    #[serde(default)]
    pub upload: Upload,
}

fn ssh_port() -> u16 {
    22
}

/// What of the kit an SFTP destination receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upload {
    /// The ZIP only.
    #[default]
    Zip,
    /// The package folder, file by file.
    Package,
    /// Both.
    Both,
}

/// An e-mail to the press list with the kit's links and excerpts.
#[derive(Clone, Debug, PartialEq)]
pub struct Smtp {
    pub server: SmtpServer,
    pub to: Vec<String>,
}

/// The mail server aula sends through, and the sender (`[[delivery]]` of kind smtp, `[alerts]`).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpServer {
    pub host: String,
    #[serde(default = "submission_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    /// A PEM certificate to trust besides the system's (a private CA, a self-signed server).
    pub ca_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

fn submission_port() -> u16 {
    587
}

/// STARTTLS is required; `none` is accepted only for a server on the loopback interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    None,
}

/// A POST of the kit's description, signed with HMAC-SHA256 of the body.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

/// Shown without the password.
impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("user", &self.user)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// Shown without the secret.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The shortest webhook secret accepted.
const MIN_SECRET_CHARS: usize = 16;

/// A `[[delivery]]` entry the configuration refuses.
#[derive(Debug, thiserror::Error)]
#[error("delivery[{index}] ({name}): {field}: {problem}")]
pub struct DestinationError {
    pub index: usize,
    pub name: String,
    pub field: String,
    pub problem: String,
}

impl DestinationError {
    pub fn kind(&self) -> session::ErrorKind {
        session::ErrorKind::BadInput
    }
}

/// Reads and checks the `[[delivery]]` tables; relative file paths are taken from `home`.
pub fn destinations(
    tables: Vec<toml::Table>,
    home: &Path,
) -> Result<Vec<Destination>, DestinationError> {
    let mut out: Vec<Destination> = Vec::new();
    for (index, mut table) in tables.into_iter().enumerate() {
        let name = match table.remove("name") {
            Some(toml::Value::String(name)) => name,
            _ => String::new(),
        };
        let fail = |field: &str, problem: String| DestinationError {
            index,
            name: if name.is_empty() {
                "?".into()
            } else {
                name.clone()
            },
            field: field.to_owned(),
            problem,
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(fail(
                "name",
                "give each destination a name of letters, digits, '-', '_' or '.'".into(),
            ));
        }
        if out.iter().any(|d| d.name == name) {
            return Err(fail("name", "another destination has this name".into()));
        }
        let mut retry = Retry::default();
        if let Some(value) = table.remove("attempts") {
            retry.attempts = value
                .as_integer()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=10).contains(n))
                .ok_or_else(|| fail("attempts", format!("{value} (expected 1 to 10)")))?;
        }
        if let Some(value) = table.remove("backoff_ms") {
            retry.backoff_ms = value
                .as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n <= 600_000)
                .ok_or_else(|| fail("backoff_ms", format!("{value} (expected 0 to 600000)")))?;
        }
        let kind = match table.remove("kind") {
            Some(toml::Value::String(kind)) => kind,
            _ => return Err(fail("kind", "missing (sftp, smtp or webhook)".into())),
        };
        let parse_error = |e: toml::de::Error| fail("fields", e.message().to_owned());
        let channel = match kind.as_str() {
            "sftp" => {
                let mut s: Sftp = toml::Value::Table(table).try_into().map_err(parse_error)?;
                s.private_key = home.join(&s.private_key);
                s.known_hosts = home.join(&s.known_hosts);
                check_sftp(&s).map_err(|(field, problem)| fail(field, problem))?;
                Channel::Sftp(s)
            }
            "smtp" => {
                let to = match table.remove("to") {
                    Some(value) => value.try_into().map_err(parse_error)?,
                    None => Vec::new(),
                };
                let server = smtp_server(table, home).map_err(parse_error)?;
                let s = Smtp { server, to };
                check_smtp(&s).map_err(|(field, problem)| fail(field, problem))?;
                Channel::Smtp(s)
            }
            "webhook" => {
                let w: Webhook = toml::Value::Table(table).try_into().map_err(parse_error)?;
                check_webhook(&w).map_err(|(field, problem)| fail(field, problem))?;
                Channel::Webhook(w)
            }
            other => {
                return Err(fail(
                    "kind",
                    format!("{other:?} (expected sftp, smtp or webhook)"),
                ))
            }
        };
        out.push(Destination {
            name,
            channel,
            retry,
        });
    }
    Ok(out)
}

/// The field at fault and what is wrong with it.
pub type Problem = (&'static str, String);

fn loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_host(host: &str, port: u16) -> Result<(), Problem> {
    if host.trim().is_empty() || host.contains(char::is_whitespace) {
        return Err((
            "host",
            format!("{host:?} (expected a host name or address)"),
        ));
    }
    if port == 0 {
        return Err(("port", "0 (expected 1 to 65535)".into()));
    }
    Ok(())
}

fn check_sftp(s: &Sftp) -> Result<(), Problem> {
    check_host(&s.host, s.port)?;
    if s.user.is_empty() {
        return Err(("user", "empty (expected the account on the server)".into()));
    }
    if s.remote_dir.is_empty() {
        return Err((
            "remote_dir",
            "empty (expected a folder on the server)".into(),
        ));
    }
    Ok(())
}

/// Reads a mail server's table; a relative `ca_file` is taken from `home`.
pub fn smtp_server(table: toml::Table, home: &Path) -> Result<SmtpServer, toml::de::Error> {
    let mut s: SmtpServer = toml::Value::Table(table).try_into()?;
    s.ca_file = s.ca_file.map(|f| home.join(f));
    Ok(s)
}

fn check_smtp(s: &Smtp) -> Result<(), Problem> {
    check_smtp_server(&s.server)?;
    if s.to.is_empty() {
        return Err(("to", "empty (expected at least one address)".into()));
    }
    for (i, to) in s.to.iter().enumerate() {
        if let Err(e) = to.parse::<lettre::message::Mailbox>() {
            return Err(("to", format!("[{i}] {to:?}: {e}")));
        }
    }
    Ok(())
}

/// Checks a mail server's settings: STARTTLS but on the loopback interface, a user with a
/// password, a sender that is an address; else the field and what is wrong.
pub fn check_smtp_server(s: &SmtpServer) -> Result<(), Problem> {
    check_host(&s.host, s.port)?;
    if s.tls == SmtpTls::None && !loopback(&s.host) {
        return Err((
            "tls",
            format!(
                "\"none\" for {} (only a server on the loopback interface may go without STARTTLS)",
                s.host
            ),
        ));
    }
    if s.password.is_some() && s.user.is_none() {
        return Err(("password", "given without a user".into()));
    }
    s.from
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| ("from", format!("{:?}: {e}", s.from)))?;
    Ok(())
}

fn check_webhook(w: &Webhook) -> Result<(), Problem> {
    let host = if let Some(rest) = w.url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = w.url.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !loopback(host) {
            return Err((
                "url",
                format!(
                    "{} (plain http only to the loopback interface; use https)",
                    w.url
                ),
            ));
        }
        rest
    } else {
        return Err(("url", format!("{:?} (expected an https:// URL)", w.url)));
    };
    if host.is_empty() || host.starts_with('/') {
        return Err(("url", format!("{:?} has no host", w.url)));
    }
    if w.secret.chars().count() < MIN_SECRET_CHARS {
        return Err((
            "secret",
            format!("too short (expected at least {MIN_SECRET_CHARS} characters)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Destination>, DestinationError> {
        #[derive(Deserialize)]
        struct File {
            delivery: Vec<toml::Table>,
        }
        let file: File = toml::from_str(text).unwrap();
        destinations(file.delivery, Path::new("/srv/aula"))
    }

    #[test]
    fn destinations_read_with_defaults_and_paths_from_the_data_folder() {
        let d = parse(
            r#"
            [[delivery]]
            name = "ansa"
            kind = "sftp"
            host = "sftp.example.org"
            user = "comune"
            remote_dir = "in"
            private_key = "keys/ansa"
            known_hosts = "/etc/aula/known_hosts"

            [[delivery]]
            name = "lista-stampa"
            kind = "smtp"
            host = "mail.example.org"
            from = "Ufficio stampa <stampa@example.org>"
            to = ["redazioni@example.org"]
            attempts = 5
            backoff_ms = 200

            [[delivery]]
            name = "sito"
            kind = "webhook"
            url = "https://www.example.org/hooks/aula"
            secret = "0123456789abcdef"
            "#,
        )
        .unwrap();
        let Channel::Sftp(sftp) = &d[0].channel else {
            panic!("{d:?}")
        };
        assert_eq!(sftp.port, 22);
        assert_eq!(sftp.upload, Upload::Zip);
        assert_eq!(sftp.private_key, Path::new("/srv/aula/keys/ansa"));
        assert_eq!(sftp.known_hosts, Path::new("/etc/aula/known_hosts"));
        assert_eq!(d[0].retry, Retry::default());
        let Channel::Smtp(smtp) = &d[1].channel else {
            panic!("{d:?}")
        };
        assert_eq!(
            (smtp.server.port, smtp.server.tls),
            (587, SmtpTls::Starttls)
        );
        assert_eq!(
            d[1].retry,
            Retry {
                attempts: 5,
                backoff_ms: 200
            }
        );
        assert_eq!(d[2].channel.kind(), "webhook");
    }

    #[test]
    fn a_bad_destination_is_refused_by_name_and_field() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(
            err(r#"[[delivery]]
                name = "ansa"
                kind = "smtp"
                host = "mail.example.org"
                tls = "none"
                from = "a@example.org"
                to = ["b@example.org"]"#),
            "delivery[0] (ansa): tls: \"none\" for mail.example.org (only a server on the \
             loopback interface may go without STARTTLS)"
        );
        assert!(err(r#"[[delivery]]
                name = "sito"
                kind = "webhook"
                url = "https://x.example.org/"
                secret = "short""#)
        .starts_with("delivery[0] (sito): secret: too short"));
        assert!(err(r#"[[delivery]]
                name = "sito"
                kind = "webhook"
                url = "http://x.example.org/"
                secret = "0123456789abcdef""#)
        .starts_with("delivery[0] (sito): url: http://x.example.org/ (plain http"));
        let unknown = err(r#"[[delivery]]
                name = "ansa"
                kind = "sftp"
                hots = "x""#);
        assert!(
            unknown.starts_with("delivery[0] (ansa): fields: unknown field `hots`"),
            "{unknown}"
        );
        assert_eq!(
            err(r#"[[delivery]]
                name = "x"
                kind = "fax""#),
            "delivery[0] (x): kind: \"fax\" (expected sftp, smtp or webhook)"
        );
        assert_eq!(
            err(r#"[[delivery]]
                name = "x"
                kind = "webhook"
                attempts = 0"#),
            "delivery[0] (x): attempts: 0 (expected 1 to 10)"
        );
        assert!(err(r#"[[delivery]]
                name = "a"
                kind = "webhook"
                url = "https://a.example.org/"
                secret = "0123456789abcdef"
                [[delivery]]
                name = "a"
                kind = "webhook""#)
        .starts_with("delivery[1] (a): name: another destination"));
    }

    #[test]
    fn a_place_names_where_the_kit_goes_without_secrets() {
        let d = parse(
            r#"
            [[delivery]]
            name = "ansa"
            kind = "sftp"
            host = "sftp.example.org"
            port = 2222
            user = "comune"
            remote_dir = "in"
            private_key = "keys/ansa"
            known_hosts = "known_hosts"

            [[delivery]]
            name = "lista"
            kind = "smtp"
            host = "mail.example.org"
            user = "stampa"
            password = "hunter2-hunter2"
            from = "stampa@example.org"
            to = ["a@example.org", "b@example.org"]

            [[delivery]]
            name = "sito"
            kind = "webhook"
            url = "https://web:pw@www.example.org/hooks/aula?token=abc#x"
            secret = "0123456789abcdef"
            "#,
        )
        .unwrap();
        let places: Vec<String> = d.iter().map(|d| d.channel.place()).collect();
        assert_eq!(
            places,
            [
                "sftp://comune@sftp.example.org:2222/~/in",
                "a@example.org, b@example.org (mail.example.org:587)",
                "https://www.example.org/hooks/aula",
            ]
        );
    }

    #[test]
    fn the_backoff_doubles() {
        let r = Retry {
            attempts: 3,
            backoff_ms: 1000,
        };
        assert_eq!(
            [r.wait_ms(1), r.wait_ms(2), r.wait_ms(3)],
            [1000, 2000, 4000]
        );
    }
}
