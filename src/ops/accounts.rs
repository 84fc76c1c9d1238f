//! Accounts of `aula serve`'s browser users: create, change password, disable, list, and the web
//! sessions they sign in to (argon2 password hashes; a session is a random cookie value of which
//! the catalogue keeps only the SHA-256, with its CSRF token and its expiry).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalogue::{Catalogue, Role, UserRecord};
use session::ErrorKind;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The longest user name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// How long a web session lasts after signing in.
pub const SESSION_HOURS: i64 = 12;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user name {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("the password is too short: {chars} characters, at least {MIN_PASSWORD_CHARS} needed")]
    ShortPassword { chars: usize },
    #[error("the password is too long: {chars} characters, at most {MAX_PASSWORD_CHARS}")]
    LongPassword { chars: usize },
    #[error("accounts are for clerk, press or admin, not public")]
    PublicRole,
    #[error("the catalogue holds a password hash for {name:?} that cannot be read: {reason}")]
    BadHash { name: String, reason: String },
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("no randomness: {0}")]
    Random(String),
}

impl AccountError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AccountError::BadName { .. }
            | AccountError::ShortPassword { .. }
            | AccountError::LongPassword { .. }
            | AccountError::PublicRole => ErrorKind::BadInput,
            AccountError::BadHash { .. } | AccountError::Hash(_) | AccountError::Random(_) => {
                ErrorKind::Internal
            }
        }
    }
}

/// The characters a user name may have, as users are told.
pub const NAME_RULE: &str = "1 to 64 characters: lowercase letters a-z, digits, '.', '_' or '-', \
                             starting with a letter or a digit";

/// Checks a user name against [`NAME_RULE`].
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let bad = |reason| AccountError::BadName {
        name: name.chars().take(80).collect(),
        reason,
    };
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(NAME_RULE));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if !name.chars().all(allowed) {
        return Err(bad(NAME_RULE));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad(NAME_RULE));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AccountError::ShortPassword { chars });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AccountError::LongPassword { chars });
    }
    Ok(())
}

fn random_bytes() -> Result<[u8; 32], AccountError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AccountError::Random(e.to_string()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a cookie's value, as the catalogue keeps it.
fn cookie_hash(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// The password's argon2id PHC string with a random salt.
fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::encode_b64(&random_bytes()?[..16])
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// A hash no password matches, checked for unknown names so that they cost as much as known ones.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        // Invariant: hashing a fixed password with a fixed, valid salt cannot fail.
        let salt = SaltString::encode_b64(b"aula-decoy-salt!").expect("a valid salt");
        Argon2::default()
            .hash_password(b"no password is this one", &salt)
            .expect("argon2 with the default parameters")
            .to_string()
    })
}

