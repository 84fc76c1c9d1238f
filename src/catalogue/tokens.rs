//! Access tokens of `aula serve`: only a token's SHA-256 is kept, with its role and a label.

use serde::{Deserialize, Serialize};

use super::{column, Catalogue, CatalogueError, Result};

/// Who is asking, from least to most allowed: the public, the clerk (live control: agenda
/// markers, closed parts, floor events), the press office (clips, publishing, report; live control
/// too) and admin (everything, corrections and closed content included). Tokens and accounts are
/// for clerk, press or admin; the public has none.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Public,
    Clerk,
    Press,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Clerk => "clerk",
            Role::Press => "press",
            Role::Admin => "admin",
        }
    }

    /// A token's or a user's role as stored: clerk, press or admin.
    pub(super) fn stored(table: &'static str, text: String) -> Result<Role> {
        match text.as_str() {
            "clerk" => Ok(Role::Clerk),
            "press" => Ok(Role::Press),
            "admin" => Ok(Role::Admin),
            _ => Err(CatalogueError::Corrupt {
                table,
                column: "role",
                value: text,
            }),
        }
    }
}

impl Catalogue {
    /// The role of the token whose SHA-256 is `hash`; none for a token that is not known.
    pub async fn token_role(&self, hash: &str) -> Result<Option<Role>> {
        let row = sqlx::query("SELECT role FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Role::stored("tokens", column(&row, "tokens", "role")?))
            .transpose()
    }

    /// Stores a token's SHA-256 with its role (clerk, press or admin) and label.
    pub async fn add_token(&self, hash: &str, role: Role, label: &str) -> Result<()> {
        if role == Role::Public {
            return Err(CatalogueError::PublicToken);
        }
        sqlx::query("INSERT INTO tokens (hash, role, label, created_at) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(role.as_str())
            .bind(label)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_is_found_by_its_hash_and_a_bad_role_is_named() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            catalogue
                .add_token("h1", Role::Press, "ufficio stampa")
                .await
                .unwrap();
            assert_eq!(catalogue.token_role("h1").await.unwrap(), Some(Role::Press));
            assert_eq!(catalogue.token_role("h2").await.unwrap(), None);
            assert!(matches!(
                catalogue.add_token("h3", Role::Public, "").await,
                Err(CatalogueError::PublicToken)
            ));
            sqlx::query("UPDATE tokens SET role = 'root' WHERE hash = 'h1'")
                .execute(&catalogue.pool)
                .await
                .unwrap();
            let err = catalogue.token_role("h1").await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "catalogue holds a bad value in tokens.role: \"root\""
            );
        }
    }
}
