//! Alert subscriptions: an address, what it follows and its tokens, confirmed or not, and the
//! published sessions queued for it and mailed. Times are milliseconds since 1970.

use sqlx::any::AnyRow;

use super::{column, Catalogue, CatalogueError, Result};
use crate::search::Topic;

/// One subscription as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// Random; names the subscription's feed.
    pub id: String,
    pub email: String,
    pub topic: Topic,
    /// The language of its mails and pages, `it` or `en`.
    pub lang: String,
    /// In the link of every mail.
    pub unsubscribe_token: String,
    pub created_ms: i64,
    pub confirmed_ms: Option<i64>,
    /// When the last alert was mailed.
    pub mailed_ms: Option<i64>,
}

/// A session queued for a subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSession {
    pub session_id: String,
    pub queued_ms: i64,
    pub mailed_ms: Option<i64>,
}

const COLUMNS: &str = "id, email, topic_kind, topic, lang, unsubscribe_token, created_ms, \
                       confirmed_ms, mailed_ms";

fn subscription_from(row: &AnyRow) -> Result<Subscription> {
    let table = "alert_subscriptions";
    let kind: String = column(row, table, "topic_kind")?;
    let value: String = column(row, table, "topic")?;
    let topic = Topic::new(&kind, &value).map_err(|_| CatalogueError::Corrupt {
        table,
        column: "topic",
        value: format!("{kind} {value}"),
    })?;
    Ok(Subscription {
        id: column(row, table, "id")?,
        email: column(row, table, "email")?,
        topic,
        lang: column(row, table, "lang")?,
        unsubscribe_token: column(row, table, "unsubscribe_token")?,
        created_ms: column(row, table, "created_ms")?,
        confirmed_ms: column(row, table, "confirmed_ms")?,
        mailed_ms: column(row, table, "mailed_ms")?,
    })
}

