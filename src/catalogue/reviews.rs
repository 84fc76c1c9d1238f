//! The "reviewed" marks of a session's agenda items: a person has read the item's record through.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{column, number, parse_time, timestamp, Catalogue, Result};

/// An agenda item marked as reviewed, by whom and when.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemReview {
    pub item: u32,
    pub reviewer: String,
    #[schema(value_type = String)]
    pub reviewed_at: DateTime<Utc>,
}

impl Catalogue {
    /// Marks item `item` of `session` as reviewed by `reviewer` now (a mark already there is
    /// replaced), or takes the mark away.
    pub async fn set_review(
        &self,
        session: &str,
        item: u32,
        reviewer: &str,
        reviewed: bool,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM item_reviews WHERE session_id = $1 AND item = $2")
            .bind(session)
            .bind(i64::from(item))
            .execute(&mut *tx)
            .await?;
        if reviewed {
            sqlx::query(
                "INSERT INTO item_reviews (session_id, item, reviewer, reviewed_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(session)
            .bind(i64::from(item))
            .bind(reviewer)
            .bind(timestamp(Utc::now()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The session's reviewed items, in item order.
    pub async fn reviews(&self, session: &str) -> Result<Vec<ItemReview>> {
        let rows = sqlx::query(
            "SELECT item, reviewer, reviewed_at FROM item_reviews WHERE session_id = $1
             ORDER BY item",
        )
        .bind(session)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ItemReview {
                    item: number(column(row, "item_reviews", "item")?, "item_reviews", "item")?,
                    reviewer: column(row, "item_reviews", "reviewer")?,
                    reviewed_at: parse_time(column(row, "item_reviews", "reviewed_at")?)?,
                })
            })
            .collect()
    }
}