fn verify(name: &str, password: &str, phc: &str) -> Result<bool, AccountError> {
    let parsed = PasswordHash::new(phc).map_err(|e| AccountError::BadHash {
        name: name.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// What `aula user create` asks for.
#[derive(Clone, Debug, Deserialize)]
pub struct CreateUser {
    pub name: String,
    pub role: Role,
    pub password: String,
}

/// Creates a user; refuses a bad or taken name, the public role and a weak password.
pub async fn create(catalogue: &Catalogue, request: &CreateUser) -> anyhow::Result<UserRecord> {
    check_name(&request.name)?;
    if request.role == Role::Public {
        return Err(AccountError::PublicRole.into());
    }
    check_password(&request.password)?;
    let phc = hash_password(&request.password)?;
    catalogue
        .add_user(&request.name, request.role, &phc)
        .await?;
    let (user, _) = catalogue
        .user_with_hash(&request.name)
        .await?
        .ok_or_else(|| crate::catalogue::CatalogueError::NoUser(request.name.clone()))?;
    Ok(user)
}

/// Sets a user's password; its open web sessions end.
pub async fn passwd(catalogue: &Catalogue, name: &str, password: &str) -> anyhow::Result<()> {
    check_name(name)?;
    check_password(password)?;
    let phc = hash_password(password)?;
    catalogue.set_password(name, &phc).await?;
    Ok(())
}

/// Disables a user: it can no longer sign in and its open web sessions end. Returns whether it
/// was enabled before.
pub async fn disable(catalogue: &Catalogue, name: &str) -> anyhow::Result<bool> {
    check_name(name)?;
    Ok(catalogue.disable_user(name).await?)
}

/// A user by name; none for a name that is not known.
pub async fn user(catalogue: &Catalogue, name: &str) -> anyhow::Result<Option<UserRecord>> {
    check_name(name)?;
    Ok(catalogue.user_with_hash(name).await?.map(|(user, _)| user))
}

pub async fn list(catalogue: &Catalogue) -> anyhow::Result<Vec<UserRecord>> {
    Ok(catalogue.users().await?)
}

/// A signed-in web session as its holder sees it: whose it is, its role and its CSRF token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebSession {
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A new web session: the cookie's value (shown once, never stored) and the session.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub cookie: String,
    pub session: WebSession,
}

/// Failed sign-ins per name in the last [`Throttle::WINDOW`], which make the next attempt for
/// that name wait (the wait grows with the failures, up to [`Throttle::MAX_DELAY`]).
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    pub const MAX_DELAY: Duration = Duration::from_secs(5);
    /// Names remembered at most; past it the oldest failures are forgotten first.
    const MAX_NAMES: usize = 10_000;

    /// The wait before checking a password after `failures` recent failures for the name: none,
    /// then 250 ms doubling with each failure, at most [`Throttle::MAX_DELAY`].
    pub fn delay_after(failures: u32) -> Duration {
        match failures {
            0 => Duration::ZERO,
            n => Duration::from_millis(250u64.saturating_mul(1 << (n - 1).min(16)))
                .min(Self::MAX_DELAY),
        }
    }

    /// The recent failures for `name` at `now`.
    pub fn failures(&self, name: &str, now: Instant) -> u32 {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(name)
            .filter(|(_, last)| now.duration_since(*last) < Self::WINDOW)
            .map_or(0, |(n, _)| *n)
    }

    /// Counts a failure for `name` at `now`; returns the recent failures, this one included.
    pub fn fail(&self, name: &str, now: Instant) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= Self::MAX_NAMES && !failures.contains_key(name) {
            failures.retain(|_, (_, last)| now.duration_since(*last) < Self::WINDOW);
            if failures.len() >= Self::MAX_NAMES {
                if let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (_, last))| *last)
                    .map(|(k, _)| k.clone())
                {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures.entry(name.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= Self::WINDOW {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        entry.0
    }

    /// Forgets the failures for `name` (it signed in).
    pub fn clear(&self, name: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }
}

/// The outcome of a refused sign-in, for the caller's log: the recent failures for the name.
#[derive(Debug, thiserror::Error)]
#[error("wrong user name or password ({failures} recent failure(s) for this name)")]
pub struct SignInRefused {
    pub failures: u32,
}

impl SignInRefused {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::BadInput
    }
}

/// Signs `name` in with `password`: after the wait its recent failures call for, checks the
/// password (an unknown or disabled name costs the same argon2 check and gets the same answer),
/// then opens a web session of [`SESSION_HOURS`].
pub async fn sign_in(
    catalogue: &Catalogue,
    throttle: &Throttle,
    name: &str,
    password: &str,
) -> anyhow::Result<Result<SignedIn, SignInRefused>> {
    let wait = Throttle::delay_after(throttle.failures(name, Instant::now()));
    tokio::time::sleep(wait).await;
    let found = if check_name(name).is_ok() {
        catalogue.user_with_hash(name).await?
    } else {
        None
    };
    let (phc, user) = match &found {
        Some((user, phc)) => (phc.as_str(), Some(user)),
        None => (decoy_hash(), None),
    };
    let (checked_name, checked_password, checked_phc) =
        (name.to_owned(), password.to_owned(), phc.to_owned());
    let matches =
        tokio::task::spawn_blocking(move || verify(&checked_name, &checked_password, &checked_phc))
            .await??;
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        _ => {
            let failures = throttle.fail(name, Instant::now());
            return Ok(Err(SignInRefused { failures }));
        }
    };
    throttle.clear(name);
    let cookie = hex(&random_bytes()?);
    let csrf_token = hex(&random_bytes()?);
    let now = Utc::now();
    let expires_at = now + chrono::Duration::hours(SESSION_HOURS);
    catalogue
        .add_web_session(
            &cookie_hash(&cookie),
            &user.name,
            &csrf_token,
            now,
            expires_at,
        )
        .await?;
    Ok(Ok(SignedIn {
        cookie,
        session: WebSession {
            user: user.name.clone(),
            role: user.role,
            csrf_token,
            expires_at,
        },
    }))
}

/// Ends the web session of a cookie's value; returns whether there was one.
pub async fn sign_out(catalogue: &Catalogue, cookie: &str) -> anyhow::Result<bool> {
    Ok(catalogue.delete_web_session(&cookie_hash(cookie)).await?)
}

/// The web session of a cookie's value, if it is open (not expired, not signed out, its user
/// enabled).
pub async fn session(catalogue: &Catalogue, cookie: &str) -> anyhow::Result<Option<WebSession>> {
    let found = catalogue
        .web_session(&cookie_hash(cookie), Utc::now())
        .await?;
    Ok(found.map(|s| WebSession {
        user: s.user,
        role: s.role,
        csrf_token: s.csrf_token,
        expires_at: s.expires_at,
    }))
}

/// A random token for a form that has no session yet (the sign-in form's double-submit cookie).
pub fn form_token() -> anyhow::Result<String> {
    Ok(hex(&random_bytes()?))
}

/// Whether two secrets are equal, in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_a_plain_charset() {
        for good in ["anna", "m.rossi", "ufficio-stampa", "clerk_2", "7"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "Anna",
            "a b",
            "../x",
            ".hidden",
            "-rf",
            "a\nb",
            "<script>",
            "è",
            long.as_str(),
        ] {
            let err = check_name(bad).unwrap_err();
            assert!(
                err.to_string().contains("lowercase letters"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_password_needs_ten_characters() {
        assert_eq!(
            check_password("short").unwrap_err().to_string(),
            "the password is too short: 5 characters, at least 10 needed"
        );
        assert!(check_password("dieci car.").is_ok());
        assert!(check_password(&"x".repeat(257)).is_err());
    }

    #[test]
    fn a_hash_verifies_its_password_only_and_salts_differ() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("u", "correct horse battery", &a).unwrap());
        assert!(!verify("u", "correct horse batterY", &a).unwrap());
        assert!(!verify("u", "correct horse battery", decoy_hash()).unwrap());
        assert!(verify("u", "x", "not a phc string").is_err());
    }

    #[test]
    fn the_wait_grows_with_recent_failures_and_is_capped() {
        let waits: Vec<_> = (0..8).map(Throttle::delay_after).collect();
        assert_eq!(waits[0], Duration::ZERO);
        assert_eq!(waits[1], Duration::from_millis(250));
        assert_eq!(waits[2], Duration::from_millis(500));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(Throttle::delay_after(u32::MAX), Throttle::MAX_DELAY);
    }

    #[test]
    fn failures_are_counted_per_name_and_forgotten_after_the_window() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(throttle.fail("anna", t0), 1);
        assert_eq!(throttle.fail("anna", t0), 2);
        assert_eq!(throttle.failures("anna", t0), 2);
        assert_eq!(throttle.failures("marco", t0), 0);
        let later = t0 + Throttle::WINDOW;
        assert_eq!(throttle.failures("anna", later), 0);
        assert_eq!(throttle.fail("anna", later), 1);
        throttle.clear("anna");
        assert_eq!(throttle.failures("anna", later), 0);
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
