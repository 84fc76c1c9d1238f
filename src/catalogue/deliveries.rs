//! The delivery log: one row per attempt to send a session's press kit to a destination.

use serde::{Deserialize, Serialize};

use super::{column, number, Catalogue, CatalogueError, Result};

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Delivered,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
        }
    }

    fn stored(text: String) -> Result<Outcome> {
        match text.as_str() {
            "delivered" => Ok(Outcome::Delivered),
            "failed" => Ok(Outcome::Failed),
            _ => Err(CatalogueError::Corrupt {
                table: "deliveries",
                column: "outcome",
                value: text,
            }),
        }
    }
}

/// One attempt, as logged (and as the API shows it).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub destination: String,
    /// sftp, smtp or webhook.
    pub kind: String,
    /// The SHA-256 of the kit's manifest.
    pub kit_sha256: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// RFC 3339, UTC.
    pub at: String,
    pub outcome: Outcome,
    /// What the server answered, or the error.
    pub answer: String,
    pub job_id: Option<String>,
}

const COLUMNS: &str = "destination, kind, kit_sha256, attempt, at, outcome, answer, job_id";

fn attempt_from(row: &sqlx::any::AnyRow) -> Result<Attempt> {
    Ok(Attempt {
        destination: column(row, "deliveries", "destination")?,
        kind: column(row, "deliveries", "kind")?,
        kit_sha256: column(row, "deliveries", "kit_sha256")?,
        attempt: number(
            column(row, "deliveries", "attempt")?,
            "deliveries",
            "attempt",
        )?,
        at: column(row, "deliveries", "at")?,
        outcome: Outcome::stored(column(row, "deliveries", "outcome")?)?,
        answer: column(row, "deliveries", "answer")?,
        job_id: column(row, "deliveries", "job_id")?,
    })
}

impl Catalogue {
    /// Logs an attempt to deliver `session`'s kit.
    pub async fn log_delivery(&self, session: &str, attempt: &Attempt) -> Result<()> {
        // An attempt's time (to the nanosecond) and number make its row unique.
        let id = format!(
            "{session}/{}/{}/{}",
            attempt.destination, attempt.at, attempt.attempt
        );
        sqlx::query(
            "INSERT INTO deliveries (id, session_id, destination, kind, kit_sha256, attempt, at,
                                     outcome, answer, job_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(session)
        .bind(&attempt.destination)
        .bind(&attempt.kind)
        .bind(&attempt.kit_sha256)
        .bind(i64::from(attempt.attempt))
        .bind(&attempt.at)
        .bind(attempt.outcome.as_str())
        .bind(&attempt.answer)
        .bind(&attempt.job_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every attempt for `session`, oldest first.
    pub async fn deliveries(&self, session: &str) -> Result<Vec<Attempt>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries WHERE session_id = $1 ORDER BY at, destination, attempt"
        );
        let rows = sqlx::query(&sql)
            .bind(session)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(attempt_from).collect()
    }

    /// The latest delivery of the kit `kit_sha256` of `session` to `destination`, if there was one.
    pub async fn delivered(
        &self,
        session: &str,
        destination: &str,
        kit_sha256: &str,
    ) -> Result<Option<Attempt>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries WHERE session_id = $1 AND destination = $2
             AND kit_sha256 = $3 AND outcome = 'delivered' ORDER BY at DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(session)
            .bind(destination)
            .bind(kit_sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(attempt_from).transpose()
    }
}
