//! Browser users of `aula serve` (name, role, argon2 PHC string, disabled) and their signed-in web
//! sessions, of which only the SHA-256 of the cookie's value is kept, with the CSRF token.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{column, Catalogue, CatalogueError, Result, Role};

/// A user as listed (the password hash stays in the catalogue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A signed-in web session found by its cookie's hash: whose it is and its CSRF token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSessionRecord {
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A time as stored in `web_sessions`: RFC 3339 in UTC with milliseconds, so that the text sorts
/// as the time does.
fn fixed(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn time(table: &'static str, column: &'static str, text: String) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| CatalogueError::Corrupt {
            table,
            column,
            value: text,
        })
}

fn user_row(row: &sqlx::any::AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        name: column(row, "users", "name")?,
        role: Role::stored("users", column(row, "users", "role")?)?,
        disabled: column::<i64>(row, "users", "disabled")? != 0,
        created_at: time("users", "created_at", column(row, "users", "created_at")?)?,
    })
}

impl Catalogue {
    /// Adds a user with its password's PHC string; refuses a name that is taken.
    pub async fn add_user(&self, name: &str, role: Role, password_hash: &str) -> Result<()> {
        if role == Role::Public {
            return Err(CatalogueError::PublicToken);
        }
        // One statement, no read before the write: SQLite refuses a transaction's upgrade from
        // reading to writing at once when another connection wrote meanwhile.
        let added = sqlx::query(
            "INSERT INTO users (name, role, password_hash, disabled, created_at)
             VALUES ($1, $2, $3, 0, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(fixed(Utc::now()))
        .execute(&self.pool)
        .await?;
        if added.rows_affected() == 0 {
            return Err(CatalogueError::UserExists(name.to_owned()));
        }
        Ok(())
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query("SELECT name, role, disabled, created_at FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_row).collect()
    }

    /// A user and its password's PHC string; none for a name that is not known.
    pub async fn user_with_hash(&self, name: &str) -> Result<Option<(UserRecord, String)>> {
        let row = sqlx::query(
            "SELECT name, role, disabled, created_at, password_hash FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((user_row(&row)?, column(&row, "users", "password_hash")?)))
            .transpose()
    }

    /// Sets a user's password and ends its web sessions (a changed password signs it out).
    pub async fn set_password(&self, name: &str, password_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
            .bind(password_hash)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CatalogueError::NoUser(name.to_owned()));
        }
        sqlx::query("DELETE FROM web_sessions WHERE user_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables a user and ends its web sessions; returns whether it was enabled before.
    pub async fn disable_user(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // The write first, so the transaction holds the write lock before it reads.
        let was_enabled =
            sqlx::query("UPDATE users SET disabled = 1 WHERE name = $1 AND disabled = 0")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
        if !was_enabled {
            sqlx::query("SELECT name FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| CatalogueError::NoUser(name.to_owned()))?;
        }
        sqlx::query("DELETE FROM web_sessions WHERE user_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(was_enabled)
    }

    /// Stores a web session under its cookie's SHA-256; sessions expired by `now` are removed.
    pub async fn add_web_session(
        &self,
        id_hash: &str,
        user: &str,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
            .bind(fixed(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, user_name, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(user)
        .bind(csrf_token)
        .bind(fixed(now))
        .bind(fixed(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The web session whose cookie hashes to `id_hash`, if it has not expired by `now` and its
    /// user is enabled.
    pub async fn web_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebSessionRecord>> {
        let row = sqlx::query(
            "SELECT w.user_name, w.csrf_token, w.expires_at, u.role
             FROM web_sessions w JOIN users u ON u.name = w.user_name
             WHERE w.id_hash = $1 AND u.disabled = 0 AND w.expires_at > $2",
        )
        .bind(id_hash)
        .bind(fixed(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(WebSessionRecord {
                user: column(&row, "web_sessions", "user_name")?,
                role: Role::stored("users", column(&row, "users", "role")?)?,
                csrf_token: column(&row, "web_sessions", "csrf_token")?,
                expires_at: time(
                    "web_sessions",
                    "expires_at",
                    column(&row, "web_sessions", "expires_at")?,
                )?,
            })
        })
        .transpose()
    }

    /// Ends the web session whose cookie hashes to `id_hash`; returns whether there was one.
    pub async fn delete_web_session(&self, id_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_web_session_ends_with_its_expiry_its_user_or_a_new_password() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            catalogue.add_user("anna", Role::Clerk, "$h").await.unwrap();
            assert!(matches!(
                catalogue.add_user("anna", Role::Press, "$h").await,
                Err(CatalogueError::UserExists(_))
            ));
            let now = Utc::now();
            let later = now + chrono::Duration::hours(12);
            catalogue
                .add_web_session("s1", "anna", "c1", now, later)
                .await
                .unwrap();
            let found = catalogue.web_session("s1", now).await.unwrap().unwrap();
            assert_eq!((found.user.as_str(), found.role), ("anna", Role::Clerk));
            assert_eq!(found.csrf_token, "c1");
            assert_eq!(catalogue.web_session("s1", later).await.unwrap(), None);
            assert_eq!(catalogue.web_session("s2", now).await.unwrap(), None);

            catalogue.set_password("anna", "$h2").await.unwrap();
            assert_eq!(catalogue.web_session("s1", now).await.unwrap(), None);
            catalogue
                .add_web_session("s3", "anna", "c3", now, later)
                .await
                .unwrap();
            assert!(catalogue.disable_user("anna").await.unwrap());
            assert_eq!(catalogue.web_session("s3", now).await.unwrap(), None);
            assert!(!catalogue.disable_user("anna").await.unwrap());
            assert!(matches!(
                catalogue.disable_user("nobody").await,
                Err(CatalogueError::NoUser(_))
            ));
            let users = catalogue.users().await.unwrap();
            assert_eq!(users.len(), 1);
            assert!(users[0].disabled);
        }
    }
}