impl Catalogue {
    /// Stores a new, unconfirmed subscription; `confirm_sha256` is its confirmation token's hash.
    pub async fn add_subscription(&self, s: &Subscription, confirm_sha256: &str) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO alert_subscriptions ({COLUMNS}, confirm_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&s.id)
        .bind(&s.email)
        .bind(s.topic.kind())
        .bind(s.topic.value())
        .bind(&s.lang)
        .bind(&s.unsubscribe_token)
        .bind(s.created_ms)
        .bind(s.confirmed_ms)
        .bind(s.mailed_ms)
        .bind(confirm_sha256)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every subscription of `email`, confirmed or not.
    pub async fn subscriptions_of(&self, email: &str) -> Result<Vec<Subscription>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alert_subscriptions WHERE email = $1 ORDER BY created_ms"
        ))
        .bind(email)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(subscription_from)
        .collect()
    }

    /// The confirmed subscriptions.
    pub async fn confirmed_subscriptions(&self) -> Result<Vec<Subscription>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alert_subscriptions WHERE confirmed_ms IS NOT NULL
             ORDER BY created_ms"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(subscription_from)
        .collect()
    }

    /// The confirmed subscription `id`; none for an unknown or unconfirmed one.
    pub async fn confirmed_subscription(&self, id: &str) -> Result<Option<Subscription>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alert_subscriptions WHERE id = $1 AND confirmed_ms IS NOT NULL"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(subscription_from)
        .transpose()
    }

    /// Confirms the subscription whose confirmation token hashes to `confirm_sha256` (once: a
    /// second confirmation keeps the first time); none when no subscription has that token.
    pub async fn confirm_subscription(
        &self,
        confirm_sha256: &str,
        now_ms: i64,
    ) -> Result<Option<Subscription>> {
        sqlx::query(
            "UPDATE alert_subscriptions SET confirmed_ms = $1
             WHERE confirm_sha256 = $2 AND confirmed_ms IS NULL",
        )
        .bind(now_ms)
        .bind(confirm_sha256)
        .execute(&self.pool)
        .await?;
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alert_subscriptions WHERE confirm_sha256 = $1"
        ))
        .bind(confirm_sha256)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(subscription_from)
        .transpose()
    }

    /// Deletes the subscription with `unsubscribe_token`, and its queue; whether there was one.
    pub async fn unsubscribe(&self, unsubscribe_token: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM alert_sessions WHERE subscription_id IN
               (SELECT id FROM alert_subscriptions WHERE unsubscribe_token = $1)",
        )
        .bind(unsubscribe_token)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM alert_subscriptions WHERE unsubscribe_token = $1")
            .bind(unsubscribe_token)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes the subscriptions made before `before_ms` and never confirmed; how many.
    pub async fn purge_unconfirmed(&self, before_ms: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM alert_subscriptions WHERE confirmed_ms IS NULL AND created_ms < $1",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Queues `session` for subscription `id` unless it was queued before (a session published
    /// again is not mailed twice); whether it was queued now.
    pub async fn queue_alert(&self, id: &str, session: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO alert_sessions (subscription_id, session_id, queued_ms)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(session)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The sessions queued for subscription `id`, mailed or not, the latest first.
    pub async fn alert_sessions(&self, id: &str) -> Result<Vec<AlertSession>> {
        let table = "alert_sessions";
        sqlx::query(
            "SELECT session_id, queued_ms, mailed_ms FROM alert_sessions
             WHERE subscription_id = $1 ORDER BY queued_ms DESC, session_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(AlertSession {
                session_id: column(row, table, "session_id")?,
                queued_ms: column(row, table, "queued_ms")?,
                mailed_ms: column(row, table, "mailed_ms")?,
            })
        })
        .collect()
    }

    /// Marks the queued `sessions` of subscription `id` done at `now_ms`; `mailed` when a mail
    /// went (which starts the subscription's day), not when there was nothing left to say.
    pub async fn mark_alerted(
        &self,
        id: &str,
        sessions: &[String],
        now_ms: i64,
        mailed: bool,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for session in sessions {
            sqlx::query(
                "UPDATE alert_sessions SET mailed_ms = $1
                 WHERE subscription_id = $2 AND session_id = $3",
            )
            .bind(now_ms)
            .bind(id)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        }
        if mailed {
            sqlx::query("UPDATE alert_subscriptions SET mailed_ms = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn subscription(id: &str, email: &str) -> Subscription {
        Subscription {
            id: id.into(),
            email: email.into(),
            topic: Topic::new("words", "bilancio").unwrap(),
            lang: "it".into(),
            unsubscribe_token: format!("u-{id}"),
            created_ms: 0,
            confirmed_ms: None,
            mailed_ms: None,
        }
    }

    /// A subscription lives unconfirmed for 7 days; once confirmed it stays until unsubscribed,
    /// and a session is queued for it once however often it is published.
    #[tokio::test]
    async fn a_subscription_is_confirmed_queued_and_unsubscribed() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            catalogue
                .add_subscription(&subscription("a", "anna@example.org"), "hash-a")
                .await
                .unwrap();
            catalogue
                .add_subscription(&subscription("b", "bruno@example.org"), "hash-b")
                .await
                .unwrap();
            assert_eq!(
                catalogue.confirm_subscription("nope", 5).await.unwrap(),
                None
            );
            let confirmed = catalogue.confirm_subscription("hash-a", 5).await.unwrap();
            assert_eq!(confirmed.unwrap().confirmed_ms, Some(5));
            let again = catalogue.confirm_subscription("hash-a", 9).await.unwrap();
            assert_eq!(again.unwrap().confirmed_ms, Some(5), "the first time stays");
            assert!(catalogue
                .confirmed_subscription("b")
                .await
                .unwrap()
                .is_none());

            assert_eq!(catalogue.purge_unconfirmed(7 * DAY_MS).await.unwrap(), 1);
            assert!(catalogue
                .subscriptions_of("bruno@example.org")
                .await
                .unwrap()
                .is_empty());
            assert_eq!(catalogue.confirmed_subscriptions().await.unwrap().len(), 1);

            assert!(catalogue.queue_alert("a", "s1", 10).await.unwrap());
            assert!(!catalogue.queue_alert("a", "s1", 20).await.unwrap());
            let queued = catalogue.alert_sessions("a").await.unwrap();
            assert_eq!(queued.len(), 1);
            assert_eq!((queued[0].queued_ms, queued[0].mailed_ms), (10, None));
            catalogue
                .mark_alerted("a", &["s1".into()], 30, true)
                .await
                .unwrap();
            assert_eq!(
                catalogue.alert_sessions("a").await.unwrap()[0].mailed_ms,
                Some(30)
            );
            let a = catalogue
                .confirmed_subscription("a")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(a.mailed_ms, Some(30));

            assert!(!catalogue.unsubscribe("u-nope").await.unwrap());
            assert!(catalogue.unsubscribe("u-a").await.unwrap());
            assert!(catalogue
                .confirmed_subscription("a")
                .await
                .unwrap()
                .is_none());
            assert!(catalogue.alert_sessions("a").await.unwrap().is_empty());
        }
    }
}
