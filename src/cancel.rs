//! A long job's handle: a cancellation flag that Ctrl-C / SIGTERM (or a job's cancel) raise and the
//! work checks between steps, how far the work has got (for a progress bar or a job's row), and
//! for a job on the shared queue the instant its lease runs out, past which the work stops as if
//! cancelled (so a worker that lost its job never renames an output into place).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    done_per_mille: Arc<AtomicU32>,
    /// When the lease runs out, in ms after [`epoch`] plus one; 0: no lease.
    lease_end: Arc<AtomicU64>,
}

/// The instant lease ends are counted from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

impl Cancel {
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether the work must stop: cancelled, or its lease ran out.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || self.lease_lost()
    }

    /// Holds the work's lease until `end` (renewed by the job's heartbeat).
    pub fn hold_until(&self, end: Instant) {
        let ms = end.saturating_duration_since(epoch()).as_millis();
        self.lease_end.store(
            u64::try_from(ms).unwrap_or(u64::MAX - 1) + 1,
            Ordering::SeqCst,
        );
    }

    /// Whether the work had a lease and it ran out.
    pub fn lease_lost(&self) -> bool {
        match self.lease_end.load(Ordering::SeqCst) {
            0 => false,
            end => epoch().elapsed().as_millis() + 1 >= u128::from(end),
        }
    }

    /// Notes how far the work has got, from 0.0 to 1.0.
    pub fn set_progress(&self, fraction: f64) {
        let per_mille = (fraction.clamp(0.0, 1.0) * 1000.0).round() as u32;
        self.done_per_mille.store(per_mille, Ordering::Relaxed);
    }

    /// How far the work has got, from 0.0 to 1.0.
    pub fn progress(&self) -> f64 {
        f64::from(self.done_per_mille.load(Ordering::Relaxed)) / 1000.0
    }

    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Raises the flag on the first Ctrl-C or SIGTERM; a second Ctrl-C ends the process at once.
    pub fn on_signals(&self) {
        let cancel = self.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
            }
            tracing::warn!("stopping: finishing cleanly (Ctrl-C again to abort at once)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn work_stops_once_its_lease_runs_out() {
        let cancel = Cancel::default();
        cancel.hold_until(Instant::now() + Duration::from_secs(60));
        assert!(!cancel.is_cancelled() && !cancel.lease_lost());
        cancel.hold_until(Instant::now());
        assert!(cancel.is_cancelled() && cancel.lease_lost());
        assert!(cancel.check().is_err());
    }
}
