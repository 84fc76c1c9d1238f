//! The worker processes as each advertises itself (host, kinds, concurrency, load, heartbeat), for
//! the admin's list; a worker that stopped heartbeating is shown as gone, then forgotten.

use serde::Serialize;

use super::{column, number, Catalogue, Result};

/// A worker process as it advertises itself.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WorkerRecord {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// The job kinds it takes, comma-separated.
    pub kinds: String,
    /// Jobs it runs at once.
    pub concurrency: u32,
    /// Jobs it runs now.
    pub running: u32,
    pub started_at: String,
    /// Milliseconds since its last heartbeat, by the database's clock.
    pub heartbeat_age_ms: u64,
    /// Whether it heartbeated within the window asked for.
    pub alive: bool,
}

impl Catalogue {
    /// Records (or refreshes) a worker's advertisement: its heartbeat is now.
    pub async fn advertise_worker(&self, worker: &WorkerRecord) -> Result<()> {
        let now = self.now_ms_sql();
        sqlx::query(&format!(
            "INSERT INTO workers (id, host, pid, kinds, concurrency, running, started_at,
                                  heartbeat_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, {now})
             ON CONFLICT (id) DO UPDATE SET running = $6, heartbeat_ms = {now}"
        ))
        .bind(&worker.id)
        .bind(&worker.host)
        .bind(i64::from(worker.pid))
        .bind(&worker.kinds)
        .bind(i64::from(worker.concurrency))
        .bind(i64::from(worker.running))
        .bind(&worker.started_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a worker that stopped cleanly.
    pub async fn retire_worker(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The workers that heartbeated within the last hour, `alive` when within `alive_ms`; the
    /// older ones are forgotten.
    pub async fn workers(&self, alive_ms: u64) -> Result<Vec<WorkerRecord>> {
        let now = self.now_ms_sql();
        sqlx::query(&format!(
            "DELETE FROM workers WHERE heartbeat_ms < {now} - 3600000"
        ))
        .execute(&self.pool)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT id, host, pid, kinds, concurrency, running, started_at,
                    {now} - heartbeat_ms AS age_ms
             FROM workers ORDER BY host, started_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let age_ms: i64 = column(row, "workers", "age_ms")?;
                let age_ms = u64::try_from(age_ms).unwrap_or(0);
                Ok(WorkerRecord {
                    id: column(row, "workers", "id")?,
                    host: column(row, "workers", "host")?,
                    pid: number(column(row, "workers", "pid")?, "workers", "pid")?,
                    kinds: column(row, "workers", "kinds")?,
                    concurrency: number(
                        column(row, "workers", "concurrency")?,
                        "workers",
                        "concurrency",
                    )?,
                    running: number(column(row, "workers", "running")?, "workers", "running")?,
                    started_at: column(row, "workers", "started_at")?,
                    heartbeat_age_ms: age_ms,
                    alive: age_ms <= alive_ms,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_is_listed_alive_while_it_heartbeats_and_gone_once_retired() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            let mut worker = WorkerRecord {
                id: "w1".into(),
                host: "gpu-1".into(),
                pid: 42,
                kinds: "transcribe".into(),
                concurrency: 1,
                running: 0,
                started_at: "2026-12-02T10:00:00+00:00".into(),
                heartbeat_age_ms: 0,
                alive: true,
            };
            catalogue.advertise_worker(&worker).await.unwrap();
            worker.running = 1;
            catalogue.advertise_worker(&worker).await.unwrap();
            let listed = catalogue.workers(60_000).await.unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(
                (listed[0].host.as_str(), listed[0].running, listed[0].alive),
                ("gpu-1", 1, true)
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(!catalogue.workers(100).await.unwrap()[0].alive);
            catalogue.retire_worker("w1").await.unwrap();
            assert!(catalogue.workers(60_000).await.unwrap().is_empty());
        }
    }
}
